#!/usr/bin/env bash
# benchmarks/translate_speed.py on one GPU machine of the `device` tool (H200), in one call of under 10 minutes:
# seed loop (15 items, extrapolated), eager batches vs continuous batching on XLCoST-m val and HumanEval-X
# (predictions written for `cpp2py evaluate`), batch-1 decode vs the bandwidth limit, N=8 sampling, latency.
#
# Needs, in the checkout that travels (both git-ignored, named in `carry`):
#   .whl/       transformers 5.24.0 (the version the CPU tests run; the machine has 5.17), gguf 0.19.0, peft 0.21.2
#   .gpu/data/  xlcost-val.jsonl (cpp2py prepare xlcost) and humaneval-x.jsonl (cpp2py prepare humaneval-x)
# and the default model's GGUF joined at $GGUF on the machine (carried before in parts with
# ../shared/tools/device-parts split; the machine has no network). It is converted there once, as
# `cpp2py models install` does on a user's machine.
# Writes to $OUT: translate_speed_h200.json (each part as it completes), log.txt, and the predictions
# <set>-<engine>.jsonl.
set -uo pipefail
OUT=${OUT:-out/translate_speed_gpu}
mkdir -p "$OUT"
source benchmarks/gpu_env.sh
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
timeout 540 python3 benchmarks/translate_speed.py \
    --benchmark .gpu/data/xlcost-val.jsonl --quality-benchmark .gpu/data/humaneval-x.jsonl \
    --engines eager,cb --batch-size 64 --seed-subset 15 --sample-items 100 --sample-engines cb \
    --pred-dir "$OUT" --out "$OUT/translate_speed_h200.json" 2>&1 | tee "$OUT/log.txt"
