"""Translate C++ into Python: one source, a directory, or a benchmark JSONL, with checks on what comes out.

Run as: cpp2py translate INPUT [-o OUTPUT] [--backend hf|openai] [--verify]

What a user gets back is checked, never passed off as fine:

* the code is extracted from the reply (:func:`cpp2py.prompt.extract_code`) and must ``ast.parse``; a
  reply that does not parse is regenerated (sampling, a bounded number of times) and otherwise returned
  with a ``# cpp2py: translation does not parse`` header and ``parses=False``;
* generation stops at EOS or at the closing fence, under a token budget scaled to the input; a reply cut
  by the budget is flagged ``hit_token_cap``;
* an input beyond the model's window is split at top-level declarations (:mod:`cpp2py.cpp_source`),
  translated piece by piece and reassembled with imports hoisted;
* ``--verify`` runs each candidate in :mod:`cpp2py.sandbox` against an oracle (a benchmark ``test``, or
  the stdout of the compiled C++ program) and feeds failures back to the model for up to ``rounds``
  repairs; without an oracle it checks that the module runs.

Batch modes (directory, JSONL) write each result as it completes and skip finished ones on rerun.
"""
from __future__ import annotations

import ast
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cpp2py import prompt
from cpp2py.backends import make_backend
from cpp2py.cpp_source import CPP_SUFFIXES, check_cpp, has_main, read_cpp, split_declarations
from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender, atomic_write
from cpp2py.schema import BenchmarkItem, Prediction, TranslateConfig, read_items

NOT_PARSING = "# cpp2py: translation does not parse"
NOT_VERIFIED = "# cpp2py: translation failed verification"


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
    check: str = ""          # the last --verify verdict, e.g. "pass" or "wrong_answer: ..."

    def file_text(self) -> str:
        """The Python to write out: a header says so when it does not parse or failed verification."""
        if not self.parses:
            return f"{NOT_PARSING}\n{self.python.rstrip()}\n"
        if self.verified is False:
            first = self.check.splitlines()[0] if self.check else "no detail"
            return f"{NOT_VERIFIED} ({first[:200]})\n{self.python.rstrip()}\n"
        return self.python.rstrip() + "\n"


@dataclass
class _Unit:
    source: int          # which input this piece belongs to
    cpp: str
    code: str = ""
    raw: str = ""
    parses: bool = False
    hit_cap: bool = False


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
        limit = self.piece_limit()
        if self.backend.count_tokens(cpp) <= limit:
            return [cpp]
        split = split_declarations(cpp)
        head = split.preamble + "\n\n" if split.preamble else ""
        pieces: list[str] = []
        current: list[str] = []
        for decl in split.declarations:
            size = self.backend.count_tokens(head + decl)
            if size > limit:
                first = decl.strip().splitlines()[0][:60]
                raise Cpp2PyError(f"input: one declaration ({first!r}...) is {size} tokens, over the "
                                  f"{limit}-token limit of one piece for this model; shorten it or raise "
                                  "max_input_tokens on a model with a longer window")
            if current and self.backend.count_tokens(head + "\n\n".join(current + [decl])) > limit:
                pieces.append(head + "\n\n".join(current))
                current = []
            current.append(decl)
        if current:
            pieces.append(head + "\n\n".join(current))
        return pieces

    # -- generation ---------------------------------------------------------------------------------
    def _generate_units(self, units: list[_Unit]) -> None:
        cfg, n = self.cfg, self.cfg.num_samples
        convs = [prompt.messages(u.cpp) for u in units for _ in range(n)]
        replies = self.backend.generate(convs, decoding=cfg.decoding(), max_new_tokens=cfg.max_new_tokens)
        for k, u in enumerate(units):
            samples = [self._read(r) for r in replies[k * n:(k + 1) * n]]
            self._take(u, *next((s for s in samples if s[2]), samples[0]))  # the first that parses
        for _ in range(cfg.retries):
            todo = [u for u in units if not u.parses]
            if not todo:
                break
            replies = self.backend.generate([prompt.messages(u.cpp) for u in todo],
                                            decoding=cfg.decoding(temperature=max(cfg.temperature, cfg.retry_temperature)),
                                            max_new_tokens=cfg.max_new_tokens)
            for u, r in zip(todo, replies):
                reply, code, ok = self._read(r)
                if ok:
                    self._take(u, reply, code, ok)

    @staticmethod
    def _read(reply: str) -> tuple[str, str, bool]:
        """(reply, its code, whether that parses): extracted and parsed once per reply."""
        code = prompt.extract_code(reply)
        return reply, code, prompt.parses(code)

    @staticmethod
    def _take(u: _Unit, reply: str, code: str, parses: bool) -> None:
        u.raw, u.code, u.parses = str(reply), code, parses
        u.hit_cap = bool(getattr(reply, "hit_token_cap", False))

    # -- the whole job ---------------------------------------------------------------------------------
    def translate_many(self, cpp_sources: list[str],
                       items: list[BenchmarkItem] | None = None) -> list[TranslationResult]:
        """Translate ``cpp_sources`` (results in the same order). ``items`` are the benchmark items whose
        oracles ``--verify`` uses."""
        t0 = time.perf_counter()
        units = [_Unit(k, piece) for k, cpp in enumerate(cpp_sources) for piece in self.pieces(cpp)]
        self._generate_units(units)
        results = []
        for k in range(len(cpp_sources)):
            mine = [u for u in units if u.source == k]
            code = mine[0].code if len(mine) == 1 else reassemble([u.code for u in mine])
            results.append(TranslationResult(
                python=code, parses=mine[0].parses if len(mine) == 1 else prompt.parses(code), verified=None, repairs=0, seconds=0.0,
                raw="\n\n".join(u.raw for u in mine), hit_token_cap=any(u.hit_cap for u in mine),
                pieces=len(mine),
            ))
        if self.cfg.verify:
            self._verify(cpp_sources, items, results)
        per_item = (time.perf_counter() - t0) / max(1, len(cpp_sources))
        for r in results:
            r.seconds = per_item
        return results

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
    from cpp2py import sandbox

    if item.executable:
        v = sandbox.check_candidate(candidate, item, timeout=timeout)
        if v.kind not in ("no_oracle", "oracle_compile_error"):
            return v.passed, f"{v.kind}: {v.detail}".strip()
    r = sandbox.run_python(candidate, stdin="", timeout=timeout)
    return r.ok, ("runs: module executed" if r.ok else f"runtime_error: {r.status} {r.stderr}".strip())


def reassemble(codes: list[str]) -> str:
    """Join piecewise translations into one module: imports hoisted to the top and de-duplicated, and
    top-level statements repeated across pieces (the shared preamble's globals) kept once."""
    trees = []
    for code in codes:
        try:
            trees.append((code.splitlines(), ast.parse(code)))
        except SyntaxError:
            return "\n\n\n".join(c.strip("\n") for c in codes)
    imports: list[str] = []
    body: list[str] = []
    for lines, tree in trees:
        for node in tree.body:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
            text = "\n".join(lines[start:node.end_lineno]).rstrip()
            target = imports if isinstance(node, (ast.Import, ast.ImportFrom)) else body
            if text not in target:
                target.append(text)
    out = "\n".join(imports)
    return (out + "\n\n\n" if out else "") + "\n\n\n".join(body)


# -- front ends: library call, file, directory, JSONL -------------------------------------------------

def translate_source(cpp: str, **kw) -> str:
    """Library API (``cpp2py.translate(...)``): Python for one C++ source string, with the header marker
    when it does not parse or failed ``verify``. Keywords are :class:`TranslateConfig` fields."""
    cfg = TranslateConfig(**kw)
    check_cpp(cpp, "input")
    result = Translator(make_backend(cfg), cfg).translate_many([cpp])[0]
    return result.file_text()


@dataclass
class Summary:
    translated: int = 0
    skipped: int = 0             # already done (resume)
    rejected: list[str] = field(default_factory=list)   # inputs that are not C++ (directory mode)
    not_parsing: int = 0
    failed_verify: int = 0
    repaired: int = 0            # verified after at least one repair round
    hit_token_cap: int = 0
    output: str = ""

    def add(self, r: TranslationResult) -> None:
        self.translated += 1
        self.not_parsing += not r.parses
        self.failed_verify += r.verified is False and r.parses
        self.repaired += bool(r.verified and r.repairs)
        self.hit_token_cap += r.hit_token_cap

    def absorb(self, other: "Summary") -> None:
        """Add the counts of another part of the same job (a shard of a multi-GPU run)."""
        for name in ("translated", "skipped", "not_parsing", "failed_verify", "repaired", "hit_token_cap"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected += other.rejected

    @property
    def ok(self) -> bool:
        return not (self.not_parsing or self.failed_verify or self.rejected)

    def line(self) -> str:
        parts = [f"{self.translated} translated", f"{self.skipped} already done"]
        if self.repaired:
            parts.append(f"{self.repaired} passed after repair")
        for n, what in ((self.not_parsing, "do not parse"), (self.failed_verify, "failed verification"),
                        (self.hit_token_cap, "hit the token cap"), (len(self.rejected), "inputs rejected")):
            if n:
                parts.append(f"{n} {what}")
        return ", ".join(parts) + (f" -> {self.output}" if self.output else "")


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("translating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=False)


def _run_in_chunks(translator: Translator, jobs: list[Any], cpp_of: Callable[[Any], str],
                   write: Callable[[Any, TranslationResult], None], item_of: Callable[[Any], BenchmarkItem] | None,
                   summary: Summary) -> None:
    """Longest first, one backend batch at a time; each result is written before the next batch starts."""
    cfg = translator.cfg
    jobs = sorted(jobs, key=lambda j: -len(cpp_of(j)))
    step = cfg.batch_size if cfg.backend == "hf" else cfg.concurrency * 2
    with _progress() as bar:
        task = bar.add_task("translate", total=len(jobs))
        for s in range(0, len(jobs), step):
            chunk = jobs[s:s + step]
            items = [item_of(j) for j in chunk] if item_of else None
            for job, result in zip(chunk, translator.translate_many([cpp_of(j) for j in chunk], items)):
                write(job, result)
                summary.add(result)
            bar.advance(task, len(chunk))


def translate_jsonl(benchmark_path: str | Path, predictions_path: str | Path, cfg: TranslateConfig,
                    *, backend=None) -> Path:
    """Translate every item of a benchmark or prepare JSONL (:func:`cpp2py.schema.read_items`) into
    predictions (:class:`cpp2py.schema.Prediction` lines), appended and flushed one by one; with ``cfg.resume`` the ids already in ``predictions_path`` are skipped."""
    return Path(_translate_jsonl(benchmark_path, predictions_path, cfg, backend=backend).output)


def _translate_jsonl(benchmark_path, predictions_path, cfg: TranslateConfig, *, backend=None) -> Summary:
    items = read_items(benchmark_path)
    predictions_path = Path(predictions_path)
    summary = Summary(output=str(predictions_path))
    with JsonlAppender(predictions_path, resume=cfg.resume) as out:
        todo = [it for it in items if it.id not in out.done_ids]
        summary.skipped = len(items) - len(todo)
        if todo:
            translator = Translator(backend or make_backend(cfg), cfg)

            def write(item: BenchmarkItem, r: TranslationResult) -> None:
                out.write(Prediction(item.id, [r.python], parses=r.parses, hit_token_cap=r.hit_token_cap,
                                     repairs=r.repairs, verified=r.verified, seconds=r.seconds).to_dict())

            _run_in_chunks(translator, todo, lambda it: it.cpp, write, lambda it: it, summary)
    return summary


def _output_names(files: list[Path], root: Path) -> dict[Path, Path]:
    """Mirror paths with a .py suffix; ``x.h`` and ``x.cpp`` in one folder become ``x_h.py`` and ``x_cpp.py``."""
    plain = {f: f.relative_to(root).with_suffix(".py") for f in files}
    counts: dict[Path, int] = {}
    for p in plain.values():
        counts[p] = counts.get(p, 0) + 1
    return {f: (p if counts[p] == 1 else p.with_name(f"{f.stem}_{f.suffix.lstrip('.')}.py")) for f, p in plain.items()}


def translate_dir(src: Path, out_dir: Path, cfg: TranslateConfig, *, backend=None) -> Summary:
    """Every C++ file under ``src`` into a mirrored ``.py`` under ``out_dir``, each written when done."""
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in CPP_SUFFIXES)
    if not files:
        raise Cpp2PyError(f"{src}: no C++ files ({', '.join(CPP_SUFFIXES)}) in this directory")
    names = _output_names(files, src)
    summary = Summary(output=str(out_dir))
    jobs = []
    for f in files:
        target = out_dir / names[f]
        if cfg.resume and target.exists():
            summary.skipped += 1
            continue
        try:
            jobs.append((f, target, read_cpp(f)))
        except Cpp2PyError as e:
            print(f"warning: skipped {e}", file=sys.stderr)
            summary.rejected.append(str(f))
    if jobs:
        translator = Translator(backend or make_backend(cfg), cfg)

        def write(job: tuple, r: TranslationResult) -> None:
            with atomic_write(job[1]) as fh:
                fh.write(r.file_text())

        _run_in_chunks(translator, jobs, lambda j: j[2], write, None, summary)
    return summary


def translate_path(input: str, output: Path | None, cfg: TranslateConfig, *, backend=None,
                   stdout=None) -> Summary:
    """The ``cpp2py translate`` job: dispatch on INPUT (``-``, a .jsonl, a directory or a C++ file)."""
    stdout = stdout or sys.stdout
    path = Path(input)
    if input != "-" and path.suffix.lower() == ".jsonl":
        if output is None:
            raise Cpp2PyError(f"{input}: a JSONL input needs -o PREDICTIONS.jsonl")
        if cfg.num_gpus > 1 and backend is None:  # one process per GPU, merged in input order
            from cpp2py.distributed import translate_sharded

            summary = Summary(output=str(output))
            for part in translate_sharded(path, output, cfg, cfg.num_gpus):
                summary.absorb(part)
            return summary
        return _translate_jsonl(path, output, cfg, backend=backend)
    if input != "-" and path.is_dir():
        if output is None:
            raise Cpp2PyError(f"{input}: a directory input needs -o OUTPUT_DIR")
        if output.exists() and not output.is_dir():
            raise Cpp2PyError(f"{output}: exists and is not a directory")
        return translate_dir(path, output, cfg, backend=backend)
    cpp = read_cpp(input)
    result = Translator(backend or make_backend(cfg), cfg).translate_many([cpp])[0]
    summary = Summary(output=str(output) if output else "")
    summary.add(result)
    if output is None:
        stdout.write(result.file_text())
        stdout.flush()
    else:
        with atomic_write(output) as fh:
            fh.write(result.file_text())
    return summary


class _CallableModule(types.ModuleType):
    """``import cpp2py.translate`` rebinds the package attribute ``cpp2py.translate`` from the library
    function to this module; making the module callable keeps ``cpp2py.translate(cpp)`` working."""

    def __call__(self, cpp_source: str, **kwargs) -> str:
        return translate_source(cpp_source, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

