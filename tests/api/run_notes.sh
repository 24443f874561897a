#!/usr/bin/env bash
# run_notes.sh BUILD_DIR [ASAN_BUILD_DIR] - issue #5 "Strong identity" over HTTP: end-to-end
# encrypted payment notes (published X25519 keys, sealed notes made and opened by the reference
# client tools/tally-note, proof that the database holds no plaintext), cookie sessions with
# CSRF protection, and session last-seen; curl and jq against a real tallyd on loopback.
#
# On SQLite (the default) the server starts on a database made at schema version 4 from the
# migration files (python3's sqlite3), so the v4 -> v5 migration runs both through
# `tallyd migrate` and on open. With TL_PG_CONNINFO set (tests/pg/run_pg_notes.sh) the server is
# two nodes on one PostgreSQL database, requests alternating, and the plaintext check greps a
# pg_dump of that database. With two build dirs the suite runs once per build and the counts
# are added up. Prints one "FAIL: ..." line per failed check and closes with
# "N passed, M failed"; exits non-zero on any failure.
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
NOTE="$build/tools/tally-note"
WORK=$(mktemp -d /tmp/tally-run-notes.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

for tool in curl jq python3 grep; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_notes.sh: $tool is required (make deps installs it)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
if [ ! -x "$TALLYD" ] || [ ! -x "$NOTE" ]; then
    echo "run_notes.sh: $TALLYD or $NOTE not built"
    echo "0 passed, 1 failed"
    exit 1
fi

export TALLY_LEDGER_ACCOUNTS_MAX=65536
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
export TALLY_RATELIMIT_LOOKUP_PER_MIN=1000000 TALLY_RATELIMIT_LOOKUP_BURST=100000

# ---------------------------------------------------------------------------------------------
# Helpers

# new_user HANDLE : sign up and log in (bearer); sets TOK. Counted as one check.
new_user() {
    local pw
    pw=$(newpw)
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$pw" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')"
    if [ "$STATUS" != 201 ]; then
        fail "sign up $1: expected 201, got $STATUS: $BODY"
        return 1
    fi
    eval "PW_$1=\$pw"
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$pw" '{login: $l, password: $p}')"
    TOK=$(jqb '.token // ""')
    if [ "$STATUS" != 201 ] || [ -z "$TOK" ]; then
        fail "log in $1: expected 201 with a token, got $STATUS: $BODY"
        return 1
    fi
    pass
}

# seal PUBLIC_KEY TEXT : the sealed box of TEXT in base64 (tally-note seal).
seal() { printf '%s' "$2" | "$NOTE" seal "$1"; }

# pay TOKEN BODY_JSON : POST /v1/payments.
pay() { TOKEN=$1 api POST /v1/payments "$2"; }

# balance TOKEN : the caller's USD available balance.
balance() {
    curl -s --max-time 10 -H "Authorization: Bearer $1" "$(tl_url)/v1/wallets" |
        jq -r '.data[] | select(.currency == "USD") | .balance.available'
}

# cookie_api METHOD PATH COOKIE [CSRF] [BODY] [ORIGIN] : a request authenticated by cookie.
cookie_api() {
    local method=$1 path=$2 cookie=$3 csrf=${4:-} body=${5:-} origin=${6:-}
    local args=(-s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' -X "$method" --max-time 20
        -H "Cookie: $cookie")
    [ -n "$csrf" ] && args+=(-H "X-CSRF-Token: $csrf")
    [ -n "$origin" ] && args+=(-H "Origin: $origin")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    STATUS=$(curl "${args[@]}" "$BASE$path")
    BODY=$(cat "$WORK/body")
}

# set_cookies : the Set-Cookie lines of the last response, one per line.
set_cookies() { tr -d '\r' <"$WORK/head" | awk 'tolower($1) == "set-cookie:" { sub(/^[^:]*: /, ""); print }'; }

# ---------------------------------------------------------------------------------------------
# The server: on SQLite, a data dir whose database is at schema version 4.

make_v4_db() {
    tl_sqlite_v4_db "$1"
}
user_version() {
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$1"
}

if [ -z "${TL_PG_CONNINFO:-}" ]; then
    echo "-- migration: a schema version 4 database"
    mkdir -p "$WORK/v4" "$WORK/main"
    chmod 700 "$WORK/v4" "$WORK/main"
    make_v4_db "$WORK/v4" && make_v4_db "$WORK/main"
    check_eq "the v4 database is at version 4" 4 "$(user_version "$WORK/v4/tally.db")"
    out=$("$TALLYD" migrate --data-dir "$WORK/v4" 2>&1)
    check "tallyd migrate takes v4 to the current version" test $? -eq 0
    check_eq "after tallyd migrate" "$TL_SCHEMA_VERSION" "$(user_version "$WORK/v4/tally.db")"
    check "migrate says what it did" grep -q . <<<"$out"
fi
if ! tl_start main --sandbox --threads 8; then
    echo "0 passed, 1 failed"
    exit 1
fi
BASE="http://127.0.0.1:$PORT"
if [ -z "${TL_PG_CONNINFO:-}" ]; then
    check_eq "a v4 database migrates on open" "$TL_SCHEMA_VERSION" "$(user_version "$WORK/main/tally.db")"
fi

# ---------------------------------------------------------------------------------------------
echo "-- encryption keys"
new_user alice || exit 1
A=$TOK
new_user bob || exit 1
B=$TOK
new_user carol || exit 1
C=$TOK
A_PK=$("$NOTE" keygen "$WORK/alice.sk")
B_PK=$("$NOTE" keygen "$WORK/bob.sk")
check "the client makes a 32-byte key" test "$(base64 -d <<<"$A_PK" | wc -c)" -eq 32

TOKEN=$A api GET /v1/me/encryption_key
expect_problem "no key yet" 404 not_found
TOKEN=$A api PUT /v1/me/encryption_key '{"public_key": "not base64!"}'
expect_problem "key: not base64" 400 invalid_request public_key
TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"$(head -c 31 /dev/urandom | base64)\"}"
expect_problem "key: 31 bytes" 400 invalid_request public_key
TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"${A_PK%=}\"}"
expect_problem "key: unpadded base64" 400 invalid_request public_key
TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"$(head -c 32 /dev/zero | base64)\"}"
expect_problem "key: all zeros (small order)" 400 invalid_request public_key
TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"$A_PK\", \"owner\": \"x\"}"
expect_problem "key: unknown field" 400 invalid_request owner
TOKEN=$A api PUT /v1/me/encryption_key '{}'
expect_problem "key: missing" 400 invalid_request public_key
api PUT /v1/me/encryption_key "{\"public_key\": \"$A_PK\"}"
expect_problem "key: needs a session" 401 unauthorized
TOKEN=$A api GET /v1/me/encryption_key
expect_problem "bad keys stored nothing" 404 not_found

TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"$A_PK\"}"
expect "alice publishes her key" 200
check_eq "the key as stored" "$A_PK" "$(jqb .public_key)"
check "created_at equals updated_at at first" jq -e '.created_at == .updated_at' <<<"$BODY"
A_CREATED=$(jqb .created_at)
TOKEN=$B api PUT /v1/me/encryption_key "{\"public_key\": \"$B_PK\"}"
expect "bob publishes his key" 200
TOKEN=$A api GET /v1/me/encryption_key
expect "alice reads her key" 200
check_eq "GET /v1/me/encryption_key" "$A_PK" "$(jqb .public_key)"
TOKEN=$B api GET /v1/users/alice/encryption_key
expect "bob looks up alice's key" 200 '.handle == "alice"'
check_eq "alice's key, for payers" "$A_PK" "$(jqb .public_key)"
TOKEN=$A api GET /v1/users/BOB/encryption_key
expect "handles are case-insensitive" 200 '.handle == "bob"'
TOKEN=$A api GET /v1/users/carol/encryption_key
expect_problem "carol has no key" 404 not_found
TOKEN=$A api GET /v1/users/nobody_here/encryption_key
expect_problem "no such user" 404 not_found
api GET /v1/users/alice/encryption_key
expect_problem "key lookup needs a session" 401 unauthorized

# ---------------------------------------------------------------------------------------------
echo "-- sealed notes: refusals move nothing"
TOKEN=$A api POST /v1/deposits '{"amount": 100000, "currency": "USD", "source": "sandbox"}'
expect "alice deposits" 201
TOKEN=$C api POST /v1/deposits '{"amount": 100000, "currency": "USD", "source": "sandbox"}'
expect "carol deposits" 201
A_BAL=$(balance "$A")
SECRET="pineapple-$(head -c 12 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9') meet at 6 ✓"
R_BOX=$(seal "$B_PK" "$SECRET")
S_BOX=$(seal "$A_PK" "$SECRET")
SHORT=$(head -c 48 /dev/urandom | base64 -w0)
LONG=$(head -c 1169 /dev/urandom | base64 -w0)
body() { jq -nc --arg r "$1" --arg s "$2" '{to: "@bob", amount: 1500, currency: "USD", sealed_note: {recipient: $r, sender: $s}}'; }

pay "$A" "$(jq -nc --arg r "$R_BOX" --arg s "$S_BOX" '{to: "@bob", amount: 1500, currency: "USD", note: "hi", sealed_note: {recipient: $r, sender: $s}}')"
expect_problem "note and sealed_note" 400 invalid_request sealed_note
pay "$A" '{"to": "@bob", "amount": 1500, "currency": "USD", "sealed_note": "text"}'
expect_problem "sealed_note is not an object" 400 invalid_request sealed_note
pay "$A" "$(jq -nc --arg r "$R_BOX" '{to: "@bob", amount: 1500, currency: "USD", sealed_note: {recipient: $r}}')"
expect_problem "sealed_note without the sender copy" 400 invalid_request sealed_note.sender
pay "$A" "$(jq -nc --arg r "$R_BOX" --arg s "$S_BOX" '{to: "@bob", amount: 1500, currency: "USD", sealed_note: {recipient: $r, sender: $s, plain: "x"}}')"
expect_problem "sealed_note with an unknown member" 400 invalid_request sealed_note.plain
pay "$A" "$(body "not*base64" "$S_BOX")"
expect_problem "recipient copy not base64" 400 invalid_request sealed_note.recipient
pay "$A" "$(body "$R_BOX" "$SHORT")"
expect_problem "sender copy of 48 bytes (no room for a note)" 400 invalid_request sealed_note.sender
pay "$A" "$(body "$LONG" "$S_BOX")"
expect_problem "recipient copy of 1169 bytes" 400 invalid_request sealed_note.recipient
pay "$A" "$(jq -nc --arg r "$R_BOX" --arg s "$S_BOX" '{to: "@carol", amount: 1500, currency: "USD", sealed_note: {recipient: $r, sender: $s}}')"
expect_problem "recipient without a key" 422 encryption_key_missing sealed_note.recipient
pay "$C" "$(jq -nc --arg r "$R_BOX" --arg s "$S_BOX" '{to: "@bob", amount: 1500, currency: "USD", sealed_note: {recipient: $r, sender: $s}}')"
expect_problem "sender without a key" 422 encryption_key_missing sealed_note.sender
check_eq "refusals moved nothing" "$A_BAL" "$(balance "$A")"

# ---------------------------------------------------------------------------------------------
echo "-- sealed notes: each party sees and opens their own copy"
IKEY=sealed-1 pay "$A" "$(body "$R_BOX" "$S_BOX")"
expect "alice pays bob with a sealed note" 201 '.note == null and .status == "succeeded"'
PAY=$(jqb .id)
FIRST=$BODY
check_eq "the 201 carries the sender copy" "$S_BOX" "$(jqb .sealed_note)"
check_eq "alice opens her copy" "$SECRET" "$(jqb .sealed_note | "$NOTE" open "$WORK/alice.sk")"
IKEY=sealed-1 pay "$A" "$(body "$R_BOX" "$S_BOX")"
expect "a retry with the key replays" 201
check_eq "the replay is the first answer" "$FIRST" "$BODY"
check_eq "replayed" true "$(header Idempotent-Replayed)"
TOKEN=$B api GET "/v1/payments/$PAY"
expect "bob reads the payment" 200
check_eq "bob sees the recipient copy" "$R_BOX" "$(jqb .sealed_note)"
check_eq "bob opens it with his secret key" "$SECRET" \
    "$(jqb .sealed_note | "$NOTE" open "$WORK/bob.sk")"
jqb .sealed_note >"$WORK/r.box"
"$NOTE" open "$WORK/alice.sk" <"$WORK/r.box" >/dev/null 2>&1
check_eq "alice's key does not open bob's copy" 2 $?
TOKEN=$A api GET "/v1/payments/$PAY"
expect "alice reads the payment" 200
check_eq "alice sees the sender copy" "$S_BOX" "$(jqb .sealed_note)"
TOKEN=$C api GET "/v1/payments/$PAY"
expect_problem "carol cannot read it" 404 not_found
CONTROL="control-note-$(head -c 9 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')"
pay "$A" "$(jq -nc --arg n "$CONTROL" '{to: "@bob", amount: 100, currency: "USD", note: $n}')"
expect "a plaintext note still works" 201 '.sealed_note == null'
CONTROL_PAY=$(jqb .id)
TOKEN=$B api GET "/v1/payments?direction=received"
expect "bob's list" 200 '(.data | length) == 2'
check_eq "bob's list: the recipient copy" "$R_BOX" \
    "$(jq -r --arg p "$PAY" '.data[] | select(.id == $p) | .sealed_note' <<<"$BODY")"
check "bob's list: null for the plain note" jq -e '.data[0].sealed_note == null' <<<"$BODY"
TOKEN=$A api GET "/v1/payments?limit=5"
check_eq "alice's list: the sender copy" "$S_BOX" \
    "$(jq -r --arg p "$PAY" '.data[] | select(.id == $p) | .sealed_note' <<<"$BODY")"

# Events: each party's payment.created carries their own copy.
# events_of TOKEN : the sealed note of the payment.created of $PAY in the user's events, read
# from the start (Last-Event-ID 0) until the message of the control payment, made after it, has
# ended (a blank line after the line naming it), or for 15 s: a loaded machine can take seconds
# to replay them, and a stream replays in order, so every event of $PAY has come by then.
events_of() {
    local file="$WORK/events.sse" deadline=$((SECONDS + 15)) pid
    : >"$file" # emptied here: curl's own redirection may come after the first look below
    curl -s -N --max-time 20 -H "Authorization: Bearer $1" -H 'Last-Event-ID: 0' \
        "$(tl_url)/v1/events" >"$file" 2>/dev/null &
    pid=$!
    TL_JOBS+=("$pid")
    until awk -v p="$CONTROL_PAY" 'index($0, p) {at = NR} END {exit !(at && NR > at)}' "$file" ||
        [ $SECONDS -ge $deadline ]; do
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    sed -n 's/^data: //p' "$file" |
        jq -r --arg p "$PAY" 'select(.type == "payment.created" and .data.payment_id == $p) | .data.sealed_note'
}
check_eq "bob's event: the recipient copy" "$R_BOX" "$(events_of "$B")"
check_eq "alice's event: the sender copy" "$S_BOX" "$(events_of "$A")"

# ---------------------------------------------------------------------------------------------
echo "-- the database holds ciphertext only"
WORD=${SECRET%% *}
if [ -z "${TL_PG_CONNINFO:-}" ]; then
    files=("$WORK/main"/tally.db*)
    check "the data files include the WAL" test -e "$WORK/main/tally.db-wal"
    check "the control note is in the data files (the grep works)" grep -a -q "$CONTROL" "${files[@]}"
    if grep -a -q "$WORD" "${files[@]}"; then
        fail "the sealed note's plaintext is in the SQLite files or WAL"
    else
        pass
    fi
else
    # shellcheck disable=SC2012 # Debian's layout: /usr/lib/postgresql/<version>/bin
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    "$pg_bin/pg_dump" --data-only "$TL_PG_CONNINFO dbname=tl_main" >"$WORK/dump.sql" 2>"$WORK/dump.err"
    check "pg_dump of the database" test -s "$WORK/dump.sql"
    check "the control note is in the dump (the grep works)" grep -a -q "$CONTROL" "$WORK/dump.sql"
    if grep -a -q "$WORD" "$WORK/dump.sql"; then
        fail "the sealed note's plaintext is in the PostgreSQL dump"
    else
        pass
    fi
fi
check "the server log never shows the plaintext" test "$(cat "$WORK"/main*.log | grep -c -a "$WORD")" -eq 0

# ---------------------------------------------------------------------------------------------
echo "-- replacing and deleting a key"
A_PK2=$("$NOTE" keygen "$WORK/alice2.sk")
TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"$A_PK2\"}"
expect "alice replaces her key" 200
check "created_at kept, updated_at moved" jq -e --arg c "$A_CREATED" \
    '.created_at == $c and .updated_at > .created_at' <<<"$BODY"
TOKEN=$B api GET /v1/users/alice/encryption_key
check_eq "payers see the new key" "$A_PK2" "$(jqb .public_key)"
TOKEN=$A api DELETE /v1/me/encryption_key
expect "alice deletes her key" 204
TOKEN=$A api DELETE /v1/me/encryption_key
expect_problem "delete again" 404 not_found
TOKEN=$B api GET /v1/users/alice/encryption_key
expect_problem "no key for payers" 404 not_found
pay "$A" "$(body "$R_BOX" "$S_BOX")"
expect_problem "a sealed note needs the sender's key" 422 encryption_key_missing sealed_note.sender
TOKEN=$B api GET "/v1/payments/$PAY"
check_eq "old notes stay" "$R_BOX" "$(jqb .sealed_note)"

# ---------------------------------------------------------------------------------------------
echo "-- cookie sessions and CSRF"
cookie_login() {
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$2" '{login: $l, password: $p, cookie: true}')"
}
cookie_login bob "$PW_bob"
expect "cookie login" 201 '(has("token") | not) and (.csrf_token | length) == 43 and .user.handle == "bob"'
CSRF=$(jqb .csrf_token)
SESSION_LINE=$(set_cookies | grep '^tally_session=')
CSRF_LINE=$(set_cookies | grep '^tally_csrf=')
SESSION_COOKIE=$(sed 's/;.*//' <<<"$SESSION_LINE")
check_eq "two cookies" 2 "$(set_cookies | wc -l)"
check "session cookie attributes" grep -q \
    '^tally_session=tly_[A-Za-z0-9_-]*; Path=/; Max-Age=86400; Secure; HttpOnly; SameSite=Strict$' \
    <<<"$SESSION_LINE"
check "csrf cookie: readable by the page" grep -q \
    "^tally_csrf=$CSRF; Path=/; Max-Age=86400; Secure; SameSite=Strict\$" <<<"$CSRF_LINE"
check "the token is in no body" test "$(grep -c tly_ "$WORK/body")" -eq 0
cookie_api GET /v1/me "$SESSION_COOKIE"
expect "GET /v1/me by cookie" 200 '.handle == "bob"'
cookie_api GET /v1/me "other=1; $SESSION_COOKIE; theme=dark"
expect "among other cookies" 200 '.handle == "bob"'
cookie_api GET /v1/me "tally_session=tly_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_problem "an unknown cookie token" 401 unauthorized
# curl's own cookie engine sends Secure cookies to http://localhost (a secure context for
# browsers too): log in through a jar and use it.
JAR="$WORK/jar"
curl -s -o /dev/null -c "$JAR" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg p "$PW_bob" '{login: "bob", password: $p, cookie: true}')" \
    "http://localhost:$PORT/v1/sessions"
check_eq "a cookie jar on localhost works" bob \
    "$(curl -s -b "$JAR" "http://localhost:$PORT/v1/me" | jq -r .handle)"

wallets_eur() { curl -s -H "Authorization: Bearer $B" "$BASE/v1/wallets" | jq '[.data[] | select(.currency == "EUR")] | length'; }
cookie_api POST /v1/wallets "$SESSION_COOKIE" "" '{"currency": "EUR"}'
expect_problem "POST by cookie without X-CSRF-Token" 403 csrf_failed
if [ "${CSRF: -1}" = A ]; then WRONG="${CSRF%?}B"; else WRONG="${CSRF%?}A"; fi
cookie_api POST /v1/wallets "$SESSION_COOKIE" "$WRONG" '{"currency": "EUR"}'
expect_problem "a wrong CSRF token" 403 csrf_failed
cookie_login bob "$PW_bob"
OTHER_CSRF=$(jqb .csrf_token)
check "another session has another CSRF token" test "$OTHER_CSRF" != "$CSRF"
cookie_api POST /v1/wallets "$SESSION_COOKIE" "$OTHER_CSRF" '{"currency": "EUR"}'
expect_problem "another session's CSRF token" 403 csrf_failed
cookie_api POST /v1/wallets "$SESSION_COOKIE" "$CSRF" '{"currency": "EUR"}' "https://evil.example"
expect_problem "the right token from another origin" 403 csrf_failed
check_eq "refused requests changed nothing" 0 "$(wallets_eur)"
cookie_api POST /v1/wallets "$SESSION_COOKIE" "$CSRF" '{"currency": "EUR"}'
expect "the right CSRF token" 201 '.currency == "EUR"'
cookie_api PUT /v1/me/encryption_key "$SESSION_COOKIE" "$CSRF" "{\"public_key\": \"$B_PK\"}" \
    "http://127.0.0.1:$PORT"
expect "the right token from the server's own origin" 200
cookie_api DELETE /v1/sessions/current "$SESSION_COOKIE"
expect_problem "logout by cookie needs the CSRF token too" 403 csrf_failed
cookie_api GET /v1/me "$SESSION_COOKIE"
expect "still signed in" 200
TOKEN=$B api POST /v1/wallets '{"currency": "GBP"}'
expect "bearer requests need no CSRF token" 201
cookie_api DELETE /v1/sessions/current "$SESSION_COOKIE" "$CSRF"
expect "logout by cookie" 204
check "logout clears the session cookie" grep -q \
    '^tally_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict$' <<<"$(set_cookies)"
check "logout clears the csrf cookie" grep -q '^tally_csrf=; Path=/; Max-Age=0;' <<<"$(set_cookies)"
cookie_api GET /v1/me "$SESSION_COOKIE"
expect_problem "the cookie no longer works" 401 unauthorized
api POST /v1/sessions "$(jq -nc --arg p "$PW_bob" '{login: "bob", password: $p, cookie: "yes"}')"
expect_problem "cookie must be a boolean" 400 invalid_request cookie
api POST /v1/sessions "$(jq -nc --arg p "$PW_bob" '{login: "bob", password: $p}')"
expect "a bearer login is unchanged" 201 '(.token | startswith("tly_")) and (has("csrf_token") | not)'
check_eq "and sets no cookie" 0 "$(set_cookies | wc -l)"

# ---------------------------------------------------------------------------------------------
echo "-- a payment with every record: sealed note, device signature, Idempotency-Key"
# Its batch carries the payment row, the sealed note, the signature, two events, an audit
# entry, the idempotent answer and two limit running totals (api/kyc.h): more than 8 records.
if command -v openssl >/dev/null; then
    openssl genpkey -algorithm ed25519 -out "$WORK/alice-dev.pem" 2>/dev/null
    DEV_PUB=$(openssl pkey -in "$WORK/alice-dev.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
    TOKEN=$A api POST /v1/me/device_keys "{\"public_key\": \"$DEV_PUB\", \"name\": \"phone\"}"
    expect "alice registers a device key" 201
    DEV_ID=$(jqb .id)
    TOKEN=$A api PUT /v1/me/encryption_key "{\"public_key\": \"$A_PK\"}"
    expect "alice publishes her key again" 200
    FULL=$(body "$(seal "$B_PK" "all of it")" "$(seal "$A_PK" "all of it")")
    TS=$(date +%s)
    printf 'TALLY-DEVICE-SIGNATURE-V1\nPOST\n/v1/payments\n%s\nfull-1\n%s\n%s\n' \
        "$(printf '%s' "$FULL" | sha256sum | cut -d' ' -f1)" "$TS" "$DEV_ID" >"$WORK/form"
    SIG=$(openssl pkeyutl -sign -inkey "$WORK/alice-dev.pem" -rawin -in "$WORK/form" | base64 -w0)
    STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 -X POST \
        -H "Authorization: Bearer $A" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: full-1" -H "Tally-Device-Key: $DEV_ID" -H "Tally-Timestamp: $TS" \
        -H "Tally-Signature: $SIG" --data-binary "$FULL" "$(tl_url)/v1/payments")
    BODY=$(cat "$WORK/body")
    expect "the payment goes through with all its records" 201 '.sealed_note != null'
    TOKEN=$A api GET "/v1/payments/$(jqb .id)"
    expect "it keeps the signature and the note" 200 \
        '.device_signature != null and .sealed_note != null'
fi

# ---------------------------------------------------------------------------------------------
echo "-- session last-seen"
api POST /v1/sessions "$(jq -nc --arg p "$PW_carol" '{login: "carol", password: $p}')"
C2=$(jqb .token)
TOKEN=$C api GET /v1/me/sessions
expect "carol's sessions" 200 '(.data | length) == 2'
now=$(date -u +%s)
# Written at most once a minute per session, so "recently", not "now".
check "the current session was seen within the minute" jq -e --argjson now "$now" \
    '.data[] | select(.current) | .last_seen_at | sub("\\.[0-9]+Z$"; "Z") | fromdate | . >= $now - 65 and . <= $now + 5' <<<"$BODY"
check "a session not used since login: null" jq -e \
    '.data[] | select(.current | not) | .last_seen_at == null' <<<"$BODY"
TOKEN=$C2 api GET /v1/me
TOKEN=$C api GET /v1/me/sessions
check "after one request it has a time" jq -e \
    '[.data[] | .last_seen_at | type] == ["string", "string"]' <<<"$BODY"

tl_summary
[ "$FAILED" -eq 0 ]
