"""Multi-GPU QLoRA on accelerate: ``cpp2py train --num-gpus N`` re-executes itself under
``accelerate launch`` with a config from ``configs/accelerate/``.

Run as: cpp2py train -c configs/qwen2.5-coder-0.5b-qlora.yaml --num-gpus 2 [--strategy ddp|fsdp]

Inside the launched processes the training code asks :mod:`cpp2py.ranks` where to put the model and who
writes outputs, and :func:`adapter_state_dict` for the trained weights.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Literal, Sequence

from cpp2py.errors import Cpp2PyError
from cpp2py.ranks import is_launched, is_main_process, keep_multicast_off, require_gpus, strategy

Strategy = Literal["ddp", "fsdp"]
STRATEGY_CONFIGS: dict[str, str] = {"ddp": "ddp.yaml", "fsdp": "fsdp-qlora.yaml"}
# Options of `cpp2py train` that choose the launch; the launched processes must not see them again.
LAUNCH_OPTIONS = ("--num-gpus", "--strategy")


def accelerate_config_path(strategy: Strategy) -> Path:
    """The accelerate config shipped for ``strategy`` (repo ``configs/accelerate/``, else the cwd's)."""
    if strategy not in STRATEGY_CONFIGS:
        raise Cpp2PyError(f"--strategy {strategy!r}: expected one of {', '.join(STRATEGY_CONFIGS)}")
    name = Path("configs") / "accelerate" / STRATEGY_CONFIGS[strategy]
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
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
