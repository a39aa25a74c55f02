#!/usr/bin/env bash
# The training-speed ablation of issue 14 (benchmarks/train_speed.py) on one H200, as one device-tool command.
#
# 1. Here, on the CPU machine, in the checkout the device tool sends (once; about a minute):
#      bash benchmarks/train_speed_gpu.sh prepare
#    It fills three git-ignored folders: .gpu/ (Qwen2.5-Coder-0.5B's tokenizer and config.json, no weights;
#    XLCoST train/val from `cpp2py prepare`), .whl/ (liger-kernel 0.8.5, which the GPU image lacks) and
#    .device-parts/site.tar.xz (bitsandbytes, trl, peft, datasets: ../shared/tools/device-parts site).
# 2. The device tool's run, kind nvidia-h200, timeout_s 600, carry [".gpu", ".whl", ".device-parts"]:
#      bash benchmarks/train_speed_gpu.sh run
#    About 8 minutes: building the random-weight 8B architecture, then the modes in order until the time
#    budget (400 s) is spent; the rest are recorded as skipped. It writes $OUT/train_speed.json,
#    $OUT/train_speed.log and $OUT/profile_llama8b_{seed,nometrics}.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
  mkdir -p .gpu/qwen-tok .whl
  src=$(python -c "from cpp2py.model import resolve_model; print(resolve_model('qwen2.5-coder-0.5b-instruct'))")
  for f in config.json tokenizer.json tokenizer_config.json chat_template.jinja generation_config.json; do
    if [ -f "$src/$f" ]; then cp "$src/$f" .gpu/qwen-tok/; fi
  done
  [ -f .gpu/data/xlcost/val.jsonl ] ||
    python -m cpp2py prepare xlcost --src ../shared/data/xlcost-m_g-transeval/xlcost-m --out .gpu/data/xlcost
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl liger-kernel==0.8.5
  [ -f .device-parts/site.tar.xz ] || ../shared/tools/device-parts site
  du -sh .gpu .whl .device-parts
  ;;
run)
  mkdir -p /tmp/site
  tar -xJf .device-parts/site.tar.xz -C /tmp/site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
  python3 benchmarks/train_speed.py --tokenizer .gpu/qwen-tok \
    --data .gpu/data/xlcost/train.jsonl --val .gpu/data/xlcost/val.jsonl \
    --targets llama8b,qwen0.5b --profile seed,nometrics --time-budget-s 400 \
    --out "$OUT/train_speed.json" 2>&1 | tee "$OUT/train_speed.log"
  ;;
*)
  echo "usage: bash benchmarks/train_speed_gpu.sh prepare|run" >&2
  exit 2
  ;;
esac
