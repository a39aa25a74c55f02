"""C++ input handling for translation: reading and checking sources, and splitting long ones.

Run as: python -m cpp2py.generation.cpp_source FILE.cpp   (prints the top-level declarations it finds)

* :func:`read_cpp` reads a file (or stdin text) and refuses what is not C++ with a one-line error.
* :func:`looks_like_cpp` is a cheap heuristic, not a parser: it keeps Python files, prose and data out.
* :func:`split_declarations` cuts a source at top-level declarations (functions, classes, structs,
  namespaces) with a brace matcher that skips strings, character literals, raw strings, comments and
  preprocessor lines; :func:`split_to_fit` packs them into pieces that fit the model's window, so that
  a long input is translated piece by piece. Both are linear in the input.
* :func:`bare_cpp` tells a chat message that is only code from one that asks something about code.

Input size: one input is at most :data:`MAX_INPUT_BYTES` (checked by :func:`check_cpp` and
:func:`read_cpp` before anything is loaded) and :data:`MAX_INPUT_TOKENS` of the model's tokens
(checked by :func:`split_to_fit`, the first thing that counts tokens). Beyond that a translation would
run for hours on a CPU; such a file is better translated in parts.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cpp2py import cpptree
from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_text

CPP_SUFFIXES = (".cpp", ".cc", ".cxx", ".c++", ".h", ".hpp", ".hh", ".hxx")
MAX_INPUT_BYTES = 512 * 1024
MAX_INPUT_TOKENS = 131_072

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


def _too_big(where: str, size: str) -> Cpp2PyError:
    return Cpp2PyError(f"{where}: input is {size}, over the limit of {MAX_INPUT_BYTES // 1024} KiB and "
                       f"{MAX_INPUT_TOKENS:,} tokens per input; translate it in parts (split the file)")


def check_size(text_or_bytes: str | int, where: str) -> None:
    """Refuse an input over :data:`MAX_INPUT_BYTES`: its text, or its size in bytes when not read yet."""
    n_bytes = text_or_bytes if isinstance(text_or_bytes, int) else len(text_or_bytes.encode("utf-8", "surrogatepass"))
    if n_bytes > MAX_INPUT_BYTES:
        raise _too_big(where, f"{n_bytes:,} bytes")


def check_cpp(text: str, where: str) -> str:
    """Return ``text`` if it is non-empty C++ within the size limit; otherwise raise a one-line error
    naming ``where``."""
    check_size(text, where)
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
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)  # no more than the limit in memory
        check_size(len(data), "<stdin>")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Cpp2PyError("<stdin>: not valid UTF-8 text") from None
        return check_cpp(text, "<stdin>")
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".py":
        raise Cpp2PyError(f"{path}: is a Python file; cpp2py translates C++ into Python")
    if path.is_file():
        check_size(path.stat().st_size, str(path))  # before reading it
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

    One function: a single-pass scanner whose state (depth, open block, line start) every branch shares.
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


def split_to_fit(source: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """``source`` as pieces of at most about ``limit`` tokens: whole when it fits, else its top-level
    declarations packed in order, each piece headed by the preamble. Refuses an input over
    :data:`MAX_INPUT_TOKENS` and a declaration that cannot fit a piece.

    Each declaration's tokens are counted once and the counts summed, so this is linear in the input
    (counting the growing piece again for every added declaration was quadratic). A tokenizer does not
    merge tokens across the blank line that joins declarations, so the sum is the piece's count or a
    little more, never less.
    """
    total = count_tokens(source)
    if total > MAX_INPUT_TOKENS:
        raise _too_big("input", f"{total:,} tokens")
    if total <= limit:
        return [source]
    split = split_declarations(source)
    head = split.preamble + "\n\n" if split.preamble else ""
    head_n, sep_n = (count_tokens(head) if head else 0), count_tokens("\n\n")
    pieces: list[str] = []
    current: list[str] = []
    size = head_n
    for decl in split.declarations:
        n = count_tokens(decl)
        if head_n + n > limit:
            first = decl.strip().splitlines()[0][:60]
            raise Cpp2PyError(f"input: one declaration ({first!r}...) is {head_n + n} tokens, over the "
                              f"{limit}-token limit of one piece for this model; shorten it or raise "
                              "max_input_tokens on a model with a longer window")
        if current and size + sep_n + n > limit:
            pieces.append(head + "\n\n".join(current))
            current, size = [], head_n
        size += (sep_n if current else 0) + n
        current.append(decl)
    if current:
        pieces.append(head + "\n\n".join(current))
    return pieces


def main_piece(source: str) -> str | None:
    """``main``'s definition headed by the preamble (as :func:`split_to_fit` heads a piece): the unit that
    translates a program's driver on its own when the whole translation lost it. None when tree-sitter finds
    no ``main`` definition (or is not installed: the optional extra cpp2py[oracle])."""
    return definitions_piece(source, {"main"})


def definitions_piece(source: str, names: set[str]) -> str | None:
    """The definitions of the free functions named in ``names`` (every overload; at the top level or in a
    namespace), in source order and headed by the preamble: the unit that translates functions a whole
    translation calls but lost. None when there is none (or tree-sitter is not installed)."""
    try:
        root = cpptree.parse(source)
    except ImportError:
        return None
    found = [cpptree.text(node) for name, node in cpptree.free_functions(root) if name in names]
    if not found:
        return None
    preamble = split_declarations(source).preamble
    return (preamble + "\n\n" if preamble else "") + "\n\n".join(found)


_COMMENTS_AND_STRINGS = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)
_FENCED = re.compile(r"\A```[ \t]*(?:cpp|c\+\+|cc|cxx|c|h|hpp)?[ \t]*\n(.*?)\n?```\Z", re.S | re.I)
_PROSE_LINE = re.compile(r"^[A-Za-z][\w'’,-]*(?:\s+[\w'’,-]+){2,}\s*[.:?!]?$")


def bare_cpp(message: str) -> str | None:
    """The C++ of a chat message that is only code (bare, or one fenced block), else None.

    A message that also asks something ("Explain this:", "why does it crash?") has a line of plain words
    outside comments and strings; a C++ line of three or more bare words with no punctuation is rare.
    """
    text = message.strip()
    fenced = _FENCED.match(text)
    code = fenced.group(1) if fenced else text
    if "```" in code or not looks_like_cpp(code):
        return None
    lines = _COMMENTS_AND_STRINGS.sub('""', code).splitlines()
    return None if any(_PROSE_LINE.match(line.strip()) for line in lines) else code


def has_main(source: str) -> bool:
    """Whether the source defines ``main`` (then it is a full program whose output can be compared)."""
    return re.search(r"\b(int|void|auto)\s+main\s*\(", source) is not None


def reads_tokens(source: str) -> bool:
    """Whether the source reads stdin only with ``cin >>`` (whitespace-separated tokens, across lines)."""
    return re.search(r"\bcin\s*>>", source) is not None and \
        re.search(r"\b(?:getline|scanf|getchar|fgets|gets)\s*\(|\bcin\s*\.\s*get", source) is None


def streams_output(source: str) -> bool:
    """Whether the source writes with ``<<`` to cout/cerr (whose pieces are concatenated, with no separator)."""
    return re.search(r"\b(?:std::)?c(?:out|err)\s*<<", source) is not None


if __name__ == "__main__":
    parts = split_declarations(read_cpp(sys.argv[1]))
    print("preamble:\n" + parts.preamble)
    for d in parts.declarations:
        print("---\n" + d)
