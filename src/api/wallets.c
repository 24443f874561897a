#include "api/wallets.h"

#include <stdlib.h>
#include <string.h>

#include "api/accounts.h"
#include "api/app.h"
#include "api/debts.h"
#include "api/json.h"
#include "api/money_cache.h"
#include "api/movement.h"
#include "api/page.h"
#include "api/render.h"
#include "core/money.h"
#include "store/store.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/typeid.h"

/* ---- Shared pieces ---- */

const char *wallets_txn_type(uint16_t code)
{
    switch ((enum ledger_code)code) {
    case LEDGER_CODE_DEPOSIT:
        return "deposit";
    case LEDGER_CODE_PAYMENT:
        return "payment";
    case LEDGER_CODE_FEE:
        return "fee";
    case LEDGER_CODE_FX:
        return "fx";
    case LEDGER_CODE_PAYOUT:
        return "payout";
    case LEDGER_CODE_REFUND:
        return "refund";
    case LEDGER_CODE_REVERSAL:
        return "reversal";
    case LEDGER_CODE_HOLD:
        return "hold";
    case LEDGER_CODE_HOLD_EXPIRY:
        return "hold_expiry";
    case LEDGER_CODE_ADJUSTMENT:
        return "adjustment";
    }
    return "other";
}

static const char *wallets_currency_code(uint16_t numeric)
{
    const struct money_currency *currency = money_currency_by_numeric(numeric);
    TL_ASSERT(currency != NULL); /* only currencies from the table are ever stored */
    return currency->code;
}

/* owed: what the wallet owes after a reversal (debts.h); balance->available is net of it. */
static void wallets_render(struct render *r, const struct store_wallet *wallet,
                           const struct accounts_balance *balance, int64_t owed)
{
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_WALLET, wallet->id);
    render_key(r, "currency");
    render_str(r, wallets_currency_code(wallet->currency));
    render_key(r, "balance");
    render_object_begin(r);
    render_key(r, "available");
    render_i64(r, balance->available);
    render_key(r, "pending");
    render_i64(r, balance->pending);
    render_object_end(r);
    render_key(r, "amount_owed");
    render_i64(r, owed);
    render_key(r, "restricted");
    render_bool(r, owed > 0);
    render_key(r, "created_at");
    render_time(r, wallet->created_ns);
    render_object_end(r);
}

/* The {id} wallet when the caller owns it; 404 otherwise (also for malformed ids). */
static enum tl_err wallets_owned(struct http_request *req, struct http_response *resp,
                                 struct store *reader, struct store_wallet *out)
{
    const char *text = http_request_param(req, "id");
    struct id128 id;
    bool found = false;
    TL_ASSERT(text != NULL);
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_WALLET, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such wallet");
    }
    enum tl_err err = store_wallet_get(reader, id, out, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found || !id128_eq(out->user_id, req->principal.user_id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such wallet");
    }
    return TL_OK;
}

static enum tl_err wallets_send(struct http_response *resp, int status, struct render *r)
{
    enum tl_err err = render_finish(r);
    if (err == TL_OK) {
        resp->status = status;
        resp->content_type = "application/json";
    }
    return err;
}

/* ---- GET /v1/wallets ---- */

enum tl_err wallets_list(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    uint32_t count = 0;
    enum tl_err err = http_request_store(req, &reader);
    if (err != TL_OK) {
        return err;
    }
    struct store_wallet *wallets = malloc(WALLETS_PER_USER_MAX * sizeof(*wallets));
    if (wallets == NULL) {
        return TL_ERR_NOMEM;
    }
    err = store_wallets_list(reader, req->principal.user_id, wallets, WALLETS_PER_USER_MAX, &count);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        struct accounts_balance balance;
        TL_ASSERT(id128_eq(wallets[i].user_id, req->principal.user_id));
        int64_t owed = 0;
        err = accounts_wallet_balance(reader, wallets[i].id, &balance);
        if (err == TL_OK) {
            err = debts_balance_apply(reader, wallets[i].id, &balance, &owed);
        }
        if (err == TL_OK) {
            wallets_render(&r, &wallets[i], &balance, owed);
        }
    }
    render_array_end(&r);
    render_key(&r, "has_more");
    render_bool(&r, false);
    render_object_end(&r);
    free(wallets);
    if (err != TL_OK) {
        return err;
    }
    return wallets_send(resp, 200, &r);
}

/* ---- POST /v1/wallets ---- */

enum tl_err wallets_open(struct api_app *app, struct id128 user_id, uint16_t currency,
                         struct store_wallet *out, bool *created)
{
    struct store *store = NULL;
    struct store_wallet wallet = {
        .id = id128_new(),
        .user_id = user_id,
        .currency = currency,
        .created_ns = clock_wall_ns(),
    };
    enum tl_err err = api_app_store_acquire(app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_wallet_open(store, &wallet, out, created);
    api_app_store_release(app, store);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(id128_eq(out->user_id, user_id));
    TL_ASSERT(out->currency == currency);
    /* The row first, then the account: an account never exists without its row. */
    err = accounts_wallet_open(app->writer, out->id, user_id, currency);
    if (err == TL_OK) {
        money_cache_wallet_put(out);
    }
    return err;
}

static const struct json_field wallets_create_fields[] = {
    JSON_STRING("currency", true, 64),
};

enum tl_err wallets_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    json_t *body = NULL;
    const struct money_currency *currency = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, wallets_create_fields, 1, &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    err = movement_currency(body, resp, &currency);
    json_decref(body);
    if (err != TL_OK) {
        return err;
    }
    struct store_wallet wallet;
    bool created = false;
    err = wallets_open(req->app, req->principal.user_id, currency->numeric, &wallet, &created);
    if (err != TL_OK) {
        return err;
    }
    if (!created) {
        return http_fail(resp, TL_ERR_WALLET_EXISTS, "currency",
                         "you already have a wallet in this currency");
    }
    struct accounts_balance zero = {0, 0}; /* a new account: nothing moved yet */
    struct render r;
    render_init(&r, &resp->body);
    wallets_render(&r, &wallet, &zero, 0);
    return wallets_send(resp, 201, &r);
}

/* ---- GET /v1/wallets/{id} ---- */

enum tl_err wallets_get(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_wallet wallet;
    struct accounts_balance balance;
    int64_t owed = 0;
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = wallets_owned(req, resp, reader, &wallet);
    }
    if (err == TL_OK) {
        err = accounts_wallet_balance(reader, wallet.id, &balance);
    }
    if (err == TL_OK) {
        err = debts_balance_apply(reader, wallet.id, &balance, &owed);
    }
    if (err != TL_OK) {
        return err;
    }
    struct render r;
    render_init(&r, &resp->body);
    wallets_render(&r, &wallet, &balance, owed);
    return wallets_send(resp, 200, &r);
}

/* ---- GET /v1/wallets/{id}/transactions ---- */

/* One posting as the wallet account sees it. */
static void wallets_render_entry(struct render *r, struct id128 account_id,
                                 const struct ledger_posting *posting)
{
    const struct ledger_transfer *t = &posting->transfer;
    bool outgoing = id128_eq(t->debit_account_id, account_id);
    TL_ASSERT(outgoing || id128_eq(t->credit_account_id, account_id));
    struct accounts_balance after =
        accounts_balance_of(outgoing ? &posting->debit_after : &posting->credit_after);
    bool has_payment = (t->code == LEDGER_CODE_PAYMENT || t->code == LEDGER_CODE_FEE ||
                        t->code == LEDGER_CODE_REFUND || t->code == LEDGER_CODE_REVERSAL) &&
                       !id128_is_zero(t->user_ref);
    render_object_begin(r);
    render_key(r, "id");
    render_typeid(r, TYPEID_PREFIX_TRANSFER, t->id);
    render_key(r, "type");
    render_str(r, wallets_txn_type(t->code));
    render_key(r, "amount");
    render_i64(r, outgoing ? -t->amount : t->amount);
    render_key(r, "currency");
    render_str(r, wallets_currency_code(t->currency));
    render_key(r, "balance_after");
    render_i64(r, after.available);
    render_key(r, "payment_id");
    if (has_payment) {
        render_typeid(r, TYPEID_PREFIX_PAYMENT, t->user_ref);
    } else {
        render_null(r);
    }
    render_key(r, "created_at");
    render_time(r, t->timestamp);
    render_object_end(r);
}

/* The page's cursor as a timestamp: the cursor transfer must touch this wallet. */
static enum tl_err wallets_cursor(struct store *reader, const struct page_query *query,
                                  struct id128 account_id, struct http_response *resp,
                                  struct store_page *page)
{
    struct ledger_posting posting;
    bool found = false;
    page->limit = query->limit;
    if (!query->has_cursor) {
        return TL_OK;
    }
    enum tl_err err = store_transfer_get(reader, query->cursor, &posting, &found);
    if (err != TL_OK) {
        return err;
    }
    const struct ledger_transfer *t = &posting.transfer;
    if (!found || (!id128_eq(t->debit_account_id, account_id) &&
                   !id128_eq(t->credit_account_id, account_id))) {
        return page_fail_cursor(query, resp);
    }
    TL_ASSERT(t->timestamp != 0);
    if (query->ending_before) {
        page->ending_before_ts = t->timestamp;
    } else {
        page->starting_after_ts = t->timestamp;
    }
    return TL_OK;
}

enum tl_err wallets_transactions(struct http_request *req, struct http_response *resp)
{
    struct store *reader = NULL;
    struct store_wallet wallet;
    struct page_query query;
    struct store_page page = {0, 0, 0};
    struct ledger_posting postings[PAGE_LIMIT_MAX];
    uint32_t count = 0;
    bool has_more = false;
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = wallets_owned(req, resp, reader, &wallet);
    }
    if (err == TL_OK) {
        err = page_from_request(req, TYPEID_PREFIX_TRANSFER, &query, resp);
    }
    if (err == TL_OK) {
        err = wallets_cursor(reader, &query, wallet.id, resp, &page);
    }
    if (err == TL_OK) {
        err = store_history(reader, wallet.id, &page, postings, &count, &has_more);
    }
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(count <= query.limit);
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "data");
    render_array_begin(&r);
    for (uint32_t i = 0; i < count; i++) {
        wallets_render_entry(&r, wallet.id, &postings[i]);
    }
    render_array_end(&r);
    render_key(&r, "has_more");
    render_bool(&r, has_more);
    render_object_end(&r);
    return wallets_send(resp, 200, &r);
}
