#!/usr/bin/env bash
# The validators the fleet tests run on what `clawlocal render` writes:
#   - kubernetes-validate (PyPI, pinned by hash in kubernetes-validate.txt) in a venv in the cache: it carries the
#     Kubernetes OpenAPI schemas of several minor versions, offline;
#   - cloud-init (Debian's package), for `cloud-init schema --config-file`.
# Prints kubernetes-validate's path, then cloud-init's, one per line (the last two lines).
#
# usage: scripts/ci/fleet-tools.sh
# env:   CLAWLOCAL_CI_CACHE  cache root [default: ~/.cache/clawlocal-ci]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${CLAWLOCAL_CI_CACHE:-$HOME/.cache/clawlocal-ci}
KV="$CACHE/py-kubernetes-validate-1.37.0"

log() { printf 'fleet-tools.sh: %s\n' "$*" >&2; }

if [ ! -f "$KV/.done" ]; then
    log "installing kubernetes-validate 1.37.0 (hashes pinned)"
    rm -rf "$KV"
    python3 -m venv "$KV"
    "$KV/bin/pip" install --quiet --only-binary :all: --require-hashes -r "$here/kubernetes-validate.txt"
    "$KV/bin/kubernetes-validate" --version >/dev/null
    touch "$KV/.done"
fi
if ! command -v cloud-init >/dev/null 2>&1; then
    log "installing cloud-init (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends cloud-init >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends cloud-init >/dev/null; }
fi
echo "$KV/bin/kubernetes-validate"
command -v cloud-init
