"""The oracle for a whole program: its stdout and exit status on the user's inputs and on generated ones
whose shape follows the program's reads (``cin >>``, ``getline``, ``scanf``, a count read then a loop)."""
from __future__ import annotations

import hashlib
import random
from collections import Counter
import re
import string
from dataclasses import dataclass, field

from cpp2py import cpptree
from cpp2py.execution.oracle import compare, cppast
from cpp2py.execution.oracle._sandbox import compile_cached, run_cached, run_python
from cpp2py.execution.oracle.cpptypes import Unsupported, ctype
from cpp2py.execution.oracle.verdict import Counterexample, NoOracle, OracleResult

# Each input is one run of the C++ and one of every candidate: programs get fewer generated inputs than
# functions get cases.
MAX_GENERATED = 8
RUN_SECONDS = 10.0
_SCANF = re.compile(r"%[-+ #0]*\*?\d*(hh|h|ll|l|L|z|j|t)?([diouxXfFeEgGaAcs]|\[[^\]]*\])")


@dataclass
class Read:
    """One value the program reads: kind is int, float, char, word or line; ``name`` the variable."""

    kind: str
    name: str = ""


@dataclass
class Loop:
    """Reads repeated ``count`` times: a variable read earlier, a literal, or None (until end of input)."""

    count: str | int | None
    body: list = field(default_factory=list)


_KINDS = {"int": "int", "float": "float", "char": "char", "string": "word", "bool": "int"}


def _declared(root) -> dict[str, str]:
    """Variable name -> the kind of value a read into it takes (containers: their elements')."""
    kinds = {}
    for n in cppast.walk(root):
        if n.type not in ("declaration", "field_declaration", "parameter_declaration"):
            continue
        try:
            t = ctype(n.child_by_field_name("type"))
        except Unsupported:
            continue
        while t.kind == "list" and t.args:
            t = t.args[0]
        kind = _KINDS.get(t.kind)
        for d in n.children_by_field_name("declarator"):
            while d is not None and d.type != "identifier":
                d = d.child_by_field_name("declarator") or next(iter(d.named_children), None)
            if d is not None and kind:
                kinds.setdefault(cppast.text(d), kind)
    return kinds


def _base_name(node) -> str:
    """The variable an lvalue expression names: ``a[i]`` -> a, ``p.x`` -> p, ``&n`` -> n."""
    while node.type in ("subscript_expression", "field_expression", "pointer_expression", "parenthesized_expression"):
        node = node.named_children[0]
    return cppast.text(node)


class _Shape:
    def __init__(self, root, funcs: dict):
        self.kinds = _declared(root)
        self.funcs = funcs
        self.depth = 0

    def reads(self, node) -> list:
        """The reads under ``node``, in order, with loops around the ones inside loops."""
        t = node.type
        if t == "binary_expression":
            chain = cpptree.chain(node, ">>", ("cin", "std::cin"))
            if chain is not None:
                return [Read(self.kinds.get(_base_name(o), "int"), _base_name(o)) for o in chain]
        if t == "call_expression":
            return self._call(node)
        if t in ("for_statement", "while_statement", "do_statement"):
            body = [r for c in node.children if c.type not in ("condition_clause",) for r in self.reads(c)
                    if c != node.child_by_field_name("condition")]
            cond = node.child_by_field_name("condition")
            cond_reads = self.reads(cond) if cond is not None else []
            if cond_reads:  # while (cin >> x): read until the input ends
                return [Loop(None, cond_reads + body)]
            return [Loop(self._count(cond), body)] if body else []
        return [r for c in node.children for r in self.reads(c)]

    def _call(self, node) -> list:
        name = cppast.text(node.child_by_field_name("function"))
        args = node.child_by_field_name("arguments")
        argv = args.named_children if args is not None else []
        if name in ("getline", "std::getline") and argv and cppast.text(argv[0]) in ("cin", "std::cin"):
            return [Read("line", _base_name(argv[1]) if len(argv) > 1 else "")]
        if name in ("scanf", "std::scanf") and argv and argv[0].type == "string_literal":
            kinds = [("float" if m.group(2) in "fFeEgGaA" else "char" if m.group(2) == "c"
                      else "word" if m.group(2) == "s" else "line" if m.group(2).startswith("[") else "int")
                     for m in _SCANF.finditer(cppast.text(argv[0])) if "*" not in m.group(0)]
            return [Read(k, _base_name(a)) for k, a in zip(kinds, argv[1:])]
        found = [r for a in argv for r in self.reads(a)]
        callee = self.funcs.get(name)
        if callee is not None and self.depth < 4:  # reads inside the program's own functions, in call order
            self.depth += 1
            found += self.reads(callee.node.child_by_field_name("body"))
            self.depth -= 1
        return found

    @staticmethod
    def _count(cond) -> str | int:
        """How often a loop runs, from its condition: ``i < n`` -> n, ``t--`` -> t, ``i < 5`` -> 5."""
        if cond is None:
            return 3
        names = [n for n in cppast.walk(cond) if n.type in ("identifier", "number_literal")]
        if cond.type in ("binary_expression",) and cond.child_by_field_name("right") is not None:
            right = cond.child_by_field_name("right")
            if right.type == "number_literal" and cppast.text(right).isdigit():
                return min(int(cppast.text(right)), 50)
            ids = [n for n in cppast.walk(right) if n.type == "identifier"]
            if ids:
                return cppast.text(ids[0])
        ids = [cppast.text(n) for n in names if n.type == "identifier"]
        return ids[-1] if ids else 3


def shape(root) -> list:
    funcs = {f.name: f for f in cppast.functions(root) if f.cls is None}
    main = funcs["main"]
    return _Shape(root, funcs).reads(main.node.child_by_field_name("body"))


def _counts(items: list, out: set) -> set:
    for it in items:
        if isinstance(it, Loop):
            if isinstance(it.count, str):
                out.add(it.count)
            _counts(it.body, out)
    return out


def _value(r: Read, rng: random.Random, counts: set) -> str:
    if r.name in counts:
        return str(rng.choice((1, 2, 3, 4, 5, 0, 6)))
    if r.kind == "int":
        return str(rng.choice((0, 1, 2, 5, 10, -3, 100)) if rng.random() < 0.3 else rng.randint(-20, 100))
    if r.kind == "float":
        return repr(rng.randint(-80, 80) / 4)
    if r.kind == "char":
        return rng.choice(string.ascii_lowercase)
    if r.kind == "line":
        return " ".join(_word(rng) for _ in range(rng.randint(1, 4)))
    return _word(rng)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 6)))


def generate(items: list, rng: random.Random, counts: set, env: dict, lines: list[str]) -> None:
    """Append the input lines for ``items``: one line per read statement, a loop's reads ``count`` times."""
    line: list[str] = []
    for it in items:
        if isinstance(it, Loop):
            if line:
                lines.append(" ".join(line))
                line = []
            n = env.get(it.count, 3) if isinstance(it.count, str) else it.count
            n = rng.randint(0, 4) if n is None else max(0, min(int(n), 20))
            for _ in range(n):
                generate(it.body, rng, counts, env, lines)
            continue
        v = _value(it, rng, counts)
        if it.name in counts:
            env[it.name] = int(v)
        if it.kind == "line":
            if line:
                lines.append(" ".join(line))
                line = []
            lines.append(v)
        else:
            line.append(v)
    if line:
        lines.append(" ".join(line))


def _reads_lines(items: list) -> bool:
    return any(_reads_lines(it.body) if isinstance(it, Loop) else it.kind == "line" for it in items)


def inputs(source: str, root, budget: int) -> list[str]:
    """Generated stdin texts (deterministic for a source), or [""] when the program reads nothing."""
    items = shape(root)
    if not items:
        return [""]
    rng = random.Random(int(hashlib.sha256(source.encode()).hexdigest()[:16], 16))
    counts = _counts(items, set())
    # cin >> and scanf read tokens wherever the lines break, so every other input of a program that reads
    # no whole line puts all its tokens on one line: a translation reading a value per line
    # (float(input())) fails there, as it would on a user's "5\n3.5 1.25 10".
    tokens_only = not _reads_lines(items)
    out: list[str] = []
    for _ in range(budget * 3):
        if len(out) >= budget:
            break
        lines: list[str] = []
        generate(items, rng, counts, {}, lines)
        text = "\n".join(lines) + "\n"
        if tokens_only and len(out) % 2:
            text = " ".join(text.split()) + "\n"
        if text not in out:
            out.append(text)
    return out


@dataclass
class Case:
    stdin: str
    stdout: str
    status: int


def _failure(res) -> str | None:
    """Why a run of the C++ cannot be an expected result, or None when it can."""
    if "runtime error:" in res.stderr or "Sanitizer" in res.stderr:
        return "undefined behaviour"
    if res.status == "timeout":
        return "timeout"
    if res.status == "killed" or res.returncode is None or res.returncode < 0:
        return "crash"
    return "output too long" if res.truncated else None


def build(source: str, root, stdin: list[str], budget: int) -> "ProgramOracle | NoOracle":
    built = compile_cached(source)
    if isinstance(built, str):
        line = next((ln for ln in built.splitlines() if "error" in ln), built.strip()[:200])
        return NoOracle(f"the C++ does not compile: {line.strip()[:300]}")
    binary, std = built
    cases, dropped = [], Counter()
    for text in stdin + inputs(source, root, min(budget, MAX_GENERATED)):
        res = run_cached(binary, stdin=text, timeout=RUN_SECONDS)
        why = _failure(res)
        if why:
            dropped[why] += 1
        else:
            cases.append(Case(text, res.stdout, res.returncode))
    if not cases:
        return NoOracle("the C++ crashes, times out or has undefined behaviour on every input")
    again = run_cached(binary, stdin=cases[0].stdin, timeout=RUN_SECONDS)
    if again.stdout != cases[0].stdout or again.returncode != cases[0].status:
        return NoOracle("nondeterministic output: two runs of the C++ on the same input differ")
    return ProgramOracle(cases, dict(dropped), std)


class ProgramOracle:
    kind = "program"

    def __init__(self, cases: list[Case], dropped: dict[str, int], std: str):
        self.cases = cases
        self.dropped = dropped  # why inputs were left out, with counts
        self.std = std  # the C++ standard it built with: a compare_stdout item must compile it the same way

    @property
    def cases_total(self) -> int:
        return len(self.cases)

    def check(self, code: str, *, timeout: float = RUN_SECONDS) -> OracleResult:
        """Run ``code`` (only in the sandbox) on every input; it must print what the C++ printed (trailing
        whitespace aside) and exit with the same status."""
        passed, first = 0, None
        for c in self.cases:
            res = run_python(code, stdin=c.stdin, timeout=timeout)
            if res.returncode == c.status and compare.same_output(res.stdout, c.stdout):
                passed += 1
            elif first is None:
                tail = f"\n[exit status {res.returncode if res.status != 'timeout' else 'timeout'}]"
                err = res.stderr.strip().splitlines()[-1:] if res.returncode else []
                first = Counterexample(c.stdin[:2000], c.stdout[:2000] + f"\n[exit status {c.status}]",
                                       res.stdout[:2000] + tail + "".join(f"\n{e}" for e in err))
        return OracleResult(passed, len(self.cases), first)
