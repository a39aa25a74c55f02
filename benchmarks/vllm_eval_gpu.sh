#!/usr/bin/env bash
# Greedy translations of several benchmark sets by one `cpp2py translate --backend vllm` process on the device
# tool's machine (vLLM loads once, about 95 s with its compile on an H200; then a set of hundreds of items takes
# seconds). Scoring runs afterwards on any CPU: cpp2py evaluate --benchmark SET --predictions $OUT/pred-SET.
#
#   MODEL=qwen2.5-coder-1.5b-instruct ADAPTER=qwen2.5-coder-1.5b-instruct VLLM_TAR_SHA=<sha> \
#       SETS="cost-stdout.jsonl leetcode-dev.jsonl xlcost-test.jsonl" bash benchmarks/vllm_eval_gpu.sh
#
# Needs what benchmarks/translate_speed_gpu.sh needs (.whl carried; $MODEL's GGUF and vllm-wheels.tar staged in
# /root/stage) and the sets under $DATA (default .gpu/data, carried; /root/stage/data where selftrain_gpu.sh
# unpacked them). ADAPTER: a shipped adapter's name or a directory (a run selftrain_gpu.sh trained:
# /root/stage/runs/NAME). Writes $OUT/pred-<set, / read as ->, $OUT/log.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/vllm_eval}
DATA=${DATA:-.gpu/data}
mkdir -p "$OUT"
source benchmarks/gpu_env.sh || exit 1
install_vllm || exit 1
# one input file for all sets, so the engine loads once; ids get the set's name in front and lose it after
python3 - "$OUT/all.jsonl" "$DATA" ${SETS:?} <<'PY' || exit 1
import json, sys
with open(sys.argv[1], "w") as out:
    for name in sys.argv[3:]:
        for line in open(f"{sys.argv[2]}/{name}"):
            rec = json.loads(line)
            out.write(json.dumps({"id": f"{name}::{rec['id']}", "cpp": rec["cpp"]}) + "\n")
PY
python3 -m cpp2py translate "$OUT/all.jsonl" -o "$OUT/all-pred.jsonl" --backend vllm --device cuda \
    ${ADAPTER:+--adapter "$ADAPTER"} 2>&1 | grep -v "^INFO\|^(EngineCore" | tee "$OUT/log.txt"
python3 - "$OUT" <<'PY'
import json, sys
outs = {}
for line in open(f"{sys.argv[1]}/all-pred.jsonl"):
    rec = json.loads(line)
    name, rec["id"] = rec["id"].split("::", 1)
    name = name.replace("/", "-")
    outs.setdefault(name, []).append(json.dumps(rec))
for name, lines in outs.items():
    open(f"{sys.argv[1]}/pred-{name}", "w").write("\n".join(lines) + "\n")
    print(name, len(lines))
PY
rm -f "$OUT/all.jsonl" "$OUT/all-pred.jsonl"
