"""Near-copies between training data and benchmarks: every benchmark item's most similar training record.

Run as:
  python benchmarks/leakage_report.py --bench humaneval-x=H.jsonl --bench cost-test=C.jsonl ... \
      --train xlcost=X/train.jsonl --train leetcode=L/train.jsonl --train leetcode-inputs=L/inputs-train.jsonl ... \
      [--threshold 0.9] [--json out.json]

Similarity is the project's contamination measure (:mod:`cpp2py.scoring.contamination`: Jaccard of C++ token 5-grams).
Prints, per benchmark and training source, how many items have a training record at or above the threshold and
lists those pairs, so they can be removed from training (or the clean-subset scores reported beside the full).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cpp2py.scoring.contamination import NgramIndex
from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl


def _named(values: list[str], flag: str) -> dict[str, Path]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise Cpp2PyError(f"{flag} {v!r}: expected NAME=FILE.jsonl")
        out[name] = Path(path)
    return out


def _records(path: Path) -> list[dict]:
    recs = [r for r in read_jsonl(path) if isinstance(r.get("cpp"), str)]
    if not recs:
        raise Cpp2PyError(f"{path}: no record with a `cpp` field")
    return recs


def near_copies(bench: dict[str, Path], train: dict[str, Path], threshold: float) -> list[dict]:
    """One row per (benchmark, training source): item count, near-copy count and the pairs themselves."""
    indexes = {}
    for name, path in train.items():
        recs = _records(path)
        indexes[name] = (recs, NgramIndex(r["cpp"] for r in recs))
    rows = []
    for bname, bpath in bench.items():
        items = _records(bpath)
        for tname, (recs, index) in indexes.items():
            pairs = []
            for it in items:
                sim, i = index.best(it["cpp"])
                if i is not None and sim >= threshold:
                    pairs.append({"item": it["id"], "train": recs[i].get("id", i), "similarity": round(sim, 3)})
            rows.append({"benchmark": bname, "items": len(items), "train": tname, "train_records": len(recs),
                         "near_copies": len(pairs), "pairs": pairs})
    return rows


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", action="append", required=True, help="NAME=benchmark.jsonl (repeatable)")
    ap.add_argument("--train", action="append", required=True, help="NAME=train.jsonl (repeatable)")
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--json", type=Path, help="also write the rows (with every pair) here")
    args = ap.parse_args(argv)
    try:
        rows = near_copies(_named(args.bench, "--bench"), _named(args.train, "--train"), args.threshold)
    except Cpp2PyError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"| benchmark | items | training source | records | near-copies (>= {args.threshold}) |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['benchmark']} | {r['items']} | {r['train']} | {r['train_records']} | {r['near_copies']} |")
    for r in rows:
        for p in r["pairs"]:
            print(f"{r['benchmark']} {p['item']}  ~  {r['train']} {p['train']}  {p['similarity']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
