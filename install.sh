#!/bin/sh
# shellcheck shell=dash
#
# Install clawlocal. From a source checkout (this script next to Cargo.toml) it builds with cargo;
# release archives for download are not published yet, so outside a checkout it stops with a clear message.
#
#   ./install.sh            install to ~/.local/bin (or /usr/local/bin as root)
#   ./install.sh --help

set -u

say() { printf 'clawlocal-install: %s\n' "$1" >&2; }
err() { say "error: $1"; exit 1; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || err "need '$1' (command not found)"; }

usage() {
    cat <<'USAGE'
clawlocal installer

USAGE:
    install.sh [OPTIONS]

OPTIONS:
    -y, --yes             Do not ask for confirmation
    --to DIR              Install the binary into DIR
                          [default: ~/.local/bin, or /usr/local/bin when run as root]
    --no-modify-path      Do not suggest a PATH change
    -h, --help            Print this help

ENVIRONMENT:
    CLAWLOCAL_INSTALL_DIR   same as --to
USAGE
}

main() {
    yes=no
    modify_path=yes
    to="${CLAWLOCAL_INSTALL_DIR:-}"
    while [ $# -gt 0 ]; do
        case "$1" in
            -y|--yes) yes=yes ;;
            --to) [ $# -ge 2 ] || err "--to needs a directory"; to="$2"; shift ;;
            --to=*) to="${1#--to=}" ;;
            --no-modify-path) modify_path=no ;;
            -h|--help) usage; return 0 ;;
            *) err "unknown option '$1' (see --help)" ;;
        esac
        shift
    done
    if [ -z "$to" ]; then
        if [ "$(id -u)" = 0 ]; then to=/usr/local/bin; else to="${HOME:?HOME is not set}/.local/bin"; fi
    fi

    src_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
    if [ ! -f "$src_dir/Cargo.toml" ] || ! grep -q '^name = "clawlocal"' "$src_dir/Cargo.toml"; then
        err "no source checkout next to this script, and release archives are not published yet: clone the repository and run ./install.sh there"
    fi
    need_cmd cargo
    if [ "$yes" = no ] && [ -t 0 ]; then
        printf 'Build clawlocal from %s and install it into %s? [y/N] ' "$src_dir" "$to" >&2
        read -r answer || answer=
        case "$answer" in y|Y|yes) ;; *) err "cancelled" ;; esac
    fi
    say "building from $src_dir (cargo build --release --locked)"
    (cd "$src_dir" && cargo build --release --locked --quiet) || err "cargo build failed"
    target_dir="${CARGO_TARGET_DIR:-$src_dir/target}"
    mkdir -p "$to" || err "cannot create $to"
    tmp="$to/.clawlocal.$$"
    if ! { cp "$target_dir/release/clawlocal" "$tmp" && chmod 755 "$tmp" && mv -f "$tmp" "$to/clawlocal"; }; then
        rm -f "$tmp"
        err "cannot install into $to"
    fi
    say "installed $to/clawlocal ($("$to/clawlocal" --version))"
    case ":${PATH:-}:" in
        *":$to:"*) ;;
        *) [ "$modify_path" = yes ] && say "add $to to your PATH, e.g.: export PATH=\"$to:\$PATH\"" ;;
    esac
    return 0
}

main "$@" || exit 1
