"""The oracle for C++ without ``main``: typed inputs per entry function, a C++ driver that prints what each
call returns (and what it wrote through references and arrays, and printed), and the Python driver's twin."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
import random
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from cpp2py.execution.oracle import compare, cppast, values
from cpp2py.execution.oracle._sandbox import compile_cached, run_cached, run_python
from cpp2py.execution.oracle.cpptypes import NODES, Param, Unsupported, link_sizes, param
from cpp2py.execution.oracle.verdict import Counterexample, NoOracle, OracleResult

_HERE = Path(__file__).parent
# Cases slower than this in the sanitized C++ would take seconds in CPython; they test speed, not meaning.
MAX_CASE_MICROSECONDS = 10_000
PY_CASE_SECONDS = 2
SCALARS = ("int", "float", "bool", "char", "string")
_INDEX = re.compile(r"(?i)^(k|i|j|idx|index|pos|position|start|end|l|r|left|right)$")


@dataclass
class Target:
    func: cppast.Function
    params: list[Param]
    cases: list[list] = field(default_factory=list)  # argument values, one list per case
    expected: dict[int, dict] = field(default_factory=dict)  # case index -> what the C++ did
    outs: list[int] = field(default_factory=list)  # scalar reference parameters some case wrote to
    written: list[int] = field(default_factory=list)  # container/array parameters some case wrote to
    tolerance: float = compare.TOLERANCE

    @property
    def mutable(self) -> list[int]:
        return [j for j, p in enumerate(self.params) if (p.ref or p.array) and not p.cstring]

    def spec(self) -> dict:
        """What both Python drivers need to call the target and judge a case (:func:`compare.mismatch`),
        without its cases."""
        return {"name": self.func.name, "cls": self.func.cls, "outs": self.outs, "mutable": self.mutable,
                "written": self.written, "tolerance": self.tolerance, "params": [p.name for p in self.params],
                "arrays": [j for j, p in enumerate(self.params) if p.array],
                "nodes": [j for j, p in enumerate(self.params) if p.type.kind in NODES.values()]}

    def tagged_case(self, i: int) -> list:
        return [values.tagged(p.value_type, v) for p, v in zip(self.params, self.cases[i])]


def find_targets(root) -> list[Target] | NoOracle:
    funcs = cppast.roots(cppast.functions(root))
    if not funcs:
        return NoOracle("no function definition found")
    found, why = [], []
    for f in funcs:
        try:
            params = link_sizes([param(p) for p in f.params])
        except Unsupported as e:
            why.append(f"{f.name}: {e} is not supported")
            continue
        tol = compare.SINGLE_TOLERANCE if "float" in cppast.text(f.node) else compare.TOLERANCE
        found.append(Target(f, params, tolerance=tol))
    return found or NoOracle("unsupported parameter type: " + "; ".join(why))


def make_cases(t: Target, source: str, root, budget: int) -> None:
    """Up to ``budget`` distinct argument lists, the same ones for the same source (seeded by its hash)."""
    seed = int(hashlib.sha256(f"{source}\0{t.func.name}".encode()).hexdigest()[:16], 16)
    rng = random.Random(seed)
    # The function's own code shows its domain: its body, the helpers it calls, and the globals.
    scope = [t.func.node] + [f.node for f in cppast.functions(root) if f.name in t.func.calls] + [
        n for n in root.named_children if n.type == "declaration"]
    chars, words = (sum(x, []) for x in zip(*(cppast.literals(n) for n in scope)))
    if any(cppast.mentions_case(n) for n in scope):
        chars += list(string.ascii_letters)
    signed = any(cppast.tests_negativity(n) for n in scope)
    domains = [_domain(t.func.node, p, chars, words, signed) for p in t.params]
    seen = set()
    for n in range(budget * 4):
        if len(t.cases) >= budget:
            break
        if n < len(values.EDGES):  # every function meets the empty and the one-element input first
            args = [None if p.size_of is not None else values.edge(p.value_type, values.EDGES[n], d)
                    for p, d in zip(t.params, domains)]
        else:
            args = [None if p.size_of is not None else values.generate(p.value_type, rng, d)
                    for p, d in zip(t.params, domains)]
        for j, p in enumerate(t.params):
            if p.size_of is not None:
                args[j] = len(args[p.size_of])
            elif n >= len(values.EDGES) and p.value_type.kind == "int" and _INDEX.match(p.name) and rng.random() < 0.6:
                sized = [values.size(q.value_type, a) for a, q in zip(args, t.params)
                         if q.value_type.kind in ("list", "string", *NODES.values())]
                if sized:  # k, i, pos: a count or position within the container, as callers pass it
                    args[j] = rng.randint(0, sized[0])
        k = repr(args)
        if k not in seen:
            seen.add(k)
            t.cases.append(args)
    if not t.params:
        t.cases = [[]]


def _domain(func_node, p: Param, chars: list[str], words: list[str], signed: bool) -> values.Domain:
    """Parameter ``p``'s domain: the source's literals and whether it tests for negative numbers anywhere
    (``signed``), and what the function's body shows about ``p``.
    Numbers a string's characters are compared with (``s[i] >= 65 && s[i] <= 90``) span its alphabet; a
    string read digit by digit (``s[i] - '0'``) is digits. A number the body never compares starts at 1
    (``largest_divisor(0)`` is no question its code answers), container elements at 0."""
    use = cppast.usage(func_node, p.name)
    low = use.low if use.low is not None else int(p.value_type.kind in ("int", "float"))
    if use.digits:
        chars = list(string.digits)
    codes = [int(c) for c in use.near if 32 <= c < 127]
    if len(codes) >= 2 and _texts(p.value_type):  # 65..90 and 97..122: two ranges, not one from A to z
        chars = chars + [chr(c) for lo, hi in zip(codes[::2], codes[1::2]) for c in range(lo, hi + 1)]
    # A list or tree is empty (nullptr) where the code asks whether the pointer is null: a function that does not
    # (the entry of a recursive helper) is handed at least one node, as LeetCode's constraints mostly say.
    empty = use.empty or use.zero and p.value_type.kind in NODES.values()
    return values.Domain(chars, words, signed=signed or use.signed, empty=empty, low=low, near=use.near,
                         numeric=use.numeric, tokens=p.value_type.kind == "list")


def _texts(t) -> bool:
    return t.kind in ("string", "char") or any(_texts(a) for a in t.args)


def _decl(p: Param, j: int) -> tuple[str, str]:
    """(declaration reading parameter ``j`` from stdin, argument expression)."""
    if p.cstring:
        return (f"std::string s{j}; cpp2py_oracle::get(std::cin, s{j}); "
                f"std::vector<char> a{j}(s{j}.begin(), s{j}.end()); a{j}.push_back(0);"), f"a{j}.data()"
    if p.array:
        return f"cpp2py_oracle::Array<{p.type.spelling}> a{j}; cpp2py_oracle::get(std::cin, a{j});", f"a{j}.data()"
    return f"{p.type.spelling} a{j}{{}}; cpp2py_oracle::get(std::cin, a{j});", f"a{j}"


def _put(p: Param, j: int) -> str:
    if p.array:
        return f"cpp2py_oracle::put_array(std::cout, a{j}.data(), a{j}.n);"
    return f"cpp2py_oracle::put(std::cout, a{j});"


def _target(t: Target, ti: int) -> str:
    decls, exprs = zip(*(_decl(p, j) for j, p in enumerate(t.params))) if t.params else ((), ())
    puts = ' std::cout << ", "; '.join(_put(t.params[j], j) for j in t.mutable)
    f = t.func
    obj = f"{f.cls} cpp2py_obj;" if f.cls else ""
    callee = f"cpp2py_obj.{f.name}" if f.cls else f"::{f.name}"
    return f"""static void cpp2py_target_{ti}(int g) {{
    {' '.join(decls)} {obj}
    std::cout << "\\x02" "CASE " << g << " ["; {puts} std::cout << "]\\n";
    cpp2py_oracle::run(g, [&]() -> decltype(auto) {{ return {callee}({', '.join(exprs)}); }});
    {puts} std::cout << "]]\\n" << std::flush;
}}
"""


def cpp_driver(source: str, targets: list[Target], declarations: str = "") -> str:
    """The C++ program: the printer, the source, one reader-caller per target, and a main that runs the cases
    it reads from stdin (so one binary serves any cases, and a crash at one is skipped by re-running the rest)."""
    calls = "".join(f"        case {ti}: cpp2py_target_{ti}(g); break;\n" for ti in range(len(targets)))
    return (_HERE.joinpath("prelude.hpp").read_text() + declarations + "\n#line 1 \"input.cpp\"\n" + source + "\n"
            + "".join(_target(t, ti) for ti, t in enumerate(targets))
            + "int main() {\n    int g, t;\n    while (std::cin >> g >> t) {\n        switch (t) {\n" + calls
            + "        default: return 2;\n        }\n    }\n    return 0;\n}\n")


def _stdin(targets: list[Target], ids: list[int]) -> str:
    numbered, g = {}, 0
    for ti, t in enumerate(targets):
        for args in t.cases:
            numbered[g] = f"{g} {ti} " + " ".join(values.serialize(p.value_type, v) for p, v in zip(t.params, args))
            g += 1
    return "\n".join(numbered[i] for i in ids) + "\n"


_RECORD = re.compile(r"\x02CASE (\d+) (.*?)\n(.*?)\n\x02END \1 (\d+) (.*?)\n", re.S)


def parse_run(stdout: str) -> dict[int, dict]:
    """Case number -> {before, out, us, ret, after} for each case the run finished."""
    done = {}
    for m in _RECORD.finditer(stdout):
        try:
            before = json.loads(m.group(2))
            ret_after = json.loads(m.group(5))
        except json.JSONDecodeError:
            continue
        done[int(m.group(1))] = {"before": before, "out": m.group(3), "us": int(m.group(4)),
                                 "ret": ret_after[0], "after": ret_after[1]}
    return done


def run_all(binary: Path, targets: list[Target], ids: list[int]) -> tuple[dict[int, dict], dict[int, str]]:
    """Run the cases, skipping past any the C++ crashes on, times out on, or flags as undefined behaviour."""
    done, dropped = {}, {}
    todo = list(ids)
    while todo:
        res = run_cached(binary, stdin=_stdin(targets, todo), timeout=max(10.0, 2.5 * len(todo)))
        got = parse_run(res.stdout)
        done.update(got)
        if res.ok and all(i in got for i in todo):
            break
        failed = next((i for i in todo if i not in got), None)
        if failed is None:
            break
        reason = ("undefined behaviour" if "runtime error" in res.stderr or "Sanitizer" in res.stderr
                  else "timeout" if "TIMEOUT" in res.stdout or res.status == "timeout" else "crash")
        dropped[failed] = reason
        todo = todo[todo.index(failed) + 1:]
    return done, dropped


def _fill(targets: list[Target], done: dict[int, dict], dropped: dict[int, str]) -> None:
    g = 0
    for t in targets:
        for i in range(len(t.cases)):
            r = done.get(g)
            if r is not None and r["us"] > MAX_CASE_MICROSECONDS:
                dropped[g] = "slow"
            elif r is not None:
                t.expected[i] = r
            g += 1
        mutable = t.mutable
        for k, j in enumerate(mutable):
            if any(e["before"][k] != e["after"][k] for e in t.expected.values()):
                (t.outs if t.params[j].type.kind in SCALARS and not t.params[j].array else t.written).append(j)


def build(source: str, root, budget: int) -> "FunctionOracle | NoOracle":
    targets = find_targets(root)
    if isinstance(targets, NoOracle):
        return targets
    for t in targets:
        make_cases(t, source, root, budget)
    declared = "".join(LEETCODE_NODES[name] for name in cppast.undefined_types(root, LEETCODE_NODES))
    built = compile_cached(cpp_driver(source, targets, declared))
    for _ in range(3):  # an undeclared alias hides the names in the declarations it spoils
        missing = _conventional(built, declared) if isinstance(built, str) else ""
        if not missing:
            break
        declared += missing
        built = compile_cached(cpp_driver(source, targets, declared))
    if isinstance(built, str):
        why = ("its result type cannot be printed" if "cannot print this result type" in built else
               "a parameter type cannot be read" if "cannot read this parameter type" in built else
               "the C++ does not compile")
        return NoOracle(f"{why}: {_first_error(built)}")
    binary = built[0]
    ids = list(range(sum(len(t.cases) for t in targets)))
    done, dropped = run_all(binary, targets, ids)
    again, _ = run_all(binary, targets, sorted(done))
    for i, r in done.items():
        if i in again and {k: v for k, v in r.items() if k != "us"} != {k: v for k, v in again[i].items() if k != "us"}:
            return NoOracle("nondeterministic output: two runs of the C++ on the same input differ")
    _fill(targets, done, dropped)
    targets = [t for t in targets if t.expected]
    if not targets:
        return NoOracle("the C++ crashes, times out or has undefined behaviour on every generated input")
    return FunctionOracle(targets, dict(Counter(dropped.values())))


# LeetCode's definitions, which its judge supplies and its solutions only quote in a comment. Deleting a node
# leaves it readable, as a Python translation's node stays alive while reachable: a parameter's structure
# is printed after the call, through nodes the function may have deleted.
LEETCODE_NODES = {
    "TreeNode": """struct TreeNode {
    int val; TreeNode *left; TreeNode *right;
    TreeNode() : val(0), left(nullptr), right(nullptr) {}
    TreeNode(int x) : val(x), left(nullptr), right(nullptr) {}
    TreeNode(int x, TreeNode *left, TreeNode *right) : val(x), left(left), right(right) {}
    static void operator delete(void *) {}
};
""",
    "ListNode": """struct ListNode {
    int val; ListNode *next;
    ListNode() : val(0), next(nullptr) {}
    ListNode(int x) : val(x), next(nullptr) {}
    ListNode(int x, ListNode *next) : val(x), next(next) {}
    static void operator delete(void *) {}
};
""",
}

# A function cut out of its program (XLCoST's method-level snippets, a user's excerpt) uses the program's
# aliases and constants; declared as such programs conventionally declare them, it compiles as the user expects.
_CONVENTIONS = {
    **{n: f"typedef {t} {n};" for n, t in (("ll", "long long"), ("lli", "long long int"), ("ull", "unsigned long long"),
                                          ("ld", "long double"))},
    **{n: f"const int {n} = 1000;" for n in ("MAX", "MAXN", "N", "SIZE", "MAX_SIZE", "MAXM")},
    **{n: f"const int {n} = 256;" for n in ("MAX_CHAR", "NO_OF_CHARS", "CHARS", "MAX_CHARS")},
    **{n: f"const int {n} = 1000000007;" for n in ("MOD", "Mod", "mod")},
    "ALPHABET_SIZE": "const int ALPHABET_SIZE = 26;", "INF": "const int INF = 1000000000;",
    "MAX_INT": "const int MAX_INT = INT_MAX;",
}
_UNDECLARED = re.compile(r"[‘'](\w+)[’'] (?:was not declared|does not name a type|has not been declared)")


def _conventional(stderr: str, declared: str) -> str:
    """Declarations of the conventional names the compiler found undeclared, but for those ``declared``
    already ("" when there are none)."""
    return "".join(_CONVENTIONS[n] + "\n" for n in dict.fromkeys(_UNDECLARED.findall(stderr))
                   if n in _CONVENTIONS and _CONVENTIONS[n] not in declared)


def _first_error(stderr: str) -> str:
    line = next((ln for ln in stderr.splitlines() if "error" in ln), stderr.strip()[:200])
    return line.strip()[:300]


class FunctionOracle:
    kind = "function"

    def __init__(self, targets: list[Target], dropped: dict[str, int]):
        self.targets = targets
        self.dropped = dropped  # why generated cases were left out, with counts

    @property
    def cases_total(self) -> int:
        return sum(len(t.expected) for t in self.targets)

    def payload(self, code: str) -> str:
        """The Python driver's stdin: the cases (only those the C++ kept) and the candidate."""
        spec = {"case_seconds": PY_CASE_SECONDS, "targets": [
            {**t.spec(), "cases": [[i, t.tagged_case(i)] for i in sorted(t.expected)]} for t in self.targets]}
        return json.dumps({"spec": spec, "code": code})

    def check(self, code: str, *, timeout: float | None = None) -> OracleResult:
        """Run ``code`` (only in the sandbox) on every case; count the cases it reproduces."""
        total = self.cases_total
        res = run_python(_HERE.joinpath("pydriver.py").read_text(), stdin=self.payload(code),
                         timeout=timeout or min(120.0, 10.0 + PY_CASE_SECONDS * total))
        got = {}
        for line in res.stdout.split("\x02"):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "load_error" in rec:
                first = self._example(0, 0, "the module does not load: " + rec["load_error"])
                return OracleResult(0, total, first)
            got[rec["t"], rec["i"]] = rec
        passed, first = 0, None
        for ti, t in enumerate(self.targets):
            spec = t.spec()
            for i in sorted(t.expected):
                rec = got.get((ti, i))
                why = compare.mismatch(spec, t.expected[i], rec)
                if why is None:
                    passed += 1
                elif first is None:
                    first = self._example(ti, i, why)
        if first is None and passed < total:
            first = Counterexample("(all)", "", res.stderr[-300:])
        return OracleResult(passed, total, first)

    def _example(self, ti: int, i: int, why: str) -> Counterexample:
        t = self.targets[ti]
        i = i if i in t.expected else min(t.expected)
        e = t.expected[i]
        call = f"{t.func.name}({', '.join(compare.show(v) for v in t.tagged_case(i))})"
        printed = f" and printed {e['out']!r}" if e["out"].strip() else ""
        expected = compare.show(compare.wanted(t.spec(), e)) + printed
        return Counterexample(call, expected, why)
