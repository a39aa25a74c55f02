"""Coverage of the oracle built from the C++, and how often the reference Python passes it.

Run as (the inputs come from `cpp2py prepare`, see docs/data.md):
  python benchmarks/oracle_coverage.py --humaneval /tmp/prep/humaneval-x/humaneval-x.jsonl \
      --xlcost /tmp/xlcost/test.jsonl --xlcost-sample 200 --cost /tmp/prep/cost/cost-stdout.jsonl \
      --jobs 2 --failures /tmp/oracle-failures.jsonl

Per benchmark it prints: items, oracles built (coverage), the reasons for the rest, and of the covered items
how many references pass every case. XLCoST's Python snippets lost their imports in extraction, so the
standard-library modules they use are imported in front of each reference (``XLCOST_IMPORTS``); nothing else
is changed. With ``--failures``, every item without an oracle, with a failing reference, or whose prediction
the oracle and the tests judge differently is written out.

With ``--predictions P.jsonl`` (``{"id", "prediction"}`` lines, e.g. the base model's translations of
HumanEval-X from ``cpp2py translate``/``evaluate``), each covered item's prediction is also judged by the oracle
and by the item's own tests: a *false pass* passes the oracle and fails the tests (issue 11: at most 3% of
covered items), a *false fail* the reverse.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

from cpp2py.execution.oracle import DEFAULT_BUDGET, NoOracle, build_oracle
from cpp2py.files import read_jsonl, write_jsonl
from cpp2py.execution.checks import check_candidate
from cpp2py.schema import BenchmarkItem

XLCOST_IMPORTS = ("import math\nimport sys\nimport heapq\nimport bisect\nimport itertools\nimport functools\n"
                  "import collections\nfrom collections import defaultdict, deque, Counter\n"
                  "from math import sqrt, gcd, ceil, floor, log, log2, log10, sin, cos, tan, atan, pi, e, exp, "
                  "factorial, hypot, inf\n")


def judge(item: dict, budget: int, prefix: str, prediction: str | None = None) -> dict:
    start = time.time()
    oracle = build_oracle(item["cpp"], budget=budget)
    rec = {"id": item["id"]}
    if isinstance(oracle, NoOracle):
        rec["reason"] = oracle.reason
    else:
        result = oracle.check(prefix + item["python"])
        rec.update(kind=oracle.kind, cases=result.cases_total, passed=result.cases_passed,
                   failure=str(result.first_failure) if result.first_failure else None)
        if prediction is not None and item.get("test"):
            rec["prediction"] = {"oracle": oracle.check(prediction).passed,
                                 "tests": check_candidate(prediction, BenchmarkItem.from_dict(item)).passed}
    rec["seconds"] = round(time.time() - start, 1)
    return rec


def _reason(why: str) -> str:
    """The reason without its particulars (the first clause), so that like reasons count together."""
    return why.split(":")[0]


def summary(name: str, recs: list[dict], seconds: float) -> dict:
    built = [r for r in recs if "reason" not in r]
    ok = [r for r in built if r["passed"] == r["cases"]]
    return {"benchmark": name, "items": len(recs), "oracles": len(built),
            "coverage": round(len(built) / max(len(recs), 1), 4),
            "no_oracle": dict(collections.Counter(_reason(r["reason"]) for r in recs if "reason" in r)),
            "reference_passes": len(ok), "reference_pass_rate": round(len(ok) / max(len(built), 1), 4),
            "median_cases": sorted(r["cases"] for r in built)[len(built) // 2] if built else 0,
            "seconds": round(seconds, 1), **_predictions(built)}


def _predictions(built: list[dict]) -> dict:
    judged = [r["prediction"] for r in built if "prediction" in r]
    if not judged:
        return {}
    false_pass = sum(p["oracle"] and not p["tests"] for p in judged)
    return {"predictions_judged": len(judged), "pass_tests": sum(p["tests"] for p in judged),
            "pass_oracle": sum(p["oracle"] for p in judged), "false_passes": false_pass,
            "false_pass_rate": round(false_pass / len(judged), 4),
            "false_fails": sum(p["tests"] and not p["oracle"] for p in judged)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--humaneval", help="humaneval-x.jsonl")
    ap.add_argument("--xlcost", help="XLCoST test.jsonl from `cpp2py prepare xlcost`")
    ap.add_argument("--xlcost-sample", type=int, default=200, help="a fixed (seed 0) sample of this many items")
    ap.add_argument("--cost", help="cost-stdout.jsonl")
    ap.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--failures", help="write the items without an oracle or with a failing reference here")
    ap.add_argument("--predictions", help='{"id", "prediction"} JSONL: count false passes against the items\' tests')
    args = ap.parse_args()
    preds = {r["id"]: r["prediction"] for r in read_jsonl(args.predictions)} if args.predictions else {}
    sets = []
    if args.humaneval:
        sets.append(("humaneval-x", list(read_jsonl(args.humaneval)), ""))
    if args.xlcost:
        items = list(read_jsonl(args.xlcost))
        sets.append(("xlcost-test", random.Random(0).sample(items, min(args.xlcost_sample, len(items))),
                     XLCOST_IMPORTS))
    if args.cost:
        sets.append(("cost-stdout", list(read_jsonl(args.cost)), ""))
    failures = []
    for name, items, prefix in sets:
        start = time.time()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each job mostly waits on g++ or the sandbox
            recs = list(pool.map(lambda it: judge(it, args.budget, prefix, preds.get(it["id"])), items))
        print(json.dumps(summary(name, recs, time.time() - start)), flush=True)
        failures += [dict(r, benchmark=name) for r in recs if "reason" in r or r["passed"] < r["cases"]
                     or r.get("prediction", {}).get("oracle", False) != r.get("prediction", {}).get("tests", False)]
    if args.failures:
        write_jsonl(args.failures, failures)


if __name__ == "__main__":
    main()
