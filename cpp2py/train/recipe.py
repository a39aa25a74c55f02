"""The training recipe: what configs/*.yaml holds, parsed strictly into :class:`TrainConfig`
(``cpp2py.config.load_config``). Its own module so that qlora.py and sft.py both read it without importing
each other."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class QuantizationConfig:
    load_in_4bit: bool = True
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    compute_dtype: str = "auto"  # bf16 on GPUs that have it; fp32 on CPU


@dataclass
class LoraSection:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class OptimConfig:
    optimizer: str = "paged_adamw_32bit"
    lr: float = 2e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 0.3


@dataclass
class DataConfig:
    train: str = "data/xlcost/train.jsonl"
    val: str | None = "data/xlcost/val.jsonl"
    extra_train: list[str] = field(default_factory=list)  # e.g. CoST program pairs
    max_length: int = 512
    max_train_examples: int | None = None
    max_val_examples: int | None = None


@dataclass
class BatchConfig:
    per_device_batch_size: int = 8
    grad_accum: int = 4
    packing: bool = False
    padding_free: bool = False
    group_by_length: bool = True
    pad_to_max_length: bool = False  # the published seed recipe; only for comparisons


@dataclass
class TrainConfig:
    model: str = "qwen2.5-coder-0.5b-instruct"
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    lora: LoraSection = field(default_factory=LoraSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    epochs: float = 1.0
    max_steps: int = -1
    gradient_checkpointing: bool = True
    # the share of decoder layers that recompute their forward when gradient_checkpointing is on; the
    # rest keep their activations, trading memory for the ~1/3 of a QLoRA step the recompute costs
    checkpoint_layers: float = 1.0
    # transformers' choice (sdpa) unless set; "cpp2py_varlen" for packing/padding-free: see docs/training.md
    attn_implementation: str | None = None
    liger_kernel: bool = False  # Liger's Triton RMSNorm, SwiGLU and RoPE (pip install liger-kernel)
    token_metrics: bool = True  # trl's per-step entropy and token accuracy, three device syncs per batch
    # peft's prepare_model_for_kbit_training stores the norms and embeddings in fp32, so the residual stream
    # and every layer's input turn fp32 and each 4-bit layer casts them back: False keeps them in the
    # compute dtype (the LoRA weights stay fp32 either way)
    upcast_fp32: bool = True
    torch_compile: bool = False
    eval_steps: int = 50
    save_steps: int = 100
    logging_steps: int = 10
    seed: int = 0
    output_dir: str = "runs/adapter"
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    dtype: str = "auto"  # compute dtype of the non-quantised parts
    adapter_dtype: Literal["bf16", "fp32"] = "bf16"  # what the saved adapter weights are stored as
    keep_checkpoints: bool = False
