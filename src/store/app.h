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

#define STORE_USER_AGENT_BYTES_MAX 129 /* printable ASCII, cut to 128 bytes + NUL; "" if none */

struct store_session {
    uint8_t token_hash[STORE_HASH_BYTES];
    struct id128 id;
    struct id128 user_id;
    uint64_t created_ns;
    uint64_t expires_ns;
    bool revoked;
    char user_agent[STORE_USER_AGENT_BYTES_MAX]; /* schema v4 */
};

enum tl_err store_session_create(struct store *store, const struct store_session *session);
enum tl_err store_session_get(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                              struct store_session *out, bool *found);
/* Marks it revoked; TL_ERR_NOT_FOUND when no such session. */
enum tl_err store_session_revoke(struct store *store,
                                 const uint8_t token_hash[STORE_HASH_BYTES]);

/* ---- Identity (schema v4): second factor, sessions of a user, password, audit log ---- */

#define STORE_TOTP_SEALED_BYTES_MAX 104 /* nonce + MAC + secret (auth/mfa.h) */
#define STORE_RECOVERY_CODES 10
#define STORE_SESSIONS_LIST_MAX 100 /* live sessions a listing returns at most */

/* A user's TOTP secret, sealed by the API (the store never sees it in the clear). A row is
 * pending from enrolment until confirmed (active); last_step is the newest step used. */
struct store_totp {
    struct id128 user_id;
    uint8_t sealed[STORE_TOTP_SEALED_BYTES_MAX];
    uint32_t sealed_bytes; /* 1..STORE_TOTP_SEALED_BYTES_MAX */
    bool active;
    uint64_t last_step;
    uint64_t created_ns;
};

/* Puts a pending enrolment (active false, last_step 0), replacing a pending one.
 * TL_ERR_CONFLICT when the user has an active one (nothing written). */
enum tl_err store_totp_put(struct store *store, const struct store_totp *totp);
enum tl_err store_totp_get(struct store *store, struct id128 user_id, struct store_totp *out,
                           bool *found);
/* Activates the pending row, records step as used, and replaces the user's recovery codes with
 * these hashes, in one transaction. TL_ERR_NOT_FOUND without a pending row (none, or active
 * already: a second confirm). */
enum tl_err store_totp_activate(struct store *store, struct id128 user_id, uint64_t step,
                                const uint8_t hashes[STORE_RECOVERY_CODES][STORE_HASH_BYTES]);
/* Records step as used when it is after the active row's last_step (one atomic compare and
 * set: two nodes cannot both accept one code). TL_ERR_CONFLICT when it is not (a replay);
 * TL_ERR_NOT_FOUND without an active row. */
enum tl_err store_totp_use_step(struct store *store, struct id128 user_id, uint64_t step);
/* Deletes the user's TOTP row and recovery codes. TL_ERR_NOT_FOUND when there was no row. */
enum tl_err store_totp_delete(struct store *store, struct id128 user_id);
/* Marks an unused recovery code of the user used. TL_ERR_NOT_FOUND when there is no such
 * unused code. */
enum tl_err store_recovery_code_use(struct store *store, struct id128 user_id,
                                    const uint8_t hash[STORE_HASH_BYTES], uint64_t now_ns);
/* Unused recovery codes of the user. */
enum tl_err store_recovery_codes_left(struct store *store, struct id128 user_id,
                                      uint32_t *out_count);

/* A login waiting for its second factor, by keyed hash of the challenge. */
struct store_mfa_challenge {
    uint8_t hash[STORE_HASH_BYTES];
    struct id128 user_id;
    uint64_t created_ns;
    uint64_t expires_ns;
    bool used;
};
/* Inserts it, deleting challenges that expired before created_ns (they pile up otherwise). */
enum tl_err store_mfa_challenge_create(struct store *store,
                                       const struct store_mfa_challenge *challenge);
enum tl_err store_mfa_challenge_get(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                    struct store_mfa_challenge *out, bool *found);
/* Marks it used when it is unused and expires after now_ns (atomic: one login per challenge).
 * TL_ERR_NOT_FOUND otherwise. */
enum tl_err store_mfa_challenge_consume(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                        uint64_t now_ns);

/* The user's sessions that are not revoked and expire after now_ns, newest first, at most max
 * (more are not an error: the oldest are left out). */
enum tl_err store_sessions_list(struct store *store, struct id128 user_id, uint64_t now_ns,
                                struct store_session *out, uint32_t max, uint32_t *out_count);
/* Revokes the user's session with this id. TL_ERR_NOT_FOUND when the user has no such live
 * session (another user's session is not found either). */
enum tl_err store_session_revoke_id(struct store *store, struct id128 user_id,
                                    struct id128 session_id);
/* Revokes every session of the user but keep_id (zero: all). *out_count: sessions revoked. */
enum tl_err store_sessions_revoke_others(struct store *store, struct id128 user_id,
                                         struct id128 keep_id, uint32_t *out_count);
/* Sets the user's password hash and revokes every session but keep_id, in one transaction.
 * TL_ERR_NOT_FOUND when there is no such user. TL_ERR_INVALID_REQUEST when hash is empty. */
enum tl_err store_user_password_set(struct store *store, struct id128 user_id,
                                    const char *password_hash, struct id128 keep_id);

/*
 * The audit log (schema v5): one hash chain of every security action and money movement
 * (store/audit_chain.h has the canonical encoding and the verifier). Entries hold ids and
 * references, never secrets or PII (emails, phones, names). The schema refuses UPDATE and
 * DELETE. seq is global and gap-free: an append takes the chain's head under the lock that
 * serializes batches (SQLite: the write transaction; PostgreSQL: the batch advisory lock), so
 * entries of direct appends and of writer batches interleave in one chain on every node.
 */
#define STORE_AUDIT_KIND_BYTES_MAX 40    /* "login.failed", "payment.sent" */
#define STORE_AUDIT_SUBJECT_BYTES_MAX 64 /* a reference: "sess_...", "pay_..." or "" */
#define STORE_AUDIT_REQUEST_ID_BYTES_MAX 65
#define STORE_AUDIT_IP_BYTES_MAX 48
#define STORE_AUDIT_HASH_BYTES 32
#define STORE_AUDIT_SCAN_MAX 1024 /* entries or checkpoints one scan call returns at most */

struct store_audit {
    uint64_t seq; /* 1, 2, ...: set by the append (ignored on input); the listing cursor */
    uint64_t created_ns;
    struct id128 user_id;         /* who acted: the user, the payer, the depositor */
    struct id128 counterparty_id; /* the other party (a payee), or zero */
    int64_t amount;               /* minor units; 0 when nothing moved */
    uint16_t currency;            /* ISO 4217 number; 0 when nothing moved */
    char kind[STORE_AUDIT_KIND_BYTES_MAX];
    char subject[STORE_AUDIT_SUBJECT_BYTES_MAX];
    char request_id[STORE_AUDIT_REQUEST_ID_BYTES_MAX];
    char ip[STORE_AUDIT_IP_BYTES_MAX]; /* kept beside the chain, not hashed (personal data) */
    /* Read only. sealed is false for a copied version 4 entry that no writable open has sealed
     * yet (its hashes are zero then). */
    bool sealed;
    uint8_t prev_hash[STORE_AUDIT_HASH_BYTES];
    uint8_t hash[STORE_AUDIT_HASH_BYTES];
};

/* Cursor page by seq: at most one of the two non-zero; limit 1..TL_PAGE_LIMIT_MAX. */
struct store_audit_page {
    uint64_t starting_after_seq;
    uint64_t ending_before_seq;
    uint32_t limit;
};

/* Appends one entry in its own transaction: seq, prev_hash and hash are the store's. *out_seq
 * (may be NULL) gets its seq. TL_ERR_INVALID_REQUEST when kind is empty. */
enum tl_err store_audit_append(struct store *store, const struct store_audit *entry,
                               uint64_t *out_seq);
/* The entries the user is a party of (user_id or counterparty_id), newest (largest seq)
 * first; starting_after_seq gives older entries, ending_before_seq newer ones (still newest
 * first). TL_ERR_INVALID_REQUEST for a bad page. */
enum tl_err store_audit_list(struct store *store, struct id128 user_id,
                             const struct store_audit_page *page, struct store_audit *out,
                             uint32_t *out_count, bool *has_more);
/* The whole chain in seq order: entries with seq > after_seq, at most limit (1..
 * STORE_AUDIT_SCAN_MAX, else TL_ERR_LIMIT). Fewer than limit: the end of the chain. */
enum tl_err store_audit_scan(struct store *store, uint64_t after_seq, uint32_t limit,
                             struct store_audit *out, uint32_t *out_count);
/* The newest entry's seq and hash; *out_seq 0 (and a zero hash) when the chain is empty.
 * TL_ERR_CORRUPT when the newest entry is not sealed. */
enum tl_err store_audit_head(struct store *store, uint64_t *out_seq,
                             uint8_t out_hash[STORE_AUDIT_HASH_BYTES]);

/* A signed head (store/audit_chain.h: store_audit_checkpoint_mac). */
struct store_audit_checkpoint {
    uint64_t seq;
    uint64_t created_ns;
    uint8_t hash[STORE_AUDIT_HASH_BYTES];
    uint8_t mac[STORE_AUDIT_HASH_BYTES];
};
/* Inserts a checkpoint; one for the same seq already there is kept (TL_OK, *inserted false).
 * inserted may be NULL. */
enum tl_err store_audit_checkpoint_put(struct store *store,
                                       const struct store_audit_checkpoint *checkpoint,
                                       bool *inserted);
/* Checkpoints with seq > after_seq in seq order, at most limit (1..STORE_AUDIT_SCAN_MAX). */
enum tl_err store_audit_checkpoints_list(struct store *store, uint64_t after_seq, uint32_t limit,
                                         struct store_audit_checkpoint *out,
                                         uint32_t *out_count);

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
 * once even when the user is on both sides. SQLite finds them through the history chains of
 * the user's wallets (sqlite_paylists.c), so it relies on what store_record_payment asks of
 * a row: TL_ERR_CORRUPT when a payment's transfer is not on the wallets it names, TL_ERR_LIMIT
 * when the user has more than TL_WALLETS_PER_USER_MAX wallets. */
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
    /* Records only (store_record_idempotency): the owner of the caller's idempotency claim, or
     * zero for none. When set, the batch deletes that claim in its transaction and fails when
     * the claim is no longer this owner's (it expired and another request took the key), so
     * the money of a request that lost its claim never commits. Ignored by put and get. */
    struct id128 claim_owner;
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

/* ---- Idempotency claims: one execution of a key across nodes sharing a database ---- */

/*
 * A claim marks (scope, key) as executing until it is released or expires_ns passes, so that
 * duplicates arriving at another node answer "in progress" instead of executing again. The
 * claim is taken in its own transaction before the handler runs; the answer's row commits
 * later (with the money, or by store_idempotency_put) and the claim is released after it, so a
 * claimer that then finds no idempotency row knows that no earlier request finished.
 */
enum store_claim_result {
    STORE_CLAIM_ACQUIRED = 1,   /* the caller holds the key until release or expires_ns */
    STORE_CLAIM_HELD = 2,       /* a live claim for the same request (same hash) holds it */
    STORE_CLAIM_HELD_OTHER = 3, /* a live claim for another request (another hash) holds it */
};

struct store_idempotency_claim {
    char scope[STORE_IDEMPOTENCY_SCOPE_BYTES_MAX];
    char key[STORE_IDEMPOTENCY_KEY_BYTES_MAX];
    uint8_t request_hash[STORE_HASH_BYTES];
    struct id128 owner;  /* random, non-zero: names this claim */
    uint64_t expires_ns; /* wall clock; a claim is live while now < expires_ns */
};

/* Takes (scope, key) for claim->owner unless a live claim (expires_ns > now_ns) holds it; an
 * expired claim is taken over. *out says which. TL_ERR_INVALID_REQUEST when scope or key is
 * empty or too long; TL_ERR_BUSY when the key changed hands too often to decide (retry). */
enum tl_err store_idempotency_claim(struct store *store, const struct store_idempotency_claim *claim,
                                    uint64_t now_ns, enum store_claim_result *out);
/* Deletes the claim if owner still holds it. TL_OK also when it does not (it expired and was
 * taken, or the batch that committed the answer deleted it). */
enum tl_err store_idempotency_claim_release(struct store *store, const char *scope,
                                            const char *key, struct id128 owner);
/* Deletes claims that expired at or before now_ns (left by crashed nodes); *out_deleted counts
 * them. */
enum tl_err store_idempotency_claims_prune(struct store *store, uint64_t now_ns,
                                           uint32_t *out_deleted);

/* ---- A key's outbox rows: the events of one user (api/events.c keys them by user id) ---- */

/* Outbox rows whose key is key with after_seq < seq <= upto_seq, in seq order, at most limit
 * (1..STORE_OUTBOX_LIST_MAX, else TL_ERR_LIMIT; upto_seq < after_seq is TL_ERR_INVALID_REQUEST).
 * There is no index by key (migration 005 dropped it: a random-key index insert per event
 * cost more than the event), so this reads every row of the seq range: callers bound the
 * range. On TL_OK the caller frees the rows with store_outbox_rows_free; on error nothing is
 * allocated. TL_ERR_NOMEM. */
enum tl_err store_outbox_list_key(struct store *store, struct id128 key, uint64_t after_seq,
                                  uint64_t upto_seq, uint32_t limit, struct store_outbox_row *out,
                                  uint32_t *out_count);
/* The same for the rows of one topic (NUL-terminated, shorter than 64 bytes), whoever's they
 * are: an event hub with no stream open reads only the rows it acts on (session.revoked). */
enum tl_err store_outbox_list_topic(struct store *store, const char *topic, uint64_t after_seq,
                                    uint64_t upto_seq, uint32_t limit,
                                    struct store_outbox_row *out, uint32_t *out_count);
/* Appends one outbox row outside a batch, for an event that moves no money (a session
 * revoked), in its own transaction and in seq order with the batches' rows. topic is
 * NUL-terminated and shorter than 64 bytes; data_bytes at most STORE_OUTBOX_APPEND_MAX.
 * *out_seq is the row's seq. */
#define STORE_OUTBOX_APPEND_MAX 4096u
enum tl_err store_outbox_append(struct store *store, struct id128 key, const char *topic,
                                const void *data, uint32_t data_bytes, uint64_t *out_seq);
/* The largest outbox seq committed, 0 when the outbox is empty. */
enum tl_err store_outbox_seq_last(struct store *store, uint64_t *out_seq);

/* ---- Quotes and payment requests (schema v4) ----
 *
 * Neither row has a "used" or "paid" flag that a write sets: each reserves the id of the
 * payment that will use it (payment_id), and it is used or paid exactly when the payments row
 * with that id exists, which commits with the money in the writer's batch. The ledger refuses a
 * second transfer with that id, so a quote is used and a request is paid at most once. */

/* A quote: the exact terms of a later movement. */
struct store_quote {
    struct id128 id;
    struct id128 user_id;      /* who asked; only they may use it */
    struct id128 recipient_id; /* zero when the quote names no recipient */
    struct id128 payment_id;   /* reserved id of the payment that uses it */
    uint8_t operation;         /* core/fees.h enum fees_operation */
    uint16_t send_currency;    /* ISO 4217 numbers; equal until FX */
    uint16_t receive_currency;
    int64_t amount;   /* what the recipient receives, > 0 */
    int64_t fee;      /* >= 0, in send_currency */
    int64_t sent;     /* what leaves the sender, > 0 (amount + fee in one currency) */
    int64_t rate_num; /* receive/send = rate_num/rate_den exactly; 1/1 in one currency */
    int64_t rate_den;
    uint64_t created_ns;
    uint64_t expires_ns;
    bool used; /* read only: the payment with payment_id exists */
};

/* Inserts a quote in its own transaction (tools and tests; the API attaches
 * store_record_quote to a writer batch instead). TL_ERR_STORAGE when the id exists. */
enum tl_err store_quote_create(struct store *store, const struct store_quote *quote);
enum tl_err store_quote_get(struct store *store, struct id128 id, struct store_quote *out,
                            bool *found);
/*
 * Serializes a new quote (used false) into a batch record (kind STORE_RECORD_QUOTE; app_quotes.c),
 * inserted when the batch commits; a quote id that exists fails the batch. buf must hold
 * STORE_RECORD_QUOTE_BYTES; out->data points into buf. Cannot fail.
 */
#define STORE_RECORD_QUOTE_BYTES (sizeof(struct store_quote))
void store_record_quote(const struct store_quote *quote, void *buf, struct store_record *out);

/* Stored states; paid and expired are derived (see above and expires_ns). */
enum store_request_status {
    STORE_REQUEST_OPEN = 1,
    STORE_REQUEST_DECLINED = 2,
    STORE_REQUEST_CANCELED = 3,
};

/* Participants of one split, and so requests one store_requests_create writes, at most. */
#define STORE_REQUESTS_CREATE_MAX 20

struct store_request {
    struct id128 id;
    struct id128 requester_id; /* who is owed */
    struct id128 payer_id;     /* who is asked to pay */
    struct id128 payment_id;   /* reserved id of the payment that pays it */
    struct id128 split_id;     /* zero when not part of a split */
    int64_t amount;            /* minor units, > 0 */
    uint16_t currency;         /* ISO 4217 number */
    uint8_t status;            /* enum store_request_status */
    uint64_t created_ns;
    uint64_t expires_ns;
    uint64_t closed_ns;    /* when declined or canceled; 0 while open */
    uint64_t pay_claim_ns; /* when a pay began (0: none); see store_request_claim */
    bool paid;             /* read only: the payment with payment_id exists */
    uint64_t paid_ns;      /* read only: its created_ns when paid */
    char from_text[STORE_TO_BYTES_MAX]; /* what the requester typed to name the payer */
    char note[STORE_NOTE_BYTES_MAX];    /* "" when none */
};

/*
 * An outbox row that commits in the same transaction as the app rows it announces (a payment
 * request's notification), in seq order with the writer's batches like store_outbox_append.
 * topic is 1..63 bytes (store_record's topic); data 1..STORE_OUTBOX_APPEND_MAX bytes.
 */
struct store_outbox_new {
    struct id128 key; /* whose stream it goes to (api/events.h) */
    const char *topic;
    const void *data;
    uint32_t data_bytes;
};
#define STORE_REQUEST_EVENTS_MAX (2u * STORE_REQUESTS_CREATE_MAX)

/* Inserts 1..STORE_REQUESTS_CREATE_MAX rows (status open, closed_ns and pay_claim_ns 0) and
 * 0..STORE_REQUEST_EVENTS_MAX outbox rows in one transaction: all or none.
 * TL_ERR_INVALID_REQUEST when from_text is empty or too long. */
enum tl_err store_requests_create(struct store *store, const struct store_request *rows,
                                  uint32_t count, const struct store_outbox_new *events,
                                  uint32_t event_count);
enum tl_err store_request_get(struct store *store, struct id128 id, struct store_request *out,
                              bool *found);

enum store_request_role {
    STORE_REQUEST_ROLE_ANY = 3,
    STORE_REQUEST_ROLE_PAYER = 1,
    STORE_REQUEST_ROLE_REQUESTER = 2,
};
/* A page of requests by id, newest first: starting_after gives older ids, ending_before newer
 * ones (still newest first); zero ids for the newest page; limit 1..TL_PAGE_LIMIT_MAX. */
struct store_request_page {
    uint32_t limit;
    struct id128 starting_after;
    struct id128 ending_before;
};
/* The user's requests in that role. TL_ERR_INVALID_REQUEST for a bad page. */
enum tl_err store_requests_list(struct store *store, struct id128 user_id,
                                enum store_request_role role,
                                const struct store_request_page *page, struct store_request *out,
                                uint32_t *out_count, bool *has_more);

/*
 * Marks a pay as begun at now_ns (pay_claim_ns = now_ns) when the request is the payer's, open,
 * unexpired at now_ns and unpaid; *claimed says whether it was. A claim only holds off decline
 * and cancel (store_request_close); paying twice is prevented by the ledger. Several pays may
 * claim in turn; the last claim counts.
 */
enum tl_err store_request_claim(struct store *store, struct id128 id, struct id128 payer_id,
                                uint64_t now_ns, bool *claimed);
/* Clears the claim made at claim_ns (a pay that moved nothing); a newer claim stays. */
enum tl_err store_request_unclaim(struct store *store, struct id128 id, uint64_t claim_ns);
/*
 * Declines (status STORE_REQUEST_DECLINED, actor the payer) or cancels (STORE_REQUEST_CANCELED,
 * actor the requester) at now_ns when the request is open, unexpired, unpaid and has no claim
 * after stale_before_ns; *closed says whether it did. The 0..STORE_REQUEST_EVENTS_MAX outbox
 * rows commit in the same transaction, exactly when it did.
 */
enum tl_err store_request_close(struct store *store, struct id128 id, struct id128 actor_id,
                                uint8_t status, uint64_t now_ns, uint64_t stale_before_ns,
                                const struct store_outbox_new *events, uint32_t event_count,
                                bool *closed);

/* ---- Passkeys (schema v4): WebAuthn credentials and ceremony challenges ---- */

#define STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX 1023 /* WebAuthn Level 2's cap */
#define STORE_PASSKEY_PUBLIC_KEY_BYTES_MAX 65      /* P-256 0x04||x||y; Ed25519 uses 32 */
#define STORE_PASSKEY_AAGUID_BYTES 16
#define STORE_PASSKEY_NAME_BYTES_MAX 65 /* <= 64 bytes of UTF-8 + NUL */
#define STORE_PASSKEYS_USER_MAX 20      /* live passkeys of one user, at most */
#define STORE_PASSKEY_ALG_ES256 (-7)
#define STORE_PASSKEY_ALG_EDDSA (-8)

struct store_passkey {
    struct id128 id; /* UUIDv7 */
    struct id128 user_id;
    uint8_t credential_id[STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX];
    uint32_t credential_id_bytes; /* 1..STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX */
    int32_t algorithm;            /* STORE_PASSKEY_ALG_* */
    uint8_t public_key[STORE_PASSKEY_PUBLIC_KEY_BYTES_MAX];
    uint32_t public_key_bytes; /* 65 (ES256) or 32 (EdDSA) */
    uint32_t sign_count;
    uint8_t aaguid[STORE_PASSKEY_AAGUID_BYTES];
    char name[STORE_PASSKEY_NAME_BYTES_MAX]; /* never empty */
    uint64_t created_ns;
    uint64_t last_used_ns; /* 0: never used */
    uint64_t revoked_ns;   /* 0: live */
};

/* Inserts a live passkey (last_used_ns and revoked_ns 0). TL_ERR_CONFLICT when the credential
 * id is registered already (to anyone, revoked or not); TL_ERR_LIMIT when the user has
 * STORE_PASSKEYS_USER_MAX live passkeys. TL_ERR_INVALID_REQUEST when name is empty. */
enum tl_err store_passkey_create(struct store *store, const struct store_passkey *passkey);
/* By credential id (1..STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX bytes, else
 * TL_ERR_INVALID_REQUEST), revoked or not. */
enum tl_err store_passkey_find(struct store *store, const uint8_t *credential_id,
                               uint32_t credential_id_bytes, struct store_passkey *out,
                               bool *found);
/* The user's live passkeys, oldest first, at most max (1..STORE_PASSKEYS_USER_MAX). */
enum tl_err store_passkeys_list(struct store *store, struct id128 user_id,
                                struct store_passkey *out, uint32_t max, uint32_t *out_count);
/* Revokes the user's live passkey id at now_ns. TL_ERR_NOT_FOUND when the user has no such
 * live passkey (another user's is not found either). */
enum tl_err store_passkey_revoke(struct store *store, struct id128 user_id, struct id128 id,
                                 uint64_t now_ns);
/* Records an assertion: sets sign_count and last_used_ns when the passkey is live and
 * sign_count is greater than the stored one, or both are 0 (one atomic compare and set, so two
 * nodes cannot both accept one counter value). TL_ERR_CONFLICT otherwise (a counter that went
 * back: a cloned authenticator or a replay; or a revoked passkey). */
enum tl_err store_passkey_use(struct store *store, struct id128 id, uint32_t sign_count,
                              uint64_t now_ns);

/* What a challenge was issued for. */
enum store_webauthn_kind {
    STORE_WEBAUTHN_REGISTER = 1, /* bound to the signed-in user */
    STORE_WEBAUTHN_LOGIN = 2,    /* bound to the named user, or zero: whoever's passkey */
};

struct store_webauthn_challenge {
    uint8_t hash[STORE_HASH_BYTES]; /* SHA-256 of the challenge bytes */
    uint8_t kind;                   /* enum store_webauthn_kind */
    struct id128 user_id;           /* zero only for an unbound login challenge */
    uint64_t created_ns;
    uint64_t expires_ns;
};

/* Inserts it, deleting challenges that expired before created_ns. */
enum tl_err store_webauthn_challenge_create(struct store *store,
                                            const struct store_webauthn_challenge *challenge);
/* Deletes the challenge when it is of this kind and expires after now_ns, and gives its user
 * (atomic: one ceremony per challenge). TL_ERR_NOT_FOUND otherwise. */
enum tl_err store_webauthn_challenge_consume(struct store *store,
                                             const uint8_t hash[STORE_HASH_BYTES], uint8_t kind,
                                             uint64_t now_ns, struct id128 *out_user_id);

/* ---- Exchange rates (schema v5, api/fx.h) ---- */

/* Pairs the store keeps at most (a listing asks for this many). */
#define STORE_FX_RATES_MAX 256u

enum store_fx_source {
    STORE_FX_SOURCE_FILE = 1,     /* the rates file (fx.rates_file) */
    STORE_FX_SOURCE_OPERATOR = 2, /* POST /v1/admin/fx/rates */
};

/* One major unit of base buys rate_num/rate_den major units of quote (core/fx.h). */
struct store_fx_rate {
    uint16_t base;  /* ISO 4217 number, 1..999 */
    uint16_t quote; /* ISO 4217 number, 1..999, not base */
    int64_t rate_num;
    int64_t rate_den;
    uint64_t updated_ns; /* when it was set: the newer rate of a pair wins */
    uint8_t source;      /* enum store_fx_source */
};

/* Inserts the pair's rate, or replaces the stored one when rate->updated_ns is newer.
 * *applied says whether the row now holds this rate. */
enum tl_err store_fx_rate_put(struct store *store, const struct store_fx_rate *rate,
                              bool *applied);
enum tl_err store_fx_rate_get(struct store *store, uint16_t base, uint16_t quote,
                              struct store_fx_rate *out, bool *found);
/* Every pair, by base then quote, at most max (TL_ERR_LIMIT when there are more). */
enum tl_err store_fx_rates_list(struct store *store, struct store_fx_rate *out, uint32_t max,
                                uint32_t *out_count);
/* ---- Verification tiers and limit windows (schema v5, core/limits.h, api/kyc.h) ---- */

/* What a limit check needs to know about one user, one currency and one direction. */
struct store_limits_window {
    uint8_t tier;       /* enum limits_tier; 0 (unverified) when the user has no tier row */
    int64_t amount;     /* sum of the window's buckets, >= 0 */
    uint32_t count;     /* how many movements they hold */
    uint64_t oldest_ns; /* the end of the oldest counted bucket; 0 when count is 0 */
};

/*
 * The user's tier, and the running totals (limit_totals, below) of currency the user sent
 * (STORE_DIRECTION_SENT) or received (STORE_DIRECTION_RECEIVED) in buckets that end after
 * after_ns. A read: on the writer's
 * handle inside an open batch it sees what the batch lock lets it see (every batch committed
 * before this one), on a reader handle what is committed. Unknown users have tier 0 and an
 * empty window. A sum past INT64_MAX fails (TL_ERR_STORAGE) rather than wrapping.
 */
enum tl_err store_limits_window(struct store *store, struct id128 user_id,
                                enum store_direction direction, uint16_t currency,
                                uint64_t after_ns, struct store_limits_window *out);
/* Sets the user's tier (0..2), in its own transaction. */
enum tl_err store_user_tier_set(struct store *store, struct id128 user_id, uint8_t tier,
                                uint64_t updated_ns);

/*
 * Running totals of the windows (schema v6, table limit_totals; limits_store.c): what a user
 * sent or received in one currency, per time bucket named by its end (core/limits.h). A
 * movement adds to its bucket with a record in the batch of its money (api/kyc.c), so the
 * totals can never disagree with the ledger; store_limits_window sums the buckets whose end is
 * after after_ns (count and oldest_ns then count movements and the oldest counted bucket's end).
 * SQLite (schema v8) keeps the totals of the file in the memory of the process that writes it,
 * with limit_totals plus limit_usage_log on disk (sqlite_limits.c); the answers are the same.
 */
struct store_limit_usage {
    struct id128 user_id;
    uint64_t end_ns;   /* the bucket's end: every movement it holds happened before it */
    int64_t amount;    /* > 0, minor units */
    uint16_t currency; /* ISO 4217 number */
    uint8_t direction; /* STORE_DIRECTION_SENT or STORE_DIRECTION_RECEIVED */
};
/* Serializes one movement's addition to its bucket into a batch record (added to the bucket
 * when the batch commits; several records of one bucket add up). buf must hold
 * STORE_RECORD_LIMIT_USAGE_BYTES; out->data points into buf. Cannot fail. */
#define STORE_RECORD_LIMIT_USAGE_BYTES (sizeof(struct store_limit_usage))
void store_record_limit_usage(const struct store_limit_usage *usage, void *buf,
                              struct store_record *out);
/* The row of a STORE_RECORD_LIMIT_USAGE record (the backends' record writers). Cannot fail. */
void store_record_limit_usage_decode(const struct store_record *record,
                                     struct store_limit_usage *out);

/* ---- Records that ride with a writer batch (see writer_batch_attach) ---- */

/* ---- Refunds, reversals and disputes (schema v5) ----
 * A refunds row is written before its money moves and names the transfer that moves it (id):
 * it succeeded exactly when a transfer with that id exists, so reads join the ledger's
 * transfers and never show money that did not move. */
#define STORE_REASON_BYTES_MAX 1121 /* <= 280 code points of UTF-8 + NUL, like a note */

enum store_refund_kind {
    STORE_REFUND_KIND_REFUND = 1,   /* by the payee, from their wallet */
    STORE_REFUND_KIND_REVERSAL = 2, /* by the operator, a shortfall becomes the payee's debt */
};

struct store_refund {
    struct id128 id;         /* the id of the transfer that moves its money */
    struct id128 payment_id;
    struct id128 actor_id;   /* the refunding payee; zero for the operator */
    struct id128 dispute_id; /* the dispute a reversal resolved; zero for none */
    int64_t amount;          /* > 0: the payment's money going back to the payer */
    int64_t from_wallet;     /* of amount, what left the payee's wallet (refunds: amount) */
    int64_t shortfall;       /* amount - from_wallet: the payee's new debt (refunds: 0) */
    uint64_t created_ns;     /* reads of a succeeded row: the transfer's timestamp */
    uint16_t currency;
    uint8_t kind;            /* enum store_refund_kind */
    bool succeeded;          /* read only: the transfer exists (amount is the transfer's) */
    char reason[STORE_REASON_BYTES_MAX]; /* may be empty */
};

/* Inserts the row, or rewrites the amounts of the row with its id while no transfer with that
 * id exists (a retry with other amounts before any money moved). */
enum tl_err store_refund_put(struct store *store, const struct store_refund *row);
enum tl_err store_refund_get(struct store *store, struct id128 id, struct store_refund *out,
                             bool *found);
/* The succeeded refunds and reversals of a payment, by id, newest first (page as for requests;
 * TL_ERR_INVALID_REQUEST for a bad page). */
enum tl_err store_refunds_list(struct store *store, struct id128 payment_id,
                               const struct store_request_page *page, struct store_refund *out,
                               uint32_t *out_count, bool *has_more);
/* What succeeded refunds (kind 1) and reversals (kind 2) of a payment moved, in all. */
enum tl_err store_refund_totals(struct store *store, struct id128 payment_id,
                                int64_t *out_refunded, int64_t *out_reversed);

enum store_dispute_status {
    STORE_DISPUTE_OPEN = 1,
    STORE_DISPUTE_PAYER = 2, /* resolved for the payer: the payment was reversed */
    STORE_DISPUTE_PAYEE = 3, /* resolved for the payee: the payment stands */
};
/* A filter of store_disputes_list only: either resolved status. */
#define STORE_DISPUTE_RESOLVED_ANY 4

struct store_dispute {
    struct id128 id;
    struct id128 payment_id;
    struct id128 payer_id;    /* who opened it */
    struct id128 payee_id;
    struct id128 reversal_id; /* outcome payer: the reversal's id; else zero */
    uint64_t created_ns;
    uint64_t resolved_ns;     /* 0 while open */
    uint8_t status;           /* enum store_dispute_status */
    char reason[STORE_REASON_BYTES_MAX]; /* 1.. characters */
    char note[STORE_REASON_BYTES_MAX];   /* the operator's, may be empty */
};

/* A new open dispute (status must be OPEN). TL_ERR_CONFLICT when the payment has one open. */
enum tl_err store_dispute_create(struct store *store, const struct store_dispute *dispute);
enum tl_err store_dispute_get(struct store *store, struct id128 id, struct store_dispute *out,
                              bool *found);
/* Disputes by id, newest first: of one payment (payment_id non-zero) or all, in one status
 * (status non-zero; STORE_DISPUTE_RESOLVED_ANY: either resolved one) or any. Page as for
 * requests. */
enum tl_err store_disputes_list(struct store *store, struct id128 payment_id, uint8_t status,
                                const struct store_request_page *page, struct store_dispute *out,
                                uint32_t *out_count, bool *has_more);
/* Resolves an open dispute (status PAYER or PAYEE) at now_ns; *resolved says whether it was
 * open. reversal_id may be zero. */
enum tl_err store_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                  const char *note, struct id128 reversal_id, uint64_t now_ns,
                                  bool *resolved);

/*
 * Serializes a payment row into a batch record. buf must hold STORE_RECORD_PAYMENT_BYTES;
 * out->data points into buf. The row is inserted when the batch commits. Cannot fail.
 * store_payments_list finds a row through its main transfer, which the API puts in the same
 * batch: id = payment->id, timestamp = created_ns, debiting from_wallet (a wallet of
 * from_user) and crediting to_wallet (a wallet of to_user).
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
/*
 * Serializes an audit entry (seq and hashes are the batch's: the store chains the batch's
 * entries after the head when it commits, in record order). buf must hold
 * STORE_RECORD_AUDIT_BYTES; out->data points into buf. Cannot fail.
 */
#define STORE_RECORD_AUDIT_BYTES (sizeof(struct store_audit))
void store_record_audit(const struct store_audit *entry, void *buf, struct store_record *out);

/* ---- End-to-end encrypted notes and session last-seen (schema v5; app_notes.c) ---- */

/*
 * A user's X25519 public key (32 raw bytes), published so that payers can seal notes to it.
 * The server never sees a secret key: it stores and serves public keys and sealed boxes.
 */
#define STORE_ENCRYPTION_KEY_BYTES 32
/* A sealed box (libsodium crypto_box_seal) is its plaintext plus 48 bytes (an ephemeral public
 * key and a MAC); a note's plaintext is 1..1120 bytes (280 code points of UTF-8). */
#define STORE_SEALED_NOTE_OVERHEAD_BYTES 48
#define STORE_SEALED_NOTE_PLAIN_BYTES_MAX 1120
#define STORE_SEALED_NOTE_BYTES_MIN (STORE_SEALED_NOTE_OVERHEAD_BYTES + 1)
#define STORE_SEALED_NOTE_BYTES_MAX                                                                \
    (STORE_SEALED_NOTE_OVERHEAD_BYTES + STORE_SEALED_NOTE_PLAIN_BYTES_MAX)

struct store_encryption_key {
    struct id128 user_id;
    uint8_t public_key[STORE_ENCRYPTION_KEY_BYTES];
    uint64_t created_ns; /* when the user first published a key */
    uint64_t updated_ns; /* when this key replaced the previous one (= created_ns at first) */
};

/* Publishes key->public_key for key->user_id at key->updated_ns, replacing the user's key
 * (created_ns is kept from the first key). *out is the row as stored. */
enum tl_err store_encryption_key_put(struct store *store, const struct store_encryption_key *key,
                                     struct store_encryption_key *out);
enum tl_err store_encryption_key_get(struct store *store, struct id128 user_id,
                                     struct store_encryption_key *out, bool *found);
/* TL_ERR_NOT_FOUND when the user has no key. */
enum tl_err store_encryption_key_delete(struct store *store, struct id128 user_id);

/* The sealed note of a payment: a copy for the recipient and one for the sender, each
 * STORE_SEALED_NOTE_BYTES_MIN..MAX raw bytes. */
struct store_payment_note {
    struct id128 payment_id;
    uint32_t recipient_bytes;
    uint32_t sender_bytes;
    uint8_t recipient_box[STORE_SEALED_NOTE_BYTES_MAX];
    uint8_t sender_box[STORE_SEALED_NOTE_BYTES_MAX];
};

/* The notes of payments ids[0..count) (count 1..TL_PAGE_LIMIT_MAX): found[i] says whether
 * out[i] was filled (a payment without a sealed note has none). */
enum tl_err store_payment_notes_get(struct store *store, const struct id128 *ids, uint32_t count,
                                    struct store_payment_note *out, bool *found);

/*
 * Serializes a payment's sealed note into a batch record (kind STORE_RECORD_PAYMENT_NOTE),
 * inserted when the batch commits, with the payment row the same command attaches. buf must
 * hold STORE_RECORD_PAYMENT_NOTE_BYTES; out->data points into buf. Cannot fail.
 */
#define STORE_RECORD_PAYMENT_NOTE_BYTES (sizeof(struct store_payment_note))
void store_record_payment_note(const struct store_payment_note *note, void *buf,
                               struct store_record *out);

/* Records that the session with this token hash authenticated a request at now_ns, unless its
 * last_seen_ns is already within interval_ns of now_ns (one conditional UPDATE, so several
 * nodes write a session at most once per interval between them). A missing session is TL_OK. */
enum tl_err store_session_touch(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                                uint64_t now_ns, uint64_t interval_ns);

struct store_session_seen {
    struct id128 id;
    uint64_t last_seen_ns; /* 0: not seen since it was made */
};
/* last_seen_ns of the user's live sessions (as store_sessions_list selects them), at most max
 * (1..STORE_SESSIONS_LIST_MAX), in no particular order. */
enum tl_err store_sessions_seen(struct store *store, struct id128 user_id, uint64_t now_ns,
                                struct store_session_seen *out, uint32_t max,
                                uint32_t *out_count);

#endif
