#include "api/debts.h"

#include <string.h>

#include "api/app.h"
#include "api/movement.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/log.h"

/* Attempts of debts_settle when other movements of the wallet keep changing its balance. */
#define DEBTS_SETTLE_ATTEMPTS_MAX 4

#define DEBTS_VARIANT_MASK 0x3fffffffffffffffull
#define DEBTS_VARIANT_RECEIVABLE 0xc000000000000000ull

struct id128 debts_receivable_id(struct id128 wallet_id)
{
    TL_ASSERT(wallet_id.hi != 0);
    return id128_make(wallet_id.hi, (wallet_id.lo & DEBTS_VARIANT_MASK) | DEBTS_VARIANT_RECEIVABLE);
}

enum tl_err debts_owed(struct store *reader, struct id128 wallet_id, int64_t *out)
{
    struct ledger_account account;
    bool found = false;
    enum tl_err err = store_account_get(reader, debts_receivable_id(wallet_id), &account, &found);
    if (err != TL_OK) {
        return err;
    }
    *out = 0;
    if (found) {
        TL_ASSERT(account.kind == LEDGER_KIND_RECEIVABLE);
        TL_ASSERT(account.credits_posted <= account.debits_posted);
        *out = account.debits_posted - account.credits_posted;
    }
    return TL_OK;
}

enum tl_err debts_open(struct writer *writer, struct id128 wallet_id, struct id128 user_id,
                       uint16_t currency)
{
    struct ledger_event event;
    struct ledger_event_result result;
    if (writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    memset(&event, 0, sizeof(event));
    event.kind = LEDGER_EVENT_ACCOUNT;
    event.as.account.id = debts_receivable_id(wallet_id);
    event.as.account.user_data = user_id;
    event.as.account.currency = currency;
    event.as.account.kind = LEDGER_KIND_RECEIVABLE;
    event.as.account.flags = LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    struct writer_command cmd = {.events = &event, .event_count = 1, .results = &result};
    enum tl_err err = writer_submit(writer, &cmd);
    if (err != TL_OK) {
        return err;
    }
    if (result.result != LEDGER_OK && result.result != LEDGER_EXISTS) {
        LOG(LOG_ERROR, "receivable_open_failed",
            LOG_STR("result", ledger_result_name((enum ledger_result)result.result)));
        return TL_ERR_INTERNAL;
    }
    return TL_OK;
}

/* One repayment of amount: TL_OK with *out_owed the debt after it, TL_ERR_CONFLICT when the
 * balances moved under it (retry), else the writer's error or TL_ERR_INTERNAL. */
static enum tl_err debts_repay(struct writer *writer, struct id128 wallet_id, uint16_t currency,
                               int64_t amount, int64_t *out_owed)
{
    struct ledger_event event =
        movement_transfer(id128_new(), wallet_id, debts_receivable_id(wallet_id), amount,
                          currency, LEDGER_CODE_ADJUSTMENT, id128_make(0, 0), 0);
    struct ledger_event_result result;
    struct writer_command cmd = {.events = &event, .event_count = 1, .results = &result};
    enum tl_err err = writer_submit(writer, &cmd);
    if (err != TL_OK) {
        return err;
    }
    switch ((enum ledger_result)result.result) {
    case LEDGER_OK:
        *out_owed = result.credit_after.debits_posted - result.credit_after.credits_posted;
        TL_ASSERT(*out_owed >= 0);
        return TL_OK;
    case LEDGER_EXCEEDS_CREDITS:
    case LEDGER_EXCEEDS_DEBITS:
        return TL_ERR_CONFLICT;
    default:
        LOG(LOG_ERROR, "debt_repay_failed",
            LOG_STR("result", ledger_result_name((enum ledger_result)result.result)));
        return TL_ERR_INTERNAL;
    }
}

enum tl_err debts_settle(struct http_request *req, struct id128 wallet_id, uint16_t currency,
                         int64_t *out_owed)
{
    struct store *reader = NULL;
    enum tl_err err = http_request_store(req, &reader);
    for (int attempt = 0; err == TL_OK && attempt < DEBTS_SETTLE_ATTEMPTS_MAX; attempt++) {
        int64_t owed = 0;
        struct accounts_balance balance;
        err = debts_owed(reader, wallet_id, &owed);
        if (err == TL_OK && owed > 0) {
            err = accounts_wallet_balance(reader, wallet_id, &balance);
        }
        if (err != TL_OK) {
            return err;
        }
        if (owed == 0 || balance.available <= 0) {
            *out_owed = owed;
            return TL_OK;
        }
        if (req->app->writer == NULL) {
            return TL_ERR_NOT_READY;
        }
        int64_t amount = owed < balance.available ? owed : balance.available;
        err = debts_repay(req->app->writer, wallet_id, currency, amount, &owed);
        if (err == TL_OK) {
            *out_owed = owed;
            return TL_OK;
        }
        if (err == TL_ERR_CONFLICT) {
            err = TL_OK; /* the wallet or the debt moved since the read: read again */
        }
    }
    return err == TL_OK ? TL_ERR_BUSY : err;
}

enum tl_err debts_gate(struct http_request *req, struct http_response *resp,
                       struct id128 wallet_id, uint16_t currency)
{
    struct store *reader = NULL;
    int64_t owed = 0;
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = debts_owed(reader, wallet_id, &owed);
    }
    if (err != TL_OK || owed == 0) {
        return err; /* the common case: one read, nothing owed */
    }
    err = debts_settle(req, wallet_id, currency, &owed);
    if (err != TL_OK) {
        return err;
    }
    if (owed > 0) {
        return http_fail(resp, TL_ERR_WALLET_RESTRICTED, "currency",
                         "this wallet owes money after a reversal; it can send again once "
                         "incoming money has covered the debt");
    }
    return TL_OK;
}

enum tl_err debts_balance_apply(struct store *reader, struct id128 wallet_id,
                                struct accounts_balance *balance, int64_t *out_owed)
{
    int64_t owed = 0;
    enum tl_err err = debts_owed(reader, wallet_id, &owed);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(owed >= 0);
    balance->available -= owed;
    *out_owed = owed;
    return TL_OK;
}
