#!/usr/bin/env bash
# run_pg_store.sh BUILD_DIR [ASAN_BUILD_DIR] - the store suites against a real PostgreSQL.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh: Debian's binaries, an unprivileged user,
# a free loopback port, fsync on), then runs with TALLY_STORE_BACKENDS=postgres:
#   test_store, test_store_app, test_store_claims, test_store_plans, test_store_refunds,
#   test_store_limits, tests/api/test_events_hub,
#   test_writer
#                                             the same suites SQLite passes, one database per test
#   test_postgres                             what only a server has: lost connections,
#                                             reconnect backoff, nodes migrating at once
# from BUILD_DIR and, when it exists, the sanitizer build (ASAN_BUILD_DIR, default
# BUILD_DIR-asan); then `tallyd migrate` on fresh databases. Stops the cluster on exit and closes
# with "N passed, N failed" (each suite's cmocka tests, plus one per migrate check).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
asan=${2:-${build}-asan}
[[ $asan = /* ]] || asan="$root/$asan"
passed=0
failed=0
start=$SECONDS

fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}
pass() { passed=$((passed + 1)); }
check() {
    local name=$1
    shift
    if "$@"; then pass; else fail "$name"; fi
}

env_lines=$(bash "$root/tests/pg/pg_cluster.sh" start)
if [ $? -ne 0 ] || [ -z "$env_lines" ]; then
    echo "run_pg_store: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
trap 'bash "$root/tests/pg/pg_cluster.sh" stop "$TALLY_PG_DIR"' EXIT
echo "cluster: $TALLY_PG_DIR on 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s)"
psql_bin=$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
psql() { "$psql_bin" -X -q -v ON_ERROR_STOP=1 "$@"; }
logs=$(mktemp -d /tmp/tally-pg-logs.XXXXXX)
trap 'bash "$root/tests/pg/pg_cluster.sh" stop "$TALLY_PG_DIR"; rm -rf "$logs"' EXIT

# One cmocka suite: adds its closing line to the totals, shows its output when it failed.
run_suite() {
    local label=$1 bin=$2
    local log="$logs/${label//\//_}.log" t0=$SECONDS line p=0 f=0
    TALLY_STORE_BACKENDS=postgres "$bin" >"$log" 2>&1
    local rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
    fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '  %-28s %4d passed, %2d failed  (%ds)\n' "$label" "$p" "$f" $((SECONDS - t0))
    if [ "$f" -ne 0 ]; then
        echo "---- $label (last 40 lines) ----"
        tail -n 40 "$log"
        echo "----"
    fi
}

# The release and the sanitizer builds' suites run side by side (each test has a database of
# its own, named by its process id): they mostly wait for the server's fsyncs (CREATE DATABASE
# alone takes about 0.35 s), so two streams take half the time of one. Each stream leaves its
# report in $logs/LABEL.report and its totals in $logs/LABEL.totals.
run_stream() {
    local dir=$1 label=$2 suite
    passed=0
    failed=0
    if [ ! -d "$dir/tests/store" ]; then
        [ "$label" = release ] && fail "no build at $dir"
    else
        for suite in test_store test_store_app test_store_claims test_store_fx test_store_plans \
            test_store_refunds test_store_limits test_writer test_postgres; do
            run_suite "$label/$suite" "$dir/tests/store/$suite"
        done
        run_suite "$label/test_events_hub" "$dir/tests/api/test_events_hub"
    fi
    echo "$passed $failed" >"$logs/$label.totals"
}
run_stream "$build" release >"$logs/release.report" 2>&1 &
run_stream "$asan" asan >"$logs/asan.report" 2>&1 &
wait
for label in release asan; do
    cat "$logs/$label.report"
    read -r p f <"$logs/$label.totals" || { p=0; f=1; }
    passed=$((passed + p))
    failed=$((failed + f))
done

# ---- tallyd migrate ----
tallyd="$build/src/cmd/tallyd"
work="$logs/migrate"
mkdir -p "$work"
expected=$(sed -n 's/^#define STORE_SCHEMA_VERSION \([0-9]*\)u$/\1/p' "$root/src/store/backend.h")
migrate() { "$tallyd" migrate --data-dir "$work/var" --store-backend postgres "$@"; }
version_of() { psql "$TALLY_PG_CONNINFO dbname=$1" -Atc "SELECT version FROM schema_version"; }

psql "$TALLY_PG_CONNINFO" -c "CREATE DATABASE migrate_one" -c "CREATE DATABASE migrate_two"
migrate --store-path "$TALLY_PG_CONNINFO dbname=migrate_one" >"$work/out" 2>"$work/err"
check "migrate exits 0" test $? -eq 0
check "migrate says so in one line" test "$(wc -l <"$work/out")" -eq 1
check "migrate names the version" grep -q "schema version $expected\$" "$work/out"
check "migrated database is at version $expected" test "$(version_of migrate_one)" = "$expected"
migrate --store-path "$TALLY_PG_CONNINFO dbname=migrate_one" >"$work/out" 2>"$work/err"
check "migrate again exits 0" test $? -eq 0
check "migrate again keeps the version" test "$(version_of migrate_one)" = "$expected"
# Two nodes migrating one database at once: the advisory lock makes the second a no-op.
TALLY_STORE_PATH="$TALLY_PG_CONNINFO dbname=migrate_two" migrate >"$work/out1" 2>&1 &
pid=$!
TALLY_STORE_PATH="$TALLY_PG_CONNINFO dbname=migrate_two" migrate >"$work/out2" 2>&1
rc2=$?
wait "$pid"
rc1=$?
check "two migrations at once both exit 0" test "$rc1$rc2" = "00"
check "two migrations at once leave version $expected" \
    test "$(version_of migrate_two)" = "$expected"
check "two migrations at once leave one version row" \
    test "$(psql "$TALLY_PG_CONNINFO dbname=migrate_two" -Atc 'SELECT count(*) FROM schema_version')" = 1
migrate --store-path "host=127.0.0.1 port=1 dbname=none connect_timeout=2" >"$work/out" \
    2>"$work/err"
check "migrate without a server fails" test $? -ne 0
check "migrate failure ends with one tallyd line" grep -q '^tallyd: migrate: ' "$work/err"
check "migrate failure prints nothing on stdout" test ! -s "$work/out"
migrate >"$work/out" 2>"$work/err"
check "postgres without store.path is a usage error" test $? -eq 2
long_path="password=sekrit $(printf '%01100d' 0)"
migrate --store-path "$long_path" >"$work/out" 2>"$work/err"
check "a store.path past its limit is a usage error" test $? -eq 2
check "a conninfo is never echoed" test "$(grep -c sekrit "$work/err")" -eq 0

echo "run_pg_store: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
