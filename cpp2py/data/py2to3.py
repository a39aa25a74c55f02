"""Mechanical Python 2 -> Python 3 fixes for corpus Python (the LeetCode solutions are often Python 2 style).

Only rewrites whose meaning is certain are made; everything else (``/`` on ints, ``map``/``zip`` used as lists,
``cmp()``, ``.next()``) is left for the execution oracle to reject. lib2to3 would do more but is deprecated
and gone in Python 3.13, so the fixes are edits at AST positions (and, for ``print`` statements, which do not
parse as Python 3, at token positions).

* ``print x, y`` / ``print`` / ``print x,`` / ``print >>f, x``  ->  ``print(...)`` (``end=" "``, ``file=f``)
* ``xrange`` ``unichr`` ``raw_input`` ``basestring`` ``unicode`` ``sys.maxint``  ->  their Python 3 names
* ``d.iteritems()`` ``d.itervalues()`` ``d.iterkeys()``  ->  ``d.items()`` ``d.values()`` ``d.keys()``
* ``d.has_key(k)``  ->  ``(k in d)``
* ``itertools.izip/imap/ifilter/izip_longest/ifilterfalse``  ->  ``zip``/``map``/``filter``/``zip_longest``/
  ``filterfalse``
* ``reduce`` used but not defined  ->  ``from functools import reduce``
* ``sorted(x, cmp=f)`` / ``x.sort(cmp=f)``  ->  ``key=cmp_to_key(f)`` with the import
"""
from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

_NAMES = {"xrange": "range", "unichr": "chr", "raw_input": "input", "basestring": "str", "unicode": "str"}
_DICT_ITER = {"iteritems": "items", "itervalues": "values", "iterkeys": "keys"}
_ITERTOOLS = {"izip": "zip", "imap": "map", "ifilter": "filter", "izip_longest": "zip_longest",
              "ifilterfalse": "filterfalse"}
_BUILTIN_AFTER = {"zip", "map", "filter"}  # itertools names that became builtins: drop them from imports


@dataclass
class Fixed:
    code: str
    fixes: list[str] = field(default_factory=list)  # names of the fixes applied, one per kind

    @property
    def changed(self) -> bool:
        return bool(self.fixes)


def _offsets(code: str) -> list[int]:
    """Start offset of each line (1-based line numbers index it as [lineno - 1])."""
    starts, pos = [], 0
    for line in code.splitlines(keepends=True):
        starts.append(pos)
        pos += len(line)
    starts.append(pos)
    return starts


def _apply(code: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply edits from the end; one that overlaps an edit already applied is dropped (the caller's next
    pass redoes it on the edited code)."""
    limit = len(code)
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        if end > limit:
            continue
        code = code[:start] + text + code[end:]
        limit = start
    return code


def fix_print_statements(code: str) -> tuple[str, bool]:
    """Python 2 ``print`` statements -> calls; returns (code, changed). Code that does not tokenise is
    returned as is."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code, False
    starts = _offsets(code)
    pos = lambda rc: starts[rc[0] - 1] + rc[1]  # noqa: E731
    edits = []
    at_stmt_start = True
    for i, tok in enumerate(tokens):
        if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            continue
        begins = at_stmt_start
        at_stmt_start = tok.type == tokenize.NEWLINE or tok.type == tokenize.OP and (
            tok.string == ";" or tok.string == ":" and _is_block_colon(tokens, i))
        if not (begins and tok.type == tokenize.NAME and tok.string == "print"):
            continue
        j = i + 1
        # The statement's tokens: up to the NEWLINE or a `;` at bracket depth 0.
        depth, k = 0, j
        while k < len(tokens) and tokens[k].type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if tokens[k].type == tokenize.OP:
                depth += tokens[k].string in "([{"
                depth -= tokens[k].string in ")]}"
                if depth == 0 and tokens[k].string == ";":
                    break
            if tokens[k].type == tokenize.COMMENT:
                break
            k += 1
        body = tokens[j:k]
        if body and body[0].type == tokenize.OP and body[0].string in ("(", "=", "."):
            continue  # already a call (or an assignment/attribute named print)
        if not body:
            edits.append((pos(tok.end), pos(tok.end), "()"))
            continue
        text = code[pos(body[0].start):pos(body[-1].end)]
        args, extra = text, []
        if body[0].string == ">>":
            target, _, args = text[2:].partition(",")
            extra.append(f"file={target.strip()}")
        args = args.strip()
        if args.endswith(","):
            args = args[:-1].rstrip()
            extra.append('end=" "')
        call = ", ".join([a for a in (args,) if a] + extra)
        edits.append((pos(tok.start), pos(body[-1].end), f"print({call})"))
    return (_apply(code, edits), True) if edits else (code, False)


def _is_block_colon(tokens: list[tokenize.TokenInfo], i: int) -> bool:
    """A ``:`` that ends a compound statement header with a body on the same line (``if x: print y``)."""
    depth = 0
    for tok in reversed(tokens[:i]):
        if tok.type == tokenize.NEWLINE:
            break
        if tok.type == tokenize.OP:
            depth += tok.string in ")]}"
            depth -= tok.string in "([{"
        if tok.type == tokenize.NAME and tok.string == "lambda" and depth == 0:
            return False
    return depth == 0


def _import_line(tree: ast.Module, code: str, starts: list[int]) -> int:
    """Offset where a new import goes: before the first statement that is not the module docstring."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return starts[body[0].end_lineno] if len(body) == 1 else starts[body[1].lineno - 1]
    return starts[body[0].lineno - 1] if body else len(code)


def fix_python2(code: str) -> Fixed:
    """Apply the mechanical fixes; the result is returned even when it does not parse (callers check).

    Nested edits (``d.has_key(xrange(3))``) cannot be applied in one pass, so passes repeat until nothing
    changes."""
    fixes: list[str] = []
    for _ in range(4):
        step = _fix_once(code)
        if step.code == code:
            break
        code = step.code
        fixes += [f for f in step.fixes if f not in fixes]
    return Fixed(code, fixes)


def _defined_names(tree: ast.Module) -> set[str]:
    """Names the code binds itself (assignments, defs, arguments, imports): a local ``xrange`` is not renamed."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _fix_once(code: str) -> Fixed:
    """One round of fixes over ``code``'s syntax tree. One function: every fix adds edits at source offsets
    of the same parse, applied together at the end, so they must be collected in one walk."""
    fixes: list[str] = []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        code, changed = fix_print_statements(code)
        if not changed:
            return Fixed(code)
        fixes.append("print")
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return Fixed(code, fixes)
    starts = _offsets(code)
    lines = code.splitlines(keepends=True)

    def pos(line: int, col: int) -> int:  # ast columns count UTF-8 bytes, string offsets count characters
        return starts[line - 1] + len(lines[line - 1].encode("utf-8")[:col].decode("utf-8", "replace"))

    edits: list[tuple[int, int, str]] = []
    kinds: set[str] = set()
    renamed_itertools: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "itertools" \
                and any(a.name in _ITERTOOLS for a in node.names):
            kept = []
            for a in node.names:
                new = _ITERTOOLS.get(a.name, a.name)
                if a.name in _ITERTOOLS and not a.asname:
                    renamed_itertools.add(a.name)
                if new in _BUILTIN_AFTER and (not a.asname or a.asname == new):
                    continue
                kept.append(new + (f" as {a.asname}" if a.asname else ""))
            start, end = pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset)
            if kept:
                edits.append((start, end, f"from itertools import {', '.join(kept)}"))
            elif not code[starts[node.lineno - 1]:start].strip() \
                    and code[end:starts[node.end_lineno]].strip()[:1] in ("", "#"):
                edits.append((starts[node.lineno - 1], starts[node.end_lineno], ""))  # the import's own lines
            else:
                edits.append((start, end, "pass"))
            kinds.add("itertools")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "itertools" and node.attr in _ITERTOOLS:
                new = _ITERTOOLS[node.attr]
                text = new if new in _BUILTIN_AFTER else f"itertools.{new}"
                edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset), text))
                kinds.add("itertools")
            elif node.value.id == "sys" and node.attr == "maxint":
                edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset),
                              "sys.maxsize"))
                kinds.add("maxint")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            end = pos(f.end_lineno, f.end_col_offset)
            if f.attr in _DICT_ITER and not node.args and not node.keywords:
                edits.append((end - len(f.attr), end, _DICT_ITER[f.attr]))
                kinds.add("dict_iter")
            elif f.attr == "has_key" and len(node.args) == 1 and not node.keywords:
                obj = ast.get_source_segment(code, f.value)
                key = ast.get_source_segment(code, node.args[0])
                edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset),
                              f"({key} in {obj})"))
                kinds.add("has_key")
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "cmp":
                    value = ast.get_source_segment(code, kw.value)
                    edits.append((pos(kw.lineno, kw.col_offset), pos(kw.end_lineno, kw.end_col_offset),
                                  f"key=cmp_to_key({value})"))
                    kinds.add("cmp_to_key")
    defined = _defined_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or node.id in defined - renamed_itertools:
            continue
        new = _NAMES.get(node.id) or (_ITERTOOLS[node.id] if node.id in renamed_itertools else None)
        if new:
            edits.append((pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset), new))
            kinds.add("itertools" if node.id in renamed_itertools else node.id)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    imports = []
    if "reduce" in loaded and "reduce" not in defined:
        imports.append("from functools import reduce\n")
        kinds.add("reduce")
    if "cmp_to_key" in kinds and "cmp_to_key" not in defined:
        imports.append("from functools import cmp_to_key\n")
    if imports:
        at = _import_line(tree, code, starts)
        edits.append((at, at, "".join(imports)))
    return Fixed(_apply(code, edits), fixes + sorted(kinds))
