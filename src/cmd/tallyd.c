/*
 * tallyd - the Tally API server. Wiring only: configuration, store, ledger, writer, readers,
 * identity services, API, server, then wait for SIGTERM/SIGINT and take it all down in reverse
 * order.
 *
 *   tallyd [serve] [options]   run the server (default)
 *   tallyd migrate [options]   apply database migrations and exit
 *   tallyd audit-verify [options]   walk the audit chain and print one line
 *
 * Exit status: 0 after a clean shutdown, 1 when something failed at startup, 2 for a bad
 * command line or configuration; audit-verify: 0 when the chain verifies, 3 when it does not.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/audit.h"
#include "api/authn.h"
#include "api/kyc.h"
#include "api/escrow.h"
#include "api/events.h"
#include "api/fx.h"
#include "api/idempotency.h"
#include "api/operator.h"
#include "api/readers.h"
#include "api/scheduler.h"
#include "api/seen.h"
#include "api/server.h"
#include "api/sessions.h"
#include "api/stepup.h"
#include "auth/password.h"
#include "auth/throttle.h"
#include "auth/token.h"
#include "core/ledger.h"
#include "core/money.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/config.h"
#include "util/log.h"

extern char **environ;

#define TALLYD_DB_FILE "tally.db"

struct tallyd {
    struct config config;
    char db_path[TL_CONFIG_PATH_BYTES_MAX + 16];
    struct store *store;
    struct ledger *ledger;
    struct writer *writer;
    struct readers *readers;
    struct store *app_store; /* the writable handle for users, sessions and wallet rows */
    struct token_key token_key;
    struct password_ctx *passwords;
    struct throttle *throttle;
    struct authn *authn;
    struct operator_auth operator_auth; /* enabled when admin.token_file is set */
    struct api_app app;
    bool app_ready;
    struct idempotency_pruner *pruner; /* deletes idempotency rows past their retention */
    struct seen *seen;                 /* writes sessions' last-seen off the request path */
    struct fx_rates *fx;               /* reads fx.rates_file into the store (SIGHUP: now) */
    struct audit_checkpointer *audit_checkpointer; /* signs the audit chain's head */
    struct store *events_reader;       /* the event hub's own read-only handle */
    struct events_hub *events;         /* polls the outbox for GET /v1/events streams */
    struct server *server;
    struct store *scheduler_store;  /* the scheduler's own writable handle */
    struct scheduler *scheduler;    /* escrow releases and scheduled payments by the clock */
};

static int tallyd_fail(const char *what, enum tl_err err)
{
    fprintf(stderr, "tallyd: %s: %s\n", what, tl_err_code(err));
    return 1;
}

static struct server_config tallyd_server_config(const struct config *c)
{
    struct server_config server_config = {
        .listen = c->listen,
        .port = (uint16_t)c->port,
        .threads = c->threads,
        .connections_max = c->connections_max,
        .connections_per_ip_max = c->connections_per_ip_max,
        .timeout_s = c->timeout_s,
        .tls_cert_path = c->tls_cert,
        .tls_key_path = c->tls_key,
        .allow_insecure_http = c->allow_insecure_http,
    };
    return server_config;
}

/* Checks the server policy, the data directory, its secret and the configured currency,
 * before anything opens. */
static int tallyd_prepare(struct tallyd *t)
{
    char error[CONFIG_ERROR_BYTES];
    uint8_t secret[CONFIG_SECRET_BYTES];
    enum log_level level = LOG_INFO;
    if (log_level_parse(t->config.log_level, &level)) {
        log_level_set(level);
    }
    struct server_config server_config = tallyd_server_config(&t->config);
    char server_error[SERVER_ERROR_BYTES];
    if (server_config_check(&server_config, server_error) != TL_OK) {
        fprintf(stderr, "tallyd: %s\n", server_error);
        return 2;
    }
    if (money_currency_find(t->config.default_currency, 3) == NULL) {
        fprintf(stderr, "tallyd: app.default_currency: '%s' is not an ISO 4217 currency\n",
                t->config.default_currency);
        return 2;
    }
    /* With data.secret_file every node of a shared database reads one operator-made secret;
     * otherwise the data directory holds (and on first start creates) this node's own. */
    enum tl_err secret_err = t->config.secret_file[0] != '\0'
                                 ? config_data_dir_make(t->config.data_dir, error)
                                 : config_data_dir_prepare(t->config.data_dir, error);
    if (secret_err == TL_OK) {
        secret_err = t->config.secret_file[0] != '\0'
                         ? config_secret_file_load(t->config.secret_file, secret, error)
                         : config_secret_load(t->config.data_dir, secret, error);
    }
    if (secret_err != TL_OK) {
        fprintf(stderr, "tallyd: %s\n", error);
        return 1;
    }
    enum tl_err err = token_key_init(&t->token_key, secret, sizeof(secret));
    idempotency_secret_set(secret, sizeof(secret));
    audit_secret_set(secret, sizeof(secret));
    explicit_bzero(secret, sizeof(secret));
    if (err != TL_OK) {
        return tallyd_fail("cannot use the server secret", err);
    }
    if (kyc_config_check(&t->config, error) != TL_OK) {
        fprintf(stderr, "tallyd: %s\n", error);
        return 1;
    }
    if (t->config.admin_token_file[0] != '\0') {
        char token[CONFIG_ADMIN_TOKEN_BYTES_MAX + 1];
        if (config_admin_token_load(t->config.admin_token_file, token, error) != TL_OK) {
            fprintf(stderr, "tallyd: admin.token_file: %s\n", error);
            return 1;
        }
        operator_auth_init(&t->operator_auth, token);
        explicit_bzero(token, sizeof(token));
    }
    if (t->config.store_path[0] != '\0') {
        snprintf(t->db_path, sizeof(t->db_path), "%s", t->config.store_path);
    } else {
        snprintf(t->db_path, sizeof(t->db_path), "%s/" TALLYD_DB_FILE, t->config.data_dir);
    }
    return 0;
}

/* The store every handle opens: store.backend at store.path (a file or a conninfo). */
static struct store_config tallyd_store_config(const struct tallyd *t)
{
    struct store_config store_config = {
        .backend = t->config.store_backend,
        .path = t->db_path,
        .read_only = false,
    };
    return store_config;
}

/* Applies the migrations and says so in one line on stdout. A conninfo may hold a password,
 * so only the backend is named. */
static int tallyd_migrate(struct tallyd *t)
{
    struct store_config store_config = tallyd_store_config(t);
    uint32_t version = 0;
    enum tl_err err = store_open(&store_config, &t->store);
    if (err != TL_OK) {
        return tallyd_fail("migrate: cannot open the store", err);
    }
    err = store_schema_version(t->store, &version);
    store_close(t->store);
    t->store = NULL;
    if (err != TL_OK) {
        return tallyd_fail("migrate: cannot read the schema version", err);
    }
    printf("tallyd: migrated %s store to schema version %u\n", t->config.store_backend, version);
    return 0;
}

/* Walks the audit chain (store/audit_chain.h) and prints one line: OK with the entry count
 * and head, or the first bad seq and why. The store is opened read-only, so it runs next to a
 * serving tallyd (on SQLite too) and changes nothing; after an upgrade, migrate first. */
static int tallyd_audit_verify(struct tallyd *t)
{
    struct store_config store_config = tallyd_store_config(t);
    store_config.read_only = true;
    struct store_audit_report report;
    char head[2 * STORE_AUDIT_HASH_BYTES + 1];
    enum tl_err err = store_open(&store_config, &t->store);
    if (err != TL_OK) {
        return tallyd_fail("audit-verify: cannot open the store", err);
    }
    err = store_audit_verify(t->store, audit_checkpoint_key(), &report);
    store_close(t->store);
    t->store = NULL;
    if (err != TL_OK) {
        return tallyd_fail("audit-verify: cannot read the audit log", err);
    }
    if (!report.ok) {
        printf("audit-verify: FAILED at seq %llu: %s\n", (unsigned long long)report.bad_seq,
               report.reason);
        return 3;
    }
    for (size_t i = 0; i < STORE_AUDIT_HASH_BYTES; i++) {
        snprintf(head + 2 * i, 3, "%02x", report.head_hash[i]);
    }
    printf("audit-verify: OK %llu entries, head seq %llu hash %s, %llu signed checkpoints "
           "(newest at seq %llu)\n",
           (unsigned long long)report.entry_count, (unsigned long long)report.head_seq,
           report.entry_count > 0 ? head : "-", (unsigned long long)report.checkpoint_count,
           (unsigned long long)report.checkpoint_seq_last);
    return 0;
}

/* Password hashing, the login throttle, sessions: what the identity routes need. */
static int tallyd_identity_start(struct tallyd *t)
{
    struct password_config password_config;
    struct throttle_config throttle_config;
    password_config_default(&password_config);
    throttle_config_default(&throttle_config);
    enum tl_err err = password_ctx_new(&password_config, &t->passwords);
    if (err != TL_OK) {
        return tallyd_fail("cannot set up password hashing", err);
    }
    if ((err = throttle_new(&throttle_config, &t->throttle)) != TL_OK) {
        return tallyd_fail("cannot set up the login throttle", err);
    }
    struct authn_config authn_config = {
        .token_key = &t->token_key,
        .passwords = t->passwords,
        .throttle = t->throttle,
        .session_ttl_s = t->config.auth_session_ttl_s,
        .mfa_challenge_ttl_s = t->config.auth_mfa_challenge_ttl_s,
        /* At most half the workers (rounded up) may be hashing or waiting to: the rest
         * always serve payments. */
        .hash_waiters_max = (t->config.threads + 1) / 2 - AUTHN_HASH_CONCURRENCY,
    };
    if ((err = authn_new(&authn_config, &t->authn)) != TL_OK) {
        return tallyd_fail("cannot set up sessions", err);
    }
    return 0;
}

/* The event hub: its own reader handle; heartbeats at half the idle timeout (so a quiet
 * stream is never cut as idle) and at most a quarter of the connections as streams. */
static enum tl_err tallyd_events_start(struct tallyd *t)
{
    const struct config *c = &t->config;
    struct store_config store_config = tallyd_store_config(t);
    store_config.read_only = true;
    struct events_hub_config events_config = {
        .heartbeat_ms = c->timeout_s * 1000u / 2u,
        .streams_max = c->connections_max / 4u > 0 ? c->connections_max / 4u : 1u,
        /* Sessions revoked on any node leave this node's cache too, streams open or not;
         * one process alone on its database revokes in its own cache already. */
        .on_row = store_exclusive(t->store) ? NULL : sessions_outbox_row,
        .on_row_ctx = t->authn,
        .on_row_topic = EVENTS_TOPIC_SESSION_REVOKED,
    };
    enum tl_err err = store_open(&store_config, &t->events_reader);
    if (err == TL_OK) {
        err = events_hub_start(&events_config, t->events_reader, &t->app.draining, &t->events);
    }
    if (err == TL_OK) {
        t->app.events = t->events;
    }
    return err;
}

/* Store, ledger, writer, readers, identity, API, server: each needs the one before it. */
static int tallyd_start(struct tallyd *t)
{
    const struct config *c = &t->config;
    struct store_config store_config = tallyd_store_config(t);
    struct ledger_config ledger_config = {.accounts_max = c->accounts_max};
    struct writer_config writer_config = {0};
    char error[SERVER_ERROR_BYTES];
    writer_config.on_expired = escrow_on_expired; /* escrow.expired, with the expiry */
    writer_config.linger_us = c->writer_linger_us;
    enum tl_err err = store_open(&store_config, &t->store);
    if (err != TL_OK) {
        return tallyd_fail("cannot open the store", err);
    }
    if ((err = ledger_open(&ledger_config, &t->ledger)) != TL_OK) {
        return tallyd_fail("cannot allocate the ledger", err);
    }
    if ((err = writer_start(&writer_config, t->store, t->ledger, &t->writer)) != TL_OK) {
        return tallyd_fail("cannot start the ledger writer", err);
    }
    /* Sandbox funding and fee revenue of the default currency; others open on first use. */
    const struct money_currency *currency = money_currency_find(c->default_currency, 3);
    if ((err = accounts_system_ensure(t->writer, currency->numeric)) != TL_OK) {
        return tallyd_fail("cannot open the system accounts", err);
    }
    if ((err = readers_open(&store_config, c->threads, &t->readers)) != TL_OK) {
        return tallyd_fail("cannot open reader store handles", err);
    }
    if ((err = store_open(&store_config, &t->app_store)) != TL_OK) {
        return tallyd_fail("cannot open the application store handle", err);
    }
    int rc = tallyd_identity_start(t);
    if (rc != 0) {
        return rc;
    }
    if ((err = api_app_init(&t->app, c, t->writer, t->readers)) != TL_OK) {
        return tallyd_fail("cannot set up the API", err);
    }
    t->app_ready = true;
    t->app.app_store = t->app_store;
    t->app.authn = t->authn;
    t->app.authenticate = authn_authenticate;
    t->app.authenticate_ctx = t->authn;
    t->app.operator_auth = &t->operator_auth;
    if ((err = seen_start(&t->app, &t->seen)) != TL_OK) {
        return tallyd_fail("cannot start the last-seen writer", err);
    }
    t->app.seen = t->seen;
    if ((err = idempotency_pruner_start(&t->app, 0, &t->pruner)) != TL_OK) {
        return tallyd_fail("cannot start the idempotency pruner", err);
    }
    if ((err = audit_checkpointer_start(&t->app, c->audit_checkpoint_interval_s,
                                        &t->audit_checkpointer)) != TL_OK) {
        return tallyd_fail("cannot start the audit checkpointer", err);
    }
    if ((err = tallyd_events_start(t)) != TL_OK) {
        return tallyd_fail("cannot start the event hub", err);
    }
    struct scheduler_config scheduler_config = {
        .tick_ms = c->schedules_tick_ms,
        .grace_s = c->schedules_grace_s,
        .stale_s = c->schedules_stale_s,
    };
    if ((err = store_open(&store_config, &t->scheduler_store)) != TL_OK ||
        (err = scheduler_start(&scheduler_config, &t->app, t->scheduler_store, &t->scheduler)) !=
            TL_OK) {
        return tallyd_fail("cannot start the scheduler", err);
    }
    if ((err = fx_rates_start(&t->app, &t->fx)) != TL_OK) {
        return tallyd_fail("cannot start the exchange rates service", err);
    }
    struct server_config server_config = tallyd_server_config(c);
    if (server_start(&server_config, &t->app, &t->server, error) != TL_OK) {
        fprintf(stderr, "tallyd: %s\n", error);
        return 1;
    }
    return 0;
}

/* Reverse order of tallyd_start; each step tolerates what never started. */
static void tallyd_stop(struct tallyd *t)
{
    server_stop(t->server); /* no handler runs after this */
    events_hub_stop(t->events); /* after the server: it ends the streams while draining */
    scheduler_stop(t->scheduler); /* before the writer and the readers it uses */
    store_close(t->scheduler_store);
    store_close(t->events_reader);
    seen_stop(t->seen); /* after the server: no request queues a touch any more */
    idempotency_pruner_stop(t->pruner);
    fx_rates_stop(t->fx);
    audit_checkpointer_stop(t->audit_checkpointer); /* signs the final head */
    if (t->app_ready) {
        api_app_fini(&t->app);
    }
    authn_free(t->authn);
    throttle_free(t->throttle);
    password_ctx_free(t->passwords);
    token_key_wipe(&t->token_key);
    store_close(t->app_store);
    readers_close(t->readers);
    if (t->writer != NULL) {
        writer_stop(t->writer); /* commits everything queued */
    }
    if (t->ledger != NULL) {
        ledger_close(t->ledger);
    }
    if (t->store != NULL) {
        store_close(t->store);
    }
}

static int tallyd_serve(struct tallyd *t)
{
    sigset_t stop_signals;
    int signal_number = 0;
    /* Blocked before any thread starts, so every thread inherits the mask and only sigwait
     * below receives them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP); /* not a stop: reads the exchange rates file again */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = tallyd_start(t);
    if (rc == 0) {
        sigwait(&stop_signals, &signal_number);
        while (signal_number == SIGHUP) {
            LOG(LOG_INFO, "sighup", LOG_STR("action", "fx_rates_reload"));
            fx_rates_reload(t->fx);
            sigwait(&stop_signals, &signal_number);
        }
        const char *name = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
        LOG(LOG_INFO, "stopping", LOG_STR("signal", name));
    }
    tallyd_stop(t);
    if (rc == 0) {
        LOG(LOG_INFO, "stopped");
    }
    return rc;
}

int main(int argc, char **argv)
{
    static struct tallyd t;
    char error[CONFIG_ERROR_BYTES];
    if (config_parse(argc, argv, environ, &t.config, error) != TL_OK) {
        fprintf(stderr, "tallyd: %s\n", error);
        return 2;
    }
    if (t.config.help) {
        config_help_print(stdout, "tallyd");
        return 0;
    }
    if (stepup_config_check(&t.config, error) != TL_OK) {
        fprintf(stderr, "tallyd: %s\n", error);
        return 2;
    }
    int rc = tallyd_prepare(&t);
    if (rc != 0) {
        return rc;
    }
    if (t.config.command == CONFIG_COMMAND_MIGRATE) {
        return tallyd_migrate(&t);
    }
    if (t.config.command == CONFIG_COMMAND_AUDIT_VERIFY) {
        return tallyd_audit_verify(&t);
    }
    return tallyd_serve(&t);
}
