#!/usr/bin/env bash
# A Debian 12 rootfs that boots systemd 252 as PID 1 under `systemd-nspawn -b`, for the tests that drive the real
# service manager (tests/it/systemd.rs). Debootstrapped once into a cache outside the clone; the tests copy it per
# test. Prints the rootfs directory on its last line. ~40 s cold (measured), 0 s cached.
#
# usage: scripts/ci/systemd-rootfs.sh
# env:   CLAWLOCAL_CI_CACHE  cache root [default: ~/.cache/clawlocal-ci]
set -euo pipefail

SUITE=bookworm
# What the units and the engine need inside: systemd + logind + a user bus (user scope), llama-server's runtime
# libraries, and the tools the tests call.
PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,dbus-user-session,libgomp1,procps,iproute2,curl
CACHE=${CLAWLOCAL_CI_CACHE:-$HOME/.cache/clawlocal-ci}
OUT="$CACHE/rootfs-$SUITE"
STAMP="$SUITE $PACKAGES v1"

log() { printf 'systemd-rootfs.sh: %s\n' "$*" >&2; }

need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v nsenter >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi

if [ -x "$OUT/usr/lib/systemd/systemd" ] && [ "$(cat "$OUT/.clawlocal-stamp" 2>/dev/null)" = "$STAMP" ]; then
    log "cached in $OUT"
    echo "$OUT"
    exit 0
fi

rm -rf "$OUT.tmp"
start=$(date +%s)
log "debootstrap $SUITE ($PACKAGES)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$OUT.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
echo ct > "$OUT.tmp/etc/hostname"
# No getty on the console: the tests boot with --console=read-only.
rm -f "$OUT.tmp/etc/systemd/system/getty.target.wants/"*
apt_clean() { rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*; }
apt_clean "$OUT.tmp"
echo "$STAMP" > "$OUT.tmp/.clawlocal-stamp"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
log "built in $(( $(date +%s) - start )) s"
echo "$OUT"
