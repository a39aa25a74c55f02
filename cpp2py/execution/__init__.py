"""Execution: sandbox.py runs programs (and nothing else); checks.py applies a benchmark item's pass rules;
oracle/ builds, from the C++ alone, what a correct translation must do."""
