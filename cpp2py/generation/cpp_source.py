"""C++ input handling for translation: reading and checking sources, and splitting long ones.

Run as: python -m cpp2py.generation.cpp_source FILE.cpp   (prints the top-level declarations it finds)

* :func:`read_cpp` reads a file (or stdin text) and refuses what is not C++ with a one-line error.
* :func:`looks_like_cpp` is a cheap heuristic, not a parser: it keeps Python files, prose and data out.
* :func:`split_declarations` cuts a source at top-level declarations (functions, classes, structs,
  namespaces) with a brace matcher that skips strings, character literals, raw strings, comments and
  preprocessor lines, so that an input beyond the model's window is translated piece by piece.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_text

CPP_SUFFIXES = (".cpp", ".cc", ".cxx", ".c++", ".h", ".hpp", ".hh", ".hxx")

_CPP_SIGNALS = [re.compile(p, re.M) for p in (
    r"^\s*#\s*(include|define|ifn?def|pragma)\b",
    r";\s*$",
    r"[{}]",
    r"\b(int|void|char|bool|double|float|long|unsigned|auto|const|size_t)\s+[\w*&]",
    r"\b(std::|cout|cin|printf|scanf|vector\s*<|string\s+\w|nullptr|template\s*<)",
    r"\b(struct|class|namespace|typedef|using)\s+\w",
    r"\w\s*(\+\+|--|->|::)|(\+\+|--)\w",
    r"\breturn\b[^\n]*;",
)]
_PY_SIGNALS = [re.compile(p, re.M) for p in (
    r"^\s*def\s+\w+\s*\(.*\)\s*(->.*)?:\s*$",
    r"^\s*(import\s+\w+|from\s+[\w.]+\s+import\b)",
    r"^\s*(if|elif|else|for|while|try|except|with|class)\b[^{;\n]*:\s*(#.*)?$",
    r"^\s*print\(.*\)\s*$",
    r"\b(self\.|None\b|True\b|False\b|elif\b|lambda\b)",
)]


def looks_like_cpp(text: str) -> bool:
    """True when ``text`` reads as C/C++ rather than Python, prose or data."""
    cpp = sum(bool(p.search(text)) for p in _CPP_SIGNALS)
    py = sum(bool(p.search(text)) for p in _PY_SIGNALS)
    return cpp >= 2 and cpp > py


def check_cpp(text: str, where: str) -> str:
    """Return ``text`` if it is non-empty C++; otherwise raise a one-line error naming ``where``."""
    if not text.strip():
        raise Cpp2PyError(f"{where}: empty input, nothing to translate")
    if "\x00" in text:
        raise Cpp2PyError(f"{where}: looks like a binary file (it contains NUL bytes)")
    if not looks_like_cpp(text):
        raise Cpp2PyError(f"{where}: does not look like C++ source")
    return text


def read_cpp(path: str | Path) -> str:
    """Read and check one C++ file; ``-`` reads standard input."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Cpp2PyError("<stdin>: not valid UTF-8 text") from None
        return check_cpp(text, "<stdin>")
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".py":
        raise Cpp2PyError(f"{path}: is a Python file; cpp2py translates C++ into Python")
    return check_cpp(read_text(path), str(path))


@dataclass
class Split:
    """A source cut into a ``preamble`` (includes, using-declarations, globals) and ``declarations``."""

    preamble: str
    declarations: list[str] = field(default_factory=list)


_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_AGGREGATE = re.compile(r"^\s*(template\s*<[^{]*>\s*)?(struct|class|union|enum)\b")


def split_declarations(source: str) -> Split:
    """Cut ``source`` at top-level declarations.

    Lines starting with ``#`` and ``;``-terminated statements at depth 0 (``using``, globals, forward
    declarations) go to the preamble, which every piece needs as context. A brace block at depth 0
    (function, class, namespace) is one declaration; for aggregates and initialisers
    (``struct S {...};``, ``int a[] = {1, 2};``) the declaration runs on to its ``;``.
    """
    preamble: list[str] = []
    decls: list[str] = []
    n = len(source)
    i = start = 0
    depth = 0
    opened = False  # the current statement has opened a brace block at depth 0
    needs_semicolon = False
    at_line_start = True
    while i < n:
        c = source[i]
        if at_line_start and depth == 0 and source[start:i].strip() == "" and c == "#":
            j = i
            while True:  # a preprocessor line, with backslash continuations
                k = source.find("\n", j)
                k = n if k < 0 else k
                if source[j:k].rstrip().endswith("\\") and k < n:
                    j = k + 1
                    continue
                break
            preamble.append(source[i:k].strip())
            i = start = k
            continue
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        at_line_start = False
        if source.startswith("//", i):
            k = source.find("\n", i)
            i = n if k < 0 else k
            continue
        if source.startswith("/*", i):
            k = source.find("*/", i + 2)
            i = n if k < 0 else k + 2
            continue
        m = re.match(r'(?:u8|[uUL])?R"([^()\\\s]{0,16})\(', source[i:i + 24])
        if m:
            k = source.find(f'){m.group(1)}"', i + m.end())
            i = n if k < 0 else k + len(m.group(1)) + 2
            continue
        if c in "\"'" and not (c == "'" and i > 0 and source[i - 1].isalnum() and source[i - 1] not in "uULR"):
            # (a quote after a digit is C++14's digit separator, 1'000'000)
            k = i + 1
            while k < n and source[k] != c and source[k] != "\n":
                k += 2 if source[k] == "\\" else 1
            i = k + 1
            continue
        if c == "{":
            if depth == 0 and not opened:
                head = _COMMENT.sub("", source[start:i])
                opened = True
                needs_semicolon = bool(_AGGREGATE.match(head)) or "=" in head
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
            if depth == 0 and opened and not needs_semicolon:
                decls.append(source[start:i + 1].strip())
                start, opened = i + 1, False
        elif c == ";" and depth == 0:
            text = source[start:i + 1].strip()
            (decls if opened else preamble).append(text)
            start, opened, needs_semicolon = i + 1, False, False
        i += 1
    rest = source[start:].strip()
    if rest:
        decls.append(rest)
    return Split(preamble="\n".join(p for p in preamble if p), declarations=decls)


def has_main(source: str) -> bool:
    """Whether the source defines ``main`` (then it is a full program whose output can be compared)."""
    return re.search(r"\b(int|void|auto)\s+main\s*\(", source) is not None


if __name__ == "__main__":
    parts = split_declarations(read_cpp(sys.argv[1]))
    print("preamble:\n" + parts.preamble)
    for d in parts.declarations:
        print("---\n" + d)
