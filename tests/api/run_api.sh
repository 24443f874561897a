#!/usr/bin/env bash
# run_api.sh BUILD_DIR - the /v1 API suite, against the contract in docs/api.md: curl and jq
# against real tallyd processes on loopback ports, each with a fresh data dir.
#
#   main       --sandbox: the happy path (sign up, log in, deposit, pay, balances, histories),
#              every error code, idempotency, authorization, strict JSON, pagination, limits,
#              64 concurrent payments draining one wallet, conservation of money, and every
#              kind of response body checked against its schema in docs/openapi.yaml
#   short      no --sandbox and --session-ttl 60 (the least tallyd accepts): deposits are
#              forbidden; a token taken at the start has expired by the end (the suite's
#              floor is therefore about 60 s)
#   crash      kill -9 during a parallel payment load, restart on the same data dir: every
#              payment that answered 201 is still there and the balances add up
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_api.sh), every server above is two tallyd nodes on one
# PostgreSQL database (see tests/api/lib.sh) and requests take turns between the nodes: api
# alternates, the helpers' own curl calls use tl_url, concurrent clients are spread with
# tl_node_base, and kill -9 and stop act on both nodes. The few checks that depend on
# per-node state say so where they are (grep "Several nodes").
#
# Prints one "FAIL: ..." line per failed check (expected vs got) and closes with
# "N passed, M failed"; exits non-zero on any failure. Every server it starts is killed on exit.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-api.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT
suite_start=$SECONDS

tl_require run_api.sh curl jq

# Small ledger for a quick start; generous address and user limits so that only the checks
# that want a 429 get one; the lookup bucket keeps its default (30/min, burst 10).
export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_SERVER_CONNECTIONS_PER_IP_MAX=512

ID_RE='[0-7][0-9a-hjkmnp-tv-z]{25}'
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$'

# ---------------------------------------------------------------------------------------------
# Helpers (see lib.sh for api, expect, expect_problem)

# A fresh strong password: 24 random base64 characters.
# signup HANDLE PASSWORD [PHONE] : POST /v1/users; sets USER (the body) and UID_ on 201.
signup() {
    local body
    body=$(jq -nc --arg h "$1" --arg p "$2" --arg ph "${3-}" \
        '{handle: $h, email: "\($h | ascii_downcase)@example.com", password: $p,
          display_name: "User \($h)"} + (if $ph == "" then {} else {phone: $ph} end)')
    api POST /v1/users "$body"
    USER=$BODY
    UID_=$(jqb '.id // ""')
}

# login LOGIN PASSWORD : POST /v1/sessions; sets TOK ("" unless 201).
login() {
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$2" '{login: $l, password: $p}')"
    TOK=$(jqb 'if .token then .token else "" end')
}

# new_user HANDLE [PHONE] : sign up and log in, quietly counted as one check; sets TOK, UID_,
# USER and PW. Returns non-zero when either step fails.
new_user() {
    PW=$(newpw)
    signup "$1" "$PW" "${2-}"
    if [ "$STATUS" != 201 ]; then
        fail "sign up $1: expected 201, got $STATUS: $BODY"
        TOK=
        return 1
    fi
    login "$1" "$PW"
    if [ "$STATUS" != 201 ] || [ -z "$TOK" ]; then
        fail "log in $1: expected 201 with a token, got $STATUS: $BODY"
        return 1
    fi
    pass
}

# deposit TOKEN AMOUNT [CURRENCY]
deposit() {
    TOKEN=$1 api POST /v1/deposits \
        "{\"amount\": $2, \"currency\": \"${3-USD}\", \"source\": \"sandbox\"}"
}

# pay TOKEN TO AMOUNT [CURRENCY [NOTE]] (AMOUNT is pasted into the JSON as is)
pay() {
    local note=""
    if [ $# -ge 5 ]; then
        note=", \"note\": $(jq -n --arg n "$5" '$n')"
    fi
    TOKEN=$1 api POST /v1/payments \
        "{\"to\": $(jq -n --arg t "$2" '$t'), \"amount\": $3, \"currency\": \"${4-USD}\"$note}"
}

# bal TOKEN [CURRENCY] : prints the available balance ("none" without such a wallet).
bal() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -r --arg c "${2:-USD}" \
            '[.data[] | select(.currency == $c) | .balance.available] | first // "none"'
}

# wallet_id TOKEN [CURRENCY]
wallet_id() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -r --arg c "${2:-USD}" '[.data[] | select(.currency == $c) | .id] | first // "none"'
}

# history TOKEN WALLET_ID : the whole transaction list (limit 100) as JSON.
history() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" \
        "$(tl_url)/v1/wallets/$2/transactions?limit=100"
}

# all_payments TOKEN : every payment of the user (all pages), one JSON object per line.
all_payments() {
    local after="" page
    while :; do
        page=$(curl -s --max-time 10 -H "Authorization: Bearer $1" \
            "$(tl_url)/v1/payments?limit=100${after:+&starting_after=$after}")
        jq -c '.data[]' <<<"$page" || return 1
        [ "$(jq -r .has_more <<<"$page")" = true ] || return 0
        after=$(jq -r '.data[-1].id' <<<"$page")
    done
}

# a well-formed id of PREFIX that nobody has: the given id with its last character changed.
missing_id() {
    local id=$1 last=${1: -1}
    if [ "$last" = 0 ]; then echo "${id%?}1"; else echo "${id%?}0"; fi
}

# same_404 NAME PATH_MINE_OR_OTHERS PATH_MISSING ID1 ID2 : both answer 404 not_found with the
# same body once request_id and the ids themselves are taken out.
same_404() {
    local name=$1 a b
    TOKEN=$TOKEN api GET "$2"
    expect_problem "$name: someone else's" 404 not_found || return
    a=$(without_request_id | sed "s/$4/ID/g")
    TOKEN=$TOKEN api GET "$3"
    expect_problem "$name: missing" 404 not_found || return
    b=$(without_request_id | sed "s/$5/ID/g")
    check_eq "$name: someone else's looks exactly like a missing one" "$b" "$a"
}

# running_ok HISTORY_JSON : every entry's balance_after is the next (older) one's plus its
# amount, and the oldest starts from zero (the whole history is on the page).
running_ok() {
    jq -e '.data as $d | ($d | length) > 0
        and ([range(0; ($d | length) - 1)
              | select($d[.].balance_after != $d[. + 1].balance_after + $d[.].amount)]
             | length == 0)
        and $d[-1].balance_after == $d[-1].amount' <<<"$1" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# The short server runs beside the others: its tokens live the shortest TTL tallyd accepts
# (60 s), so one is taken now and checked at the end, while the rest of the suite runs.
echo "== short server (no --sandbox, 60 s sessions)"
SESSION_TTL_S=60
SHORT_PID=""
# Read the whole help first: grep -q would stop early and SIGPIPE tallyd under pipefail.
help_text=$("$TALLYD" --help 2>&1)
if ! grep -q -- --session-ttl <<<"$help_text"; then
    fail "tallyd --help lists no --session-ttl"
elif ! tl_start short --session-ttl "$SESSION_TTL_S"; then
    fail "short server did not start: $(tail -n 3 "$WORK/short.log")"
else
    SHORT_PID=$PID
    BASE="http://127.0.0.1:$PORT"
    SHORT_BASE=$BASE
    PW=$(newpw)
    signup shorty "$PW"
    expect "sign up shorty" 201
    # The token's life is measured from before its login request, so that a slow answer cannot
    # make it look shorter than it was.
    short_login_s=$SECONDS
    login shorty "$PW"
    expect "log in shorty" 201 '(.token | length) > 0'
    SHORT=$TOK
    TOKEN=$SHORT api POST /v1/deposits '{"amount": 100, "currency": "USD", "source": "sandbox"}'
    expect_problem "deposit without --sandbox" 403 forbidden
    check_eq "forbidden deposit moved nothing" 0 "$(bal "$SHORT")"
    TOKEN=$SHORT api GET /v1/me
    expect "fresh token works" 200
    TOKEN=$SHORT api GET /v1/admin/users/user_01h455vb4pex5vsknk084sn02q
    expect_problem "no admin.token_file: operator routes do not exist" 404 not_found
fi

echo "== main server (--sandbox)"
tl_admin_token "$WORK/admin.token"
if ! tl_start main --sandbox --threads 8 --admin-token-file "$WORK/admin.token"; then
    fail "main tallyd did not start"
    tl_summary
    exit 1
fi
BASE="http://127.0.0.1:$PORT"
MAIN_PID=$PID
MAIN_BASE=$BASE
MAIN_NODES=${#PIDS[@]}

# ---------------------------------------------------------------------------------------------
echo "-- sign up, log in, me, lookup"
PW_ALICE=$(newpw)
signup Alice "$PW_ALICE" +14155550101
expect "sign up alice" 201 \
    ".id | test(\"^user_$ID_RE\$\")"
sample User
ALICE_USER=$USER
ALICE_ID=$UID_
check_eq "handle lowered" alice "$(jqb .handle)"
check_eq "user fields" '["created_at","display_name","email","handle","id","phone"]' \
    "$(jqb 'keys | tostring')"
check_eq "email" alice@example.com "$(jqb .email)"
check_eq "phone" +14155550101 "$(jqb .phone)"
check "created_at is RFC 3339 UTC with ms" grep -Eq "$TS_RE" <<<"$(jqb .created_at)"
check "Request-Id header" test -n "$(header Request-Id)"

login alice "$PW_ALICE"
expect "log in by handle" 201 '(.token | type) == "string" and (.token | length) > 16'
sample Session
ALICE=$TOK
check "session expires_at in the future" \
    test "$(jqb '.expires_at | sub("\\.[0-9]+Z$"; "Z") | fromdate')" -gt "$(date +%s)"
check_eq "session user is alice" "$(jq -cS . <<<"$ALICE_USER")" "$(jqb '.user' | jq -cS .)"
for l in @alice ALICE alice@example.com +14155550101; do
    login "$l" "$PW_ALICE"
    expect "log in as $l" 201 ".user.id == \"$ALICE_ID\""
done

api POST /v1/sessions "$(jq -nc --arg p "$PW_ALICE" '{login: "alice", password: $p}')"
check_eq "log in answers no-store" no-store "$(header Cache-Control)"
t1=$(IKEY=login-key-1 login alice "$PW_ALICE"; echo "$TOK")
IKEY=login-key-1 login alice "$PW_ALICE"
expect "keyed log-in is not replayed" 201 ".token != \"$t1\""
check_eq "keyed log-in carries no Idempotent-Replayed" "" "$(header Idempotent-Replayed)"

TOKEN=$ALICE api GET /v1/me
expect "me" 200 ".id == \"$ALICE_ID\""
check_eq "me is the signed-up user" "$(jq -cS . <<<"$ALICE_USER")" "$(jq -cS . <<<"$BODY")"
sample User

PW_BOB=$(newpw)
signup bob "$PW_BOB"
expect "sign up bob without phone" 201 '.phone == null'
sample User
BOB_ID=$UID_
login @bob "$PW_BOB"
BOB=$TOK
check "bob logged in" test -n "$BOB"

new_user carol
CAROL=$TOK

new_user dave
DAVE=$TOK

TOKEN=$ALICE api GET '/v1/users/lookup?q=@bob'
expect "lookup @bob" 200 '.handle == "bob" and .display_name == "User bob" and (keys == ["display_name", "handle"])'
sample UserPublic
for q in bob bob%40example.com %2B14155550101; do
    TOKEN=$BOB api GET "/v1/users/lookup?q=$q"
    expect "lookup $q" 200 '(.handle | type) == "string"'
done
TOKEN=$ALICE api GET '/v1/users/lookup?q=@nobody_here'
expect_problem "lookup of nobody" 404 not_found

# ---------------------------------------------------------------------------------------------
echo "-- wallets, deposit, payment, balances, histories"
TOKEN=$ALICE api GET /v1/wallets
expect "new user has one USD wallet" 200 \
    '.has_more == false and (.data | length) == 1 and .data[0].currency == "USD"
     and .data[0].balance == {"available": 0, "pending": 0}'
sample WalletList
ALICE_WAL=$(jqb '.data[0].id')
check "wallet id" grep -Eq "^wal_$ID_RE\$" <<<"$ALICE_WAL"
check "wallet fields" test "$(jqb '.data[0] | keys | tostring')" = '["amount_owed","balance","created_at","currency","id","restricted"]'
TOKEN=$ALICE api GET "/v1/wallets/$ALICE_WAL"
expect "get wallet" 200 ".id == \"$ALICE_WAL\" and .currency == \"USD\""
sample Wallet
BOB_WAL=$(wallet_id "$BOB")

IKEY=dep-alice-1 deposit "$ALICE" 100000
expect "deposit" 201 "(.id | test(\"^dep_$ID_RE\$\")) and .status == \"succeeded\" and
    .amount == 100000 and .currency == \"USD\" and .source == \"sandbox\" and
    .wallet_id == \"$ALICE_WAL\" and .balance_after == 100000"
check "deposit created_at" grep -Eq "$TS_RE" <<<"$(jqb .created_at)"
sample Deposit
check_eq "deposit fields" '["amount","balance_after","created_at","currency","id","source","status","wallet_id"]' \
    "$(jqb 'keys | tostring')"
deposit "$BOB" 5000
expect "deposit bob" 201 '.balance_after == 5000'
DEPOSITS_USD=105000

pay "$ALICE" @bob 2550 USD "lunch 🍜"
expect "payment" 201 "(.id | test(\"^pay_$ID_RE\$\")) and .status == \"succeeded\" and
    .amount == 2550 and .currency == \"USD\" and (.fee | type) == \"number\" and .fee >= 0 and
    .from == {\"id\": \"$ALICE_ID\", \"handle\": \"alice\", \"display_name\": \"User Alice\"} and
    .to.id == \"$BOB_ID\" and .to.handle == \"bob\" and .note == \"lunch 🍜\""
PAY1=$(jqb .id)
sample Payment
FEE1=$(jqb '.fee // 0')

ALICE_AFTER_PAY1=$((100000 - 2550 - FEE1))
check_eq "payment balance_after is the sender's" "$ALICE_AFTER_PAY1" "$(jqb .balance_after)"
check "payment created_at" grep -Eq "$TS_RE" <<<"$(jqb .created_at)"
check_eq "alice balance after paying" "$ALICE_AFTER_PAY1" "$(bal "$ALICE")"
check_eq "bob balance after being paid" 7550 "$(bal "$BOB")"
TOKEN=$ALICE api GET "/v1/wallets/$ALICE_WAL"
expect "wallet balance" 200 ".balance == {\"available\": $ALICE_AFTER_PAY1, \"pending\": 0}"

h=$(history "$ALICE" "$ALICE_WAL")
check "alice history: payment then deposit, newest first" jq -e \
    ".has_more == false and .data[0].type == \"payment\" and .data[0].amount == -2550 and
     .data[0].payment_id == \"$PAY1\" and .data[-1].type == \"deposit\" and
     .data[-1].amount == 100000 and .data[-1].payment_id == null and
     .data[-1].balance_after == 100000 and .data[0].currency == \"USD\"" <<<"$h"
check "alice history: running balance_after" running_ok "$h"
check_eq "alice history: newest balance_after is the balance" "$ALICE_AFTER_PAY1" \
    "$(jq '.data[0].balance_after' <<<"$h")"
check "alice history: entry fields and ids" jq -e \
    "all(.data[]; (keys == [\"amount\",\"balance_after\",\"created_at\",\"currency\",\"id\",\"payment_id\",\"type\"])
     and (.id | test(\"^txn_$ID_RE\$\")) and (.created_at | test(\"$TS_RE\")))" <<<"$h"
if [ "$FEE1" -gt 0 ]; then
    check "alice history: fee entry" jq -e "any(.data[]; .type == \"fee\" and .amount == -$FEE1)" <<<"$h"
fi
h=$(history "$BOB" "$BOB_WAL")
BODY=$h sample TransactionList
check "bob history" jq -e \
    ".data[0].type == \"payment\" and .data[0].amount == 2550 and .data[0].payment_id == \"$PAY1\"
     and .data[0].balance_after == 7550 and .data[1].type == \"deposit\" and
     .data[1].balance_after == 5000 and (.data | length) == 2" <<<"$h"
check "bob history: running balance_after" running_ok "$h"

TOKEN=$ALICE api GET "/v1/payments/$PAY1"
expect "sender reads the payment" 200 ".id == \"$PAY1\" and .amount == 2550 and .to.id == \"$BOB_ID\""
TOKEN=$BOB api GET "/v1/payments/$PAY1"
expect "recipient reads the payment" 200 ".id == \"$PAY1\" and .from.id == \"$ALICE_ID\""
sample Payment
check "recipient does not see the sender's balance_after" \
    jq -e "(has(\"balance_after\") | not) or .balance_after != $ALICE_AFTER_PAY1" <<<"$BODY"
TOKEN=$ALICE api GET '/v1/payments?direction=sent'
expect "alice sent list has it" 200 ".has_more == false and [.data[].id] == [\"$PAY1\"]"
TOKEN=$ALICE api GET '/v1/payments?direction=received'
expect "alice received list is empty" 200 '.data == [] and .has_more == false'
sample PaymentList
TOKEN=$ALICE api GET /v1/payments
expect "alice list (both)" 200 "[.data[].id] == [\"$PAY1\"]"
sample PaymentList
TOKEN=$BOB api GET '/v1/payments?direction=received'
expect "bob received list has it" 200 "[.data[].id] == [\"$PAY1\"] and .data[0].amount == 2550"
TOKEN=$BOB api GET '/v1/payments?direction=sent'
expect "bob sent list is empty" 200 '.data == []'
TOKEN=$ALICE api GET '/v1/payments?direction=sideways'
expect_problem "bad direction" 400 invalid_request

# ---------------------------------------------------------------------------------------------
echo "-- second currency, wallet_exists, wallet_not_found, recipient wallet opened"
TOKEN=$ALICE api POST /v1/wallets '{"currency": "EUR"}'
expect "open EUR wallet" 201 '.currency == "EUR" and .balance == {"available": 0, "pending": 0} and (.id | startswith("wal_"))'
sample Wallet
ALICE_EUR=$(jqb .id)
TOKEN=$ALICE api POST /v1/wallets '{"currency": "EUR"}'
expect_problem "second EUR wallet" 409 wallet_exists
TOKEN=$ALICE api POST /v1/wallets '{"currency": "USD"}'
expect_problem "second USD wallet" 409 wallet_exists
for c in eur ABC US EURO ''; do
    TOKEN=$ALICE api POST /v1/wallets "{\"currency\": \"$c\"}"
    expect_problem "wallet currency '$c'" 400 unknown_currency
done
TOKEN=$ALICE api GET /v1/wallets
expect "wallets oldest first" 200 "[.data[].id] == [\"$ALICE_WAL\", \"$ALICE_EUR\"] and .has_more == false"
deposit "$ALICE" 1000 EUR
expect "EUR deposit" 201 ".wallet_id == \"$ALICE_EUR\" and .balance_after == 1000"
check_eq "bob has no EUR wallet yet" none "$(bal "$BOB" EUR)"
pay "$ALICE" @bob 300 EUR
expect "EUR payment to someone without an EUR wallet" 201 '.currency == "EUR"'
FEE_EUR=$(jqb '.fee // 0')
check_eq "recipient's EUR wallet opened and credited" 300 "$(bal "$BOB" EUR)"
check_eq "sender's EUR balance" $((700 - FEE_EUR)) "$(bal "$ALICE" EUR)"
check_eq "USD untouched by EUR payment" "$ALICE_AFTER_PAY1" "$(bal "$ALICE")"
pay "$BOB" @carol 100 JPY
expect_problem "pay from a currency without a wallet" 422 wallet_not_found
deposit "$ALICE" 100 GBP
expect_problem "deposit into a currency without a wallet" 422 wallet_not_found

# ---------------------------------------------------------------------------------------------
echo "-- amounts, currencies, recipients"
before=$(bal "$ALICE")
for a in 10.5 1e3 1E3 1.0 '"10"' 0 -5 -0 9223372036854775808 99999999999999999999999 \
    '"1050"' 1.5e2; do
    pay "$ALICE" @bob "$a"
    expect_problem "payment amount $a" 400 invalid_amount amount
done
for a in 10.5 1e3 '"10"' 0 -5 9223372036854775808; do
    deposit "$ALICE" "$a"
    expect_problem "deposit amount $a" 400 invalid_amount amount
done
pay "$ALICE" @bob 9223372036854775807
expect_problem "largest amount is valid, but too much" 422 insufficient_funds
# An amount the sender cannot cover is insufficient_funds whoever receives it: the answer must
# not depend on the recipient's totals (bob has received more than 5000 so far, carol nothing),
# or it would tell the sender something about them.
pay "$ALICE" @carol $((9223372036854775807 - 5000))
expect_problem "too much, to a recipient who received nothing yet" 422 insufficient_funds
pay "$ALICE" @bob $((9223372036854775807 - 5000))
expect_problem "too much, to a recipient who received 7550 so far" 422 insufficient_funds
for c in usd ABC '' 'US D'; do
    pay "$ALICE" @bob 100 "$c"
    expect_problem "payment currency '$c'" 400 unknown_currency
    deposit "$ALICE" 100 "$c"
    expect_problem "deposit currency '$c'" 400 unknown_currency
done
pay "$ALICE" @bob $((before + 1))
expect_problem "one cent more than the balance" 422 insufficient_funds
pay "$CAROL" @bob 1
expect_problem "empty wallet pays" 422 insufficient_funds
for to in @nobody_at_all nobody@example.com +19995550000 @; do
    pay "$ALICE" "$to" 100
    if [ "$to" = @ ]; then
        # "@" alone is not a handle: a malformed recipient or an unknown one, never a payment.
        check "recipient '@' refused ($STATUS)" test "$STATUS" = 400 -o "$STATUS" = 422
    else
        expect_problem "recipient $to" 422 recipient_not_found
    fi
done
for to in @alice @ALICE alice@example.com alice@EXAMPLE.COM +14155550101; do
    pay "$ALICE" "$to" 100
    expect_problem "pay self as $to" 422 cannot_pay_self
done
pay "$ALICE" @bob 1 USD "$(printf 'n%.0s' $(seq 281))"
expect_problem "281-character note" 400 invalid_request note
pay "$ALICE" @bob 1 USD "$(printf 'é%.0s' $(seq 280))"
expect "280-character note (code points)" 201 '.note | length == 280'
FEES_USD=$((FEE1 + $(jqb '.fee // 0')))
check_eq "failed payments moved nothing" $((before - 1 - $(jqb '.fee // 0'))) "$(bal "$ALICE")"

# ---------------------------------------------------------------------------------------------
echo "-- sign-up and log-in errors"
u() { # u HANDLE EMAIL PASSWORD [PHONE]: a sign-up body
    jq -nc --arg h "$1" --arg e "$2" --arg p "$3" --arg ph "${4-}" \
        '{handle: $h, email: $e, password: $p, display_name: "X"}
         + (if $ph == "" then {} else {phone: $ph} end)'
}
api POST /v1/users "$(u ALICE fresh1@example.com "$(newpw)")"
expect_problem "handle taken (other case)" 409 handle_taken
api POST /v1/users "$(u fresh1 alice@example.com "$(newpw)")"
expect_problem "email taken" 409 email_taken
api POST /v1/users "$(u fresh1 alice@EXAMPLE.com "$(newpw)")"
expect_problem "email taken (domain case)" 409 email_taken
api POST /v1/users "$(u fresh1 fresh1@example.com "$(newpw)" +14155550101)"
expect_problem "phone taken" 409 phone_taken
api POST /v1/users "$(u fresh1 fresh1@example.com 'elevenchars')"
expect_problem "11-character password" 400 weak_password password
api POST /v1/users "$(u fresh1 fresh1@example.com '1qaz2wsx3edc')"
expect_problem "common password" 400 weak_password password
api POST /v1/users "$(u fresh1 fresh1@example.com "$(printf 'é%.0s' $(seq 11))")"
expect_problem "11 code points in 22 bytes" 400 weak_password password
api POST /v1/users "$(u fresh1 fresh1@example.com "$(head -c 1025 /dev/zero | tr '\0' 'k')")"
expect_problem "1025-character password" 400 weak_password password
for h in ab a-b-c "$(printf 'h%.0s' $(seq 31))" 'al ice' '@alice'; do
    api POST /v1/users "$(u "$h" fresh1@example.com "$(newpw)")"
    expect_problem "handle '$h'" 400 invalid_request handle
done
for e in not-an-email 'a@b' 'a@@example.com' '@example.com'; do
    api POST /v1/users "$(u fresh1 "$e" "$(newpw)")"
    expect_problem "email '$e'" 400 invalid_request email
done
for p in 12345 +0123456789 '+1 415 555 0101' 4155550101; do
    api POST /v1/users "$(u fresh1 fresh1@example.com "$(newpw)" "$p")"
    expect_problem "phone '$p'" 400 invalid_request phone
done
api POST /v1/users '{"handle": "fresh1", "email": "fresh1@example.com", "password": "long-enough-password-1"}'
expect_problem "missing display_name" 400 invalid_request
# The longest password works and is not truncated: one character less does not log in.
long_pw="$(head -c 1023 /dev/urandom | base64 -w0 | head -c 1023)Z"
signup longpw "$long_pw"
expect "1024-character password accepted" 201
login longpw "$long_pw"
expect "log in with the 1024-character password" 201
login longpw "${long_pw%?}"
expect_problem "its 1023-character prefix does not log in" 401 invalid_credentials
uni_pw="$(printf 'é%.0s' $(seq 12))"
signup unipw "$uni_pw"
expect "12 code points accepted" 201

login alice "wrong-password-123"
expect_problem "wrong password" 401 invalid_credentials
wrong_body=$(without_request_id)
login nobody_here "wrong-password-123"
expect_problem "unknown login" 401 invalid_credentials
check_eq "unknown login answers exactly like a wrong password" "$wrong_body" "$(without_request_id)"
api POST /v1/sessions '{"login": "alice"}'
expect_problem "log in without password" 400 invalid_request

# Several nodes: the login throttle is per process, in memory (src/auth/throttle.h), so every
# node counts its own failures; the attempts all go to one node (node 0 of $BASE; with one
# node, $BASE as ever).
THROTTLE_URL=$(tl_node_base 0)
TL_VIA=$THROTTLE_URL signup throttled "$(newpw)"
for i in 1 2 3 4 5; do
    TL_VIA=$THROTTLE_URL login throttled "wrong-password-$i"
done
expect_problem "fifth wrong password" 401 invalid_credentials
# The backoff after the fifth failure is 1 s and doubles with each failure after it; on a
# loaded machine the sixth attempt can arrive after 1 s, so up to three attempts made right
# away must meet the throttle (the seventh waits 2 s, the eighth 4 s: each longer than a
# request takes).
for i in 6 7 8; do
    TL_VIA=$THROTTLE_URL login throttled "wrong-password-$i"
    [ "$STATUS" = 429 ] && break
done
expect_problem "an attempt right after the fifth failure is throttled" 429 rate_limited
check "throttle Retry-After" grep -Eq '^[1-9][0-9]*$' <<<"$(header Retry-After)"

# ---------------------------------------------------------------------------------------------
echo "-- unauthorized, log out"
api GET /v1/me
expect_problem "no token" 401 unauthorized
check "401 names the Bearer scheme" grep -q '^Bearer' <<<"$(header WWW-Authenticate)"
TOKEN=garbage api GET /v1/me
expect_problem "garbage token" 401 unauthorized
TOKEN="${ALICE%?????}AAAAA" api GET /v1/me
expect_problem "tampered token" 401 unauthorized
curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: Basic $(printf 'alice:x' | base64)" \
    "$(tl_url)/v1/me" >"$WORK/code"
check_eq "Basic auth is not a session" 401 "$(cat "$WORK/code")"
for r in "GET /v1/wallets" "GET /v1/payments" "GET /v1/wallets/$ALICE_WAL" \
    "GET /v1/payments/$PAY1" "GET /v1/users/lookup?q=@bob" "DELETE /v1/sessions/current"; do
    api "${r% *}" "${r#* }"
    expect_problem "no token: $r" 401 unauthorized
done
api POST /v1/payments '{"to": "@bob", "amount": 1, "currency": "USD"}'
expect_problem "no token: pay" 401 unauthorized
api POST /v1/deposits '{"amount": 1, "currency": "USD", "source": "sandbox"}'
expect_problem "no token: deposit" 401 unauthorized
api POST /v1/wallets '{"currency": "GBP"}'
expect_problem "no token: open wallet" 401 unauthorized
login alice "$PW_ALICE"
ALICE2=$TOK
TOKEN=$ALICE2 api DELETE /v1/sessions/current
check_eq "log out 204" 204 "$STATUS"
check_eq "log out has no body" "" "$BODY"
# Several nodes: each node caches a session for up to 30 s (the node that logged it in already
# has it), and a logout reaches the other nodes' caches only within those 30 s
# (docs/operations.md, Stateless nodes): a logout is at once only on the node that took it. So
# these two go to that node; every node is checked later, once 30 s have passed
# ("logged-out token, every node").
LOGOUT_URL=$TL_LAST_URL
LOGOUT_S=$SECONDS
TL_VIA=$LOGOUT_URL TOKEN=$ALICE2 api GET /v1/me
expect_problem "logged-out token" 401 unauthorized
TL_VIA=$LOGOUT_URL TOKEN=$ALICE2 api DELETE /v1/sessions/current
expect_problem "log out twice" 401 unauthorized
TOKEN=$ALICE api GET /v1/me
expect "other sessions keep working" 200 ".id == \"$ALICE_ID\""

# ---------------------------------------------------------------------------------------------
echo "-- not found and authorization (someone else's looks missing)"
NOPAY=$(missing_id "$PAY1")
NOWAL=$(missing_id "$ALICE_WAL")
TOKEN=$ALICE api GET "/v1/payments/$NOPAY"
expect_problem "missing payment" 404 not_found
TOKEN=$ALICE api GET "/v1/wallets/$NOWAL"
expect_problem "missing wallet" 404 not_found
for bad in garbage pay_ "$ALICE_WAL" "${PAY1^^}" "wal_00000000000000000000000000"; do
    TOKEN=$ALICE api GET "/v1/payments/$bad"
    expect_problem "payment id '$bad'" 404 not_found
done
TOKEN=$ALICE api GET "/v1/wallets/$PAY1"
expect_problem "a payment id as a wallet id" 404 not_found
TOKEN=$ALICE api GET /v1/nothing-here
expect_problem "unknown route" 404 not_found
TOKEN=$DAVE same_404 "payment" "/v1/payments/$PAY1" "/v1/payments/$NOPAY" "$PAY1" "$NOPAY"
TOKEN=$DAVE same_404 "wallet" "/v1/wallets/$ALICE_WAL" "/v1/wallets/$NOWAL" "$ALICE_WAL" "$NOWAL"
TOKEN=$DAVE same_404 "transactions" "/v1/wallets/$ALICE_WAL/transactions" \
    "/v1/wallets/$NOWAL/transactions" "$ALICE_WAL" "$NOWAL"
TOKEN=$CAROL same_404 "EUR wallet" "/v1/wallets/$ALICE_EUR" "/v1/wallets/$NOWAL" "$ALICE_EUR" "$NOWAL"
TOKEN=$DAVE api GET /v1/payments
expect "others' payments are not listed" 200 '.data == [] and .has_more == false'
TOKEN=$DAVE api GET "/v1/payments?starting_after=$PAY1"
check "someone else's id as a cursor reveals nothing ($STATUS)" \
    jq -e '(.data // []) == []' <<<"$BODY"

# ---------------------------------------------------------------------------------------------
echo "-- strict JSON"
before=$(bal "$ALICE")
bad_json() { # bad_json NAME BODY [PARAM]
    TOKEN=$ALICE api POST /v1/payments "$2"
    if [ $# -ge 3 ]; then
        expect_problem "$1" 400 invalid_request "$3"
    else
        expect_problem "$1" 400 invalid_request
    fi
}
bad_json "truncated JSON" '{"to": "@bob", "amount": 1'
bad_json "not JSON" 'to=@bob&amount=1'
bad_json "empty body" ''
bad_json "array body" '[{"to": "@bob", "amount": 1, "currency": "USD"}]'
bad_json "null body" 'null'
bad_json "number body" '42'
bad_json "string body" '"@bob"'
bad_json "single quotes" "{'to': '@bob', 'amount': 1, 'currency': 'USD'}"
bad_json "trailing comma" '{"to": "@bob", "amount": 1, "currency": "USD",}'
bad_json "trailing garbage" '{"to": "@bob", "amount": 1, "currency": "USD"} x'
bad_json "two objects" '{"to": "@bob", "amount": 1, "currency": "USD"}{}'
bad_json "duplicate amount" '{"to": "@bob", "amount": 1, "amount": 100000, "currency": "USD"}'
bad_json "duplicate to" '{"to": "@carol", "to": "@bob", "amount": 1, "currency": "USD"}'
bad_json "to is a number" '{"to": 5, "amount": 1, "currency": "USD"}' to
bad_json "to is null" '{"to": null, "amount": 1, "currency": "USD"}' to
bad_json "note is a number" '{"to": "@bob", "amount": 1, "currency": "USD", "note": 5}' note
bad_json "to missing" '{"amount": 1, "currency": "USD"}'
bad_json "unknown field balance" '{"to": "@bob", "amount": 1, "currency": "USD", "balance": 1}' balance
bad_json "unknown field status" '{"to": "@bob", "amount": 1, "currency": "USD", "status": "succeeded"}' status
bad_json "unknown field from" '{"to": "@bob", "amount": 1, "currency": "USD", "from": "@carol"}' from
bad_json "invalid UTF-8 in note" $'{"to": "@bob", "amount": 1, "currency": "USD", "note": "\xff\xfe"}'
bad_json "control character in note" '{"to": "@bob", "amount": 1, "currency": "USD", "note": "a\u0000b"}'
bad_json "nested too deep" '{"to": "@bob", "amount": 1, "currency": "USD", "note": [[[[[[[[[[1]]]]]]]]]]}'
TOKEN=$ALICE CTYPE=text/plain api POST /v1/payments '{"to": "@bob", "amount": 1, "currency": "USD"}'
expect_problem "text/plain body" 415 unsupported_media_type
TOKEN=$ALICE api POST /v1/deposits '{"amount": 1, "currency": "USD", "source": "sandbox", "wallet_id": "x"}'
expect_problem "deposit unknown field" 400 invalid_request wallet_id
TOKEN=$ALICE api POST /v1/deposits '{"amount": 1, "currency": "USD", "source": "bank"}'
expect_problem "deposit source other than sandbox" 400 invalid_request source
TOKEN=$ALICE api POST /v1/deposits '{"amount": 1, "currency": "USD"}'
expect_problem "deposit without source" 400 invalid_request
TOKEN=$ALICE api POST /v1/wallets '{"currency": "GBP", "balance": {"available": 100}}'
expect_problem "wallet unknown field balance" 400 invalid_request balance
TOKEN=$ALICE api POST /v1/wallets '{"currency": "GBP", "owner": "user_x"}'
expect_problem "wallet unknown field owner" 400 invalid_request owner
api POST /v1/users "$(u fresh2 fresh2@example.com "$(newpw)" | jq -c '. + {id: "user_x"}')"
expect_problem "sign-up unknown field" 400 invalid_request id
api POST /v1/users "$(u fresh2 fresh2@example.com "$(newpw)" | jq -c '. + {status: "admin"}')"
expect_problem "sign-up unknown field status" 400 invalid_request status
check_eq "bad requests moved nothing" "$before" "$(bal "$ALICE")"
TOKEN=$ALICE api GET /v1/wallets
check "bad requests opened no wallet" jq -e '[.data[].currency] == ["USD", "EUR"]' <<<"$BODY"

# ---------------------------------------------------------------------------------------------
echo "-- idempotency"
a0=$(bal "$ALICE")
b0=$(bal "$BOB")
TOKEN=$ALICE IKEY=pay-key-1 api POST /v1/payments '{"to": "@bob", "amount": 111, "currency": "USD"}'
expect "first keyed payment" 201
first_body=$BODY
IPAY=$(jqb .id)
IFEE=$(jqb '.fee // 0')
check_eq "first answer is not a replay" "" "$(header Idempotent-Replayed)"
TOKEN=$ALICE IKEY=pay-key-1 api POST /v1/payments '{"to": "@bob", "amount": 111, "currency": "USD"}'
expect "replayed payment" 201
check_eq "replay has the same body" "$first_body" "$BODY"
check_eq "replay says so" true "$(header Idempotent-Replayed)"
TOKEN=$ALICE IKEY=pay-key-1 api POST /v1/payments '{"currency": "USD", "amount": 111, "to": "@bob"}'
check "same JSON, other key order: replay or reuse, never a second payment ($STATUS)" \
    test "$STATUS" = 201 -a "$(jqb .id)" = "$IPAY" -o "$STATUS" = 409
check_eq "sender charged once" $((a0 - 111 - IFEE)) "$(bal "$ALICE")"
check_eq "recipient credited once" $((b0 + 111)) "$(bal "$BOB")"
check_eq "listed once" 1 "$(TOKEN=$ALICE all_payments "$ALICE" | jq -s "[.[] | select(.id == \"$IPAY\")] | length")"
TOKEN=$ALICE IKEY=pay-key-1 api POST /v1/payments '{"to": "@bob", "amount": 112, "currency": "USD"}'
expect_problem "same key, other amount" 409 idempotency_key_reused
TOKEN=$ALICE IKEY=pay-key-1 api POST /v1/payments '{"to": "@carol", "amount": 111, "currency": "USD"}'
expect_problem "same key, other recipient" 409 idempotency_key_reused
TOKEN=$ALICE IKEY=pay-key-1 api POST /v1/deposits '{"amount": 111, "currency": "USD", "source": "sandbox"}'
expect_problem "same key on another endpoint" 409 idempotency_key_reused
check_eq "reuse moved nothing" $((a0 - 111 - IFEE)) "$(bal "$ALICE")"
TOKEN=$BOB IKEY=pay-key-1 api POST /v1/payments '{"to": "@alice", "amount": 5, "currency": "USD"}'
expect "keys are per caller: bob's pay-key-1 is his own" 201 ".id != \"$IPAY\""
BFEE=$(jqb '.fee // 0')
FEES_USD=$((FEES_USD + IFEE + BFEE))

TOKEN=$CAROL IKEY=dep-key-1 api POST /v1/deposits '{"amount": 4000, "currency": "USD", "source": "sandbox"}'
expect "keyed deposit" 201
dep_body=$BODY
TOKEN=$CAROL IKEY=dep-key-1 api POST /v1/deposits '{"amount": 4000, "currency": "USD", "source": "sandbox"}'
expect "replayed deposit" 201
check_eq "deposit replay body" "$dep_body" "$BODY"
check_eq "deposit replay header" true "$(header Idempotent-Replayed)"
check_eq "deposited once" 4000 "$(bal "$CAROL")"
DEPOSITS_USD=$((DEPOSITS_USD + 4000))

TOKEN=$CAROL IKEY=pay-key-poor api POST /v1/payments '{"to": "@bob", "amount": 9000, "currency": "USD"}'
expect_problem "keyed payment without funds" 422 insufficient_funds
deposit "$CAROL" 6000
DEPOSITS_USD=$((DEPOSITS_USD + 6000))
TOKEN=$CAROL IKEY=pay-key-poor api POST /v1/payments '{"to": "@bob", "amount": 9000, "currency": "USD"}'
check_eq "a retry replays the first answer, even a failure (status)" 422 "$STATUS"
check_eq "a retry replays the first answer, even a failure (header)" true "$(header Idempotent-Replayed)"
check_eq "the replayed failure moved nothing" 10000 "$(bal "$CAROL")"

signup_body=$(u keyed_signup keyed_signup@example.com "$(newpw)")
IKEY=signup-key-1 api POST /v1/users "$signup_body"
expect "keyed sign-up" 201
su_body=$BODY
IKEY=signup-key-1 api POST /v1/users "$signup_body"
check_eq "sign-up replay: same status, not handle_taken" 201 "$STATUS"
check_eq "sign-up replay: same body" "$su_body" "$BODY"

TOKEN=$ALICE IKEY="$(head -c 256 /dev/zero | tr '\0' k)" api POST /v1/payments '{"to": "@bob", "amount": 1, "currency": "USD"}'
expect_problem "256-character key" 400 invalid_request Idempotency-Key
TOKEN=$ALICE IKEY="has space" api POST /v1/payments '{"to": "@bob", "amount": 1, "currency": "USD"}'
expect_problem "key with a space" 400 invalid_request Idempotency-Key
TOKEN=$ALICE IKEY="$(head -c 255 /dev/zero | tr '\0' k)" api POST /v1/payments '{"to": "@bob", "amount": 1, "currency": "USD"}'
expect "255-character key" 201
FEES_USD=$((FEES_USD + $(jqb '.fee // 0')))

# Concurrent requests with one key execute once; the others replay the first.
a0=$(bal "$ALICE")
b0=$(bal "$BOB")
pids=()
for i in $(seq 1 8); do
    curl -s -o "$WORK/ck.$i" -w '%{http_code}\n' --max-time 20 -X POST \
        -H "Authorization: Bearer $ALICE" -H 'Idempotency-Key: pay-key-concurrent' \
        -H 'Content-Type: application/json' \
        --data-binary '{"to": "@bob", "amount": 7, "currency": "USD"}' \
        "$(tl_node_base "$i")/v1/payments" >"$WORK/ck.$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
# Several nodes: a duplicate that reaches the other node while the first request runs there
# answers 409 idempotency_key_in_progress with Retry-After: 1 (docs/api.md, Idempotency); the
# contract is that retrying it then replays the first answer, so those are retried (as a client
# would) and must then answer like the others. One node never answers it (they wait and replay).
if [ "${#PIDS[@]}" -gt 1 ]; then
    for i in $(seq 1 8); do
        for _ in 1 2 3 4 5; do
            if [ "$(cat "$WORK/ck.$i.code")" != 409 ] ||
                [ "$(jq -r .code "$WORK/ck.$i")" != idempotency_key_in_progress ]; then
                break
            fi
            sleep 1
            curl -s -o "$WORK/ck.$i" -w '%{http_code}\n' --max-time 20 -X POST \
                -H "Authorization: Bearer $ALICE" -H 'Idempotency-Key: pay-key-concurrent' \
                -H 'Content-Type: application/json' \
                --data-binary '{"to": "@bob", "amount": 7, "currency": "USD"}' \
                "$(tl_node_base "$i")/v1/payments" >"$WORK/ck.$i.code"
        done
    done
fi
codes=$(cat "$WORK"/ck.*.code | sort -u | tr '\n' ' ')
ids=$(cat "$WORK"/ck.[0-9] | jq -r .id 2>/dev/null | sort -u | tr '\n' ' ')
check_eq "8 concurrent same-key requests all answer 201" "201 " "$codes"
check "8 concurrent same-key requests name one payment ($ids)" test "$(wc -w <<<"$ids")" -eq 1
CFEE=$(jq -r '.fee // 0' "$WORK/ck.1" 2>/dev/null || echo 0)
check_eq "concurrent same-key: charged once" $((a0 - 7 - CFEE)) "$(bal "$ALICE")"
check_eq "concurrent same-key: credited once" $((b0 + 7)) "$(bal "$BOB")"
FEES_USD=$((FEES_USD + CFEE))

# ---------------------------------------------------------------------------------------------
echo "-- 64 concurrent payments draining one wallet"
new_user drain
DRAIN=$TOK
deposit "$DRAIN" 10000
expect "fund drain with 10 x 1000" 201
DEPOSITS_USD=$((DEPOSITS_USD + 10000))
s0=$(($(bal "$DRAIN") + $(bal "$BOB")))
pids=()
for i in $(seq 1 64); do
    curl -s -o "$WORK/dr.$i" -w '%{http_code}\n' --max-time 30 -X POST \
        -H "Authorization: Bearer $DRAIN" -H 'Content-Type: application/json' \
        --data-binary '{"to": "@bob", "amount": 1000, "currency": "USD"}' \
        "$(tl_node_base "$i")/v1/payments" >"$WORK/dr.$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
ok=$(cat "$WORK"/dr.*.code | grep -c '^201$')
nsf=0
other=""
for i in $(seq 1 64); do
    c=$(cat "$WORK/dr.$i.code")
    if [ "$c" = 422 ] && [ "$(jq -r .code "$WORK/dr.$i")" = insufficient_funds ]; then
        nsf=$((nsf + 1))
    elif [ "$c" != 201 ]; then
        other="$other $c:$(jq -r .code "$WORK/dr.$i" 2>/dev/null)"
    fi
done
dfees=$(cat "$WORK"/dr.[0-9] "$WORK"/dr.[0-9][0-9] 2>/dev/null | jq -s '[.[] | select(.status == "succeeded") | .fee // 0] | add // 0')
check_eq "exactly 10 of 64 succeed" 10 "$ok"
check_eq "the other 54 are insufficient_funds (others:${other:- none})" 54 "$nsf"
check_eq "drained to zero, not below" 0 "$(bal "$DRAIN")"
check "every balance_after is >= 0 and distinct" jq -se \
    '[.[] | select(.status == "succeeded") | .balance_after] | (all(. >= 0)) and (length == (unique | length))' \
    "$WORK"/dr.[0-9] "$WORK"/dr.[0-9][0-9]
check_eq "money moved, not made: drain + bob unchanged" "$s0" \
    $(($(bal "$DRAIN") + $(bal "$BOB") + dfees))
FEES_USD=$((FEES_USD + dfees))

# ---------------------------------------------------------------------------------------------
echo "-- pagination"
new_user pager
PAGER=$TOK
for i in $(seq 1 25); do
    deposit "$PAGER" "$i"
    [ "$STATUS" = 201 ] || fail "pager deposit $i: $STATUS $BODY"
done
DEPOSITS_USD=$((DEPOSITS_USD + 325))
PW_=$(wallet_id "$PAGER")
full=$(history "$PAGER" "$PW_")
check "25 entries newest first" jq -e \
    '[.data[].amount] == [range(25; 0; -1)] and .has_more == false' <<<"$full"
tid() { jq -r ".data[$1].id" <<<"$full"; } # id of the entry at index $1 (amount 25 - $1)
TP="/v1/wallets/$PW_/transactions"
TOKEN=$PAGER api GET "$TP"
expect "default limit is 20" 200 '(.data | length) == 20 and .has_more == true and .data[0].amount == 25'
sample TransactionList
TOKEN=$PAGER api GET "$TP?limit=1"
expect "limit=1" 200 '[.data[].amount] == [25] and .has_more == true'
TOKEN=$PAGER api GET "$TP?limit=100"
expect "limit=100" 200 '(.data | length) == 25 and .has_more == false'
for l in 0 101 -1 abc 1.5 ''; do
    TOKEN=$PAGER api GET "$TP?limit=$l"
    expect_problem "limit=$l" 400 invalid_request
done
TOKEN=$PAGER api GET "$TP?starting_after=$(tid 4)&limit=5"
expect "starting_after: the next older page" 200 '[.data[].amount] == [20, 19, 18, 17, 16] and .has_more == true'
sample TransactionList
TOKEN=$PAGER api GET "$TP?starting_after=$(tid 20)&limit=10"
expect "starting_after: the last page" 200 '[.data[].amount] == [4, 3, 2, 1] and .has_more == false'
TOKEN=$PAGER api GET "$TP?starting_after=$(tid 24)"
expect "starting_after the oldest: empty" 200 '.data == [] and .has_more == false'
TOKEN=$PAGER api GET "$TP?ending_before=$(tid 10)&limit=5"
expect "ending_before: the 5 just newer, newest first" 200 '[.data[].amount] == [20, 19, 18, 17, 16] and .has_more == true'
TOKEN=$PAGER api GET "$TP?ending_before=$(tid 3)&limit=5"
expect "ending_before: the first page" 200 '[.data[].amount] == [25, 24, 23] and .has_more == false'
TOKEN=$PAGER api GET "$TP?ending_before=$(tid 0)"
expect "ending_before the newest: empty" 200 '.data == [] and .has_more == false'
TOKEN=$PAGER api GET "$TP?starting_after=$(tid 2)&ending_before=$(tid 9)"
expect_problem "both cursors" 400 invalid_request
# Walking forward, then backward, page by page gives the whole list exactly once.
walked="" after="" pages=0
while [ $pages -lt 10 ]; do
    page=$(curl -s -H "Authorization: Bearer $PAGER" "$(tl_url)$TP?limit=7${after:+&starting_after=$after}")
    walked="$walked $(jq -r '[.data[].amount] | map(tostring) | join(" ")' <<<"$page")"
    pages=$((pages + 1))
    [ "$(jq -r .has_more <<<"$page")" = true ] || break
    after=$(jq -r '.data[-1].id' <<<"$page")
done
check_eq "forward walk covers every entry once" " $(seq -s ' ' 25 -1 1)" "$walked"
check_eq "forward walk takes 4 pages of 7" 4 "$pages"
walked="" before_id=$(tid 24) pages=0
while [ $pages -lt 10 ]; do
    page=$(curl -s -H "Authorization: Bearer $PAGER" "$(tl_url)$TP?limit=7&ending_before=$before_id")
    walked="$(jq -r '[.data[].amount] | map(tostring) | join(" ")' <<<"$page") $walked"
    pages=$((pages + 1))
    [ "$(jq -r .has_more <<<"$page")" = true ] || break
    before_id=$(jq -r '.data[0].id' <<<"$page")
done
check_eq "backward walk covers every entry once" "$(seq -s ' ' 25 -1 2) " "$walked"

# Payments lists page the same way (alice has more than a handful by now).
pfull=$(curl -s -H "Authorization: Bearer $ALICE" "$(tl_url)/v1/payments?limit=100")
pcount=$(jq '.data | length' <<<"$pfull")
check "alice's payments newest first" jq -e \
    '[.data[].created_at] == ([.data[].created_at] | sort | reverse) and .has_more == false' <<<"$pfull"
walked="" after="" pages=0
while [ $pages -lt 50 ]; do
    page=$(curl -s -H "Authorization: Bearer $ALICE" "$(tl_url)/v1/payments?limit=2${after:+&starting_after=$after}")
    walked="$walked $(jq -r '[.data[].id] | join(" ")' <<<"$page")"
    pages=$((pages + 1))
    [ "$(jq -r .has_more <<<"$page")" = true ] || break
    after=$(jq -r '.data[-1].id' <<<"$page")
done
check_eq "payments walk in pages of 2" " $(jq -r '[.data[].id] | join(" ")' <<<"$pfull")" \
    "$(sed 's/  */ /g; s/ $//' <<<"$walked")"
TOKEN=$ALICE api GET '/v1/payments?limit=101'
expect_problem "payments limit=101" 400 invalid_request
TOKEN=$ALICE api GET "/v1/payments?direction=sent&limit=1"
expect "sent, limit=1" 200 '(.data | length) == 1 and .has_more == true and .data[0].from.handle == "alice"'
sample PaymentList
check "alice has payments both ways ($pcount)" test "$pcount" -gt 3

# ---------------------------------------------------------------------------------------------
echo "-- limits"
head -c 10000000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 -X POST \
    -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
    --data-binary @"$WORK/big.json" "$(tl_url)/v1/payments")
BODY=$(cat "$WORK/body")
check_eq "10 MB body: 413" 413 "$code"
check_eq "10 MB body: payload_too_large" payload_too_large "$(jqb .code)"

new_user eve
EVE=$TOK
got429=0 first=""
for i in $(seq 1 40); do
    TOKEN=$EVE api GET '/v1/users/lookup?q=@bob'
    [ -z "$first" ] && first=$STATUS
    if [ "$STATUS" = 429 ]; then
        got429=1
        break
    fi
done
check_eq "first lookup answers" 200 "$first"
check_eq "hammered lookup is limited" 1 "$got429"
if [ $got429 = 1 ]; then
    expect_problem "lookup 429" 429 rate_limited
    check "lookup Retry-After is whole seconds" grep -Eq '^[1-9][0-9]*$' <<<"$(header Retry-After)"
fi
TOKEN=$ALICE api GET '/v1/users/lookup?q=@bob'
expect "eve's lookups do not limit alice" 200
TOKEN=$EVE api GET /v1/me
expect "the lookup bucket does not limit other endpoints" 200

# ---------------------------------------------------------------------------------------------
echo "-- conservation: deposits = balances + fees"
total=0
for t in "$ALICE" "$BOB" "$CAROL" "$DAVE" "$DRAIN" "$PAGER" "$EVE"; do
    total=$((total + $(bal "$t")))
done
check_eq "USD across every user equals USD deposited minus fees" $((DEPOSITS_USD - FEES_USD)) "$total"
check_eq "EUR across every user" $((1000 - FEE_EUR)) $(($(bal "$ALICE" EUR) + $(bal "$BOB" EUR)))
# Every history on the server still adds up.
for t in "$ALICE" "$BOB" "$CAROL" "$DRAIN"; do
    w=$(wallet_id "$t")
    h=$(history "$t" "$w")
    check "history adds up to the balance ($w)" test \
        "$(jq '.data[0].balance_after' <<<"$h")" = "$(bal "$t")"
    check "history running balance ($w)" running_ok "$h"
done

api GET /healthz
expect "healthz" 200 '.status == "ok"'
sample Health
api GET /readyz
expect "readyz" 200 '.status == "ready"'
sample Ready

echo "-- responses against docs/openapi.yaml schemas"
python3 "$root/tests/api/check_schemas.py" "$root/docs/openapi.yaml" "$WORK/samples" \
    >"$WORK/schemas.txt" 2>&1
while read -r verdict rest; do
    case $verdict in
    ok) pass ;;
    *) fail "schema: $rest" ;;
    esac
done <"$WORK/schemas.txt"
check "schema check ran ($(grep -c '' "$WORK/schemas.txt") samples)" test "$(grep -c '^ok ' "$WORK/schemas.txt")" -ge 20

# ---------------------------------------------------------------------------------------------
echo "-- operator routes: the operator token, never a user session"
BASE=$MAIN_BASE
if new_user opview +14155550177; then
    OP_USER=$TOK
    OP_UID=$(jq -r .id <<<"$USER")
    TOKEN=$ADMIN_TOKEN api GET "/v1/admin/users/$OP_UID"
    expect "operator reads a user's profile" 200 \
        '.handle == "opview" and .email == "opview@example.com" and .phone == "+14155550177"'
    TOKEN=$OP_USER api GET "/v1/admin/users/$OP_UID"
    expect_problem "a user session is not the operator" 401 unauthorized
    [ "$(header WWW-Authenticate)" != "" ] && pass || fail "operator 401 names a scheme"
    TOKEN= api GET "/v1/admin/users/$OP_UID"
    expect_problem "no token" 401 unauthorized
    TOKEN="${ADMIN_TOKEN}x" api GET "/v1/admin/users/$OP_UID"
    expect_problem "a longer token" 401 unauthorized
    TOKEN="${ADMIN_TOKEN%?}" api GET "/v1/admin/users/$OP_UID"
    expect_problem "a shorter token" 401 unauthorized
    TOKEN=$ADMIN_TOKEN api GET /v1/admin/users/user_01h455vb4pex5vsknk084sn02q
    expect_problem "operator: unknown user" 404 not_found
    TOKEN=$ADMIN_TOKEN api GET /v1/admin/users/pay_01h455vb4pex5vsknk084sn02q
    expect_problem "operator: not a user id" 404 not_found
    TOKEN=$ADMIN_TOKEN api GET /v1/me
    expect_problem "the operator token is not a user session" 401 unauthorized
fi
chmod 0644 "$WORK/admin.token"
if "$TALLYD" --data-dir "$WORK/badtoken" --port 0 --admin-token-file "$WORK/admin.token" \
    >"$WORK/badtoken.log" 2>&1; then
    fail "tallyd started with a world-readable admin token file"
else
    check "a world-readable admin token file is refused" grep -q "admin.token_file" "$WORK/badtoken.log"
fi
chmod 0600 "$WORK/admin.token"

# main_done : the main server's last checks, and its stop.
main_done() {
    local i
    if [ "$MAIN_NODES" -gt 1 ]; then
        # Several nodes: the logged-out token is refused by every node once the session
        # caches' 30 s have passed since the logout (see "logged-out token" above).
        while [ $((SECONDS - LOGOUT_S)) -le 31 ]; do sleep 1; done
        for i in $(seq 0 $((MAIN_NODES - 1))); do
            TL_VIA=$(BASE=$MAIN_BASE tl_node_base "$i") TOKEN=$ALICE2 api GET /v1/me
            expect_problem "logged-out token, every node (node $i, $((SECONDS - LOGOUT_S)) s after)" \
                401 unauthorized
        done
    fi
    check "main server still up" tl_alive "$MAIN_PID"
    check "main server stops cleanly" tl_stop "$MAIN_PID"
}
# Several nodes: main keeps running through the crash section, which fills most of the 30 s
# that main_done waits for.
[ "$MAIN_NODES" -gt 1 ] || main_done

# ---------------------------------------------------------------------------------------------
echo "== crash server: kill -9 during a payment load, restart, every 201 is there"
if tl_start crash --sandbox --threads 8; then
    BASE="http://127.0.0.1:$PORT"
    PW1=$(newpw)
    PW2=$(newpw)
    signup crash1 "$PW1"
    signup crash2 "$PW2"
    login crash1 "$PW1"
    C1=$TOK
    login crash2 "$PW2"
    C2=$TOK
    deposit "$C1" 1000000000
    expect "crash1 funded" 201
    deposit "$C2" 1000000000
    expect "crash2 funded" 201
    rm -f "$WORK/stop"
    # worker N: pays back and forth until told to stop; one line per answer: code id amount from.
    # A slow answer (an fsync stall) or a failed one does not stop it: only the stop file does.
    worker() {
        local n=$1 i=0 from to tok code amount node
        node=$(tl_node_base "$n")
        while [ ! -e "$WORK/stop" ]; do
            i=$((i + 1))
            amount=$(((n * 131 + i * 17) % 997 + 1))
            if [ $(((n + i) % 2)) = 0 ]; then from=1 tok=$C1 to=@crash2; else from=2 tok=$C2 to=@crash1; fi
            code=$(curl -s -o "$WORK/w$n.body" -w '%{http_code}' --max-time 20 -X POST \
                -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
                --data-binary "{\"to\": \"$to\", \"amount\": $amount, \"currency\": \"USD\"}" \
                "$node/v1/payments")
            echo "$code $(jq -r '.id // "-"' "$WORK/w$n.body" 2>/dev/null || echo -) $amount $from" >>"$WORK/w$n.log"
            # No answer (the server is gone): do not spin until the stop file appears.
            [ "$code" = 000 ] && sleep 0.1
        done
    }
    for n in $(seq 1 16); do
        worker "$n" &
        TL_JOBS+=($!)
    done
    # Let the load run until a few hundred payments have been acknowledged, then pull the plug:
    # after 300, or after 10 s with at least 50, or at the latest after 60 s.
    load_s=$SECONDS
    while :; do
        acked=$(cat "$WORK"/w*.log 2>/dev/null | grep -c '^201 ')
        [ "$acked" -ge 300 ] && break
        [ "$acked" -ge 50 ] && [ $((SECONDS - load_s)) -ge 10 ] && break
        [ $((SECONDS - load_s)) -ge 60 ] && break
        sleep 0.05
    done
    tl_kill "$PID" # with several nodes, every node at once
    touch "$WORK/stop"
    for pid in "${TL_JOBS[@]}"; do wait "$pid" 2>/dev/null; done
    TL_JOBS=()
    cat "$WORK"/w*.log >"$WORK/acks.txt"
    grep '^201 ' "$WORK/acks.txt" >"$WORK/acked.txt"
    acked=$(grep -c '' "$WORK/acked.txt")
    echo "   $acked payments acknowledged before kill -9 ($(grep -c '' "$WORK/acks.txt") attempts)"
    check "load made progress before the kill ($acked acked)" test "$acked" -ge 50
    if tl_start crash --sandbox --threads 8; then
        BASE="http://127.0.0.1:$PORT"
        check "restarted on the same data dir" true
        login crash1 "$PW1"
        C1=$TOK
        login crash2 "$PW2"
        C2=$TOK
        check "users survive" test -n "$C1" -a -n "$C2"
        # Every acknowledged payment, fetched by id over one keep-alive connection.
        awk -v base="$BASE" '{print "url = \"" base "/v1/payments/" $2 "\""; print "output = \"/dev/null\""}' \
            "$WORK/acked.txt" >"$WORK/urls.cfg"
        curl -s --max-time 60 -H "Authorization: Bearer $C1" -w '%{http_code}\n' \
            -K "$WORK/urls.cfg" >"$WORK/refetch.txt"
        missing=$(grep -vc '^200$' "$WORK/refetch.txt")
        check_eq "every acknowledged payment is still there (GET /v1/payments/{id})" 0 "$missing"
        check_eq "one answer per acknowledged payment" "$acked" "$(grep -c '' "$WORK/refetch.txt")"
        TOKEN=$C1 all_payments "$C1" >"$WORK/persisted.jsonl"
        check "every acknowledged payment is listed with its amount" jq -ne \
            --slurpfile p <(jq -c '{id, amount}' "$WORK/persisted.jsonl") \
            --rawfile acked "$WORK/acked.txt" '
            ($p | map({(.id): .amount}) | add // {}) as $have
            | [$acked | split("\n")[] | select(length > 0) | split(" ")
               | select($have[.[1]] != (.[2] | tonumber))] | length == 0'
        read -r s1 r1 fees <<<"$(jq -rs '
            [(map(select(.from.handle == "crash1") | .amount + (.fee // 0)) | add // 0),
             (map(select(.to.handle == "crash1") | .amount) | add // 0),
             (map(.fee // 0) | add // 0)] | map(tostring) | join(" ")' "$WORK/persisted.jsonl")"
        b1=$(bal "$C1")
        b2=$(bal "$C2")
        check_eq "crash1 balance = deposit - sent + received" $((1000000000 - s1 + r1)) "$b1"
        check_eq "crash1 + crash2 = deposits - fees" $((2000000000 - fees)) $((b1 + b2))
        check "no more payments persisted than attempted" test \
            "$(grep -c '' "$WORK/persisted.jsonl")" -le "$(grep -c '' "$WORK/acks.txt")"
        h=$(history "$C1" "$(wallet_id "$C1")")
        check_eq "history's newest balance_after is the balance" "$b1" "$(jq '.data[0].balance_after' <<<"$h")"
        tl_stop "$PID"
    else
        fail "tallyd did not restart after kill -9: $(tail -n 5 "$WORK/crash.log")"
    fi
else
    fail "crash server did not start"
fi
if [ "$MAIN_NODES" -gt 1 ]; then
    main_done
fi

# ---------------------------------------------------------------------------------------------
echo "== short server: the token taken at the start expires"
if [ -n "$SHORT_PID" ]; then
    BASE=$SHORT_BASE
    TOKEN=$SHORT api GET /v1/me
    if [ $((SECONDS - short_login_s)) -lt $((SESSION_TTL_S - 2)) ]; then
        expect "token still valid before its TTL" 200
    fi
    expired=0
    for i in $(seq 1 $(((SESSION_TTL_S + 10) * 5))); do
        TOKEN=$SHORT api GET /v1/me
        if [ "$STATUS" = 401 ]; then
            expired=1
            break
        fi
        [ $((SECONDS - short_login_s)) -gt $((SESSION_TTL_S + 10)) ] && break
        sleep 0.2
    done
    lived_s=$((SECONDS - short_login_s))
    check_eq "token expires" 1 "$expired"
    [ $expired = 1 ] && expect_problem "expired token" 401 unauthorized
    check "token lived its TTL (${lived_s} s of $SESSION_TTL_S)" test "$lived_s" -ge $((SESSION_TTL_S - 1))
    tl_stop "$SHORT_PID"
fi

echo "== $((SECONDS - suite_start)) s"
tl_summary
[ "$FAILED" -eq 0 ]
