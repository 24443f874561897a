/*
 * app_backend.h - what a storage backend implements for the application rows of app.h;
 * private to src/store/.
 *
 * app.c is the only caller of these functions, except record_write, which the backend's own
 * records_write phase calls for the record kinds of app.h. app.c checks arguments and the
 * handle's state; a backend only talks to its database. A backend points struct store_ops.app
 * at one const struct store_app_ops. Like backend.h, it never returns driver text to callers.
 */
#ifndef TL_STORE_APP_BACKEND_H
#define TL_STORE_APP_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "store/app.h"
#include "store/store.h"

struct store_plans_ops; /* plans_backend.h */
struct store_records_ops; /* records_backend.h */
struct store_stepup_ops;

/* Which outbox rows of a seq range outbox_list_range returns: one key's, or one topic's. */
struct store_outbox_filter {
    struct id128 key;  /* zero: any key (then topic is set) */
    const char *topic; /* NULL: any topic (then key is set) */
};

/*
 * Every function returns TL_OK, TL_ERR_STORAGE (the database refused or failed; the cause is
 * logged) or TL_ERR_CORRUPT (a stored row fails an integrity check), plus TL_ERR_NOMEM where it
 * allocates and the errors app.h lists for the function. Arguments were checked by app.c:
 * pointers are non-NULL, ids non-zero, strings NUL-terminated within their limits, pages in
 * range. Outputs are filled only on TL_OK (and *conflict only on TL_ERR_CONFLICT).
 *
 * Writes (user_create, user_delete, wallet_open, session_create, session_revoke,
 * idempotency_put, idempotency_prune, idempotency_claim, idempotency_claim_release,
 * idempotency_claims_prune) run on a writable handle with no batch open, each as its
 * own transaction, waiting for the writer's batch like any other writer of the database.
 * record_write runs inside the batch transaction, between the other commit phases.
 */
struct store_app_ops {
    enum tl_err (*user_create)(struct store *store, const struct store_user *user,
                               const struct store_wallet *wallet,
                               enum store_user_conflict *conflict);
    enum tl_err (*user_delete)(struct store *store, struct id128 user_id);
    enum tl_err (*user_get)(struct store *store, struct id128 id, struct store_user *out,
                            bool *found);
    /* Exactly one of handle, email, phone is non-NULL and non-empty. */
    enum tl_err (*user_find)(struct store *store, const char *handle, const char *email,
                             const char *phone, struct store_user *out, bool *found);

    enum tl_err (*wallet_open)(struct store *store, const struct store_wallet *wallet,
                               struct store_wallet *out, bool *created);
    enum tl_err (*wallet_get)(struct store *store, struct id128 id, struct store_wallet *out,
                              bool *found);
    enum tl_err (*wallet_find)(struct store *store, struct id128 user_id, uint16_t currency,
                               struct store_wallet *out, bool *found);
    /* max may be 0 (out may then be NULL). TL_ERR_LIMIT when the user has more than max. */
    enum tl_err (*wallets_list)(struct store *store, struct id128 user_id, struct store_wallet *out,
                                uint32_t max, uint32_t *out_count);

    enum tl_err (*session_create)(struct store *store, const struct store_session *session);
    enum tl_err (*session_get)(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                               struct store_session *out, bool *found);
    enum tl_err (*session_revoke)(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES]);

    enum tl_err (*payment_get)(struct store *store, struct id128 id, struct store_payment *out,
                               bool *found);
    /* page was checked: limit in 1..TL_PAGE_LIMIT_MAX, at most one cursor set. */
    enum tl_err (*payments_list)(struct store *store, struct id128 user_id,
                                 enum store_direction direction, const struct store_page *page,
                                 struct store_payment *out, uint32_t *out_count, bool *has_more);

    enum tl_err (*idempotency_put)(struct store *store, const struct store_idempotency *row);
    /* On TL_OK with *found, out->body is malloc'd (NUL-terminated) and owned by the caller. */
    enum tl_err (*idempotency_get)(struct store *store, const char *scope, const char *key,
                                   struct store_idempotency *out, bool *found);
    enum tl_err (*idempotency_prune)(struct store *store, uint64_t before_ns,
                                     uint32_t *out_deleted);

    /* claim->scope and key are 1..max-1 bytes, owner non-zero. Takes an expired claim over. */
    enum tl_err (*idempotency_claim)(struct store *store,
                                     const struct store_idempotency_claim *claim, uint64_t now_ns,
                                     enum store_claim_result *out);
    enum tl_err (*idempotency_claim_release)(struct store *store, const char *scope,
                                             const char *key, struct id128 owner);
    enum tl_err (*idempotency_claims_prune)(struct store *store, uint64_t now_ns,
                                            uint32_t *out_deleted);

    /* The rows of filter's key (topic NULL) or topic (key zero) in (after_seq, upto_seq];
     * limit is 1..STORE_OUTBOX_LIST_MAX, after_seq <= upto_seq. On error nothing stays
     * allocated. */
    enum tl_err (*outbox_list_range)(struct store *store, const struct store_outbox_filter *filter,
                                     uint64_t after_seq, uint64_t upto_seq, uint32_t limit,
                                     struct store_outbox_row *out, uint32_t *out_count);
    enum tl_err (*outbox_seq_last)(struct store *store, uint64_t *out_seq);
    enum tl_err (*outbox_append)(struct store *store, struct id128 key, const char *topic,
                                 const void *data, uint32_t data_bytes, uint64_t *out_seq);

    /* Identity (schema v4): the functions of the same names in app.h. */
    enum tl_err (*totp_put)(struct store *store, const struct store_totp *totp);
    enum tl_err (*totp_get)(struct store *store, struct id128 user_id, struct store_totp *out,
                            bool *found);
    enum tl_err (*totp_activate)(struct store *store, struct id128 user_id, uint64_t step,
                                 const uint8_t hashes[STORE_RECOVERY_CODES][STORE_HASH_BYTES]);
    enum tl_err (*totp_use_step)(struct store *store, struct id128 user_id, uint64_t step);
    enum tl_err (*totp_delete)(struct store *store, struct id128 user_id);
    enum tl_err (*recovery_code_use)(struct store *store, struct id128 user_id,
                                     const uint8_t hash[STORE_HASH_BYTES], uint64_t now_ns);
    enum tl_err (*recovery_codes_left)(struct store *store, struct id128 user_id,
                                       uint32_t *out_count);
    enum tl_err (*mfa_challenge_create)(struct store *store,
                                        const struct store_mfa_challenge *challenge);
    enum tl_err (*mfa_challenge_get)(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                     struct store_mfa_challenge *out, bool *found);
    enum tl_err (*mfa_challenge_consume)(struct store *store,
                                         const uint8_t hash[STORE_HASH_BYTES], uint64_t now_ns);
    enum tl_err (*sessions_list)(struct store *store, struct id128 user_id, uint64_t now_ns,
                                 struct store_session *out, uint32_t max, uint32_t *out_count);
    enum tl_err (*session_revoke_id)(struct store *store, struct id128 user_id,
                                     struct id128 session_id);
    enum tl_err (*sessions_revoke_others)(struct store *store, struct id128 user_id,
                                          struct id128 keep_id, uint32_t *out_count);
    enum tl_err (*user_password_set)(struct store *store, struct id128 user_id,
                                     const char *password_hash, struct id128 keep_id);
    /* The audit log (schema v5; audit_store.c checks, audit_backend.h implements). */
    enum tl_err (*audit_append)(struct store *store, const struct store_audit *entry,
                                uint64_t *out_seq);
    /* page was checked: limit in range, at most one cursor. */
    enum tl_err (*audit_list)(struct store *store, struct id128 user_id,
                              const struct store_audit_page *page, struct store_audit *out,
                              uint32_t *out_count, bool *has_more);

    /* Quotes and payment requests (schema v4). rows/count of requests_create: 1..
     * STORE_REQUESTS_CREATE_MAX checked rows; page of requests_list checked. */
    enum tl_err (*quote_create)(struct store *store, const struct store_quote *quote);
    enum tl_err (*quote_get)(struct store *store, struct id128 id, struct store_quote *out,
                             bool *found);
    enum tl_err (*requests_create)(struct store *store, const struct store_request *rows,
                                   uint32_t count, const struct store_outbox_new *events,
                                   uint32_t event_count);
    enum tl_err (*request_get)(struct store *store, struct id128 id, struct store_request *out,
                               bool *found);
    enum tl_err (*requests_list)(struct store *store, struct id128 user_id,
                                 enum store_request_role role,
                                 const struct store_request_page *page,
                                 struct store_request *out, uint32_t *out_count, bool *has_more);
    enum tl_err (*request_claim)(struct store *store, struct id128 id, struct id128 payer_id,
                                 uint64_t now_ns, bool *claimed);
    enum tl_err (*request_unclaim)(struct store *store, struct id128 id, uint64_t claim_ns);
    enum tl_err (*request_close)(struct store *store, struct id128 id, struct id128 actor_id,
                                 uint8_t status, uint64_t now_ns, uint64_t stale_before_ns,
                                 const struct store_outbox_new *events, uint32_t event_count,
                                 bool *closed);

    /* Passkeys (schema v4): the functions of the same names in app.h, arguments checked
     * (credential ids 1..max bytes, max of passkeys_list 1..STORE_PASSKEYS_USER_MAX). */
    enum tl_err (*passkey_create)(struct store *store, const struct store_passkey *passkey);
    enum tl_err (*passkey_find)(struct store *store, const uint8_t *credential_id,
                                uint32_t credential_id_bytes, struct store_passkey *out,
                                bool *found);
    enum tl_err (*passkeys_list)(struct store *store, struct id128 user_id,
                                 struct store_passkey *out, uint32_t max, uint32_t *out_count);
    enum tl_err (*passkey_revoke)(struct store *store, struct id128 user_id, struct id128 id,
                                  uint64_t now_ns);
    enum tl_err (*passkey_use)(struct store *store, struct id128 id, uint32_t sign_count,
                               uint64_t now_ns);
    enum tl_err (*webauthn_challenge_create)(struct store *store,
                                             const struct store_webauthn_challenge *challenge);
    enum tl_err (*webauthn_challenge_consume)(struct store *store,
                                              const uint8_t hash[STORE_HASH_BYTES], uint8_t kind,
                                              uint64_t now_ns, struct id128 *out_user_id);

    /* Refunds, reversals and disputes (schema v5): the functions of the same names in app.h,
     * arguments checked (pages as for requests_list, dispute statuses in range). */
    enum tl_err (*refund_put)(struct store *store, const struct store_refund *row);
    enum tl_err (*refund_get)(struct store *store, struct id128 id, struct store_refund *out,
                              bool *found);
    enum tl_err (*refunds_list)(struct store *store, struct id128 payment_id,
                                const struct store_request_page *page, struct store_refund *out,
                                uint32_t *out_count, bool *has_more);
    enum tl_err (*refund_totals)(struct store *store, struct id128 payment_id,
                                 int64_t *out_refunded, int64_t *out_reversed);
    enum tl_err (*dispute_create)(struct store *store, const struct store_dispute *dispute);
    enum tl_err (*dispute_get)(struct store *store, struct id128 id, struct store_dispute *out,
                               bool *found);
    enum tl_err (*disputes_list)(struct store *store, struct id128 payment_id, uint8_t status,
                                 const struct store_request_page *page,
                                 struct store_dispute *out, uint32_t *out_count, bool *has_more);
    enum tl_err (*dispute_resolve)(struct store *store, struct id128 id, uint8_t status,
                                   const char *note, struct id128 reversal_id, uint64_t now_ns,
                                   bool *resolved);
    /* Exchange rates (schema v5): the functions of the same names in app.h, arguments
     * checked (currencies 1..999 and different, a positive rate; max of fx_rates_list
     * 1..STORE_FX_RATES_MAX). */
    enum tl_err (*fx_rate_put)(struct store *store, const struct store_fx_rate *rate,
                               bool *applied);
    enum tl_err (*fx_rate_get)(struct store *store, uint16_t base, uint16_t quote,
                               struct store_fx_rate *out, bool *found);
    enum tl_err (*fx_rates_list)(struct store *store, struct store_fx_rate *out, uint32_t max,
                                 uint32_t *out_count);
    /* Tiers and limit windows (schema v5): the functions of the same names in app.h;
     * direction is SENT or RECEIVED, tier 0..2. limits_window may run inside a batch. */
    enum tl_err (*limits_window)(struct store *store, struct id128 user_id,
                                 enum store_direction direction, uint16_t currency,
                                 uint64_t after_ns, struct store_limits_window *out);
    enum tl_err (*user_tier_set)(struct store *store, struct id128 user_id, uint8_t tier,
                                 uint64_t updated_ns);

    /* Inserts one STORE_RECORD_PAYMENT, STORE_RECORD_IDEMPOTENCY or STORE_RECORD_QUOTE record
     * inside the open batch. A payment whose id or created_ns exists fails (and with it the
     * batch), so does a quote whose id exists; an
     * idempotency row whose scope and key exist is skipped. An idempotency row with a
     * claim_owner deletes that claim and fails (TL_ERR_STORAGE, logged) when the owner no
     * longer holds it. */
    enum tl_err (*record_write)(struct store *store, const struct store_record *record);

    /* Escrows and scheduled payments (schema v5): plans.h, plans_backend.h. */
    const struct store_plans_ops *plans;
    /* Notes and session last-seen (schema v5): the functions of the same names in app.h,
     * arguments checked (notes_get: count 1..TL_PAGE_LIMIT_MAX). Implemented in
     * sqlite_notes.c and postgres_notes.c. record_write also takes STORE_RECORD_PAYMENT_NOTE
     * (a payment id that has a note fails the batch). */
    enum tl_err (*encryption_key_put)(struct store *store, const struct store_encryption_key *key,
                                      struct store_encryption_key *out);
    enum tl_err (*encryption_key_get)(struct store *store, struct id128 user_id,
                                      struct store_encryption_key *out, bool *found);
    enum tl_err (*encryption_key_delete)(struct store *store, struct id128 user_id);
    enum tl_err (*payment_notes_get)(struct store *store, const struct id128 *ids, uint32_t count,
                                     struct store_payment_note *out, bool *found);
    enum tl_err (*session_touch)(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                                 uint64_t now_ns, uint64_t interval_ns);
    enum tl_err (*sessions_seen)(struct store *store, struct id128 user_id, uint64_t now_ns,
                                 struct store_session_seen *out, uint32_t max,
                                 uint32_t *out_count);
    /* Step-up and device keys (schema v5): stepup_backend.h. */
    const struct store_stepup_ops *stepup;
    /* The audit log (schema v5), continued: limit checked (1..STORE_AUDIT_SCAN_MAX). */
    enum tl_err (*audit_scan)(struct store *store, uint64_t after_seq, uint32_t limit,
                              struct store_audit *out, uint32_t *out_count);
    enum tl_err (*audit_head)(struct store *store, uint64_t *out_seq,
                              uint8_t out_hash[STORE_AUDIT_HASH_BYTES]);
    enum tl_err (*audit_checkpoint_put)(struct store *store,
                                        const struct store_audit_checkpoint *checkpoint,
                                        bool *inserted);
    enum tl_err (*audit_checkpoints_list)(struct store *store, uint64_t after_seq, uint32_t limit,
                                          struct store_audit_checkpoint *out,
                                          uint32_t *out_count);
    /* Seals the entries a migration copied without hashes (audit_backend.h); writable handle,
     * no batch open. */
    enum tl_err (*audit_seal)(struct store *store, uint32_t *out_sealed);
    /* Conversion rows (schema v6): records.h, records_backend.h. */
    const struct store_records_ops *records;
};

/*
 * Decoders for the records app.c serializes, for backends' record_write. The records are ours
 * (made by store_record_payment and store_record_idempotency in this process), so a record that
 * does not decode is a bug and asserts. Cannot fail.
 */
void store_record_payment_decode(const struct store_record *record, struct store_payment *out);
/* out->body points into record->data (not NUL-terminated; body_bytes long). */
void store_record_idempotency_decode(const struct store_record *record,
                                     struct store_idempotency *out);
/* app_notes.c: a STORE_RECORD_PAYMENT_NOTE record (store_record_payment_note). */
void store_record_payment_note_decode(const struct store_record *record,
                                      struct store_payment_note *out);
void store_record_audit_decode(const struct store_record *record, struct store_audit *out);
/* app_quotes.c: a STORE_RECORD_QUOTE record (store_record_quote); used is false. */
void store_record_quote_decode(const struct store_record *record, struct store_quote *out);

#endif
