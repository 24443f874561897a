#!/usr/bin/env bash
# http_payments.sh BUILD_DIR - HTTP throughput and latency of POST /v1/payments (make bench).
#
# Starts a fresh tallyd (--sandbox, plain HTTP on a free loopback port, its data dir on disk
# under /tmp), signs up BENCH_USERS users and funds each with a large sandbox deposit, then runs
# wrk (bench/payments.lua: keep-alive, a bearer token per request, 1-cent payments around a ring
# of users so no balance runs out) at each connection count of BENCH_CONNECTIONS to find the
# knee, one run with an Idempotency-Key on every request, and one run over TLS (the same data
# dir restarted with a self-signed P-256 certificate). Prints a table: payments/s (201s only),
# latency p50/p90/p99, bytes tallyd wrote towards the disk per payment (/proc/PID/io
# write_bytes) and any answer other than 201. wrk and tallyd share this machine's CPUs.
#
# It also prints tallyd's CPU time per payment (utime + stime from /proc/PID/stat over the run,
# divided by the 201s: unlike payments/s it barely depends on what else runs on the machine),
# the part of it the ledger writer thread spent ("writer", us per payment, from the task named
# tl-writer), wrk's own CPU per request ("wrk us": wrk shares the CPUs), and the writer's
# average batch (tally_writer_events_total / _batches_total in /metrics).
#
#   BENCH_SECONDS=10  BENCH_CONNECTIONS="1 4 16 64 128 256" ("": no plain runs)  BENCH_USERS=64
#   BENCH_WRK_THREADS=2
#   BENCH_PARTS="keyed tls fees"  (the runs after the plain ones; "" runs only those)
#   BENCH_STORE=postgres  (default sqlite: tallyd on a throwaway PostgreSQL cluster instead,
#   tests/pg/pg_cluster.sh: loopback, fsync and synchronous_commit on; one node, a new database)
#   BENCH_PROFILE="perf record -F 999 -g -o /tmp/p.data -p"  (optional: during each run, this
#   command is started 1 s after wrk with tallyd's pid appended, and stopped with SIGINT when
#   wrk ends; for the profiles in docs/performance.md)
#
# Exits non-zero when tallyd cannot be set up or a run answers less than 99% 201s.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS-1 4 16 64 128 256}
user_count=${BENCH_USERS:-64}
wrk_threads=${BENCH_WRK_THREADS:-2}
parts=" ${BENCH_PARTS-keyed tls fees} "


bench_name=http_payments.sh
# shellcheck source=lib.sh
. "$root/bench/lib.sh"
case ${BENCH_STORE:-sqlite} in
sqlite) ;;
postgres)
    env_lines=$(TALLY_PG_OPTIONS="-c max_connections=300 -c shared_buffers=256MB" \
        bash "$root/tests/pg/pg_cluster.sh" start) || die "cannot start a PostgreSQL cluster"
    eval "$env_lines"
    trap 'cleanup; bash "$root/tests/pg/pg_cluster.sh" stop "$TALLY_PG_DIR"' EXIT
    export TALLY_STORE_BACKEND=postgres TALLY_STORE_PATH="$TALLY_PG_CONNINFO"
    ;;
*) die "BENCH_STORE is sqlite or postgres, not '$BENCH_STORE'" ;;
esac
export TALLY_SERVER_CONNECTIONS_MAX=${TALLY_SERVER_CONNECTIONS_MAX:-4096} TALLY_SERVER_CONNECTIONS_PER_IP_MAX=${TALLY_SERVER_CONNECTIONS_PER_IP_MAX:-4096}
export TALLY_LOG_LEVEL=${TALLY_LOG_LEVEL:-warn}

# storage_bytes : bytes tallyd has written towards the disk so far (/proc/PID/io write_bytes:
# WAL, checkpoints, database file), for the "disk B/pay" column (written bytes per 201).
storage_bytes() {
    awk '$1 == "write_bytes:" {print $2}' "/proc/$pid/io" 2>/dev/null || echo 0
}

# cpu_ticks : tallyd's utime + stime so far, in clock ticks (/proc/PID/stat fields 14 and 15;
# the command name in field 2 has no spaces for tallyd).
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0
}

# writer_ticks : the ledger writer thread's utime + stime so far, in clock ticks (the thread
# named tl-writer among /proc/PID/task; util/thread.c names it).
writer_ticks() {
    local task
    for task in /proc/"$pid"/task/*; do
        if [ "$(cat "$task/comm" 2>/dev/null)" = tl-writer ]; then
            awk '{print $14 + $15}' "$task/stat" 2>/dev/null
            return
        fi
    done
    echo 0
}

# writer_counts : "EVENTS BATCHES" committed by the writer so far (/metrics).
writer_counts() {
    curl -s "${metrics_curl_args[@]}" "$metrics_base/metrics" |
        awk '$1 == "tally_writer_events_total" {e = $2} $1 == "tally_writer_batches_total" {b = $2}
             END {print e + 0, b + 0}'
}
metrics_curl_args=()
metrics_base=""
clock_ticks=$(getconf CLK_TCK)


password=$(openssl rand -base64 18 | tr '/+' '_-')
deposit_minor=1000000000000 # 10,000,000,000.00 USD each: a 1-cent ring never gets near zero

# login_all BASE [CURL_ARGS...] : a fresh token for every bench user into $work/users.txt.
login_all() {
    local base=$1 i handle out
    shift
    : >"$work/users.txt"
    for i in $(seq 1 "$user_count"); do
        handle=$(printf 'bench_u%03d' "$i")
        out=$(post "$base" /v1/sessions "" \
            "{\"login\": \"$handle\", \"password\": \"$password\"}" "$@") ||
            die "log-in of $handle failed"
        echo "$(jq -r .token <<<"$out") $handle" >>"$work/users.txt"
    done
}

# run_wrk LABEL CONNECTIONS URL KEYED [SCRIPT] : one wrk run with bench/SCRIPT (default
# payments.lua); appends a table row to $work/table.txt.
# shellcheck disable=SC2154 # the r_* variables are set by printf -v from the RESULT line
run_wrk() {
    local label=$1 conns=$2 url=$3 keyed=$4 script=${5:-payments.lua} threads=$wrk_threads
    local line io_before io_after r_quotes=0 cpu_before cpu_after writer_before writer_after
    local thread_before thread_after wrk_cpu_s
    [ "$threads" -le "$conns" ] || threads=$conns
    metrics_base=$url
    io_before=$(storage_bytes)
    cpu_before=$(cpu_ticks)
    writer_before=$(writer_counts)
    thread_before=$(writer_ticks)
    local profiler=""
    if [ -n "${BENCH_PROFILE:-}" ]; then
        (sleep 1 && exec $BENCH_PROFILE "$pid") >"$work/profile.log" 2>&1 &
        profiler=$!
    fi
    # wrk's own CPU (bash's time keyword: user + system seconds of the child), because wrk
    # shares the machine's CPUs with tallyd.
    local TIMEFORMAT='%3U %3S'
    { time TALLY_BENCH_USERS="$work/users.txt" TALLY_BENCH_IDEMPOTENCY=$keyed \
        TALLY_BENCH_RUN="run$conns-$RANDOM$RANDOM" \
        wrk -t "$threads" -c "$conns" -d "${seconds}s" --timeout 10s --latency \
        -s "$root/bench/$script" "$url" >"$work/wrk.txt" 2>&1; } 2>"$work/wrk_time.txt"
    wrk_cpu_s=$(awk '{print $1 + $2}' "$work/wrk_time.txt")
    if [ -n "$profiler" ]; then
        pkill -INT -P "$profiler" 2>/dev/null
        kill -INT "$profiler" 2>/dev/null
        wait "$profiler" 2>/dev/null
    fi
    io_after=$(storage_bytes)
    cpu_after=$(cpu_ticks)
    writer_after=$(writer_counts)
    thread_after=$(writer_ticks)
    line=$(grep '^RESULT ' "$work/wrk.txt")
    if [ -z "$line" ]; then
        echo "wrk failed:" >&2
        cat "$work/wrk.txt" >&2
        status=1
        return
    fi
    # "RESULT k=v ..." -> shell variables r_k
    local kv
    for kv in ${line#RESULT }; do
        printf -v "r_${kv%%=*}" '%s' "${kv#*=}"
    done
    local others
    others=$(tr ',' '\n' <<<"$r_statuses" | grep -v '^201:' | paste -sd, -)
    [ "$r_socket_errors" = 0 ] || others="${others:+$others,}socket:$r_socket_errors"
    local per_payment=- cpu_us=- batch=- writer_us=- wrk_us=-
    if [ "$r_ok" -gt 0 ]; then
        per_payment=$(((io_after - io_before) / r_ok))
        cpu_us=$(((cpu_after - cpu_before) * 1000000 / clock_ticks / r_ok))
        writer_us=$(((thread_after - thread_before) * 1000000 / clock_ticks / r_ok))
        wrk_us=$(awk -v s="$wrk_cpu_s" -v n="$r_requests" 'BEGIN { printf "%d", s * 1000000 / n }')
    fi
    batch=$(awk -v a="$writer_before" -v b="$writer_after" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        if (y[2] > x[2]) printf "%.1f", (y[1] - x[1]) / (y[2] - x[2]); else print "-" }')
    printf '%-26s %6s %12s %9s %9s %9s %9s %10s %8s %8s %8s %7s  %s\n' "$label" "$conns" \
        "$r_ok_rps" "$r_p50_ms" "$r_p90_ms" "$r_p99_ms" "$r_max_ms" "$per_payment" "$cpu_us" \
        "$writer_us" "$wrk_us" "$batch" "${others:-none}" | tee -a "$work/table.txt"
    echo "$label $conns $r_ok_rps $r_p99_ms" >>"$work/points.txt"
    # quotes.lua: the quotes are requests too, counted apart from the payments
    local paid=$((r_requests - r_quotes))
    if [ "$paid" -le 0 ] || [ $((r_ok * 100)) -lt $((paid * 99)) ]; then
        echo "   ^ fewer than 99% of $paid payment answers were 201" >&2
        status=1
    fi
}

status=0
echo "== http_payments: POST /v1/payments over keep-alive on loopback, $user_count users, ${seconds} s per run, store ${BENCH_STORE:-sqlite}"
echo "== $(nproc) CPUs shared by wrk ($wrk_threads threads) and tallyd; $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"

start --listen 127.0.0.1
base="http://127.0.0.1:$port"
ready "$base"
echo "-- setting up: $user_count users, a sandbox deposit each"
for i in $(seq 1 "$user_count"); do
    handle=$(printf 'bench_u%03d' "$i")
    post "$base" /v1/users "" "{\"handle\": \"$handle\", \"email\": \"$handle@example.com\", \"password\": \"$password\", \"display_name\": \"Bench $i\"}" \
        >/dev/null || die "sign-up of $handle failed"
done
login_all "$base"
while read -r token handle; do
    post "$base" /v1/deposits "$token" "{\"amount\": $deposit_minor, \"currency\": \"USD\", \"source\": \"sandbox\"}" \
        >/dev/null || die "deposit for $handle failed"
done <"$work/users.txt"
echo "   tallyd worker threads: ${TALLY_SERVER_THREADS:-default ($("$tallyd" --help | awk '/--threads/ {getline; print $NF}'))}"

printf '\n%-26s %6s %12s %9s %9s %9s %9s %10s %8s %8s %8s %7s  %s\n' run conns payments/s \
    p50_ms p90_ms p99_ms max_ms "disk B/pay" "CPU us/pay" "writer" "wrk us" "batch" \
    "other answers"
TALLY_BENCH_USERS="$work/users.txt" wrk -t 1 -c 8 -d 2s -s "$root/bench/payments.lua" "$base" >/dev/null 2>&1 # warm-up
for c in $connections; do
    run_wrk "plain HTTP" "$c" "$base" 0
done
[[ $parts != *" keyed "* ]] || run_wrk "plain, Idempotency-Key" 64 "$base" 1

# TLS: the same data dir behind a fresh self-signed P-256 certificate.
if [[ $parts = *" tls "* ]]; then
stop
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 || die "openssl failed"
start --listen 127.0.0.1 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
tls_base="https://127.0.0.1:$port"
ready "$tls_base" --cacert "$work/cert.pem"
read -r token _ <"$work/users.txt"
if [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/cert.pem" \
    -H "Authorization: Bearer $token" "$tls_base/v1/me")" != 200 ]; then
    login_all "$tls_base" --cacert "$work/cert.pem"
fi
metrics_curl_args=(--cacert "$work/cert.pem")
run_wrk "TLS (P-256)" 64 "$tls_base" 0
metrics_curl_args=()
fi

# Fees and quotes (issue #6): the same data dir, plain HTTP, with a p2p fee of 1% (at least
# 0.01), so every payment is a linked pair (the amount, then the fee to the fee revenue
# account). First payments without a quote, then the quote -> payment path: POST /v1/quotes,
# then POST /v1/payments with its quote_id (two requests per payment; p50/p99 are per request).
if [[ $parts = *" fees "* ]]; then
stop
TALLY_FEES_P2P="bps=100,min=0.01" start --listen 127.0.0.1
base="http://127.0.0.1:$port"
ready "$base"
login_all "$base"
run_wrk "p2p fee 1%, no quote" 64 "$base" 0
run_wrk "quote -> payment, fee 1%" 64 "$base" 0 quotes.lua
fi

# Knee: the fewest plain-HTTP connections reaching 95% of the best plain-HTTP throughput.
knee=$(awk '$1 == "plain" && $2 == "HTTP" {print $3, $4}' "$work/points.txt" | sort -n -k1 |
    awk '{c[NR] = $1; r[NR] = $2; if ($2 > best) best = $2}
         END {for (i = 1; i <= NR; i++) if (r[i] >= 0.95 * best) {print c[i], best; exit}}')
echo
echo "== knee: ${knee% *} connections reach 95% of the best plain-HTTP rate (${knee#* } payments/s)"
stop
exit $status
