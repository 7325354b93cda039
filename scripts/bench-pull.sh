#!/bin/sh
# Benchmark: a 256 MiB verified `clawlocal pull` against `curl -o` of the same bytes from the same loopback Hub
# mock, and clawlocal's sha256 against `openssl dgst -sha256` on 1 GiB; alternating runs, medians, ratios.
# Goals: pull <= 1.30x curl; sha256 >= 0.90x openssl. BENCH_RUNS (default 7) and BENCH_DIR (default /dev/shm).
set -eu
command -v curl >/dev/null 2>&1 || { echo "bench-pull: curl is needed" >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || { echo "bench-pull: openssl is needed" >&2; exit 2; }
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench pull "$@"
