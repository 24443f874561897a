#!/usr/bin/env bash
# run_escrow.sh BUILD_DIR [ASAN_DIR] - escrows over HTTP (docs/api.md "Escrows"), against real
# tallyd processes on loopback ports, each with a fresh data dir:
#
#   main     --sandbox, schedules.tick_ms 100: holds (available drops, the payee's pending
#            shows it), validation and refusals that hold nothing, visibility (404 for others),
#            partial release with the rest refunded, cancel rules per release condition,
#            approvals of both parties, release at a time by tallyd itself, expiry by the
#            ledger's hold timeout, a hold expiring across a kill -9 and restart, concurrent
#            release/cancel races resolving once with money conserved, idempotent replay,
#            escrow.* events for both parties, the payment row a release writes
#   old      SQLite only: a schema-4 database (made from the v1-v4 migration files, with a user
#            row) migrates with `tallyd migrate` and keeps its data; old2: another on open
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_escrow.sh) every server is two nodes on one
# PostgreSQL database, requests alternating. Closes with "N passed, M failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-escrow.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_escrow.sh curl jq python3

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_RATELIMIT_LOOKUP_PER_MIN=1000000 TALLY_RATELIMIT_LOOKUP_BURST=100000
export TALLY_SCHEDULES_TICK_MS=100

# new_user HANDLE : sign up and log in; sets TOK and UID_ (one check).
new_user() {
    tl_signup "$1" || { fail "sign up and log in $1: $STATUS $BODY"; return 1; }
    pass
}

deposit() {
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"USD\", \"source\": \"sandbox\"}"
    [ "$STATUS" = 201 ] || fail "deposit $2: $STATUS $BODY"
}

# avail TOKEN / pend TOKEN : the USD wallet's available / pending balance.
avail() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -r '[.data[] | select(.currency == "USD") | .balance.available] | first // "none"'
}
pend() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -r '[.data[] | select(.currency == "USD") | .balance.pending] | first // "none"'
}

# escrow TOKEN BODY : POST /v1/escrows; sets ESC to the id on 201.
escrow() {
    TOKEN=$1 api POST /v1/escrows "$2"
    ESC=$(jqb '.id // ""')
}

# wait_status TOKEN ID STATUS SECONDS : polls GET /v1/escrows/ID until .status is STATUS.
wait_status() {
    local i
    for i in $(seq 1 $(($4 * 10))); do
        TOKEN=$1 api GET "/v1/escrows/$2"
        [ "$(jqb .status)" = "$3" ] && return 0
        sleep 0.1
    done
    return 1
}

# read_events FILE TOKEN COMMAND... : the user's events from the start (Last-Event-ID 0) into
# FILE, read until COMMAND succeeds (tried every 0.1 s) or 15 s pass; fails on the timeout. A
# loaded machine can take seconds to replay them, so the read lasts until what the caller
# needs has come rather than a fixed time.
read_events() {
    local file=$1 token=$2 deadline=$((SECONDS + 15)) pid rc=0
    shift 2
    : >"$file" # emptied here: curl's own redirection may come after the first look below
    curl -s -N --max-time 20 -H "Authorization: Bearer $token" -H "Last-Event-ID: 0" \
        "$(tl_url)/v1/events" >"$file" 2>/dev/null &
    pid=$!
    TL_JOBS+=("$pid")
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            rc=1
            break
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return $rc
}

# ---------------------------------------------------------------------------------------------
# main

tl_start main --sandbox || { echo "0 passed, 1 failed"; exit 1; }
BASE="http://127.0.0.1:$PORT"

new_user alice && A=$TOK && A_ID=$UID_
new_user bob && B=$TOK && B_ID=$UID_
new_user carol && C=$TOK
deposit "$A" 100000

# -- A hold: the payer's available drops, the payee's pending shows it --
escrow "$A" '{"to": "@bob", "amount": 3000, "currency": "USD", "note": "bike"}'
expect "create an escrow" 201 \
    ".status == \"held\" and .amount == 3000 and .currency == \"USD\" and .note == \"bike\"
     and .released_amount == 0 and .refunded_amount == 0 and .payer.id == \"$A_ID\"
     and .payee.id == \"$B_ID\" and .payee.handle == \"bob\" and .release.type == \"payer\"
     and .release.at == null and .payment_id == null and .released_at == null
     and (.id | startswith(\"esc_\")) and (.expires_at | type) == \"string\""
sample Escrow
E1=$ESC
check_eq "payer's available drops by the hold" 97000 "$(avail "$A")"
check_eq "payer has nothing pending" 0 "$(pend "$A")"
check_eq "payee's available is unchanged" 0 "$(avail "$B")"
check_eq "payee's pending shows the hold" 3000 "$(pend "$B")"
TOKEN=$B api GET "/v1/escrows/$E1"
expect "the payee reads the escrow" 200 ".id == \"$E1\" and .status == \"held\""
TOKEN=$C api GET "/v1/escrows/$E1"
expect_problem "a third user gets 404" 404 not_found
TOKEN=$A api GET "/v1/escrows/esc_01m8400q64fhwv3j9y869b6xra"
expect_problem "an unknown escrow is 404" 404 not_found
TOKEN=$A api GET "/v1/escrows/pay_01m8400q64fhwv3j9y869b6xra"
expect_problem "another prefix is 404" 404 not_found

# -- Refusals hold nothing --
escrow "$A" '{"to": "@bob", "amount": 1, "currency": "USD", "owner": "x"}'
expect_problem "unknown field" 400 invalid_request owner
escrow "$A" '{"to": "@bob", "amount": 0, "currency": "USD"}'
expect_problem "zero amount" 400 invalid_amount amount
escrow "$A" '{"to": "@bob", "amount": 10.5, "currency": "USD"}'
expect_problem "fractional amount" 400 invalid_amount amount
escrow "$A" '{"to": "@bob", "amount": 1, "currency": "usd"}'
expect_problem "lower-case currency" 400 unknown_currency currency
escrow "$A" '{"to": "@bob", "amount": 1, "currency": "USD", "release": "payee"}'
expect_problem "unknown release condition" 400 invalid_request release
escrow "$A" '{"to": "@bob", "amount": 1, "currency": "USD", "release": {"at": "tomorrow"}}'
expect_problem "release at a bad time" 400 invalid_request release
escrow "$A" "{\"to\": \"@bob\", \"amount\": 1, \"currency\": \"USD\", \"release\": {\"at\": \"$(iso_in 60)\", \"by\": 1}}"
expect_problem "release object with an unknown member" 400 invalid_request release
escrow "$A" "{\"to\": \"@bob\", \"amount\": 1, \"currency\": \"USD\", \"expires_in_s\": 60, \"release\": {\"at\": \"$(iso_in 120)\"}}"
expect_problem "release after the expiry" 400 invalid_request release
escrow "$A" "{\"to\": \"@bob\", \"amount\": 1, \"currency\": \"USD\", \"expires_at\": \"$(iso_in -10)\"}"
expect_problem "expiry in the past" 400 invalid_request expires_at
escrow "$A" "{\"to\": \"@bob\", \"amount\": 1, \"currency\": \"USD\", \"expires_at\": \"$(iso_in 400)\", \"expires_in_s\": 60}"
expect_problem "both expiries" 400 invalid_request expires_at
escrow "$A" '{"to": "@bob", "amount": 1, "currency": "USD", "expires_in_s": 31622401}'
expect_problem "expiry past 366 days" 400 invalid_request expires_in_s
escrow "$A" '{"to": "@alice", "amount": 1, "currency": "USD"}'
expect_problem "escrow to oneself" 422 cannot_pay_self to
escrow "$A" '{"to": "@nobody_here", "amount": 1, "currency": "USD"}'
expect_problem "unknown recipient" 422 recipient_not_found to
escrow "$A" '{"to": "@bob", "amount": 1, "currency": "EUR"}'
expect_problem "no wallet in the currency" 422 wallet_not_found currency
escrow "$A" '{"to": "@bob", "amount": 97001, "currency": "USD"}'
expect_problem "more than available" 422 insufficient_funds amount
check_eq "refusals held nothing" 97000 "$(avail "$A")"
TOKEN=$A api GET "/v1/escrows?role=payer"
expect "only the one escrow is listed" 200 '(.data | length) == 1 and .has_more == false'
TOKEN=$A api GET "/v1/escrows?role=owner"
expect_problem "bad role" 400 invalid_request role

# -- Release in part: the rest goes back, atomically --
TOKEN=$B api POST "/v1/escrows/$E1/release" '{}'
expect_problem "the payee cannot release" 403 forbidden
TOKEN=$A api POST "/v1/escrows/$E1/release" '{"amount": 3001}'
expect_problem "release more than held" 400 invalid_amount amount
TOKEN=$A IKEY=rel-1 api POST "/v1/escrows/$E1/release" '{"amount": 1000}'
expect "partial release" 200 \
    '.status == "released" and .released_amount == 1000 and .refunded_amount == 2000
     and (.payment_id | startswith("pay_")) and (.released_at | type) == "string"'
FIRST=$BODY
sample Escrow
PAY1=$(jqb .payment_id)
check_eq "payer got the rest back" 99000 "$(avail "$A")"
check_eq "payee got the released part" 1000 "$(avail "$B")"
check_eq "payee has nothing pending" 0 "$(pend "$B")"
TOKEN=$A IKEY=rel-1 api POST "/v1/escrows/$E1/release" '{"amount": 1000}'
expect "replayed release" 200
check_eq "the replay is the first answer" "$FIRST" "$BODY"
check_eq "the replay says so" true "$(header Idempotent-Replayed)"
TOKEN=$A api POST "/v1/escrows/$E1/release" '{}'
expect_problem "release twice" 409 escrow_released
TOKEN=$B api POST "/v1/escrows/$E1/cancel"
expect_problem "cancel after release" 409 escrow_released
TOKEN=$B api GET "/v1/payments/$PAY1"
expect "the release is a payment" 200 \
    ".amount == 1000 and .fee == 0 and .from.id == \"$A_ID\" and .to.id == \"$B_ID\" and .note == \"bike\""
TOKEN=$B api GET "/v1/wallets"
WB=$(jqb '.data[0].id')
TOKEN=$B api GET "/v1/wallets/$WB/transactions"
expect "payee's transactions show the hold and the payment" 200 \
    "([.data[] | select(.type == \"payment\" and .amount == 1000 and .payment_id == \"$PAY1\")] | length) == 1
     and ([.data[] | select(.type == \"hold\" and .amount == 3000)] | length) == 1"

# -- Cancel: the payer of a "payer" escrow, refunded in full --
escrow "$A" '{"to": "@bob", "amount": 500, "currency": "USD"}'
expect "second escrow" 201
E2=$ESC
TOKEN=$C api POST "/v1/escrows/$E2/cancel"
expect_problem "a third user cannot cancel" 404 not_found
TOKEN=$A api POST "/v1/escrows/$E2/cancel" '{"x": 1}'
expect_problem "cancel takes no fields" 400 invalid_request x
TOKEN=$A api POST "/v1/escrows/$E2/cancel"
expect "payer cancels" 200 '.status == "canceled" and .refunded_amount == 500 and .released_amount == 0
    and (.canceled_at | type) == "string" and .payment_id == null'
check_eq "cancel refunded the payer" 99000 "$(avail "$A")"
TOKEN=$A api POST "/v1/escrows/$E2/release" '{}'
expect_problem "release after cancel" 409 escrow_canceled
TOKEN=$A api POST "/v1/escrows/$E2/approve"
expect_problem "approve after cancel" 409 escrow_canceled

# -- Both parties approve --
escrow "$A" '{"to": "@bob", "amount": 700, "currency": "USD", "release": "both"}'
expect "escrow released by both" 201 '.release.type == "both"'
E3=$ESC
TOKEN=$A api POST "/v1/escrows/$E3/release" '{}'
expect_problem "release of a both escrow" 409 escrow_condition
TOKEN=$B api POST "/v1/escrows/$E3/approve"
expect "payee approves" 200 '.status == "held" and (.release.payee_approved_at | type) == "string"
    and .release.payer_approved_at == null'
TOKEN=$B api POST "/v1/escrows/$E3/approve"
expect "approving twice changes nothing" 200 '.status == "held"'
TOKEN=$A api POST "/v1/escrows/$E3/cancel"
expect_problem "payer cannot cancel after the payee approved" 409 escrow_condition
check_eq "still held" 98300 "$(avail "$A")"
TOKEN=$A api POST "/v1/escrows/$E3/approve"
expect "payer approves: released" 200 '.status == "released" and .released_amount == 700
    and (.release.payer_approved_at | type) == "string"'
check_eq "payee received 700" 1700 "$(avail "$B")"
escrow "$A" '{"to": "@bob", "amount": 200, "currency": "USD", "release": "both"}'
E4=$ESC
TOKEN=$B api POST "/v1/escrows/$E4/cancel"
expect "the payee may always cancel" 200 '.status == "canceled"'
TOKEN=$A api POST "/v1/escrows/$E1/approve"
expect_problem "approve of a payer escrow" 409 escrow_released

# -- Released by tallyd at a time --
escrow "$A" "{\"to\": \"@bob\", \"amount\": 400, \"currency\": \"USD\", \"release\": {\"at\": \"$(iso_in 1)\"}}"
expect "escrow released at a time" 201 '.release.type == "at" and (.release.at | type) == "string"'
E5=$ESC
escrow "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"release\": {\"at\": \"$(iso_in 3600)\"}}"
E6=$ESC
TOKEN=$A api POST "/v1/escrows/$E6/cancel"
expect_problem "the payer cannot cancel a timed escrow" 409 escrow_condition
TOKEN=$A api POST "/v1/escrows/$E6/approve"
expect_problem "a timed escrow takes no approvals" 409 escrow_condition
if wait_status "$B" "$E5" released 10; then pass; else fail "tallyd did not release at the time: $BODY"; fi
TOKEN=$B api GET "/v1/escrows/$E5"
expect "timed release in full" 200 '.released_amount == 400 and .refunded_amount == 0'
TOKEN=$A api POST "/v1/escrows/$E6/release" '{"amount": 60}'
expect "the payer may release a timed escrow early" 200 '.released_amount == 60 and .refunded_amount == 40'

# -- Expiry: the ledger's hold timeout voids it --
escrow "$A" '{"to": "@bob", "amount": 900, "currency": "USD", "expires_in_s": 1}'
expect "short escrow" 201
E7=$ESC
BEFORE=$(avail "$A")
if wait_status "$A" "$E7" expired 10; then pass; else fail "escrow did not expire: $BODY"; fi
expect "expired escrow" 200 '.refunded_amount == 900 and .released_amount == 0'
sample Escrow
TOKEN=$A api POST "/v1/escrows/$E7/release" '{}'
expect_problem "release after expiry" 409 escrow_expired
# The status turns at the expiry time, the money comes back when the writer's sweep commits:
# up to 10 s on a loaded machine.
deadline=$((SECONDS + 10))
until [ "$(avail "$A")" = $((BEFORE + 900)) ] || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
check_eq "expiry gave the money back" $((BEFORE + 900)) "$(avail "$A")"

# -- Events: escrow.held / escrow.released to both parties --
# b_events_done: the payee's stream holds everything the checks below look for.
b_events_done() {
    grep -q '^event: escrow.held' "$WORK/events_b" &&
        grep -q '^event: escrow.released' "$WORK/events_b" &&
        grep -q '^event: escrow.canceled' "$WORK/events_b" &&
        grep -q "\"escrow_id\":\"$E1\"" "$WORK/events_b"
}
read_events "$WORK/events_b" "$B" b_events_done
check "payee got escrow.held" grep -q '^event: escrow.held' "$WORK/events_b"
check "payee got escrow.released" grep -q '^event: escrow.released' "$WORK/events_b"
check "payee got escrow.canceled" grep -q '^event: escrow.canceled' "$WORK/events_b"
check "events carry the escrow id" grep -q "\"escrow_id\":\"$E1\"" "$WORK/events_b"
# Carol, party to none of them, gets a deposit after them all: a stream replays in order, so
# once her deposit.created has come any escrow event of hers would have come before it.
deposit "$C" 100
check "the third user's stream replays her own deposit" \
    read_events "$WORK/events_c" "$C" grep -q '^event: deposit.created' "$WORK/events_c"
if grep -q escrow "$WORK/events_c"; then fail "a third user saw escrow events"; else pass; fi

# -- Races: release (payer) against cancel (payee), each escrow resolves once --
TOTAL=$(($(avail "$A") + $(avail "$B")))
RACE_IDS=()
for i in $(seq 1 8); do
    escrow "$A" '{"to": "@bob", "amount": 100, "currency": "USD"}'
    RACE_IDS+=("$ESC")
done
i=0
racers=()
for id in "${RACE_IDS[@]}"; do
    i=$((i + 1))
    (curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $A" \
        -H 'Content-Type: application/json' -d '{}' "$(tl_node_base $i)/v1/escrows/$id/release" \
        >"$WORK/race.$i.r") &
    racers+=($!)
    (curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $B" \
        "$(tl_node_base $((i + 1)))/v1/escrows/$id/cancel" >"$WORK/race.$i.c") &
    racers+=($!)
done
wait "${racers[@]}" # only the racers: the servers are children of this shell too
wins=0
for i in $(seq 1 8); do
    r=$(cat "$WORK/race.$i.r") c=$(cat "$WORK/race.$i.c")
    if { [ "$r" = 200 ] && [ "$c" = 409 ]; } || { [ "$r" = 409 ] && [ "$c" = 200 ]; }; then
        wins=$((wins + 1))
    else
        fail "race $i: release $r, cancel $c"
    fi
done
check_eq "every race resolved exactly once" 8 "$wins"
released=0
for id in "${RACE_IDS[@]}"; do
    TOKEN=$A api GET "/v1/escrows/$id"
    [ "$(jqb .status)" = released ] && released=$((released + 1))
done
check_eq "money conserved between payer and payee" "$TOTAL" "$(($(avail "$A") + $(avail "$B")))"
check_eq "as many releases as payments to the payee" "$released" \
    "$(curl -s -H "Authorization: Bearer $B" "$(tl_url)/v1/payments?direction=received&limit=100" |
       jq '[.data[] | select(.amount == 100)] | length')"

# -- Pagination over a user's escrows --
TOKEN=$A api GET "/v1/escrows?limit=2"
expect "first page" 200 '(.data | length) == 2 and .has_more == true'
sample EscrowList
CUR=$(jqb '.data[1].id')
TOKEN=$A api GET "/v1/escrows?limit=2&starting_after=$CUR"
expect "next page is older" 200 "(.data | length) == 2 and (.data[0].id < \"$CUR\")"
TOKEN=$C api GET "/v1/escrows"
expect "a third user lists nothing" 200 '(.data | length) == 0'

# -- A hold that expires while tallyd is down (kill -9), released on restart --
escrow "$A" '{"to": "@bob", "amount": 1234, "currency": "USD", "expires_in_s": 2}'
expect "escrow expiring across a restart" 201
E8=$ESC
HELD=$(avail "$A")
tl_kill "$PID"
sleep 3
tl_start main --sandbox || { fail "restart"; tl_summary; exit 1; }
BASE="http://127.0.0.1:$PORT"
if wait_status "$A" "$E8" expired 10; then pass; else fail "not expired after restart: $BODY"; fi
deadline=$((SECONDS + 10)) # the sweep's refund, as above
until [ "$(avail "$A")" = $((HELD + 1234)) ] || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
check_eq "the expiry after the restart refunded the payer" $((HELD + 1234)) "$(avail "$A")"
check_eq "payee has nothing pending after it" 0 "$(pend "$B")"
TOKEN=$A api GET "/v1/wallets"
WA=$(jqb '.data[0].id')
TOKEN=$A api GET "/v1/wallets/$WA/transactions"
expect "the expiry is recorded" 200 \
    '([.data[] | select(.type == "hold" and .amount == -1234)] | length) == 1
     and ([.data[] | select(.type == "hold_expiry" and .amount == -1234)] | length) == 1'
TOKEN=$A api GET "/v1/escrows/$E1"
expect "escrows survive the restart" 200 '.status == "released" and .released_amount == 1000'

# ---------------------------------------------------------------------------------------------
# v4: an existing schema-4 SQLite database migrates (tallyd migrate, and on open)

if [ -z "${TL_PG_CONNINFO:-}" ]; then
    # A schema-4 database made from the migration files of versions 1-4 (whatever later
    # versions add), holding a user row written in the v4 schema.
    mkdir -p "$WORK/old" && chmod 700 "$WORK/old"
    python3 - "$WORK/old/tally.db" "$root/src/store/migrations" <<'EOF_PY'
import glob, os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for path in sorted(glob.glob(os.path.join(sys.argv[2], "sqlite_00[1-4]_*.sql"))):
    db.executescript(open(path).read())
db.execute("INSERT INTO users (id, handle, email, phone, display_name, password_hash, created_ns)"
           " VALUES (randomblob(16), 'olga', 'olga@example.com', NULL, 'Olga of v4',"
           " '$argon2id$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',"
           " 1700000000000000000)")
db.execute("PRAGMA user_version = 4")
db.commit()
db.close()
EOF_PY
    out=$("$TALLYD" migrate --data-dir "$WORK/old" 2>>"$WORK/old.migrate.log")
    check_eq "tallyd migrate takes v4 to current" \
        "tallyd: migrated sqlite store to schema version $TL_SCHEMA_VERSION" "$out"
    tl_start old --sandbox || { fail "open the migrated database"; tl_summary; exit 1; }
    BASE="http://127.0.0.1:$PORT"
    new_user oscar && O=$TOK
    deposit "$O" 4200
    TOKEN=$O api GET "/v1/users/lookup?q=@olga"
    expect "the v4 user is there after migrating" 200 '.display_name == "Olga of v4"'
    escrow "$O" '{"to": "@olga", "amount": 200, "currency": "USD"}'
    expect "escrows work on the migrated database" 201 '.status == "held" and .payee.handle == "olga"'
    tl_stop "$PID"
    # And on open: the same v4 database, not migrated beforehand.
    rm -rf "$WORK/old2" && mkdir -p "$WORK/old2" && chmod 700 "$WORK/old2"
    python3 - "$WORK/old2/tally.db" "$root/src/store/migrations" <<'EOF_PY'
import glob, os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for path in sorted(glob.glob(os.path.join(sys.argv[2], "sqlite_00[1-4]_*.sql"))):
    db.executescript(open(path).read())
db.execute("PRAGMA user_version = 4")
db.commit()
db.close()
EOF_PY
    tl_start old2 --sandbox || { fail "open a v4 database"; tl_summary; exit 1; }
    BASE="http://127.0.0.1:$PORT"
    new_user pia && P=$TOK
    new_user quin
    deposit "$P" 300
    escrow "$P" '{"to": "@quin", "amount": 300, "currency": "USD"}'
    expect "a v4 database migrates on open" 201 '.status == "held"'
fi

echo "-- responses against docs/openapi.yaml schemas"
python3 "$root/tests/api/check_schemas.py" "$root/docs/openapi.yaml" "$WORK/samples" \
    >"$WORK/schemas.txt" 2>&1
while read -r verdict rest; do
    case $verdict in
    ok) pass ;;
    *) fail "schema: $rest" ;;
    esac
done <"$WORK/schemas.txt"
check "schema check ran" test "$(grep -c '^ok ' "$WORK/schemas.txt")" -ge 10

tl_summary
[ "$FAILED" -eq 0 ]
