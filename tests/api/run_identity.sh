#!/usr/bin/env bash
# run_identity.sh BUILD_DIR - identity over HTTP (issue #5 part 1): TOTP with codes from
# Debian's oathtool, login challenges, recovery codes, guess throttling, the session list and
# revocation, password change, and the audit log; curl and jq against a real tallyd on loopback.
#
#   main   --sandbox, challenges live 6 s (auth.mfa_challenge_ttl_s) so one can expire
#
# Codes are made by oathtool for the server's clock; checks that depend on the 30 s step wait
# until the step has at least 6 s left, so a step boundary never falls between oathtool and the
# server. Prints one "FAIL: ..." line per failed check and closes with "N passed, M failed";
# exits non-zero on any failure. Every server it starts is killed on exit.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# With a sanitizer build dir as well (tests/run.sh passes BUILD_DIR ASAN_DIR): the whole suite
# runs once per build and the counts are added up.
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
    # Once more on PostgreSQL (a throwaway cluster, tests/pg/pg_cluster.sh), release build.
    if pg_env=$(bash "$root/tests/pg/pg_cluster.sh" start 2>"${TMPDIR:-/tmp}/identity-pg.$$.log"); then
        eval "$pg_env"
        out=$(TALLY_STORE_BACKEND=postgres TALLY_STORE_PATH="$TALLY_PG_CONNINFO dbname=postgres" \
            TALLY_IDENTITY_SCAN_DIR="$TALLY_PG_DIR" bash "$0" "$1" 2>&1)
        bash "$root/tests/pg/pg_cluster.sh" stop "$TALLY_PG_DIR" >/dev/null 2>&1
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
        grep '^FAIL\|exited\|not built' <<<"$out" | sed 's|^|[postgres] |'
        if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
            total_p=$((total_p + BASH_REMATCH[1]))
            total_f=$((total_f + BASH_REMATCH[2]))
        else
            total_f=$((total_f + 1))
        fi
    else
        echo "FAIL: cannot start a PostgreSQL cluster:"
        tail -n 5 "${TMPDIR:-/tmp}/identity-pg.$$.log"
        total_f=$((total_f + 1))
    fi
    rm -f "${TMPDIR:-/tmp}/identity-pg.$$.log"
    echo "$total_p passed, $total_f failed"
    [ "$total_f" -eq 0 ]
    exit
fi
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-run-identity.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

for tool in curl jq oathtool python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_identity.sh: $tool is required (make deps installs it)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
if [ ! -x "$TALLYD" ]; then
    echo "run_identity.sh: $TALLYD not built"
    echo "0 passed, 1 failed"
    exit 1
fi

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_AUTH_MFA_CHALLENGE_TTL_S=6

# ---------------------------------------------------------------------------------------------
# Helpers

# new_user HANDLE : sign up and log in; sets TOK, PW. Counted as one check.
new_user() {
    PW=$(newpw)
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$PW" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')"
    if [ "$STATUS" != 201 ]; then
        fail "sign up $1: expected 201, got $STATUS: $BODY"
        return 1
    fi
    login "$1" "$PW"
    if [ "$STATUS" != 201 ] || [ -z "$TOK" ]; then
        fail "log in $1: expected 201 with a token, got $STATUS: $BODY"
        return 1
    fi
    pass
}

# login LOGIN PASSWORD [USER_AGENT] : POST /v1/sessions; TOK ("" unless 201), CHALLENGE.
login() {
    local ua=${3:-run_identity}
    STATUS=$(curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' --max-time 20 \
        -H 'Content-Type: application/json' -A "$ua" \
        -d "$(jq -nc --arg l "$1" --arg p "$2" '{login: $l, password: $p}')" "$BASE/v1/sessions")
    BODY=$(cat "$WORK/body")
    TOK=$(jqb 'if .token then .token else "" end')
    CHALLENGE=$(jqb '.mfa_challenge // ""')
}

# mfa CHALLENGE FIELD VALUE : POST /v1/sessions/mfa with code or recovery_code; sets TOK.
mfa() {
    api POST /v1/sessions/mfa "$(jq -nc --arg c "$1" --arg f "$2" --arg v "$3" \
        '{challenge: $c} + {($f): $v}')"
    TOK=$(jqb 'if .token then .token else "" end')
}

# code SECRET [OFFSET_S] : the oathtool code for now + OFFSET_S seconds.
code() {
    oathtool --totp -b "$1" -N "@$(($(date +%s) + ${2:-0}))"
}

# steady : waits until the current 30 s step has at least 6 s left.
steady() {
    local into=$(($(date +%s) % 30))
    if [ "$into" -ge 24 ]; then
        sleep $((30 - into + 1))
    fi
}

# enrol TOKEN : POST /v1/me/totp; sets SECRET.
enrol() {
    TOKEN=$1 api POST /v1/me/totp
    SECRET=$(jqb '.secret // ""')
}

# session_ids TOKEN : the ids of GET /v1/me/sessions, one per line.
session_ids() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$BASE/v1/me/sessions" | jq -r '.data[].id'
}

# actions TOKEN : the actions of GET /v1/me/audit?limit=100, newest first, one per line.
actions() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$BASE/v1/me/audit?limit=100" |
        jq -r '.data[].action'
}

if ! tl_start main --sandbox --threads 8; then
    echo "0 passed, 1 failed"
    exit 1
fi
MAIN_PID=$PID
BASE="http://127.0.0.1:$PORT"
LOG="$WORK/main.log"

# ---------------------------------------------------------------------------------------------
echo "-- sessions: list, revoke one, someone else's"
new_user alice || exit 1
A_PW=$PW
A_TOK=$TOK
login alice "$A_PW" "second-device/1.0"
A_TOK2=$TOK
TOKEN=$A_TOK api GET /v1/me/sessions
expect "sessions list" 200 '(.data | length) == 2 and .has_more == false'
sample SessionList
check "sessions list: newest first, one current, user agents, no token" jq -e \
    '.data[0].user_agent == "second-device/1.0" and .data[1].user_agent == "run_identity"
     and ([.data[] | select(.current)] | length) == 1 and .data[1].current
     and all(.data[]; (.id | startswith("sess_")) and has("created_at") and has("expires_at")
             and (has("token") | not))' <<<"$BODY"
A_SESS2=$(jqb '.data[0].id')

new_user bob || exit 1
B_PW=$PW
B_TOK=$TOK
B_SESS=$(session_ids "$B_TOK" | head -n 1)
TOKEN=$A_TOK api DELETE "/v1/me/sessions/$B_SESS"
expect_problem "revoke someone else's session" 404 not_found
TOKEN=$B_TOK api GET /v1/me
expect "bob's session still works" 200
TOKEN=$A_TOK api DELETE "/v1/me/sessions/sess_nonsense"
expect_problem "revoke a malformed session id" 404 not_found
TOKEN=$A_TOK api DELETE "/v1/me/sessions/$A_SESS2"
expect "revoke alice's second session" 204
TOKEN=$A_TOK2 api GET /v1/me
expect_problem "revoked token" 401 unauthorized
TOKEN=$A_TOK api DELETE "/v1/me/sessions/$A_SESS2"
expect_problem "revoke it again" 404 not_found
TOKEN=$A_TOK api GET /v1/me
expect "current session unaffected" 200
api GET /v1/me/sessions
expect_problem "sessions need a token" 401 unauthorized

# ---------------------------------------------------------------------------------------------
echo "-- TOTP enrolment with oathtool codes"
TOKEN=$A_TOK api GET /v1/me/totp
expect "totp status: off" 200 '.enabled == false and .pending == false'
TOKEN=$B_TOK api POST /v1/me/totp/confirm '{"code": "123456"}'
expect_problem "confirm without enrolment" 409 mfa_not_enabled
steady
enrol "$A_TOK"
expect "enrol" 201 '.status == "pending" and (.secret | test("^[A-Z2-7]{32}$"))
    and (.otpauth_uri | startswith("otpauth://totp/Tally:alice?secret="))
    and (.qr_svg | startswith("<svg")) and (.qr_svg | endswith("</svg>"))'
sample TotpEnrollment
check "otpauth URI carries the secret, issuer, SHA1, 6 digits, 30 s" jq -e --arg s "$SECRET" \
    '.otpauth_uri == "otpauth://totp/Tally:alice?secret=\($s)&issuer=Tally&algorithm=SHA1&digits=6&period=30"' \
    <<<"$BODY"
check_eq "enrolment answer is not cacheable" "no-store" "$(header Cache-Control)"
A_SECRET=$SECRET
TOKEN=$A_TOK api GET /v1/me/totp
expect "totp status: pending" 200 '.enabled == false and .pending == true'
sample TotpStatus
TOKEN=$A_TOK api POST /v1/me/totp/confirm "{\"code\": \"$(code "$A_SECRET" -60)\"}"
expect_problem "confirm with a code two steps old" 422 invalid_mfa_code code
TOKEN=$A_TOK api POST /v1/me/totp/confirm "{\"code\": \"$(code "$A_SECRET" 60)\"}"
expect_problem "confirm with a code two steps ahead" 422 invalid_mfa_code code
TOKEN=$A_TOK api POST /v1/me/totp/confirm '{"code": "12345"}'
expect_problem "confirm with five digits" 422 invalid_mfa_code
TOKEN=$A_TOK api POST /v1/me/totp/confirm '{"code": 123456}'
expect_problem "confirm with a number" 400 invalid_request code
C0=$(code "$A_SECRET")
TOKEN=$A_TOK api POST /v1/me/totp/confirm "{\"code\": \"$C0\"}"
expect "confirm with the current code" 200 '.enabled == true and (.recovery_codes | length) == 10
    and all(.recovery_codes[]; test("^[a-z2-7]{5}-[a-z2-7]{5}$"))
    and (.recovery_codes | unique | length) == 10'
sample TotpConfirmation
mapfile -t RC < <(jqb '.recovery_codes[]')
TOKEN=$A_TOK api POST /v1/me/totp/confirm "{\"code\": \"$C0\"}"
expect_problem "confirm twice" 409 mfa_already_enabled
enrol "$A_TOK"
expect_problem "enrol while on" 409 mfa_already_enabled

# ---------------------------------------------------------------------------------------------
echo "-- login with TOTP on: challenge, replay, recovery codes, expiry"
login alice "$A_PW"
expect_problem "password alone is not enough" 401 mfa_required
check "mfa_required carries a challenge and no token" jq -e \
    '(.mfa_challenge | test("^mfa_[A-Za-z0-9_-]{43}$")) and (.token == null)
     and (.mfa_challenge_expires_at | type) == "string" and .mfa_methods == ["totp", "recovery_code"]' \
    <<<"$BODY"
sample Problem mfa_required_challenge
CH=$CHALLENGE
mfa "$CH" code "$C0"
expect_problem "replayed code (used to confirm)" 422 invalid_mfa_code code
mfa "$CH" code "000000"
[ "$C0" = 000000 ] || expect_problem "wrong code" 422 invalid_mfa_code code
mfa "$CH" recovery_code "${RC[0]}"
expect "recovery code completes the login" 201 '(.token | startswith("tly_")) and .user.handle == "alice"'
A_TOK_M=$TOK
TOKEN=$A_TOK_M api GET /v1/me
expect "token from the second factor works" 200 '.handle == "alice"'
mfa "$CH" recovery_code "${RC[1]}"
expect_problem "challenge is single use" 401 mfa_challenge_invalid challenge
login alice "$A_PW"
CH=$CHALLENGE
mfa "$CH" recovery_code "$(tr 'a-z' 'A-Z' <<<"${RC[0]}")"
expect_problem "recovery code is single use" 422 invalid_mfa_code recovery_code
mfa "$CH" code "$C0"
expect_problem "replay again" 422 invalid_mfa_code
api POST /v1/sessions/mfa "{\"challenge\": \"$CH\", \"code\": \"$C0\", \"recovery_code\": \"${RC[1]}\"}"
expect_problem "code and recovery code together" 400 invalid_request
api POST /v1/sessions/mfa '{"challenge": "mfa_nope", "code": "123456"}'
expect_problem "malformed challenge" 401 mfa_challenge_invalid challenge
sleep 7
mfa "$CH" recovery_code "${RC[1]}"
expect_problem "expired challenge" 401 mfa_challenge_invalid challenge
TOKEN=$A_TOK api GET /v1/me/totp
expect "one recovery code used" 200 '.enabled == true and .recovery_codes_left == 9'

echo "-- codes one step old, current, replayed (carol)"
new_user carol || exit 1
C_PW=$PW
C_TOK=$TOK
steady
enrol "$C_TOK"
C_SECRET=$SECRET
TOKEN=$C_TOK api POST /v1/me/totp/confirm "{\"code\": \"$(code "$C_SECRET" -30)\"}"
expect "confirm with a code one step old" 200 '.enabled == true'
login carol "$C_PW"
CH=$CHALLENGE
CUR=$(code "$C_SECRET")
mfa "$CH" code "$CUR"
expect "log in with the current oathtool code" 201 '.user.handle == "carol"'
login carol "$C_PW"
mfa "$CHALLENGE" code "$CUR"
expect_problem "the same code on a new challenge" 422 invalid_mfa_code
mfa "$CHALLENGE" code "$(code "$C_SECRET" -30)"
expect_problem "a code one step older than the used one" 422 invalid_mfa_code

echo "-- guesses are throttled per account (dave)"
new_user dave || exit 1
D_PW=$PW
D_TOK=$TOK
steady
enrol "$D_TOK"
D_SECRET=$SECRET
TOKEN=$D_TOK api POST /v1/me/totp/confirm "{\"code\": \"$(code "$D_SECRET")\"}"
expect "dave enrolled" 200
# A well-formed wrong guess: the code of 100 steps ahead (the code of the next step would become
# the valid one if the sleeps below crossed a step boundary).
GOOD=$(code "$D_SECRET" 3000)
# guess : one wrong guess at dave's login challenge. The challenge lives 6 s, which a loaded
# machine can use up: an expired challenge is refused before the throttle counts anything, so
# the guess is then made again on a fresh login's challenge.
guess() {
    mfa "$CH" code "$GOOD"
    if [ "$STATUS" = 401 ] && [ "$(jqb .code)" = mfa_challenge_invalid ]; then
        login dave "$D_PW"
        CH=$CHALLENGE
        mfa "$CH" code "$GOOD"
    fi
}
# Logged in right before the guesses, so that they all fit in the challenge's 6 s.
login dave "$D_PW"
CH=$CHALLENGE
statuses=""
for _ in 1 2 3 4 5; do
    guess
    statuses="$statuses $STATUS"
done
check_eq "five wrong guesses are refused" " 422 422 422 422 422" "$statuses"
# The backoff after the fifth failure is 1 s and doubles with each failure after it; on a
# loaded machine the sixth guess can arrive after 1 s (and count), so up to three guesses made
# right away must meet the throttle (the seventh waits 2 s, the eighth 4 s: each longer than a
# request takes), as in run_api.sh's login throttle.
throttled_at=0
for i in 6 7 8; do
    guess
    [ "$STATUS" = 429 ] && throttled_at=$i && break
done
expect_problem "a guess right after the fifth failure is throttled" 429 rate_limited
check "throttled guess has Retry-After" test -n "$(header Retry-After)"
[ "$throttled_at" -gt 0 ] || throttled_at=6
# Past each wait, a wrong guess counts again and doubles the next wait (W s, the wait the 429
# above met: 1 s when the sixth guess was throttled; then 2W s, then 4W s): the disable below
# then lands inside a 4W s wait however slow this machine is right now (with the W s wait
# alone, a loaded machine could take longer than that between the two calls). The guesses go
# to disable (the same account's throttle): the login challenge lives only 6 s.
wait_s=$((1 << (throttled_at - 6)))
sleep "$wait_s.2"
TOKEN=$D_TOK api POST /v1/me/totp/disable "{\"code\": \"$GOOD\"}"
expect_problem "after the $wait_s s wait, a wrong guess counts again" 422 invalid_mfa_code
sleep "$((2 * wait_s)).2"
TOKEN=$D_TOK api POST /v1/me/totp/disable "{\"code\": \"$GOOD\"}"
expect_problem "after the $((2 * wait_s)) s wait, a wrong guess counts again" 422 invalid_mfa_code
TOKEN=$D_TOK api POST /v1/me/totp/disable "{\"code\": \"$GOOD\"}"
expect_problem "the throttle covers disable too" 429 rate_limited

# ---------------------------------------------------------------------------------------------
echo "-- disable needs a current code or a recovery code"
TOKEN=$A_TOK api POST /v1/me/totp/disable '{}'
expect_problem "disable without a proof" 400 invalid_request
TOKEN=$A_TOK api POST /v1/me/totp/disable "{\"code\": \"$C0\"}"
expect_problem "disable with a used code" 422 invalid_mfa_code
TOKEN=$A_TOK api POST /v1/me/totp/disable "{\"recovery_code\": \"${RC[2]}\"}"
expect "disable with a recovery code" 204
TOKEN=$A_TOK api GET /v1/me/totp
expect "totp off again" 200 '.enabled == false and .pending == false and .recovery_codes_left == 0'
TOKEN=$A_TOK api POST /v1/me/totp/disable "{\"recovery_code\": \"${RC[3]}\"}"
expect_problem "disable twice" 409 mfa_not_enabled
login alice "$A_PW"
expect "login without a second factor again" 201 '.token | startswith("tly_")'

# ---------------------------------------------------------------------------------------------
echo "-- password change revokes the other sessions"
NEW_PW=$(newpw)
TOKEN=$A_TOK api POST /v1/me/password \
    "$(jq -nc --arg n "$NEW_PW" '{current_password: "wrong wrong wrong", new_password: $n}')"
expect_problem "wrong current password" 401 invalid_credentials current_password
TOKEN=$A_TOK api POST /v1/me/password \
    "$(jq -nc --arg c "$A_PW" '{current_password: $c, new_password: "short"}')"
expect_problem "weak new password" 400 weak_password new_password
TOKEN=$A_TOK api POST /v1/me/password "$(jq -nc --arg c "$A_PW" '{current_password: $c}')"
expect_problem "missing new password" 400 invalid_request new_password
TOKEN=$A_TOK api POST /v1/me/password \
    "$(jq -nc --arg c "$A_PW" --arg n "$NEW_PW" '{current_password: $c, new_password: $n}')"
expect "password changed" 204
TOKEN=$A_TOK_M api GET /v1/me
expect_problem "old session (other) revoked" 401 unauthorized
TOKEN=$A_TOK api GET /v1/me
expect "the changing session stays" 200
login alice "$A_PW"
expect_problem "old password refused" 401 invalid_credentials
login alice "$NEW_PW"
expect "new password works" 201
A_TOK3=$TOK

echo "-- revoke all other sessions"
login bob "$B_PW"
B_TOK2=$TOK
TOKEN=$B_TOK api DELETE /v1/me/sessions
expect "revoke others" 200 '.revoked == 1'
TOKEN=$B_TOK2 api GET /v1/me
expect_problem "bob's other session revoked" 401 unauthorized
TOKEN=$B_TOK api GET /v1/me/sessions
expect "only the current one left" 200 '(.data | length) == 1 and .data[0].current'
TOKEN=$A_TOK3 api GET /v1/me
expect "alice untouched by bob" 200

# ---------------------------------------------------------------------------------------------
echo "-- audit log"
TOKEN=$A_TOK api GET "/v1/me/audit?limit=100"
expect "audit list" 200 '.has_more == false and (.data | length) > 10'
sample AuditList
check "audit entries: ids, times, request ids, addresses, no secrets" jq -e \
    'all(.data[]; (.id | startswith("aud_")) and (.request_id | length) > 0 and .ip == "127.0.0.1"
          and (.created_at | type) == "string")
     and ([.data[].id] == ([.data[].id] | sort | reverse))' <<<"$BODY"
A_ACTIONS=$(actions "$A_TOK")
for action in user.signed_up login.succeeded login.failed session.revoked mfa.totp_enrolled \
    mfa.totp_confirmed login.mfa_challenged login.mfa_failed mfa.recovery_code_used \
    mfa.code_failed mfa.totp_disabled password.change_failed password.changed; do
    check "alice's audit has $action" grep -qx "$action" <<<"$A_ACTIONS"
done
check_eq "newest entry first" "login.succeeded" "$(head -n 1 <<<"$A_ACTIONS")"
check_eq "oldest entry is the sign-up" "user.signed_up" "$(tail -n 1 <<<"$A_ACTIONS")"
B_ACTIONS=$(actions "$B_TOK")
check "bob's audit has sessions.revoked_others" grep -qx sessions.revoked_others <<<"$B_ACTIONS"
check "bob does not see alice's entries" test -z "$(grep -x 'mfa.totp_disabled' <<<"$B_ACTIONS")"
TOKEN=$A_TOK api GET "/v1/me/audit?limit=3"
expect "audit page 1" 200 '(.data | length) == 3 and .has_more == true'
P1=$BODY
LAST=$(jq -r '.data[2].id' <<<"$P1")
TOKEN=$A_TOK api GET "/v1/me/audit?limit=3&starting_after=$LAST"
expect "audit page 2" 200 '(.data | length) == 3'
check "page 2 is older than page 1" jq -e --arg last "$LAST" 'all(.data[]; .id < $last)' <<<"$BODY"
FIRST2=$(jqb '.data[0].id')
TOKEN=$A_TOK api GET "/v1/me/audit?limit=2&ending_before=$FIRST2"
expect "ending_before: newer entries, newest first" 200 '(.data | length) == 2 and .has_more == true'
check_eq "ending_before gives the entries just above the cursor" \
    "$(jq -c '[.data[1,2].id]' <<<"$P1")" "$(jq -c '[.data[].id]' <<<"$BODY")"
TOKEN=$A_TOK api GET "/v1/me/audit?limit=2&starting_after=$LAST&ending_before=$LAST"
expect_problem "both cursors" 400 invalid_request
TOKEN=$A_TOK api GET "/v1/me/audit?starting_after=pay_nonsense"
expect_problem "cursor of another kind" 400 invalid_request starting_after

# ---------------------------------------------------------------------------------------------
echo "-- secrets stay secret"
check "server log holds no TOTP secret" test -z "$(grep -F -e "$A_SECRET" -e "$C_SECRET" -e "$D_SECRET" "$LOG")"
check "server log holds no recovery code" test -z "$(grep -F -e "${RC[0]}" -e "${RC[5]}" "$LOG")"
check "server log holds no password" test -z "$(grep -F -e "$A_PW" -e "$NEW_PW" "$LOG")"
# The database files (SQLite's, or the whole PostgreSQL cluster directory) hold the TOTP
# secrets only sealed: neither their bytes nor their base32; recovery codes not at all.
python3 - "${TALLY_IDENTITY_SCAN_DIR:-$WORK/main}" "$C_SECRET" "$D_SECRET" "${RC[4]}" \
    >"$WORK/scan.txt" <<'EOF'
import base64, os, sys
data_dir, secrets = sys.argv[1], sys.argv[2:4]
needles = [base64.b32decode(s) for s in secrets] + [s.encode() for s in secrets]
needles.append(sys.argv[4].encode())
needles.append(sys.argv[4].replace("-", "").encode())
found, scanned = False, 0
for top, _, files in os.walk(data_dir):
    for name in files:
        if name.startswith("secret") or name.endswith(".log"):
            continue
        try:
            blob = open(os.path.join(top, name), "rb").read()
        except OSError:
            continue
        scanned += len(blob)
        found = found or any(n in blob for n in needles)
print("found" if found else "clean", scanned)
EOF
check "database files hold no TOTP secret or recovery code in the clear ($(cat "$WORK/scan.txt"))" \
    grep -q '^clean [1-9]' "$WORK/scan.txt"

# ---------------------------------------------------------------------------------------------
echo "-- responses against docs/openapi.yaml schemas"
python3 "$root/tests/api/check_schemas.py" "$root/docs/openapi.yaml" "$WORK/samples" \
    >"$WORK/schemas.txt" 2>&1
while read -r verdict rest; do
    case $verdict in
    ok) pass ;;
    *) fail "schema: $rest" ;;
    esac
done <"$WORK/schemas.txt"
check "schema check ran" test "$(grep -c '^ok ' "$WORK/schemas.txt")" -ge 6

check "server still up" kill -0 "$MAIN_PID"
check "server stops cleanly" tl_stop "$MAIN_PID"
check "no sanitizer report in the server log" test -z "$(grep -E 'runtime error|Sanitizer' "$LOG")"

tl_summary
[ "$FAILED" -eq 0 ]
