"""Seeded, bounded input values for C++ parameter types, and their spellings for the C++ and Python drivers.

Values stay small enough that correct code does not overflow (the sanitizers drop the inputs where the C++
still does), and every generator mixes in the edge cases: 0, 1, negatives, empty, one element, duplicates,
within the domain the function's body shows (see ``Domain``).
Maps are lists of (key, value) pairs and sets lists of distinct values until they are spelled out; a
``ListNode*`` is the list of its values and a ``TreeNode*`` LeetCode's level-order list with None for the
missing children, trailing ones trimmed (``[]`` for nullptr either way), as LeetCode's tests write them.
"""
from __future__ import annotations

import random
import string as _string

from cpp2py.execution.oracle.cpptypes import NODES, CType

_NODE_VALUE = CType("int", "int")  # what a LeetCode TreeNode or ListNode holds
_EDGE_INTS = (0, 1, 2, 3, 5, 10, 7, 100)
_LENGTHS = (1, 2, 3, 4, 5, 6, 8, 10)


class Domain:
    """Where one parameter's inputs come from, read off the function's body (the C++ states no preconditions,
    but it shows them; see ``cppast.Usage``): numbers from ``low`` up, and near the literals they are
    compared with, negative ones only when the code tests for negativity; empty containers and strings only
    when it checks for emptiness; characters from its own char literals when it has several (brackets,
    digits, vowels), else lowercase letters, with spaces only when it mentions ``' '``; strings made of the
    words it compares with when it has any, of numbers when it parses them."""

    def __init__(self, chars: list[str], words: list[str], *, signed: bool, empty: bool, low: float = 0,
                 near: list[float] = (), numeric: bool = False, tokens: bool = False):
        distinct = sorted(set(chars))
        self.space = " " in distinct
        self.chars = distinct if len(distinct) >= 2 else list(_string.ascii_lowercase)
        self.words = sorted(set(words))
        self.signed, self.empty, self.numeric = signed, empty, numeric
        self.tokens = tokens  # strings in a container: each one a word when there are words
        self.low = min(low, 0) if signed else low
        self.near = [c for c in near if signed or c >= self.low]

    def char(self, rng: random.Random) -> str:
        return rng.choice(self.chars)

    def length(self, rng: random.Random, short: bool = False) -> int:
        lengths = _LENGTHS[:5] if short else _LENGTHS
        return rng.choice(((0,) if self.empty else ()) + lengths)

    def string(self, rng: random.Random) -> str:
        n = self.length(rng)
        if self.numeric:
            v = rng.randint(0, 10 ** rng.randint(1, 4))
            # Halves often: where C++'s round (away from zero) and Python's (to even) differ.
            r = rng.random()
            text = str(v) if r < 0.4 else f"{v}.5" if r < 0.7 else f"{v}.{rng.choice((0, 3, 25, 75))}"
            return "-" + text if self.signed and rng.random() < 0.3 else text
        if self.words and self.space:  # split at spaces into words: only words
            return " ".join(rng.choice(self.words) for _ in range(min(n, 4)))
        if self.words and (self.tokens or rng.random() < 0.5):
            return rng.choice(self.words)
        if self.words:  # a word inside other text: "ab.txt"
            return "".join(self.char(rng) for _ in range(n // 2)) + rng.choice(self.words)
        if self.space and rng.random() < 0.3:
            return " ".join("".join(self.char(rng) for _ in range(rng.randint(1, 5))) for _ in range(max(1, n // 3)))
        return "".join(self.char(rng) for _ in range(n))


EDGES = ("empty", "one")


def edge(t: CType, kind: str, domain: Domain):
    """The smallest values of ``t`` (0, "", []) for ``kind`` "empty", one-unit ones (1, "a", [x]) for "one";
    a function that never checks for emptiness gets one element where "empty" would give none."""
    k = t.kind
    if k in NODES.values():
        return [] if kind == "empty" and domain.empty else [edge(_NODE_VALUE, "one", domain)]
    one = kind == "one" or (not domain.empty and k in ("string", "list", "set", "map"))
    if k in ("int", "float"):
        return type(1 if k == "int" else 1.0)(max(kind == "one", domain.low))
    if k == "bool":
        return kind == "one"
    if k == "char":
        return domain.chars[0]
    if k == "string":
        return "" if not one else "1" if domain.numeric else domain.words[0] if domain.words else domain.chars[0]
    if k in ("list", "set"):
        return [edge(t.args[0], kind, domain)] if one else []
    if k == "map":
        return [(edge(t.args[0], kind, domain), edge(t.args[1], kind, domain))] if one else []
    return tuple(edge(a, kind, domain) for a in t.args)


def generate(t: CType, rng: random.Random, domain: Domain, depth: int = 0):
    """One value of type ``t``."""
    k = t.kind
    if k == "int":
        r = rng.random()
        if r < 0.2 and domain.near:  # both sides of a boundary the code tests
            v = int(rng.choice(domain.near)) + rng.choice((-1, 0, 1))
            return v if v >= domain.low or domain.signed else int(domain.low)
        if r < 0.45:
            v = rng.choice(_EDGE_INTS)
        elif r < 0.85:
            v = rng.randint(0, 30)
        elif r < 0.97:
            v = rng.randint(31, 1000)
        else:
            v = rng.randint(1000, 100_000 if depth == 0 else 1000)
        if domain.signed and not t.unsigned and rng.random() < 0.25:
            return -v
        return max(v, int(domain.low))
    if k == "float":
        if rng.random() < 0.25 and domain.near:
            # Rounded: 3.7 rather than the 3.7001 the code uses to absorb rounding errors.
            v = round(rng.choice(domain.near) + rng.choice((-0.5, -0.25, 0.0, 0.25, 0.5)), 2)
        # Half the floats are whole numbers: code often treats them as such (rounding, parity checks).
        else:
            v = float(rng.randint(0, 20)) if rng.random() < 0.5 else rng.randint(0, 80) / 4
            v = -v if domain.signed and rng.random() < 0.25 else v
        return v if v >= domain.low or domain.signed else float(domain.low)
    if k == "bool":
        return rng.random() < 0.5
    if k == "char":
        return domain.char(rng)
    if k == "string":
        return domain.string(rng)
    if k in ("list", "linked"):
        return _list(t.args[0] if k == "list" else _NODE_VALUE, rng, domain, depth)
    if k == "tree":
        return _tree(rng, domain, depth)
    if k == "set":
        return sorted({_key(v): v for v in _list(t.args[0], rng, domain, depth)}.values(), key=_key)
    if k == "map":
        keys = {_key(v): v for v in _list(t.args[0], rng, domain, depth)}
        return [(kv, generate(t.args[1], rng, domain, depth + 1)) for _, kv in sorted(keys.items())]
    return tuple(generate(a, rng, domain, depth + 1) for a in t.args)  # pair, tuple


def _key(v) -> str:
    return repr(v)


def _list(elem: CType, rng: random.Random, domain: Domain, depth: int) -> list:
    n = domain.length(rng, short=depth > 0)
    if elem.kind == "list":  # rows of one width, as a matrix usually is
        width = rng.choice((1, 2, 3, 4))
        return [[generate(elem.args[0], rng, domain, depth + 2) for _ in range(width)] for _ in range(n)]
    pool = [generate(elem, rng, domain, depth + 1) for _ in range(max(1, n))]
    r = rng.random()
    if r < 0.2 and n > 1:  # duplicates
        return [rng.choice(pool[: max(1, n // 2)]) for _ in range(n)]
    if r < 0.35 and elem.kind in ("int", "float", "string", "char"):
        return sorted(pool[:n])
    return pool[:n]


_SHAPES = ("random", "random", "bst", "complete", "left", "right")


def _tree(rng: random.Random, domain: Domain, depth: int) -> list:
    """A tree of 1 to 10 nodes in level order: of random shape, a binary search tree, complete (full at 1, 3,
    7 nodes), or a chain skewed to one side; values as a list's (duplicates, sorted runs)."""
    vals = _list(_NODE_VALUE, rng, domain, depth) or [0]
    shape = rng.choice(_SHAPES)
    if shape == "complete":
        return vals
    root = None
    for v in dict.fromkeys(vals) if shape == "bst" else vals:
        node = [v, None, None]
        if root is None:
            root = node
            continue
        at = root
        while True:  # walk down to a free child slot
            side = _side(shape, v, at, rng)
            if at[side] is None:
                at[side] = node
                break
            at = at[side]
    return _level_order(root)


def _side(shape: str, v: int, at: list, rng: random.Random) -> int:
    """Which child slot of ``at`` (1: left, 2: right) a new node ``v`` goes down in a tree of ``shape``."""
    if shape == "random":
        return rng.choice((1, 2))
    if shape == "bst":
        return 1 if v < at[0] else 2
    return 1 if shape == "left" else 2


def _level_order(root) -> list:
    """LeetCode's serialisation of a tree of ``[val, left, right]`` lists."""
    out, queue = [], [root]
    for node in queue:
        out.append(None if node is None else node[0])
        if node is not None:
            queue += node[1:]
    while out and out[-1] is None:
        out.pop()
    return out


def size(t: CType, v) -> int:
    """How many elements or nodes a container, string or node value holds."""
    return sum(x is not None for x in v) if t.kind == "tree" else len(v)


def serialize(t: CType, v) -> str:
    """``v`` in the token stream the C++ driver's ``get`` reads: numbers as text, strings as their byte length
    and the bytes, containers as their size and the elements."""
    k = t.kind
    if k == "int":
        return str(v)
    if k == "float":
        return repr(float(v))
    if k == "bool":
        return "1" if v else "0"
    if k == "char":
        return str(ord(v))
    if k == "string":
        return f"{len(v.encode('utf-8'))} {v}"
    if k in ("list", "set"):
        return " ".join([str(len(v)), *(serialize(t.args[0], x) for x in v)])
    if k in NODES.values():  # the C++ driver reads a missing child as "null"
        return " ".join([str(len(v)), *("null" if x is None else str(x) for x in v)])
    if k == "map":
        return " ".join([str(len(v)), *(serialize(t.args[0], a) + " " + serialize(t.args[1], b) for a, b in v)])
    return " ".join(serialize(a, x) for a, x in zip(t.args, v))


def tagged(t: CType, v):
    """``v`` as JSON for the Python driver: maps, sets and tuples tagged so they come back as dict, set, tuple."""
    k = t.kind
    if k == "list":
        return [tagged(t.args[0], x) for x in v]
    if k == "set":
        return {"__set__": [tagged(t.args[0], x) for x in v]}
    if k == "map":
        return {"__map__": [[tagged(t.args[0], a), tagged(t.args[1], b)] for a, b in v]}
    if k in ("pair", "tuple"):
        return {"__tuple__": [tagged(a, x) for a, x in zip(t.args, v)]}
    if k in NODES.values():
        return {f"__{k}__": v}
    # Whole floats reach Python as ints, as callers (and tests) pass them: `any_int(2, 3, 1)`, not 2.0.
    return int(v) if k == "float" and float(v).is_integer() else v
