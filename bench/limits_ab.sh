#!/usr/bin/env bash
# limits_ab.sh BUILD_A BUILD_B [ROUNDS] - payments/s and tallyd CPU per payment of two builds of
# tallyd under bench/http_payments.sh, in alternating runs (the machine is shared: alternating
# spreads other load over both), with and without tier limits configured.
#
# Each round runs http_payments.sh (BENCH_CONNECTIONS=64, BENCH_SECONDS, default 5) for A then
# B with limits on (TALLY_LIMITS_UNVERIFIED far above what the ring moves: every payment is
# checked, none refused), then for A then B with limits off. While a run's wrk process lives,
# the tallyd process of that run is sampled every 0.1 s (/proc/PID/stat utime + stime), so CPU
# per payment = tallyd CPU during the wrk run / payments it answered 201. Prints one line per
# run and wrk invocation: build, limits, run label, payments/s, tallyd CPU ms per payment.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
a=${1:?BUILD_A}
b=${2:?BUILD_B}
rounds=${3:-2}
seconds=${BENCH_SECONDS:-5}
tick_ms=$((1000 / $(getconf CLK_TCK)))
work=$(mktemp -d /tmp/tally-limits-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT

# cpu_ticks PID : utime + stime of PID in clock ticks ("" when gone).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

# one BUILD LIMITS(on|off) : one http_payments.sh run with the sampler.
one() {
    local build=$1 limits=$2 bench_pid tallyd wrk first last k=0
    local env=(BENCH_CONNECTIONS=64 BENCH_SECONDS="$seconds")
    [ "$limits" = on ] && env+=(TALLY_LIMITS_UNVERIFIED="send=100000000000,receive=100000000000")
    env "${env[@]}" bash "$root/bench/http_payments.sh" "$build" >"$work/out.txt" 2>&1 &
    bench_pid=$!
    : >"$work/cpu.txt"
    while kill -0 "$bench_pid" 2>/dev/null; do
        wrk=$(pgrep -P "$bench_pid" -x wrk | head -n 1)
        tallyd=$(pgrep -P "$bench_pid" -x tallyd | head -n 1)
        if [ -n "$wrk" ] && [ -n "$tallyd" ]; then
            first=$(cpu_ticks "$tallyd")
            last=$first
            while kill -0 "$wrk" 2>/dev/null; do
                last=$(cpu_ticks "$tallyd") || break
                sleep 0.1
            done
            k=$((k + 1))
            echo "$k $((last - first))" >>"$work/cpu.txt"
        fi
        sleep 0.05
    done
    wait "$bench_pid"
    # wrk invocations: 1 warm-up, 2 plain HTTP, 3 plain keyed, 4 TLS; the table has 2-4.
    awk -v build="$build" -v limits="$limits" -v s="$seconds" -v tick="$tick_ms" '
        FNR == NR { cpu[$1] = $2; next }
        /^plain HTTP / { n = 2; rps = $4 }
        /^plain, Idempotency-Key / { n = 3; rps = $4 }
        /^TLS / { n = 4; rps = $4 }
        n { printf "%-28s limits=%-3s %-24s %10.0f payments/s %8.3f ms CPU/payment\n", build,
            limits, (n == 2 ? "plain" : n == 3 ? "keyed" : "tls"), rps,
            (rps > 0 ? cpu[n] * tick / (rps * s) : 0); n = 0 }
    ' "$work/cpu.txt" "$work/out.txt"
}

for round in $(seq 1 "$rounds"); do
    echo "== round $round"
    one "$a" on
    one "$b" on
    one "$a" off
    one "$b" off
done
