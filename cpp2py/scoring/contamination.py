"""Contamination: how close each benchmark item's C++ is to the C++ the model was trained on.

Run as: python -m cpp2py.scoring.contamination BENCH.jsonl TRAIN.jsonl [TRAIN2.jsonl ...]

The similarity of two programs is the Jaccard index of their sets of C++ token 5-grams (tokens from
:func:`cpp2py.scoring.metrics.code_tokens`, so spacing and the XLCoST tokenisation do not matter). For every benchmark
item we report its highest similarity to any training program; items at or above ``THRESHOLD`` are
"contaminated" and every headline metric is reported again on the clean rest.

Speed: an inverted index maps each 5-gram to the training programs holding it. Candidates for an item are
the training programs sharing at least one *distinctive* 5-gram with it (one held by at most
``max(50, 1%)`` of the training programs); their exact Jaccard is then computed on the full sets. Boilerplate
5-grams (``for ( int i = 0``) would make every pair a candidate, and a pair that shares nothing but
boilerplate cannot reach the threshold unless both programs are tiny; this is the one approximation.
"""
from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl
from cpp2py.scoring.metrics import code_tokens
from cpp2py.schema import CONTAMINATION_THRESHOLD as THRESHOLD

NGRAM = 5
CANDIDATES = 20  # exact Jaccard is computed for this many best-sharing training programs per item


def ngrams(code: str, n: int = NGRAM) -> frozenset[int]:
    """Hashed token n-grams; a program shorter than ``n`` tokens is one gram of all its tokens."""
    toks = code_tokens(code)
    if len(toks) < n:
        return frozenset([hash(tuple(toks))]) if toks else frozenset()
    return frozenset(hash(tuple(toks[i:i + n])) for i in range(len(toks) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class NgramIndex:
    """Inverted 5-gram index over training programs; :meth:`best` finds an item's nearest one."""

    def __init__(self, programs: Iterable[str], n: int = NGRAM):
        self.n = n
        self.sets = [ngrams(p, n) for p in programs]
        self.postings: dict[int, list[int]] = defaultdict(list)
        for i, grams in enumerate(self.sets):
            for g in grams:
                self.postings[g].append(i)
        self.max_df = max(50, len(self.sets) // 100)

    def best(self, code: str) -> tuple[float, int | None]:
        """(highest Jaccard, index of that training program) — (0.0, None) when nothing is shared."""
        grams = ngrams(code, self.n)
        counts: Counter[int] = Counter()
        for g in grams:
            post = self.postings.get(g)
            if post and len(post) <= self.max_df:
                counts.update(post)
        best, arg = 0.0, None
        for i, _ in counts.most_common(CANDIDATES):
            s = jaccard(grams, self.sets[i])
            if s > best:
                best, arg = s, i
        return best, arg


def max_similarity(items_cpp: Sequence[str], train_cpp: Sequence[str]) -> list[tuple[float, int | None]]:
    index = NgramIndex(train_cpp)
    return [index.best(c) for c in items_cpp]


def read_train_cpp(paths: Sequence[str | Path]) -> list[str]:
    """The ``cpp`` field of every line of the training JSONL files (prepare output)."""
    out: list[str] = []
    for p in paths:
        before = len(out)
        out.extend(r["cpp"] for r in read_jsonl(p) if isinstance(r.get("cpp"), str))
        if len(out) == before:
            raise Cpp2PyError(f"{p}: no training record with a `cpp` field")
    return out


def train_data_from_adapter(adapter: str | Path) -> list[Path]:
    """Training JSONL files recorded in an adapter's config (``cpp2py_train.json`` or ``train_config.yaml``):
    every string value in it that names an existing ``.jsonl`` file. Empty when none is recorded."""
    import json

    import yaml

    adapter = Path(adapter)
    found: list[Path] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and node.endswith(".jsonl") and Path(node).is_file() \
                and "train" in Path(node).name and Path(node) not in found:
            found.append(Path(node))

    for name, load in (("cpp2py_train.json", json.loads), ("train_config.yaml", yaml.safe_load)):
        f = adapter / name
        if f.is_file():
            walk(load(f.read_text(encoding="utf-8")))
    return found


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python -m cpp2py.scoring.contamination BENCH.jsonl TRAIN.jsonl [...]")
    try:
        items = list(read_jsonl(argv[0]))
        sims = max_similarity([r.get("cpp", "") for r in items], read_train_cpp(argv[1:]))
    except Cpp2PyError as e:  # one line, as the cpp2py command prints it, not a traceback
        raise SystemExit(f"error: {e}") from None
    dirty = sum(s >= THRESHOLD for s, _ in sims)
    print(f"{dirty}/{len(items)} items have a training program with 5-gram Jaccard >= {THRESHOLD}")


if __name__ == "__main__":
    main(sys.argv[1:])
