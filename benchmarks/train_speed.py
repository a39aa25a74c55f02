"""Training speed and memory: the seed recipe as published vs cpp2py's default batching, same data and card.

Run as: python benchmarks/train_speed.py --model /path/to/qwen2.5-coder-0.5b-instruct-dir --data data/xlcost/train.jsonl \
            --llama8b --out benchmarks/train_speed.json
        python benchmarks/train_speed.py --model TINY_DIR --device cpu --steps 2 --warmup 1   (smoke test)

Modes (all QLoRA NF4 + double quant, LoRA r16 all-linear, max length 512, gradient checkpointing):
  seed     — batches padded to max_length, random order, no packing, no padding-free (the published recipe)
  default  — cpp2py's configs: dynamic padding over length-grouped batches
  padfree  — padding-free batches (one flat sequence per batch, position ids restart per example)
  packing  — trl's best-fit-decreasing packing to max_length
Reports tokens/s counting real (non-padding) tokens, peak memory, and MFU = (4·N_frozen + 6·N_lora)·tokens/s
over the bf16 peak (--peak-tflops, default the H100 SXM dense spec 989; the measured matmul peak is printed too).
Attention score FLOPs and the gradient-checkpointing recompute are not counted (a conservative MFU).
The Llama-3.1-8B architecture is built with random weights from its shapes (no download), saved once in bf16
and reloaded 4-bit; it uses the given model's tokenizer, so its vocabulary follows that tokenizer.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import time
from pathlib import Path

MODES = {
    "seed": {"pad_to_max_length": True, "group_by_length": False, "padding_free": False, "packing": False},
    "default": {"pad_to_max_length": False, "group_by_length": True, "padding_free": False, "packing": False},
    "padfree": {"pad_to_max_length": False, "group_by_length": True, "padding_free": True, "packing": False},
    "packing": {"pad_to_max_length": False, "group_by_length": False, "padding_free": False, "packing": True},
}
LLAMA_8B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, max_position_embeddings=8192, rope_theta=500000.0, tie_word_embeddings=False)


def measured_matmul_tflops(device: str) -> float | None:
    import torch

    if device != "cuda":
        return None
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t, n = time.perf_counter(), 20
    for _ in range(n):
        a @ b
    torch.cuda.synchronize()
    return 2 * 8192**3 * n / (time.perf_counter() - t) / 1e12


def build_llama8b(tokenizer_dir: str, out: Path, layers: int | None) -> Path:
    """Random-weight Llama-3.1-8B shapes in bf16, saved once so it can be reloaded 4-bit."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if (out / "config.json").is_file():
        return out
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    shapes = dict(LLAMA_8B, **({"num_hidden_layers": layers} if layers else {}))
    cfg = LlamaConfig(vocab_size=len(tok), eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      dtype=torch.bfloat16, **shapes)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    del model
    gc.collect()
    return out


def synthetic_data(path: Path, n: int) -> Path:
    """Pairs of varied length for the smoke test (the real benchmark passes --data)."""
    rng = random.Random(0)
    rows = []
    for i in range(n):
        k = rng.randint(1, 12)
        cpp = "\n".join(f"int f{j}(int a) {{ return a * {j} + {i}; }}" for j in range(k))
        py = "\n".join(f"def f{j}(a):\n    return a * {j} + {i}" for j in range(k))
        rows.append({"id": f"s{i}", "cpp": cpp, "python": py})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_mode(model: str, data: str, mode: str, args, work: Path) -> dict:
    import torch
    from transformers import TrainerCallback

    from cpp2py.config import from_dict
    from cpp2py.train import TrainConfig, build_trainer

    on_gpu = args.device == "cuda"
    cfg = from_dict(TrainConfig, {
        "model": model, "data": {"train": data, "val": None, "max_length": args.max_length,
                                 "max_train_examples": (args.steps + args.warmup) * args.batch_size * 2},
        "batch": {"per_device_batch_size": args.batch_size, "grad_accum": 1, **MODES[mode]},
        "max_steps": args.steps + args.warmup, "save_steps": 10**6, "logging_steps": 10**6,
        "gradient_checkpointing": True, "output_dir": str(work / mode), "report_to": [],
        "quantization": {"load_in_4bit": True, "compute_dtype": "bf16" if on_gpu else "fp32"},
    })
    timing: dict = {}

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if on_gpu:
                torch.cuda.synchronize()
            if state.global_step == args.warmup:
                timing["t0"], timing["tok0"] = time.perf_counter(), trainer.tokens_seen
            timing["t1"], timing["tok1"] = time.perf_counter(), trainer.tokens_seen

    trainer, _, stats = build_trainer(cfg, work / (mode + ".work"), callbacks=[Clock()])
    if on_gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    seconds = timing["t1"] - timing["t0"]
    tokens = timing["tok1"] - timing["tok0"]
    model_ = trainer.model
    n_lora = sum(p.numel() for n, p in model_.named_parameters() if "lora_" in n)
    # frozen matmul parameters: 4-bit weights are packed two per byte, so count from the module shapes
    n_frozen = sum(m.in_features * m.out_features for n, m in model_.named_modules()
                   if hasattr(m, "in_features") and hasattr(m, "out_features") and "lora_" not in n
                   and not hasattr(m, "base_layer"))
    flops_per_token = 4 * n_frozen + 6 * n_lora
    result = {
        "mode": mode, **MODES[mode], "batch_size": args.batch_size, "steps_timed": args.steps,
        "tokens_per_s": tokens / seconds, "seconds": seconds, "tokens": tokens,
        "peak_memory_gib": (torch.cuda.max_memory_allocated() / 2**30) if on_gpu else None,
        "n_frozen_matmul_params": n_frozen, "n_lora_params": n_lora,
        "achieved_tflops": flops_per_token * tokens / seconds / 1e12,
        "mfu": flops_per_token * tokens / seconds / (args.peak_tflops * 1e12),
        "examples_dropped_too_long": stats["train"]["too_long"],
    }
    del trainer, model_
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="Qwen2.5-Coder-0.5B dir (or any model cpp2py resolves)")
    p.add_argument("--data", help="prepare-format train.jsonl (default: synthetic pairs)")
    p.add_argument("--llama8b", action="store_true", help="also the Llama-3.1-8B architecture, random weights")
    p.add_argument("--llama-layers", type=int, help="fewer layers (smoke tests only)")
    p.add_argument("--llama-batch-size", type=int, default=8)
    p.add_argument("--modes", default="seed,default,padfree,packing")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak for MFU (H100 SXM: 989)")
    p.add_argument("--work", default="/tmp/cpp2py-train-speed")
    p.add_argument("--out", default="train_speed.json")
    args = p.parse_args()

    import torch

    if args.device == "cpu":
        import os

        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = args.data or str(synthetic_data(work / "synthetic.jsonl", (args.steps + args.warmup) * args.batch_size * 2))
    report = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "peak_tflops_assumed": args.peak_tflops,
              "measured_matmul_tflops": measured_matmul_tflops(args.device), "max_length": args.max_length,
              "data": data, "runs": {}}
    print(f"measured bf16 matmul peak: {report['measured_matmul_tflops']} TFLOP/s", flush=True)
    targets = [("qwen2.5-coder-0.5b", args.model, args.batch_size)]
    if args.llama8b:
        targets.append(("llama-3.1-8b-arch", str(build_llama8b(args.model, work / "llama8b-random",
                                                                args.llama_layers)), args.llama_batch_size))
    for name, model, bs in targets:
        args.batch_size = bs
        runs = {m: run_mode(model, data, m, args, work / name) for m in args.modes.split(",")}
        if "seed" in runs:
            for r in runs.values():
                r["speedup_vs_seed"] = r["tokens_per_s"] / runs["seed"]["tokens_per_s"]
        report["runs"][name] = runs
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
