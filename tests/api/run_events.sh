#!/usr/bin/env bash
# run_events.sh BUILD_DIR - GET /v1/events over HTTP on SQLite: curl -N against a real tallyd.
#
# A --sandbox server with 2 worker threads and an idle timeout of 2 s (so heartbeats come every
# second), and a second one with room for 2 streams (connections_max 8). Checks what a client
# sees:
#   - 401 without a token; 400 for a Last-Event-ID that is not an event id
#   - 200 text/event-stream, Cache-Control no-store; the stream opens with a comment at once
#   - payment.created reaches the payer's and the payee's streams (direction, amount, fee,
#     counterparty handle, each one's own balance_after, matching the 201), deposit.created
#     the depositor's; nobody sees another user's event; an idempotent replay adds none
#   - without Last-Event-ID a stream starts with what commits after it opened
#   - Last-Event-ID resumes after that event (store catch-up), 0 replays everything, in order
#   - heartbeats; open streams do not hold the 2 workers (other requests are answered)
#   - 429 too_many_streams past 4 streams of one user, 503 service_busy past the server's
#     limit (a quarter of its connections)
#   - SIGTERM ends every stream and tallyd exits 0
#   - refund.created, payment.reversed, dispute.opened/resolved, escrow.expired (by the
#     writer's sweep), conversion.created and scheduled_payment.skipped reach each user
#     concerned with ids and amounts, once (replays add none), never reason or note text
# Closes with "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-events.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_events.sh curl jq

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_SERVER_CONNECTIONS_MAX=64 TALLY_SERVER_CONNECTIONS_PER_IP_MAX=64
export TALLY_SERVER_TIMEOUT_S=2

# ---------------------------------------------------------------------------------------------
# Helpers

# new_user HANDLE : signs up and logs in; sets TOK and UID_.
new_user() { tl_signup "$1"; }

# stream NAME TOKEN [LAST_EVENT_ID] : opens GET /v1/events in the background with curl -N;
# the body goes to $WORK/NAME.sse, the headers to $WORK/NAME.head. Sets SPID.
stream() {
    local name=$1 token=$2
    local args=(-sN -D "$WORK/$name.head" -H "Authorization: Bearer $token")
    if [ $# -ge 3 ]; then
        args+=(-H "Last-Event-ID: $3")
    fi
    curl "${args[@]}" "$BASE/v1/events" >"$WORK/$name.sse" 2>/dev/null &
    SPID=$!
    TL_JOBS+=("$SPID")
}

# events NAME : the stream's messages as JSON lines {id, event, data} (data parsed).
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
# SECONDS (whole seconds). Timed in microseconds (EPOCHREALTIME without its point): bash's
# SECONDS counts whole seconds, so a deadline on it could come almost a second early.
wait_for() {
    local deadline=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# has_events NAME COUNT : the stream holds at least COUNT events.
has_events() { [ "$(events "$1" | grep -c '')" -ge "$2" ]; }
# opened NAME : the stream's headers arrived.
opened() { grep -q '^HTTP/1.1 200' "$WORK/$1.head" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------

if ! tl_start main --sandbox --threads 2; then
    echo "0 passed, 1 failed"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"
MAIN_PID=$PID

new_user alice_ev || fail "sign up alice"
ALICE=$TOK
ALICE_ID=$UID_
new_user bob_ev || fail "sign up bob"
BOB=$TOK
BOB_ID=$UID_
new_user carol_ev || fail "sign up carol"
CAROL=$TOK

# ---- Refusals before any stream ----
api GET /v1/events
expect_problem "no token" 401 unauthorized
TOKEN=$ALICE api GET /v1/events_x
check_eq "an unknown path is not the stream" 404 "$STATUS"
curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    -H 'Last-Event-ID: abc' "$BASE/v1/events" >"$WORK/code"
STATUS=$(cat "$WORK/code")
BODY=$(cat "$WORK/body")
expect_problem "Last-Event-ID that is not a number" 400 invalid_request Last-Event-ID

# A deposit before any stream opens: history for later.
TOKEN=$ALICE IKEY=dep-1 api POST /v1/deposits '{"amount": 10000, "currency": "USD", "source": "sandbox"}'
expect "alice deposits" 201
DEP_ID=$(jqb .id)

# ---- Live streams ----
stream alice "$ALICE"
ALICE_SPID=$SPID
stream bob "$BOB"
check "alice's stream opens" wait_for 15 opened alice
check "bob's stream opens" wait_for 15 opened bob
check_eq "stream content type" "text/event-stream" \
    "$(tr -d '\r' <"$WORK/alice.head" | awk -F': ' 'tolower($1) == "content-type" { print $2 }')"
check_eq "stream is not cached" "no-store" \
    "$(tr -d '\r' <"$WORK/alice.head" | awk -F': ' 'tolower($1) == "cache-control" { print $2 }')"
check "the stream opens with a comment" wait_for 15 grep -q '^: connected' "$WORK/alice.sse"
sleep 0.5 # both streams registered with the hub before the money moves

TOKEN=$ALICE IKEY=pay-1 api POST /v1/payments '{"to": "@bob_ev", "amount": 1500, "currency": "USD"}'
expect "alice pays bob" 201
PAY_ID=$(jqb .id)
PAY_FEE=$(jqb .fee)
PAY_AFTER=$(jqb .balance_after)
check "payer's stream gets payment.created" wait_for 15 has_events alice 1
check "payee's stream gets payment.created" wait_for 15 has_events bob 1
A1=$(events alice | head -n 1)
B1=$(events bob | head -n 1)
check "payer event: sent, amount, fee, counterparty, own balance" jq -e \
    --arg pay "$PAY_ID" --arg uid "$ALICE_ID" --arg bob "$BOB_ID" \
    --argjson fee "$PAY_FEE" --argjson after "$PAY_AFTER" \
    '.event == "payment.created" and .data.type == "payment.created" and .data.user_id == $uid
     and .data.data.payment_id == $pay and .data.data.direction == "sent"
     and .data.data.amount == 1500 and .data.data.currency == "USD" and .data.data.fee == $fee
     and .data.data.counterparty.handle == "bob_ev" and .data.data.counterparty.id == $bob
     and .data.data.balance_after == $after and (.id | type) == "number"' <<<"$A1"
check "payee event: received, counterparty alice, payee's balance" jq -e \
    --arg pay "$PAY_ID" --arg uid "$BOB_ID" \
    '.event == "payment.created" and .data.user_id == $uid and .data.data.payment_id == $pay
     and .data.data.direction == "received" and .data.data.counterparty.handle == "alice_ev"
     and .data.data.balance_after == 1500' <<<"$B1"
check "the stream does not start with history (no earlier deposit)" \
    test "$(events alice | jq -r .event | grep -c deposit.created)" -eq 0
check "no email, phone, display name or note in events" \
    test "$(grep -c -e '@example.com' -e 'User alice_ev' "$WORK/alice.sse" "$WORK/bob.sse" |
        awk -F: '{ s += $2 } END { print s }')" -eq 0

# A replay of the same key moves nothing and adds no event.
TOKEN=$ALICE IKEY=pay-1 api POST /v1/payments '{"to": "@bob_ev", "amount": 1500, "currency": "USD"}'
check_eq "replay answers the same payment" "$PAY_ID" "$(jqb .id)"
TOKEN=$BOB IKEY=dep-b api POST /v1/deposits '{"amount": 700, "currency": "USD", "source": "sandbox"}'
expect "bob deposits" 201
BOB_DEP=$(jqb .id)
check "bob's stream gets deposit.created" wait_for 15 has_events bob 2
check "bob's deposit event" jq -e --arg dep "$BOB_DEP" \
    '.event == "deposit.created" and .data.data.deposit_id == $dep and .data.data.amount == 700
     and (.data.data.wallet_id | startswith("wal_")) and .data.data.balance_after == 2200' \
    <<<"$(events bob | sed -n 2p)"
TOKEN=$CAROL IKEY=dep-c api POST /v1/deposits '{"amount": 300, "currency": "USD", "source": "sandbox"}'
sleep 1
check_eq "alice saw only her own event" 1 "$(events alice | grep -c '')"
check_eq "bob saw only his own events" 2 "$(events bob | grep -c '')"
check "heartbeats keep the stream alive" wait_for 10 grep -q '^: heartbeat' "$WORK/alice.sse"

# Streams are parked between events, so two workers still serve everyone else.
for i in 1 2 3; do
    stream "extra$i" "$CAROL"
done
check "carol's streams open" wait_for 15 opened extra3
t0=$(date +%s%N)
TOKEN=$CAROL api GET /v1/me
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
expect "a request with 5 streams open on 2 workers" 200
# A worker held by a stream would leave this request hanging until curl's 20 s limit; 10 s
# leaves room for curl's start-up on a loaded machine.
check "answered without waiting on streams (${elapsed_ms} ms)" test "$elapsed_ms" -lt 10000

# ---- Resume ----
A1_ID=$(jq -r .id <<<"$A1")
TOKEN=$ALICE IKEY=pay-2 api POST /v1/payments '{"to": "@bob_ev", "amount": 200, "currency": "USD"}'
PAY2=$(jqb .id)
check "second payment reaches alice" wait_for 15 has_events alice 2
kill "$ALICE_SPID" 2>/dev/null
wait "$ALICE_SPID" 2>/dev/null
TOKEN=$ALICE IKEY=pay-3 api POST /v1/payments '{"to": "@bob_ev", "amount": 300, "currency": "USD"}'
PAY3=$(jqb .id)
stream resumed "$ALICE" "$A1_ID"
check "resumed stream catches up" wait_for 15 has_events resumed 2
check_eq "resume sends what came after Last-Event-ID, in order" "$PAY2 $PAY3" \
    "$(events resumed | jq -r .data.data.payment_id | paste -sd' ')"
kill "$SPID" 2>/dev/null
stream replay "$ALICE" 0
check "Last-Event-ID 0 replays everything" wait_for 15 has_events replay 4
check_eq "everything, oldest first" "deposit.created payment.created payment.created payment.created" \
    "$(events replay | jq -r .event | paste -sd' ')"
check_eq "the deposit is the one made before any stream" "$DEP_ID" \
    "$(events replay | head -n 1 | jq -r .data.data.deposit_id)"
check "ids strictly increase" jq -se 'map(.id) as $ids | $ids == ($ids | sort | unique)' \
    <<<"$(events replay)"
LIVE_NEXT=$(events replay | wc -l)
TOKEN=$ALICE IKEY=pay-4 api POST /v1/payments '{"to": "@bob_ev", "amount": 100, "currency": "USD"}'
PAY4=$(jqb .id)
check "after catching up, the stream goes live" wait_for 15 has_events replay $((LIVE_NEXT + 1))
check_eq "the live event follows the history once" "$PAY4" \
    "$(events replay | tail -n 1 | jq -r .data.data.payment_id)"
check_eq "no event twice" "$(events replay | jq -r .id | sort -u | wc -l)" "$(events replay | wc -l)"

# ---- Payment requests notify both parties, committed with the request ----
new_user dave_ev || fail "sign up dave"
DAVE=$TOK
new_user erin_ev || fail "sign up erin"
ERIN=$TOK
stream dave "$DAVE"
stream erin "$ERIN"
check "dave's and erin's streams open" wait_for 15 opened erin
check "and dave's" wait_for 15 opened dave
TOKEN=$DAVE api POST /v1/payment_requests \
    '{"from": "@erin_ev", "amount": 2500, "currency": "USD", "note": "lunch at the secret place"}'
expect "dave asks erin for 25.00" 201
REQ1=$(jqb .id)
check "the payer is notified" wait_for 15 has_events erin 1
check "payment_request.created for the payer" jq -e --arg id "$REQ1" \
    '.event == "payment_request.created" and .data.data.request_id == $id
     and .data.data.role == "payer" and .data.data.amount == 2500
     and .data.data.currency == "USD" and .data.data.requester.handle == "dave_ev"
     and .data.data.payer.handle == "erin_ev" and .data.data.split_id == null
     and (.data.data.expires_at | type == "string")' <<<"$(events erin | sed -n 1p)"
check "the requester's devices are told too" wait_for 15 has_events dave 1
check "payment_request.created for the requester" jq -e --arg id "$REQ1" \
    '.event == "payment_request.created" and .data.data.request_id == $id
     and .data.data.role == "requester"' <<<"$(events dave | sed -n 1p)"
check "no note text in any event" bash -c "! grep -q secret '$WORK/erin.sse' '$WORK/dave.sse'"
TOKEN=$ERIN api POST "/v1/payment_requests/$REQ1/decline"
expect "erin declines" 200
check "both hear of the decline" wait_for 15 has_events dave 2
check "payment_request.declined" jq -e --arg id "$REQ1" \
    '.event == "payment_request.declined" and .data.data.request_id == $id' \
    <<<"$(events dave | sed -n 2p)"
check "the payer's stream has it too" wait_for 15 has_events erin 2
TOKEN=$ERIN api POST "/v1/payment_requests/$REQ1/decline"
expect_problem "a second decline" 409 request_declined
TOKEN=$DAVE api POST /v1/payment_requests '{"from": "@erin_ev", "amount": 100, "currency": "USD"}'
REQ2=$(jqb .id)
TOKEN=$DAVE api POST "/v1/payment_requests/$REQ2/cancel"
expect "dave cancels" 200
check "created and canceled reach erin" wait_for 15 has_events erin 4
check_eq "erin's request events in order" \
    "payment_request.created payment_request.declined payment_request.created payment_request.canceled" \
    "$(events erin | jq -r .event | paste -sd' ')"
TOKEN=$DAVE api POST /v1/splits \
    '{"total": 1001, "currency": "USD", "mode": "equal", "participants": [{"user": "@erin_ev"}, {"user": "@carol_ev"}]}'
expect "dave splits 10.01 with erin and carol" 201
SPLIT=$(jqb .id)
check "erin hears of her share" wait_for 15 has_events erin 5
check "a split's request names the split" jq -e --arg s "$SPLIT" \
    '.event == "payment_request.created" and .data.data.split_id == $s
     and .data.data.amount == 501' <<<"$(events erin | sed -n 5p)"
check "dave gets one event per share" wait_for 15 has_events dave 6
sleep 0.5
check_eq "the refused decline added nothing (dave: 2 + 2 + 2)" 6 "$(events dave | grep -c '')"

# ---- Limits: 4 streams a user ----
# carol holds 3; one more is allowed, the fifth is not.
stream extra4 "$CAROL"
check "carol's fourth stream opens" wait_for 15 opened extra4
curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' --max-time 5 \
    -H "Authorization: Bearer $CAROL" "$BASE/v1/events" >"$WORK/code"
STATUS=$(cat "$WORK/code")
BODY=$(cat "$WORK/body")
expect_problem "a fifth stream of one user" 429 too_many_streams
check "429 says when to retry" test -n "$(header Retry-After)"

# ---- Shutdown ends the streams ----
tl_stop "$MAIN_PID"
check_eq "tallyd exits 0 with streams open" 0 $?
ended=0
for name in bob replay extra1 extra4; do
    grep -q . "$WORK/$name.sse" && ended=$((ended + 1))
done
check_eq "every stream had its data when the server stopped" 4 "$ended"
# clients_ended : every curl this script started has exited.
clients_ended() {
    local pid
    for pid in "${TL_JOBS[@]}"; do
        kill -0 "$pid" 2>/dev/null && return 1
    done
    return 0
}
# The server has exited, so each client only has to read its connection's end (no fixed sleep:
# a loaded machine may take a while to schedule them).
check "no client is left waiting on a stream" wait_for 10 clients_ended
check "the server logged each stream's close" grep -q '"event":"event_stream_closed"' \
    "$WORK/main.log"

# ---- A server with room for 2 streams in all ----
if TALLY_SERVER_CONNECTIONS_MAX=8 TALLY_SERVER_CONNECTIONS_PER_IP_MAX=8 tl_start small; then
    BASE="http://127.0.0.1:$PORT"
    new_user dan_ev || fail "sign up dan"
    DAN=$TOK
    new_user eve_ev || fail "sign up eve"
    EVE=$TOK
    stream small1 "$DAN"
    stream small2 "$EVE"
    check "two streams open on the small server" wait_for 15 opened small2
    check "the first of them too" wait_for 15 opened small1
    curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' --max-time 5 \
        -H "Authorization: Bearer $DAN" "$BASE/v1/events" >"$WORK/code"
    STATUS=$(cat "$WORK/code")
    BODY=$(cat "$WORK/body")
    expect_problem "a stream past the server's limit" 503 service_busy
    check "503 says when to retry" test -n "$(header Retry-After)"
    TOKEN=$DAN api GET /v1/me
    expect "other requests still served at the stream limit" 200
    tl_stop "$PID"
    check_eq "the small server stops cleanly" 0 $?
    wait 2>/dev/null
else
    fail "small server did not start"
fi

# ---- Refunds, reversals, disputes, escrows, conversions, skipped scheduled payments ----
# of_type NAME TYPE : the stream's events of TYPE, one JSON line each.
of_type() { events "$1" | jq -c --arg t "$2" 'select(.event == $t)'; }
has_type() { [ "$(of_type "$1" "$2" | grep -c '')" -ge "$3" ]; }
tl_admin_token "$WORK/admin.token"
printf 'USD JPY 151.25\n' >"$WORK/rates.txt"
if TALLY_SCHEDULES_TEST_INTERVALS=true TALLY_SCHEDULES_TICK_MS=200 TALLY_FX_SPREAD_BPS=0 \
    tl_start recs --sandbox --admin-token-file "$WORK/admin.token" \
    --fx-rates-file "$WORK/rates.txt"; then
    BASE="http://127.0.0.1:$PORT"
    RECS_PID=$PID
    new_user fay_ev && FAY=$TOK && FAY_ID=$UID_
    new_user gus_ev && GUS=$TOK && GUS_ID=$UID_
    new_user hal_ev && HAL=$TOK
    stream fay "$FAY"
    stream gus "$GUS"
    stream hal "$HAL"
    check "the three streams open" wait_for 15 opened hal
    sleep 0.5
    TOKEN=$FAY api POST /v1/deposits '{"amount": 10000, "currency": "USD", "source": "sandbox"}'
    TOKEN=$FAY api POST /v1/payments '{"to": "@gus_ev", "amount": 1000, "currency": "USD", "note": "rent share"}'
    PAY=$(jqb .id)
    TOKEN=$GUS IKEY=r1 api POST "/v1/payments/$PAY/refunds" '{"amount": 300, "reason": "too much"}'
    expect "gus refunds 3.00" 201
    REF=$(jqb .id)
    TOKEN=$GUS IKEY=r1 api POST "/v1/payments/$PAY/refunds" '{"amount": 300, "reason": "too much"}'
    check "refund.created reaches both" wait_for 15 has_type fay refund.created 1
    check "refund.created: payee sent, own balance" jq -e --arg r "$REF" --arg p "$PAY" \
        --arg f "$FAY_ID" '.data.data.refund_id == $r and .data.data.payment_id == $p
         and .data.data.direction == "sent" and .data.data.amount == 300
         and .data.data.currency == "USD" and .data.data.counterparty.id == $f
         and .data.data.counterparty.handle == "fay_ev" and .data.data.balance_after == 700' \
        <<<"$(of_type gus refund.created)"
    check "refund.created: payer received, own balance" jq -e --arg r "$REF" \
        '.data.data.refund_id == $r and .data.data.direction == "received"
         and .data.data.counterparty.handle == "gus_ev" and .data.data.balance_after == 9300' \
        <<<"$(of_type fay refund.created)"
    TOKEN=$ADMIN_TOKEN IKEY=v1 api POST "/v1/admin/payments/$PAY/reverse" '{"reason": "fraud ring 9"}'
    expect "the operator reverses the rest" 201 '.amount == 700'
    REV=$(jqb .id)
    check "payment.reversed reaches both" wait_for 15 has_type gus payment.reversed 1
    check "payment.reversed: ids, amounts, roles" jq -e -s --arg r "$REV" --arg p "$PAY" \
        'length == 2 and all(.[]; .data.data.reversal_id == $r and .data.data.payment_id == $p
         and .data.data.amount == 700 and .data.data.from_wallet == 700
         and .data.data.shortfall == 0 and .data.data.dispute_id == null)
         and ([.[].data.data.role] | sort == ["payee", "payer"])' \
        <<<"$(of_type fay payment.reversed; of_type gus payment.reversed)"
    TOKEN=$FAY api POST /v1/payments '{"to": "@gus_ev", "amount": 500, "currency": "USD"}'
    PAY2=$(jqb .id)
    TOKEN=$FAY api POST "/v1/payments/$PAY2/disputes" '{"reason": "never arrived"}'
    expect "fay disputes" 201
    DSP=$(jqb .id)
    TOKEN=$ADMIN_TOKEN IKEY=d1 api POST "/v1/admin/disputes/$DSP/resolve" '{"outcome": "payee"}'
    expect "resolved for gus" 200
    TOKEN=$ADMIN_TOKEN IKEY=d2 api POST "/v1/admin/disputes/$DSP/resolve" '{"outcome": "payee"}'
    check "dispute.resolved reaches both" wait_for 15 has_type gus dispute.resolved 1
    check "dispute.opened then resolved, once each, for both" jq -e -s --arg d "$DSP" \
        'length == 4 and all(.[]; .data.data.dispute_id == $d and .data.data.amount == 500)
         and ([.[] | select(.event == "dispute.resolved") | .data.data.outcome] == ["payee", "payee"])
         and ([.[] | select(.event == "dispute.opened") | .data.data.status] == ["open", "open"])' \
        <<<"$(events fay | jq -c 'select(.event | startswith("dispute."))'
              events gus | jq -c 'select(.event | startswith("dispute."))')"
    TOKEN=$FAY api POST /v1/escrows '{"to": "@gus_ev", "amount": 200, "currency": "USD", "expires_in_s": 1}'
    expect "fay holds 2.00 for a second" 201
    ESC=$(jqb .id)
    check "escrow.expired reaches the payer" wait_for 15 has_type fay escrow.expired 1
    check "and the payee" wait_for 10 has_type gus escrow.expired 1
    check "escrow.expired: the escrow, the roles, nothing released" jq -e -s --arg e "$ESC" \
        'length == 2 and all(.[]; .data.data.escrow_id == $e and .data.data.amount == 200
         and .data.data.released_amount == 0)
         and ([.[].data.data.role] | sort == ["payee", "payer"])' \
        <<<"$(of_type fay escrow.expired; of_type gus escrow.expired)"
    TOKEN=$FAY api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 151}'
    expect "fay converts" 201
    CONV=$(jqb .id)
    CONV_BODY=$BODY
    check "conversion.created reaches fay" wait_for 15 has_type fay conversion.created 1
    check "conversion.created matches the 201" jq -e --argjson c "$CONV_BODY" \
        '.data.data.conversion_id == $c.id and .data.data.sent == $c.sent
         and .data.data.fee == $c.fee and .data.data.received == $c.received
         and .data.data.rate == $c.rate and .data.data.from_currency == "USD"
         and .data.data.to_currency == "JPY"
         and .data.data.from_balance_after == $c.from_wallet.balance_after
         and .data.data.to_balance_after == $c.to_wallet.balance_after' \
        <<<"$(of_type fay conversion.created)"
    TOKEN=$HAL api POST /v1/scheduled_payments "{\"to\": \"@gus_ev\", \"amount\": 100,
      \"currency\": \"USD\", \"start_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"repeat\": \"none\"}"
    expect "hal schedules a payment he cannot make" 201
    SCHED=$(jqb .id)
    check "scheduled_payment.skipped reaches hal" wait_for 15 has_type hal scheduled_payment.skipped 1
    check "skipped: the schedule, the reason code, the payee" jq -e --arg s "$SCHED" \
        '.data.data.scheduled_payment_id == $s and .data.data.index == 0
         and .data.data.reason == "insufficient_funds" and .data.data.amount == 100
         and .data.data.counterparty.handle == "gus_ev"' \
        <<<"$(of_type hal scheduled_payment.skipped)"
    sleep 0.5
    check_eq "gus saw no conversion or skipped run of others" 0 \
        "$(events gus | jq -c 'select(.event == "conversion.created" or .event == "scheduled_payment.skipped")' | grep -c '')"
    check_eq "hal saw only his own event" "scheduled_payment.skipped" "$(events hal | jq -r .event | sort -u)"
    check_eq "a replayed refund and a second resolve added nothing" "1 1" \
        "$(of_type gus refund.created | grep -c '') $(of_type fay dispute.resolved | grep -c '')"
    check "no reason, note, email or display name in these events" \
        test "$(grep -c -e 'fraud ring' -e 'too much' -e 'never arrived' -e 'rent share' \
            -e '@example.com' -e 'User fay' "$WORK/fay.sse" "$WORK/gus.sse" "$WORK/hal.sse" |
            awk -F: '{ s += $2 } END { print s }')" -eq 0
    tl_stop "$RECS_PID"
else
    fail "the records server did not start"
fi

tl_summary
[ "$FAILED" -eq 0 ]
