/*
 * config.h - tallyd's configuration: one option table, four sources.
 *
 * Every option is one row of the table in config.c: INI section and key, environment name
 * (TALLY_<SECTION>_<KEY>), command-line flag, type, default, bounds and help text. Values are
 * applied in order default -> INI file (--config FILE) -> environment -> flags, and every
 * value is validated as it is applied; the first bad one fails with a one-line message.
 * `tallyd --help` is printed from the same table, so documentation cannot drift from code.
 *
 * Also here: the data directory (created mode 0700) and the server secret it holds
 * (secret.key, 32 random bytes, mode 0600, generated on first start).
 *
 * Never: log or print a secret, or read a value that is not in the table.
 */
#ifndef TL_UTIL_CONFIG_H
#define TL_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "util/limits.h"

enum config_command {
    CONFIG_COMMAND_SERVE = 0, /* the default */
    CONFIG_COMMAND_MIGRATE = 1,
    CONFIG_COMMAND_AUDIT_VERIFY = 2, /* walk the audit chain and report (api/audit.h) */
};

/* An IPv6 address in text plus NUL. */
#define CONFIG_LISTEN_BYTES 46
/* One line of error text for the operator. */
#define CONFIG_ERROR_BYTES 320

/* Room for a WebAuthn relying party id, name or origin, with its NUL. */
#define CONFIG_WEBAUTHN_TEXT_BYTES 256

/* Room for one fee schedule text ("bps=10000,fixed=100000000000000.0000,..." fits). */
/* Room for stepup.amount_thresholds with its NUL. */
#define CONFIG_STEPUP_THRESHOLDS_BYTES 513
#define CONFIG_FEE_TEXT_BYTES 128
#define CONFIG_LIMITS_TEXT_BYTES 128
#define CONFIG_FEE_OPERATIONS 5

/* A fee schedule as configured; the same fields as core/fees.h's struct fees_schedule
 * (amounts in ten-thousandths of a major unit; max_e4 -1 = no maximum). */
struct config_fee_schedule {
    uint32_t bps;
    int64_t fixed_e4;
    int64_t min_e4;
    int64_t max_e4;
    uint32_t fixed_minor;
};

struct config {
    enum config_command command;
    bool help;
    char config_path[TL_CONFIG_PATH_BYTES_MAX]; /* "" when no file was given */
    /* [server] */
    char listen[CONFIG_LISTEN_BYTES]; /* IPv4 or IPv6 literal */
    uint32_t port;                    /* 0: any free port (it is logged) */
    uint32_t threads;
    uint32_t connections_max;
    uint32_t connections_per_ip_max;
    uint32_t timeout_s;
    bool allow_insecure_http;
    /* [tls] */
    char tls_cert[TL_CONFIG_PATH_BYTES_MAX]; /* PEM paths; both or neither */
    char tls_key[TL_CONFIG_PATH_BYTES_MAX];
    /* [data] */
    char data_dir[TL_CONFIG_PATH_BYTES_MAX];
    char secret_file[TL_CONFIG_PATH_BYTES_MAX]; /* "" = <data_dir>/secret.key, created if
                                                 * missing; else a file the operator made
                                                 * (nodes of one database share it) */
    /* [store] */
    char store_backend[16];                   /* "sqlite" or "postgres" */
    char store_path[TL_CONFIG_PATH_BYTES_MAX]; /* sqlite: file ("" = <data_dir>/tally.db);
                                               * postgres: libpq conninfo (may hold a
                                               * password: never logged) */
    /* [app] */
    bool sandbox;
    char default_currency[4]; /* three upper-case letters */
    /* [ledger] */
    uint32_t accounts_max;
    uint32_t writer_linger_us; /* a batch waits this long for company after its first command */
    /* [auth] */
    uint32_t auth_session_ttl_s; /* how long a session token from POST /v1/sessions lives */
    uint32_t auth_mfa_challenge_ttl_s; /* how long a login's TOTP challenge stays valid */
    /* [fees]: peer-to-peer payment fee paid by the sender (core/fees.h); 0 and 0 = free */
    uint32_t fees_p2p_bps;         /* basis points of the amount, 0..10000 */
    uint32_t fees_p2p_fixed_minor; /* plus this many minor units of the payment's currency */
    /* [fees] schedules, one per operation: "bps=175,fixed=0,min=0.25,max=25.00" (every part
     * optional; amounts in major units, at most 4 decimals). fees.p2p, when set, replaces
     * fees.p2p_bps and fees.p2p_fixed_minor (setting both is an error). */
    char fees_p2p_text[CONFIG_FEE_TEXT_BYTES];
    char fees_instant_payout_text[CONFIG_FEE_TEXT_BYTES];
    char fees_standard_payout_text[CONFIG_FEE_TEXT_BYTES];
    char fees_card_funding_text[CONFIG_FEE_TEXT_BYTES];
    char fees_fx_text[CONFIG_FEE_TEXT_BYTES];
    /* The schedules parsed from the above, in the order of core/fees.h's enum fees_operation
     * (p2p, instant_payout, standard_payout, card_funding, fx). */
    struct config_fee_schedule fee_schedules[CONFIG_FEE_OPERATIONS];
    /* [quotes] */
    uint32_t quotes_ttl_s; /* how long a quote from POST /v1/quotes can be used */
    /* [requests] */
    uint32_t requests_ttl_s; /* how long a payment request can be paid */
    /* [ratelimit]: requests per minute and burst per key */
    uint32_t ratelimit_ip_per_min;
    uint32_t ratelimit_ip_burst;
    uint32_t ratelimit_user_per_min;
    uint32_t ratelimit_user_burst;
    uint32_t ratelimit_lookup_per_min;
    uint32_t ratelimit_lookup_burst;
    /* [webauthn]: passkeys (src/auth/webauthn.h). The relying party id is a registrable domain
     * suffix of the origin's host ("localhost" for local use; never an IP address). */
    char webauthn_rp_id[CONFIG_WEBAUTHN_TEXT_BYTES];
    char webauthn_rp_name[CONFIG_WEBAUTHN_TEXT_BYTES];
    char webauthn_origin[CONFIG_WEBAUTHN_TEXT_BYTES]; /* scheme://host[:port], exact match */
    /* [web]: static files served under /web/ (api/static_files.h); "" serves none */
    char web_dir[TL_CONFIG_PATH_BYTES_MAX];
    /* [schedules]: the scheduler of escrow releases and scheduled payments (api/scheduler.h) */
    uint32_t schedules_tick_ms;  /* how often it looks for due work */
    uint32_t schedules_grace_s;  /* an occurrence later than this is skipped as "missed" */
    uint32_t schedules_stale_s;  /* a claimed occurrence unfinished this long is run again */
    bool schedules_test_intervals; /* TEST ONLY: allows repeat "every_seconds" */
    /* [fx]: exchange rates and conversions (api/fx.h, core/fx.h) */
    char fx_rates_file[TL_CONFIG_PATH_BYTES_MAX]; /* "" = no file: rates come from the operator */
    uint32_t fx_spread_bps;      /* 0..1000: customer rate = rate * (10000 - bps) / 10000 */
    uint32_t fx_rates_max_age_s; /* a rate older than this refuses conversions */
    uint32_t fx_rates_reload_s;  /* how often the rates file is checked for a change */
    /* [stepup]: step-up authentication for risky actions (api/stepup.h, core/stepup_rules.h).
     * The rules apply to users with a second factor (TOTP or a passkey); require_enrolment
     * refuses the guarded actions to users without one. */
    char stepup_amount_thresholds[CONFIG_STEPUP_THRESHOLDS_BYTES]; /* "USD:500.00,JPY:70000" */
    bool stepup_new_recipient;
    uint32_t stepup_new_device_s; /* 0: off */
    bool stepup_password_change;
    bool stepup_device_keys;
    bool stepup_contact_change;
    bool stepup_payout_destination;
    bool stepup_require_enrolment;
    uint32_t stepup_ttl_s; /* how long a challenge, then its completed step-up, lives */
    /* [device_keys]: signed money requests (api/device_keys.h) */
    uint32_t device_keys_window_s; /* how far a signature's timestamp may be from now */
    /* [log] */
    char log_level[8]; /* debug, info, warn, error */
    /* [admin]: the operator's bearer token for /v1/admin/... routes (api/operator.h); "" = no
     * operator routes (they answer 404) */
    char admin_token_file[TL_CONFIG_PATH_BYTES_MAX];
    /* [limits]: verification tiers' limits (core/limits.h, api/kyc.h). Each tier's text is
     * "send=D,receive=D,hold=D" (every part optional, D in major units of each currency; ""
     * limits nothing), checked at start by kyc_config_check. */
    uint32_t limits_window_s; /* the rolling window of send and receive limits */
    char limits_unverified[CONFIG_LIMITS_TEXT_BYTES];
    char limits_verified[CONFIG_LIMITS_TEXT_BYTES];
    char limits_business[CONFIG_LIMITS_TEXT_BYTES];
    /* [audit] */
    uint32_t audit_checkpoint_interval_s; /* signed checkpoints of the chain's head; 0: none */
};

/*
 * Fills *out from defaults, the INI file named by --config, the environment envp (a
 * NULL-terminated "NAME=value" array, normally environ) and argv. On error returns
 * TL_ERR_INVALID_REQUEST (bad value, unknown option or key) or TL_ERR_IO (unreadable file)
 * and writes one line (no newline) to error; *out is then unspecified. --help sets out->help
 * and stops validating the rest of the command line.
 */
enum tl_err config_parse(int argc, char *const *argv, char *const *envp, struct config *out,
                         char error[CONFIG_ERROR_BYTES]);

/* Prints the usage text: every option with its flag, environment name and default. */
void config_help_print(FILE *out, const char *program);

/* True when the listen address is loopback (127.0.0.0/8 or ::1). Cannot fail. */
bool config_listen_is_loopback(const char *listen);

/*
 * Creates the data directory mode 0700 if missing (its parent must exist) and tightens an
 * existing one to 0700; nothing else. TL_ERR_IO with a one-line message on failure.
 */
enum tl_err config_data_dir_make(const char *data_dir, char error[CONFIG_ERROR_BYTES]);

/*
 * Creates the data directory mode 0700 if missing (its parent must exist), tightens an
 * existing one to 0700, and creates secret.key (32 bytes from libsodium, mode 0600) if it is
 * missing. TL_ERR_IO with a one-line message on failure.
 */
enum tl_err config_data_dir_prepare(const char *data_dir, char error[CONFIG_ERROR_BYTES]);

/* Bytes of the server secret (HMAC key for tokens). */
#define CONFIG_SECRET_BYTES 32
/* File name of the secret inside the data directory. */
#define CONFIG_SECRET_FILE "secret.key"

/*
 * Reads <data_dir>/secret.key into out. TL_ERR_IO when missing or unreadable, TL_ERR_CORRUPT
 * when it is not exactly CONFIG_SECRET_BYTES long or readable by group or others. out is
 * untouched on error. Callers wipe their copy (sodium_memzero) when done.
 */
enum tl_err config_secret_load(const char *data_dir, uint8_t out[CONFIG_SECRET_BYTES],
                               char error[CONFIG_ERROR_BYTES]);

/*
 * Reads the secret from the file at path (data.secret_file: the one secret every node of a
 * shared database uses, so a session token or idempotency fingerprint made by one node is
 * valid on all). Same checks and errors as config_secret_load; the file is never created.
 */
/* The operator token: CONFIG_ADMIN_TOKEN_BYTES_MIN..MAX visible ASCII characters in a regular
 * file that only its owner can read (mode 0600 or stricter), one optional trailing newline.
 * Same errors as config_secret_file_load; out is NUL-terminated and filled only on TL_OK. */
#define CONFIG_ADMIN_TOKEN_BYTES_MIN 32
#define CONFIG_ADMIN_TOKEN_BYTES_MAX 256
enum tl_err config_admin_token_load(const char *path, char out[CONFIG_ADMIN_TOKEN_BYTES_MAX + 1],
                                    char error[CONFIG_ERROR_BYTES]);

enum tl_err config_secret_file_load(const char *path, uint8_t out[CONFIG_SECRET_BYTES],
                                    char error[CONFIG_ERROR_BYTES]);

#endif
