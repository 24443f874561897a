# shellcheck shell=bash
# lib.sh - helpers for scripts that drive a real tallyd over HTTP (sourced, not run).
#
# The sourcing script sets, before calling anything here:
#   TALLYD  path of the tallyd binary
#   WORK    a scratch directory it owns (removed by its EXIT trap, see tl_cleanup)
# and calls `trap tl_cleanup EXIT` so that every server started here is killed on exit.
#
# Servers: tl_start NAME ARGS... starts tallyd with a fresh data dir $WORK/NAME (or an existing
# one: a restart), --port 0 and log $WORK/NAME.log; it waits for the "listening" log event and
# then for /readyz, and sets PID and PORT (and PIDS and PORTS, arrays of one).
#
# Several nodes on PostgreSQL: when TL_PG_CONNINFO is set (the libpq conninfo of a cluster whose
# user may create databases, e.g. TALLY_PG_CONNINFO of tests/pg/pg_cluster.sh), tl_start NAME
# starts TL_NODES (default 2) tallyd processes with ARGS on one PostgreSQL database, tl_NAME,
# instead of one on SQLite: the database is created on the first start of NAME and kept for a
# restart, `tallyd migrate` runs before the nodes start, and every node reads one secret,
# $WORK/NAME.secret (--secret-file). Node 1 has $WORK/NAME and $WORK/NAME.log, node k
# $WORK/NAME.k and $WORK/NAME.k.log. PID and PORT are node 1's; PIDS and PORTS every node's.
# tl_stop, tl_kill and tl_alive given node 1's pid act on every node of that server. Unset, a
# script sees exactly one SQLite node as before.
#
# Requests: api METHOD PATH [BODY] sends one request to $BASE and leaves the status in STATUS,
# the body in BODY (also the file $WORK/body) and the headers in $WORK/head. Optional inputs,
# set for one call with a prefix assignment (`TOKEN=$t api GET /v1/me`):
#   TOKEN   bearer token;  IKEY  Idempotency-Key;  CTYPE  Content-Type (default JSON)
#   TL_VIA  a base URL to send this request to instead (e.g. one node of several)
# When $BASE is node 1 of a server of several nodes, api sends each request to the next node in
# turn (round robin, the turn kept in $WORK/rr so that calls in subshells take turns too);
# TL_LAST_URL is the base URL the last request went to. tl_url prints the next base URL the same
# way (for requests a script makes with curl itself); tl_node_base I prints node I's (modulo
# the number of nodes; $BASE itself with one node).
#
# Checks count into PASSED/FAILED; a failed check prints one "FAIL: ..." line with what was
# expected and what came back. tl_summary prints "N passed, M failed".

# The schema version this tree's tallyd writes (src/store/backend.h), for migration checks that
# should not need editing at every version.
TL_SCHEMA_VERSION=$(sed -n 's/^#define STORE_SCHEMA_VERSION \([0-9]*\)u$/\1/p' \
    "$(dirname "${BASH_SOURCE[0]}")/../../src/store/backend.h")

# jq: Debian 12's jq 1.6 compiles its builtins at every start, about 35 ms of CPU, and the suites
# run it tens of thousands of times (it was 40% of the machine's CPU during run_api.sh). gojq,
# Debian's Go implementation of the same language, starts in about 4 ms. Every script that
# sources this file gets it; scripts without it still run jq.
# TL_JQ names the program for scripts run by sh -c or xargs, which do not see the function.
TL_JQ=jq
if command -v gojq >/dev/null; then
    TL_JQ=gojq
    jq() { gojq "$@"; }
fi
export TL_JQ

PASSED=0
FAILED=0
TL_PIDS=()

tl_cleanup() {
    local pid
    for pid in "${TL_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    # Background curl workers the script started (their pids are in TL_JOBS).
    for pid in "${TL_JOBS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    # A failed suite shows why any tallyd aborted (our assertion, a libmicrohttpd panic, a
    # sanitizer or the C library's heap checks): the logs go with $WORK.
    if [ "${FAILED:-0}" -gt 0 ]; then
        grep -h -i -A2 'assert\|fatal error\|sanitizer\|corrupt\|double free\|free():' \
            "$WORK"/*.log 2>/dev/null | head -n 20
    fi
    rm -rf "$WORK"
}
TL_JOBS=()

tl_summary() {
    echo "$PASSED passed, $FAILED failed"
}

pass() { PASSED=$((PASSED + 1)); }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $*"
}

# check NAME COMMAND... : passes when the command succeeds.
check() {
    local name=$1
    shift
    if "$@" >/dev/null; then pass; else fail "$name"; fi
}

# check_eq NAME EXPECTED GOT
check_eq() {
    if [ "$2" = "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}

# tl_start NAME ARGS... : see the header. Returns non-zero (after printing the log's tail) if
# tallyd does not log its port within 10 s or /readyz does not answer 200 within 10 s.
PIDS=()
PORTS=()
declare -gA TL_GROUP=() # node 1's pid -> the pids of every node of its server (several nodes)
declare -gA TL_BASES=() # node 1's base URL -> every node's base URL (several nodes)
tl_start() {
    local name=$1
    shift
    if [ -n "${TL_PG_CONNINFO:-}" ]; then
        tl_start_pg "$name" "$@"
        return
    fi
    tl_start_node "$name" "$WORK/$name" "$WORK/$name.log" "$@" || return
    # shellcheck disable=SC2034 # for the sourcing script
    PIDS=("$PID")
    # shellcheck disable=SC2034
    PORTS=("$PORT")
}

# tl_start_pg NAME ARGS... : tl_start with TL_PG_CONNINFO set (see the header).
tl_start_pg() {
    local name=$1
    shift
    local nodes=${TL_NODES:-2} db conninfo secret psql_bin k dir log
    db="tl_$(tr '[:upper:]' '[:lower:]' <<<"$name" | tr -c 'a-z0-9_\n' _)"
    conninfo="$TL_PG_CONNINFO dbname=$db"
    secret="$WORK/$name.secret"
    # shellcheck disable=SC2012 # Debian's layout: /usr/lib/postgresql/<version>/bin
    psql_bin=${TL_PSQL:-$(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)}
    if [ "$("$psql_bin" -X -A -t -c "SELECT 1 FROM pg_database WHERE datname = '$db'" \
        "$TL_PG_CONNINFO" 2>>"$WORK/$name.setup.log")" != 1 ] &&
        ! "$psql_bin" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" "$TL_PG_CONNINFO" \
            >>"$WORK/$name.setup.log" 2>&1; then
        echo "tallyd $name: cannot create database $db:"
        tail -n 5 "$WORK/$name.setup.log"
        return 1
    fi
    if [ ! -e "$secret" ]; then
        (umask 077 && head -c 32 /dev/urandom >"$secret")
    fi
    local store=(--store-backend postgres --store-path "$conninfo" --secret-file "$secret")
    if ! "$TALLYD" migrate --data-dir "$WORK/$name" "${store[@]}" >>"$WORK/$name.setup.log" 2>&1; then
        echo "tallyd $name: migrate failed:"
        tail -n 5 "$WORK/$name.setup.log"
        return 1
    fi
    local pids=() ports=() urls=()
    for k in $(seq 1 "$nodes"); do
        dir="$WORK/$name" log="$WORK/$name.log"
        if [ "$k" -gt 1 ]; then
            dir="$WORK/$name.$k" log="$WORK/$name.$k.log"
        fi
        tl_start_node "$name node $k" "$dir" "$log" "$@" "${store[@]}" || return
        pids+=("$PID")
        ports+=("$PORT")
        urls+=("http://127.0.0.1:$PORT")
    done
    # shellcheck disable=SC2034 # for the sourcing script
    PIDS=("${pids[@]}")
    # shellcheck disable=SC2034
    PORTS=("${ports[@]}")
    PID=${pids[0]}
    PORT=${ports[0]}
    TL_GROUP[$PID]="${pids[*]}"
    TL_BASES[${urls[0]}]="${urls[*]}"
}

# tl_start_node LABEL DATA_DIR LOG ARGS... : one tallyd (see tl_start); sets PID and PORT.
tl_start_node() {
    local name=$1 dir=$2 log=$3
    shift 3
    local log_start
    log_start=$(grep -c '' "$log" 2>/dev/null)
    "$TALLYD" --data-dir "$dir" --port 0 "$@" 2>>"$log" &
    PID=$!
    TL_PIDS+=("$PID")
    PORT=
    local i
    for i in $(seq 1 200); do
        # A restart appends to the same log: only look at the lines this start wrote.
        PORT=$(tail -n +"$((log_start + 1))" "$log" 2>/dev/null |
            jq -r 'select(.event == "listening") | .port' 2>/dev/null | head -n 1)
        [ -n "$PORT" ] && break
        if ! kill -0 "$PID" 2>/dev/null; then
            echo "tallyd $name exited at start-up:"
            tail -n 5 "$log"
            return 1
        fi
        sleep 0.05
    done
    if [ -z "$PORT" ]; then
        echo "tallyd $name did not log its port in 10 s:"
        tail -n 5 "$log"
        return 1
    fi
    for i in $(seq 1 200); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
            "http://127.0.0.1:$PORT/readyz")" = 200 ]; then
            return 0
        fi
        sleep 0.05
    done
    echo "tallyd $name not ready in 10 s:"
    tail -n 5 "$log"
    return 1
}

# tl_nodes PID : the pids of every node of the server whose node 1 is PID (PID alone when it
# runs one node).
tl_nodes() {
    if [ -n "$1" ] && [ -n "${TL_GROUP[$1]-}" ]; then
        echo "${TL_GROUP[$1]}"
    else
        echo "$1"
    fi
}

# tl_stop PID : SIGTERM, and wait up to 10 s for the exit; returns tallyd's exit status. With
# several nodes, stops them all at once and returns the first non-zero status.
tl_stop() {
    local pid rc=0 r
    for pid in $(tl_nodes "$1"); do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $(tl_nodes "$1"); do
        tl_stop_wait "$pid"
        r=$?
        [ "$rc" -ne 0 ] || rc=$r
    done
    return "$rc"
}

# tl_stop_wait PID : waits up to 10 s for a SIGTERMed tallyd to exit (see tl_stop).
tl_stop_wait() {
    local pid=$1
    for _ in $(seq 1 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            return $?
        fi
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# tl_kill PID : SIGKILL (a crash) of the server, every node of it, and reaps it.
tl_kill() {
    local pid
    for pid in $(tl_nodes "$1"); do
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in $(tl_nodes "$1"); do
        wait "$pid" 2>/dev/null
    done
    return 0
}

# tl_alive PID : the server (every node of it) is running.
tl_alive() {
    local pid
    for pid in $(tl_nodes "$1"); do
        kill -0 "$pid" 2>/dev/null || return 1
    done
}

# tl_pick : sets TL_URL to the base URL of the next request (see the header).
tl_pick() {
    local bases="" n=
    if [ -n "${TL_VIA:-}" ]; then
        TL_URL=$TL_VIA
        return
    fi
    if [ -n "${BASE:-}" ]; then
        bases=${TL_BASES[$BASE]-}
    fi
    if [ -z "$bases" ]; then
        TL_URL=${BASE-}
        return
    fi
    local -a list
    read -r -a list <<<"$bases"
    { read -r n <"$WORK/rr"; } 2>/dev/null
    n=${n:-0}
    echo $((n + 1)) >"$WORK/rr"
    TL_URL=${list[n % ${#list[@]}]}
}

# tl_url : prints the base URL of the next request (see the header).
tl_url() {
    tl_pick
    echo "$TL_URL"
}

# tl_node_base I : node I's base URL (modulo the number of nodes) of the server at $BASE.
tl_node_base() {
    local bases=""
    [ -n "${BASE:-}" ] && bases=${TL_BASES[$BASE]-}
    if [ -z "$bases" ]; then
        echo "$BASE"
        return
    fi
    local -a list
    read -r -a list <<<"$bases"
    echo "${list[$1 % ${#list[@]}]}"
}

# tl_sqlite_v4_db DIR : DIR/tally.db at schema version 4, built from the migration files of
# versions 1-4 (python3's sqlite3), for tests of the v4 -> v5 migration.
tl_sqlite_v4_db() {
    python3 - "$1" "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/store/migrations" <<'PYEOF'
import glob, os, sqlite3, sys
db = sqlite3.connect(os.path.join(sys.argv[1], "tally.db"))
for version in (1, 2, 3, 4):
    for path in sorted(glob.glob(os.path.join(sys.argv[2], "sqlite_%03d_*.sql" % version))):
        db.executescript(open(path).read())
db.execute("PRAGMA user_version = 4")
db.commit()
PYEOF
}

# tl_sqlite_v5_db DIR : DIR/tally.db at schema version 5, built from the migration files of
# versions 1-5 (python3's sqlite3), for tests of the v5 -> v6 migration.
tl_sqlite_v5_db() {
    python3 - "$1" "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/store/migrations" <<'PYEOF'
import glob, os, sqlite3, sys
db = sqlite3.connect(os.path.join(sys.argv[1], "tally.db"))
for version in (1, 2, 3, 4, 5):
    for path in sorted(glob.glob(os.path.join(sys.argv[2], "sqlite_%03d_*.sql" % version))):
        db.executescript(open(path).read())
db.execute("PRAGMA user_version = 5")
db.commit()
PYEOF
}

# tl_sqlite_db_at DIR VERSION : DIR/tally.db at schema VERSION, built from the migration files
# of versions 1..VERSION (python3's sqlite3), for tests of the migrations after it.
tl_sqlite_db_at() {
    python3 - "$1" "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/store/migrations" "$2" <<'PYEOF'
import glob, os, sqlite3, sys
db = sqlite3.connect(os.path.join(sys.argv[1], "tally.db"))
for version in range(1, int(sys.argv[3]) + 1):
    for path in sorted(glob.glob(os.path.join(sys.argv[2], "sqlite_%03d_*.sql" % version))):
        db.executescript(open(path).read())
db.execute("PRAGMA user_version = %d" % int(sys.argv[3]))
db.commit()
PYEOF
}

# tl_admin_token FILE : writes a fresh operator token (43 characters, mode 0600) to FILE and
# sets ADMIN_TOKEN; start tallyd with --admin-token-file FILE to enable /v1/admin routes.
tl_admin_token() {
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '=\n' | tr '/+' '_-' >"$1")
    ADMIN_TOKEN=$(cat "$1")
}

# api METHOD PATH [BODY] : see the header.
api() {
    local method=$1 path=$2
    local args=(-s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' -X "$method" --max-time 20)
    if [ -n "${TOKEN:-}" ]; then
        args+=(-H "Authorization: Bearer $TOKEN")
    fi
    if [ -n "${IKEY:-}" ]; then
        args+=(-H "Idempotency-Key: $IKEY")
    fi
    if [ $# -ge 3 ]; then
        args+=(-H "Content-Type: ${CTYPE:-application/json}" --data-binary "$3")
    fi
    tl_pick
    # shellcheck disable=SC2034 # for the sourcing script
    TL_LAST_URL=$TL_URL
    STATUS=$(curl "${args[@]}" "$TL_URL$path")
    BODY=$(cat "$WORK/body")
}

# header NAME : value of a response header of the last api call ("" when absent).
header() {
    tr -d '\r' <"$WORK/head" | awk -v name="$(tr 'A-Z' 'a-z' <<<"$1")" -F': ' \
        'tolower($1) == name { sub(/^[^:]*: /, ""); print; exit }'
}

# jqb FILTER : FILTER applied to the last body (raw output); "" when the body is not JSON.
jqb() {
    jq -r "$1" <<<"$BODY" 2>/dev/null
}

# expect NAME STATUS [JQ_CONDITION] : the last call answered STATUS and, when given, the
# condition holds on its JSON body.
expect() {
    local name=$1 want=$2 cond=${3:-}
    if [ "$STATUS" != "$want" ]; then
        fail "$name: expected HTTP $want, got $STATUS: $(head -c 300 <<<"$BODY")"
        return 1
    fi
    if [ -n "$cond" ] && ! jq -e "$cond" <<<"$BODY" >/dev/null 2>&1; then
        fail "$name: expected body where $cond, got: $(head -c 400 <<<"$BODY")"
        return 1
    fi
    pass
}

# expect_problem NAME STATUS CODE [PARAM] : the last call answered an RFC 9457 problem with
# this status and code (and param, when given), typed by its code, as application/problem+json,
# whose request_id is the Request-Id header.
expect_problem() {
    local name=$1 want=$2 code=$3 param=${4-}
    local got_code got_param ctype
    got_code=$(jqb .code)
    got_param=$(jqb '.param // ""')
    ctype=$(header Content-Type)
    if [ "$STATUS" != "$want" ] || [ "$got_code" != "$code" ]; then
        fail "$name: expected $want $code, got $STATUS ${got_code:-(no code)}: $(head -c 300 <<<"$BODY")"
        return 1
    fi
    if [ $# -ge 4 ] && [ "$got_param" != "$param" ]; then
        fail "$name: expected param '$param', got '$got_param': $(head -c 300 <<<"$BODY")"
        return 1
    fi
    if [[ $ctype != application/problem+json* ]]; then
        fail "$name: expected Content-Type application/problem+json, got '$ctype'"
        return 1
    fi
    if ! jq -e --arg code "$code" --argjson status "$want" --arg rid "$(header Request-Id)" \
        '.type == "https://docs.tally.dev/errors/\($code)" and .status == $status
         and (.title | type) == "string" and (.detail | type) == "string"
         and .request_id == $rid and $rid != ""' <<<"$BODY" >/dev/null 2>&1; then
        fail "$name: malformed problem (type/status/title/detail/request_id): $BODY"
        return 1
    fi
    pass
    # One sample of each problem code for the schema check (see sample).
    [ -e "$WORK/samples/Problem.$code.json" ] || sample Problem "$code"
}

# sample SCHEMA [TAG] : keeps the last body as $WORK/samples/SCHEMA.TAG.json, to be validated
# against that schema of docs/openapi.yaml by check_schemas.py (TAG defaults to a counter).
TL_SAMPLES=0
sample() {
    TL_SAMPLES=$((TL_SAMPLES + 1))
    mkdir -p "$WORK/samples"
    printf '%s' "$BODY" >"$WORK/samples/$1.${2:-$TL_SAMPLES}.json"
}

# without_request_id : the last body, sorted, without request_id (to compare two problems).
without_request_id() {
    jq -cS 'del(.request_id)' <<<"$BODY" 2>/dev/null
}

# tl_require NAME TOOL... : exits the sourcing script (printing why and "0 passed, 1 failed")
# unless every TOOL is on PATH and $TALLYD is built. NAME is the script's name for the message.
tl_require() {
    local name=$1 tool
    shift
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "$name: $tool is required"
            echo "0 passed, 1 failed"
            exit 1
        fi
    done
    if [ ! -x "$TALLYD" ]; then
        echo "$name: $TALLYD not built"
        echo "0 passed, 1 failed"
        exit 1
    fi
}

# newpw : a fresh random password (24 URL-safe characters).
newpw() { head -c 18 /dev/urandom | base64 | tr '/+' '_-'; }

# tl_signup HANDLE : signs HANDLE up (email HANDLE@example.com, display name "User HANDLE",
# a fresh password) and logs in. Sets UID_, TOK and PW. Returns non-zero, with STATUS and BODY
# of the request that failed, when either step does not answer 201. Counts no check.
tl_signup() {
    PW=$(newpw)
    UID_=""
    TOK=""
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$PW" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')"
    [ "$STATUS" = 201 ] || return 1
    UID_=$(jqb '.id // ""')
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$PW" '{login: $l, password: $p}')"
    [ "$STATUS" = 201 ] || return 1
    TOK=$(jqb '.token // ""')
    [ -n "$UID_" ] && [ -n "$TOK" ]
}

# iso_in SECONDS : an RFC 3339 UTC time SECONDS from now (whole seconds).
iso_in() {
    date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ
}
