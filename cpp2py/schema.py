"""The records and configs every stage shares: a benchmark item, a prediction, and the configs of the
translate, evaluate and serve stages. Each is validated when it is built, so bad input stops at the
border with one clear :class:`~cpp2py.errors.Cpp2PyError` instead of deep inside a stage.

Run as: (library) ``from cpp2py.schema import BenchmarkItem, read_items, TranslateConfig``

On disk (unchanged by this module; see docs/data.md):

* a benchmark item is ``{"id", "cpp", "python", "test", "stdin", "compare_stdout"}`` and optionally ``std``
  (``c++17`` or ``c++20``, the standard the ``compare_stdout`` oracle compiles with; default ``c++17``) (prepare's
  train/val/test records ``{"id", "cpp", "python", "source"}`` read as items without an oracle);
* a prediction is ``{"id", "prediction", "parses", "hit_token_cap", "repairs", "verified", "seconds"}``,
  or ``{"id", "predictions": [...]}`` for several samples.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl

BACKENDS = ("hf", "openai", "llamacpp", "vllm", "auto")  # auto: llamacpp on a CPU when installed, else hf
CPP_STANDARDS = ("c++17", "c++20")
CONTAMINATION_THRESHOLD = 0.5  # C++ 5-gram Jaccard at or above which an item counts as seen in training
SELFTRAIN_LEAK_THRESHOLD = 0.9  # self-training drops an input this close to a benchmark item (issue 12's near-copy)


def _optional_str(rec: dict[str, Any], key: str, where: str) -> str | None:
    value = rec.get(key)
    if value is not None and not isinstance(value, str):
        raise Cpp2PyError(f"{where}: `{key}` must be a string or null, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class BenchmarkItem:
    """One C++ program to translate and, when it has one, the oracle that says whether a translation is right.

    The oracle is ``test`` (Python code appended to the candidate; exit 0 passes) or, with
    ``compare_stdout``, the stdout of the compiled C++ run on ``stdin``. ``prelude``: Python the harness runs
    before the candidate, in its module: what a judge supplies (LeetCode's ``TreeNode``/``ListNode``), which
    the candidate may name at load time and may redefine.
    """

    id: str
    cpp: str
    python: str | None = None        # a reference translation (text metrics), None when there is none
    test: str | None = None
    stdin: str | None = None
    compare_stdout: bool = False
    std: str = "c++17"               # the C++ standard the compare_stdout oracle is compiled with
    prelude: str | None = None       # Python run before the candidate (a judge's definitions)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise Cpp2PyError(f"item id {self.id!r}: must be a non-empty string")
        if not isinstance(self.cpp, str) or not self.cpp.strip():
            raise Cpp2PyError(f"item {self.id}: `cpp` must be a non-empty string")
        if not isinstance(self.compare_stdout, bool):
            raise Cpp2PyError(f"item {self.id}: `compare_stdout` must be true or false")
        if self.std not in CPP_STANDARDS:
            raise Cpp2PyError(f"item {self.id}: `std` must be one of {', '.join(CPP_STANDARDS)}, got {self.std!r}")

    @property
    def executable(self) -> bool:
        """Whether the item has an oracle to run a translation against."""
        return bool(self.test) or self.compare_stdout

    @classmethod
    def from_dict(cls, rec: dict[str, Any], where: str = "item") -> "BenchmarkItem":
        if not isinstance(rec, dict) or rec.get("id") is None:
            raise Cpp2PyError(f"{where}: needs an \"id\" (benchmark format: id, cpp, python, test, stdin, "
                              "compare_stdout)")
        cpp = rec.get("cpp")
        if not isinstance(cpp, str) or not cpp.strip():
            raise Cpp2PyError(f"{where}: needs a non-empty \"cpp\" string")
        python = _optional_str(rec, "python", where)
        return cls(id=str(rec["id"]), cpp=cpp, python=python if python and python.strip() else None,
                   test=_optional_str(rec, "test", where), stdin=_optional_str(rec, "stdin", where),
                   compare_stdout=bool(rec.get("compare_stdout", False)), std=rec.get("std") or "c++17",
                   prelude=_optional_str(rec, "prelude", where))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        # defaults are left out, so files written before `std` and `prelude` existed are unchanged
        if self.std == "c++17":
            del d["std"]
        if self.prelude is None:
            del d["prelude"]
        return d


def unique_ids(ids: Iterable[str], where: str) -> list[str]:
    """``ids`` as a list; an id seen twice is an error (translate, sharding and evaluate all key by id)."""
    seen: set[str] = set()
    out = []
    for i in ids:
        if i in seen:
            raise Cpp2PyError(f"{where}: id {i!r} appears twice")
        seen.add(i)
        out.append(i)
    return out


def read_items(path: str | Path) -> list[BenchmarkItem]:
    """The items of a benchmark (or prepare) JSONL: each validated, ids unique, at least one."""
    items = [BenchmarkItem.from_dict(rec, f"{path}: record {n}") for n, rec in enumerate(read_jsonl(path), 1)]
    if not items:
        raise Cpp2PyError(f"{path}: no records")
    unique_ids((it.id for it in items), str(path))
    return items


@dataclass
class Prediction:
    """One system's translation(s) of one item; ``samples`` holds several when sampling for CA@k."""

    id: str
    samples: list[str]
    parses: bool | None = None
    hit_token_cap: bool | None = None
    repairs: int = 0
    verified: bool | None = None
    seconds: float = 0.0
    cases_passed: int | None = None   # --verify: oracle cases the prediction reproduces, of cases_total
    cases_total: int | None = None

    @classmethod
    def from_dict(cls, rec: dict[str, Any], where: str = "prediction") -> "Prediction":
        if not isinstance(rec, dict) or "id" not in rec:
            raise Cpp2PyError(f"{where} has no `id`")
        preds = rec.get("predictions", rec.get("prediction"))
        if isinstance(preds, str) or preds is None:
            preds = [preds or ""]
        if not isinstance(preds, list) or not all(isinstance(p, str) for p in preds):
            raise Cpp2PyError(f"{where}: `prediction` must be a string (or `predictions` a list of strings)")
        cap = rec.get("hit_token_cap")
        return cls(str(rec["id"]), preds, hit_token_cap=cap if isinstance(cap, bool) else None)

    def to_dict(self) -> dict[str, Any]:
        """The translate stage's line: one sample under ``prediction``."""
        line = {"id": self.id, "prediction": self.samples[0], "parses": self.parses,
                "hit_token_cap": self.hit_token_cap, "repairs": self.repairs, "verified": self.verified,
                "seconds": round(self.seconds, 4)}
        if self.cases_total is not None:  # --verify against an oracle: how much of it the prediction passes
            line.update(cases_passed=self.cases_passed, cases_total=self.cases_total)
        return line


# ------------------------------------------------------------------------------------------------- configs
@dataclass(kw_only=True)
class ModelConfig:
    """Which model answers, and where it runs: the section translate, evaluate (one-shot) and serve share.
    ``model=None`` and ``adapter=None``: the default base model plus the shipped adapter."""

    model: str | None = None              # short name, local dir, .gguf, hub id; or the served model name (openai)
    adapter: str | None = None            # a LoRA adapter directory (hf backend)
    backend: str = "auto"                 # one of BACKENDS; auto: llamacpp on a CPU when installed, else hf
    base_url: str | None = None           # openai backend: e.g. http://127.0.0.1:8000/v1
    api_key_env: str = "CPP2PY_API_KEY"   # environment variable holding the key (OPENAI_API_KEY is the fallback)
    device: str = "auto"                  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"                   # auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float16 | float32 | int8 (CPU)
    load_in_4bit: bool = False            # NF4 weights (bitsandbytes, GPU)
    context_window: int | None = None     # openai backend: the served model's window if known
    request_timeout: float = 300.0        # openai backend, per request
    threads: int | None = None            # llamacpp: CPU threads (None: all cores; on a shared CPU 1 is faster)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise Cpp2PyError(f"--backend: {self.backend!r} is not one of {', '.join(BACKENDS)}")

    def model_section(self) -> dict[str, Any]:
        """This config's :class:`ModelConfig` fields, to build another stage's config for the same model."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ModelConfig)}

    def backend_key(self) -> tuple:
        """What identifies a loaded backend: two configs with the same key share one model in memory."""
        if self.backend == "openai":
            return ("openai", self.model, self.base_url, self.api_key_env, self.context_window, self.request_timeout)
        if self.backend == "vllm":
            return ("vllm", self.model, self.adapter, self.device, self.dtype)
        # hf, and auto where it resolves to hf (cpp2py.generation.backends.backend_key handles llamacpp)
        return ("hf", self.model, self.adapter, self.device, self.dtype, self.load_in_4bit)


@dataclass(frozen=True)
class Decoding:
    """How one ``generate`` call decodes; built from a config by :meth:`TranslateConfig.decoding`."""

    temperature: float       # 0 = greedy; > 0 samples with top_p
    top_p: float
    repetition_penalty: float
    max_new_tokens_cap: int  # the most new tokens an input's budget may reach
    batch_size: int          # hf: sequences per model.generate call
    concurrency: int         # openai: requests in flight
    engine: str              # hf: one of ENGINES (HFBackend.engine_for)
    seed: int = 0            # sampled decoding starts here (see cpp2py.generation.common.sampling_seeds)


# How the hf backend runs the model: ``eager`` = transformers ``generate`` on length-sorted batches;
# ``static`` = the same with a static KV cache, which lets transformers compile the decode step;
# ``cb`` = transformers' continuous batching (paged KV cache, CUDA graphs on a GPU); ``auto`` = eager (measured fastest overall: docs/translation.md).
ENGINES = ("auto", "eager", "static", "cb")


@dataclass(kw_only=True)
class TranslateConfig(ModelConfig):
    """How to translate."""

    engine: str = "auto"                  # hf: auto (= eager) | eager | static | cb (ENGINES)
    batch_size: int = 16                  # hf: sequences per generate call
    concurrency: int = 8                  # openai: requests in flight
    max_new_tokens: int | None = None     # None: 2 x input tokens + 64, capped at max_new_tokens_cap
    max_new_tokens_cap: int = 2048
    max_input_tokens: int | None = None   # split inputs longer than this; None: a third of the window
    temperature: float = 0.0              # 0 = greedy; > 0 samples with top_p
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    num_samples: int = 1                  # > 1 (with temperature > 0): keep the first sample that parses
    retries: int = 2                      # regenerations of a reply that does not parse
    retry_temperature: float = 0.2
    seed: int = 0                         # sampling (retries, num_samples, --verify candidates) is reproducible from it
    verify: bool = False                  # choose and repair against the oracle built from the C++ (jobs/verify.py)
    verify_samples: int = 2               # --verify: candidates per input, the greedy one included
    rounds: int = 1                       # --verify: repair rounds, one counterexample each
    verify_budget: int = 20               # --verify: oracle cases per function / generated inputs per program
    stdin: list[str] = field(default_factory=list)  # --verify: files of program input (whole programs)
    timeout: float = 10.0                 # sandbox time limit per run (seconds)
    resume: bool = True
    num_gpus: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_gpus < 1:
            raise Cpp2PyError(f"--num-gpus: must be at least 1, got {self.num_gpus}")
        if self.num_gpus > 1 and self.device.startswith("cuda:"):
            raise Cpp2PyError(f"--device {self.device}: with --num-gpus each process gets its own GPU; use auto or cuda")
        for name in ("batch_size", "concurrency", "num_samples", "max_new_tokens_cap", "verify_samples", "verify_budget"):
            if getattr(self, name) < 1:
                raise Cpp2PyError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise Cpp2PyError(f"max_new_tokens: must be at least 1, got {self.max_new_tokens}")
        for path in self.stdin:
            if not Path(path).is_file():
                raise Cpp2PyError(f"--stdin {path}: no such file")
        if self.engine not in ENGINES:
            raise Cpp2PyError(f"--engine: {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.temperature < 0 or self.rounds < 0 or self.retries < 0:
            raise Cpp2PyError("temperature, rounds and retries must not be negative")

    def decoding(self, **changes: Any) -> Decoding:
        """The decoding options of this config (``changes`` replace some), passed with each generate call."""
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(Decoding)}
        return Decoding(**{**options, **changes})


@dataclass(kw_only=True)
class EvaluateConfig(ModelConfig):
    """What to score. A ``model`` or ``adapter`` (the model section) adds a one-shot system: the benchmark
    translated with it first."""

    benchmark: str
    predictions: list[str] = field(default_factory=list)
    out: str = "eval"
    allow_exec: bool = False          # run predictions against the benchmark's tests (in cpp2py.execution.sandbox)
    baselines: list[str] = field(default_factory=list)   # "naive-copy"
    train_data: list[str] = field(default_factory=list)  # training JSONL for the contamination check
    threshold: float = CONTAMINATION_THRESHOLD
    workers: int = 0                  # parallel sandbox runs; 0 = number of CPUs
    timeout: float = 10.0             # per program run, seconds
    ks: list[int] = field(default_factory=lambda: [1])
    bootstrap: int = 1000
    plots: bool = True
    progress: bool = True


@dataclass(kw_only=True)
class ServeConfig(ModelConfig):
    """The server: its model section (``model=None``: the default model, as ``cpp2py translate`` uses) and limits."""

    host: str = "127.0.0.1"
    port: int = 8000
    batch_size: int = 8               # requests per backend call
    batch_wait_ms: float = 5.0        # how long the worker waits to fill a batch once a request arrived
    max_queue: int = 64               # requests waiting for the model; more get HTTP 429
    max_body_kb: int = 256            # request body limit; larger gets HTTP 413
    max_input_tokens: int = 16_384    # per-request input limit in the model's tokens; larger gets HTTP 413
    timeout: float = 300.0            # seconds a request may wait and run; longer gets HTTP 504
    max_new_tokens: int = 1024        # cap for chat completions' max_tokens
    allow_exec: bool = False          # Verify runs model-written code (in the sandbox) only when set
    served_model_name: str = "cpp2py"  # the id /v1/models reports

