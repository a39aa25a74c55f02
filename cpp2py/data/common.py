"""Corpus hygiene shared by the corpora: duplicates within a split, val/test pairs leaked from train,
and the split files with their stats."""
from __future__ import annotations

from pathlib import Path

from cpp2py.files import write_jsonl
from cpp2py.scoring.metrics import normalise_ws

SPLITS = ("train", "val", "test")


def dedupe(records: list[dict]) -> tuple[list[dict], int]:
    """Drop exact duplicates (after whitespace normalisation of both sides); keeps the first."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in records:
        key = (normalise_ws(r["cpp"]), normalise_ws(r["python"]))
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept, len(records) - len(kept)


def train_texts(train: list[dict]) -> tuple[set[str], set[str]]:
    """The whitespace-normalised C++ and Python of ``train``, for :func:`remove_leakage`."""
    return {normalise_ws(r["cpp"]) for r in train}, {normalise_ws(r["python"]) for r in train}


def remove_leakage(records: list[dict], train: tuple[set[str], set[str]]) -> tuple[list[dict], dict[str, int]]:
    """Drop pairs whose C++ or Python (whitespace-normalised) also occurs in ``train`` (:func:`train_texts`)."""
    train_cpp, train_py = train
    kept = []
    counts = {"cpp_in_train": 0, "python_in_train": 0, "pairs_removed": 0}
    for r in records:
        in_cpp = normalise_ws(r["cpp"]) in train_cpp
        in_py = normalise_ws(r["python"]) in train_py
        counts["cpp_in_train"] += in_cpp
        counts["python_in_train"] += in_py
        if in_cpp or in_py:
            counts["pairs_removed"] += 1
        else:
            kept.append(r)
    return kept, counts


def finish_splits(splits: dict[str, list[dict]], stats: dict[str, dict], out: Path) -> dict:
    """Dedupe each split, remove train leakage from val/test, write the JSONL files and stats.json."""
    for name, records in splits.items():
        records, dupes = dedupe(records)
        stats[name]["dropped"]["duplicate"] = dupes
        splits[name] = records
    train = train_texts(splits["train"]) if "train" in splits else None
    for name in splits:
        if name != "train" and train is not None:
            splits[name], leak = remove_leakage(splits[name], train)
            stats[name]["leakage"] = leak
            stats[name]["dropped"]["leaked_from_train"] = leak["pairs_removed"]
    for name, records in splits.items():
        stats[name]["written"] = write_jsonl(out / f"{name}.jsonl", records)
    return stats


def plain_stats(stats: dict[str, dict]) -> dict[str, dict]:
    for s in stats.values():
        s["dropped"] = dict(sorted(s["dropped"].items()))
    return stats
