#!/usr/bin/env bash
# benchmarks/translate_speed.py on one GPU machine of the `device` tool (H200), in one call of under 10 minutes:
# seed loop (15 items, extrapolated), the engines of $ENGINES (default eager,cb; vllm too when its wheels are
# staged) on XLCoST-m val and HumanEval-X (predictions written for `cpp2py evaluate`), batch-1 decode vs the
# bandwidth limit, N=8 sampling with $SAMPLE_ENGINES, latency.
#
#   bash benchmarks/translate_speed_gpu.sh wheels   # here: vLLM's wheel bundle (benchmarks/vllm_wheels.txt) in
#                                                   # parts under .device-parts/ (one `run` per part, see below)
#   ENGINES=eager,vllm SAMPLE_ENGINES=vllm bash benchmarks/translate_speed_gpu.sh   # device
#
# Needs, in the checkout that travels (git-ignored, named in `carry`):
#   .whl/       transformers 5.24.0 (the version the CPU tests run; the machine has 5.17), gguf 0.19.0, peft 0.21.2,
#               pyflakes 3.4.0, tree-sitter 0.22.3 and tree-sitter-cpp 0.22.3 (the oracle, for self-training)
#   .gpu/data/  xlcost-val.jsonl (cpp2py prepare xlcost) and humaneval-x.jsonl (cpp2py prepare humaneval-x)
# and, staged before in /root/stage by calls that each copy one part there (`mkdir -p /root/stage && cp PART
# /root/stage/`, issued back to back: the machine has no network and a call carries 64 MiB): the default model's
# GGUF (../shared/tools/device-parts split <the installed GGUF>) and, for vllm, vllm-wheels.tar. Parts are
# joined and checked here; the model is converted once, as `cpp2py models install` does on a user's machine.
# Writes to $OUT: translate_speed_h200.json (each part as it completes), log.txt, and the predictions
# <set>-<engine>.jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = wheels ]; then
    rm -rf .device-parts/vllm-wheels && mkdir -p .device-parts/vllm-wheels || exit 1
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_35_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d .device-parts/vllm-wheels -r benchmarks/vllm_wheels.txt || exit 1
    tar -cf .device-parts/vllm-wheels.tar -C .device-parts/vllm-wheels . && rm -rf .device-parts/vllm-wheels
    exec ../shared/tools/device-parts split .device-parts/vllm-wheels.tar --mib "${MIB:-58}"
fi
OUT=${OUT:-out/translate_speed_gpu}
ENGINES=${ENGINES:-eager,cb}
mkdir -p "$OUT"
source benchmarks/gpu_env.sh || exit 1
if [[ ,$ENGINES, == *,vllm,* ]]; then install_vllm || exit 1; fi
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
timeout "${LIMIT_S:-540}" python3 benchmarks/translate_speed.py \
    --benchmark .gpu/data/xlcost-val.jsonl --quality-benchmark .gpu/data/humaneval-x.jsonl \
    --engines "$ENGINES" --batch-size "${BATCH:-64}" --seed-subset 15 --sample-items 100 \
    --sample-engines "${SAMPLE_ENGINES:-cb}" --pred-dir "$OUT" --out "$OUT/translate_speed_h200.json" 2>&1 | tee "$OUT/log.txt"
