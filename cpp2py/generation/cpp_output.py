"""What a Python translation has to reproduce of the C++, read from its syntax tree (tree-sitter, never regex
on C++): how it writes its output, which chars it uses as numbers, which maps insert on lookup, which locals
start from a literal.

:func:`read_output` says how the program's ``<<`` writes bools and doubles, where it writes them one way
throughout (``1``/``0``, or ``true``/``false`` after ``boolalpha``; ``%g``, or ``%.Nf`` after ``fixed`` and
``setprecision(N)``), and lists the literal formats of its ``printf`` calls.

The types of streamed values are inferred from declarations in the file alone (variables, members, function
return types, literals, operators); a value whose type this cannot tell is taken as neither a bool nor a double.
"""
from __future__ import annotations

import codecs
import operator
import re
from dataclasses import dataclass, field

from cpp2py.cpptree import chain, function_declarator, number, parse, text, walk

_STREAMS = {"cout", "cerr", "std::cout", "std::cerr"}
_FLOATS = {"double", "float", "long double"}
_CHARS = {"char", "unsigned char", "signed char"}
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or"}
_ARITHMETIC = {"+", "-", "*", "/"}
_NUMERIC = {"<", ">", "<=", ">=", "+", "-", "*", "/", "%"}  # where a char acts as its code (== works on strs too)
# <cmath> functions that return a double whatever they are given (abs and friends keep an int an int).
_MATH = {"sqrt", "pow", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
         "sinh", "cosh", "tanh", "ceil", "floor", "round", "trunc", "fmod", "hypot", "cbrt", "fabs"}
_SEQUENCES = {"vector", "array", "deque"}  # a[i] of these is an element
_DECLARATORS = {"array_declarator", "pointer_declarator", "reference_declarator", "init_declarator"}
_BOOL_METHODS = {"empty", "has_value", "contains"}  # standard container and optional members
# Manipulators and stream members that change how bools and doubles are written: boolalpha, fixed and
# setprecision(N) are modelled; any other leaves the format of that kind unknown.
_BOOL_STATE = {"boolalpha", "noboolalpha"}
_FLOAT_STATE = {"fixed", "scientific", "defaultfloat", "hexfloat", "showpoint", "noshowpoint", "setprecision"}
# Manipulators that change how the next values are written (width, base, fill): a chain with one is no plain text.
_OTHER_MANIPULATORS = {"setw", "setfill", "left", "right", "internal", "hex", "oct", "dec", "showpos", "noshowpos",
                       "uppercase", "nouppercase", "showbase", "noshowbase", "flush", "ends", "ws"}
_STATE_MEMBERS = {"precision", "setf", "unsetf", "flags", "copyfmt", "imbue"}  # cout.precision(n), ...
# A conversion in a printf format's value (the string, not C++ source) as Python's % operator also reads it, but
# for C's length modifiers, which Python lacks.
_CONVERSION = re.compile(r"%(?P<spec>[-+ #0]*\d*(?:\.\d*)?)(?:hh|h|ll|l|L|z|j|t)?(?P<type>[diouxXeEfFgGcs%])")


@dataclass(frozen=True)
class Printf:
    """A printf format: as Python's % operator writes it alike (``format``), its ``text`` around the conversions
    (one more piece than conversions) and the conversions' ``types`` (``"df"`` for ``%5d %.2f``). ``as_str``:
    the format with each conversion written ``%s``, where all are ones that write a number as ``str()`` does
    (``%d``, ``%i``, ``%u``, ``%s``, with no flags, width or precision); else None."""

    format: str
    text: tuple[str, ...]
    types: str
    as_str: str | None


@dataclass
class Output:
    """How the program writes: ``bools``, how ``<<`` writes a bool (``"number"``: 1/0, ``"word"``: true/false);
    ``doubles``, the %-format ``<<`` writes a double with (``"%g"``, ``"%.2f"``); each None where the program
    writes none, or not one way throughout. ``printf``: its printf formats, as Python's % operator reads them.
    ``stream_values``: each ``cout <<`` chain as the text around the values it writes and those values as Python
    (``cout << "n=" << n << endl``: ``(("n=", "\\n"), ("n",))``; :func:`python_expression`, None for a value that
    has no sure Python spelling); chains with a manipulator are left out. ``streams``: their texts alone."""

    bools: str | None = None
    doubles: str | None = None
    printf: list[Printf] = field(default_factory=list)
    stream_values: list[tuple[tuple[str, ...], tuple[str | None, ...]]] = field(default_factory=list)

    @property
    def streams(self) -> list[tuple[str, ...]]:
        return [pieces for pieces, _ in self.stream_values]


def _name(node) -> str:
    return text(node).split("::")[-1]


def _kind_of_type(type_node, declarator) -> tuple[str | None, int]:
    """(scalar kind, subscripts to reach it) of a declaration: ``double x`` -> (float, 0), ``vector<double> v``
    and ``double a[]`` -> (float, 1), ``string s`` -> (char, 1); kinds are "bool", "float", "char" or None
    (anything else)."""
    depth = 0
    while type_node is not None and type_node.type in ("template_type", "qualified_identifier"):
        if type_node.type == "qualified_identifier":
            type_node = type_node.child_by_field_name("name")
            continue
        args = type_node.child_by_field_name("arguments")
        if text(type_node.child_by_field_name("name")) not in _SEQUENCES or args is None or not args.named_children:
            return None, 0
        type_node, depth = args.named_children[0].child_by_field_name("type"), depth + 1
    while declarator is not None and declarator.type in _DECLARATORS:
        depth += declarator.type in ("array_declarator", "pointer_declarator")
        declarator = declarator.child_by_field_name("declarator") or declarator.named_children[-1]
    spelled = " ".join(text(type_node).split()) if type_node is not None else ""
    if spelled.split("::")[-1] == "string":  # a string is a sequence of chars
        spelled, depth = "char", depth + 1
    return ("bool" if spelled == "bool" else "float" if spelled in _FLOATS else
            "char" if spelled in _CHARS else None), depth


def _declared_name(declarator) -> tuple[str | None, bool]:
    """(name, whether it names a function) of a declarator, looking through pointers, references, arrays and
    initialisers; a qualified ``Class::method`` is named ``method``."""
    function = False
    while declarator is not None and declarator.type not in ("identifier", "field_identifier", "qualified_identifier"):
        function |= declarator.type == "function_declarator"
        inner = declarator.child_by_field_name("declarator")
        declarator = inner if inner is not None else (declarator.named_children or [None])[0]
    return (_name(declarator) if declarator is not None else None), function


class _Types:
    """The kinds of the file's names: variables, parameters and members (by name, wherever declared, kept when
    all declarations of a name agree) and functions (by their return type)."""

    def __init__(self, root):
        variables: dict[str, set] = {}
        functions: dict[str, set] = {}
        for n in walk(root):
            if n.type not in ("declaration", "field_declaration", "parameter_declaration",
                              "optional_parameter_declaration", "function_definition", "for_range_loop"):
                continue
            type_node = n.child_by_field_name("type")
            for declarator in n.children_by_field_name("declarator"):
                name, function = _declared_name(declarator)
                if name:
                    (functions if function else variables).setdefault(name, set()).add(
                        _kind_of_type(type_node, None if function else declarator))
        self.variables = {k: v.pop() for k, v in variables.items() if len(v) == 1}
        self.functions = {k: v.pop()[0] for k, v in functions.items() if len(v) == 1}

    def kind(self, node) -> str | None:
        """"bool", "float", "char" or None: what ``node`` evaluates to, as far as the file shows."""
        t = node.type
        if t in ("true", "false"):
            return "bool"
        if t == "number_literal":
            s = text(node).lower()
            return "float" if not s.startswith("0x") and ("." in s or "e" in s) else None
        if t in ("identifier", "field_expression", "subscript_expression"):
            depth = 0
            while node.type == "subscript_expression":
                node, depth = node.child_by_field_name("argument"), depth + 1
            if node.type == "field_expression":
                node = node.child_by_field_name("field")
            kind, declared = self.variables.get(text(node), (None, -1))
            return kind if declared == depth else None
        if t == "parenthesized_expression":
            return self.kind(node.named_children[0])
        if t == "unary_expression":
            op = text(node.child_by_field_name("operator"))
            return "bool" if op in ("!", "not") else self.kind(node.child_by_field_name("argument"))
        if t == "binary_expression":
            op = text(node.child_by_field_name("operator"))
            if op in _COMPARISONS:
                return "bool"
            sides = {self.kind(node.child_by_field_name(s)) for s in ("left", "right")}
            return "float" if op in _ARITHMETIC and "float" in sides else None
        if t == "conditional_expression":
            sides = {self.kind(node.child_by_field_name(s)) for s in ("consequence", "alternative")}
            return sides.pop() if len(sides) == 1 else None
        if t == "cast_expression":
            return _kind_of_type(node.child_by_field_name("type").child_by_field_name("type"), None)[0]
        if t == "call_expression":
            return self._call_kind(node)
        return None

    def _call_kind(self, node) -> str | None:
        callee = node.child_by_field_name("function")
        if callee.type == "template_function" and _name(callee.child_by_field_name("name")) == "static_cast":
            descriptor = callee.child_by_field_name("arguments").named_children[0]
            return _kind_of_type(descriptor.child_by_field_name("type"), None)[0]
        method = callee.type == "field_expression"
        name = text(callee.child_by_field_name("field")) if method else _name(callee)
        if name in self.functions:
            return self.functions[name]
        return "bool" if method and name in _BOOL_METHODS else "float" if not method and name in _MATH else None


def _chains(root):
    """Each ``cout << a << b ...`` chain as the list of its operands after the stream, in source order."""
    for n in walk(root):
        outer = n.parent is None or n.parent.type != "binary_expression" or n.parent.child_by_field_name("left") != n
        operands = chain(n, "<<", _STREAMS) if outer else None  # only the outermost << of a chain
        if operands:
            yield operands


def _stream_text(operands) -> tuple[tuple[str, ...], list] | None:
    """The text a ``<<`` chain writes around its values (see :attr:`Output.streams`), and those values."""
    pieces, values = [""], []
    for operand in operands:
        literal = None
        if operand.type in ("string_literal", "concatenated_string"):
            literal = _string_value(operand)
        elif operand.type == "char_literal":
            literal = _char_value(operand)
            if literal is None:
                return None
        elif _name(operand) == "endl":
            literal = "\n"
        if literal is not None:
            pieces[-1] += literal
        elif _manipulator(operand) or _callee_or_name(operand) in _OTHER_MANIPULATORS:
            return None
        else:
            pieces.append("")
            values.append(operand)
    return tuple(pieces), values


def _char_value(node) -> str | None:
    try:
        return codecs.decode(text(node)[1:-1], "unicode_escape")
    except UnicodeDecodeError:
        return None


def python_expression(node) -> str | None:
    """A C++ expression as Python, for the few forms whose Python spelling is not in doubt: number, string,
    char and bool literals, names, calls of a named function (template arguments dropped) and brace lists
    (``vector<string>{"a", "b"}``, ``{1, 2}``) as lists; None for anything else."""
    kind = node.type
    if kind == "number_literal":
        return text(node) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text(node)) else None
    if kind in ("string_literal", "concatenated_string"):
        value = _string_value(node)
    elif kind == "char_literal":
        value = _char_value(node)
    else:
        value = None
    if value is not None:
        return repr(value)
    if kind in ("true", "false"):
        return kind.capitalize()
    if kind == "identifier":
        return text(node)
    if kind == "parenthesized_expression" and node.named_child_count == 1:
        return python_expression(node.named_children[0])
    if kind == "call_expression":
        callee = node.child_by_field_name("function")
        if callee.type == "template_function":
            callee = callee.child_by_field_name("name")
        args = [python_expression(a) for a in node.child_by_field_name("arguments").named_children]
        if callee.type != "identifier" or None in args:
            return None
        return f"{text(callee)}({', '.join(args)})"  # type: ignore[arg-type]
    if kind == "compound_literal_expression":
        return python_expression(node.child_by_field_name("value"))
    if kind == "initializer_list":
        items = [python_expression(c) for c in node.named_children]
        return None if None in items else f"[{', '.join(items)}]"  # type: ignore[arg-type]
    return None


def _callee_or_name(node) -> str:
    """``setw`` for ``setw(3)``, ``hex`` for ``hex``: the name an operand of ``<<`` goes by."""
    return _name(node.child_by_field_name("function") if node.type == "call_expression" else node)


def _manipulator(node) -> str | None:
    """``fixed`` or ``setprecision(2)`` as its name, None for a value."""
    if node.type == "call_expression":
        node = node.child_by_field_name("function")
    name = _name(node) if node.type in ("identifier", "qualified_identifier") else None
    return name if name in _BOOL_STATE | _FLOAT_STATE else None


def _set_before(operand, chain, setting) -> bool:
    """Whether the stream state that ``setting`` (a manipulator node) sets is in effect where ``operand`` is
    written: set earlier in the same chain, or by a statement before the one writing it, in the same block."""
    if setting in chain:
        return chain.index(setting) < chain.index(operand)
    statement = setting
    while statement.parent is not None and statement.parent.type != "compound_statement":
        statement = statement.parent
    node = operand
    while node is not None and node.parent != statement.parent:
        node = node.parent
    return node is not None and node.start_byte > statement.start_byte


def _in_effect(settings, operands, chain_of) -> bool:
    """Whether every operand is written after one of ``settings``."""
    return all(any(_set_before(o, chain_of[o], s) for s in settings) for o in operands)


def _bool_format(settings, operands, chain_of) -> str | None:
    """"number" where the program never sets ``boolalpha``, "word" where every bool is written after it."""
    used = [s for s in settings if _manipulator(s) in _BOOL_STATE]
    if not used:
        return "number"
    if all(_manipulator(s) == "boolalpha" for s in used) and _in_effect(used, operands, chain_of):
        return "word"
    return None


def _double_format(settings, operands, chain_of) -> str | None:
    """``%g``, or ``%.Ng``/``%.Nf`` where every double is written after the ``setprecision(N)`` (and ``fixed``)
    the program sets, with one N; None for any other state."""
    used = {}
    for s in settings:
        used.setdefault(_manipulator(s), []).append(s)
    if not used.keys() <= {"fixed", "setprecision"} or \
            not all(_in_effect(v, operands, chain_of) for v in used.values()):
        return None
    digits = {text(s.child_by_field_name("arguments")).strip("() ") for s in used.get("setprecision", [])}
    if len(digits) > 1 or not all(d.isdigit() for d in digits):
        return None
    precision = f".{digits.pop()}" if digits else ""
    return f"%{precision}f" if "fixed" in used else f"%{precision}g"


def _string_value(node) -> str | None:
    """The value of a (possibly concatenated) string literal, None for anything else or a raw string."""
    parts = node.named_children if node.type == "concatenated_string" else [node]
    if not all(p.type == "string_literal" for p in parts):
        return None
    try:
        return "".join(codecs.decode(text(c), "unicode_escape") if c.type == "escape_sequence" else text(c)
                       for p in parts for c in p.named_children)
    except UnicodeDecodeError:
        return None


def _printf(call) -> tuple[Printf, list] | None:
    """A printf call's format and arguments, when the format is a literal that Python's % writes alike."""
    args = call.child_by_field_name("arguments").named_children
    fmt = _string_value(args[0]) if args else None
    if fmt is None:
        return None
    pieces = _CONVERSION.split(fmt)  # text, then (spec, type) of each conversion and the text after it
    literal, specs, types = pieces[::3], pieces[1::3], pieces[2::3]
    # Every % must start a conversion Python knows (no %p, %n, * widths), one per argument; %% is text.
    if fmt.count("%") != sum(2 if t == "%" else 1 for t in types) or len(types) - types.count("%") != len(args) - 1:
        return None
    around, values = [literal[0]], ""
    for t, after in zip(types, literal[1:]):
        if t == "%":
            around[-1] += "%" + after
        else:
            around.append(after)
            values += t
    python = literal[0] + "".join(f"%{s}{t}{a}" for s, t, a in zip(specs, types, literal[1:]))
    as_str = literal[0] + "".join(("%%" if t == "%" else "%s") + a for t, a in zip(types, literal[1:]))
    plain = all(s == "" and t in "dius%" for s, t in zip(specs, types))
    return Printf(python, tuple(around), values, as_str if plain else None), args[1:]


def read_output(cpp: str) -> Output:
    """How ``cpp`` writes its output (see :class:`Output`)."""
    root = parse(cpp)
    types = _Types(root)
    chain_of, settings, values = {}, [], {"bool": [], "float": []}
    for written in _chains(root):
        for operand in written:
            chain_of[operand] = written
            if _manipulator(operand):
                settings.append(operand)
            elif (kind := types.kind(operand)) in values:
                values[kind].append(operand)
    printfs = [_printf(n) for n in walk(root) if n.type == "call_expression"
               and text(n.child_by_field_name("function")) in ("printf", "std::printf")]
    written = [w for w in map(_stream_text, _chains(root)) if w is not None]
    out = Output(printf=[p[0] for p in printfs if p],
                 stream_values=[(t, tuple(map(python_expression, v))) for t, v in written])
    # printf("%d", b) writes a bool as a number too; %f and the like write doubles their own way, which the
    # format of print's doubles must then leave alone (as must cout.precision(n), cout.setf(...), unread).
    number_bools = any(t in "di" and types.kind(a) == "bool" for p in printfs if p for t, a in zip(p[0].types, p[1]))
    printf_doubles = any(p is None or set(p[0].types) & set("eEfFgG") for p in printfs)
    state_calls = any(n.type == "field_expression" and text(n.child_by_field_name("argument")) in _STREAMS
                      and text(n.child_by_field_name("field")) in _STATE_MEMBERS for n in walk(root))
    if values["bool"] or number_bools:
        out.bools = _bool_format(settings, values["bool"], chain_of)
        if number_bools and out.bools == "word":
            out.bools = None
    if values["float"] and not printf_doubles and not state_calls:
        floats = [s for s in settings if _manipulator(s) in _FLOAT_STATE]
        out.doubles = _double_format(floats, values["float"], chain_of)
    return out


def char_codes(cpp: str) -> dict[str, int]:
    """The names whose chars the C++ uses as numbers: compares or computes with a number literal (``c < 65``,
    ``s[i] - 48``, ``s[i] % 2``, ``c - 'a'``), where a Python translation needs ``ord()``. Maps each name to
    the subscripts that reach its chars (0 for a char variable, 1 for a string or char array, 2 for a vector of
    strings), from the file's declarations."""
    root = parse(cpp)
    types = _Types(root)
    names: dict[str, int] = {}
    for n in walk(root):
        if n.type != "binary_expression" or text(n.child_by_field_name("operator")) not in _NUMERIC:
            continue
        sides = [n.child_by_field_name(s) for s in ("left", "right")]
        others = {s.type for s in sides}
        for side in sides:
            if types.kind(side) != "char" or not others & {"number_literal", "char_literal"}:
                continue
            depth = 0
            while side.type == "subscript_expression":
                side, depth = side.child_by_field_name("argument"), depth + 1
            if side.type == "identifier":
                names[text(side)] = depth
    return names


# What ``m[k]`` of a missing key inserts, per value type, as the Python factory that gives the same value.
_VALUE_DEFAULTS = {**dict.fromkeys(("int", "long", "long long", "short", "unsigned", "unsigned int", "unsigned long",
                                    "unsigned long long", "size_t", "int64_t", "uint64_t", "int32_t", "uint32_t",
                                    "ll"), "int"),
                   **dict.fromkeys(_FLOATS, "float"), "bool": "bool", "string": "str",
                   **dict.fromkeys(("vector", "deque", "list"), "list"),
                   **dict.fromkeys(("set", "unordered_set", "multiset"), "set")}


def _map_value_default(type_node) -> str | None:
    """The factory for ``map<K, V>``/``unordered_map<K, V>``'s V, None for another type or a V without one."""
    while type_node is not None and type_node.type == "qualified_identifier":  # std::map<...>
        type_node = type_node.child_by_field_name("name")
    if type_node is None or type_node.type != "template_type":
        return None
    if _name(type_node.child_by_field_name("name")) not in ("map", "unordered_map"):
        return None
    args = [a for a in type_node.child_by_field_name("arguments").named_children if a.type == "type_descriptor"]
    if len(args) != 2:
        return None
    value = args[1].child_by_field_name("type")
    while value.type == "qualified_identifier":
        value = value.child_by_field_name("name")
    spelled = _name(value.child_by_field_name("name")) if value.type == "template_type" else " ".join(
        text(value).split()).split("::")[-1]
    return _VALUE_DEFAULTS.get(spelled)


def maps_inserting_on_lookup(cpp: str) -> dict[str, str]:
    """The map variables and members the C++ indexes with ``[]``, which inserts a default value for a missing
    key (``cnt[w]++`` counts from 0), with the Python factory of that value (``"int"``, ``"list"``, ...). A name
    declared with two different value types, or a value type with no plain default (a nested map, a pair), is
    left out."""
    root = parse(cpp)
    found: dict[str, set] = {}
    for n in walk(root):
        if n.type in ("declaration", "field_declaration"):
            factory = _map_value_default(n.child_by_field_name("type"))
            for declarator in n.children_by_field_name("declarator"):
                name, function = _declared_name(declarator)
                if name and not function:
                    found.setdefault(name, set()).add(factory)
    indexed = set()
    for n in walk(root):
        if n.type == "subscript_expression":
            target = n.child_by_field_name("argument")
            if target.type == "field_expression":
                target = target.child_by_field_name("field")
            indexed.add(text(target))
    return {name: f.pop() for name, f in found.items() if len(f) == 1 and None not in f and name in indexed}


_LOOPS = {"for_statement", "while_statement", "do_statement", "for_range_loop"}


def _python_literal(node) -> str | None:
    """A C++ initialiser as the Python literal of the same value: numbers, ``true``/``false``, ``""``."""
    if node.type == "number_literal" and re.fullmatch(r"-?[0-9]+(\.[0-9]*)?", text(node)):
        return text(node)
    if node.type in ("true", "false"):
        return node.type.capitalize()
    if node.type == "string_literal" and _string_value(node) == "":
        return '""'
    return None


def initialised_locals(cpp: str) -> dict[str, dict[str, tuple[str, int]]]:
    """For each function, its locals declared with a literal initialiser (``int sum = 0;``), as the Python
    literal and the number of loops the declaration sits in (a declaration in a loop body starts over on
    every pass). A name declared twice in one function is left out."""
    out: dict[str, dict[str, tuple[str, int]]] = {}
    for fn in walk(parse(cpp)):
        if fn.type != "function_definition":
            continue
        name, _ = _declared_name(fn.child_by_field_name("declarator"))
        found: dict[str, set] = {}
        for n in walk(fn.child_by_field_name("body") or fn):
            if n.type != "declaration":
                continue
            depth, node, up = 0, n, n.parent
            while up is not None and up != fn:
                # a for statement's own initialiser (for (int i = 0, j = -1; ...)) runs once, before its loop
                depth += up.type in _LOOPS and up.child_by_field_name("initializer") != node
                node, up = up, up.parent
            for declarator in n.children_by_field_name("declarator"):
                var, _ = _declared_name(declarator)
                value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
                literal = _python_literal(value) if value is not None else None
                if var:
                    found.setdefault(var, set()).add((literal, depth))
        locals_ = {v: d.pop() for v, d in found.items() if len(d) == 1}
        if name:
            out[name] = {v: d for v, d in locals_.items() if d[0] is not None}
    return out



def _string_parameters(fn) -> set[str]:
    """The parameters of function definition ``fn`` declared ``string``/``std::string`` by value: a copy of the
    caller's, as ``list(s)`` is (a ``string&`` writes the caller's own, which may already be a list)."""
    declarator = function_declarator(fn.child_by_field_name("declarator"))
    params = declarator.child_by_field_name("parameters") if declarator is not None else None
    out = set()
    for p in params.named_children if params is not None else []:
        type_node = p.child_by_field_name("type")
        const = any(c.type == "type_qualifier" and text(c) == "const" for c in p.children)
        inner = p.child_by_field_name("declarator")
        if type_node is None or const or inner is None or inner.type != "identifier":
            continue
        name, _ = _declared_name(inner)
        if name and " ".join(text(type_node).split()).split("::")[-1] == "string":
            out.add(name)
    return out


def strings_written_by_index(cpp: str) -> dict[str, set[str]]:
    """For each function, its ``string`` parameters taken by value whose chars it assigns through ``[]``
    (``s[i] = 'a'``, ``s[j++] = s[i]``, ``++s[i]``, ``swap(s[i], s[j])``): a C++ string is mutable, a Python str
    is not."""
    out: dict[str, set[str]] = {}
    for fn in walk(parse(cpp)):
        if fn.type != "function_definition" or fn.child_by_field_name("body") is None:
            continue
        name, _ = _declared_name(fn.child_by_field_name("declarator"))
        params = _string_parameters(fn)
        written = set()
        for n in walk(fn.child_by_field_name("body")):
            if n.type == "assignment_expression":
                targets = [n.child_by_field_name("left")]
            elif n.type == "update_expression":
                targets = [n.child_by_field_name("argument")]
            elif n.type == "call_expression" and _name(n.child_by_field_name("function")) == "swap":
                targets = n.child_by_field_name("arguments").named_children
            else:
                continue
            for target in targets:
                if target is not None and target.type == "subscript_expression":
                    argument = target.child_by_field_name("argument")
                    if argument.type == "identifier" and text(argument) in params:
                        written.add(text(argument))
        if name and written:
            out.setdefault(name, set()).update(written)
    return out


# The limits of int, as ``<climits>`` and ``<limits>`` spell them, and their values.
_INT_LIMITS = {"INT_MAX": 2**31 - 1, "INT_MIN": -2**31, "numeric_limits<int>::max": 2**31 - 1,
               "numeric_limits<int>::min": -2**31, "numeric_limits<int>::lowest": -2**31}
_OPERATORS = {"+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"}


def _limit(node) -> str | None:
    """``INT_MAX``, ``numeric_limits<int>::max`` (for ``std::numeric_limits<int>::max()``), ``LLONG_MIN``...:
    the limit ``node`` names, None for anything else."""
    if node.type == "call_expression":
        node = node.child_by_field_name("function")
        spelled = "".join(text(node).split()).removeprefix("std::")
        return spelled if node.type == "qualified_identifier" and spelled.startswith("numeric_limits<") else None
    if node.type == "identifier" and (text(node) in ("INFINITY", "HUGE_VAL") or re.fullmatch(
            r"[A-Z][A-Z0-9]*_(MAX|MIN)", text(node))):
        return text(node)
    return None


def _other_infinity(node) -> bool:
    """A number the C++ may use as an infinity besides the int limits: a literal of 10^9 or more (``1e9``,
    ``0x3f3f3f3f``), ``1 << 30`` and up, a name of one (``INF``, ``kInf``)."""
    if node.type == "number_literal":
        value = number(node)
        return value is None or abs(value) >= 10**9
    if node.type == "binary_expression" and text(node.child_by_field_name("operator")) == "<<":
        right = node.child_by_field_name("right")
        return right.type == "number_literal" and text(right).isdigit() and int(text(right)) >= 30
    return node.type == "identifier" and "inf" in text(node).lower()


def int_limits(cpp: str) -> dict[str, tuple[int | None, int | None]]:
    """For each function that uses an int limit (``INT_MAX``, ``numeric_limits<int>::min()``, ``-INT_MAX``) as
    it is, the value of its one largest limit and of its one smallest, as (largest, smallest), None for a side it
    uses none or more than one of, or a value of it in arithmetic (``INT_MAX / 2``), or another limit there
    (``LLONG_MAX``, ``numeric_limits<double>::infinity()``). Empty where the file has another number it may use
    as an infinity (``1e9``, ``INF``): a translation's ``float('inf')`` could be either."""
    root = parse(cpp)
    if any(_other_infinity(n) for n in walk(root)):
        return {}
    facts: dict[str, set] = {}
    for fn in walk(root):
        if fn.type != "function_definition" or fn.child_by_field_name("body") is None:
            continue
        name, _ = _declared_name(fn.child_by_field_name("declarator"))
        values: set = set()  # the limits' values, "other" for another limit or one in arithmetic
        for n in walk(fn.child_by_field_name("body")):
            limit = _limit(n)
            if limit is None:
                continue
            value, up = _INT_LIMITS.get(limit, "other"), n.parent
            if value != "other" and up.type == "unary_expression" and text(up.child_by_field_name("operator")) == "-":
                value, up = (-value if value > 0 else "other"), up.parent  # -INT_MIN overflows
            if up.type == "binary_expression" and text(up.child_by_field_name("operator")) in _OPERATORS:
                value = "other"
            values.add(value)
        if name and values:
            facts.setdefault(name, set()).add(frozenset(values))
    out = {}
    for name, kinds in facts.items():
        values = kinds.pop()
        if kinds or "other" in values:  # defined twice with different limits (Solution and Solution2)
            continue
        big, small = {v for v in values if v > 0}, {v for v in values if v < 0}
        out[name] = (big.pop() if len(big) == 1 else None, small.pop() if len(small) == 1 else None)
    return {k: v for k, v in out.items() if v != (None, None)}


_INTEGRAL = {name for name, factory in _VALUE_DEFAULTS.items() if factory == "int"} | _CHARS


def _constant_value(node, known: dict[str, int | float]) -> int | float | None:
    """The value of a constant C++ expression made of literals, ``known`` names and arithmetic, as C++
    computes it (``/`` and ``%`` of ints truncate toward zero); None for anything else."""
    if node.type == "number_literal":
        return number(node)
    if node.type == "identifier":
        return known.get(text(node))
    if node.type == "parenthesized_expression" and node.named_child_count == 1:
        return _constant_value(node.named_children[0], known)
    if node.type == "unary_expression":
        op = text(node.child_by_field_name("operator"))
        value = _constant_value(node.child_by_field_name("argument"), known)
        if value is None or op not in "-+~" or (op == "~" and isinstance(value, float)):
            return None
        return -value if op == "-" else ~value if op == "~" else value
    if node.type != "binary_expression":
        return None
    op = text(node.child_by_field_name("operator"))
    a, b = (_constant_value(node.child_by_field_name(side), known) for side in ("left", "right"))
    if a is None or b is None or op not in _OPERATORS:
        return None
    if not (isinstance(a, int) and isinstance(b, int)):
        return _ARITHMETIC_OPS[op](a, b) if op in "+-*" or op == "/" and b else None
    if op in ("/", "%"):
        if b == 0:
            return None
        quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # C++ truncates toward zero
        return quotient if op == "/" else a - b * quotient
    return None if op == "<<" and not 0 <= b < 64 else _ARITHMETIC_OPS[op](a, b)


_ARITHMETIC_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
                   "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_, "|": operator.or_,
                   "^": operator.xor}


def constants(cpp: str) -> dict[str, str]:
    """The named constants of the C++ (``#define MAX 100``, ``const int MOD = 1e9 + 7``, ``static constexpr``
    members, the enumerators of plain ``enum``s), each as the Python literal of its value, converted to the
    declared type (``int`` for ``1e9 + 7``). A name given two different values (``Solution`` and ``Solution2``), or
    a value that is no constant arithmetic of literals and such names, is left out."""
    root = parse(cpp)
    known: dict[str, int | float] = {}
    clashes: set[str] = set()

    def define(name: str, value: int | float | None) -> None:
        if value is None or isinstance(value, float) and value != value or abs(value) >= 2**63:
            return
        if known.get(name, value) != value:
            clashes.add(name)
        known[name] = value

    for n in walk(root):
        if n.type == "preproc_def" and n.child_by_field_name("value") is not None:
            # the line may end in a // comment; not through parse's cache, which keeps whole files' trees
            arg = parse.__wrapped__(f"auto x = {text(n.child_by_field_name('value'))}\n;")
            values = [d.child_by_field_name("value") for d in walk(arg) if d.type == "init_declarator"]
            if len(values) == 1 and not arg.has_error:
                define(text(n.child_by_field_name("name")), _constant_value(values[0], known))
        elif n.type == "enum_specifier" and n.child_by_field_name("body") is not None \
                and not any(c.type in ("class", "struct") for c in n.children):
            value: int | float | None = -1
            for e in n.child_by_field_name("body").named_children:
                if e.type != "enumerator":
                    continue
                given = e.child_by_field_name("value")
                value = _constant_value(given, known) if given is not None else (
                    value + 1 if isinstance(value, int) else None)
                define(text(e.child_by_field_name("name")), value)
        elif n.type in ("declaration", "field_declaration") and any(
                c.type == "type_qualifier" and text(c) in ("const", "constexpr") for c in n.children):
            spelled = " ".join(text(n.child_by_field_name("type")).split()).removeprefix("std::")
            if spelled not in _INTEGRAL | _FLOATS:
                continue
            pairs = [(d.child_by_field_name("declarator"), d.child_by_field_name("value"))
                     for d in n.children_by_field_name("declarator") if d.type == "init_declarator"]
            if n.type == "field_declaration" and n.child_by_field_name("default_value") is not None:
                pairs.append((n.child_by_field_name("declarator"), n.child_by_field_name("default_value")))
            for name, given in pairs:
                if name is None or given is None or name.type not in ("identifier", "field_identifier"):
                    continue
                value = _constant_value(given, known)
                if value is not None and spelled in _INTEGRAL:
                    value = int(value)
                elif value is not None:
                    value = float(value)
                define(text(name), value)
    return {name: repr(value) for name, value in known.items() if name not in clashes}


def namespaces(cpp: str) -> set[str]:
    """The names of the C++'s namespaces, each part of a nested ``a::b`` one too."""
    names = [n.child_by_field_name("name") for n in walk(parse(cpp)) if n.type == "namespace_definition"]
    return {text(part) for name in names if name is not None for part in walk(name)
            if part.type == "namespace_identifier"}


def free_functions(cpp: str) -> dict[str, int]:
    """The C++'s functions outside classes, but ``main``, with how many parameters each takes (a name
    defined with two arities, an overload, is left out)."""
    found: dict[str, set[int]] = {}
    for n in walk(parse(cpp)):
        if n.type != "function_definition" or any(
                up.type in ("class_specifier", "struct_specifier", "function_definition", "lambda_expression")
                for up in _ancestors(n)):
            continue
        declarator = n.child_by_field_name("declarator")
        name, function = _declared_name(declarator)
        functions = [d for d in walk(declarator) if d.type == "function_declarator"]
        if not name or not function or name == "main" or "::" in text(functions[0].child_by_field_name(
                "declarator")):
            continue
        params = functions[0].child_by_field_name("parameters").named_children
        arity = sum(p.type in ("parameter_declaration", "optional_parameter_declaration") for p in params)
        arity -= any(text(p) == "void" for p in params)
        found.setdefault(name, set()).add(arity)
    return {name: arities.pop() for name, arities in found.items() if len(arities) == 1}


def _ancestors(node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def struct_fields(cpp: str) -> dict[str, list[str]]:
    """Where the C++ unpacks with structured bindings (``auto& [name, score] : students``), its structs' data
    members in declaration order, the order a binding takes them in; empty where it binds none. A struct with
    private or protected members (no binding takes it apart) is left out."""
    root = parse(cpp)
    if not any(n.type == "structured_binding_declarator" for n in walk(root)):
        return {}
    out: dict[str, list[str]] = {}
    for n in walk(root):
        name, body = n.child_by_field_name("name"), n.child_by_field_name("body")
        if n.type != "struct_specifier" or name is None or body is None or any(
                c.type == "access_specifier" and text(c) != "public" for c in body.named_children):
            continue
        fields = []
        for d in body.named_children:
            if d.type == "field_declaration" and not any(c.type == "storage_class_specifier" for c in d.children):
                for declarator in d.children_by_field_name("declarator"):
                    member, function = _declared_name(declarator)
                    fields += [member] if member and not function else []
        if fields:
            out[text(name)] = fields
    return out


def _range_of(begin, end, first: str, last: str) -> str | None:
    """``v`` where ``begin``/``end`` are ``v.first()``/``v.last()`` of one plain variable ``v``."""
    ends = []
    for call, method in ((begin, first), (end, last)):
        callee = call.child_by_field_name("function") if call.type == "call_expression" else None
        if callee is None or callee.type != "field_expression" or text(callee.child_by_field_name("field")) != method \
                or callee.child_by_field_name("argument").type != "identifier":
            return None
        ends.append(text(callee.child_by_field_name("argument")))
    return ends[0] if ends[0] == ends[1] else None


def _greater_than(lam) -> str | None:
    """For a comparator lambda whose body is only ``return a > b;`` or ``return a.f > b.f;`` (``a``, ``b`` its
    two parameters, in that order): "" or "f". None for any other body: ties broken on a second key, a
    computed key, ``<``."""
    params = [d for d in walk(lam.child_by_field_name("declarator")) if d.type == "parameter_declaration"]
    names = [[text(i) for i in walk(p.child_by_field_name("declarator")) if i.type == "identifier"] for p in params]
    body = lam.child_by_field_name("body").named_children
    if len(names) != 2 or any(len(n) != 1 for n in names) or len(body) != 1 or body[0].type != "return_statement" \
            or len(body[0].named_children) != 1:
        return None
    compare = body[0].named_children[0]
    if compare.type != "binary_expression" or text(compare.child_by_field_name("operator")) != ">":
        return None
    sides = [compare.child_by_field_name("left"), compare.child_by_field_name("right")]
    if all(s.type == "identifier" for s in sides):
        return "" if [text(s) for s in sides] == [names[0][0], names[1][0]] else None
    if all(s.type == "field_expression" and text(s.child_by_field_name("operator")) == "." for s in sides) \
            and [text(s.child_by_field_name("argument")) for s in sides] == [names[0][0], names[1][0]] \
            and text(sides[0].child_by_field_name("field")) == text(sides[1].child_by_field_name("field")):
        return text(sides[0].child_by_field_name("field"))
    return None


def descending_sorts(cpp: str) -> dict[str, str]:
    """The variables the C++ sorts whole in descending order, each with the member it compares ("" for the
    elements themselves): ``sort(v.begin(), v.end(), greater<>())``, ``sort(v.rbegin(), v.rend())`` and a
    comparator lambda that is only ``return a.f > b.f;``. A variable also sorted another way is left out."""
    found: dict[str, set[str | None]] = {}
    for n in walk(parse(cpp)):
        if n.type != "call_expression" or text(n.child_by_field_name("function")) not in ("sort", "std::sort"):
            continue
        args = n.child_by_field_name("arguments").named_children
        if len(args) not in (2, 3):
            continue
        forward, backward = _range_of(args[0], args[1], "begin", "end"), _range_of(args[0], args[1], "rbegin", "rend")
        if len(args) == 2 and backward:
            found.setdefault(backward, set()).add("")
        elif forward:
            key = None
            if len(args) == 3 and args[2].type == "lambda_expression":
                key = _greater_than(args[2])
            elif len(args) == 3 and re.fullmatch(r"(std::)?greater<[^<>]*>\s*(\(\)|\{\})", text(args[2])):
                key = ""
            found.setdefault(forward, set()).add(key)
    return {name: keys.pop() for name, keys in found.items() if len(keys) == 1 and None not in keys}
