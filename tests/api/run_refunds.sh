#!/usr/bin/env bash
# run_refunds.sh BUILD_DIR - refunds, operator reversals and disputes over HTTP (docs/api.md,
# "Refunds, reversals and disputes"): curl and jq against a real tallyd on a loopback port.
#
#   refunds     full, partial and several refunds, over-refund refused, the fee is not
#               refunded, payer 403 / stranger 404, bad input, idempotent replay, a refund the
#               payee's wallet cannot cover, 20 concurrent refunds of 60% each (exactly one
#               succeeds) and 10 concurrent refunds of "the rest" (they add up to the payment)
#   reversals   operator auth (no token, a user token, a wrong token: 401), a reversal that
#               drives the payee's wallet negative, sends and refunds blocked while it owes, a
#               deposit that covers the debt unblocks, a received payment covers it at the next
#               send, a second reversal 409
#   disputes    the payer opens one (payee 403, stranger 404, one open per payment), both
#               parties see it, the operator lists and resolves it (payee: nothing moves;
#               payer: the payment is reversed), resolving again
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_refunds.sh) the server is two tallyd nodes on one
# PostgreSQL database and requests (the concurrent ones included) alternate between them.
# Prints one "FAIL: ..." line per failed check and closes with "N passed, M failed"; exits
# non-zero on any failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-refunds.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

if [ ! -x "$TALLYD" ]; then
    echo "run_refunds.sh: $TALLYD not built"
    echo "0 passed, 1 failed"
    exit 1
fi

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
# A 1% p2p fee, to check that refunds give back the amount and never the fee.
export TALLY_FEES_P2P_BPS=100

tl_admin_token "$WORK/admin.token"
if ! tl_start main --sandbox --threads 16 --admin-token-file "$WORK/admin.token"; then
    fail "tallyd did not start"
    tl_summary
    exit 1
fi
BASE="http://127.0.0.1:$PORT"

# new_user HANDLE : signs up and logs in; prints the token (empty on failure).
new_user() {
    local pw
    pw=$(newpw)
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$pw" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: $h}')"
    [ "$STATUS" = 201 ] || { echo ""; return; }
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$pw" '{login: $l, password: $p}')"
    jqb '.token // ""'
}

deposit() { # TOKEN AMOUNT
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"USD\", \"source\": \"sandbox\"}"
}
pay() { # TOKEN HANDLE AMOUNT
    TOKEN=$1 api POST /v1/payments "{\"to\": \"@$2\", \"amount\": $3, \"currency\": \"USD\"}"
}
refund() { # TOKEN PAYMENT BODY
    TOKEN=$1 api POST "/v1/payments/$2/refunds" "$3"
}
wallet() { # TOKEN : the USD wallet as JSON
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -c '[.data[] | select(.currency == "USD")] | first'
}
bal() { wallet "$1" | jq -r '.balance.available'; }
admin() { # METHOD PATH [BODY]
    TOKEN=$ADMIN_TOKEN api "$@"
}

for h in alice bob carol dave erin frank gina hank; do
    t=$(new_user "$h")
    if [ -z "$t" ]; then
        fail "sign up and log in $h"
        tl_summary
        exit 1
    fi
    printf -v "TOK_$h" '%s' "$t"
done
# shellcheck disable=SC2154 # set by printf -v above
ALICE=$TOK_alice BOB=$TOK_bob CAROL=$TOK_carol DAVE=$TOK_dave ERIN=$TOK_erin
# shellcheck disable=SC2154
FRANK=$TOK_frank GINA=$TOK_gina HANK=$TOK_hank
deposit "$ALICE" 1000000
expect "alice deposits" 201

# ---------------------------------------------------------------------------------------------
echo "-- refunds: full, partial, several; never more than the payment"
pay "$ALICE" bob 10000
expect "alice pays bob 100.00 (fee 1.00)" 201 '.fee == 100 and .amount_refunded == 0 and .amount_reversed == 0'
P1=$(jqb .id)
A0=$(bal "$ALICE")
B0=$(bal "$BOB")
check_eq "bob holds the payment" 10000 "$B0"

refund "$BOB" "$P1" '{"amount": 3000, "reason": "one item was out of stock"}'
expect "partial refund" 201 '(.id | startswith("ref_")) and .type == "refund" and .status == "succeeded"
    and .amount == 3000 and .currency == "USD" and .reason == "one item was out of stock"
    and .payment_id == "'"$P1"'" and .balance_after == 7000'
R1=$(jqb .id)
sample Refund
refund "$BOB" "$P1" '{"amount": 2000}'
expect "a second partial refund" 201 '.amount == 2000 and .reason == null and .balance_after == 5000'
check_eq "payer got both back" $((A0 + 5000)) "$(bal "$ALICE")"
TOKEN=$ALICE api GET "/v1/payments/$P1"
expect "the payer sees amount_refunded" 200 '.amount_refunded == 5000 and .amount_reversed == 0'
sample Payment
TOKEN=$BOB api GET "/v1/payments/$P1"
expect "the payee sees amount_refunded" 200 '.amount_refunded == 5000'
TOKEN=$BOB api GET "/v1/payments?direction=received"
expect "lists show amount_refunded" 200 '[.data[] | select(.id == "'"$P1"'") | .amount_refunded] == [5000]'

refund "$BOB" "$P1" '{"amount": 5001}'
expect_problem "over-refund refused" 422 refund_exceeds_payment amount
refund "$BOB" "$P1" '{"amount": 20000}'
expect_problem "more than the payment refused" 422 refund_exceeds_payment amount
check_eq "over-refund moved nothing (payee)" 5000 "$(bal "$BOB")"
check_eq "over-refund moved nothing (payer)" $((A0 + 5000)) "$(bal "$ALICE")"

refund "$ALICE" "$P1" '{"amount": 100}'
expect_problem "the payer cannot refund" 403 forbidden
refund "$CAROL" "$P1" '{"amount": 100}'
expect_problem "a stranger sees no payment" 404 not_found
TOKEN=$CAROL api GET "/v1/payments/$P1/refunds"
expect_problem "a stranger cannot list refunds" 404 not_found
refund "$BOB" pay_01h455vb4pex5vsknk084sn02q '{"amount": 100}'
expect_problem "unknown payment" 404 not_found
refund "$BOB" "not-an-id" '{"amount": 100}'
expect_problem "malformed payment id" 404 not_found
refund "$BOB" "$P1" '{"amount": 0}'
expect_problem "amount 0" 400 invalid_amount amount
refund "$BOB" "$P1" '{"amount": 10.5}'
expect_problem "fractional amount" 400 invalid_amount amount
refund "$BOB" "$P1" '{"amount": 100, "status": "succeeded"}'
expect_problem "unknown field" 400 invalid_request status
refund "$BOB" "$P1" ''
expect_problem "empty body" 400 invalid_request
TOKEN= api POST "/v1/payments/$P1/refunds" '{}'
expect_problem "no token" 401 unauthorized

echo "-- refunds: idempotent replay"
IKEY=refund-key-1 refund "$BOB" "$P1" '{"amount": 1000}'
expect "keyed refund" 201 '.amount == 1000 and .balance_after == 4000'
FIRST=$BODY
IKEY=refund-key-1 refund "$BOB" "$P1" '{"amount": 1000}'
expect "replay answers the same" 201
check_eq "replayed body" "$FIRST" "$BODY"
check_eq "replay header" true "$(header Idempotent-Replayed)"
IKEY=refund-key-1 refund "$BOB" "$P1" '{"amount": 999}'
expect_problem "same key, other body" 409 idempotency_key_reused
check_eq "the replay moved nothing" 4000 "$(bal "$BOB")"

echo "-- refunds: the rest, then nothing left; the fee stays"
refund "$BOB" "$P1" '{}'
expect "refund of the rest" 201 '.amount == 4000 and .balance_after == 0'
refund "$BOB" "$P1" '{}'
expect_problem "nothing left to refund" 422 refund_exceeds_payment amount
check_eq "the payer has the amount back, not the fee" $((A0 + 10000)) "$(bal "$ALICE")"
TOKEN=$ALICE api GET "/v1/payments/$P1/refunds"
expect "the payer lists the refunds" 200 '(.data | length) == 4 and ([.data[].amount] | add) == 10000
    and .has_more == false and ([.data[].id] == ([.data[].id] | sort | reverse))'
sample RefundList
TOKEN=$BOB api GET "/v1/payments/$P1/refunds?limit=2"
expect "a page of refunds" 200 '(.data | length) == 2 and .has_more == true'
LAST=$(jqb '.data[1].id')
TOKEN=$BOB api GET "/v1/payments/$P1/refunds?limit=2&starting_after=$LAST"
expect "the next page" 200 '(.data | length) == 2 and .has_more == false and
    (.data | map(.id) | index("'"$R1"'")) != null'
TOKEN=$BOB api GET "/v1/payments/$P1"
expect "fully refunded" 200 '.amount_refunded == 10000'
TOKEN=$BOB api GET "/v1/wallets/$(wallet "$BOB" | jq -r .id)/transactions?limit=3"
expect "refunds in the history, with the payment" 200 \
    '.data[0].type == "refund" and .data[0].amount == -4000 and .data[0].payment_id == "'"$P1"'"'

echo "-- refunds: the payee's wallet must cover it"
pay "$ALICE" dave 5000
P2=$(jqb .id)
pay "$DAVE" carol 4000
expect "dave spends most of it" 201
refund "$DAVE" "$P2" '{"amount": 2000}'
expect_problem "refund beyond the wallet" 422 insufficient_funds amount
check_eq "nothing moved" 960 "$(bal "$DAVE")"
refund "$DAVE" "$P2" '{"amount": 960}'
expect "a refund the wallet covers" 201 '.balance_after == 0'

echo "-- refunds: 20 concurrent refunds of 60% each, exactly one succeeds"
deposit "$ERIN" 500000
pay "$ALICE" erin 10000
P3=$(jqb .id)
jobs_now=()
A1=$(bal "$ALICE")
E1=$(bal "$ERIN")
for i in $(seq 1 20); do
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST \
        -H "Authorization: Bearer $ERIN" -H 'Content-Type: application/json' \
        --data '{"amount": 6000}' "$(tl_node_base "$i")/v1/payments/$P3/refunds" \
        >"$WORK/cr.$i" &
    jobs_now+=($!)
done
wait "${jobs_now[@]}"
ok=0
refused=0
for i in $(seq 1 20); do
    case $(cat "$WORK/cr.$i") in
    201) ok=$((ok + 1)) ;;
    422) refused=$((refused + 1)) ;;
    esac
done
check_eq "exactly one concurrent refund succeeded" 1 "$ok"
check_eq "the other 19 were refused" 19 "$refused"
check_eq "payer balance exact" $((A1 + 6000)) "$(bal "$ALICE")"
check_eq "payee balance exact" $((E1 - 6000)) "$(bal "$ERIN")"
TOKEN=$ERIN api GET "/v1/payments/$P3"
expect "amount_refunded after the race" 200 '.amount_refunded == 6000'

echo "-- refunds: 10 concurrent refunds of the rest add up to the payment"
pay "$ALICE" erin 7777
P4=$(jqb .id)
jobs_now=()
E2=$(bal "$ERIN")
for i in $(seq 1 10); do
    curl -s -o "$WORK/rr.$i.body" -w '%{http_code}' --max-time 30 -X POST \
        -H "Authorization: Bearer $ERIN" -H 'Content-Type: application/json' \
        --data '{}' "$(tl_node_base "$i")/v1/payments/$P4/refunds" >"$WORK/rr.$i" &
    jobs_now+=($!)
done
wait "${jobs_now[@]}"
sum=0
for i in $(seq 1 10); do
    if [ "$(cat "$WORK/rr.$i")" = 201 ]; then
        sum=$((sum + $(jq -r .amount "$WORK/rr.$i.body")))
    fi
done
check_eq "the refunds of the rest add up to the payment" 7777 "$sum"
check_eq "payee balance after the rest race" $((E2 - 7777)) "$(bal "$ERIN")"

# ---------------------------------------------------------------------------------------------
echo "-- reversals: operator auth"
pay "$ALICE" frank 10000
P5=$(jqb .id)
TOKEN= api POST "/v1/admin/payments/$P5/reverse" '{"reason": "fraud"}'
expect_problem "no token" 401 unauthorized
TOKEN=$FRANK api POST "/v1/admin/payments/$P5/reverse" '{"reason": "fraud"}'
expect_problem "a user token" 401 unauthorized
TOKEN="${ADMIN_TOKEN}x" api POST "/v1/admin/payments/$P5/reverse" '{"reason": "fraud"}'
expect_problem "a wrong token" 401 unauthorized
admin POST "/v1/admin/payments/$P5/reverse" '{}'
expect_problem "a reason is required" 400 invalid_request reason
admin POST "/v1/admin/payments/pay_01h455vb4pex5vsknk084sn02q/reverse" '{"reason": "fraud"}'
expect_problem "unknown payment" 404 not_found

echo "-- reversals: the payee no longer holds the money"
refund "$FRANK" "$P5" '{"amount": 1000}'
expect "frank refunds a little" 201
pay "$FRANK" carol 8000
expect "frank spends most of the rest" 201
A2=$(bal "$ALICE")
IKEY=reverse-1 admin POST "/v1/admin/payments/$P5/reverse" '{"reason": "card reported stolen"}'
expect "reversal" 201 '(.id | startswith("rev_")) and .type == "reversal" and .amount == 9000
    and .from_wallet == 920 and .shortfall == 8080 and .reason == "card reported stolen"
    and .dispute_id == null and .payment_id == "'"$P5"'"'
REV=$BODY
sample Refund
IKEY=reverse-1 admin POST "/v1/admin/payments/$P5/reverse" '{"reason": "card reported stolen"}'
expect "reversal replay" 201
check_eq "reversal replay body" "$REV" "$BODY"
check_eq "the payer got the rest back" $((A2 + 9000)) "$(bal "$ALICE")"
W=$(wallet "$FRANK")
check_eq "the payee's wallet is negative" -8080 "$(jq -r .balance.available <<<"$W")"
check_eq "what the payee owes" 8080 "$(jq -r .amount_owed <<<"$W")"
check_eq "the payee's wallet is restricted" true "$(jq -r .restricted <<<"$W")"
TOKEN=$FRANK api GET "/v1/wallets/$(jq -r .id <<<"$W")"
expect "one wallet shows it too" 200 '.balance.available == -8080 and .restricted == true'
sample Wallet
admin POST "/v1/admin/payments/$P5/reverse" '{"reason": "again"}'
expect_problem "a second reversal" 409 payment_reversed
TOKEN=$ALICE api GET "/v1/payments/$P5"
expect "the payment shows the reversal" 200 '.amount_refunded == 1000 and .amount_reversed == 9000'
TOKEN=$FRANK api GET "/v1/payments/$P5/refunds"
expect "the reversal is listed with the refund" 200 '[.data[].type] | sort == ["refund", "reversal"]'

echo "-- reversals: a wallet that owes cannot send"
C0=$(bal "$CAROL")
pay "$FRANK" carol 1
expect_problem "a payment from a restricted wallet" 422 wallet_restricted currency
pay "$CAROL" frank 100
expect "carol pays frank" 201
P6=$(jqb .id)
refund "$FRANK" "$P6" '{"amount": 50}'
expect_problem "a refund from a restricted wallet" 422 wallet_restricted currency
check_eq "nothing left carol but her own payment" $((C0 - 101)) "$(bal "$CAROL")"
deposit "$FRANK" 5000
expect "a deposit" 201
W=$(wallet "$FRANK")
check_eq "the deposit went to the debt" -2980 "$(jq -r .balance.available <<<"$W")"
check_eq "still restricted" true "$(jq -r .restricted <<<"$W")"
pay "$FRANK" carol 1
expect_problem "still blocked" 422 wallet_restricted
deposit "$FRANK" 4000
W=$(wallet "$FRANK")
check_eq "covered: the rest is spendable" 1020 "$(jq -r .balance.available <<<"$W")"
check_eq "nothing owed" 0 "$(jq -r .amount_owed <<<"$W")"
check_eq "no longer restricted" false "$(jq -r .restricted <<<"$W")"
pay "$FRANK" carol 500
expect "frank can pay again" 201 '.balance_after == 515'

echo "-- reversals: a received payment covers the debt at the next send"
pay "$ALICE" gina 3000
P7=$(jqb .id)
pay "$GINA" carol 2500
admin POST "/v1/admin/payments/$P7/reverse" '{"reason": "chargeback"}'
expect "reversal of gina's payment" 201 '.from_wallet == 475 and .shortfall == 2525'
pay "$ALICE" gina 4000
W=$(wallet "$GINA")
check_eq "the received payment counts against the debt" 1475 "$(jq -r .balance.available <<<"$W")"
pay "$GINA" carol 1000
expect "the send repays the debt first, then goes" 201 '.balance_after == 465'
W=$(wallet "$GINA")
check_eq "nothing owed after the send" 0 "$(jq -r .amount_owed <<<"$W")"

# ---------------------------------------------------------------------------------------------
echo "-- disputes"
pay "$ALICE" hank 5000
P8=$(jqb .id)
TOKEN=$HANK api POST "/v1/payments/$P8/disputes" '{"reason": "x"}'
expect_problem "the payee cannot dispute" 403 forbidden
TOKEN=$CAROL api POST "/v1/payments/$P8/disputes" '{"reason": "x"}'
expect_problem "a stranger sees no payment" 404 not_found
TOKEN=$ALICE api POST "/v1/payments/$P8/disputes" '{}'
expect_problem "a reason is required" 400 invalid_request reason
TOKEN=$ALICE api POST "/v1/payments/$P8/disputes" '{"reason": "never delivered"}'
expect "the payer opens a dispute" 201 '(.id | startswith("dsp_")) and .status == "open"
    and .outcome == null and .reason == "never delivered" and .reversal == null
    and .resolved_at == null and .payment_id == "'"$P8"'"'
D1=$(jqb .id)
sample Dispute
TOKEN=$ALICE api POST "/v1/payments/$P8/disputes" '{"reason": "again"}'
expect_problem "one open dispute per payment" 409 dispute_open
TOKEN=$HANK api GET "/v1/disputes/$D1"
expect "the payee sees it" 200 '.id == "'"$D1"'" and .status == "open"'
TOKEN=$CAROL api GET "/v1/disputes/$D1"
expect_problem "a stranger does not" 404 not_found
TOKEN=$HANK api GET "/v1/payments/$P8/disputes"
expect "the payment's disputes" 200 '[.data[].id] == ["'"$D1"'"]'
TOKEN=$ALICE api GET "/v1/admin/disputes"
expect_problem "a user cannot list every dispute" 401 unauthorized
admin GET "/v1/admin/disputes?status=open"
expect "the operator lists open disputes" 200 '[.data[] | select(.id == "'"$D1"'")] | length == 1'
admin GET "/v1/admin/disputes?status=bogus"
expect_problem "a bad status filter" 400 invalid_request status
admin POST "/v1/admin/disputes/$D1/resolve" '{"outcome": "maybe"}'
expect_problem "a bad outcome" 400 invalid_request outcome
H0=$(bal "$HANK")
admin POST "/v1/admin/disputes/$D1/resolve" '{"outcome": "payee", "note": "proof of delivery"}'
expect "resolved for the payee" 200 '.status == "resolved" and .outcome == "payee"
    and .note == "proof of delivery" and .reversal == null and (.resolved_at | type) == "string"'
check_eq "nothing moved" "$H0" "$(bal "$HANK")"
admin POST "/v1/admin/disputes/$D1/resolve" '{"outcome": "payer"}'
expect_problem "resolved already" 409 dispute_resolved
TOKEN=$ALICE api POST "/v1/payments/$P8/disputes" '{"reason": "still never delivered"}'
expect "a new dispute after the first closed" 201
D2=$(jqb .id)
A3=$(bal "$ALICE")
admin POST "/v1/admin/disputes/$D2/resolve" '{"outcome": "payer", "note": "refund the buyer"}'
expect "resolved for the payer" 200 '.outcome == "payer" and .reversal.amount == 5000
    and .reversal.from_wallet == 5000 and .reversal.dispute_id == "'"$D2"'"'
sample Dispute
check_eq "the payer got the payment back" $((A3 + 5000)) "$(bal "$ALICE")"
check_eq "the payee gave it back" $((H0 - 5000)) "$(bal "$HANK")"
admin POST "/v1/admin/disputes/$D2/resolve" '{"outcome": "payer", "note": "refund the buyer"}'
expect "resolving again with the same outcome moves nothing" 200 '.reversal.amount == 5000'
check_eq "still once" $((A3 + 5000)) "$(bal "$ALICE")"
TOKEN=$ALICE api GET "/v1/disputes/$D2"
expect "the payer sees the outcome" 200 '.outcome == "payer" and .reversal.type == "reversal"'
admin GET "/v1/admin/disputes?status=resolved&limit=100"
expect "resolved disputes" 200 '[.data[].id] | (index("'"$D1"'") != null and index("'"$D2"'") != null)'
sample DisputeList
admin GET "/v1/admin/disputes?status=open&limit=100"
expect "none open any more" 200 '[.data[] | select(.payment_id == "'"$P8"'")] | length == 0'

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
