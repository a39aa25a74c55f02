"""QLoRA fine-tuning: trl's SFTTrainer over prompt/completion records, with a guard against NaN updates.

Run as: cpp2py train --config configs/qwen2.5-coder-0.5b-qlora.yaml [lora.r=8 ...] [--resume]

The recipe (configs/*.yaml, parsed strictly into :class:`TrainConfig`): a base model in 4-bit NF4 with
double quantisation (bitsandbytes), LoRA adapters (peft), trl's ``SFTTrainer`` with the loss on the
completion only; the completion ends with the tokenizer's EOS, which is a trained label, so the model
learns to stop. Prompts come from :mod:`cpp2py.prompt`.

Examples longer than ``max_length`` are dropped (and counted), never truncated: truncation cuts off the
end of the completion and its EOS, teaching the model not to stop. Examples with nothing to learn (an
empty side, no completion tokens) are dropped up front too, since a batch without a single label makes
the loss 0/0.

Non-finite steps: ``NonFiniteGuard`` (:mod:`cpp2py.train.sft`) drops the update of any step whose loss or
gradients are not finite, writes the step and the ids and lengths of its examples to
``nonfinite_batches.jsonl`` (under multi-GPU, rank N > 0 writes its own batches to
``nonfinite_batches.rankN.jsonl``), and the run fails if the final adapter holds a non-finite weight.

The run works in ``<output_dir>.partial/`` (checkpoints, TensorBoard logs) and is renamed to
``output_dir`` only once the adapter, tokenizer, ``prompt.json``, ``train_config.yaml`` and
``train_metrics.json`` are written, so a crash never leaves a directory that looks complete.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Any

from cpp2py.errors import Cpp2PyError
from cpp2py.files import atomic_write, read_jsonl, write_json
from cpp2py.train import sft
from cpp2py.train.recipe import TrainConfig


# ---------------------------------------------------------------- data


def load_records(paths: list[str], style: str, tokenizer: Any, max_length: int,
                 limit: int | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Prompt/completion records (with ``id``) from prepare-format JSONL files, and drop counts.

    Lengths are counted the way trl tokenises (the full prompt+completion), so what is kept fits.
    """
    from cpp2py.prompt import training_record

    records: list[dict[str, Any]] = []
    stats = {"read": 0, "empty": 0, "too_long": 0, "no_completion_tokens": 0, "duplicate_id": 0}
    seen: set[str] = set()
    for path in paths:
        if not Path(path).is_file():
            raise Cpp2PyError(f"{path}: no such data file (run `cpp2py prepare` first)")
        for lineno, ex in enumerate(read_jsonl(path), 1):
            stats["read"] += 1
            cpp, python = ex.get("cpp"), ex.get("python")
            if not isinstance(cpp, str) or not isinstance(python, str):
                raise Cpp2PyError(f"{path}:{lineno}: expected string fields 'cpp' and 'python'")
            ex_id = str(ex.get("id", f"{Path(path).stem}:{lineno}"))
            if ex_id in seen:
                stats["duplicate_id"] += 1
                continue
            if not cpp.strip() or not python.strip():
                stats["empty"] += 1
                continue
            rec = training_record(cpp, python, style)
            n_prompt, n_total = _token_counts(tokenizer, rec)
            if n_total > max_length:
                stats["too_long"] += 1
                continue
            if n_total - n_prompt < 2:  # no completion beyond EOS: the loss would be 0/0
                stats["no_completion_tokens"] += 1
                continue
            seen.add(ex_id)
            records.append({"id": ex_id, **rec})
            if limit is not None and len(records) >= limit:
                break
    stats["kept"] = len(records)
    if not records:
        raise Cpp2PyError(f"{', '.join(paths)}: no usable examples ({stats})")
    return records, stats


def _ids(encoded: Any) -> list[int]:
    return list(encoded["input_ids"] if isinstance(encoded, dict) or hasattr(encoded, "keys") else encoded)


def _token_counts(tokenizer: Any, rec: dict[str, Any]) -> tuple[int, int]:
    if isinstance(rec["prompt"], list):
        prompt = _ids(tokenizer.apply_chat_template(rec["prompt"], tokenize=True, add_generation_prompt=True))
        full = _ids(tokenizer.apply_chat_template(rec["prompt"] + rec["completion"], tokenize=True))
        return len(prompt), len(full)
    prompt = tokenizer(rec["prompt"])["input_ids"]
    full = tokenizer(rec["prompt"] + rec["completion"] + tokenizer.eos_token)["input_ids"]
    return len(prompt), len(full)


def _peak_memory(on_gpu: bool) -> dict[str, Any]:
    import resource

    import torch

    if on_gpu:
        return {"peak_memory_bytes": torch.cuda.max_memory_allocated(), "peak_memory_kind": "gpu_max_allocated"}
    # ru_maxrss is KiB on Linux
    return {"peak_memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "peak_memory_kind": "cpu_max_rss"}


# ---------------------------------------------------------------- the run


def build_model_and_tokenizer(cfg: TrainConfig):
    """The base model (NF4 when configured) with fresh LoRA adapters, and its tokenizer."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from cpp2py import ranks as distributed
    from cpp2py.generation.model import load_model, load_tokenizer
    from cpp2py.train import varlen_attention

    tokenizer = load_tokenizer(cfg.model)
    q = cfg.quantization
    if q.load_in_4bit and q.quant_type != "nf4":
        raise Cpp2PyError(f"quantization.quant_type {q.quant_type!r}: only nf4 is supported")
    if cfg.attn_implementation == varlen_attention.NAME:
        varlen_attention.register()
    model = load_model(cfg.model, quantization="nf4" if q.load_in_4bit else "none",
                       dtype=q.compute_dtype if q.load_in_4bit else cfg.dtype, double_quant=q.double_quant,
                       attn_implementation=cfg.attn_implementation)
    # FSDP shards only modules whose parameters share one dtype; this helper's fp32 upcast of the norms
    # and embeddings would break that (trl skips it for FSDP-QLoRA too).
    if q.load_in_4bit and distributed.strategy() != "fsdp":
        compute = model.get_input_embeddings().weight.dtype
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
        if not cfg.upcast_fp32:  # undo its fp32 upcast (recipe.py says why)
            for p in model.parameters():
                if p.is_floating_point() and p.dtype != compute:
                    p.data = p.data.to(compute)
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, lora), tokenizer


def build_trainer(cfg: TrainConfig, work: Path, callbacks: list[Any] | None = None):
    """The guarded SFTTrainer for ``cfg`` working in ``work``; returns (trainer, guard, data_stats)."""
    import torch

    on_gpu = torch.cuda.is_available()
    if on_gpu:
        # PyTorch picks cuDNN's fused attention for masked SDPA on Hopper, and its backward returns
        # non-finite gradients for some padded bf16 batches (lengths 192 and 448 here) with a finite loss;
        # the memory-efficient kernel is exact on the same batches (docs/training.md, "Non-finite steps").
        torch.backends.cuda.enable_cudnn_sdp(False)
    from datasets import Dataset
    from transformers import set_seed

    from cpp2py import ranks as distributed
    from cpp2py.prompt import style_for

    sft.check_speed_options(cfg)
    set_seed(cfg.seed)
    model, tokenizer = build_model_and_tokenizer(cfg)
    style = style_for(tokenizer)
    train_recs, train_stats = load_records([cfg.data.train, *cfg.data.extra_train], style, tokenizer,
                                           cfg.data.max_length, cfg.data.max_train_examples)
    val_ds, val_stats = None, None
    if cfg.data.val:
        val_recs, val_stats = load_records([cfg.data.val], style, tokenizer, cfg.data.max_length,
                                           cfg.data.max_val_examples)
        val_ds = Dataset.from_list(val_recs)
    trainer_cls, guard_cls = sft.trainer_classes()
    args = sft.sft_config(cfg, work, val_ds is not None, on_gpu)
    trainer = trainer_cls(model=model, args=args, train_dataset=Dataset.from_list(train_recs),
                          eval_dataset=val_ds, processing_class=tokenizer, callbacks=callbacks,
                          token_metrics=cfg.token_metrics)
    trainer.data_collator = sft.IdCollator(trainer.data_collator)
    if cfg.gradient_checkpointing and cfg.checkpoint_layers < 1:
        trainer.add_callback(sft.partial_checkpointing(cfg.checkpoint_layers))
    guard = guard_cls(trainer, work / sft.nonfinite_log_name(distributed.rank()))
    trainer.add_callback(guard)
    return trainer, guard, {"train": train_stats, "val": val_stats, "style": style}


def train(cfg: TrainConfig, *, resume: bool = False, callbacks: list[Any] | None = None) -> Path:
    """Run the recipe; returns the finished output directory."""
    import torch

    from cpp2py.prompt import prompt_spec
    from cpp2py.ranks import barrier, is_main_process, reduce_max, reduce_sum
    from cpp2py.train.launch import adapter_state_dict

    out = Path(cfg.output_dir)
    work = out.with_name(out.name + ".partial")
    checkpoint = _prepare_work(cfg, out, work, resume)
    trainer, guard, data_stats = build_trainer(cfg, work, callbacks)
    on_gpu = torch.cuda.is_available()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    # Multi-GPU: start the clock once every rank is ready and the process group has made its first
    # collective (NCCL sets up its communicators then), so tokens/s measures training, not start-up.
    # Without it rank 0's clock ran 7 s past the Trainer's own 20 s runtime on 2 H200s (docs/scale.md);
    # how much of that the barrier removes is not measured yet.
    barrier()
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.perf_counter() - start
    # the evaluations inside trainer.train(), whose wall time includes them; a resumed run's history also
    # holds the earlier session's
    eval_s = sum(h["eval_runtime"] for h in trainer.state.log_history if "eval_runtime" in h)
    eval_loss = _final_eval_loss(trainer)

    model = trainer.accelerator.unwrap_model(trainer.model)
    state = adapter_state_dict(trainer)  # every rank: FSDP gathers the shards (complete on rank 0)
    bad = [n for n, v in state.items() if not torch.isfinite(v).all()]
    if bad:
        raise Cpp2PyError(f"{work}: the adapter has non-finite weights ({bad[0]}, ... {len(bad)} tensors); "
                          f"see {work / 'nonfinite_batches*.jsonl'}")
    tokens = int(reduce_sum(trainer.tokens_seen))  # the whole job's tokens, so tokens/s is too
    peak = _peak_memory(on_gpu)
    peak["peak_memory_bytes"] = int(reduce_max(peak["peak_memory_bytes"]))  # the fullest GPU
    if not is_main_process():  # only rank 0 writes the adapter, metrics and logs
        return out
    _save_adapter(model, state, work, cfg)
    trainer.processing_class.save_pretrained(work)
    write_json(work / "prompt.json", prompt_spec(data_stats["style"]))
    metrics = _run_metrics(cfg, trainer, result, wall=wall, tokens=tokens, eval_s=eval_s, eval_loss=eval_loss)
    write_json(work / "train_metrics.json", {**metrics, "skipped_nonfinite_steps": guard.skipped,
                                             "data": data_stats, "resumed": resume, **peak})
    if not cfg.keep_checkpoints:
        for ckpt in work.glob("checkpoint-*"):
            shutil.rmtree(ckpt)
    os.replace(work, out)
    return out


def _prepare_work(cfg: TrainConfig, out: Path, work: Path, resume: bool) -> str | None:
    """Checks ``out``/``work``, (re)creates ``work`` with the resolved recipe; the checkpoint to resume from."""
    import yaml

    from cpp2py.ranks import main_process_only

    if out.exists():
        raise Cpp2PyError(f"{out}: already exists; choose another output_dir or remove it")
    checkpoints = sorted(work.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) if work.is_dir() else []
    if resume and not checkpoints:
        raise Cpp2PyError(f"{work}: no checkpoint to resume from")

    @main_process_only  # multi-GPU: one process prepares the directory, the others wait for it
    def prepare() -> None:
        if not resume and work.exists():
            shutil.rmtree(work)  # leftovers of a crashed run; --resume would have continued it
        work.mkdir(parents=True, exist_ok=True)
        with atomic_write(work / "train_config.yaml") as f:
            yaml.safe_dump(dataclasses.asdict(cfg), f, sort_keys=False)

    prepare()
    return str(checkpoints[-1]) if resume else None


def _final_eval_loss(trainer: Any) -> float | None:
    if trainer.eval_dataset is None:
        return None
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    if evals and evals[-1]["step"] == trainer.state.global_step:  # the last scheduled eval was at the final step
        return evals[-1]["eval_loss"]
    return trainer.evaluate()["eval_loss"]


def _run_metrics(cfg: TrainConfig, trainer: Any, result: Any, *, wall: float, tokens: int, eval_s: float,
                 eval_loss: float | None) -> dict[str, Any]:
    import torch

    history = trainer.state.log_history
    return {
        "model": cfg.model,
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "tokens_seen": tokens,
        "wall_time_s": round(wall, 2),
        "trainer_runtime_s": round(result.metrics.get("train_runtime", wall), 2),  # the Trainer's own clock
        "tokens_per_s": round(tokens / wall, 1) if wall > 0 else None,
        "eval_time_s": round(eval_s, 2),
        "eval_share_of_wall": round(eval_s / wall, 4) if wall > 0 else None,
        "final_train_loss": next((h["loss"] for h in reversed(history) if "loss" in h), result.training_loss),
        "mean_train_loss": result.training_loss,
        "final_val_loss": eval_loss,
        "loss_curve": [{"step": h["step"], "loss": h["loss"]} for h in history if "loss" in h],
        "val_curve": [{"step": h["step"], "loss": h["eval_loss"]} for h in history if "eval_loss" in h],
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "num_processes": trainer.accelerator.num_processes,
    }


def _save_adapter(model: Any, state: dict[str, Any], work: Path, cfg: TrainConfig) -> None:
    """adapter_model.safetensors in ``adapter_dtype``, with the base recorded by its portable name."""
    import torch
    from safetensors.torch import save_file

    dtype = torch.bfloat16 if cfg.adapter_dtype == "bf16" else torch.float32
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in state.items()}
    save_file(state, str(work / "adapter_model.safetensors"), metadata={"format": "pt"})
    peft_cfg = model.peft_config["default"]
    # the base's resolved path is a cache dir on this machine; the configured name resolves anywhere
    peft_cfg.base_model_name_or_path = cfg.model
    peft_cfg.save_pretrained(str(work))


# ---------------------------------------------------------------- merge


def merge_adapter(adapter: str | Path, out: str | Path, *, push_to_hub: str | None = None) -> Path:
    """Base model in bf16 (dequantised, not 4-bit) + LoRA merged: a plain transformers model."""
    from cpp2py.generation.model import save_merged

    out = Path(out)
    if out.exists():
        raise Cpp2PyError(f"{out}: already exists")
    out, merged, tokenizer = save_merged(adapter, out)
    if push_to_hub:
        from huggingface_hub import get_token

        if not get_token():
            raise Cpp2PyError("--push-to-hub needs a token: run `hf auth login` or set HF_TOKEN")
        merged.push_to_hub(push_to_hub)
        tokenizer.push_to_hub(push_to_hub)
    return out
