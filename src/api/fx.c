#include "api/fx.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/json.h"
#include "api/quotes.h"
#include "api/render.h"
#include "store/app.h"
#include "store/store.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/log.h"
#include "util/thread.h"

#define FX_NS_PER_S 1000000000ull
/* Defaults when the app runs without a config (tests). */
#define FX_SPREAD_BPS_DEFAULT 50u
#define FX_MAX_AGE_S_DEFAULT 86400u
/* A rates file line: "BASE QUOTE RATE" and a comment fit in this. */
#define FX_LINE_BYTES_MAX 256u
#define FX_WHY_BYTES 160u

/* Numerators of rates fx_rate_parse made: below 10^FX_RATE_DIGITS_MAX. */
#define FX_PARSED_NUM_LIMIT 1000000000000LL

static_assert(FX_RATE_DIGITS_MAX == 12u, "FX_PARSED_NUM_LIMIT is 10^FX_RATE_DIGITS_MAX");
static_assert(FX_SPREAD_BPS_MAX == 1000u, "fx.spread_bps is bounded by config to 1000");

struct fx_rates {
    struct api_app *app;
    char path[TL_CONFIG_PATH_BYTES_MAX];
    uint32_t reload_s;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool stop;   /* under mutex */
    bool reload; /* under mutex: SIGHUP asked for a read */
    /* The file as last read (thread only): a change of any of these reads it again. */
    bool seen;
    struct timespec mtime;
    off_t size;
    ino_t inode;
};

/* ---- The rates file ---- */

/* One parsed file: the pairs in the order written. */
struct fx_file {
    struct store_fx_rate rates[STORE_FX_RATES_MAX];
    uint32_t count;
};

static bool fx_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The next whitespace-separated token of line[*at, len): its start and length (0: none). */
static size_t fx_token(const char *line, size_t len, size_t *at, const char **out)
{
    while (*at < len && fx_space(line[*at])) {
        (*at)++;
    }
    size_t start = *at;
    while (*at < len && !fx_space(line[*at])) {
        (*at)++;
    }
    *out = line + start;
    return *at - start;
}

/* Parses one line into file (a blank line or comment adds nothing). false with why filled. */
static bool fx_file_line(const char *line, size_t len, uint64_t stamp_ns, struct fx_file *file,
                         char *why, size_t why_bytes)
{
    const char *tokens[4];
    size_t lengths[4];
    size_t at = 0;
    size_t n = 0;
    while (n < 4 && (lengths[n] = fx_token(line, len, &at, &tokens[n])) > 0) {
        n++;
    }
    if (n == 0 || tokens[0][0] == '#') {
        return true;
    }
    if (n != 3) {
        snprintf(why, why_bytes, "expected \"BASE QUOTE RATE\"");
        return false;
    }
    const struct money_currency *base = money_currency_find(tokens[0], lengths[0]);
    const struct money_currency *quote = money_currency_find(tokens[1], lengths[1]);
    struct fx_rate rate;
    if (base == NULL || quote == NULL) {
        snprintf(why, why_bytes, "unknown currency code");
        return false;
    }
    if (base == quote) {
        snprintf(why, why_bytes, "base and quote are the same currency");
        return false;
    }
    if (fx_rate_parse(tokens[2], lengths[2], &rate) != TL_OK) {
        snprintf(why, why_bytes, "the rate is not a positive decimal of at most 12 digits");
        return false;
    }
    for (uint32_t i = 0; i < file->count; i++) {
        if (file->rates[i].base == base->numeric && file->rates[i].quote == quote->numeric) {
            snprintf(why, why_bytes, "the pair appears twice");
            return false;
        }
    }
    if (file->count == STORE_FX_RATES_MAX) {
        snprintf(why, why_bytes, "more than %u pairs", STORE_FX_RATES_MAX);
        return false;
    }
    file->rates[file->count++] = (struct store_fx_rate){
        .base = base->numeric,
        .quote = quote->numeric,
        .rate_num = rate.num,
        .rate_den = rate.den,
        .updated_ns = stamp_ns,
        .source = STORE_FX_SOURCE_FILE,
    };
    return true;
}

/* Parses text (NUL-terminated) into file. false with the line number and why. */
static bool fx_file_parse(const char *text, uint64_t stamp_ns, struct fx_file *file,
                          uint32_t *line_number, char *why, size_t why_bytes)
{
    file->count = 0;
    *line_number = 0;
    const char *at = text;
    while (*at != '\0') {
        const char *end = strchr(at, '\n');
        size_t len = end != NULL ? (size_t)(end - at) : strlen(at);
        (*line_number)++;
        if (len >= FX_LINE_BYTES_MAX) {
            snprintf(why, why_bytes, "line longer than %u bytes", FX_LINE_BYTES_MAX);
            return false;
        }
        if (!fx_file_line(at, len, stamp_ns, file, why, why_bytes)) {
            return false;
        }
        at += len + (end != NULL ? 1u : 0u);
    }
    return true;
}

/* Reads the whole file (at most FX_FILE_BYTES_MAX) into a malloc'd NUL-terminated buffer. */
static enum tl_err fx_file_read(const char *path, char **out, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    enum tl_err err = TL_ERR_IO;
    char *text = NULL;
    size_t used = 0;
    if (fd < 0) {
        return TL_ERR_IO;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > (off_t)FX_FILE_BYTES_MAX) {
        goto out;
    }
    text = malloc(FX_FILE_BYTES_MAX + 1u);
    if (text == NULL) {
        err = TL_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        ssize_t got = read(fd, text + used, FX_FILE_BYTES_MAX + 1u - used);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            goto out;
        }
        if (got == 0) {
            break;
        }
        used += (size_t)got;
        if (used > FX_FILE_BYTES_MAX) {
            goto out; /* grew past the limit while we read it */
        }
    }
    text[used] = '\0';
    if (strlen(text) != used) {
        goto out; /* a NUL byte: not a text file */
    }
    *out = text;
    text = NULL;
    err = TL_OK;
out:
    free(text);
    close(fd);
    return err;
}

static uint64_t fx_timespec_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * FX_NS_PER_S + (uint64_t)ts->tv_nsec;
}

/* Writes the file's rates into the store (the newer rate of a pair wins). */
static enum tl_err fx_file_apply(struct api_app *app, const struct fx_file *file,
                                 uint32_t *out_applied)
{
    struct store *store = NULL;
    uint32_t applied = 0;
    enum tl_err err = api_app_store_acquire(app, &store);
    for (uint32_t i = 0; err == TL_OK && i < file->count; i++) {
        bool put = false;
        err = store_fx_rate_put(store, &file->rates[i], &put);
        applied += put ? 1u : 0u;
    }
    if (store != NULL) {
        api_app_store_release(app, store);
    }
    *out_applied = applied;
    return err;
}

/* Reads the file when it changed since the last read (or always when forced). Logs what
 * happened; never fails the caller. */
static void fx_file_load(struct fx_rates *fx, bool forced)
{
    struct stat st;
    char *text = NULL;
    char why[FX_WHY_BYTES] = "";
    uint32_t line = 0;
    uint32_t applied = 0;
    if (stat(fx->path, &st) != 0) {
        if (!fx->seen || forced) {
            LOG(LOG_WARN, "fx_rates_file_unreadable", LOG_STR("path", fx->path),
                LOG_STR("error", strerror(errno)));
        }
        fx->seen = true;
        fx->size = -1;
        return;
    }
    if (!forced && fx->seen && st.st_ino == fx->inode && st.st_size == fx->size &&
        st.st_mtim.tv_sec == fx->mtime.tv_sec && st.st_mtim.tv_nsec == fx->mtime.tv_nsec) {
        return;
    }
    enum tl_err err = fx_file_read(fx->path, &text, &st);
    fx->seen = true;
    fx->inode = st.st_ino;
    fx->size = st.st_size;
    fx->mtime = st.st_mtim;
    if (err != TL_OK) {
        LOG(LOG_WARN, "fx_rates_file_unreadable", LOG_STR("path", fx->path),
            LOG_STR("error", tl_err_code(err)));
        return;
    }
    struct fx_file *file = malloc(sizeof(*file));
    if (file == NULL) {
        free(text);
        LOG(LOG_ERROR, "fx_rates_file_unreadable", LOG_STR("error", "out_of_memory"));
        return;
    }
    if (!fx_file_parse(text, fx_timespec_ns(&st.st_mtim), file, &line, why, sizeof(why))) {
        LOG(LOG_WARN, "fx_rates_file_rejected", LOG_STR("path", fx->path), LOG_U64("line", line),
            LOG_STR("reason", why));
    } else if ((err = fx_file_apply(fx->app, file, &applied)) != TL_OK) {
        LOG(LOG_ERROR, "fx_rates_file_not_stored", LOG_STR("error", tl_err_code(err)));
    } else {
        LOG(LOG_INFO, "fx_rates_file_loaded", LOG_STR("path", fx->path),
            LOG_U64("pairs", file->count), LOG_U64("applied", applied));
    }
    free(file);
    free(text);
}

static void *fx_rates_main(void *arg)
{
    struct fx_rates *fx = arg;
    TL_ASSERT(pthread_mutex_lock(&fx->mutex) == 0);
    while (!fx->stop) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)fx->reload_s;
        while (!fx->stop && !fx->reload &&
               pthread_cond_timedwait(&fx->wake, &fx->mutex, &deadline) == 0) {
        }
        if (fx->stop) {
            break;
        }
        bool forced = fx->reload;
        fx->reload = false;
        TL_ASSERT(pthread_mutex_unlock(&fx->mutex) == 0);
        fx_file_load(fx, forced);
        TL_ASSERT(pthread_mutex_lock(&fx->mutex) == 0);
    }
    TL_ASSERT(pthread_mutex_unlock(&fx->mutex) == 0);
    return NULL;
}

enum tl_err fx_rates_start(struct api_app *app, struct fx_rates **out)
{
    TL_ASSERT(app != NULL);
    TL_ASSERT(app->config != NULL);
    struct fx_rates *fx = calloc(1, sizeof(*fx));
    if (fx == NULL) {
        return TL_ERR_NOMEM;
    }
    fx->app = app;
    snprintf(fx->path, sizeof(fx->path), "%s", app->config->fx_rates_file);
    fx->reload_s = app->config->fx_rates_reload_s;
    if (fx->path[0] == '\0') {
        *out = fx;
        return TL_OK;
    }
    fx_file_load(fx, true);
    clock_cond_init_mono(&fx->wake);
    TL_ASSERT(pthread_mutex_init(&fx->mutex, NULL) == 0);
    if (!thread_start(&fx->thread, "tl-fx-rates", fx_rates_main, fx)) {
        pthread_cond_destroy(&fx->wake);
        pthread_mutex_destroy(&fx->mutex);
        free(fx);
        return TL_ERR_INTERNAL;
    }
    fx->thread_started = true;
    *out = fx;
    return TL_OK;
}

void fx_rates_reload(struct fx_rates *fx)
{
    if (fx == NULL || !fx->thread_started) {
        return;
    }
    TL_ASSERT(pthread_mutex_lock(&fx->mutex) == 0);
    fx->reload = true;
    TL_ASSERT(pthread_cond_signal(&fx->wake) == 0);
    TL_ASSERT(pthread_mutex_unlock(&fx->mutex) == 0);
}

void fx_rates_stop(struct fx_rates *fx)
{
    if (fx == NULL) {
        return;
    }
    if (fx->thread_started) {
        TL_ASSERT(pthread_mutex_lock(&fx->mutex) == 0);
        fx->stop = true;
        TL_ASSERT(pthread_cond_signal(&fx->wake) == 0);
        TL_ASSERT(pthread_mutex_unlock(&fx->mutex) == 0);
        TL_ASSERT(pthread_join(fx->thread, NULL) == 0);
        pthread_cond_destroy(&fx->wake);
        pthread_mutex_destroy(&fx->mutex);
    }
    free(fx);
}

/* ---- Rates for conversions ---- */

/* A stored rate we could not have written (fx_rate_parse makes every one). */
static enum tl_err fx_corrupt(void)
{
    LOG(LOG_ERROR, "fx_rate_corrupt", LOG_STR("table", "fx_rates"));
    return TL_ERR_CORRUPT;
}

static uint32_t fx_spread_bps(const struct api_app *app)
{
    return app->config != NULL ? app->config->fx_spread_bps : FX_SPREAD_BPS_DEFAULT;
}

static uint64_t fx_max_age_ns(const struct api_app *app)
{
    uint32_t s = app->config != NULL ? app->config->fx_rates_max_age_s : FX_MAX_AGE_S_DEFAULT;
    return (uint64_t)s * FX_NS_PER_S;
}

static bool fx_usable(const struct api_app *app, const struct store_fx_rate *row, uint64_t now_ns)
{
    return now_ns < row->updated_ns || now_ns - row->updated_ns <= fx_max_age_ns(app);
}

/* The stored rate of (from, to) when it is usable now; else 422 fx_rate_unavailable. */
static enum tl_err fx_rate_usable(struct http_request *req, struct http_response *resp,
                                  const struct money_currency *from,
                                  const struct money_currency *to, struct fx_rate *out)
{
    struct store *reader = NULL;
    struct store_fx_rate row;
    bool found = false;
    char detail[FX_WHY_BYTES];
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_fx_rate_get(reader, from->numeric, to->numeric, &row, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        snprintf(detail, sizeof(detail), "there is no %s to %s rate", from->code, to->code);
        return http_fail(resp, TL_ERR_FX_RATE_UNAVAILABLE, "currency", detail);
    }
    if (!fx_usable(req->app, &row, clock_wall_ns())) {
        snprintf(detail, sizeof(detail), "the %s to %s rate is too old to use", from->code,
                 to->code);
        return http_fail(resp, TL_ERR_FX_RATE_UNAVAILABLE, "currency", detail);
    }
    struct fx_rate mid = {row.rate_num, row.rate_den};
    if (fx_rate_check(&mid) != TL_OK || mid.num >= FX_PARSED_NUM_LIMIT) {
        return fx_corrupt();
    }
    *out = mid;
    return TL_OK;
}

enum tl_err fx_terms(struct http_request *req, struct http_response *resp,
                     const struct money_currency *from, const struct money_currency *to,
                     int64_t received, struct fx_terms *out)
{
    struct fx_rate mid;
    struct fees_quote fee;
    TL_ASSERT(received > 0);
    if (from == to) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "currency",
                         "a conversion needs two different currencies");
    }
    enum tl_err err = fx_rate_usable(req, resp, from, to, &mid);
    if (err != TL_OK) {
        return err;
    }
    struct fx_terms t = {.from = from, .to = to, .received = received};
    t.rate = fx_rate_spread(&mid, fx_spread_bps(req->app));
    if (fx_convert_inverse(received, from->exponent, to->exponent, &t.rate, &t.principal) !=
        TL_OK) {
        return http_fail(resp, TL_ERR_OVERFLOW, "amount",
                         "the amount converts to more than the largest representable value");
    }
    if (t.principal == 0) {
        return http_fail(resp, TL_ERR_INVALID_AMOUNT, "amount",
                         "the amount is worth less than half a minor unit of the currency sent");
    }
    if (quotes_fee(req->app->config, FEES_FX, from, t.principal, &fee) != TL_OK) {
        return http_fail(resp, TL_ERR_OVERFLOW, "amount",
                         "the amount and its fee pass the largest representable value");
    }
    t.fee = fee.fee;
    t.sent = t.principal + t.fee; /* quotes_fee checked the sum */
    TL_ASSERT(t.sent > 0);
    *out = t;
    return TL_OK;
}

/* ---- GET /v1/fx/rates ---- */

static const char *fx_source_name(uint8_t source)
{
    return source == STORE_FX_SOURCE_OPERATOR ? "operator" : "file";
}

static void fx_render_rate(struct render *r, const struct api_app *app,
                           const struct store_fx_rate *row, uint64_t now_ns)
{
    const struct money_currency *base = money_currency_by_numeric(row->base);
    const struct money_currency *quote = money_currency_by_numeric(row->quote);
    struct fx_rate mid = {row->rate_num, row->rate_den};
    char text[FX_RATE_TEXT_BYTES];
    TL_ASSERT(base != NULL);
    TL_ASSERT(quote != NULL);
    render_object_begin(r);
    render_key(r, "base");
    render_str(r, base->code);
    render_key(r, "quote");
    render_str(r, quote->code);
    render_key(r, "rate");
    fx_rate_format(&mid, text);
    render_str(r, text);
    render_key(r, "customer_rate");
    struct fx_rate customer = fx_rate_spread(&mid, fx_spread_bps(app));
    fx_rate_format(&customer, text);
    render_str(r, text);
    render_key(r, "source");
    render_str(r, fx_source_name(row->source));
    render_key(r, "updated_at");
    render_time(r, row->updated_ns);
    render_key(r, "usable_until");
    render_time(r, row->updated_ns + fx_max_age_ns(app));
    render_key(r, "usable");
    render_bool(r, fx_usable(app, row, now_ns));
    render_object_end(r);
}

/* Every stored rate that a currency table still knows and fx can parse back. */
static bool fx_row_ok(const struct store_fx_rate *row)
{
    struct fx_rate mid = {row->rate_num, row->rate_den};
    return money_currency_by_numeric(row->base) != NULL &&
           money_currency_by_numeric(row->quote) != NULL && fx_rate_check(&mid) == TL_OK &&
           mid.num < FX_PARSED_NUM_LIMIT;
}

static enum tl_err fx_rows_load(struct http_request *req, struct store_fx_rate **out,
                                uint32_t *count)
{
    struct store *reader = NULL;
    struct store_fx_rate *rows = malloc(STORE_FX_RATES_MAX * sizeof(*rows));
    if (rows == NULL) {
        return TL_ERR_NOMEM;
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_fx_rates_list(reader, rows, STORE_FX_RATES_MAX, count);
    }
    for (uint32_t i = 0; err == TL_OK && i < *count; i++) {
        if (!fx_row_ok(&rows[i])) {
            err = fx_corrupt();
        }
    }
    if (err != TL_OK) {
        free(rows);
        return err;
    }
    *out = rows;
    return TL_OK;
}

static enum tl_err fx_send(struct http_response *resp, struct render *r, int status)
{
    enum tl_err err = render_finish(r);
    if (err == TL_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return err;
}

enum tl_err fx_rates_list(struct http_request *req, struct http_response *resp)
{
    struct store_fx_rate *rows = NULL;
    uint32_t count = 0;
    enum tl_err err = fx_rows_load(req, &rows, &count);
    if (err != TL_OK) {
        return err;
    }
    uint64_t now_ns = clock_wall_ns();
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "spread_bps");
    render_i64(&r, fx_spread_bps(req->app));
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; i < count; i++) {
        fx_render_rate(&r, req->app, &rows[i], now_ns);
    }
    render_array_end(&r);
    render_key(&r, "has_more");
    render_bool(&r, false);
    render_object_end(&r);
    free(rows);
    return fx_send(resp, &r, 200);
}

/* ---- POST /v1/admin/fx/rates ---- */

static const struct json_field fx_rate_fields[] = {
    JSON_STRING("base", true, 8),
    JSON_STRING("quote", true, 8),
    JSON_STRING("rate", true, 32),
};

static enum tl_err fx_rate_body(const struct http_request *req, struct http_response *resp,
                                struct store_fx_rate *out)
{
    struct json_error error;
    json_t *body = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, fx_rate_fields,
                       sizeof(fx_rate_fields) / sizeof(fx_rate_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *base_text = json_field_string(body, "base");
    const char *quote_text = json_field_string(body, "quote");
    const char *rate_text = json_field_string(body, "rate");
    const struct money_currency *base = money_currency_find(base_text, strlen(base_text));
    const struct money_currency *quote = money_currency_find(quote_text, strlen(quote_text));
    struct fx_rate rate;
    if (base == NULL) {
        err = http_fail(resp, TL_ERR_UNKNOWN_CURRENCY, "base", "not an ISO 4217 currency code");
    } else if (quote == NULL) {
        err = http_fail(resp, TL_ERR_UNKNOWN_CURRENCY, "quote", "not an ISO 4217 currency code");
    } else if (base == quote) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "quote", "must differ from base");
    } else if (fx_rate_parse(rate_text, strlen(rate_text), &rate) != TL_OK) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "rate",
                        "a positive decimal string of at most 12 significant digits and 9 "
                        "decimals, e.g. \"0.9213\"");
    }
    if (err == TL_OK) {
        *out = (struct store_fx_rate){
            .base = base->numeric,
            .quote = quote->numeric,
            .rate_num = rate.num,
            .rate_den = rate.den,
            .updated_ns = clock_wall_ns(),
            .source = STORE_FX_SOURCE_OPERATOR,
        };
    }
    json_decref(body);
    return err;
}

enum tl_err fx_admin_rates_set(struct http_request *req, struct http_response *resp)
{
    struct store_fx_rate row;
    struct store *store = NULL;
    bool applied = false;
    TL_ASSERT(req->operator); /* the dispatcher let only the operator in */
    enum tl_err err = fx_rate_body(req, resp, &row);
    if (err != TL_OK) {
        return err;
    }
    err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_fx_rate_put(store, &row, &applied);
    api_app_store_release(req->app, store);
    if (err != TL_OK) {
        return err;
    }
    if (!applied) {
        /* Only when another node's clock is ahead of ours: its rate stays. */
        return http_fail(resp, TL_ERR_CONFLICT, "rate", "a newer rate of this pair is stored");
    }
    LOG(LOG_INFO, "fx_rate_set", LOG_STR("request_id", req->request_id),
        LOG_U64("base", row.base), LOG_U64("quote", row.quote));
    struct render r;
    render_init(&r, &resp->body);
    fx_render_rate(&r, req->app, &row, row.updated_ns);
    return fx_send(resp, &r, 201);
}

/* ---- GET /v1/admin/fx/position ---- */

/* credits - debits (posted) of a system account; 0 when it was never opened. */
static enum tl_err fx_account_net(struct store *reader, struct id128 id, int64_t *out)
{
    struct ledger_account account;
    bool found = false;
    enum tl_err err = store_account_get(reader, id, &account, &found);
    if (err != TL_OK) {
        return err;
    }
    /* Both are at most INT64_MAX and non-negative, so the difference fits. */
    *out = found ? account.credits_posted - account.debits_posted : 0;
    return TL_OK;
}

static bool fx_currency_listed(const uint16_t *list, uint32_t count, uint16_t currency)
{
    for (uint32_t i = 0; i < count; i++) {
        if (list[i] == currency) {
            return true;
        }
    }
    return false;
}

enum tl_err fx_admin_position(struct http_request *req, struct http_response *resp)
{
    struct store_fx_rate *rows = NULL;
    struct store *reader = NULL;
    uint16_t currencies[2 * STORE_FX_RATES_MAX];
    uint32_t currency_count = 0;
    uint32_t count = 0;
    TL_ASSERT(req->operator); /* the dispatcher let only the operator in */
    enum tl_err err = fx_rows_load(req, &rows, &count);
    if (err != TL_OK) {
        return err;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint16_t pair[2] = {rows[i].base, rows[i].quote};
        for (int k = 0; k < 2; k++) {
            if (!fx_currency_listed(currencies, currency_count, pair[k])) {
                currencies[currency_count++] = pair[k];
            }
        }
    }
    free(rows);
    err = http_request_store(req, &reader);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < currency_count; i++) {
        int64_t pool = 0;
        int64_t fees = 0;
        err = fx_account_net(reader, accounts_system_id(LEDGER_KIND_FX_POOL, currencies[i]), &pool);
        if (err == TL_OK) {
            err = fx_account_net(
                reader, accounts_system_id(LEDGER_KIND_FEE_REVENUE, currencies[i]), &fees);
        }
        render_object_begin(&r);
        render_key(&r, "currency");
        render_str(&r, money_currency_by_numeric(currencies[i])->code);
        render_key(&r, "fx_pool");
        render_i64(&r, pool);
        render_key(&r, "fee_revenue");
        render_i64(&r, fees);
        render_object_end(&r);
    }
    render_array_end(&r);
    render_object_end(&r);
    if (err != TL_OK) {
        return err;
    }
    return fx_send(resp, &r, 200);
}
