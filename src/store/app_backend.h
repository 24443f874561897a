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

/*
 * Every function returns TL_OK, TL_ERR_STORAGE (the database refused or failed; the cause is
 * logged) or TL_ERR_CORRUPT (a stored row fails an integrity check), plus TL_ERR_NOMEM where it
 * allocates and the errors app.h lists for the function. Arguments were checked by app.c:
 * pointers are non-NULL, ids non-zero, strings NUL-terminated within their limits, pages in
 * range. Outputs are filled only on TL_OK (and *conflict only on TL_ERR_CONFLICT).
 *
 * Writes (user_create, user_delete, wallet_open, session_create, session_revoke,
 * idempotency_put, idempotency_prune) run on a writable handle with no batch open, each as its
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

    /* Inserts one STORE_RECORD_PAYMENT or STORE_RECORD_IDEMPOTENCY record inside the open
     * batch. A payment whose id or created_ns exists fails (and with it the batch); an
     * idempotency row whose scope and key exist is skipped. */
    enum tl_err (*record_write)(struct store *store, const struct store_record *record);
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

#endif
