#!/usr/bin/env bash
# run_pg_async.sh BUILD_DIR - the asynchronous payments suite (tests/api/run_async.sh) against
# two tallyd nodes sharing one PostgreSQL database: the writer's completion callbacks and the
# parked requests on the postgres store, SIGTERM of both nodes during a load.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh), runs run_async.sh with TL_PG_CONNINFO and
# TL_NODES=2, prints its closing "N passed, M failed" line and exits with its status; the
# cluster is stopped afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_async: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_async: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
# run_async.sh kills its servers on exit, before this stops the cluster.
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"
TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_async.sh" "$build"
