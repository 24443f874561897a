#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_NAME.c with clang's libFuzzer (plus ASan and UBSan) and runs it.
#   tests/fuzz/run.sh short   about 20 s of fuzzing in all, split across targets (make test)
#   tests/fuzz/run.sh long    FUZZ_SECONDS (default 300) per target (make fuzz)
#   tests/fuzz/run.sh merge   adds the inputs long runs found that reach new coverage to the
#                             checked-in corpora (the only mode that writes under tests/)
# Prints one line per target and closes with "N passed, M failed"; exits non-zero on a failure.
#
# Adding a target: drop tests/fuzz/fuzz_NAME.c whose first lines say what it needs, e.g.
#   // fuzz-sources: src/core/money.c src/util/err.c @currencies
#   // fuzz-libs: -ljansson
#   // fuzz-args: -max_len=4096
# Sources are repository paths; "@currencies" is the currency table generated into the build
# dir. fuzz-libs go to the linker, fuzz-args to the fuzzer. The seed corpus is
# tests/fuzz/corpus/NAME/ and the optional dictionary tests/fuzz/NAME.dict. Crashing inputs
# are saved as build-fuzz/artifacts/NAME/crash-*; each one becomes a regression test.
#
# Environment: FUZZ_BUILD (build dir, default build-fuzz), FUZZ_SECONDS (long mode),
# FUZZ_SHORT_BUDGET (short mode total, default 20), CC (default clang).
set -uo pipefail

mode=${1:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-clang}
long_seconds=${FUZZ_SECONDS:-300}
short_budget=${FUZZ_SHORT_BUDGET:-20}
short_seconds_min=2
iso4217_json=/usr/share/iso-codes/json/iso_4217.json
cflags=(-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Wall -Wextra -Werror
    "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all)

case $mode in
short | long | merge) ;;
*)
    echo "usage: $0 short|long|merge" >&2
    exit 2
    ;;
esac

# The value of a "// fuzz-KEY:" line among the first lines of a target.
target_header() {
    head -n 10 "$1" | sed -n "s|^// fuzz-$2:[[:space:]]*||p" | head -n 1
}

# True when target is missing or any of the files after it is newer.
any_newer() {
    local target=$1 file
    shift
    [ -e "$target" ] || return 0
    for file in "$@"; do
        [ "$file" -nt "$target" ] && return 0
    done
    return 1
}

# Generated sources, made on demand; prints the path.
generated_source() {
    case $1 in
    @currencies)
        local gen=$out/currencies.c tsv=data/iso4217_exponents.tsv
        if any_newer "$gen" tools/gen_currencies.py "$tsv" "$iso4217_json"; then
            python3 tools/gen_currencies.py "$iso4217_json" "$tsv" "$gen.tmp" >&2 || return 1
            mv "$gen.tmp" "$gen"
        fi
        echo "$gen"
        ;;
    *)
        echo "unknown generated source $1" >&2
        return 1
        ;;
    esac
}

# True when bin is missing, was built by another command, or one of its sources or any
# header under src/ is newer (coarse, but a rebuild takes a second and is never stale).
needs_build() {
    local bin=$1 command=$2
    shift 2
    [ "$(cat "$bin.cmd" 2>/dev/null)" = "$command" ] || return 0
    any_newer "$bin" "$@" && return 0
    [ -n "$(find src -name '*.h' -newer "$bin" -print -quit)" ]
}

# Compiles target NAME from its .c file into $out/fuzz_NAME; the log goes to $out/NAME.build.
build_target() {
    local name=$1 src=$2 bin=$out/fuzz_$1 sources=() libs=() item path
    for item in $(target_header "$src" sources); do
        if [[ $item == @* ]]; then
            path=$(generated_source "$item") || return 1
            sources+=("$path")
        else
            sources+=("$item")
        fi
    done
    read -r -a libs <<<"$(target_header "$src" libs)"
    local cmd=("$cc" "${cflags[@]}" -I src -o "$bin" "$src" "${sources[@]}" "${libs[@]}")
    needs_build "$bin" "${cmd[*]}" "$src" "${sources[@]}" || return 0
    "${cmd[@]}" >"$out/$name.build" 2>&1 || return 1
    echo "${cmd[*]}" >"$bin.cmd"
}

# Runs target NAME for the given seconds on a writable copy of its corpus.
run_target() {
    local name=$1 src=$2 seconds=$3 work=$4 args=() extra=() dict=tests/fuzz/$1.dict
    mkdir -p "$work" "$out/artifacts/$name"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -n "tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
    fi
    [ -f "$dict" ] && args+=(-dict="$dict")
    read -r -a extra <<<"$(target_header "$src" args)"
    UBSAN_OPTIONS=print_stacktrace=1 "$out/fuzz_$name" "${args[@]}" "${extra[@]}" \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$name/" "$work" >"$out/$name.log" 2>&1
}

# "N execs, N exec/s" from a finished run's final stats.
run_stats() {
    local log=$1 execs rate
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    echo "${execs:-?} execs, ${rate:-?} exec/s"
}

merge_target() {
    local name=$1
    mkdir -p "tests/fuzz/corpus/$name"
    [ -d "$out/corpus/$name" ] || return 0
    "$out/fuzz_$name" -merge=1 "tests/fuzz/corpus/$name" "$out/corpus/$name" \
        >"$out/$name.log" 2>&1
}

cd "$root" || exit 1
mkdir -p "$out"
targets=()
for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] && targets+=("$src")
done
count=${#targets[@]}
seconds=$long_seconds
if [ "$mode" = short ] && [ "$count" -gt 0 ]; then
    seconds=$((short_budget / count))
    [ "$seconds" -lt "$short_seconds_min" ] && seconds=$short_seconds_min
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
for src in "${targets[@]}"; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    start=$SECONDS
    if ! build_target "$name" "$src"; then
        printf '%-24s FAILED to build\n' "fuzz_$name"
        tail -n 40 "$out/$name.build" 2>/dev/null
        failed=$((failed + 1))
        continue
    fi
    case $mode in
    short) run_target "$name" "$src" "$seconds" "$scratch/$name" ;;
    long) run_target "$name" "$src" "$seconds" "$out/corpus/$name" ;;
    merge) merge_target "$name" ;;
    esac
    rc=$?
    if [ $rc -eq 0 ]; then
        stats="merged into tests/fuzz/corpus/$name"
        [ "$mode" != merge ] && stats=$(run_stats "$out/$name.log")
        printf '%-24s passed  %s (%ds)\n' "fuzz_$name" "$stats" $((SECONDS - start))
        passed=$((passed + 1))
    else
        printf '%-24s FAILED (exit %d); artifacts in %s\n' "fuzz_$name" $rc "$out/artifacts/$name"
        grep -E 'ERROR|assertion failed|runtime error|SUMMARY|Test unit written' \
            "$out/$name.log" | head -n 20
        tail -n 40 "$out/$name.log"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
