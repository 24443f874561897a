#!/usr/bin/env bash
# run_pg_paylists.sh BUILD_DIR - the payment-list suite (tests/api/run_paylists.sh) against two
# tallyd nodes sharing one PostgreSQL database, requests alternating between the nodes: every
# kind of payment row, listed page by page in every direction, equals the payments table
# (PostgreSQL keeps its per-user indexes; the answers must be SQLite's). Release build only.
set -uo pipefail

# shellcheck source=tests/pg/pg_suite.sh
source "$(cd "$(dirname "$0")" && pwd)/pg_suite.sh"
pg_suite paylists "${1:-build}"
