#!/usr/bin/env bash
# run_pg_events.sh BUILD_DIR - two tallyd nodes on one PostgreSQL database: the event stream
# across nodes and one execution per Idempotency-Key across nodes.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh), then nodes A and B (--sandbox, plain
# HTTP on loopback) on one database; B reads A's secret (--secret-file), so sessions and
# request fingerprints are the same on both. Checks:
#   stream     a stream held on node A shows payment.created for a payment made through node
#              B, to the payer and to the payee, and resumes on node B with Last-Event-ID
#   claims     the same POST /v1/payments with the same key sent to both nodes at once, many
#              times: every key moves money once (one payment, the balance drops by one
#              amount per key), every answer is the 201 of that one payment (replayed or not)
#              or 409 idempotency_key_in_progress with Retry-After, and a retry after it
#              replays the payment; the same key with another body on the other node is 409
#              idempotency_key_reused
#   expiry     a live claim left by a node that died (inserted in SQL) answers 409 in progress;
#              once it has expired the next request takes the key over and executes
#   revocation a session logged out on A fails on B within 10 s (B's session cache keeps
#              tokens 30 s), both while a stream is open on B and once none is
# Ends with "N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-pg-events.XXXXXX)
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
# shellcheck source=../api/lib.sh
source "$root/tests/api/lib.sh"

if [ ! -x "$TALLYD" ]; then
    echo "run_pg_events: no tallyd at $TALLYD (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi

TALLY_PG_DIR=
cleanup() {
    local pid
    for pid in "${TL_PIDS[@]}" "${TL_JOBS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    [ -n "$TALLY_PG_DIR" ] && $CLUSTER stop "$TALLY_PG_DIR"
    rm -rf "$WORK"
}
trap cleanup EXIT

env_lines=$($CLUSTER start)
if [ $? -ne 0 ] || [ -z "$env_lines" ]; then
    echo "run_pg_events: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
psql_bin=$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
sql() { "$psql_bin" -X -q -v ON_ERROR_STOP=1 "$TALLY_PG_CONNINFO dbname=events" -Atc "$1"; }
"$psql_bin" -X -q "$TALLY_PG_CONNINFO" -c "CREATE DATABASE events"

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_SERVER_TIMEOUT_S=4
export TALLY_STORE_BACKEND=postgres
export TALLY_STORE_PATH="$TALLY_PG_CONNINFO dbname=events"

if ! tl_start a --sandbox; then
    echo "0 passed, 1 failed"
    exit 1
fi
A="http://127.0.0.1:$PORT"
if ! tl_start b --sandbox --secret-file "$WORK/a/secret.key"; then
    echo "0 passed, 1 failed"
    exit 1
fi
B="http://127.0.0.1:$PORT"

new_user() {
    local pw
    pw=$(newpw)
    LAST_PW=$pw
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$pw" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')"
    UID_=$(jqb '.id // ""')
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$pw" '{login: $l, password: $p}')"
    TOK=$(jqb '.token // ""')
    [ -n "$UID_" ] && [ -n "$TOK" ]
}
stream() {
    local name=$1 base=$2 token=$3
    local args=(-sN -D "$WORK/$name.head" -H "Authorization: Bearer $token")
    [ $# -ge 4 ] && args+=(-H "Last-Event-ID: $4")
    curl "${args[@]}" "$base/v1/events" >"$WORK/$name.sse" 2>/dev/null &
    SPID=$!
    TL_JOBS+=("$SPID")
}
events() {
    awk 'BEGIN { RS = ""; FS = "\n" }
         { id = ""; ev = ""; data = ""
           for (i = 1; i <= NF; i++) {
               if ($i ~ /^id: /) id = substr($i, 5)
               else if ($i ~ /^event: /) ev = substr($i, 8)
               else if ($i ~ /^data: /) data = substr($i, 7)
           }
           if (ev != "") printf "{\"id\": %s, \"event\": \"%s\", \"data\": %s}\n", id, ev, data }' \
        "$WORK/$1.sse"
}
# wait_for SECONDS COMMAND... : retries COMMAND every 0.1 s until it succeeds, for up to
# SECONDS, timed in microseconds (bash's SECONDS counts whole seconds: a deadline on it could
# come almost a second early).
wait_for() {
    local deadline=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}
has_events() { [ "$(events "$1" | grep -c '')" -ge "$2" ]; }
opened() { grep -q '^HTTP/1.1 200' "$WORK/$1.head" 2>/dev/null; }

BASE=$A
new_user alice_pg || fail "sign up alice on A"
ALICE=$TOK
ALICE_ID=$UID_
BASE=$B
new_user bob_pg || fail "sign up bob on B"
BOB=$TOK
TOKEN=$ALICE IKEY=dep-1 api POST /v1/deposits '{"amount": 1000000, "currency": "USD", "source": "sandbox"}'
expect "alice deposits through B with A's session" 201

# ---- stream: held on A, payment through B ----
stream alice_a "$A" "$ALICE"
stream bob_a "$A" "$BOB"
check "alice's stream opens on A" wait_for 15 opened alice_a
check "bob's stream opens on A" wait_for 15 opened bob_a
sleep 0.5
BASE=$B
TOKEN=$ALICE IKEY=pay-x api POST /v1/payments '{"to": "@bob_pg", "amount": 2500, "currency": "USD"}'
expect "alice pays bob through node B" 201
PAY=$(jqb .id)
check "node A's stream of the payer shows node B's payment" wait_for 15 has_events alice_a 1
check "node A's stream of the payee shows it too" wait_for 15 has_events bob_a 1
check "payer's event on A" jq -e --arg pay "$PAY" --arg uid "$ALICE_ID" \
    '.event == "payment.created" and .data.user_id == $uid and .data.data.payment_id == $pay
     and .data.data.direction == "sent" and .data.data.counterparty.handle == "bob_pg"' \
    <<<"$(events alice_a | head -n 1)"
check "payee's event on A" jq -e --arg pay "$PAY" \
    '.data.data.payment_id == $pay and .data.data.direction == "received"' \
    <<<"$(events bob_a | head -n 1)"
FIRST=$(events alice_a | head -n 1 | jq -r .id)
BASE=$A
TOKEN=$ALICE IKEY=pay-y api POST /v1/payments '{"to": "@bob_pg", "amount": 100, "currency": "USD"}'
PAY_Y=$(jqb .id)
stream alice_b "$B" "$ALICE" "$FIRST"
ALICE_B_SPID=$SPID
check "a stream resumed on node B catches up from the shared outbox" wait_for 15 has_events alice_b 1
check_eq "resumed on B after the first event: the payment made on A" "$PAY_Y" \
    "$(events alice_b | head -n 1 | jq -r .data.data.payment_id)"

# ---- claims: the same key at both nodes at once ----
TOKEN=$ALICE api GET /v1/wallets
before=$(jqb '.data[0].balance.available')
rounds=20
racers=()
for i in $(seq 1 $rounds); do
    for node in a b; do
        base=$A
        [ $node = b ] && base=$B
        curl -s -o "$WORK/race.$i.$node.body" -D "$WORK/race.$i.$node.head" \
            -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $ALICE" \
            -H "Idempotency-Key: race-$i" -H 'Content-Type: application/json' \
            --data-binary '{"to": "@bob_pg", "amount": 7, "currency": "USD"}' \
            "$base/v1/payments" >"$WORK/race.$i.$node.code" &
        racers+=($!)
    done
done
wait "${racers[@]}"
ok=0
in_progress=0
bad=0
for i in $(seq 1 $rounds); do
    ids=()
    for node in a b; do
        code=$(cat "$WORK/race.$i.$node.code")
        if [ "$code" = 201 ]; then
            ids+=("$(jq -r .id "$WORK/race.$i.$node.body")")
        elif [ "$code" = 409 ] &&
            [ "$(jq -r .code "$WORK/race.$i.$node.body")" = idempotency_key_in_progress ] &&
            tr -d '\r' <"$WORK/race.$i.$node.head" | grep -qi '^retry-after: '; then
            in_progress=$((in_progress + 1))
            # The client retries after Retry-After: it gets the one payment.
            sleep 1
            BASE=$([ $node = a ] && echo "$A" || echo "$B")
            TOKEN=$ALICE IKEY=race-$i api POST /v1/payments \
                '{"to": "@bob_pg", "amount": 7, "currency": "USD"}'
            if [ "$STATUS" = 201 ] && [ "$(header Idempotent-Replayed)" = true ]; then
                ids+=("$(jqb .id)")
            else
                bad=$((bad + 1))
                echo "round $i: retry after in-progress answered $STATUS: $BODY"
            fi
        else
            bad=$((bad + 1))
            echo "round $i node $node: $code $(cat "$WORK/race.$i.$node.body")"
        fi
    done
    if [ "${#ids[@]}" -eq 2 ] && [ "${ids[0]}" = "${ids[1]}" ]; then
        ok=$((ok + 1))
    fi
done
check_eq "every answer is the one payment or in-progress" 0 "$bad"
check_eq "both nodes' clients end with the same payment for each key" "$rounds" "$ok"
count=$(sql "SELECT count(*) FROM payments WHERE amount = 7")
check_eq "one payment per key in the database" "$rounds" "$count"
BASE=$A
TOKEN=$ALICE api GET /v1/wallets
after=$(jqb '.data[0].balance.available')
fee_total=$(sql "SELECT coalesce(sum(fee), 0) FROM payments WHERE amount = 7")
check_eq "the balance dropped by one payment per key" $((before - rounds * 7 - fee_total)) "$after"
check_eq "no claim is left behind" 0 "$(sql 'SELECT count(*) FROM idempotency_claims')"
echo "  claims: $rounds keys raced on two nodes, $in_progress answers were in-progress"

BASE=$A
TOKEN=$ALICE IKEY=other-body api POST /v1/payments '{"to": "@bob_pg", "amount": 9, "currency": "USD"}'
expect "a payment on A" 201
BASE=$B
TOKEN=$ALICE IKEY=other-body api POST /v1/payments '{"to": "@bob_pg", "amount": 10, "currency": "USD"}'
expect_problem "the same key with another body on B" 409 idempotency_key_reused

# ---- expiry: a claim left by a dead node ----
scope=$(sql "SELECT scope FROM idempotency WHERE key = 'other-body'")
hash=$(sql "SELECT encode(request_hash, 'hex') FROM idempotency WHERE key = 'other-body'")
sql "INSERT INTO idempotency_claims (scope, key, request_hash, owner, expires_ns)
     VALUES ('$scope', 'orphan', decode('$hash', 'hex'), decode(md5('dead node'), 'hex'),
             (extract(epoch FROM now()) * 1e9)::bigint + 3600000000000)"
BASE=$B
TOKEN=$ALICE IKEY=orphan api POST /v1/payments '{"to": "@bob_pg", "amount": 9, "currency": "USD"}'
expect_problem "a live claim of a dead node: in progress" 409 idempotency_key_in_progress \
    Idempotency-Key
check "in progress says when to retry" test "$(header Retry-After)" = 1
sql "UPDATE idempotency_claims SET expires_ns = 1 WHERE key = 'orphan'"
TOKEN=$ALICE IKEY=orphan api POST /v1/payments '{"to": "@bob_pg", "amount": 9, "currency": "USD"}'
expect "once expired, the key is taken over and runs" 201 '.amount == 9'
check_eq "the taken-over claim is released" 0 "$(sql "SELECT count(*) FROM idempotency_claims")"

# A session revoked on one node stops working on the other at once: the revocation is an outbox
# row every node's event hub reads, not something each node's 30 s session cache waits out.
# logout_reaches_b NAME WHEN : NAME signs up on A, her token works on B (which caches it), she
# logs out on A, and the token must fail on B within 10 s.
logout_reaches_b() {
    local name=$1 when=$2 token
    BASE=$A
    new_user "$name" || fail "sign up $name on A"
    token=$TOK
    BASE=$B
    TOKEN=$token api GET /v1/me
    check_eq "$name's token works on B (and B caches it)" 200 "$STATUS"
    BASE=$A
    TOKEN=$token api DELETE /v1/sessions/current
    check_eq "$name logs out on A" 204 "$STATUS"
    BASE=$B
    REVOKED_TOKEN=$token
    check "$when, the logged-out token fails on B within 10 s, not after B's 30 s cache TTL" \
        wait_for 10 revoked_refused
}
revoked_refused() { TOKEN=$REVOKED_TOKEN api GET /v1/me; [ "$STATUS" = 401 ]; }
logout_reaches_b carol_pg "with a stream open on B"

# "Log out everywhere else" on A ends the other session on B too.
BASE=$A
new_user dave_pg || fail "sign up dave on A"
DAVE_KEEP=$TOK
api POST /v1/sessions "$(jq -nc --arg l dave_pg --arg p "$LAST_PW" '{login: $l, password: $p}')"
DAVE_OTHER=$(jqb '.token // ""')
BASE=$B
TOKEN=$DAVE_OTHER api GET /v1/me
check_eq "dave's second session works on B" 200 "$STATUS"
BASE=$A
TOKEN=$DAVE_KEEP api DELETE /v1/me/sessions
check_eq "dave logs out his other sessions on A" 200 "$STATUS"
BASE=$B
dave_refused() { TOKEN=$DAVE_OTHER api GET /v1/me; [ "$STATUS" = 401 ]; }
check "the other session fails on B within 10 s, not after B's 30 s cache TTL" \
    wait_for 10 dave_refused
TOKEN=$DAVE_KEEP api GET /v1/me
check_eq "the session that asked still works on B" 200 "$STATUS"

# The revocations above reach B while alice's resumed stream is open there. A node with no
# stream open must act on them too: its event hub has nobody to send events to, but the
# revocation rows are for the node itself.
kill "$ALICE_B_SPID" 2>/dev/null
wait "$ALICE_B_SPID" 2>/dev/null
b_stream_closed() { grep -q '"event":"event_stream_closed"' "$WORK/b.log"; }
check "B ends alice's stream once she hangs up (B's only stream)" wait_for 15 b_stream_closed
logout_reaches_b erin_pg "with no stream open on B"

tl_summary
[ "$FAILED" -eq 0 ]
