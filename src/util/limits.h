/*
 * limits.h - every named maximum in one place.
 *
 * Going over a limit is an error returned to the caller, never a silent truncation. Related
 * limits are tied together with static_asserts so that changing one cannot break another.
 */
#ifndef TL_UTIL_LIMITS_H
#define TL_UTIL_LIMITS_H

#include <assert.h>

/* Ledger events (account or transfer creations) the writer applies in one durable batch. */
#define TL_BATCH_EVENTS_MAX 8190
/* Events in one writer command; a linked chain never spans two commands. */
#define TL_COMMAND_EVENTS_MAX 64
/* Commands waiting in the writer's queue before submit answers TL_ERR_BUSY. */
#define TL_WRITER_QUEUE_MAX 16384
/* Attached store records (outbox rows, app rows) one command may add to a batch. */
#define TL_COMMAND_RECORDS_MAX 8
/* Bytes of one attached record's payload. */
#define TL_RECORD_BYTES_MAX 16384
/* Accounts the in-memory ledger can hold (a sizing default; configurable at open). */
#define TL_LEDGER_ACCOUNTS_DEFAULT (1u << 20)
/* Rows one history page may return. */
#define TL_PAGE_LIMIT_MAX 100
/* Pending (hold) transfers that may expire in one sweep. */
#define TL_EXPIRE_SWEEP_MAX 1024
/* Longest hold, in seconds (one year). */
#define TL_PENDING_TIMEOUT_S_MAX (366u * 24u * 3600u)

static_assert(TL_COMMAND_EVENTS_MAX <= TL_BATCH_EVENTS_MAX, "a command must fit in a batch");
static_assert(TL_EXPIRE_SWEEP_MAX <= TL_BATCH_EVENTS_MAX, "a sweep must fit in a batch");

#endif
