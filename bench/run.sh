#!/usr/bin/env bash
# Runs every benchmark the build produced and prints its figures (make bench).
#   bench/run.sh BUILD_DIR [ARGS...]
# Each bench/bench_* executable in BUILD_DIR runs in turn, in name order, with the machine
# description first so that a pasted result says where it came from. Extra ARGS go to
# bench_durable (for example --seconds 2; bench_pg takes --seconds too). bench_pg runs against
# a throwaway PostgreSQL cluster started here. Exits non-zero if any benchmark fails.
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

# bench_pg BIN [ARGS...] : runs bench_pg against a throwaway PostgreSQL cluster
# (tests/pg/pg_cluster.sh: loopback, fsync and synchronous_commit on) with room for its
# connections, and stops the cluster afterwards. Only --seconds of ARGS is passed on.
bench_pg() {
    local bin=$1 env_lines rc seconds=()
    shift
    while [ $# -gt 0 ]; do
        [ "$1" = --seconds ] && [ $# -ge 2 ] && seconds=(--seconds "$2")
        shift
    done
    if ! env_lines=$(TALLY_PG_OPTIONS="-c max_connections=700 -c shared_buffers=256MB" \
            bash "$root/tests/pg/pg_cluster.sh" start); then
        echo "bench_pg: cannot start a PostgreSQL cluster (make deps installs postgresql)"
        return 1
    fi
    eval "$env_lines"
    "$bin" --conninfo "host=127.0.0.1 port=$TALLY_PG_PORT user=tally" "${seconds[@]}"
    rc=$?
    bash "$root/tests/pg/pg_cluster.sh" stop "$TALLY_PG_DIR"
    return $rc
}

status=0
ran=0
while IFS= read -r bin; do
    name=$(basename "$bin")
    echo
    echo "== $name"
    start=$SECONDS
    case "$name" in
    bench_durable) "$bin" "$@" ;;
    bench_pg) bench_pg "$bin" "$@" ;;
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

# What GET /v1/payments costs without per-user indexes (bench/http_paylists.sh).
echo
bash "$root/bench/http_paylists.sh" "$build" || status=1
exit $status
