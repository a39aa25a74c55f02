"""``--verify``: choose and repair translations against the oracle built from the C++ itself.

Run as: cpp2py translate INPUT --verify [--verify-samples K] [--rounds R] [--stdin FILE]  (also ``serve``'s
Verify button, with --allow-exec, and ``cpp2py.translate(src, verify=True)``)

For each input the oracle (:mod:`cpp2py.execution.oracle`) is built from the C++ alone: a benchmark's tests
are never shown to this loop, so a score measured with them afterwards stays honest. Then:

1. the first (greedy) translation is checked; one that passes every case is kept as it is;
2. otherwise ``samples - 1`` more candidates are drawn at ``temperature`` and checked, and the one passing the
   most cases is kept (ties go to the earlier candidate, so the greedy one wins a tie);
3. up to ``rounds`` times, the best failing candidate is shown one concrete counterexample (input, what the
   C++ gave, what the Python gave) and asked for a repair, which replaces it only when it passes more cases.

So the returned candidate never passes fewer cases than the first one. Without an oracle (its reason is
recorded) the check falls back to "the module runs", and ``verified`` stays ``None`` when it does: running is
not correctness. A ``test`` the user gave (serve) is run on the kept candidate afterwards, as a gate only.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from cpp2py import prompt
from cpp2py.errors import Cpp2PyError
from cpp2py.execution.checks import check_candidate
from cpp2py.execution.oracle import DEFAULT_BUDGET, NoOracle, OracleResult, build_oracle
from cpp2py.execution.sandbox import run_python
from cpp2py.files import read_text
from cpp2py.generation.cpp_source import has_main
from cpp2py.generation.translator import TranslationResult, Translator
from cpp2py.schema import BenchmarkItem

# Candidates for conversations (each translating cpps[k]) at one temperature: code already extracted and
# fixed, "" when a reply held no Python that parses (Translator.complete).
Generate = Callable[[list[list[dict]], list[str], float], list[str]]


@dataclass(frozen=True)
class VerifyOptions:
    samples: int = 4            # candidates per input, the greedy one included
    rounds: int = 2             # repair rounds, one counterexample each
    budget: int = DEFAULT_BUDGET  # oracle cases per function, or generated stdin inputs per program
    temperature: float = 0.8    # for the extra samples
    timeout: float = 10.0       # sandbox limit per run of a candidate
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)  # oracle builds and checks at once (processes)

    def __post_init__(self) -> None:
        if self.samples < 1 or self.rounds < 0 or self.budget < 1 or self.workers < 1:
            raise Cpp2PyError("verify: samples, budget and workers must be at least 1, rounds at least 0")


@dataclass
class Verdict:
    python: str
    verified: bool | None       # None: no oracle, and the module at least runs
    cases_passed: int = 0
    cases_total: int = 0
    repairs: int = 0
    check: str = ""             # "pass", a counterexample, or why there is no oracle
    candidate: int = 0          # which candidate was kept: 0 the greedy one, then samples, then repairs


def _score(oracle, code: str) -> OracleResult:
    # The oracle sizes its own time limit to its number of cases.
    return oracle.check(code) if code else OracleResult(0, oracle.cases_total)


def _describe(result: OracleResult) -> str:
    if result.passed:
        return f"pass: {result.cases_passed}/{result.cases_total} cases"
    detail = f"\n{result.first_failure}" if result.first_failure else ""
    return f"wrong_answer: {result.cases_passed}/{result.cases_total} cases{detail}"


class _Item:
    """One input's search state: its oracle and the best candidate so far."""

    def __init__(self, cpp: str, first: str, oracle):
        self.cpp, self.oracle = cpp, oracle
        self.best, self.result = first, _score(oracle, first)
        self.index, self.tried, self.repairs = 0, 1, 0

    @property
    def done(self) -> bool:
        return self.result.passed

    def offer(self, code: str, result: OracleResult) -> None:
        if result.cases_passed > self.result.cases_passed:
            self.best, self.result, self.index = code, result, self.tried
        self.tried += 1

    def verdict(self) -> Verdict:
        return Verdict(self.best, self.result.passed, self.result.cases_passed, self.result.cases_total,
                       self.repairs, _describe(self.result), self.index)


def _runs_verdict(code: str, reason: str, timeout: float) -> Verdict:
    ran = run_python(code, stdin="", timeout=timeout) if code else None
    if ran is not None and ran.ok:
        return Verdict(code, None, check=f"no_oracle: {reason}; the module runs")
    detail = f"{ran.status} {ran.stderr}".strip() if ran else "the translation does not parse"
    return Verdict(code, False, check=f"no_oracle: {reason}; runtime_error: {detail}"[:2000])


def _feedback(item: _Item) -> str:
    ce = item.result.first_failure
    shown = str(ce) if ce else "the program crashed or printed nothing"
    return (f"The translation is wrong: it passes {item.result.cases_passed} of {item.result.cases_total} checks "
            f"against the C++.\n{shown}\nFix the Python so it does exactly what the C++ does.")


def verify_many(sources: list[str], firsts: list[str], generate: Generate, opts: VerifyOptions,
                stdins: list[list[str]] | None = None, repairable: list[bool] | None = None) -> list[Verdict]:
    """Verdicts for ``firsts`` (one greedy translation per C++ source, "" if it does not parse), searching
    and repairing as the module docstring says. ``stdins[k]``: the user's inputs for program k;
    ``repairable[k]`` False (e.g. an input translated piecewise) skips the search for k."""
    stdins = stdins or [[] for _ in sources]
    with ThreadPoolExecutor(opts.workers) as pool:
        oracles = list(pool.map(lambda k: build_oracle(sources[k], stdin=stdins[k] or None, budget=opts.budget),
                                range(len(sources))))
        items: dict[int, _Item] = {}
        verdicts: list[Verdict | None] = [None] * len(sources)
        for k, oracle in enumerate(oracles):
            if isinstance(oracle, NoOracle):
                verdicts[k] = _runs_verdict(firsts[k], oracle.reason, opts.timeout)
        built = [k for k in range(len(sources)) if verdicts[k] is None]
        for k, item in zip(built, pool.map(lambda k: _Item(sources[k], firsts[k], oracles[k]), built)):
            items[k] = item
        open_ = [k for k in built if not items[k].done and (repairable is None or repairable[k])]
        if opts.samples > 1 and open_:
            owners = [k for k in open_ for _ in range(opts.samples - 1)]
            convs = [prompt.messages(items[k].cpp) for k in owners]
            _offer_all(pool, items, owners, generate(convs, [items[k].cpp for k in owners], opts.temperature))
        for _ in range(opts.rounds):
            open_ = [k for k in open_ if not items[k].done]
            if not open_:
                break
            convs = [prompt.repair_messages(items[k].cpp, items[k].best, _feedback(items[k])) for k in open_]
            for k in open_:
                items[k].repairs += 1
            _offer_all(pool, items, open_, generate(convs, [items[k].cpp for k in open_], 0.0))
    for k, item in items.items():
        verdicts[k] = item.verdict()
    return verdicts  # type: ignore[return-value]


def _offer_all(pool: ThreadPoolExecutor, items: dict[int, _Item], owners: list[int], codes: list[str]) -> None:
    results = pool.map(lambda kc: _score(items[kc[0]].oracle, kc[1]), zip(owners, codes))
    for k, code, result in zip(owners, codes, results):
        items[k].offer(code, result)


class VerifyingTranslator(Translator):
    """A :class:`Translator` that, when ``cfg.verify`` is on, checks, searches and repairs what it generated."""

    def options(self) -> VerifyOptions:
        c = self.cfg
        return VerifyOptions(samples=c.verify_samples, rounds=c.rounds, budget=c.verify_budget, timeout=c.timeout)

    def finish(self, sources: list[str], items: list[BenchmarkItem] | None,
               results: list[TranslationResult]) -> None:
        if not self.cfg.verify:
            return
        given = [read_text(p) for p in self.cfg.stdin]
        # --stdin files are program input: a source without main (a function) gets the generated cases only.
        stdins = [(given if has_main(src) else []) + ([items[k].stdin] if items and items[k].stdin else [])
                  for k, src in enumerate(sources)]
        verdicts = verify_many(sources, [r.python if r.parses else "" for r in results], self.complete,
                               self.options(), stdins, repairable=[r.pieces == 1 for r in results])
        for k, (r, v) in enumerate(zip(results, verdicts)):
            if v.candidate:  # a sample or a repair replaced the first translation
                r.python, r.parses, r.undefined = v.python, True, []
            r.verified, r.repairs, r.check = v.verified, v.repairs, v.check
            r.cases_passed, r.cases_total = v.cases_passed, v.cases_total
            if r.parses and items and items[k].test and r.verified is not False:
                gate = check_candidate(r.python, BenchmarkItem(id=items[k].id, cpp=sources[k], test=items[k].test,
                                                               prelude=items[k].prelude), timeout=self.cfg.timeout)
                if not gate.passed:
                    r.verified, r.check = False, f"user test: {gate.kind}: {gate.detail}".strip()
