/*
 * stepup.c - argument checks of stepup.h, then the backend (stepup_backend.h).
 */
#include "store/stepup.h"

#include <assert.h>
#include <string.h>

#include "store/app_backend.h"
#include "store/backend.h"
#include "store/stepup_backend.h"
#include "util/assert.h"

#define RECORD_TOPIC_PAYMENT_SIGNATURE "payment_signature"

static_assert(STORE_RECORD_PAYMENT_SIGNATURE_BYTES <= TL_RECORD_BYTES_MAX,
              "a signature record fits in a batch record");

static const struct store_stepup_ops *stepup_ops(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops->app != NULL);
    TL_ASSERT(store->ops->app->stepup != NULL);
    return store->ops->app->stepup;
}

static void stepup_check_write(const struct store *store)
{
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
}

static void stepup_check_time(uint64_t time_ns)
{
    TL_ASSERT(time_ns != 0);
    TL_ASSERT(time_ns <= (uint64_t)INT64_MAX);
}

enum tl_err store_stepup_facts(struct store *store, struct id128 user_id, struct id128 session_id,
                               struct id128 to_user, struct store_stepup_facts *out)
{
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out != NULL);
    struct store_stepup_facts facts;
    memset(&facts, 0, sizeof(facts));
    enum tl_err err = stepup_ops(store)->facts(store, user_id, session_id, to_user, &facts);
    if (err == TL_OK) {
        TL_ASSERT(!facts.paid_before || !id128_is_zero(to_user));
        *out = facts;
    }
    return err;
}

enum tl_err store_stepup_challenge_create(struct store *store,
                                          const struct store_stepup_challenge *challenge)
{
    stepup_check_write(store);
    TL_ASSERT(!id128_is_zero(challenge->id));
    TL_ASSERT(!id128_is_zero(challenge->user_id));
    TL_ASSERT(challenge->rules != 0);
    stepup_check_time(challenge->created_ns);
    stepup_check_time(challenge->expires_ns);
    TL_ASSERT(challenge->expires_ns > challenge->created_ns);
    TL_ASSERT(challenge->completed_ns == 0);
    TL_ASSERT(challenge->used_ns == 0);
    TL_ASSERT(challenge->method == STORE_STEPUP_METHOD_NONE);
    return stepup_ops(store)->challenge_create(store, challenge);
}

enum tl_err store_stepup_challenge_get(struct store *store, struct id128 id,
                                       struct store_stepup_challenge *out, bool *found)
{
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = stepup_ops(store)->challenge_get(store, id, out, found);
    if (err == TL_OK && *found) {
        TL_ASSERT(id128_eq(out->id, id));
        TL_ASSERT(out->method <= STORE_STEPUP_METHOD_PASSKEY);
    }
    return err;
}

enum tl_err store_stepup_challenge_complete(struct store *store, struct id128 user_id,
                                            struct id128 id, uint8_t method, uint64_t now_ns)
{
    stepup_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(method == STORE_STEPUP_METHOD_TOTP || method == STORE_STEPUP_METHOD_PASSKEY);
    stepup_check_time(now_ns);
    return stepup_ops(store)->challenge_complete(store, user_id, id, method, now_ns);
}

enum tl_err store_stepup_grant_use(struct store *store, struct id128 user_id,
                                   const uint8_t binding[STORE_STEPUP_BINDING_BYTES],
                                   uint64_t now_ns, bool *used, struct id128 *out_id)
{
    struct id128 id = id128_make(0, 0);
    stepup_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(binding != NULL);
    TL_ASSERT(used != NULL);
    stepup_check_time(now_ns);
    enum tl_err err = stepup_ops(store)->grant_use(store, user_id, binding, now_ns, used, &id);
    if (err == TL_OK && out_id != NULL) {
        TL_ASSERT(!*used || !id128_is_zero(id));
        *out_id = id;
    }
    return err;
}

static void stepup_check_key(const struct store_device_key *key)
{
    TL_ASSERT(!id128_is_zero(key->id));
    TL_ASSERT(!id128_is_zero(key->user_id));
    TL_ASSERT(memchr(key->name, '\0', sizeof(key->name)) != NULL);
    stepup_check_time(key->created_ns);
}

enum tl_err store_device_key_create(struct store *store, const struct store_device_key *key)
{
    stepup_check_write(store);
    stepup_check_key(key);
    TL_ASSERT(key->revoked_ns == 0);
    TL_ASSERT(key->name[0] != '\0');
    return stepup_ops(store)->device_key_create(store, key);
}

enum tl_err store_device_key_get(struct store *store, struct id128 id,
                                 struct store_device_key *out, bool *found)
{
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = stepup_ops(store)->device_key_get(store, id, out, found);
    if (err == TL_OK && *found) {
        stepup_check_key(out);
        TL_ASSERT(id128_eq(out->id, id));
    }
    return err;
}

enum tl_err store_device_keys_list(struct store *store, struct id128 user_id,
                                   struct store_device_key *out, uint32_t max,
                                   uint32_t *out_count)
{
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(max >= 1 && max <= STORE_DEVICE_KEYS_USER_MAX);
    enum tl_err err = stepup_ops(store)->device_keys_list(store, user_id, out, max, out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= max);
        for (uint32_t i = 0; i < *out_count; i++) {
            stepup_check_key(&out[i]);
            TL_ASSERT(id128_eq(out[i].user_id, user_id));
        }
    }
    return err;
}

enum tl_err store_device_key_revoke(struct store *store, struct id128 user_id, struct id128 id,
                                    uint64_t now_ns)
{
    stepup_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(!id128_is_zero(id));
    stepup_check_time(now_ns);
    return stepup_ops(store)->device_key_revoke(store, user_id, id, now_ns);
}

enum tl_err store_device_signature_claim(struct store *store,
                                         const uint8_t hash[STORE_HASH_BYTES],
                                         struct id128 key_id, uint64_t expires_ns,
                                         uint64_t now_ns, bool *claimed)
{
    stepup_check_write(store);
    TL_ASSERT(hash != NULL);
    TL_ASSERT(!id128_is_zero(key_id));
    TL_ASSERT(claimed != NULL);
    stepup_check_time(now_ns);
    stepup_check_time(expires_ns);
    return stepup_ops(store)->signature_claim(store, hash, key_id, expires_ns, now_ns, claimed);
}

enum tl_err store_payment_signature_get(struct store *store, struct id128 payment_id,
                                        struct store_payment_signature *out, bool *found)
{
    TL_ASSERT(!id128_is_zero(payment_id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = stepup_ops(store)->payment_signature_get(store, payment_id, out, found);
    if (err == TL_OK && *found) {
        TL_ASSERT(id128_eq(out->payment_id, payment_id));
        TL_ASSERT(!id128_is_zero(out->key_id));
    }
    return err;
}

void store_record_payment_signature(const struct store_payment_signature *signature, void *buf,
                                    struct store_record *out)
{
    TL_ASSERT(signature != NULL);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(!id128_is_zero(signature->payment_id));
    TL_ASSERT(!id128_is_zero(signature->key_id));
    memcpy(buf, signature, sizeof(*signature));
    memset(out, 0, sizeof(*out));
    out->kind = STORE_RECORD_PAYMENT_SIGNATURE;
    out->key = signature->payment_id;
    static_assert(sizeof(RECORD_TOPIC_PAYMENT_SIGNATURE) <= sizeof(out->topic), "topic fits");
    memcpy(out->topic, RECORD_TOPIC_PAYMENT_SIGNATURE, sizeof(RECORD_TOPIC_PAYMENT_SIGNATURE));
    out->data = buf;
    out->data_bytes = (uint32_t)sizeof(*signature);
}

void store_record_payment_signature_decode(const struct store_record *record,
                                           struct store_payment_signature *out)
{
    TL_ASSERT(record != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_PAYMENT_SIGNATURE);
    TL_ASSERT(record->data_bytes == sizeof(*out));
    memcpy(out, record->data, sizeof(*out));
    TL_ASSERT(id128_eq(out->payment_id, record->key));
    TL_ASSERT(!id128_is_zero(out->key_id));
}
