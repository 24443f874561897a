#!/usr/bin/env bash
# run_audit.sh BUILD_DIR [ASAN_DIR] - the hash-chained audit log over HTTP and its verifier.
#
#   money      deposits, payments, payment requests paid and split shares each add one entry
#              that both parties list (payer: payment.sent, payee: payment.received); a refused
#              payment adds none; an entry exists for exactly the payments that exist
#   receipts   an entry's hash recomputed here from its fields by the canonical encoding of
#              docs/api.md equals the server's; prev_hash links every entry to the one before
#   verifier   `tallyd audit-verify` passes an untampered log (exit 0, one OK line) and, on
#              copies of the database, catches each tampering with the first bad seq (exit 3):
#              a changed detail, a deleted middle entry, two entries swapped, the whole chain
#              rehashed after a change (the signed checkpoint catches it), the tail cut off, a
#              forged checkpoint. The tamperer drops the append-only triggers first, as one
#              must (the schema refuses UPDATE and DELETE otherwise).
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_audit.sh), the server is two nodes on one
# PostgreSQL database, requests alternate between them, and the tampering is done with psql.
# Closes with "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-audit.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

for tool in curl jq python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_audit.sh: $tool is required"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
PG=${TL_PG_CONNINFO:-}
if [ -z "$PG" ] && ! command -v sqlite3 >/dev/null; then
    echo "run_audit.sh: the sqlite3 CLI is required (make deps installs it)"
    echo "0 passed, 1 failed"
    exit 1
fi
PSQL=${TL_PSQL:-$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)}

export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_RATELIMIT_LOOKUP_PER_MIN=1000000 TALLY_RATELIMIT_LOOKUP_BURST=100000

# new_user HANDLE : sign up and log in; sets TOK and UID_.
new_user() {
    local pw body
    pw=$(newpw)
    body=$(jq -nc --arg h "$1" --arg p "$pw" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')
    api POST /v1/users "$body"
    UID_=$(jqb '.id // ""')
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$pw" '{login: $l, password: $p}')"
    TOK=$(jqb '.token // ""')
    check "sign up and log in $1" test -n "$TOK" -a -n "$UID_"
}

# entries TOKEN : the caller's whole audit log (newest first) as one JSON array, every page.
entries() {
    local after="" out="[]" page
    while :; do
        page=$(curl -s --max-time 10 -H "Authorization: Bearer $1" \
            "$(tl_url)/v1/me/audit?limit=100${after:+&starting_after=$after}")
        out=$(jq -c --argjson acc "$out" '$acc + .data' <<<"$page")
        [ "$(jq -r .has_more <<<"$page")" = true ] || break
        after=$(jq -r '.data[-1].id' <<<"$page")
    done
    echo "$out"
}

# ---------------------------------------------------------------------------------------------
echo "-- money in the audit log"
tl_admin_token "$WORK/admin.token"
printf 'USD JPY 151.25\n' >"$WORK/rates.txt"
TALLY_SCHEDULES_TEST_INTERVALS=true TALLY_SCHEDULES_TICK_MS=200 \
    tl_start main --sandbox --audit-checkpoint-interval 1 --admin-token-file "$WORK/admin.token" \
    --fx-rates-file "$WORK/rates.txt" ||
    { echo "0 passed, 1 failed"; exit 1; }
BASE="http://127.0.0.1:$PORT"
SERVER_PID=$PID

new_user alice && A=$TOK && A_ID=$UID_
new_user bob && B=$TOK && B_ID=$UID_
new_user carol && C=$TOK

TOKEN=$A IKEY=dep-1 api POST /v1/deposits '{"amount": 10000, "currency": "USD", "source": "sandbox"}'
expect "alice deposits 100.00" 201
DEP=$(jqb .id)
TOKEN=$A IKEY=pay-1 api POST /v1/payments '{"to": "@bob", "amount": 1234, "currency": "USD"}'
expect "alice pays bob 12.34" 201
PAY=$(jqb .id)
TOKEN=$A IKEY=pay-1 api POST /v1/payments '{"to": "@bob", "amount": 1234, "currency": "USD"}'
expect "a retry replays (no second entry)" 201 ".id == \"$PAY\""
A_BEFORE=$(entries "$A" | jq length)
TOKEN=$A api POST /v1/payments '{"to": "@bob", "amount": 99999999, "currency": "USD"}'
expect_problem "a payment past the balance is refused" 422 insufficient_funds
check_eq "a refused payment adds no entry" "$A_BEFORE" "$(entries "$A" | jq length)"

TOKEN=$B api POST /v1/payment_requests '{"from": "@alice", "amount": 500, "currency": "USD"}'
expect "bob asks alice for 5.00" 201
REQ=$(jqb .id)
TOKEN=$A api POST "/v1/payment_requests/$REQ/pay"
expect "alice pays the request" 201
REQ_PAY=$(jqb .id)
TOKEN=$A api POST /v1/splits '{"total": 900, "currency": "USD", "mode": "equal",
  "participants": [{"user": "@bob"}, {"user": "@carol"}]}'
expect "alice splits 9.00 with bob and carol" 201
SHARE=$(jq -r --arg b "$B_ID" '[.requests[] | select(.payer.id == $b)][0].id' <<<"$BODY")
TOKEN=$B api POST /v1/deposits '{"amount": 1000, "currency": "USD", "source": "sandbox"}'
expect "bob deposits 10.00" 201
TOKEN=$B api POST "/v1/payment_requests/$SHARE/pay"
expect "bob pays his share" 201
SHARE_PAY=$(jqb .id)

AE=$(entries "$A")
BE=$(entries "$B")
CE=$(entries "$C")
check "alice: deposit.created with its amount" jq -e --arg d "$DEP" \
    'any(.[]; .action == "deposit.created" and .subject == $d and .amount == 10000
         and .currency == "USD" and .counterparty == null)' <<<"$AE"
check "alice: payment.sent to bob, with her address" jq -e --arg p "$PAY" --arg b "$B_ID" \
    'any(.[]; .action == "payment.sent" and .kind == "payment.sent" and .subject == $p
         and .counterparty == $b and .amount == 1234 and .ip == "127.0.0.1")' <<<"$AE"
check "bob: the same entry as payment.received, without alice's address" jq -e \
    --arg p "$PAY" --arg a "$A_ID" \
    'any(.[]; .action == "payment.received" and .kind == "payment.sent" and .subject == $p
         and .user == $a and .ip == null)' <<<"$BE"
check_eq "both parties hold one receipt (seq and hash) for the payment" \
    "$(jq -c --arg p "$PAY" '[.[] | select(.subject == $p) | [.seq, .hash]]' <<<"$AE")" \
    "$(jq -c --arg p "$PAY" '[.[] | select(.subject == $p) | [.seq, .hash]]' <<<"$BE")"
check_eq "the retried payment has one entry" 1 \
    "$(jq --arg p "$PAY" '[.[] | select(.subject == $p)] | length' <<<"$AE")"
check "alice: request.paid; bob: request.payment_received" jq -e --arg p "$REQ_PAY" \
    --argjson b "$BE" 'any(.[]; .action == "request.paid" and .subject == $p) and
     ($b | any(.[]; .action == "request.payment_received" and .subject == $p))' <<<"$AE"
check "bob: request.created (his), listed for alice as the payer asked" jq -e --arg r "$REQ" \
    --argjson a "$AE" 'any(.[]; .action == "request.created" and .subject == $r and .ip != null)
     and ($a | any(.[]; .action == "request.created" and .subject == $r and .ip == null))' \
    <<<"$BE"
check "the split's shares: split.request_created for each payer" jq -e \
    '[.[] | select(.action == "split.request_created")] | length == 2' <<<"$AE"
check "bob: request.paid of his share" jq -e --arg p "$SHARE_PAY" \
    'any(.[]; .action == "request.paid" and .subject == $p and .amount == 450)' <<<"$BE"
check "carol sees none of the payments between alice and bob" jq -e \
    --arg p "$PAY" --arg q "$REQ_PAY" \
    'all(.[]; .subject != $p and .subject != $q)' <<<"$CE"
check "entries hold ids and references, never an email or a name" jq -e \
    'all(.[]; (tostring | test("example.com|User ") | not))' <<<"$AE"
# Every payment alice made has exactly one money entry, and every money entry a payment.
PAYS=$(curl -s -H "Authorization: Bearer $A" "$(tl_url)/v1/payments?direction=sent&limit=100" |
    jq -c '[.data[].id] | sort')
check_eq "an entry exists for exactly alice's payments" "$PAYS" \
    "$(jq -c --arg a "$A_ID" '[.[] | select(.kind == "payment.sent" or .kind == "request.paid")
              | select(.user == $a) | .subject] | sort' <<<"$AE")"

# ---------------------------------------------------------------------------------------------
echo "-- refunds, reversals, disputes, escrows, conversions, skipped scheduled payments"
# one_entry LOG SUBJECT : the entries of LOG about SUBJECT.
about() { jq -c --arg s "$2" '[.[] | select(.subject == $s)]' <<<"$1"; }
TOKEN=$B IKEY=ref-1 api POST "/v1/payments/$PAY/refunds" '{"amount": 234, "reason": "overpaid"}'
expect "bob refunds 2.34 of alice's payment" 201
REF=$(jqb .id)
TOKEN=$B IKEY=ref-1 api POST "/v1/payments/$PAY/refunds" '{"amount": 234, "reason": "overpaid"}'
expect "the refund replays" 201 ".id == \"$REF\""
B_BEFORE=$(entries "$B" | jq length)
TOKEN=$B api POST "/v1/payments/$PAY/refunds" '{"amount": 999999}'
expect_problem "a refund past the payment is refused" 422 refund_exceeds_payment amount
check_eq "a refused refund adds no entry" "$B_BEFORE" "$(entries "$B" | jq length)"
TOKEN=$ADMIN_TOKEN IKEY=rev-1 api POST "/v1/admin/payments/$PAY/reverse" '{"reason": "fraud check 7"}'
expect "the operator reverses the rest" 201 '.amount == 1000'
REV=$(jqb .id)
TOKEN=$A IKEY=dsp-1 api POST "/v1/payments/$REQ_PAY/disputes" '{"reason": "not received"}'
expect "alice disputes the request she paid" 201
DSP=$(jqb .id)
TOKEN=$ADMIN_TOKEN IKEY=dsp-r1 api POST "/v1/admin/disputes/$DSP/resolve" '{"outcome": "payee"}'
expect "resolved for the payee" 200
TOKEN=$ADMIN_TOKEN IKEY=dsp-r2 api POST "/v1/admin/disputes/$DSP/resolve" '{"outcome": "payee"}'
expect "resolving again answers the dispute" 200
TOKEN=$A api POST /v1/escrows '{"to": "@carol", "amount": 300, "currency": "USD"}'
expect "alice holds 3.00 for carol" 201
ESC1=$(jqb .id)
TOKEN=$A api POST "/v1/escrows/$ESC1/release" '{"amount": 100}'
expect "alice releases 1.00 of it" 200 '.status == "released"'
TOKEN=$A api POST /v1/escrows '{"to": "@carol", "amount": 200, "currency": "USD"}'
ESC2=$(jqb .id)
TOKEN=$C api POST "/v1/escrows/$ESC2/cancel"
expect "carol cancels the second" 200 '.status == "canceled"'
TOKEN=$A api POST /v1/escrows '{"to": "@carol", "amount": 50, "currency": "USD", "expires_in_s": 1}'
expect "alice holds 0.50 for a second" 201
ESC3=$(jqb .id)
TOKEN=$A api POST /v1/conversions '{"from_currency": "USD", "to_currency": "JPY", "amount": 151}'
expect "alice converts to 151 JPY" 201
CONV=$(jqb .id)
CONV_SENT=$(jqb .sent)
new_user dave && D=$TOK && D_ID=$UID_
TOKEN=$D api POST /v1/scheduled_payments "{\"to\": \"@alice\", \"amount\": 100, \"currency\": \"USD\",
  \"start_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"repeat\": \"none\"}"
expect "dave schedules a payment he cannot make" 201
SCHED=$(jqb .id)
for _ in $(seq 1 50); do
    TOKEN=$A api GET "/v1/escrows/$ESC3"
    S3=$(jqb .status)
    TOKEN=$D api GET "/v1/scheduled_payments/$SCHED"
    [ "$S3" = expired ] && [ "$(jqb '.occurrences[0].status')" = skipped ] && break
    sleep 0.2
done
check_eq "the schedule's run was skipped" "skipped insufficient_funds" \
    "$(jqb '.occurrences[0] | "\(.status) \(.reason)"')"
# The sweep voids the hold (and writes escrow.expired, one entry both parties list) about a
# second after the expiry; a loaded machine can take longer, so poll for up to 10 s.
deadline=$((SECONDS + 10))
until AE=$(entries "$A") && jq -e --arg e3 "$ESC3" \
    'any(.[]; .subject == $e3 and .action == "escrow.expired")' <<<"$AE" >/dev/null 2>&1 ||
    [ $SECONDS -ge $deadline ]; do
    sleep 0.2
done
BE=$(entries "$B")
CE=$(entries "$C")
DE=$(entries "$D")
check "bob: refund.sent, his address" jq -e --arg r "$REF" --arg a "$A_ID" \
    '[.[] | select(.subject == $r)] | length == 1 and .[0].action == "refund.sent"
     and .[0].counterparty == $a and .[0].amount == 234 and .[0].ip == "127.0.0.1"' <<<"$BE"
check "alice: the same entry as refund.received" jq -e --arg r "$REF" --arg b "$B_ID" \
    '[.[] | select(.subject == $r)] | length == 1 and .[0].action == "refund.received"
     and .[0].kind == "refund.sent" and .[0].user == $b and .[0].ip == null' <<<"$AE"
check_eq "one receipt for the refund on both sides" "$(about "$AE" "$REF" | jq -c '[.[] | .hash]')" \
    "$(about "$BE" "$REF" | jq -c '[.[] | .hash]')"
check "bob: payment.reversed with the operator's reason, no address" jq -e --arg r "$REV" \
    '[.[] | select(.subject == $r)] | length == 1 and .[0].action == "payment.reversed"
     and .[0].amount == 1000 and .[0].reason == "fraud check 7" and .[0].ip == null' <<<"$BE"
check "alice: reversal.received, with the reason" jq -e --arg r "$REV" \
    '[.[] | select(.subject == $r)] | length == 1 and .[0].action == "reversal.received"
     and .[0].reason == "fraud check 7"' <<<"$AE"
check "other entries carry no reason" jq -e \
    'all(.[]; .kind == "payment.reversed" or .reason == null)' <<<"$AE"
check "the dispute: opened and resolved once, for both" jq -e --arg d "$DSP" --argjson b "$BE" \
    '([.[] | select(.subject == $d) | .action] | sort == ["dispute.opened", "dispute.resolved_for_payee"])
     and ($b | [.[] | select(.subject == $d) | .action] | sort
          == ["dispute.opened", "dispute.resolved_for_payee"])' <<<"$AE"
check "escrows: held, released (the amount released), canceled, expired" jq -e \
    --arg e1 "$ESC1" --arg e2 "$ESC2" --arg e3 "$ESC3" \
    '([.[] | select(.subject == $e1) | "\(.action):\(.amount)"] | sort
        == ["escrow.held:300", "escrow.released:100"])
     and ([.[] | select(.subject == $e2) | "\(.action):\(.amount)"] | sort
        == ["escrow.canceled:200", "escrow.held:200"])
     and ([.[] | select(.subject == $e3) | "\(.action):\(.amount)"] | sort
        == ["escrow.expired:50", "escrow.held:50"])' <<<"$AE"
check "carol holds the same escrow entries" jq -e --arg e1 "$ESC1" --arg e3 "$ESC3" \
    '([.[] | select(.subject == $e1)] | length == 2) and
     ([.[] | select(.subject == $e3)] | length == 2)' <<<"$CE"
check "carol's cancel: alice's entry holds no address of carol's" jq -e --arg e2 "$ESC2" \
    '[.[] | select(.subject == $e2 and .action == "escrow.canceled")] | .[0].ip == null' <<<"$AE"
check "the expiry is tallyd's own: no request id" jq -e --arg e3 "$ESC3" \
    '[.[] | select(.subject == $e3 and .action == "escrow.expired")] | .[0].request_id == ""' \
    <<<"$AE"
check "alice: conversion.created, what left her USD wallet" jq -e --arg c "$CONV" \
    --argjson s "$CONV_SENT" '[.[] | select(.subject == $c)] | length == 1 and
     .[0].action == "conversion.created" and .[0].amount == $s and .[0].currency == "USD"
     and .[0].counterparty == null' <<<"$AE"
check "dave: scheduled_payment.skipped; alice sees it as the payee" jq -e --arg s "$SCHED" \
    --argjson a "$AE" '([.[] | select(.subject == $s) | .action] == ["scheduled_payment.skipped"])
     and ($a | [.[] | select(.subject == $s)] | length == 1)' <<<"$DE"
check "new entries hold no email, name or note text" jq -e -s \
    'add | all(.[]; (tostring | test("example.com|User |overpaid|not received") | not))' <<<"$AE$BE"

# ---------------------------------------------------------------------------------------------
echo "-- receipts: the hash recomputed from the fields"
python3 - "$AE" "$BE" "$CE" "$DE" >"$WORK/receipts.txt" <<'EOF'
import hashlib, json, sys
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CURRENCY = {"USD": 840, "JPY": 392}
def uuid_bytes(typeid):
    if typeid is None:
        return bytes(16)
    value = 0
    for ch in typeid.rsplit("_", 1)[1]:
        value = value * 32 + ALPHABET.index(ch)
    return value.to_bytes(16, "big")
def text(s):
    b = (s or "").encode()
    return bytes([len(b)]) + b
def encode(e):
    amount = e["amount"] or 0
    return (b"TLAUDIT1" + e["seq"].to_bytes(8, "big") + int(e["created_ns"]).to_bytes(8, "big")
            + uuid_bytes(e["user"]) + uuid_bytes(e["counterparty"])
            + (amount & (2**64 - 1)).to_bytes(8, "big")
            + CURRENCY.get(e["currency"], 0).to_bytes(2, "big")
            + text(e["kind"]) + text(e["subject"]) + text(e["request_id"])
            + bytes.fromhex(e["prev_hash"]))
bad = 0
for log in sys.argv[1:]:
    for e in json.loads(log):
        if hashlib.sha256(encode(e)).hexdigest() != e["hash"]:
            bad += 1
            print("mismatch at seq", e["seq"])
print("checked", bad)
EOF
check_eq "every entry's hash is the SHA-256 of its canonical encoding" "checked 0" \
    "$(tail -n 1 "$WORK/receipts.txt")"
check "seqs are one global sequence, newest first" jq -e \
    '[.[].seq] == ([.[].seq] | sort | reverse)' <<<"$AE"

TOKEN=$ADMIN_TOKEN api GET /v1/admin/audit/verify
expect "the operator's verify: the chain is intact" 200 \
    '.ok == true and .entries >= 12 and .head_seq == .entries and (.head_hash | length) == 64
     and .bad_seq == null and .reason == null'
TOKEN=$A api GET /v1/admin/audit/verify
expect_problem "a user cannot run the operator's verify" 401 unauthorized

LIVE=()
[ -n "$PG" ] && LIVE=(--store-backend postgres --store-path "$PG dbname=tl_main" --secret-file "$WORK/main.secret")
OUT=$("$TALLYD" audit-verify --data-dir "$WORK/main" "${LIVE[@]}" 2>&1)
check "audit-verify runs next to the serving tallyd (read-only)" grep -q "^audit-verify: OK " \
    <<<"$OUT"

# The whole chain, read by the verifier later; wait for a checkpoint of the newest head.
sleep 2
tl_stop "$SERVER_PID" # a clean stop signs the final head

# ---------------------------------------------------------------------------------------------
echo "-- the verifier"
if [ -n "$PG" ]; then
    DB="tl_main"
    STORE=(--store-backend postgres --store-path "$PG dbname=$DB" --secret-file "$WORK/main.secret")
else
    STORE=()
fi

# verify DIR : runs audit-verify on data dir DIR (or the PostgreSQL database); sets OUT and RC.
verify() {
    OUT=$("$TALLYD" audit-verify --data-dir "$1" "${STORE[@]}" 2>"$WORK/verify.err")
    RC=$?
}

# sql DIR STATEMENTS : runs SQL as a tamperer would (sqlite3 CLI, or psql).
sql() {
    if [ -n "$PG" ]; then
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -c "$2" "$PG dbname=$DB" >>"$WORK/sql.log" 2>&1
    else
        sqlite3 "$1/tally.db" "$2" >>"$WORK/sql.log" 2>&1
    fi
}

# fresh NAME : a copy of the untampered database to tamper with; sets DIR (PostgreSQL: a copy
# of the database named DB).
fresh() {
    DIR="$WORK/copy-$1"
    rm -rf "$DIR"
    cp -a "$WORK/main" "$DIR"
    if [ -n "$PG" ]; then
        DB="tl_tamper_$1"
        "$PSQL" -X -q -c "DROP DATABASE IF EXISTS $DB" "$PG dbname=postgres" >>"$WORK/sql.log" 2>&1
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB TEMPLATE tl_main" \
            "$PG dbname=postgres" >>"$WORK/sql.log" 2>&1
        STORE=(--store-backend postgres --store-path "$PG dbname=$DB" --secret-file "$WORK/main.secret")
    fi
}

verify "$WORK/main"
check_eq "an untampered log verifies (exit 0)" 0 "$RC"
check "one OK line with the count, the head and the checkpoints" \
    grep -Eq '^audit-verify: OK [0-9]+ entries, head seq [0-9]+ hash [0-9a-f]{64}, [1-9][0-9]* signed checkpoints' <<<"$OUT"
HEAD=$(sed -E 's/.*head seq ([0-9]+).*/\1/' <<<"$OUT")
check "every entry is in the chain" test "$HEAD" -ge 12
MID=$((HEAD / 2))
echo "   ($OUT)"

if [ -z "$PG" ]; then
    fresh refused
    sql "$DIR" "UPDATE audit_log SET amount = 1 WHERE seq = $MID"
    check "the schema refuses an UPDATE" grep -q "append-only" "$WORK/sql.log"
    : >"$WORK/sql.log"
    sql "$DIR" "DELETE FROM audit_log WHERE seq = $MID"
    check "the schema refuses a DELETE" grep -q "append-only" "$WORK/sql.log"
fi

DROP_TRIGGERS="DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
[ -n "$PG" ] && DROP_TRIGGERS="DROP TRIGGER audit_log_guard ON audit_log;"

fresh detail
sql "$DIR" "$DROP_TRIGGERS UPDATE audit_log SET amount = amount + 1 WHERE seq = $MID"
verify "$DIR"
check_eq "a changed detail: exit 3" 3 "$RC"
check_eq "a changed detail: the first bad seq and why" \
    "audit-verify: FAILED at seq $MID: the hash does not match the entry's contents" "$OUT"
if [ -z "$PG" ]; then
    tl_start copy-detail --sandbox --admin-token-file "$WORK/admin.token" || fail "start on copy"
    TOKEN=$ADMIN_TOKEN TL_VIA="http://127.0.0.1:$PORT" api GET /v1/admin/audit/verify
    expect "the operator's verify names the changed entry" 200 \
        ".ok == false and .bad_seq == $MID and (.reason | test(\"hash does not match\"))"
    tl_stop "$PID"
fi

fresh delete
sql "$DIR" "$DROP_TRIGGERS DELETE FROM audit_log WHERE seq = $MID"
verify "$DIR"
check_eq "a deleted middle entry: exit 3" 3 "$RC"
check "a deleted middle entry: missing at its seq" \
    grep -q "^audit-verify: FAILED at seq $MID: the entry is missing" <<<"$OUT"

fresh reorder
sql "$DIR" "$DROP_TRIGGERS UPDATE audit_log SET seq = 1000000 WHERE seq = $MID;
    UPDATE audit_log SET seq = $MID WHERE seq = $((MID + 1));
    UPDATE audit_log SET seq = $((MID + 1)) WHERE seq = 1000000"
verify "$DIR"
check_eq "two entries swapped: exit 3" 3 "$RC"
check "two entries swapped: caught at the first" grep -q "^audit-verify: FAILED at seq $MID: " \
    <<<"$OUT"

fresh kind
sql "$DIR" "$DROP_TRIGGERS UPDATE audit_log SET kind = 'login.succeeded' WHERE seq = $MID"
verify "$DIR"
check "another kind: caught" grep -q "^audit-verify: FAILED at seq $MID: the hash does not match" \
    <<<"$OUT"

# The tamperer changes an amount and recomputes every hash after it (SHA-256 is public): the
# chain is consistent again, but the signed checkpoint of the head names the old hash.
fresh rehash
sql "$DIR" "$DROP_TRIGGERS UPDATE audit_log SET amount = 1 WHERE seq = $MID"
python3 - "$DIR/tally.db" "$MID" "$PG" "$PSQL" "${PG:+$PG dbname=$DB}" >>"$WORK/sql.log" 2>&1 <<'EOF'
import hashlib, sqlite3, subprocess, sys
path, start, pg, psql, conninfo = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
cols = "seq, created_ns, user_id, kind, subject, counterparty_id, amount, currency, request_id"
def text(s):
    b = s.encode()
    return bytes([len(b)]) + b
def encode(r, prev):
    seq, created, user, kind, subject, cp, amount, currency, request_id = r
    return (b"TLAUDIT1" + seq.to_bytes(8, "big") + created.to_bytes(8, "big") + bytes(user)
            + (bytes(cp) if cp is not None else bytes(16)) + (amount & (2**64 - 1)).to_bytes(8, "big")
            + currency.to_bytes(2, "big") + text(kind) + text(subject) + text(request_id) + prev)
if pg:
    out = subprocess.run([psql, "-X", "-A", "-t", "-F", "|", "-c",
        "SELECT seq, created_ns, encode(user_id,'hex'), kind, subject, "
        "coalesce(encode(counterparty_id,'hex'),''), amount, currency, request_id, "
        "encode(prev_hash,'hex') FROM audit_log WHERE seq >= %d ORDER BY seq" % start, conninfo],
        capture_output=True, text=True, check=True).stdout
    rows = [l.split("|") for l in out.splitlines() if l]
    prev = bytes.fromhex(rows[0][9])
    stmts = []
    for r in rows:
        row = (int(r[0]), int(r[1]), bytes.fromhex(r[2]), r[3], r[4],
               bytes.fromhex(r[5]) if r[5] else None, int(r[6]), int(r[7]), r[8])
        h = hashlib.sha256(encode(row, prev)).digest()
        stmts.append("UPDATE audit_log SET prev_hash = '\\x%s', hash = '\\x%s' WHERE seq = %d;"
                     % (prev.hex(), h.hex(), row[0]))
        prev = h
    subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "".join(stmts), conninfo],
                   check=True)
else:
    db = sqlite3.connect(path)
    prev = db.execute("SELECT prev_hash FROM audit_log WHERE seq = ?", (start,)).fetchone()[0]
    for r in db.execute("SELECT %s FROM audit_log WHERE seq >= ? ORDER BY seq" % cols,
                        (start,)).fetchall():
        h = hashlib.sha256(encode(r, bytes(prev))).digest()
        db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, r[0]))
        prev = h
    db.commit()
EOF
verify "$DIR"
check_eq "a rehashed chain: exit 3" 3 "$RC"
check "a rehashed chain: the checkpoint names another hash" \
    grep -q "FAILED at seq [0-9]*: a signed checkpoint names another hash" <<<"$OUT"

fresh truncate
sql "$DIR" "$DROP_TRIGGERS DELETE FROM audit_log WHERE seq > $((HEAD - 2))"
verify "$DIR"
check_eq "the tail cut off: exit 3" 3 "$RC"
check "the tail cut off: the checkpoint says entries are missing" \
    grep -q "^audit-verify: FAILED at seq $((HEAD - 1)): entries after seq $((HEAD - 2)) are missing" \
    <<<"$OUT"

fresh forged
CP_DROP="DROP TRIGGER audit_checkpoints_no_update;"
[ -n "$PG" ] && CP_DROP="DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;"
sql "$DIR" "$CP_DROP UPDATE audit_checkpoints SET created_ns = created_ns + 1"
verify "$DIR"
check_eq "a forged checkpoint: exit 3" 3 "$RC"
check "a forged checkpoint: its signature does not verify" \
    grep -q "signature does not verify" <<<"$OUT"

verify "$WORK/main"
[ -n "$PG" ] && STORE=(--store-backend postgres --store-path "$PG dbname=tl_main" --secret-file "$WORK/main.secret") && verify "$WORK/main"
check_eq "the original still verifies" 0 "$RC"

tl_summary
