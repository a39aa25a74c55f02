"""Running programs and judging them: the sandbox, a benchmark item's pass rules, and the oracle built from the C++."""
