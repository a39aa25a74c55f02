"""Which process am I in a multi-process job, and the launch settings every multi-GPU path shares.

Run as: (library) ``from cpp2py import ranks``; the model loader asks where to place a model
(:func:`device_map_for_rank`, :func:`quantization_overrides`), training asks who writes outputs
(:func:`main_process_only`), and both launchers (``train --num-gpus``, ``translate --num-gpus``) keep
NVLink multicast off (:func:`keep_multicast_off`) and refuse more GPUs than exist (:func:`require_gpus`).
"""
from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, Literal, TypeVar

from cpp2py.errors import Cpp2PyError

# NVLink multicast (NVLS) can take a shared host's GPUs out of service; never let a launch turn it on.
SAFE_NCCL_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}

F = TypeVar("F", bound=Callable[..., Any])


def require_gpus(num_gpus: int, hint: str = "") -> None:
    """Refuse ``--num-gpus N`` before anything starts when fewer GPUs are visible."""
    import torch

    found = torch.cuda.device_count()
    if found < num_gpus:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: this machine has {found} GPU(s){hint}")


def keep_multicast_off() -> None:
    """Set :data:`SAFE_NCCL_ENV` for this process and the ones it starts, unless the user set them."""
    for key, value in SAFE_NCCL_ENV.items():
        os.environ.setdefault(key, value)


def is_launched() -> bool:
    """True inside a process started by ``accelerate launch``/``torchrun`` (so do not launch again)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


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
