/*
 * err.h - the program's one error enum.
 *
 * Every fallible function outside the pure ledger core returns enum tl_err. The table below is
 * the single source of truth: enum value, stable code name (what API clients see in `code`),
 * HTTP status and a short title. Only the problem module turns these into HTTP responses; other
 * modules must not look at the status column.
 */
#ifndef TL_UTIL_ERR_H
#define TL_UTIL_ERR_H

/* X(enum, code, http_status, title) */
#define TL_ERR_TABLE(X)                                                                        \
    X(TL_OK, "ok", 200, "OK")                                                                  \
    X(TL_ERR_INVALID_REQUEST, "invalid_request", 400, "Invalid request")                       \
    X(TL_ERR_INVALID_AMOUNT, "invalid_amount", 400, "Invalid amount")                          \
    X(TL_ERR_UNKNOWN_CURRENCY, "unknown_currency", 400, "Unknown currency")                    \
    X(TL_ERR_INSUFFICIENT_FUNDS, "insufficient_funds", 422, "Insufficient funds")              \
    X(TL_ERR_RECIPIENT_NOT_FOUND, "recipient_not_found", 422, "Recipient not found")           \
    X(TL_ERR_NOT_FOUND, "not_found", 404, "Not found")                                         \
    X(TL_ERR_UNAUTHORIZED, "unauthorized", 401, "Unauthorized")                                \
    X(TL_ERR_FORBIDDEN, "forbidden", 403, "Forbidden")                                         \
    X(TL_ERR_CONFLICT, "conflict", 409, "Conflict")                                            \
    X(TL_ERR_IDEMPOTENCY_KEY_REUSED, "idempotency_key_reused", 409, "Idempotency key reused")  \
    X(TL_ERR_RATE_LIMITED, "rate_limited", 429, "Too many requests")                           \
    X(TL_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413, "Payload too large")                 \
    X(TL_ERR_OVERFLOW, "overflow", 422, "Amount overflow")                                     \
    X(TL_ERR_LIMIT, "limit_exceeded", 400, "Limit exceeded")                                   \
    X(TL_ERR_NOMEM, "out_of_memory", 503, "Service unavailable")                               \
    X(TL_ERR_BUSY, "service_busy", 503, "Service busy")                                        \
    X(TL_ERR_SHUTDOWN, "shutting_down", 503, "Service shutting down")                          \
    X(TL_ERR_STORAGE, "storage_error", 503, "Storage error")                                   \
    X(TL_ERR_CORRUPT, "storage_corrupt", 500, "Storage corrupt")                               \
    X(TL_ERR_IO, "io_error", 500, "I/O error")                                                 \
    X(TL_ERR_INTERNAL, "internal_error", 500, "Internal error")                                \
    X(TL_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, "Method not allowed")              \
    X(TL_ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "Unsupported media type")  \
    X(TL_ERR_NOT_READY, "not_ready", 503, "Service not ready")                                \
    X(TL_ERR_HANDLE_TAKEN, "handle_taken", 409, "Handle taken")                                \
    X(TL_ERR_EMAIL_TAKEN, "email_taken", 409, "Email taken")                                   \
    X(TL_ERR_PHONE_TAKEN, "phone_taken", 409, "Phone taken")                                   \
    X(TL_ERR_WEAK_PASSWORD, "weak_password", 400, "Weak password")                             \
    X(TL_ERR_INVALID_CREDENTIALS, "invalid_credentials", 401, "Invalid credentials")           \
    X(TL_ERR_CANNOT_PAY_SELF, "cannot_pay_self", 422, "Cannot pay yourself")                   \
    X(TL_ERR_WALLET_NOT_FOUND, "wallet_not_found", 422, "Wallet not found")                    \
    X(TL_ERR_WALLET_EXISTS, "wallet_exists", 409, "Wallet exists")                             \
    X(TL_ERR_QUOTE_EXPIRED, "quote_expired", 409, "Quote expired")                             \
    X(TL_ERR_QUOTE_USED, "quote_used", 409, "Quote already used")                              \
    X(TL_ERR_QUOTE_MISMATCH, "quote_mismatch", 422, "Payment does not match the quote")        \
    X(TL_ERR_UNSUPPORTED_OPERATION, "unsupported_operation", 422, "Unsupported operation")     \
    X(TL_ERR_CANNOT_REQUEST_SELF, "cannot_request_self", 422, "Cannot request from yourself")  \
    X(TL_ERR_REQUEST_PAID, "request_paid", 409, "Request already paid")                        \
    X(TL_ERR_REQUEST_DECLINED, "request_declined", 409, "Request declined")                    \
    X(TL_ERR_REQUEST_CANCELED, "request_canceled", 409, "Request canceled")                    \
    X(TL_ERR_REQUEST_EXPIRED, "request_expired", 409, "Request expired")                       \
    X(TL_ERR_REQUEST_PROCESSING, "request_processing", 409, "Request being paid")              \
    X(TL_ERR_SHARES_MISMATCH, "shares_mismatch", 400, "Shares do not sum to the total")        \
    X(TL_ERR_IDEMPOTENCY_KEY_IN_PROGRESS, "idempotency_key_in_progress", 409,                  \
      "Idempotency key in progress")                                                           \
    X(TL_ERR_TOO_MANY_STREAMS, "too_many_streams", 429, "Too many event streams")              \
    X(TL_ERR_MFA_REQUIRED, "mfa_required", 401, "Second factor required")                      \
    X(TL_ERR_MFA_CHALLENGE_INVALID, "mfa_challenge_invalid", 401, "Invalid challenge")          \
    X(TL_ERR_INVALID_MFA_CODE, "invalid_mfa_code", 422, "Invalid one-time code")               \
    X(TL_ERR_MFA_ALREADY_ENABLED, "mfa_already_enabled", 409, "Two-factor already enabled")    \
    X(TL_ERR_MFA_NOT_ENABLED, "mfa_not_enabled", 409, "Two-factor not enabled")                \
    X(TL_ERR_PASSKEY_INVALID, "passkey_invalid", 400, "Passkey rejected")                      \
    X(TL_ERR_REFUND_EXCEEDS_PAYMENT, "refund_exceeds_payment", 422,                            \
      "Refund exceeds what is left of the payment")                                            \
    X(TL_ERR_WALLET_RESTRICTED, "wallet_restricted", 422, "Wallet restricted")                 \
    X(TL_ERR_PAYMENT_REVERSED, "payment_reversed", 409, "Payment already reversed")            \
    X(TL_ERR_DISPUTE_OPEN, "dispute_open", 409, "A dispute is already open")                   \
    X(TL_ERR_DISPUTE_RESOLVED, "dispute_resolved", 409, "Dispute already resolved")            \
    X(TL_ERR_ESCROW_RELEASED, "escrow_released", 409, "Escrow already released")               \
    X(TL_ERR_ESCROW_CANCELED, "escrow_canceled", 409, "Escrow canceled")                       \
    X(TL_ERR_ESCROW_EXPIRED, "escrow_expired", 409, "Escrow expired")                          \
    X(TL_ERR_ESCROW_CONDITION, "escrow_condition", 409, "Not allowed by the release condition") \
    X(TL_ERR_SCHEDULE_CANCELED, "schedule_canceled", 409, "Scheduled payment canceled") \
    X(TL_ERR_CSRF_FAILED, "csrf_failed", 403, "CSRF check failed")                             \
    X(TL_ERR_ENCRYPTION_KEY_MISSING, "encryption_key_missing", 422, "Encryption key missing")       \
    X(TL_ERR_FX_RATE_UNAVAILABLE, "fx_rate_unavailable", 422, "Exchange rate unavailable")          \
    X(TL_ERR_STEP_UP_REQUIRED, "step_up_required", 401, "Step-up authentication required")    \
    X(TL_ERR_STEP_UP_CHALLENGE_INVALID, "step_up_challenge_invalid", 409,                      \
      "Step-up challenge not usable")                                                          \
    X(TL_ERR_STEP_UP_ENROLMENT_REQUIRED, "step_up_enrolment_required", 403,                    \
      "Second factor enrolment required")                                                      \
    X(TL_ERR_DEVICE_SIGNATURE_REQUIRED, "device_signature_required", 401,                      \
      "Device signature required")                                                             \
    X(TL_ERR_DEVICE_SIGNATURE_INVALID, "device_signature_invalid", 401,                        \
      "Device signature invalid")                                                              \
    X(TL_ERR_DEVICE_SIGNATURE_STALE, "device_signature_stale", 401, "Device signature stale") \
    X(TL_ERR_DEVICE_SIGNATURE_REPLAYED, "device_signature_replayed", 401,                      \
      "Device signature replayed") \
    X(TL_ERR_TIER_LIMIT, "tier_limit_exceeded", 422, "Limit of verification tier exceeded")

enum tl_err {
#define TL_ERR_ENUM(e, code, status, title) e,
    TL_ERR_TABLE(TL_ERR_ENUM)
#undef TL_ERR_ENUM
        TL_ERR_COUNT
};

/* Stable code name ("insufficient_funds"). Cannot fail: out-of-range values assert. */
const char *tl_err_code(enum tl_err err);
/* Human title ("Insufficient funds"). Cannot fail. */
const char *tl_err_title(enum tl_err err);
/* HTTP status for the problem module only. Cannot fail. */
int tl_err_http_status(enum tl_err err);

#endif
