#include "util/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/assert.h"
#include "util/log.h"

enum config_type {
    CONFIG_STRING = 1,
    CONFIG_U32 = 2,
    CONFIG_BOOL = 3,
};

/* Extra validation of a string value; writes why it is wrong into why. */
typedef bool (*config_check_fn)(const char *value, char *why, size_t why_bytes);

struct config_option {
    const char *section;
    const char *key;
    const char *flag; /* "--port", or NULL when only the file and the environment set it */
    enum config_type type;
    size_t offset;
    size_t bytes;             /* strings: room including the NUL */
    const char *default_text; /* strings and bools */
    uint32_t default_u32;
    uint32_t min; /* u32 bounds, inclusive */
    uint32_t max;
    config_check_fn check;
    const char *help;
};

static bool config_check_listen(const char *value, char *why, size_t why_bytes);
static bool config_check_currency(const char *value, char *why, size_t why_bytes);
static bool config_check_log_level(const char *value, char *why, size_t why_bytes);
static bool config_check_nonempty(const char *value, char *why, size_t why_bytes);
static bool config_check_store_backend(const char *value, char *why, size_t why_bytes);
static bool config_check_fee_schedule(const char *value, char *why, size_t why_bytes);
static bool config_check_rp_id(const char *value, char *why, size_t why_bytes);
static bool config_check_origin(const char *value, char *why, size_t why_bytes);

#define CONFIG_FIELD(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define OPT_STR(sec, key, flag, field, def, check, help)                                           \
    {                                                                                              \
        sec, key, flag, CONFIG_STRING, CONFIG_FIELD(field), def, 0, 0, 0, check, help              \
    }
#define OPT_BOOL(sec, key, flag, field, def, help)                                                 \
    {                                                                                              \
        sec, key, flag, CONFIG_BOOL, CONFIG_FIELD(field), def, 0, 0, 0, NULL, help                 \
    }
#define OPT_U32(sec, key, flag, field, def, min, max, help)                                        \
    {                                                                                              \
        sec, key, flag, CONFIG_U32, CONFIG_FIELD(field), NULL, def, min, max, NULL, help           \
    }

/* The one option table: file, environment, flags and --help all come from here. */
static const struct config_option config_options[] = {
    OPT_STR("server", "listen", "--listen", listen, "127.0.0.1", config_check_listen,
            "address to bind (IPv4 or IPv6 literal)"),
    OPT_U32("server", "port", "--port", port, 8080, 0, 65535,
            "TCP port; 0 picks a free one and logs it"),
    OPT_U32("server", "threads", "--threads", threads, TL_HTTP_THREADS_DEFAULT, 1,
            TL_HTTP_THREADS_MAX, "HTTP worker threads"),
    OPT_U32("server", "connections_max", NULL, connections_max, TL_HTTP_CONNECTIONS_DEFAULT, 1,
            TL_HTTP_CONNECTIONS_MAX, "open connections in total"),
    OPT_U32("server", "connections_per_ip_max", NULL, connections_per_ip_max,
            TL_HTTP_CONNECTIONS_PER_IP_DEFAULT, 1, TL_HTTP_CONNECTIONS_MAX,
            "open connections from one client address"),
    OPT_U32("server", "timeout_s", NULL, timeout_s, TL_HTTP_TIMEOUT_S_DEFAULT, 1,
            TL_HTTP_TIMEOUT_S_MAX, "seconds before an idle or slow connection is closed"),
    OPT_BOOL("server", "allow_insecure_http", "--allow-insecure-http", allow_insecure_http, "false",
             "serve plain HTTP on a non-loopback address (behind a TLS proxy only)"),
    OPT_STR("tls", "cert", "--tls-cert", tls_cert, "", NULL,
            "TLS certificate chain PEM file; with tls.key enables HTTPS"),
    OPT_STR("tls", "key", "--tls-key", tls_key, "", NULL, "TLS private key PEM file"),
    OPT_STR("data", "dir", "--data-dir", data_dir, "var", config_check_nonempty,
            "data directory (database, keys); created mode 0700"),
    OPT_STR("data", "secret_file", "--secret-file", secret_file, "", NULL,
            "server secret (32 bytes, mode 0600) shared by every node of one database; "
            "empty: <data.dir>/secret.key, created on first start"),
    OPT_STR("store", "backend", "--store-backend", store_backend, "sqlite",
            config_check_store_backend, "sqlite (one node) or postgres (one database, many nodes)"),
    OPT_STR("store", "path", "--store-path", store_path, "", NULL,
            "sqlite: database file (empty: <data.dir>/tally.db); postgres: libpq conninfo"),
    OPT_BOOL("app", "sandbox", "--sandbox", sandbox, "false",
             "sandbox mode: simulated deposits and rails"),
    OPT_STR("app", "default_currency", "--default-currency", default_currency, "USD",
            config_check_currency, "currency of new wallets (ISO 4217 code)"),
    OPT_U32("ledger", "accounts_max", NULL, accounts_max, TL_LEDGER_ACCOUNTS_DEFAULT, 1024,
            1u << 26, "accounts the in-memory ledger can hold"),
    OPT_U32("writer", "linger_us", "--writer-linger-us", writer_linger_us, 0, 0,
            TL_WRITER_LINGER_US_MAX,
            "microseconds a batch waits for more commands once its first is queued: fewer, "
            "larger commits on a disk whose fsync is slow, for that much latency (0: none)"),
    OPT_U32("auth", "session_ttl_s", "--session-ttl", auth_session_ttl_s, 86400, 60,
            90u * 86400u, "seconds a session token lives after login"),
    OPT_U32("auth", "mfa_challenge_ttl_s", NULL, auth_mfa_challenge_ttl_s, 300, 1, 3600,
            "seconds a login's second-factor challenge (TOTP) stays valid"),
    OPT_U32("fees", "p2p_bps", NULL, fees_p2p_bps, 0, 0, 10000,
            "payment fee in basis points of the amount, paid by the sender (half-up)"),
    OPT_U32("fees", "p2p_fixed_minor", NULL, fees_p2p_fixed_minor, 0, 0, 1000000000,
            "fixed payment fee in minor units of the payment's currency"),
    OPT_STR("fees", "p2p", NULL, fees_p2p_text, "", config_check_fee_schedule,
            "payment fee schedule: bps=N,fixed=D,min=D,max=D (D in major units, e.g. 0.25); "
            "replaces p2p_bps and p2p_fixed_minor"),
    OPT_STR("fees", "instant_payout", NULL, fees_instant_payout_text, "",
            config_check_fee_schedule, "instant payout fee schedule (same form)"),
    OPT_STR("fees", "standard_payout", NULL, fees_standard_payout_text, "",
            config_check_fee_schedule, "standard payout fee schedule (same form)"),
    OPT_STR("fees", "card_funding", NULL, fees_card_funding_text, "", config_check_fee_schedule,
            "card funding fee schedule (same form)"),
    OPT_STR("fees", "fx", NULL, fees_fx_text, "", config_check_fee_schedule,
            "currency conversion fee schedule (same form)"),
    OPT_U32("quotes", "ttl_s", NULL, quotes_ttl_s, 60, 1, 3600,
            "seconds a quote from POST /v1/quotes can be used"),
    OPT_U32("requests", "ttl_s", NULL, requests_ttl_s, 7u * 86400u, 1, 90u * 86400u,
            "seconds a payment request can be paid"),
    OPT_U32("ratelimit", "ip_per_min", NULL, ratelimit_ip_per_min, 600, 1, TL_RATELIMIT_PER_MIN_MAX,
            "requests per minute from one client address"),
    OPT_U32("ratelimit", "ip_burst", NULL, ratelimit_ip_burst, 100, 1, TL_RATELIMIT_BURST_MAX,
            "burst from one client address"),
    OPT_U32("ratelimit", "user_per_min", NULL, ratelimit_user_per_min, 300, 1,
            TL_RATELIMIT_PER_MIN_MAX, "requests per minute from one signed-in user"),
    OPT_U32("ratelimit", "user_burst", NULL, ratelimit_user_burst, 50, 1, TL_RATELIMIT_BURST_MAX,
            "burst from one signed-in user"),
    OPT_U32("ratelimit", "lookup_per_min", NULL, ratelimit_lookup_per_min, 30, 1,
            TL_RATELIMIT_PER_MIN_MAX, "lookups (e.g. recipient search) per minute per key"),
    OPT_U32("ratelimit", "lookup_burst", NULL, ratelimit_lookup_burst, 10, 1,
            TL_RATELIMIT_BURST_MAX, "burst of lookups per key"),
    OPT_U32("audit", "checkpoint_interval_s", "--audit-checkpoint-interval",
            audit_checkpoint_interval_s, 60, 0, 86400,
            "seconds between signed checkpoints of the audit chain's head (0: none)"),
    OPT_STR("log", "level", "--log-level", log_level, "info", config_check_log_level,
            "debug, info, warn or error"),
    OPT_STR("admin", "token_file", "--admin-token-file", admin_token_file, "", NULL,
            "operator bearer token file (32-256 visible ASCII characters, mode 0600) for "
            "/v1/admin/...; empty: no operator routes"),
    OPT_U32("limits", "window_s", NULL, limits_window_s, 7u * 86400u, 1, 366u * 86400u,
            "rolling window of the tiers' send and receive limits, in seconds"),
    OPT_STR("limits", "unverified", NULL, limits_unverified, "", NULL,
            "limits of unverified users: send=D,receive=D,hold=D (major units, each currency "
            "apart; every part optional); empty: none"),
    OPT_STR("limits", "verified", NULL, limits_verified, "", NULL,
            "limits of verified users (same form)"),
    OPT_STR("limits", "business", NULL, limits_business, "", NULL,
            "limits of business users (same form)"),
    OPT_STR("webauthn", "rp_id", "--webauthn-rp-id", webauthn_rp_id, "localhost",
            config_check_rp_id, "passkeys: relying party id, the origin's host or a parent domain"),
    OPT_STR("webauthn", "rp_name", NULL, webauthn_rp_name, "Tally", config_check_nonempty,
            "passkeys: relying party name shown by authenticators"),
    OPT_STR("webauthn", "origin", "--webauthn-origin", webauthn_origin,
            "https://localhost:8443", config_check_origin,
            "passkeys: the web app's origin (scheme://host[:port]) ceremonies must come from"),
    OPT_STR("web", "dir", "--web-dir", web_dir, "web", NULL,
            "directory of static files served under /web/; empty serves none"),
    OPT_U32("schedules", "tick_ms", NULL, schedules_tick_ms, 1000, 10, 60000,
            "milliseconds between the scheduler's looks for due escrows and scheduled payments"),
    OPT_U32("schedules", "grace_s", NULL, schedules_grace_s, 86400, 0, 31u * 86400u,
            "a scheduled payment run later than this after its time is skipped as missed"),
    OPT_U32("schedules", "stale_s", NULL, schedules_stale_s, 30, 1, 3600,
            "seconds before an occurrence a scheduler claimed but did not finish runs again"),
    OPT_BOOL("schedules", "test_intervals", NULL, schedules_test_intervals, "false",
             "TEST ONLY: accept repeat \"every_seconds\" with interval_s on scheduled payments"),
    OPT_STR("fx", "rates_file", "--fx-rates-file", fx_rates_file, "", NULL,
            "exchange rates file, lines \"BASE QUOTE RATE\" (e.g. \"USD EUR 0.9213\"); read at "
            "start, when it changes and on SIGHUP; empty: rates come only from the operator"),
    OPT_U32("fx", "spread_bps", NULL, fx_spread_bps, 50, 0, 1000,
            "what conversions keep: the customer rate is the rate times (1 - spread_bps/10000)"),
    OPT_U32("fx", "rates_max_age_s", NULL, fx_rates_max_age_s, 86400, 1, 30u * 86400u,
            "seconds a rate may be used after it was set; older rates refuse conversions"),
    OPT_U32("fx", "rates_reload_s", NULL, fx_rates_reload_s, 5, 1, 3600,
            "seconds between checks of the rates file for a change"),
    OPT_STR("stepup", "amount_thresholds", NULL, stepup_amount_thresholds,
            "USD:500.00,EUR:450.00,GBP:400.00,JPY:70000", NULL,
            "step-up: payments above CUR:amount (major units, comma-separated) need a second "
            "factor; empty: no amount rule"),
    OPT_BOOL("stepup", "new_recipient", NULL, stepup_new_recipient, "true",
             "step-up: the first payment to a recipient needs a second factor"),
    OPT_U32("stepup", "new_device_s", NULL, stepup_new_device_s, 600, 0, 30u * 86400u,
            "step-up: payments from a session younger than this that has not stepped up yet "
            "need a second factor; 0: off"),
    OPT_BOOL("stepup", "password_change", NULL, stepup_password_change, "true",
             "step-up: changing the password needs a second factor"),
    OPT_BOOL("stepup", "device_keys", NULL, stepup_device_keys, "true",
             "step-up: registering or revoking a device key needs a second factor"),
    OPT_BOOL("stepup", "contact_change", NULL, stepup_contact_change, "true",
             "step-up: changing contact data needs a second factor"),
    OPT_BOOL("stepup", "payout_destination", NULL, stepup_payout_destination, "true",
             "step-up: adding or changing a payout destination needs a second factor"),
    OPT_BOOL("stepup", "require_enrolment", NULL, stepup_require_enrolment, "false",
             "step-up: refuse guarded actions (403 step_up_enrolment_required) to users "
             "without a second factor instead of letting them through"),
    OPT_U32("stepup", "ttl_s", NULL, stepup_ttl_s, 300, 30, 3600,
            "step-up: seconds a challenge and then its completed step-up stay usable"),
    OPT_U32("device_keys", "window_s", NULL, device_keys_window_s, 300, 10, 3600,
            "device keys: seconds a signed request's timestamp may differ from the server's "
            "clock (signatures are remembered that long, so none is accepted twice)"),
};

#define CONFIG_OPTION_COUNT (sizeof(config_options) / sizeof(config_options[0]))

/* ---- Checks ---- */

static bool config_check_listen(const char *value, char *why, size_t why_bytes)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, value, addr) == 1 || inet_pton(AF_INET6, value, addr) == 1) {
        return true;
    }
    snprintf(why, why_bytes, "is not an IP address literal (e.g. 127.0.0.1, ::1, 0.0.0.0)");
    return false;
}

static bool config_check_currency(const char *value, char *why, size_t why_bytes)
{
    bool ok = strlen(value) == 3;
    for (size_t i = 0; ok && i < 3; i++) {
        ok = value[i] >= 'A' && value[i] <= 'Z';
    }
    if (!ok) {
        snprintf(why, why_bytes, "is not a three-letter upper-case currency code");
    }
    return ok;
}

static bool config_check_log_level(const char *value, char *why, size_t why_bytes)
{
    enum log_level level;
    if (log_level_parse(value, &level)) {
        return true;
    }
    snprintf(why, why_bytes, "is not one of debug, info, warn, error");
    return false;
}

static bool config_check_store_backend(const char *value, char *why, size_t why_bytes)
{
    if (strcmp(value, "sqlite") == 0 || strcmp(value, "postgres") == 0) {
        return true;
    }
    snprintf(why, why_bytes, "is not one of sqlite, postgres");
    return false;
}

/* A lower-case DNS name with at least one letter (an IP address is never an RP id). */
static bool config_check_rp_id(const char *value, char *why, size_t why_bytes)
{
    size_t len = strlen(value);
    bool letter = false;
    bool ok = len >= 1 && len <= 253 && value[0] != '.' && value[0] != '-' &&
              value[len - 1] != '.';
    for (size_t i = 0; ok && i < len; i++) {
        char c = value[i];
        letter = letter || (c >= 'a' && c <= 'z');
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        ok = ok && !(c == '.' && value[i + 1] == '.');
    }
    if (!ok || !letter) {
        snprintf(why, why_bytes, "is not a lower-case domain name (e.g. localhost, example.com)");
        return false;
    }
    return true;
}

/* https://host[:port] (http:// only for localhost), no path, query or fragment. */
static bool config_check_origin(const char *value, char *why, size_t why_bytes)
{
    const char *host = NULL;
    if (strncmp(value, "https://", 8) == 0) {
        host = value + 8;
    } else if (strncmp(value, "http://localhost", 16) == 0 &&
               (value[16] == '\0' || value[16] == ':')) {
        host = value + 7;
    }
    bool ok = host != NULL && host[0] != '\0' && host[0] != ':';
    for (const char *c = host; ok && *c != '\0'; c++) {
        ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' ||
             *c == ':';
    }
    if (!ok) {
        snprintf(why, why_bytes, "is not an origin like https://example.com or "
                                 "http://localhost:8080 (lower case, no path)");
    }
    return ok;
}

static bool config_check_nonempty(const char *value, char *why, size_t why_bytes)
{
    if (value[0] != '\0') {
        return true;
    }
    snprintf(why, why_bytes, "must not be empty");
    return false;
}

/* ---- Fee schedules: "bps=175,fixed=0.30,min=0.25,max=25.00", every part optional ---- */

/* Largest schedule amount: 10^14 major units in ten-thousandths (core/fees.h FEES_SCALED_MAX). */
#define CONFIG_FEE_SCALED_MAX 1000000000000000000LL

/* A decimal of major units, [0-9]+ with an optional '.' and 1..4 digits, in ten-thousandths. */
static bool config_fee_decimal(const char *text, size_t len, int64_t *out)
{
    int64_t value = 0;
    size_t i = 0;
    int fraction_digits = -1;
    if (len == 0) {
        return false;
    }
    for (; i < len; i++) {
        char c = text[i];
        if (c == '.' && fraction_digits < 0 && i > 0 && i + 1 < len) {
            fraction_digits = 0;
            continue;
        }
        if (c < '0' || c > '9' || fraction_digits == 4) {
            return false;
        }
        if (value > (CONFIG_FEE_SCALED_MAX - 9) / 10) {
            return false;
        }
        value = value * 10 + (c - '0');
        if (fraction_digits >= 0) {
            fraction_digits++;
        }
    }
    for (int d = fraction_digits < 0 ? 0 : fraction_digits; d < 4; d++) {
        if (value > CONFIG_FEE_SCALED_MAX / 10) {
            return false;
        }
        value *= 10;
    }
    *out = value;
    return true;
}

static bool config_fee_part(struct config_fee_schedule *s, const char *part, size_t len,
                            char *why, size_t why_bytes)
{
    const char *eq = memchr(part, '=', len);
    size_t key_len = eq != NULL ? (size_t)(eq - part) : 0;
    const char *value = eq != NULL ? eq + 1 : "";
    size_t value_len = eq != NULL ? len - key_len - 1 : 0;
    int64_t n = 0;
    if (eq != NULL && key_len == 3 && memcmp(part, "bps", 3) == 0) {
        bool ok = value_len > 0 && value_len <= 5;
        for (size_t i = 0; ok && i < value_len; i++) {
            ok = value[i] >= '0' && value[i] <= '9';
            n = n * 10 + (value[i] - '0');
        }
        if (!ok || n > 10000) {
            snprintf(why, why_bytes, "bps must be an integer 0..10000");
            return false;
        }
        s->bps = (uint32_t)n;
        return true;
    }
    int64_t *field = NULL;
    if (eq != NULL && key_len == 5 && memcmp(part, "fixed", 5) == 0) {
        field = &s->fixed_e4;
    } else if (eq != NULL && key_len == 3 && memcmp(part, "min", 3) == 0) {
        field = &s->min_e4;
    } else if (eq != NULL && key_len == 3 && memcmp(part, "max", 3) == 0) {
        field = &s->max_e4;
    }
    if (field == NULL) {
        snprintf(why, why_bytes, "expects bps=N,fixed=D,min=D,max=D (any of them)");
        return false;
    }
    if (!config_fee_decimal(value, value_len, &n)) {
        snprintf(why, why_bytes,
                 "amounts are major units with at most 4 decimals, e.g. 0.25 or 25.00");
        return false;
    }
    *field = n;
    return true;
}

/* Parses text into *out (which is reset first). An empty text is a free schedule. */
static bool config_fee_schedule_parse(const char *text, struct config_fee_schedule *out,
                                      char *why, size_t why_bytes)
{
    struct config_fee_schedule s = {0, 0, 0, -1, 0};
    const char *part = text;
    while (*part != '\0') {
        const char *comma = strchr(part, ',');
        size_t len = comma != NULL ? (size_t)(comma - part) : strlen(part);
        if (!config_fee_part(&s, part, len, why, why_bytes)) {
            return false;
        }
        part += len;
        if (*part == ',') {
            part++;
            if (*part == '\0') {
                snprintf(why, why_bytes, "ends with a comma");
                return false;
            }
        }
    }
    if (s.max_e4 != -1 && s.max_e4 < s.min_e4) {
        snprintf(why, why_bytes, "max is below min");
        return false;
    }
    *out = s;
    return true;
}

static bool config_check_fee_schedule(const char *value, char *why, size_t why_bytes)
{
    struct config_fee_schedule unused;
    return config_fee_schedule_parse(value, &unused, why, why_bytes);
}

bool config_listen_is_loopback(const char *listen)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, listen, &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, listen, &v6) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&v6);
    }
    return false;
}

/* ---- Applying one value ---- */

static void config_error(char error[CONFIG_ERROR_BYTES], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void config_error(char error[CONFIG_ERROR_BYTES], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, CONFIG_ERROR_BYTES, fmt, ap);
    va_end(ap);
}

static bool config_parse_bool(const char *value, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Decimal digits only, no sign, no spaces; false past max. */
static bool config_parse_u32(const char *value, uint32_t max, uint32_t *out)
{
    uint64_t n = 0;
    if (value[0] == '\0') {
        return false;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > max) {
            return false;
        }
    }
    *out = (uint32_t)n;
    return true;
}

/* Sets one option from text; source names where it came from for the error line. */
static enum tl_err config_apply(struct config *config, const struct config_option *option,
                                const char *value, const char *source,
                                char error[CONFIG_ERROR_BYTES])
{
    char *field = (char *)config + option->offset;
    char why[160] = "";
    switch (option->type) {
    case CONFIG_STRING:
        if (strlen(value) >= option->bytes) {
            snprintf(why, sizeof(why), "is longer than %zu bytes", option->bytes - 1);
            break;
        }
        if (option->check != NULL && !option->check(value, why, sizeof(why))) {
            break;
        }
        memcpy(field, value, strlen(value) + 1);
        return TL_OK;
    case CONFIG_BOOL:
        if (!config_parse_bool(value, (bool *)(void *)field)) {
            snprintf(why, sizeof(why), "is not a boolean (true/false)");
            break;
        }
        return TL_OK;
    case CONFIG_U32: {
        uint32_t n = 0;
        if (!config_parse_u32(value, option->max, &n) || n < option->min) {
            snprintf(why, sizeof(why), "is not a whole number in %u..%u", option->min, option->max);
            break;
        }
        memcpy(field, &n, sizeof(n));
        return TL_OK;
    }
    }
    /* A conninfo may hold a password: its value is never echoed. */
    if (option->offset == offsetof(struct config, store_path)) {
        value = "(not shown)";
    }
    config_error(error, "%s.%s: '%.64s' %s (from %s)", option->section, option->key, value, why,
                 source);
    return TL_ERR_INVALID_REQUEST;
}

static void config_defaults(struct config *config)
{
    char unused[CONFIG_ERROR_BYTES];
    memset(config, 0, sizeof(*config));
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const struct config_option *option = &config_options[i];
        if (option->type == CONFIG_U32) {
            memcpy((char *)config + option->offset, &option->default_u32, sizeof(uint32_t));
            continue;
        }
        /* Defaults pass their own checks; a table typo must not ship. */
        enum tl_err err = config_apply(config, option, option->default_text, "default", unused);
        TL_ASSERT(err == TL_OK);
    }
}

static const struct config_option *config_find(const char *section, const char *key)
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        if (strcmp(config_options[i].section, section) == 0 &&
            strcmp(config_options[i].key, key) == 0) {
            return &config_options[i];
        }
    }
    return NULL;
}

static const struct config_option *config_find_flag(const char *flag, size_t flag_len)
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const char *f = config_options[i].flag;
        if (f != NULL && strlen(f) == flag_len && memcmp(f, flag, flag_len) == 0) {
            return &config_options[i];
        }
    }
    return NULL;
}

/* "TALLY_SERVER_PORT" for [server] port. */
static void config_env_name(const struct config_option *option, char *out, size_t out_bytes)
{
    int n = snprintf(out, out_bytes, "TALLY_%s_%s", option->section, option->key);
    TL_ASSERT(n > 0 && (size_t)n < out_bytes);
    for (char *p = out; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
}

/* ---- Sources ---- */

struct config_ini_ctx {
    struct config *config;
    const char *path;
    enum tl_err err;
    char *error;
};

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_ini_ctx *ctx = user;
    if (ctx->err != TL_OK) {
        return 0;
    }
    const struct config_option *option = config_find(section, name);
    if (option == NULL) {
        config_error(ctx->error, "%s: unknown key [%.32s] %.64s (see --help)", ctx->path, section,
                     name);
        ctx->err = TL_ERR_INVALID_REQUEST;
        return 0;
    }
    ctx->err = config_apply(ctx->config, option, value, ctx->path, ctx->error);
    return ctx->err == TL_OK ? 1 : 0;
}

static enum tl_err config_load_file(struct config *config, const char *path,
                                    char error[CONFIG_ERROR_BYTES])
{
    struct config_ini_ctx ctx = {config, path, TL_OK, error};
    int rc = ini_parse(path, config_ini_handler, &ctx);
    if (rc == -1) {
        config_error(error, "%s: cannot open config file: %s", path, strerror(errno));
        return TL_ERR_IO;
    }
    if (rc == -2) {
        return TL_ERR_NOMEM;
    }
    if (ctx.err != TL_OK) {
        return ctx.err;
    }
    if (rc != 0) {
        config_error(error, "%s:%d: not a valid INI line", path, rc);
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

static const char *config_env_get(char *const *envp, const char *name)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        if (strncmp(envp[i], name, name_len) == 0 && envp[i][name_len] == '=') {
            return envp[i] + name_len + 1;
        }
    }
    return NULL;
}

static enum tl_err config_load_env(struct config *config, char *const *envp,
                                   char error[CONFIG_ERROR_BYTES])
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        char name[96];
        config_env_name(&config_options[i], name, sizeof(name));
        const char *value = config_env_get(envp, name);
        if (value == NULL) {
            continue;
        }
        enum tl_err err = config_apply(config, &config_options[i], value, name, error);
        if (err != TL_OK) {
            return err;
        }
    }
    return TL_OK;
}

/*
 * Walks argv. The first pass (apply false) finds --help, --config and the command; the second
 * (apply true), after the file and the environment, applies the flags so they win.
 */
static enum tl_err config_load_argv(int argc, char *const *argv, struct config *config, bool apply,
                                    char error[CONFIG_ERROR_BYTES])
{
    bool command_seen = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config->help = true;
            return TL_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (command_seen) {
                config_error(error, "unexpected argument '%.64s' (see --help)", arg);
                return TL_ERR_INVALID_REQUEST;
            }
            command_seen = true;
            if (strcmp(arg, "serve") == 0) {
                config->command = CONFIG_COMMAND_SERVE;
            } else if (strcmp(arg, "migrate") == 0) {
                config->command = CONFIG_COMMAND_MIGRATE;
            } else if (strcmp(arg, "audit-verify") == 0) {
                config->command = CONFIG_COMMAND_AUDIT_VERIFY;
            } else {
                config_error(error, "unknown command '%.64s' (serve, migrate, audit-verify)",
                             arg);
                return TL_ERR_INVALID_REQUEST;
            }
            continue;
        }
        const char *equals = strchr(arg, '=');
        size_t flag_len = equals != NULL ? (size_t)(equals - arg) : strlen(arg);
        const char *value = equals != NULL ? equals + 1 : NULL;
        bool is_config = flag_len == 8 && memcmp(arg, "--config", 8) == 0;
        const struct config_option *option = is_config ? NULL : config_find_flag(arg, flag_len);
        if (!is_config && option == NULL) {
            config_error(error, "unknown option '%.*s' (see --help)", (int)flag_len, arg);
            return TL_ERR_INVALID_REQUEST;
        }
        bool takes_value = is_config || option->type != CONFIG_BOOL;
        if (value == NULL && takes_value) {
            if (i + 1 >= argc) {
                config_error(error, "option %.*s needs a value", (int)flag_len, arg);
                return TL_ERR_INVALID_REQUEST;
            }
            value = argv[++i];
        }
        if (value == NULL) {
            value = "true"; /* a bare boolean flag turns it on */
        }
        if (is_config) {
            if (strlen(value) >= sizeof(config->config_path)) {
                config_error(error, "--config: path is longer than %zu bytes",
                             sizeof(config->config_path) - 1);
                return TL_ERR_INVALID_REQUEST;
            }
            memcpy(config->config_path, value, strlen(value) + 1);
        } else if (apply) {
            enum tl_err err = config_apply(config, option, value, option->flag, error);
            if (err != TL_OK) {
                return err;
            }
        }
    }
    return TL_OK;
}

/* True when the origin's host (checked by config_check_origin) is rp_id or a subdomain. */
static bool config_origin_in_rp(const char *origin, const char *rp_id)
{
    const char *host = strstr(origin, "://");
    TL_ASSERT(host != NULL);
    host += 3;
    const char *colon = strchr(host, ':');
    size_t host_len = colon != NULL ? (size_t)(colon - host) : strlen(host);
    size_t rp_len = strlen(rp_id);
    if (host_len == rp_len) {
        return memcmp(host, rp_id, rp_len) == 0;
    }
    return host_len > rp_len && host[host_len - rp_len - 1] == '.' &&
           memcmp(host + host_len - rp_len, rp_id, rp_len) == 0;
}

/* Rules between options, checked once every source has been applied. */
static enum tl_err config_check_all(const struct config *config, char error[CONFIG_ERROR_BYTES])
{
    if (strcmp(config->store_backend, "postgres") == 0 && config->store_path[0] == '\0') {
        config_error(error, "store.path must hold a libpq conninfo when store.backend is postgres");
        return TL_ERR_INVALID_REQUEST;
    }
    if ((config->tls_cert[0] == '\0') != (config->tls_key[0] == '\0')) {
        config_error(error, "tls.cert and tls.key must be given together");
        return TL_ERR_INVALID_REQUEST;
    }
    if (!config_origin_in_rp(config->webauthn_origin, config->webauthn_rp_id)) {
        config_error(error, "webauthn.origin's host must be webauthn.rp_id or end in .%s",
                     config->webauthn_rp_id);
        return TL_ERR_INVALID_REQUEST;
    }
    if (config->connections_per_ip_max > config->connections_max) {
        config_error(error,
                     "server.connections_per_ip_max (%u) exceeds server.connections_max "
                     "(%u)",
                     config->connections_per_ip_max, config->connections_max);
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

/* Fills fee_schedules from the texts (checked as they were applied) and the legacy keys. */
static enum tl_err config_fees_resolve(struct config *config, char error[CONFIG_ERROR_BYTES])
{
    const char *texts[CONFIG_FEE_OPERATIONS] = {
        config->fees_p2p_text,          config->fees_instant_payout_text,
        config->fees_standard_payout_text, config->fees_card_funding_text,
        config->fees_fx_text,
    };
    char why[128];
    if (config->fees_p2p_text[0] != '\0' &&
        (config->fees_p2p_bps != 0 || config->fees_p2p_fixed_minor != 0)) {
        config_error(error, "fees.p2p replaces fees.p2p_bps and fees.p2p_fixed_minor: set one "
                            "or the other");
        return TL_ERR_INVALID_REQUEST;
    }
    for (size_t i = 0; i < CONFIG_FEE_OPERATIONS; i++) {
        bool ok = config_fee_schedule_parse(texts[i], &config->fee_schedules[i], why, sizeof(why));
        TL_ASSERT(ok); /* every text was checked when it was applied */
    }
    if (config->fees_p2p_text[0] == '\0') {
        config->fee_schedules[0].bps = config->fees_p2p_bps;
        config->fee_schedules[0].fixed_minor = config->fees_p2p_fixed_minor;
    }
    return TL_OK;
}

enum tl_err config_parse(int argc, char *const *argv, char *const *envp, struct config *out,
                         char error[CONFIG_ERROR_BYTES])
{
    TL_ASSERT(argc >= 1);
    TL_ASSERT(out != NULL);
    error[0] = '\0';
    config_defaults(out);
    enum tl_err err = config_load_argv(argc, argv, out, false, error);
    if (err != TL_OK || out->help) {
        return err;
    }
    if (out->config_path[0] != '\0') {
        err = config_load_file(out, out->config_path, error);
        if (err != TL_OK) {
            return err;
        }
    }
    err = config_load_env(out, envp, error);
    if (err != TL_OK) {
        return err;
    }
    err = config_load_argv(argc, argv, out, true, error);
    if (err != TL_OK) {
        return err;
    }
    err = config_check_all(out, error);
    if (err != TL_OK) {
        return err;
    }
    return config_fees_resolve(out, error);
}

void config_help_print(FILE *out, const char *program)
{
    fprintf(out,
            "usage: %s [serve|migrate] [options]\n"
            "\n"
            "  serve    run the API server (default)\n"
            "  migrate  apply database migrations and exit\n"
            "\n"
            "Each option is read from, in increasing priority: its default, the INI file given\n"
            "with --config FILE ([section] key = value), the environment variable\n"
            "TALLY_<SECTION>_<KEY>, and the command-line flag.\n"
            "\n"
            "  --config FILE  INI configuration file\n"
            "  --help         print this text\n\n",
            program);
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const struct config_option *option = &config_options[i];
        char env[96];
        char flag[64];
        char def[32];
        config_env_name(option, env, sizeof(env));
        snprintf(flag, sizeof(flag), "%s%s", option->flag != NULL ? option->flag : "(no flag)",
                 option->flag != NULL && option->type != CONFIG_BOOL ? " VALUE" : "");
        if (option->type == CONFIG_U32) {
            snprintf(def, sizeof(def), "%u", option->default_u32);
        } else {
            snprintf(def, sizeof(def), "%s",
                     option->default_text[0] != '\0' ? option->default_text : "(none)");
        }
        fprintf(out, "  %-28s [%s] %s\n      env %s, default %s\n      %s\n", flag, option->section,
                option->key, env, def, option->help);
    }
}

/* ---- Data directory and secret ---- */

/* dir + "/" + name into out; false when it does not fit. */
static bool config_path_join(char *out, size_t out_bytes, const char *dir, const char *name)
{
    int n = snprintf(out, out_bytes, "%s/%s", dir, name);
    return n > 0 && (size_t)n < out_bytes;
}

static enum tl_err config_secret_create(const char *data_dir, const char *path,
                                        char error[CONFIG_ERROR_BYTES])
{
    enum tl_err err = TL_ERR_IO;
    uint8_t secret[CONFIG_SECRET_BYTES];
    char tmp[TL_CONFIG_PATH_BYTES_MAX + 32];
    int fd = -1;
    int dir_fd = -1;

    if (!config_path_join(tmp, sizeof(tmp), data_dir, CONFIG_SECRET_FILE ".tmp")) {
        config_error(error, "%s: path too long", data_dir);
        return TL_ERR_INVALID_REQUEST;
    }
    if (sodium_init() < 0) {
        config_error(error, "libsodium cannot start");
        return TL_ERR_INTERNAL;
    }
    unlink(tmp); /* a leftover of a crash during a previous first start */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        config_error(error, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    randombytes_buf(secret, sizeof(secret));
    if (write(fd, secret, sizeof(secret)) != (ssize_t)sizeof(secret) || fsync(fd) != 0) {
        config_error(error, "%s: cannot write: %s", tmp, strerror(errno));
        goto out;
    }
    /* link, not rename: never replace a secret another process created meanwhile. */
    if (link(tmp, path) != 0 && errno != EEXIST) {
        config_error(error, "%s: cannot create: %s", path, strerror(errno));
        goto out;
    }
    dir_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || fsync(dir_fd) != 0) {
        config_error(error, "%s: cannot sync directory: %s", data_dir, strerror(errno));
        goto out;
    }
    LOG(LOG_INFO, "secret_created", LOG_STR("path", path));
    err = TL_OK;
out:
    sodium_memzero(secret, sizeof(secret));
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (dir_fd >= 0) {
        close(dir_fd);
    }
    return err;
}

enum tl_err config_data_dir_make(const char *data_dir, char error[CONFIG_ERROR_BYTES])
{
    struct stat st;
    TL_ASSERT(data_dir != NULL);
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        config_error(error, "%s: cannot create data directory: %s", data_dir, strerror(errno));
        return TL_ERR_IO;
    }
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        config_error(error, "%s: data directory is not a directory", data_dir);
        return TL_ERR_IO;
    }
    if ((st.st_mode & 0777) != 0700 && chmod(data_dir, 0700) != 0) {
        config_error(error, "%s: cannot set mode 0700: %s", data_dir, strerror(errno));
        return TL_ERR_IO;
    }
    return TL_OK;
}

enum tl_err config_data_dir_prepare(const char *data_dir, char error[CONFIG_ERROR_BYTES])
{
    struct stat st;
    char path[TL_CONFIG_PATH_BYTES_MAX + 32];
    enum tl_err err = config_data_dir_make(data_dir, error);
    if (err != TL_OK) {
        return err;
    }
    if (!config_path_join(path, sizeof(path), data_dir, CONFIG_SECRET_FILE)) {
        config_error(error, "%s: path too long", data_dir);
        return TL_ERR_INVALID_REQUEST;
    }
    if (lstat(path, &st) == 0) {
        return TL_OK; /* config_secret_load checks its size and mode */
    }
    if (errno != ENOENT) {
        config_error(error, "%s: %s", path, strerror(errno));
        return TL_ERR_IO;
    }
    return config_secret_create(data_dir, path, error);
}

enum tl_err config_secret_load(const char *data_dir, uint8_t out[CONFIG_SECRET_BYTES],
                               char error[CONFIG_ERROR_BYTES])
{
    char path[TL_CONFIG_PATH_BYTES_MAX + 32];
    if (!config_path_join(path, sizeof(path), data_dir, CONFIG_SECRET_FILE)) {
        config_error(error, "%s: path too long", data_dir);
        return TL_ERR_INVALID_REQUEST;
    }
    return config_secret_file_load(path, out, error);
}

enum tl_err config_secret_file_load(const char *path, uint8_t out[CONFIG_SECRET_BYTES],
                                    char error[CONFIG_ERROR_BYTES])
{
    enum tl_err err = TL_ERR_IO;
    uint8_t secret[CONFIG_SECRET_BYTES];
    struct stat st;
    int fd = -1;

    TL_ASSERT(path != NULL);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        config_error(error, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    err = TL_ERR_CORRUPT;
    if (!S_ISREG(st.st_mode) || st.st_size != CONFIG_SECRET_BYTES) {
        config_error(error, "%s: not a %d-byte file", path, CONFIG_SECRET_BYTES);
        goto out;
    }
    if ((st.st_mode & 0077) != 0) {
        config_error(error, "%s: readable by group or others; chmod 0600 it", path);
        goto out;
    }
    if (read(fd, secret, sizeof(secret)) != (ssize_t)sizeof(secret)) {
        config_error(error, "%s: short read", path);
        err = TL_ERR_IO;
        goto out;
    }
    memcpy(out, secret, sizeof(secret));
    err = TL_OK;
out:
    sodium_memzero(secret, sizeof(secret));
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

enum tl_err config_admin_token_load(const char *path, char out[CONFIG_ADMIN_TOKEN_BYTES_MAX + 1],
                                    char error[CONFIG_ERROR_BYTES])
{
    enum tl_err err = TL_ERR_IO;
    char token[CONFIG_ADMIN_TOKEN_BYTES_MAX + 2];
    struct stat st;
    ssize_t got = 0;
    int fd = -1;

    TL_ASSERT(path != NULL);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        config_error(error, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    err = TL_ERR_CORRUPT;
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)sizeof(token)) {
        config_error(error, "%s: not a token file of at most %d characters", path,
                     CONFIG_ADMIN_TOKEN_BYTES_MAX);
        goto out;
    }
    if ((st.st_mode & 0077) != 0) {
        config_error(error, "%s: readable by group or others; chmod 0600 it", path);
        goto out;
    }
    got = read(fd, token, sizeof(token));
    if (got < 0) {
        config_error(error, "%s: cannot read: %s", path, strerror(errno));
        err = TL_ERR_IO;
        goto out;
    }
    size_t len = (size_t)got;
    if (len > 0 && token[len - 1] == '\n') {
        len--;
    }
    bool visible = len >= CONFIG_ADMIN_TOKEN_BYTES_MIN && len <= CONFIG_ADMIN_TOKEN_BYTES_MAX;
    for (size_t i = 0; visible && i < len; i++) {
        visible = token[i] > 0x20 && token[i] < 0x7f;
    }
    if (!visible) {
        config_error(error, "%s: the token must be %d to %d visible ASCII characters", path,
                     CONFIG_ADMIN_TOKEN_BYTES_MIN, CONFIG_ADMIN_TOKEN_BYTES_MAX);
        goto out;
    }
    memcpy(out, token, len);
    out[len] = '\0';
    err = TL_OK;
out:
    sodium_memzero(token, sizeof(token));
    if (fd >= 0) {
        close(fd);
    }
    return err;
}
