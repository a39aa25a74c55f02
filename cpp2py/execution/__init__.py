"""Execution: sandbox.py runs programs (and nothing else); checks.py applies a benchmark item's pass rules."""
