"""Seeded, bounded input values for C++ parameter types, and their spellings for the C++ and Python drivers.

Values stay small enough that correct code does not overflow (the sanitizers drop the inputs where the C++
still does), and every generator mixes in the edge cases: 0, 1, negatives, empty, one element, duplicates.
Maps are lists of (key, value) pairs and sets lists of distinct values until they are spelled out.
"""
from __future__ import annotations

import random
import string as _string

from cpp2py.execution.oracle.cpptypes import CType

_EDGE_INTS = (0, 1, 2, -1, 3, 5, 10, 7, 100, -5)
_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 8, 10)


class Alphabet:
    """Characters and words to build strings from: the program's own literals first, then lowercase letters."""

    def __init__(self, chars: list[str], words: list[str]):
        self.chars = sorted(set(chars)) or list("abc")
        self.words = sorted(set(words))

    def char(self, rng: random.Random) -> str:
        return rng.choice(self.chars) if rng.random() < 0.6 else rng.choice(_string.ascii_lowercase)

    def string(self, rng: random.Random) -> str:
        n = rng.choice(_LENGTHS)
        if self.words and rng.random() < 0.3:
            return " ".join(rng.choice(self.words) for _ in range(min(n, 4)))
        if rng.random() < 0.2:
            return " ".join("".join(rng.choice(_string.ascii_lowercase) for _ in range(rng.randint(1, 5)))
                            for _ in range(max(1, n // 3)))
        return "".join(self.char(rng) for _ in range(n))


EDGES = ("empty", "one")


def edge(t: CType, kind: str, rng: random.Random, alphabet: Alphabet):
    """The smallest values of ``t`` (0, "", []) for ``kind`` "empty", one-unit ones (1, "a", [x]) for "one"."""
    k, one = t.kind, kind == "one"
    if k in ("int", "float"):
        return type(1 if k == "int" else 1.0)(one)
    if k == "bool":
        return one
    if k == "char":
        return alphabet.chars[0]
    if k == "string":
        return alphabet.chars[0] if one else ""
    if k in ("list", "set"):
        return [edge(t.args[0], kind, rng, alphabet)] if one else []
    if k == "map":
        return [(edge(t.args[0], kind, rng, alphabet), edge(t.args[1], kind, rng, alphabet))] if one else []
    return tuple(edge(a, kind, rng, alphabet) for a in t.args)


def generate(t: CType, rng: random.Random, alphabet: Alphabet, depth: int = 0):
    """One value of type ``t``."""
    k = t.kind
    if k == "int":
        r = rng.random()
        if r < 0.35:
            v = rng.choice(_EDGE_INTS)
        elif r < 0.8:
            v = rng.randint(0, 30)
        elif r < 0.9:
            v = rng.randint(-30, -1)
        else:
            v = rng.randint(31, 10_000 if depth == 0 else 1000)
        return abs(v) if t.unsigned else v
    if k == "float":
        return rng.choice((0.0, 1.0, 0.5, -2.5, 3.25)) if rng.random() < 0.3 else rng.randint(-40, 40) / 4
    if k == "bool":
        return rng.random() < 0.5
    if k == "char":
        return alphabet.char(rng)
    if k == "string":
        return alphabet.string(rng)
    if k == "list":
        return _list(t.args[0], rng, alphabet, depth)
    if k == "set":
        return sorted({_key(v): v for v in _list(t.args[0], rng, alphabet, depth)}.values(), key=_key)
    if k == "map":
        keys = {_key(v): v for v in _list(t.args[0], rng, alphabet, depth)}
        return [(kv, generate(t.args[1], rng, alphabet, depth + 1)) for _, kv in sorted(keys.items())]
    return tuple(generate(a, rng, alphabet, depth + 1) for a in t.args)  # pair, tuple


def _key(v) -> str:
    return repr(v)


def _list(elem: CType, rng: random.Random, alphabet: Alphabet, depth: int) -> list:
    n = rng.choice(_LENGTHS[: 6 if depth else None])
    if elem.kind == "list":  # rows of one width, as a matrix usually is
        width = rng.choice((1, 2, 3, 4))
        return [[generate(elem.args[0], rng, alphabet, depth + 2) for _ in range(width)] for _ in range(n)]
    pool = [generate(elem, rng, alphabet, depth + 1) for _ in range(max(1, n))]
    r = rng.random()
    if r < 0.2 and n > 1:  # duplicates
        return [rng.choice(pool[: max(1, n // 2)]) for _ in range(n)]
    if r < 0.35 and elem.kind in ("int", "float", "string", "char"):
        return sorted(pool[:n])
    return pool[:n]


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
    return v
