#include "api/kyc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/audit.h"
#include "api/json.h"
#include "api/render.h"
#include "api/wallets.h"
#include "core/money.h"
#include "store/app.h"
#include "store/writer.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/typeid.h"

/*
 * Parties one apply pass may track: two per command of a full batch, at most half full so
 * probes stay short. A batch that needs more (commands of other hooks checking several
 * parties) gets TL_ERR_BUSY for the overflow, never a wrong answer.
 */
#define KYC_SLOTS (1u << 15)
#define KYC_SLOTS_USED_MAX (KYC_SLOTS / 2u)
static_assert(2u * TL_BATCH_EVENTS_MAX <= KYC_SLOTS_USED_MAX, "a full batch of payments fits");
static_assert((KYC_SLOTS & (KYC_SLOTS - 1u)) == 0, "power of two");
/* limits.window_s's default (util/config.c), for a kyc made without a configuration. */
#define KYC_WINDOW_S_DEFAULT (7u * 86400u)

/* One (user, currency, direction) of the current pass: what the store said and what the
 * pass's earlier commands added. */
struct kyc_slot {
    struct id128 user;
    uint64_t pass; /* occupied when equal to kyc->pass */
    int64_t stored; /* the window's sum in the store, read once per pass */
    int64_t added;  /* counted by earlier commands of this pass */
    uint16_t currency;
    uint8_t direction; /* STORE_DIRECTION_SENT or _RECEIVED */
    uint8_t tier;
};

struct kyc {
    struct limits_spec tiers[LIMITS_TIER_COUNT];
    bool any[LIMITS_KIND_COUNT]; /* some tier limits this kind */
    bool enabled;
    uint32_t window_s;
    uint64_t window_ns;
    uint64_t bucket_ns; /* the running totals' bucket width (core/limits.h) */
    /* Writer thread only. */
    struct kyc_slot *slots;
    uint64_t pass;
    uint32_t used;
};

static const char *kyc_tier_text(const struct config *config, enum limits_tier tier)
{
    switch (tier) {
    case LIMITS_TIER_UNVERIFIED:
        return config->limits_unverified;
    case LIMITS_TIER_VERIFIED:
        return config->limits_verified;
    case LIMITS_TIER_BUSINESS:
        return config->limits_business;
    }
    TL_UNREACHABLE();
    return "";
}

static enum tl_err kyc_parse(const struct config *config, struct limits_spec *tiers,
                             char error[CONFIG_ERROR_BYTES])
{
    for (unsigned t = 0; t < LIMITS_TIER_COUNT; t++) {
        char why[LIMITS_ERROR_BYTES];
        const char *text = kyc_tier_text(config, (enum limits_tier)t);
        if (limits_spec_parse(text, &tiers[t], why) != TL_OK) {
            snprintf(error, CONFIG_ERROR_BYTES, "limits.%s: %s",
                     limits_tier_name((enum limits_tier)t), why);
            return TL_ERR_INVALID_REQUEST;
        }
    }
    return TL_OK;
}

enum tl_err kyc_config_check(const struct config *config, char error[CONFIG_ERROR_BYTES])
{
    struct limits_spec tiers[LIMITS_TIER_COUNT];
    TL_ASSERT(config != NULL);
    return kyc_parse(config, tiers, error);
}

enum tl_err kyc_new(const struct config *config, struct kyc **out)
{
    char error[CONFIG_ERROR_BYTES];
    struct kyc *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return TL_ERR_NOMEM;
    }
    for (unsigned t = 0; t < LIMITS_TIER_COUNT; t++) {
        for (unsigned kind = 0; kind < LIMITS_KIND_COUNT; kind++) {
            k->tiers[t].max_e4[kind] = LIMITS_NONE;
        }
    }
    if (config != NULL) {
        if (kyc_parse(config, k->tiers, error) != TL_OK) {
            free(k);
            return TL_ERR_INVALID_REQUEST;
        }
        k->window_s = config->limits_window_s;
    }
    if (k->window_s == 0) {
        k->window_s = KYC_WINDOW_S_DEFAULT; /* no configuration: the option's default */
    }
    k->window_ns = (uint64_t)k->window_s * 1000000000u;
    k->bucket_ns = limits_bucket_ns(k->window_s);
    for (unsigned t = 0; t < LIMITS_TIER_COUNT; t++) {
        for (unsigned kind = 0; kind < LIMITS_KIND_COUNT; kind++) {
            k->any[kind] = k->any[kind] || k->tiers[t].max_e4[kind] != LIMITS_NONE;
        }
        k->enabled = k->enabled || limits_spec_any(&k->tiers[t]);
    }
    if (k->enabled) {
        TL_ASSERT(k->window_s > 0);
        k->slots = calloc(KYC_SLOTS, sizeof(*k->slots));
        if (k->slots == NULL) {
            free(k);
            return TL_ERR_NOMEM;
        }
    }
    *out = k;
    return TL_OK;
}

void kyc_free(struct kyc *kyc)
{
    if (kyc == NULL) {
        return;
    }
    free(kyc->slots);
    free(kyc);
}

/* ---- The check, on the writer thread ---- */

static uint64_t kyc_slot_hash(struct id128 user, uint16_t currency, uint8_t direction)
{
    return id128_hash(user) ^ ((uint64_t)currency << 8 | direction) * 0x9e3779b97f4a7c15ull;
}

/* The slot of (user, currency, direction) in this pass, read from the store on first use. */
static enum tl_err kyc_slot_get(struct kyc *k, struct writer_batch *batch, struct id128 user,
                                uint16_t currency, uint8_t direction, uint64_t after_ns,
                                struct kyc_slot **out)
{
    uint32_t mask = KYC_SLOTS - 1u;
    uint32_t index = (uint32_t)kyc_slot_hash(user, currency, direction) & mask;
    for (;;) {
        struct kyc_slot *slot = &k->slots[index];
        if (slot->pass != k->pass) {
            break;
        }
        if (id128_eq(slot->user, user) && slot->currency == currency &&
            slot->direction == direction) {
            *out = slot;
            return TL_OK;
        }
        index = (index + 1u) & mask;
    }
    if (k->used >= KYC_SLOTS_USED_MAX) {
        return TL_ERR_BUSY;
    }
    struct store_limits_window window;
    enum tl_err err = store_limits_window(writer_batch_store(batch), user,
                                          (enum store_direction)direction, currency, after_ns,
                                          &window);
    if (err != TL_OK) {
        return err;
    }
    struct kyc_slot *slot = &k->slots[index];
    *slot = (struct kyc_slot){.user = user,
                              .pass = k->pass,
                              .stored = window.amount,
                              .added = 0,
                              .currency = currency,
                              .direction = direction,
                              .tier = window.tier};
    k->used++;
    *out = slot;
    return TL_OK;
}

static int64_t kyc_used(const struct kyc_slot *slot)
{
    TL_ASSERT(slot->stored >= 0);
    TL_ASSERT(slot->added >= 0);
    return slot->stored > INT64_MAX - slot->added ? INT64_MAX : slot->stored + slot->added;
}

static int64_t kyc_limit(const struct kyc *k, uint8_t tier, enum limits_kind kind,
                         uint16_t currency)
{
    const struct money_currency *c = money_currency_by_numeric(currency);
    TL_ASSERT(c != NULL);
    TL_ASSERT(tier < LIMITS_TIER_COUNT);
    return limits_spec_minor(&k->tiers[tier], kind, c->exponent);
}

static enum tl_err kyc_refuse(struct kyc_refusal *refusal, enum limits_kind kind, bool payee,
                              const struct kyc_movement *m)
{
    refusal->kind = kind;
    refusal->payee = payee;
    refusal->payee_is_caller = m->payee_is_caller;
    refusal->what = m->what != NULL ? m->what : "payment";
    return TL_ERR_TIER_LIMIT;
}

/* Adds amount to the running total of (user, currency, direction) in the bucket of
 * timestamp_ns, with the batch (store_record_limit_usage). */
static enum tl_err kyc_usage_attach(const struct kyc *k, struct writer_batch *batch,
                                    struct id128 user, enum store_direction direction,
                                    const struct kyc_movement *m)
{
    uint8_t buf[STORE_RECORD_LIMIT_USAGE_BYTES];
    struct store_record record;
    struct store_limit_usage usage = {
        .user_id = user,
        .end_ns = limits_bucket_end(m->timestamp_ns, k->bucket_ns),
        .amount = m->amount,
        .currency = m->currency,
        .direction = (uint8_t)direction,
    };
    store_record_limit_usage(&usage, buf, &record);
    return writer_batch_attach(batch, &record); /* copies the data */
}

/* The checks against the limits (kyc enabled); on TL_OK *payer_out / *payee_out are the slots
 * that count the movement (NULL: none). */
static enum tl_err kyc_limits_check(struct kyc *kyc, struct writer_batch *batch,
                                    const struct kyc_movement *m, struct kyc_refusal *refusal,
                                    struct kyc_slot **payer_out, struct kyc_slot **payee_out)
{
    uint64_t pass = writer_batch_pass(batch);
    if (pass != kyc->pass) {
        kyc->pass = pass; /* every slot of an earlier pass is free now */
        kyc->used = 0;
    }
    uint64_t after_ns = limits_window_after(m->timestamp_ns, kyc->window_ns);
    struct kyc_slot *payer = NULL;
    struct kyc_slot *payee = NULL;
    enum tl_err err = TL_OK;
    if (!id128_is_zero(m->payer) && kyc->any[LIMITS_SEND]) {
        err = kyc_slot_get(kyc, batch, m->payer, m->currency, STORE_DIRECTION_SENT, after_ns,
                           &payer);
        if (err != TL_OK) {
            return err;
        }
        int64_t limit = kyc_limit(kyc, payer->tier, LIMITS_SEND, m->currency);
        if (!limits_allows(limit, kyc_used(payer), m->amount)) {
            return kyc_refuse(refusal, LIMITS_SEND, false, m);
        }
    }
    if ((m->counts_receive || m->checks_hold) &&
        (kyc->any[LIMITS_RECEIVE] || kyc->any[LIMITS_HOLD])) {
        err = kyc_slot_get(kyc, batch, m->payee, m->currency, STORE_DIRECTION_RECEIVED, after_ns,
                           &payee);
        if (err != TL_OK) {
            return err;
        }
        int64_t limit = kyc_limit(kyc, payee->tier, LIMITS_RECEIVE, m->currency);
        if (m->counts_receive && !limits_allows(limit, kyc_used(payee), m->amount)) {
            return kyc_refuse(refusal, LIMITS_RECEIVE, true, m);
        }
        int64_t hold = kyc_limit(kyc, payee->tier, LIMITS_HOLD, m->currency);
        if (m->checks_hold && hold != LIMITS_NONE && m->payee_balance > hold) {
            return kyc_refuse(refusal, LIMITS_HOLD, true, m);
        }
    }
    *payer_out = payer;
    *payee_out = m->counts_receive ? payee : NULL;
    return TL_OK;
}

enum tl_err kyc_check(struct kyc *kyc, struct writer_batch *batch, const struct kyc_movement *m,
                      struct kyc_refusal *refusal)
{
    struct kyc_slot *payer = NULL;
    struct kyc_slot *payee = NULL;
    enum tl_err err = TL_OK;
    TL_ASSERT(m != NULL);
    TL_ASSERT(m->amount > 0);
    TL_ASSERT(!id128_is_zero(m->payee));
    if (kyc == NULL) {
        return TL_OK;
    }
    if (kyc->enabled) {
        err = kyc_limits_check(kyc, batch, m, refusal, &payer, &payee);
    }
    /* Passed: the running totals commit with the money. */
    if (err == TL_OK && !id128_is_zero(m->payer)) {
        err = kyc_usage_attach(kyc, batch, m->payer, STORE_DIRECTION_SENT, m);
    }
    if (err == TL_OK && m->counts_receive) {
        err = kyc_usage_attach(kyc, batch, m->payee, STORE_DIRECTION_RECEIVED, m);
    }
    if (err != TL_OK) {
        return err;
    }
    /* And the rest of this pass counts it. */
    if (payer != NULL) {
        payer->added = payer->added > INT64_MAX - m->amount ? INT64_MAX : payer->added + m->amount;
    }
    if (payee != NULL) {
        payee->added = payee->added > INT64_MAX - m->amount ? INT64_MAX : payee->added + m->amount;
    }
    return TL_OK;
}

enum tl_err kyc_check_payment(struct kyc *kyc, struct writer_batch *batch,
                              const struct store_payment *row,
                              const struct ledger_event_result *main,
                              struct kyc_refusal *refusal)
{
    TL_ASSERT(row != NULL);
    TL_ASSERT(main != NULL);
    TL_ASSERT(main->result == LEDGER_OK);
    struct kyc_movement m = {
        .payer = row->from_user,
        .payee = row->to_user,
        .currency = row->currency,
        .amount = row->amount,
        .timestamp_ns = main->timestamp,
        .payee_balance = main->credit_after.credits_posted - main->credit_after.debits_posted,
        .counts_receive = true,
        .checks_hold = true,
        .payee_is_caller = false,
        .what = "payment",
    };
    return kyc_check(kyc, batch, &m, refusal);
}

enum tl_err kyc_check_deposit(struct kyc *kyc, struct writer_batch *batch, struct id128 user_id,
                              const struct ledger_transfer *transfer,
                              const struct ledger_event_result *result,
                              struct kyc_refusal *refusal)
{
    TL_ASSERT(transfer != NULL);
    TL_ASSERT(result != NULL);
    TL_ASSERT(result->result == LEDGER_OK);
    struct kyc_movement m = {
        .payer = id128_make(0, 0),
        .payee = user_id,
        .currency = transfer->currency,
        .amount = transfer->amount,
        .timestamp_ns = result->timestamp,
        .payee_balance = result->credit_after.credits_posted - result->credit_after.debits_posted,
        .counts_receive = false,
        .checks_hold = true,
        .payee_is_caller = true,
        .what = "deposit",
    };
    return kyc_check(kyc, batch, &m, refusal);
}

enum tl_err kyc_check_escrow_hold(struct kyc *kyc, struct writer_batch *batch, struct id128 payer,
                                  struct id128 payee, const struct ledger_transfer *hold,
                                  const struct ledger_event_result *result,
                                  struct kyc_refusal *refusal)
{
    TL_ASSERT(hold != NULL);
    TL_ASSERT(result != NULL);
    TL_ASSERT(result->result == LEDGER_OK);
    TL_ASSERT(!id128_is_zero(payer));
    struct kyc_movement m = {
        .payer = payer,
        .payee = payee,
        .currency = hold->currency,
        .amount = hold->amount,
        .timestamp_ns = result->timestamp,
        .payee_balance = 0,
        .counts_receive = false,
        .checks_hold = false, /* pending: the payee's balance does not change yet */
        .payee_is_caller = false,
        .what = "escrow",
    };
    return kyc_check(kyc, batch, &m, refusal);
}

enum tl_err kyc_check_escrow_release(struct kyc *kyc, struct writer_batch *batch,
                                     struct id128 payee, uint16_t currency, int64_t amount,
                                     const struct ledger_event_result *result,
                                     struct kyc_refusal *refusal)
{
    TL_ASSERT(result != NULL);
    TL_ASSERT(result->result == LEDGER_OK);
    struct kyc_movement m = {
        .payer = id128_make(0, 0), /* counted toward the payer's send window at the hold */
        .payee = payee,
        .currency = currency,
        .amount = amount,
        .timestamp_ns = result->timestamp,
        .payee_balance = result->credit_after.credits_posted - result->credit_after.debits_posted,
        .counts_receive = true,
        .checks_hold = true,
        .payee_is_caller = false,
        .what = "release",
    };
    return kyc_check(kyc, batch, &m, refusal);
}

enum tl_err kyc_check_conversion(struct kyc *kyc, struct writer_batch *batch, struct id128 user,
                                 uint16_t currency, int64_t amount,
                                 const struct ledger_event_result *result,
                                 struct kyc_refusal *refusal)
{
    TL_ASSERT(result != NULL);
    TL_ASSERT(result->result == LEDGER_OK);
    struct kyc_movement m = {
        .payer = id128_make(0, 0),
        .payee = user,
        .currency = currency,
        .amount = amount,
        .timestamp_ns = result->timestamp,
        .payee_balance = result->credit_after.credits_posted - result->credit_after.debits_posted,
        .counts_receive = false,
        .checks_hold = true,
        .payee_is_caller = true,
        .what = "conversion",
    };
    return kyc_check(kyc, batch, &m, refusal);
}

enum tl_err kyc_refusal_fail(struct http_response *resp, const struct kyc_refusal *refusal)
{
    char detail[sizeof(resp->problem_detail)] = "";
    const char *what = refusal->what != NULL ? refusal->what : "payment";
    switch (refusal->kind) {
    case LIMITS_SEND:
        snprintf(detail, sizeof(detail),
                 "the %s would take what you sent in the rolling window past the send limit of "
                 "your verification tier",
                 what);
        break;
    case LIMITS_RECEIVE:
        snprintf(detail, sizeof(detail),
                 "the %s would take what the recipient received in the rolling window past the "
                 "receive limit of their verification tier",
                 what);
        break;
    case LIMITS_HOLD:
        snprintf(detail, sizeof(detail),
                 refusal->payee_is_caller
                     ? "the %s would take your balance past the hold limit of your verification "
                       "tier"
                     : "the %s would take the recipient's balance past the hold limit of their "
                       "verification tier",
                 what);
        break;
    }
    return http_fail(resp, TL_ERR_TIER_LIMIT, limits_kind_name(refusal->kind), detail);
}

/* ---- GET /v1/me/limits ---- */

/* One window limit: {limit, used, remaining, frees_at} or null when the tier has none. */
static void kyc_render_window(struct render *r, int64_t limit,
                              const struct store_limits_window *w, uint64_t window_ns)
{
    if (limit == LIMITS_NONE) {
        render_null(r);
        return;
    }
    render_object_begin(r);
    render_key(r, "limit");
    render_i64(r, limit);
    render_key(r, "used");
    render_i64(r, w->amount);
    render_key(r, "remaining");
    render_i64(r, limits_remaining(limit, w->amount));
    render_key(r, "frees_at");
    if (w->count == 0) {
        render_null(r);
    } else {
        render_time(r, limits_frees_at(w->oldest_ns, window_ns));
    }
    render_object_end(r);
}

static void kyc_render_hold(struct render *r, int64_t limit, int64_t balance)
{
    if (limit == LIMITS_NONE) {
        render_null(r);
        return;
    }
    render_object_begin(r);
    render_key(r, "limit");
    render_i64(r, limit);
    render_key(r, "used");
    render_i64(r, balance);
    render_key(r, "remaining");
    render_i64(r, limits_remaining(limit, balance < 0 ? 0 : balance));
    render_object_end(r);
}

/* One wallet's limits; *tier is the tier the store named. */
static enum tl_err kyc_render_wallet(struct render *r, const struct kyc *k, struct store *reader,
                                     const struct store_wallet *wallet, uint64_t now_ns)
{
    struct store_limits_window sent;
    struct store_limits_window received;
    struct ledger_account account;
    bool found = false;
    uint64_t after_ns = limits_window_after(now_ns, k->window_ns);
    enum tl_err err = store_limits_window(reader, wallet->user_id, STORE_DIRECTION_SENT,
                                          wallet->currency, after_ns, &sent);
    if (err == TL_OK) {
        err = store_limits_window(reader, wallet->user_id, STORE_DIRECTION_RECEIVED,
                                  wallet->currency, after_ns, &received);
    }
    if (err == TL_OK) {
        err = store_account_get(reader, wallet->id, &account, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    int64_t balance = found ? account.credits_posted - account.debits_posted : 0;
    const struct money_currency *c = money_currency_by_numeric(wallet->currency);
    TL_ASSERT(c != NULL);
    const struct limits_spec *spec = &k->tiers[sent.tier];
    render_object_begin(r);
    render_key(r, "currency");
    render_str(r, c->code);
    render_key(r, "send");
    kyc_render_window(r, limits_spec_minor(spec, LIMITS_SEND, c->exponent), &sent, k->window_ns);
    render_key(r, "receive");
    kyc_render_window(r, limits_spec_minor(spec, LIMITS_RECEIVE, c->exponent), &received,
                      k->window_ns);
    render_key(r, "hold");
    kyc_render_hold(r, limits_spec_minor(spec, LIMITS_HOLD, c->exponent), balance);
    render_object_end(r);
    return TL_OK;
}

static enum tl_err kyc_render_limits(struct render *r, const struct kyc *k, struct store *reader,
                                     const struct store_wallet *wallets, uint32_t count,
                                     uint8_t tier)
{
    uint64_t now_ns = clock_wall_ns();
    enum tl_err err = TL_OK;
    render_object_begin(r);
    render_key(r, "tier");
    render_str(r, limits_tier_name((enum limits_tier)tier));
    render_key(r, "window_s");
    render_i64(r, k->window_s);
    /* The running totals' rounding (core/limits.h): whole buckets, never less than exact. */
    render_key(r, "bucket_s");
    render_i64(r, (int64_t)(k->bucket_ns / LIMITS_NS_PER_S));
    render_key(r, "window_rounding");
    render_str(r, "whole_buckets");
    render_key(r, "wallets");
    render_array_begin(r);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        err = kyc_render_wallet(r, k, reader, &wallets[i], now_ns);
    }
    render_array_end(r);
    render_object_end(r);
    return err;
}

enum tl_err kyc_me_limits(struct http_request *req, struct http_response *resp)
{
    const struct kyc *k = req->app->kyc;
    const struct config *config = req->app->config;
    struct store *reader = NULL;
    struct store_limits_window probe;
    uint32_t count = 0;
    TL_ASSERT(req->principal.authenticated);
    if (k == NULL || config == NULL) {
        return TL_ERR_NOT_READY;
    }
    const struct money_currency *home = money_currency_find(config->default_currency, 3);
    TL_ASSERT(home != NULL);
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        /* The tier alone (any currency's window carries it). */
        err = store_limits_window(reader, req->principal.user_id, STORE_DIRECTION_SENT,
                                  home->numeric, clock_wall_ns(), &probe);
    }
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
    if (err == TL_OK) {
        err = kyc_render_limits(&r, k, reader, wallets, count, probe.tier);
    }
    free(wallets);
    if (err == TL_OK) {
        err = render_finish(&r);
    }
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}

/* ---- POST /v1/admin/users/{id}/kyc ---- */

static const struct json_field kyc_admin_fields[] = {
    JSON_STRING("tier", true, 32),
};

/* The tier of the body, or 400 invalid_request with param "tier". */
static enum tl_err kyc_admin_parse(const struct http_request *req, struct http_response *resp,
                                   enum limits_tier *out)
{
    struct json_error error;
    json_t *body = NULL;
    enum tl_err err =
        json_body_read(req->body, req->body_bytes, kyc_admin_fields,
                       sizeof(kyc_admin_fields) / sizeof(kyc_admin_fields[0]), &body, &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *tier = json_field_string(body, "tier");
    if (!limits_tier_find(tier, strlen(tier), out)) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "tier",
                        "must be unverified, verified or business");
    }
    json_decref(body);
    return err;
}

static enum tl_err kyc_admin_render(struct http_response *resp, struct id128 user_id,
                                    enum limits_tier tier, uint64_t updated_ns)
{
    struct render r;
    render_init(&r, &resp->body);
    render_object_begin(&r);
    render_key(&r, "user_id");
    render_typeid(&r, TYPEID_PREFIX_USER, user_id);
    render_key(&r, "tier");
    render_str(&r, limits_tier_name(tier));
    render_key(&r, "updated_at");
    render_time(&r, updated_ns);
    render_object_end(&r);
    enum tl_err err = render_finish(&r);
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}

enum tl_err kyc_admin_set(struct http_request *req, struct http_response *resp)
{
    TL_ASSERT(req->operator);
    const char *text = http_request_param(req, "id");
    struct store *reader = NULL;
    struct store *store = NULL;
    struct store_user user;
    struct id128 id;
    enum limits_tier tier = LIMITS_TIER_UNVERIFIED;
    bool found = false;
    TL_ASSERT(text != NULL);
    enum tl_err err = kyc_admin_parse(req, resp, &tier);
    if (err != TL_OK) {
        return err;
    }
    if (typeid_decode(text, strlen(text), TYPEID_PREFIX_USER, &id, NULL) != TL_OK ||
        id128_is_zero(id)) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such user");
    }
    err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_user_get(reader, id, &user, &found);
    }
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such user");
    }
    uint64_t now_ns = clock_wall_ns();
    if (err == TL_OK) {
        err = api_app_store_acquire(req->app, &store);
    }
    if (err != TL_OK) {
        return err;
    }
    err = store_user_tier_set(store, id, (uint8_t)tier, now_ns);
    api_app_store_release(req->app, store);
    if (err != TL_OK) {
        return err;
    }
    audit_record(req, id, AUDIT_KYC_TIER_SET, limits_tier_name(tier));
    return kyc_admin_render(resp, id, tier, now_ns);
}
