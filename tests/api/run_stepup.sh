#!/usr/bin/env bash
# run_stepup.sh BUILD_DIR [ASAN_BUILD_DIR] - step-up authentication and device keys over HTTP
# (issue #5 "Strong identity"): rules, challenges completed with oathtool TOTP codes, the retry
# with the same Idempotency-Key, device keys made by openssl (Ed25519), signed payments and
# every way a signature is refused, with balances checked after each refusal.
#
#   main    --sandbox, stepup.new_device_s 0 (the default rules otherwise)
#   strict  --sandbox, require_enrolment, new_device_s 10, no amount or recipient rule
#
# TOTP: a user's code of one 30 s step works once, and a code of the previous step is accepted
# too; each TOTP user here confirms with the previous step's code and answers one step-up with
# the current one, waiting for the next step only where a test needs a third code. With
# TL_PG_CONNINFO set every server is two nodes on one PostgreSQL database (tests/api/lib.sh).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -ge 2 ]; then
    total_p=0 total_f=0
    for dir in "$1" "$2"; do
        out=$(bash "$0" "$dir" 2>&1)
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
        grep '^FAIL\|exited\|not built' <<<"$out" | sed "s|^|[$(basename "$dir")] |"
        if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
            total_p=$((total_p + BASH_REMATCH[1]))
            total_f=$((total_f + BASH_REMATCH[2]))
        else
            total_f=$((total_f + 1))
        fi
    done
    echo "$total_p passed, $total_f failed"
    [ "$total_f" -eq 0 ]
    exit
fi
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-stepup.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

for tool in curl jq oathtool openssl sha256sum; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_stepup.sh: $tool is required (make deps installs it)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
if [ ! -x "$TALLYD" ]; then
    echo "run_stepup.sh: $TALLYD not built"
    echo "0 passed, 1 failed"
    exit 1
fi

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000

# ---------------------------------------------------------------------------------------------
# Helpers

# new_user HANDLE : sign up, log in (TOK), deposit 1000.00 USD. One check.
new_user() {
    local pw
    pw=$(newpw)
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$pw" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')"
    [ "$STATUS" = 201 ] || { fail "sign up $1: $STATUS $BODY"; return 1; }
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$pw" '{login: $l, password: $p}')"
    TOK=$(jqb '.token // ""')
    PW=$pw
    [ -n "$TOK" ] || { fail "log in $1: $STATUS $BODY"; return 1; }
    TOKEN=$TOK IKEY="dep-$1" api POST /v1/deposits '{"amount": 100000, "currency": "USD", "source": "sandbox"}'
    [ "$STATUS" = 201 ] || { fail "deposit $1: $STATUS $BODY"; return 1; }
    pass
}

# code SECRET [OFFSET_S] : the oathtool code for now + OFFSET_S seconds.
code() { oathtool --totp -b "$1" -N "@$(($(date +%s) + ${2:-0}))"; }

# steady : waits until the current 30 s step has at least 8 s left.
steady() {
    local into=$(($(date +%s) % 30))
    if [ "$into" -ge 22 ]; then sleep $((30 - into + 1)); fi
}

# next_step : waits for the next 30 s step (plus a second).
next_step() { sleep $((30 - $(date +%s) % 30 + 1)); }

# totp_on TOKEN : enrol and confirm TOTP with the previous step's code; sets SECRET.
totp_on() {
    steady
    TOKEN=$1 api POST /v1/me/totp
    SECRET=$(jqb '.secret // ""')
    TOKEN=$1 api POST /v1/me/totp/confirm "$(jq -nc --arg c "$(code "$SECRET" -30)" '{code: $c}')"
    expect "confirm TOTP" 200 '.enabled == true'
}

# balance TOKEN : available USD balance.
balance() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$BASE/v1/wallets" |
        jq -r '.data[] | select(.currency == "USD") | .balance.available'
}

# keypair NAME : an Ed25519 key in $WORK/NAME.pem; prints the public key as base64 (32 bytes).
keypair() {
    openssl genpkey -algorithm ed25519 -out "$WORK/$1.pem" 2>/dev/null
    openssl pkey -in "$WORK/$1.pem" -pubout -outform DER | tail -c 32 | base64 -w0
}

# sign PEM METHOD PATH BODY IKEY TS KEYID : the base64 signature of the canonical form.
sign() {
    local hash
    hash=$(printf '%s' "$4" | sha256sum | cut -d' ' -f1)
    printf 'TALLY-DEVICE-SIGNATURE-V1\n%s\n%s\n%s\n%s\n%s\n%s\n' "$2" "$3" "$hash" "$5" "$6" "$7" \
        >"$WORK/form"
    openssl pkeyutl -sign -inkey "$1" -rawin -in "$WORK/form" | base64 -w0
}

# signed TOKEN PATH BODY IKEY KEYID TS SIG : POST with the signature headers (IKEY may be "").
signed() {
    local args=(-s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' --max-time 20 -X POST
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json'
        -H "Tally-Device-Key: $5" -H "Tally-Timestamp: $6" -H "Tally-Signature: $7")
    [ -n "$4" ] && args+=(-H "Idempotency-Key: $4")
    tl_pick
    STATUS=$(curl "${args[@]}" --data-binary "$3" "$TL_URL$2")
    BODY=$(cat "$WORK/body")
}

# complete TOKEN CHALLENGE_ID BODY : POST /v1/step_up/{id}/complete.
complete() { TOKEN=$1 api POST "/v1/step_up/$2/complete" "$3"; }

if ! TALLY_STEPUP_NEW_DEVICE_S=0 tl_start main --sandbox --threads 8; then
    echo "0 passed, 1 failed"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"

# ---------------------------------------------------------------------------------------------
echo "-- users without a second factor: the default rules let them through"
new_user carol || exit 1
C_TOK=$TOK
new_user dave || exit 1
D_TOK=$TOK
TOKEN=$C_TOK IKEY=c1 api POST /v1/payments '{"to": "@dave", "amount": 60000, "currency": "USD"}'
expect "carol pays over the threshold to a new recipient, no second factor" 201 '.balance_after == 40000'

# ---------------------------------------------------------------------------------------------
echo "-- device keys: register, list, refusals"
C_PUB=$(keypair carol)
OTHER_PUB=$(keypair other)
TOKEN=$C_TOK IKEY=dk0 api POST /v1/me/device_keys '{"public_key": "AAAA", "name": "phone"}'
expect_problem "a key that is not 32 bytes" 400 invalid_request
check_eq "its param" public_key "$(jqb .param)"
TOKEN=$C_TOK IKEY=dk0b api POST /v1/me/device_keys "{\"public_key\": \"$C_PUB\", \"name\": \"phone\", \"owner\": \"x\"}"
expect_problem "unknown field" 400 invalid_request
TOKEN=$C_TOK IKEY=dk1 api POST /v1/me/device_keys "{\"public_key\": \"$C_PUB\", \"name\": \"phone\"}"
expect "register carol's key" 201 '(.id | startswith("dkey_")) and .algorithm == "Ed25519" and .revoked_at == null'
C_KID=$(jqb .id)
TOKEN=$C_TOK IKEY=dk1 api POST /v1/me/device_keys "{\"public_key\": \"$C_PUB\", \"name\": \"phone\"}"
expect "an idempotent retry replays" 201 ".id == \"$C_KID\""
check_eq "replayed" true "$(header Idempotent-Replayed)"
TOKEN=$D_TOK IKEY=dk2 api POST /v1/me/device_keys "{\"public_key\": \"$C_PUB\", \"name\": \"x\"}"
expect_problem "someone else's public key" 409 conflict
TOKEN=$C_TOK api GET /v1/me/device_keys
expect "list" 200 "(.data | length) == 1 and .data[0].id == \"$C_KID\" and .data[0].public_key == \"$C_PUB\""
D_PUB=$(keypair dave)
TOKEN=$D_TOK IKEY=dk3 api POST /v1/me/device_keys "{\"public_key\": \"$D_PUB\", \"name\": \"tablet\"}"
expect "register dave's key" 201
D_KID=$(jqb .id)
TOKEN=$D_TOK api GET /v1/me/device_keys
expect "dave sees only his key" 200 "(.data | length) == 1 and .data[0].id == \"$D_KID\""

# ---------------------------------------------------------------------------------------------
echo "-- signed payments"
BAL=$(balance "$C_TOK")
PAY='{"to": "@dave", "amount": 100, "currency": "USD"}'
# carol's facts were cached by her payment c1 moments ago (money_cache.h, step-up facts): the
# key registered since must invalidate them, or this unsigned payment would go through.
TOKEN=$C_TOK IKEY=p0 api POST /v1/payments "$PAY"
expect_problem "unsigned with a live key" 401 device_signature_required
check_eq "nothing moved (unsigned)" "$BAL" "$(balance "$C_TOK")"

TS=$(date +%s)
SIG=$(sign "$WORK/carol.pem" POST /v1/payments "$PAY" p1 "$TS" "$C_KID")
signed "$C_TOK" /v1/payments "$PAY" p1 "$C_KID" "$TS" "$SIG"
expect "signed payment" 201 '.amount == 100'
P1=$(jqb .id)
BAL=$((BAL - 100))
check_eq "moved once" "$BAL" "$(balance "$C_TOK")"
signed "$C_TOK" /v1/payments "$PAY" p1 "$C_KID" "$TS" "$SIG"
expect "the idempotent retry replays" 201 ".id == \"$P1\""
check_eq "replayed header" true "$(header Idempotent-Replayed)"
check_eq "still moved once" "$BAL" "$(balance "$C_TOK")"

TOKEN=$C_TOK api GET "/v1/payments/$P1"
expect "the payment shows its signature" 200 \
    ".device_signature.key_id == \"$C_KID\" and .device_signature.timestamp == $TS
     and .device_signature.signature == \"$SIG\" and .device_signature.algorithm == \"Ed25519\""
check_eq "body hash" "$(printf '%s' "$PAY" | sha256sum | cut -d' ' -f1)" "$(jqb .device_signature.body_sha256)"
# Non-repudiation: what is stored verifies with the registered key, outside tallyd.
printf 'TALLY-DEVICE-SIGNATURE-V1\nPOST\n/v1/payments\n%s\np1\n%s\n%s\n' \
    "$(jqb .device_signature.body_sha256)" "$(jqb .device_signature.timestamp)" "$C_KID" >"$WORK/proof"
jqb .device_signature.signature | base64 -d >"$WORK/proof.sig"
openssl pkey -in "$WORK/carol.pem" -pubout -out "$WORK/carol.pub" 2>/dev/null
check "the stored signature verifies with openssl" openssl pkeyutl -verify -pubin \
    -inkey "$WORK/carol.pub" -rawin -in "$WORK/proof" -sigfile "$WORK/proof.sig"
TOKEN=$D_TOK api GET "/v1/payments/$P1"
expect "the recipient sees it too" 200 ".device_signature.key_id == \"$C_KID\""
TOKEN=$C_TOK api GET "/v1/payments?limit=5"
expect "a list has no signature lookups" 200 '(.data | length) >= 2'

TS=$(date +%s)
SIG=$(sign "$WORK/carol.pem" POST /v1/payments "$PAY" p2 "$TS" "$C_KID")
signed "$C_TOK" /v1/payments '{"to": "@dave", "amount": 9000, "currency": "USD"}' p2 "$C_KID" "$TS" "$SIG"
expect_problem "tampered body" 401 device_signature_invalid
signed "$C_TOK" /v1/payments "$PAY" p2-other "$C_KID" "$TS" "$SIG"
expect_problem "another Idempotency-Key" 401 device_signature_invalid
signed "$C_TOK" /v1/payments "$PAY" p2 "$C_KID" "$((TS + 1))" "$SIG"
expect_problem "another timestamp" 401 device_signature_invalid
SIG_W=$(sign "$WORK/other.pem" POST /v1/payments "$PAY" p2 "$TS" "$C_KID")
signed "$C_TOK" /v1/payments "$PAY" p2 "$C_KID" "$TS" "$SIG_W"
expect_problem "signed with the wrong key" 401 device_signature_invalid
SIG_D=$(sign "$WORK/dave.pem" POST /v1/payments "$PAY" p2 "$TS" "$D_KID")
signed "$C_TOK" /v1/payments "$PAY" p2 "$D_KID" "$TS" "$SIG_D"
expect_problem "someone else's key" 401 device_signature_invalid
signed "$C_TOK" /v1/payments "$PAY" p2 "$C_KID" "$TS" "not base64!"
expect_problem "a malformed signature" 401 device_signature_invalid
signed "$C_TOK" /v1/payments "$PAY" p2 "$C_KID" "0$TS" "$SIG"
expect_problem "a malformed timestamp" 401 device_signature_invalid
OLD=$(($(date +%s) - 1000))
SIG_O=$(sign "$WORK/carol.pem" POST /v1/payments "$PAY" p3 "$OLD" "$C_KID")
signed "$C_TOK" /v1/payments "$PAY" p3 "$C_KID" "$OLD" "$SIG_O"
expect_problem "stale timestamp" 401 device_signature_stale
FUT=$(($(date +%s) + 1000))
SIG_F=$(sign "$WORK/carol.pem" POST /v1/payments "$PAY" p3 "$FUT" "$C_KID")
signed "$C_TOK" /v1/payments "$PAY" p3 "$C_KID" "$FUT" "$SIG_F"
expect_problem "a timestamp in the future" 401 device_signature_stale
curl -s -o /dev/null -X POST -H "Authorization: Bearer $C_TOK" -H 'Content-Type: application/json' \
    -H "Tally-Device-Key: $C_KID" -d "$PAY" "$(tl_url)/v1/payments"
check_eq "nothing moved by any refusal" "$BAL" "$(balance "$C_TOK")"

# Without an Idempotency-Key the signature itself is what stops a replay.
TS=$(date +%s)
SIG=$(sign "$WORK/carol.pem" POST /v1/payments "$PAY" "" "$TS" "$C_KID")
signed "$C_TOK" /v1/payments "$PAY" "" "$C_KID" "$TS" "$SIG"
expect "signed payment without a key" 201
BAL=$((BAL - 100))
signed "$C_TOK" /v1/payments "$PAY" "" "$C_KID" "$TS" "$SIG"
expect_problem "the same signature again" 401 device_signature_replayed
check_eq "the replay moved nothing" "$BAL" "$(balance "$C_TOK")"

echo "-- payment requests are money too"
TOKEN=$D_TOK IKEY=r1 api POST /v1/payment_requests '{"from": "@carol", "amount": 250, "currency": "USD"}'
expect "dave requests from carol" 201
REQ=$(jqb .id)
TOKEN=$C_TOK IKEY=rp1 api POST "/v1/payment_requests/$REQ/pay"
expect_problem "an unsigned pay" 401 device_signature_required
TS=$(date +%s)
SIG=$(sign "$WORK/carol.pem" POST "/v1/payment_requests/$REQ/pay" "" rp1 "$TS" "$C_KID")
signed "$C_TOK" "/v1/payment_requests/$REQ/pay" "" rp1 "$C_KID" "$TS" "$SIG"
expect "a signed pay (empty body)" 201 '.amount == 250'
BAL=$((BAL - 250))
check_eq "paid once" "$BAL" "$(balance "$C_TOK")"

echo "-- revocation"
TOKEN=$D_TOK api DELETE "/v1/me/device_keys/$C_KID"
expect_problem "revoke someone else's key" 404 not_found
TOKEN=$C_TOK api DELETE "/v1/me/device_keys/dkey_nonsense"
expect_problem "revoke a malformed id" 404 not_found
TOKEN=$C_TOK api DELETE "/v1/me/device_keys/$C_KID"
expect "revoke carol's key" 204
TOKEN=$C_TOK api GET /v1/me/device_keys
expect "the list shows it revoked" 200 '.data[0].revoked_at != null'
TOKEN=$C_TOK api DELETE "/v1/me/device_keys/$C_KID"
expect_problem "revoke it again" 404 not_found
TS=$(date +%s)
SIG=$(sign "$WORK/carol.pem" POST /v1/payments "$PAY" p9 "$TS" "$C_KID")
signed "$C_TOK" /v1/payments "$PAY" p9 "$C_KID" "$TS" "$SIG"
expect_problem "signed with a revoked key" 401 device_signature_invalid
check_eq "nothing moved (revoked)" "$BAL" "$(balance "$C_TOK")"
TOKEN=$C_TOK IKEY=p10 api POST /v1/payments "$PAY"
expect "no live key: unsigned payments again" 201
TOKEN=$C_TOK api GET "/v1/payments/$(jqb .id)"
expect "an unsigned payment has no signature" 200 '.device_signature == null'

# ---------------------------------------------------------------------------------------------
echo "-- step-up: first payment to a new recipient, completed with TOTP"
new_user alice || exit 1
A_TOK=$TOK
totp_on "$A_TOK"
A_SECRET=$SECRET
BAL=$(balance "$A_TOK")
TOKEN=$A_TOK IKEY=s1 api POST /v1/payments '{"to": "@dave", "amount": 1000, "currency": "USD"}'
expect_problem "a new recipient needs a step-up" 401 step_up_required
check "the challenge" jq -e '(.challenge.id | startswith("stepup_")) and .challenge.methods == ["totp"]
    and .challenge.rules == ["new_recipient"] and (.challenge.expires_at | length) > 0
    and .challenge.complete_url == "/v1/step_up/\(.challenge.id)/complete"' <<<"$BODY"
CH=$(jqb .challenge.id)
check_eq "nothing moved (challenged)" "$BAL" "$(balance "$A_TOK")"
complete "$D_TOK" "$CH" '{"code": "123456"}'
expect_problem "someone else's challenge" 404 not_found
complete "$A_TOK" "$CH" '{"code": "000000"}'
expect_problem "a wrong code" 422 invalid_mfa_code
complete "$A_TOK" "$CH" '{"code": "1", "credential_id": "AA"}'
expect_problem "a code and a passkey at once" 400 invalid_request
complete "$A_TOK" "$CH" '{"code": "123456", "extra": 1}'
expect_problem "unknown field" 400 invalid_request
TOKEN=$A_TOK IKEY=s1 api POST /v1/payments '{"to": "@dave", "amount": 1000, "currency": "USD"}'
expect_problem "a retry before completing is challenged again" 401 step_up_required
check_eq "nothing moved (wrong code, early retry)" "$BAL" "$(balance "$A_TOK")"
steady
complete "$A_TOK" "$CH" "$(jq -nc --arg c "$(code "$A_SECRET")" '{code: $c}')"
expect "complete with the TOTP code" 200 ".id == \"$CH\" and .status == \"completed\" and .method == \"totp\""
complete "$A_TOK" "$CH" "$(jq -nc --arg c "$(code "$A_SECRET")" '{code: $c}')"
expect_problem "a challenge is used once" 409 step_up_challenge_invalid
TOKEN=$A_TOK IKEY=s1 api POST /v1/payments '{"to": "@dave", "amount": 1001, "currency": "USD"}'
expect_problem "the same key with another body is not covered" 401 step_up_required
TOKEN=$A_TOK IKEY=s1-other api POST /v1/payments '{"to": "@dave", "amount": 1000, "currency": "USD"}'
expect_problem "the same body with another key is not covered" 401 step_up_required
check_eq "nothing moved (other body or key)" "$BAL" "$(balance "$A_TOK")"
TOKEN=$A_TOK IKEY=s1 api POST /v1/payments '{"to": "@dave", "amount": 1000, "currency": "USD"}'
expect "the original request with the same key goes through" 201 '.amount == 1000'
S1=$(jqb .id)
BAL=$((BAL - 1000))
check_eq "moved once" "$BAL" "$(balance "$A_TOK")"
TOKEN=$A_TOK IKEY=s1 api POST /v1/payments '{"to": "@dave", "amount": 1000, "currency": "USD"}'
expect "a retry replays" 201 ".id == \"$S1\""
check_eq "replayed" true "$(header Idempotent-Replayed)"
TOKEN=$A_TOK IKEY=s2 api POST /v1/payments '{"to": "@dave", "amount": 500, "currency": "USD"}'
expect "a known recipient under the threshold needs no step-up" 201
BAL=$((BAL - 500))
curl -s --max-time 10 -H "Authorization: Bearer $A_TOK" "$(tl_url)/v1/me/audit?limit=100" >"$WORK/audit"
check "audit: challenged, failed, completed, used" jq -e '[.data[].action] as $a
    | ($a | index("stepup.challenged")) and ($a | index("stepup.failed"))
      and ($a | index("stepup.completed")) and ($a | index("stepup.used"))' "$WORK/audit"

echo "-- step-up: an amount over the threshold; a device key of a user with TOTP"
new_user erin || exit 1
E_TOK=$TOK
totp_on "$E_TOK"
E_SECRET=$SECRET
TOKEN=$E_TOK IKEY=e1 api POST /v1/payments '{"to": "@dave", "amount": 50001, "currency": "USD"}'
expect_problem "over 500.00 USD" 401 step_up_required
check "over 500.00 USD: rules" jq -e '.challenge.rules == ["amount_over_threshold", "new_recipient"]' <<<"$BODY"
CH=$(jqb .challenge.id)
steady
complete "$E_TOK" "$CH" "$(jq -nc --arg c "$(code "$E_SECRET")" '{code: $c}')"
expect "completed" 200
TOKEN=$E_TOK IKEY=e1 api POST /v1/payments '{"to": "@dave", "amount": 50001, "currency": "USD"}'
expect "paid after the step-up" 201 '.balance_after == 49999'
TOKEN=$E_TOK IKEY=dep-erin-2 api POST /v1/deposits '{"amount": 100000, "currency": "USD", "source": "sandbox"}'
TOKEN=$E_TOK IKEY=e2 api POST /v1/payments '{"to": "@dave", "amount": 50000, "currency": "USD"}'
expect "exactly the threshold is not over it" 201
E_PUB=$(keypair erin)
TOKEN=$E_TOK api POST /v1/me/device_keys "{\"public_key\": \"$E_PUB\", \"name\": \"phone\"}"
expect_problem "a device key of a user with TOTP needs a step-up" 401 step_up_required
check "a device key of a user with TOTP needs a step-up: rules" jq -e '.challenge.rules == ["device_key_change"]' <<<"$BODY"
CH=$(jqb .challenge.id)
TOKEN=$E_TOK api GET /v1/me/device_keys
expect "nothing registered yet" 200 '.data == []'
next_step
complete "$E_TOK" "$CH" "$(jq -nc --arg c "$(code "$E_SECRET")" '{code: $c}')"
expect "completed with the next step's code" 200
TOKEN=$E_TOK api POST /v1/me/device_keys "{\"public_key\": \"$E_PUB\", \"name\": \"phone\"}"
expect "registered on the retry" 201
TOKEN=$E_TOK api POST /v1/me/device_keys "{\"public_key\": \"$E_PUB\", \"name\": \"phone\"}"
expect_problem "the step-up was spent: the same request is challenged again" 401 step_up_required

echo "-- step-up: a password change"
new_user frank || exit 1
F_TOK=$TOK
F_PW=$PW
totp_on "$F_TOK"
NEWPW=$(newpw)
PWBODY=$(jq -nc --arg c "$F_PW" --arg n "$NEWPW" '{current_password: $c, new_password: $n}')
TOKEN=$F_TOK api POST /v1/me/password "$PWBODY"
expect_problem "a password change needs a step-up" 401 step_up_required
check "a password change needs a step-up: rules" jq -e '.challenge.rules == ["password_change"]' <<<"$BODY"
CH=$(jqb .challenge.id)
api POST /v1/sessions "$(jq -nc --arg p "$NEWPW" '{login: "frank", password: $p}')"
expect_problem "the new password does not work yet" 401 invalid_credentials
steady
complete "$F_TOK" "$CH" "$(jq -nc --arg c "$(code "$SECRET")" '{code: $c}')"
expect "completed" 200
TOKEN=$F_TOK api POST /v1/me/password "$PWBODY"
expect "changed on the retry" 204

echo "-- step-up: creating an escrow runs the payment gate (amount, new recipient)"
new_user ivan || exit 1
I_TOK=$TOK
totp_on "$I_TOK"
I_SECRET=$SECRET
BAL=$(balance "$I_TOK")
EBODY='{"to": "@dave", "amount": 60000, "currency": "USD"}'
TOKEN=$I_TOK IKEY=esc-1 api POST /v1/escrows "$EBODY"
expect_problem "an escrow over 500.00 to a new recipient needs a step-up" 401 step_up_required
check "escrow: rules" jq -e '.challenge.rules == ["amount_over_threshold", "new_recipient"]' <<<"$BODY"
CH=$(jqb .challenge.id)
check_eq "nothing held (challenged)" "$BAL" "$(balance "$I_TOK")"
TOKEN=$I_TOK api GET /v1/escrows
expect "no escrow row was written" 200 '.data == []'
steady
complete "$I_TOK" "$CH" "$(jq -nc --arg c "$(code "$I_SECRET")" '{code: $c}')"
expect "completed" 200
TOKEN=$I_TOK IKEY=esc-1 api POST /v1/escrows '{"to": "@dave", "amount": 60001, "currency": "USD"}'
expect_problem "the step-up covers only its own body" 401 step_up_required
TOKEN=$I_TOK IKEY=esc-1 api POST /v1/escrows "$EBODY"
expect "the escrow is created on the retry" 201 '.status == "held" and .amount == 60000'
ESC_ID=$(jqb .id)
check_eq "held once" $((BAL - 60000)) "$(balance "$I_TOK")"
TOKEN=$I_TOK api POST "/v1/escrows/$ESC_ID/release"
expect "released to dave (now a known recipient)" 200 '.status == "released"'
TOKEN=$I_TOK IKEY=esc-2 api POST /v1/escrows '{"to": "@dave", "amount": 100, "currency": "USD"}'
expect "a small escrow to a known recipient needs no step-up" 201
curl -s --max-time 10 -H "Authorization: Bearer $I_TOK" "$(tl_url)/v1/me/audit?limit=100" >"$WORK/audit"
check "audit: the escrow's step-up was challenged and used" jq -e '[.data[].action] as $a
    | ($a | index("stepup.challenged")) and ($a | index("stepup.used"))' "$WORK/audit"

# ---------------------------------------------------------------------------------------------
echo "-- a bad thresholds setting stops the start"
TALLY_STEPUP_AMOUNT_THRESHOLDS="JPY:1.5" "$TALLYD" --data-dir "$WORK/bad" --port 0 \
    >"$WORK/bad.out" 2>&1
check_eq "exit status 2" 2 "$?"
check "a one-line reason" grep -q "stepup.amount_thresholds" "$WORK/bad.out"

# ---------------------------------------------------------------------------------------------
echo "-- strict: enrolment required, new devices"
# new_device_s 10: gina's and henry's sessions must still be young at their first payments, so
# each pays right after the login that made its session (not after another sign-up, nor after
# totp_on, whose wait for a fresh TOTP step alone can take 9 s).
if ! TALLY_STEPUP_REQUIRE_ENROLMENT=true TALLY_STEPUP_NEW_DEVICE_S=10 \
    TALLY_STEPUP_AMOUNT_THRESHOLDS= TALLY_STEPUP_NEW_RECIPIENT=false \
    tl_start strict --sandbox --threads 8; then
    echo "$PASSED passed, $((FAILED + 1)) failed"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"
new_user henry || exit 1
H_TOK=$TOK
H_PW=$PW
new_user gina || exit 1
G_TOK=$TOK
TOKEN=$G_TOK IKEY=g1 api POST /v1/payments '{"to": "@henry", "amount": 100, "currency": "USD"}'
expect_problem "no second factor, a new session" 403 step_up_enrolment_required
check_eq "nothing moved (enrolment)" 100000 "$(balance "$G_TOK")"
totp_on "$H_TOK"
H_RC=$(jqb '.recovery_codes[0] // ""')
# A fresh session for the payment: henry logs in again with a recovery code, which leaves this
# step's TOTP code unspent for the step-up below.
api POST /v1/sessions "$(jq -nc --arg p "$H_PW" '{login: "henry", password: $p}')"
expect_problem "henry's login asks for the second factor" 401 mfa_required
api POST /v1/sessions/mfa "$(jq -nc --arg c "$(jqb '.mfa_challenge // ""')" --arg r "$H_RC" \
    '{challenge: $c, recovery_code: $r}')"
expect "henry logs in again with a recovery code" 201 '(.token | length) > 0'
H_TOK=$(jqb '.token // ""')
TOKEN=$H_TOK IKEY=h1 api POST /v1/payments '{"to": "@gina", "amount": 100, "currency": "USD"}'
expect_problem "a session younger than new_device_s" 401 step_up_required
check "a session younger than new_device_s: rules" jq -e '.challenge.rules == ["new_device"]' <<<"$BODY"
CH=$(jqb .challenge.id)
complete "$H_TOK" "$CH" "$(jq -nc --arg c "$(code "$SECRET")" '{code: $c}')"
expect "completed" 200
TOKEN=$H_TOK IKEY=h1 api POST /v1/payments '{"to": "@gina", "amount": 100, "currency": "USD"}'
expect "paid on the retry" 201
TOKEN=$H_TOK IKEY=h2 api POST /v1/payments '{"to": "@gina", "amount": 100, "currency": "USD"}'
expect "the session stepped up: no new-device rule any more" 201
sleep 11
TOKEN=$G_TOK IKEY=g2 api POST /v1/payments '{"to": "@henry", "amount": 100, "currency": "USD"}'
expect "an older session hits no rule" 201

tl_summary
[ "$FAILED" -eq 0 ]
