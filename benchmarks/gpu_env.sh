# Sourced by the GPU benchmark scripts (benchmarks/*_gpu.sh) on the device tool's machine, which has no network:
# install the carried wheels (.whl/) to /tmp/site, and install $MODEL (the default model unless set) from the GGUF
# joined at $GGUF (carried in parts with ../shared/tools/device-parts split), as `cpp2py models install` does on a
# user's machine.
MODEL=${MODEL:-qwen2.5-coder-0.5b-instruct}
GGUF=${GGUF:-/root/stage/$MODEL-q4_k_m.gguf}

join_staged() {  # FILE SHA256: FILE.partNN (staged by earlier calls) joined once into FILE and checked
    [ -f "$1" ] && return 0
    cat $(ls "$1".part?? | sort) > "$1.joined" || return 1
    echo "$2  $1.joined" | sha256sum -c --quiet || { echo "$1: checksum differs" >&2; return 1; }
    mv "$1.joined" "$1" && rm -f "$1".part??
}
install_vllm() {  # vLLM and what it needs (benchmarks/vllm_wheels.txt), from vllm-wheels.tar staged in parts
    [ -d /tmp/site/vllm ] && return 0
    join_staged /root/stage/vllm-wheels.tar "${VLLM_TAR_SHA:?the sha256 device-parts printed for vllm-wheels.tar}" || return 1
    mkdir -p /tmp/vllm-wheels && tar -xf /root/stage/vllm-wheels.tar -C /tmp/vllm-wheels &&
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site /tmp/vllm-wheels/*.whl
}
join_staged "$GGUF" "$(python3 -c 'import json, sys; print(json.load(open("cpp2py/models.json"))[sys.argv[1]]["sha256"])' \
    "$MODEL")" || return 1
# once per machine: the scripts' steps run side by side and call this each
if [ "$(cat /tmp/site/.wheels 2>/dev/null)" != "$(ls .whl)" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    ls .whl > /tmp/site/.wheels
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# cpp2py runs from the checkout there, not pip-installed, so nothing brought its core dependencies, nor those of
# the extras in $EXTRAS (e.g. "oracle" for self-training): stop here when one is missing rather than after minutes
# of generation (a translation is checked with pyflakes at its end; a round without tree-sitter-cpp builds no oracle)
EXTRAS=${EXTRAS:-} python3 - <<'EOF' || exit 1
import importlib.util, os, re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = project["dependencies"] + [d for e in os.environ["EXTRAS"].split() for d in project["optional-dependencies"][e]]
names = [{"pyyaml": "yaml"}.get(n, n).replace("-", "_") for n in (re.match(r"[\w.-]+", d)[0].lower() for d in deps)]
missing = [n for n in names if importlib.util.find_spec(n) is None]
sys.exit(f"carry these as wheels in .whl/: {', '.join(missing)}" if missing else 0)
EOF
home=~/.cache/cpp2py/models/$MODEL
if [ ! -f "$home/hf/config.json" ]; then
    mkdir -p "$home" && cp "$GGUF" "$home/" || { echo "no model: $GGUF is missing" >&2; exit 1; }
    python3 -m cpp2py models install "$MODEL" 2>&1 | tail -3
fi
