#!/usr/bin/env bash
# http_paylists.sh BUILD_DIR - what GET /v1/payments costs (docs/performance.md, "Payment lists
# without indexes"): on SQLite, schema v9 lists a user's payments by walking the history chains
# of their wallets, so a page costs the postings it walks, not an index range.
#
# Starts a fresh tallyd (--sandbox, a 1% p2p fee so every payment also posts a fee, plain HTTP
# on a free loopback port), makes two users pay each other with wrk (bench/payments.lua) for
# BENCH_SECONDS, gives a third user BENCH_DEPOSITS deposits and then one payment, and prints the
# median time of BENCH_REPEAT requests (curl's time_total, loopback) for:
#   - the first page of 100, an older page 50 pages down (cursor), the first page of sent
#   - a newer page from that cursor (it walks from the newest payment down to the cursor)
#   - the third user's first page (it walks past every deposit: has_more needs one more match)
#   - the fourth user's, who received one payment and has no other posting
#
#   BENCH_SECONDS=8  BENCH_DEPOSITS=5000  BENCH_REPEAT=21
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
seconds=${BENCH_SECONDS:-8}
deposits=${BENCH_DEPOSITS:-5000}
repeat=${BENCH_REPEAT:-21}
bench_name=http_paylists.sh
# shellcheck source=lib.sh
. "$root/bench/lib.sh"
export TALLY_FEES_P2P="bps=100,min=0.01"

start --listen 127.0.0.1
base="http://127.0.0.1:$port"
ready "$base"

password=$(openssl rand -base64 18 | tr '/+' '_-')
declare -A token
for handle in paylist_a paylist_b paylist_c paylist_d; do
    post "$base" /v1/users "" "{\"handle\": \"$handle\", \"email\": \"$handle@example.com\",
        \"password\": \"$password\", \"display_name\": \"$handle\"}" >/dev/null ||
        die "sign-up of $handle failed"
    token[$handle]=$(post "$base" /v1/sessions "" "{\"login\": \"$handle\", \"password\": \"$password\"}" |
        jq -r .token)
    [ -n "${token[$handle]}" ] && [ "${token[$handle]}" != null ] || die "log-in of $handle failed"
    post "$base" /v1/deposits "${token[$handle]}" \
        '{"amount": 1000000000000, "currency": "USD", "source": "sandbox"}' >/dev/null ||
        die "deposit of $handle failed"
done
printf '%s paylist_a\n%s paylist_b\n' "${token[paylist_a]}" "${token[paylist_b]}" >"$work/users.txt"
echo "-- paylist_a and paylist_b pay each other for ${seconds} s (wrk, 32 connections)"
TALLY_BENCH_USERS="$work/users.txt" TALLY_BENCH_IDEMPOTENCY=0 TALLY_BENCH_RUN="paylists$RANDOM" \
    wrk -t 2 -c 32 -d "${seconds}s" -s "$root/bench/payments.lua" "$base" >"$work/wrk.txt" 2>&1
grep -q '^RESULT ' "$work/wrk.txt" || die "wrk failed: $(cat "$work/wrk.txt")"
echo "   $(grep -o 'ok=[0-9]*' "$work/wrk.txt" | head -n 1) payments"
echo "-- paylist_c: $deposits deposits of 0.01, then one payment to paylist_d"
for _ in $(seq 1 100); do
    printf 'url = "%s/v1/deposits"\noutput = /dev/null\n' "$base"
done >"$work/curl.cfg"
for _ in $(seq 1 $(((deposits + 99) / 100))); do
    curl -s --no-progress-meter -Z --parallel-max 16 -X POST \
        -H "Authorization: Bearer ${token[paylist_c]}" -H 'Content-Type: application/json' \
        -d '{"amount": 1, "currency": "USD", "source": "sandbox"}' -K "$work/curl.cfg"
done
post "$base" /v1/payments "${token[paylist_c]}" '{"to": "@paylist_d", "amount": 5, "currency": "USD"}' \
    >/dev/null || die "the payment to paylist_d failed"

# timeit LABEL HANDLE QUERY : the median time_total of GET /v1/payments?QUERY, in ms.
timeit() {
    for _ in $(seq 1 "$repeat"); do
        curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer ${token[$2]}" \
            "$base/v1/payments?$3"
    done | sort -n | awk -v l="$1" '{t[NR] = $1} END {printf "%-52s %8.2f ms\n", l, t[int((NR + 1) / 2)] * 1000}'
}
cursor=""
for _ in $(seq 1 50); do
    cursor=$(curl -s -H "Authorization: Bearer ${token[paylist_a]}" \
        "$base/v1/payments?limit=100${cursor:+&starting_after=$cursor}" | jq -r '.data[-1].id')
done
echo
timeit "paylist_a: first page, limit 100" paylist_a "limit=100"
timeit "paylist_a: older page 51 (a cursor), limit 100" paylist_a "limit=100&starting_after=$cursor"
timeit "paylist_a: sent, first page, limit 100" paylist_a "limit=100&direction=sent"
timeit "paylist_a: newer page from page 51's cursor" paylist_a "limit=100&ending_before=$cursor"
timeit "paylist_c: $deposits deposits then 1 payment, limit 10" paylist_c "limit=10"
timeit "paylist_d: 1 payment received, limit 10" paylist_d "limit=10"
