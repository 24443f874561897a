#!/usr/bin/env bash
# run_pg_movement.sh BUILD_DIR - the payment requests, splits, fees and quotes suite
# (tests/api/run_movement.sh) on two tallyd nodes sharing one PostgreSQL database
# (tests/pg/pg_suite.sh). Closes with the suite's "N passed, M failed".
set -uo pipefail
# shellcheck source=tests/pg/pg_suite.sh
source "$(dirname "$0")/pg_suite.sh"
pg_suite movement "${1:-build}"
