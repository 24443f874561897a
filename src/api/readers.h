/*
 * readers.h - a fixed pool of read-only store handles for request handlers.
 *
 * A store handle serves one thread at a time (store.h), so each request borrows one for its
 * duration (http_request_store) and the dispatcher returns it. The pool is sized to the
 * worker thread count, so a worker normally never waits; if it must, it waits a bounded time
 * and the request fails with TL_ERR_BUSY (503).
 *
 * Never: hand out a writable handle; writes go through the writer.
 */
#ifndef TL_API_READERS_H
#define TL_API_READERS_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct readers;

/* Opens count (1..TL_READERS_MAX) read-only handles with config (read_only is forced).
 * Fails with store_open's error; nothing stays open then. */
enum tl_err readers_open(const struct store_config *config, uint32_t count, struct readers **out);
/* Closes every handle; all must have been released. Cannot fail. NULL is a no-op. */
void readers_close(struct readers *readers);

/* Borrows a handle, waiting at most wait_ms. TL_ERR_BUSY when none came free. Thread-safe. */
enum tl_err readers_acquire(struct readers *readers, uint32_t wait_ms, struct store **out);
/* Returns a handle from readers_acquire. Thread-safe. Cannot fail. */
void readers_release(struct readers *readers, struct store *store);

#endif
