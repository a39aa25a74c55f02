"""XLCoST's tokenised lines turned back into code: literals restored, Python indented and re-spaced
(kept only when the AST is unchanged), C++ laid out by a brace/semicolon pretty printer.

The rules are documented in docs/data.md.
"""
from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize

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

    One function: a single pass over the tokens with shared state (brackets, f-string depth, lambda
    parameters, the previous token) that decides each gap.
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


def ast_dump(code: str) -> str | None:
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return None


def format_python(code: str, before: str | None = None) -> tuple[str, bool]:
    """Normal spacing for ``code`` if its AST is unchanged by it; returns (code, reformatted).
    ``before``: the code's ``ast_dump`` when the caller already has it."""
    before = before or ast_dump(code)
    if before is None:
        return code, False
    try:
        pretty = respace_python(code)
    except (tokenize.TokenError, ValueError, IndentationError, SyntaxError):
        return code, False
    if ast_dump(pretty) != before:
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

    One function: a single pass over the tokens whose layout state (level, brackets, template angles,
    glue) every rule reads and updates, so split parts would have to pass all of it back and forth.
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
