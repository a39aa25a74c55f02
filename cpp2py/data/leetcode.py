"""LeetCode-Solutions (kamyu104): modern C++ solutions with same-problem Python, split by problem.

Run as: cpp2py prepare leetcode --src ../shared/data/leetcode-kamyu104/LeetCode-Solutions.tar.xz --out data/leetcode

The Python files are independent solutions, often Python 2 style, so a Python side is only a *candidate*:
it gets the mechanical Python 3 fixes (:mod:`cpp2py.data.py2to3`) and becomes a training target only when a
verifier (the C++-derived oracle) passes it against the C++. Until then the problem is a C++-only input.

* ``{split}.jsonl``: verified pairs ``{"id", "cpp", "python", "source", "problem", "verified_by"}``.
* ``inputs-{split}.jsonl``: C++-only inputs, the same fields with ``python`` null, ``verified_by`` null,
  ``python_candidate`` (the fixed Python, or null) and ``skip`` (why it is not a pair: ``no_python``,
  ``python_syntax_error``, ``not_verified``, ``verification_failed``).
* ``leetcode-dev.jsonl`` (with ``bench_splits``, e.g. test): the modern-C++ dev benchmark, one item per problem
  whose oracle builds, its ``test`` the oracle's cases (:mod:`cpp2py.execution.oracle.export`), so the
  standard ``evaluate`` scores it without compiling C++.
* ``stats.json``: counts per split, and for the benchmark why each problem without an item has none.

Splits come from a hash of the problem family (the file stem without a ``-ii``/``-iii`` follow-up suffix) before
anything else, so no problem's solutions (a file often holds several ``Solution`` classes) nor its follow-ups
cross splits; a C++ file repeated under another name is kept once, in the first split (train, val, test).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cpp2py.data.common import SPLITS, check_bench_splits, problem_split, read_source_tree
from cpp2py.data.py2to3 import fix_python2
from cpp2py.errors import Cpp2PyError
from cpp2py.files import write_json, write_jsonl
from cpp2py.prompt import parses
from cpp2py.scoring.metrics import normalise_ws

SOURCE = "leetcode"
BENCH_FILE = "leetcode-dev.jsonl"
# "…-ii", "…-iii": LeetCode's follow-ups of one problem, whose solutions are often near-copies (5-gram Jaccard
# >= 0.9 measured between splits when split by file), so they are split as one family.
_FOLLOW_UP = re.compile(r"-(?:i{1,3}|iv|v|vi{1,3}|ix|x)$")


@dataclass(frozen=True)
class Verifier:
    """Decides whether a Python candidate does what the C++ does; ``name`` is recorded as ``verified_by``."""

    name: str
    check: Callable[[str, str], bool]  # (cpp, python) -> passes


def oracle_verifier(budget: int | None = None) -> Verifier:
    """The C++-derived oracle (:mod:`cpp2py.execution.oracle`) as a verifier: the candidate must pass every
    generated case; no oracle (unsupported types, a C++ that does not build on its own) means not verified."""
    from cpp2py.execution.oracle import DEFAULT_BUDGET, NoOracle, build_oracle

    def check(cpp: str, python: str) -> bool:
        oracle = build_oracle(cpp, budget=budget or DEFAULT_BUDGET)
        return not isinstance(oracle, NoOracle) and oracle.check(python).passed

    return Verifier("cpp2py.execution.oracle", check)


def oracle_items(records: list[dict], *, jobs: int, budget: int | None = None) -> tuple[list[dict], dict]:
    """(benchmark items, stats): the items of the problems whose oracle builds, in ``records`` order; the stats
    count the items, their cases, the problems without one by reason (and name each), and the items whose
    cases all expect the same result (a translation that returns a constant passes those)."""
    from concurrent.futures import ThreadPoolExecutor

    from cpp2py.execution.oracle import DEFAULT_BUDGET, NoOracle, build_oracle
    from cpp2py.execution.oracle.export import benchmark_items, function_spec

    def build(rec: dict):
        try:
            return build_oracle(rec["cpp"], budget=budget or DEFAULT_BUDGET)
        except Exception as e:  # one broken build must not end a half-hour run; stats.json names it
            return NoOracle(f"oracle build failed: {type(e).__name__}: {e}")

    items, no_item, cases, constant = [], {}, 0, 0
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # each build waits on sandboxed g++ and runs
        for rec, oracle in zip(records, pool.map(build, records)):
            if isinstance(oracle, NoOracle):
                no_item[rec["problem"]] = oracle.reason
                continue
            items += [it.to_dict() for it in benchmark_items(rec["id"], rec["cpp"], oracle)]
            cases += oracle.cases_total
            if oracle.kind == "function":
                expected = {repr(e) for t in function_spec(oracle)["targets"] for _, _, e in t["cases"]}
                constant += len(expected) == 1
    reasons = Counter(why.split(":")[0] for why in no_item.values())
    return items, {"file": BENCH_FILE, "problems": len(records), "items": len(items), "cases": cases,
                   "items_one_expected_result": constant, "no_item": dict(reasons.most_common()),
                   "no_item_problems": dict(sorted(no_item.items()))}


def problem_family(problem: str) -> str:
    """The problem without a roman follow-up suffix: ``house-robber-iii`` -> ``house-robber``."""
    return _FOLLOW_UP.sub("", problem)


def read_leetcode(src: str | Path) -> tuple[dict[str, dict[str, str | None]], int]:
    """({problem: {"cpp": text, "python": text or None}}, number of Python-only problems) from
    ``C++/<problem>.cpp`` and ``Python/<problem>.py``; Python-only problems have no C++ to translate."""
    files = read_source_tree(src, (".cpp", ".py"))
    cpp = {Path(k).stem: v for k, v in files.items() if Path(k).parent.name == "C++" and k.endswith(".cpp")}
    py = {Path(k).stem: v for k, v in files.items() if Path(k).parent.name == "Python" and k.endswith(".py")}
    if not cpp:
        raise Cpp2PyError(f"{src}: no C++/<problem>.cpp files (expected the LeetCode-Solutions archive or folder)")
    return {p: {"cpp": cpp[p], "python": py.get(p)} for p in sorted(cpp)}, len(set(py) - set(cpp))


def prepare_leetcode(src: str | Path, out: str | Path, *, verifier: Verifier | None = None, jobs: int = 2,
                     bench_splits: tuple[str, ...] = ()) -> dict:
    """Write verified pairs, C++-only inputs, the benchmark of ``bench_splits`` (if any) and stats.json to
    ``out``; returns the stats. ``jobs`` candidates are verified, and oracles built, at once."""
    from concurrent.futures import ThreadPoolExecutor

    check_bench_splits(bench_splits)
    out = Path(out)
    problems, python_only = read_leetcode(src)
    by_split: dict[str, list[str]] = {s: [] for s in SPLITS}
    for p in problems:
        by_split[problem_split(problem_family(p))].append(p)
    seen_cpp: set[str] = set()
    records: dict[str, list[dict]] = {s: [] for s in SPLITS}
    stats: dict[str, dict] = {}
    for split in SPLITS:  # train first, so a C++ text repeated across splits stays in train
        st = {"problems": len(by_split[split]), "python_candidates": 0, "python_fixed": 0, "fixes": Counter(),
              "dropped": Counter()}
        for p in by_split[split]:
            cpp, python = problems[p]["cpp"], problems[p]["python"]
            key = normalise_ws(cpp)
            if key in seen_cpp:
                st["dropped"]["duplicate_cpp"] += 1
                continue
            seen_cpp.add(key)
            rec = {"id": f"{SOURCE}/{p}", "cpp": cpp, "python": None, "source": SOURCE, "problem": p,
                   "verified_by": None, "python_candidate": None, "skip": "no_python"}
            if python is not None:
                fixed = fix_python2(python)
                st["fixes"].update(fixed.fixes)
                st["python_fixed"] += fixed.changed
                rec["skip"] = "python_syntax_error"
                if parses(fixed.code):
                    st["python_candidates"] += 1
                    rec["python_candidate"] = fixed.code
                    rec["skip"] = "not_verified"
            records[split].append(rec)
        stats[split] = st
    if verifier is not None:
        todo = [r for split in SPLITS for r in records[split] if r["python_candidate"] is not None]
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # each check waits on sandboxed processes
            for rec, ok in zip(todo, pool.map(lambda r: verifier.check(r["cpp"], r["python_candidate"]), todo)):
                if ok:
                    rec.update(python=rec["python_candidate"], verified_by=verifier.name, skip=None)
                else:
                    rec["skip"] = "verification_failed"
    for split in SPLITS:
        pairs = [{k: r[k] for k in ("id", "cpp", "python", "source", "problem", "verified_by")}
                 for r in records[split] if r["verified_by"]]
        inputs = [r for r in records[split] if not r["verified_by"]]
        st = stats[split]
        st["skip"] = dict(sorted(Counter(r["skip"] for r in inputs).items()))
        st["fixes"], st["dropped"] = dict(sorted(st["fixes"].items())), dict(sorted(st["dropped"].items()))
        st["written"] = write_jsonl(out / f"{split}.jsonl", pairs)
        st["inputs_written"] = write_jsonl(out / f"inputs-{split}.jsonl", inputs)
    result = {"source": str(src), "verifier": verifier.name if verifier else None, "python_only_problems": python_only,
              "splits": stats}
    if bench_splits:
        bench, result["benchmark"] = oracle_items([r for split in SPLITS if split in bench_splits
                                                   for r in records[split]], jobs=jobs)
        result["benchmark"]["splits"] = list(bench_splits)
        write_jsonl(out / BENCH_FILE, bench)
    write_json(out / "stats.json", result)
    return result
