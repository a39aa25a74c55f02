#!/usr/bin/env bash
# Issue 12 through the device tool: execution-verified self-training rounds, retrains of the 0.5B recipe on its
# fast path (issue 14), greedy translations of every dev benchmark and issue 11's --verify runs. Scoring runs
# afterwards on any CPU (docs/results.md).
#
#   bash benchmarks/selftrain_gpu.sh prepare        # here, on the CPU: corpora + benchmarks into .gpu/data.tar.xz
#   bash benchmarks/selftrain_gpu.sh stage PART     # device, once per GGUF part (carry PART): to /root/stage
#   ROUND=2 SHARDS=4 bash benchmarks/selftrain_gpu.sh round   # device (carry .whl .device-parts/site.tar.xz .gpu/data.tar.xz;
#                                                             .whl as benchmarks/translate_speed_gpu.sh says)
#   RUNS=round2 bash benchmarks/selftrain_gpu.sh train        # device: retrain on every round's pairs up to N; alone on
#                                                             the GPU (beside 8 eval processes the 1.5B ran out of memory)
#                                                             (EXTRA: more recipe overrides, e.g. upcast_fp32=false;
#                                                             RUNS=recipe: the recipe's own data, XLCoST-m + CoST)
#   MODEL=qwen2.5-coder-0.5b-instruct RUNS_DIR=/root/stage/runs05 RUNS=round2 bash benchmarks/selftrain_gpu.sh train
#                                                             # another base on the same round's pairs (e.g. the 1.5B's,
#                                                             distilled into the 0.5B): each base its own RUNS_DIR
#   EVAL="round2:all default:modern" bash benchmarks/selftrain_gpu.sh eval   # device: greedy predictions
#   VERIFY="humaneval-x:8:2" bash benchmarks/selftrain_gpu.sh verify   # device: greedy vs --verify (issue 11)
#   bash benchmarks/selftrain_gpu.sh setup          # device: wheels, model, data; before steps run side by side
#
# MODEL names the base (default qwen2.5-coder-0.5b-instruct; cpp2py/models.json): its GGUF, its recipe
# configs/<model without -instruct>-qlora.yaml, and the model `base` evaluates (EVAL="base:all recipe:all").
#
# The device tool gives the machine back 30 s after a call, so the calls run back to back; `round` stops itself
# after $ROUND_S seconds (SIGINT: what was sampled is still checked and written) and resumes when run again.
# A round samples from the shipped default unless ADAPTER names a run; BACKEND=vllm samples through vLLM (its wheels
# staged as benchmarks/translate_speed_gpu.sh says, VLLM_TAR_SHA set; one shard per GPU, since each engine takes most
# of its GPU's memory); its inputs are dealt to SHARDS processes
# (round-robin over the visible GPUs: eager generation of a 0.5B model leaves a GPU mostly idle, so two
# processes share one) and the shards' pairs are joined into roundN.jsonl.
# GGUF parts: `../shared/tools/device-parts split <the installed GGUF> --mib 24 --dest .gguf` (a part beside the
# checkout, 38 MiB with both shipped adapters, stays under a call's 64 MiB), then one `stage .gguf/<name>.partNN`
# call per part, about 5 s each when issued back to back.
set -uo pipefail
cd "$(dirname "$0")/.."
STAGE=${STAGE:-/root/stage}
OUT=${OUT:-out/selftrain_gpu}
D=$STAGE/data
RUNS_DIR=${RUNS_DIR:-$STAGE/runs}  # where `train` writes runs; one per MODEL when several bases train in one session
export MODEL=${MODEL:-qwen2.5-coder-0.5b-instruct}
read -r GGUF_FILE < <(python3 -c 'import json, sys; print(json.load(open("cpp2py/models.json"))[sys.argv[1]]["gguf_file"])' \
    "$MODEL") || { echo "unknown MODEL $MODEL" >&2; exit 2; }
CONFIG=configs/${MODEL%-instruct}-qlora.yaml

setup() {  # wheels, the joined GGUF, the installed model and the unpacked data; idempotent
    mkdir -p "$STAGE" "$OUT"
    export GGUF=$STAGE/$GGUF_FILE  # joined from its staged parts by gpu_env.sh
    [ -d /tmp/site/trl ] || { mkdir -p /tmp/site && tar -xJf .device-parts/site.tar.xz -C /tmp/site; }
    [ -d "$D" ] || { mkdir -p "$D" && tar -xJf .gpu/data.tar.xz -C "$D"; }
    EXTRAS=oracle source benchmarks/gpu_env.sh  # rounds and --verify build oracles
}

run_adapter() {  # a run trained here (its directory under $RUNS_DIR), else an adapter name cpp2py knows
    # (the shipped presets, e.g. qwen2.5-coder-1.5b-instruct) or a path
    if [ -d "$RUNS_DIR/$1" ]; then echo "$RUNS_DIR/$1"; else echo "$1"; fi
}

gpu_job() {  # LABEL OUT.jsonl IN.jsonl [translate options]: one translate process, in the background, on the
    # next GPU round-robin ($gpus of them, from $next_gpu; GPU=N pins all), its log beside OUT, its time reported
    local label=$1 out=$2 in=$3
    shift 3
    ( t=$SECONDS
      CUDA_VISIBLE_DEVICES=${GPU:-$((next_gpu % gpus))} timeout "${EVAL_S:-540}" python3 -m cpp2py translate "$in" \
          -o "$out" --device cuda "$@" > "$out.log" 2>&1
      echo "$label: $((SECONDS - t)) s, $(tail -c 300 "$out.log" | tail -1)" ) &
    next_gpu=$((next_gpu + 1))
}

gpu_jobs() {  # N LABEL OUT.jsonl IN.jsonl [translate options]: gpu_job, or N of them on shards i/N (OUT.si.jsonl;
    # join with cat) when one process would run past the call's limit
    local n=$1 label=$2 out=$3 in=$4
    shift 4
    if [ "$n" -le 1 ]; then gpu_job "$label" "$out" "$in" "$@"; return; fi
    for ((i = 0; i < n; i++)); do gpu_job "$label $i/$n" "${out%.jsonl}.s$i.jsonl" "$in" "$@" --shard "$i/$n"; done
}

round_file() {  # N: round N's pairs, from prepare's data or sampled on this machine; absent: a note, nothing
    # (pair files stay out of git, so an earlier session's rounds may not be at hand: the next round then samples
    # every input again and trains without them, and the docs say so)
    local f
    for f in "$D/selftrain/round$1.jsonl" "$STAGE/selftrain/round$1.jsonl"; do
        [ -f "$f" ] && { echo "$f"; return; }
    done
    echo "round $1's pairs are not at hand: not used" >&2
}

BENCH=(humaneval-x.jsonl cost-stdout.jsonl cost/test.jsonl xlcost/test.jsonl leetcode/inputs-val.jsonl
       leetcode/inputs-test.jsonl thealgorithms/inputs-val.jsonl thealgorithms/inputs-test.jsonl examples.jsonl)

case "${1:-}" in
setup)  # once, before steps that run side by side (GPU=N pins a step's processes to one GPU)
    setup
    ;;
prepare)
    mkdir -p .gpu/data
    p=.gpu/data
    [ -f $p/leetcode/leetcode-dev.jsonl ] || python -m cpp2py prepare leetcode \
        --src ../shared/data/leetcode-kamyu104/LeetCode-Solutions.tar.xz --out $p/leetcode --bench-splits test --jobs 2
    [ -f $p/thealgorithms/inputs-test.jsonl ] || python -m cpp2py prepare thealgorithms \
        --src ../shared/data/thealgorithms-cpp/C-Plus-Plus.tar.xz --out $p/thealgorithms
    [ -f $p/cost/train.jsonl ] || python -m cpp2py prepare cost --src ../shared/data/cost_must-cost/CoST_data.zip \
        --out $p/cost
    [ -f $p/xlcost/train.jsonl ] || python -m cpp2py prepare xlcost \
        --src ../shared/data/xlcost-m_g-transeval/xlcost-m --out $p/xlcost
    [ -f $p/humaneval-x.jsonl ] || { python -m cpp2py prepare humaneval-x --src ../shared/data/humaneval-x \
        --out $p/humaneval-x && cp $p/humaneval-x/humaneval-x.jsonl $p/; }
    cp $p/cost/cost-stdout.jsonl $p/
    # examples/ are what a new user tries first: kept out of training like any benchmark
    python - <<'EOF'
import json, pathlib
with open(".gpu/data/examples.jsonl", "w") as f:
    for p in sorted(pathlib.Path("examples").glob("*.cpp")):
        f.write(json.dumps({"id": f"examples/{p.stem}", "cpp": p.read_text()}) + "\n")
EOF
    # earlier rounds' pairs (data/selftrain/roundN.jsonl, kept out of git): the next round's --previous and training data
    mkdir -p $p/selftrain && cp data/selftrain/round*.jsonl $p/selftrain/ 2>/dev/null
    tar -cJf .gpu/data.tar.xz -C .gpu/data humaneval-x.jsonl cost-stdout.jsonl examples.jsonl cost xlcost \
        leetcode thealgorithms selftrain
    du -sh .gpu/data.tar.xz
    ;;
stage)
    mkdir -p "$STAGE" && cp "$2" "$STAGE/" && ls "$STAGE"
    ;;
round)
    setup || exit 1
    if [ "${BACKEND:-hf}" = vllm ]; then install_vllm || exit 1; fi
    n=${ROUND:-1} k=${SHARDS:-1}
    sel=$STAGE/selftrain
    mkdir -p "$sel"
    prev=() adapter=()
    for ((r = 1; r < n; r++)); do f=$(round_file $r) && [ -n "$f" ] && prev+=(--previous "$f"); done
    [ -n "${ADAPTER:-}" ] && adapter=(--adapter "$(run_adapter "$ADAPTER")")
    gpus=$(nvidia-smi -L | wc -l)
    for ((i = 0; i < k; i++)); do
        ins=()
        for f in leetcode/inputs-train.jsonl thealgorithms/inputs-train.jsonl; do
            part=$sel/$(dirname $f).s$i-of-$k.jsonl
            awk -v k="$k" -v i="$i" '(NR - 1) % k == i' "$D/$f" > "$part"
            ins+=(--inputs "$part")
        done
        CUDA_VISIBLE_DEVICES=${GPU:-$((i % gpus))} timeout -s INT "${ROUND_S:-420}" python3 -m cpp2py self-train "${ins[@]}" \
            "${prev[@]}" "${adapter[@]}" $(printf -- "--benchmark $D/%s " "${BENCH[@]}") --samples "${SAMPLES:-4}" \
            --temperature 0.8 --round "$n" --out "$sel/round$n.s$i.jsonl" --device cuda --batch-size 128 \
            --backend "${BACKEND:-hf}" \
            --inputs-per-call 64 --jobs "${JOBS:-$(( $(nproc) / k ))}" --max-cpp-chars 1600 > "$OUT/round$n.s$i.log" 2>&1 &
    done
    wait
    tail -n 3 "$OUT"/round$n.s*.log
    cat "$sel"/round$n.s*[0-9].jsonl > "$sel/round$n.jsonl"
    cp "$sel"/round$n.* "$OUT/"
    ;;
train)
    setup || exit 1
    for run in ${RUNS:-baseline round1}; do
        [ -f "$RUNS_DIR/$run/adapter_model.safetensors" ] && continue
        if [ $run = baseline ]; then  # issue 14: the shipped recipe's data on the fast path
            extra="data.extra_train=[$D/cost/train.jsonl] data.max_length=512 batch.per_device_batch_size=32"
        elif [ $run = recipe ]; then  # the recipe as it is, on XLCoST-m and CoST (no self-training pairs)
            extra="data.extra_train=[$D/cost/train.jsonl]"
        else                          # issue 12: + every round's verified pairs up to this one
            n=${run#round} rounds=""
            for ((r = 1; r <= n; r++)); do f=$(round_file $r) && [ -n "$f" ] && rounds+=",$f"; done
            extra="data.extra_train=[$D/cost/train.jsonl$rounds] data.max_length=1024 batch.per_device_batch_size=16"
        fi
        t=$SECONDS
        mkdir -p "$OUT/runs/$run"
        # the recipe's fast path (packing, varlen attention, Liger, no token metrics, no checkpointing);
        # Liger is its newest part, so a failure retries without it
        for fast in liger_kernel=true liger_kernel=false; do
            python3 -m cpp2py train --config "$CONFIG" output_dir="$RUNS_DIR/$run" \
                data.train="$D/xlcost/train.jsonl" data.val="$D/xlcost/val.jsonl" 'report_to=[]' $fast $extra ${EXTRA:-} \
                > "$OUT/runs/$run/train.log" 2>&1 && break
            tail -3 "$OUT/runs/$run/train.log"
        done
        tail -2 "$OUT/runs/$run/train.log"
        echo "$run: $((SECONDS - t)) s"
        cp "$RUNS_DIR/$run"/{adapter_config.json,train_metrics.json} "$OUT/runs/$run/"
        # the device tool leaves files over 16 MB out of $OUT: the adapter comes back in parts (cat to join)
        split -b 8M "$RUNS_DIR/$run/adapter_model.safetensors" "$OUT/runs/$run/adapter_model.safetensors.part"
    done
    ;;
eval)
    setup || exit 1
    # RUN:SETS pairs; each (adapter, set) is its own process, round-robin over the GPUs (see `round`)
    all="humaneval-x.jsonl cost-stdout.jsonl thealgorithms/thealgorithms-dev.jsonl leetcode/leetcode-dev.jsonl
         xlcost/test.jsonl"
    modern="thealgorithms/thealgorithms-dev.jsonl leetcode/leetcode-dev.jsonl"
    gpus=$(nvidia-smi -L | wc -l) next_gpu=${GPU0:-0}
    for spec in ${EVAL:-round1:all baseline:all default:modern}; do
        run=${spec%%:*} sets=${spec#*:}
        [ "$sets" = all ] && sets=$all
        [ "$sets" = modern ] && sets=$modern
        adapter=()  # default: the shipped adapter on its base; base: $MODEL alone
        [ "$run" = base ] && adapter=(--model "$MODEL")
        [ "$run" = default ] || [ "$run" = base ] || adapter=(--adapter "$(run_adapter "$run")")
        mkdir -p "$OUT/pred/$run"
        for s in ${sets//,/ }; do
            out=$OUT/pred/$run/$(echo "$s" | tr / -)
            if [ "$s" = leetcode/leetcode-dev.jsonl ]; then
                # its longest inputs run to the default cap and keep one process past the call's limit: four
                # shards at 1,024 new tokens (docs/results.md)
                gpu_jobs "${LC_SHARDS:-4}" "$run $s" "$out" "$D/$s" "${adapter[@]}" --batch-size 64 --max-new-tokens 1024
            elif [ "$s" = xlcost/test.jsonl ]; then  # 925 items: the 1.5B needs two processes within a call
                gpu_jobs "${XL_SHARDS:-2}" "$run $s" "$out" "$D/$s" "${adapter[@]}" --batch-size 64
            else
                gpu_job "$run $s" "$out" "$D/$s" "${adapter[@]}" --batch-size 64
            fi
        done
    done
    wait
    ;;
verify)
    setup || exit 1
    # issue 11: greedy and --verify with only the oracle built from the C++ (the shipped default unless ADAPTER
    # names a run). One batch holds a whole benchmark (BATCH): a verify batch's samples and repairs are each one
    # generate call, bound by its longest reply, so fewer, larger batches finish sooner. BENCH:SAMPLES:ROUNDS[:SHARDS]
    # specs in VERIFY (shards: processes, see gpu_jobs); MAX_NEW caps the replies of both modes alike; MODES
    # "verify" leaves out the greedy runs.
    gpus=$(nvidia-smi -L | wc -l) next_gpu=${GPU0:-0}
    mkdir -p "$OUT/verify"
    adapter=() cap=()
    [ -n "${ADAPTER:-}" ] && adapter=(--adapter "$(run_adapter "$ADAPTER")")
    [ -n "${MAX_NEW:-}" ] && cap=(--max-new-tokens "$MAX_NEW")
    for spec in ${VERIFY:-humaneval-x:8:2 cost-stdout:4:2}; do
        IFS=: read -r bench k rounds shards <<< "$spec"
        for mode in ${MODES:-greedy verify}; do
            opts=("${adapter[@]}" "${cap[@]}" --batch-size "${BATCH:-256}")
            [ $mode = verify ] && opts+=(--verify --verify-samples "$k" --rounds "$rounds")
            gpu_jobs "${shards:-1}" "$bench $mode" "$OUT/verify/$bench-$mode${ADAPTER:+-$ADAPTER}.jsonl" "$D/$bench.jsonl" \
                "${opts[@]}"
        done
    done
    wait
    ;;
*)
    echo "usage: bash benchmarks/selftrain_gpu.sh prepare|stage PART|round|train|eval|verify" >&2
    exit 2
    ;;
esac
