"""Canonical values (as both drivers print them) compared with a float tolerance, and printed output compared
line by line (trailing whitespace and trailing blank lines ignored, as the stdout benchmarks do)."""
from __future__ import annotations

import json
import math

TOLERANCE = 1e-6
# C++ ``float`` arithmetic rounds to 24 bits at every step while Python computes in double: a correct
# translation of float code drifts by more than 1e-6 after a few operations.
SINGLE_TOLERANCE = 1e-4


def _sort_key(v) -> str:
    return json.dumps(v, sort_keys=True)


def normalize(v):
    """Maps and sets become order-free (sorted), so ``unordered_map`` and a Python dict compare equal."""
    if isinstance(v, list):
        return [normalize(x) for x in v]
    if isinstance(v, dict):
        if "__map__" in v:
            return {"__map__": sorted(([normalize(k), normalize(x)] for k, x in v["__map__"]),
                                      key=lambda kv: _sort_key(kv[0]))}
        if "__set__" in v:
            return {"__set__": sorted((normalize(x) for x in v["__set__"]), key=_sort_key)}
    return v


def same(a, b, tol: float = TOLERANCE) -> bool:
    """Structural equality of normalized values; numbers within ``tol`` (relative or absolute)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) or isinstance(b, float):
            return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], tol) for k in a)
    return a == b


def lines(text: str) -> list[str]:
    out = [line.rstrip() for line in text.splitlines()]
    while out and not out[-1]:
        out.pop()
    return out


def same_output(a: str, b: str) -> bool:
    return lines(a) == lines(b)


def show(v) -> str:
    return json.dumps(v)
