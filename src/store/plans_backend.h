/*
 * plans_backend.h - what a storage backend implements for the rows of plans.h (escrows,
 * scheduled payments); private to src/store/.
 *
 * plans.c is the only caller. It checks arguments and the handle's state; a backend only talks
 * to its database. A backend's struct store_app_ops points .plans at one const
 * struct store_plans_ops. Errors as in app_backend.h. Writes run on a writable handle with no
 * batch open, each as its own transaction.
 */
#ifndef TL_STORE_PLANS_BACKEND_H
#define TL_STORE_PLANS_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "store/plans.h"

struct store_plans_ops {
    enum tl_err (*escrow_create)(struct store *store, const struct store_escrow *escrow);
    enum tl_err (*escrow_delete)(struct store *store, struct id128 id);
    enum tl_err (*escrow_get)(struct store *store, struct id128 id, struct store_escrow *out,
                              bool *found);
    /* page checked: limit 1..TL_PAGE_LIMIT_MAX, at most one cursor. */
    enum tl_err (*escrows_list)(struct store *store, struct id128 user_id,
                                enum store_escrow_role role, const struct store_request_page *page,
                                struct store_escrow *out, uint32_t *out_count, bool *has_more);
    enum tl_err (*escrow_approve)(struct store *store, struct id128 id, struct id128 user_id,
                                  uint64_t now_ns, bool *changed);
    enum tl_err (*escrows_due)(struct store *store, uint64_t now_ns, uint32_t limit,
                               struct store_escrow *out, uint32_t *out_count);

    enum tl_err (*schedule_create)(struct store *store, const struct store_schedule *schedule);
    enum tl_err (*schedule_get)(struct store *store, struct id128 id, struct store_schedule *out,
                                bool *found);
    enum tl_err (*schedules_list)(struct store *store, struct id128 user_id,
                                  const struct store_request_page *page,
                                  struct store_schedule *out, uint32_t *out_count, bool *has_more);
    enum tl_err (*schedule_cancel)(struct store *store, struct id128 id, struct id128 user_id,
                                   uint64_t now_ns, bool *canceled);
    enum tl_err (*schedules_due)(struct store *store, uint64_t now_ns, uint32_t limit,
                                 struct store_schedule *out, uint32_t *out_count);
    enum tl_err (*schedule_claim)(struct store *store, const struct store_occurrence *occurrence,
                                  uint64_t next_due_ns, bool *claimed);
    enum tl_err (*occurrence_finish)(struct store *store, struct id128 schedule_id,
                                     uint32_t index, uint8_t status, const char *reason,
                                     uint64_t done_ns);
    enum tl_err (*occurrence_reclaim)(struct store *store, uint64_t stale_before_ns,
                                      uint64_t now_ns, struct store_occurrence *out, bool *found);
    enum tl_err (*occurrences_list)(struct store *store, struct id128 schedule_id,
                                    struct store_occurrence *out, uint32_t max,
                                    uint32_t *out_count);
};

extern const struct store_plans_ops store_sqlite_plans_ops;
extern const struct store_plans_ops store_postgres_plans_ops;

#endif
