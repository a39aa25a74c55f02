"""A built oracle as benchmark items that the standard harness (:func:`cpp2py.execution.checks.check_candidate`)
scores like any other, so a benchmark judged by the C++ needs no oracle build at scoring time.

* A function oracle becomes one item with a Python ``test``: after the candidate ran as the script, the test
  runs the oracle's own Python driver and comparison (``pydriver.py``, ``compare.py``, as text: the sandbox has
  no cpp2py to import) on the oracle's kept cases, and raises AssertionError at the first result that differs
  from the C++'s (RuntimeError when the call fails). No C++ is compiled when it is scored.
* A program oracle becomes one ``compare_stdout`` item per kept stdin, with the standard the oracle built with;
  the harness compiles and runs the C++ for the expected stdout (exit status is not compared there).
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

from cpp2py import cpptree
from cpp2py.execution.oracle import cppast
from cpp2py.execution.oracle.functions import LEETCODE_NODES, PY_CASE_SECONDS, FunctionOracle
from cpp2py.execution.oracle.programs import ProgramOracle
from cpp2py.schema import BenchmarkItem

_HERE = Path(__file__).parent
# Module-level code that runs after the candidate, so every name it binds is one the candidate may also use:
# it binds only two, none callable (find() looks for the candidate's callables), and loads the oracle's code
# into a namespace of its own so that no helper shadows a candidate's global. The cases sit on a line of their
# own: a traceback quotes the failing line, and the report keeps only the tail of it.
_TEST = """\
# The C++ oracle's cases (cpp2py.execution.oracle.export): the translated function must do what the C++ did.
_cpp2py_oracle = {{"__name__": "cpp2py_oracle", "CANDIDATE": dict(globals()), "SPEC": {spec!r}}}
for _cpp2py_source in ({compare!r}, {driver!r}):
    exec(compile(_cpp2py_source, "cpp2py_oracle.py", "exec"), _cpp2py_oracle)
_cpp2py_oracle["assert_cases"](_cpp2py_oracle["json"].loads(_cpp2py_oracle["SPEC"]), _cpp2py_oracle["CANDIDATE"])
"""


def function_spec(oracle: FunctionOracle) -> dict:
    """Every kept case of every target with the C++ record (``ret``, ``before``, ``after``, ``out``) it is judged
    by (:func:`compare.mismatch` reads them all)."""
    kept = ("ret", "before", "after", "out")
    return {"case_seconds": PY_CASE_SECONDS, "targets": [
        {**t.spec(), "cases": [[i, t.tagged_case(i), {k: t.expected[i][k] for k in kept}]
                               for i in sorted(t.expected)]} for t in oracle.targets]}


def function_test(oracle: FunctionOracle) -> str:
    """The Python ``test`` of a benchmark item (appended to the candidate) that checks the oracle's cases."""
    return _TEST.format(compare=_HERE.joinpath("compare.py").read_text(),
                        driver=_HERE.joinpath("pydriver.py").read_text(),
                        spec=json.dumps(function_spec(oracle), separators=(",", ":")))


def judge_prelude(cpp: str) -> str | None:
    """Where the C++ uses LeetCode's ``TreeNode``/``ListNode`` without defining them (its judge does), the
    Python classes the oracle gives the candidate before it loads (``pydriver.py``'s), as an item's
    ``prelude``: a translation may name them at load time (``Optional[TreeNode]``), as on LeetCode. None
    otherwise."""
    names = cppast.undefined_types(cpptree.parse(cpp), LEETCODE_NODES)
    if not names:
        return None
    source = _HERE.joinpath("pydriver.py").read_text()
    classes = [ast.get_source_segment(source, n) for n in ast.parse(source).body
               if isinstance(n, ast.ClassDef) and n.name in LEETCODE_NODES]
    return "\n\n\n".join(classes) + "\n"


def benchmark_items(item_id: str, cpp: str, oracle: FunctionOracle | ProgramOracle) -> list[BenchmarkItem]:
    """The items that judge a translation of ``cpp`` as ``oracle`` does; a program gets one per input
    (ids ``<item_id>#<k>``)."""
    if isinstance(oracle, FunctionOracle):
        return [BenchmarkItem(id=item_id, cpp=cpp, test=function_test(oracle), prelude=judge_prelude(cpp))]
    return [BenchmarkItem(id=f"{item_id}#{k}", cpp=cpp, stdin=c.stdin, compare_stdout=True, std=oracle.std)
            for k, c in enumerate(oracle.cases)]
