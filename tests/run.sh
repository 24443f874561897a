#!/usr/bin/env bash
# Runs every test suite and prints one closing line: "N passed, N failed".
#   tests/run.sh BUILD_DIR ASAN_BUILD_DIR
# Each suite prints its own "N passed, N failed" line, which is added up here. A suite that
# exits non-zero without such a line counts as one failure.
#
# Suites run TALLY_TEST_JOBS at a time (default 3): most of them wait on servers, sleeps and
# fsyncs rather than compute, so on a 2-core machine three at once finish far sooner than one
# after another. Each suite's output goes to its own log; the table is printed in a fixed
# order at the end, with the last 60 lines of every failed suite. TALLY_TEST_JOBS=1 runs them
# one by one.
set -uo pipefail
build=${1:-build}
asan=${2:-build-asan}
jobs=${TALLY_TEST_JOBS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
logs=$(mktemp -d)
total_passed=0
total_failed=0
failed_suites=()

# suite_run NAME CMD... : runs one suite into $logs, leaves "passed failed seconds" in .result.
suite_run() {
    local name=$1; shift
    local file
    file="$logs/$(echo "$name" | tr '/ ' '__')"
    local start=$SECONDS
    "$@" >"$file.log" 2>&1
    local rc=$?
    local line p=0 f=0
    line=$(grep -E '^([A-Za-z_]+: )?[0-9]+ passed, [0-9]+ failed' "$file.log" | tail -n 1)
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
    fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    echo "$p $f $((SECONDS - start))" >"$file.result"
}

# suite_start NAME CMD... : suite_run in the background, at most $jobs at once.
suite_start() {
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    suite_run "$@" &
}

# The unit and integration binaries, release then sanitizer build, one after another.
unit_suites() {
    local dir label bin rel
    for dir in "$build" "$asan"; do
        label=release
        [ "$dir" = "$asan" ] && label=asan
        while IFS= read -r bin; do
            rel=${bin#"$dir"/tests/}
            suite_run "$label/$rel" env TALLY_BUILD="$dir" "$bin"
        done < <(find "$dir/tests" -type f -name 'test_*' -perm -u+x | sort)
    done
}

cd "$root"
start_s=$SECONDS
# Script suites (API over HTTP, PostgreSQL, fuzz smoke, lint), the longest first so that the
# last to finish are short ones. Each gets the build dir and the sanitizer build dir.
scripts=()
while IFS= read -r script; do
    scripts+=("$script")
done < <(find tests -type f -name 'run_*.sh' | sort)
# The longest, by their times in a full run (sleep-bound ones like run_stepup included), in this
# order; then the rest in name order.
longest=(tests/pg/run_pg_store.sh tests/api/run_stepup.sh tests/pg/run_pg_api.sh
    tests/api/run_api.sh tests/pg/run_pg_stepup.sh tests/pg/run_pg_nodes.sh
    tests/api/run_identity.sh tests/api/run_async.sh)
long_first=()
for script in "${longest[@]}"; do
    [ -e "$script" ] && long_first+=("$script")
done
for script in "${scripts[@]}"; do
    case " ${longest[*]} " in
    *" $script "*) ;;
    *) long_first+=("$script") ;;
    esac
done
# The unit binaries are one job: their names are only known once they ran, so they are
# listed from the logs afterwards.
unit_suites &
for script in "${long_first[@]}"; do
    suite_start "${script#tests/}" bash "$script" "$build" "$asan"
done
wait

# The table: unit suites first (in the order they ran), then the scripts in name order.
report() {
    local name=$1 file p f s
    file="$logs/$(echo "$name" | tr '/ ' '__')"
    if [ ! -e "$file.result" ]; then
        p=0 f=1 s=0
    else
        read -r p f s <"$file.result"
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    printf '%-40s %5d passed, %3d failed  (%ds)\n' "$name" "$p" "$f" "$s"
    if [ "$f" -ne 0 ]; then
        failed_suites+=("$name")
        echo "---- $name output (last 60 lines) ----"
        tail -n 60 "$file.log" 2>/dev/null
        echo "----"
    fi
}
for dir in "$build" "$asan"; do
    label=release
    [ "$dir" = "$asan" ] && label=asan
    while IFS= read -r bin; do
        report "$label/${bin#"$dir"/tests/}"
    done < <(find "$dir/tests" -type f -name 'test_*' -perm -u+x | sort)
done
for script in "${scripts[@]}"; do
    report "${script#tests/}"
done

rm -rf "$logs"
echo "== $((SECONDS - start_s)) s with $jobs suites at a time (TALLY_TEST_JOBS)"
if [ ${#failed_suites[@]} -ne 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
