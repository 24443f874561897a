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
#   - the window rolls: on roll a send refused at the limit passes once the window has passed
#   - SQLite: a schema v4 database migrates to v5 with the user_tiers table
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
    pay "$IVY" jack_r 1000
    expect "the window's whole limit" 201
    pay "$IVY" jack_r 100
    expect_problem "the window is full" 422 tier_limit_exceeded send
    frees=$(limits "$IVY" '.wallets[0].send.frees_at')
    check "frees_at is a time" test "$frees" != null
    sleep 2.3
    TOKEN=$IVY api GET /v1/me/limits
    expect "the window rolled" 200 '.wallets[0].send.used == 0
        and .wallets[0].send.frees_at == null'
    pay "$IVY" jack_r 100
    expect "a send passes once the window rolled" 201
    check_eq "balance after the rolled window" 3900 "$(bal "$IVY")"
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
    check "tallyd migrate applies v5" "$TALLYD" migrate --data-dir "$WORK/v4"
    check_eq "now v6" 6 "$(sqlite3 "$WORK/v4/tally.db" 'PRAGMA user_version')"
    check_eq "with user_tiers" 1 \
        "$(sqlite3 "$WORK/v4/tally.db" "SELECT count(*) FROM sqlite_master WHERE name = 'user_tiers'")"
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
