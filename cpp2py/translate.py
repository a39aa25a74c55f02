"""Translate C++ into Python: one source, a directory, or a benchmark JSONL, with checks on what comes out.

Run as: cpp2py translate INPUT [-o OUTPUT] [--backend auto|llamacpp|hf|openai] [--verify]

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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Literal

from cpp2py import prompt
from cpp2py.backends import Decoding
from cpp2py.cpp_source import CPP_SUFFIXES, check_cpp, has_main, read_cpp, split_declarations
from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender, atomic_write, read_jsonl

NOT_PARSING = "# cpp2py: translation does not parse"
NOT_VERIFIED = "# cpp2py: translation failed verification"


@dataclass
class TranslateConfig:
    """How to translate. ``model=None`` means the default base model plus the shipped adapter."""

    model: str | None = None              # short name, local dir, .gguf, hub id; or the served model name (openai)
    adapter: str | None = None            # a LoRA adapter directory (hf and llamacpp backends)
    backend: Literal["auto", "llamacpp", "hf", "openai"] = "auto"  # auto: llamacpp on CPU when installed, else hf
    base_url: str | None = None           # openai backend: e.g. http://127.0.0.1:8000/v1
    api_key_env: str = "CPP2PY_API_KEY"   # environment variable holding the key (OPENAI_API_KEY is the fallback)
    device: str = "auto"                  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"                   # auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float16 | float32 | int8 (CPU)
    load_in_4bit: bool = False            # NF4 weights (bitsandbytes, GPU)
    compile: bool = False                 # static KV cache + compiled decode step (GPU, batch 1 latency)
    batch_size: int = 16                  # hf: sequences per generate call
    threads: int | None = None            # llamacpp: CPU threads (None: all cores; on a CPU shared with other jobs, 1 is faster)
    concurrency: int = 8                  # openai: requests in flight
    max_new_tokens: int | None = None     # None: 2 x input tokens + 64, capped at max_new_tokens_cap
    max_new_tokens_cap: int = 2048
    max_input_tokens: int | None = None   # split inputs longer than this; None: a third of the window
    context_window: int | None = None     # openai backend: the served model's window if known
    temperature: float = 0.0              # 0 = greedy; > 0 samples with top_p
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    num_samples: int = 1                  # > 1 (with temperature > 0): keep the first sample that parses
    retries: int = 2                      # regenerations of a reply that does not parse
    retry_temperature: float = 0.2
    verify: bool = False
    rounds: int = 3                       # --verify repair rounds
    timeout: float = 10.0                 # sandbox time limit per run (seconds)
    request_timeout: float = 300.0        # openai backend, per request
    resume: bool = True
    num_gpus: int = 1

    def __post_init__(self) -> None:
        if self.num_gpus < 1:
            raise Cpp2PyError(f"--num-gpus: must be at least 1, got {self.num_gpus}")
        if self.num_gpus > 1 and self.device.startswith("cuda:"):
            raise Cpp2PyError(f"--device {self.device}: with --num-gpus each process gets its own GPU; use auto or cuda")
        for name in ("batch_size", "concurrency", "num_samples", "max_new_tokens_cap"):
            if getattr(self, name) < 1:
                raise Cpp2PyError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise Cpp2PyError(f"max_new_tokens: must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0 or self.rounds < 0 or self.retries < 0:
            raise Cpp2PyError("temperature, rounds and retries must not be negative")
        if self.backend not in BACKENDS:
            raise Cpp2PyError(f"backend {self.backend!r}: expected one of {', '.join(BACKENDS)}")

    def resolved_model(self) -> tuple[str | None, str | None]:
        """(base, adapter). No model and no adapter: the default base plus the shipped adapter if any; an
        adapter alone: the base it records (``None`` here)."""
        if self.model is not None or self.adapter is not None:
            return self.model, self.adapter
        from cpp2py import model as model_lib

        shipped = model_lib.default_adapter_dir()
        return model_lib.DEFAULT_BASE, (str(shipped) if shipped else None)

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def resolved_backend(self) -> str:
        """``auto``: the llama.cpp engine when it is installed and suits this config (CPU, no hf-only
        option), else hf."""
        if self.backend != "auto":
            return self.backend
        from cpp2py.generation import llamacpp

        return "llamacpp" if llamacpp.suits(self) else "hf"

    def backend_key(self) -> tuple:
        """What identifies a loaded backend: two configs with the same key share one model in memory."""
        if self.backend == "openai":
            return ("openai", self.model, self.base_url, self.api_key_env, self.context_window, self.request_timeout)
        if self.resolved_backend() == "llamacpp":
            # auto keeps its own entry: where it fell back to hf, an explicit llamacpp must still fail
            return ("llamacpp", self.backend, self.model, self.adapter, self.threads)
        return ("hf", self.model, self.adapter, self.device, self.dtype, self.load_in_4bit)

    def decoding(self, **changes: Any) -> Decoding:
        """The decoding options of this config (``changes`` replace some), passed with each generate call."""
        options = {f.name: getattr(self, f.name) for f in fields(Decoding)}
        return Decoding(**{**options, **changes})


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


BACKENDS = ("auto", "llamacpp", "hf", "openai")
_BACKENDS: dict[tuple, Any] = {}


def make_backend(cfg: TranslateConfig):
    """The backend ``cfg`` asks for, loaded once per process (``serve`` and repeated library calls share it).
    ``auto`` falls back to hf when the llama.cpp engine cannot run the model (e.g. a safetensors dir)."""
    key = cfg.backend_key()
    if key not in _BACKENDS:
        _BACKENDS[key] = _load_backend(cfg)
    return _BACKENDS[key]


def _load_backend(cfg: TranslateConfig):
    from cpp2py.backends import HFBackend, OpenAIBackend

    if cfg.backend == "openai":
        return OpenAIBackend(cfg)
    if cfg.resolved_backend() == "llamacpp":
        from cpp2py.generation.llamacpp import EngineUnsupported, LlamaCppBackend

        try:
            return LlamaCppBackend.load(cfg)
        except EngineUnsupported as e:
            if cfg.backend == "llamacpp":
                raise
            print(f"note: {e}; using the hf backend", file=sys.stderr)
    return HFBackend.load(cfg)


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
    def translate_many(self, cpp_sources: list[str], items: list[dict] | None = None) -> list[TranslationResult]:
        """Translate ``cpp_sources`` (results in the same order). ``items`` are benchmark records whose
        ``test``/``compare_stdout`` serve as the ``--verify`` oracle."""
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

    def _verify(self, sources: list[str], items: list[dict] | None, results: list[TranslationResult]) -> None:
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


def file_oracle(cpp: str) -> dict:
    """The oracle a bare C++ source offers: a full program's stdout (run on empty input), else none."""
    return {"id": "input", "cpp": cpp, "python": None, "test": None, "stdin": "", "compare_stdout": has_main(cpp)}


def check(candidate: str, item: dict, *, timeout: float) -> tuple[bool, str]:
    """(passed, "kind: detail") for one candidate, in the sandbox. Without a usable oracle the check is
    that the module runs to completion (imports and top-level code)."""
    from cpp2py import sandbox

    if item.get("test") or item.get("compare_stdout"):
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
                   write: Callable[[Any, TranslationResult], None], item_of: Callable[[Any], dict] | None,
                   summary: Summary) -> None:
    """Longest first, one backend batch at a time; each result is written before the next batch starts."""
    cfg = translator.cfg
    jobs = sorted(jobs, key=lambda j: -len(cpp_of(j)))
    step = cfg.concurrency * 2 if cfg.backend == "openai" else cfg.batch_size
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
    """Translate every ``{"id", "cpp", ...}`` record of a benchmark or prepare JSONL into predictions
    ``{"id", "prediction", "parses", "hit_token_cap", "repairs", "verified", "seconds"}``, appended and
    flushed one by one; with ``cfg.resume`` the ids already in ``predictions_path`` are skipped."""
    return Path(_translate_jsonl(benchmark_path, predictions_path, cfg, backend=backend).output)


def _translate_jsonl(benchmark_path, predictions_path, cfg: TranslateConfig, *, backend=None) -> Summary:
    records = []
    seen: set[str] = set()
    for n, rec in enumerate(read_jsonl(benchmark_path), 1):
        rid, cpp = rec.get("id"), rec.get("cpp")
        if rid is None or not isinstance(cpp, str) or not cpp.strip():
            raise Cpp2PyError(f"{benchmark_path}: record {n} needs an \"id\" and a non-empty \"cpp\" string")
        if str(rid) in seen:
            raise Cpp2PyError(f"{benchmark_path}: id {rid!r} appears twice")
        seen.add(str(rid))
        records.append(rec)
    if not records:
        raise Cpp2PyError(f"{benchmark_path}: no records")
    predictions_path = Path(predictions_path)
    summary = Summary(output=str(predictions_path))
    with JsonlAppender(predictions_path, resume=cfg.resume) as out:
        todo = [r for r in records if str(r["id"]) not in out.done_ids]
        summary.skipped = len(records) - len(todo)
        if todo:
            translator = Translator(backend or make_backend(cfg), cfg)

            def write(rec: dict, r: TranslationResult) -> None:
                out.write({"id": rec["id"], "prediction": r.python, "parses": r.parses,
                           "hit_token_cap": r.hit_token_cap, "repairs": r.repairs, "verified": r.verified,
                           "seconds": round(r.seconds, 4)})

            _run_in_chunks(translator, todo, lambda r: r["cpp"], write, lambda r: r, summary)
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

