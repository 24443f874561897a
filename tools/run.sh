#!/usr/bin/env bash
# run.sh BUILD_DIR DATA_DIR - `make run`: tallyd for development, in the foreground.
#
#   * HTTPS on 127.0.0.1:8443 (TALLY_SERVER_PORT overrides the port) with a self-signed
#     development certificate for localhost / 127.0.0.1 / ::1 (EC P-256), made on first run in
#     DATA_DIR (dev-cert.pem; dev-key.pem mode 0600) and remade when it is about to expire;
#   * sandbox mode (simulated deposits) on the SQLite store in DATA_DIR;
#   * on first run, a demo dataset made through the API: users alice and bob with random strong
#     passwords, printed once here and stored nowhere in plain text, a deposit for each and a
#     payment from alice to bob. Later runs find the demo users and seed nothing.
#
# Seeding talks to a short-lived tallyd on a free loopback port; the server you use is then
# exec'd, so it is the foreground process: Ctrl-C (SIGINT) stops it cleanly.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
data=${2:-var}
[[ $build = /* ]] || build="$root/$build"
[[ $data = /* ]] || data="$root/$data"
tallyd="$build/src/cmd/tallyd"
port=${TALLY_SERVER_PORT:-8443}
# Realistic verification-tier limits (docs/api.md); the environment overrides each one.
export TALLY_LIMITS_UNVERIFIED=${TALLY_LIMITS_UNVERIFIED-send=299.99,receive=999.99,hold=2000.00}
export TALLY_LIMITS_VERIFIED=${TALLY_LIMITS_VERIFIED-send=5000.00,receive=10000.00,hold=20000.00}
export TALLY_LIMITS_BUSINESS=${TALLY_LIMITS_BUSINESS-}
cert="$data/dev-cert.pem"
key="$data/dev-key.pem"
marker="$data/demo-users.txt"

say() { printf 'make run: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

for tool in curl jq openssl; do
    command -v "$tool" >/dev/null || die "$tool is required (make deps installs it)"
done
[ -x "$tallyd" ] || die "$tallyd is not built (make build)"

mkdir -p "$data"
chmod 700 "$data"

# ---- Development certificate: made once, remade within a day of expiry ----
if [ ! -s "$cert" ] || [ ! -s "$key" ] || ! openssl x509 -checkend 86400 -noout -in "$cert" >/dev/null 2>&1; then
    say "creating a self-signed development certificate for localhost in $data"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
            -keyout "$key.tmp" -out "$cert.tmp" -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -addext "extendedKeyUsage=serverAuth" >/dev/null 2>&1
    ) || die "openssl could not create the certificate"
    chmod 600 "$key.tmp"
    chmod 644 "$cert.tmp"
    mv "$key.tmp" "$key"
    mv "$cert.tmp" "$cert"
fi
chmod 600 "$key"

# ---- Demo data, first run only ----
# The marker holds no secret: it says the demo users were made in this database. A database
# removed by hand takes the marker with it.
if [ -f "$marker" ] && [ ! -s "$data/tally.db" ]; then
    rm -f "$marker"
fi

seed_pid=""
seed_log=""
cleanup_seed() {
    if [ -n "$seed_pid" ] && kill -0 "$seed_pid" 2>/dev/null; then
        kill -TERM "$seed_pid" 2>/dev/null
        wait "$seed_pid" 2>/dev/null || true
    fi
    [ -z "$seed_log" ] || rm -f "$seed_log"
}
trap cleanup_seed EXIT

# call METHOD PATH [TOKEN] [BODY] [IDEMPOTENCY_KEY] : prints "STATUS BODY".
call() {
    local args=(-s -w '\n%{http_code}' -X "$1" --max-time 30)
    [ -z "${3:-}" ] || args+=(-H "Authorization: Bearer $3")
    [ -z "${4:-}" ] || args+=(-H 'Content-Type: application/json' --data-binary "$4")
    [ -z "${5:-}" ] || args+=(-H "Idempotency-Key: $5")
    local out
    out=$(curl "${args[@]}" "$seed_base$2") || return 1
    printf '%s %s\n' "${out##*$'\n'}" "${out%$'\n'*}"
}

# seed_user HANDLE DISPLAY_NAME DEPOSIT_MINOR : signs the user up with a new password; prints
# "new PASSWORD TOKEN" or "exists".
seed_user() {
    local handle=$1 name=$2 amount=$3 password out status body token
    password=$(openssl rand -base64 18 | tr '/+' '_-')
    out=$(call POST /v1/users "" "$(jq -nc --arg h "$handle" --arg n "$name" --arg p "$password" \
        '{handle: $h, email: "\($h)@example.com", password: $p, display_name: $n}')") ||
        die "sign-up of $handle: no answer"
    status=${out%% *}
    body=${out#* }
    if [ "$status" = 409 ] && [ "$(jq -r .code <<<"$body")" = handle_taken ]; then
        echo exists
        return 0
    fi
    [ "$status" = 201 ] || die "sign-up of $handle answered $status: $body"
    out=$(call POST /v1/sessions "" "$(jq -nc --arg h "$handle" --arg p "$password" \
        '{login: $h, password: $p}')") || die "log-in of $handle: no answer"
    [ "${out%% *}" = 201 ] || die "log-in of $handle answered ${out%% *}: ${out#* }"
    token=$(jq -r .token <<<"${out#* }")
    out=$(call POST /v1/deposits "$token" \
        "{\"amount\": $amount, \"currency\": \"USD\", \"source\": \"sandbox\"}" \
        "demo-seed-deposit-$handle") || die "deposit for $handle: no answer"
    [ "${out%% *}" = 201 ] || die "deposit for $handle answered ${out%% *}: ${out#* }"
    echo "new $password $token"
}

alice_password=""
bob_password=""
if [ -f "$marker" ]; then
    seeded=existing
else
    seed_log=$(mktemp /tmp/tally-seed.XXXXXX)
    say "first run: seeding demo users through the API"
    "$tallyd" --data-dir "$data" --sandbox --listen 127.0.0.1 --port 0 2>"$seed_log" &
    seed_pid=$!
    seed_port=""
    for _ in $(seq 1 200); do
        seed_port=$(jq -r 'select(.event == "listening") | .port' "$seed_log" 2>/dev/null | head -n 1)
        [ -n "$seed_port" ] && break
        kill -0 "$seed_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$seed_port" ]; then
        tail -n 5 "$seed_log" >&2
        die "tallyd did not start for seeding"
    fi
    seed_base="http://127.0.0.1:$seed_port"
    for _ in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$seed_base/readyz")" = 200 ] && break
        sleep 0.05
    done

    # seed_user runs in a subshell: its die ends only that, so an empty state is a failure.
    read -r alice_state alice_password alice_token <<<"$(seed_user alice 'Alice Demo' 100000)"
    if [ -z "$alice_state" ]; then die "seeding alice failed"; fi
    read -r bob_state bob_password _ <<<"$(seed_user bob 'Bob Demo' 50000)"
    if [ -z "$bob_state" ]; then die "seeding bob failed"; fi
    if [ "$alice_state" = new ]; then
        out=$(call POST /v1/payments "$alice_token" \
            '{"to": "@bob", "amount": 2500, "currency": "USD", "note": "Welcome to Tally"}' \
            demo-seed-payment-alice-bob) || die "demo payment: no answer"
        [ "${out%% *}" = 201 ] || die "demo payment answered ${out%% *}: ${out#* }"
    fi
    unset alice_token
    kill -TERM "$seed_pid"
    wait "$seed_pid" || die "seeding tallyd did not stop cleanly: $(tail -n 3 "$seed_log")"
    seed_pid=""
    printf 'Demo users alice and bob were created on %s. Their passwords were printed once\nand are not stored anywhere.\n' \
        "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >"$marker"
    seeded=new
fi

url="https://localhost:$port"
# The operator token of /v1/admin/... routes: made once, kept in the data directory (0600).
admin_token="$data/admin.token"
if [ ! -s "$admin_token" ]; then
    (umask 077 && openssl rand -base64 32 | tr -d '=\n' | tr '/+' '_-' >"$admin_token")
fi

cat >&2 <<EOF

  Tally (sandbox) on $url
  operator token (for /v1/admin/...): $admin_token
  certificate: $cert (self-signed; trust it with curl --cacert, or accept it in the browser)
  try:   curl --cacert $cert $url/healthz
  passkeys page: $url/web/passkeys.html (WebAuthn needs the name localhost, not 127.0.0.1)
EOF
if [ "$seeded" = new ]; then
    {
        echo
        echo "  Demo logins (shown this once; they are not stored anywhere):"
        [ -z "$alice_password" ] || echo "    alice   $alice_password    (USD 1,000.00 deposited, paid bob 25.00)"
        [ -z "$bob_password" ] || echo "    bob     $bob_password    (USD 500.00 deposited)"
        [ -n "$alice_password" ] || echo "    alice   exists already (password printed when it was made)"
        [ -n "$bob_password" ] || echo "    bob     exists already (password printed when it was made)"
        echo "  log in:  curl --cacert $cert -H 'Content-Type: application/json' \\"
        echo "             -d '{\"login\": \"alice\", \"password\": \"...\"}' $url/v1/sessions"
    } >&2
else
    echo "  Demo users alice and bob exist (their passwords were printed on the first run)." >&2
fi
echo "  Ctrl-C stops the server." >&2
echo >&2

trap - EXIT
cleanup_seed
exec "$tallyd" --data-dir "$data" --sandbox --listen 127.0.0.1 --port "$port" \
    --tls-cert "$cert" --tls-key "$key" --admin-token-file "$admin_token" --webauthn-origin "${TALLY_WEBAUTHN_ORIGIN:-$url}"
