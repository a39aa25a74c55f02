# Sourced by the GPU benchmark scripts (benchmarks/*_gpu.sh) on the device tool's machine, which has no network:
# install the carried wheels (.whl/) to /tmp/site, and install the default model from the GGUF joined at $GGUF
# (carried in parts with ../shared/tools/device-parts split), as `cpp2py models install` does on a user's machine.
GGUF=${GGUF:-/root/stage/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
# once per machine: the scripts' steps run side by side and call this each
if [ "$(cat /tmp/site/.wheels 2>/dev/null)" != "$(ls .whl)" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    ls .whl > /tmp/site/.wheels
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
home=~/.cache/cpp2py/models/qwen2.5-coder-0.5b-instruct
if [ ! -f "$home/hf/config.json" ]; then
    mkdir -p "$home" && cp "$GGUF" "$home/" || { echo "no model: $GGUF is missing" >&2; exit 1; }
    python3 -m cpp2py models install qwen2.5-coder-0.5b-instruct 2>&1 | tail -3
fi
