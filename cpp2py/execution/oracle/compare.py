"""Canonical values (as both drivers print them) compared with a float tolerance, printed output compared
line by line (trailing whitespace and trailing blank lines ignored, as the stdout benchmarks do), and one
function case judged from the two drivers' records.

Standard library only: an exported benchmark item's ``test`` runs this file's text in the sandbox, where
cpp2py is not installed (:mod:`.export`)."""
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


def _null_node(v) -> bool:
    """Whether ``v`` is an empty list or tree as the drivers print them: C++'s nullptr, Python's None."""
    return v is None or isinstance(v, dict) and v in ({"__tree__": []}, {"__linked__": []})


def same(a, b, tol: float = TOLERANCE) -> bool:
    """Structural equality of normalized values; numbers within ``tol`` (relative or absolute)."""
    if _null_node(a) and _null_node(b):
        return True
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


def wanted(target: dict, e: dict):
    """What the Python function should return for the C++ record ``e``: the C++ result, plus the scalars it
    wrote through references (Python cannot write through an int), as one tuple. ``target``: the case spec
    (``outs``, ``mutable``, ``written``, ``tolerance``, ``params``, ``arrays``, ``nodes``) of
    ``functions.Target.spec``."""
    mutable = target["mutable"]
    outs = [e["after"][mutable.index(j)] for j in target["outs"]]
    if not outs:
        return e["ret"]
    return ([] if e["ret"] is None else [e["ret"]]) + outs if len(outs) > 1 or e["ret"] is not None \
        else outs[0]


def mismatch(target: dict, e: dict, rec: dict | None) -> str | None:
    """None when ``rec`` (the Python driver's run of one case) matches the C++ record ``e``; else what differs."""
    if rec is None:
        return "no result (the run ended early)"
    if "error" in rec:
        return rec["error"]
    tol, mutable, written = target["tolerance"], target["mutable"], target["written"]
    ret_ok = same(normalize(wanted(target, e)), normalize(rec["ret"]), tol)
    # LeetCode's judge reads a void function's lists and trees from its parameters, whatever a Python
    # translation returns, and otherwise only the result: the nodes relinked on the way to it are material.
    nodes = [j for j in written if j in target["nodes"]]
    if nodes and e["ret"] is None:
        ret_ok = True
    for j in written:
        if e["ret"] is not None and j in nodes:
            continue
        k = mutable.index(j)
        after = normalize(rec["after"][k])
        if not same(normalize(e["after"][k]), after, tol):
            # A C array a function returning a value sorts or overwrites is usually its scratch space
            # (`sort(arr, arr + n)` to compute a result): a Python translation may leave the list alone.
            if e["ret"] is not None and j in target["arrays"] and same(normalize(e["before"][k]), after, tol):
                continue
            # A Python function may return the array a C++ void function sorted in place.
            single = e["ret"] is None and len(written) == 1 and not target["outs"]
            if not (single and same(normalize(e["after"][k]), normalize(rec["ret"]), tol)):
                return f"argument {target['params'][j]} after the call: expected " \
                       f"{show(e['after'][k])}, got {show(rec['after'][k])}"
            ret_ok = True
    if not ret_ok:
        return f"returned {show(rec['ret'])}, expected {show(wanted(target, e))}"
    if not same_output(e["out"], rec["out"]):
        return f"printed {rec['out'][:300]!r}, expected {e['out'][:300]!r}"
    return None
