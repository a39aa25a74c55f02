"""How the C++-derived oracle judges a sample of LeetCode Python candidates (before paying for a full --verify).

Run as: python benchmarks/leetcode_oracle_sample.py DIR/inputs-test.jsonl [--n 40] [--seed 0]

Reads `cpp2py prepare leetcode` C++-only inputs, shuffles them with the seed, and for the first n with a Python
candidate builds the oracle from the C++ and checks the candidate: one line per problem (passed, failed with the
first counterexample, or why no oracle was built) and the totals.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from cpp2py.files import read_jsonl


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from cpp2py.execution.oracle import NoOracle, build_oracle

    recs = [r for r in read_jsonl(args.inputs) if r.get("python_candidate")]
    random.Random(args.seed).shuffle(recs)
    outcomes: Counter = Counter()
    for r in recs[:args.n]:
        start = time.perf_counter()
        oracle = build_oracle(r["cpp"])
        if isinstance(oracle, NoOracle):
            outcome, detail = "no_oracle", oracle.reason
        else:
            res = oracle.check(r["python_candidate"])
            outcome = "pass" if res.passed else "fail"
            detail = f"{res.cases_passed}/{res.cases_total}" + (f" {res.first_failure}" if res.first_failure else "")
        outcomes[outcome] += 1
        print(f"{r['problem']}\t{outcome}\t{time.perf_counter() - start:.1f}s\t{detail[:200]!r}", flush=True)
    print(dict(outcomes))


if __name__ == "__main__":
    main(sys.argv[1:])
