#!/usr/bin/env bash
# run_paylists.sh BUILD_DIR [ASAN_DIR] - GET /v1/payments against the payments table itself
# (schema v9: SQLite lists a user's payments by walking the history chains of their wallets,
# docs/architecture.md "Payment lists without indexes"), against real tallyd processes on
# loopback ports, each with a fresh data dir:
#
#   main   --sandbox, a 1% p2p fee, fx rates, the scheduler: every way a payments row is
#          written (a payment with its fee, a paid request, a split share, an escrow release, a
#          cross-currency payment on an fx quote, a scheduled payment) among what the lists
#          walk past (deposits, a conversion, a refund, holds, an expired hold); for every user
#          and direction, the pages at limits 1, 2, 3 and 100, walked older and then newer,
#          give exactly the user's rows of the payments table, newest first (every payment has
#          its own amount); other users' and bad cursors are refused
#   v8     SQLite only: main's rows copied into a database made from the v1-v8 migration files
#          (payments_sent, payments_received and payments_pair, no payment_pairs), then
#          `tallyd migrate` on one copy and an open on another: the current version, the
#          three indexes gone, payment_pairs holds exactly the pairs of the payments rows, the
#          lists are the same as before, a new payment lists first
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_paylists.sh) main is two nodes on one PostgreSQL
# database, requests alternating, compared against the same rows. Closes with "N passed, M
# failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-paylists.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_paylists.sh curl jq python3

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_RATELIMIT_LOOKUP_PER_MIN=1000000 TALLY_RATELIMIT_LOOKUP_BURST=100000
export TALLY_SCHEDULES_TICK_MS=100 TALLY_FX_SPREAD_BPS=0
export TALLY_FEES_P2P="bps=100"

new_user() {
    tl_signup "$1" || { fail "sign up and log in $1: $STATUS $BODY"; return 1; }
    pass
}

deposit() { # TOKEN AMOUNT [CURRENCY]
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"${3:-USD}\", \"source\": \"sandbox\"}"
    expect "deposit $2 ${3:-USD}" 201
}

pay() { # TOKEN TO AMOUNT
    TOKEN=$1 api POST /v1/payments "{\"to\": \"@$2\", \"amount\": $3, \"currency\": \"USD\"}"
    expect "pay @$2 $3" 201
}

# sql QUERY : one query on the main server's database (SQLite file or PostgreSQL), rows as
# lines. DB names the SQLite file (default main's).
sql() {
    if [ -n "${TL_PG_CONNINFO:-}" ]; then
        local psql_bin
        psql_bin=${TL_PSQL:-$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)}
        "$psql_bin" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" "$TL_PG_CONNINFO dbname=tl_main"
    else
        python3 - "${DB:-$WORK/main/tally.db}" "$1" <<'PYEOF'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join(str(v) for v in row))
PYEOF
    fi
}

# rows HANDLE DIRECTION : the amounts of HANDLE's payments rows, newest first, one a line.
rows() {
    local side
    case $2 in
    sent) side="p.from_user = u.id" ;;
    received) side="p.to_user = u.id" ;;
    *) side="(p.from_user = u.id OR p.to_user = u.id)" ;;
    esac
    sql "SELECT p.amount FROM payments p, users u WHERE u.handle = '$1' AND $side
         ORDER BY p.created_ns DESC"
}

# listing TOKEN DIRECTION LIMIT : the amounts of every page of GET /v1/payments walked older
# from the newest, one a line. The same pages walked newer from the oldest must give them in
# the same order (one check), and every page but the last must be full.
listing() {
    local tok=$1 dir=$2 limit=$3 base page cursor="" older="" newer="" ids="" short=0
    base="/v1/payments?limit=$limit${dir:+&direction=$dir}"
    while :; do
        page=$(curl -s --max-time 10 -H "Authorization: Bearer $tok" \
            "$(tl_url)$base${cursor:+&starting_after=$cursor}")
        older+=$(jq -r '.data[] | .amount' <<<"$page")$'\n'
        ids+=$(jq -r '.data[] | .id' <<<"$page")$'\n'
        if [ "$(jq -r .has_more <<<"$page")" != true ]; then
            break
        fi
        [ "$(jq '.data | length' <<<"$page")" = "$limit" ] || short=1
        cursor=$(jq -r '.data[-1].id' <<<"$page")
    done
    older=$(grep -v '^$' <<<"$older")
    cursor=$(grep -v '^$' <<<"$ids" | tail -n 1)
    if [ -n "$cursor" ]; then
        newer=$(grep -v '^$' <<<"$older" | tail -n 1)
        while :; do
            page=$(curl -s --max-time 10 -H "Authorization: Bearer $tok" \
                "$(tl_url)$base&ending_before=$cursor")
            [ "$(jq '.data | length' <<<"$page")" = 0 ] && break
            newer=$(jq -r '.data[] | .amount' <<<"$page")$'\n'$newer
            [ "$(jq -r .has_more <<<"$page")" = true ] || break
            [ "$(jq '.data | length' <<<"$page")" = "$limit" ] || short=1
            cursor=$(jq -r '.data[0].id' <<<"$page")
        done
    fi
    check_eq "${dir:-any} pages at limit $limit walked newer give the same" "$older" \
        "$(grep -v '^$' <<<"$newer")"
    check_eq "${dir:-any} pages at limit $limit are full but the last" 0 "$short"
    echo "$older" >"$WORK/listing"
}

# lists_match LABEL : for every user and direction, each limit's pages equal the rows.
lists_match() {
    local h dir limit want
    for h in alice bob carol dave eve; do
        for dir in "" sent received; do
            want=$(rows "$h" "$dir")
            for limit in ${LIMITS:-1 2 3 100}; do
                listing "${TOKENS[$h]}" "$dir" "$limit"
                check_eq "$1: $h ${dir:-any} at limit $limit lists its rows" "$want" \
                    "$(cat "$WORK/listing")"
            done
        done
    done
}

# ---------------------------------------------------------------------------------------------
echo "-- every kind of payment, among what lists walk past"
printf 'USD JPY 151.25\nJPY USD 0.0066\n' >"$WORK/rates.txt"
tl_start main --sandbox --fx-rates-file "$WORK/rates.txt" || { echo "0 passed, 1 failed"; exit 1; }
BASE="http://127.0.0.1:$PORT"
MAIN_PID=$PID
declare -A TOKENS
new_user alice && A=$TOK && TOKENS[alice]=$TOK
new_user bob && B=$TOK && TOKENS[bob]=$TOK
new_user carol && C=$TOK && TOKENS[carol]=$TOK
new_user dave && D=$TOK && TOKENS[dave]=$TOK
new_user eve && TOKENS[eve]=$TOK

deposit "$A" 100000
deposit "$B" 50000
deposit "$C" 20000
pay "$A" bob 1001
P1=$(jqb .id)
pay "$B" alice 1002
for _ in 1 2 3 4 5; do deposit "$A" 7; done
pay "$A" carol 1003
TOKEN=$B api POST /v1/payment_requests '{"from": "@alice", "amount": 1004, "currency": "USD"}'
expect "bob asks alice for 10.04" 201
TOKEN=$A api POST "/v1/payment_requests/$(jqb .id)/pay"
expect "alice pays the request" 201 '.amount == 1004'
TOKEN=$A api POST /v1/splits '{"total": 2010, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@bob"}, {"user": "@carol"}]}'
expect "alice splits 20.10 with bob and carol" 201
SHARE=$(jq -r '[.requests[] | select(.payer.handle == "bob")][0].id' <<<"$BODY")
TOKEN=$B api POST "/v1/payment_requests/$SHARE/pay"
expect "bob pays his share" 201 '.amount == 1005'
TOKEN=$A api POST /v1/escrows '{"to": "@dave", "amount": 3000, "currency": "USD"}'
expect "alice holds 30.00 for dave" 201
TOKEN=$A api POST "/v1/escrows/$(jqb .id)/release" '{"amount": 1006}'
expect "alice releases 10.06 of it" 200 '.status == "released"'
TOKEN=$A api POST /v1/escrows '{"to": "@dave", "amount": 50, "currency": "USD", "expires_in_s": 1}'
expect "alice holds 0.50 for a second" 201
TOKEN=$A api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 151}'
expect "alice converts to 151 JPY" 201
TOKEN=$A api POST /v1/quotes '{"operation": "fx", "amount": 1500, "currency": "JPY",
  "send_currency": "USD", "recipient": "@carol"}'
expect "an fx quote for paying carol 1500 JPY" 201
TOKEN=$A api POST /v1/payments "{\"to\": \"@carol\", \"amount\": 1500, \"currency\": \"JPY\",
  \"quote_id\": \"$(jqb .id)\"}"
expect "alice pays carol 1500 JPY from USD" 201 '.currency == "JPY"'
TOKEN=$B api POST "/v1/payments/$P1/refunds" '{"amount": 100}'
expect "bob refunds 1.00 of alice's first payment" 201
deposit "$D" 5000
TOKEN=$D api POST /v1/scheduled_payments "{\"to\": \"@alice\", \"amount\": 1007, \"currency\": \"USD\",
  \"start_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"repeat\": \"none\"}"
expect "dave schedules 10.07 to alice now" 201
SCHED=$(jqb .id)
for _ in $(seq 1 100); do
    TOKEN=$D api GET "/v1/scheduled_payments/$SCHED"
    [ "$(jqb '.occurrences[0].status')" = succeeded ] && break
    sleep 0.1
done
check_eq "dave's scheduled payment ran" succeeded "$(jqb '.occurrences[0].status')"
pay "$C" dave 1008
sleep 1.5 # the sweep voids the second hold within a second of its expiry

check_eq "the rows: every way a payment is written" \
    "1001 1002 1003 1004 1005 1006 1007 1008 1500" \
    "$(sql 'SELECT amount FROM payments ORDER BY amount' | tr '\n' ' ' | sed 's/ $//')"
lists_match "main"

TOKEN=$A api GET '/v1/payments?direction=received&limit=1'
expect "alice's newest received payment is dave's scheduled one" 200 '.data[0].amount == 1007'
TOKEN=${TOKENS[eve]} api GET "/v1/payments?starting_after=$(jqb '.data[0].id')"
expect_problem "a cursor of another user's payment" 400 invalid_request starting_after
TOKEN=$A api GET '/v1/payments?direction=both'
expect_problem "an unknown direction" 400 invalid_request direction

# ---------------------------------------------------------------------------------------------
if [ -z "${TL_PG_CONNINFO:-}" ]; then
    echo "-- SQLite: the same rows at schema v8 migrate to v9 and list the same"
    tl_stop "$MAIN_PID"
    check_eq "main is at the current version" "$TL_SCHEMA_VERSION" \
        "$(sql 'PRAGMA user_version')"
    # A v8 database from the migration files (the version before the payment lists'), holding
    # every row of main's (the columns v8 has; store_meta only the names v8 knows): what a v8
    # tallyd would have left.
    for name in v8 v8open; do
        cp -a "$WORK/main" "$WORK/$name"
        rm -f "$WORK/$name"/tally.db*
        tl_sqlite_db_at "$WORK/$name" 8
        python3 - "$WORK/$name/tally.db" "$WORK/main/tally.db" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("ATTACH ? AS newer", (sys.argv[2],))
tables = [r[0] for r in db.execute(
    "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
for t in tables:
    if t == "store_meta":
        db.execute("UPDATE main.store_meta SET value = (SELECT value FROM newer.store_meta s "
                   "WHERE s.name = store_meta.name) WHERE name IN (SELECT name FROM newer.store_meta)")
        continue
    cols = ", ".join('"%s"' % r[1] for r in db.execute('PRAGMA main.table_info("%s")' % t))
    db.execute('INSERT INTO main."%s" (%s) SELECT %s FROM newer."%s"' % (t, cols, cols, t))
db.commit()
PYEOF
    done
    counts="SELECT (SELECT count(*) FROM payments) || ' ' || (SELECT count(*) FROM transfers)
        || ' ' || (SELECT count(*) FROM accounts) || ' ' || (SELECT count(*) FROM wallets)"
    check_eq "a v8 database with main's rows" "8 $(sql "$counts")" \
        "$(DB="$WORK/v8/tally.db" sql 'PRAGMA user_version') $(DB="$WORK/v8/tally.db" sql "$counts")"
    check_eq "with the indexes of v8" 3 "$(DB="$WORK/v8/tally.db" sql "SELECT count(*) FROM
        sqlite_master WHERE name IN ('payments_sent', 'payments_received', 'payments_pair')")"
    check "tallyd migrate applies v9" "$TALLYD" migrate --data-dir "$WORK/v8"
    DB="$WORK/v8/tally.db"
    check_eq "now at the current version" "$TL_SCHEMA_VERSION" "$(DB=$DB sql 'PRAGMA user_version')"
    check_eq "the three per-user indexes are gone" 0 "$(DB=$DB sql "SELECT count(*) FROM
        sqlite_master WHERE name IN ('payments_sent', 'payments_received', 'payments_pair')")"
    check_eq "payment_pairs holds exactly the pairs of the payments" \
        "$(DB=$DB sql 'SELECT DISTINCT hex(from_user), hex(to_user) FROM payments ORDER BY 1, 2')" \
        "$(DB=$DB sql 'SELECT hex(from_user), hex(to_user) FROM payment_pairs ORDER BY 1, 2')"
    check_eq "six pairs" 6 "$(DB=$DB sql 'SELECT count(*) FROM payment_pairs')"
    unset DB
    if tl_start v8open --sandbox --fx-rates-file "$WORK/rates.txt"; then
        BASE="http://127.0.0.1:$PORT"
        DB="$WORK/v8open/tally.db"
        check_eq "a v8 data dir migrates on open" "$TL_SCHEMA_VERSION" "$(sql 'PRAGMA user_version')"
        export DB
        LIMITS="1 3" lists_match "after the migration"
        pay "$C" bob 1009
        TOKEN=$B api GET '/v1/payments?limit=1'
        expect "a new payment lists first" 200 '.data[0].amount == 1009 and .has_more'
        check_eq "and adds its pair" 7 "$(sql 'SELECT count(*) FROM payment_pairs')"
        pay "$C" bob 1010
        check_eq "a pair already there adds nothing" 7 "$(sql 'SELECT count(*) FROM payment_pairs')"
        LIMITS="2" lists_match "with new payments"
        unset DB
        tl_stop "$PID"
    else
        fail "start on a v8 data dir"
    fi
fi

tl_summary
[ "$FAILED" -eq 0 ]
