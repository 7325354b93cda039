#!/usr/bin/env bash
# Build the real llama.cpp `llama-server` and `llama-quantize` for the test suite, from the llama.cpp tree
# vendored in the llama-cpp-python sdist on PyPI (pinned by version and sha256), into a cache outside the clone.
# Also packs that tree as `llama.cpp-src.tar.gz` (one top folder, `llama.cpp/`) for the `engine build` test.
# Prints the directory holding all three on its last line. A rerun with them cached costs ~0 s; a rebuild
# with a warm ccache ~40 s; a cold build ~6-10 min on 2 cores.
#
# The tree is built at $WORK/src/llama.cpp into $WORK/build with CCACHE_BASEDIR=$WORK and the configure flags
# `clawlocal engine build --backend cpu --portable` uses, so that build, in a fresh folder of the same shape,
# hits this ccache.
#
# usage: scripts/ci/llama-server.sh
# env:   CLAWLOCAL_CI_CACHE  cache root [default: ~/.cache/clawlocal-ci]
#        LCP_VERSION / LCP_SHA256  the llama-cpp-python sdist to take llama.cpp from
set -euo pipefail

LCP_VERSION=${LCP_VERSION:-0.3.36}
LCP_SHA256=${LCP_SHA256:-832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e}
# Portable binary (AVX2 baseline), so a cached copy runs on any x86-64 CI machine of this kind.
GGML_NATIVE=OFF
CACHE=${CLAWLOCAL_CI_CACHE:-$HOME/.cache/clawlocal-ci}
OUT="$CACHE/llama-cpp-python-$LCP_VERSION-native-$GGML_NATIVE"
STAMP="$LCP_VERSION $LCP_SHA256 $GGML_NATIVE"

log() { printf 'llama-server.sh: %s\n' "$*" >&2; }

if [ -x "$OUT/llama-server" ] && [ -x "$OUT/llama-quantize" ] && [ -f "$OUT/llama.cpp-src.tar.gz" ] \
    && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP" ]; then
    log "cached in $OUT"
    echo "$OUT"
    exit 0
fi

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawlocal-llama.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log "downloading llama-cpp-python==$LCP_VERSION sdist from PyPI"
python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python -d "$WORK/dl" "llama-cpp-python==$LCP_VERSION"
SDIST=$(ls "$WORK"/dl/llama_cpp_python-*.tar.gz)
echo "$LCP_SHA256  $SDIST" | sha256sum -c - >/dev/null || { log "sha256 mismatch for $SDIST"; exit 1; }
tar -xzf "$SDIST" -C "$WORK" --wildcards '*/vendor/llama.cpp/*'
mkdir -p "$WORK/src"
mv "$(ls -d "$WORK"/llama_cpp_python-*/vendor/llama.cpp)" "$WORK/src/llama.cpp"
SRC="$WORK/src/llama.cpp"
rm -f "$SRC/.git"
COMMIT=$(tar -xzOf "$SDIST" --wildcards '*/CHANGELOG.md' | grep -m1 -o 'ggml-org/llama.cpp@[0-9a-f]*' | cut -d@ -f2 || true)
mkdir -p "$OUT"
tar -czf "$OUT/llama.cpp-src.tar.gz.part" -C "$WORK/src" llama.cpp && mv "$OUT/llama.cpp-src.tar.gz.part" "$OUT/llama.cpp-src.tar.gz"
if [ -x "$OUT/llama-server" ] && [ -x "$OUT/llama-quantize" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP" ]; then
    log "binaries cached in $OUT; packed the source tree"
    echo "$OUT"
    exit 0
fi

# ccache keyed on content, kept in the cache so a rebuild from a fresh temp dir still hits. The locale is fixed
# as `clawlocal engine build` fixes it (ccache hashes LANG and LC_*), so that build hits these entries.
export CCACHE_DIR="$CACHE/ccache" CCACHE_BASEDIR="$WORK" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=2G LANG=C LC_ALL=C
unset LC_CTYPE LC_MESSAGES
log "configuring llama.cpp ${COMMIT:-unknown}"
CCACHE=$(command -v ccache)
(cd "$WORK" && cmake -S "$SRC" -B "$WORK/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=$GGML_NATIVE \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_COMMIT="${COMMIT:-unknown}" \
    -DGGML_METAL=OFF -DGGML_CUDA=OFF -DGGML_CCACHE=OFF -DCMAKE_C_COMPILER_LAUNCHER="$CCACHE" \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$CCACHE" -DCMAKE_CUDA_COMPILER_LAUNCHER="$CCACHE" >/dev/null)
start=$(date +%s)
(cd "$WORK" && cmake --build "$WORK/build" --target llama-server llama-quantize -j "$(nproc)") >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
log "built in $(( $(date +%s) - start )) s"
mkdir -p "$OUT"
install -m 755 "$WORK/build/bin/llama-server" "$WORK/build/bin/llama-quantize" "$OUT/"
echo "$STAMP" > "$OUT/.stamp"
"$OUT/llama-server" --version 2>&1 | head -1 >&2
echo "$OUT"
