#!/usr/bin/env bash
# run_pg_refunds.sh BUILD_DIR - the refunds suite (tests/api/run_refunds.sh) on two tallyd
# nodes sharing one PostgreSQL database (tests/pg/pg_suite.sh). Closes with the suite's
# "N passed, M failed".
set -uo pipefail
# shellcheck source=tests/pg/pg_suite.sh
source "$(dirname "$0")/pg_suite.sh"
pg_suite refunds "${1:-build}"
