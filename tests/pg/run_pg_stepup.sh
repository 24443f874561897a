#!/usr/bin/env bash
# run_pg_stepup.sh BUILD_DIR [ASAN_BUILD_DIR] - the step-up and device-key suite
# (tests/api/run_stepup.sh) against two tallyd nodes sharing one PostgreSQL database, requests
# alternating between the nodes: a challenge made on one node is completed and spent on the
# other, and a signature accepted by one node is a replay on the other.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh), runs the suite with TL_PG_CONNINFO and
# TL_NODES=2 (tests/api/lib.sh), passes its output, closing "N passed, M failed" line and exit
# status through, and stops the cluster. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_stepup: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_stepup: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT; two tallyd nodes per server"

TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_stepup.sh" "$build"
exit $?
