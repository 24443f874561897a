#!/usr/bin/env bash
# run_schedules.sh BUILD_DIR [ASAN_DIR] - scheduled and recurring payments over HTTP
# (docs/api.md "Scheduled payments"), executed by tallyd's scheduler, against real tallyd
# processes on loopback ports, each with a fresh data dir:
#
#   sched_plain  default config: repeat "every_seconds" is refused (it is test-only)
#   sched    --sandbox, schedules.tick_ms 100, grace_s 30, stale_s 2, test_intervals on:
#            validation, visibility (404 for others), a one-off payment at its time, a
#            recurring schedule with a 1 s test interval ending after 3 runs (exactly 3
#            payments), start_at in the past within the grace (runs once at once) and beyond it
#            (skipped as "missed"), insufficient funds (skipped with the reason), cancel (no more
#            runs; a second cancel is 409), lists; then kill -9 before the due time and around
#            it: after the restart each occurrence has exactly one payment
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_escrow.sh) every server is two nodes on one
# PostgreSQL database, requests alternating. Closes with "N passed, M failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-schedules.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

tl_require run_schedules.sh curl jq python3

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_RATELIMIT_LOOKUP_PER_MIN=1000000 TALLY_RATELIMIT_LOOKUP_BURST=100000
export TALLY_SCHEDULES_TICK_MS=100

# new_user HANDLE : sign up and log in; sets TOK and UID_ (one check).
new_user() {
    tl_signup "$1" || { fail "sign up and log in $1: $STATUS $BODY"; return 1; }
    pass
}

deposit() {
    TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"USD\", \"source\": \"sandbox\"}"
    [ "$STATUS" = 201 ] || fail "deposit $2: $STATUS $BODY"
}

# sched TOKEN BODY : POST /v1/scheduled_payments; sets SCH to the id on 201.
sched() {
    TOKEN=$1 api POST /v1/scheduled_payments "$2"
    SCH=$(jqb '.id // ""')
}

# wait_sched TOKEN ID JQ SECONDS : polls GET /v1/scheduled_payments/ID until JQ holds.
wait_sched() {
    local i
    for i in $(seq 1 $(($4 * 10))); do
        TOKEN=$1 api GET "/v1/scheduled_payments/$2"
        jq -e "$3" <<<"$BODY" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# paid_with NOTE : payments bob received with this note.
paid_with() {
    curl -s -H "Authorization: Bearer $B" "$(tl_url)/v1/payments?direction=received&limit=100" |
        jq --arg n "$1" '[.data[] | select(.note == $n)] | length'
}

# ---------------------------------------------------------------------------------------------
# plain: every_seconds is test-only

tl_start sched_plain --sandbox || { echo "0 passed, 1 failed"; exit 1; }
BASE="http://127.0.0.1:$PORT"
new_user pat && P=$TOK
new_user quinn
sched "$P" "{\"to\": \"@quinn\", \"amount\": 1, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"every_seconds\", \"interval_s\": 1}"
expect_problem "every_seconds needs schedules.test_intervals" 400 invalid_request repeat
tl_stop "$PID"

# ---------------------------------------------------------------------------------------------
# main

export TALLY_SCHEDULES_GRACE_S=30 TALLY_SCHEDULES_STALE_S=2 TALLY_SCHEDULES_TEST_INTERVALS=true
tl_start sched --sandbox || { echo "$PASSED passed, $((FAILED + 1)) failed"; exit 1; }
BASE="http://127.0.0.1:$PORT"

new_user alice && A=$TOK
new_user bob && B=$TOK && B_ID=$UID_
new_user carol && C=$TOK
deposit "$A" 100000

# -- Validation --
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"daily\"}"
expect_problem "unknown repeat" 400 invalid_request repeat
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"soon\", \"repeat\": \"none\"}"
expect_problem "bad start_at" 400 invalid_request start_at
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"weekly\", \"end_at\": \"$(iso_in 30)\"}"
expect_problem "end before start" 400 invalid_request end_at
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"weekly\", \"interval_s\": 5}"
expect_problem "interval without every_seconds" 400 invalid_request interval_s
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"every_seconds\"}"
expect_problem "every_seconds without an interval" 400 invalid_request interval_s
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"weekly\", \"end_after_count\": 0}"
expect_problem "end_after_count of 0" 400 invalid_request end_after_count
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"none\", \"status\": \"x\"}"
expect_problem "unknown field" 400 invalid_request status
sched "$A" "{\"to\": \"@alice\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"none\"}"
expect_problem "to oneself" 422 cannot_pay_self to
sched "$A" "{\"to\": \"@nobody_here\", \"amount\": 100, \"currency\": \"USD\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"none\"}"
expect_problem "unknown recipient" 422 recipient_not_found to
sched "$A" "{\"to\": \"@bob\", \"amount\": 100, \"currency\": \"EUR\", \"start_at\": \"$(iso_in 60)\", \"repeat\": \"none\"}"
expect_problem "no wallet in the currency" 422 wallet_not_found currency

# -- Once, at its time --
sched "$A" "{\"to\": \"@bob\", \"amount\": 250, \"currency\": \"USD\", \"note\": \"once\", \"start_at\": \"$(iso_in 1)\", \"repeat\": \"none\"}"
expect "a one-off scheduled payment" 201 \
    ".status == \"active\" and .repeat == \"none\" and .amount == 250 and .to.id == \"$B_ID\"
     and (.id | startswith(\"sched_\")) and .next_run_at == .start_at and .end_at == null"
sample ScheduledPayment
S1=$SCH
TOKEN=$B api GET "/v1/scheduled_payments/$S1"
expect_problem "the payee does not see the schedule" 404 not_found
TOKEN=$C api DELETE "/v1/scheduled_payments/$S1"
expect_problem "another user cannot cancel it" 404 not_found
if wait_sched "$A" "$S1" '.status == "completed" and .occurrences[0].status == "succeeded"' 10; then
    pass
else
    fail "one-off did not run: $BODY"
fi
expect "one occurrence, its payment" 200 \
    '(.occurrences | length) == 1 and .occurrences[0].index == 0 and .next_run_at == null
     and (.occurrences[0].payment_id | startswith("pay_")) and .occurrences[0].reason == null'
sample ScheduledPayment
PAY=$(jqb '.occurrences[0].payment_id')
TOKEN=$B api GET "/v1/payments/$PAY"
expect "the payee received it" 200 '.amount == 250 and .note == "once" and .from.handle == "alice"'

# -- Recurring with the test interval: exactly end_after_count payments --
sched "$A" "{\"to\": \"@bob\", \"amount\": 10, \"currency\": \"USD\", \"note\": \"every\", \"start_at\": \"$(iso_in 1)\", \"repeat\": \"every_seconds\", \"interval_s\": 1, \"end_after_count\": 3}"
expect "recurring every second, three times" 201 '.interval_s == 1 and .end_after_count == 3'
S2=$SCH
if wait_sched "$A" "$S2" '.status == "completed" and ([.occurrences[] | select(.status == "succeeded")] | length) == 3' 15; then
    pass
else
    fail "recurring did not complete: $BODY"
fi
expect "three occurrences, indexes 2, 1, 0" 200 '[.occurrences[].index] == [2, 1, 0]'
sleep 1.5
check_eq "exactly three payments" 3 "$(paid_with every)"

# -- start_at in the past: within the grace it runs once at once; beyond it is missed --
sched "$A" "{\"to\": \"@bob\", \"amount\": 20, \"currency\": \"USD\", \"note\": \"late\", \"start_at\": \"$(iso_in -2)\", \"repeat\": \"weekly\"}"
expect "weekly from two seconds ago" 201
S3=$SCH
if wait_sched "$A" "$S3" '(.occurrences | length) == 1 and .occurrences[0].status == "succeeded"' 10; then
    pass
else
    fail "late start did not run: $BODY"
fi
expect "the next run is a week later" 200 \
    '.status == "active" and ((.next_run_at | sub("\\.[0-9]+Z$"; "Z") | fromdate) - (.start_at | sub("\\.[0-9]+Z$"; "Z") | fromdate)) == 604800'
sched "$A" "{\"to\": \"@bob\", \"amount\": 20, \"currency\": \"USD\", \"note\": \"missed\", \"start_at\": \"$(iso_in -120)\", \"repeat\": \"monthly\"}"
S4=$SCH
if wait_sched "$A" "$S4" '(.occurrences | length) == 1 and .occurrences[0].status == "skipped"' 10; then
    pass
else
    fail "old start was not skipped: $BODY"
fi
expect "skipped as missed" 200 '.occurrences[0].reason == "missed" and .occurrences[0].payment_id == null'
check_eq "a missed occurrence pays nothing" 0 "$(paid_with missed)"

# -- Insufficient funds: skipped with the reason --
sched "$A" "{\"to\": \"@bob\", \"amount\": 10000000, \"currency\": \"USD\", \"note\": \"big\", \"start_at\": \"$(iso_in 0)\", \"repeat\": \"none\"}"
S5=$SCH
if wait_sched "$A" "$S5" '.occurrences[0].status == "skipped"' 10; then pass; else fail "not skipped: $BODY"; fi
expect "skipped for insufficient funds" 200 \
    '.occurrences[0].reason == "insufficient_funds" and .status == "completed"'

# -- Cancel: no more runs --
sched "$A" "{\"to\": \"@bob\", \"amount\": 1, \"currency\": \"USD\", \"note\": \"cancel\", \"start_at\": \"$(iso_in 0)\", \"repeat\": \"every_seconds\", \"interval_s\": 1}"
S6=$SCH
wait_sched "$A" "$S6" '(.occurrences | length) >= 1' 10 || fail "cancel schedule never ran"
TOKEN=$A api DELETE "/v1/scheduled_payments/$S6"
expect "cancel" 200 '.status == "canceled" and (.canceled_at | type) == "string" and .next_run_at == null'
TOKEN=$A api DELETE "/v1/scheduled_payments/$S6"
expect_problem "cancel twice" 409 schedule_canceled
# A run claimed before the cancel still pays, and is "running" until it has: count the payments
# only once no occurrence is, then nothing may pay any more.
if wait_sched "$A" "$S6" '([.occurrences[] | select(.status == "running")] | length) == 0' 20; then
    pass
else
    fail "a run claimed before the cancel did not finish: $BODY"
fi
N1=$(paid_with cancel)
sleep 3
check_eq "a canceled schedule pays no more" "$N1" "$(paid_with cancel)"

# -- Lists --
TOKEN=$A api GET "/v1/scheduled_payments?limit=2"
expect "first page" 200 '(.data | length) == 2 and .has_more == true and (.data[0] | has("occurrences") | not)'
CUR=$(jqb '.data[1].id')
TOKEN=$A api GET "/v1/scheduled_payments?limit=100&starting_after=$CUR"
expect "the rest" 200 '(.data | length) == 4 and .has_more == false'
sample ScheduledPaymentList
TOKEN=$C api GET "/v1/scheduled_payments"
expect "another user lists nothing" 200 '(.data | length) == 0'

# -- kill -9 while a payment is due: after the restart it ran exactly once --
sched "$A" "{\"to\": \"@bob\", \"amount\": 33, \"currency\": \"USD\", \"note\": \"down\", \"start_at\": \"$(iso_in 2)\", \"repeat\": \"none\"}"
S7=$SCH
sched "$A" "{\"to\": \"@bob\", \"amount\": 44, \"currency\": \"USD\", \"note\": \"around\", \"start_at\": \"$(iso_in 1)\", \"repeat\": \"every_seconds\", \"interval_s\": 1, \"end_after_count\": 4}"
S8=$SCH
tl_kill "$PID" # S7 falls due while tallyd is down; S8 is at its first runs
sleep 3
tl_start sched --sandbox || { fail "restart"; tl_summary; exit 1; }
BASE="http://127.0.0.1:$PORT"
if wait_sched "$A" "$S7" '.occurrences[0].status == "succeeded"' 10; then
    pass
else
    fail "the occurrence missed while down did not run on restart: $BODY"
fi
if wait_sched "$A" "$S8" '.status == "completed" and ([.occurrences[] | select(.status == "running")] | length) == 0' 20; then
    pass
else
    fail "the recurring schedule did not finish after the restart: $BODY"
fi
sleep 1
check_eq "exactly one payment for the missed occurrence" 1 "$(paid_with down)"
TOKEN=$A api GET "/v1/scheduled_payments/$S8"
SUCC=$(jqb '[.occurrences[] | select(.status == "succeeded")] | length')
check_eq "one payment per succeeded occurrence across the crash" "$SUCC" "$(paid_with around)"
expect "every occurrence ran or was skipped once" 200 \
    '[.occurrences[].index] == [3, 2, 1, 0] and ([.occurrences[] | select(.status == "skipped" and .reason != "missed")] | length) == 0'

echo "-- responses against docs/openapi.yaml schemas"
python3 "$root/tests/api/check_schemas.py" "$root/docs/openapi.yaml" "$WORK/samples" \
    >"$WORK/schemas.txt" 2>&1
while read -r verdict rest; do
    case $verdict in
    ok) pass ;;
    *) fail "schema: $rest" ;;
    esac
done <"$WORK/schemas.txt"
check "schema check ran" test "$(grep -c '^ok ' "$WORK/schemas.txt")" -ge 8

tl_summary
[ "$FAILED" -eq 0 ]
