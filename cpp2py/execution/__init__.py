"""Running programs and judging them: sandbox.py runs programs (and nothing else); checks.py applies a benchmark
item's pass rules; oracle/ builds an oracle from the C++ alone."""
