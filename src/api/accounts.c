#include "api/accounts.h"

#include <stdatomic.h>
#include <string.h>

#include "store/store.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/log.h"

/* ISO 4217 numbers are 1..999. */
#define ACCOUNTS_CURRENCY_MAX 999u

static_assert(LEDGER_KIND_MAX < (1u << 16), "a kind fits above the currency in lo");

/* Currencies whose system accounts are known to exist (set once, never cleared). */
static _Atomic bool accounts_system_ready[ACCOUNTS_CURRENCY_MAX + 1];

struct id128 accounts_system_id(enum ledger_account_kind kind, uint16_t currency)
{
    TL_ASSERT(kind == LEDGER_KIND_SANDBOX_FUNDING || kind == LEDGER_KIND_FEE_REVENUE ||
              kind == LEDGER_KIND_FX_POOL);
    TL_ASSERT(currency >= 1 && currency <= ACCOUNTS_CURRENCY_MAX);
    return id128_make(0, (uint64_t)kind << 16 | currency);
}

bool accounts_is_system(struct id128 id)
{
    return id.hi == 0 && !id128_is_zero(id);
}

static struct ledger_event accounts_event(struct id128 id, struct id128 user_id, uint16_t currency,
                                          uint16_t kind, uint32_t flags)
{
    struct ledger_event event;
    memset(&event, 0, sizeof(event));
    event.kind = LEDGER_EVENT_ACCOUNT;
    event.as.account.id = id;
    event.as.account.user_data = user_id;
    event.as.account.currency = currency;
    event.as.account.kind = kind;
    event.as.account.flags = flags;
    return event;
}

/* Submits account creations and maps each result: ok and exists are both success. */
static enum tl_err accounts_submit(struct writer *writer, struct ledger_event *events,
                                   uint32_t count)
{
    struct ledger_event_result results[2];
    TL_ASSERT(count >= 1 && count <= 2);
    if (writer == NULL) {
        return TL_ERR_NOT_READY;
    }
    struct writer_command cmd = {.events = events, .event_count = count, .results = results};
    enum tl_err err = writer_submit(writer, &cmd);
    if (err != TL_OK) {
        return err;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (results[i].result != LEDGER_OK && results[i].result != LEDGER_EXISTS) {
            char hex[ID128_HEX_BYTES];
            id128_to_hex(events[i].as.account.id, hex);
            LOG(LOG_ERROR, "account_open_failed", LOG_STR("account", hex),
                LOG_STR("result", ledger_result_name((enum ledger_result)results[i].result)));
            return TL_ERR_INTERNAL;
        }
    }
    return TL_OK;
}

enum tl_err accounts_system_ensure(struct writer *writer, uint16_t currency)
{
    TL_ASSERT(currency >= 1 && currency <= ACCOUNTS_CURRENCY_MAX);
    if (atomic_load_explicit(&accounts_system_ready[currency], memory_order_acquire)) {
        return TL_OK;
    }
    struct id128 none = {0, 0};
    struct ledger_event events[2] = {
        accounts_event(accounts_system_id(LEDGER_KIND_SANDBOX_FUNDING, currency), none, currency,
                       LEDGER_KIND_SANDBOX_FUNDING, 0),
        accounts_event(accounts_system_id(LEDGER_KIND_FEE_REVENUE, currency), none, currency,
                       LEDGER_KIND_FEE_REVENUE, 0),
    };
    enum tl_err err = accounts_submit(writer, events, 2);
    if (err == TL_OK) {
        atomic_store_explicit(&accounts_system_ready[currency], true, memory_order_release);
    }
    return err;
}

enum tl_err accounts_wallet_open(struct writer *writer, struct id128 wallet_id,
                                 struct id128 user_id, uint16_t currency)
{
    TL_ASSERT(!id128_is_zero(wallet_id));
    TL_ASSERT(!accounts_is_system(wallet_id));
    TL_ASSERT(currency >= 1 && currency <= ACCOUNTS_CURRENCY_MAX);
    struct ledger_event event = accounts_event(wallet_id, user_id, currency, LEDGER_KIND_WALLET,
                                               LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    return accounts_submit(writer, &event, 1);
}

struct accounts_balance accounts_balance_of(const struct ledger_balance *balance)
{
    struct accounts_balance out = {
        .available = ledger_balance_available(balance),
        .pending = balance->credits_pending,
    };
    TL_ASSERT(out.pending >= 0);
    return out;
}

enum tl_err accounts_wallet_balance(struct store *reader, struct id128 wallet_id,
                                    struct accounts_balance *out)
{
    struct ledger_account account;
    bool found = false;
    TL_ASSERT(!id128_is_zero(wallet_id));
    enum tl_err err = store_account_get(reader, wallet_id, &account, &found);
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        out->available = 0;
        out->pending = 0;
        return TL_OK;
    }
    TL_ASSERT(id128_eq(account.id, wallet_id));
    struct ledger_balance balance = {
        .debits_pending = account.debits_pending,
        .debits_posted = account.debits_posted,
        .credits_pending = account.credits_pending,
        .credits_posted = account.credits_posted,
    };
    *out = accounts_balance_of(&balance);
    return TL_OK;
}

/* Currencies whose FX pool is known to exist (set once, never cleared). */
static _Atomic bool accounts_pool_ready[ACCOUNTS_CURRENCY_MAX + 1];

enum tl_err accounts_fx_pool_ensure(struct writer *writer, uint16_t currency)
{
    TL_ASSERT(currency >= 1 && currency <= ACCOUNTS_CURRENCY_MAX);
    if (atomic_load_explicit(&accounts_pool_ready[currency], memory_order_acquire)) {
        return TL_OK;
    }
    struct id128 none = {0, 0};
    /* No limit flag: the pool is the platform's position in the currency (accounts.h). */
    struct ledger_event event = accounts_event(accounts_system_id(LEDGER_KIND_FX_POOL, currency),
                                               none, currency, LEDGER_KIND_FX_POOL, 0);
    enum tl_err err = accounts_submit(writer, &event, 1);
    if (err == TL_OK) {
        atomic_store_explicit(&accounts_pool_ready[currency], true, memory_order_release);
    }
    return err;
}
