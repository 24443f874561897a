#!/usr/bin/env bash
# run_fx.sh BUILD_DIR - currencies over HTTP: rates, fx quotes, conversions, cross-currency
# payments, against a real tallyd (SQLite; on PostgreSQL with two nodes when TL_PG_CONNINFO is
# set, see tests/pg/run_pg_fx.sh).
#
# Server "main": a rates file (USD, JPY, KWD both ways), spread 0, fx fee 1 % (half-up), quotes
# live 6 s, an operator token. Server "stale": a rates file, spread 50 bps, rates usable for
# 20 s, the file read only at start and on SIGHUP, no operator token. Checks:
#   - fx quotes: exact sent/fee/rate tables in JPY, USD and KWD both ways (half-up); the spread
#     in the customer rate; bad bodies (no send_currency, same currency, unknown code)
#   - conversions: both wallets' balances and histories; a quoted conversion executes at the
#     quote, once (409 quote_used), not for other terms (422 quote_mismatch), not after expiry
#     (409 quote_expired); insufficient funds moves nothing on either leg; idempotent replay
#   - cross-currency payment in one quoted step: payer's send wallet, payee's wallet, payer's
#     wallet in the payee's currency unchanged, quote used once, recipient checked
#   - the operator endpoint: 401 without a token and with a user's token, 400 for bad rates,
#     201; GET /v1/fx/rates shows it; 404 on a server without admin.token_file
#   - stale rates refuse quotes and conversions (422 fx_rate_unavailable); SIGHUP reads the
#     file again (not read by the poll before); a changed file is read by the poll (main)
#   - per currency, the user wallets + FX pool + fee revenue equal what was deposited
#   - SQLite: a schema v4 database migrates to v5 (tallyd migrate)
#   - stored conversions: GET /v1/conversions/{id} answers exactly the 201, the list is newest
#     first and pages both ways, another user's is 404, a refused conversion left no row; a
#     schema v5 database migrates to v6 (tallyd migrate, and on open)
# Closes with "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-fx.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_fx.sh curl jq

export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000

# new_user HANDLE : signs up and logs in; sets TOK and UID_.
new_user() { tl_signup "$1"; }

# deposit TOKEN CURRENCY AMOUNT : opens the wallet if needed and deposits (sandbox).
declare -A DEPOSITED=()
deposit() {
    TOKEN=$1 api POST /v1/wallets "{\"currency\": \"$2\"}"
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $3, \"currency\": \"$2\", \"source\": \"sandbox\"}"
    expect "deposit $3 $2" 201
    DEPOSITED[$2]=$((${DEPOSITED[$2]:-0} + $3))
}

# bal TOKEN CURRENCY : the available balance of the caller's wallet in CURRENCY ("none").
bal() {
    TOKEN=$1 api GET /v1/wallets
    jqb "[.data[] | select(.currency == \"$2\") | .balance.available] | first // \"none\""
}

# wallet_of TOKEN CURRENCY : the caller's wallet id in CURRENCY.
wallet_of() {
    TOKEN=$1 api GET /v1/wallets
    jqb "[.data[] | select(.currency == \"$2\") | .id] | first // \"\""
}

# history TOKEN CURRENCY : the wallet's entries as "type:amount" lines, newest first.
history() {
    local w
    w=$(wallet_of "$1" "$2")
    TOKEN=$1 api GET "/v1/wallets/$w/transactions?limit=100"
    jqb '.data[] | "\(.type):\(.amount)"' | tr '\n' ' '
}

# fxq TOKEN SEND RECEIVE AMOUNT [EXTRA_JSON] : an fx quote.
fxq() {
    local extra=${5:-{\}}
    TOKEN=$1 api POST /v1/quotes "$(jq -nc --arg s "$2" --arg r "$3" --argjson a "$4" \
        --argjson x "$extra" '{operation: "fx", amount: $a, currency: $r, send_currency: $s} + $x')"
}

# ---------------------------------------------------------------------------------------------

cat >"$WORK/rates.txt" <<'EOF'
# base quote rate: 1 BASE buys RATE QUOTE
USD JPY 151.25
JPY USD 0.0066
USD KWD 0.3075
	KWD USD 3.252
KWD JPY 491.8
JPY KWD 0.002033
EOF
tl_admin_token "$WORK/admin.token"
if ! TALLY_FX_SPREAD_BPS=0 TALLY_FEES_FX="bps=100" TALLY_QUOTES_TTL_S=6 TALLY_FX_RATES_RELOAD_S=1 \
    tl_start main --sandbox --threads 8 --fx-rates-file "$WORK/rates.txt" \
    --admin-token-file "$WORK/admin.token"; then
    echo "0 passed, 1 failed"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"
MAIN_PID=$PID

new_user alice_fx || fail "sign up alice"
ALICE=$TOK
new_user bob_fx || fail "sign up bob"
BOB=$TOK
new_user carol_fx || fail "sign up carol"

# ---- Rates as loaded from the file ----
TOKEN=$ALICE api GET /v1/fx/rates
expect "rates listed" 200 '(.data | length) == 6 and .spread_bps == 0'
check_eq "USD JPY from the file" "151.25 151.25 file true" \
    "$(jqb '.data[] | select(.base == "USD" and .quote == "JPY") | "\(.rate) \(.customer_rate) \(.source) \(.usable)"')"
check_eq "a tab before a line is fine" "3.252" \
    "$(jqb '.data[] | select(.base == "KWD" and .quote == "USD") | .rate')"
sample FxRateList
api GET /v1/fx/rates
expect_problem "rates need a session" 401 unauthorized

# ---- Quotes: exact tables (amount = received; sent = principal + 1 % fee, half-up) ----
# send receive amount -> principal fee sent rate
while read -r send recv amount fee sent rate; do
    fxq "$ALICE" "$send" "$recv" "$amount"
    expect "quote $send->$recv $amount" 201 \
        ".operation == \"fx\" and .currency == \"$recv\" and .send_currency == \"$send\"
         and .amount == $amount and .received == $amount and .fee == $fee and .sent == $sent
         and .rate == \"$rate\" and .recipient == null"
done <<'EOF'
USD JPY 151 1 101 151.25
USD JPY 1000 7 668 151.25
USD JPY 1 0 1 151.25
JPY USD 100 2 154 0.0066
JPY USD 33 1 51 0.0066
USD KWD 1000 3 328 0.3075
USD KWD 3 0 1 0.3075
KWD USD 100 3 311 3.252
KWD JPY 492 10 1010 491.8
JPY KWD 1017 5 505 0.002033
EOF
sample Quote fx
fxq "$ALICE" USD EUR 100
expect_problem "no USD EUR rate" 422 fx_rate_unavailable currency
TOKEN=$ALICE api POST /v1/quotes '{"operation": "fx", "amount": 100, "currency": "JPY"}'
expect_problem "fx quote without send_currency" 400 invalid_request send_currency
fxq "$ALICE" JPY JPY 100
expect_problem "fx quote in one currency" 400 invalid_request send_currency
fxq "$ALICE" XYZ JPY 100
expect_problem "fx quote from an unknown currency" 400 unknown_currency send_currency
TOKEN=$ALICE api POST /v1/quotes '{"operation": "p2p", "amount": 100, "currency": "USD", "send_currency": "JPY"}'
expect_problem "a p2p quote takes no send_currency" 400 invalid_request send_currency
TOKEN=$ALICE api POST /v1/quotes '{"operation": "p2p", "amount": 100, "currency": "USD"}'
expect "a p2p quote still works, rate 1" 201 '.rate == "1" and .send_currency == "USD" and .sent == 100'
fxq "$ALICE" JPY KWD 1
expect_problem "1 fils is worth less than half a yen" 400 invalid_amount amount

# ---- Conversions between alice's own wallets ----
deposit "$ALICE" USD 100000
TOKEN=$ALICE IKEY=conv-1 api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 1000}'
expect "convert USD to 1000 JPY" 201 \
    '(.id | startswith("conv_")) and .status == "succeeded" and .from_currency == "USD"
     and .to_currency == "JPY" and .amount == 1000 and .received == 1000 and .sent == 668
     and .fee == 7 and .rate == "151.25" and .quote_id == null
     and .from_wallet.balance_after == 99332 and .to_wallet.balance_after == 1000'
sample Conversion
FIRST=$BODY
TOKEN=$ALICE IKEY=conv-1 api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 1000}'
check_eq "a retry with the key replays the conversion" "$FIRST" "$BODY"
check_eq "replayed header" true "$(header Idempotent-Replayed)"
check_eq "USD after one conversion" 99332 "$(bal "$ALICE" USD)"
check_eq "JPY wallet opened with the received amount" 1000 "$(bal "$ALICE" JPY)"
check_eq "USD history: principal and fee" "fee:-7 fx:-661 deposit:100000 " "$(history "$ALICE" USD)"
check_eq "JPY history: the received leg" "fx:1000 " "$(history "$ALICE" JPY)"
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "KWD", "amount": 1000}'
expect "convert USD to 1.000 KWD" 201 '.sent == 328 and .fee == 3 and .to_wallet.balance_after == 1000'
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "KWD", "to_currency": "USD", "amount": 100}'
expect "convert KWD to 1.00 USD" 201 '.sent == 311 and .fee == 3 and .from_wallet.balance_after == 689 and .to_wallet.balance_after == 99104'
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "JPY", "to_currency": "USD", "amount": 33}'
expect "convert JPY to 0.33 USD" 201 '.sent == 51 and .fee == 1 and .from_wallet.balance_after == 949'
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "USD", "amount": 33}'
expect_problem "convert into the same currency" 400 invalid_request to_currency
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 10, "rate": "999"}'
expect_problem "unknown field" 400 invalid_request rate
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 1.5}'
expect_problem "fractional amount" 400 invalid_amount amount
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "EUR", "to_currency": "JPY", "amount": 10}'
expect_problem "no rate EUR JPY" 422 fx_rate_unavailable currency
api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 10}'
expect_problem "conversions need a session" 401 unauthorized

# Insufficient funds: nothing moves on either leg.
deposit "$BOB" USD 500
TOKEN=$BOB IKEY=bob-big api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 100000}'
expect_problem "conversion beyond the balance" 422 insufficient_funds
check_eq "bob's USD untouched" 500 "$(bal "$BOB" USD)"
check_eq "bob's JPY wallet empty" 0 "$(bal "$BOB" JPY)"
check_eq "bob's JPY history empty" "" "$(history "$BOB" JPY)"
check_eq "bob's USD history: the deposit only" "deposit:500 " "$(history "$BOB" USD)"
TOKEN=$BOB IKEY=bob-big api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 100000}'
check_eq "the refusal replays" "422 insufficient_funds true" \
    "$STATUS $(jqb .code) $(header Idempotent-Replayed)"
TOKEN=$BOB api POST /v1/conversions '{"from_currency": "KWD", "to_currency": "JPY", "amount": 10}'
expect_problem "no wallet to convert from" 422 wallet_not_found from_currency

# ---- Quoted conversions ----
fxq "$ALICE" USD KWD 3
QUOTE=$(jqb .id)
TOKEN=$ALICE api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"KWD\", \"amount\": 4, \"quote_id\": \"$QUOTE\"}"
expect_problem "another amount than quoted" 422 quote_mismatch quote_id
TOKEN=$BOB api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"KWD\", \"amount\": 3, \"quote_id\": \"$QUOTE\"}"
expect_problem "someone else's quote" 404 not_found quote_id
TOKEN=$ALICE api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"KWD\", \"amount\": 3, \"quote_id\": \"$QUOTE\"}"
expect "convert at the quote" 201 ".sent == 1 and .fee == 0 and .received == 3 and .quote_id == \"$QUOTE\" and .rate == \"0.3075\""
TOKEN=$ALICE api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"KWD\", \"amount\": 3, \"quote_id\": \"$QUOTE\"}"
expect_problem "a quote converts once" 409 quote_used quote_id
fxq "$ALICE" USD JPY 1000
QUOTE=$(jqb .id)
# The rate moves after the quote: the quote's terms hold.
sed -i 's/^USD JPY 151.25$/USD JPY 100/' "$WORK/rates.txt"
touch -d '+1 second' "$WORK/rates.txt"
sleep 6.5
TOKEN=$ALICE api GET /v1/fx/rates
check_eq "the poll read the changed file" "100" \
    "$(jqb '.data[] | select(.base == "USD" and .quote == "JPY") | .rate')"
fxq "$ALICE" USD JPY 1000
expect "a new quote at the new rate" 201 '.sent == 1010 and .fee == 10 and .rate == "100"'
# (the old quote is expired by now: quotes live 6 s)
TOKEN=$ALICE api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"JPY\", \"amount\": 1000, \"quote_id\": \"$QUOTE\"}"
expect_problem "an expired quote" 409 quote_expired quote_id
fxq "$ALICE" USD JPY 100
QUOTE=$(jqb .id)
TOKEN=$ALICE api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"JPY\", \"amount\": 100, \"quote_id\": \"$QUOTE\"}"
expect "a fresh quote converts" 201 '.sent == 101 and .fee == 1 and .rate == "100"'
LAST_CONV=$BODY

# ---- Stored conversions: GET /v1/conversions[/{id}] ----
FIRST_ID=$(jq -r .id <<<"$FIRST")
TOKEN=$ALICE api GET "/v1/conversions/$FIRST_ID"
expect "a conversion reads back" 200
check_eq "exactly as its 201 answered it" "$(jq -S . <<<"$FIRST")" "$(jq -S . <<<"$BODY")"
sample Conversion
TOKEN=$ALICE api GET /v1/conversions
expect "alice's conversions" 200 '(.data | length) == 6 and .has_more == false'
sample ConversionList
check_eq "newest first: the last one is the quoted conversion" "$(jq -S . <<<"$LAST_CONV")" \
    "$(jq -S '.data[0]' <<<"$BODY")"
check_eq "the oldest is the first" "$FIRST_ID" "$(jqb '.data[5].id')"
check_eq "the quote is kept" "$QUOTE" "$(jqb '.data[0].quote_id')"
check_eq "newest first by created_at" "$(jq -c '[.data[].created_at]' <<<"$BODY")" \
    "$(jq -c '[.data[].created_at] | sort | reverse' <<<"$BODY")"
check_eq "from-currency amounts: what left the wallets" "101 1 51 311 328 668" \
    "$(jqb '[.data[].sent] | map(tostring) | join(" ")')"
ALL=$(jq -c '[.data[].id]' <<<"$BODY")
TOKEN=$ALICE api GET '/v1/conversions?limit=2'
expect "a page of two" 200 '(.data | length) == 2 and .has_more == true'
check_eq "page 1" "$(jq -c '.[0:2]' <<<"$ALL")" "$(jq -c '[.data[].id]' <<<"$BODY")"
TOKEN=$ALICE api GET "/v1/conversions?limit=2&starting_after=$(jqb '.data[1].id')"
expect "page 2" 200 '(.data | length) == 2 and .has_more == true'
check_eq "page 2 ids" "$(jq -c '.[2:4]' <<<"$ALL")" "$(jq -c '[.data[].id]' <<<"$BODY")"
TOKEN=$ALICE api GET "/v1/conversions?limit=10&starting_after=$(jq -r '.[3]' <<<"$ALL")"
expect "the last page" 200 '(.data | length) == 2 and .has_more == false'
TOKEN=$ALICE api GET "/v1/conversions?ending_before=$(jq -r '.[2]' <<<"$ALL")"
expect "newer than the third" 200 '(.data | length) == 2 and .has_more == false'
check_eq "ending_before ids" "$(jq -c '.[0:2]' <<<"$ALL")" "$(jq -c '[.data[].id]' <<<"$BODY")"
TOKEN=$BOB api GET /v1/conversions
expect "bob's refused conversions left no row" 200 '(.data | length) == 0 and .has_more == false'
TOKEN=$BOB api GET "/v1/conversions/$FIRST_ID"
expect_problem "someone else's conversion" 404 not_found
TOKEN=$BOB api GET "/v1/conversions?starting_after=$FIRST_ID"
expect_problem "someone else's conversion as a cursor" 400 invalid_request starting_after
TOKEN=$ALICE api GET /v1/conversions/conv_nonsense
expect_problem "a malformed id" 404 not_found
TOKEN=$ALICE api GET "/v1/conversions/$(jq -r .id <<<"$FIRST" | sed 's/^conv_/pay_/')"
expect_problem "an id of another kind" 404 not_found
TOKEN=$ALICE api GET '/v1/conversions?limit=0'
expect_problem "a bad limit" 400 invalid_request limit
api GET /v1/conversions
expect_problem "lists need a session" 401 unauthorized

# ---- Cross-currency payment: alice pays carol 500 JPY from USD ----
fxq "$ALICE" USD JPY 500 '{"recipient": "@carol_fx"}'
expect "quote naming the recipient" 201 '.recipient.handle == "carol_fx" and .sent == 505'
QUOTE=$(jqb .id)
ALICE_USD=$(bal "$ALICE" USD)
ALICE_JPY=$(bal "$ALICE" JPY)
TOKEN=$ALICE api POST /v1/payments "{\"to\": \"@bob_fx\", \"amount\": 500, \"currency\": \"JPY\", \"quote_id\": \"$QUOTE\"}"
expect_problem "another recipient than quoted" 422 quote_mismatch quote_id
TOKEN=$ALICE api POST /v1/payments "{\"to\": \"@carol_fx\", \"amount\": 501, \"currency\": \"JPY\", \"quote_id\": \"$QUOTE\"}"
expect_problem "another amount than quoted" 422 quote_mismatch quote_id
TOKEN=$ALICE IKEY=xpay api POST /v1/payments "{\"to\": \"@carol_fx\", \"amount\": 500, \"currency\": \"JPY\", \"quote_id\": \"$QUOTE\"}"
expect "cross-currency payment" 201 '.status == "succeeded" and .amount == 500 and .currency == "JPY" and .fee == 0 and .to.handle == "carol_fx"'
PAYMENT=$(jqb .id)
check_eq "alice's USD paid the quote's sent" $((ALICE_USD - 505)) "$(bal "$ALICE" USD)"
check_eq "alice's JPY passes the money on" "$ALICE_JPY" "$(bal "$ALICE" JPY)"
TOKEN=$ALICE api GET /v1/wallets
check_eq "carol's JPY wallet" 500 "$(TOKEN=$TOK api GET /v1/wallets && jqb '.data[] | select(.currency == "JPY") | .balance.available')"
TOKEN=$TOK api GET "/v1/payments/$PAYMENT"
expect "carol sees the payment" 200 ".id == \"$PAYMENT\" and .amount == 500 and .balance_after == 500"
check_eq "alice's JPY history: in then out" "payment:-500 fx:500 " "$(history "$ALICE" JPY | cut -d' ' -f1-2) "
TOKEN=$ALICE IKEY=xpay2 api POST /v1/payments "{\"to\": \"@carol_fx\", \"amount\": 500, \"currency\": \"JPY\", \"quote_id\": \"$QUOTE\"}"
expect_problem "the quote pays once" 409 quote_used
TOKEN=$ALICE api POST /v1/conversions "{\"from_currency\": \"USD\", \"to_currency\": \"JPY\", \"amount\": 500, \"quote_id\": \"$QUOTE\"}"
expect_problem "a payment quote does not convert" 422 quote_mismatch quote_id
fxq "$BOB" USD JPY 100000 '{"recipient": "@carol_fx"}'
QUOTE=$(jqb .id)
TOKEN=$BOB api POST /v1/payments "{\"to\": \"@carol_fx\", \"amount\": 100000, \"currency\": \"JPY\", \"quote_id\": \"$QUOTE\"}"
expect_problem "cross-currency payment beyond the balance" 422 insufficient_funds
check_eq "bob's USD still untouched" 500 "$(bal "$BOB" USD)"
check_eq "carol's JPY unchanged" 500 "$(TOKEN=$TOK api GET /v1/wallets && jqb '.data[] | select(.currency == "JPY") | .balance.available')"

# ---- Operator endpoint ----
api POST /v1/admin/fx/rates '{"base": "USD", "quote": "EUR", "rate": "0.9213"}'
expect_problem "no token" 401 unauthorized
TOKEN=$ALICE api POST /v1/admin/fx/rates '{"base": "USD", "quote": "EUR", "rate": "0.9213"}'
expect_problem "a user's token" 401 unauthorized
for bad in '"0"' '"-1"' '"1e3"' '"0.0000000001"' '"1234567890"' '0.9'; do
    TOKEN=$ADMIN_TOKEN api POST /v1/admin/fx/rates "{\"base\": \"USD\", \"quote\": \"EUR\", \"rate\": $bad}"
    if [ "$bad" = 0.9 ]; then
        expect_problem "rate $bad (a number)" 400 invalid_request rate
    else
        expect_problem "rate $bad" 400 invalid_request rate
    fi
done
TOKEN=$ADMIN_TOKEN api POST /v1/admin/fx/rates '{"base": "USD", "quote": "USD", "rate": "1"}'
expect_problem "same currency" 400 invalid_request quote
TOKEN=$ADMIN_TOKEN api POST /v1/admin/fx/rates '{"base": "USD", "quote": "EUR", "rate": "0.9213"}'
expect "operator sets USD EUR" 201 '.base == "USD" and .quote == "EUR" and .rate == "0.9213" and .source == "operator" and .usable'
sample FxRate
TOKEN=$ALICE api POST /v1/wallets '{"currency": "EUR"}'
TOKEN=$ALICE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "EUR", "amount": 4607}'
expect "convert at the operator's rate" 201 '.sent == 5051 and .fee == 50 and .rate == "0.9213"'
TOKEN=$ALICE api GET /v1/fx/rates
check_eq "every node sees the operator's rate" "0.9213 operator" \
    "$(jqb '.data[] | select(.base == "USD" and .quote == "EUR") | "\(.rate) \(.source)"')"

# ---- The books balance: per currency, wallets + pool + fee revenue = deposits ----
TOKEN=$ADMIN_TOKEN api GET /v1/admin/fx/position
expect "position" 200 '(.data | length) >= 4'
sample FxPosition
POSITION=$BODY
for cur in USD JPY KWD EUR; do
    users=0
    for t in "$ALICE" "$BOB" "$TOK"; do
        b=$(bal "$t" "$cur")
        [ "$b" = none ] || users=$((users + b))
    done
    pool=$(jq -r ".data[] | select(.currency == \"$cur\") | .fx_pool" <<<"$POSITION")
    fees=$(jq -r ".data[] | select(.currency == \"$cur\") | .fee_revenue" <<<"$POSITION")
    check_eq "$cur: wallets + pool + fees = deposits" "${DEPOSITED[$cur]:-0}" $((users + pool + fees))
done
check_eq "the JPY pool: JPY in (50) less JPY out (1600)" -1550 \
    "$(jq -r '.data[] | select(.currency == "JPY") | .fx_pool' <<<"$POSITION")"

# ---- Server "stale": rates usable for 20 s, read only at start and on SIGHUP ----
# (20 s from the file's mtime must cover starting two PostgreSQL nodes, a sign-up and a quote on
# a loaded machine; 8 s was not always enough)
STALE_MAX_AGE_S=20
printf 'USD EUR 0.9213\n' >"$WORK/stale.txt"
if ! TALLY_FX_RATES_MAX_AGE_S=$STALE_MAX_AGE_S TALLY_FX_RATES_RELOAD_S=3600 \
    tl_start stale --sandbox --threads 4 --fx-rates-file "$WORK/stale.txt"; then
    fail "start the stale server"
else
    BASE="http://127.0.0.1:$PORT"
    STALE_PID=$PID
    new_user dave_fx || fail "sign up dave"
    DAVE=$TOK
    fxq "$DAVE" USD EUR 1000
    expect "fresh file rate with the default spread (50 bps)" 201 '.rate == "0.9166935"'
    TOKEN=$DAVE api GET /v1/fx/rates
    expect "customer rate shown" 200 '.spread_bps == 50 and .data[0].customer_rate == "0.9166935"'
    # The rate's age counts from the file's mtime: wait until it is past the limit (stat's whole
    # seconds round the mtime down, so 2 s more leave at least one to spare).
    stale_at=$(($(stat -c %Y "$WORK/stale.txt") + STALE_MAX_AGE_S + 2))
    while [ "$(date +%s)" -lt "$stale_at" ]; do sleep 0.5; done
    fxq "$DAVE" USD EUR 1000
    expect_problem "a stale rate refuses quotes" 422 fx_rate_unavailable currency
    deposit "$DAVE" USD 5000
    TOKEN=$DAVE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "EUR", "amount": 100}'
    expect_problem "a stale rate refuses conversions" 422 fx_rate_unavailable currency
    check_eq "nothing moved" 5000 "$(bal "$DAVE" USD)"
    TOKEN=$DAVE api GET /v1/fx/rates
    check_eq "listed as unusable" false "$(jqb '.data[0].usable')"
    printf 'USD EUR 0.9300\n' >"$WORK/stale.txt"
    sleep 1
    TOKEN=$DAVE api GET /v1/fx/rates
    check_eq "not read without SIGHUP" "0.9213" "$(jqb '.data[0].rate')"
    touch "$WORK/stale.txt" # stamped now: usable for 20 s from here
    kill -HUP "$STALE_PID"
    ok=false
    for _ in $(seq 1 100); do
        TOKEN=$DAVE api GET /v1/fx/rates
        if [ "$(jqb '.data[0].rate')" = 0.93 ]; then ok=true; break; fi
        sleep 0.1
    done
    check_eq "SIGHUP read the file" true "$ok"
    check "still running after SIGHUP" kill -0 "$STALE_PID"
    TOKEN=$DAVE api POST /v1/conversions '{"from_currency": "USD", "to_currency": "EUR", "amount": 100}'
    expect "fresh again after SIGHUP" 201 '.rate == "0.92535"'
    TOKEN=$ADMIN_TOKEN api POST /v1/admin/fx/rates '{"base": "USD", "quote": "EUR", "rate": "0.9"}'
    expect_problem "no admin.token_file: no operator routes" 404 not_found
    printf 'USD EUR 0.93\nUSD XXX 1\n' >"$WORK/stale.txt"
    touch -d '+2 seconds' "$WORK/stale.txt"
    kill -HUP "$STALE_PID"
    # The reload runs on the server's own time: poll its log for up to 10 s.
    for _ in $(seq 1 100); do
        grep -q '"fx_rates_file_rejected".*"line":2' "$WORK/stale.log" && break
        sleep 0.1
    done
    check "a bad file is refused whole, with its line" grep -q '"fx_rates_file_rejected".*"line":2' "$WORK/stale.log"
    tl_stop "$STALE_PID"
fi

# ---- SQLite: a schema v4 database migrates to v5 ----
if [ -z "${TL_PG_CONNINFO:-}" ] && command -v sqlite3 >/dev/null; then
    mkdir -p "$WORK/v4"
    chmod 700 "$WORK/v4"
    tl_sqlite_v4_db "$WORK/v4"
    check_eq "made a v4 database" 4 "$(sqlite3 "$WORK/v4/tally.db" 'PRAGMA user_version')"
    check "tallyd migrate applies v5" "$TALLYD" migrate --data-dir "$WORK/v4"
    check_eq "now current" "$TL_SCHEMA_VERSION" "$(sqlite3 "$WORK/v4/tally.db" 'PRAGMA user_version')"
    check_eq "with fx_rates" 1 \
        "$(sqlite3 "$WORK/v4/tally.db" "SELECT count(*) FROM sqlite_master WHERE name = 'fx_rates'")"
fi

# ---- SQLite: a schema v5 database migrates to v6 (conversions), with tallyd migrate and on open ----
if [ -z "${TL_PG_CONNINFO:-}" ] && command -v sqlite3 >/dev/null; then
    mkdir -p "$WORK/v5" "$WORK/v5open"
    chmod 700 "$WORK/v5" "$WORK/v5open"
    tl_sqlite_v5_db "$WORK/v5"
    tl_sqlite_v5_db "$WORK/v5open"
    check_eq "made a v5 database" 5 "$(sqlite3 "$WORK/v5/tally.db" 'PRAGMA user_version')"
    check_eq "v5 has no conversions table" 0 \
        "$(sqlite3 "$WORK/v5/tally.db" "SELECT count(*) FROM sqlite_master WHERE name = 'conversions'")"
    check "tallyd migrate applies v6" "$TALLYD" migrate --data-dir "$WORK/v5"
    check_eq "migrated to current" "$TL_SCHEMA_VERSION" "$(sqlite3 "$WORK/v5/tally.db" 'PRAGMA user_version')"
    check_eq "with conversions" 1 \
        "$(sqlite3 "$WORK/v5/tally.db" "SELECT count(*) FROM sqlite_master WHERE name = 'conversions'")"
    if TALLY_FX_SPREAD_BPS=0 tl_start v5open --sandbox --fx-rates-file "$WORK/rates.txt"; then
        BASE="http://127.0.0.1:$PORT"
        V5_PID=$PID
        check_eq "a v5 database migrates on open" "$TL_SCHEMA_VERSION" "$(sqlite3 "$WORK/v5open/tally.db" 'PRAGMA user_version')"
        new_user erin_fx && ERIN=$TOK
        deposit "$ERIN" USD 10000
        TOKEN=$ERIN api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 151}'
        expect "a conversion on the migrated database" 201
        TOKEN=$ERIN api GET /v1/conversions
        expect "stored there" 200 '(.data | length) == 1 and .data[0].received == 151'
        tl_stop "$V5_PID"
    else
        fail "tallyd did not start on a v5 database"
    fi
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
check "schema check ran ($(grep -c '' "$WORK/schemas.txt") samples)" test "$(grep -c '^ok ' "$WORK/schemas.txt")" -ge 8

tl_stop "$MAIN_PID"
tl_summary
[ "$FAILED" -eq 0 ]
