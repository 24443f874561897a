#!/usr/bin/env bash
# run_pg_nodes.sh BUILD_DIR [ASAN_BUILD_DIR] - several tallyd nodes on one PostgreSQL database.
#
# Starts a throwaway cluster (tests/pg/pg_cluster.sh), runs `tallyd migrate`, then two tallyd
# nodes (plain HTTP on loopback, --sandbox, a payment fee so fees move money too) on the same
# database; node B reads node A's secret through --secret-file, so a session made on one node
# works on the other. Checks, in order:
#   secret    a missing or group-readable --secret-file stops the start; a node with its own
#             secret refuses another node's token
#   flows     sign up, log in, deposit, pay, balances, histories and payment lists, every write
#             on one node and read back on the other
#   bank      concurrent clients on both nodes paying among a set of users: afterwards wallet
#             balances plus fees equal deposits (through the API on both nodes and in SQL), no
#             wallet is negative, every account equals the sum of its postings, and every 201
#             payment is readable on both nodes
#   kill -9   one node is SIGKILLed mid-load: every acknowledged payment of either node is
#             present, the other node's clients never saw a failure, and the killed node
#             restarts and serves them too
#   failover  a streaming replica with synchronous replication; a node whose conninfo names
#             both servers (target_session_attrs=read-write) runs under load while the
#             primary is SIGKILLed and the replica promoted: the node reconnects by itself and
#             no acknowledged payment is lost
# Uses the release build only (BUILD_DIR); ends with "N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
[[ $build = /* ]] || build="$root/$build"
TALLYD="$build/src/cmd/tallyd"
WORK=$(mktemp -d /tmp/tally-pg-nodes.XXXXXX)
LOAD="python3 $root/tests/pg/load.py"
CLUSTER="bash $root/tests/pg/pg_cluster.sh"
# shellcheck source=../api/lib.sh
source "$root/tests/api/lib.sh"
start=$SECONDS

if [ ! -x "$TALLYD" ]; then
    echo "run_pg_nodes: no tallyd at $TALLYD (build first)"
    echo "0 passed, 1 failed"
    exit 1
fi

TALLY_PG_DIR=
TALLY_PG_REPLICA_DIR=
cleanup() {
    tl_cleanup_keep_work
    [ -n "$TALLY_PG_DIR" ] && $CLUSTER stop "$TALLY_PG_DIR"
    [ -n "$TALLY_PG_REPLICA_DIR" ] && $CLUSTER stop "$TALLY_PG_REPLICA_DIR"
    rm -rf "$WORK"
}
# lib.sh's tl_cleanup removes $WORK; the clusters must stop first, so kill the servers here.
tl_cleanup_keep_work() {
    local pid
    for pid in "${TL_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${TL_JOBS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
}
trap cleanup EXIT

if ! env_lines=$($CLUSTER start) || [ -z "$env_lines" ]; then
    echo "run_pg_nodes: cannot start a PostgreSQL cluster (make deps installs postgresql)"
    echo "0 passed, 1 failed"
    exit 1
fi
eval "$env_lines"
echo "cluster: 127.0.0.1:$TALLY_PG_PORT ($((SECONDS - start))s)"
psql_bin=$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
DB="$TALLY_PG_CONNINFO dbname=nodes"
sql() { "$psql_bin" -X -q -A -t -v ON_ERROR_STOP=1 "$DB" -c "$1"; }
"$psql_bin" -X -q "$TALLY_PG_CONNINFO" -c "CREATE DATABASE nodes"

# Every node: the same database, a fee (100 bps + 1 minor unit), rate limits out of the way of
# load from one address, 8 workers.
export TALLY_FEES_P2P_BPS=100 TALLY_FEES_P2P_FIXED_MINOR=1
export TALLY_RATELIMIT_IP_PER_MIN=1000000 TALLY_RATELIMIT_IP_BURST=100000
export TALLY_RATELIMIT_USER_PER_MIN=1000000 TALLY_RATELIMIT_USER_BURST=100000
NODE_ARGS=(--sandbox --threads 8 --store-backend postgres)

"$TALLYD" migrate --data-dir "$WORK/migrate" --store-backend postgres --store-path "$DB" \
    >"$WORK/migrate.out" 2>&1
check "tallyd migrate" test $? -eq 0

# ---------------------------------------------------------------------------------------------
echo "-- secret: nodes share one; without it a token is refused"
if ! tl_start a "${NODE_ARGS[@]}" --store-path "$DB"; then
    fail "node A does not start"
    tl_summary
    exit 1
fi
PID_A=$PID PORT_A=$PORT
SECRET="$WORK/a/secret.key"
if ! tl_start b "${NODE_ARGS[@]}" --store-path "$DB" --secret-file "$SECRET"; then
    fail "node B does not start"
    tl_summary
    exit 1
fi
PID_B=$PID PORT_B=$PORT
A="http://127.0.0.1:$PORT_A" B="http://127.0.0.1:$PORT_B"

"$TALLYD" migrate --data-dir "$WORK/m2" --store-backend postgres --store-path "$DB" \
    --secret-file "$WORK/none.key" >/dev/null 2>"$WORK/err"
check "a missing --secret-file stops the start" test $? -eq 1
check "it says which file" grep -q "none.key: cannot open" "$WORK/err"
check "a missing --secret-file is not created" test ! -e "$WORK/none.key"
check "--secret-file leaves no secret.key in the data dir" test ! -e "$WORK/m2/secret.key"
cp "$SECRET" "$WORK/open.key" && chmod 0644 "$WORK/open.key"
"$TALLYD" migrate --data-dir "$WORK/m2" --store-backend postgres --store-path "$DB" \
    --secret-file "$WORK/open.key" >/dev/null 2>"$WORK/err"
check "a group-readable --secret-file is refused" test $? -eq 1

signup() {
    api POST /v1/users "$(jq -nc --arg h "$1" --arg p "$2" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: "User \($h)"}')"
}
login() {
    api POST /v1/sessions "$(jq -nc --arg l "$1" --arg p "$2" '{login: $l, password: $p}')"
    TOK=$(jqb '.token // ""')
}
deposit() { TOKEN=$1 api POST /v1/deposits "{\"amount\": $2, \"currency\": \"USD\", \"source\": \"sandbox\"}"; }
pay() { TOKEN=$1 api POST /v1/payments "{\"to\": \"$2\", \"amount\": $3, \"currency\": \"USD\"}"; }
bal() {
    curl -s --max-time 10 -H "Authorization: Bearer $2" "$1/v1/wallets" |
        jq -r '[.data[] | select(.currency == "USD") | .balance.available] | first // "none"'
}

PW_ALICE=$(newpw) PW_BOB=$(newpw)
BASE=$A signup alice "$PW_ALICE"
expect "sign up alice on A" 201
ALICE_ID=$(jqb .id)
BASE=$B signup bob "$PW_BOB"
expect "sign up bob on B" 201
BOB_ID=$(jqb .id)
BASE=$B login alice "$PW_ALICE"
expect "alice logs in on B" 201
ALICE=$TOK
BASE=$A login bob "$PW_BOB"
expect "bob logs in on A" 201
BOB=$TOK
BASE=$A TOKEN=$ALICE api GET /v1/me
expect "alice's token from B works on A" 200 ".id == \"$ALICE_ID\""
BASE=$B TOKEN=$BOB api GET /v1/me
expect "bob's token from A works on B" 200 ".id == \"$BOB_ID\""

if tl_start own "${NODE_ARGS[@]}" --store-path "$DB"; then
    BASE="http://127.0.0.1:$PORT" TOKEN=$ALICE api GET /v1/me
    check_eq "a node with another secret refuses the token" 401 "$STATUS"
    tl_stop "$PID"
else
    fail "node with its own secret does not start"
fi

# ---------------------------------------------------------------------------------------------
echo "-- flows: writes on one node, reads on the other"
BASE=$A deposit "$ALICE" 100000
expect "deposit on A" 201 '.balance_after == 100000'
check_eq "alice's balance read on B" 100000 "$(bal "$B" "$ALICE")"
BASE=$B deposit "$BOB" 5000
expect "deposit on B" 201 '.balance_after == 5000'
check_eq "bob's balance read on A" 5000 "$(bal "$A" "$BOB")"

BASE=$B pay "$ALICE" @bob 2550
expect "alice pays bob on B" 201 ".amount == 2550 and .to.id == \"$BOB_ID\" and .fee > 0"
PAY1=$(jqb .id) FEE1=$(jqb .fee)
ALICE_AFTER=$((100000 - 2550 - FEE1))
check_eq "payment balance_after is alice's" "$ALICE_AFTER" "$(jqb .balance_after)"
BASE=$A pay "$BOB" @alice 550
expect "bob pays alice on A" 201 '.amount == 550'
PAY2=$(jqb .id) FEE2=$(jqb .fee)
ALICE_AFTER=$((ALICE_AFTER + 550))
BOB_AFTER=$((5000 + 2550 - 550 - FEE2))
for node in A B; do
    url=${!node}
    check_eq "alice's balance on $node" "$ALICE_AFTER" "$(bal "$url" "$ALICE")"
    check_eq "bob's balance on $node" "$BOB_AFTER" "$(bal "$url" "$BOB")"
    BASE=$url TOKEN=$BOB api GET "/v1/payments/$PAY1"
    expect "bob reads payment 1 on $node" 200 ".id == \"$PAY1\" and .from.id == \"$ALICE_ID\""
    BASE=$url TOKEN=$ALICE api GET "/v1/payments/$PAY2"
    expect "alice reads payment 2 on $node" 200 ".id == \"$PAY2\" and .amount == 550"
    BASE=$url TOKEN=$ALICE api GET /v1/payments
    expect "alice's payment list on $node, newest first" 200 \
        "[.data[].id] == [\"$PAY2\", \"$PAY1\"] and .has_more == false"
    BASE=$url TOKEN=$BOB api GET '/v1/payments?direction=received'
    expect "bob's received list on $node" 200 "[.data[].id] == [\"$PAY1\"]"
    BASE=$url TOKEN=$ALICE api GET /v1/wallets
    wal=$(jqb '.data[0].id')
    BASE=$url TOKEN=$ALICE api GET "/v1/wallets/$wal/transactions?limit=100"
    expect "alice's history on $node" 200 \
        ".data[0].payment_id == \"$PAY2\" and .data[0].amount == 550 and
         .data[0].balance_after == $ALICE_AFTER and .data[-1].type == \"deposit\" and
         .data[-1].balance_after == 100000 and
         ([.data[] | select(.payment_id == \"$PAY1\" and .type == \"payment\")] | length) == 1"
done
BASE=$A pay "$BOB" @alice 99999999
expect "an overdraft on A is refused" 422 '.code == "insufficient_funds"'
check_eq "and moved nothing (read on B)" "$BOB_AFTER" "$(bal "$B" "$BOB")"

# ---------------------------------------------------------------------------------------------
echo "-- bank invariant: concurrent clients on both nodes"
USERS=8
DEPOSITS=$((100000 + 5000))
echo '[' >"$WORK/users.json"
for i in $(seq 1 $USERS); do
    node=A
    [ $((i % 2)) -eq 0 ] && node=B
    pw=$(newpw)
    BASE=${!node} signup "user$i" "$pw"
    [ "$STATUS" = 201 ] || fail "sign up user$i: $STATUS $BODY"
    BASE=${!node} login "user$i" "$pw"
    [ -n "$TOK" ] || fail "log in user$i: $STATUS $BODY"
    amount=$((2000 + i * 137))
    BASE=${!node} deposit "$TOK" "$amount"
    [ "$STATUS" = 201 ] || fail "deposit user$i: $STATUS $BODY"
    DEPOSITS=$((DEPOSITS + amount))
    [ "$i" -gt 1 ] && echo ',' >>"$WORK/users.json"
    jq -nc --arg h "user$i" --arg t "$TOK" '{handle: $h, token: $t}' >>"$WORK/users.json"
done
echo ']' >>"$WORK/users.json"
pass

# money USERS_FILE URL : the sum of every load user's available USD balance, read on URL.
money_total() {
    local total=0 token b
    for token in $(jq -r '.[].token' "$WORK/users.json") "$ALICE" "$BOB"; do
        b=$(bal "$1" "$token")
        [[ $b =~ ^[0-9]+$ ]] || { echo "bad:$b"; return; }
        total=$((total + b))
    done
    echo "$total"
}
fees_sql() { sql "SELECT coalesce(sum(credits_posted - debits_posted), 0) FROM accounts WHERE kind = 2"; }
# invariant NAME URL... : balances + fees = deposits (API on each URL and SQL), no negative
# wallet, every account equals its postings.
invariant() {
    local name=$1 url fees
    shift
    fees=$(fees_sql)
    for url in "$@"; do
        check_eq "$name: API balances + fees = deposits ($url)" "$DEPOSITS" \
            "$(( $(money_total "$url") + fees ))"
    done
    check_eq "$name: SQL wallets + fees = deposits = sandbox funding" "$DEPOSITS $DEPOSITS" \
        "$(sql "SELECT (SELECT sum(credits_posted - debits_posted) FROM accounts WHERE kind IN (1, 2))
                 || ' ' || (SELECT sum(debits_posted - credits_posted) FROM accounts WHERE kind = 3)")"
    check_eq "$name: no wallet is negative" 0 \
        "$(sql "SELECT count(*) FROM accounts WHERE kind = 1 AND credits_posted < debits_posted")"
    check_eq "$name: every account equals the sum of its postings" 0 \
        "$(sql "SELECT count(*) FROM accounts a WHERE a.credits_posted <>
                  (SELECT coalesce(sum(amount), 0) FROM transfers t WHERE t.credit_account_ts = a.timestamp)
                OR a.debits_posted <>
                  (SELECT coalesce(sum(amount), 0) FROM transfers t WHERE t.debit_account_ts = a.timestamp)")"
}

# verify NAME PORT FILE : every 201 of a load output is readable on PORT (load.py verify); on
# failure its report is shown.
verify() {
    local out
    if out=$($LOAD verify --port "$2" --users "$WORK/users.json" --payments "$3"); then
        pass
    else
        fail "$1: $out"
    fi
}

# count_status FILE STATUS [PORT] : answers of a load output with that status (on that port).
count_status() {
    jq -s --argjson s "$2" --argjson p "${3:-0}" \
        '[.[] | select(.status == $s and ($p == 0 or .port == $p))] | length' "$1"
}

# now_s : wall-clock seconds, with a fraction. A load's t counts from its own start, which comes
# after a now_s taken just before it is launched (python's start-up), so EVENT - LAUNCH bounds the
# event's t from above: a t greater than that is surely after the event.
now_s() { date +%s.%N; }

# wait_payments COUNT SECONDS : waits until the payments table has COUNT rows (the load is under
# way), for up to SECONDS.
wait_payments() {
    local deadline=$((SECONDS + $2)) n
    while [ "$SECONDS" -lt "$deadline" ]; do
        n=$(sql "SELECT count(*) FROM payments" 2>/dev/null)
        [ "${n:-0}" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

payments_before=$(sql "SELECT count(*) FROM payments")
# 10 s: every commit waits for fsync, and on a loaded machine 6 s left some runs short.
$LOAD load --ports "$PORT_A,$PORT_B" --users "$WORK/users.json" --clients 8 --seconds 10 \
    --out "$WORK/bank.jsonl" --seed 1
ok=$(count_status "$WORK/bank.jsonl" 201)
echo "   $ok payments acknowledged ($(count_status "$WORK/bank.jsonl" 201 "$PORT_A") on A," \
    "$(count_status "$WORK/bank.jsonl" 201 "$PORT_B") on B)"
check "bank: both nodes acknowledged payments" test "$(count_status "$WORK/bank.jsonl" 201 "$PORT_A")" -gt 20 -a \
    "$(count_status "$WORK/bank.jsonl" 201 "$PORT_B")" -gt 20
check_eq "bank: every answer was 201 or 422" "$(wc -l <"$WORK/bank.jsonl")" \
    "$((ok + $(count_status "$WORK/bank.jsonl" 422)))"
check_eq "bank: one payment row per 201" "$ok" $(($(sql "SELECT count(*) FROM payments") - payments_before))
invariant bank "$A" "$B"
for port in "$PORT_A" "$PORT_B"; do
    verify "bank: every 201 readable on :$port" "$port" "$WORK/bank.jsonl"
done

# ---------------------------------------------------------------------------------------------
echo "-- kill -9 of node B mid-load"
# The kill comes once the load has written payments (not at a fixed time, which python's start-up
# and a slow machine eat into), and the load goes on long enough after it for A to show it works.
rows=$(sql "SELECT count(*) FROM payments")
launched=$(now_s)
$LOAD load --ports "$PORT_A,$PORT_B" --users "$WORK/users.json" --clients 8 --seconds 10 \
    --out "$WORK/kill.jsonl" --seed 2 &
load_pid=$!
TL_JOBS+=("$load_pid")
wait_payments $((rows + 20)) 5
killed_at=$(jq -n "$(now_s) - $launched")
{ kill -KILL "$PID_B" && wait "$PID_B"; } 2>/dev/null
wait "$load_pid"
check "kill: B's clients saw failures after the kill" \
    test "$(count_status "$WORK/kill.jsonl" 0 "$PORT_B")" -gt 0
check_eq "kill: A's clients saw no failure" "$(jq -s --argjson p "$PORT_A" \
    '[.[] | select(.port == $p)] | length' "$WORK/kill.jsonl")" \
    "$(( $(count_status "$WORK/kill.jsonl" 201 "$PORT_A") + $(count_status "$WORK/kill.jsonl" 422 "$PORT_A") ))"
check "kill: A kept acknowledging payments after the kill" test "$(jq -s --argjson p "$PORT_A" \
    --argjson k "$killed_at" '[.[] | select(.port == $p and .status == 201 and .t > $k + 0.5)] | length' \
    "$WORK/kill.jsonl")" -gt 10
verify "kill: every 201 of both nodes readable on A" "$PORT_A" "$WORK/kill.jsonl"
if tl_start b "${NODE_ARGS[@]}" --store-path "$DB" --secret-file "$SECRET"; then
    PORT_B=$PORT B="http://127.0.0.1:$PORT_B"
    verify "kill: restarted B serves every 201" "$PORT_B" "$WORK/kill.jsonl"
else
    fail "kill: node B does not restart"
fi
invariant kill "$A" "$B"
tl_stop "$PID_A"
tl_stop "$PID"

# ---------------------------------------------------------------------------------------------
echo "-- failover: synchronous streaming replica promoted after the primary dies"
if ! replica_lines=$($CLUSTER replica "$TALLY_PG_DIR"); then
    fail "failover: cannot start a replica"
    tl_summary
    exit 1
fi
eval "$replica_lines"
# Only now, so the replica's copy of postgresql.auto.conf does not wait for a standby itself.
"$psql_bin" -X -q "$TALLY_PG_CONNINFO" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
    -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
    state=$(sql "SELECT sync_state FROM pg_stat_replication")
    [ "$state" = sync ] && break
    sleep 0.1
done
check_eq "failover: the replica is synchronous" sync "$state"
HA_DB="host=127.0.0.1,127.0.0.1 port=$TALLY_PG_PORT,$TALLY_PG_REPLICA_PORT user=tally dbname=nodes"
HA_DB="$HA_DB target_session_attrs=read-write connect_timeout=2"
if tl_start ha "${NODE_ARGS[@]}" --store-path "$HA_DB" --secret-file "$SECRET"; then
    PORT_H=$PORT
    # 20 s: the kill comes once the load has written payments, the promotion takes its time and
    # the node's reconnect backoff doubles up to 5 s; what counts is the load after its reconnect.
    rows=$(sql "SELECT count(*) FROM payments")
    launched=$(now_s)
    $LOAD load --ports "$PORT_H" --users "$WORK/users.json" --clients 6 --seconds 20 \
        --out "$WORK/failover.jsonl" --seed 3 &
    load_pid=$!
    TL_JOBS+=("$load_pid")
    wait_payments $((rows + 30)) 8
    reconnects=$(grep -c 'store.postgres: reconnected' "$WORK/ha.log")
    # An upper bound of the kill's t: with the primary dead nothing more can be acknowledged
    # until the node has reconnected to the promoted replica, so "before" counts no later 201.
    killed_at=$(jq -n "$(now_s) - $launched")
    $CLUSTER kill "$TALLY_PG_DIR"
    sleep 0.5
    $CLUSTER promote "$TALLY_PG_REPLICA_DIR"
    # When the node logged its reconnect (polled, so no earlier than it was): "after" counts from
    # there; never logged, it counts nothing.
    reconnected_at=1e9
    while kill -0 "$load_pid" 2>/dev/null; do
        if [ "$(grep -c 'store.postgres: reconnected' "$WORK/ha.log")" -gt "$reconnects" ]; then
            reconnected_at=$(jq -n "$(now_s) - $launched")
            break
        fi
        sleep 0.1
    done
    wait "$load_pid"
    DB="$TALLY_PG_REPLICA_CONNINFO dbname=nodes"
    check_eq "failover: the replica is now a primary" f "$(sql "SELECT pg_is_in_recovery()")"
    before=$(jq -s --argjson k "$killed_at" '[.[] | select(.status == 201 and .t < $k)] | length' \
        "$WORK/failover.jsonl")
    after=$(jq -s --argjson r "$reconnected_at" '[.[] | select(.status == 201 and .t > $r)] | length' \
        "$WORK/failover.jsonl")
    echo "   $before payments acknowledged before the kill (t < $killed_at)," \
        "$after after the reconnect (t > $reconnected_at)," \
        "$(count_status "$WORK/failover.jsonl" 0) connection failures," \
        "$(jq -s '[.[] | select(.status >= 500)] | length' "$WORK/failover.jsonl") 5xx"
    check "failover: payments acknowledged before the kill" test "$before" -gt 10
    check "failover: the node reconnected and acknowledged payments after the promotion" \
        test "$after" -gt 10
    check "failover: the node logged its reconnect" grep -q 'store.postgres: reconnected' "$WORK/ha.log"
    verify "failover: every 201 is on the promoted replica" "$PORT_H" "$WORK/failover.jsonl"
    invariant failover "http://127.0.0.1:$PORT_H"
    tl_stop "$PID"
else
    fail "failover: the node with the two-host conninfo does not start"
fi

echo "run_pg_nodes: $((SECONDS - start))s"
tl_summary
[ "$FAILED" -eq 0 ]
