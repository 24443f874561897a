#!/usr/bin/env bash
# run_pg_escrow.sh BUILD_DIR [ASAN_BUILD_DIR] - the escrow and scheduled-payment suites
# (tests/api/run_escrow.sh, tests/api/run_schedules.sh) against two tallyd nodes sharing one
# PostgreSQL database, requests alternating between the nodes: both nodes run a scheduler at
# once (claims and the ledger keep each timed release and each occurrence to one execution),
# release/cancel races go to different nodes, kill -9 and restart act on both nodes.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh), runs both suites with TL_PG_CONNINFO and
# TL_NODES=2, and prints their output and one closing "N passed, M failed" line adding them up;
# the cluster is stopped afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_escrow: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_escrow: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"

passed=0
failed=0
for suite in run_escrow.sh run_schedules.sh; do
    out=$(TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/$suite" "$build" 2>&1)
    rc=$?
    echo "$out" | grep -v ' Killed ' | sed "s/^/$suite: /"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    fi
    if [ "$rc" -ne 0 ] && ! [[ $line =~ [1-9][0-9]*\ failed ]]; then
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
