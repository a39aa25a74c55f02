"""The CPU side of a self-training round: oracle coverage and seconds per oracle and per check, without a model.

Run as: python benchmarks/selftrain_cpu.py --inputs data/leetcode/inputs-train.jsonl --limit 30 --out /tmp/st-cpu

A round (`cpp2py self-train`) is only as fast as its slower side: the model sampling on the GPU, or the CPU
building oracles and running candidates. This runs the same round with a stand-in backend that answers every
input with the record's own ``python_candidate`` (the corpus's independent Python, e.g. LeetCode's after the
Python 3 fixes) as the one "sample", so the CPU cost per input and the oracle coverage can be measured here,
and the CPU cores a GPU's samples/s needs can be estimated. Prints the stats JSON's oracle, candidate and time
sections.
"""
from __future__ import annotations

import argparse
import json

from cpp2py import prompt
from cpp2py.files import read_jsonl
from cpp2py.jobs.selftrain import SelfTrainConfig, self_train
from cpp2py.schema import TranslateConfig


class CorpusPython:
    """A backend whose only reply to an input is the corpus's Python for that C++ (empty when it has none)."""

    def __init__(self, paths: list[str]):
        self.python = {prompt.messages(r["cpp"])[1]["content"]: r.get("python_candidate") or ""
                       for p in paths for r in read_jsonl(p)}

    def generate(self, conversations, *, decoding, max_new_tokens=None):
        return [prompt.fenced(self.python[c[1]["content"]]) for c in conversations]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", action="append", required=True)
    ap.add_argument("--benchmark", action="append", default=[])
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", required=True, help="folder for round1.jsonl and its status/stats files")
    args = ap.parse_args()
    cfg = SelfTrainConfig(inputs=args.inputs, out=f"{args.out}/round1.jsonl", round=1, benchmarks=args.benchmark,
                          samples=1, limit=args.limit, jobs=args.jobs, resume=False)
    stats = self_train(cfg, TranslateConfig(model="corpus-python"), backend=CorpusPython(args.inputs))
    print(json.dumps({k: stats[k] for k in ("inputs", "leakage", "oracle", "candidates", "pairs", "time")}, indent=2))


if __name__ == "__main__":
    main()
