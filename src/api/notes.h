/*
 * notes.h - end-to-end encrypted payment notes: published X25519 keys and sealed notes.
 *
 *   PUT    /v1/me/encryption_key {public_key}     publish (or replace) the caller's key -> 200
 *   GET    /v1/me/encryption_key                  the caller's key, 404 when none
 *   DELETE /v1/me/encryption_key                  stop receiving sealed notes -> 204
 *   GET    /v1/users/{handle}/encryption_key      a payee's key, for sealing a note to them
 *
 * A payment may carry "sealed_note": {"recipient": B64, "sender": B64} instead of "note": the
 * same UTF-8 note (1..280 code points) sealed by the payer's client with libsodium's
 * crypto_box_seal, once to the recipient's published key and once to the sender's own, each
 * standard base64 (RFC 4648, padded) of 49..1168 bytes. Both parties must have published a
 * key (else 422 encryption_key_missing). The server checks only the shape and sizes: it has
 * no secret key and cannot open a box, nor tell which key a box was sealed to. The copies are
 * stored with the payment (schema v5, committed in the writer's batch with the money) and
 * each party sees only their own: the sender the "sender" copy, the recipient the "recipient"
 * copy, in the 201, GET /v1/payments/{id}, lists and payment.created events. docs/api.md
 * ("End-to-end encrypted notes") has the format for client authors; tools/tally-note.c is a
 * client that makes keys, seals and opens.
 *
 * Never: hold, log or derive a secret key, or answer one party's copy to the other.
 */
#ifndef TL_API_NOTES_H
#define TL_API_NOTES_H

#include <jansson.h>
#include <stdbool.h>

#include "api/http.h"
#include "api/render.h"
#include "auth/auth_crypto.h"
#include "store/app.h"
#include "store/writer.h"

/* Characters of a sealed box in base64 at most, and of a public key. */
#define NOTES_SEALED_TEXT_BYTES_MAX AUTH_CRYPTO_BASE64_LEN(STORE_SEALED_NOTE_BYTES_MAX)
#define NOTES_KEY_TEXT_BYTES AUTH_CRYPTO_BASE64_LEN(STORE_ENCRYPTION_KEY_BYTES)

static_assert(STORE_ENCRYPTION_KEY_BYTES == AUTH_CRYPTO_X25519_KEY_BYTES, "X25519 keys");
static_assert(STORE_SEALED_NOTE_OVERHEAD_BYTES == AUTH_CRYPTO_SEALED_BOX_OVERHEAD, "sealed boxes");

enum tl_err notes_key_put(struct http_request *req, struct http_response *resp);
enum tl_err notes_key_get(struct http_request *req, struct http_response *resp);
enum tl_err notes_key_delete(struct http_request *req, struct http_response *resp);
enum tl_err notes_user_key_get(struct http_request *req, struct http_response *resp);

/* ---- Sealed notes on payments (payments.c) ---- */

/* A payment's sealed note on its way through the writer. */
struct notes_sealed {
    bool present;
    struct store_payment_note note; /* the raw boxes; payment_id set when attached */
    char recipient_text[NOTES_SEALED_TEXT_BYTES_MAX + 1];
    char sender_text[NOTES_SEALED_TEXT_BYTES_MAX + 1];
};

/*
 * Reads "sealed_note" from a validated body (its field spec lists it as JSON_OBJECT; note is
 * whether the body also had "note"). Absent: out->present false. 400 invalid_request (via
 * http_fail, param "sealed_note..." ) for a malformed object, base64 or size, or when "note" is
 * also there.
 */
enum tl_err notes_sealed_parse(const json_t *body, bool note, struct http_response *resp,
                               struct notes_sealed *out);
/* The parties must have published keys: 422 encryption_key_missing naming the copy of the
 * party without one. TL_OK at once when no sealed note is present. */
enum tl_err notes_sealed_check(struct store *reader, struct http_response *resp,
                               const struct notes_sealed *sealed, struct id128 from_user,
                               struct id128 to_user);
/* Writer thread: attaches the note record for payment_id to batch (nothing when absent).
 * writer_batch_attach's errors. */
enum tl_err notes_sealed_attach(struct notes_sealed *sealed, struct id128 payment_id,
                                struct writer_batch *batch);
/* The viewer's copy in base64, or NULL when there is none. Cannot fail. */
const char *notes_sealed_text(const struct notes_sealed *sealed, bool sender);

/* The notes of a page of payments as viewer sees them. */
struct notes_page;
/* Loads the notes of rows[0..count) (count 0..TL_PAGE_LIMIT_MAX); *out is freed with
 * notes_page_free (NULL for count 0). The store's errors or TL_ERR_NOMEM. */
enum tl_err notes_page_load(struct store *reader, const struct store_payment *rows,
                            uint32_t count, struct id128 viewer, struct notes_page **out);
/* The viewer's copy of rows[index] in base64, or NULL. page may be NULL. Cannot fail. */
const char *notes_page_text(const struct notes_page *page, uint32_t index);
void notes_page_free(struct notes_page *page);

#endif
