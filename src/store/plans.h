/*
 * plans.h - the store's rows for money planned ahead: escrows and scheduled payments (schema
 * v5).
 *
 * Part of the one storage interface (store.h, app.h): same handles, same backends (sqlite,
 * postgres, fault), same conventions as app.h. Rows are written directly through an API handle,
 * each call its own transaction; the money of an escrow or an occurrence moves only through the
 * writer, and these rows never say by themselves that it moved:
 *
 *   - An escrow is a ledger hold whose transfer id is the escrow id. Its state (held, released,
 *     canceled, expired) is read from the ledger in the same query as the row: the hold's
 *     pending status and the transfer with the row's reserved settle_id (a post releases, a
 *     void cancels; the ledger refuses a second transfer with that id, so a release and a
 *     cancel racing on any number of nodes resolve once).
 *   - A scheduled payment's occurrence is claimed in the store (store_schedule_claim: one
 *     conditional UPDATE, one winner across nodes) before its payment runs. The payment's id is
 *     derived from (schedule, index) and stored in the occurrence row, so a run again after a
 *     crash cannot pay twice (the ledger refuses the id); "succeeded" is read from the payments
 *     row with that id, which commits with the money.
 *
 * Every function returns TL_OK, TL_ERR_STORAGE (logged), TL_ERR_CORRUPT, or what it lists.
 * Bad arguments (NULL, zero ids, times of 0, unterminated strings, a write on a reader handle
 * or inside an open batch) are caller bugs and assert. Outputs are filled only on TL_OK.
 */
#ifndef TL_STORE_PLANS_H
#define TL_STORE_PLANS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/app.h"
#include "store/store.h"

/* ---- Escrows ---- */

enum store_escrow_release {
    STORE_ESCROW_RELEASE_PAYER = 1, /* the payer releases (in full or in part) */
    STORE_ESCROW_RELEASE_BOTH = 2,  /* released in full once both parties approved */
    STORE_ESCROW_RELEASE_AT = 3,    /* released in full by tallyd at release_at_ns */
};

/* The state read from the ledger. */
enum store_escrow_state {
    STORE_ESCROW_HELD = 1,     /* the hold is open */
    STORE_ESCROW_RELEASED = 2, /* posted (released_amount to the payee, the rest refunded) */
    STORE_ESCROW_CANCELED = 3, /* voided: everything back to the payer */
    STORE_ESCROW_EXPIRED = 4,  /* the hold's timeout passed: everything back to the payer */
};

struct store_escrow {
    struct id128 id; /* also the id of the hold transfer */
    struct id128 payer_id;
    struct id128 payee_id;
    struct id128 payer_wallet;
    struct id128 payee_wallet;
    int64_t amount;         /* held, minor units, > 0 */
    uint16_t currency;      /* ISO 4217 number */
    uint8_t release_mode;   /* enum store_escrow_release */
    uint64_t release_at_ns; /* STORE_ESCROW_RELEASE_AT only, else 0 */
    uint64_t expires_ns;    /* when the hold times out */
    struct id128 settle_id; /* reserved id of the post or void that resolves the hold */
    uint64_t payer_approved_ns; /* 0: not approved */
    uint64_t payee_approved_ns;
    char to_text[STORE_TO_BYTES_MAX]; /* what the payer typed to name the payee */
    char note[STORE_NOTE_BYTES_MAX];  /* "" when none */
    uint64_t created_ns;
    /* Read only, from the ledger: */
    uint8_t state;           /* enum store_escrow_state */
    int64_t released_amount; /* RELEASED: posted to the payee (the rest went back), else 0 */
    uint64_t settled_ns;     /* RELEASED or CANCELED: the settling transfer's time, else 0 */
};

/* Inserts the row before its hold exists (the hold's id is the row's id). The row stays
 * invisible to get, list and due until the hold commits. TL_ERR_INVALID_REQUEST when to_text
 * is empty or too long. */
enum tl_err store_escrow_create(struct store *store, const struct store_escrow *escrow);
/* Deletes a row whose hold was refused (nothing held). TL_OK also when there is none. */
enum tl_err store_escrow_delete(struct store *store, struct id128 id);
/* By id, with its ledger state; *found false when no row or no hold. */
enum tl_err store_escrow_get(struct store *store, struct id128 id, struct store_escrow *out,
                             bool *found);

enum store_escrow_role {
    STORE_ESCROW_ROLE_PAYER = 1,
    STORE_ESCROW_ROLE_PAYEE = 2,
    STORE_ESCROW_ROLE_ANY = 3,
};
/* The user's escrows in that role, newest id first; the page as for payment requests. */
enum tl_err store_escrows_list(struct store *store, struct id128 user_id,
                               enum store_escrow_role role, const struct store_request_page *page,
                               struct store_escrow *out, uint32_t *out_count, bool *has_more);
/* Records user_id's approval at now_ns when the user is the payer or the payee and has not
 * approved yet; *changed says whether it did. Approving twice changes nothing. */
enum tl_err store_escrow_approve(struct store *store, struct id128 id, struct id128 user_id,
                                 uint64_t now_ns, bool *changed);
/* Held escrows tallyd must release now: mode "at" with release_at_ns <= now_ns, and mode
 * "both" with both approvals; never one whose hold expired by now_ns. At most limit
 * (1..STORE_PLANS_DUE_MAX), oldest release time first. */
#define STORE_PLANS_DUE_MAX 64u
enum tl_err store_escrows_due(struct store *store, uint64_t now_ns, uint32_t limit,
                              struct store_escrow *out, uint32_t *out_count);

/* ---- Scheduled payments ---- */

enum store_schedule_repeat {
    STORE_SCHEDULE_ONCE = 1,
    STORE_SCHEDULE_WEEKLY = 2,
    STORE_SCHEDULE_MONTHLY = 3,
    STORE_SCHEDULE_EVERY_SECONDS = 4, /* test only (schedules.test_intervals) */
};

struct store_schedule {
    struct id128 id;
    struct id128 user_id; /* who pays */
    struct id128 to_user; /* who is paid */
    int64_t amount;       /* > 0 */
    uint16_t currency;
    uint8_t repeat;       /* enum store_schedule_repeat */
    uint32_t interval_s;  /* EVERY_SECONDS only, else 0 */
    uint64_t start_ns;    /* the first occurrence */
    uint32_t end_count;   /* 0: no limit on the number of occurrences */
    uint64_t end_ns;      /* 0: no end time; else no occurrence after it */
    char to_text[STORE_TO_BYTES_MAX];
    char note[STORE_NOTE_BYTES_MAX];
    uint64_t created_ns;
    uint64_t canceled_ns; /* 0: not canceled */
    uint32_t next_index;  /* the next occurrence to claim */
    uint64_t next_due_ns; /* its time; 0: none left */
};

enum store_occurrence_status {
    STORE_OCCURRENCE_RUNNING = 1,
    STORE_OCCURRENCE_SUCCEEDED = 2,
    STORE_OCCURRENCE_SKIPPED = 3,
};

#define STORE_OCCURRENCE_REASON_BYTES_MAX 48 /* an error code: "insufficient_funds" */

struct store_occurrence {
    struct id128 schedule_id;
    uint32_t index;
    uint64_t due_ns;
    struct id128 payment_id; /* derived from (schedule, index) */
    uint8_t status;          /* enum store_occurrence_status; SUCCEEDED when the payment exists */
    char reason[STORE_OCCURRENCE_REASON_BYTES_MAX]; /* SKIPPED: why; else "" */
    uint64_t claimed_ns;
    uint64_t done_ns; /* when it succeeded (the payment's time) or was skipped; 0 running */
};

/* Inserts a new schedule (canceled_ns 0, next_index 0, next_due_ns start_ns).
 * TL_ERR_INVALID_REQUEST when to_text is empty or too long. */
enum tl_err store_schedule_create(struct store *store, const struct store_schedule *schedule);
enum tl_err store_schedule_get(struct store *store, struct id128 id, struct store_schedule *out,
                               bool *found);
/* The user's schedules (as payer), newest id first; the page as for payment requests. */
enum tl_err store_schedules_list(struct store *store, struct id128 user_id,
                                 const struct store_request_page *page, struct store_schedule *out,
                                 uint32_t *out_count, bool *has_more);
/* Cancels the user's schedule at now_ns when it is not canceled; *canceled says whether it
 * did. An occurrence claimed before still runs. */
enum tl_err store_schedule_cancel(struct store *store, struct id128 id, struct id128 user_id,
                                  uint64_t now_ns, bool *canceled);
/* Schedules not canceled whose next occurrence is due at or before now_ns, earliest first, at
 * most limit (1..STORE_PLANS_DUE_MAX). */
enum tl_err store_schedules_due(struct store *store, uint64_t now_ns, uint32_t limit,
                                struct store_schedule *out, uint32_t *out_count);
/*
 * Claims occurrence->index of its schedule: in one transaction, moves the schedule's next
 * occurrence from that index to index + 1 due at next_due_ns (0: none left) when the schedule
 * is not canceled and its next_index is still that index, and inserts the occurrence (status
 * RUNNING, claimed at occurrence->claimed_ns). *claimed says whether this call won; another
 * node (or an earlier run) may have claimed it first.
 */
enum tl_err store_schedule_claim(struct store *store, const struct store_occurrence *occurrence,
                                 uint64_t next_due_ns, bool *claimed);
/* Finishes a running occurrence: status SUCCEEDED or SKIPPED (with reason, an error code) at
 * done_ns. A finished occurrence is left as it is. */
enum tl_err store_occurrence_finish(struct store *store, struct id128 schedule_id, uint32_t index,
                                    uint8_t status, const char *reason, uint64_t done_ns);
/* Takes over one occurrence still running since before stale_before_ns (its scheduler died or
 * failed): sets claimed_ns to now_ns and answers it in *out; *found false when there is none. */
enum tl_err store_occurrence_reclaim(struct store *store, uint64_t stale_before_ns,
                                     uint64_t now_ns, struct store_occurrence *out, bool *found);
/* The schedule's occurrences, newest index first, at most max (1..TL_PAGE_LIMIT_MAX; more are
 * left out). */
enum tl_err store_occurrences_list(struct store *store, struct id128 schedule_id,
                                   struct store_occurrence *out, uint32_t max,
                                   uint32_t *out_count);

#endif
