"""Corpus hygiene shared by the corpora: duplicates within a split, val/test pairs leaked from train,
and the split files with their stats."""
from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from cpp2py.errors import Cpp2PyError
from cpp2py.files import write_jsonl
from cpp2py.scoring.metrics import normalise_ws

SPLITS = ("train", "val", "test")


def check_bench_splits(bench_splits: tuple[str, ...]) -> None:
    bad = [s for s in bench_splits if s not in SPLITS]
    if bad:
        raise Cpp2PyError(f"--bench-splits: unknown split(s) {', '.join(bad)}; choose from {', '.join(SPLITS)}")


def problem_split(problem_id: str) -> str:
    """Deterministic 80/10/10 split by the problem id's sha1, so a problem is never in two splits."""
    bucket = int(hashlib.sha1(problem_id.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "val" if bucket < 90 else "test"


def read_source_tree(src: str | Path, suffixes: tuple[str, ...]) -> dict[str, str]:
    """{relative path: text} of the files ending in ``suffixes`` in a .tar.xz/.tar.gz archive or a folder.

    Read into memory (the corpora are a few MB) so nothing is extracted next to the read-only data.
    """
    src = Path(src)
    if not src.exists():
        raise Cpp2PyError(f"{src}: no such file or directory")
    files: dict[str, str] = {}
    if src.is_dir():
        for p in sorted(src.rglob("*")):
            if p.is_file() and p.name.endswith(suffixes):
                files[p.relative_to(src).as_posix()] = p.read_text(encoding="utf-8", errors="replace")
        return files
    try:
        with tarfile.open(src) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.name.endswith(suffixes):
                    raw = tar.extractfile(m).read()
                    files[m.name.removeprefix("./")] = raw.decode("utf-8", errors="replace")
    except tarfile.TarError as e:
        raise Cpp2PyError(f"{src}: not a readable tar archive ({e})") from None
    return dict(sorted(files.items()))


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
