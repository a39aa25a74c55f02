"""Check a benchmark's own oracle: does each reference `python` pass its item?

Run as: python benchmarks/check_references.py /tmp/prep/humaneval-x/humaneval-x.jsonl [--jobs 2] [--timeout 10]

For an item with `test`, the reference passes when `python + "\n\n" + test` exits 0 within the time
limit; for a `compare_stdout` item, when its stdout equals the compiled C++ program's (trailing
whitespace of each line ignored). Prints the pass rate and the failing ids. The oracle is the one the
evaluation applies (cpp2py.execution.checks.check_candidate), so a reference failing here marks a broken item.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from cpp2py.files import read_jsonl
from cpp2py.execution.checks import check_candidate
from cpp2py.schema import BenchmarkItem


def check(item: dict, timeout: float) -> tuple[str, bool, str]:
    verdict = check_candidate(item["python"], BenchmarkItem.from_dict(item), timeout=timeout)
    return item["id"], verdict.passed, f"{verdict.kind}: {verdict.detail}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benchmark")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    items = [r for r in read_jsonl(args.benchmark) if r.get("python")]
    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each job waits on a sandboxed process
        results = list(pool.map(lambda it: check(it, args.timeout), items))
    passed = sum(ok for _, ok, _ in results)
    failed = [(i, d.strip().splitlines()[-1] if d.strip() else "") for i, ok, d in results if not ok]
    print(json.dumps({"benchmark": args.benchmark, "items": len(items), "passed": passed,
                      "pass_rate": round(passed / max(len(items), 1), 4), "seconds": round(time.time() - start, 1),
                      "failed": failed}, indent=2))
    sys.exit(0 if items else 1)


if __name__ == "__main__":
    main()
