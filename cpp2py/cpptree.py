"""C++ as tree-sitter sees it, at its most basic: the syntax tree, a node's text, a walk, a stream chain. Shared by
the oracle (cpp2py.execution.oracle) and the post-processing of translations (cpp2py.generation), never regex."""
from __future__ import annotations

import functools


@functools.cache
def _parser():
    # Imported here: tree-sitter is an optional extra (cpp2py[oracle]) and costs start-up time.
    import tree_sitter_cpp
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_cpp.language()))


# The post-processing of one translation reads the same C++ with several readers (cpp_output, cpp_source), and an
# oracle build reads it again: each asks for the tree, one parse serves them all. Trees are never edited.
@functools.lru_cache(maxsize=16)
def parse(source: str):
    """The root node of ``source``'s syntax tree (tree-sitter recovers from errors; see ``has_errors``)."""
    return _parser().parse(source.encode("utf-8")).root_node


def text(node) -> str:
    return node.text.decode("utf-8", errors="replace")


def number(node) -> int | float | None:
    """The value of a number literal node (``1e9``, ``0x3f``, ``0b101``, ``017``, ``1'000``, ``10LL``), None for
    another node or a literal Python cannot read (``0x1p3``)."""
    if node.type != "number_literal":
        return None
    spelled = text(node).lower().replace("'", "")
    try:
        if spelled.startswith(("0x", "0b")):
            return int(spelled.rstrip("ul"), 0)
        if any(c in spelled for c in ".e"):
            return float(spelled.rstrip("fl"))
        digits = spelled.rstrip("ul")
        return int(digits, 8) if len(digits) > 1 and digits.startswith("0") else int(digits)
    except ValueError:
        return None


def walk(node):
    """Every node below ``node``, depth first, ``node`` included."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def chain(node, operator: str, streams) -> list | None:
    """The operands of ``cin >> a >> b`` (``operator`` ">>") or ``cout << a << b`` ("<<") in order, where the
    leftmost operand is one of ``streams``; None when ``node`` is no such chain."""
    operands = []
    while node.type == "binary_expression" and text(node.child_by_field_name("operator")) == operator:
        operands.append(node.child_by_field_name("right"))
        node = node.child_by_field_name("left")
    return operands[::-1] if text(node) in streams and operands else None


def function_declarator(declarator):
    """The ``function_declarator`` under a declarator, looking through pointer and reference declarators
    (``int* f()``, ``vector<int>& g()``); None when the declarator declares no function."""
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    return declarator


def free_functions(node):
    """(name, definition) of the functions defined outside classes, in source order: at the top level and in
    namespaces and ``extern "C"`` blocks; a template's definition is its ``template_declaration`` (the header
    with the function). A qualified ``Class::method`` defined outside its class is not a free function."""
    for child in node.named_children:
        if child.type in ("namespace_definition", "linkage_specification"):
            body = child.child_by_field_name("body")
            if body is not None:
                yield from free_functions(body)
            continue
        inner = child
        if child.type == "template_declaration":
            inner = next((c for c in child.named_children if c.type == "function_definition"), None)
        if inner is None or inner.type != "function_definition":
            continue
        found = function_declarator(inner.child_by_field_name("declarator"))
        name = found.child_by_field_name("declarator") if found is not None else None
        if name is not None and name.type == "identifier":
            yield text(name), child
