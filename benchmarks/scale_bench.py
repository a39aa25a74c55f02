"""Scaling: DDP QLoRA training tokens/s and data-parallel translation throughput on 2 GPUs vs 1.

Run as (on a machine with 2 GPUs; data from `cpp2py prepare xlcost`):
    python benchmarks/scale_bench.py --config configs/qwen2.5-coder-0.5b-qlora.yaml \
        --train-data data/xlcost/train.jsonl --benchmark data/xlcost/val.jsonl --out benchmarks/scale_bench.json
    python benchmarks/scale_bench.py --model TINY_DIR --config ... --gpus 1 --steps 2 ...   (smoke test)

(a) Training: the same recipe, the same global batch (per-device batch x grad accumulation x GPUs) and the
    same number of optimizer steps, once as a plain one-GPU `cpp2py train` and once as `cpp2py train
    --num-gpus 2` (accelerate, DDP). tokens/s is read from each run's train_metrics.json: real (non-padding)
    tokens of all ranks over the wall time of trainer.train(), started once every rank is ready, so model
    loading is not counted; the Trainer's own train_runtime is recorded beside it.
(b) Translation: `cpp2py translate BENCH --num-gpus N` on the first --limit items, N = 1 and 2, greedy,
    no resume; items/s over the command's whole wall time (process start and model loading included on
    both sides, as a user sees it), and over generation alone: the slowest shard's summed per-item
    `seconds` (the predictions' own timings; shards are dealt round-robin, so item i ran in shard i % N).
(c) --fsdp: the same training once more on 2 GPUs with `--strategy fsdp` (FSDP-QLoRA), to show it runs and
    saves an adapter; its tokens/s is recorded beside DDP's.
Goals (issue 7): (a) >= 1.8x, (b) >= 1.9x. NVLink multicast stays off (NCCL_NVLS_ENABLE=0).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cpp2py.jobs.sharding import shard_items
from cpp2py.ranks import SAFE_NCCL_ENV
from cpp2py.files import read_jsonl


def run(cmd: list[str], log: Path, gpus: int) -> float:
    """Run ``cmd`` on the first ``gpus`` GPUs with its output in ``log``; returns its wall time, or raises
    with the log's tail."""
    env = {**os.environ, **SAFE_NCCL_ENV, "CUDA_VISIBLE_DEVICES": ",".join(map(str, range(gpus)))}
    start = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"failed ({proc.returncode}): {' '.join(cmd)}\n"
                           + "".join(log.read_text().splitlines(True)[-40:]))
    return wall


def train_run(args: argparse.Namespace, gpus: int, work: Path, strategy: str = "ddp") -> dict:
    out = work / (f"train-{gpus}gpu" + ("-fsdp" if strategy == "fsdp" else ""))
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".partial"), ignore_errors=True)
    if args.grad_accum_total % gpus:
        sys.exit(f"--grad-accum-total {args.grad_accum_total} is not divisible by {gpus} GPUs")
    overrides = [
        f"data.train={args.train_data}", "data.val=null", "data.extra_train=[]",
        f"data.max_train_examples={args.steps * args.batch * args.grad_accum_total * 2}",
        f"max_steps={args.steps}", f"batch.per_device_batch_size={args.batch}",
        f"batch.grad_accum={args.grad_accum_total // gpus}",  # same global batch on 1 and 2 GPUs
        f"output_dir={out}", "report_to=[none]", "save_steps=100000", "keep_checkpoints=false",
    ]
    if args.model:
        overrides.append(f"model={args.model}")
    cmd = [sys.executable, "-m", "cpp2py", "train", "--config", str(args.config), *overrides]
    if gpus > 1:
        cmd += ["--num-gpus", str(gpus), "--strategy", strategy]
    wall = run(cmd, work / f"{out.name}.log", gpus)
    m = json.loads((out / "train_metrics.json").read_text())
    return {"gpus": gpus, "strategy": strategy if gpus > 1 else "single",
            "adapter_saved": (out / "adapter_model.safetensors").is_file(),
            "final_train_loss": m.get("final_train_loss"), "tokens_per_s": m["tokens_per_s"], "tokens_seen": m["tokens_seen"], "steps": m["steps"],
            "train_wall_s": m["wall_time_s"], "trainer_runtime_s": m.get("trainer_runtime_s"),
            "command_wall_s": round(wall, 1),
            "peak_memory_gib": round(m["peak_memory_bytes"] / 2**30, 2), "device": m["device"],
            "global_batch": args.batch * args.grad_accum_total}


def translate_run(args: argparse.Namespace, gpus: int, work: Path, bench: Path) -> dict:
    preds = work / f"predictions-{gpus}gpu.jsonl"
    preds.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "cpp2py", "translate", str(bench), "-o", str(preds), "--num-gpus", str(gpus),
           "--no-resume", "--batch-size", str(args.translate_batch)]
    if args.model:
        cmd += ["--model", args.model]
    if args.adapter:
        cmd += ["--adapter", args.adapter]
    wall = run(cmd, work / f"translate-{gpus}gpu.log", gpus)
    rows = list(read_jsonl(preds))
    shard_s = [sum(r["seconds"] for r in shard_items(rows, gpus, i)) for i in range(gpus)]
    n = len(rows)
    return {"gpus": gpus, "items": n, "wall_s": round(wall, 1), "items_per_s": round(n / wall, 3),
            "generation_s": round(max(shard_s), 1), "generation_items_per_s": round(n / max(shard_s), 3),
            "parses": round(sum(bool(r["parses"]) for r in rows) / n, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=Path("configs/qwen2.5-coder-0.5b-qlora.yaml"))
    ap.add_argument("--model", default=None, help="base model override (default: the config's / translate's default)")
    ap.add_argument("--adapter", default=None, help="translation: LoRA adapter (default: the shipped one)")
    ap.add_argument("--train-data", type=Path, default=Path("data/xlcost/train.jsonl"))
    ap.add_argument("--benchmark", type=Path, default=Path("data/xlcost/val.jsonl"))
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps per training run")
    ap.add_argument("--batch", type=int, default=16, help="per-device batch size")
    ap.add_argument("--grad-accum-total", type=int, default=2, help="grad accumulation on 1 GPU (halved on 2)")
    ap.add_argument("--limit", type=int, default=500, help="translation items")
    ap.add_argument("--translate-batch", type=int, default=64)
    ap.add_argument("--gpus", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--only", choices=["all", "train", "translate"], default="all")
    ap.add_argument("--fsdp", action="store_true", help="also train on 2 GPUs with FSDP-QLoRA")
    ap.add_argument("--work", type=Path, default=Path("runs/scale_bench"))
    ap.add_argument("--out", type=Path, default=Path("scale_bench.json"))
    args = ap.parse_args()

    import torch

    args.work.mkdir(parents=True, exist_ok=True)
    report: dict = {"date": time.strftime("%Y-%m-%d"), "cards": [torch.cuda.get_device_name(i) for i in
                                                                  range(torch.cuda.device_count())],
                    "args": {k: str(v) for k, v in vars(args).items()}}
    if args.only in ("all", "train"):
        report["train"] = [train_run(args, g, args.work) for g in args.gpus]
        print(json.dumps(report["train"], indent=1), flush=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")  # keep what is measured if a later part fails
    if args.only in ("all", "translate"):
        bench = args.work / "bench.jsonl"
        with args.benchmark.open() as src, bench.open("w") as dst:
            for i, line in enumerate(src):
                if i >= args.limit:
                    break
                dst.write(line)
        report["translate"] = [translate_run(args, g, args.work, bench) for g in args.gpus]
        print(json.dumps(report["translate"], indent=1), flush=True)
    if args.fsdp and args.only in ("all", "train"):
        try:
            report["train_fsdp"] = train_run(args, 2, args.work, strategy="fsdp")
        except RuntimeError as e:  # recorded, not fatal: the DDP and translation numbers stand on their own
            report["train_fsdp"] = {"error": str(e)}
        print(json.dumps(report["train_fsdp"], indent=1), flush=True)
    for part, key in (("train", "tokens_per_s"), ("translate", "items_per_s"),
                      ("translate", "generation_items_per_s")):
        runs = {r["gpus"]: r[key] for r in report.get(part, [])}
        if 1 in runs and 2 in runs:
            name = part if key in ("tokens_per_s", "items_per_s") else f"{part}_generation"
            report[f"{name}_ratio_2v1"] = round(runs[2] / runs[1], 3)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print({k: v for k, v in report.items() if k.endswith("ratio_2v1")})


if __name__ == "__main__":
    main()
