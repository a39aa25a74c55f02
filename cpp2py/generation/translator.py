"""The translation core: C++ sources in, checked Python out, with one backend.

Run as: (library) ``Translator(make_backend(cfg), cfg).translate_many([cpp])``; users reach it through
``cpp2py translate`` (:mod:`cpp2py.jobs.translate`).

What a user gets back is checked, never passed off as fine:

* the code is extracted from the reply (:func:`cpp2py.prompt.extract_code`) and must ``ast.parse``; a
  reply that does not parse is regenerated (sampling, a bounded number of times) and otherwise returned
  with a ``# cpp2py: translation does not parse`` header and ``parses=False``;
* generation stops at EOS or at the closing fence, under a token budget scaled to the input; a reply cut
  by the budget is flagged ``hit_token_cap``;
* an input beyond the model's window is split at top-level declarations (:mod:`cpp2py.generation.cpp_source`),
  translated piece by piece and reassembled with imports hoisted;
* a program whose translation does nothing when run (no ``main``, no module-level statement: the model
  translated the classes and dropped ``main``) gets its C++ ``main`` translated as one more unit, in one
  further batch, and appended the same way;
* functions the translation calls but lost (``main`` calls ``test()``, the model kept ``main`` only) are
  translated on their own from their C++ definitions, in one more batch, and placed before the ``__main__``
  guard;
* what a model forgets mechanically is fixed (:mod:`cpp2py.generation.postprocess`: missing imports, the
  ``main()`` call a C++ program had, attributes shadowing methods), and names still defined nowhere are
  flagged with a ``# cpp2py: undefined names`` header and ``undefined`` set.

``--verify`` (running the candidates against an oracle and repairing failures) is
:class:`cpp2py.jobs.verify.VerifyingTranslator`, which extends this class.
"""
from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field

from cpp2py import cpptree, prompt
from cpp2py.generation.cpp_source import definitions_piece, main_piece, split_to_fit
from cpp2py.generation.postprocess import Fixed, fix_translation, has_driver, squashed
from cpp2py.schema import BenchmarkItem, TranslateConfig

NOT_PARSING = "# cpp2py: translation does not parse"
NOT_VERIFIED = "# cpp2py: translation failed verification"
UNDEFINED = "# cpp2py: undefined names"


@dataclass
class TranslationResult:
    python: str
    parses: bool
    verified: bool | None    # None: --verify was off
    repairs: int             # --verify repair rounds used
    seconds: float           # wall time, amortised over the batch it ran in
    raw: str                 # the model's reply (the last one, after retries and repairs)
    hit_token_cap: bool
    pieces: int = 1          # > 1 when a long input was split at top-level declarations
    driver: bool = False     # the C++ main was translated on its own: the whole translation had no driver
    check: str = ""          # the last --verify verdict, e.g. "pass: 20/20 cases" or "wrong_answer: ..."
    undefined: list[str] = field(default_factory=list)   # names the Python uses but defines nowhere
    cases_passed: int = 0    # --verify: oracle cases the kept candidate reproduces
    cases_total: int = 0

    def file_text(self) -> str:
        """The Python to write out: a header says so when it does not parse, failed verification or uses
        names it never defines."""
        if not self.parses:
            return f"{NOT_PARSING}\n{self.python.rstrip()}\n"
        if self.verified is False:
            first = self.check.splitlines()[0] if self.check else "no detail"
            return f"{NOT_VERIFIED} ({first[:200]})\n{self.python.rstrip()}\n"
        if self.undefined:
            return f"{UNDEFINED}: {', '.join(self.undefined)}\n{self.python.rstrip()}\n"
        return self.python.rstrip() + "\n"


@dataclass
class _Unit:
    source: int          # which input this piece belongs to
    cpp: str
    code: str = ""
    raw: str = ""
    parses: bool = False
    hit_cap: bool = False
    driver: bool = False  # the C++ main on its own, for a translation that lost its driver
    lost: bool = False    # C++ functions the other units' Python calls but never defines


class Translator:
    """Translate batches of C++ sources with one backend; see the module docstring for the guarantees."""

    def __init__(self, backend, cfg: TranslateConfig):
        self.backend, self.cfg = backend, cfg

    # -- pieces ------------------------------------------------------------------------------------
    def piece_limit(self) -> int:
        # The budget for new tokens is about twice the input, so input + output fit when the input
        # takes at most a third of the window (less a margin for the prompt's own text).
        return self.cfg.max_input_tokens or max(64, (self.backend.context_window - 256) // 3)

    def pieces(self, cpp: str) -> list[str]:
        return split_to_fit(cpp, self.backend.count_tokens, self.piece_limit())

    # -- generation ---------------------------------------------------------------------------------
    def _generate_units(self, units: list[_Unit]) -> None:
        cfg, n = self.cfg, self.cfg.num_samples
        convs = [prompt.messages(u.cpp) for u in units for _ in range(n)]
        replies = self.backend.generate(convs, decoding=cfg.decoding(), max_new_tokens=cfg.max_new_tokens)
        for k, u in enumerate(units):
            samples = [self._read(r) for r in replies[k * n:(k + 1) * n]]
            self._take(u, *next((s for s in samples if s[2]), samples[0]))  # the first that parses
        for attempt in range(1, cfg.retries + 1):
            todo = [u for u in units if not u.parses]
            if not todo:
                break
            # each retry its own seed: the same one would sample the reply the last retry threw away
            decoding = cfg.decoding(temperature=max(cfg.temperature, cfg.retry_temperature), seed=cfg.seed + attempt)
            replies = self.backend.generate([prompt.messages(u.cpp) for u in todo], decoding=decoding,
                                            max_new_tokens=cfg.max_new_tokens)
            for u, r in zip(todo, replies):
                reply, code, ok = self._read(r)
                if ok:
                    self._take(u, reply, code, ok)

    @staticmethod
    def _read(reply: str) -> tuple[str, str, bool]:
        """(reply, its code, whether that is code: it parses and holds a statement). A reply that comments out
        the whole translation is read as the code it comments out where that parses, else retried like one
        that does not parse."""
        code = prompt.extract_code(reply)
        if prompt.holds_statements(code):
            return reply, code, True
        found = prompt.uncommented(code)
        return reply, found or code, found is not None

    @staticmethod
    def _take(u: _Unit, reply: str, code: str, parses: bool) -> None:
        u.raw, u.code, u.parses = str(reply), code, parses
        u.hit_cap = bool(getattr(reply, "hit_token_cap", False))

    # -- the whole job ---------------------------------------------------------------------------------
    def translate_many(self, cpp_sources: list[str],
                       items: list[BenchmarkItem] | None = None) -> list[TranslationResult]:
        """Translate ``cpp_sources`` (results in the same order). ``items`` are the benchmark items whose
        oracles :meth:`finish` may use."""
        t0 = time.perf_counter()
        units = [_Unit(k, piece) for k, cpp in enumerate(cpp_sources) for piece in self.pieces(cpp)]
        self._generate_units(units)
        joined = [_joined([u for u in units if u.source == k]) for k in range(len(cpp_sources))]
        self._add_units(self._driver_units(cpp_sources, units, joined), units, joined)

        def fixed_of(k: int) -> Fixed | None:
            code, parses = joined[k]
            return fix_translation(code, cpp_sources[k]) if parses else None

        # lost functions come after the driver, whose calls may be what is lost; fixing runs once per version
        fixed = [fixed_of(k) for k in range(len(cpp_sources))]
        for k in self._add_units(self._lost_units(cpp_sources, units, fixed), units, joined):
            fixed[k] = fixed_of(k)
        results = []
        for k in range(len(cpp_sources)):
            mine = [u for u in units if u.source == k]
            code, parses = joined[k]
            results.append(TranslationResult(
                python=fixed[k].python if fixed[k] else code, parses=parses, verified=None, repairs=0, seconds=0.0,
                raw="\n\n".join(u.raw for u in mine), hit_token_cap=any(u.hit_cap for u in mine),
                pieces=sum(not (u.driver or u.lost) for u in mine), driver=any(u.driver for u in mine),
                undefined=fixed[k].undefined if fixed[k] else [],
            ))
        self.finish(cpp_sources, items, results)
        per_item = (time.perf_counter() - t0) / max(1, len(cpp_sources))
        for r in results:
            r.seconds = per_item
        return results

    def _add_units(self, extra: list[_Unit], units: list[_Unit], joined: list[tuple[str, bool]]) -> set[int]:
        """Generate ``extra`` units, add those that parse to ``units`` and rejoin their inputs in ``joined``;
        returns the inputs rejoined."""
        if not extra:
            return set()
        self._generate_units(extra)
        units += [u for u in extra if u.parses]
        changed = {u.source for u in extra if u.parses}
        for k in changed:
            joined[k] = _joined([u for u in units if u.source == k])
        return changed

    @staticmethod
    def _driver_units(cpp_sources: list[str], units: list[_Unit], joined: list[tuple[str, bool]]) -> list[_Unit]:
        """A unit of the C++ ``main`` (with the preamble) for each program whose translation (``joined[k]``: its
        code and whether it parses) parses but has no driver; decided from the C++ syntax tree and the Python's."""
        out = []
        for k, cpp in enumerate(cpp_sources):
            mine = [u for u in units if u.source == k]
            code, parses = joined[k]
            if not parses or has_driver(code):
                continue
            piece = main_piece(cpp)
            if piece is not None and piece not in [u.cpp for u in mine]:  # not a piece already translated alone
                out.append(_Unit(k, piece, driver=True))
        return out

    @staticmethod
    def _lost_units(cpp_sources: list[str], units: list[_Unit], fixed: list[Fixed | None]) -> list[_Unit]:
        """A unit of the C++ definitions (with the preamble) of the free functions each translation that parses
        calls but never defines (``fixed[k]``: its fixed code, None where it does not parse; names fixing
        supplies, imports and C++ constants, are not lost, and ``tests.test()`` has lost its C++ namespace
        there), with the functions they call that it lacks too (in any spelling: ``isPrime`` as ``is_prime``);
        none where the C++ defines none of them."""
        out = []
        for k, cpp in enumerate(cpp_sources):
            missing = set(fixed[k].undefined) if fixed[k] else set()
            if not missing:
                continue
            try:
                functions: dict[str, list] = {}
                for name, node in cpptree.free_functions(cpptree.parse(cpp)):
                    functions.setdefault(name, []).append(node)
            except ImportError:  # tree-sitter is the optional extra cpp2py[oracle]
                return []
            have = {squashed(n.name) for n in ast.parse(fixed[k].python).body
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            wanted = missing & functions.keys() - {"main"}
            todo = list(wanted)
            while todo:  # what a lost function calls may be lost too: the model never saw a call to it
                for node in functions[todo.pop()]:
                    for callee in _callees(node):
                        if callee in functions and callee not in wanted | {"main"} and squashed(callee) not in have:
                            wanted.add(callee)
                            todo.append(callee)
            piece = definitions_piece(cpp, wanted) if wanted else None
            if piece is not None and piece not in [u.cpp for u in units if u.source == k]:
                out.append(_Unit(k, piece, lost=True))
        return out

    def complete(self, conversations: list[list[dict]], cpps: list[str], temperature: float) -> list[str]:
        """One candidate per conversation (``cpps[k]``: the C++ it translates) at ``temperature``: its code,
        fixed as every translation is, or "" when the reply holds no Python that parses."""
        replies = self.backend.generate(conversations, decoding=self.cfg.decoding(temperature=temperature),
                                        max_new_tokens=self.cfg.max_new_tokens)
        out = []
        for reply, cpp in zip(replies, cpps):
            _, code, parses = self._read(reply)
            out.append(fix_translation(code, cpp).python if parses else "")
        return out

    def finish(self, sources: list[str], items: list[BenchmarkItem] | None,
               results: list[TranslationResult]) -> None:
        """A step after generation, timed with it; :class:`cpp2py.jobs.verify.VerifyingTranslator` verifies here."""


def _joined(units: list[_Unit]) -> tuple[str, bool]:
    """The code of one input's units, and whether it parses: one unit as it is, else reassembled, a driver
    unit contributing only what the other units do not define (a model may stub the classes ``main`` uses),
    a unit of lost functions only its imports and the definitions the others lack."""
    if len(units) == 1:
        return units[0].code, units[0].parses
    defined = {n.name for u in units if not (u.driver or u.lost) and u.parses for n in ast.parse(u.code).body
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    code = reassemble([_without(u.code, defined) if u.driver else _definitions(u.code, defined) if u.lost
                       else u.code for u in units])
    return code, prompt.parses(code)


def _callees(node) -> set[str]:
    """The names of the functions a C++ definition calls by name (``f(x)``, ``ns::f(x)``)."""
    out = set()
    for n in cpptree.walk(node):
        fn = n.child_by_field_name("function") if n.type == "call_expression" else None
        if fn is not None and fn.type in ("identifier", "qualified_identifier"):
            out.add(cpptree.text(fn).split("::")[-1])
    return out


def _definitions(code: str, defined: set[str]) -> str:
    """``code``'s imports and its top-level functions and classes not named in ``defined``: what a unit of
    lost functions adds (its own driver lines and any ``main`` are the other units' business)."""
    lines = code.splitlines()
    kept = []
    for node in ast.parse(code).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name not in defined | {"main"}):
            kept.append("\n".join(lines[_first_line(node):node.end_lineno]))
    return "\n\n\n".join(kept)


def _without(code: str, names: set[str]) -> str:
    """``code`` less its top-level functions and classes named in ``names``."""
    lines = code.splitlines()
    for node in reversed(ast.parse(code).body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in names:
            del lines[_first_line(node):node.end_lineno]
    return "\n".join(lines)


def reassemble(codes: list[str]) -> str:
    """Join piecewise translations into one module: imports hoisted to the top and de-duplicated, and
    top-level statements repeated across pieces (the shared preamble's globals) kept once, each with the
    comments above it."""
    trees = []
    for code in codes:
        try:
            trees.append((code.splitlines(), ast.parse(code)))
        except SyntaxError:
            return "\n\n\n".join(c.strip("\n") for c in codes)
    imports: list[str] = []
    body: list[str] = []
    guards: list[str] = []  # last: what a later piece defines must exist before main() runs
    seen: set[str] = set()
    for lines, tree in trees:
        end = 0
        for node in tree.body:
            start = _first_line(node)
            text = "\n".join(lines[start:node.end_lineno]).rstrip()
            above = "\n".join(lines[end:start]).strip("\n")  # only comments and blank lines lie between statements
            end = node.end_lineno
            if text in seen:
                continue
            seen.add(text)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(text)
            else:
                (guards if _is_main_guard(node) else body).append(f"{above}\n{text}" if above else text)
    out = "\n".join(imports)
    return (out + "\n\n\n" if out else "") + "\n\n\n".join(body + guards)


def _first_line(node: ast.stmt) -> int:
    """The 0-based line where a top-level statement starts, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1


def _is_main_guard(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
