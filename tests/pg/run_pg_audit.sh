#!/usr/bin/env bash
# run_pg_audit.sh BUILD_DIR [ASAN_BUILD_DIR] - the audit suite (tests/api/run_audit.sh) against
# two tallyd nodes sharing one PostgreSQL database, requests alternating between the nodes, and
# the verifier and the tampering (psql) on that database.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh), runs run_audit.sh with TL_PG_CONNINFO and
# TL_NODES=2, passes its output, closing "N passed, M failed" line and exit status through, and
# stops the cluster afterwards. Release build only (BUILD_DIR).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
start=$SECONDS

if [ ! -x "$build/src/cmd/tallyd" ]; then
    echo "run_pg_audit: no tallyd at $build/src/cmd/tallyd (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_audit: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
trap '$CLUSTER stop "$TALLY_PG_DIR"' EXIT
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s); two tallyd nodes"

out=$(TL_PG_CONNINFO=$TALLY_PG_CONNINFO TL_NODES=2 bash "$root/tests/api/run_audit.sh" "$build")
rc=$?
echo "$out" | sed '$d'
read -r passed _ failed _ <<<"$(tail -n 1 <<<"$out")"

# A version 4 database: its audit entries are copied into the chain and sealed by migrate.
echo "-- a version 4 database migrates"
work=$(mktemp -d /tmp/tally-pg-audit.XXXXXX)
psql=$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
db="$TALLY_PG_CONNINFO dbname=tl_v4"
v4_ok() {
    "$psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE tl_v4" "$TALLY_PG_CONNINFO dbname=postgres" &&
        "$psql" -X -q -v ON_ERROR_STOP=1 "$db" \
            -c "CREATE TABLE schema_version (one boolean PRIMARY KEY DEFAULT true CHECK (one),
                version integer NOT NULL CHECK (version >= 0))" \
            -c "INSERT INTO schema_version (version) VALUES (4)" &&
        for f in "$root"/src/store/migrations/postgres_00[1-4]_*.sql; do
            "$psql" -X -q -v ON_ERROR_STOP=1 "$db" -f "$f" || return 1
        done &&
        "$psql" -X -q -v ON_ERROR_STOP=1 "$db" -c "INSERT INTO audit_log VALUES
            ('\\x01950000000070008000000000000002', '\\x01900000000070008000000000000001',
             1700000000000000002, 'login.succeeded', 'sess_2', 'r2', '127.0.0.1'),
            ('\\x01950000000070008000000000000001', '\\x01900000000070008000000000000001',
             1700000000000000001, 'user.signed_up', '', 'r1', '127.0.0.1')" &&
        (umask 077 && head -c 32 /dev/urandom >"$work/secret") &&
        "$build/src/cmd/tallyd" migrate --data-dir "$work/d" --store-backend postgres \
            --store-path "$db" --secret-file "$work/secret" &&
        "$build/src/cmd/tallyd" audit-verify --data-dir "$work/d" --store-backend postgres \
            --store-path "$db" --secret-file "$work/secret" | tee "$work/verify.txt" &&
        grep -q "^audit-verify: OK 2 entries, head seq 2 " "$work/verify.txt" &&
        [ "$("$psql" -X -A -t "$db" -c "SELECT string_agg(kind, ',' ORDER BY seq) FROM audit_log
              WHERE hash IS NOT NULL")" = "user.signed_up,login.succeeded" ]
}
if v4_ok >"$work/v4.log" 2>&1; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAIL: a version 4 database migrates and seals its audit entries:"
    tail -n 5 "$work/v4.log"
fi
rm -rf "$work"
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
