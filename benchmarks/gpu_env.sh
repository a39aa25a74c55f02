# Sourced by the GPU benchmark scripts (benchmarks/*_gpu.sh) on the device tool's machine, which has no network:
# install the carried wheels (.whl/) to /tmp/site, and install $MODEL (the default model unless set) from the GGUF
# joined at $GGUF (carried in parts with ../shared/tools/device-parts split), as `cpp2py models install` does on a
# user's machine.
MODEL=${MODEL:-qwen2.5-coder-0.5b-instruct}
GGUF=${GGUF:-/root/stage/$MODEL-q4_k_m.gguf}
# once per machine: the scripts' steps run side by side and call this each
if [ "$(cat /tmp/site/.wheels 2>/dev/null)" != "$(ls .whl)" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    ls .whl > /tmp/site/.wheels
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# cpp2py runs from the checkout there, not pip-installed, so nothing brought its core dependencies: stop here
# when one is missing rather than after minutes of generation (a translation is checked with pyflakes at its end)
python3 - <<'EOF' || exit 1
import importlib.util, re, sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
names = [{"pyyaml": "yaml"}.get(n, n) for n in (re.match(r"[\w.-]+", d)[0].lower() for d in deps)]
missing = [n for n in names if importlib.util.find_spec(n) is None]
sys.exit(f"carry these as wheels in .whl/: {', '.join(missing)}" if missing else 0)
EOF
home=~/.cache/cpp2py/models/$MODEL
if [ ! -f "$home/hf/config.json" ]; then
    mkdir -p "$home" && cp "$GGUF" "$home/" || { echo "no model: $GGUF is missing" >&2; exit 1; }
    python3 -m cpp2py models install "$MODEL" 2>&1 | tail -3
fi
