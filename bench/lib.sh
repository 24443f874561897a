# shellcheck shell=bash
# lib.sh - what the HTTP benchmarks share (sourced, not run).
#
# The sourcing script sets, before sourcing: root (the repository), build (absolute) and
# bench_name (its own name, for messages). This file then sets tallyd, makes the scratch
# directory $work (removed on exit, with the server), checks the tools, and lifts the rate
# limits: only the benchmark's own client talks to this server, so no limit should shape the
# result (60,000,000 a minute, the largest setting, is 1,000,000/s; a 429 shows up as such).
#
#   start ARGS...          tallyd --sandbox --port 0 on $work/data; sets pid and port
#   ready BASE [CURL...]   waits up to 10 s for BASE/readyz
#   post BASE PATH TOKEN BODY [CURL...]   prints the body; fails (non-zero) unless 201
#   stop                   SIGTERM, and waits
tallyd="$build/src/cmd/tallyd"
work=$(mktemp -d "/tmp/tally-bench-$bench_name.XXXXXX")
pid=""

cleanup() {
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

die() {
    echo "$bench_name: $*" >&2
    exit 1
}

for tool in wrk curl jq openssl; do
    command -v "$tool" >/dev/null || die "$tool is required (make deps installs it)"
done
[ -x "$tallyd" ] || die "$tallyd is not built"

export TALLY_RATELIMIT_IP_PER_MIN=60000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=60000000 TALLY_RATELIMIT_USER_BURST=100000

start() {
    : >"$work/tallyd.log"
    TALLY_LOG_LEVEL=info "$tallyd" --data-dir "$work/data" --sandbox --port 0 "$@" \
        2>>"$work/tallyd.log" &
    pid=$!
    port=""
    for _ in $(seq 1 200); do
        port=$(jq -r 'select(.event == "listening") | .port' "$work/tallyd.log" 2>/dev/null | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$port" ] || die "tallyd did not start: $(tail -n 3 "$work/tallyd.log")"
}

stop() {
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=""
}

ready() {
    local base=$1
    shift
    for _ in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$base/readyz")" = 200 ] && return 0
        sleep 0.05
    done
    die "tallyd not ready at $base"
}

post() {
    local base=$1 path=$2 token=$3 body=$4 out auth=()
    shift 4
    [ -z "$token" ] || auth=(-H "Authorization: Bearer $token")
    out=$(curl -s -w '\n%{http_code}' --max-time 30 -X POST "$@" -H 'Content-Type: application/json' \
        "${auth[@]}" --data-binary "$body" "$base$path") || return 1
    [ "${out##*$'\n'}" = 201 ] || {
        echo "POST $path answered ${out##*$'\n'}: ${out%$'\n'*}" >&2
        return 1
    }
    printf '%s\n' "${out%$'\n'*}"
}
