"""The data stage: XLCoST restored into real code, CoST full programs, and executable benchmarks.

Run as: cpp2py prepare xlcost --src ../shared/data/xlcost-m_g-transeval/xlcost-m --out data/xlcost

* ``prepare_xlcost`` reads either XLCoST layout, turns the tokenised lines (``NEW_LINE``, ``INDENT``,
  ``DEDENT``, ``STRNEWLINE``, ``TABSYMBOL``, ``▁``) back into indented, normally spaced Python and
  C++, drops what does not parse, removes duplicates and train leakage, and writes
  ``train/val/test.jsonl`` (``{"id", "cpp", "python", "source"}``) plus ``stats.json``.
* ``prepare_cost`` builds program-level pairs from CoST's CSV files, split by a hash of the problem id,
  and a ``compare_stdout`` benchmark of the programs whose C++ compiles and prints something.
* ``prepare_humaneval_x`` writes HumanEval-X in the benchmark format (Python tests as the oracle).

The benchmark format (one JSON object a line) is documented in docs/data.md.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import keyword
import re
import tokenize
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl, read_text, write_json, write_jsonl
from cpp2py.metrics import normalise_ws

SPLITS = ("train", "val", "test")

# ---------------------------------------------------------------------------------------------------
# Tokenised XLCoST lines -> token lists
# ---------------------------------------------------------------------------------------------------

_SPECIAL = {"NEW_LINE", "INDENT", "DEDENT"}
_STR_PREFIX = re.compile(r"^(?i:[rbuf]|rb|br|fr|rf)$")


class Malformed(ValueError):
    """A tokenised line that cannot be restored (e.g. an unterminated string literal)."""


def _restore_literal(body: str, tokenized_strings: bool) -> str:
    """The inside of a string/char literal, with the tokeniser's markers undone.

    In the official XLCoST files the inside of a literal is itself tokenised: plain spaces separate
    tokens and a real space is ``▁``. The method-level files keep literals verbatim.
    """
    if tokenized_strings:
        body = body.replace(" ", "")
    return body.replace("▁", " ").replace("STRNEWLINE", "\\n").replace("TABSYMBOL", "\\t")


def split_tokens(line: str, *, tokenized_strings: bool) -> list[str]:
    """Split one tokenised example into tokens, each string/char literal (restored) being one token."""
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
            continue
        if c in "\"'":
            # A literal runs to the next quote of its kind not escaped by an odd number of backslashes
            # (counted on the text without separator spaces, as `\ "` is an escaped quote when tokenised).
            j = i + 1
            body: list[str] = []
            while True:
                if j >= n:
                    raise Malformed(f"unterminated string literal at column {i}")
                ch = line[j]
                if ch == c:
                    packed = "".join(body).replace(" ", "") if tokenized_strings else "".join(body)
                    trailing = len(packed) - len(packed.rstrip("\\"))
                    if trailing % 2 == 0:
                        break
                body.append(ch)
                j += 1
            lit = c + _restore_literal("".join(body), tokenized_strings) + c
            # A string prefix, glued (`f"x"`) or tokenised apart (`f "x"`), belongs to its literal.
            if tokens and _STR_PREFIX.match(tokens[-1]):
                lit = tokens.pop() + lit
            tokens.append(lit)
            i = j + 1
            continue
        j = i
        while j < n and not line[j].isspace() and line[j] not in "\"'":
            j += 1
        tokens.append(line[i:j])
        i = j
    return tokens


# ---------------------------------------------------------------------------------------------------
# Python: tokens -> indented code -> normal spacing (AST-checked)
# ---------------------------------------------------------------------------------------------------


def python_from_tokens(tokens: list[str]) -> str:
    lines: list[str] = []
    level = 0
    current: list[str] = []

    def flush() -> None:
        if current:
            lines.append("    " * level + " ".join(current))
            current.clear()

    for tok in tokens:
        if tok == "NEW_LINE":
            flush()
        elif tok == "INDENT":
            flush()
            level += 1
        elif tok == "DEDENT":
            flush()
            level -= 1
            if level < 0:
                raise Malformed("DEDENT below column 0")
        elif tok != "TABSYMBOL":  # outside a literal it stands for layout that INDENT already gives
            current.append(tok)
    flush()
    return "\n".join(lines) + "\n" if lines else ""


_IDENT = re.compile(r"^[A-Za-z_]\w*$")


def _py_operand(tok: str, *, end: bool) -> bool:
    if tok in _SPECIAL or tok == "TABSYMBOL":
        return False
    if _IDENT.match(tok):
        return not keyword.iskeyword(tok) or tok in _VALUE_KEYWORDS
    return tok[:1].isdigit() or (end and tok in (")", "]"))


def repair_lost_bar(cpp: list[str], py: list[str]) -> tuple[list[str], list[str]] | None:
    """Put back the lone `|` operator that XLCoST lost in some pairs, on both sides, or return None.

    Such pairs read `( arr [ i ] m ) == m` in C++ and Python alike (two operands side by side inside
    brackets, which Python never allows). We insert `|` there in the Python, and in the C++ where the
    same tokens occur; the caller keeps the repair only if the Python then parses.
    """
    depth, gaps = 0, []
    for i, tok in enumerate(py[:-1]):
        depth += (tok in _OPEN) - (tok in _CLOSE)
        if depth > 0 and _py_operand(tok, end=True) and _py_operand(py[i + 1], end=False):
            gaps.append(i + 1)
    if not gaps:
        return None
    cpp = list(cpp)
    for g in gaps:
        start = g - 1
        while start > max(g - 4, 0) and py[start - 1] not in _SPECIAL:
            start -= 1
        window = py[start:g + 1]
        cut = len(window) - 1
        for j in range(len(cpp) - len(window) + 1):
            if cpp[j:j + len(window)] == window:
                cpp.insert(j + cut, "|")
                break
        else:
            return None
    for g in reversed(gaps):
        py = py[:g] + ["|"] + py[g:]
    return cpp, py


_OPEN, _CLOSE = "([{", ")]}"
_VALUE_KEYWORDS = {"True", "False", "None"}
_UNARY_CANDIDATES = {"-", "+", "~", "*", "**", "@"}


def _is_keyword(tok: tokenize.TokenInfo) -> bool:
    return tok.type == tokenize.NAME and keyword.iskeyword(tok.string) and tok.string not in _VALUE_KEYWORDS


def _space_between(prev: tokenize.TokenInfo, cur: tokenize.TokenInfo, prev_unary: bool,
                   innermost: str | None, in_lambda: bool) -> bool:
    p, t = prev.string, cur.string
    if prev_unary:
        return False
    if t in _CLOSE or t in (",", ";") or p in _OPEN:
        return False
    if t == ":":
        return False
    if p == ":":
        return innermost != "["
    if t == "." or p == ".":
        if prev.type == tokenize.NUMBER:
            return True  # `1 .real`: without the space `1.` would read as a float
        return (_is_keyword(prev) and t == ".") or (_is_keyword(cur) and p == ".")
    if t in ("(", "["):
        callable_before = (prev.type == tokenize.NAME and not _is_keyword(prev)) or p in (")", "]") \
            or prev.type == tokenize.STRING or (t == "[" and p == "}")
        return not callable_before
    if (t == "=" or p == "=") and (innermost == "(" or in_lambda):
        return False  # keyword arguments and defaults: f(a, end=""), lambda x=1: x
    return True


def _fstring_types() -> set[int]:
    return {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, n)}


def respace_python(code: str) -> str:
    """Rebuild each line from Python's own tokens with PEP 8 spacing; keeps the original indentation.

    Raises ``ValueError`` when the code cannot be re-spaced line by line (a token spanning lines).
    """
    src_lines = code.splitlines(keepends=True)
    skip = {tokenize.ENCODING, tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}
    fstring = _fstring_types()
    rows: dict[int, list[str]] = {}
    stack: list[str] = []
    prev: tokenize.TokenInfo | None = None
    prev_row = 0
    prev_unary = False
    fdepth = 0
    lambda_depth: int | None = None  # bracket depth of a lambda whose parameters are being read
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    for tok in tokens:
        if tok.type in skip:
            continue
        if tok.start[0] != tok.end[0]:
            raise ValueError("a token spans lines")
        row = tok.start[0]
        if tok.type in fstring:
            # Python >= 3.12 splits f-strings into parts: copy the literal's source text verbatim.
            if tok.type == getattr(tokenize, "FSTRING_START", None):
                fdepth += 1
                if fdepth == 1:
                    fstart = tok
                continue
            if tok.type == getattr(tokenize, "FSTRING_END", None):
                fdepth -= 1
                if fdepth == 0:
                    text = src_lines[row - 1][fstart.start[1]:tok.end[1]]
                    tok = tokenize.TokenInfo(tokenize.STRING, text, fstart.start, tok.end, tok.line)
                else:
                    continue
            else:
                continue
        elif fdepth:
            continue
        if tok.type == tokenize.COMMENT:
            rows.setdefault(row, []).append(("  " if row in rows else "") + tok.string)
            continue
        out = rows.setdefault(row, [])
        innermost = stack[-1] if stack else None
        first_in_row = row != prev_row or not out
        if not first_in_row and prev is not None:
            if _space_between(prev, tok, prev_unary, innermost, lambda_depth is not None):
                out.append(" ")
        t = tok.string
        prev_unary = t in _UNARY_CANDIDATES and (
            first_in_row or prev is None
            or (prev.type == tokenize.OP and prev.string not in _CLOSE) or _is_keyword(prev))
        if tok.type == tokenize.OP and t in _OPEN:
            stack.append(t)
        elif tok.type == tokenize.OP and t in _CLOSE and stack:
            stack.pop()
        if t == "lambda" and tok.type == tokenize.NAME:
            lambda_depth = len(stack)
        elif t == ":" and lambda_depth == len(stack):
            lambda_depth = None
        out.append(t)
        prev, prev_row = tok, row
    result = []
    for i, raw in enumerate(src_lines, 1):
        if i in rows:
            indent = raw[: len(raw) - len(raw.lstrip())]
            result.append(indent + "".join(rows[i]).rstrip())
        elif raw.strip():
            raise ValueError(f"line {i} has no tokens")
        else:
            result.append("")
    return "\n".join(result).rstrip("\n") + "\n"


def _ast_dump(code: str) -> str | None:
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return None


def format_python(code: str, before: str | None = None) -> tuple[str, bool]:
    """Normal spacing for ``code`` if its AST is unchanged by it; returns (code, reformatted).
    ``before``: the code's ``_ast_dump`` when the caller already has it."""
    before = before or _ast_dump(code)
    if before is None:
        return code, False
    try:
        pretty = respace_python(code)
    except (tokenize.TokenError, ValueError, IndentationError, SyntaxError):
        return code, False
    if _ast_dump(pretty) != before:
        return code, False
    return pretty, True


# ---------------------------------------------------------------------------------------------------
# C++: tokens -> readable code (a brace/semicolon pretty printer; literals are copied untouched)
# ---------------------------------------------------------------------------------------------------

_TEMPLATES = {
    "vector", "map", "pair", "set", "unordered_map", "unordered_set", "queue", "priority_queue", "stack",
    "deque", "list", "array", "greater", "less", "tuple", "multiset", "multimap", "bitset", "function",
    "numeric_limits", "make_pair", "static_cast", "dynamic_cast", "reinterpret_cast", "const_cast",
    "template", "unique_ptr", "shared_ptr", "basic_string", "forward_list", "unordered_multimap",
    "unordered_multiset", "make_tuple", "hash", "equal_to", "plus", "minus", "multiplies", "iterator",
}
# Words after which `(` is not a call: they get a space, as in `if (x)` and `return (a + b)`.
_CONTROL = {"if", "for", "while", "switch", "return", "catch", "else", "do", "case", "throw", "new",
            "delete", "using", "namespace", "typedef", "goto", "and", "or", "not"}
_BLOCK_AFTER = {")", "else", "do", "try", "const", "noexcept", "override", "final", "mutable"}
_TYPE_HEADS = {"struct", "class", "namespace", "union", "enum"}
_LABELS = {"case", "default", "public", "private", "protected"}
_UNARY_CPP = {"-", "+", "*", "&", "!", "~", "++", "--"}
# Tokens that may appear inside template arguments; anything else means `<` was a comparison.
_TEMPLATE_ARG = re.compile(r"^([A-Za-z_]\w*|\d+|,|::|\*|&|<|>|>>|\(|\))$")


def _is_word(tok: str) -> bool:
    return tok[0].isalnum() or tok[0] == "_"


def _operand_end(tok: str | None) -> bool:
    """Whether ``tok`` ends an operand, so a following `-`, `*`, `&`, `++` is binary or postfix."""
    if tok is None:
        return False
    return tok in (")", "]") or tok[0] in "\"'" or (_is_word(tok) and tok not in _CONTROL)


def _opens_template(tokens: list[str], i: int) -> bool:
    """Whether the `<` at ``tokens[i]`` opens template arguments (closed before any `;`, `{`, `=`)."""
    depth = 0
    for tok in tokens[i:]:
        if not _TEMPLATE_ARG.match(tok):
            return False
        depth += {"<": 1, ">": -1, ">>": -2}.get(tok, 0)
        if depth <= 0:
            return True
    return False


def format_cpp(tokens: list[str]) -> str:
    """Lay out C++ tokens: one statement a line, blocks indented four spaces, operators spaced.

    Literals are single tokens and are copied as they are. TABSYMBOL tokens are dropped.
    """
    tokens = [t for t in tokens if t != "TABSYMBOL"]  # before the look-aheads below see them
    lines: list[str] = []
    cur: list[str] = []
    st = {"level": 0, "prev": None, "first": None, "eq": False}
    paren = 0
    paren_saved: list[int] = []
    braces: list[tuple[str, str | None]] = []  # ("block" | "list", first word of the statement)
    angle = 0
    glue_next = False  # no space after the previous token (unary operator, opening bracket)
    after_template = False

    def newline() -> None:
        if cur:
            lines.append("    " * st["level"] + "".join(cur).rstrip())
            cur.clear()
        st.update(prev=None, first=None, eq=False)

    def emit(tok: str, space: bool) -> None:
        if cur and space:
            cur.append(" ")
        cur.append(tok)
        st["prev"] = tok
        if st["first"] is None:
            st["first"] = tok
        if tok == "=":
            st["eq"] = True

    i = 0
    while i < len(tokens):
        tok, nxt = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else None
        prev = st["prev"]
        i += 1
        if tok == "NEW_LINE":
            newline()
            continue
        if tok.startswith("#") and prev is None:
            # A preprocessor line runs to the NEW_LINE that the tokeniser kept after it.
            words = [tok]
            while i < len(tokens) and tokens[i] != "NEW_LINE":
                words.append(tokens[i])
                i += 1
            lines.append(re.sub(r"^#\s+", "#", " ".join(words)))
            continue
        if tok == "{":
            in_list = bool(braces) and braces[-1][0] == "list"
            block = not in_list and (prev is None or prev in _BLOCK_AFTER
                                     or (st["first"] in _TYPE_HEADS and not st["eq"]))
            if block:
                braces.append(("block", st["first"]))
                emit("{", prev is not None)
                paren_saved.append(paren)
                paren = 0
                newline()
                st["level"] += 1
            else:
                braces.append(("list", None))
                emit("{", prev is not None and not glue_next)
            glue_next = not block
            after_template = False
            continue
        if tok == "}":
            kind, opener = braces.pop() if braces else ("block", None)
            if kind == "list":
                emit("}", False)
            else:
                newline()
                st["level"] = max(st["level"] - 1, 0)
                paren = paren_saved.pop() if paren_saved else 0
                emit("}", False)
                if not (nxt in (";", ",", ")", "else") or (nxt == "while" and opener == "do")):
                    newline()
            glue_next = after_template = False
            continue
        opens_template = tok == "<" and (prev in _TEMPLATES or st["first"] == "template"
                                         or (prev is not None and _is_word(prev) and _opens_template(tokens, i - 1)
                                             and nxt != "<"))
        closes_template = angle > 0 and tok in (">", ">>")
        if prev is None or glue_next:
            space = False
        elif tok in (",", ";", ")", "]", ".", "->", "::") or prev in (".", "->", "::"):
            space = False
        elif tok in ("(", "["):
            space = not (_operand_end(prev) or after_template)
        elif tok in ("++", "--") and _operand_end(prev):
            space = False
        elif tok == ":" and st["first"] in _LABELS:
            space = False
        elif opens_template or closes_template:
            space = False
        else:
            space = True
        unary = tok in _UNARY_CPP and not _operand_end(prev) and not (after_template and tok in "*&")
        emit(tok, space)
        after_template = False
        if opens_template:
            angle += 1
        elif closes_template:
            angle = max(angle - len(tok), 0)
            after_template = True
        elif tok == "(":
            paren += 1
        elif tok == ")":
            paren = max(paren - 1, 0)
        glue_next = opens_template or unary or tok in ("(", "[")
        if tok == ";" and paren == 0:
            newline()
        elif tok == ":" and st["first"] in _LABELS and paren == 0:
            newline()
    newline()
    return "\n".join(lines) + "\n" if lines else ""


def restore_cpp(line: str, *, tokenized_strings: bool = False) -> str:
    """Tokenised XLCoST C++ -> readable C++ (raises Malformed)."""
    return format_cpp(split_tokens(line, tokenized_strings=tokenized_strings))


# ---------------------------------------------------------------------------------------------------
# Hygiene: duplicates within a split, val/test pairs leaked from train
# ---------------------------------------------------------------------------------------------------


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


def _finish_splits(splits: dict[str, list[dict]], stats: dict[str, dict], out: Path) -> dict:
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


def _split_stats(read: int) -> dict:
    return {"pairs_read": read, "python_parses": 0, "python_parse_rate": 0.0, "python_respaced": 0,
            "repaired_lost_bar": 0, "dropped": Counter()}


# ---------------------------------------------------------------------------------------------------
# XLCoST
# ---------------------------------------------------------------------------------------------------


@dataclass
class XlcostFiles:
    split: str
    cpp: Path
    python: Path
    cpp_map: Path | None = None
    python_map: Path | None = None
    tokenized_strings: bool = False
    source: str = "xlcost-m"


def find_xlcost_files(src: Path) -> list[XlcostFiles]:
    """The paired files of each split in either XLCoST layout (official or method-level)."""
    src = Path(src)
    if not src.is_dir():
        raise Cpp2PyError(f"{src}: no such directory (expected an XLCoST folder)")
    found = []
    for split in SPLITS:
        official = src / f"{split}-C++-Python-tok.cpp", src / f"{split}-C++-Python-tok.py"
        method = src / f"C++.{split}", src / f"Python.{split}"
        for cpp, py, official_layout in ((*official, True), (*method, False)):
            if not cpp.exists() and not py.exists():
                continue
            for p in (cpp, py):
                if not p.is_file():
                    other = py if p == cpp else cpp
                    raise Cpp2PyError(f"{p}: missing (its pair {other.name} exists)")
            maps = (src / f"{split}-C++-map.jsonl", src / f"{split}-Python-map.jsonl") if official_layout else (None, None)
            found.append(XlcostFiles(split, cpp, py, *(m if m and m.is_file() else None for m in maps),
                                     tokenized_strings=official_layout,
                                     source="xlcost" if official_layout else "xlcost-m"))
            break
    if not found:
        raise Cpp2PyError(f"{src}: no XLCoST files (expected {{split}}-C++-Python-tok.cpp/.py or "
                          f"C++.{{split}}/Python.{{split}} for split in train, val, test)")
    return found


def _read_lines(path: Path) -> list[str]:
    text = read_text(path)
    if not text.strip():
        raise Cpp2PyError(f"{path}: empty file")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _map_ids(path: Path) -> list[str]:
    """Ids from an XLCoST map file: one per line, plain text (``123-C++-1``) or a JSON string/object."""
    ids = []
    for line in _read_lines(path):
        line = line.strip()
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = line
        if isinstance(value, dict):
            value = next((str(v) for k, v in value.items() if k in ("idx", "id", "problem_id")), line)
        ids.append(str(value))
    return ids


def _check_counts(a: Path, na: int, b: Path, nb: int) -> None:
    if na != nb:
        raise Cpp2PyError(f"{a} has {na} lines but {b} has {nb}; the files must pair line by line")


def read_xlcost_split(files: XlcostFiles) -> tuple[list[dict], dict]:
    """Restore one split's pairs; returns (records, stats before hygiene)."""
    cpp_lines, py_lines = _read_lines(files.cpp), _read_lines(files.python)
    _check_counts(files.cpp, len(cpp_lines), files.python, len(py_lines))
    ids = [f"{files.source}/{files.split}/{i}" for i in range(len(cpp_lines))]
    if files.cpp_map is not None:
        cpp_ids = _map_ids(files.cpp_map)
        _check_counts(files.cpp, len(cpp_lines), files.cpp_map, len(cpp_ids))
        ids = [f"{files.source}/{files.split}/{i}/{m}" for i, m in enumerate(cpp_ids)]
    if files.python_map is not None:
        _check_counts(files.python, len(py_lines), files.python_map, len(_map_ids(files.python_map)))
    stats = _split_stats(len(cpp_lines))
    records = []
    for rid, cpp_line, py_line in zip(ids, cpp_lines, py_lines):
        if not cpp_line.strip() or not py_line.strip():
            stats["dropped"]["empty"] += 1
            continue
        try:
            cpp_toks = split_tokens(cpp_line, tokenized_strings=files.tokenized_strings)
            py_toks = split_tokens(py_line, tokenized_strings=files.tokenized_strings)
            raw_py = python_from_tokens(py_toks)
            dump = _ast_dump(raw_py)
            if dump is None and (fixed := repair_lost_bar(cpp_toks, py_toks)):
                repaired_py = python_from_tokens(fixed[1])
                if (repaired_dump := _ast_dump(repaired_py)) is not None:
                    cpp_toks, raw_py, dump = fixed[0], repaired_py, repaired_dump
                    stats["repaired_lost_bar"] += 1
            cpp = format_cpp(cpp_toks)
        except Malformed:
            stats["dropped"]["malformed"] += 1
            continue
        if dump is None:
            stats["dropped"]["python_syntax_error"] += 1
            continue
        stats["python_parses"] += 1
        python, respaced = format_python(raw_py, dump)
        stats["python_respaced"] += respaced
        records.append({"id": rid, "cpp": cpp, "python": python, "source": files.source})
    stats["python_parse_rate"] = round(stats["python_parses"] / max(stats["pairs_read"], 1), 4)
    return records, stats


def _plain_stats(stats: dict[str, dict]) -> dict[str, dict]:
    for s in stats.values():
        s["dropped"] = dict(sorted(s["dropped"].items()))
    return stats


def prepare_xlcost(src: str | Path, out: str | Path) -> dict:
    """XLCoST (either layout) -> out/{train,val,test}.jsonl + out/stats.json; returns the stats."""
    out = Path(out)
    files = find_xlcost_files(Path(src))
    splits, stats = {}, {}
    for f in files:  # read every split before writing anything, so a bad file leaves no output
        splits[f.split], stats[f.split] = read_xlcost_split(f)
    stats = _plain_stats(_finish_splits(splits, stats, out))
    result = {"source": str(src), "layout": files[0].source, "splits": stats}
    write_json(out / "stats.json", result)
    return result


# ---------------------------------------------------------------------------------------------------
# CoST
# ---------------------------------------------------------------------------------------------------

# CoST turned each snippet's leading comment into a '''string (some lost their first quote); the
# lookahead lets a comment that itself ends in a quote (`'ops'` + the closing triple) end at the last one.
_LEADING_DOC = re.compile(r"""^\s*(?:'{2,3}|\"{3})(.*?)(?:'{3}|\"{3})(?!['"])[ \t]*(?:\n|$)""", re.S)


def _clean_snippet(snippet: str) -> str:
    # GeeksforGeeks pages indent with no-break spaces, which neither Python nor g++ accept.
    return snippet.replace("\u00a0", " ").replace("\r\n", "\n")


def _python_snippet(snippet: str) -> str:
    """Turn a snippet's leading comment string, which sits at column 0, into # comments at the
    indentation of the code under it; left as a string, an indented snippet would not parse."""
    snippet = _clean_snippet(snippet)
    m = _LEADING_DOC.match(snippet)
    if not m:
        return snippet
    rest = snippet[m.end():]
    code_line = next((ln for ln in rest.splitlines() if ln.strip()), "")
    indent = code_line[: len(code_line) - len(code_line.lstrip())]
    comment = "\n".join(f"{indent}# {ln.strip()}".rstrip() for ln in m.group(1).strip().splitlines())
    return comment + "\n" + rest


def _join_snippets(snippets: Iterable[str]) -> str:
    text = "\n".join(_clean_snippet(s).rstrip("\n") for s in snippets if s.strip())
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def _decode(raw: bytes) -> tuple[str, str]:
    for enc in ("utf-8", "cp1252"):
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"  # cp1252 leaves 5 bytes undefined; latin-1 maps all


def read_cost_problems(src: str | Path) -> Iterator[tuple[str, str, dict]]:
    """Yield (problem id, CSV text, info) for each CoST CSV in the zip or folder."""
    src = Path(src)
    if not src.exists():
        raise Cpp2PyError(f"{src}: no such file or directory (expected CoST_data.zip)")
    if src.is_dir():
        entries = [(p.stem, p.read_bytes) for p in sorted(src.rglob("*.csv")) if "__MACOSX" not in p.parts]
    else:
        try:
            zf = zipfile.ZipFile(src)
        except zipfile.BadZipFile:
            raise Cpp2PyError(f"{src}: not a zip file") from None
        names = sorted(n for n in zf.namelist() if n.endswith(".csv") and "__MACOSX" not in n
                       and not Path(n).name.startswith("._"))
        entries = [(Path(n).stem, (lambda n=n: zf.read(n))) for n in names]
    if not entries:
        raise Cpp2PyError(f"{src}: no CoST .csv files in it")
    for pid, read in entries:
        text, enc = _decode(read())
        yield pid, text, {"encoding": enc}


def parse_cost_csv(text: str) -> dict[str, list[str]]:
    """CoST CSV -> {"title": [title], language: [snippets...]}; raises ValueError when malformed."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise ValueError(f"bad CSV ({e})") from None
    if not rows or not rows[0]:
        raise ValueError("no header row [title, snippet counts]")
    out = {"title": [rows[0][0]]}
    for row in rows[1:]:
        if row and row[0].strip():
            out[row[0].strip()] = [s for s in row[1:] if s.strip()]
    return out


def cost_split(problem_id: str) -> str:
    """Deterministic 80/10/10 split by the problem id's sha1, so a problem is never in two splits."""
    bucket = int(hashlib.sha1(problem_id.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "val" if bucket < 90 else "test"


def _bench_one(rec: dict, timeout: float) -> tuple[dict, str, bool]:
    """Compile and run one CoST C++ program in the sandbox; (record, outcome, does the reference Python
    pass the resulting compare_stdout oracle)."""
    from cpp2py.sandbox import CompiledCpp, check_candidate, compile_cpp, run_binary

    built = compile_cpp(rec["cpp"])
    if not isinstance(built, CompiledCpp):
        return rec, "compile_error", False
    res = run_binary(built.path, timeout=timeout)
    if not res.ok:
        return rec, f"run_{res.status}", False
    if not res.stdout.strip():
        return rec, "no_output", False
    item = _cost_item(rec)
    return rec, "ok", check_candidate(rec["python"], item, timeout=timeout).passed


def _cost_item(rec: dict) -> dict:
    return {"id": rec["id"], "cpp": rec["cpp"], "python": rec["python"], "test": None, "stdin": None,
            "compare_stdout": True}


def prepare_cost(src: str | Path, out: str | Path, *, bench_splits: tuple[str, ...] = ("test",),
                 jobs: int = 2, timeout: float = 10.0) -> dict:
    """CoST zip -> out/{train,val,test}.jsonl, stats.json and the compare_stdout benchmark
    out/cost-stdout.jsonl (programs of ``bench_splits`` whose C++ compiles, exits 0 and prints)."""
    from concurrent.futures import ThreadPoolExecutor

    out = Path(out)
    bad = [s for s in bench_splits if s not in SPLITS]
    if bad:
        raise Cpp2PyError(f"--bench-splits: unknown split(s) {', '.join(bad)}; choose from {', '.join(SPLITS)}")
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    dropped = {s: Counter() for s in SPLITS}
    read = Counter()
    encodings = Counter()
    parses = Counter()
    for pid, text, info in read_cost_problems(src):
        split = cost_split(pid)
        read[split] += 1
        encodings[info["encoding"]] += 1
        try:
            rows = parse_cost_csv(text)
        except ValueError:
            dropped[split]["malformed_csv"] += 1
            continue
        if not rows.get("C++"):
            dropped[split]["no_cpp"] += 1
            continue
        if not rows.get("Python"):
            dropped[split]["no_python"] += 1
            continue
        cpp = _join_snippets(rows["C++"])
        python = _join_snippets(_python_snippet(s) for s in rows["Python"])
        if _ast_dump(python) is None:
            dropped[split]["python_syntax_error"] += 1
            continue
        parses[split] += 1
        splits[split].append({"id": f"cost/{pid}", "cpp": cpp, "python": python, "source": "cost"})
    if not sum(read.values()):
        raise Cpp2PyError(f"{src}: no CoST problems read")
    stats = {s: {"pairs_read": read[s], "python_parses": parses[s],
                 "python_parse_rate": round(parses[s] / max(read[s], 1), 4), "dropped": dropped[s]}
             for s in SPLITS}
    stats = _plain_stats(_finish_splits(splits, stats, out))

    todo = [r for s in bench_splits for r in splits[s]]
    outcomes: Counter = Counter()
    agree = 0
    bench = []
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # each job waits on a sandboxed process
        for rec, outcome, py_agrees in pool.map(lambda r: _bench_one(r, timeout), todo):
            outcomes[outcome] += 1
            if outcome == "ok":
                agree += py_agrees
                bench.append(_cost_item(rec))
    write_jsonl(out / "cost-stdout.jsonl", bench)
    result = {"source": str(src), "encodings": dict(encodings), "splits": stats,
              "benchmark": {"file": "cost-stdout.jsonl", "splits": list(bench_splits), "candidates": len(todo),
                            "outcomes": dict(sorted(outcomes.items())), "items": len(bench),
                            "reference_python_agrees": agree}}
    write_json(out / "stats.json", result)
    return result


# ---------------------------------------------------------------------------------------------------
# HumanEval-X
# ---------------------------------------------------------------------------------------------------


def _read_records(path: Path) -> list[dict]:
    records = list(read_jsonl(path))
    if not records:
        raise Cpp2PyError(f"{path}: empty file")
    return records


def _find_one(src: Path, pattern: str) -> Path:
    hits = sorted(src.rglob(pattern))
    if not hits:
        raise Cpp2PyError(f"{src}: no {pattern} under it (expected cpp/data/ and python/data/ of HumanEval-X)")
    return hits[0]


def _entry_point(rec: dict) -> str:
    """HumanEval-X omits entry_point: the function is the last top-level def of the prompt."""
    if rec.get("entry_point"):
        return rec["entry_point"]
    names = re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", rec["prompt"], re.M)
    if not names:
        raise Cpp2PyError(f"{rec.get('task_id')}: no function definition in the Python prompt")
    return names[-1]


def _task_number(rec: dict, path: Path) -> int:
    try:
        return int(str(rec["task_id"]).rsplit("/", 1)[1])
    except (KeyError, IndexError, ValueError):
        raise Cpp2PyError(f"{path}: record without a task_id like 'CPP/0': {str(rec)[:80]}") from None


def prepare_humaneval_x(src: str | Path, out: str | Path) -> dict:
    """HumanEval-X C++/Python -> out/humaneval-x.jsonl in the benchmark format (Python tests)."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise Cpp2PyError(f"{src}: no such directory (expected the HumanEval-X folder)")
    cpp_path = _find_one(src, "humaneval_cpp.jsonl*")
    py_path = _find_one(src, "humaneval_python.jsonl*")
    cpp = {_task_number(r, cpp_path): r for r in _read_records(cpp_path)}
    py = {_task_number(r, py_path): r for r in _read_records(py_path)}
    items = []
    for i in sorted(set(cpp) & set(py)):
        c, p = cpp[i], py[i]
        entry = _entry_point(p)
        test = p["test"]
        # Some tests already end with the call; running check() twice would only cost time.
        if not re.search(rf"^check\({re.escape(entry)}\)\s*$", test, re.M):
            test = test.rstrip("\n") + f"\n\ncheck({entry})\n"
        items.append({"id": f"humaneval-x/{i}", "cpp": c["declaration"] + c["canonical_solution"],
                      "python": p["prompt"] + p["canonical_solution"], "test": test,
                      "stdin": None, "compare_stdout": False})
    if not items:
        raise Cpp2PyError(f"{cpp_path} and {py_path}: no task ids in common")
    write_jsonl(out / "humaneval-x.jsonl", items)
    stats = {"source": str(src), "items": len(items), "cpp_only": len(set(cpp) - set(py)),
             "python_only": len(set(py) - set(cpp)), "file": "humaneval-x.jsonl"}
    write_json(out / "stats.json", stats)
    return stats
