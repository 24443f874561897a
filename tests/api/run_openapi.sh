#!/usr/bin/env bash
# run_openapi.sh [BUILD_DIR] - the OpenAPI contract (docs/openapi.yaml) is valid and matches
# the code. One check, three parts, all of which must hold:
#   1. `redocly lint` passes with the repository's redocly.yaml (recommended-strict: any
#      warning is an error);
#   2. the spec's operations (method + path) are exactly the rows of the route table in
#      src/api/routes.c - no route without a spec entry, no spec entry without a route
#      (parameter names are not compared: {id} and {wallet_id} are the same shape);
#   3. the Problem schema's `code` enum is exactly the error codes of src/util/err.h.
# Redocly CLI is installed on first use into build-tools/node (git-ignored).
# Prints what differs and closes with "1 passed, 0 failed" or "0 passed, 1 failed".
set -uo pipefail
# gojq when installed: jq 1.6 spends about 35 ms starting (tests/api/lib.sh).
if command -v gojq >/dev/null; then
    jq() { gojq "$@"; }
fi

root=$(cd "$(dirname "$0")/../.." && pwd)

tools="$root/build-tools/node"
redocly="$tools/node_modules/.bin/redocly"
work=$(mktemp -d /tmp/tally-openapi.XXXXXX)
trap 'rm -rf "$work"' EXIT

verdict() {
    if [ "$1" -eq 0 ]; then
        echo "1 passed, 0 failed"
        exit 0
    fi
    echo "0 passed, 1 failed"
    exit 1
}

for tool in jq perl; do
    if ! command -v "$tool" >/dev/null; then
        echo "run_openapi.sh: $tool is required"
        verdict 1
    fi
done

if [ ! -x "$redocly" ]; then
    if ! command -v npm >/dev/null; then
        echo "run_openapi.sh: npm is required to install @redocly/cli (make deps installs it)"
        verdict 1
    fi
    echo "installing @redocly/cli into $tools"
    mkdir -p "$tools"
    if ! npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tools" \
        @redocly/cli >"$work/npm.log" 2>&1; then
        echo "run_openapi.sh: npm install @redocly/cli failed:"
        tail -n 20 "$work/npm.log"
        verdict 1
    fi
fi

cd "$root" || verdict 1
status=0

# 1. Lint. Redocly prints banners (Node.js deprecation) on stderr; keep only its findings.
if ! "$redocly" lint docs/openapi.yaml >"$work/lint.log" 2>&1; then
    echo "FAIL: redocly lint docs/openapi.yaml:"
    grep -v '[║╔╚]' "$work/lint.log" | sed '/^\s*$/d' | tail -n 80
    status=1
fi

# 2. Routes. The table's rows, comments stripped (routes.c shows an example row in one).
perl -0777 -ne '
    s{/\*.*?\*/}{}gs;
    s{//[^\n]*}{}g;
    while (/\{\s*HTTP_([A-Z]+)\s*,\s*"([^"]+)"/g) { print "$1 $2\n"; }
' src/api/routes.c | sed -E 's/\{[^}]*\}/{}/g' | sort -u >"$work/routes.txt"

if ! "$redocly" bundle docs/openapi.yaml --ext json -o "$work/spec.json" >"$work/bundle.log" 2>&1; then
    echo "FAIL: redocly bundle:"
    grep -v '[║╔╚]' "$work/bundle.log" | tail -n 20
    verdict 1
fi
jq -r '.paths | to_entries[] | .key as $path | .value | keys[]
       | select(IN("get", "put", "post", "delete", "options", "head", "patch", "trace"))
       | "\(ascii_upcase) \($path)"' "$work/spec.json" |
    sed -E 's/\{[^}]*\}/{}/g' | sort -u >"$work/spec_routes.txt"

if [ ! -s "$work/routes.txt" ]; then
    echo "FAIL: no routes found in src/api/routes.c (has the table's row format changed?)"
    status=1
fi
missing=$(comm -23 "$work/routes.txt" "$work/spec_routes.txt")
extra=$(comm -13 "$work/routes.txt" "$work/spec_routes.txt")
if [ -n "$missing" ]; then
    echo "FAIL: routes in src/api/routes.c missing from docs/openapi.yaml:"
    sed 's/^/    /' <<<"$missing"
    status=1
fi
if [ -n "$extra" ]; then
    echo "FAIL: operations in docs/openapi.yaml with no row in src/api/routes.c:"
    sed 's/^/    /' <<<"$extra"
    status=1
fi

# 3. Error codes: err.h's X-macro rows ("ok" is not an error) against the Problem code enum.
grep -oE 'X\(TL_[A-Z0-9_]+, *"[a-z0-9_]+"' src/util/err.h | sed -E 's/.*"([a-z0-9_]+)"/\1/' |
    grep -vx ok | sort -u >"$work/codes.txt"
jq -r '.components.schemas.Problem.properties.code.enum[]' "$work/spec.json" |
    sort -u >"$work/spec_codes.txt"
if ! diff -u "$work/codes.txt" "$work/spec_codes.txt" >"$work/codes.diff"; then
    echo "FAIL: Problem.code enum differs from src/util/err.h (- err.h, + spec):"
    tail -n +3 "$work/codes.diff" | grep '^[-+]' | sed 's/^/    /'
    status=1
fi

echo "routes in table: $(wc -l <"$work/routes.txt"), operations in spec: $(wc -l <"$work/spec_routes.txt"), error codes: $(wc -l <"$work/codes.txt")"
verdict $status
