#!/usr/bin/env bash
# run_limits.sh BUILD_DIR - verification tiers and their limits over HTTP (api/kyc.h).
#
# Servers (--sandbox, the operator token of tl_admin_token):
#   main   unverified: send=100.00,receive=250.00,hold=300.00; verified:
#          send=1000.00,receive=5000.00,hold=3000.00; business: none; window 3600 s
#   roll   unverified: send=10.00; window 2 s
#   plain  no [limits] at all (the default)
# Checks:
#   - GET /v1/me/limits: 401 without a token; tier, window_s and per wallet each limit with
#     limit/used/remaining (frees_at null before anything counted); the default server reports
#     every limit null
#   - hold on deposit: 300.01 refused 422 tier_limit_exceeded (param hold), nothing moved
#   - 16 concurrent payments of 10.00 from one user under a 100.00 send limit: exactly 10
#     succeed, 6 answer 422 (param send), the payer's balance and sent list agree, the limits
#     report used 100.00 and remaining 0 with frees_at; a refused key replays its 422
#   - hold on receive: a payment that would take the recipient past 300.00 is refused and
#     moves nothing; the exact rest passes
#   - receive: past 250.00 received in the window is refused (param receive), the rest passes
#   - operator: POST /v1/admin/users/{id}/kyc needs the operator token (401 with none or a
#     user's), 404 for an unknown user, 400 for an unknown tier or field; upgrading raises the
#     limits at once (a send refused before passes), it is idempotent with a key, and lands in
#     the user's audit log; business lifts every limit
#   - 16 concurrent requests, payments and escrows mixed, under the same limit: exactly 10
#   - escrows: the hold counts toward the payer's send window at creation (a refused one leaves
#     no row and holds nothing; a cancel gives nothing back), the release toward the payee's
#     receive window and hold limit only (refused: still held; a partial release that fits
#     passes); a timed release a limit refuses waits and the hold expires back to the payer
#   - conversions: the target wallet's hold limit in its own units (yen), refusal replayed
#   - refunds and operator reversals pass with the payer past its hold limit and the refunder
#     past its send limit, and count toward no window
#   - paying a payment request, a split share and a scheduled occurrence are payments (the
#     occurrence is skipped with reason tier_limit_exceeded)
#   - the window rolls: on roll (1 s buckets) frees_at is 2-3 s after the send, the window is
#     full until then and a send refused at the limit passes after it
#   - SQLite: a schema v4 database migrates to v6 with the user_tiers table
#   - a v5 database with payments and escrows migrates to v6 with backfilled running totals
#     (SQLite: tallyd migrate and on open; PostgreSQL: tallyd migrate)
# With TL_PG_CONNINFO set (tests/pg/run_pg_limits.sh) every server is two nodes on one
# PostgreSQL database and the concurrent payments are spread over both nodes.
# Closes with "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-limits.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_limits.sh curl jq

export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000

# ---------------------------------------------------------------------------------------------
# Helpers

# new_user HANDLE : signs up and logs in; sets TOK and UID_.
new_user() { tl_signup "$1"; }

deposit() {
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"USD\", \"source\": \"sandbox\"}"
}

# pay TOKEN TO AMOUNT
pay() {
    TOKEN=$1 api POST /v1/payments "{\"to\": \"@$2\", \"amount\": $3, \"currency\": \"USD\"}"
}

# bal TOKEN : the USD wallet's available balance.
bal() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -r '[.data[] | select(.currency == "USD") | .balance.available] | first // "none"'
}

# limits TOKEN FILTER : FILTER over GET /v1/me/limits (raw output).
limits() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/me/limits" | jq -r "$2"
}

# now_s : the wall clock in seconds since the epoch, with nanoseconds (tallyd's clock too).
now_s() { date +%s.%N; }

# answered_before T NAME : the answer that just came back came back before T (seconds since the
# epoch), so the server handled it before T. When not, prints that the check NAME is skipped
# and fails: on a machine too loaded to ask in time the answer proves nothing either way.
answered_before() {
    local n
    n=$(now_s)
    awk -v t="$1" -v n="$n" 'BEGIN {exit !(n < t)}' && return 0
    echo "skip: $2 (the answer came back $(awk -v t="$1" -v n="$n" 'BEGIN {printf "%.2f", n - t}') s too late)"
    return 1
}

# sleep_until T : sleeps until T (seconds since the epoch); not at all when T has passed.
sleep_until() {
    sleep "$(awk -v t="$1" -v n="$(now_s)" 'BEGIN {d = t - n; print (d > 0 ? d : 0)}')"
}

# set_tier USER_ID TIER [KEY]
set_tier() {
    TOKEN=$ADMIN_TOKEN IKEY=${3:-} api POST "/v1/admin/users/$1/kyc" "{\"tier\": \"$2\"}"
}

tl_admin_token "$WORK/admin.token"

# ---------------------------------------------------------------------------------------------
# main: the limits of three tiers

if ! TALLY_LIMITS_UNVERIFIED="send=100.00,receive=250.00,hold=300.00" \
    TALLY_LIMITS_VERIFIED="send=1000.00,receive=5000.00,hold=3000.00" \
    TALLY_LIMITS_WINDOW_S=3600 \
    tl_start main --sandbox --threads 16 --admin-token-file "$WORK/admin.token"; then
    echo "0 passed, 1 failed"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"

TOKEN= api GET /v1/me/limits
expect_problem "limits need a session" 401 unauthorized

new_user alice_l || fail "sign up alice"
ALICE=$TOK
ALICE_ID=$UID_
new_user bob_l || fail "sign up bob"
BOB=$TOK
new_user carol_l || fail "sign up carol"
CAROL=$TOK
new_user dave_l || fail "sign up dave"
DAVE=$TOK
new_user frank_l || fail "sign up frank"
FRANK=$TOK
new_user gina_l || fail "sign up gina"
GINA=$TOK
new_user hank_l || fail "sign up hank"
HANK=$TOK
HANK_ID=$UID_

TOKEN=$ALICE api GET /v1/me/limits
expect "fresh limits" 200 '.tier == "unverified" and .window_s == 3600
    and (.wallets | length) == 1 and .wallets[0].currency == "USD"
    and .wallets[0].send == {limit: 10000, used: 0, remaining: 10000, frees_at: null}
    and .wallets[0].receive == {limit: 25000, used: 0, remaining: 25000, frees_at: null}
    and .wallets[0].hold == {limit: 30000, used: 0, remaining: 30000}'
sample Limits fresh

# ---- hold limit on deposits ----
deposit "$ALICE" 30001
expect_problem "deposit past the hold limit" 422 tier_limit_exceeded hold
check_eq "the refused deposit moved nothing" 0 "$(bal "$ALICE")"
deposit "$ALICE" 30000
expect "deposit up to the hold limit" 201
check_eq "hold used" 30000 "$(limits "$ALICE" '.wallets[0].hold.used')"
check_eq "hold remaining" 0 "$(limits "$ALICE" '.wallets[0].hold.remaining')"

# ---- 16 concurrent sends of 10.00 under a 100.00 send limit ----
mkdir -p "$WORK/race"
race_pids=()
for i in $(seq 1 16); do
    url=$(tl_url)
    curl -s -o "$WORK/race/$i.body" -w '%{http_code}' --max-time 20 -X POST \
        -H "Authorization: Bearer $ALICE" -H "Content-Type: application/json" \
        -H "Idempotency-Key: race-$i" \
        --data-binary '{"to": "@bob_l", "amount": 1000, "currency": "USD"}' \
        "$url/v1/payments" >"$WORK/race/$i.status" &
    race_pids+=("$!")
    TL_JOBS+=("$!")
done
wait "${race_pids[@]}"
ok=0
refused=0
other=0
refused_key=
for i in $(seq 1 16); do
    s=$(cat "$WORK/race/$i.status")
    if [ "$s" = 201 ]; then
        ok=$((ok + 1))
    elif [ "$s" = 422 ] && [ "$(jq -r '.code + "/" + .param' "$WORK/race/$i.body")" = \
        "tier_limit_exceeded/send" ]; then
        refused=$((refused + 1))
        refused_key=race-$i
    else
        other=$((other + 1))
        echo "race $i: $s $(cat "$WORK/race/$i.body")"
    fi
done
check_eq "concurrent sends that fit the window" 10 "$ok"
check_eq "concurrent sends refused for the send limit" 6 "$refused"
check_eq "no other answers" 0 "$other"
check_eq "payer's balance after 10 payments" 20000 "$(bal "$ALICE")"
check_eq "payee's balance after 10 payments" 10000 "$(bal "$BOB")"
TOKEN=$ALICE api GET "/v1/payments?direction=sent&limit=100"
expect "exactly 10 payments were recorded" 200 '(.data | length) == 10'
TOKEN=$ALICE api GET /v1/me/limits
expect "send window used up" 200 '.wallets[0].send.limit == 10000
    and .wallets[0].send.used == 10000 and .wallets[0].send.remaining == 0
    and (.wallets[0].send.frees_at | type) == "string"
    and .wallets[0].hold.used == 20000'
sample Limits used
TOKEN=$BOB api GET /v1/me/limits
expect "receive window of the payee" 200 '.wallets[0].receive.used == 10000
    and .wallets[0].receive.remaining == 15000 and .wallets[0].send.used == 0'
if [ -n "$refused_key" ]; then
    TOKEN=$ALICE IKEY=$refused_key api POST /v1/payments \
        '{"to": "@bob_l", "amount": 1000, "currency": "USD"}'
    expect "a refused key replays its refusal (the first answer, request id included)" 422 \
        '.code == "tier_limit_exceeded" and .param == "send"'
    check_eq "the replay is marked" true "$(header Idempotent-Replayed)"
fi
# The same with escrows and payments mixed: a hold counts as a send when created.
new_user mix_l || fail "sign up mix"
MIX=$TOK
new_user mixto_l || fail "sign up mixto"
deposit "$MIX" 20000
mix_pids=()
for i in $(seq 1 16); do
    path=/v1/payments
    [ $((i % 2)) -eq 0 ] && path=/v1/escrows
    url=$(tl_url)
    curl -s -o "$WORK/race/mix$i.body" -w '%{http_code}' --max-time 20 -X POST \
        -H "Authorization: Bearer $MIX" -H "Content-Type: application/json" \
        -H "Idempotency-Key: mix-$i" \
        --data-binary '{"to": "@mixto_l", "amount": 1000, "currency": "USD"}' \
        "$url$path" >"$WORK/race/mix$i.status" &
    mix_pids+=("$!")
    TL_JOBS+=("$!")
done
wait "${mix_pids[@]}"
ok=0
refused=0
for i in $(seq 1 16); do
    s=$(cat "$WORK/race/mix$i.status")
    if [ "$s" = 201 ]; then
        ok=$((ok + 1))
    elif [ "$s" = 422 ] && [ "$(jq -r '.code + "/" + .param' "$WORK/race/mix$i.body")" = \
        "tier_limit_exceeded/send" ]; then
        refused=$((refused + 1))
    else
        echo "mix $i: $s $(cat "$WORK/race/mix$i.body")"
    fi
done
check_eq "concurrent escrows and payments that fit the window" "10 6" "$ok $refused"
check_eq "what they paid and held" 10000 "$(bal "$MIX")"
check_eq "the send window is exactly full" "10000 0" \
    "$(limits "$MIX" '"\(.wallets[0].send.used) \(.wallets[0].send.remaining)"')"
pay "$ALICE" hank_l 1
expect_problem "one more cent is refused" 422 tier_limit_exceeded send
check_eq "nothing moved for it" 20000 "$(bal "$ALICE")"

# ---- hold limit on receive ----
deposit "$CAROL" 25000
expect "carol deposits 250.00" 201
deposit "$DAVE" 10000
expect "dave deposits 100.00" 201
pay "$DAVE" carol_l 5001
expect_problem "a payment past the payee's hold limit" 422 tier_limit_exceeded hold
check_eq "refused: payer unchanged" 10000 "$(bal "$DAVE")"
check_eq "refused: payee unchanged" 25000 "$(bal "$CAROL")"
pay "$DAVE" carol_l 5000
expect "up to the payee's hold limit" 201
check_eq "payee at the hold limit" 30000 "$(bal "$CAROL")"

# ---- receive limit ----
deposit "$FRANK" 10000
pay "$FRANK" bob_l 10000
expect "bob receives a second 100.00" 201
deposit "$GINA" 10000
pay "$GINA" bob_l 5001
expect_problem "a payment past the payee's receive window" 422 tier_limit_exceeded receive
check_eq "refused: payee unchanged" 20000 "$(bal "$BOB")"
pay "$GINA" bob_l 5000
expect "up to the receive limit" 201
check_eq "bob's receive remaining" 0 "$(limits "$BOB" '.wallets[0].receive.remaining')"

# ---- operator: tiers ----
TOKEN= api POST "/v1/admin/users/$ALICE_ID/kyc" '{"tier": "verified"}'
expect_problem "kyc without a token" 401 unauthorized
TOKEN=$ALICE api POST "/v1/admin/users/$ALICE_ID/kyc" '{"tier": "verified"}'
expect_problem "kyc with a user's token" 401 unauthorized
set_tier user_01h455vb4pex5vsknk084sn02q verified
expect_problem "kyc of an unknown user" 404 not_found
set_tier "$ALICE_ID" gold
expect_problem "an unknown tier" 400 invalid_request tier
TOKEN=$ADMIN_TOKEN api POST "/v1/admin/users/$ALICE_ID/kyc" '{"tier": "verified", "x": 1}'
expect_problem "an unknown field" 400 invalid_request x
check_eq "nothing changed yet" unverified "$(limits "$ALICE" .tier)"
set_tier "$ALICE_ID" verified kyc-alice-1
expect "alice verified" 200 '.tier == "verified" and .user_id == "'"$ALICE_ID"'"
    and (.updated_at | type) == "string"'
sample KycTier
first=$BODY
set_tier "$ALICE_ID" verified kyc-alice-1
check_eq "kyc replayed" true "$(header Idempotent-Replayed)"
check_eq "kyc replay body" "$first" "$BODY"
TOKEN=$ALICE api GET /v1/me/limits
expect "verified limits" 200 '.tier == "verified" and .wallets[0].send.limit == 100000
    and .wallets[0].send.used == 10000 and .wallets[0].send.remaining == 90000
    and .wallets[0].hold.limit == 300000'
pay "$ALICE" hank_l 5000
expect "a send refused before passes after the upgrade" 201
TOKEN=$ALICE api GET "/v1/me/audit?limit=5"
expect "the tier change is in the user's audit log" 200 \
    '[.data[] | select(.action == "kyc.tier_set")] | length == 1'
# Business: no limits at all.
set_tier "$HANK_ID" business
expect "hank business" 200 '.tier == "business"'
deposit "$HANK" 1000000
expect "a business deposit past every other hold limit" 201
TOKEN=$HANK api GET /v1/me/limits
expect "business limits are null" 200 '.tier == "business" and .wallets[0].send == null
    and .wallets[0].receive == null and .wallets[0].hold == null'
sample Limits business
# Back down: the lower limits apply again at once.
set_tier "$HANK_ID" unverified
deposit "$HANK" 1
expect_problem "after a downgrade the hold limit applies" 422 tier_limit_exceeded hold

# ---- every way money moves (docs/api.md, "Limits") ----
# escrow TOKEN BODY : POST /v1/escrows; sets ESC on 201.
escrow() {
    TOKEN=$1 api POST /v1/escrows "$2"
    ESC=$(jqb '.id // ""')
}

echo "-- escrows: the hold counts toward the payer's send window, the release the payee's"
new_user esa_l || fail "sign up esa"
ESA=$TOK
new_user esb_l || fail "sign up esb"
ESB=$TOK
deposit "$ESA" 30000
escrow "$ESA" '{"to": "@esb_l", "amount": 6000, "currency": "USD"}'
expect "an escrow of 60.00" 201 '.status == "held"'
E_CANCEL=$ESC
check_eq "the hold counts toward the send window" 6000 "$(limits "$ESA" '.wallets[0].send.used')"
pay "$ESA" esb_l 5000
expect_problem "a payment past what the hold left of the send window" 422 tier_limit_exceeded send
escrow "$ESA" '{"to": "@esb_l", "amount": 4001, "currency": "USD"}'
expect_problem "an escrow past the send window" 422 tier_limit_exceeded send
check "its refusal names the escrow" jq -e '.detail | startswith("the escrow would")' <<<"$BODY"
TOKEN=$ESA api GET "/v1/escrows?role=payer"
expect "the refused escrow left no row" 200 '(.data | length) == 1'
check_eq "the refused escrow held nothing" 24000 "$(bal "$ESA")"
escrow "$ESA" '{"to": "@esb_l", "amount": 4000, "currency": "USD"}'
expect "an escrow of exactly the rest" 201
E_RELEASE=$ESC
TOKEN=$ESA api POST "/v1/escrows/$E_CANCEL/cancel"
expect "the payer cancels the first" 200 '.status == "canceled"'
check_eq "a cancel gives back no send allowance (gross)" 10000 \
    "$(limits "$ESA" '.wallets[0].send.used')"
pay "$ESA" esb_l 1
expect_problem "so a cent more is still refused" 422 tier_limit_exceeded send
TOKEN=$ESA api POST "/v1/escrows/$E_RELEASE/release"
expect "the payer releases the second" 200 '.status == "released"'
check_eq "the release does not count toward the payer's send window again" 10000 \
    "$(limits "$ESA" '.wallets[0].send.used')"
check_eq "it counts toward the payee's receive window" 4000 \
    "$(limits "$ESB" '.wallets[0].receive.used')"

echo "-- escrow releases: the payee's receive window and hold limit"
new_user esc_l || fail "sign up esc"
ESC_T=$TOK
new_user esd_l || fail "sign up esd"
ESD=$TOK
new_user ese_l || fail "sign up ese"
ESE=$TOK
for payer in "$ESD" "$ESE"; do
    deposit "$payer" 10000
    pay "$payer" esc_l 10000
    expect "esc receives 100.00" 201
done
new_user esf_l || fail "sign up esf"
ESF=$TOK
deposit "$ESF" 10000
escrow "$ESF" '{"to": "@esc_l", "amount": 6000, "currency": "USD"}'
expect "an escrow to a payee with 50.00 of receive window left" 201
TOKEN=$ESF api POST "/v1/escrows/$ESC/release"
expect_problem "its release past the payee's receive window" 422 tier_limit_exceeded receive
check "the refusal names the release" jq -e '.detail | startswith("the release would")' <<<"$BODY"
TOKEN=$ESF api GET "/v1/escrows/$ESC"
expect "still held" 200 '.status == "held" and .released_amount == 0'
check_eq "the payee got nothing" 20000 "$(bal "$ESC_T")"
TOKEN=$ESF IKEY=rel-part api POST "/v1/escrows/$ESC/release" '{"amount": 5000}'
expect "a release of what fits" 200 '.status == "released" and .released_amount == 5000
    and .refunded_amount == 1000'
check_eq "the payee got 50.00" 25000 "$(bal "$ESC_T")"
check_eq "the payer got 10.00 back" 5000 "$(bal "$ESF")"
new_user esg_l || fail "sign up esg"
ESG=$TOK
deposit "$ESG" 28000
escrow "$ESF" '{"to": "@esg_l", "amount": 3000, "currency": "USD"}'
expect "an escrow to a payee at 280.00 of 300.00" 201
TOKEN=$ESF api POST "/v1/escrows/$ESC/release"
expect_problem "its release past the payee's hold limit" 422 tier_limit_exceeded hold
TOKEN=$ESF api POST "/v1/escrows/$ESC/release" '{"amount": 2000}'
expect "a release up to the hold limit" 200 '.released_amount == 2000'
check_eq "the payee at the hold limit" 30000 "$(bal "$ESG")"
new_user esh_l || fail "sign up esh"
ESH=$TOK
deposit "$ESH" 10000
escrow "$ESH" "{\"to\": \"@esg_l\", \"amount\": 100, \"currency\": \"USD\", \"release\": {\"at\": \"$(iso_in 1)\"}, \"expires_in_s\": 4}"
expect "a timed escrow to a payee at the hold limit" 201
E_TIMED=$ESC
E_TIMED_EXPIRES=$(date -d "$(jqb .expires_at)" +%s.%N)
sleep 2.5
TOKEN=$ESH api GET "/v1/escrows/$E_TIMED"
# "held" is the right answer only before expires_at (4 s after the hold).
if answered_before "$E_TIMED_EXPIRES" "the timed release waits while the hold limit refuses it"; then
    expect "tallyd's timed release waits while the hold limit refuses it" 200 '.status == "held"'
fi
# Polled: the status turns at expires_at, but a loaded machine may ask late or slowly.
deadline=$((SECONDS + 10))
while TOKEN=$ESH api GET "/v1/escrows/$E_TIMED" && [ "$(jqb .status)" = held ] &&
    [ $SECONDS -lt $deadline ]; do
    sleep 0.2
done
expect "and the hold expires back to the payer" 200 '.status == "expired"'
# The money comes back only when the writer's expiry sweep (about every second) commits, which
# can be after the status (read off the clock) already says "expired".
deadline=$((SECONDS + 10))
until [ "$(bal "$ESH")" = 10000 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
check_eq "the payer has it back" 10000 "$(bal "$ESH")"

echo "-- conversions: the hold limit of the wallet they credit, in its currency's units"
TOKEN=$ADMIN_TOKEN api POST /v1/admin/fx/rates '{"base": "USD", "quote": "JPY", "rate": "151.25"}'
expect "a USD to JPY rate" 201
new_user cva_l || fail "sign up cva"
CVA=$TOK
deposit "$CVA" 10000
TOKEN=$CVA api POST /v1/wallets '{"currency": "JPY"}'
expect "a JPY wallet" 201
TOKEN=$CVA IKEY=conv-big api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 1000}'
expect_problem "1,000 yen is more than the 300 yen hold limit" 422 tier_limit_exceeded hold
check "the refusal names the conversion" jq -e '.detail | startswith("the conversion would")' <<<"$BODY"
check_eq "nothing converted" 10000 "$(bal "$CVA")"
TOKEN=$CVA IKEY=conv-big api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 1000}'
expect "the refusal replays" 422 '.code == "tier_limit_exceeded"'
TOKEN=$CVA api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 100}'
expect "100 yen fit" 201 '.received == 100'
TOKEN=$CVA api GET /v1/me/limits
expect "the JPY wallet's limits in yen" 200 '[.wallets[] | select(.currency == "JPY")][0]
    | .hold == {limit: 300, used: 100, remaining: 200} and .send.limit == 100
    and .receive.used == 0'

echo "-- refunds and reversals are never blocked by limits and count nowhere"
new_user rfa_l || fail "sign up rfa"
RFA=$TOK
new_user rfb_l || fail "sign up rfb"
RFB=$TOK
new_user rfc_l || fail "sign up rfc"
deposit "$RFA" 30000
pay "$RFA" rfb_l 5000
expect "rfa pays rfb 50.00" 201
P_REFUND=$(jqb .id)
pay "$RFA" rfb_l 4000
expect "and 40.00" 201
P_REVERSE=$(jqb .id)
deposit "$RFA" 9000
expect "rfa back at the hold limit" 201
deposit "$RFB" 6000
pay "$RFB" rfc_l 10000
expect "rfb uses up its send window" 201
TOKEN=$RFB api POST "/v1/payments/$P_REFUND/refunds" '{"amount": 5000}'
expect "a refund to a payer at the hold limit, from a payee with no send window left" 201
check_eq "the payer holds past the limit" 35000 "$(bal "$RFA")"
check_eq "a refund counts toward no receive window" 0 "$(limits "$RFA" '.wallets[0].receive.used')"
check_eq "nor the refunder's send window" 10000 "$(limits "$RFB" '.wallets[0].send.used')"
check_eq "nor gives the payer's send allowance back" 9000 "$(limits "$RFA" '.wallets[0].send.used')"
deposit "$RFA" 1
expect_problem "over the hold limit, more money in is refused" 422 tier_limit_exceeded hold
TOKEN=$ADMIN_TOKEN api POST "/v1/admin/payments/$P_REVERSE/reverse" '{"reason": "fraud"}'
expect "an operator reversal to a payer past the hold limit" 201 '.amount == 4000'
check_eq "the reversal moved the money" 39000 "$(bal "$RFA")"
check_eq "and counts toward no window" 0 "$(limits "$RFA" '.wallets[0].receive.used')"

echo "-- payment requests, splits and scheduled payments are payments"
new_user rqa_l || fail "sign up rqa"
RQA=$TOK
new_user rqb_l || fail "sign up rqb"
RQB=$TOK
deposit "$RQA" 20000
pay "$RQA" rqb_l 9000
expect "rqa sends 90.00" 201
TOKEN=$RQB api POST /v1/payment_requests '{"from": "@rqa_l", "amount": 2000, "currency": "USD"}'
expect "rqb asks rqa for 20.00" 201
REQ=$(jqb .id)
TOKEN=$RQA api POST "/v1/payment_requests/$REQ/pay"
expect_problem "paying it would pass the send window" 422 tier_limit_exceeded send
TOKEN=$RQB api POST /v1/splits '{"total": 2000, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@rqa_l"}, {"user": "@esa_l"}]}'
expect "rqb splits 20.00 with rqa and esa" 201
SHARE=$(jq -r '[.requests[] | select(.payer.handle == "rqa_l")][0].id' <<<"$BODY")
TOKEN=$RQA api POST "/v1/payment_requests/$SHARE/pay"
expect "a 10.00 share fits exactly" 201
TOKEN=$RQA api POST /v1/scheduled_payments "{\"to\": \"@rqb_l\", \"amount\": 1, \"currency\": \"USD\", \"start_at\": \"$(iso_in 1)\", \"repeat\": \"none\"}"
expect "a scheduled cent" 201
SCH=$(jqb .id)
for _ in $(seq 1 60); do
    TOKEN=$RQA api GET "/v1/scheduled_payments/$SCH"
    # Claimed first ("running"), then finished.
    jq -e '.occurrences[0].status == "succeeded" or .occurrences[0].status == "skipped"' \
        <<<"$BODY" >/dev/null 2>&1 && break
    sleep 0.2
done
expect "the scheduled payment is refused by the send window" 200 \
    '.occurrences[0].status == "skipped" and .occurrences[0].reason == "tier_limit_exceeded"'
check_eq "nothing moved for it" 10000 "$(bal "$RQA")"

# ---------------------------------------------------------------------------------------------
# roll: the window rolls

if ! TALLY_LIMITS_UNVERIFIED="send=10.00" TALLY_LIMITS_WINDOW_S=2 tl_start roll --sandbox; then
    fail "start roll"
else
    BASE="http://127.0.0.1:$PORT"
    new_user ivy_r || fail "sign up ivy"
    IVY=$TOK
    new_user jack_r || fail "sign up jack"
    deposit "$IVY" 5000
    # The window counts whole buckets: the send frees at its bucket's end + 2 s, at most 3 s
    # after it was made, never before 2 s (conservative). t0 and t1 bracket the server's time
    # of the payment; "full" holds only for answers that came back before the window can free,
    # which a loaded machine may miss (answered_before then skips the check).
    t0=$(now_s)
    pay "$IVY" jack_r 1000
    expect "the window's whole limit" 201
    t1=$(now_s)
    earliest=$(awk -v t="$t0" 'BEGIN {printf "%.9f", t + 2}')
    # rolled: when every send made here has left the window (the latest the payment can free
    # until frees_at is known); late_paid: probes that came back too late to check and went
    # through, the window having freed: each moved 1.00 and counts for up to 3 s after it.
    rolled=$(awk -v t="$t1" 'BEGIN {printf "%.9f", t + 3.2}')
    late_paid=0
    late_probe() {
        [ "$STATUS" = 201 ] || return 0
        late_paid=$((late_paid + 1))
        rolled=$(awk -v t="$(now_s)" 'BEGIN {printf "%.9f", t + 3.2}')
    }
    pay "$IVY" jack_r 100
    if answered_before "$earliest" "the window is full"; then
        expect_problem "the window is full" 422 tier_limit_exceeded send
    else
        late_probe
    fi
    frees=$(limits "$IVY" '.wallets[0].send.frees_at')
    if answered_before "$earliest" "frees_at is a time and the window full until it"; then
        check "frees_at is a time" test "$frees" != null
        if frees_s=$(date -d "$frees" +%s.%N 2>/dev/null) && [ "$frees" != null ]; then
            check "frees_at is 2-3 s after the payment" awk -v f="$frees_s" -v t0="$t0" \
                -v t1="$t1" 'BEGIN {exit !(f - t0 > 1.9 && f - t1 <= 3.1)}'
            rolled=$(awk -v f="$frees_s" 'BEGIN {printf "%.9f", f + 0.2}')
            # Half a second before frees_at the window must still be full.
            sleep_until "$(awk -v f="$frees_s" 'BEGIN {printf "%.9f", f - 0.5}')"
            pay "$IVY" jack_r 100
            if answered_before "$frees_s" "still full before the window passed"; then
                expect_problem "still full before the window passed" 422 tier_limit_exceeded send
            else
                late_probe
            fi
        fi
    fi
    check_eq "one-second buckets for a 2 s window" "1 whole_buckets" \
        "$(limits "$IVY" '"\(.bucket_s) \(.window_rounding)"')"
    sleep_until "$rolled"
    TOKEN=$IVY api GET /v1/me/limits
    expect "the window rolled" 200 '.wallets[0].send.used == 0
        and .wallets[0].send.frees_at == null'
    pay "$IVY" jack_r 100
    expect "a send passes once the window rolled" 201
    check_eq "balance after the rolled window" $((3900 - 100 * late_paid)) "$(bal "$IVY")"
fi

# ---------------------------------------------------------------------------------------------
# plain: no [limits] (the default) limits nothing

if ! tl_start plain --sandbox; then
    fail "start plain"
else
    BASE="http://127.0.0.1:$PORT"
    new_user kim_p || fail "sign up kim"
    KIM=$TOK
    TOKEN=$KIM api GET /v1/me/limits
    expect "no limits configured" 200 '.tier == "unverified" and .window_s == 604800
        and .wallets[0].send == null and .wallets[0].receive == null
        and .wallets[0].hold == null'
    deposit "$KIM" 100000000
    expect "a large deposit without limits" 201
fi

# ---------------------------------------------------------------------------------------------
# SQLite: a schema v4 database migrates to v5 with user_tiers, and the tiers work on it

if [ -z "${TL_PG_CONNINFO:-}" ] && command -v sqlite3 >/dev/null; then
    mkdir -p "$WORK/v4"
    chmod 700 "$WORK/v4"
    tl_sqlite_v4_db "$WORK/v4"
    check_eq "made a v4 database" 4 "$(sqlite3 "$WORK/v4/tally.db" 'PRAGMA user_version')"
    check "tallyd migrate applies v5 and later" "$TALLYD" migrate --data-dir "$WORK/v4"
    check_eq "now current" "$TL_SCHEMA_VERSION" "$(sqlite3 "$WORK/v4/tally.db" 'PRAGMA user_version')"
    check_eq "with user_tiers" 1 \
        "$(sqlite3 "$WORK/v4/tally.db" "SELECT count(*) FROM sqlite_master WHERE name = 'user_tiers'")"
fi

# ---------------------------------------------------------------------------------------------
# A schema v5 database with payments and escrows migrates to v6 with running totals that match
# them (the backfill of *_006_limits.sql): SQLite through tallyd migrate and on open, PostgreSQL
# through tallyd migrate.

NOW_NS=$(date +%s%N)
# v5_rows X : the INSERTs of the v5 rows; X formats a 16-byte id from one hex byte ("x'%s'" for
# SQLite, "'\\x%s'::bytea" for PostgreSQL). Users 01, 02, 03; USD (840).
v5_rows() {
    local u1 u2 u3 id
    id() { local h; h=$(printf '%02x' "$1"); printf "$X" "$(printf "$h%.0s" $(seq 1 16))"; }
    X=$1
    u1=$(id 1) u2=$(id 2) u3=$(id 3)
    pay_row() { # ID FROM TO AMOUNT AGE_MS
        echo "INSERT INTO payments (created_ns, id, from_user, to_user, from_wallet, to_wallet,
            amount, fee, currency, status, sender_available_after, recipient_available_after,
            to_text, note) VALUES ($((NOW_NS - $5 * 1000000)), $(id "$1"), $2, $3, $(id 201),
            $(id 202), $4, 0, 840, 1, 0, 0, 'x', '');"
    }
    esc_row() { # ID SETTLE PAYER PAYEE AMOUNT AGE_MS
        echo "INSERT INTO escrows (id, payer_id, payee_id, payer_wallet, payee_wallet, amount,
            currency, release_mode, release_at_ns, expires_ns, settle_id, payer_approved_ns,
            payee_approved_ns, to_text, note, created_ns) VALUES ($(id "$1"), $3, $4, $(id 201),
            $(id 202), $5, 840, 1, 0, $((NOW_NS + 86400000000000)), $(id "$2"), 0, 0, 'x', '',
            $((NOW_NS - $6 * 1000000)));"
    }
    pay_row 101 "$u1" "$u2" 1000 100000     # 100 s ago
    pay_row 102 "$u1" "$u2" 500 100300
    pay_row 103 "$u2" "$u3" 700 10000
    pay_row 104 "$u1" "$u2" 9999 34560000000 # 400 days ago: no window reaches it
    esc_row 111 112 "$u1" "$u3" 300 50000   # released: its payment row 112 below
    pay_row 112 "$u1" "$u3" 300 40000
    esc_row 113 114 "$u1" "$u2" 200 30000   # still held
}
# Per user byte and direction: sum, movements, whole-second bucket ends after each movement.
V6_EXPECT="1 1 2000 4
2 1 700 1
2 2 1500 2
3 2 1000 2"
V6_QUERY="SELECT get_byte_or_substr, direction, sum(amount), sum(count) FROM limit_totals
    GROUP BY 1, 2 ORDER BY 1, 2"

if [ -z "${TL_PG_CONNINFO:-}" ] && command -v sqlite3 >/dev/null; then
    mkdir -p "$WORK/v5"
    chmod 700 "$WORK/v5"
    tl_sqlite_v5_db "$WORK/v5"
    v5_rows "x'%s'" | sqlite3 "$WORK/v5/tally.db"
    check_eq "made a v5 database with payments" "5 5" \
        "$(sqlite3 "$WORK/v5/tally.db" 'PRAGMA user_version') $(sqlite3 "$WORK/v5/tally.db" \
            'SELECT count(*) FROM payments')"
    cp -a "$WORK/v5" "$WORK/v5open"
    check "tallyd migrate applies v6 and later" "$TALLYD" migrate --data-dir "$WORK/v5"
    check_eq "now current" "$TL_SCHEMA_VERSION" "$(sqlite3 "$WORK/v5/tally.db" 'PRAGMA user_version')"
    check_eq "backfilled totals (SQLite)" "$V6_EXPECT" "$(sqlite3 -separator ' ' "$WORK/v5/tally.db" \
        "${V6_QUERY/get_byte_or_substr/unicode(substr(user_id, 1, 1))}")"
    check_eq "whole-second buckets that end after their movements" 0 \
        "$(sqlite3 "$WORK/v5/tally.db" "SELECT count(*) FROM limit_totals WHERE end_ns % 1000000000 != 0
            OR end_ns <= $NOW_NS - 100300000000 OR end_ns > $NOW_NS + 1000000000")"
    if TALLY_LIMITS_UNVERIFIED="send=100.00" tl_start v5open --sandbox; then
        check_eq "a v5 database migrates on open" "$TL_SCHEMA_VERSION" \
            "$(sqlite3 "$WORK/v5open/tally.db" 'PRAGMA user_version')"
        check_eq "with the same totals" "$V6_EXPECT" "$(sqlite3 -separator ' ' "$WORK/v5open/tally.db" \
            "${V6_QUERY/get_byte_or_substr/unicode(substr(user_id, 1, 1))}")"
        tl_stop "$PID"
    else
        fail "start on a v5 database"
    fi
fi
if [ -n "${TL_PG_CONNINFO:-}" ]; then
    psql_bin=${TL_PSQL:-$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)}
    v5db="tl_v5_$$"
    pgq() { "$psql_bin" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 "$@"; }
    if pgq -c "CREATE DATABASE $v5db" "$TL_PG_CONNINFO" >/dev/null 2>"$WORK/v5pg.log"; then
        {
            for f in "$root"/src/store/migrations/postgres_00[1-5]_*.sql; do cat "$f"; echo; done
            echo "CREATE TABLE schema_version (one boolean PRIMARY KEY DEFAULT true CHECK (one),
                version integer NOT NULL CHECK (version >= 0));
                INSERT INTO schema_version (version) VALUES (5);"
            v5_rows "'\\x%s'::bytea"
        } | pgq "$TL_PG_CONNINFO dbname=$v5db" >/dev/null 2>>"$WORK/v5pg.log"
        check_eq "made a v5 PostgreSQL database with payments" 5 \
            "$(pgq -c 'SELECT count(*) FROM payments' "$TL_PG_CONNINFO dbname=$v5db")"
        check "tallyd migrate applies v6 (PostgreSQL)" "$TALLYD" migrate --data-dir "$WORK/v5pg" \
            --store-backend postgres --store-path "$TL_PG_CONNINFO dbname=$v5db"
        check_eq "now current (PostgreSQL)" "$TL_SCHEMA_VERSION" \
            "$(pgq -c 'SELECT version FROM schema_version' "$TL_PG_CONNINFO dbname=$v5db")"
        check_eq "backfilled totals (PostgreSQL)" "$V6_EXPECT" "$(pgq -c \
            "${V6_QUERY/get_byte_or_substr/get_byte(user_id, 0)}" "$TL_PG_CONNINFO dbname=$v5db")"
    else
        fail "create a PostgreSQL database: $(cat "$WORK/v5pg.log")"
    fi
fi

# The bodies kept by sample must match their schemas in docs/openapi.yaml.
if command -v python3 >/dev/null && [ -d "$WORK/samples" ]; then
    if python3 "$root/tests/api/check_schemas.py" "$root/docs/openapi.yaml" "$WORK/samples"; then
        pass
    else
        fail "response bodies match docs/openapi.yaml"
    fi
fi

tl_summary
[ "$FAILED" -eq 0 ]
