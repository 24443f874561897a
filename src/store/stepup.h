/*
 * stepup.h - the rows of step-up authentication and device keys (schema v5), part of the one
 * storage interface (store.h, app.h).
 *
 *   stepup_challenges   a challenge a rule hit raised, bound to the request, answered by a
 *                       second factor, then spent by the retried request (single use)
 *   device_keys         Ed25519 public keys of a user's wallets
 *   device_signatures   signatures accepted on money requests, kept until their window ends
 *   payments.device_*   the signature a payment was made with (STORE_RECORD_PAYMENT_SIGNATURE,
 *                       written in the payment's batch)
 *
 * Like app.h: direct writes run on a writable handle outside any batch, each its own
 * transaction; reads on any handle. Arguments are checked here (stepup.c) before a backend sees
 * them; errors are TL_ERR_STORAGE (logged), TL_ERR_CORRUPT, plus the ones named per function.
 * Never: store a secret (a binding is a keyed hash, keys are public keys).
 */
#ifndef TL_STORE_STEPUP_H
#define TL_STORE_STEPUP_H

#include <stdbool.h>
#include <stdint.h>

#include "store/app.h"
#include "store/store.h"
#include "util/err.h"
#include "util/id128.h"

#define STORE_STEPUP_BINDING_BYTES 32
#define STORE_DEVICE_KEY_BYTES 32
#define STORE_DEVICE_SIGNATURE_BYTES 64
#define STORE_DEVICE_BODY_HASH_BYTES 32
#define STORE_DEVICE_KEY_NAME_BYTES_MAX 65 /* 64 bytes and the NUL */
/* Device keys a user may hold (active or revoked: rows are kept). */
#define STORE_DEVICE_KEYS_USER_MAX 20u

/* How a challenge was answered. */
enum store_stepup_method {
    STORE_STEPUP_METHOD_NONE = 0,
    STORE_STEPUP_METHOD_TOTP = 1,
    STORE_STEPUP_METHOD_PASSKEY = 2,
};

struct store_stepup_challenge {
    struct id128 id;
    struct id128 user_id;
    struct id128 session_id; /* the session that hit the rule */
    uint8_t binding[STORE_STEPUP_BINDING_BYTES];
    uint8_t webauthn_hash[STORE_HASH_BYTES]; /* SHA-256 of the WebAuthn challenge, or zeros */
    uint32_t rules;                          /* bit set of the rules that hit, > 0 */
    uint64_t created_ns;
    uint64_t expires_ns;
    uint64_t completed_ns; /* 0 until answered */
    uint8_t method;        /* enum store_stepup_method; NONE until answered */
    uint64_t used_ns;      /* 0 until the retried request spent it */
};

/* What the step-up rules and the device-key check need to know about a request, read at once. */
struct store_stepup_facts {
    bool totp_active;            /* the user has TOTP on */
    uint32_t passkey_count;      /* live passkeys */
    uint32_t device_key_count;   /* live device keys */
    bool paid_before;            /* a payment from the user to `to_user` exists */
    uint64_t session_created_ns; /* 0 when the session row is not found */
    bool session_stepped_up;     /* a challenge of this session was answered */
};

struct store_device_key {
    struct id128 id;
    struct id128 user_id;
    uint8_t public_key[STORE_DEVICE_KEY_BYTES];
    char name[STORE_DEVICE_KEY_NAME_BYTES_MAX];
    uint64_t created_ns;
    uint64_t revoked_ns; /* 0 while live */
};

/* The device signature a payment was made with. */
struct store_payment_signature {
    struct id128 payment_id;
    struct id128 key_id;
    uint64_t timestamp_s;
    uint8_t signature[STORE_DEVICE_SIGNATURE_BYTES];
    uint8_t body_hash[STORE_DEVICE_BODY_HASH_BYTES];
};

/* The facts for user_id's session session_id; to_user may be zero (paid_before is then
 * false). */
enum tl_err store_stepup_facts(struct store *store, struct id128 user_id, struct id128 session_id,
                               struct id128 to_user, struct store_stepup_facts *out);

/* Inserts a fresh challenge (completed_ns, method, used_ns zero) and deletes challenges that
 * expired more than a day before it was made. */
enum tl_err store_stepup_challenge_create(struct store *store,
                                          const struct store_stepup_challenge *challenge);
enum tl_err store_stepup_challenge_get(struct store *store, struct id128 id,
                                       struct store_stepup_challenge *out, bool *found);
/* Marks user_id's challenge id answered by method, if it is neither answered nor expired at
 * now_ns (one compare-and-set). TL_ERR_CONFLICT when it is not (a racing answer won). */
enum tl_err store_stepup_challenge_complete(struct store *store, struct id128 user_id,
                                            struct id128 id, uint8_t method, uint64_t now_ns);
/* Spends one answered, unspent, unexpired challenge of user_id with this binding: *used says
 * whether one was found (compare-and-set: two racing requests cannot both spend it); out_id
 * (may be NULL) receives its id. */
enum tl_err store_stepup_grant_use(struct store *store, struct id128 user_id,
                                   const uint8_t binding[STORE_STEPUP_BINDING_BYTES],
                                   uint64_t now_ns, bool *used, struct id128 *out_id);

/* Registers a key. TL_ERR_CONFLICT when the public key is registered (by anyone);
 * TL_ERR_LIMIT when the user holds STORE_DEVICE_KEYS_USER_MAX keys. */
enum tl_err store_device_key_create(struct store *store, const struct store_device_key *key);
enum tl_err store_device_key_get(struct store *store, struct id128 id,
                                 struct store_device_key *out, bool *found);
/* A user's keys, oldest first; max 1..STORE_DEVICE_KEYS_USER_MAX. */
enum tl_err store_device_keys_list(struct store *store, struct id128 user_id,
                                   struct store_device_key *out, uint32_t max,
                                   uint32_t *out_count);
/* Revokes user_id's live key id. TL_ERR_NOT_FOUND when there is none (someone else's, unknown
 * or already revoked). */
enum tl_err store_device_key_revoke(struct store *store, struct id128 user_id, struct id128 id,
                                    uint64_t now_ns);
/* Records a signature as used until expires_ns (and deletes records that ended before now_ns).
 * *claimed is false when it was used already: a replay. */
enum tl_err store_device_signature_claim(struct store *store,
                                         const uint8_t hash[STORE_HASH_BYTES],
                                         struct id128 key_id, uint64_t expires_ns,
                                         uint64_t now_ns, bool *claimed);
/* The signature of a payment; *found is false for an unsigned (or unknown) payment. */
enum tl_err store_payment_signature_get(struct store *store, struct id128 payment_id,
                                        struct store_payment_signature *out, bool *found);

/*
 * Serializes a payment's signature into a batch record (kind STORE_RECORD_PAYMENT_SIGNATURE)
 * that sets the device_* columns of the payment row the same batch inserts (attach it after
 * the payment record). buf must hold STORE_RECORD_PAYMENT_SIGNATURE_BYTES and outlive the
 * record. Cannot fail.
 */
#define STORE_RECORD_PAYMENT_SIGNATURE_BYTES (sizeof(struct store_payment_signature))
void store_record_payment_signature(const struct store_payment_signature *signature, void *buf,
                                    struct store_record *out);
/* For backends: the record back. Asserts it is one. Cannot fail. */
void store_record_payment_signature_decode(const struct store_record *record,
                                           struct store_payment_signature *out);

#endif
