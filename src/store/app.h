/*
 * app.h - the store's application rows: users, sessions, wallets, payments, idempotency.
 *
 * Part of the one storage interface (store.h): same handles, same backends, same test suite.
 * Rows that are not money. Users, sessions and wallet rows are written directly through an API
 * handle, each call its own transaction. Payment and idempotency rows that belong to a money
 * movement ride with the writer's batch as records (store_record_payment,
 * store_record_idempotency), so they commit atomically with the transfers they describe.
 * PII (email, phone, display name) lives only in these rows, never in ledger rows.
 *
 * Every function returns TL_OK, TL_ERR_STORAGE (logged), TL_ERR_CORRUPT, or what it lists.
 * A string argument a client could have sent that is empty or does not fit its
 * STORE_*_BYTES_MAX is TL_ERR_INVALID_REQUEST; other bad arguments (NULL, zero ids, times of 0,
 * an unterminated array, a write on a reader handle or inside an open batch) are caller bugs
 * and assert. Outputs are filled only on TL_OK.
 */
#ifndef TL_STORE_APP_H
#define TL_STORE_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_HANDLE_BYTES_MAX 31            /* 3..30 characters + NUL */
#define STORE_EMAIL_BYTES_MAX 255            /* <= 254 + NUL */
#define STORE_PHONE_BYTES_MAX 17             /* '+' and <= 15 digits + NUL */
#define STORE_DISPLAY_NAME_BYTES_MAX 257     /* <= 64 code points of UTF-8 + NUL */
#define STORE_PASSWORD_HASH_BYTES_MAX 128    /* libsodium crypto_pwhash_STRBYTES */
#define STORE_NOTE_BYTES_MAX 1121            /* <= 280 code points of UTF-8 + NUL */
#define STORE_TO_BYTES_MAX 256               /* what the sender typed as recipient + NUL */
#define STORE_IDEMPOTENCY_KEY_BYTES_MAX 256  /* <= 255 + NUL */
#define STORE_IDEMPOTENCY_SCOPE_BYTES_MAX 64 /* "user:<32 hex>" or "ip:<address>" */
#define STORE_HASH_BYTES 32

/* ---- Users ---- */

struct store_user {
    struct id128 id;
    char handle[STORE_HANDLE_BYTES_MAX];             /* normalized lower case, unique */
    char email[STORE_EMAIL_BYTES_MAX];               /* normalized, unique (case-insensitive) */
    char phone[STORE_PHONE_BYTES_MAX];               /* E.164, unique, or "" */
    char display_name[STORE_DISPLAY_NAME_BYTES_MAX];
    char password_hash[STORE_PASSWORD_HASH_BYTES_MAX]; /* Argon2id encoded string */
    uint64_t created_ns;
};

/* Which unique field a conflicting insert hit. */
enum store_user_conflict {
    STORE_USER_CONFLICT_NONE = 0,
    STORE_USER_CONFLICT_HANDLE = 1,
    STORE_USER_CONFLICT_EMAIL = 2,
    STORE_USER_CONFLICT_PHONE = 3,
};

/* ---- Wallets: the user-facing face of a ledger wallet account ---- */

struct store_wallet {
    struct id128 id;      /* equals the ledger account id */
    struct id128 user_id;
    uint16_t currency;    /* ISO 4217 number; one wallet per user and currency */
    uint64_t created_ns;
};

/* Inserts the user and their first wallet row in one transaction. TL_ERR_CONFLICT with
 * *conflict set when the handle, email or phone is taken (checked in that order; handle and
 * email compare ASCII case-insensitively and are stored lower-cased); nothing is written then.
 * TL_ERR_INVALID_REQUEST when handle, email or password_hash is empty. *conflict is
 * STORE_USER_CONFLICT_NONE on every other return. */
enum tl_err store_user_create(struct store *store, const struct store_user *user,
                              const struct store_wallet *wallet,
                              enum store_user_conflict *conflict);
/* Removes a user made by store_user_create, their wallet rows and sessions, when their ledger
 * account could not be opened (compensation; never for a user whose money moved). TL_OK also
 * when no such user exists (a retried compensation). */
enum tl_err store_user_delete(struct store *store, struct id128 user_id);
enum tl_err store_user_get(struct store *store, struct id128 id, struct store_user *out,
                           bool *found);
/* By normalized handle, email or phone: exactly one of them non-NULL. TL_ERR_INVALID_REQUEST
 * when it is empty or too long for its field. */
enum tl_err store_user_find(struct store *store, const char *handle, const char *email,
                            const char *phone, struct store_user *out, bool *found);

/* Inserts a wallet row. If the user has one in that currency already, *out is that row and
 * *created false; otherwise *out is the new row and *created true. */
enum tl_err store_wallet_open(struct store *store, const struct store_wallet *wallet,
                              struct store_wallet *out, bool *created);
enum tl_err store_wallet_get(struct store *store, struct id128 id, struct store_wallet *out,
                             bool *found);
enum tl_err store_wallet_find(struct store *store, struct id128 user_id, uint16_t currency,
                              struct store_wallet *out, bool *found);
/* Every wallet of a user, oldest first, at most max (TL_ERR_LIMIT if there are more). */
enum tl_err store_wallets_list(struct store *store, struct id128 user_id,
                               struct store_wallet *out, uint32_t max, uint32_t *out_count);

/* ---- Sessions (tokens are stored only as keyed hashes) ---- */

struct store_session {
    uint8_t token_hash[STORE_HASH_BYTES];
    struct id128 id;
    struct id128 user_id;
    uint64_t created_ns;
    uint64_t expires_ns;
    bool revoked;
};

enum tl_err store_session_create(struct store *store, const struct store_session *session);
enum tl_err store_session_get(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                              struct store_session *out, bool *found);
/* Marks it revoked; TL_ERR_NOT_FOUND when no such session. */
enum tl_err store_session_revoke(struct store *store,
                                 const uint8_t token_hash[STORE_HASH_BYTES]);

/* ---- Payments: what a user asked for; its money is the ledger transfer(s) with user_ref = id */

enum store_payment_status {
    STORE_PAYMENT_SUCCEEDED = 1,
};

struct store_payment {
    struct id128 id;             /* also the id of its main ledger transfer */
    struct id128 from_user;
    struct id128 to_user;
    struct id128 from_wallet;
    struct id128 to_wallet;
    int64_t amount;              /* minor units, > 0 */
    int64_t fee;                 /* minor units, >= 0, paid by the sender on top of amount */
    uint16_t currency;           /* ISO 4217 number */
    uint8_t status;              /* enum store_payment_status */
    uint64_t created_ns;         /* ledger timestamp of the main transfer: unique, the cursor */
    int64_t sender_available_after;    /* sender's available balance right after */
    int64_t recipient_available_after; /* recipient's available balance right after */
    char to_text[STORE_TO_BYTES_MAX];  /* what the sender typed: "@bob", "+1555...", email */
    char note[STORE_NOTE_BYTES_MAX];   /* "" when none */
};

enum tl_err store_payment_get(struct store *store, struct id128 id, struct store_payment *out,
                              bool *found);

enum store_direction {
    STORE_DIRECTION_ANY = 0,
    STORE_DIRECTION_SENT = 1,
    STORE_DIRECTION_RECEIVED = 2,
};
/* A user's payments, newest first, cursors are created_ns values as in store_history (limit
 * 1..TL_PAGE_LIMIT_MAX, at most one cursor, else TL_ERR_INVALID_REQUEST). ANY lists a payment
 * once even when the user is on both sides. */
enum tl_err store_payments_list(struct store *store, struct id128 user_id,
                                enum store_direction direction, const struct store_page *page,
                                struct store_payment *out, uint32_t *out_count, bool *has_more);

/* ---- Idempotency: the response a key produced, replayed for retries ---- */

struct store_idempotency {
    char scope[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX]; /* the caller: "user:<hex>" or "ip:<addr>" */
    char key[STORE_IDEMPOTENCY_KEY_BYTES_MAX];
    uint8_t request_hash[STORE_HASH_BYTES];        /* of method, route and body */
    uint16_t status;                               /* HTTP status replayed */
    uint64_t created_ns;
    const char *body;     /* put: borrowed; get: malloc'd, NUL-terminated, freed by caller */
    uint32_t body_bytes;
};

/* Direct insert for POSTs that do not go through the writer. TL_ERR_CONFLICT when the key
 * exists in that scope already (nothing written). TL_ERR_INVALID_REQUEST when scope or key is
 * empty; TL_ERR_LIMIT when body_bytes > TL_RECORD_BYTES_MAX (the same bound as a record). */
enum tl_err store_idempotency_put(struct store *store, const struct store_idempotency *row);
/* TL_ERR_INVALID_REQUEST when scope or key is empty or too long; TL_ERR_NOMEM (the body). */
enum tl_err store_idempotency_get(struct store *store, const char *scope, const char *key,
                                  struct store_idempotency *out, bool *found);
/* Deletes rows created before before_ns; *out_deleted counts them. */
enum tl_err store_idempotency_prune(struct store *store, uint64_t before_ns,
                                    uint32_t *out_deleted);

/* ---- Records that ride with a writer batch (see writer_batch_attach) ---- */

/*
 * Serializes a payment row into a batch record. buf must hold STORE_RECORD_PAYMENT_BYTES;
 * out->data points into buf. The row is inserted when the batch commits. Cannot fail.
 */
#define STORE_RECORD_PAYMENT_BYTES (sizeof(struct store_payment))
void store_record_payment(const struct store_payment *payment, void *buf,
                          struct store_record *out);
/*
 * Serializes an idempotency row (with its body) into a batch record. TL_ERR_LIMIT when it does
 * not fit in buf_bytes (at most TL_RECORD_BYTES_MAX). A key that already exists in the scope
 * when the batch commits keeps its first row (the insert is skipped, never an error).
 */
enum tl_err store_record_idempotency(const struct store_idempotency *row, void *buf,
                                     uint32_t buf_bytes, struct store_record *out);

#endif
