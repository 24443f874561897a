#!/usr/bin/env bash
# Runs every benchmark the build produced and prints its figures (make bench).
#   bench/run.sh BUILD_DIR [ARGS...]
# Each bench/bench_* executable in BUILD_DIR runs in turn, in name order, with the machine
# description first so that a pasted result says where it came from. Extra ARGS go to
# bench_durable (for example --seconds 2). Exits non-zero if any benchmark fails.
set -uo pipefail
build=${1:-build}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

if [ ! -d "$build/bench" ]; then
    echo "bench/run.sh: no $build/bench: build first (make build)" >&2
    exit 1
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ram_gib=$(free -g | awk '/^Mem:/ {print $2}')
echo "== tally benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
echo "== $(nproc) CPUs ($cpu), $ram_gib GiB RAM, kernel $(uname -r)"

status=0
ran=0
while IFS= read -r bin; do
    name=$(basename "$bin")
    echo
    echo "== $name"
    start=$SECONDS
    case "$name" in
    bench_durable) "$bin" "$@" ;;
    *) "$bin" ;;
    esac
    rc=$?
    ran=$((ran + 1))
    echo "== $name: exit $rc, $((SECONDS - start)) s"
    if [ $rc -ne 0 ]; then
        status=1
    fi
done < <(find "$build/bench" -maxdepth 1 -type f -name 'bench_*' -perm -u+x | sort)

if [ $ran -eq 0 ]; then
    echo "bench/run.sh: no benchmarks in $build/bench" >&2
    exit 1
fi

# HTTP API under load: POST /v1/payments with wrk over keep-alive and TLS (bench/http_payments.sh).
echo
bash "$root/bench/http_payments.sh" "$build" || status=1
exit $status
