#!/usr/bin/env bash
# run_server.sh BUILD_DIR - drives a real tallyd over real loopback sockets: operational
# endpoints, problems, limits, keep-alive, logging, TLS, startup policy and shutdown.
# Prints one line per failed check and closes with "N passed, N failed"; exits non-zero on
# any failure. Every server it starts is killed on exit.
set -uo pipefail
# gojq when installed: jq 1.6 spends about 35 ms starting (tests/api/lib.sh).
if command -v gojq >/dev/null; then
    jq() { gojq "$@"; }
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
tallyd="$build/src/cmd/tallyd"
work=$(mktemp -d /tmp/tally-run-server.XXXXXX)
passed=0
failed=0
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}
# check NAME COMMAND... : passes when the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass; else fail "$name"; fi
}
# wait_until SECONDS COMMAND... : retries COMMAND every 0.1 s until it succeeds, for up to
# SECONDS (timed in microseconds, from EPOCHREALTIME without its point).
wait_until() {
    local deadline=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

for tool in curl jq openssl; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_server.sh: $tool is required"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
if [ ! -x "$tallyd" ]; then
    echo "run_server.sh: $tallyd not built"
    echo "0 passed, 1 failed"
    exit 1
fi

# A small ledger keeps start-up quick; everything else is the default unless a test says so.
export TALLY_LEDGER_ACCOUNTS_MAX=4096

# start NAME ARGS... : starts tallyd with a fresh data dir $work/NAME, port 0, log
# $work/NAME.log; sets PID and PORT. Returns non-zero if it does not come up in 10 s.
start() {
    local name=$1
    shift
    "$tallyd" --data-dir "$work/$name" --port 0 "$@" 2>"$work/$name.log" &
    PID=$!
    pids+=("$PID")
    PORT=
    for _ in $(seq 1 200); do
        PORT=$(jq -r 'select(.event == "listening") | .port' "$work/$name.log" 2>/dev/null | head -n 1)
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# stop_ok PID : SIGTERM, then the process must exit 0 within 5 s.
stop_ok() {
    kill -TERM "$1"
    exited_ok "$1"
}

# exited_ok PID : the process (sent SIGTERM already) exits 0 within 5 s.
exited_ok() {
    local pid=$1
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            return $?
        fi
        sleep 0.05
    done
    return 1
}

# ---- Plain HTTP on loopback ----
if ! start plain --threads 2; then
    fail "tallyd did not start: $(tail -n 3 "$work/plain.log")"
    echo "$passed passed, $failed failed"
    exit 1
fi
base="http://127.0.0.1:$PORT"
plain_pid=$PID

# Waits for /healthz like an orchestrator would.
healthy=1
for _ in $(seq 1 100); do
    curl -sf "$base/healthz" >/dev/null && healthy=0 && break
    sleep 0.05
done
check "healthz answers" test $healthy -eq 0

curl -s -D "$work/h.txt" -o "$work/b.txt" "$base/healthz"
check "healthz 200" grep -q '^HTTP/1.1 200' "$work/h.txt"
check "healthz body" test "$(jq -r .status "$work/b.txt")" = ok
check "healthz json" grep -qi '^Content-Type: application/json' "$work/h.txt"
check "Request-Id made" grep -Eqi '^Request-Id: req_[0-9a-f]{32}' "$work/h.txt"
check "no-store" grep -qi '^Cache-Control: no-store' "$work/h.txt"
check "no HSTS on plain HTTP" bash -c "! grep -qi '^Strict-Transport-Security' '$work/h.txt'"

rid=$(curl -s -D - -o /dev/null -H 'Request-Id: client-abc.123' "$base/healthz" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "request-id" {print $2}')
check "sane Request-Id echoed" test "$rid" = client-abc.123
rid=$(curl -s -D - -o /dev/null -H 'Request-Id: bad id{}' "$base/healthz" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "request-id" {print $2}')
check "insane Request-Id replaced" bash -c "[[ '$rid' =~ ^req_[0-9a-f]{32}$ ]]"

code=$(curl -s -o "$work/b.txt" -w '%{http_code}' "$base/readyz")
check "readyz 200" test "$code" = 200
check "readyz body" test "$(jq -r .status "$work/b.txt")" = ready

ctype=$(curl -s -o "$work/m.txt" -w '%{content_type}' "$base/metrics")
check "metrics content type" test "$ctype" = "text/plain; version=0.0.4; charset=utf-8"
for metric in 'tally_http_requests_total{route="healthz",status="200"}' \
    'tally_http_request_duration_seconds_bucket{route="healthz",le="+Inf"}' \
    'tally_http_requests_in_flight' 'tally_writer_up 1' 'tally_writer_queue_depth' \
    'tally_writer_commit_duration_seconds_count' 'tally_writer_batch_events_bucket' \
    'tally_process_start_time_seconds'; do
    check "metric $metric" grep -qF "$metric" "$work/m.txt"
done

curl -s -D "$work/h.txt" -o "$work/b.txt" "$base/v1/nope"
check "unknown route 404" grep -q '^HTTP/1.1 404' "$work/h.txt"
check "404 problem+json" grep -qi '^Content-Type: application/problem+json' "$work/h.txt"
check "404 code" test "$(jq -r .code "$work/b.txt")" = not_found
check "404 type" test "$(jq -r .type "$work/b.txt")" = https://docs.tally.dev/errors/not_found
check "404 request_id matches header" test "$(jq -r .request_id "$work/b.txt")" = \
    "$(tr -d '\r' <"$work/h.txt" | awk -F': ' 'tolower($1) == "request-id" {print $2}')"

curl -s -D "$work/h.txt" -o "$work/b.txt" -X DELETE "$base/healthz"
check "wrong method 405" grep -q '^HTTP/1.1 405' "$work/h.txt"
check "405 Allow" grep -qi '^Allow: GET, HEAD' "$work/h.txt"
check "405 code" test "$(jq -r .code "$work/b.txt")" = method_not_allowed

code=$(curl -s -I -o "$work/h.txt" -w '%{http_code}' "$base/healthz")
check "HEAD 200" test "$code" = 200

# Keep-alive: the second request reuses the first connection (answering on the handler's
# first call would have forced Connection: close).
connects=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$base/healthz" "$base/readyz" | tr '\n' ' ')
check "keep-alive reuses the connection (num_connects: $connects)" test "$connects" = "1 0 "

# A 10 MB body is refused with 413 without being read, and quickly.
head -c 10000000 /dev/zero >"$work/big.bin"
start_ns=$(date +%s%N)
code=$(curl -s -o "$work/b.txt" -D "$work/h.txt" -w '%{http_code}' --max-time 30 -X POST \
    -H 'Content-Type: application/json' --data-binary @"$work/big.bin" "$base/healthz")
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
check "10 MB body 413" test "$code" = 413
check "413 code" test "$(jq -r .code "$work/b.txt" 2>/dev/null)" = payload_too_large
check "413 closes" grep -qi '^Connection: close' "$work/h.txt"
# The bound includes curl's start-up, which a loaded machine can stretch to seconds; a server
# that waited on the body would keep curl until its 30 s limit.
check "413 is prompt (${elapsed_ms} ms)" test "$elapsed_ms" -lt 10000
code=$(head -c 200000 /dev/zero | curl -s -o "$work/b.txt" -w '%{http_code}' --max-time 10 \
    -X POST -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
    --data-binary @- "$base/healthz")
check "chunked oversize body 413" test "$code" = 413

# An oversized header block is refused by the server library, not served.
big_header=$(head -c 40000 /dev/zero | tr '\0' 'a')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "X-Big: $big_header" "$base/healthz")
check "40 KB header refused ($code)" bash -c "[ '$code' = 431 ] || [ '$code' = 413 ] || [ '$code' = 000 ]"

# Secrets never reach the log: not the query string, not Authorization.
curl -s -o /dev/null "$base/healthz?token=SECRETQUERY123"
curl -s -o /dev/null -H 'Authorization: Bearer SECRETBEARER456' "$base/v1/payments?x=1"
sleep 0.2
check "log lines are JSON" jq -e . "$work/plain.log" >/dev/null
check "query string not logged" bash -c "! grep -q SECRETQUERY123 '$work/plain.log'"
check "Authorization not logged" bash -c "! grep -q SECRETBEARER456 '$work/plain.log'"
line=$(jq -c 'select(.event == "request" and .path == "/v1/nope")' "$work/plain.log" | head -n 1)
check "request log fields" bash -c "jq -e '.ts and .request_id and .method == \"GET\" and .route == \"unmatched\" and .status == 404 and (.duration_us | type) == \"number\" and (.bytes | type) == \"number\"' <<<'$line' >/dev/null"

check "data dir mode 0700" test "$(stat -c %a "$work/plain")" = 700
check "secret.key mode 0600" test "$(stat -c %a "$work/plain/secret.key")" = 600
check "secret.key 32 bytes" test "$(stat -c %s "$work/plain/secret.key")" = 32

# Graceful shutdown: a request still uploading when SIGTERM arrives is answered, then exit 0.
# The upload sends the rest of its body only once $work/drain.go exists (after tallyd has
# logged that it is stopping), so the request is in flight through the drain however slow the
# machine is; the loop's 30 s cap only ends the subshell if the script never gets there.
rm -f "$work/drain.go"
(
    printf '{"a":'
    for _ in $(seq 1 300); do
        [ -e "$work/drain.go" ] && break
        sleep 0.1
    done
    printf '1}'
) | curl -s -o "$work/drain.txt" -w '%{http_code}' --max-time 60 -X POST -T - \
    -H 'Content-Type: application/json' "$base/healthz" >"$work/drain.code" &
drain_curl=$!
# in_flight_at_least N : /metrics shows at least N requests in flight (the /metrics request
# itself is one of them: the gauge counts a request from its headers to its answer).
in_flight_at_least() {
    local n
    n=$(curl -s --max-time 5 "$base/metrics" |
        awk '$1 == "tally_http_requests_in_flight" { print $2 }')
    [ -n "$n" ] && [ "$n" -ge "$1" ]
}
check "the slow upload is in flight before SIGTERM" wait_until 20 in_flight_at_least 2
start_ns=$(date +%s%N)
kill -TERM "$plain_pid"
check "tallyd logs that it is stopping" wait_until 20 grep -q '"event":"stopping"' "$work/plain.log"
sleep 0.3 # into the drain: the rest of the body arrives while tallyd waits for it
touch "$work/drain.go"
exited_ok "$plain_pid"
rc=$?
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
wait "$drain_curl"
check "SIGTERM exits 0" test "$rc" -eq 0
check "SIGTERM is prompt (${elapsed_ms} ms)" test "$elapsed_ms" -lt 5000
check "in-flight request answered during drain" test "$(cat "$work/drain.code")" = 405
check "no request cut off" grep -q '"event":"server_stopped".*"requests_cut_off":0' "$work/plain.log"
check "stopped logged" grep -q '"event":"stopped"' "$work/plain.log"

# ---- Slow clients: per-address connection limit and idle timeout ----
# An idle timeout of 3 s: the two idle connections must still be open when curl, started after
# them, connects (1 s was not always enough for curl's start-up on a loaded machine).
if TALLY_SERVER_CONNECTIONS_PER_IP_MAX=2 TALLY_SERVER_TIMEOUT_S=3 start slow --threads 1; then
    exec 5<>"/dev/tcp/127.0.0.1/$PORT"
    exec 6<>"/dev/tcp/127.0.0.1/$PORT"
    sleep 0.2
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")
    check "per-address connection limit ($code)" test "$code" = 000
    exec 5>&- 6>&-
    # healthz_ok : one /healthz on a new connection answers 200.
    healthz_ok() {
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
            "http://127.0.0.1:$PORT/healthz")" = 200 ]
    }
    check "connections free again" wait_until 10 healthz_ok
    exec 7<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&7
    # cat ends when tallyd closes the connection: the 3 s timeout, with room for a loaded
    # machine; a connection left open keeps cat until timeout's 15 s.
    timeout 15 cat <&7 >/dev/null
    check "idle half-sent request closed by timeout" test $? -eq 0
    exec 7>&-
    check "slow server stops" stop_ok "$PID"
else
    fail "slow server did not start: $(tail -n 3 "$work/slow.log")"
fi

# ---- HTTPS with a fresh self-signed P-256 certificate ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
check "certificate generated" test -s "$work/cert.pem"
if start tls --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"; then
    tls="https://localhost:$PORT"
    curl -s -D "$work/h.txt" -o "$work/b.txt" --cacert "$work/cert.pem" "$tls/healthz"
    check "HTTPS healthz 200" grep -q '^HTTP/1.1 200' "$work/h.txt"
    check "HTTPS body" test "$(jq -r .status "$work/b.txt")" = ok
    check "HSTS on HTTPS" grep -qi '^Strict-Transport-Security: max-age=63072000' "$work/h.txt"
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" --tlsv1.2 --tls-max 1.2 "$tls/healthz")
    check "TLS 1.2 accepted" test "$code" = 200
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" --tlsv1.3 "$tls/healthz")
    check "TLS 1.3 accepted" test "$code" = 200
    curl -s -o /dev/null --cacert "$work/cert.pem" --tls-max 1.1 "$tls/healthz"
    check "TLS 1.1 refused" test $? -ne 0
    curl -s -o /dev/null --cacert "$work/cert.pem" --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA "$tls/healthz"
    check "CBC cipher refused" test $? -ne 0
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")
    check "plain HTTP on the TLS port not served" bash -c "[ '$code' != 200 ]"
    check "TLS server stops with 0" stop_ok "$PID"
else
    fail "TLS server did not start: $(tail -n 3 "$work/tls.log")"
fi

# ---- Startup policy and command line ----
"$tallyd" --data-dir "$work/public" --port 0 --listen 0.0.0.0 2>"$work/public.err"
rc=$?
check "plain HTTP on 0.0.0.0 refused (rc $rc)" test "$rc" -ne 0
check "refusal is one line" test "$(wc -l <"$work/public.err")" -eq 1
check "refusal says why" grep -q 'refusing plain HTTP' "$work/public.err"

if start insecure --listen 0.0.0.0 --allow-insecure-http; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
    check "--allow-insecure-http serves" test "$code" = 200
    check "insecure server stops with 0" stop_ok "$PID"
else
    fail "--allow-insecure-http did not start: $(tail -n 3 "$work/insecure.log")"
fi

"$tallyd" --port 70000 2>"$work/cli.err"
rc=$?
check "bad port exits 2" test "$rc" -eq 2
check "bad port one line" test "$(wc -l <"$work/cli.err")" -eq 1
check "bad port names the option" grep -q 'server.port' "$work/cli.err"
"$tallyd" --writer-linger-us 100001 --data-dir "$work/linger" 2>"$work/cli.err"
check "a linger over 100 ms exits 2, naming the option" \
    bash -c "[ $? -eq 2 ] && grep -q 'writer.linger_us' '$work/cli.err' && [ ! -e '$work/linger' ]"
TALLY_SERVER_THREADS=abc "$tallyd" 2>"$work/cli.err"
check "bad env names the variable" grep -q 'TALLY_SERVER_THREADS' "$work/cli.err"
"$tallyd" --tls-cert "$work/missing.pem" --tls-key "$work/missing.pem" --data-dir "$work/nocert" --port 0 2>"$work/cli.err"
check "missing certificate refused" bash -c "[ $? -ne 0 ] && grep -q 'missing.pem' '$work/cli.err'"
"$tallyd" --help >"$work/help.txt"
check "--help exits 0" test $? -eq 0
for word in TALLY_SERVER_PORT TALLY_DATA_DIR TALLY_TLS_CERT TALLY_APP_DEFAULT_CURRENCY \
    --allow-insecure-http --sandbox --threads --writer-linger-us 'default 8080'; do
    check "--help mentions $word" grep -q -- "$word" "$work/help.txt"
done
"$tallyd" migrate --data-dir "$work/migrate" 2>"$work/migrate.log"
check "migrate exits 0" test $? -eq 0
check "migrate made the database" test -s "$work/migrate/tally.db"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
