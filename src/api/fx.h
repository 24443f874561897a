/*
 * fx.h - exchange rates: where they come from, how old they may be, and the exact terms of a
 * conversion at them.
 *
 * Rates live in the store (table fx_rates), so every node of a deployment converts at the same
 * rates. Two sources write them, the newer rate of a pair winning (store_fx_rate_put):
 *
 *   the rates file   fx.rates_file: lines "BASE QUOTE RATE" ("USD EUR 0.9213": 1 USD buys
 *                    0.9213 EUR), '#' comments and blank lines allowed, at most
 *                    STORE_FX_RATES_MAX pairs and FX_FILE_BYTES_MAX bytes. Read at start,
 *                    whenever its modification time, size or inode changes (checked every
 *                    fx.rates_reload_s seconds) and on SIGHUP. Its rates are stamped with the
 *                    file's modification time. A file with one bad line is refused whole
 *                    (logged with the line number); the rates already stored stay.
 *   the operator     POST /v1/admin/fx/rates {base, quote, rate} (operator token), stamped
 *                    with the time of the request.
 *
 * A pair is directed: USD->JPY and JPY->USD are two rates, each set explicitly. A rate older
 * than fx.rates_max_age_s cannot be used: conversions and quotes answer 422
 * fx_rate_unavailable, as they do for a pair without a rate.
 *
 * Terms (fx_terms): the user names what they want to RECEIVE (amount, in the to currency).
 * The customer rate is the pair's rate less fx.spread_bps (core/fx.h); what must be sent for
 * the amount is amount / customer rate, half-up (fx_convert_inverse); the fx fee schedule of
 * [fees] is charged on that, in the from currency, on top: sent = principal + fee.
 *
 * Never: use a float, or convert at a rate past its age.
 */
#ifndef TL_API_FX_H
#define TL_API_FX_H

#include <stdint.h>

#include "api/http.h"
#include "core/fx.h"
#include "core/money.h"

struct api_app;
struct fx_rates;

/* Largest rates file. */
#define FX_FILE_BYTES_MAX (64u * 1024u)

/*
 * Starts the rates service of app: loads fx.rates_file once (a bad or missing file is logged,
 * not fatal: rates may come from the operator) and starts the thread that reloads it. Without
 * a rates file no thread runs. app->config and app->app_store must be set. TL_ERR_NOMEM or
 * TL_ERR_INTERNAL (no thread); *out set only on TL_OK.
 */
enum tl_err fx_rates_start(struct api_app *app, struct fx_rates **out);
/* Asks the thread to read the file now (SIGHUP). Takes NULL. Thread-safe. Cannot fail. */
void fx_rates_reload(struct fx_rates *fx);
/* Stops the thread and frees the service; takes NULL. Cannot fail. */
void fx_rates_stop(struct fx_rates *fx);

/* The exact terms of one conversion. */
struct fx_terms {
    const struct money_currency *from;
    const struct money_currency *to;
    int64_t received;     /* what arrives, minor units of to, > 0 */
    int64_t principal;    /* what is converted, minor units of from, > 0 */
    int64_t fee;          /* the fx fee on principal, minor units of from, >= 0 */
    int64_t sent;         /* principal + fee */
    struct fx_rate rate;  /* the customer rate (after the spread) */
};

/*
 * The terms for receiving `received` of `to` for `from` at the current stored rate. TL_OK with
 * *out; else an error recorded with http_fail: 400 invalid_request (from equals to),
 * 422 fx_rate_unavailable (no rate, or older than fx.rates_max_age_s), 400 invalid_amount (so
 * little that it is worth less than half a minor unit of from), 422 overflow; or the
 * store's error.
 */
enum tl_err fx_terms(struct http_request *req, struct http_response *resp,
                     const struct money_currency *from, const struct money_currency *to,
                     int64_t received, struct fx_terms *out);

/* GET /v1/fx/rates: every stored rate with its customer rate and whether it is usable. */
enum tl_err fx_rates_list(struct http_request *req, struct http_response *resp);
/* POST /v1/admin/fx/rates {base, quote, rate}: sets one rate (operator). */
enum tl_err fx_admin_rates_set(struct http_request *req, struct http_response *resp);
/* GET /v1/admin/fx/position: per currency with a rate, the balances of the FX pool and the
 * fee revenue account (operator). */
enum tl_err fx_admin_position(struct http_request *req, struct http_response *resp);

#endif
