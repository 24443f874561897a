/*
 * device_keys.h - a user's device keys (the wallet app's own Ed25519 keys) and the signatures
 * they put on money requests, for non-repudiation.
 *
 *   POST   /v1/me/device_keys        {public_key, name}  -> 201 device key (step-up guarded)
 *   GET    /v1/me/device_keys                            -> {data: [...], has_more: false}
 *   DELETE /v1/me/device_keys/{id}                       -> 204 (step-up guarded)
 *
 * public_key is standard base64 of the 32-byte Ed25519 key. When a user has a live device key,
 * every request that sends the user's money (stepup_money_gate) must carry
 *   Tally-Device-Key: dkey_...   Tally-Timestamp: <Unix seconds>   Tally-Signature: <base64>
 * where the signature is over the canonical form of auth/device_sig.h. Refused, nothing
 * changed: 401 device_signature_required (missing), device_signature_invalid (malformed, an
 * unknown, revoked or someone else's key, a signature that does not verify: a tampered body,
 * path, key or timestamp), device_signature_stale (timestamp further than
 * device_keys.window_s from now), device_signature_replayed (a signature accepted before; kept
 * until its window ends, then too stale to pass). A signature is spent once the gate passes;
 * an idempotent retry of a finished request replays the stored answer before the gate runs.
 * The accepted signature (key id, timestamp, signature, body hash) is stored on the payment
 * row in the same batch and shown by GET /v1/payments/{id} as "device_signature".
 */
#ifndef TL_API_DEVICE_KEYS_H
#define TL_API_DEVICE_KEYS_H

#include "api/http.h"
#include "api/render.h"
#include "api/stepup.h"

#define DEVICE_KEYS_ID_PREFIX "dkey"
#define DEVICE_KEYS_AUDIT_REGISTERED "device_key.registered"
#define DEVICE_KEYS_AUDIT_REVOKED "device_key.revoked"

enum tl_err device_keys_create(struct http_request *req, struct http_response *resp);
enum tl_err device_keys_list(struct http_request *req, struct http_response *resp);
enum tl_err device_keys_revoke(struct http_request *req, struct http_response *resp);

/*
 * The signature headers of a money request, checked without changing anything: required when
 * key_count (the user's live keys) > 0, verified whenever present. On TL_OK *out->present says
 * whether the request was signed (out->signature then holds all but the payment id).
 */
enum tl_err device_keys_check(struct http_request *req, struct http_response *resp,
                              struct store *reader, uint32_t key_count, struct stepup_signed *out);

/* Records a checked signature as used (401 device_signature_replayed when it was already). */
enum tl_err device_keys_claim(struct http_request *req, struct http_response *resp,
                              const struct stepup_signed *sig);

/* For GET /v1/payments/{id}: the member "device_signature": {...} or null. Store errors. */
enum tl_err device_keys_render_payment(struct render *r, struct store *reader,
                                       struct id128 payment_id);

#endif
