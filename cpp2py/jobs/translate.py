"""The ``cpp2py translate`` job: one source, a directory, stdin or a benchmark JSONL; resumable.

Run as: cpp2py translate INPUT [-o OUTPUT] [--backend hf|openai] [--verify] [--num-gpus N]

Batch modes (directory, JSONL) write each result as it completes and skip finished ones on rerun; a JSONL
on several GPUs goes through :mod:`cpp2py.jobs.sharding`. What is checked in each translation is
described in :mod:`cpp2py.generation.translator` and :mod:`cpp2py.jobs.verify`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from cpp2py.errors import Cpp2PyError, Interrupted
from cpp2py.files import JsonlAppender, atomic_write, ensure_writable, is_symlink_loop, write_jsonl
from cpp2py.generation.backends import make_backend
from cpp2py.generation.cpp_source import CPP_SUFFIXES, check_cpp, check_size, read_cpp
from cpp2py.generation.translator import TranslationResult
from cpp2py.jobs import sharding
from cpp2py.jobs.verify import VerifyingTranslator
from cpp2py.schema import BenchmarkItem, Prediction, TranslateConfig, read_items

# -- front ends: library call, file, directory, JSONL -------------------------------------------------

def translate_source(cpp: str, **kw) -> str:
    """Library API (``cpp2py.translate(...)``): Python for one C++ source string, with the header marker
    when it does not parse or failed ``verify``. Keywords are :class:`TranslateConfig` fields."""
    cfg = TranslateConfig(**kw)
    check_cpp(cpp, "input")
    result = VerifyingTranslator(make_backend(cfg), cfg).translate_many([cpp])[0]
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
    undefined: int = 0           # translations using names they define nowhere
    output: str = ""
    load_seconds: float = 0.0        # loading the model (0 when this process had it loaded already)
    translate_seconds: float = 0.0   # everything after the load

    def add(self, r: TranslationResult) -> None:
        self.translated += 1
        self.not_parsing += not r.parses
        self.failed_verify += r.verified is False and r.parses
        self.repaired += bool(r.verified and r.repairs)
        self.hit_token_cap += r.hit_token_cap
        self.undefined += bool(r.parses and r.undefined and r.verified is not False)

    def absorb(self, other: "Summary") -> None:
        """Add the counts of another part of the same job (a shard of a multi-GPU run)."""
        for name in ("translated", "skipped", "not_parsing", "failed_verify", "repaired", "hit_token_cap", "undefined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected += other.rejected
        # shards run at the same time: the job took as long as its slowest one
        self.load_seconds = max(self.load_seconds, other.load_seconds)
        self.translate_seconds = max(self.translate_seconds, other.translate_seconds)

    @property
    def ok(self) -> bool:
        return not (self.not_parsing or self.failed_verify or self.undefined or self.rejected)

    def line(self) -> str:
        parts = [f"{self.translated} translated", f"{self.skipped} already done"]
        if self.repaired:
            parts.append(f"{self.repaired} passed after repair")
        for n, what in ((self.not_parsing, "do not parse"), (self.failed_verify, "failed verification"),
                        (self.undefined, "use undefined names"),
                        (self.hit_token_cap, "hit the token cap"), (len(self.rejected), "inputs rejected")):
            if n:
                parts.append(f"{n} {what}")
        if self.translated:
            parts.append(f"model load {self.load_seconds:.1f} s, translation {self.translate_seconds:.1f} s")
        return ", ".join(parts) + (f" -> {self.output}" if self.output else "")


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("translating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=False)


def _load_translator(cfg: TranslateConfig, backend, summary: Summary) -> VerifyingTranslator:
    """A job's translator; the model is loaded here, once for the whole job, and the time it took recorded."""
    t = time.perf_counter()
    translator = VerifyingTranslator(backend or make_backend(cfg), cfg)
    summary.load_seconds = time.perf_counter() - t
    return translator


@contextlib.contextmanager
def _saying_what_is_kept(summary: Summary) -> Iterator[None]:
    """Ctrl-C becomes :class:`Interrupted`: every result written so far (this run's and earlier ones') is on
    disk, and a rerun resumes after them."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(summary.skipped + summary.translated, summary.output) from None


def _run_in_chunks(translator: VerifyingTranslator, jobs: list[Any], cpp_of: Callable[[Any], str],
                   write: Callable[[Any, TranslationResult], None], item_of: Callable[[Any], BenchmarkItem] | None,
                   summary: Summary) -> None:
    """Longest first, one backend batch at a time; each result is written before the next batch starts."""
    t0 = time.perf_counter()
    cfg = translator.cfg
    jobs = sorted(jobs, key=lambda j: -len(cpp_of(j)))
    step = translator.backend.inputs_per_call(cfg.decoding())
    with _progress() as bar:
        task = bar.add_task("translate", total=len(jobs))
        for s in range(0, len(jobs), step):
            chunk = jobs[s:s + step]
            items = [item_of(j) for j in chunk] if item_of else None
            for job, result in zip(chunk, translator.translate_many([cpp_of(j) for j in chunk], items)):
                write(job, result)
                summary.add(result)
            bar.advance(task, len(chunk))
    summary.translate_seconds = time.perf_counter() - t0


def translate_jsonl(benchmark_path: str | Path, predictions_path: str | Path, cfg: TranslateConfig,
                    *, backend=None) -> Path:
    """Translate every item of a benchmark or prepare JSONL (:func:`cpp2py.schema.read_items`) into
    predictions (:class:`cpp2py.schema.Prediction` lines), appended and flushed one by one; with ``cfg.resume`` the ids already in ``predictions_path`` are skipped."""
    return Path(translate_benchmark(benchmark_path, predictions_path, cfg, backend=backend).output)


def translate_benchmark(benchmark_path, predictions_path, cfg: TranslateConfig, *, backend=None) -> Summary:
    items = read_items(benchmark_path)
    for n, it in enumerate(items, 1):
        check_size(it.cpp, f"{benchmark_path}: record {n}")
    predictions_path = Path(predictions_path)
    summary = Summary(output=str(predictions_path))
    with _saying_what_is_kept(summary), JsonlAppender(predictions_path, resume=cfg.resume) as out:
        todo = [it for it in items if it.id not in out.done_ids]
        summary.skipped = len(items) - len(todo)
        if todo:
            translator = _load_translator(cfg, backend, summary)

            def write(item: BenchmarkItem, r: TranslationResult) -> None:
                out.write(Prediction(item.id, [r.python], parses=r.parses, hit_token_cap=r.hit_token_cap,
                                     repairs=r.repairs, verified=r.verified, seconds=r.seconds,
                                     **({"cases_passed": r.cases_passed, "cases_total": r.cases_total}
                                        if r.verified is not None else {})).to_dict())

            # A benchmark's tests score the predictions afterwards (evaluate): --verify must never see them.
            _run_in_chunks(translator, todo, lambda it: it.cpp, write, lambda it: dataclasses.replace(it, test=None),
                           summary)
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
    summary = Summary(output=str(out_dir))
    files = []
    for p in sorted(src.rglob("*")):
        if is_symlink_loop(p):
            # exists() and is_file() are False for a loop: without this it would vanish without a word
            print(f"warning: skipped {p}: symlink loop (the link never reaches a file)", file=sys.stderr)
            summary.rejected.append(str(p))
        elif p.is_file() and p.suffix.lower() in CPP_SUFFIXES:
            files.append(p)
    if not files:
        raise Cpp2PyError(f"{src}: no C++ files ({', '.join(CPP_SUFFIXES)}) in this directory")
    names = _output_names(files, src)
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
        def write(job: tuple, r: TranslationResult) -> None:
            with atomic_write(job[1]) as fh:
                fh.write(r.file_text())

        with _saying_what_is_kept(summary):
            _run_in_chunks(_load_translator(cfg, backend, summary), jobs, lambda j: j[2], write, None, summary)
    return summary


def translate_path(input: str, output: Path | None, cfg: TranslateConfig, *, backend=None,
                   stdout=None) -> Summary:
    """The ``cpp2py translate`` job: dispatch on INPUT (``-``, a .jsonl, a directory or a C++ file).
    The output is proved writable before any model work."""
    stdout = stdout or sys.stdout
    path = Path(input)
    if input != "-" and path.suffix.lower() == ".jsonl":
        if output is None:
            raise Cpp2PyError(f"{input}: a JSONL input needs -o PREDICTIONS.jsonl")
        ensure_writable(output, "file")
        if cfg.num_gpus > 1 and backend is None:  # one process per GPU, merged in input order
            summary = Summary(output=str(output))
            for part in sharding.translate_sharded(path, output, cfg, cfg.num_gpus, worker=translate_on_gpu):
                summary.absorb(part)
            return summary
        return translate_benchmark(path, output, cfg, backend=backend)
    if input != "-" and path.is_dir():
        if output is None:
            raise Cpp2PyError(f"{input}: a directory input needs -o OUTPUT_DIR")
        ensure_writable(output, "directory")
        return translate_dir(path, output, cfg, backend=backend)
    cpp = read_cpp(input)
    if output is not None:
        ensure_writable(output, "file")
    summary = Summary(output=str(output) if output else "")
    translator = _load_translator(cfg, backend, summary)
    t0 = time.perf_counter()
    result = translator.translate_many([cpp])[0]
    summary.translate_seconds = time.perf_counter() - t0
    summary.add(result)
    if output is None:
        stdout.write(result.file_text())
        stdout.flush()
    else:
        with atomic_write(output) as fh:
            fh.write(result.file_text())
    return summary


def translate_shard(benchmark_path: str | Path, output_path: str | Path, cfg: TranslateConfig,
                    shard: int, num_shards: int) -> Summary:
    """Translate shard ``shard``/``num_shards`` of a benchmark JSONL into ``output_path`` (resumable);
    returns the translate stage's summary. What ``cpp2py translate BENCH --shard i/N -o OUT`` runs, e.g.
    as one task of a cluster array job; join the outputs with :func:`cpp2py.jobs.sharding.merge_shards`.
    """
    ensure_writable(output_path, "file")
    items = read_items(benchmark_path)
    inp = Path(output_path).parent / f".{Path(output_path).name}.input.jsonl"
    write_jsonl(inp, (it.to_dict() for it in sharding.shard_items(items, num_shards, shard)))
    try:
        return translate_benchmark(inp, output_path, cfg)
    finally:
        inp.unlink(missing_ok=True)


def translate_on_gpu(device: str, input_path: Path, output_path: Path, cfg: TranslateConfig) -> Summary:
    # Runs in a fresh (spawned) interpreter: CUDA is not initialised yet, so this pins the process to one GPU.
    os.environ["CUDA_VISIBLE_DEVICES"] = device
    return translate_benchmark(input_path, output_path, cfg)
