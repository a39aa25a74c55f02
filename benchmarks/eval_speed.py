"""Scoring speed: CodeBLEU + sandboxed execution of 1,000 samples (goal: <= 60 s on 2 cores), and the
contamination index on 10k x 10k programs.

Run as: python benchmarks/eval_speed.py [--humaneval-x ../shared/data/humaneval-x] [--xlcost ../shared/data/xlcost-m_g-transeval/xlcost-m]

The 1,000 samples are HumanEval-X problems (C++ declaration + solution, Python reference, Python test),
repeated to 1,000 items with distinct ids. Half the predictions are the reference, half are the reference
with its last line dropped (mostly wrong answers or syntax errors), so every one is really executed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import tempfile
import time
from pathlib import Path

from cpp2py.scoring.contamination import NgramIndex
from cpp2py.jobs.evaluate import EvaluateConfig, evaluate
from cpp2py.files import write_jsonl


def humaneval_items(src: Path, n: int) -> list[dict]:
    def load(lang: str) -> dict[str, dict]:
        with gzip.open(src / lang / "data" / f"humaneval_{lang}.jsonl.gz", "rt", encoding="utf-8") as f:
            return {r["task_id"].split("/")[-1]: r for r in map(json.loads, f)}

    py, cpp = load("python"), load("cpp")
    base = []
    for key, p in py.items():
        entry = re.findall(r"^def (\w+)\(", p["prompt"], flags=re.M)[-1]
        base.append({"cpp": cpp[key]["declaration"] + cpp[key]["canonical_solution"],
                     "python": p["prompt"] + p["canonical_solution"],
                     "test": p["test"] + f"\ncheck({entry})\n", "stdin": None, "compare_stdout": False})
    return [dict(base[i % len(base)], id=f"he-{i}") for i in range(n)]


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--humaneval-x", type=Path, default=Path("/work/shared/data/humaneval-x"))
    ap.add_argument("--xlcost", type=Path, default=Path("/work/shared/data/xlcost-m_g-transeval/xlcost-m"))
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()

    items = humaneval_items(args.humaneval_x, args.n)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Path(tmp) / "bench.jsonl"
        preds = Path(tmp) / "system.jsonl"
        write_jsonl(bench, items)
        write_jsonl(preds, ({"id": it["id"], "prediction": it["python"] if i % 2 == 0 else
                             "\n".join(it["python"].rstrip().splitlines()[:-1])} for i, it in enumerate(items)))
        cpu0 = _cpu_seconds()
        t = time.perf_counter()
        m = evaluate(EvaluateConfig(benchmark=str(bench), predictions=[str(preds)], out=str(Path(tmp) / "out"),
                                    allow_exec=True, workers=args.workers, progress=False))["system"]
        dt = time.perf_counter() - t
        cpu = _cpu_seconds() - cpu0
    # On a shared machine wall time depends on the neighbours; CPU seconds (ours + the sandboxed children)
    # divided by the cores is what an idle machine of that size needs at best.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU time {cpu:.1f} s")
    print(f"scored {m['n']} samples (CodeBLEU + {m['n_executed']} sandboxed runs) in {dt:.1f} s wall; "
          f"codebleu={m['codebleu']:.3f} ca@1={m['ca@1']:.3f} failures={m['failures']}")

    if (args.xlcost / "C++.train").is_file():
        train = (args.xlcost / "C++.train").read_text(encoding="utf-8").splitlines()
        # 10k x 10k: the training C++ plus lightly edited copies, queried against itself.
        progs = (train + [p.replace("int", "long") for p in train])[:10_000]
        t = time.perf_counter()
        index = NgramIndex(progs)
        sims = [index.best(p)[0] for p in progs]
        print(f"contamination: {len(progs)} x {len(progs)} programs in {time.perf_counter() - t:.1f} s "
              f"({sum(s >= 0.5 for s in sims)} at >= 0.5)")


if __name__ == "__main__":
    main()
