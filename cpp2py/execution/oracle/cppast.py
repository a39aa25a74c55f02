"""The C++ as tree-sitter sees it: functions, classes, calls and literals, read from the syntax tree (never regex)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field


@functools.cache
def _parser():
    # Imported here: tree-sitter is an optional extra (cpp2py[oracle]) and costs start-up time.
    import tree_sitter_cpp
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_cpp.language()))


def parse(source: str):
    """The root node of ``source``'s syntax tree (tree-sitter recovers from errors; see ``has_errors``)."""
    return _parser().parse(source.encode("utf-8")).root_node


def text(node) -> str:
    return node.text.decode("utf-8", errors="replace")


def walk(node):
    """Every node below ``node``, depth first, ``node`` included."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


@dataclass
class Function:
    """A function definition: free (``cls`` is None) or a public method of ``cls``."""

    name: str
    node: object  # the function_definition
    params: list  # parameter_declaration nodes
    cls: str | None = None
    calls: set[str] = field(default_factory=set)  # names this function calls, itself excluded


def _declarator_name(decl) -> tuple[str | None, object | None]:
    """(name, parameter_list) of a function_declarator, looking through pointer/reference declarators."""
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return None, None
    name = decl.child_by_field_name("declarator")
    return (text(name).split("::")[-1] if name is not None else None), decl.child_by_field_name("parameters")


def _function(node, cls: str | None) -> Function | None:
    name, params = _declarator_name(node.child_by_field_name("declarator"))
    if not name or params is None:
        return None
    body = node.child_by_field_name("body")
    calls = set()
    for n in walk(body) if body is not None else ():
        if n.type == "call_expression":
            callee = n.child_by_field_name("function")
            if callee is not None:
                calls.add(text(callee).split("::")[-1].split(".")[-1].split("->")[-1])
    calls.discard(name)
    return Function(name, node, [p for p in params.named_children if p.type == "parameter_declaration"], cls, calls)


def _class_methods(node) -> list[Function]:
    """Public methods of a class/struct (structs default to public, classes to private)."""
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None or body is None:
        return []
    public = node.type == "struct_specifier"
    out = []
    for child in body.named_children:
        if child.type == "access_specifier":
            public = text(child).startswith("public")
        elif child.type == "function_definition" and public:
            f = _function(child, text(name_node))
            if f:
                out.append(f)
    return out


def functions(root) -> list[Function]:
    """Top-level functions (also inside namespaces) and public class methods, in source order."""
    out: list[Function] = []
    for node in root.named_children:
        if node.type == "function_definition":
            f = _function(node, None)
            if f:
                out.append(f)
        elif node.type in ("class_specifier", "struct_specifier"):
            out.extend(_class_methods(node))
        elif node.type in ("declaration", "type_definition"):
            out.extend(m for c in node.named_children if c.type in ("class_specifier", "struct_specifier")
                       for m in _class_methods(c))
        elif node.type in ("namespace_definition", "linkage_specification"):
            body = node.child_by_field_name("body")
            if body is not None:
                out.extend(functions(body))
    return out


def roots(funcs: list[Function]) -> list[Function]:
    """The functions no other function calls: the entry points a translation must keep (helpers may be inlined).
    Of several definitions with one name (overloads) the last wins, as it would in Python."""
    called = set().union(*(f.calls for f in funcs)) if funcs else set()
    last = {(f.cls, f.name): f for f in funcs if f.name != "main"}
    return [f for f in last.values() if f.name not in called and not f.name.startswith("operator")]


_RANGES = (("a", "z"), ("A", "Z"), ("0", "9"))


def literals(node) -> tuple[list[str], list[str]]:
    """(char literals, string literals) in ``node``: the alphabet its inputs are likely drawn from. Both ends
    of a range (``'a'`` and ``'z'``) stand for the whole range."""
    chars, strings = [], []
    for n in walk(node):
        if n.type == "char_literal":
            body = text(n)[1:-1]
            if len(body) == 1 and body.isprintable():
                chars.append(body)
        elif n.type == "string_literal":
            body = "".join(text(c) for c in n.named_children if c.type == "string_content")
            if body and "%" not in body and body.isprintable():
                strings.append(body)
    for lo, hi in _RANGES:
        if lo in chars and hi in chars:
            chars += [chr(c) for c in range(ord(lo), ord(hi) + 1)]
    return chars, strings


_COMPARISONS = ("<", "<=", ">", ">=")
_ABS = ("abs", "fabs", "labs", "llabs", "std::abs")


def _is_zero(node) -> bool:
    return node is not None and node.type == "number_literal" and text(node) in ("0", "0.0", "0LL", "0L")


def handles_negatives(node) -> bool:
    """Whether the code compares a value with 0 or takes an absolute value: then negative inputs are meant."""
    for n in walk(node):
        if n.type == "binary_expression" and text(n.child_by_field_name("operator")) in _COMPARISONS and (
                _is_zero(n.child_by_field_name("left")) or _is_zero(n.child_by_field_name("right"))):
            return True
        if n.type == "call_expression" and text(n.child_by_field_name("function")) in _ABS:
            return True
    return False


def handles_empty(node) -> bool:
    """Whether the code asks a container or string if it is empty (``.empty()``, ``size() == 0``, ``!s.size()``)."""
    for n in walk(node):
        if n.type != "call_expression":
            continue
        callee = n.child_by_field_name("function")
        method = callee.child_by_field_name("field") if callee is not None and callee.type == "field_expression" else None
        name = text(method) if method is not None else ""
        if name == "empty":
            return True
        parent = n.parent
        if name in ("size", "length") and parent is not None and (
                (parent.type == "unary_expression" and text(parent).startswith("!"))
                or (parent.type == "binary_expression" and any(_is_zero(c) for c in parent.named_children))):
            return True
    return False


def has_main(root) -> bool:
    return any(f.name == "main" and f.cls is None for f in functions(root))
