"""Mechanical fixes for what a translation model forgets, applied to every translation before it is checked.

A model that translates ``int main()`` into ``def main():`` often never calls it, uses ``sqrt`` without an
import, or stores ``self.owner`` in a class whose method is ``owner()``. Each of these is decidable from the
code alone, so it is fixed here instead of being left to chance (or to a repair round); what cannot be
fixed, such as a name defined nowhere, is reported so the caller can flag the output.
"""
from __future__ import annotations

import ast
import builtins
import difflib
import importlib
import keyword
import re
import string
from dataclasses import dataclass, field
from types import SimpleNamespace

from cpp2py import cpptree
from cpp2py.generation.cpp_output import (
    Output, Printf, char_codes, constants, descending_sorts, free_functions, initialised_locals, int_limits,
    maps_inserting_on_lookup, namespaces, read_output, strings_written_by_index, struct_fields,
)
from cpp2py.generation.cpp_source import has_main, reads_tokens, streams_output

# Where a name the model used without importing it most likely comes from, first match wins: the order puts
# the modules a C++ port needs most (``<cmath>``, ``<algorithm>``/``<numeric>``, containers) first.
_MODULES = ("math", "collections", "itertools", "functools", "heapq", "bisect", "typing", "sys", "re",
            "string", "random", "operator", "copy", "os", "time", "fractions", "decimal", "statistics", "hashlib")
_MAIN_GUARD = '\n\nif __name__ == "__main__":\n    main()\n'
_TO_NUMBER = {"ord", "int", "float", "len", "range"}
_BUILTINS = {name for name in dir(builtins) if not name.startswith("_")}
_OWN_SCOPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)
_CPP_METHODS = {"size": "len", "length": "len", "push_back": "append", "pop_back": "pop"}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)


@dataclass
class Fixed:
    python: str
    fixes: list[str] = field(default_factory=list)       # what was changed, for the record
    undefined: list[str] = field(default_factory=list)   # names still defined nowhere

    @property
    def problem(self) -> str:
        return f"undefined names: {', '.join(self.undefined)}" if self.undefined else ""


def undefined_names(code: str) -> list[str]:
    """Names used but never defined, imported or built in (pyflakes), in first-use order."""
    from pyflakes import checker, messages

    tree = ast.parse(code)
    found = checker.Checker(tree, filename="translation.py").messages
    names = [m.message_args[0] for m in found if isinstance(m, messages.UndefinedName)]
    return list(dict.fromkeys(names))


def _import_for(name: str) -> str | None:
    if name in _MODULES:
        return f"import {name}"
    for module in _MODULES:
        if not name.startswith("_") and hasattr(importlib.import_module(module), name):
            return f"from {module} import {name}"
    return None


def _exception_names(code: str) -> set[str]:
    """Names the code raises (``raise X``, ``raise X(...)``) or catches (``except X``, ``except (X, Y)``)."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        exc = node.exc if isinstance(node, ast.Raise) else node.type if isinstance(node, ast.ExceptHandler) else None
        exc = exc.func if isinstance(exc, ast.Call) else exc
        found |= {n.id for n in (exc.elts if isinstance(exc, ast.Tuple) else [exc]) if isinstance(n, ast.Name)}
    return found


def add_imports(code: str, own: frozenset[str] = frozenset()) -> tuple[str, list[str], list[str]]:
    """(code, import lines and class definitions added, names still undefined). An exception class the model
    named after the C++'s (``raise UnderflowError(...)`` for ``underflow_error``) that Python does not have is
    defined, so raising it raises it, not ``NameError``. Names in ``own`` (functions the C++ defines itself,
    such as a ``log(msg)``) are never imported: ``math.log`` would stand in for them."""
    lines, missing = [], []
    undefined = undefined_names(code)
    raised = _exception_names(code) if undefined else set()
    for name in undefined:
        line = None if name in own else \
            _import_for(name) or (f"class {name}(Exception): pass" if name in raised else None)
        (lines if line else missing).append(line or name)
    if not lines:
        return code, [], missing
    return _at_top(code, lines), lines, missing


def _at_top(code: str, lines: list[str]) -> str:
    """``code`` with ``lines`` first, after a module docstring and any ``from __future__`` import, which must stay
    first."""
    at = 0
    for node in ast.parse(code).body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if (is_doc and at == 0) or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            at = node.end_lineno
        else:
            break
    src = code.splitlines()
    return "\n".join(src[:at] + lines + src[at:]) + "\n"


def define_constants(code: str, constants: dict[str, str]) -> tuple[str, list[str]]:
    """A translation using the C++'s named constants (``MOD``, ``MAX``, an enum's ``VISITING``) without
    defining them raises ``NameError``: each such name of ``constants`` (name to Python literal, from
    :func:`cpp2py.generation.cpp_output.constants`) is defined after the module's imports, with the C++'s value.
    Returns the code and the names defined."""
    names = [name for name in undefined_names(code) if name in constants]
    if not names:
        return code, []
    lines = code.splitlines(keepends=True)
    _define(lines, ast.parse(code), None, "".join(f"{name} = {constants[name]}\n" for name in names).rstrip("\n"))
    return "".join(lines), names


def squashed(name: str) -> str:
    """A name with case and underscores ignored: ``isPrime`` and ``is_prime`` are one."""
    return name.replace("_", "").lower()


def _takes(func: ast.FunctionDef, arity: int) -> bool:
    args = func.args
    positional = len(args.posonlyargs) + len(args.args)
    return positional - len(args.defaults) <= arity <= positional or args.vararg is not None and arity >= positional


def name_cpp_functions(code: str, functions: dict[str, int]) -> tuple[str, list[str]]:
    """A caller of the ported code calls the C++'s names; a model renames a function now and then
    (``double_the_difference`` written ``the_difference``). Where the module leaves one of the C++'s free
    ``functions`` (name to parameter count) undefined, and one of its own module-level functions that the C++
    does not name takes that many arguments and is the one nearest in name (by difflib's ratio, at least 0.6),
    the C++'s name is bound to it after its definition (the model's name stays). Names that differ only in case
    and underscores (``isPrime``, ``is_prime``) are a spelling convention, left alone. Returns the code and the
    names bound."""
    tree = ast.parse(code)
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {(a.asname or a.name).split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    own = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name not in functions and n.name != "main"]
    # a C++ function named as a builtin (print, max) is no name to bind: it would hide the builtin
    missing = [name for name in functions if name not in defined | _BUILTINS and not keyword.iskeyword(name)
               and not any(squashed(f.name) == squashed(name) for f in own)]
    edits, bound, used = [], [], set()
    for name in missing:
        near = sorted(((difflib.SequenceMatcher(None, f.name, name).ratio(), f.name, f) for f in own
                       if _takes(f, functions[name]) and f.name not in used), reverse=True)
        if not near or near[0][0] < 0.6 or len(near) > 1 and near[1][0] == near[0][0]:
            continue  # no near name (helper for the_difference), or two as near
        func = near[0][2]
        used.add(func.name)
        edits.append((func.end_lineno, f"\n{name} = {func.name}"))
        bound.append(name)
    lines = code.splitlines()
    for at, line in sorted(edits, reverse=True):
        lines[at:at] = line.splitlines()
    return ("\n".join(lines) + "\n" if edits else code), bound


def iterable_structs(code: str, fields: dict[str, list[str]]) -> tuple[str, list[str]]:
    """C++'s ``for (auto& [name, score] : students)`` binds a struct's members in declaration order; a model
    writing ``for name, score in students`` over its class of that struct raises ``TypeError: cannot unpack``.
    Where the C++ binds so (``fields``: its structs' members in order, from
    :func:`cpp2py.generation.cpp_output.struct_fields`), the Python unpacks something, and its class of the same
    name sets each of those members on ``self`` and has no ``__iter__``, one is added yielding them in that
    order. Returns the code and the classes changed."""
    tree = ast.parse(code)
    unpacks = any(isinstance(t, (ast.Tuple, ast.List)) for n in ast.walk(tree)
                  for t in ([n.target] if isinstance(n, (ast.For, ast.comprehension)) else
                            n.targets if isinstance(n, ast.Assign) else []))
    if not fields or not unpacks:
        return code, []
    lines, changed = code.splitlines(), []
    for cls in sorted((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in fields),
                      key=lambda n: -n.end_lineno):
        members = {n.attr for n in ast.walk(cls) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
                   and isinstance(n.value, ast.Name) and n.value.id == "self"}
        members |= {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
        if not set(fields[cls.name]) <= members or any(
                isinstance(n, ast.FunctionDef) and n.name == "__iter__" for n in cls.body):
            continue
        pad = " " * cls.body[0].col_offset
        values = ", ".join(f"self.{f}" for f in fields[cls.name]) + ("," if len(fields[cls.name]) == 1 else "")
        lines[cls.end_lineno:cls.end_lineno] = ["", f"{pad}def __iter__(self):", f"{pad}    return iter(({values}))"]
        changed.append(cls.name)
    return ("\n".join(lines) + "\n" if changed else code), changed


def _calls_main(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "main"
               for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
               for n in ast.walk(stmt))


def has_driver(code: str) -> bool:
    """Whether a translation does anything when run: it defines ``main`` or has a module-level statement
    beyond imports, definitions and globals (an assignment counts when it calls ``input`` or something the
    module defines, as ``acct = Account(...)`` does). A C++ program whose translation has none lost its
    ``main`` (:class:`cpp2py.generation.translator.Translator` then translates ``main`` on its own)."""
    tree = ast.parse(code)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if "main" in defined:
        return True
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):  # a docstring
            continue
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and not any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in defined | {"input"}
                for n in ast.walk(stmt)):
            continue
        return True
    return False


def call_main(code: str) -> tuple[str, bool]:
    """A program whose C++ had ``main`` must run it: add the ``__main__`` guard when ``main()`` is defined
    without arguments and never called at module level."""
    tree = ast.parse(code)
    mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
    if not mains or _calls_main(tree):
        return code, False
    args = mains[-1].args
    if len(args.posonlyargs) + len(args.args) > len(args.defaults):  # main(argv) is not the C++ main()
        return code, False
    return code.rstrip() + _MAIN_GUARD, True


class _Renamer(ast.NodeTransformer):
    """``self.NAME`` that is not called becomes ``self._NAME``: the attribute a C++ member ``NAME_`` was."""

    def __init__(self, names: set[str]):
        self.names = names
        self.called: set[int] = set()

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Attribute):
            self.called.add(id(node.func))
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if (node.attr in self.names and id(node) not in self.called
                and isinstance(node.value, ast.Name) and node.value.id == "self"):
            node.attr = "_" + node.attr
        return node


def _shadowed(cls: ast.ClassDef) -> set[str]:
    methods = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    stored = {t.attr for n in ast.walk(cls) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
              for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
              if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
    used = {n.attr for n in ast.walk(cls) if isinstance(n, ast.Attribute)}
    # Renaming onto a name the class already uses would merge two members.
    return {m for m in methods & stored if "_" + m not in used}


def unshadow_methods(code: str) -> tuple[str, list[str]]:
    """In each class, an instance attribute stored under a method's name hides the method (``acct.owner()``
    then calls a string); rename the attribute. Returns the code (re-emitted by ``ast.unparse`` only when
    something changed, so comments survive otherwise) and the ``Class.name`` pairs renamed."""
    tree = ast.parse(code)
    renamed = []
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        names = _shadowed(cls)
        if names:
            _Renamer(names).visit(cls)
            renamed += [f"{cls.name}.{n}" for n in sorted(names)]
    return (ast.unparse(tree) + "\n", renamed) if renamed else (code, [])


def _scope_names(func: ast.FunctionDef) -> dict[str, list[ast.AST]]:
    """Each name the function binds (parameters, assignment and loop targets), with every node that spells it
    as that variable: not the callee of a call, which is where a builtin of the same name is meant."""
    callees = {id(n.func) for n in ast.walk(func) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    params = [a for a in ast.walk(func.args) if isinstance(a, ast.arg)]
    bound = {a.arg for a in params} | {n.id for n in ast.walk(func) if isinstance(n, ast.Name)
                                       and isinstance(n.ctx, ast.Store)}
    spelled: dict[str, list[ast.AST]] = {name: [] for name in bound}
    for a in params:
        spelled[a.arg].append(a)
    for n in ast.walk(func):
        if isinstance(n, ast.Name) and n.id in spelled and id(n) not in callees:
            spelled[n.id].append(n)
    return spelled


def unshadow_builtins(code: str) -> tuple[str, list[str]]:
    """A C++ variable named like a Python builtin (``int max = 0;``, ``string str;``) hides that builtin in the
    translation, which then calls it (``max = max(max, x)``: ``UnboundLocalError``; ``str + str(n)``: ``'str'
    object is not callable``). Where a function binds such a name and also calls it, the variable becomes
    ``NAME_``. Returns the code (edited in place) and the names renamed, as ``function.name``."""
    tree = ast.parse(code)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    edits: dict[int, tuple[ast.AST, str]] = {}  # by node: a nested function's names are its outer one's too
    renamed = []
    for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        called = {n.func.id for n in ast.walk(func) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        shared = {name for n in ast.walk(func) if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names}
        for name, nodes in _scope_names(func).items():
            if name in called and name in _BUILTINS and name not in shared and name + "_" not in used:
                edits.update({id(n): (n, name + "_") for n in nodes})
                renamed.append(f"{func.name}.{name}")
    lines = code.splitlines(keepends=True)
    for node, text in sorted(edits.values(), key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        start = (node.lineno, node.col_offset)
        _splice(lines, start, (node.lineno, node.col_offset + len(text) - 1), text)
    return "".join(lines), renamed


def unqualify_namespaces(code: str, spaces: set[str]) -> tuple[str, int]:
    """A model keeps a C++ namespace in the Python (``strings.manacher.manacher(s)`` for
    ``strings::manacher::manacher(s)``, ``tests.test1()``), where a Python module has one namespace: an
    attribute chain rooted at a name the module never binds, whose leading parts are the C++'s namespaces
    ``spaces``, loses those parts (what is left is the module's own function, or one it lost, which the
    translator then translates). Returns the code (edited in place) and how many references changed."""
    tree = ast.parse(code)
    bound = _bound_names(tree)
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        parts, root = [node.attr], node.value
        while isinstance(root, ast.Attribute):
            parts.append(root.attr)
            root = root.value
        if not isinstance(root, ast.Name) or root.id not in spaces - bound:
            continue
        names = [root.id] + parts[::-1]
        keep = next(i for i in range(1, len(names)) if names[i] not in spaces or i == len(names) - 1)
        edits.append((node, ".".join(names[keep:])))
    edits = [e for e in edits if e[0] in _outermost([n for n, _ in edits])]
    return (_edited(code, edits) if edits else code), len(edits)


def unshadow_builtin_functions(code: str) -> tuple[str, list[str]]:
    """A C++ function named like a Python builtin (``void print(int a[], int n)``) becomes a module-level def that
    hides the builtin it calls for its own output (``print(a[i], end=" ")`` then recurses into itself or fails).
    Where the module also calls that name in a way the def cannot take (a keyword it lacks, another number of
    arguments), the def and the calls it can take become ``NAME_``; the other calls stay the builtin's. Returns
    the code (edited in place) and the functions renamed."""
    tree = ast.parse(code)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    edits, renamed = [], []
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef) or func.name not in _BUILTINS or func.name + "_" in used:
            continue
        params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs}
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                 and n.func.id == func.name]
        own = [c for c in calls if not any(isinstance(a, ast.Starred) for a in c.args) and _takes(func, len(c.args))
               and all(k.arg in params or func.args.kwarg is not None for k in c.keywords)]
        if len(own) == len(calls):
            continue  # every call is the def's own: nothing asks for the builtin
        line = code.splitlines()[func.lineno - 1]
        at = func.col_offset + re.match(r"(?:async\s+)?def\s+", line[func.col_offset:]).end()
        name = SimpleNamespace(lineno=func.lineno, col_offset=at, end_lineno=func.lineno,
                               end_col_offset=at + len(func.name))
        edits += [(name, func.name + "_")] + [(c.func, func.name + "_") for c in own]
        renamed.append(func.name)
    return (_edited(code, edits) if edits else code), renamed


def cpp_container_calls(code: str) -> tuple[str, int]:
    """C++ container calls a translation left in: ``v.size()``/``s.length()`` become ``len(v)``,
    ``v.push_back(x)`` ``v.append(x)``, ``v.pop_back()`` ``v.pop()``; no Python built-in type has these methods.
    A method of that name defined by a class of the module leaves its calls alone. Returns the code (edited in
    place) and how many calls changed."""
    total = 0
    while True:  # the outermost of nested calls first (v.push_back(w.size())), then what it held
        tree = ast.parse(code)
        defined = {f.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body
                   if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in _CPP_METHODS and n.func.attr not in defined and not n.keywords
                 and len(n.args) == (n.func.attr == "push_back")]
        outer = _outermost(calls)
        if not outer:
            return code, total
        edits = []
        for call in outer:
            obj, method = ast.get_source_segment(code, call.func.value), call.func.attr
            args = ", ".join(ast.get_source_segment(code, a) for a in call.args)
            edits.append((call, f"len({obj})" if method in ("size", "length")
                          else f"{obj}.{_CPP_METHODS[method]}({args})"))
        code, total = _edited(code, edits), total + len(outer)


def _sort_key(call: ast.Call) -> str | None:
    """What a ``sort``/``sorted`` call compares: "" for the elements, "f" for ``key=lambda x: x.f`` or
    ``x["f"]``; None for any other key."""
    key = next((k.value for k in call.keywords if k.arg == "key"), None)
    if key is None:
        return ""
    if not isinstance(key, ast.Lambda) or len(key.args.args) != 1:
        return None
    arg, body = key.args.args[0].arg, key.body
    if isinstance(body, ast.Attribute) and isinstance(body.value, ast.Name) and body.value.id == arg:
        return body.attr
    if isinstance(body, ast.Subscript) and isinstance(body.value, ast.Name) and body.value.id == arg \
            and isinstance(body.slice, ast.Constant) and isinstance(body.slice.value, str):
        return body.slice.value
    return None


def descending_sorts_kept(code: str, sorts: dict[str, str]) -> tuple[str, list[str]]:
    """``sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name > b.name; })`` sorts descending; a model
    writing ``v.sort(key=lambda s: s.name)`` sorts ascending. Where the C++ sorts a variable whole and only
    descending (``sorts``, from :func:`cpp2py.generation.cpp_output.descending_sorts`: the member compared,
    "" for the elements) and the Python sorts the same name by the same member with no ``reverse``,
    ``reverse=True`` is added. A module that reverses anything (``reverse``, ``reversed``, a negative step) or
    negates a key is left alone: the descending order may be made another way there. Returns the code and the
    variables changed."""
    tree = ast.parse(code)
    if not sorts or any(isinstance(n, ast.Name) and n.id == "reversed" or isinstance(n, ast.Attribute)
                        and n.attr == "reverse" or isinstance(n, ast.keyword) and n.arg == "reverse"
                        or isinstance(n, ast.Slice) and n.step is not None for n in ast.walk(tree)):
        return code, []
    edits, changed = [], []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "sort" and isinstance(func.value, ast.Name):
            name = func.value.id
        elif isinstance(func, ast.Name) and func.id == "sorted" and call.args and isinstance(call.args[0], ast.Name):
            name = call.args[0].id
        else:
            continue
        if name in sorts and _sort_key(call) == sorts[name]:
            call.keywords.append(ast.keyword("reverse", ast.Constant(True)))
            edits.append((call, ast.unparse(call)))
            changed.append(name)
    return (_edited(code, edits) if edits else code), changed


def _splice(lines: list[str], start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    """Replace the code from ``start`` to ``end`` (line, column) with ``text``. ``lines`` are the code's lines,
    with their ends; positions are as ``ast`` gives them (1-based lines, UTF-8 byte columns), so edits made
    from the end of the code backwards keep the positions of the rest valid."""
    first, last = lines[start[0] - 1].encode(), lines[end[0] - 1].encode()
    lines[start[0] - 1:end[0]] = [(first[:start[1]] + text.encode() + last[end[1]:]).decode()]


def _span(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    return (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)


def _edited(code: str, edits: list[tuple[ast.AST, str]]) -> str:
    """``code`` with each node's span replaced by its text; the spans must not overlap."""
    lines = code.splitlines(keepends=True)
    for node, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        _splice(lines, *_span(node), text)
    return "".join(lines)


def _outermost(nodes: list[ast.AST]) -> list[ast.AST]:
    """The nodes not inside another of them (each once): edits spliced at their spans then never overlap."""
    spans = {_span(n): n for n in nodes}
    return [n for k, n in spans.items() if not any(o != k and o[0] <= k[0] and k[1] <= o[1] for o in spans)]


def _spaced_literal(arg: ast.expr) -> bool:
    return isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value != arg.value.strip(" ")


def concatenate_prints(code: str) -> tuple[str, int]:
    """``cout << k << ": " << v`` prints ``k: v``; a model transcribing it as ``print(k, ": ", v)`` keeps the
    literal's own spaces and gets print's separators too (``k :  v``). A literal argument that starts or ends
    with a space is that sign: such a call gets ``sep=""``, so it prints the pieces as the stream did. Only
    called when the C++ writes to a stream; calls with a ``sep`` or ``*args`` are left alone. Returns the code
    (edited in place, so comments survive) and how many calls changed."""
    tree = ast.parse(code)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == "print" and len(n.args) >= 2 and not any(k.arg in ("sep", None) for k in n.keywords)
             and not any(isinstance(a, ast.Starred) for a in n.args) and any(map(_spaced_literal, n.args))]
    lines = code.splitlines(keepends=True)
    for call in sorted(calls, key=lambda n: (n.end_lineno, n.end_col_offset), reverse=True):
        close = call.end_col_offset - 1  # the ")"
        head = lines[call.end_lineno - 1].encode()[:close].rstrip()
        _splice(lines, (call.end_lineno, len(head)), (call.end_lineno, close),
                (" " if head.endswith(b",") else ", ") + 'sep=""')
    edited = "".join(lines)
    try:
        ast.parse(edited)
    except SyntaxError:  # a call this cannot edit in place (e.g. a backslash continuation): leave it all
        return code, 0
    return edited, len(calls)


_TOKEN_READER = '''

def _cin():
    """The next whitespace-separated token of stdin, as C++'s ``cin >>`` reads it (cpp2py)."""
    while not _cin.tokens:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        _cin.tokens = line.split()[::-1]
    return _cin.tokens.pop()


_cin.tokens = []
'''


def read_tokens(code: str) -> tuple[str, int]:
    """``cin >> a >> b`` reads tokens wherever the line breaks fall; a model writing ``int(input())`` (or
    ``float(sys.stdin.readline())``) per value reads a line each, and fails on ``3 4`` given on one line. Every
    bare ``input()`` and ``sys.stdin.readline()`` becomes ``_cin()``, the next token, defined at the end of the
    imports. Only when every stdin read is one of those: a line split by ``.split()``, a prompt or any other use
    of ``sys.stdin`` means the model chose its own reading, left alone. Only called when the C++ reads with
    ``cin >>`` alone. Returns the code and how many calls changed."""
    tree = ast.parse(code)
    nodes = list(ast.walk(tree))
    split_lines = {id(n.value) for n in nodes if isinstance(n, ast.Attribute) and n.attr == "split"}
    calls = [n for n in nodes if isinstance(n, ast.Call) and (
        isinstance(n.func, ast.Name) and n.func.id == "input" or _stdin_readline(n.func))]
    readlines = {id(n.func.value) for n in calls if _stdin_readline(n.func)}
    own_reading = any(n.args or n.keywords or id(n) in split_lines for n in calls) or any(
        isinstance(n, ast.Attribute) and n.attr == "stdin" and id(n) not in readlines for n in nodes)
    if not calls or own_reading or any(isinstance(n, ast.Name) and n.id == "_cin" for n in nodes):
        return code, 0
    lines = _edited(code, [(call, "_cin()") for call in calls]).splitlines(keepends=True)  # no args
    _define(lines, tree, "sys", _TOKEN_READER)  # the calls' edits left the line numbers as they were
    return "".join(lines), len(calls)


def _stdin_readline(func: ast.expr) -> bool:
    """``func`` is ``sys.stdin.readline``."""
    return isinstance(func, ast.Attribute) and func.attr == "readline" and isinstance(func.value, ast.Attribute) \
        and func.value.attr == "stdin" and isinstance(func.value.value, ast.Name) and func.value.value.id == "sys"


def _define(lines: list[str], tree: ast.Module, module: str | None, definition: str) -> None:
    """Insert ``definition``, which uses ``module`` (if any), after the top-level imports of ``tree`` (whose line
    numbers ``lines`` must still have), importing ``module`` when it is not imported yet."""
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    at = max((n.end_lineno for n in imports), default=0)
    if module and not any(isinstance(n, ast.Import) and any(a.name == module and not a.asname for a in n.names)
                          for n in imports):
        lines.insert(at, f"import {module}\n")
        at += 1
    lines.insert(at, definition + "\n")


_PRINT = '''

def print(*values, **options):
    """print as the C++ wrote with <<: {what} (cpp2py)."""
    builtins.print(*({convert} for v in values), **options)
'''
_BOOLS = {"number": ("a bool as 1 or 0", "int(v) if isinstance(v, bool) else "),
          "word": ("a bool as true or false", "str(v).lower() if isinstance(v, bool) else ")}


def format_prints(code: str, bools: str | None, doubles: str | None) -> tuple[str, bool]:
    """``cout << b`` writes a bool as ``1`` (``true`` after ``boolalpha``) and ``cout << x`` a double as
    ``%g`` does (``3``, ``0.3``, ``1e+06``; ``%.2f`` after ``fixed << setprecision(2)``), where print writes
    ``True`` and ``3.0``, ``0.30000000000000004``. Defines a ``print`` that writes bools and floats as the
    C++ did (``bools``: "number" or "word", ``doubles``: a %-format, either None to leave them alone), after
    the imports; the calls stay as the model wrote them. Only called with what the C++ writes that way
    throughout; left alone when the code defines or assigns ``print`` itself or never calls it. Returns the
    code and whether it changed."""
    tree = ast.parse(code)
    nodes = list(ast.walk(tree))
    own = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == "print"
              or isinstance(n, ast.Name) and n.id == "print" and not isinstance(n.ctx, ast.Load)
              or isinstance(n, ast.alias) and (n.asname or n.name) == "print" for n in nodes)
    calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print" for n in nodes)
    if own or not calls or not (bools or doubles):
        return code, False
    what, convert = [], ""
    if bools:
        what.append(_BOOLS[bools][0])
        convert += _BOOLS[bools][1]
    if doubles:
        what.append(f"a double as {doubles} writes it")
        convert += f'"{doubles}" % v if isinstance(v, float) else '
    lines = code.splitlines(keepends=True)
    _define(lines, tree, "builtins", _PRINT.format(what=", ".join(what), convert=convert + "v"))
    return "".join(lines), True


def _is_text(node: ast.expr) -> bool:
    """Whether ``node`` is a string built for printing: a literal, an f-string, ``str(x)``, ``"...".format()``,
    ``"..." % x`` or a concatenation with one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.Add) and (_is_text(node.left) or _is_text(node.right)) or \
            isinstance(node.op, ast.Mod) and _is_text(node.left)
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "str" or \
            isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join")
    return isinstance(node, ast.JoinedStr)


def _format_fields(node: ast.expr) -> list[tuple[str, ast.expr | None]] | None:
    """``"max={0:.2f}|".format(m)`` as its pieces, like an f-string's: [("max=", m), ("|", None)]; None for any
    other node, or a template with named or attribute fields, conversions or nested fields."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)
            and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)):
        return None
    pieces, auto = [], 0
    try:
        parsed = list(string.Formatter().parse(node.func.value.value))
    except ValueError:
        return None
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if conversion or "{" in (spec or "") or not (name == "" or name.isdigit()):
            return None
        index = auto if name == "" else int(name)
        auto += name == ""
        if index >= len(node.args):
            return None
        pieces.append((literal, node.args[index]))
    return pieces


_PERCENT_FIELD = re.compile(r"%(?:%|[#0 +-]*\d*(?:\.\d*)?[hlL]?([diouxXeEfFgGcs]))|%")


def _percent_fields(node: ast.expr) -> list[tuple[str, ast.expr | None]] | None:
    """``"max=%8.2f|" % m`` as its pieces, like :func:`_format_fields`: [("max=", m), ("|", None)]; None for any
    other node, or a template with named fields, ``*`` widths, ``%r`` or a field count the values do not fill."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)):
        return None
    template = node.left.value
    given = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
    if any(isinstance(v, ast.Starred) for v in given):
        return None
    pieces, literal, at = [], "", 0
    for m in _PERCENT_FIELD.finditer(template):
        literal += template[at:m.start()]
        at = m.end()
        if m.group() == "%%":
            literal += "%"
        elif m.group(1) is None or len(pieces) == len(given):
            return None
        else:
            pieces.append((literal, given[len(pieces)]))
            literal = ""
    if len(pieces) != len(given) or (len(given) == 1 and not isinstance(node.right, ast.Tuple)
                                     and isinstance(node.right, (ast.List, ast.Dict))):
        return None
    return pieces + [(literal + template[at:], None)]


def _model_format(node: ast.expr) -> list[tuple[str, ast.expr | None]] | None:
    """A format the model wrote, ``"{:.2f}".format(m)`` or ``"%.2f" % m``, as its pieces; None for any other node."""
    fields = _format_fields(node)
    return fields if fields is not None else _percent_fields(node)


def _printed(args: list[ast.expr], sep: str = " ") -> tuple[list[str], list[ast.expr]]:
    """print's arguments as the text around the values they show, with the ``sep`` print puts between them:
    ``"n =", n`` and ``f"n = {n}"`` and ``"n = " + str(n)`` and ``"n = %d" % n`` are all (["n = ", ""], [n])."""
    text, values = [""], []

    def add(node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text[-1] += node.value
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                add(part.value if isinstance(part, ast.FormattedValue) else part)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _is_text(node):
            add(node.left)
            add(node.right)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" \
                and len(node.args) == 1 and not node.keywords:
            add(node.args[0])
        elif (fields := _model_format(node)) is not None:
            for literal, value in fields:
                text[-1] += literal
                if value is not None:
                    add(value)
        else:
            values.append(node)
            text.append("")

    for k, arg in enumerate(args):
        text[-1] += sep * bool(k)
        add(arg)
    return text, values


def _bare(text: str) -> str:
    return "".join(text.split())


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text))


def _unformatted(arg: ast.expr) -> ast.expr:
    """``format(m, ".3f")`` as ``m``: a value the model formatted itself, which a printf format it transcribes
    then formats instead (f-strings and ``"{:.3f}".format(m)`` are read so by :func:`_printed` already)."""
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "format" \
            and not arg.keywords and len(arg.args) == 2 and isinstance(arg.args[1], ast.Constant):
        return arg.args[0]
    return arg


def _as_printf(code: str, call: ast.Call, formats: list[Printf]) -> str | None:
    """The code of the print ``call`` (in ``code``) rewritten to write with the one printf format it transcribes,
    or None.

    It transcribes a format when it shows the same values with the same text around them, spaces aside (the
    model's ``print("mean =", m)`` for ``printf("mean=%.3f\n", m)``), some of it not spaces, or failing that
    the same words with punctuation dropped (``print("max =", m)`` for ``printf("max=%8.2f|\n", m)``), of one
    format only; numbers must not be shown as strings already. A print that writes what the format writes
    already (``print("n=" + str(n))`` for ``printf("n=%d\n", n)``) stays as it is. The line break print ends
    with stays: the format loses the ``end`` it ends with, or keeps all when it has no line break at all (the
    model's break is then its own choice)."""
    end = next((k.value for k in call.keywords if k.arg == "end"), ast.Constant("\n"))
    if any(k.arg != "end" for k in call.keywords) or not isinstance(end, ast.Constant) \
            or not isinstance(end.value, str) or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    text, values = _printed([_unformatted(a) for a in call.args])
    if not values or not _bare("".join(text)):
        return None
    fits = [f for f in formats if len(f.types) == len(values)
            and not any(t not in "cs" and _is_text(v) for t, v in zip(f.types, values))]
    found = {f for f in fits if list(map(_bare, f.text)) == list(map(_bare, text))}
    if not found and _words("".join(text)):
        # the same words around the same values, punctuation dropped (print("max =", m) for "max=%8.2f|\n")
        found = {f for f in fits if list(map(_words, f.text)) == list(map(_words, text))}
    if len(found) != 1:
        return None
    printf = found.pop()
    fmt, as_str = printf.format, printf.as_str
    if fmt.endswith(end.value):
        fmt, as_str = fmt[:len(fmt) - len(end.value)], as_str and as_str[:len(as_str) - len(end.value)]
    elif end.value != "\n" or "\n" in fmt:
        return None
    if "%s".join(t.replace("%", "%%") for t in text) == as_str:  # it writes just that already
        return None
    shown = [ast.unparse(v) for v in values]
    if len(values) > 1:
        args = f"({', '.join(shown)})"
    else:
        atom = isinstance(values[0], (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.Constant))
        args = shown[0] if atom else f"({shown[0]})"
    quoted = repr(fmt) if '"' in fmt else '"' + repr(fmt)[1:-1].replace("\\'", "'") + '"'
    keywords = "".join(f", {ast.get_source_segment(code, k)}" for k in call.keywords)
    return f"print({quoted} % {args}{keywords})"


def _as_stream(code: str, call: ast.Call, streams: list[tuple[str, ...]]) -> str | None:
    """The code of the print ``call`` rewritten to write the text of the one ``cout <<`` chain it transcribes,
    or None: same values, same text around them but for spaces, the same line breaks (the model's
    ``print("in", n, "! is", c)`` for ``cout << "in " << n << "! is " << c << endl``), and not that text
    already. The pieces are then the chain's own, with ``sep=""``, and ``end`` what the chain ends with.
    One line break may differ: a chain that ends its line with nothing else (``<< "\n"``, ``<< endl``) where
    the print ends with other text (``end=", "``) must end the line, or the C++'s next line joins this one."""
    keywords = {k.arg: k.value for k in call.keywords}
    end, sep = keywords.get("end", ast.Constant("\n")), keywords.get("sep", ast.Constant(" "))
    if set(keywords) - {"end", "sep"} or not all(isinstance(k, ast.Constant) and isinstance(k.value, str)
                                                  for k in (end, sep)) \
            or any(isinstance(a, ast.Starred) for a in call.args) \
            or any(isinstance(v, ast.FormattedValue) and (v.format_spec or v.conversion != -1)
                   or _model_format(v) is not None for a in call.args for v in ast.walk(a)):
        return None  # a format the model wrote (f"{x:.2f}", "{:.2f}".format(x), "%.2f" % x) would be lost
    text, values = _printed(call.args, sep.value)
    if not values:  # a literal alone: where its line ends is the model's choice, as with printf
        return None
    if any(isinstance(n, ast.Constant) and isinstance(n.value, str) for v in values for n in ast.walk(v)):
        return None  # "{} ".format(x), " " * k: values that write text of their own
    written = (*text[:-1], text[-1] + end.value)

    def same(t: tuple[str, ...], ending_line: bool) -> bool:
        # same text but for spaces, and the same line breaks: where lines end stays the model's choice,
        # but for a line the chain ends with nothing else (ending_line: the last piece is compared so)
        k = len(t) - ending_line
        return len(t) == len(written) and list(map(_bare, t[:k])) == list(map(_bare, written[:k])) \
            and [p.count("\n") for p in t[:k]] == [w.count("\n") for w in written[:k]] \
            and (not ending_line or _bare(text[-1]) == "" and t[-1].endswith("\n") and not t[-1].strip())

    found = {t for t in streams if same(t, False)}
    if not found and "\n" not in end.value and end.value.strip():  # a chain matching as it is wins
        found = {t for t in streams if same(t, True)}
    if not found and end.value == "\n":
        # a chain that starts its line where the print ends it: ("\nindex ", "") for print("index", i), its one
        # line break moved to the front (cout << "\nindex " << i, the program's last output, or each of its
        # outputs written so); the C++'s own text is what the program prints
        found = {t for t in streams if len(t) > 1 and t[0].startswith("\n") and sum(p.count("\n") for p in t) == 1
                 and same((t[0][1:], *t[1:-1], t[-1] + "\n"), False)}
    if len(found) != 1:
        return None
    pieces = found.pop()
    if pieces == written:
        return None
    return _chain_print(pieces, [_source(code, v) for v in values])


def _source(code: str, node: ast.expr) -> str:
    return ast.get_source_segment(code, node) or ast.unparse(node)


def _chain_print(pieces: tuple[str, ...], values: list[str]) -> str:
    """A print call writing a ``<<`` chain's text ``pieces`` around the Python ``values``, as the chain does."""
    last = pieces[-1]
    tail, end_text = (last[:-1], "\n") if last.endswith("\n") else ("", last)
    args = []
    for piece, value in zip(pieces, values):
        args += [repr(piece)] * bool(piece) + [value]
    args += [repr(tail)] * bool(tail)
    ending = "" if end_text == "\n" else f", end={end_text!r}"
    return f"print({', '.join(args)}, sep=\"\"{ending})"


def _bound_names(tree: ast.Module) -> set[str]:
    """Every name the module binds anywhere (assignments, definitions, parameters, imports), and the builtins."""
    names = set(dir(builtins))
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
    return names


def _with_dropped_values(code: str, call: ast.Call, chains, bound: set[str]) -> str | None:
    """The print ``call`` completed with the values it dropped from the end of the one ``<<`` chain it starts
    to transcribe, or None. It must be a plain print (no sep/end) whose values are the chain's first ones,
    spelled as :func:`cpp_output.python_expression` spells them (``chains``: each chain's text, its values'
    Python and their dumped trees), with the same text around them but for spaces and none after; every value
    it drops must have such a spelling, naming only what the module binds."""
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    text, values = _printed(call.args)
    k = len(values)
    if not values or _bare(text[-1]):
        return None
    mine = [ast.dump(v) for v in values]
    found = [(pieces, exprs) for pieces, exprs, trees, dumps in chains
             if len(exprs) > k and dumps[:k] == mine and list(map(_bare, pieces[:k])) == list(map(_bare, text[:k]))
             and all(n.id in bound for e in trees[k:] for n in ast.walk(e) if isinstance(n, ast.Name))]
    if len(found) != 1:
        return None
    pieces, exprs = found[0]
    return _chain_print(pieces, [_source(code, v) for v in values] + list(exprs[k:]))


def restore_dropped_values(code: str, chains) -> tuple[str, int]:
    """``cout << largest(vector<int>{3, 9, 2}) << " " << largest(vector<string>{"kiwi", "pear"}) << endl`` once
    came back as ``print(largest([3, 9, 2]))``: the model dropped the chain's last values. Such a print is
    completed from the chain (``chains``: :attr:`cpp_output.Output.stream_values`) where :func:`_with_dropped_values`
    finds the one chain it transcribes. Returns the code and how many calls changed."""
    bound = _bound_names(ast.parse(code))
    spelled = []  # chains whose every value has a Python spelling, parsed once for all the module's prints
    for pieces, exprs in chains:
        if None not in exprs:
            trees = [ast.parse(e, mode="eval").body for e in exprs]
            spelled.append((pieces, exprs, trees, [ast.dump(t) for t in trees]))
    return _rewrite_prints(code, lambda call: _with_dropped_values(code, call, spelled, bound))


def transcribe_streams(code: str, streams: list[tuple[str, ...]]) -> tuple[str, int]:
    """``cout << "in " << n << "! is " << c`` writes ``in 100! is 24``; a model writing ``print("in", n, "! is",
    c)`` writes ``in 100 ! is 24``. Each print call that transcribes one of the C++'s ``<<`` chains (see
    :func:`_as_stream`) is rewritten to write the chain's own text. Returns the code and how many calls changed."""
    return _rewrite_prints(code, lambda call: _as_stream(code, call, streams))


def transcribe_printf(code: str, formats: list[Printf]) -> tuple[str, int]:
    """``printf("mean=%.3f\n", m)`` writes ``mean=4.100``; a model writing ``print("mean =", m)`` loses the
    precision (``4.1``) and adds spaces. Each print call that transcribes one of the C++'s printf ``formats``
    (see :func:`_as_printf`) is rewritten to write with that format. Returns the code and how many calls
    changed."""
    return _rewrite_prints(code, lambda call: _as_printf(code, call, formats))


def _rewrite_prints(code: str, rewrite) -> tuple[str, int]:
    """Each print call replaced by ``rewrite(call)`` where that is not None; the code and how many changed."""
    tree = ast.parse(code)
    calls = [(n, rewrite(n)) for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == "print"]
    # a print already written as the rewrite would write it (print("n=%d" % n)) is no change
    calls = [(n, new) for n, new in calls if new is not None
             and ast.dump(ast.parse(new, mode="eval").body) != ast.dump(n)]
    return _edited(code, calls), len(calls)


def _numeric(value: ast.expr) -> bool:
    """A value the Python computed as a number (or numbers): a number literal, or anything built with ``ord``,
    ``int``, ``float``, ``len`` or ``range``."""
    if isinstance(value, ast.Constant):
        return type(value.value) in (int, float)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _TO_NUMBER:
        return True
    if isinstance(value, ast.Subscript):  # c = s[len(s) - 1]: an element, a char where the C++ has one
        return False
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "chr":
        return False  # a char again, whatever numbers built it
    return any(_numeric(child) for child in ast.iter_child_nodes(value))


def _assigned_numbers(tree: ast.Module) -> set[str]:
    """Names the Python itself ever binds to a number: ``w = ord(s[i])``, ``w = 0``, ``codes = [ord(c) for c
    in s]``, ``for i in range(26)``. Their uses already are numbers and must not get ``ord()``."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            value, targets = node.value, node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, (ast.For, ast.comprehension)):  # for i in range(26): C++'s char i = 'a'
            value, targets = node.iter, [node.target]
        else:
            continue
        if _numeric(value):
            out |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    return out


def _char_operand(node: ast.expr, chars: dict[str, int], numbers: set[str]) -> bool:
    depth = 0
    while isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        node, depth = node.value, depth + 1
    return isinstance(node, ast.Name) and chars.get(node.id) == depth and node.id not in numbers


def _number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _one_char(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) == 1


def _shift(node: ast.stmt, name: str) -> tuple[str, int] | None:
    """(operator, k) of ``name = name + k``, ``name = name - k`` or ``name += k`` (k an int literal), else None."""
    if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)) and _number(node.value):
        return ("+" if isinstance(node.op, ast.Add) else "-"), node.value.value
    value = node.value if isinstance(node, ast.Assign) else None
    if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub)) and isinstance(value.left, ast.Name) \
            and value.left.id == name and _number(value.right):
        return ("+" if isinstance(value.op, ast.Add) else "-"), value.right.value
    return None


def _binds_a_char(node: ast.AST) -> bool:
    """``w = s[i]``, ``w = "a"``, ``for w in s``: a binding to a char, where ``s`` holds chars."""
    if isinstance(node, ast.Assign):
        value = node.value
        return isinstance(value, ast.Subscript) and not isinstance(value.slice, ast.Slice) or _one_char(value)
    return isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.iter, (ast.Name, ast.Attribute,
                                                                                       ast.Subscript))


def shifted_chars(code: str, chars: dict[str, int]) -> tuple[str, list[str]]:
    """C++'s ``char w = s[i]; if (w >= 97) w = w - 32; out = out + w;`` shifts a char's code and keeps a char.
    A model keeping ``w = s[i]`` and ``w = w - 32`` subtracts an int from a str. Where a name the C++ declares
    a char (``chars`` at no subscript, from :func:`cpp2py.generation.cpp_output.char_codes`) is bound in the
    Python only to chars (an element ``s[i]``, a one-char literal, a loop over a string) and by such shifts,
    each shift becomes ``w = chr(ord(w) - 32)``; its comparisons with numbers then get ``ord()`` from
    :func:`char_codes_as_numbers`. Returns the code (edited in place) and the names changed."""
    tree = ast.parse(code)
    binds: dict[str, list] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension, ast.NamedExpr)):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for n in ast.walk(target):
                if isinstance(n, ast.Name):
                    binds.setdefault(n.id, []).append(node if target is n else None)  # None: unpacked
    edits, changed = [], []
    for name, nodes in binds.items():
        if chars.get(name) != 0:
            continue
        shifts = [(n, _shift(n, name)) for n in nodes if n is not None and _shift(n, name)]
        sources = [n for n in nodes if n is not None and _binds_a_char(n)]
        if not shifts or not sources or len(shifts) + len(sources) != len(nodes):
            continue
        edits += [(n, f"{name} = chr(ord({name}) {op} {k})") for n, (op, k) in shifts]
        changed.append(name)
    return _edited(code, edits), changed


def char_codes_as_numbers(code: str, chars: dict[str, int]) -> tuple[str, int]:
    """A C++ char is a number: ``s[i] >= 65`` and ``s[i] - 48`` compare and add its code, and ``c - 'a'`` is the
    distance between two codes. A Python str is not (``TypeError``), so where the C++ uses these names' chars
    so (``chars``: each name with the subscripts that reach a char, from
    :func:`cpp2py.generation.cpp_output.char_codes`) and the translation kept the char, the char gets ``ord()``:
    in a comparison or arithmetic with an int literal (``s[i] % 2`` is string formatting in Python), and both
    sides of a char minus a one-char literal.
    Names the Python binds to numbers itself are left alone. Returns the code (edited in place) and how many
    operands changed."""
    tree = ast.parse(code)
    numbers = _assigned_numbers(tree)
    is_char = lambda n: _char_operand(n, chars, numbers)  # noqa: E731
    wrap: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if all(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops) and any(map(_number, sides)):
                wrap += [s for s in sides if is_char(s)]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
            sides = [node.left, node.right]
            if any(map(_number, sides)):
                wrap += [s for s in sides if is_char(s)]
            elif isinstance(node.op, ast.Sub) and any(map(is_char, sides)) \
                    and all(is_char(s) or _one_char(s) for s in sides):
                wrap += sides
    # a char inside another wrapped char (s[s[i] - 48] > 5) keeps the outer one only: splices must not overlap
    outer = _outermost(wrap)
    return _edited(code, [(n, f"ord({ast.get_source_segment(code, n)})") for n in outer]), len(outer)


def _map_name(target: ast.expr) -> str | None:
    """``cnt`` for ``cnt = {}``, ``g_``/``g`` for ``self.g_ = {}``/``self.g = {}`` (a C++ member ``g_`` often
    loses its underscore)."""
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return target.attr
    return None


def default_dicts(code: str, maps: dict[str, str]) -> tuple[str, int]:
    """C++'s ``m[k]`` inserts a default value for a missing key (``cnt[w]++`` counts from 0); a Python dict
    raises ``KeyError``. Where the C++ indexes a map this way (``maps``: its name and the factory of its value
    type, from :func:`cpp2py.generation.cpp_output.maps_inserting_on_lookup`) and the translation starts the
    same name as an empty dict (``cnt = {}``, ``self.g = dict()``), it becomes a ``defaultdict`` of that
    factory, which inserts as the C++ did. Returns the code (edited in place) and how many dicts changed."""
    tree = ast.parse(code)
    # only names the Python reads through [] (cnt[w] += 1, g[u].append(v), cnt2[k] > cnt1[k]): a dict it
    # only reads with .get or `in` needs nothing
    augmented = {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AugAssign)}
    read = {_map_name(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript)
            and (isinstance(n.ctx, ast.Load) or id(n) in augmented)}
    maps = {k: v for k, v in maps.items() if k in read or k.rstrip("_") in read}
    empty = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value = node.value
            is_empty = (isinstance(value, ast.Dict) and not value.keys) or (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict"
                and not value.args and not value.keywords)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {_map_name(t) for t in targets}
            factories = {maps.get(n) or maps.get(n + "_") for n in names if n}
            if is_empty and len(factories) == 1 and None not in factories:
                empty.append((value, f"defaultdict({factories.pop()})"))
    return _edited(code, empty), len(empty)


class _MaybeUnassigned:
    """The reads of a function's names that may come before any assignment (Python's ``UnboundLocalError``):
    statements in order, a branch or loop body assigning only for itself (a loop may run no time, an ``if``
    without ``else`` may not run), each name's first such read recorded with the statements around it, as
    (statement list, index) pairs, outermost first."""

    def __init__(self, func: ast.FunctionDef, names: set[str]):
        self.names, self.found = names, {}
        self.block(func.body, {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}, [])

    def reads(self, node: ast.AST, assigned: set[str], path: list) -> None:
        if isinstance(node, _OWN_SCOPES):  # [i * x for i, x in ...] binds its own i
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.names - assigned:
            self.found.setdefault(node.id, path)
        for child in ast.iter_child_nodes(node):
            self.reads(child, assigned, path)

    def block(self, body: list[ast.stmt], assigned: set[str], outer: list) -> set[str]:
        assigned = set(assigned)
        for k, stmt in enumerate(body):
            path = outer + [(body, k)]
            if isinstance(stmt, (ast.If, ast.While)):
                self.reads(stmt.test, assigned, path)
                then = self.block(stmt.body, assigned, path)
                other = self.block(stmt.orelse, assigned, path)
                if isinstance(stmt, ast.If):
                    assigned |= then & other
            elif isinstance(stmt, ast.For):
                self.reads(stmt.iter, assigned, path)
                targets = {t.id for t in ast.walk(stmt.target) if isinstance(t, ast.Name)}
                self.block(stmt.body, assigned | targets, path)
                self.block(stmt.orelse, assigned, path)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                assigned.add(stmt.name)
            else:
                if isinstance(stmt, ast.AugAssign):  # x += 1 reads x (a Name target's Store is no read)
                    self.reads(stmt.target, assigned, path)
                    if isinstance(stmt.target, ast.Name) and stmt.target.id in self.names - assigned:
                        self.found.setdefault(stmt.target.id, path)
                assigns = isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.value is not None
                self.reads(stmt.value if assigns else stmt, assigned, path)
                assigned |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        return assigned


def initialise_locals(code: str, inits: dict[str, dict[str, tuple[str, int]]]) -> tuple[str, list[str]]:
    """A translation that drops a C++ local's initialiser (``int sum = 0;`` becoming no line at all) reads the
    name before assigning it (``sum = sum + w % 10``: ``UnboundLocalError``). For each function of the same name
    as a C++ function, a local the C++ starts from a literal (``inits``, from
    :func:`cpp2py.generation.cpp_output.initialised_locals`) that the Python may read before assigning gets
    that literal, in the block around the first such read that has as many loops around it as the C++
    declaration (so a counter the C++ resets on every pass is reset on every pass), before the first statement
    of that block naming it. Names the function declares ``global`` are left alone. Returns the code (lines
    inserted) and the ``function.name`` pairs initialised."""
    tree = ast.parse(code)
    inserts, done = [], []
    for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        wanted = inits.get(func.name, {})
        shared = {name for n in ast.walk(func) if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names}
        bound = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - shared
        for name, path in _MaybeUnassigned(func, set(wanted) & bound).found.items():
            literal, depth = wanted[name]
            # outward from the read to the block with the C++ declaration's number of loops around it
            level = [sum(isinstance(b[k], (ast.For, ast.While)) for b, k in path[:i]) for i in range(len(path))]
            body = path[next((i for i in range(len(path) - 1, -1, -1) if level[i] <= depth), 0)][0]
            # before the block's first statement naming it: an assignment there must keep its value
            stmt = next(st for st in body if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(st)))
            inserts.append((stmt, f"{name} = {literal}"))
            done.append(f"{func.name}.{name}")
    lines = code.splitlines(keepends=True)
    for stmt, line in sorted(inserts, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        head = lines[stmt.lineno - 1]
        if head[:stmt.col_offset].strip():  # a statement after a colon on its header's line: no room for a line
            continue
        lines.insert(stmt.lineno - 1, head[:stmt.col_offset] + line + "\n")
    return "".join(lines), done


_ELEMENTWISE = {"len", "sorted", "reversed", "enumerate", "list", "set"}  # same result for a str and its chars


def _joins(node: ast.AST) -> bool:
    """``"".join(...)``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
        and isinstance(node.func.value, ast.Constant) and node.func.value.value == ""


def _as_chars(func: ast.FunctionDef, name: str) -> list[ast.expr] | None:
    """The returns of ``name`` in ``func`` to join back into a str, where every use of ``name`` reads the same
    from a list of its chars as from the str: an element (``s[i]``, read or written), ``len(s)`` and the like,
    ``for c in s``, a slice returned, joined or assigned back to ``s``, ``s`` returned; None where another use
    (``s + t``, ``s.find(t)``, an argument to another function, a new value) may not."""
    parents = {child: node for node in ast.walk(func) for child in ast.iter_child_nodes(node)}
    returns = []
    for node in ast.walk(func):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        up = parents[node]
        if isinstance(node.ctx, ast.Store):  # only s = s[i:j], checked from the slice
            if not (isinstance(up, ast.Assign) and up.targets == [node] and isinstance(up.value, ast.Subscript)
                    and isinstance(up.value.value, ast.Name) and up.value.value.id == name
                    and isinstance(up.value.slice, ast.Slice)):
                return None
            continue
        if isinstance(up, ast.Subscript) and up.value is node:
            if not isinstance(up.slice, ast.Slice):
                continue
            node, up = up, parents[up]
            if isinstance(up, ast.Assign) and up.value is node and len(up.targets) == 1 \
                    and isinstance(up.targets[0], ast.Name) and up.targets[0].id == name:
                continue
        if isinstance(up, ast.Return):
            returns.append(node)
        elif isinstance(up, ast.Call) and up.args == [node] and not up.keywords and (_joins(up) or (
                isinstance(up.func, ast.Name) and up.func.id in _ELEMENTWISE)):
            continue
        elif isinstance(up, (ast.For, ast.comprehension)) and up.iter is node:
            continue
        else:
            return None
    return returns


def mutable_strings(code: str, written: dict[str, set[str]]) -> tuple[str, list[str]]:
    """A C++ string is mutable: ``s[i] = 'a'`` writes a char. A Python str is not (``TypeError: 'str' object
    does not support item assignment``). Where the C++ writes so the chars of a ``string`` parameter it takes by
    value (``written``, from :func:`cpp2py.generation.cpp_output.strings_written_by_index`) and the function of
    the same name in the Python writes ``name[i]`` too, the parameter becomes a list of its chars on entry (a
    copy, as the C++ parameter is) and each return of it (or of a slice of it) joins them back into a str; only
    where every other use of it reads the same from the list as from the str. Returns the code (edited in
    place) and the ``function.name`` pairs changed."""
    def changed(tree: ast.Module):  # (function, parameter, its returns) for each parameter to change
        for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name in written):
            params = {a.arg for a in func.args.args}
            stored = {n.value.id for n in ast.walk(func) if isinstance(n, ast.Subscript) and isinstance(
                n.ctx, ast.Store) and isinstance(n.value, ast.Name) and not isinstance(n.slice, ast.Slice)}
            for name in sorted(written[func.name] & params & stored):
                returns = _as_chars(func, name)
                if returns is not None and func.body[0].lineno > func.lineno:  # def f(s): return s: no room
                    yield func, name, returns

    found = list(changed(ast.parse(code)))
    code = _edited(code, [(r, f'"".join({ast.get_source_segment(code, r)})') for _, _, rs in found for r in rs])
    lines = code.splitlines(keepends=True)
    funcs = {(f.name, f.lineno): f for f in ast.walk(ast.parse(code)) if isinstance(f, ast.FunctionDef)}
    for func, name, _ in sorted(found, key=lambda e: e[0].lineno, reverse=True):
        body = funcs[func.name, func.lineno].body  # a join spans the line it replaces: def lines stay put
        first = body[1] if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(
            body[0].value, ast.Constant) and isinstance(body[0].value.value, str) else body[0]
        lines.insert(first.lineno - 1, " " * first.col_offset + f"{name} = list({name})\n")
    return "".join(lines), [f"{func.name}.{name}" for func, name, _ in found]


def _infinity(node: ast.expr) -> bool:
    """A number a translation writes for C++'s largest int: ``sys.maxsize``, ``float('inf')``, ``math.inf``,
    ``10 ** 9``, ``1e9``, ``int(1e9)``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return (node.value.id, node.attr) in (("sys", "maxsize"), ("math", "inf"))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1 and not node.keywords:
        arg = node.args[0]
        is_inf = isinstance(arg, ast.Constant) and str(arg.value).strip().lower() in ("inf", "+inf", "infinity")
        return (node.func.id == "float" and is_inf) or (node.func.id == "int" and _infinity(arg))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return all(isinstance(n, ast.Constant) for n in (node.left, node.right)) and (
            node.left.value, node.right.value) == (10, 9)
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == 1e9


def _cpp_limit(node: ast.expr) -> int:
    """1 for C++'s own spelling of the largest int left in a translation (``INT_MAX``,
    ``numeric_limits[int].max()``), -1 for the smallest (``INT_MIN``, ``numeric_limits[int].min()``), else 0."""
    if isinstance(node, ast.Name) and node.id in ("INT_MAX", "INT_MIN"):
        return 1 if node.id == "INT_MAX" else -1
    if isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Subscript) and isinstance(node.func.value.value, ast.Name) \
            and node.func.value.value.id == "numeric_limits" and ast.unparse(node.func.value.slice) == "int":
        return {"max": 1, "min": -1, "lowest": -1}.get(node.func.attr, 0)
    return 0


def _limit_sign(node: ast.expr) -> int:
    """1 for a translation's largest int (:func:`_infinity`, :func:`_cpp_limit`), -1 for its smallest
    (``-sys.maxsize - 1``, ``-sys.maxsize``, ``float('-inf')``, ``-10 ** 9``), 0 for anything else."""
    if _cpp_limit(node):
        return _cpp_limit(node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and isinstance(node.right, ast.Constant) \
            and node.right.value == 1 and _limit_sign(node.left) == -1 and isinstance(node.left, ast.UnaryOp):
        return -1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -1 if _infinity(node.operand) or _cpp_limit(node.operand) == 1 else 0
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float" \
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
            and str(node.args[0].value).strip().lower() in ("-inf", "-infinity"):
        return -1
    return 1 if _infinity(node) else 0


def int_limits_as_cpp(code: str, limits: dict[str, tuple[int | None, int | None]]) -> tuple[str, int]:
    """C++'s ``INT_MAX`` is 2147483647; a translation writes it ``sys.maxsize``, ``float('inf')`` or ``10 ** 9``,
    which differ where the value comes out (``return dist`` of no pair found: 2147483647) or meets a number
    between them. In a function of the same name as a C++ function that uses one largest int limit and no
    other number such a translation could stand for (``limits``, from
    :func:`cpp2py.generation.cpp_output.int_limits`), each of these becomes that limit's value; likewise its
    smallest (``-sys.maxsize - 1``, ``float('-inf')`` for ``INT_MIN``). Only where they stand alone: the
    ``10 ** 9`` of ``10 ** 9 + 7`` is no limit. Returns the code (edited in place) and how many changed."""
    tree = ast.parse(code)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    # INT_MAX the translation assigns itself is its own variable, no C++ name left in
    own = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    own |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    own |= {(a.asname or a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}

    def stand_ins(root: ast.AST):  # (node, sign) of each limit standing alone under root
        for node in ast.walk(root):
            sign = _limit_sign(node) if isinstance(node, ast.expr) else 0
            up = parents.get(node)
            # inside a larger one (the sys.maxsize of -sys.maxsize - 1), or no limit (10 ** 9 + 7, INF // 2)
            if sign and not isinstance(up, (ast.BinOp, ast.UnaryOp, ast.AugAssign)) and not any(
                    isinstance(n, ast.Name) and n.id in own for n in ast.walk(node)):
                yield node, sign

    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in limits]
    edits = {_span(node): (node, limits[func.name][sign < 0]) for func in funcs for node, sign in stand_ins(func)}
    # one elsewhere (a helper returning float('inf'), a module's INF) may meet these: a value to keep as it is
    if any(_span(node) not in edits for node, _ in stand_ins(tree)) or any(v is None for _, v in edits.values()):
        return code, 0
    edits = {k: (node, str(value)) for k, (node, value) in edits.items()}
    return _edited(code, list(edits.values())), len(edits)


def fix_translation(python: str, cpp: str) -> Fixed:
    """All the fixes, for code that parses, as far as the C++ ``cpp`` calls for them: shadowed methods and
    builtins, C++ namespaces kept in references, C++ container calls, line reads where the C++ read tokens, ``<<`` chains and printf formats
    transcribed with other text, maps whose [] inserts, strings written by index, stand-ins for the int limits,
    chars used as numbers, bools and doubles printed as Python writes them, C++ constants used undefined,
    missing imports, the ``main()`` call."""
    code, renamed = unshadow_methods(python)
    fixes = [f"attribute renamed: {r}" for r in renamed]
    code, hidden = unshadow_builtins(code)
    fixes += [f"variable hiding a builtin it calls renamed: {r}" for r in hidden]
    code, hiding = unshadow_builtin_functions(code)
    fixes += [f"function hiding a builtin it calls renamed: {r}" for r in hiding]
    code, containers = cpp_container_calls(code)
    fixes += [f"{containers} C++ container call(s) written the Python way"] if containers else []
    if reads_tokens(cpp):
        code, reads = read_tokens(code)
        fixes += [f"{reads} line read(s) read a token, as cin >> does"] if reads else []
    try:
        output, chars, maps = read_output(cpp), char_codes(cpp), maps_inserting_on_lookup(cpp)
        inits, written, limits = initialised_locals(cpp), strings_written_by_index(cpp), int_limits(cpp)
        consts, functions, fields = constants(cpp), free_functions(cpp), struct_fields(cpp)
        sorts, spaces = descending_sorts(cpp), namespaces(cpp)
        own = frozenset(name for name, _ in cpptree.free_functions(cpptree.parse(cpp)))
    except ImportError:  # no tree-sitter-cpp (the optional extra cpp2py[oracle]): these fixes are skipped
        output, chars, maps, inits, written, limits = Output(), {}, {}, {}, {}, {}
        consts, functions, fields, sorts, spaces, own = {}, {}, {}, {}, set(), frozenset()
    code, unqualified = unqualify_namespaces(code, spaces)
    fixes += [f"{unqualified} reference(s) through a C++ namespace made plain names"] if unqualified else []
    code, started = initialise_locals(code, inits)
    fixes += [f"initialiser the translation dropped restored: {n}" for n in started]
    code, listed = mutable_strings(code, written)
    fixes += [f"string the C++ writes by index made a list of chars: {n}" for n in listed]
    code, limited = int_limits_as_cpp(code, limits)
    fixes += [f"{limited} stand-in(s) for the C++ int limits given their values"] if limited else []
    code, completed = restore_dropped_values(code, output.stream_values)
    fixes += [f"{completed} print call(s) write the values they dropped from their << chain"] if completed else []
    code, streamed = transcribe_streams(code, output.streams)
    fixes += [f"{streamed} print call(s) write the text of the << chain they transcribe"] if streamed else []
    if streams_output(cpp):
        code, joined = concatenate_prints(code)
        fixes += [f"sep=\"\" added to {joined} print call(s) transcribing a << chain"] if joined else []
    code, defaults = default_dicts(code, maps)
    fixes += [f"{defaults} dict(s) insert a default on lookup, as the C++ map's []"] if defaults else []
    code, shifted = shifted_chars(code, chars)
    fixes += [f"char shifted by its code stays a char: {n}" for n in shifted]
    code, coded = char_codes_as_numbers(code, chars)
    fixes += [f"ord() added to {coded} char(s) the C++ used as numbers"] if coded else []
    code, transcribed = transcribe_printf(code, output.printf)
    fixes += [f"{transcribed} print call(s) write with the printf format they transcribe"] if transcribed else []
    code, formatted = format_prints(code, output.bools, output.doubles)
    fixes += ["added: a print writing bools and doubles as the C++ << did"] if formatted else []
    code, iterable = iterable_structs(code, fields)
    fixes += [f"struct unpacked as the C++ binds it: {n}" for n in iterable]
    code, descending = descending_sorts_kept(code, sorts)
    fixes += [f"reverse=True: the C++ sorts {n} descending" for n in descending]
    code, named = name_cpp_functions(code, functions)
    fixes += [f"the C++'s name bound to the function the model renamed: {n}" for n in named]
    code, defined = define_constants(code, consts)
    fixes += [f"C++ constant defined: {n}" for n in defined]
    code, imports, undefined = add_imports(code, own)
    fixes += [f"added: {line}" for line in imports]
    if has_main(cpp):
        code, added = call_main(code)
        fixes += ["added: the __main__ guard calling main()"] if added else []
    return Fixed(code if fixes else python, fixes, undefined)
