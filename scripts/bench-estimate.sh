#!/usr/bin/env bash
# Calibrate the memory estimate against llama-server itself (issue 22): random-weight GGUFs with the shapes of
# real models (scripts/bench-estimate/shapes.py), quantized by the pinned llama-quantize, served with clawlocal's
# own argv; llama.cpp's buffer lines and the process's VmHWM against `clawlocal plan`'s estimate, estimate ÷
# measured per row and the worst. Models are cached in ~/.cache/clawlocal-ci/bench-estimate (about 18 GB).
#
# usage: scripts/bench-estimate.sh [--shapes a,b] [--quants Q4_K_M,Q8_0] [--contexts 4096,16384,24576,32768]
#                                  [--out docs/estimate-calibration.md]
#        scripts/bench-estimate.sh --checkpoints [--shape gemma-3-1b] [--turns 10]
#                                  (a sliding-window model's context checkpoints over one conversation:
#                                  clawlocal's --ctx-checkpoints against llama-server's default)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${CLAWLOCAL_CI_CACHE:-$HOME/.cache/clawlocal-ci}
WORK="$CACHE/bench-estimate"
VENV="$CACHE/py-bench-estimate"
mkdir -p "$WORK"

llama_dir=$(bash scripts/ci/llama-server.sh | tail -n 1)
cargo build --locked --quiet
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# llama.cpp's gguf-py, from the same pinned source tree the engine was built from.
if [ ! -d "$WORK/llama.cpp/gguf-py" ]; then
    tar -xzf "$llama_dir/llama.cpp-src.tar.gz" -C "$WORK" llama.cpp/gguf-py
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, yaml' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy==2.4.6 PyYAML==6.0.4
fi
script=scripts/bench-estimate/run.py
if [ "${1:-}" = "--checkpoints" ]; then
    shift
    script=scripts/bench-estimate/checkpoints.py
fi
exec "$VENV/bin/python" "$script" --bin "$target/debug/clawlocal" \
    --engine "$llama_dir/llama-server" --quantize "$llama_dir/llama-quantize" \
    --gguf-py "$WORK/llama.cpp/gguf-py" --work "$WORK" "$@"
