# shellcheck shell=bash
# pg_suite.sh - runs an HTTP suite of tests/api on two tallyd nodes sharing one PostgreSQL
# database (sourced by the tests/pg/run_pg_<suite>.sh wrappers, not run).
#
# pg_suite SUITE BUILD_DIR : starts a throwaway cluster (tests/pg/pg_cluster.sh) and runs
# tests/api/run_SUITE.sh BUILD_DIR with TL_PG_CONNINFO (the cluster's conninfo) and TL_NODES=2:
# every server the suite starts is two nodes on a database of its own with one shared
# --secret-file, requests alternate between the nodes, kill -9 and restart act on both
# (tests/api/lib.sh). The suite's output, closing "N passed, M failed" line and exit status are
# passed through; the cluster is stopped afterwards. Release build only.
pg_suite() {
    local suite=$1 build=$2 root env_lines start=$SECONDS
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    [[ $build = /* ]] || build="$root/$build"
    if [ ! -x "$build/src/cmd/tallyd" ]; then
        echo "run_pg_$suite: no tallyd at $build/src/cmd/tallyd (build first)"
        echo "0 passed, 1 failed"
        return 1
    fi
    if ! env_lines=$(bash "$root/tests/pg/pg_cluster.sh" start) || [ -z "$env_lines" ]; then
        echo "run_pg_$suite: cannot start a PostgreSQL cluster (make deps installs postgresql)"
        echo "0 passed, 1 failed"
        return 1
    fi
    eval "$env_lines"
    echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"
    # The suite kills its servers on exit, before the cluster stops.
    TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_$suite.sh" "$build"
    local rc=$?
    bash "$root/tests/pg/pg_cluster.sh" stop "$TALLY_PG_DIR"
    return $rc
}
