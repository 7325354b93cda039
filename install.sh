#!/bin/sh
# shellcheck shell=dash
#
# Install clawlocal. From a source checkout (this script next to Cargo.toml) it builds with cargo; elsewhere it
# downloads the release archive for this OS and CPU (curl, else wget), verifies its sha256 (sha256sum, else
# shasum -a 256, else it stops) and installs the binary. In the lineage of rustup-init.sh.
#
#   ./install.sh            install to ~/.local/bin (or /usr/local/bin as root)
#   curl -fsSL <url>/install.sh | sh -s -- -y --version 0.1.0
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
    --version X           Install release X instead of the latest (not from a source checkout)
    --no-modify-path      Do not suggest a PATH change
    -h, --help            Print this help

ENVIRONMENT:
    CLAWLOCAL_INSTALL_DIR   same as --to
    CLAWLOCAL_DIST_SERVER   where release archives are [default: https://github.com/clawlocal/clawlocal/releases]
USAGE
}

# The download tool: curl, else wget.
download() {
    if command -v curl >/dev/null 2>&1; then
        curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget --quiet --tries=3 --output-document="$2" "$1"
    else
        err "need 'curl' or 'wget' to download"
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        err "need 'sha256sum' or 'shasum' to verify the download; nothing was installed"
    fi
}

# The release target for this machine, e.g. x86_64-unknown-linux-gnu.
target() {
    os=$(uname -s)
    arch=$(uname -m)
    case "$os" in
        Linux) os=unknown-linux-gnu ;;
        Darwin)
            os=apple-darwin
            # An x86_64 shell under Rosetta 2 on Apple silicon: the native build is the right one.
            if [ "$arch" = x86_64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
                arch=arm64
            fi
            ;;
        *) err "no release for $os; build from a source checkout with cargo" ;;
    esac
    case "$arch" in
        x86_64|amd64) arch=x86_64 ;;
        aarch64|arm64) arch=aarch64 ;;
        *) err "no release for the $arch CPU; build from a source checkout with cargo" ;;
    esac
    # A 64-bit kernel can run a 32-bit userland, which cannot run a 64-bit binary.
    if [ "$os" = unknown-linux-gnu ] && [ "$(getconf LONG_BIT 2>/dev/null || echo 64)" = 32 ]; then
        err "this is a 32-bit userland on a 64-bit kernel; there is no 32-bit release"
    fi
    printf '%s-%s\n' "$arch" "$os"
}

# Download the archive and its .sha256, verify, unpack; prints the temporary directory whose clawlocal.bin is the
# verified binary.
fetch_release() {
    need_cmd uname
    need_cmd tar
    need_cmd mktemp
    t=$(target) || exit 1
    server="${CLAWLOCAL_DIST_SERVER:-https://github.com/clawlocal/clawlocal/releases}"
    if [ "$version" = latest ]; then
        url="$server/latest/download/clawlocal-$t.tar.gz"
    else
        url="$server/download/v${version#v}/clawlocal-$t.tar.gz"
    fi
    dir=$(mktemp -d) || err "cannot create a temporary directory"
    download "$url" "$dir/archive.tar.gz" || err "cannot download $url"
    download "$url.sha256" "$dir/archive.sha256" || err "cannot download $url.sha256"
    want=$(cut -d' ' -f1 <"$dir/archive.sha256" | tr 'A-F' 'a-f')
    got=$(sha256_of "$dir/archive.tar.gz") || exit 1
    if [ -z "$want" ] || [ "$want" != "$got" ]; then
        rm -rf "$dir"
        err "checksum mismatch for $url: expected ${want:-nothing}, got $got; nothing was installed"
    fi
    say "verified $url (sha256 $got)"
    tar -xzf "$dir/archive.tar.gz" -C "$dir" || err "cannot unpack $url"
    for candidate in "$dir/clawlocal-$t/clawlocal" "$dir/clawlocal"; do
        if [ -f "$candidate" ]; then mv "$candidate" "$dir/clawlocal.bin" && printf '%s\n' "$dir" && return 0; fi
    done
    rm -rf "$dir"
    err "$url holds no clawlocal binary"
}

# Copy $1 to $to/clawlocal atomically (a temp name in the same directory, then mv).
place() {
    mkdir -p "$to" || err "cannot create $to"
    tmp="$to/.clawlocal.$$"
    if ! { cp "$1" "$tmp" && chmod 755 "$tmp" && mv -f "$tmp" "$to/clawlocal"; }; then
        rm -f "$tmp"
        err "cannot install into $to"
    fi
}

main() {
    yes=no
    version=latest
    modify_path=yes
    to="${CLAWLOCAL_INSTALL_DIR:-}"
    while [ $# -gt 0 ]; do
        case "$1" in
            -y|--yes) yes=yes ;;
            --to) [ $# -ge 2 ] || err "--to needs a directory"; to="$2"; shift ;;
            --to=*) to="${1#--to=}" ;;
            --version) [ $# -ge 2 ] || err "--version needs a version"; version="$2"; shift ;;
            --version=*) version="${1#--version=}" ;;
            --no-modify-path) modify_path=no ;;
            -h|--help) usage; return 0 ;;
            *) err "unknown option '$1' (see --help)" ;;
        esac
        shift
    done
    if [ -z "$to" ]; then
        if [ "$(id -u)" = 0 ]; then to=/usr/local/bin; else to="${HOME:?HOME is not set}/.local/bin"; fi
    fi

    src_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" 2>/dev/null && pwd) || src_dir=
    if [ -n "$src_dir" ] && [ -f "$src_dir/Cargo.toml" ] && grep -q '^name = "clawlocal"' "$src_dir/Cargo.toml"; then
        [ "$version" = latest ] || err "--version installs a release; this is a source checkout (git checkout the tag instead)"
        what="Build clawlocal from $src_dir"
    else
        what="Download clawlocal $version for $(target)"
    fi
    if [ "$yes" = no ] && [ -t 0 ]; then
        printf '%s and install it into %s? [y/N] ' "$what" "$to" >&2
        read -r answer || answer=
        case "$answer" in y|Y|yes) ;; *) err "cancelled" ;; esac
    fi
    case "$what" in
        Build*)
            need_cmd cargo
            say "building from $src_dir (cargo build --release --locked)"
            (cd "$src_dir" && cargo build --release --locked --quiet) || err "cargo build failed"
            place "${CARGO_TARGET_DIR:-$src_dir/target}/release/clawlocal"
            ;;
        *)
            dir=$(fetch_release) || exit 1
            place "$dir/clawlocal.bin"
            rm -rf "$dir"
            ;;
    esac
    say "installed $to/clawlocal ($("$to/clawlocal" --version))"
    case ":${PATH:-}:" in
        *":$to:"*) ;;
        *) [ "$modify_path" = yes ] && say "add $to to your PATH, e.g.: export PATH=\"$to:\$PATH\"" ;;
    esac
    return 0
}

main "$@" || exit 1
