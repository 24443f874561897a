#!/usr/bin/env bash
# Runs every test suite and prints one closing line: "N passed, N failed".
#   tests/run.sh BUILD_DIR ASAN_BUILD_DIR
# Each suite prints its own "N passed, N failed" line, which is added up here. A suite that
# exits non-zero without such a line counts as one failure.
set -uo pipefail
build=${1:-build}
asan=${2:-build-asan}
root=$(cd "$(dirname "$0")/.." && pwd)
logs=$(mktemp -d)
total_passed=0
total_failed=0
failed_suites=()

run_suite() {
    local name=$1; shift
    local log="$logs/$(echo "$name" | tr '/ ' '__').log"
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local line
    line=$(grep -E '^([A-Za-z_]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    local p=0 f=0
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
    fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    printf '%-40s %5d passed, %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
    if [ "$f" -ne 0 ]; then
        failed_suites+=("$name")
        echo "---- $name output (last 60 lines) ----"
        tail -n 60 "$log"
        echo "----"
    fi
}

cd "$root"
# Unit and integration suites: every test binary, release build then sanitizer build.
for dir in "$build" "$asan"; do
    label=release
    [ "$dir" = "$asan" ] && label=asan
    while IFS= read -r bin; do
        rel=${bin#"$dir"/tests/}
        run_suite "$label/$rel" env TALLY_BUILD="$dir" "$bin"
    done < <(find "$dir/tests" -type f -name 'test_*' -perm -u+x | sort)
done

# Script suites (API over HTTP, PostgreSQL, fuzz smoke, lint): each tests/*/run_*.sh gets the
# build dir and the sanitizer build dir.
while IFS= read -r script; do
    run_suite "${script#tests/}" bash "$script" "$build" "$asan"
done < <(find tests -type f -name 'run_*.sh' | sort)

rm -rf "$logs"
if [ ${#failed_suites[@]} -ne 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
