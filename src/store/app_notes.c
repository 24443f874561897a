/*
 * app_notes.c - the schema v5 rows of app.h (encryption keys, sealed payment notes, session
 * last-seen): argument checks, the payment-note record layout, then the backend's app ops.
 *
 * Like app.c: what a client could have sent is checked by the API before it gets here, so a
 * bad argument is our bug and asserts. Nothing here knows SQL, and nothing here can open a
 * note: it moves public keys and sealed boxes only.
 */
#include <stddef.h>
#include <string.h>

#include "store/app.h"
#include "store/app_backend.h"
#include "store/backend.h"
#include "util/assert.h"
#include "util/limits.h"

/* Record layout: the header, then the recipient's box, then the sender's. */
struct record_note_header {
    struct id128 payment_id;
    uint16_t recipient_bytes;
    uint16_t sender_bytes;
};

#define RECORD_TOPIC_PAYMENT_NOTE "payment_note"

static_assert(STORE_SEALED_NOTE_BYTES_MAX <= UINT16_MAX, "box sizes fit their header fields");
static_assert(sizeof(struct record_note_header) + 2 * STORE_SEALED_NOTE_BYTES_MAX <=
                  STORE_RECORD_PAYMENT_NOTE_BYTES,
              "a note record fits in the buffer app.h asks for");
static_assert(STORE_RECORD_PAYMENT_NOTE_BYTES <= TL_RECORD_BYTES_MAX,
              "a note record fits in a batch record");

static const struct store_app_ops *notes_ops(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(store->ops->app != NULL);
    return store->ops->app;
}

static void notes_check_write(const struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(!store->read_only);
    TL_ASSERT(!store->in_batch);
}

static void notes_check_time(uint64_t time_ns)
{
    TL_ASSERT(time_ns != 0);
    TL_ASSERT(time_ns <= (uint64_t)INT64_MAX);
}

static void notes_check_key(const struct store_encryption_key *key)
{
    TL_ASSERT(key != NULL);
    TL_ASSERT(!id128_is_zero(key->user_id));
    notes_check_time(key->created_ns);
    notes_check_time(key->updated_ns);
    TL_ASSERT(key->created_ns <= key->updated_ns);
}

static void notes_check_note(const struct store_payment_note *note)
{
    TL_ASSERT(note != NULL);
    TL_ASSERT(!id128_is_zero(note->payment_id));
    TL_ASSERT(note->recipient_bytes >= STORE_SEALED_NOTE_BYTES_MIN);
    TL_ASSERT(note->recipient_bytes <= STORE_SEALED_NOTE_BYTES_MAX);
    TL_ASSERT(note->sender_bytes >= STORE_SEALED_NOTE_BYTES_MIN);
    TL_ASSERT(note->sender_bytes <= STORE_SEALED_NOTE_BYTES_MAX);
}

/* ---- Encryption keys ---- */

enum tl_err store_encryption_key_put(struct store *store, const struct store_encryption_key *key,
                                     struct store_encryption_key *out)
{
    notes_check_write(store);
    notes_check_key(key);
    TL_ASSERT(out != NULL);
    enum tl_err err = notes_ops(store)->encryption_key_put(store, key, out);
    if (err == TL_OK) {
        notes_check_key(out);
        TL_ASSERT(id128_eq(out->user_id, key->user_id));
        TL_ASSERT(memcmp(out->public_key, key->public_key, STORE_ENCRYPTION_KEY_BYTES) == 0);
        TL_ASSERT(out->updated_ns == key->updated_ns);
    }
    return err;
}

enum tl_err store_encryption_key_get(struct store *store, struct id128 user_id,
                                     struct store_encryption_key *out, bool *found)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    enum tl_err err = notes_ops(store)->encryption_key_get(store, user_id, out, found);
    if (err == TL_OK && *found) {
        notes_check_key(out);
        TL_ASSERT(id128_eq(out->user_id, user_id));
    }
    return err;
}

enum tl_err store_encryption_key_delete(struct store *store, struct id128 user_id)
{
    notes_check_write(store);
    TL_ASSERT(!id128_is_zero(user_id));
    return notes_ops(store)->encryption_key_delete(store, user_id);
}

/* ---- Sealed payment notes ---- */

enum tl_err store_payment_notes_get(struct store *store, const struct id128 *ids, uint32_t count,
                                    struct store_payment_note *out, bool *found)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(ids != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(found != NULL);
    TL_ASSERT(count >= 1 && count <= TL_PAGE_LIMIT_MAX);
    for (uint32_t i = 0; i < count; i++) {
        TL_ASSERT(!id128_is_zero(ids[i]));
    }
    enum tl_err err = notes_ops(store)->payment_notes_get(store, ids, count, out, found);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        if (found[i]) {
            notes_check_note(&out[i]);
            TL_ASSERT(id128_eq(out[i].payment_id, ids[i]));
        }
    }
    return err;
}

void store_record_payment_note(const struct store_payment_note *note, void *buf,
                               struct store_record *out)
{
    struct record_note_header header;
    uint8_t *bytes = buf;

    notes_check_note(note);
    TL_ASSERT(buf != NULL);
    TL_ASSERT(out != NULL);
    memset(&header, 0, sizeof(header));
    header.payment_id = note->payment_id;
    header.recipient_bytes = (uint16_t)note->recipient_bytes;
    header.sender_bytes = (uint16_t)note->sender_bytes;
    memcpy(bytes, &header, sizeof(header));
    memcpy(bytes + sizeof(header), note->recipient_box, note->recipient_bytes);
    memcpy(bytes + sizeof(header) + note->recipient_bytes, note->sender_box, note->sender_bytes);
    memset(out, 0, sizeof(*out));
    out->kind = STORE_RECORD_PAYMENT_NOTE;
    out->key = note->payment_id;
    memcpy(out->topic, RECORD_TOPIC_PAYMENT_NOTE, sizeof(RECORD_TOPIC_PAYMENT_NOTE));
    out->data = buf;
    out->data_bytes = (uint32_t)(sizeof(header) + note->recipient_bytes + note->sender_bytes);
    TL_ASSERT(out->data_bytes <= STORE_RECORD_PAYMENT_NOTE_BYTES);
}

void store_record_payment_note_decode(const struct store_record *record,
                                      struct store_payment_note *out)
{
    struct record_note_header header;
    const uint8_t *bytes;

    TL_ASSERT(record != NULL);
    TL_ASSERT(out != NULL);
    TL_ASSERT(record->kind == STORE_RECORD_PAYMENT_NOTE);
    TL_ASSERT(record->data_bytes >= sizeof(header));
    bytes = record->data;
    memcpy(&header, bytes, sizeof(header));
    TL_ASSERT(record->data_bytes ==
              sizeof(header) + (uint32_t)header.recipient_bytes + header.sender_bytes);
    TL_ASSERT(header.recipient_bytes <= STORE_SEALED_NOTE_BYTES_MAX);
    TL_ASSERT(header.sender_bytes <= STORE_SEALED_NOTE_BYTES_MAX);
    memset(out, 0, offsetof(struct store_payment_note, recipient_box));
    out->payment_id = header.payment_id;
    out->recipient_bytes = header.recipient_bytes;
    out->sender_bytes = header.sender_bytes;
    memcpy(out->recipient_box, bytes + sizeof(header), header.recipient_bytes);
    memcpy(out->sender_box, bytes + sizeof(header) + header.recipient_bytes, header.sender_bytes);
    notes_check_note(out);
    TL_ASSERT(id128_eq(out->payment_id, record->key));
}

/* ---- Session last-seen ---- */

enum tl_err store_session_touch(struct store *store, const uint8_t token_hash[STORE_HASH_BYTES],
                                uint64_t now_ns, uint64_t interval_ns)
{
    notes_check_write(store);
    TL_ASSERT(token_hash != NULL);
    notes_check_time(now_ns);
    TL_ASSERT(interval_ns < now_ns);
    return notes_ops(store)->session_touch(store, token_hash, now_ns, interval_ns);
}

enum tl_err store_sessions_seen(struct store *store, struct id128 user_id, uint64_t now_ns,
                                struct store_session_seen *out, uint32_t max,
                                uint32_t *out_count)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(!id128_is_zero(user_id));
    notes_check_time(now_ns);
    TL_ASSERT(out != NULL);
    TL_ASSERT(out_count != NULL);
    TL_ASSERT(max >= 1 && max <= STORE_SESSIONS_LIST_MAX);
    enum tl_err err = notes_ops(store)->sessions_seen(store, user_id, now_ns, out, max, out_count);
    if (err == TL_OK) {
        TL_ASSERT(*out_count <= max);
        for (uint32_t i = 0; i < *out_count; i++) {
            TL_ASSERT(!id128_is_zero(out[i].id));
            TL_ASSERT(out[i].last_seen_ns <= (uint64_t)INT64_MAX);
        }
    }
    return err;
}
