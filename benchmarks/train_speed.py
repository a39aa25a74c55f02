"""Training speed and memory: an ablation from the seed recipe to cpp2py's fast path, same data, one card.

Run as (one GPU; benchmarks/train_speed_gpu.sh is the device machine's command):
  python benchmarks/train_speed.py --tokenizer DIR --data data/xlcost/train.jsonl --val data/xlcost/val.jsonl \
      --targets llama8b,qwen0.5b --profile seed,nometrics --out train_speed.json
  python benchmarks/train_speed.py --model TINY_DIR --targets model --device cpu --no-4bit --steps 1 --warmup 1 \
      --modes seed,packing,varlen --late-modes '' --profile varlen   (smoke test)

Targets (all QLoRA NF4 + double quant, LoRA r16 all-linear, max length 512, one micro-batch per step):
  llama8b   the Llama-3.1-8B architecture, random weights (no download), vocabulary of --tokenizer
  qwen0.5b  the architecture in --tokenizer's config.json (Qwen2.5-Coder-0.5B), random weights
  model     --model as it is (e.g. a tiny model for the smoke test)
Speed does not depend on the weights' values, so random weights measure the real recipe's throughput.

Modes, each adding one change to the one before it from `packing` on (an ablation; --modes picks):
  seed            batches padded to max_length, random order, checkpointing (the published recipe)
  default         dynamic padding over length-grouped batches (configs/*.yaml before this work)
  packing         trl's best-fit-decreasing packing: one padding-free row, sdpa over a block-diagonal mask
  varlen          + attn_implementation cpp2py_varlen (flash varlen: only each example's own scores)
  liger           + Liger's RMSNorm, SwiGLU and RoPE kernels
  nometrics       + no per-step entropy/token accuracy (trl's device syncs) = the best setting, checkpointed
  best-no-ckpt    nometrics without gradient checkpointing
  best-ckpt75     nometrics with checkpoint_layers 0.75 (the memory-capped candidate)
  best-bs16       nometrics with 16 rows per micro-batch (the recipe's 8 × 4 becomes 16 × 2: same global batch)
  best-bf16       best-no-ckpt with upcast_fp32 false (norms, embeddings and the residual stream stay bf16)
  best-bf16-nodrop  best-bf16 with LoRA dropout 0 (no dropout kernel on every adapted layer's input)
  best-ckpt75-bf16-nodrop  best-ckpt75 with both (the memory-capped candidate)
  best-compile    best-no-ckpt + torch_compile
Reports tokens/s of real (non-padding) tokens, peak memory (allocated and reserved), and
MFU = (4·N_frozen + 6·N_LoRA)·tokens/s / --peak-tflops (989: the H100/H200 SXM dense bf16 spec; the measured
matmul peak is recorded too). Attention FLOPs and the checkpointing recompute are not counted.
--profile MODES runs torch.profiler over --profile-steps extra steps of those modes and writes
profile_<target>_<mode>.txt (GPU busy share, time by kernel family, top kernels, device syncs) next to --out.
With --val, the qwen0.5b/model targets also time one evaluation pass and report its share of wall time at
the cadence of --eval-config. Every mode runs in its own try block: a failure is recorded, not fatal;
modes that would start past --time-budget-s are recorded as skipped. The JSON is rewritten after each mode.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import re
import signal
import time
import traceback
from pathlib import Path

def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


_PACKING = {"batch": {"packing": True, "group_by_length": False}}
_VARLEN = {**_PACKING, "attn_implementation": "cpp2py_varlen"}
_LIGER = {**_VARLEN, "liger_kernel": True}
_BEST = {**_LIGER, "token_metrics": False}
MODES = {
    "seed": {"batch": {"pad_to_max_length": True, "group_by_length": False}},
    "default": {"batch": {"group_by_length": True}},
    "packing": _PACKING,
    "varlen": _VARLEN,
    "liger": _LIGER,
    "nometrics": _BEST,
    "best-no-ckpt": {**_BEST, "gradient_checkpointing": False},
    "best-ckpt75": {**_BEST, "checkpoint_layers": 0.75},
    "best-bs16": _merge(_BEST, {"batch": {"per_device_batch_size": 16}}),
    "best-compile": {**_BEST, "gradient_checkpointing": False, "torch_compile": True},
    "best-bf16": {**_BEST, "gradient_checkpointing": False, "upcast_fp32": False},
    "best-bf16-nodrop": _merge(_BEST, {"gradient_checkpointing": False, "upcast_fp32": False, "lora": {"dropout": 0.0}}),
    "best-bf16-nodrop-bs16": _merge(_BEST, {"gradient_checkpointing": False, "upcast_fp32": False, "lora": {"dropout": 0.0},
                                            "batch": {"per_device_batch_size": 16}}),
    "best-ckpt75-bf16-nodrop": _merge(_BEST, {"checkpoint_layers": 0.75, "upcast_fp32": False, "lora": {"dropout": 0.0}}),
}
LLAMA_8B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, max_position_embeddings=8192, rope_theta=500000.0, tie_word_embeddings=False)
KERNEL_FAMILIES = [  # first match wins; names of CUDA kernels as the profiler reports them
    ("attention", r"flash|fmha|attention|attn"),
    ("4-bit dequantisation", r"dequant|kgemm_4bit|bnb|4bit"),
    ("matmul", r"gemm|cutlass|xmma|cublas|nvjet|wgmma|matmul|sm90_"),
    ("triton (liger, trl's LM head)", r"triton|liger|_forward_kernel|_backward_kernel|rms|swiglu|rope"),
    ("optimizer", r"optimizer|adam|multi_tensor"),
    ("copies", r"memcpy|memset|copy"),
    ("elementwise and reductions", r"elementwise|vectorized|reduce|unrolled|cat|index|where|fill"),
]


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


def varlen_check(device: str) -> dict | None:
    """The flash varlen path against per-example sdpa on random packed data, forward and input gradients."""
    import torch

    from cpp2py.train.varlen_attention import _reference, varlen_attention_forward

    if device != "cuda":
        return None
    torch.manual_seed(0)
    lens = [300, 17, 512, 171]
    cu = torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32, device="cuda")
    q, k, v = (torch.randn(1, h, sum(lens), 128, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for h in (32, 8, 8))
    module = torch.nn.Module().train()
    out, _ = varlen_attention_forward(module, q, k, v, None, scaling=128**-0.5, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                                      max_length_q=max(lens), max_length_k=max(lens))
    grads = torch.autograd.grad(out.float().square().sum(), (q, k, v))
    ref = _reference(*(x[0].transpose(0, 1) for x in (q, k, v)), cu, 128**-0.5).unsqueeze(0)
    ref_grads = torch.autograd.grad(ref.float().square().sum(), (q, k, v))
    return {"max_abs_diff_out": float((out - ref).abs().max()),
            "max_rel_diff_grads": max(float((g - r).norm() / r.norm()) for g, r in zip(grads, ref_grads))}


def build_random(kind: str, tokenizer_dir: str, out: Path, layers: int | None, device: str) -> Path:
    """A random-weight model of ``kind``'s shapes in bf16, saved once so each mode reloads it 4-bit."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    if (out / "config.json").is_file():
        return out
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if kind == "llama8b":
        shapes = dict(LLAMA_8B, **({"num_hidden_layers": layers} if layers else {}))
        cfg = LlamaConfig(vocab_size=len(tok), eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **shapes)
    else:
        cfg = AutoConfig.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):  # random init of 8B parameters takes minutes on the CPU, seconds on a GPU
            model = AutoModelForCausalLM.from_config(cfg)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    del model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
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


class _Timeout(Exception):
    pass


def run_mode(model: str, mode: str, args, work: Path, *, batch_size: int, val: str | None, profile: bool,
             limit_s: float) -> dict:
    import torch
    from transformers import TrainerCallback

    from cpp2py.config import from_dict
    from cpp2py.train import TrainConfig, build_trainer

    on_gpu = args.device == "cuda"
    n_steps = args.warmup + args.steps + (args.profile_steps if profile else 0)
    cfg = from_dict(TrainConfig, _merge({
        "model": model, "data": {"train": args.data, "val": val, "max_length": args.max_length,
                                 "max_train_examples": n_steps * batch_size * 3, "max_val_examples": args.val_examples},
        "batch": {"per_device_batch_size": batch_size, "grad_accum": 1},  # a mode may set another batch size
        "max_steps": n_steps, "save_steps": 10**6, "logging_steps": 10**6, "eval_steps": 10**6,
        "gradient_checkpointing": True, "output_dir": str(work / mode), "report_to": [],
        "quantization": {"load_in_4bit": not args.no_4bit, "compute_dtype": "bf16" if on_gpu else "fp32"},
    }, MODES[mode]))
    timing: dict = {}
    prof_box: dict = {}

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if profile and state.global_step == args.warmup + args.steps:
                prof_box["t0"] = time.perf_counter()
                prof_box["prof"] = _profiler(on_gpu)
                prof_box["prof"].__enter__()

        def on_step_end(self, a, state, control, **kw):
            if on_gpu:
                torch.cuda.synchronize()
            now = time.perf_counter()
            if state.global_step == 1:
                timing["first_step_s"] = now - timing["start"]
            if state.global_step == args.warmup:
                timing["t0"], timing["tok0"] = now, trainer.tokens_seen
            if state.global_step == args.warmup + args.steps:
                timing["t1"], timing["tok1"] = now, trainer.tokens_seen
            if "prof" in prof_box and state.global_step == n_steps:
                prof_box["prof"].__exit__(None, None, None)
                prof_box["wall_s"] = now - prof_box["t0"]

    def alarm(signum, frame):
        raise _Timeout(f"mode ran past its {limit_s:.0f} s limit")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(max(1, int(limit_s)))
    try:
        t = time.perf_counter()
        trainer, _, stats = build_trainer(cfg, work / (mode + ".work"), callbacks=[Clock()])
        load_s = time.perf_counter() - t
        if on_gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            timing["memory_before_gib"] = torch.cuda.memory_allocated() / 2**30  # a leak from earlier modes shows here
        timing["start"] = time.perf_counter()
        trainer.train()
        eval_probe = _eval_probe(trainer, args, timing) if val else None
    finally:
        signal.alarm(0)
    seconds, tokens = timing["t1"] - timing["t0"], timing["tok1"] - timing["tok0"]
    n_lora = sum(p.numel() for n, p in trainer.model.named_parameters() if "lora_" in n)
    # frozen matmul parameters: 4-bit weights are packed two per byte, so count from the module shapes
    n_frozen = sum(m.in_features * m.out_features for n, m in trainer.model.named_modules()
                   if hasattr(m, "in_features") and hasattr(m, "out_features") and "lora_" not in n
                   and not hasattr(m, "base_layer"))
    flops_per_token = 4 * n_frozen + 6 * n_lora
    result = {
        "mode": mode, "changes": MODES[mode], "batch_size": cfg.batch.per_device_batch_size, "steps_timed": args.steps,
        "tokens_per_s": tokens / seconds, "seconds": seconds, "tokens": tokens, "step_s": seconds / args.steps,
        "load_s": load_s, "first_step_s": timing.get("first_step_s"),
        "memory_before_gib": timing.get("memory_before_gib"),
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30 if on_gpu else None,
        "n_frozen_matmul_params": n_frozen, "n_lora_params": n_lora,
        "achieved_tflops": flops_per_token * tokens / seconds / 1e12,
        "mfu": flops_per_token * tokens / seconds / (args.peak_tflops * 1e12),
        "examples_dropped_too_long": stats["train"]["too_long"], "eval_probe": eval_probe,
    }
    if "prof" in prof_box:
        result["profile"] = _write_profile(prof_box["prof"], prof_box["wall_s"], args.profile_steps,
                                           Path(args.profile_dir) / f"profile_{args.target}_{mode}.txt", result)
    del trainer
    return result


def _eval_probe(trainer, args, timing: dict) -> dict:
    """One evaluation pass over the val set, and its share of wall time at the recipe's cadence."""
    import yaml

    t = time.perf_counter()
    try:
        trainer.evaluate()
    except Exception as e:  # the throughput numbers stand without it
        return {"error": repr(e)[:1000]}
    eval_s = time.perf_counter() - t
    step_s = (timing["t1"] - timing["t0"]) / args.steps
    cadence = yaml.safe_load(Path(args.eval_config).read_text())["eval_steps"]
    return {"eval_s": eval_s, "val_examples": len(trainer.eval_dataset), "eval_steps": cadence,
            "eval_share_of_wall": eval_s / (eval_s + cadence * step_s)}


def _profiler(on_gpu: bool):
    from torch.profiler import ProfilerActivity, profile

    return profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else []))


def _write_profile(prof, wall_s: float, steps: int, path: Path, result: dict) -> dict:
    rows = prof.key_averages()
    kernels = [(r.key, r.self_device_time_total, r.count) for r in rows if r.self_device_time_total > 0]
    busy_us = sum(t for _, t, _ in kernels)
    families: dict[str, float] = {}
    for name, t, _ in kernels:
        family = next((f for f, rx in KERNEL_FAMILIES if re.search(rx, name, re.I)), "other")
        families[family] = families.get(family, 0.0) + t
    syncs = {r.key: r.count // steps for r in rows
             if r.key in ("cudaStreamSynchronize", "cudaDeviceSynchronize", "aten::_local_scalar_dense",
                          "cudaEventSynchronize")}
    summary = {"steps": steps, "wall_s_per_step": wall_s / steps, "gpu_busy_share": busy_us / 1e6 / wall_s,
               "kernel_s_per_step": {f: t / 1e6 / steps for f, t in sorted(families.items(), key=lambda x: -x[1])},
               "syncs_per_step": syncs}
    sort_gpu = "self_device_time_total" if kernels else "self_cpu_time_total"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{path.stem}: {result['tokens_per_s']:.0f} tokens/s untraced, batch {result['batch_size']}\n"
        + json.dumps(summary, indent=2) + "\n\n== top kernels/ops by GPU time ==\n"
        + rows.table(sort_by=sort_gpu, row_limit=30, max_name_column_width=90)
        + "\n\n== top ops by CPU self time ==\n"
        + rows.table(sort_by="self_cpu_time_total", row_limit=20, max_name_column_width=90))
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokenizer", help="dir with Qwen2.5-Coder-0.5B's tokenizer and config.json (llama8b, qwen0.5b)")
    p.add_argument("--model", help="a model dir for the `model` target")
    p.add_argument("--targets", default="llama8b,qwen0.5b")
    p.add_argument("--data", help="prepare-format train.jsonl (default: synthetic pairs)")
    p.add_argument("--val", help="prepare-format val.jsonl: time one evaluation pass (qwen0.5b and model targets)")
    p.add_argument("--val-examples", type=int, default=500, help="as max_val_examples in the 0.5B recipe")
    p.add_argument("--eval-config", default="configs/qwen2.5-coder-0.5b-qlora.yaml", help="whose eval_steps to use")
    p.add_argument("--llama-layers", type=int, help="fewer layers (smoke tests only)")
    p.add_argument("--llama-batch-size", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32, help="qwen0.5b and model targets")
    p.add_argument("--modes", default="seed,packing,varlen,liger,nometrics,best-no-ckpt",
                   help="for llama8b and model; qwen0.5b runs --qwen-modes")
    p.add_argument("--qwen-modes", default="seed,default,nometrics,best-no-ckpt")
    p.add_argument("--late-modes", default="best-ckpt75,best-bs16,best-compile",
                   help="llama8b modes run after every other target")
    p.add_argument("--profile", default="", help="modes to profile, e.g. seed,nometrics")
    p.add_argument("--profile-steps", type=int, default=2)
    p.add_argument("--profile-dir", help="default: the folder of --out")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--no-4bit", action="store_true",
                   help="CPU smoke tests: bitsandbytes' CPU path fails on a tiny model's shapes under checkpointing")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps: Triton compiles per new shape class")
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak for MFU (H100/H200 SXM: 989)")
    p.add_argument("--time-budget-s", type=float, default=1e9, help="start no mode after this many seconds")
    p.add_argument("--mode-limit-s", type=float, default=180.0, help="stop a mode that runs longer")
    p.add_argument("--work", default="/tmp/cpp2py-train-speed")
    p.add_argument("--out", default="train_speed.json")
    args = p.parse_args()
    Path(args.out).resolve().parent.mkdir(parents=True, exist_ok=True)
    args.profile_dir = args.profile_dir or str(Path(args.out).resolve().parent)
    clock = time.perf_counter()

    import torch

    if args.device == "cpu":
        import os

        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    args.data = args.data or str(synthetic_data(work / "synthetic.jsonl", 4000))
    report = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "peak_tflops_assumed": args.peak_tflops,
              "measured_matmul_tflops": measured_matmul_tflops(args.device), "max_length": args.max_length,
              "data": args.data, "args": vars(args), "runs": {}}
    try:
        report["varlen_check"] = varlen_check(args.device)
    except Exception as e:  # recorded: the modes that use it fail on their own and say why
        report["varlen_check"] = {"error": repr(e)[:1000]}
    print(json.dumps({k: report[k] for k in ("device", "measured_matmul_tflops", "varlen_check")}), flush=True)

    plan = []
    for target in args.targets.split(","):
        modes = args.qwen_modes if target == "qwen0.5b" else args.modes
        plan += [(target, m) for m in modes.split(",") if m]
    plan += [("llama8b", m) for m in args.late_modes.split(",") if m and "llama8b" in args.targets.split(",")]
    for target in {t for t, _ in plan}:
        liger = [MODES[m].get("liger_kernel", False) for t, m in plan if t == target]
        if True in liger and False in liger[liger.index(True):]:
            # Liger patches transformers' modelling classes for the whole process: a later mode would use them too
            raise SystemExit(f"{target}: modes without liger_kernel must come before those with it")
    built: dict[str, str] = {}
    durations: dict[str, float] = {}
    for target, mode in plan:
        runs = report["runs"].setdefault(target, {})
        elapsed = time.perf_counter() - clock
        if elapsed + durations.get(target, 0.0) > args.time_budget_s:
            runs[mode] = {"mode": mode, "skipped": f"time budget: {elapsed:.0f} s gone of {args.time_budget_s:.0f}"}
            continue
        start = time.perf_counter()
        try:
            if target not in built:
                built[target] = _model_for(target, args, work)
                report.setdefault("build_s", {})[target] = time.perf_counter() - start
            args.target = target
            runs[mode] = run_mode(built[target], mode, args, work / target,
                                  batch_size=args.llama_batch_size if target == "llama8b" else args.batch_size,
                                  val=args.val if target != "llama8b" else None,
                                  profile=mode in args.profile.split(","),
                                  limit_s=min(args.mode_limit_s, args.time_budget_s + 60 - elapsed))
        except BaseException as e:  # one failing mode (OOM, a kernel, a timeout) must not lose the others
            if isinstance(e, KeyboardInterrupt):
                raise
            runs[mode] = {"mode": mode, "error": repr(e)[:2000], "traceback": traceback.format_exc()[-4000:]}
        finally:
            gc.collect()
            if args.device == "cuda":
                torch.cuda.empty_cache()
        durations[target] = max(durations.get(target, 0.0), time.perf_counter() - start)
        seed = runs.get("seed", {}).get("tokens_per_s")
        for r in runs.values():
            if seed and "tokens_per_s" in r:
                r["speedup_vs_seed"] = r["tokens_per_s"] / seed
        report["elapsed_s"] = time.perf_counter() - clock
        print(json.dumps({target: runs[mode]})[:3000], flush=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    _summary(report)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


def _model_for(target: str, args, work: Path) -> str:
    if target == "model":
        return args.model
    return str(build_random(target, args.tokenizer, work / f"{target}-random", args.llama_layers, args.device))


def _summary(report: dict) -> None:
    """The table docs/training.md takes its rows from, and the checkpoint share that fits 24 GB."""
    for target, runs in report["runs"].items():
        for mode, r in runs.items():
            if "tokens_per_s" in r:
                mem = f"{r['peak_reserved_gib']:.1f} GiB" if r["peak_reserved_gib"] is not None else "-"
                print(f"| {target} | {mode} | {r['batch_size']} | {r['tokens_per_s']:,.0f} | "
                      f"{r.get('speedup_vs_seed', float('nan')):.2f}x | {100 * r['mfu']:.1f}% | {mem} |")
            else:
                print(f"| {target} | {mode} | {r.get('skipped') or r.get('error', '')[:100]} |")
        ckpt, free = runs.get("nometrics", {}), runs.get("best-no-ckpt", {})
        if ckpt.get("peak_reserved_gib") and free.get("peak_reserved_gib") and target == "llama8b":
            per_layer = (free["peak_reserved_gib"] - ckpt["peak_reserved_gib"]) / LLAMA_8B["num_hidden_layers"]
            keep = max(0, int((24e9 / 2**30 - ckpt["peak_reserved_gib"]) / per_layer)) if per_layer > 0 else 0
            report.setdefault("derived", {})["llama8b_checkpoint_layers_for_24GB"] = \
                1 - keep / LLAMA_8B["num_hidden_layers"]


if __name__ == "__main__":
    main()
