#!/usr/bin/env bash
# Benchmark: `clawlocal doctor` (no --deep) on a healthy install, against OpenClaw's own one-check
# `openclaw config validate --json` run side by side. Goal: doctor without its chat and tool probes <= 1 s.
# Also times an identical `clawlocal init` re-run (goal <= 1 s).
#
# Sets up a sandbox HOME: a tiny GGUF (training context 32768) seeded into a Hugging Face cache as `pull` leaves
# it, `clawlocal init --offline --service none`, `clawlocal serve` in the background; then alternates the two
# commands BENCH_RUNS times (default 10) and prints medians and the ratio.
# Needs: llama-server (CLAWLOCAL_LLAMA_SERVER or PATH), python3, ../shared/scripts/gen_tiny_gguf_stdlib.py;
# the OpenClaw CLI (CLAWLOCAL_OPENCLAW or PATH) for the side-by-side reference.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$repo/../shared}
runs=${BENCH_RUNS:-10}
engine=${CLAWLOCAL_LLAMA_SERVER:-$(command -v llama-server || true)}
openclaw=${CLAWLOCAL_OPENCLAW:-$(command -v openclaw || true)}
[ -x "$engine" ] || { echo "bench-doctor: llama-server not found (set CLAWLOCAL_LLAMA_SERVER)" >&2; exit 2; }
[ -f "$shared/scripts/gen_tiny_gguf_stdlib.py" ] || { echo "bench-doctor: $shared/scripts missing (set SHARED)" >&2; exit 2; }

cargo build --release --locked --quiet --manifest-path "$repo/Cargo.toml"
bin=$repo/target/release/clawlocal
work=$(mktemp -d)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The model, in the HF cache layout: blobs/<sha256>, snapshots/<commit>/<file> -> blob, refs/main.
python3 "$shared/scripts/gen_tiny_gguf_stdlib.py" --n-ctx-train 32768 "$work/tiny.gguf" >/dev/null
sha=$(sha256sum "$work/tiny.gguf" | cut -d' ' -f1)
commit=$(printf 'bench' | sha1sum | cut -d' ' -f1)
repo_dir=$work/hub/models--bench--tiny-GGUF
mkdir -p "$repo_dir/blobs" "$repo_dir/snapshots/$commit" "$repo_dir/refs" "$work/home" "$work/openclaw"
mv "$work/tiny.gguf" "$repo_dir/blobs/$sha"
ln -s "../../blobs/$sha" "$repo_dir/snapshots/$commit/tiny-F16.gguf"
printf '%s' "$commit" >"$repo_dir/refs/main"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HOME=$work/home HF_HUB_CACHE=$work/hub NO_COLOR=1
export OPENCLAW_CONFIG_PATH=$work/openclaw/openclaw.json OPENCLAW_STATE_DIR=$work/openclaw
[ -n "$openclaw" ] && export CLAWLOCAL_OPENCLAW=$openclaw
"$bin" --scope user --offline --quiet init --profile vps-8gb --service none --port "$port" \
  --model hf:bench/tiny-GGUF/tiny-F16.gguf --engine "$engine" >/dev/null
# A second identical init changes nothing; how long it takes (issue 8's goal: <= 1 s).
init_ms=()
for _ in 1 2 3; do
  t0=$(date +%s%3N)
  "$bin" --scope user --offline --quiet init --profile vps-8gb --service none --port "$port" \
    --model hf:bench/tiny-GGUF/tiny-F16.gguf --engine "$engine" >/dev/null
  init_ms+=($(($(date +%s%3N) - t0)))
done
"$bin" --scope user serve 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
  "$bin" --scope user --json doctor --only server.health >/dev/null 2>&1 && break
  sleep 0.1
done
# The first run asks the OpenClaw CLI; later runs reuse its verdict for the same bytes (as a user's would).
"$bin" --scope user --json doctor >"$work/first.json" || { cat "$work/first.json"; exit 1; }

now_ms() { date +%s%3N; }
doctor_ms=() probe_ms=() validate_ms=()
for _ in $(seq "$runs"); do
  t0=$(now_ms)
  "$bin" --scope user --json doctor >"$work/run.json"
  t1=$(now_ms)
  doctor_ms+=($((t1 - t0)))
  probe_ms+=("$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(c["elapsed_ms"] for c in d["checks"] if c["id"] in ("server.chat","server.tools")))' "$work/run.json")")
  if [ -n "$openclaw" ]; then
    t0=$(now_ms)
    "$openclaw" config validate --json >/dev/null
    t1=$(now_ms)
    validate_ms+=($((t1 - t0)))
  fi
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
d=$(median "${doctor_ms[@]}")
p=$(median "${probe_ms[@]}")
rest=$((d - p))
checks=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["checks"]), "checks, ok =", d["ok"])' "$work/run.json")
echo "clawlocal doctor (no --deep), $runs runs, $checks"
echo "  median total                  ${d} ms"
echo "  median chat + tool probes     ${p} ms"
echo "  median without the probes     ${rest} ms   (goal <= 1000 ms: $([ "$rest" -le 1000 ] && echo met || echo NOT met))"
echo "clawlocal init, identical re-run (nothing to do), median of 3: $(median "${init_ms[@]}") ms   (goal <= 1000 ms)"
if [ ${#validate_ms[@]} -gt 0 ]; then
  v=$(median "${validate_ms[@]}")
  echo "reference: openclaw config validate --json (one check), median ${v} ms"
  awk -v d="$d" -v v="$v" 'BEGIN {printf "  ratio doctor / openclaw config validate = %.2fx\n", d / v}'
fi
# BENCH_SHOW=1: also print the report people read.
if [ "${BENCH_SHOW:-0}" = 1 ]; then "$bin" --scope user doctor -v || true; fi
