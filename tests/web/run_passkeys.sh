#!/usr/bin/env bash
# run_passkeys.sh BUILD_DIR [ASAN_DIR] - passkeys in a real browser: headless Chromium (Debian
# `chromium`) with the DevTools virtual authenticator (CTAP2, internal, resident keys, user
# verification) registers a passkey with tallyd, logs out, logs in with it (named and
# discoverable), and checks the refusals: reused challenge, another origin, tampered signature,
# foreign user handle, revoked credential. tests/web/passkeys.test.mjs drives the browser.
#
# Two tallyd on loopback with plain HTTP, reached as http://localhost:PORT (a secure context
# for browsers, so WebAuthn works without a certificate): A is configured with
# webauthn.origin = its own origin; B only serves the same page from another origin. The
# sanitizer build's tallyd is used when it exists (CBOR from a real browser through ASan and
# UBSan). playwright-core is installed on first use into build-tools/playwright (git-ignored).
# Prints "FAIL: ..." lines and closes with "N passed, M failed".
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
asan=${2:-}
[[ $build = /* ]] || build="$root/$build"
[[ -z $asan || $asan = /* ]] || asan="$root/$asan"
TALLYD="$build/src/cmd/tallyd"
if [ -n "$asan" ] && [ -x "$asan/src/cmd/tallyd" ]; then
    TALLYD="$asan/src/cmd/tallyd"
fi
WORK=$(mktemp -d /tmp/tally-passkeys.XXXXXX)
# shellcheck source=tests/api/lib.sh
source "$root/tests/api/lib.sh"
trap tl_cleanup EXIT

give_up() {
    echo "run_passkeys.sh: $*"
    echo "0 passed, 1 failed"
    exit 1
}

for tool in curl jq node npm python3; do
    command -v "$tool" >/dev/null || give_up "$tool is required"
done
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || give_up "chromium is required (Debian package chromium; make deps)"
[ -x "$TALLYD" ] || give_up "$TALLYD not built"

tools="$root/build-tools/playwright"
PLAYWRIGHT="$tools/node_modules/playwright-core"
if [ ! -e "$PLAYWRIGHT/package.json" ]; then
    echo "installing playwright-core into $tools"
    mkdir -p "$tools"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tools" \
        playwright-core >"$WORK/npm.log" 2>&1 || {
        tail -n 20 "$WORK/npm.log"
        give_up "npm install playwright-core failed"
    }
fi

# A free loopback port: the origin names it, so it must be known before tallyd starts.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_a=$(free_port)
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
tl_start a --sandbox --web-dir "$root/web" --port "$port_a" --webauthn-rp-id localhost \
    --webauthn-origin "http://localhost:$port_a" || give_up "server A did not start"
PID_A=$PID
tl_start b --web-dir "$root/web" --port "$port_b" --webauthn-rp-id localhost \
    --webauthn-origin "http://localhost:$port_b" || give_up "server B did not start"
BASE="http://127.0.0.1:$port_a"

handle="pk_$RANDOM$RANDOM"
password="correct horse battery staple $RANDOM"
api POST /v1/users "$(jq -nc --arg h "$handle" --arg p "$password" \
    '{handle: $h, email: ($h + "@example.com"), password: $p, display_name: "Passkey Tester"}')"
[ "$STATUS" = 201 ] || give_up "sign-up answered $STATUS: $BODY"
api POST /v1/sessions "$(jq -nc --arg l "$handle" --arg p "$password" '{login: $l, password: $p}')"
[ "$STATUS" = 201 ] || give_up "login answered $STATUS: $BODY"
token=$(jqb .token)

PLAYWRIGHT="$PLAYWRIGHT" CHROMIUM="$CHROMIUM" BASE="http://localhost:$port_a" \
    OTHER="http://localhost:$port_b" TOKEN="$token" HANDLE="$handle" \
    timeout 120 node "$root/tests/web/passkeys.test.mjs" >"$WORK/node.log" 2>&1
node_rc=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/node.log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/node.log" | tail -n 1)
if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASSED=$((PASSED + BASH_REMATCH[1]))
    FAILED=$((FAILED + BASH_REMATCH[2]))
fi
if [ $node_rc -ne 0 ] && [ "$FAILED" -eq 0 ]; then
    fail "the browser test exited with $node_rc"
fi

# The server logged no sanitizer report and is still serving.
if kill -0 "$PID_A" 2>/dev/null; then pass; else fail "server A died"; fi
if grep -q -E 'AddressSanitizer|runtime error' "$WORK/a.log"; then
    fail "sanitizer report in server A's log: $(grep -m1 -E 'AddressSanitizer|runtime error' "$WORK/a.log")"
else
    pass
fi

tl_summary
[ "$FAILED" -eq 0 ]
