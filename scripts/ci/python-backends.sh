#!/usr/bin/env bash
# Install the two real OpenAI-compatible backends the tests drive besides llama-server, each in its own venv in a
# cache outside the clone:
#   - tinygrad (PyPI wheel, pinned by sha256; pure Python, run with DEV=CPU:X86 so no clang or LLVM is needed),
#     serving a GGUF with `python -m tinygrad.llm --serve`;
#   - llama-cpp-python's server (built from the same sdist scripts/ci/llama-server.sh takes llama.cpp from,
#     pinned by sha256; CPU, GGML_NATIVE=OFF, through ccache), `python -m llama_cpp.server`.
# 0.14.0 of tinygrad is not used: its wheel and sdist lack tinygrad/llm/kernels, which tinygrad.llm imports.
# Prints the tinygrad venv's python, then llama-cpp-python's, one per line (the last two lines).
# A rerun with both cached costs ~0 s; a cold run ~8-10 min on 2 cores (llama-cpp-python compiles llama.cpp).
#
# usage: scripts/ci/python-backends.sh
# env:   CLAWLOCAL_CI_CACHE  cache root [default: ~/.cache/clawlocal-ci]
set -euo pipefail

TINYGRAD_VERSION=0.13.0
TINYGRAD_SHA256=1aad37a742ac5f0bd26d811b9b799fbb08088eaa2e7279ff53b19b8c934a9f1c
LCP_VERSION=0.3.36
LCP_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
# The server's dependencies, at the versions this was verified with.
LCP_DEPS=(
    "fastapi==0.165.0" "uvicorn==0.55.0" "sse-starlette==3.7.1" "starlette==1.10.0" "starlette-context==0.3.6"
    "pydantic==2.14.4" "pydantic-settings==2.16.3" "numpy==2.4.6" "typing-extensions==4.16.0" "diskcache==5.6.3"
    "jinja2==3.1.6" "PyYAML==6.0.4"
)
CACHE=${CLAWLOCAL_CI_CACHE:-$HOME/.cache/clawlocal-ci}
TG="$CACHE/py-tinygrad-$TINYGRAD_VERSION"
LCP="$CACHE/py-llama-cpp-python-$LCP_VERSION"

log() { printf 'python-backends.sh: %s\n' "$*" >&2; }

if [ ! -f "$TG/.done" ]; then
    log "installing tinygrad==$TINYGRAD_VERSION (sha256 pinned)"
    rm -rf "$TG"
    python3 -m venv "$TG"
    req=$(mktemp)
    echo "tinygrad==$TINYGRAD_VERSION --hash=sha256:$TINYGRAD_SHA256" > "$req"
    "$TG/bin/pip" install --quiet --no-deps --only-binary :all: --require-hashes -r "$req"
    rm -f "$req"
    DEV=CPU:X86 "$TG/bin/python" -c 'from tinygrad import Tensor; assert (Tensor([1.0, 2.0]) * 3).tolist() == [3.0, 6.0]'
    touch "$TG/.done"
fi

if [ ! -f "$LCP/.done" ]; then
    need=()
    command -v cmake >/dev/null || need+=(cmake)
    command -v ninja >/dev/null || need+=(ninja-build)
    command -v ccache >/dev/null || need+=(ccache)
    command -v g++ >/dev/null || need+=(g++)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawlocal-lcp.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    log "downloading llama-cpp-python==$LCP_VERSION sdist"
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python -d "$WORK" "llama-cpp-python==$LCP_VERSION"
    SDIST=$(ls "$WORK"/llama_cpp_python-*.tar.gz)
    echo "$LCP_SHA256  $SDIST" | sha256sum -c - >/dev/null || { log "sha256 mismatch for $SDIST"; exit 1; }
    rm -rf "$LCP"
    python3 -m venv "$LCP"
    "$LCP/bin/pip" install --quiet "${LCP_DEPS[@]}"
    log "building llama-cpp-python $LCP_VERSION (CPU; a few minutes cold)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache" \
        CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) CCACHE_DIR="$CACHE/ccache" \
        "$LCP/bin/pip" install --quiet --no-deps "$SDIST"
    "$LCP/bin/python" -c 'import llama_cpp.server.app'
    touch "$LCP/.done"
fi

log "tinygrad in $TG, llama-cpp-python in $LCP"
echo "$TG/bin/python"
echo "$LCP/bin/python"
