"""Scaling out on the field's engines: accelerate for multi-GPU QLoRA, one process per GPU for translation.

Run as: cpp2py train -c configs/qwen2.5-coder-0.5b-qlora.yaml --num-gpus 2 [--strategy ddp|fsdp]
        cpp2py translate bench.jsonl -o predictions.jsonl --num-gpus 2

Training: ``cpp2py train --num-gpus N`` re-executes itself under ``accelerate launch`` with a config from
``configs/accelerate/``. Inside the launched processes the training code asks this module where to put
the model (:func:`device_map_for_rank`), which bitsandbytes storage dtype FSDP needs
(:func:`quantization_overrides`) and who writes outputs (:func:`main_process_only`).

Translation: the items are dealt round-robin into N shards, one process per GPU translates its shard
into its own JSONL (append + flush, resumable), and :func:`merge_shards` joins them in input order,
refusing to write a predictions file with items missing.
"""
from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Literal, Sequence, TypeVar

from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender, read_jsonl, write_jsonl
from cpp2py.schema import read_items

Strategy = Literal["ddp", "fsdp"]
STRATEGY_CONFIGS: dict[str, str] = {"ddp": "ddp.yaml", "fsdp": "fsdp-qlora.yaml"}
# Options of `cpp2py train` that choose the launch; the launched processes must not see them again.
LAUNCH_OPTIONS = ("--num-gpus", "--strategy")
# NVLink multicast (NVLS) can take a shared host's GPUs out of service; never let a launch turn it on.
SAFE_NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------------------------- launching
def accelerate_config_path(strategy: Strategy) -> Path:
    """The accelerate config shipped for ``strategy`` (repo ``configs/accelerate/``, else the cwd's)."""
    if strategy not in STRATEGY_CONFIGS:
        raise Cpp2PyError(f"--strategy {strategy!r}: expected one of {', '.join(STRATEGY_CONFIGS)}")
    name = Path("configs") / "accelerate" / STRATEGY_CONFIGS[strategy]
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (root / name).is_file():
            return root / name
    raise Cpp2PyError(f"{name}: accelerate config not found (run from a cpp2py checkout)")


def accelerate_command(num_gpus: int, strategy: Strategy, train_args: Sequence[str]) -> list[str]:
    """``accelerate launch --config_file ... --num_processes N -m cpp2py train TRAIN_ARGS``.

    ``--num_processes`` on the command line overrides the config file's value, so one file serves any N.
    """
    if num_gpus < 1:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: must be at least 1")
    return ["accelerate", "launch", "--config_file", str(accelerate_config_path(strategy)),
            "--num_processes", str(num_gpus), "-m", "cpp2py", "train", *train_args]


def strip_launch_options(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--num-gpus N`` / ``--strategy S`` (either spelling), for the launched processes."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(o + "=" for o in LAUNCH_OPTIONS)):
            out.append(arg)
    return out


def require_gpus(num_gpus: int, hint: str = "") -> None:
    """Refuse ``--num-gpus N`` before anything starts when fewer GPUs are visible."""
    import torch

    found = torch.cuda.device_count()
    if found < num_gpus:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: this machine has {found} GPU(s){hint}")


def launch_training(num_gpus: int, strategy: Strategy, train_args: Sequence[str]) -> None:
    """Replace this process with ``accelerate launch`` running ``cpp2py train`` on ``num_gpus`` GPUs."""
    cmd = accelerate_command(num_gpus, strategy, train_args)
    # Otherwise rank N would fail deep in model loading, asking for a cuda:N that does not exist.
    require_gpus(num_gpus, " (a CPU-only test run: torchrun --nproc_per_node N -m cpp2py train ...)")
    exe = shutil.which("accelerate")
    if exe is None:
        # Same launcher through this interpreter, for environments whose scripts are not on PATH.
        cmd = [sys.executable, "-m", "accelerate.commands.launch", *cmd[2:]]
        exe = sys.executable
    keep_multicast_off()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, cmd)


def keep_multicast_off() -> None:
    """Set :data:`SAFE_NCCL_ENV` for this process and the ones it starts, unless the user set them."""
    for key, value in SAFE_NCCL_ENV.items():
        os.environ.setdefault(key, value)


def is_launched() -> bool:
    """True inside a process started by ``accelerate launch``/``torchrun`` (so do not launch again)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def use_one_gpu() -> None:
    """Make a plain (not launched) ``cpp2py train`` see only the first visible GPU.

    Otherwise, on a multi-GPU host, transformers' Trainer wraps the model in ``nn.DataParallel``, which
    trl's SFTTrainer refuses and which could not hold a 4-bit model placed on one GPU anyway; several GPUs
    are used through ``--num-gpus``. Must run before CUDA is initialised in this process.
    """
    if is_launched():
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = "0" if visible is None else visible.split(",")[0]


# ------------------------------------------------------------------------------------------- rank helpers
def _dist(create: bool = False):
    """``torch.distributed`` when a process group is up, else None (without importing torch for nothing).

    ``create``: under ``accelerate launch``, set the group up if the Trainer has not done it yet, so that
    :func:`barrier` also works before the Trainer exists (e.g. around preparing the output directory).
    """
    if create and is_launched():
        from accelerate import PartialState

        PartialState()  # a process-wide singleton: the Trainer later reuses this group
    elif "torch" not in sys.modules:
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def local_rank() -> int:
    """This process's GPU index on its host (0 when not distributed)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    """Processes in the job: the launcher's ``WORLD_SIZE``, else the process group's, else 1."""
    if "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    dist = _dist()
    return dist.get_world_size() if dist else 1


def rank() -> int:
    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    dist = _dist()
    return dist.get_rank() if dist else 0


def is_main_process() -> bool:
    return rank() == 0


def strategy() -> Literal["single", "ddp", "fsdp"]:
    """How this process was launched: accelerate's FSDP, several processes (DDP), or a single process."""
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true"):
        return "fsdp"
    return "ddp" if world_size() > 1 else "single"


def device_map_for_rank() -> dict[str, int] | None:
    """Where this process loads the (4-bit) base model.

    DDP QLoRA: ``{"": local_rank}`` — every process holds a whole copy on its own GPU (a 4-bit model cannot
    be moved after loading, so it must be placed at load time). FSDP: None, as FSDP places and shards the
    weights itself (rank 0 loads, the others receive). One process or no GPU: None, the caller's default.
    """
    if strategy() != "ddp":
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return {"": local_rank()}


def quantization_overrides() -> dict[str, Any]:
    """Extra ``BitsAndBytesConfig`` kwargs for this launch: FSDP needs the 4-bit weights stored as bf16.

    FSDP flattens each wrapped module's parameters into one tensor of one float dtype; with the default
    uint8 storage the 4-bit layers could not be sharded together with the bf16 ones. Load the model with
    ``dtype=torch.bfloat16`` too, so both match.
    """
    if strategy() != "fsdp":
        return {}
    import torch

    return {"bnb_4bit_quant_storage": torch.bfloat16}


def adapter_state_dict(trainer: Any) -> dict[str, Any]:
    """The trained LoRA weights; call on every rank. Under FSDP they are gathered into a full state dict
    (complete on rank 0 only), elsewhere read from the model directly."""
    from peft import get_peft_model_state_dict

    model = trainer.accelerator.unwrap_model(trainer.model)
    if strategy() != "fsdp":
        return get_peft_model_state_dict(model)
    # Checkpoints stay sharded (fast, and what --resume reloads); the adapter needs the full weights,
    # gathered collectively, hence on every rank.
    trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    full = trainer.accelerator.get_state_dict(trainer.model)
    return get_peft_model_state_dict(model, state_dict=full) if is_main_process() else {}


def barrier() -> None:
    dist = _dist(create=True)
    if dist is not None:
        dist.barrier()


def main_process_only(fn: F) -> F:
    """Run ``fn`` on rank 0 only (others get None), then wait until it is done on every rank.

    For cpp2py's own outputs (resolved config, prompt.json, train_metrics.json, logs): one writer, and no
    rank reads a file before it is complete. Every rank must call the decorated function.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs) if is_main_process() else None
        finally:
            barrier()

    return wrapper  # type: ignore[return-value]


def reduce_sum(value: float) -> float:
    """``value`` summed over all ranks (e.g. tokens seen, so tokens/s is the whole job's)."""
    return _reduce(value, "sum")


def reduce_max(value: float) -> float:
    """``value``'s maximum over all ranks (e.g. peak memory of the fullest GPU)."""
    return _reduce(value, "max")


def _reduce(value: float, op: str) -> float:
    dist = _dist(create=True)
    if dist is None:
        return value
    import torch

    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return float(t.item())


# ------------------------------------------------------------------------------ data-parallel translation
def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``."""
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise Cpp2PyError(f"--shard {text!r}: expected I/N, e.g. 0/2") from None
    if n < 1 or not 0 <= i < n:
        raise Cpp2PyError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def shard_items(items: Sequence[Any], num_shards: int, shard: int) -> list[Any]:
    """Shard ``shard`` of ``num_shards``, dealt round-robin.

    Benchmarks are often ordered by source or size; dealing keeps every shard's length mix like the
    whole's, so the GPUs finish together instead of one waiting on all the long items.
    """
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise Cpp2PyError(f"shard {shard}/{num_shards}: need 0 <= shard < num_shards")
    return list(items[shard::num_shards])


def shard_dir(predictions_path: str | Path) -> Path:
    """Working folder of a sharded run, beside the predictions file; removed after a complete merge."""
    p = Path(predictions_path)
    return p.parent / f".{p.name}.shards"


def shard_paths(predictions_path: str | Path, shard: int, num_shards: int) -> tuple[Path, Path]:
    """(input, output) JSONL of one shard; N is in the name so runs with another N never mix."""
    d = shard_dir(predictions_path)
    stem = f"shard-{shard}-of-{num_shards}"
    return d / f"{stem}.input.jsonl", d / f"{stem}.jsonl"


def write_shard_inputs(benchmark_path: str | Path, predictions_path: str | Path, num_shards: int,
                       *, resume: bool = True) -> list[tuple[Path, Path]]:
    """Split the benchmark into per-shard input files; seed each shard's output for resume.

    With ``resume``, results already in the predictions file (from a finished or a one-GPU run) are
    copied into the shard outputs, so they are skipped whatever N was before. Without it, old shard
    outputs are deleted.
    """
    items = read_items(benchmark_path)
    previous: dict[str, dict[str, Any]] = {}
    if resume and Path(predictions_path).is_file():
        previous = {str(r["id"]): r for r in read_jsonl(predictions_path) if "id" in r}
    paths = []
    for shard in range(num_shards):
        inp, out = shard_paths(predictions_path, shard, num_shards)
        part = shard_items(items, num_shards, shard)
        write_jsonl(inp, (it.to_dict() for it in part))
        with JsonlAppender(out, resume=resume) as app:
            for item in part:
                rec = previous.get(item.id)
                if rec is not None and item.id not in app.done_ids:
                    app.write(rec)
        paths.append((inp, out))
    return paths


def merge_shards(benchmark_path: str | Path, shard_outputs: Sequence[str | Path],
                 predictions_path: str | Path) -> Path:
    """Join shard outputs into ``predictions_path`` in the benchmark's order, atomically.

    Every benchmark id must have a result; otherwise nothing is written and the error names the missing
    ids (rerun to translate them: finished ones are kept in the shard files). When an id appears twice
    (a shard rerun without resume), the later line wins.
    """
    ids = [it.id for it in read_items(benchmark_path)]
    results: dict[str, dict[str, Any]] = {}
    for path in shard_outputs:
        if Path(path).is_file():
            for rec in read_jsonl(path):
                if "id" in rec:
                    results[str(rec["id"])] = rec
    missing = [i for i in ids if i not in results]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise Cpp2PyError(f"{predictions_path}: not merged, {len(missing)} of {len(ids)} items have no "
                          f"result: {shown}; rerun to translate them (finished items are kept)")
    write_jsonl(predictions_path, (results[i] for i in ids))
    return Path(predictions_path)


def translate_shard(benchmark_path: str | Path, output_path: str | Path, cfg: Any,
                    shard: int, num_shards: int) -> Any:
    """Translate shard ``shard``/``num_shards`` of a benchmark JSONL into ``output_path`` (resumable);
    returns the translate stage's summary. What ``cpp2py translate BENCH --shard i/N -o OUT`` runs, e.g.
    as one task of a cluster array job; join the outputs with :func:`merge_shards`.
    """
    from cpp2py.translate import _translate_jsonl

    items = read_items(benchmark_path)
    inp = Path(output_path).parent / f".{Path(output_path).name}.input.jsonl"
    write_jsonl(inp, (it.to_dict() for it in shard_items(items, num_shards, shard)))
    try:
        return _translate_jsonl(inp, output_path, cfg)
    finally:
        inp.unlink(missing_ok=True)


def _translate_on_gpu(device: str, input_path: Path, output_path: Path, cfg: Any) -> Path:
    # Runs in a fresh (spawned) interpreter: CUDA is not initialised yet, so this pins the process to one GPU.
    os.environ["CUDA_VISIBLE_DEVICES"] = device
    from cpp2py.translate import _translate_jsonl

    return _translate_jsonl(input_path, output_path, cfg)


def _run_shard(worker: Callable[..., Any], shard: int, device: str, inp: Path, out: Path, cfg: Any,
               reports: Any) -> None:
    try:
        reports.put((shard, None, worker(device, inp, out, cfg)))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        reports.put((shard, str(e) if isinstance(e, Cpp2PyError) else f"{type(e).__name__}: {e}", None))
        sys.exit(1)


def translate_sharded(benchmark_path: str | Path, predictions_path: str | Path, cfg: Any, num_gpus: int,
                      *, worker: Callable[[str, Path, Path, Any], Any] = _translate_on_gpu) -> list[Any]:
    """Translate a benchmark JSONL on ``num_gpus`` GPUs, one process each, and merge in input order.

    Process ``i`` sees only GPU ``i`` (of those in ``CUDA_VISIBLE_DEVICES``, when it is set) and appends
    its finished items to its shard file, so an interrupted run loses nothing and a rerun (``cfg.resume``,
    default on) continues every shard where it stopped. ``worker(device, input, output, cfg)`` translates
    one shard (tests replace it); what each returns (the translate stage's summary) is returned in shard
    order once ``predictions_path`` holds the merged predictions.
    """
    import multiprocessing

    if num_gpus < 1:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: must be at least 1")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(num_gpus)]
    if len(devices) < num_gpus:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: CUDA_VISIBLE_DEVICES={visible} names only {len(devices)}")
    if not visible and str(getattr(cfg, "device", "cpu")).startswith(("auto", "cuda")):
        # A worker whose GPU does not exist would fall back to the CPU: silently, and many times slower.
        require_gpus(num_gpus, f"; pass --device cpu to run {num_gpus} CPU processes instead")
    paths = write_shard_inputs(benchmark_path, predictions_path, num_gpus, resume=bool(getattr(cfg, "resume", True)))
    keep_multicast_off()
    # spawn, not fork: each worker must start without CUDA state (or torch threads) from the parent.
    ctx = multiprocessing.get_context("spawn")
    reports = ctx.SimpleQueue()
    procs = [ctx.Process(target=_run_shard, args=(worker, i, devices[i], inp, out, cfg, reports), name=f"shard-{i}")
             for i, (inp, out) in enumerate(paths)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        # The workers got the same Ctrl-C and keep what they finished; wait for them to close their files.
        for p in procs:
            p.join()
        raise
    messages, results = {}, {}
    while not reports.empty():
        shard, message, result = reports.get()
        messages[shard], results[shard] = message, result
    failed = [f"shard {i}/{num_gpus}: {messages.get(i) or f'worker exited with status {p.exitcode}'}"
              for i, p in enumerate(procs) if p.exitcode != 0]
    if failed:
        raise Cpp2PyError("; ".join(failed) + f"; finished items are kept in {shard_dir(predictions_path)}, rerun to resume")
    merge_shards(benchmark_path, [o for _, o in paths], predictions_path)
    shutil.rmtree(shard_dir(predictions_path), ignore_errors=True)
    return [results.get(i) for i in range(num_gpus)]
