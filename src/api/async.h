/*
 * async.h - a request that waits without holding an HTTP worker thread.
 *
 * A money handler submits ONE writer command. Waiting for its batch on the worker thread caps
 * a batch at the number of workers and spends the CPU on context switches (docs/performance.md),
 * so a handler hands the command over with async_submit instead: the server suspends the
 * connection (async_park), the worker returns to its other connections, and when the batch has
 * committed (or failed) the writer thread wakes the request (async_wake), cheaply, from its
 * completion callback. The server then calls the request's continuation on a worker thread;
 * it answers like a handler, and may submit again. The dispatcher parks the same way while a
 * duplicate Idempotency-Key is in flight (idempotency.h).
 *
 * The server fills struct async_call before the dispatcher runs; a request without one
 * (req->async_ NULL: unit tests, the scheduler) or a caller that needs the answer on its own
 * stack (may_park false) waits in writer_submit and gets the continuation's answer at once.
 * So does a command submitted after the server closed its gate (async_gate_close, on
 * shutdown; a duplicate of a key in flight answers 503 then, idempotency.h): the server counts
 * parked requests through the gate, and once the gate is closed and the count is zero no
 * connection is suspended and no waker touches the server again.
 *
 * Never: answer before the batch committed (the continuation runs after it), wake a request
 * twice for one park, touch resp, the command or its context on the handler's thread after
 * the request parked (the writer thread owns them until the wake), or park once the gate is
 * closed.
 */
#ifndef TL_API_ASYNC_H
#define TL_API_ASYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "store/writer.h"
#include "util/err.h"

/* A continuation: runs on a worker thread after the wake; answers like a handler. */
typedef enum tl_err (*async_resume_fn)(struct http_request *req, struct http_response *resp,
                                       void *ctx);

/*
 * The server's count of parked requests, and whether a request may still park. A park counts
 * itself in before it looks at closed, and async_gate_close sets closed before the server
 * looks at the count (all sequentially consistent): so either the park sees the gate closed
 * and does not happen, or the server sees it counted and waits for its wake. A wake counts
 * the request out as the last thing it does with the server's memory.
 */
struct async_gate {
    _Atomic int64_t parked_count; /* parked now, plus parks deciding whether they may */
    _Atomic bool closed;
};

/* One request's parking state; owned by the server (one per request). */
struct async_call {
    /* Set by the server before dispatch: suspend and resume the connection. */
    void (*suspend)(void *conn);
    void (*resume)(void *conn); /* any thread */
    void *conn;
    struct async_gate *gate; /* the server's; outlives every park and wake */
    /* Set by async_park on the request's worker thread, read there after the wake. */
    async_resume_fn next;
    void *next_ctx;
    bool parked;
    _Atomic bool woken; /* async_wake ran for the current park */
    /* Private to idempotency.c: the next waiter on one in-flight key. */
    struct async_call *waiter_next_;
};

/* An open gate with nothing parked. Cannot fail. */
void async_gate_init(struct async_gate *gate);

/* Closes the gate: every park that starts after this returns false. Parks counted before it
 * may still complete; async_gate_parked says when they have all been woken. Any thread.
 * Cannot fail. */
void async_gate_close(struct async_gate *gate);

/* Requests parked now (or deciding whether they may). Once it reads 0 after async_gate_close,
 * nothing is suspended and no wake is running. Cannot fail. */
int64_t async_gate_parked(struct async_gate *gate);

/* True when req can park (the server supports it; its gate may still refuse). Cannot fail. */
bool async_can_park(const struct http_request *req);

/* True when the handler that just returned parked req: the dispatcher leaves resp alone. */
bool async_parked(const struct http_request *req);

/*
 * Parks req: suspends its connection and records the continuation, and returns true. The
 * caller returns TL_OK up to the dispatcher at once, and must make the request visible to its
 * waker only after this call (a wake may come at any moment after it). Returns false, having
 * changed nothing, when the server's gate is closed (shutdown): the caller then does without
 * (async_submit waits in writer_submit). Requires async_can_park. Cannot fail.
 */
bool async_park(struct http_request *req, async_resume_fn next, void *ctx);

/* Wakes a parked request, from any thread, once per park. Cannot fail. */
void async_wake(struct async_call *call);

/* The continuation after a wake, for the server: clears parked. Cannot fail. */
void async_resumed(struct async_call *call, async_resume_fn *next, void **ctx);

/*
 * Submits cmd to req->app->writer. Parks req when may_park and the server lets it, and
 * returns TL_OK: next(req, resp, ctx) answers later, with cmd->err and cmd->results final
 * (cmd->err is TL_ERR_BUSY or TL_ERR_SHUTDOWN when the writer would not queue it). Otherwise
 * waits in writer_submit and returns next(req, resp, ctx). Either way the caller returns what
 * this returns and no longer touches cmd or ctx: they belong to next.
 */
enum tl_err async_submit(struct http_request *req, struct http_response *resp, bool may_park,
                         struct writer_command *cmd, async_resume_fn next, void *ctx);

#endif
