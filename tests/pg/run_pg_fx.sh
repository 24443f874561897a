#!/usr/bin/env bash
# run_pg_fx.sh BUILD_DIR - the currency suite (tests/api/run_fx.sh) against two
# tallyd nodes sharing one PostgreSQL database, requests alternating between the nodes: a rate
# set on one node (operator endpoint or rates file) is used by the other.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh) and runs run_fx.sh with TL_PG_CONNINFO
# (the cluster's conninfo) and TL_NODES=2: each server the suite starts is then two nodes on a
# database of its own with one shared --secret-file, every request goes to the next node in
# turn, kill -9 and restart act on both nodes (tests/api/lib.sh). The suite's own output,
# closing "N passed, M failed" line and exit status are passed through; the cluster is stopped
# afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_fx: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_fx: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
# run_api.sh kills its servers on exit, before this stops the cluster.
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"

TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_fx.sh" "$build"
exit $?
