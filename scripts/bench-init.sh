#!/usr/bin/env bash
# Benchmark: an identical `clawlocal init` re-run (everything unchanged), this tree against a baseline commit
# (BASELINE, default 36f61b4: before init became survey → plan → apply), side by side. Each binary gets its own
# sandbox HOME with the same tiny GGUF seeded into a Hugging Face cache, one first init (--offline, --service
# none), then BENCH_RUNS (default 10) re-runs alternating between the two; prints both medians and the ratio.
# Needs: llama-server (CLAWLOCAL_LLAMA_SERVER or PATH; only probed, never started), python3, git,
# ../shared/scripts/gen_tiny_gguf_stdlib.py.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$repo/../shared}
runs=${BENCH_RUNS:-10}
baseline=${BASELINE:-36f61b4}
engine=${CLAWLOCAL_LLAMA_SERVER:-$(command -v llama-server || true)}
[ -x "$engine" ] || { echo "bench-init: llama-server not found (set CLAWLOCAL_LLAMA_SERVER)" >&2; exit 2; }
target=${BENCH_TARGET:-$HOME/.cache/clawlocal-ci/bench-target}
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --locked --quiet --manifest-path "$repo/Cargo.toml" --target-dir "$target/new"
git -C "$repo" worktree add --quiet --detach "$work/base" "$baseline"
cargo build --release --locked --quiet --manifest-path "$work/base/Cargo.toml" --target-dir "$target/base"
new=$target/new/release/clawlocal
base=$target/base/release/clawlocal

python3 "$shared/scripts/gen_tiny_gguf_stdlib.py" --n-ctx-train 32768 "$work/tiny.gguf" >/dev/null
sha=$(sha256sum "$work/tiny.gguf" | cut -d' ' -f1)
commit=$(printf 'bench' | sha1sum | cut -d' ' -f1)
sandbox() { # $1: name → a HOME with the model in its HF cache
  local d=$work/$1 r=$work/$1/hub/models--bench--tiny-GGUF
  mkdir -p "$r/blobs" "$r/snapshots/$commit" "$r/refs" "$d/home" "$d/openclaw"
  cp "$work/tiny.gguf" "$r/blobs/$sha"
  ln -s "../../blobs/$sha" "$r/snapshots/$commit/tiny-F16.gguf"
  printf '%s' "$commit" >"$r/refs/main"
}
sandbox new
sandbox base
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
init() { # $1: binary, $2: sandbox
  HOME=$work/$2/home HF_HUB_CACHE=$work/$2/hub OPENCLAW_CONFIG_PATH=$work/$2/openclaw/openclaw.json \
    OPENCLAW_STATE_DIR=$work/$2/openclaw NO_COLOR=1 CLAWLOCAL_OPENCLAW=/nonexistent \
    "$1" --scope user --offline --quiet --json init --profile vps-8gb --service none --port "$port" \
    --model hf:bench/tiny-GGUF/tiny-F16.gguf --engine "$engine" >"$work/$2/last.json"
}
init "$new" new
init "$base" base
new_ms=() base_ms=()
for _ in $(seq "$runs"); do
  t0=$(date +%s%N); init "$new" new; new_ms+=($((($(date +%s%N) - t0) / 1000000)))
  t0=$(date +%s%N); init "$base" base; base_ms+=($((($(date +%s%N) - t0) / 1000000)))
done
grep -q '"status":"created"\|"status":"updated"' "$work/new/last.json" && { echo "bench-init: the re-run changed something" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_new=$(median "${new_ms[@]}")
m_base=$(median "${base_ms[@]}")
echo "identical init re-run, median of $runs: this tree $m_new ms, $baseline $m_base ms, ratio $(awk -v a="$m_new" -v b="$m_base" 'BEGIN {printf "%.2f", a / b}')"
