#!/usr/bin/env bash
# run_pg_events_suite.sh BUILD_DIR - the events suite (tests/api/run_events.sh: payment,
# deposit and payment request events, resume, limits, shutdown) on two tallyd nodes sharing
# one PostgreSQL database (tests/pg/pg_suite.sh): a request made on one node reaches a stream
# on the other. Closes with the suite's "N passed, M failed".
set -uo pipefail
# shellcheck source=tests/pg/pg_suite.sh
source "$(dirname "$0")/pg_suite.sh"
pg_suite events "${1:-build}"
