/*
 * plans.c - the rows of plans.h (escrows, scheduled payments): argument checks, then the
 * backend's plans ops (app_backend.h: store_app_ops.plans).
 *
 * Like app.c: what a client could have sent (a string too long or empty) is an error code,
 * anything else wrong with the arguments is our bug and asserts; rows read back are checked
 * against what we could have written.
 */
#include "store/plans.h"

#include <string.h>

#include "store/app_backend.h"
#include "store/backend.h"
#include "store/plans_backend.h"
#include "util/assert.h"
#include "util/limits.h"

#define ASSERT_TERMINATED(array) TL_ASSERT(memchr((array), '\0', sizeof(array)) != NULL)

static const struct store_plans_ops *plans_ops(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops->app != NULL);
    TL_ASSERT(store->ops->app->plans != NULL);
    return store->ops->app->plans;
}

static void plans_check_write(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
}

static bool plans_text_ok(const char *text, size_t bytes_max)
{
    size_t length;
    TL_ASSERT(text != NULL);
    length = strnlen(text, bytes_max);
    return length > 0 && length < bytes_max;
}

static void plans_check_time(uint64_t time_ns)
{
    TL_ASSERT(time_ns != 0);
    TL_ASSERT(time_ns <= (uint64_t)INT64_MAX);
}

static bool plans_page_ok(const struct store_request_page *page)
{
    TL_ASSERT(page != NULL);
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX) {
        return false;
    }
    return id128_is_zero(page->starting_after) || id128_is_zero(page->ending_before);
}

/* ---- Escrows ---- */

static void check_escrow(const struct store_escrow *e)
{
    TL_ASSERT(!id128_is_zero(e->id));
    TL_ASSERT(!id128_is_zero(e->payer_id));
    TL_ASSERT(!id128_is_zero(e->payee_id));
    TL_ASSERT(!id128_eq(e->payer_id, e->payee_id));
    TL_ASSERT(!id128_is_zero(e->payer_wallet));
    TL_ASSERT(!id128_is_zero(e->payee_wallet));
    TL_ASSERT(!id128_is_zero(e->settle_id));
    TL_ASSERT(!id128_eq(e->settle_id, e->id));
    TL_ASSERT(e->amount > 0);
    TL_ASSERT(e->currency != 0);
    TL_ASSERT(e->release_mode >= STORE_ESCROW_RELEASE_PAYER);
    TL_ASSERT(e->release_mode <= STORE_ESCROW_RELEASE_AT);
    TL_ASSERT((e->release_mode == STORE_ESCROW_RELEASE_AT) == (e->release_at_ns != 0));
    TL_ASSERT(e->release_at_ns < e->expires_ns);
    plans_check_time(e->expires_ns);
    plans_check_time(e->created_ns);
    ASSERT_TERMINATED(e->to_text);
    ASSERT_TERMINATED(e->note);
}

/* A row read back: its ledger state is consistent. */
static void check_escrow_read(const struct store_escrow *e)
{
    check_escrow(e);
    TL_ASSERT(e->state >= STORE_ESCROW_HELD);
    TL_ASSERT(e->state <= STORE_ESCROW_EXPIRED);
    TL_ASSERT(e->state == STORE_ESCROW_RELEASED || e->released_amount == 0);
    TL_ASSERT(e->state != STORE_ESCROW_RELEASED ||
              (e->released_amount > 0 && e->released_amount <= e->amount));
    TL_ASSERT((e->state == STORE_ESCROW_RELEASED || e->state == STORE_ESCROW_CANCELED) ==
              (e->settled_ns != 0));
}

enum tl_err store_escrow_create(struct store *store, const struct store_escrow *escrow)
{
    plans_check_write(store);
    TL_ASSERT(escrow != NULL);
    check_escrow(escrow);
    TL_ASSERT(escrow->payer_approved_ns == 0);
    TL_ASSERT(escrow->payee_approved_ns == 0);
    if (!plans_text_ok(escrow->to_text, STORE_TO_BYTES_MAX)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return plans_ops(store)->escrow_create(store, escrow);
}

enum tl_err store_escrow_delete(struct store *store, struct id128 id)
{
    plans_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    return plans_ops(store)->escrow_delete(store, id);
}

enum tl_err store_escrow_get(struct store *store, struct id128 id, struct store_escrow *out,
                             bool *found)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    enum tl_err err = plans_ops(store)->escrow_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    if (err == TL_OK && *found) {
        check_escrow_read(out);
    }
    return err;
}

enum tl_err store_escrows_list(struct store *store, struct id128 user_id,
                               enum store_escrow_role role, const struct store_request_page *page,
                               struct store_escrow *out, uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(role >= STORE_ESCROW_ROLE_PAYER);
    TL_ASSERT(role <= STORE_ESCROW_ROLE_ANY);
    if (!plans_page_ok(page)) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err =
        plans_ops(store)->escrows_list(store, user_id, role, page, out, out_count, has_more);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= page->limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        bool payer = id128_eq(out[i].payer_id, user_id);
        bool payee = id128_eq(out[i].payee_id, user_id);
        check_escrow_read(&out[i]);
        TL_ASSERT(i == 0 || id128_cmp(out[i - 1].id, out[i].id) > 0);
        TL_ASSERT(role != STORE_ESCROW_ROLE_PAYER || payer);
        TL_ASSERT(role != STORE_ESCROW_ROLE_PAYEE || payee);
        TL_ASSERT(payer || payee);
    }
    return TL_OK;
}

enum tl_err store_escrow_approve(struct store *store, struct id128 id, struct id128 user_id,
                                 uint64_t now_ns, bool *changed)
{
    plans_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(changed != NULL);
    plans_check_time(now_ns);
    return plans_ops(store)->escrow_approve(store, id, user_id, now_ns, changed);
}

enum tl_err store_escrows_due(struct store *store, uint64_t now_ns, uint32_t limit,
                              struct store_escrow *out, uint32_t *out_count)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(limit >= 1);
    TL_ASSERT(limit <= STORE_PLANS_DUE_MAX);
    plans_check_time(now_ns);
    enum tl_err err = plans_ops(store)->escrows_due(store, now_ns, limit, out, out_count);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        check_escrow_read(&out[i]);
        TL_ASSERT(out[i].state == STORE_ESCROW_HELD);
        TL_ASSERT(out[i].release_mode != STORE_ESCROW_RELEASE_PAYER);
    }
    return TL_OK;
}

/* ---- Scheduled payments ---- */

static void check_schedule(const struct store_schedule *s)
{
    TL_ASSERT(!id128_is_zero(s->id));
    TL_ASSERT(!id128_is_zero(s->user_id));
    TL_ASSERT(!id128_is_zero(s->to_user));
    TL_ASSERT(!id128_eq(s->user_id, s->to_user));
    TL_ASSERT(s->amount > 0);
    TL_ASSERT(s->currency != 0);
    TL_ASSERT(s->repeat >= STORE_SCHEDULE_ONCE);
    TL_ASSERT(s->repeat <= STORE_SCHEDULE_EVERY_SECONDS);
    TL_ASSERT((s->repeat == STORE_SCHEDULE_EVERY_SECONDS) == (s->interval_s != 0));
    TL_ASSERT(s->end_ns == 0 || s->end_ns >= s->start_ns);
    TL_ASSERT(s->next_due_ns == 0 || s->next_due_ns >= s->start_ns);
    TL_ASSERT(s->next_due_ns <= (uint64_t)INT64_MAX);
    TL_ASSERT(s->canceled_ns <= (uint64_t)INT64_MAX);
    plans_check_time(s->start_ns);
    plans_check_time(s->created_ns);
    ASSERT_TERMINATED(s->to_text);
    ASSERT_TERMINATED(s->note);
}

static void check_occurrence(const struct store_occurrence *o)
{
    TL_ASSERT(!id128_is_zero(o->schedule_id));
    TL_ASSERT(!id128_is_zero(o->payment_id));
    TL_ASSERT(o->status >= STORE_OCCURRENCE_RUNNING);
    TL_ASSERT(o->status <= STORE_OCCURRENCE_SKIPPED);
    TL_ASSERT((o->status == STORE_OCCURRENCE_RUNNING) == (o->done_ns == 0));
    TL_ASSERT((o->status == STORE_OCCURRENCE_SKIPPED) == (o->reason[0] != '\0'));
    plans_check_time(o->due_ns);
    plans_check_time(o->claimed_ns);
    ASSERT_TERMINATED(o->reason);
}

enum tl_err store_schedule_create(struct store *store, const struct store_schedule *schedule)
{
    plans_check_write(store);
    TL_ASSERT(schedule != NULL);
    check_schedule(schedule);
    TL_ASSERT(schedule->canceled_ns == 0);
    TL_ASSERT(schedule->next_index == 0);
    TL_ASSERT(schedule->next_due_ns == schedule->start_ns);
    if (!plans_text_ok(schedule->to_text, STORE_TO_BYTES_MAX)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return plans_ops(store)->schedule_create(store, schedule);
}

enum tl_err store_schedule_get(struct store *store, struct id128 id, struct store_schedule *out,
                               bool *found)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    enum tl_err err = plans_ops(store)->schedule_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    if (err == TL_OK && *found) {
        check_schedule(out);
    }
    return err;
}

enum tl_err store_schedules_list(struct store *store, struct id128 user_id,
                                 const struct store_request_page *page, struct store_schedule *out,
                                 uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    if (!plans_page_ok(page)) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err = plans_ops(store)->schedules_list(store, user_id, page, out, out_count,
                                                       has_more);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= page->limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        check_schedule(&out[i]);
        TL_ASSERT(id128_eq(out[i].user_id, user_id));
        TL_ASSERT(i == 0 || id128_cmp(out[i - 1].id, out[i].id) > 0);
    }
    return TL_OK;
}

enum tl_err store_schedule_cancel(struct store *store, struct id128 id, struct id128 user_id,
                                  uint64_t now_ns, bool *canceled)
{
    plans_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(canceled != NULL);
    plans_check_time(now_ns);
    return plans_ops(store)->schedule_cancel(store, id, user_id, now_ns, canceled);
}

enum tl_err store_schedules_due(struct store *store, uint64_t now_ns, uint32_t limit,
                                struct store_schedule *out, uint32_t *out_count)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(limit >= 1);
    TL_ASSERT(limit <= STORE_PLANS_DUE_MAX);
    plans_check_time(now_ns);
    enum tl_err err = plans_ops(store)->schedules_due(store, now_ns, limit, out, out_count);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        check_schedule(&out[i]);
        TL_ASSERT(out[i].canceled_ns == 0);
        TL_ASSERT(out[i].next_due_ns != 0);
        TL_ASSERT(out[i].next_due_ns <= now_ns);
    }
    return TL_OK;
}

enum tl_err store_schedule_claim(struct store *store, const struct store_occurrence *occurrence,
                                 uint64_t next_due_ns, bool *claimed)
{
    plans_check_write(store);
    TL_ASSERT(occurrence != NULL);
    TL_ASSERT(claimed != NULL);
    check_occurrence(occurrence);
    TL_ASSERT(occurrence->status == STORE_OCCURRENCE_RUNNING);
    TL_ASSERT(occurrence->index < UINT32_MAX);
    TL_ASSERT(next_due_ns == 0 || next_due_ns > occurrence->due_ns);
    TL_ASSERT(next_due_ns <= (uint64_t)INT64_MAX);
    return plans_ops(store)->schedule_claim(store, occurrence, next_due_ns, claimed);
}

enum tl_err store_occurrence_finish(struct store *store, struct id128 schedule_id, uint32_t index,
                                    uint8_t status, const char *reason, uint64_t done_ns)
{
    plans_check_write(store);
    TL_ASSERT(!id128_is_zero(schedule_id));
    TL_ASSERT(status == STORE_OCCURRENCE_SUCCEEDED || status == STORE_OCCURRENCE_SKIPPED);
    TL_ASSERT(reason != NULL);
    TL_ASSERT(strlen(reason) < STORE_OCCURRENCE_REASON_BYTES_MAX);
    TL_ASSERT((status == STORE_OCCURRENCE_SKIPPED) == (reason[0] != '\0'));
    plans_check_time(done_ns);
    return plans_ops(store)->occurrence_finish(store, schedule_id, index, status, reason,
                                               done_ns);
}

enum tl_err store_occurrence_reclaim(struct store *store, uint64_t stale_before_ns,
                                     uint64_t now_ns, struct store_occurrence *out, bool *found)
{
    plans_check_write(store);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(stale_before_ns <= now_ns);
    plans_check_time(now_ns);
    enum tl_err err = plans_ops(store)->occurrence_reclaim(store, stale_before_ns, now_ns, out,
                                                           found);
    if (err == TL_OK && *found) {
        check_occurrence(out);
        TL_ASSERT(out->status == STORE_OCCURRENCE_RUNNING);
        TL_ASSERT(out->claimed_ns == now_ns);
    }
    return err;
}

enum tl_err store_occurrences_list(struct store *store, struct id128 schedule_id,
                                   struct store_occurrence *out, uint32_t max,
                                   uint32_t *out_count)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(!id128_is_zero(schedule_id));
    TL_ASSERT(max >= 1);
    TL_ASSERT(max <= TL_PAGE_LIMIT_MAX);
    enum tl_err err = plans_ops(store)->occurrences_list(store, schedule_id, out, max, out_count);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= max);
    for (uint32_t i = 0; i < *out_count; i++) {
        check_occurrence(&out[i]);
        TL_ASSERT(id128_eq(out[i].schedule_id, schedule_id));
        TL_ASSERT(i == 0 || out[i - 1].index > out[i].index);
    }
    return TL_OK;
}
