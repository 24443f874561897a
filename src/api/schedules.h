/*
 * schedules.h - /v1/scheduled_payments: payments tallyd makes later, once or repeatedly.
 *
 *   POST   /v1/scheduled_payments {to, amount, currency, note?, start_at,
 *          repeat: "none" | "weekly" | "monthly" (| "every_seconds" with interval_s, test only),
 *          end_after_count?, end_at?}                                   -> 201 schedule
 *   GET    /v1/scheduled_payments, GET /v1/scheduled_payments/{id}     the payer's only (404)
 *   DELETE /v1/scheduled_payments/{id}                                  cancel -> 200 schedule
 *
 * The handlers only write and read schedule rows (store/plans.h); the scheduler
 * (api/scheduler.h) makes the payments. The dates follow core/recur.h (UTC; a monthly schedule
 * on the 31st runs on the last day of shorter months and on the 31st again after them). GET of
 * one schedule lists its occurrences (newest first, at most 100): each succeeded (with its
 * payment_id), skipped (with a reason: an error code such as insufficient_funds, or "missed"
 * when tallyd ran it later than schedules.grace_s after its time) or running.
 *
 * Never: move money here, or show a schedule to anyone but its payer.
 */
#ifndef TL_API_SCHEDULES_H
#define TL_API_SCHEDULES_H

#include "api/http.h"

#define SCHEDULES_TYPEID_PREFIX "sched"
/* Occurrences GET of one schedule shows, newest first. */
#define SCHEDULES_OCCURRENCES_SHOWN 100u
/* The largest end_after_count. */
#define SCHEDULES_COUNT_MAX 10000u
/* The shortest test-only interval, and the longest. */
#define SCHEDULES_INTERVAL_S_MAX 86400u

enum tl_err schedules_create(struct http_request *req, struct http_response *resp);
enum tl_err schedules_list(struct http_request *req, struct http_response *resp);
enum tl_err schedules_get(struct http_request *req, struct http_response *resp);
enum tl_err schedules_cancel(struct http_request *req, struct http_response *resp);

#endif
