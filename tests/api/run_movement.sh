#!/usr/bin/env bash
# run_movement.sh BUILD_DIR [ASAN_DIR] - fees, quotes, payment requests and splits over HTTP
# (docs/api.md "Fees and quotes", "Payment requests", "Splits"), against real tallyd processes
# on loopback ports, each with a fresh data dir:
#
#   main   --sandbox with fee schedules: exact fee rounding tables through quotes in JPY (0
#          decimals), USD (2) and KWD (3), minimum and maximum clamps, fixed parts, a payment
#          at a quote's terms, quote reuse and mismatch, requests paid / declined / canceled,
#          double pay (replay vs a second pay), wrong users, insufficient funds leaving a
#          request open, equal and custom splits with remainders
#   short  quotes.ttl_s and requests.ttl_s of 1 s: an expired quote and an expired request
#
# Prints one "FAIL: ..." line per failed check and closes with "N passed, M failed"; exits
# non-zero on any failure. Every server it starts is killed on exit.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-movement.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_movement.sh curl jq

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_RATELIMIT_LOOKUP_PER_MIN=1000000 TALLY_RATELIMIT_LOOKUP_BURST=100000

# new_user HANDLE : sign up and log in; sets TOK and UID_ (one check).
new_user() {
    tl_signup "$1" || { fail "sign up and log in $1: $STATUS $BODY"; return 1; }
    pass
}

deposit() {
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"USD\", \"source\": \"sandbox\"}"
}

bal() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$BASE/v1/wallets" |
        jq -r '[.data[] | select(.currency == "USD") | .balance.available] | first // "none"'
}

# quote TOKEN OPERATION AMOUNT CURRENCY [RECIPIENT]
quote() {
    local extra=""
    [ $# -ge 5 ] && extra=", \"recipient\": \"$5\""
    TOKEN=$1 api POST /v1/quotes \
        "{\"operation\": \"$2\", \"amount\": $3, \"currency\": \"$4\"$extra}"
}

# fee_row OPERATION CURRENCY AMOUNT FEE : one line of a rounding table, through a quote.
fee_row() {
    quote "$A" "$1" "$3" "$2"
    expect "quote $1 $3 $2 -> fee $4" 201 \
        ".fee == $4 and .amount == $3 and .sent == ($3 + $4) and .received == $3
         and .currency == \"$2\" and .rate == \"1\" and (.id | startswith(\"quo_\"))"
}

# ---------------------------------------------------------------------------------------------
# main

export TALLY_FEES_P2P="bps=100,min=0.10,max=5.00"
export TALLY_FEES_INSTANT_PAYOUT="bps=175,min=0.25,max=25.00"
export TALLY_FEES_CARD_FUNDING="bps=290,fixed=0.30"
tl_start main --sandbox || { echo "0 passed, 1 failed"; exit 1; }
BASE="http://127.0.0.1:$PORT"

new_user alice && A=$TOK && A_ID=$UID_
new_user bob && B=$TOK && B_ID=$UID_
new_user carol && C=$TOK
new_user dave && D=$TOK

# -- Fee rounding tables (half-up), instant payout 1.75 %, min 0.25, max 25.00 --
# USD, 2 decimals: min 25, max 2500
fee_row instant_payout USD 1 25
fee_row instant_payout USD 1428 25
fee_row instant_payout USD 1575 28
fee_row instant_payout USD 2000 35
fee_row instant_payout USD 10200 179
fee_row instant_payout USD 10257 179
fee_row instant_payout USD 142858 2500
# JPY, 0 decimals: min 0.25 -> 0 yen, max 25 yen
fee_row instant_payout JPY 1 0
fee_row instant_payout JPY 28 0
fee_row instant_payout JPY 29 1
fee_row instant_payout JPY 200 4
fee_row instant_payout JPY 1000 18
fee_row instant_payout JPY 2000 25
# KWD, 3 decimals: min 250, max 25000
fee_row instant_payout KWD 1000 250
fee_row instant_payout KWD 14286 250
fee_row instant_payout KWD 20000 350
fee_row instant_payout KWD 20029 351
fee_row instant_payout KWD 2000000 25000
# card funding 2.9 % + 0.30 (0.30 is 0 yen, 300 fils)
fee_row card_funding USD 10000 320
fee_row card_funding JPY 10000 290
fee_row card_funding KWD 10000 590
# standard payout is unconfigured: free
fee_row standard_payout USD 12345 0
# p2p 1 %, min 0.10, max 5.00
fee_row p2p USD 500 10
fee_row p2p USD 1050 11
fee_row p2p USD 1000000 500

quote "$A" fx 100 USD
expect_problem "an fx quote names its send_currency (tests/api/run_fx.sh has the rest)" 400 \
    invalid_request send_currency
quote "$A" wire 100 USD
expect_problem "unknown operation" 400 invalid_request operation
quote "$A" p2p 0 USD
expect_problem "zero amount" 400 invalid_amount amount
quote "$A" p2p 100 XXX
expect_problem "unknown currency" 400 unknown_currency currency
quote "$A" p2p 100 USD @nobody_here
expect_problem "quote to nobody" 422 recipient_not_found recipient
quote "$A" p2p 100 USD @alice
expect_problem "quote to self" 422 cannot_pay_self recipient
TOKEN= api POST /v1/quotes '{"operation": "p2p", "amount": 1, "currency": "USD"}'
expect_problem "quote needs auth" 401 unauthorized

# -- A payment at a quote's terms, then reuse --
deposit "$A" 100000
expect "alice deposits 1000.00" 201
quote "$A" p2p 2000 USD @bob
expect "alice quotes 20.00 to bob" 201 '.fee == 20 and .sent == 2020 and .recipient.handle == "bob"'
Q=$(jqb .id)
TOKEN=$A api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 2000, \"currency\": \"USD\", \"quote_id\": \"$Q\"}"
expect "payment at the quoted terms" 201 '.fee == 20 and .amount == 2000'
check_eq "alice paid 20.20" 97980 "$(bal "$A")"
check_eq "bob got 20.00" 2000 "$(bal "$B")"
TOKEN=$A api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 2000, \"currency\": \"USD\", \"quote_id\": \"$Q\"}"
expect_problem "a quote is single use" 409 quote_used quote_id
check_eq "nothing moved on reuse" 97980 "$(bal "$A")"
quote "$A" p2p 3000 USD @bob
Q2=$(jqb .id)
TOKEN=$A IKEY=q2-once api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 3000, \"currency\": \"USD\", \"quote_id\": \"$Q2\"}"
expect "quoted payment with a key" 201 '.fee == 30'
P2=$(jqb .id)
TOKEN=$A IKEY=q2-once api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 3000, \"currency\": \"USD\", \"quote_id\": \"$Q2\"}"
expect "same key replays the quoted payment" 201 ".id == \"$P2\""
check_eq "replay marked" true "$(header Idempotent-Replayed)"
check_eq "alice paid once more" 94950 "$(bal "$A")"
quote "$A" p2p 1000 USD @bob
Q3=$(jqb .id)
TOKEN=$A api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 999, \"currency\": \"USD\", \"quote_id\": \"$Q3\"}"
expect_problem "amount differs from the quote" 422 quote_mismatch quote_id
TOKEN=$A api POST /v1/payments "{\"to\": \"@carol\", \"amount\": 1000, \"currency\": \"USD\", \"quote_id\": \"$Q3\"}"
expect_problem "recipient differs from the quote" 422 quote_mismatch quote_id
quote "$A" instant_payout 1000 USD
Q4=$(jqb .id)
TOKEN=$A api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 1000, \"currency\": \"USD\", \"quote_id\": \"$Q4\"}"
expect_problem "a payout quote cannot pay a person" 422 quote_mismatch quote_id
TOKEN=$B api POST /v1/payments "{\"to\": \"@carol\", \"amount\": 1000, \"currency\": \"USD\", \"quote_id\": \"$Q3\"}"
expect_problem "someone else's quote is missing" 404 not_found quote_id
TOKEN=$A api POST /v1/payments "{\"to\": \"@bob\", \"amount\": 1000, \"currency\": \"USD\", \"quote_id\": \"quo_nonsense\"}"
expect_problem "a malformed quote id is missing" 404 not_found quote_id
check_eq "no refused quote moved money" 94950 "$(bal "$A")"
# Without a quote the p2p schedule applies: 1 % with a 0.10 minimum.
TOKEN=$A api POST /v1/payments '{"to": "@bob", "amount": 500, "currency": "USD"}'
expect "plain payment takes the schedule's minimum" 201 '.fee == 10'

# -- Payment requests --
preq() {
    TOKEN=$1 api POST /v1/payment_requests \
        "{\"from\": \"$2\", \"amount\": $3, \"currency\": \"USD\", \"note\": \"dinner\"}"
}
preq "$B" @alice 1500
expect "bob asks alice for 15.00" 201 \
    '.status == "open" and .amount == 1500 and .payer.handle == "alice"
     and .requester.handle == "bob" and .payment_id == null and (.id | startswith("preq_"))'
R1=$(jqb .id)
TOKEN=$A api GET "/v1/payment_requests?role=payer"
expect "alice sees it as payer" 200 "[.data[].id] | index(\"$R1\") != null"
TOKEN=$B api GET "/v1/payment_requests?role=requester"
expect "bob sees it as requester" 200 "[.data[].id] | index(\"$R1\") != null"
TOKEN=$B api GET "/v1/payment_requests?role=payer"
expect "bob is no payer of it" 200 "[.data[].id] | index(\"$R1\") == null"
TOKEN=$C api GET "/v1/payment_requests/$R1"
expect_problem "carol cannot see it" 404 not_found
TOKEN=$C api POST "/v1/payment_requests/$R1/pay"
expect_problem "carol cannot pay it" 404 not_found
TOKEN=$B api POST "/v1/payment_requests/$R1/pay"
expect_problem "the requester cannot pay it" 403 forbidden
TOKEN=$B api POST "/v1/payment_requests/$R1/decline"
expect_problem "the requester cannot decline it" 403 forbidden
TOKEN=$A api POST "/v1/payment_requests/$R1/cancel"
expect_problem "the payer cannot cancel it" 403 forbidden
a0=$(bal "$A")
b0=$(bal "$B")
TOKEN=$A IKEY=pay-r1 api POST "/v1/payment_requests/$R1/pay"
expect "alice pays the request" 201 '.amount == 1500 and .fee == 15 and .to.handle == "bob"'
PAY1=$(jqb .id)
TOKEN=$A IKEY=pay-r1 api POST "/v1/payment_requests/$R1/pay"
expect "the same key replays the pay" 201 ".id == \"$PAY1\""
TOKEN=$A api POST "/v1/payment_requests/$R1/pay"
expect_problem "a second pay" 409 request_paid
check_eq "alice paid once" $((a0 - 1515)) "$(bal "$A")"
check_eq "bob received once" $((b0 + 1500)) "$(bal "$B")"
TOKEN=$B api GET "/v1/payment_requests/$R1"
expect "bob sees it paid" 200 ".status == \"paid\" and .payment_id == \"$PAY1\" and .paid_at != null"
TOKEN=$A api GET "/v1/payments/$PAY1"
expect "the payment is listed like any other" 200 '.to.handle == "bob" and .note == "dinner"'
TOKEN=$A api POST "/v1/payment_requests/$R1/decline"
expect_problem "a paid request cannot be declined" 409 request_paid
TOKEN=$B api POST "/v1/payment_requests/$R1/cancel"
expect_problem "a paid request cannot be canceled" 409 request_paid

preq "$B" @alice 700
R2=$(jqb .id)
TOKEN=$A api POST "/v1/payment_requests/$R2/decline"
expect "alice declines" 200 '.status == "declined" and .closed_at != null'
TOKEN=$A api POST "/v1/payment_requests/$R2/pay"
expect_problem "a declined request cannot be paid" 409 request_declined
TOKEN=$B api POST "/v1/payment_requests/$R2/cancel"
expect_problem "a declined request cannot be canceled" 409 request_declined

preq "$B" @alice 800
R3=$(jqb .id)
TOKEN=$B api POST "/v1/payment_requests/$R3/cancel"
expect "bob cancels" 200 '.status == "canceled"'
TOKEN=$A api POST "/v1/payment_requests/$R3/pay"
expect_problem "a canceled request cannot be paid" 409 request_canceled

# Insufficient funds: carol has nothing; the request stays open and can be paid later.
preq "$D" @carol 5000
R4=$(jqb .id)
TOKEN=$C api POST "/v1/payment_requests/$R4/pay"
expect_problem "carol cannot afford it" 422 insufficient_funds
TOKEN=$C api GET "/v1/payment_requests/$R4"
expect "it stays open" 200 '.status == "open" and .payment_id == null'
TOKEN=$D api POST "/v1/payment_requests/$R4/cancel"
expect "dave can still cancel it (no claim is left)" 200 '.status == "canceled"'
preq "$D" @carol 5000
R5=$(jqb .id)
deposit "$C" 10000
TOKEN=$C api POST "/v1/payment_requests/$R5/pay"
expect "after a deposit carol pays" 201 '.amount == 5000 and .fee == 50'
check_eq "carol paid 50.50" 4950 "$(bal "$C")"

preq "$B" @bob 100
expect_problem "asking yourself" 422 cannot_request_self from
preq "$B" @nobody_here 100
expect_problem "asking nobody" 422 recipient_not_found from
TOKEN=$B api POST /v1/payment_requests '{"from": "@alice", "amount": 1.5, "currency": "USD"}'
expect_problem "fractional amount" 400 invalid_amount amount
TOKEN=$B api GET "/v1/payment_requests?role=boss"
expect_problem "bad role" 400 invalid_request role
TOKEN=$A api GET "/v1/payment_requests/preq_nonsense"
expect_problem "malformed id" 404 not_found
TOKEN=$A api GET "/v1/payment_requests?limit=1"
expect "paging" 200 '(.data | length) == 1 and .has_more == true'
first=$(jqb '.data[0].id')
TOKEN=$A api GET "/v1/payment_requests?limit=100&starting_after=$first"
expect "next page is older" 200 "[.data[].id] | index(\"$first\") == null and length > 0"

# -- Splits --
split() {
    TOKEN=$1 api POST /v1/splits "$2"
}
split "$A" '{"total": 1000, "currency": "USD", "note": "taxi", "mode": "equal",
  "participants": [{"user": "@bob"}, {"user": "@carol"}, {"user": "@dave"}]}'
expect "equal split of 10.00 in three" 201 \
    '(.id | startswith("split_")) and ([.requests[].amount] == [334, 333, 333])
     and ([.requests[].payer.handle] == ["bob", "carol", "dave"])
     and ([.requests[].split_id] | unique | length) == 1 and .requests[0].note == "taxi"'
SR=$(jqb '.requests[1].id')
split "$A" '{"total": 1001, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@dave"}, {"user": "@carol"}, {"user": "@bob"}]}'
expect "remainder 2 to the first two" 201 '[.requests[].amount] == [334, 334, 333]'
split "$A" '{"total": 2, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@dave"}, {"user": "@carol"}, {"user": "@bob"}]}'
expect_problem "too small to split" 400 invalid_amount total
split "$A" '{"total": 1000, "currency": "USD", "mode": "custom",
  "participants": [{"user": "@bob", "share": 600}, {"user": "@carol", "share": 400}]}'
expect "custom split" 201 '[.requests[].amount] == [600, 400] and .mode == "custom"'
split "$A" '{"total": 1000, "currency": "USD", "mode": "custom",
  "participants": [{"user": "@bob", "share": 600}, {"user": "@carol", "share": 399}]}'
expect_problem "custom shares must sum to the total" 400 shares_mismatch participants
split "$A" '{"total": 1000, "currency": "USD", "mode": "custom",
  "participants": [{"user": "@bob", "share": 600}, {"user": "@carol"}]}'
expect_problem "custom needs every share" 400 invalid_request participants
split "$A" '{"total": 1000, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@bob", "share": 500}, {"user": "@carol"}]}'
expect_problem "equal takes no shares" 400 invalid_request participants
split "$A" '{"total": 1000, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@bob"}, {"user": "@bob"}]}'
expect_problem "a participant twice" 400 invalid_request participants
split "$A" '{"total": 1000, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@bob"}, {"user": "@nobody_here"}]}'
expect_problem "unknown participant, nothing created" 422 recipient_not_found participants
split "$A" '{"total": 1000, "currency": "USD", "mode": "equal", "participants": []}'
expect_problem "no participants" 400 invalid_request participants
split "$A" '{"total": 1000, "currency": "USD", "mode": "halves", "participants": [{"user": "@bob"}]}'
expect_problem "bad mode" 400 invalid_request mode
TOKEN=$C api POST "/v1/payment_requests/$SR/pay"
expect "carol pays her share of the taxi" 201 '.amount == 333'

tl_stop "$PID"
unset TALLY_FEES_P2P TALLY_FEES_INSTANT_PAYOUT TALLY_FEES_CARD_FUNDING

# ---------------------------------------------------------------------------------------------
# short: expiry

TALLY_QUOTES_TTL_S=1 TALLY_REQUESTS_TTL_S=1 tl_start short --sandbox ||
    { tl_summary; exit 1; }
BASE="http://127.0.0.1:$PORT"
new_user erin && E=$TOK
new_user frank && F=$TOK
deposit "$E" 10000
quote "$E" p2p 100 USD @frank
Q=$(jqb .id)
TOKEN=$E api POST /v1/payments '{"to": "@frank", "amount": 100, "currency": "USD"}'
TOKEN=$F api POST /v1/payment_requests '{"from": "@erin", "amount": 100, "currency": "USD"}'
R=$(jqb .id)
TOKEN=$F api POST /v1/payment_requests '{"from": "@erin", "amount": 100, "currency": "USD"}'
RC=$(jqb .id)
sleep 1.2
TOKEN=$E api POST /v1/payments "{\"to\": \"@frank\", \"amount\": 100, \"currency\": \"USD\", \"quote_id\": \"$Q\"}"
expect_problem "an expired quote" 409 quote_expired quote_id
TOKEN=$E api POST "/v1/payment_requests/$R/pay"
expect_problem "an expired request cannot be paid" 409 request_expired
TOKEN=$E api GET "/v1/payment_requests/$R"
expect "it reads expired" 200 '.status == "expired"'
TOKEN=$F api POST "/v1/payment_requests/$RC/cancel"
expect_problem "an expired request cannot be canceled" 409 request_expired
check_eq "only the plain payment moved" 9900 "$(bal "$E")"

tl_summary
[ "$FAILED" -eq 0 ]
