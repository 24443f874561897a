#include "api/async.h"

#include "api/app.h"
#include "util/assert.h"

void async_gate_init(struct async_gate *gate)
{
    atomic_init(&gate->parked_count, 0);
    atomic_init(&gate->closed, false);
}

void async_gate_close(struct async_gate *gate)
{
    atomic_store(&gate->closed, true);
}

int64_t async_gate_parked(struct async_gate *gate)
{
    int64_t parked = atomic_load(&gate->parked_count);
    TL_ASSERT(parked >= 0);
    return parked;
}

bool async_can_park(const struct http_request *req)
{
    return req->async_ != NULL && req->async_->suspend != NULL;
}

bool async_parked(const struct http_request *req)
{
    return req->async_ != NULL && req->async_->parked;
}

bool async_park(struct http_request *req, async_resume_fn next, void *ctx)
{
    struct async_call *call = req->async_;
    TL_ASSERT(async_can_park(req));
    TL_ASSERT(!call->parked);
    TL_ASSERT(next != NULL);
    /* Counted in before looking at the gate (struct async_gate says why). */
    atomic_fetch_add(&call->gate->parked_count, 1);
    if (atomic_load(&call->gate->closed)) {
        int64_t before = atomic_fetch_sub(&call->gate->parked_count, 1);
        TL_ASSERT(before > 0);
        return false;
    }
    call->next = next;
    call->next_ctx = ctx;
    call->parked = true;
    atomic_store(&call->woken, false);
    /* Suspended before anyone can wake it: a resume always finds the connection suspended. */
    call->suspend(call->conn);
    return true;
}

void async_wake(struct async_call *call)
{
    TL_ASSERT(call != NULL);
    /* The request may finish and its call be freed as soon as the resume is queued. */
    struct async_gate *gate = call->gate;
    bool woken_before = atomic_exchange(&call->woken, true);
    TL_ASSERT(!woken_before);
    call->resume(call->conn);
    /* Last: once the count is zero the server may stop the library and free the gate. */
    int64_t before = atomic_fetch_sub(&gate->parked_count, 1);
    TL_ASSERT(before > 0);
}

void async_resumed(struct async_call *call, async_resume_fn *next, void **ctx)
{
    TL_ASSERT(call->parked);
    call->parked = false;
    *next = call->next;
    *ctx = call->next_ctx;
    call->next = NULL;
    call->next_ctx = NULL;
}

/* Writer thread, after the command's batch: wake the request, nothing more. */
static void async_command_done(struct writer_command *cmd, void *done_ctx)
{
    (void)cmd;
    async_wake(done_ctx);
}

enum tl_err async_submit(struct http_request *req, struct http_response *resp, bool may_park,
                         struct writer_command *cmd, async_resume_fn next, void *ctx)
{
    TL_ASSERT(req->app->writer != NULL);
    if (!may_park || !async_can_park(req) || !async_park(req, next, ctx)) {
        (void)writer_submit(req->app->writer, cmd); /* the outcome is in cmd->err */
        return next(req, resp, ctx);
    }
    if (writer_submit_async(req->app->writer, cmd, async_command_done, req->async_) != TL_OK) {
        /* Nothing was queued (cmd->err says why): the continuation answers it, as usual. */
        async_wake(req->async_);
    }
    return TL_OK;
}
