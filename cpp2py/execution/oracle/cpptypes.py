"""C++ parameter types, read from tree-sitter nodes into the few shapes the oracle can generate values for."""
from __future__ import annotations

import re
from dataclasses import dataclass

from cpp2py.execution.oracle.cppast import text


class Unsupported(Exception):
    """A type the oracle cannot generate inputs for; the message names it."""


@dataclass(frozen=True)
class CType:
    """``kind`` is one of int, float, bool, char, string, list, map, set, pair, tuple, or a LeetCode node
    pointer (``NODES``); ``spelling`` is the C++ type as written (so driver declarations compile against the
    program's own aliases)."""

    kind: str
    spelling: str
    args: tuple["CType", ...] = ()
    unsigned: bool = False
    single: bool = False  # float, not double: compared with a looser tolerance


@dataclass(frozen=True)
class Param:
    name: str
    type: CType
    ref: bool = False  # a non-const lvalue reference, or a pointer to non-const nodes: the callee may write through it
    array: bool = False  # ``T a[]`` or ``T* a``: passed as a pointer to a vector's data, writable
    cstring: bool = False  # ``char s[]``/``char* s``: a NUL-terminated string
    size_of: int | None = None  # index of the array parameter whose length this integer is

    @property
    def value_type(self) -> CType:
        """The type of the values generated for it: an array's are lists of its element type."""
        return CType("list", f"std::vector<{self.type.spelling}>", (self.type,)) if self.array else self.type


_INTS = {"int", "long", "short", "size_t", "int64_t", "int32_t", "int16_t", "uint64_t", "uint32_t", "uint16_t",
         "ssize_t", "ptrdiff_t", "uint", "ll", "ull", "unsigned", "signed"}
_FLOATS = {"float", "double"}
_LISTS = {"vector", "list", "deque", "array"}
_MAPS = {"map", "unordered_map"}
_SETS = {"set", "unordered_set"}
# LeetCode's linked structures, taken by pointer: the kinds of ``TreeNode*`` and ``ListNode*``.
NODES = {"TreeNode": "tree", "ListNode": "linked"}
_SIZE_NAME = re.compile(r"(?i)^(n|n\d|m|sz|len|length|size|\w*_?(size|len|length|count))$")


def _spelling(node) -> str:
    return " ".join(text(node).split())


def _template(node) -> CType:
    name = node.child_by_field_name("name")
    base = text(name).split("::")[-1] if name is not None else ""
    args_node = node.child_by_field_name("arguments")
    args = tuple(ctype(d.child_by_field_name("type"), d) for d in (args_node.named_children if args_node else ())
                 if d.type == "type_descriptor")
    kind = ("list" if base in _LISTS else "map" if base in _MAPS else "set" if base in _SETS
            else "pair" if base == "pair" else "tuple" if base == "tuple" else None)
    if kind is None or (kind == "list" and base == "array"):
        raise Unsupported(f"type {_spelling(node)}")
    return CType(kind, _spelling(node), args)


def ctype(node, descriptor=None) -> CType:
    """The CType of a type node (``descriptor``: the type_descriptor it sits in, whose declarator may add ``*``)."""
    if node is None:
        raise Unsupported("a parameter without a type")
    if descriptor is not None and descriptor.child_by_field_name("declarator") is not None:
        pointer = descriptor.child_by_field_name("declarator")
        if text(node) in NODES and pointer.type == "abstract_pointer_declarator" and not pointer.named_children:
            return _node(text(node))  # vector<ListNode*>
        raise Unsupported(f"type {_spelling(descriptor)}")
    if node.type == "qualified_identifier":
        inner = node.child_by_field_name("name")
        if inner is not None and inner.type == "template_type":
            return _template(inner)
        return _named(text(node).split("::")[-1], _spelling(node))
    if node.type == "template_type":
        return _template(node)
    if node.type in ("primitive_type", "sized_type_specifier", "type_identifier"):
        return _named(_spelling(node), _spelling(node))
    raise Unsupported(f"type {_spelling(node)}")


def _node(name: str) -> CType:
    return CType(NODES[name], f"{name}*")


def _named(name: str, spelling: str) -> CType:
    words = set(name.split())
    if name == "string":
        return CType("string", spelling)
    if name == "bool":
        return CType("bool", spelling)
    if "char" in words and not words & {"unsigned", "signed"} or name == "char":
        return CType("char", spelling)
    if words & _FLOATS and "long" not in words:
        return CType("float", spelling, single="float" in words)
    if words & _INTS:
        return CType("int", spelling, unsigned="unsigned" in words or name.startswith("u") or name == "size_t")
    raise Unsupported(f"type {spelling}")


def _const(decl_node) -> bool:
    return any(c.type == "type_qualifier" and text(c) == "const" for c in decl_node.children)


def param(node) -> Param:
    """One parameter_declaration as a Param (its size partner is set later by ``link_sizes``)."""
    type_node = node.child_by_field_name("type")
    if type_node is not None and type_node.type == "type_identifier" and text(type_node) in NODES:
        return _node_param(node, type_node)
    try:
        t = ctype(type_node)
    except Unsupported:
        raise Unsupported(f"parameter `{_spelling(node)}`") from None
    decl = node.child_by_field_name("declarator")
    ref = array = False
    const = _const(node)
    while decl is not None and decl.type not in ("identifier",):
        if decl.type == "reference_declarator":
            if text(decl).startswith("&&"):
                raise Unsupported("an rvalue-reference parameter")
            ref = True
            decl = next((c for c in decl.named_children), None)
        elif decl.type in ("pointer_declarator", "array_declarator"):
            if array:
                raise Unsupported("a two-dimensional array or pointer parameter")
            array = True
            const = const or _const(decl)
            decl = decl.child_by_field_name("declarator")
        else:
            raise Unsupported(f"parameter {_spelling(node)}")
    if decl is None:
        raise Unsupported(f"an unnamed parameter ({_spelling(node)})")
    name = text(decl)
    if array and t.kind == "char":
        return Param(name, CType("string", "std::string"), cstring=True)
    if array and t.kind not in ("int", "float", "bool", "string"):
        raise Unsupported(f"an array of {t.spelling}")
    return Param(name, t, ref=ref and not const, array=array)


def _node_param(node, type_node) -> Param:
    """``TreeNode* root`` (also ``TreeNode*& root``): the structure it reaches is writable unless ``const``."""
    decl = node.child_by_field_name("declarator")
    if decl is None or decl.type != "pointer_declarator":
        raise Unsupported(f"parameter `{_spelling(node)}` (a node not taken by pointer)")
    inner = decl.child_by_field_name("declarator")
    if inner is not None and inner.type == "reference_declarator":
        inner = next(iter(inner.named_children), None)
    if inner is None or inner.type != "identifier":
        raise Unsupported(f"parameter `{_spelling(node)}`")
    return Param(text(inner), _node(text(type_node)), ref=not _const(node))


def link_sizes(params: list[Param]) -> list[Param]:
    """Pair each array (and a vector or string followed by ``n``) with the integer parameter that carries its length:
    the first later integer whose name reads as a size (``n``, ``len``, ``size``, ...), else the first later one."""
    out = list(params)
    for a, p in enumerate(params):
        vector_n = p.type.kind in ("list", "string") and not p.ref and a + 1 < len(params) \
            and params[a + 1].name in ("n", "N")
        if not (p.array or vector_n):
            continue
        free = [i for i in range(a + 1, len(out)) if out[i].type.kind == "int" and not out[i].ref
                and not out[i].array and out[i].size_of is None]
        named = [i for i in free if _SIZE_NAME.match(out[i].name)]
        if named or free:
            i = (named or free)[0]
            out[i] = Param(out[i].name, out[i].type, size_of=a)
    return out
