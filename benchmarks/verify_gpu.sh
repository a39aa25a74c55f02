#!/usr/bin/env bash
# Issue 11's --verify numbers on one GPU: HumanEval-X and the CoST stdout benchmark, greedy vs --verify with only
# the oracle built from the C++ (the benchmarks' tests and expected stdout are never shown to the loop), default
# model (Qwen2.5-Coder-0.5B-Instruct + the shipped adapter). Scoring runs afterwards on any CPU:
#   cpp2py evaluate --benchmark .gpu/data/humaneval-x.jsonl --predictions he-greedy.jsonl --predictions he-verify.jsonl --allow-exec
#
# Run on the device tool's nvidia-h200 (carry .whl and .gpu; the GGUF joined at $GGUF beforehand, as in
# benchmarks/translate_speed_gpu.sh): bash benchmarks/verify_gpu.sh
# .gpu/data holds humaneval-x.jsonl (cpp2py prepare humaneval-x) and cost-stdout.jsonl (cpp2py prepare cost).
set -uo pipefail
OUT=${OUT:-out/verify_gpu}
SAMPLES=${SAMPLES:-8}
ROUNDS=${ROUNDS:-2}
mkdir -p "$OUT"
source benchmarks/gpu_env.sh
for bench in humaneval-x cost-stdout; do
    b=.gpu/data/$bench.jsonl
    t=$SECONDS
    python3 -m cpp2py translate "$b" -o "$OUT/$bench-greedy.jsonl" --device cuda 2>&1 | tail -2
    echo "$bench greedy: $((SECONDS - t)) s"; t=$SECONDS
    python3 -m cpp2py translate "$b" -o "$OUT/$bench-verify.jsonl" --device cuda \
        --verify --verify-samples "$SAMPLES" --rounds "$ROUNDS" 2>&1 | tail -2
    echo "$bench verify ($SAMPLES samples, $ROUNDS rounds): $((SECONDS - t)) s"
done
