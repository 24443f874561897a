#!/usr/bin/env bash
# pg_cluster.sh - a throwaway PostgreSQL cluster for tests, on a free loopback port.
#
#   pg_cluster.sh start      make and start a cluster in a new temp dir; prints `export` lines
#                            (TALLY_PG_DIR, TALLY_PG_PORT, TALLY_PG_CONNINFO) for eval
#   pg_cluster.sh env [DIR]  prints the same lines again for a running cluster
#   pg_cluster.sh stop [DIR] stops the cluster and removes its directory
#   pg_cluster.sh replica PRIMARY_DIR
#                            a streaming replica of the running cluster in PRIMARY_DIR
#                            (pg_basebackup -R over loopback, its own temp dir and port);
#                            prints TALLY_PG_REPLICA_DIR, TALLY_PG_REPLICA_PORT and
#                            TALLY_PG_REPLICA_CONNINFO export lines
#   pg_cluster.sh promote DIR
#                            promotes the replica in DIR to a primary (waits until it is one)
#   pg_cluster.sh kill DIR   SIGKILLs the server in DIR and every process it started (a
#                            crash: no shutdown checkpoint, clients see their connections cut)
#
# DIR defaults to $TALLY_PG_DIR. The cluster uses Debian's binaries
# (/usr/lib/postgresql/<newest>/bin), runs as an unprivileged user (the system user tallytest,
# created on first use, when this runs as root; else the caller), listens on 127.0.0.1 only
# (its Unix socket lives inside DIR, mode 0700) and keeps fsync and synchronous_commit on so
# that durability tests mean something. Authentication is trust for the cluster's own
# superuser "tally": nothing but loopback can reach it and it lives for one test run.
# Diagnostics go to stderr; stdout carries only the export lines. TALLY_PG_OPTIONS adds server
# options (for example "-c max_connections=600" for a benchmark).
set -euo pipefail

PG_USER=tally
RUN_AS=tallytest

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        echo "pg_cluster: no PostgreSQL server binaries under /usr/lib/postgresql" \
             "(apt-get install postgresql)" >&2
        exit 1
    fi
    echo "$dir"
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

owner_ensure() {
    if [ "$(id -u)" -ne 0 ] || id -u "$RUN_AS" >/dev/null 2>&1; then
        return 0
    fi
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        "$RUN_AS" >&2
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# print_env DIR [PREFIX] : the export lines, named TALLY_PG_* or PREFIX_*.
print_env() {
    local dir=$1 prefix=${2:-TALLY_PG}
    local port
    port=$(cat "$dir/port")
    echo "export ${prefix}_DIR='$dir'"
    echo "export ${prefix}_PORT='$port'"
    echo "export ${prefix}_CONNINFO='host=127.0.0.1 port=$port user=$PG_USER dbname=postgres connect_timeout=10'"
}

# server_start BIN DIR : starts the cluster in DIR/data on a free loopback port (a few tries,
# since a port free now may be taken before the server binds it) and records it in DIR/port.
server_start() {
    local bin=$1 dir=$2 port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o \
                "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir' \
                 -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
                 -c max_connections=300 -c shared_buffers=64MB ${TALLY_PG_OPTIONS:-}" \
                >/dev/null 2>&1; then
            echo "$port" >"$dir/port"
            return 0
        fi
        echo "pg_cluster: start on port $port failed (attempt $attempt)" >&2
    done
    tail -n 20 "$dir/server.log" >&2 || true
    return 1
}

new_dir() {
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tally-pg.XXXXXX")
    chmod 0700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$RUN_AS:" "$dir"
    fi
    echo "$dir"
}

cmd_start() {
    local bin dir
    bin=$(pg_bin)
    owner_ensure
    dir=$(new_dir)
    if ! as_owner "$bin/initdb" -D "$dir/data" -U "$PG_USER" --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    if ! server_start "$bin" "$dir"; then
        rm -rf "$dir"
        exit 1
    fi
    print_env "$dir"
}

# The replica copies the primary over a replication connection (initdb's pg_hba.conf trusts
# loopback replication) and follows it; -R writes primary_conninfo and standby.signal.
cmd_replica() {
    local primary=$1 bin dir
    bin=$(pg_bin)
    if [ -z "$primary" ] || [ ! -f "$primary/port" ]; then
        echo "pg_cluster: no running cluster at '$primary'" >&2
        exit 1
    fi
    dir=$(new_dir)
    if ! as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$(cat "$primary/port")" -U "$PG_USER" \
            -D "$dir/data" -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1; then
        cat "$dir/basebackup.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    if ! server_start "$bin" "$dir"; then
        rm -rf "$dir"
        exit 1
    fi
    print_env "$dir" TALLY_PG_REPLICA
}

cmd_promote() {
    local dir=$1 bin
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 30 promote >/dev/null
}

# SIGKILL the postmaster and its children by pid (postmaster.pid's first line), as a crash.
cmd_kill() {
    local dir=$1 pid children
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
    if [ -z "$pid" ]; then
        echo "pg_cluster: no server running in '$dir'" >&2
        exit 1
    fi
    children=$(ps -o pid= --ppid "$pid" || true)
    kill -KILL "$pid" $children 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    echo "pg_cluster: server $pid in '$dir' did not die" >&2
    exit 1
}

cmd_stop() {
    local dir=$1 bin
    bin=$(pg_bin)
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        echo "pg_cluster: no cluster at '$dir'" >&2
        exit 1
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
start) cmd_start ;;
env) print_env "${2:-${TALLY_PG_DIR:-}}" ;;
stop) cmd_stop "${2:-${TALLY_PG_DIR:-}}" ;;
replica) cmd_replica "${2:-}" ;;
promote) cmd_promote "${2:-}" ;;
kill) cmd_kill "${2:-}" ;;
*)
    echo "usage: pg_cluster.sh start | env [DIR] | stop [DIR] | replica PRIMARY_DIR | promote DIR | kill DIR" >&2
    exit 2
    ;;
esac
