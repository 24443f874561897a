/*
 * stepup_backend.h - what a storage backend implements for the rows of stepup.h; private to
 * src/store/.
 *
 * A backend's struct store_app_ops points its `stepup` member at one const struct
 * store_stepup_ops. stepup.c is the only caller, except record_write, which the backend's own
 * records phase calls for STORE_RECORD_PAYMENT_SIGNATURE records inside the batch. Arguments
 * were checked by stepup.c; returns and outputs follow app_backend.h's rules.
 */
#ifndef TL_STORE_STEPUP_BACKEND_H
#define TL_STORE_STEPUP_BACKEND_H

#include "store/stepup.h"

struct store_stepup_ops {
    enum tl_err (*facts)(struct store *store, struct id128 user_id, struct id128 session_id,
                         struct id128 to_user, struct store_stepup_facts *out);
    enum tl_err (*challenge_create)(struct store *store, const struct store_stepup_challenge *c);
    enum tl_err (*challenge_get)(struct store *store, struct id128 id,
                                 struct store_stepup_challenge *out, bool *found);
    enum tl_err (*challenge_complete)(struct store *store, struct id128 user_id, struct id128 id,
                                      uint8_t method, uint64_t now_ns);
    enum tl_err (*grant_use)(struct store *store, struct id128 user_id,
                             const uint8_t binding[STORE_STEPUP_BINDING_BYTES], uint64_t now_ns,
                             bool *used, struct id128 *out_id);
    enum tl_err (*device_key_create)(struct store *store, const struct store_device_key *key);
    enum tl_err (*device_key_get)(struct store *store, struct id128 id,
                                  struct store_device_key *out, bool *found);
    enum tl_err (*device_keys_list)(struct store *store, struct id128 user_id,
                                    struct store_device_key *out, uint32_t max,
                                    uint32_t *out_count);
    enum tl_err (*device_key_revoke)(struct store *store, struct id128 user_id, struct id128 id,
                                     uint64_t now_ns);
    enum tl_err (*signature_claim)(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                   struct id128 key_id, uint64_t expires_ns, uint64_t now_ns,
                                   bool *claimed);
    enum tl_err (*payment_signature_get)(struct store *store, struct id128 payment_id,
                                         struct store_payment_signature *out, bool *found);
    /* Sets the device_* columns of the payment the batch inserted; a payment that is not
     * there fails the batch. */
    enum tl_err (*record_write)(struct store *store, const struct store_record *record);
};

#endif
