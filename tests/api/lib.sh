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
# then for /readyz, and sets PID and PORT.
#
# Requests: api METHOD PATH [BODY] sends one request to $BASE and leaves the status in STATUS,
# the body in BODY (also the file $WORK/body) and the headers in $WORK/head. Optional inputs,
# set for one call with a prefix assignment (`TOKEN=$t api GET /v1/me`):
#   TOKEN   bearer token;  IKEY  Idempotency-Key;  CTYPE  Content-Type (default JSON)
#
# Checks count into PASSED/FAILED; a failed check prints one "FAIL: ..." line with what was
# expected and what came back. tl_summary prints "N passed, M failed".

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
tl_start() {
    local name=$1
    shift
    local log_start
    log_start=$(grep -c '' "$WORK/$name.log" 2>/dev/null)
    "$TALLYD" --data-dir "$WORK/$name" --port 0 "$@" 2>>"$WORK/$name.log" &
    PID=$!
    TL_PIDS+=("$PID")
    PORT=
    local i
    for i in $(seq 1 200); do
        # A restart appends to the same log: only look at the lines this start wrote.
        PORT=$(tail -n +"$((log_start + 1))" "$WORK/$name.log" 2>/dev/null |
            jq -r 'select(.event == "listening") | .port' 2>/dev/null | head -n 1)
        [ -n "$PORT" ] && break
        if ! kill -0 "$PID" 2>/dev/null; then
            echo "tallyd $name exited at start-up:"
            tail -n 5 "$WORK/$name.log"
            return 1
        fi
        sleep 0.05
    done
    if [ -z "$PORT" ]; then
        echo "tallyd $name did not log its port in 10 s:"
        tail -n 5 "$WORK/$name.log"
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
    tail -n 5 "$WORK/$name.log"
    return 1
}

# tl_stop PID : SIGTERM, and wait up to 10 s for the exit; returns tallyd's exit status.
tl_stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
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
    STATUS=$(curl "${args[@]}" "$BASE$path")
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
