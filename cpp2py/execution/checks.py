"""What "correct" means for a benchmark item: its pass rules, applied to a candidate translation.

Run as: python -c "from cpp2py.execution.checks import check_candidate; ..." (``evaluate --allow-exec``
and ``translate --verify`` call it).

The programs themselves run in :mod:`cpp2py.execution.sandbox`, which knows nothing about benchmarks.
"""
from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

from cpp2py.execution.sandbox import ExecResult, _lock_for, compile_cpp, run_binary, run_python
from cpp2py.lru import LRU
from cpp2py.schema import BenchmarkItem


@dataclass
class Verdict:
    """The outcome of a benchmark oracle. ``kind`` is one of KINDS."""

    passed: bool
    kind: str
    detail: str = ""


KINDS = ("pass", "syntax_error", "runtime_error", "wrong_answer", "timeout", "oracle_compile_error",
         "oracle_error", "no_oracle")


def _same_output(a: str, b: str) -> bool:
    def norm(s: str) -> list[str]:
        lines = [line.rstrip() for line in s.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    return norm(a) == norm(b)


# One entry per (program, stdin); a long-running serve keeps the most recent ones.
_oracle_cache: LRU[ExecResult | Verdict] = LRU(maxsize=1024)


def _oracle_output(cpp: str, stdin: str, timeout: float, std: str) -> ExecResult | Verdict:
    """The C++ program's run on ``stdin`` (cached), or a Verdict saying why there is no oracle."""
    key = (hashlib.sha256(cpp.encode("utf-8")).hexdigest(), stdin, std)
    # The k samples of one item are checked at once: run the oracle once, not once per thread.
    with _lock_for(("oracle", *key)):
        if (cached := _oracle_cache.get(key)) is not None:
            return cached
        compiled = compile_cpp(cpp, std=std)
        if isinstance(compiled, ExecResult):
            out: ExecResult | Verdict = Verdict(False, "oracle_compile_error", _tail(compiled.stderr))
        else:
            res = run_binary(compiled.path, stdin=stdin, timeout=timeout)
            out = res if res.status in ("ok", "error") else Verdict(
                False, "oracle_error", f"the C++ oracle itself {res.status}: {_tail(res.stderr)}")
        _oracle_cache[key] = out
        return out


def _tail(text: str, n: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def check_candidate(candidate: str, item: BenchmarkItem, *, timeout: float = 10.0) -> Verdict:
    """Apply the benchmark item's oracle to a candidate Python translation.

    The item's ``prelude``, if any, runs first, in the candidate's module. ``test``: the program
    ``candidate + "\\n\\n" + test`` must run to its end and exit 0 (an AssertionError
    is a wrong answer, any other failure, leaving early included, a runtime error). ``compare_stdout``: the
    item's C++ is compiled (with the item's ``std``, default ``c++17``) and run on ``stdin``; the candidate must
    print the same lines (trailing whitespace and trailing blank lines ignored): leaving early with the right
    output is a real pass.
    """
    try:
        ast.parse(candidate)
    except (SyntaxError, ValueError) as e:
        return Verdict(False, "syntax_error", str(e))
    if item.prelude:
        candidate = item.prelude + "\n\n" + candidate
    test = item.test
    if test:
        res = run_python(candidate + "\n\n" + test, timeout=timeout, must_finish=True)
        if res.ok:
            return Verdict(True, "pass")
        if res.status == "timeout":
            return Verdict(False, "timeout", _tail(res.stderr))
        kind = "wrong_answer" if "AssertionError" in res.stderr else "runtime_error"
        return Verdict(False, kind, _tail(res.stderr))
    if item.compare_stdout and item.cpp:
        stdin = item.stdin or ""
        oracle = _oracle_output(item.cpp, stdin, timeout, item.std)
        if isinstance(oracle, Verdict):
            return oracle
        res = run_python(candidate, stdin=stdin, timeout=timeout)
        if res.status == "timeout":
            return Verdict(False, "timeout", _tail(res.stderr))
        if res.status == "killed" or (res.status == "error" and oracle.ok):
            return Verdict(False, "runtime_error", _tail(res.stderr))
        if not _same_output(res.stdout, oracle.stdout):
            return Verdict(False, "wrong_answer", f"expected {_tail(oracle.stdout, 200)!r}, "
                                                  f"got {_tail(res.stdout, 200)!r}")
        return Verdict(True, "pass")
    return Verdict(False, "no_oracle", "the item has neither `test` nor `compare_stdout`")
