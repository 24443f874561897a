/*
 * fault.h - a storage backend that fails on purpose, for tests.
 *
 * It wraps a real backend and forwards every call to it, except the one chosen to fail: that
 * call returns TL_ERR_STORAGE without reaching the real backend, so nothing changes (a failed
 * commit phase is rolled back by store.c like any other). Every backend call that can fail
 * counts as one operation, and store_batch_commit counts once per phase: accounts, postings,
 * hold statuses, records, COMMIT. So failing operation k of "begin, prefetch, commit" walks
 * every error path of a batch, including a failure after accounts and postings were written.
 *
 * Opening backend "fault" through store_open wraps "sqlite" at the same path with no failure
 * armed. Never used in production wiring.
 */
#ifndef TL_STORE_FAULT_H
#define TL_STORE_FAULT_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Opens inner (any backend, through store_open) and wraps it. Errors are store_open's; *out
 * is set only on TL_OK. store_close closes both. */
enum tl_err store_fault_open(const struct store_config *inner, struct store **out);

/* Arms one failure: the nth operation from now fails (1 = the next one); 0 disarms. The
 * failure fires once, later operations succeed again. store must come from the fault
 * backend. Cannot fail. */
void store_fault_fail_at(struct store *store, uint64_t nth);

/* Operations counted since open, including failed ones. Cannot fail. */
uint64_t store_fault_op_count(const struct store *store);

#endif
