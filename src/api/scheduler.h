/*
 * scheduler.h - the thread in tallyd that moves money by the clock: escrow releases at their
 * time (and after both approvals, when the approving request did not finish it) and the
 * occurrences of scheduled payments.
 *
 * Every schedules.tick_ms it: (1) releases the escrows store_escrows_due names
 * (escrow_release_due); (2) runs again occurrences claimed more than schedules.stale_s ago and
 * never finished (their scheduler died, or the writer was busy); (3) for each schedule whose
 * next occurrence is due, claims it in the store (store_schedule_claim: one winner across
 * processes and nodes) and runs it. Running an occurrence is payments_create_order on behalf of
 * the schedule's payer, with the payment id derived from (schedule, index) (core/recur.h), so
 * the ledger refuses a second payment for one occurrence: a run again after a crash, or by
 * another node after a stale claim, pays at most once (an "exists" answer counts as succeeded).
 * A business refusal (insufficient_funds, wallet_not_found, recipient_not_found, overflow)
 * skips the occurrence with that code as the reason; an occurrence run more than
 * schedules.grace_s after its time (tallyd was down) is skipped as "missed" without paying. The
 * next occurrence is claimed on a later tick, so a schedule that fell behind catches up one
 * occurrence per tick, each run once or skipped.
 *
 * Every node of a PostgreSQL deployment runs one; the claims and the ledger keep them apart.
 * Never: pay an occurrence twice, or run inside a request.
 */
#ifndef TL_API_SCHEDULER_H
#define TL_API_SCHEDULER_H

#include <stdint.h>

#include "util/err.h"

struct api_app;
struct store;
struct scheduler;

struct scheduler_config {
    uint32_t tick_ms;  /* 10..60000 */
    uint32_t grace_s;  /* later than this after its time: skipped as missed */
    uint32_t stale_s;  /* a claim older than this unfinished runs again */
};

/* Scheduled payments and escrows one tick handles at most, each. */
#define SCHEDULER_TICK_ITEMS_MAX 64u

/* Starts the thread. store is a writable handle the scheduler owns from now until stop (its
 * reads, claims and finishes); app gives the writer, the reader pool and the config. */
enum tl_err scheduler_start(const struct scheduler_config *config, struct api_app *app,
                            struct store *store, struct scheduler **out);
/* Stops after the current tick and joins. NULL is a no-op. Cannot fail. */
void scheduler_stop(struct scheduler *scheduler);

#endif
