/*
 * sqlite_notes.c - the SQLite side of the schema v5 rows (app_notes.c): encryption keys,
 * sealed payment notes, session last-seen.
 *
 * These calls are rare next to payments (a key is published once; a note is read with a
 * payment page; a session is touched at most once a minute), so each prepares its statement
 * on the handle's connection when it runs instead of adding to the prepared set of
 * sqlite_app.c. The note record is written inside the writer's batch transaction, on the
 * writer's connection, like the payment row it belongs to.
 */
#include <sqlite3.h>
#include <string.h>

#include "store/app.h"
#include "store/backend.h"
#include "store/sqlite_private.h"
#include "util/assert.h"

#define NOTES_KEY_COLUMNS "user_id, public_key, created_ns, updated_ns"

static const char notes_sql_key_put[] =
    "INSERT INTO encryption_keys (" NOTES_KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?3) "
    "ON CONFLICT (user_id) DO UPDATE SET public_key = excluded.public_key, "
    "updated_ns = excluded.updated_ns RETURNING " NOTES_KEY_COLUMNS;
static const char notes_sql_key_get[] =
    "SELECT " NOTES_KEY_COLUMNS " FROM encryption_keys WHERE user_id = ?1";
static const char notes_sql_key_delete[] = "DELETE FROM encryption_keys WHERE user_id = ?1";
static const char notes_sql_note_get[] =
    "SELECT payment_id, recipient_box, sender_box FROM payment_notes WHERE payment_id = ?1";
static const char notes_sql_note_insert[] =
    "INSERT INTO payment_notes (payment_id, recipient_box, sender_box) VALUES (?1, ?2, ?3)";
/* The interval test keeps the write to once per interval whoever touches the session. */
static const char notes_sql_session_touch[] =
    "UPDATE sessions SET last_seen_ns = ?2 WHERE token_hash = ?1 AND last_seen_ns <= ?3";
static const char notes_sql_sessions_seen[] =
    "SELECT id, last_seen_ns FROM sessions WHERE user_id = ?1 AND revoked = 0 AND "
    "expires_ns > ?2 ORDER BY created_ns DESC, id DESC LIMIT ?3";

/* Prepares sql on the handle's connection; *out is NULL on error (logged under what). */
static enum tl_err notes_prepare(struct store *store, const char *sql, const char *what,
                                 sqlite3_stmt **out)
{
    sqlite3 *db = store_sqlite_db(store);
    int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*out);
        *out = NULL;
        return store_sqlite_fail(db, rc, what);
    }
    return TL_OK;
}

static void notes_bind_blob(sqlite3_stmt *stmt, int index, const void *bytes, uint32_t size)
{
    int rc = sqlite3_bind_blob(stmt, index, bytes, (int)size, SQLITE_TRANSIENT);
    TL_ASSERT(rc == SQLITE_OK);
}

static void notes_bind_id(sqlite3_stmt *stmt, int index, struct id128 id)
{
    uint8_t bytes[ID128_BYTES];
    id128_to_bytes(id, bytes);
    notes_bind_blob(stmt, index, bytes, ID128_BYTES);
}

/* A blob column of min..max bytes into out. */
static bool notes_col_blob(sqlite3_stmt *stmt, int index, uint32_t min, uint32_t max,
                           uint8_t *out, uint32_t *out_bytes)
{
    if (sqlite3_column_type(stmt, index) != SQLITE_BLOB) {
        return false;
    }
    int bytes = sqlite3_column_bytes(stmt, index);
    if (bytes < (int)min || bytes > (int)max) {
        return false;
    }
    memcpy(out, sqlite3_column_blob(stmt, index), (size_t)bytes);
    *out_bytes = (uint32_t)bytes;
    return true;
}

static bool notes_col_time(sqlite3_stmt *stmt, int index, uint64_t *out)
{
    int64_t value = 0;
    if (!store_sqlite_col_i64(stmt, index, &value) || value <= 0) {
        return false;
    }
    *out = (uint64_t)value;
    return true;
}

static bool notes_decode_key(sqlite3_stmt *stmt, void *row)
{
    struct store_encryption_key *out = row;
    uint32_t bytes = 0;
    return store_sqlite_col_id(stmt, 0, &out->user_id) &&
           notes_col_blob(stmt, 1, STORE_ENCRYPTION_KEY_BYTES, STORE_ENCRYPTION_KEY_BYTES,
                          out->public_key, &bytes) &&
           notes_col_time(stmt, 2, &out->created_ns) && notes_col_time(stmt, 3, &out->updated_ns) &&
           out->created_ns <= out->updated_ns;
}

static bool notes_decode_note(sqlite3_stmt *stmt, void *row)
{
    struct store_payment_note *out = row;
    return store_sqlite_col_id(stmt, 0, &out->payment_id) &&
           notes_col_blob(stmt, 1, STORE_SEALED_NOTE_BYTES_MIN, STORE_SEALED_NOTE_BYTES_MAX,
                          out->recipient_box, &out->recipient_bytes) &&
           notes_col_blob(stmt, 2, STORE_SEALED_NOTE_BYTES_MIN, STORE_SEALED_NOTE_BYTES_MAX,
                          out->sender_box, &out->sender_bytes);
}

enum tl_err store_sqlite_notes_key_put(struct store *store, const struct store_encryption_key *key,
                                        struct store_encryption_key *out)
{
    sqlite3_stmt *stmt = NULL;
    bool found = false;
    enum tl_err err = notes_prepare(store, notes_sql_key_put, "encryption_key_put", &stmt);
    if (err != TL_OK) {
        return err;
    }
    notes_bind_id(stmt, 1, key->user_id);
    notes_bind_blob(stmt, 2, key->public_key, STORE_ENCRYPTION_KEY_BYTES);
    store_sqlite_bind_u64(stmt, 3, key->updated_ns);
    err = store_sqlite_step_one(store_sqlite_db(store), stmt, "encryption_key_put",
                                notes_decode_key, out, &found);
    sqlite3_finalize(stmt);
    if (err == TL_OK && !found) {
        err = store_sqlite_corrupt("encryption_key_put: no row returned");
    }
    return err;
}

enum tl_err store_sqlite_notes_key_get(struct store *store, struct id128 user_id,
                                        struct store_encryption_key *out, bool *found)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = notes_prepare(store, notes_sql_key_get, "encryption_key_get", &stmt);
    if (err != TL_OK) {
        return err;
    }
    notes_bind_id(stmt, 1, user_id);
    err = store_sqlite_step_one(store_sqlite_db(store), stmt, "encryption_key_get",
                                notes_decode_key, out, found);
    sqlite3_finalize(stmt);
    return err;
}

enum tl_err store_sqlite_notes_key_delete(struct store *store, struct id128 user_id)
{
    sqlite3_stmt *stmt = NULL;
    sqlite3 *db = store_sqlite_db(store);
    enum tl_err err = notes_prepare(store, notes_sql_key_delete, "encryption_key_delete", &stmt);
    if (err != TL_OK) {
        return err;
    }
    notes_bind_id(stmt, 1, user_id);
    int rc = store_sqlite_run(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "encryption_key_delete");
    }
    return sqlite3_changes(db) == 0 ? TL_ERR_NOT_FOUND : TL_OK;
}

enum tl_err store_sqlite_notes_get(struct store *store, const struct id128 *ids, uint32_t count,
                                    struct store_payment_note *out, bool *found)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = notes_prepare(store, notes_sql_note_get, "payment_notes_get", &stmt);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        notes_bind_id(stmt, 1, ids[i]);
        err = store_sqlite_step_one(store_sqlite_db(store), stmt, "payment_notes_get",
                                    notes_decode_note, &out[i], &found[i]);
    }
    sqlite3_finalize(stmt);
    return err;
}

enum tl_err store_sqlite_notes_session_touch(struct store *store,
                                              const uint8_t token_hash[STORE_HASH_BYTES],
                                              uint64_t now_ns, uint64_t interval_ns)
{
    sqlite3_stmt *stmt = NULL;
    enum tl_err err = notes_prepare(store, notes_sql_session_touch, "session_touch", &stmt);
    if (err != TL_OK) {
        return err;
    }
    notes_bind_blob(stmt, 1, token_hash, STORE_HASH_BYTES);
    store_sqlite_bind_u64(stmt, 2, now_ns);
    store_sqlite_bind_u64(stmt, 3, now_ns - interval_ns);
    int rc = store_sqlite_run(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK ? TL_OK : store_sqlite_fail(store_sqlite_db(store), rc, "session_touch");
}

enum tl_err store_sqlite_notes_sessions_seen(struct store *store, struct id128 user_id,
                                              uint64_t now_ns, struct store_session_seen *out,
                                              uint32_t max, uint32_t *out_count)
{
    sqlite3_stmt *stmt = NULL;
    uint32_t count = 0;
    int rc;
    enum tl_err err = notes_prepare(store, notes_sql_sessions_seen, "sessions_seen", &stmt);
    if (err != TL_OK) {
        return err;
    }
    notes_bind_id(stmt, 1, user_id);
    store_sqlite_bind_u64(stmt, 2, now_ns);
    store_sqlite_bind_i64(stmt, 3, max);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t seen = 0;
        if (count >= max || !store_sqlite_col_id(stmt, 0, &out[count].id) ||
            !store_sqlite_col_i64(stmt, 1, &seen) || seen < 0) {
            err = store_sqlite_corrupt("sessions_seen");
            break;
        }
        out[count++].last_seen_ns = (uint64_t)seen;
    }
    if (err == TL_OK && rc != SQLITE_DONE) {
        err = store_sqlite_fail(store_sqlite_db(store), rc, "sessions_seen");
    }
    sqlite3_finalize(stmt);
    if (err == TL_OK) {
        *out_count = count;
    }
    return err;
}

enum tl_err store_sqlite_notes_record_write(struct store *store, const struct store_record *record)
{
    struct store_payment_note note;
    sqlite3_stmt *stmt = NULL;
    sqlite3 *db = store_sqlite_db(store);

    TL_ASSERT(!sqlite3_get_autocommit(db)); /* inside the batch */
    store_record_payment_note_decode(record, &note);
    enum tl_err err = notes_prepare(store, notes_sql_note_insert, "records_write: note", &stmt);
    if (err != TL_OK) {
        return err;
    }
    notes_bind_id(stmt, 1, note.payment_id);
    notes_bind_blob(stmt, 2, note.recipient_box, note.recipient_bytes);
    notes_bind_blob(stmt, 3, note.sender_box, note.sender_bytes);
    int rc = store_sqlite_run(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) {
        return store_sqlite_fail(db, rc, "records_write: note");
    }
    TL_ASSERT(sqlite3_changes(db) == 1);
    return TL_OK;
}
