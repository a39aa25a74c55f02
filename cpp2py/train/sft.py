"""The pieces qlora.py hands to trl's SFTTrainer: the guarded trainer and its NaN guard, the collator that
carries example ids to it, the speed options (partial checkpointing, liger, varlen attention, token metrics)
and the SFTConfig, built strictly so that no recipe field is dropped silently."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender
from cpp2py.train.recipe import TrainConfig


class IdCollator:
    """trl's collator, plus the ids and lengths of the batch's examples for the NaN guard."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.inner([{k: v for k, v in ex.items() if k in ("input_ids", "labels", "seq_lengths")}
                            for ex in examples])
        batch["cpp2py_ids"] = [str(ex.get("id", "?")) for ex in examples]
        batch["cpp2py_lengths"] = [len(ex["input_ids"]) for ex in examples]
        return batch


def trainer_classes():
    """(GuardedSFTTrainer, NonFiniteGuard). One function because both classes subclass transformers/trl
    types that are imported only here, when training starts, and the guard reads the trainer's batches."""
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class GuardedSFTTrainer(SFTTrainer):
        """SFTTrainer that remembers which examples went into the current optimizer step."""

        def __init__(self, *args, token_metrics: bool = True, **kwargs):
            super().__init__(*args, **kwargs)
            self.token_metrics = token_metrics
            self.step_batches: list[dict[str, Any]] = []
            self.tokens_seen = 0  # real tokens, padding excluded, in this session

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            ids, lengths = inputs.pop("cpp2py_ids", None), inputs.pop("cpp2py_lengths", None)
            if self.token_metrics or return_outputs or self.aux_loss_enabled:
                result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                              num_items_in_batch=num_items_in_batch)
            else:
                result = self._loss_without_metrics(model, inputs, num_items_in_batch)
            if model.training:
                self.tokens_seen += sum(lengths or [])
                loss = result[0] if return_outputs else result
                labels = inputs.get("labels")
                # kept as device tensors and read only when the step goes bad: reading them here would
                # stall the GPU once per batch
                self.step_batches.append({"ids": ids, "lengths": lengths, "loss": loss.detach(),
                                          "label_tokens": None if labels is None else (labels[..., 1:] != -100).sum()})
            return result

        def _loss_without_metrics(self, model, inputs, num_items_in_batch):
            """trl's loss through its fused LM head, without the entropy and token-accuracy logging: trl 1.16
            has no switch for those, and each reads a value back from the GPU on every batch."""
            import torch

            outputs = model(**inputs, use_cache=False, fused_lm_head=True)
            n_tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
            loss = -outputs.log_probs.sum() / torch.as_tensor(n_tokens).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())  # as trl: DDP averages grads
            return loss

    class NonFiniteGuard(TrainerCallback):
        """Drops an optimizer update whose loss or gradients are not finite, and records the batch."""

        def __init__(self, trainer: GuardedSFTTrainer, log_path: Path):
            self.trainer = trainer
            self.log_path = log_path
            self.skipped: list[int] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.trainer.step_batches = []

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            import torch

            params = [p for p in self.trainer.model.parameters() if p.requires_grad and p.grad is not None]
            batches = self.trainer.step_batches
            grads_ok = [torch.isfinite(p.grad).all() for p in params]
            losses_ok = [torch.isfinite(b["loss"]).all() for b in batches]
            if not grads_ok + losses_ok or bool(torch.stack(grads_ok + losses_ok).all()):  # one sync per step
                return
            for p in params:  # a None grad makes the optimizer leave the weight and its moments alone
                p.grad = None
            step = state.global_step + 1
            self.skipped.append(step)
            logged = [{"ids": b["ids"], "lengths": b["lengths"],
                       "label_tokens": -1 if b["label_tokens"] is None else int(b["label_tokens"]),
                       "loss": float(b["loss"]) if ok else str(float(b["loss"]))}
                      for b, ok in zip(batches, losses_ok)]
            with JsonlAppender(self.log_path, key="step") as log:
                log.write({"step": step, "nonfinite_loss": not all(losses_ok),
                           "nonfinite_grad": not all(grads_ok), "batches": logged})

    return GuardedSFTTrainer, NonFiniteGuard


def partial_checkpointing(share: float) -> Any:
    from transformers import TrainerCallback
    from transformers.modeling_layers import GradientCheckpointingLayer

    class PartialCheckpointing(TrainerCallback):
        """Turns checkpointing off in the last layers once the Trainer has turned it on in all of them."""

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
            for layer in layers[round(share * len(layers)):]:
                layer.gradient_checkpointing = False

    return PartialCheckpointing()


def nonfinite_log_name(rank: int) -> str:
    """The NaN guard's log for process ``rank``: every rank sees other examples, and one file appended
    by several processes would interleave their lines."""
    return "nonfinite_batches.jsonl" if rank == 0 else f"nonfinite_batches.rank{rank}.jsonl"


def sft_config(cfg: TrainConfig, work: Path, has_eval: bool, on_gpu: bool) -> Any:
    import torch
    from trl import SFTConfig

    kwargs: dict[str, Any] = dict(
        output_dir=str(work),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch.per_device_batch_size,
        per_device_eval_batch_size=cfg.batch.per_device_batch_size,
        gradient_accumulation_steps=cfg.batch.grad_accum,
        learning_rate=cfg.optim.lr,
        lr_scheduler_type=cfg.optim.scheduler,
        warmup_steps=cfg.optim.warmup_ratio,  # transformers 5 reads a value below 1 as a ratio of the steps
        weight_decay=cfg.optim.weight_decay,
        max_grad_norm=cfg.optim.max_grad_norm,
        optim=cfg.optim.optimizer,
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        # DDP: every LoRA weight gets a gradient each step, so skip the Trainer's per-step search of the
        # autograd graph for unused parameters (its default when gradient checkpointing is on).
        ddp_find_unused_parameters=False,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.eval_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=_report_to(cfg.report_to),
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        fp16=False,
        use_cpu=not on_gpu,
        completion_only_loss=True,
        # examples over max_length are already dropped; trl refuses a max_length it cannot enforce padding-free
        max_length=None if cfg.batch.padding_free and not cfg.batch.packing else cfg.data.max_length,
        packing=cfg.batch.packing,
        padding_free=cfg.batch.padding_free,
        pad_to_multiple_of=cfg.data.max_length if cfg.batch.pad_to_max_length else None,
        train_sampling_strategy="group_by_length" if cfg.batch.group_by_length else "random",
        use_liger_kernel=cfg.liger_kernel,
        torch_compile=cfg.torch_compile,
        remove_unused_columns=False,  # keep `id` for the NaN guard; IdCollator strips it
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    return strict_init(SFTConfig, kwargs)


def strict_init(config_cls: Any, kwargs: dict[str, Any]) -> Any:
    """``config_cls(**kwargs)``, refusing a field the installed trl/transformers does not have: dropping it
    silently would train another recipe than the config says (``warmup_ratio`` was lost that way)."""
    unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(config_cls)})
    if unknown:
        import transformers
        import trl

        raise Cpp2PyError(f"{config_cls.__name__} of trl {trl.__version__} / transformers "
                          f"{transformers.__version__} has no field {', '.join(unknown)}: install the versions "
                          "that pyproject.toml's train extra names")
    return config_cls(**kwargs)


def _report_to(wanted: list[str]) -> list[str]:
    import importlib.util

    out = [r for r in wanted if r != "wandb" or importlib.util.find_spec("wandb")]
    if "tensorboard" in out and not (importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX")):
        out.remove("tensorboard")
    return out or ["none"]


def check_speed_options(cfg: TrainConfig) -> None:
    import importlib.util

    from cpp2py.train.varlen_attention import NAME

    if cfg.attn_implementation == NAME and not (cfg.batch.packing or cfg.batch.padding_free):
        raise Cpp2PyError(f"attn_implementation {NAME} needs padding-free batches: set batch.packing or "
                          "batch.padding_free")
    if not 0 <= cfg.optim.warmup_ratio < 1:  # passed on as warmup_steps, where 1 and more count steps
        raise Cpp2PyError(f"optim.warmup_ratio {cfg.optim.warmup_ratio}: expected a ratio in [0, 1)")
    if not 0 < cfg.checkpoint_layers <= 1:
        raise Cpp2PyError(f"checkpoint_layers {cfg.checkpoint_layers}: expected a share in (0, 1]")
    if cfg.liger_kernel and importlib.util.find_spec("liger_kernel") is None:
        raise Cpp2PyError("liger_kernel: true needs the liger-kernel package: pip install -e '.[speed]'")
