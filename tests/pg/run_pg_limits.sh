#!/usr/bin/env bash
# run_pg_limits.sh BUILD_DIR [ASAN_BUILD_DIR] - the limits suite (tests/api/run_limits.sh) on two
# tallyd nodes sharing one PostgreSQL database, requests alternating between the nodes.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh) and runs run_limits.sh with
# TL_PG_CONNINFO and TL_NODES=2: every server of the suite is two nodes on a database of its
# own, requests alternate between the nodes, and the 16 concurrent payments against one send
# limit are spread over both nodes, each with its own writer: the batch lock and the window
# read inside it must still let exactly 10 through. Output, closing line and exit status are
# the suite's; the cluster is stopped afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_limits: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_limits: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
# run_limits.sh kills its servers on exit, before this stops the cluster.
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"

TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_limits.sh" "$build"
exit $?
