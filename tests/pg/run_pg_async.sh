#!/usr/bin/env bash
# run_pg_async.sh BUILD_DIR - the asynchronous payments suite (tests/api/run_async.sh: parked
# requests, shared batches, same-key duplicates, abandoned requests, SIGTERM under load) on two
# tallyd nodes sharing one PostgreSQL database (tests/pg/pg_suite.sh). Closes with the suite's
# "N passed, M failed".
set -uo pipefail
# shellcheck source=tests/pg/pg_suite.sh
source "$(dirname "$0")/pg_suite.sh"
pg_suite async "${1:-build}"
