/*
 * app.c - the application rows of app.h: argument checks, then the backend's app ops.
 *
 * Everything here holds for every backend: what a caller may pass, which handle state a call
 * needs, and the byte layout of the two records that ride with a writer batch. Nothing here
 * knows SQL. What a client could have sent (a string too long or empty) is an error code;
 * anything else wrong with the arguments is our bug and asserts.
 */
#include "store/app.h"

#include <stddef.h>
#include <string.h>

#include "store/app_backend.h"
#include "store/backend.h"
#include "util/assert.h"
#include "util/limits.h"

/*
 * Record layouts: a fixed header, then the variable parts back to back, none NUL-terminated.
 * Records live only in this process's memory between serialize and commit, so the header is a
 * plain struct copied with memcpy (the writer's arena does not align payloads).
 */
struct record_payment_header {
    struct id128 id;
    struct id128 from_user;
    struct id128 to_user;
    struct id128 from_wallet;
    struct id128 to_wallet;
    int64_t amount;
    int64_t fee;
    uint64_t created_ns;
    int64_t sender_available_after;
    int64_t recipient_available_after;
    uint16_t currency;
    uint8_t status;
    uint16_t to_bytes;   /* then to_text */
    uint16_t note_bytes; /* then note */
};

struct record_idempotency_header {
    uint8_t request_hash[STORE_HASH_BYTES];
    struct id128 claim_owner; /* zero: no claim to delete */
    uint64_t created_ns;
    uint32_t body_bytes; /* then scope, key, body */
    uint16_t status;
    uint16_t scope_bytes;
    uint16_t key_bytes;
};

#define RECORD_TOPIC_PAYMENT "payment"
#define RECORD_TOPIC_IDEMPOTENCY "idempotency"

static_assert(sizeof(struct record_payment_header) + STORE_TO_BYTES_MAX - 1 + STORE_NOTE_BYTES_MAX -
                      1 <=
                  STORE_RECORD_PAYMENT_BYTES,
              "a payment record fits in the buffer app.h asks for");
static_assert(STORE_RECORD_PAYMENT_BYTES <= TL_RECORD_BYTES_MAX,
              "a payment record fits in a batch record");
/* The API keeps 1 KiB of a record for everything but the body (api/idempotency.h). */
static_assert(sizeof(struct record_idempotency_header) + STORE_IDEMPOTENCY_SCOPE_BYTES_MAX - 1 +
                      STORE_IDEMPOTENCY_KEY_BYTES_MAX - 1 <=
                  1024,
              "an idempotency record's overhead stays under 1 KiB");
static_assert(STORE_TO_BYTES_MAX <= UINT16_MAX, "to_bytes fits its header field");
static_assert(STORE_NOTE_BYTES_MAX <= UINT16_MAX, "note_bytes fits its header field");

static const struct store_app_ops *app_ops(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops->app != NULL);
    return store->ops->app;
}

/* Writes need a writable handle and must not interleave with a batch on the same handle. */
static void app_check_write(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
}

/* A field of one of app.h's structs: its array must hold a terminated string (our bug if not). */
#define ASSERT_TERMINATED(array) TL_ASSERT(memchr((array), '\0', sizeof(array)) != NULL)

/* A string a client could have sent: 1..bytes_max - 1 characters. */
static bool text_ok(const char *text, size_t bytes_max)
{
    size_t length;
    TL_ASSERT(text != NULL);
    length = strnlen(text, bytes_max);
    return length > 0 && length < bytes_max;
}

static void check_time(uint64_t time_ns)
{
    TL_ASSERT(time_ns != 0);
    TL_ASSERT(time_ns <= (uint64_t)INT64_MAX);
}

static void check_wallet(const struct store_wallet *wallet)
{
    TL_ASSERT(wallet != NULL);
    TL_ASSERT(!id128_is_zero(wallet->id));
    TL_ASSERT(!id128_is_zero(wallet->user_id));
    TL_ASSERT(wallet->currency != 0);
    check_time(wallet->created_ns);
}

/* ---- Users ---- */

enum tl_err store_user_create(struct store *store, const struct store_user *user,
                              const struct store_wallet *wallet, enum store_user_conflict *conflict)
{
    enum tl_err err;

    app_check_write(store);
    TL_ASSERT(user != NULL);
    TL_ASSERT(conflict != NULL);
    TL_ASSERT(!id128_is_zero(user->id));
    check_time(user->created_ns);
    check_wallet(wallet);
    TL_ASSERT(id128_eq(wallet->user_id, user->id));
    ASSERT_TERMINATED(user->handle);
    ASSERT_TERMINATED(user->email);
    ASSERT_TERMINATED(user->phone);
    ASSERT_TERMINATED(user->display_name);
    ASSERT_TERMINATED(user->password_hash);
    *conflict = STORE_USER_CONFLICT_NONE;
    if (user->handle[0] == '\0' || user->email[0] == '\0' || user->password_hash[0] == '\0') {
        return TL_ERR_INVALID_REQUEST;
    }
    err = app_ops(store)->user_create(store, user, wallet, conflict);
    TL_ASSERT((err == TL_ERR_CONFLICT) == (*conflict != STORE_USER_CONFLICT_NONE));
    TL_ASSERT(*conflict != STORE_USER_CONFLICT_PHONE || user->phone[0] != '\0');
    return err;
}

enum tl_err store_user_delete(struct store *store, struct id128 user_id)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    return app_ops(store)->user_delete(store, user_id);
}

enum tl_err store_user_get(struct store *store, struct id128 id, struct store_user *out,
                           bool *found)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    err = app_ops(store)->user_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    return err;
}

enum tl_err store_user_find(struct store *store, const char *handle, const char *email,
                            const char *phone, struct store_user *out, bool *found)
{
    const char *text = handle != NULL ? handle : email != NULL ? email : phone;
    size_t bytes_max = handle != NULL  ? STORE_HANDLE_BYTES_MAX
                       : email != NULL ? STORE_EMAIL_BYTES_MAX
                                       : STORE_PHONE_BYTES_MAX;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT((handle != NULL) + (email != NULL) + (phone != NULL) == 1);
    if (!text_ok(text, bytes_max)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->user_find(store, handle, email, phone, out, found);
}

/* ---- Wallets ---- */

enum tl_err store_wallet_open(struct store *store, const struct store_wallet *wallet,
                              struct store_wallet *out, bool *created)
{
    enum tl_err err;

    app_check_write(store);
    check_wallet(wallet);
    TL_ASSERT(out != NULL);
    TL_ASSERT(created != NULL);
    err = app_ops(store)->wallet_open(store, wallet, out, created);
    TL_ASSERT(err != TL_OK || id128_eq(out->user_id, wallet->user_id));
    TL_ASSERT(err != TL_OK || out->currency == wallet->currency);
    return err;
}

enum tl_err store_wallet_get(struct store *store, struct id128 id, struct store_wallet *out,
                             bool *found)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    err = app_ops(store)->wallet_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    return err;
}

enum tl_err store_wallet_find(struct store *store, struct id128 user_id, uint16_t currency,
                              struct store_wallet *out, bool *found)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(currency != 0);
    err = app_ops(store)->wallet_find(store, user_id, currency, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->user_id, user_id));
    TL_ASSERT(err != TL_OK || !*found || out->currency == currency);
    return err;
}

enum tl_err store_wallets_list(struct store *store, struct id128 user_id, struct store_wallet *out,
                               uint32_t max, uint32_t *out_count)
{
    enum tl_err err;

    TL_ASSERT(out != NULL || max == 0);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    err = app_ops(store)->wallets_list(store, user_id, out, max, out_count);
    TL_ASSERT(err != TL_OK || *out_count <= max);
    return err;
}

/* ---- Sessions ---- */

enum tl_err store_session_create(struct store *store, const struct store_session *session)
{
    app_check_write(store);
    TL_ASSERT(session != NULL);
    TL_ASSERT(!id128_is_zero(session->id));
    TL_ASSERT(!id128_is_zero(session->user_id));
    check_time(session->created_ns);
    check_time(session->expires_ns);
    return app_ops(store)->session_create(store, session);
}

enum tl_err store_session_get(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                              struct store_session *out, bool *found)
{
    enum tl_err err;

    TL_ASSERT(token_hash != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    err = app_ops(store)->session_get(store, token_hash, out, found);
    TL_ASSERT(err != TL_OK || !*found ||
              memcmp(out->token_hash, token_hash, STORE_HASH_BYTES) == 0);
    return err;
}

enum tl_err store_session_revoke(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES])
{
    app_check_write(store);
    TL_ASSERT(token_hash != NULL);
    return app_ops(store)->session_revoke(store, token_hash);
}

/* ---- Payments ---- */

enum tl_err store_payment_get(struct store *store, struct id128 id, struct store_payment *out,
                              bool *found)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    err = app_ops(store)->payment_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    return err;
}

/* A listed page is newest first, holds at most limit rows, and all of them involve the user. */
static void payments_page_check(const struct store_payment *out, uint32_t count,
                                const struct store_page *page, struct id128 user_id,
                                enum store_direction direction)
{
    TL_ASSERT(count <= page->limit);
    for (uint32_t i = 0; i < count; i++) {
        bool sent = id128_eq(out[i].from_user, user_id);
        bool received = id128_eq(out[i].to_user, user_id);
        TL_ASSERT(i == 0 || out[i - 1].created_ns > out[i].created_ns);
        TL_ASSERT(direction != STORE_DIRECTION_SENT || sent);
        TL_ASSERT(direction != STORE_DIRECTION_RECEIVED || received);
        TL_ASSERT(sent || received);
    }
}

enum tl_err store_payments_list(struct store *store, struct id128 user_id,
                                enum store_direction direction, const struct store_page *page,
                                struct store_payment *out, uint32_t *out_count, bool *has_more)
{
    enum tl_err err;

    TL_ASSERT(page != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(direction == STORE_DIRECTION_ANY || direction == STORE_DIRECTION_SENT ||
              direction == STORE_DIRECTION_RECEIVED);
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (page->starting_after_ts != 0 && page->ending_before_ts != 0) {
        return TL_ERR_INVALID_REQUEST;
    }
    err = app_ops(store)->payments_list(store, user_id, direction, page, out, out_count, has_more);
    if (err == TL_OK) {
        payments_page_check(out, *out_count, page, user_id, direction);
    }
    return err;
}

/* ---- Idempotency ---- */

enum tl_err store_idempotency_put(struct store *store, const struct store_idempotency *row)
{
    app_check_write(store);
    TL_ASSERT(row != NULL);
    TL_ASSERT(row->body != NULL || row->body_bytes == 0);
    check_time(row->created_ns);
    ASSERT_TERMINATED(row->scope);
    ASSERT_TERMINATED(row->key);
    if (row->scope[0] == '\0' || row->key[0] == '\0') {
        return TL_ERR_INVALID_REQUEST;
    }
    if (row->body_bytes > TL_RECORD_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    return app_ops(store)->idempotency_put(store, row);
}

enum tl_err store_idempotency_get(struct store *store, const char *scope, const char *key,
                                  struct store_idempotency *out, bool *found)
{
    enum tl_err err;

    TL_ASSERT(scope != NULL);
    TL_ASSERT(key != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    if (!text_ok(scope, STORE_IDEMPOTENCY_SCOPE_BYTES_MAX) ||
        !text_ok(key, STORE_IDEMPOTENCY_KEY_BYTES_MAX)) {
        return TL_ERR_INVALID_REQUEST;
    }
    err = app_ops(store)->idempotency_get(store, scope, key, out, found);
    TL_ASSERT(err != TL_OK || !*found || out->body != NULL);
    TL_ASSERT(err != TL_OK || !*found || strcmp(out->key, key) == 0);
    return err;
}

enum tl_err store_idempotency_prune(struct store *store, uint64_t before_ns, uint32_t *out_deleted)
{
    app_check_write(store);
    TL_ASSERT(out_deleted != NULL);
    return app_ops(store)->idempotency_prune(store, before_ns, out_deleted);
}

/* ---- Idempotency claims ---- */

enum tl_err store_idempotency_claim(struct store *store, const struct store_idempotency_claim *claim,
                                    uint64_t now_ns, enum store_claim_result *out)
{
    enum tl_err err;

    app_check_write(store);
    TL_ASSERT(claim != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(!id128_is_zero(claim->owner));
    check_time(now_ns);
    check_time(claim->expires_ns);
    ASSERT_TERMINATED(claim->scope);
    ASSERT_TERMINATED(claim->key);
    if (!text_ok(claim->scope, sizeof(claim->scope)) || !text_ok(claim->key, sizeof(claim->key))) {
        return TL_ERR_INVALID_REQUEST;
    }
    err = app_ops(store)->idempotency_claim(store, claim, now_ns, out);
    TL_ASSERT(err != TL_OK || *out == STORE_CLAIM_ACQUIRED || *out == STORE_CLAIM_HELD ||
              *out == STORE_CLAIM_HELD_OTHER);
    return err;
}

enum tl_err store_idempotency_claim_release(struct store *store, const char *scope,
                                            const char *key, struct id128 owner)
{
    app_check_write(store);
    TL_ASSERT(scope != NULL);
    TL_ASSERT(key != NULL);
    TL_ASSERT(!id128_is_zero(owner));
    if (!text_ok(scope, STORE_IDEMPOTENCY_SCOPE_BYTES_MAX) ||
        !text_ok(key, STORE_IDEMPOTENCY_KEY_BYTES_MAX)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->idempotency_claim_release(store, scope, key, owner);
}

enum tl_err store_idempotency_claims_prune(struct store *store, uint64_t now_ns,
                                           uint32_t *out_deleted)
{
    app_check_write(store);
    TL_ASSERT(out_deleted != NULL);
    check_time(now_ns);
    return app_ops(store)->idempotency_claims_prune(store, now_ns, out_deleted);
}

/* ---- A key's outbox rows ---- */

static enum tl_err outbox_list_range(struct store *store, const struct store_outbox_filter *filter,
                                     uint64_t after_seq, uint64_t upto_seq, uint32_t limit,
                                     struct store_outbox_row *out, uint32_t *out_count)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(id128_is_zero(filter->key) != (filter->topic == NULL));
    if (limit == 0 || limit > STORE_OUTBOX_LIST_MAX) {
        return TL_ERR_LIMIT;
    }
    if (upto_seq < after_seq) {
        return TL_ERR_INVALID_REQUEST;
    }
    err = app_ops(store)->outbox_list_range(store, filter, after_seq, upto_seq, limit, out,
                                            out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= limit);
        for (uint32_t i = 0; i < *out_count; i++) {
            TL_ASSERT(filter->topic != NULL || id128_eq(out[i].key, filter->key));
            TL_ASSERT(filter->topic == NULL || strcmp(out[i].topic, filter->topic) == 0);
            TL_ASSERT(out[i].seq > after_seq);
            TL_ASSERT(out[i].seq <= upto_seq);
            TL_ASSERT(out[i].seq > (i == 0 ? after_seq : out[i - 1].seq));
        }
    }
    return err;
}

enum tl_err store_outbox_list_key(struct store *store, struct id128 key, uint64_t after_seq,
                                  uint64_t upto_seq, uint32_t limit, struct store_outbox_row *out,
                                  uint32_t *out_count)
{
    TL_ASSERT(!id128_is_zero(key));
    const struct store_outbox_filter filter = {.key = key, .topic = NULL};
    return outbox_list_range(store, &filter, after_seq, upto_seq, limit, out, out_count);
}

enum tl_err store_outbox_list_topic(struct store *store, const char *topic, uint64_t after_seq,
                                    uint64_t upto_seq, uint32_t limit,
                                    struct store_outbox_row *out, uint32_t *out_count)
{
    TL_ASSERT(topic != NULL);
    if (topic[0] == '\0' || strlen(topic) >= sizeof(out->topic)) {
        return TL_ERR_INVALID_REQUEST;
    }
    const struct store_outbox_filter filter = {.key = id128_make(0, 0), .topic = topic};
    return outbox_list_range(store, &filter, after_seq, upto_seq, limit, out, out_count);
}

enum tl_err store_outbox_append(struct store *store, struct id128 key, const char *topic,
                                const void *data, uint32_t data_bytes, uint64_t *out_seq)
{
    TL_ASSERT(topic != NULL && out_seq != NULL);
    TL_ASSERT(data != NULL || data_bytes == 0);
    TL_ASSERT(!store->read_only && !store->in_batch);
    if (id128_is_zero(key) || topic[0] == '\0' || strlen(topic) >= 64 ||
        data_bytes > STORE_OUTBOX_APPEND_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->outbox_append(store, key, topic, data, data_bytes, out_seq);
}

enum tl_err store_outbox_seq_last(struct store *store, uint64_t *out_seq)
{
    enum tl_err err;

    TL_ASSERT(out_seq != NULL);
    err = app_ops(store)->outbox_seq_last(store, out_seq);
    TL_ASSERT(err != TL_OK || *out_seq <= (uint64_t)INT64_MAX);
    return err;
}

/* ---- Identity (schema v4) ---- */

static void check_totp(const struct store_totp *totp)
{
    TL_ASSERT(totp != NULL);
    TL_ASSERT(!id128_is_zero(totp->user_id));
    TL_ASSERT(totp->sealed_bytes > 0);
    TL_ASSERT(totp->sealed_bytes <= STORE_TOTP_SEALED_BYTES_MAX);
    check_time(totp->created_ns);
}

enum tl_err store_totp_put(struct store *store, const struct store_totp *totp)
{
    app_check_write(store);
    check_totp(totp);
    TL_ASSERT(!totp->active);
    TL_ASSERT(totp->last_step == 0);
    return app_ops(store)->totp_put(store, totp);
}

enum tl_err store_totp_get(struct store *store, struct id128 user_id, struct store_totp *out,
                           bool *found)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    enum tl_err err = app_ops(store)->totp_get(store, user_id, out, found);
    if (err == TL_OK && *found) {
        check_totp(out);
        TL_ASSERT(id128_eq(out->user_id, user_id));
    }
    return err;
}

enum tl_err store_totp_activate(struct store *store, struct id128 user_id, uint64_t step,
                                const uint8_t hashes[STORE_RECOVERY_CODES][STORE_HASH_BYTES])
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(step != 0);
    TL_ASSERT(step <= (uint64_t)INT64_MAX);
    TL_ASSERT(hashes != NULL);
    return app_ops(store)->totp_activate(store, user_id, step, hashes);
}

enum tl_err store_totp_use_step(struct store *store, struct id128 user_id, uint64_t step)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(step != 0);
    TL_ASSERT(step <= (uint64_t)INT64_MAX);
    return app_ops(store)->totp_use_step(store, user_id, step);
}

enum tl_err store_totp_delete(struct store *store, struct id128 user_id)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    return app_ops(store)->totp_delete(store, user_id);
}

enum tl_err store_recovery_code_use(struct store *store, struct id128 user_id,
                                    const uint8_t hash[STORE_HASH_BYTES], uint64_t now_ns)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(hash != NULL);
    check_time(now_ns);
    return app_ops(store)->recovery_code_use(store, user_id, hash, now_ns);
}

enum tl_err store_recovery_codes_left(struct store *store, struct id128 user_id,
                                      uint32_t *out_count)
{
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out_count != NULL);
    enum tl_err err = app_ops(store)->recovery_codes_left(store, user_id, out_count);
    TL_ASSERT(err != TL_OK || *out_count <= STORE_RECOVERY_CODES);
    return err;
}

enum tl_err store_mfa_challenge_create(struct store *store,
                                       const struct store_mfa_challenge *challenge)
{
    app_check_write(store);
    TL_ASSERT(challenge != NULL);
    TL_ASSERT(!id128_is_zero(challenge->user_id));
    check_time(challenge->created_ns);
    check_time(challenge->expires_ns);
    TL_ASSERT(challenge->expires_ns > challenge->created_ns);
    TL_ASSERT(!challenge->used);
    return app_ops(store)->mfa_challenge_create(store, challenge);
}

enum tl_err store_mfa_challenge_get(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                    struct store_mfa_challenge *out, bool *found)
{
    TL_ASSERT(hash != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = app_ops(store)->mfa_challenge_get(store, hash, out, found);
    TL_ASSERT(err != TL_OK || !*found || memcmp(out->hash, hash, STORE_HASH_BYTES) == 0);
    return err;
}

enum tl_err store_mfa_challenge_consume(struct store *store, const uint8_t hash[STORE_HASH_BYTES],
                                        uint64_t now_ns)
{
    app_check_write(store);
    TL_ASSERT(hash != NULL);
    check_time(now_ns);
    return app_ops(store)->mfa_challenge_consume(store, hash, now_ns);
}

enum tl_err store_sessions_list(struct store *store, struct id128 user_id, uint64_t now_ns,
                                struct store_session *out, uint32_t max, uint32_t *out_count)
{
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(max >= 1 && max <= STORE_SESSIONS_LIST_MAX);
    check_time(now_ns);
    enum tl_err err = app_ops(store)->sessions_list(store, user_id, now_ns, out, max, out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= max);
        for (uint32_t i = 0; i < *out_count; i++) {
            TL_ASSERT(id128_eq(out[i].user_id, user_id));
            TL_ASSERT(!out[i].revoked);
            TL_ASSERT(i == 0 || out[i - 1].created_ns >= out[i].created_ns);
        }
    }
    return err;
}

enum tl_err store_session_revoke_id(struct store *store, struct id128 user_id,
                                    struct id128 session_id)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(!id128_is_zero(session_id));
    return app_ops(store)->session_revoke_id(store, user_id, session_id);
}

enum tl_err store_sessions_revoke_others(struct store *store, struct id128 user_id,
                                         struct id128 keep_id, uint32_t *out_count)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out_count != NULL);
    return app_ops(store)->sessions_revoke_others(store, user_id, keep_id, out_count);
}

enum tl_err store_user_password_set(struct store *store, struct id128 user_id,
                                    const char *password_hash, struct id128 keep_id)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    if (!text_ok(password_hash, STORE_PASSWORD_HASH_BYTES_MAX)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->user_password_set(store, user_id, password_hash, keep_id);
}

/* The audit log's functions (schema v5) are in audit_store.c. */

/* ---- Passkeys (schema v4) ---- */

static void check_passkey(const struct store_passkey *pk)
{
    TL_ASSERT(pk != NULL);
    TL_ASSERT(!id128_is_zero(pk->id));
    TL_ASSERT(!id128_is_zero(pk->user_id));
    TL_ASSERT(pk->credential_id_bytes >= 1);
    TL_ASSERT(pk->credential_id_bytes <= STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX);
    TL_ASSERT(pk->algorithm == STORE_PASSKEY_ALG_ES256 || pk->algorithm == STORE_PASSKEY_ALG_EDDSA);
    TL_ASSERT(pk->public_key_bytes == (pk->algorithm == STORE_PASSKEY_ALG_ES256 ? 65u : 32u));
    ASSERT_TERMINATED(pk->name);
    check_time(pk->created_ns);
    TL_ASSERT(pk->last_used_ns <= (uint64_t)INT64_MAX);
    TL_ASSERT(pk->revoked_ns <= (uint64_t)INT64_MAX);
}

enum tl_err store_passkey_create(struct store *store, const struct store_passkey *passkey)
{
    app_check_write(store);
    check_passkey(passkey);
    TL_ASSERT(passkey->last_used_ns == 0);
    TL_ASSERT(passkey->revoked_ns == 0);
    if (passkey->name[0] == '\0') {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->passkey_create(store, passkey);
}

enum tl_err store_passkey_find(struct store *store, const uint8_t *credential_id,
                               uint32_t credential_id_bytes, struct store_passkey *out,
                               bool *found)
{
    TL_ASSERT(credential_id != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    if (credential_id_bytes == 0 || credential_id_bytes > STORE_PASSKEY_CREDENTIAL_ID_BYTES_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err =
        app_ops(store)->passkey_find(store, credential_id, credential_id_bytes, out, found);
    if (err == TL_OK && *found) {
        check_passkey(out);
        TL_ASSERT(out->credential_id_bytes == credential_id_bytes);
        TL_ASSERT(memcmp(out->credential_id, credential_id, credential_id_bytes) == 0);
    }
    return err;
}

enum tl_err store_passkeys_list(struct store *store, struct id128 user_id,
                                struct store_passkey *out, uint32_t max, uint32_t *out_count)
{
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(max >= 1 && max <= STORE_PASSKEYS_USER_MAX);
    enum tl_err err = app_ops(store)->passkeys_list(store, user_id, out, max, out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= max);
        for (uint32_t i = 0; i < *out_count; i++) {
            check_passkey(&out[i]);
            TL_ASSERT(id128_eq(out[i].user_id, user_id));
            TL_ASSERT(out[i].revoked_ns == 0);
        }
    }
    return err;
}

enum tl_err store_passkey_revoke(struct store *store, struct id128 user_id, struct id128 id,
                                 uint64_t now_ns)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(!id128_is_zero(id));
    check_time(now_ns);
    return app_ops(store)->passkey_revoke(store, user_id, id, now_ns);
}

enum tl_err store_passkey_use(struct store *store, struct id128 id, uint32_t sign_count,
                              uint64_t now_ns)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    check_time(now_ns);
    return app_ops(store)->passkey_use(store, id, sign_count, now_ns);
}

enum tl_err store_webauthn_challenge_create(struct store *store,
                                            const struct store_webauthn_challenge *challenge)
{
    app_check_write(store);
    TL_ASSERT(challenge != NULL);
    TL_ASSERT(challenge->kind == STORE_WEBAUTHN_REGISTER || challenge->kind == STORE_WEBAUTHN_LOGIN);
    TL_ASSERT(challenge->kind == STORE_WEBAUTHN_LOGIN || !id128_is_zero(challenge->user_id));
    check_time(challenge->created_ns);
    check_time(challenge->expires_ns);
    TL_ASSERT(challenge->expires_ns > challenge->created_ns);
    return app_ops(store)->webauthn_challenge_create(store, challenge);
}

enum tl_err store_webauthn_challenge_consume(struct store *store,
                                             const uint8_t hash[STORE_HASH_BYTES], uint8_t kind,
                                             uint64_t now_ns, struct id128 *out_user_id)
{
    app_check_write(store);
    TL_ASSERT(hash != NULL);
    TL_ASSERT(out_user_id != NULL);
    TL_ASSERT(kind == STORE_WEBAUTHN_REGISTER || kind == STORE_WEBAUTHN_LOGIN);
    check_time(now_ns);
    enum tl_err err =
        app_ops(store)->webauthn_challenge_consume(store, hash, kind, now_ns, out_user_id);
    TL_ASSERT(err != TL_OK || kind == STORE_WEBAUTHN_LOGIN || !id128_is_zero(*out_user_id));
    return err;
}

/* ---- Quotes and payment requests ---- */

static void check_quote(const struct store_quote *q)
{
    TL_ASSERT(!id128_is_zero(q->id));
    TL_ASSERT(!id128_is_zero(q->user_id));
    TL_ASSERT(!id128_is_zero(q->payment_id));
    TL_ASSERT(q->send_currency != 0);
    TL_ASSERT(q->receive_currency != 0);
    TL_ASSERT(q->amount > 0);
    TL_ASSERT(q->fee >= 0);
    TL_ASSERT(q->sent > 0);
    TL_ASSERT(q->rate_num > 0);
    TL_ASSERT(q->rate_den > 0);
    check_time(q->created_ns);
    check_time(q->expires_ns);
}

enum tl_err store_quote_create(struct store *store, const struct store_quote *quote)
{
    app_check_write(store);
    TL_ASSERT(quote != NULL);
    check_quote(quote);
    TL_ASSERT(quote->send_currency != quote->receive_currency ||
              quote->sent == quote->amount + quote->fee);
    return app_ops(store)->quote_create(store, quote);
}

enum tl_err store_quote_get(struct store *store, struct id128 id, struct store_quote *out,
                            bool *found)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    err = app_ops(store)->quote_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    if (err == TL_OK && *found) {
        check_quote(out);
    }
    return err;
}

static void check_request(const struct store_request *r)
{
    TL_ASSERT(!id128_is_zero(r->id));
    TL_ASSERT(!id128_is_zero(r->requester_id));
    TL_ASSERT(!id128_is_zero(r->payer_id));
    TL_ASSERT(!id128_eq(r->requester_id, r->payer_id));
    TL_ASSERT(!id128_is_zero(r->payment_id));
    TL_ASSERT(r->amount > 0);
    TL_ASSERT(r->currency != 0);
    TL_ASSERT(r->status >= STORE_REQUEST_OPEN);
    TL_ASSERT(r->status <= STORE_REQUEST_CANCELED);
    check_time(r->created_ns);
    check_time(r->expires_ns);
    ASSERT_TERMINATED(r->from_text);
    ASSERT_TERMINATED(r->note);
}

/* Outbox rows that ride with an app-row change: checked like store_outbox_append's. */
static bool outbox_new_ok(const struct store_outbox_new *events, uint32_t count)
{
    TL_ASSERT(count <= STORE_REQUEST_EVENTS_MAX);
    TL_ASSERT(events != NULL || count == 0);
    for (uint32_t i = 0; i < count; i++) {
        const struct store_outbox_new *e = &events[i];
        TL_ASSERT(e->topic != NULL && e->data != NULL);
        if (id128_is_zero(e->key) || e->topic[0] == '\0' || strlen(e->topic) >= 64 ||
            e->data_bytes == 0 || e->data_bytes > STORE_OUTBOX_APPEND_MAX) {
            return false;
        }
    }
    return true;
}

enum tl_err store_requests_create(struct store *store, const struct store_request *rows,
                                  uint32_t count, const struct store_outbox_new *events,
                                  uint32_t event_count)
{
    app_check_write(store);
    TL_ASSERT(rows != NULL);
    TL_ASSERT(count >= 1);
    TL_ASSERT(count <= STORE_REQUESTS_CREATE_MAX);
    for (uint32_t i = 0; i < count; i++) {
        check_request(&rows[i]);
        TL_ASSERT(rows[i].status == STORE_REQUEST_OPEN);
        TL_ASSERT(rows[i].closed_ns == 0);
        TL_ASSERT(rows[i].pay_claim_ns == 0);
        if (!text_ok(rows[i].from_text, STORE_TO_BYTES_MAX)) {
            return TL_ERR_INVALID_REQUEST;
        }
    }
    if (!outbox_new_ok(events, event_count)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->requests_create(store, rows, count, events, event_count);
}

enum tl_err store_request_get(struct store *store, struct id128 id, struct store_request *out,
                              bool *found)
{
    enum tl_err err;

    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(!id128_is_zero(id));
    err = app_ops(store)->request_get(store, id, out, found);
    TL_ASSERT(err != TL_OK || !*found || id128_eq(out->id, id));
    if (err == TL_OK && *found) {
        check_request(out);
    }
    return err;
}

enum tl_err store_requests_list(struct store *store, struct id128 user_id,
                                enum store_request_role role,
                                const struct store_request_page *page, struct store_request *out,
                                uint32_t *out_count, bool *has_more)
{
    enum tl_err err;

    TL_ASSERT(page != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(role == STORE_REQUEST_ROLE_ANY || role == STORE_REQUEST_ROLE_PAYER ||
              role == STORE_REQUEST_ROLE_REQUESTER);
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (!id128_is_zero(page->starting_after) && !id128_is_zero(page->ending_before)) {
        return TL_ERR_INVALID_REQUEST;
    }
    err = app_ops(store)->requests_list(store, user_id, role, page, out, out_count, has_more);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= page->limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        bool payer = id128_eq(out[i].payer_id, user_id);
        bool requester = id128_eq(out[i].requester_id, user_id);
        check_request(&out[i]);
        TL_ASSERT(i == 0 || id128_cmp(out[i - 1].id, out[i].id) > 0);
        TL_ASSERT(role != STORE_REQUEST_ROLE_PAYER || payer);
        TL_ASSERT(role != STORE_REQUEST_ROLE_REQUESTER || requester);
        TL_ASSERT(payer || requester);
    }
    return TL_OK;
}

enum tl_err store_request_claim(struct store *store, struct id128 id, struct id128 payer_id,
                                uint64_t now_ns, bool *claimed)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(!id128_is_zero(payer_id));
    TL_ASSERT(claimed != NULL);
    check_time(now_ns);
    return app_ops(store)->request_claim(store, id, payer_id, now_ns, claimed);
}

enum tl_err store_request_unclaim(struct store *store, struct id128 id, uint64_t claim_ns)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    check_time(claim_ns);
    return app_ops(store)->request_unclaim(store, id, claim_ns);
}

enum tl_err store_request_close(struct store *store, struct id128 id, struct id128 actor_id,
                                uint8_t status, uint64_t now_ns, uint64_t stale_before_ns,
                                const struct store_outbox_new *events, uint32_t event_count,
                                bool *closed)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(!id128_is_zero(actor_id));
    TL_ASSERT(status == STORE_REQUEST_DECLINED || status == STORE_REQUEST_CANCELED);
    TL_ASSERT(closed != NULL);
    TL_ASSERT(stale_before_ns <= now_ns);
    check_time(now_ns);
    if (!outbox_new_ok(events, event_count)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->request_close(store, id, actor_id, status, now_ns, stale_before_ns,
                                         events, event_count, closed);
}

/* ---- Records ---- */

static void record_init(struct store_record *out, uint32_t kind, struct id128 key,
                        const char *topic)
{
    size_t topic_bytes = strlen(topic) + 1;
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->key = key;
    TL_ASSERT(topic_bytes <= sizeof(out->topic));
    memcpy(out->topic, topic, topic_bytes);
}

static void check_payment(const struct store_payment *payment)
{
    TL_ASSERT(!id128_is_zero(payment->id));
    TL_ASSERT(!id128_is_zero(payment->from_user));
    TL_ASSERT(!id128_is_zero(payment->to_user));
    TL_ASSERT(!id128_is_zero(payment->from_wallet));
    TL_ASSERT(!id128_is_zero(payment->to_wallet));
    TL_ASSERT(payment->amount > 0);
    TL_ASSERT(payment->fee >= 0);
    TL_ASSERT(payment->currency != 0);
    TL_ASSERT(payment->status == STORE_PAYMENT_SUCCEEDED);
    check_time(payment->created_ns);
}

void store_record_payment(const struct store_payment *payment, void *buf, struct store_record *out)
{
    struct record_payment_header header;
    uint8_t *bytes = buf;
    size_t to_bytes;
    size_t note_bytes;

    TL_ASSERT(payment != NULL);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    check_payment(payment);
    ASSERT_TERMINATED(payment->to_text);
    ASSERT_TERMINATED(payment->note);
    to_bytes = strlen(payment->to_text);
    note_bytes = strlen(payment->note);
    memset(&header, 0, sizeof(header)); /* no uninitialised padding travels in the record */
    header.id = payment->id;
    header.from_user = payment->from_user;
    header.to_user = payment->to_user;
    header.from_wallet = payment->from_wallet;
    header.to_wallet = payment->to_wallet;
    header.amount = payment->amount;
    header.fee = payment->fee;
    header.created_ns = payment->created_ns;
    header.sender_available_after = payment->sender_available_after;
    header.recipient_available_after = payment->recipient_available_after;
    header.currency = payment->currency;
    header.status = payment->status;
    header.to_bytes = (uint16_t)to_bytes;
    header.note_bytes = (uint16_t)note_bytes;
    memcpy(bytes, &header, sizeof(header));
    memcpy(bytes + sizeof(header), payment->to_text, to_bytes);
    memcpy(bytes + sizeof(header) + to_bytes, payment->note, note_bytes);
    record_init(out, STORE_RECORD_PAYMENT, payment->id, RECORD_TOPIC_PAYMENT);
    out->data = buf;
    out->data_bytes = (uint32_t)(sizeof(header) + to_bytes + note_bytes);
    TL_ASSERT(out->data_bytes <= STORE_RECORD_PAYMENT_BYTES);
}

void store_record_payment_decode(const struct store_record *record, struct store_payment *out)
{
    struct record_payment_header header;
    const uint8_t *bytes;

    TL_ASSERT(record != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_PAYMENT);
    TL_ASSERT(record->data_bytes >= sizeof(header));
    bytes = record->data;
    memcpy(&header, bytes, sizeof(header));
    TL_ASSERT(header.to_bytes < STORE_TO_BYTES_MAX);
    TL_ASSERT(header.note_bytes < STORE_NOTE_BYTES_MAX);
    TL_ASSERT(record->data_bytes == sizeof(header) + header.to_bytes + header.note_bytes);
    memset(out, 0, sizeof(*out));
    out->id = header.id;
    out->from_user = header.from_user;
    out->to_user = header.to_user;
    out->from_wallet = header.from_wallet;
    out->to_wallet = header.to_wallet;
    out->amount = header.amount;
    out->fee = header.fee;
    out->created_ns = header.created_ns;
    out->sender_available_after = header.sender_available_after;
    out->recipient_available_after = header.recipient_available_after;
    out->currency = header.currency;
    out->status = header.status;
    memcpy(out->to_text, bytes + sizeof(header), header.to_bytes);
    memcpy(out->note, bytes + sizeof(header) + header.to_bytes, header.note_bytes);
    check_payment(out);
    TL_ASSERT(id128_eq(record->key, out->id));
}

enum tl_err store_record_idempotency(const struct store_idempotency *row, void *buf,
                                     uint32_t buf_bytes, struct store_record *out)
{
    struct record_idempotency_header header;
    uint8_t *bytes = buf;
    size_t scope_bytes;
    size_t key_bytes;
    size_t total_bytes;
    size_t capacity = buf_bytes < TL_RECORD_BYTES_MAX ? buf_bytes : TL_RECORD_BYTES_MAX;

    TL_ASSERT(row != NULL);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(row->body != NULL || row->body_bytes == 0);
    check_time(row->created_ns);
    ASSERT_TERMINATED(row->scope);
    ASSERT_TERMINATED(row->key);
    scope_bytes = strlen(row->scope);
    key_bytes = strlen(row->key);
    TL_ASSERT(scope_bytes > 0);
    TL_ASSERT(key_bytes > 0);
    total_bytes = sizeof(header) + scope_bytes + key_bytes + (size_t)row->body_bytes;
    if (total_bytes > capacity) {
        return TL_ERR_LIMIT;
    }
    memset(&header, 0, sizeof(header));
    memcpy(header.request_hash, row->request_hash, STORE_HASH_BYTES);
    header.claim_owner = row->claim_owner;
    header.created_ns = row->created_ns;
    header.body_bytes = row->body_bytes;
    header.status = row->status;
    header.scope_bytes = (uint16_t)scope_bytes;
    header.key_bytes = (uint16_t)key_bytes;
    memcpy(bytes, &header, sizeof(header));
    memcpy(bytes + sizeof(header), row->scope, scope_bytes);
    memcpy(bytes + sizeof(header) + scope_bytes, row->key, key_bytes);
    if (row->body_bytes > 0) {
        memcpy(bytes + sizeof(header) + scope_bytes + key_bytes, row->body, row->body_bytes);
    }
    record_init(out, STORE_RECORD_IDEMPOTENCY, id128_make(0, 0), RECORD_TOPIC_IDEMPOTENCY);
    out->data = buf;
    out->data_bytes = (uint32_t)total_bytes;
    return TL_OK;
}

void store_record_idempotency_decode(const struct store_record *record,
                                     struct store_idempotency *out)
{
    struct record_idempotency_header header;
    const uint8_t *bytes;

    TL_ASSERT(record != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_IDEMPOTENCY);
    TL_ASSERT(record->data_bytes >= sizeof(header));
    bytes = record->data;
    memcpy(&header, bytes, sizeof(header));
    TL_ASSERT(header.scope_bytes > 0);
    TL_ASSERT(header.scope_bytes < STORE_IDEMPOTENCY_SCOPE_BYTES_MAX);
    TL_ASSERT(header.key_bytes > 0);
    TL_ASSERT(header.key_bytes < STORE_IDEMPOTENCY_KEY_BYTES_MAX);
    TL_ASSERT(record->data_bytes ==
              sizeof(header) + header.scope_bytes + header.key_bytes + header.body_bytes);
    memset(out, 0, sizeof(*out));
    memcpy(out->request_hash, header.request_hash, STORE_HASH_BYTES);
    out->claim_owner = header.claim_owner;
    out->created_ns = header.created_ns;
    out->status = header.status;
    memcpy(out->scope, bytes + sizeof(header), header.scope_bytes);
    memcpy(out->key, bytes + sizeof(header) + header.scope_bytes, header.key_bytes);
    out->body = (const char *)(bytes + sizeof(header) + header.scope_bytes + header.key_bytes);
    out->body_bytes = header.body_bytes;
    check_time(out->created_ns);
}

/* ---- Verification tiers and limit windows (schema v5) ---- */

enum tl_err store_limits_window(struct store *store, struct id128 user_id,
                                enum store_direction direction, uint16_t currency,
                                uint64_t after_ns, struct store_limits_window *out)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(direction == STORE_DIRECTION_SENT || direction == STORE_DIRECTION_RECEIVED);
    TL_ASSERT(currency != 0);
    TL_ASSERT(after_ns <= (uint64_t)INT64_MAX);
    enum tl_err err =
        app_ops(store)->limits_window(store, user_id, direction, currency, after_ns, out);
    if (err == TL_OK) {
        TL_ASSERT(out->tier <= 2);
        TL_ASSERT(out->amount >= 0);
        TL_ASSERT((out->count == 0) == (out->oldest_ns == 0));
        TL_ASSERT(out->count == 0 || out->oldest_ns > after_ns);
    }
    return err;
}

/* ---- Exchange rates (schema v5) ---- */

static void check_fx_pair(uint16_t base, uint16_t quote)
{
    TL_ASSERT(base >= 1 && base <= 999);
    TL_ASSERT(quote >= 1 && quote <= 999);
    TL_ASSERT(base != quote);
}

static void check_fx_rate(const struct store_fx_rate *rate)
{
    check_fx_pair(rate->base, rate->quote);
    TL_ASSERT(rate->rate_num > 0);
    TL_ASSERT(rate->rate_den > 0);
    TL_ASSERT(rate->source == STORE_FX_SOURCE_FILE || rate->source == STORE_FX_SOURCE_OPERATOR);
    check_time(rate->updated_ns);
}

enum tl_err store_fx_rate_put(struct store *store, const struct store_fx_rate *rate,
                              bool *applied)
{
    app_check_write(store);
    TL_ASSERT(rate != NULL);
    TL_ASSERT(applied != NULL);
    check_fx_rate(rate);
    return app_ops(store)->fx_rate_put(store, rate, applied);
}

enum tl_err store_fx_rate_get(struct store *store, uint16_t base, uint16_t quote,
                              struct store_fx_rate *out, bool *found)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    check_fx_pair(base, quote);
    enum tl_err err = app_ops(store)->fx_rate_get(store, base, quote, out, found);
    if (err == TL_OK && *found) {
        check_fx_rate(out);
        TL_ASSERT(out->base == base);
        TL_ASSERT(out->quote == quote);
    }
    return err;
}

enum tl_err store_fx_rates_list(struct store *store, struct store_fx_rate *out, uint32_t max,
                                uint32_t *out_count)
{
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(max >= 1 && max <= STORE_FX_RATES_MAX);
    enum tl_err err = app_ops(store)->fx_rates_list(store, out, max, out_count);
    TL_ASSERT(err != TL_OK || *out_count <= max);
    for (uint32_t i = 0; err == TL_OK && i < *out_count; i++) {
        check_fx_rate(&out[i]);
    }
    return err;
}

enum tl_err store_user_tier_set(struct store *store, struct id128 user_id, uint8_t tier,
                                uint64_t updated_ns)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(tier <= 2);
    check_time(updated_ns);
    return app_ops(store)->user_tier_set(store, user_id, tier, updated_ns);
}

/* ---- Refunds, reversals and disputes (schema v5) ---- */

static void check_refund(const struct store_refund *r)
{
    TL_ASSERT(!id128_is_zero(r->id));
    TL_ASSERT(!id128_is_zero(r->payment_id));
    TL_ASSERT(r->kind == STORE_REFUND_KIND_REFUND || r->kind == STORE_REFUND_KIND_REVERSAL);
    TL_ASSERT(r->amount > 0);
    TL_ASSERT(r->from_wallet >= 0);
    TL_ASSERT(r->shortfall >= 0);
    TL_ASSERT(r->currency >= 1 && r->currency <= 999);
    check_time(r->created_ns);
    ASSERT_TERMINATED(r->reason);
}

static bool check_page(const struct store_request_page *page)
{
    TL_ASSERT(page != NULL);
    if (page->limit == 0 || page->limit > TL_PAGE_LIMIT_MAX) {
        return false;
    }
    return id128_is_zero(page->starting_after) || id128_is_zero(page->ending_before);
}

enum tl_err store_refund_put(struct store *store, const struct store_refund *row)
{
    app_check_write(store);
    TL_ASSERT(row != NULL);
    check_refund(row);
    TL_ASSERT(row->from_wallet + row->shortfall == row->amount);
    return app_ops(store)->refund_put(store, row);
}

enum tl_err store_refund_get(struct store *store, struct id128 id, struct store_refund *out,
                             bool *found)
{
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = app_ops(store)->refund_get(store, id, out, found);
    if (err == TL_OK && *found) {
        check_refund(out);
        TL_ASSERT(id128_eq(out->id, id));
    }
    return err;
}

enum tl_err store_refunds_list(struct store *store, struct id128 payment_id,
                               const struct store_request_page *page, struct store_refund *out,
                               uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(!id128_is_zero(payment_id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    if (!check_page(page)) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err = app_ops(store)->refunds_list(store, payment_id, page, out, out_count,
                                                   has_more);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= page->limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        check_refund(&out[i]);
        TL_ASSERT(out[i].succeeded);
        TL_ASSERT(id128_eq(out[i].payment_id, payment_id));
        TL_ASSERT(i == 0 || id128_cmp(out[i - 1].id, out[i].id) > 0);
    }
    return TL_OK;
}

enum tl_err store_refund_totals(struct store *store, struct id128 payment_id,
                                int64_t *out_refunded, int64_t *out_reversed)
{
    TL_ASSERT(!id128_is_zero(payment_id));
    TL_ASSERT(out_refunded != NULL);
    TL_ASSERT(out_reversed != NULL);
    enum tl_err err = app_ops(store)->refund_totals(store, payment_id, out_refunded, out_reversed);
    if (err == TL_OK) {
        TL_ASSERT(*out_refunded >= 0);
        TL_ASSERT(*out_reversed >= 0);
    }
    return err;
}

static void check_dispute(const struct store_dispute *d)
{
    TL_ASSERT(!id128_is_zero(d->id));
    TL_ASSERT(!id128_is_zero(d->payment_id));
    TL_ASSERT(!id128_is_zero(d->payer_id));
    TL_ASSERT(!id128_is_zero(d->payee_id));
    TL_ASSERT(d->status >= STORE_DISPUTE_OPEN && d->status <= STORE_DISPUTE_PAYEE);
    TL_ASSERT((d->status == STORE_DISPUTE_OPEN) == (d->resolved_ns == 0));
    check_time(d->created_ns);
    ASSERT_TERMINATED(d->reason);
    ASSERT_TERMINATED(d->note);
}

enum tl_err store_dispute_create(struct store *store, const struct store_dispute *dispute)
{
    app_check_write(store);
    TL_ASSERT(dispute != NULL);
    check_dispute(dispute);
    TL_ASSERT(dispute->status == STORE_DISPUTE_OPEN);
    if (!text_ok(dispute->reason, sizeof(dispute->reason))) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->dispute_create(store, dispute);
}

enum tl_err store_dispute_get(struct store *store, struct id128 id, struct store_dispute *out,
                              bool *found)
{
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = app_ops(store)->dispute_get(store, id, out, found);
    if (err == TL_OK && *found) {
        check_dispute(out);
        TL_ASSERT(id128_eq(out->id, id));
    }
    return err;
}

enum tl_err store_disputes_list(struct store *store, struct id128 payment_id, uint8_t status,
                                const struct store_request_page *page, struct store_dispute *out,
                                uint32_t *out_count, bool *has_more)
{
    TL_ASSERT(status <= STORE_DISPUTE_RESOLVED_ANY);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(has_more != NULL);
    if (!check_page(page)) {
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err = app_ops(store)->disputes_list(store, payment_id, status, page, out,
                                                    out_count, has_more);
    if (err != TL_OK) {
        return err;
    }
    TL_ASSERT(*out_count <= page->limit);
    for (uint32_t i = 0; i < *out_count; i++) {
        check_dispute(&out[i]);
        TL_ASSERT(id128_is_zero(payment_id) || id128_eq(out[i].payment_id, payment_id));
        TL_ASSERT(status == 0 || out[i].status == status ||
                  (status == STORE_DISPUTE_RESOLVED_ANY && out[i].status != STORE_DISPUTE_OPEN));
        TL_ASSERT(i == 0 || id128_cmp(out[i - 1].id, out[i].id) > 0);
    }
    return TL_OK;
}

enum tl_err store_dispute_resolve(struct store *store, struct id128 id, uint8_t status,
                                  const char *note, struct id128 reversal_id, uint64_t now_ns,
                                  bool *resolved)
{
    app_check_write(store);
    TL_ASSERT(!id128_is_zero(id));
    TL_ASSERT(status == STORE_DISPUTE_PAYER || status == STORE_DISPUTE_PAYEE);
    TL_ASSERT(note != NULL);
    TL_ASSERT(resolved != NULL);
    check_time(now_ns);
    if (strnlen(note, STORE_REASON_BYTES_MAX) >= STORE_REASON_BYTES_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    return app_ops(store)->dispute_resolve(store, id, status, note, reversal_id, now_ns,
                                           resolved);
}
