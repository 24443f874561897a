#!/usr/bin/env bash
# run_async.sh BUILD_DIR [ASAN_BUILD_DIR] - POST /v1/payments answered asynchronously (issue #3,
# src/api/async.h): the worker parks the request while its writer command waits for a batch, so
# a batch holds more payments than there are worker threads (and more deposits, conversions,
# refunds and payment requests paid); duplicates of an Idempotency-Key
# in flight park too instead of blocking the worker their first copy needs; a client that goes
# away while its request is parked leaves nothing held (its key answers a retry); SIGTERM during a
# payment load drains the parked requests (exit 0, every 201 stored after a restart), and so do
# six SIGTERMs at random moments of mixed loads (tests/api/drain_load.py: keep-alive, keyed,
# duplicate keys, requests sent late or abandoned; one worker and four). The
# server runs with ONE worker thread, so a request that blocked its worker while waiting would
# stall everything behind it. curl and jq against a real tallyd on loopback.
#
# With TL_PG_CONNINFO set (tests/pg/run_pg_async.sh) the server is two nodes on one PostgreSQL
# database. With two build dirs the suite runs once per build and the counts are added up.
# Prints one "FAIL: ..." line per failed check and closes with "N passed, M failed"; exits
# non-zero on any failure.
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
WORK=$(mktemp -d /tmp/tally-run-async.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT
tl_require run_async.sh curl jq xargs python3

export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
# 48 curls at a time from 127.0.0.1, plus connections their clients closed that the one worker
# has not reaped yet, can pass the default 64 per address; this suite is not about that limit.
export TALLY_SERVER_CONNECTIONS_PER_IP_MAX=1024

DEPOSIT=1000000000

# metric NAME : the value of an unlabelled metric (or a histogram bucket line given in full).
metric() {
    curl -s "$(tl_node_base 1)/metrics" | awk -v n="$1" '$1 == n {print $2; exit}'
}

# pay_many COUNT PARALLEL TOKEN TO KEYPREFIX : COUNT payments of 1 from TOKEN's user to TO with
# PARALLEL curls at a time (to node 1), keyed KEYPREFIX-i, or all with the key K when KEYPREFIX is
# "=K", or without a key when it is "-"; one line per answer into $WORK/many.txt: "code id
# seconds" (id: the problem's code for an error).
pay_many() {
    local count=$1 parallel=$2 tok=$3 to=$4 prefix=$5 base
    base=$(tl_node_base 1)
    : >"$WORK/many.txt"
    seq 1 "$count" | xargs -P "$parallel" -I{} sh -c '
        key=""
        case $5 in
        -) ;;
        =*) key="Idempotency-Key: ${5#=}" ;;
        *) key="Idempotency-Key: $5-$1" ;;
        esac
        out=$(curl -s --max-time 30 -w " %{time_total} %{http_code}" -X POST -H "Authorization: Bearer $2" \
            -H "Content-Type: application/json" ${key:+-H "$key"} \
            --data-binary "{\"to\": \"$3\", \"amount\": 1, \"currency\": \"USD\"}" "$4/v1/payments")
        code=${out##* }
        out=${out% *}
        secs=${out##* }
        id=$(printf "%s" "${out% *}" | "$TL_JQ" -r ".id // .code // \"-\"" 2>/dev/null)
        echo "$code ${id:--} $secs" >>"$6"' _ {} "$tok" "$to" "$base" "$prefix" "$WORK/many.txt"
    echo "   $count requests, the slowest answered in $(sort -k3 -n "$WORK/many.txt" | tail -n 1 | cut -d' ' -f3) s"
}

balance() {
    TOKEN=$1 api GET /v1/wallets
    jqb '.data[0].balance.available'
}

# post_many LIST_FILE PARALLEL TOKEN PATH BODY : one keyed POST of BODY to PATH (on node 1) per
# line of LIST_FILE, PARALLEL at a time, with @ID in PATH replaced by the line; their statuses
# into $WORK/statuses.txt. Leaves in BATCHES how many writer batches they took.
post_many() {
    local list=$1 parallel=$2 tok=$3 path=$4 body=$5 before
    before=$(metric tally_writer_batches_total)
    : >"$WORK/statuses.txt"
    xargs -P "$parallel" -I@ID curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST \
        -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: many-@ID-$RANDOM$RANDOM" --data-binary "$body" \
        "$(tl_node_base 1)$path" <"$list" >>"$WORK/statuses.txt"
    BATCHES=$(($(metric tally_writer_batches_total) - before))
}

# parked_ok WHAT COUNT COMMANDS : after post_many, every one of COUNT answered 201 in fewer
# batches than the COMMANDS writer commands they made: with one worker that blocked until its
# batch committed, each command would have had a batch of its own.
parked_ok() {
    check_eq "$2 concurrent $1 through one worker all answer 201" "$2" \
        "$(grep -c '^201$' "$WORK/statuses.txt")"
    echo "   $2 $1 in $BATCHES batches"
    check "$1: batches held more than one of the $3 commands ($BATCHES batches)" \
        test "$BATCHES" -lt "$3"
}

printf 'USD JPY 150\nJPY USD 0.0066\n' >"$WORK/rates.txt"
echo "== one worker thread: payments share batches"
# A batch lingers 20 ms for company ([writer] linger_us): the one worker gets that long to park
# the next requests, so the batch counts below do not hang on how busy the machine is. A worker
# that blocked on its command would still get one command per batch, only 20 ms slower each.
if tl_start async --sandbox --threads 1 --writer-linger-us 20000 --fx-rates-file "$WORK/rates.txt"; then
    BASE="http://127.0.0.1:$PORT"
    tl_signup async_a || fail "sign-up async_a: $STATUS $BODY"
    A=$TOK
    tl_signup async_b || fail "sign-up async_b: $STATUS $BODY"
    B=$TOK
    TOKEN=$A api POST /v1/deposits "{\"amount\": $DEPOSIT, \"currency\": \"USD\", \"source\": \"sandbox\"}"
    expect "async_a funded" 201
    batches0=$(metric tally_writer_batches_total)
    events0=$(metric tally_writer_events_total)
    pay_many 300 48 "$A" @async_b -
    check_eq "300 concurrent payments through one worker all answer 201" 300 \
        "$(grep -c '^201 pay_' "$WORK/many.txt")"
    check_eq "300 distinct payment ids" 300 "$(awk '{print $2}' "$WORK/many.txt" | sort -u | grep -c pay_)"
    batches=$(($(metric tally_writer_batches_total) - batches0))
    events=$(($(metric tally_writer_events_total) - events0))
    echo "   300 payments in $batches batches ($events events)"
    # A worker blocked until its batch commits would put exactly one payment in each batch.
    check "batches held more payments than there are workers ($batches batches)" \
        test "$batches" -lt 300
    check_eq "no request left parked or in flight" 1 "$(metric tally_http_requests_in_flight)"
    check_eq "async_a paid 300" $((DEPOSIT - 300)) "$(balance "$A")"
    check_eq "async_b received 300" 300 "$(balance "$B")"

    echo "== deposits park too"
    b_before=$(balance "$B")
    seq 1 100 >"$WORK/list.txt"
    post_many "$WORK/list.txt" 48 "$B" /v1/deposits \
        '{"amount": 7, "currency": "USD", "source": "sandbox"}'
    parked_ok deposits 100 100
    check_eq "async_b credited 100 x 7" $((b_before + 700)) "$(balance "$B")"
    check_eq "no request left parked or in flight after deposits" 1 \
        "$(metric tally_http_requests_in_flight)"

    echo "== conversions park too"
    seq 1 60 >"$WORK/list.txt"
    post_many "$WORK/list.txt" 48 "$B" /v1/conversions \
        '{"from_currency": "USD", "to_currency": "JPY", "amount": 1}'
    parked_ok conversions 60 60
    TOKEN=$B api GET /v1/wallets
    check_eq "async_b's USD wallet paid 60 x 1" $((b_before + 700 - 60)) \
        "$(jqb '.data[] | select(.currency == "USD") | .balance.available')"
    check_eq "async_b's JPY wallet got 60 x 1" 60 \
        "$(jqb '.data[] | select(.currency == "JPY") | .balance.available')"

    echo "== refunds park too"
    pay_many 40 16 "$A" @async_b -
    check_eq "40 payments to refund" 40 "$(grep -c '^201 pay_' "$WORK/many.txt")"
    b_before=$(balance "$B")
    awk '{print $2}' "$WORK/many.txt" >"$WORK/list.txt"
    post_many "$WORK/list.txt" 40 "$B" /v1/payments/@ID/refunds '{}'
    parked_ok refunds 40 80 # two commands each: the refundable account, then the money
    check_eq "async_b refunded 40 x 1" $((b_before - 40)) "$(balance "$B")"

    echo "== paying payment requests parks too"
    : >"$WORK/list.txt"
    for _ in $(seq 1 30); do
        TOKEN=$B api POST /v1/payment_requests '{"from": "@async_a", "amount": 3, "currency": "USD"}'
        jqb '.id // "-"' >>"$WORK/list.txt"
    done
    check_eq "30 payment requests made" 30 "$(grep -c '^preq_' "$WORK/list.txt")"
    b_before=$(balance "$B")
    post_many "$WORK/list.txt" 30 "$A" /v1/payment_requests/@ID/pay '{}'
    # Before it parks, each request payment claims its request with a write through the app
    # handle, on the worker. On PostgreSQL that commit (fsync on) paces the one worker about as
    # fast as the writer commits; the batches' 20 ms linger is what lets them fill up there.
    parked_ok "request payments" 30 30
    check_eq "async_b received 30 x 3" $((b_before + 90)) "$(balance "$B")"

    echo "== duplicates of one Idempotency-Key park instead of blocking the only worker"
    a_before=$(balance "$A")
    pay_many 12 12 "$A" @async_b "=samekey-$RANDOM"
    check_eq "12 concurrent same-key requests all answer 201" 12 "$(grep -c '^201 pay_' "$WORK/many.txt")"
    check_eq "12 concurrent same-key requests name one payment" 1 \
        "$(awk '{print $2}' "$WORK/many.txt" | sort -u | grep -c pay_)"
    check_eq "same key: charged once" $((a_before - 1)) "$(balance "$A")"
    pay_many 200 48 "$A" @async_b "many-$RANDOM"
    check_eq "200 concurrent keyed payments answer 201" 200 "$(grep -c '^201 pay_' "$WORK/many.txt")"
    grep -v '^201 pay_' "$WORK/many.txt" | cut -d' ' -f1,2 | sort | uniq -c | head -5 # the odd ones out, if any

    echo "== clients that go away while parked: their keys are released"
    gone=$RANDOM
    for round in 1 2 3; do
        pids=()
        for i in $(seq 1 32); do
            curl -s -o /dev/null --max-time 10 -X POST -H "Authorization: Bearer $A" \
                -H 'Content-Type: application/json' -H "Idempotency-Key: gone-$gone-$round-$i" \
                --data-binary '{"to": "@async_b", "amount": 1, "currency": "USD"}' \
                "$(tl_node_base 1)/v1/payments" &
            pids+=($!)
        done
        sleep 0.0$((round * 2))
        kill -9 "${pids[@]}" 2>/dev/null
        wait "${pids[@]}" 2>/dev/null
    done
    : >"$WORK/gone.txt"
    for round in 1 2 3; do
        pids=()
        for i in $(seq 1 32); do
            curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 -X POST \
                -H "Authorization: Bearer $A" -H 'Content-Type: application/json' \
                -H "Idempotency-Key: gone-$gone-$round-$i" \
                --data-binary '{"to": "@async_b", "amount": 1, "currency": "USD"}' \
                "$(tl_node_base 1)/v1/payments" >>"$WORK/gone.txt" &
            pids+=($!)
        done
        wait "${pids[@]}" # not a bare wait: the server is a child of this shell too
    done
    check_eq "96 retries of abandoned keyed requests all answer 201" 96 "$(grep -c '^201$' "$WORK/gone.txt")"
    check_eq "no request left parked or in flight after abandoned ones" 1 \
        "$(metric tally_http_requests_in_flight)"

    echo "== SIGTERM during a payment load: parked requests drain, every 201 is stored"
    rm -f "$WORK/stop"
    worker() {
        local n=$1 i=0 tok to code key
        while [ ! -e "$WORK/stop" ]; do
            i=$((i + 1))
            if [ $(((n + i) % 2)) = 0 ]; then tok=$A to=@async_b; else tok=$B to=@async_a; fi
            key=""
            [ $((i % 3)) != 0 ] || key="Idempotency-Key: term-$n-$i-$RANDOM"
            code=$(curl -s -o "$WORK/t$n.body" -w '%{http_code}' --max-time 10 -X POST \
                -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
                ${key:+-H "$key"} \
                --data-binary "{\"to\": \"$to\", \"amount\": 1, \"currency\": \"USD\"}" \
                "$(tl_node_base 1)/v1/payments")
            echo "$code $(jq -r '.id // "-"' "$WORK/t$n.body" 2>/dev/null || echo -)" >>"$WORK/t$n.log"
            [ "$code" = 000 ] && break
        done
    }
    for n in $(seq 1 24); do
        worker "$n" &
        TL_JOBS+=($!)
    done
    for _ in $(seq 1 400); do
        acked=$(cat "$WORK"/t*.log 2>/dev/null | grep -c '^201 ')
        [ "$acked" -ge 300 ] && break
        sleep 0.05
    done
    start_ms=$(date +%s%3N)
    tl_stop "$PID"
    rc=$?
    elapsed_ms=$(($(date +%s%3N) - start_ms))
    touch "$WORK/stop"
    for pid in "${TL_JOBS[@]}"; do wait "$pid" 2>/dev/null; done
    TL_JOBS=()
    check_eq "SIGTERM under load exits 0" 0 "$rc"
    check "SIGTERM under load is prompt (${elapsed_ms} ms)" test "$elapsed_ms" -lt 8000
    cat "$WORK"/t*.log | grep '^201 ' >"$WORK/term-acked.txt"
    acked=$(grep -c '' "$WORK/term-acked.txt")
    others=$(cat "$WORK"/t*.log | grep -v '^201 \|^000 \|^503 ' | head -n 3)
    echo "   $acked payments acknowledged before the stop"
    check "load made progress before SIGTERM ($acked acked)" test "$acked" -ge 50
    check_eq "no answer but 201, 503 or a closed connection" "" "$others"
    if tl_start async --sandbox --threads 1; then
        BASE="http://127.0.0.1:$PORT"
        api POST /v1/sessions "$(jq -nc --arg p "$PW" '{login: "async_b", password: $p}')"
        B=$(jqb '.token // ""')
        awk -v base="$(tl_node_base 1)" '{print "url = \"" base "/v1/payments/" $2 "\""; print "output = \"/dev/null\""}' \
            "$WORK/term-acked.txt" >"$WORK/urls.cfg"
        curl -s --max-time 60 -H "Authorization: Bearer $B" -w '%{http_code}\n' \
            -K "$WORK/urls.cfg" >"$WORK/refetch.txt"
        check_eq "every payment acknowledged before SIGTERM is stored" 0 \
            "$(grep -vc '^200$' "$WORK/refetch.txt")"
        check_eq "one answer per acknowledged payment" "$acked" "$(grep -c '' "$WORK/refetch.txt")"
        check "stops cleanly after the restart" tl_stop "$PID"
    else
        fail "tallyd did not restart after SIGTERM: $(tail -n 5 "$WORK/async.log")"
    fi

    # A request can reach the server after the drain saw nothing in flight (a connection
    # accepted before the quiesce that sends late), and a wake can still be running when the
    # last request is answered: neither may park behind MHD_stop_daemon's back (libmicrohttpd
    # aborts on a suspended connection) or touch the freed server. Short loads, stopped at a
    # random moment, with one worker and with four (the library's thread pool).
    echo "== SIGTERM at random moments of mixed loads: keep-alive, keyed, duplicate keys, late and abandoned requests"
    rcs="" want_rcs="" slow_ms=0 drain_cycles=6 drain_start=$SECONDS
    : >"$WORK/drain-acked.txt"
    : >"$WORK/drain-all.txt"
    for cycle in $(seq 1 "$drain_cycles"); do
        want_rcs+=" 0"
        if ! tl_start async --sandbox --threads $((cycle % 2 == 1 ? 1 : 4)); then
            fail "tallyd did not start for stop $cycle: $(tail -n 5 "$WORK/async.log")"
            break
        fi
        if [ "$cycle" = 1 ]; then
            BASE="http://127.0.0.1:$PORT"
            TOKEN=$B api POST /v1/deposits "{\"amount\": $DEPOSIT, \"currency\": \"USD\", \"source\": \"sandbox\"}"
            expect "async_b funded for the stopped loads" 201
        fi
        bases=$(printf 'http://127.0.0.1:%s,' "${PORTS[@]}")
        rm -f "$WORK/drain-stop"
        python3 "$root/tests/api/drain_load.py" --bases "${bases%,}" --tokens "$A,$B" \
            --handles async_a,async_b --tag "drain-$cycle-$RANDOM" --stop "$WORK/drain-stop" \
            --out "$WORK/drain-$cycle.txt" --seed "$RANDOM" &
        load=$!
        TL_JOBS+=("$load")
        # Under load first (a few answers in), then a random moment of it.
        for _ in $(seq 1 200); do
            [ "$(cat "$WORK/drain-$cycle.txt" 2>/dev/null | grep -c '^201 ')" -lt 10 ] || break
            sleep 0.05
        done
        sleep "0.$((RANDOM % 6))"
        start_ms=$(date +%s%3N)
        tl_stop "$PID"
        rcs+=" $?"
        elapsed_ms=$(($(date +%s%3N) - start_ms))
        [ "$elapsed_ms" -le "$slow_ms" ] || slow_ms=$elapsed_ms
        touch "$WORK/drain-stop"
        wait "$load"
        cat "$WORK/drain-$cycle.txt" >>"$WORK/drain-all.txt"
    done
    TL_JOBS=()
    check_eq "every SIGTERM under a mixed load exits 0" "$want_rcs" "$rcs"
    check "every stop is prompt (slowest ${slow_ms} ms)" test "$slow_ms" -lt 8000
    grep '^201 ' "$WORK/drain-all.txt" >"$WORK/drain-acked.txt"
    acked=$(grep -c '' "$WORK/drain-acked.txt")
    echo "   $acked payments acknowledged in $drain_cycles stopped loads ($((SECONDS - drain_start)) s)"
    check "the loads made progress ($acked acked)" test "$acked" -ge 50
    check_eq "no answer but 201, 503 or a closed connection" "" \
        "$(grep -v '^201 \|^503 \|^0 ' "$WORK/drain-all.txt" | sort | uniq -c | head -n 3)"
    if tl_start async --sandbox --threads 1; then
        BASE="http://127.0.0.1:$PORT"
        awk -v base="$(tl_node_base 1)" '{print "url = \"" base "/v1/payments/" $2 "\""; print "output = \"/dev/null\""}' \
            "$WORK/drain-acked.txt" >"$WORK/urls.cfg"
        curl -s --max-time 60 -H "Authorization: Bearer $B" -w '%{http_code}\n' \
            -K "$WORK/urls.cfg" >"$WORK/refetch.txt"
        check_eq "every payment acknowledged before a stop is stored" "$acked" \
            "$(grep -c '^200$' "$WORK/refetch.txt")"
        check "stops cleanly after the stopped loads" tl_stop "$PID"
    else
        fail "tallyd did not restart after the stopped loads: $(tail -n 5 "$WORK/async.log")"
    fi
else
    fail "tallyd did not start: $(tail -n 5 "$WORK/async.log")"
fi

tl_summary
