"""An oracle built from the C++ alone: what the C++ does on generated inputs, to check a Python translation against.

Run as: python -m cpp2py.execution.oracle FILE.cpp [CANDIDATE.py]   (prints the oracle, or why there is none,
and the candidate's result)

* A whole program (a ``main``) is run on the user's stdin files and on inputs shaped like its reads; the oracle
  is stdout and exit status per input (:mod:`.programs`).
* Functions and classes without ``main``: each entry function (one no other function calls) gets typed,
  seeded inputs; a C++ driver records what it returns, writes through references and prints, and a Python
  driver does the same for the candidate (:mod:`.functions`).

The C++ runs built with ``-fsanitize=undefined,address``; inputs on which it crashes, times out or has undefined
behaviour are dropped, and two runs must agree. Candidates run only through the sandbox's ``run_python``.
"""
from __future__ import annotations

from cpp2py import cpptree
from cpp2py.execution.oracle import cppast, functions, programs
from cpp2py.execution.oracle.verdict import Counterexample, NoOracle, OracleResult

__all__ = ["build_oracle", "Oracle", "NoOracle", "OracleResult", "Counterexample", "DEFAULT_BUDGET"]

DEFAULT_BUDGET = 20
Oracle = functions.FunctionOracle | programs.ProgramOracle


def build_oracle(cpp: str, *, stdin: list[str] | None = None, budget: int = DEFAULT_BUDGET) -> Oracle | NoOracle:
    """The oracle for ``cpp`` (a whole program when it defines ``main``), or NoOracle saying why there is none.
    ``stdin``: inputs of the user's for a whole program; ``budget``: at most this many generated cases per
    function, or generated stdin inputs per program."""
    if budget < 1:
        raise ValueError("budget must be at least 1")
    root = cpptree.parse(cpp)
    if cppast.has_main(root):
        return programs.build(cpp, root, list(stdin or []), budget)
    if stdin:
        return NoOracle("stdin inputs were given but the C++ has no main")
    return functions.build(cpp, root, budget)
