#!/usr/bin/env bash
# run_pg_movement.sh BUILD_DIR - the fees, quotes and payment requests suite
# (tests/api/run_movement.sh) against two tallyd nodes sharing one PostgreSQL database, requests
# alternating between the nodes: a quote written by one node's writer batch is used on the
# other, a key replayed there, and both nodes are killed and restarted together.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh) and runs run_movement.sh with
# TL_PG_CONNINFO (the cluster's conninfo) and TL_NODES=2: each server the suite starts is then
# two nodes on a database of its own with one shared --secret-file, every request goes to the
# next node in turn, kill -9 and restart act on both nodes (tests/api/lib.sh). The suite's own
# output, closing "N passed, M failed" line and exit status are passed through; the cluster is
# stopped afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_movement: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_movement: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
# run_movement.sh kills its servers on exit, before this stops the cluster.
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"

TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_movement.sh" "$build"
exit $?
