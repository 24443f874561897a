/*
 * seen.h - the sessions' last-seen writes, made by a thread of their own instead of the
 * request that noticed them.
 *
 * Why: authn.h writes a session's last_seen_ns at most once a minute per session, through the
 * one app-store handle. Every session of a busy client falls due in the same second (they
 * logged in together), and on SQLite each write waits for the ledger writer's lock between
 * its batches (the busy handler sleeps up to 100 ms a try). Done inside the request, that
 * parked every worker behind the app-store handle for a second or more: the "late-life" tails
 * of the payments benchmark (docs/performance.md, session 6). Here the request only queues
 * the token hash and the time; the thread writes the queue one session at a time through the
 * app-store handle, giving it back between writes.
 *
 * Best effort, as before: a full queue drops the newest touch (the session falls due again a
 * minute later) and a failed write is logged. seen_flush lets a reader of last-seen (the
 * sessions list) wait until what was queued before it is written, so a client sees its own
 * request's touch. seen_stop writes what is queued before it returns.
 *
 * Never: block a request on the store (seen_note only takes a mutex), or log a token hash.
 */
#ifndef TL_API_SEEN_H
#define TL_API_SEEN_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct api_app;
struct seen;

/* Touches the queue holds at most (the sessions of one burst; a full queue drops). */
#define SEEN_QUEUE_MAX 4096u
/* How long seen_flush waits at most. */
#define SEEN_FLUSH_WAIT_MS 2000u

/* Starts the thread, which writes through api_app_store_acquire(app). app must outlive it.
 * TL_ERR_NOMEM or TL_ERR_INTERNAL (no thread); *out is set only on success. */
enum tl_err seen_start(struct api_app *app, struct seen **out);
/* Writes what is queued, then stops and frees the thread. NULL is a no-op. Cannot fail. */
void seen_stop(struct seen *seen);
/* Queues a touch of the session with this token hash at now_ns. Never waits for the store;
 * false when the queue was full and the touch was dropped. Thread-safe. */
bool seen_note(struct seen *seen, const uint8_t token_hash[32], uint64_t now_ns);
/* Waits until every touch queued before the call is written (or failed), at most
 * SEEN_FLUSH_WAIT_MS. Thread-safe. Cannot fail. */
void seen_flush(struct seen *seen);

#endif
