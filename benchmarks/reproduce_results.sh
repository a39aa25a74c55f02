#!/usr/bin/env bash
# Reproduce docs/results.md: prepare the benchmarks, translate them with the base model (zero-shot) and the
# default model (base + shipped adapter), and score everything side by side.
#
# Run as: bash benchmarks/reproduce_results.sh [SHARED_DATA_DIR] [OUT_DIR]
#   (translation wants a GPU: about 10 minutes on one H200; scoring runs on the CPU)
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-results}
mkdir -p "$OUT"

cpp2py prepare xlcost --src "$DATA/xlcost-m_g-transeval/xlcost-m" --out "$OUT/data/xlcost"
cpp2py prepare cost --src "$DATA/cost_must-cost/CoST_data.zip" --out "$OUT/data/cost"
cpp2py prepare humaneval-x --src "$DATA/humaneval-x" --out "$OUT/data/humaneval-x"
# the modern-C++ dev benchmark: held-out TheAlgorithms programs (compare_stdout); compiling and running all
# 360 programs took 6 to 13 min on a shared 2-core CPU (2026-11-30, docs/data.md)
cpp2py prepare thealgorithms --src "$DATA/thealgorithms-cpp/C-Plus-Plus.tar.xz" --out "$OUT/data/thealgorithms"
# the LeetCode dev benchmark: held-out problems whose C++ oracle builds, tested by the oracle's cases (no C++ at
# scoring time); one sanitized oracle build per problem: 396 problems took 14 min on a shared 2-core CPU
# (2026-12-01, docs/data.md)
cpp2py prepare leetcode --src "$DATA/leetcode-kamyu104/LeetCode-Solutions.tar.xz" --out "$OUT/data/leetcode" \
  --bench-splits test --jobs 2

declare -A BENCH=(
  [xlcost-test]="$OUT/data/xlcost/test.jsonl"
  [humaneval-x]="$OUT/data/humaneval-x/humaneval-x.jsonl"
  [cost-stdout]="$OUT/data/cost/cost-stdout.jsonl"
  [thealgorithms-dev]="$OUT/data/thealgorithms/thealgorithms-dev.jsonl"
  [leetcode-dev]="$OUT/data/leetcode/leetcode-dev.jsonl"
)
for name in "${!BENCH[@]}"; do
  bench=${BENCH[$name]}
  # --model without --adapter is the base alone; no --model is the default model (base + shipped adapter)
  cpp2py translate "$bench" -o "$OUT/$name/qwen2.5-coder-0.5b-instruct.jsonl" --model qwen2.5-coder-0.5b-instruct --batch-size 64
  cpp2py translate "$bench" -o "$OUT/$name/cpp2py-default.jsonl" --batch-size 64
  cpp2py evaluate --benchmark "$bench" \
    --predictions "$OUT/$name/qwen2.5-coder-0.5b-instruct.jsonl" --predictions "$OUT/$name/cpp2py-default.jsonl" \
    --baseline naive-copy --allow-exec \
    --train-data "$OUT/data/xlcost/train.jsonl" --train-data "$OUT/data/cost/train.jsonl" \
    --out "$OUT/$name/eval"
done
