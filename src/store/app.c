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
    out->created_ns = header.created_ns;
    out->status = header.status;
    memcpy(out->scope, bytes + sizeof(header), header.scope_bytes);
    memcpy(out->key, bytes + sizeof(header) + header.scope_bytes, header.key_bytes);
    out->body = (const char *)(bytes + sizeof(header) + header.scope_bytes + header.key_bytes);
    out->body_bytes = header.body_bytes;
    check_time(out->created_ns);
}
