"""``--verify``: each translation runs in the sandbox against its oracle (a benchmark ``test``, or the
stdout of the compiled C++ program) and failures go back to the model for up to ``rounds`` repairs;
without an oracle the check is that the module runs.

Run as: cpp2py translate INPUT --verify (also ``serve``'s Verify button, with --allow-exec)
"""
from __future__ import annotations

from cpp2py import prompt
from cpp2py.generation.cpp_source import has_main
from cpp2py.generation.translator import TranslationResult, Translator
from cpp2py.schema import BenchmarkItem


class VerifyingTranslator(Translator):
    """A :class:`Translator` that, when ``cfg.verify`` is on, checks and repairs what it generated."""

    def finish(self, sources: list[str], items: list[BenchmarkItem] | None,
               results: list[TranslationResult]) -> None:
        if self.cfg.verify:
            self._verify(sources, items, results)

    def _verify(self, sources: list[str], items: list[BenchmarkItem] | None, results: list[TranslationResult]) -> None:
        oracles = [items[k] if items else file_oracle(src) for k, src in enumerate(sources)]
        pending = []
        for k, r in enumerate(results):
            if r.parses:
                pending.append(k)
            else:
                r.verified, r.check = False, "syntax_error: the translation does not parse"
        for round_ in range(self.cfg.rounds + 1):
            failing = []
            for k in pending:
                passed, detail = check(results[k].python, oracles[k], timeout=self.cfg.timeout)
                results[k].verified, results[k].check = passed, detail
                # A split input was translated piecewise; a repair prompt would need the whole source.
                if not passed and results[k].pieces == 1:
                    failing.append(k)
            if not failing or round_ == self.cfg.rounds:
                return
            convs = [prompt.repair_messages(sources[k], results[k].python, results[k].check) for k in failing]
            replies = self.backend.generate(convs, decoding=self.cfg.decoding(), max_new_tokens=self.cfg.max_new_tokens)
            for k, reply in zip(failing, replies):
                code = prompt.extract_code(reply)
                results[k].repairs += 1
                if prompt.parses(code):
                    results[k].python, results[k].raw = code, str(reply)
                    results[k].hit_token_cap = bool(getattr(reply, "hit_token_cap", False))
            pending = failing


def file_oracle(cpp: str) -> BenchmarkItem:
    """The oracle a bare C++ source offers: a full program's stdout (run on empty input), else none."""
    return BenchmarkItem(id="input", cpp=cpp, stdin="", compare_stdout=has_main(cpp))


def check(candidate: str, item: BenchmarkItem, *, timeout: float) -> tuple[bool, str]:
    """(passed, "kind: detail") for one candidate, in the sandbox. Without a usable oracle the check is
    that the module runs to completion (imports and top-level code)."""
    from cpp2py.execution import checks, sandbox

    if item.executable:
        v = checks.check_candidate(candidate, item, timeout=timeout)
        if v.kind not in ("no_oracle", "oracle_compile_error"):
            return v.passed, f"{v.kind}: {v.detail}".strip()
    r = sandbox.run_python(candidate, stdin="", timeout=timeout)
    return r.ok, ("runs: module executed" if r.ok else f"runtime_error: {r.status} {r.stderr}".strip())
