"""TheAlgorithms/C-Plus-Plus: modern C++ programs whose ``main`` runs self-tests, as C++-only inputs and the
held-out part as a ``compare_stdout`` dev benchmark.

Run as: cpp2py prepare thealgorithms --src ../shared/data/thealgorithms-cpp/C-Plus-Plus.tar.xz --out data/thealgorithms

There is no Python side: each program's own behaviour (stdout and exit status on empty stdin) is its oracle,
so a program is kept only when it compiles (``-std=c++20``, else ``-std=c++17``), exits 0 within the time
limit and prints the same stdout on two runs. Local headers (``#include "x.hpp"``) are inlined, each once, so
every record is one self-contained file.

* ``inputs-{split}.jsonl``: ``{"id", "cpp", "python": null, "source", "problem", "verified_by": null, "std",
  "stdin": null, "compare_stdout": true}`` — the program's path without ``.cpp`` is the problem.
* ``thealgorithms-dev.jsonl``: the benchmark (``bench_splits``, default test) in the standard format, only
  programs that print something (a silent program would pass any candidate that prints nothing).
* ``stats.json``: per split the outcome counts, and each skipped program with its reason.
"""
from __future__ import annotations

import posixpath
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cpp2py.data.common import SPLITS, check_bench_splits, problem_split, read_source_tree
from cpp2py.errors import Cpp2PyError
from cpp2py.files import write_json, write_jsonl
from cpp2py.schema import BenchmarkItem
from cpp2py.scoring.metrics import normalise_ws

SOURCE = "thealgorithms"
BENCH_FILE = "thealgorithms-dev.jsonl"
STANDARDS = ("c++20", "c++17")  # newest first (schema.CPP_STANDARDS); some older code only builds with c++17
_LOCAL_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[^\n]*$', re.M)
_MAIN = re.compile(r"\bint\s+main\s*\(")
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
# Output seeded from the wall clock (srand(time(0))) repeats within one second: such programs run twice
# further apart.
_CLOCK = re.compile(r"\btime\s*\(|::now\s*\(")
CLOCK_GAP_S = 1.1


class MissingHeader(KeyError):
    """A ``#include "..."`` that names no file of the corpus."""


def inline_local_includes(path: str, files: dict[str, str], _done: set[str] | None = None) -> str:
    """``files[path]`` with each local include replaced by the header's text (recursively, each header once:
    the headers have include guards, so a second copy would be empty anyway)."""
    done = set() if _done is None else _done

    def expand(m: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), m.group(1)))
        if target not in files:
            raise MissingHeader(target)
        if target in done:
            return ""
        done.add(target)
        return inline_local_includes(target, files, done)

    return _LOCAL_INCLUDE.sub(expand, files[path])


def build_and_run(cpp: str, timeout: float) -> tuple[str, str | None, str]:
    """(outcome, standard it compiled with, stdout): outcome "ok" or why the program is not usable."""
    from cpp2py.execution.sandbox import CompiledCpp, compile_cpp, run_binary

    for std in STANDARDS:
        built = compile_cpp(cpp, std=std)
        if isinstance(built, CompiledCpp):
            break
    else:
        return "compile_error", None, ""
    first = run_binary(built.path, timeout=timeout)
    if not first.ok:
        return f"run_{first.status}", std, ""
    if first.truncated:
        return "output_too_large", std, ""
    if _CLOCK.search(cpp):
        time.sleep(CLOCK_GAP_S)
    second = run_binary(built.path, timeout=timeout)
    if not second.ok or second.stdout != first.stdout:
        return "nondeterministic", std, ""
    return "ok", std, first.stdout


def prints_only_literals(cpp: str, stdout: str) -> bool:
    """Every line the program printed is (part of) one string literal of its source, e.g. "All tests passed!":
    a translation that keeps that print and drops the computation would pass the stdout oracle."""
    literals = [m.replace("\\n", "").replace("\\t", "\t") for m in _STRING.findall(cpp)]
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    return all(any(ln in lit for lit in literals) for ln in lines)


def _benchmark_item(rec: dict) -> dict:
    return BenchmarkItem(id=rec["id"], cpp=rec["cpp"], compare_stdout=True, std=rec["std"]).to_dict()


def _programs_to_build(programs: list[str], files: dict[str, str], skipped: dict[str, str]) -> list[dict]:
    """The records of the programs worth building (includes inlined, a ``main``, not a repeat); the others
    go to ``skipped`` with the reason."""
    todo: list[dict] = []
    seen: set[str] = set()
    # train first, so a program repeated under another path stays in train
    for path in sorted(programs, key=lambda p: (SPLITS.index(problem_split(p[:-4])), p)):
        problem = path[:-4]
        try:
            cpp = inline_local_includes(path, files)
        except MissingHeader as e:
            skipped[problem] = f"missing_header {e.args[0]}"
            continue
        if not _MAIN.search(cpp):
            skipped[problem] = "no_main"
            continue
        if normalise_ws(cpp) in seen:
            skipped[problem] = "duplicate"
            continue
        seen.add(normalise_ws(cpp))
        todo.append({"id": f"{SOURCE}/{problem}", "cpp": cpp, "python": None, "source": SOURCE, "problem": problem,
                     "verified_by": None, "std": None, "stdin": None, "compare_stdout": True})
    return todo


def prepare_thealgorithms(src: str | Path, out: str | Path, *, bench_splits: tuple[str, ...] = ("test",),
                          jobs: int = 2, timeout: float = 10.0) -> dict:
    """Read, build and run every program, then write the inputs per split, the benchmark and stats.json."""
    out = Path(out)
    check_bench_splits(bench_splits)
    files = read_source_tree(src, (".cpp", ".h", ".hpp"))
    programs = sorted(p for p in files if p.endswith(".cpp"))
    if not programs:
        raise Cpp2PyError(f"{src}: no .cpp files (expected the TheAlgorithms/C-Plus-Plus archive or folder)")
    skipped: dict[str, str] = {}
    todo = _programs_to_build(programs, files, skipped)
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # each job waits on a sandboxed process
        results = list(pool.map(lambda r: build_and_run(r["cpp"], timeout), todo))
    inputs: dict[str, list[dict]] = {s: [] for s in SPLITS}
    bench = []
    literal_only = 0
    for rec, (outcome, std, stdout) in zip(todo, results):
        if outcome != "ok":
            skipped[rec["problem"]] = outcome
            continue
        rec["std"] = std
        split = problem_split(rec["problem"])
        inputs[split].append(rec)
        if split in bench_splits:
            if stdout.strip():
                bench.append(_benchmark_item(rec))
                literal_only += prints_only_literals(rec["cpp"], stdout)
            else:
                skipped[rec["problem"]] = "no_output (input only, not a benchmark item)"
    stats = {}
    for split in SPLITS:
        reasons = Counter(r.split(" ")[0] for p, r in skipped.items() if problem_split(p) == split)
        stats[split] = {"programs": sum(problem_split(p[:-4]) == split for p in programs),
                        "skipped": dict(sorted(reasons.items())),
                        "inputs_written": write_jsonl(out / f"inputs-{split}.jsonl", inputs[split]),
                        "standards": dict(Counter(r["std"] for r in inputs[split]))}
    write_jsonl(out / BENCH_FILE, bench)
    result = {"source": str(src), "timeout_s": timeout, "splits": stats,
              "benchmark": {"file": BENCH_FILE, "splits": list(bench_splits), "items": len(bench),
                            "items_printing_only_literals": literal_only},
              "skipped": dict(sorted(skipped.items()))}
    write_json(out / "stats.json", result)
    return result
