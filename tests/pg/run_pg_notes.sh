#!/usr/bin/env bash
# run_pg_notes.sh BUILD_DIR [ASAN_BUILD_DIR] - the notes suite (tests/api/run_notes.sh) against two
# tallyd nodes sharing one PostgreSQL database, requests alternating between the nodes.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh) and runs run_notes.sh with TL_PG_CONNINFO
# (the cluster's conninfo) and TL_NODES=2: each server the suite starts is then two nodes on a
# database of its own with one shared --secret-file and every request goes to the next node in
# turn (tests/api/lib.sh). First, a database made at schema version 4 from the migration files
# must reach the current version through `tallyd migrate` (two checks, added to the suite's counts). The
# closing "N passed, M failed" line and exit status cover both; the cluster is stopped
# afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_notes: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_notes: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
# run_notes.sh kills its servers on exit, before this stops the cluster.
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes per server"

# shellcheck disable=SC2012 # Debian's layout: /usr/lib/postgresql/<version>/bin
psql=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
v4_passed=0 v4_failed=0
pg_version() { "$psql" -X -A -t -c "SELECT version FROM schema_version" "$TALLY_PG_CONNINFO dbname=tl_v4"; }
"$psql" -X -q -c "CREATE DATABASE tl_v4" "$TALLY_PG_CONNINFO dbname=postgres" >/dev/null
{
    echo "CREATE TABLE schema_version (one boolean PRIMARY KEY DEFAULT true CHECK (one), version integer NOT NULL CHECK (version >= 0));"
    cat "$root"/src/store/migrations/postgres_00[1-4]_*.sql
    echo "INSERT INTO schema_version (version) VALUES (4);"
} | "$psql" -X -q -v ON_ERROR_STOP=1 "$TALLY_PG_CONNINFO dbname=tl_v4" >/dev/null 2>&1
if [ "$(pg_version)" = 4 ]; then v4_passed=$((v4_passed + 1)); else
    v4_failed=$((v4_failed + 1)); echo "FAIL: a schema version 4 database on PostgreSQL"; fi
"$build/src/cmd/tallyd" migrate --data-dir "$TALLY_PG_DIR/v4-data" --store-backend postgres \
    --store-path "$TALLY_PG_CONNINFO dbname=tl_v4" >/dev/null 2>&1
current=$(sed -n 's/^#define STORE_SCHEMA_VERSION \([0-9]*\)u$/\1/p' "$root/src/store/backend.h")
if [ "$(pg_version)" = "$current" ]; then v4_passed=$((v4_passed + 1)); else
    v4_failed=$((v4_failed + 1)); echo "FAIL: tallyd migrate takes PostgreSQL v4 to v$current"; fi

out=$(TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_notes.sh" "$build" 2>&1)
grep -v -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    v4_passed=$((v4_passed + BASH_REMATCH[1]))
    v4_failed=$((v4_failed + BASH_REMATCH[2]))
else
    v4_failed=$((v4_failed + 1))
fi
echo "$v4_passed passed, $v4_failed failed"
[ "$v4_failed" -eq 0 ]
