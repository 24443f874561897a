#include "api/notes.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/json.h"
#include "api/users.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/limits.h"

static_assert(NOTES_SEALED_TEXT_BYTES_MAX == 1560, "the documented size of a sealed note");
static_assert(NOTES_KEY_TEXT_BYTES == 44, "the documented size of a public key");

static const struct json_field notes_key_fields[] = {
    JSON_STRING("public_key", true, 64),
};

/* The members of "sealed_note". */
static const struct json_field notes_sealed_fields[] = {
    JSON_STRING("recipient", true, NOTES_SEALED_TEXT_BYTES_MAX),
    JSON_STRING("sender", true, NOTES_SEALED_TEXT_BYTES_MAX),
};

/* ---- Keys ---- */

/* {"public_key", "created_at", "updated_at"}, with "handle" first when handle is not NULL. */
static enum tl_err notes_key_render(struct http_response *resp, const char *handle,
                                    const struct store_encryption_key *key)
{
    char text[NOTES_KEY_TEXT_BYTES + 1];
    struct render r;
    auth_crypto_base64(text, sizeof(text), key->public_key, STORE_ENCRYPTION_KEY_BYTES);
    buf_reset(&resp->body);
    render_init(&r, &resp->body);
    render_object_begin(&r);
    if (handle != NULL) {
        render_key(&r, "handle");
        render_str(&r, handle);
    }
    render_key(&r, "public_key");
    render_str(&r, text);
    render_key(&r, "created_at");
    render_time(&r, key->created_ns);
    render_key(&r, "updated_at");
    render_time(&r, key->updated_ns);
    render_object_end(&r);
    enum tl_err err = render_finish(&r);
    if (err == TL_OK) {
        resp->status = 200;
        resp->content_type = "application/json";
    }
    return err;
}

/* Reads and checks the body's public key into out. */
static enum tl_err notes_key_parse(const struct http_request *req, struct http_response *resp,
                                   uint8_t out[STORE_ENCRYPTION_KEY_BYTES])
{
    struct json_error error;
    json_t *body = NULL;
    size_t bytes = 0;
    enum tl_err err = json_body_read(req->body, req->body_bytes, notes_key_fields,
                                     sizeof(notes_key_fields) / sizeof(notes_key_fields[0]), &body,
                                     &error);
    if (err != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    const char *text = json_field_string(body, "public_key");
    if (!auth_crypto_base64_decode(out, STORE_ENCRYPTION_KEY_BYTES, text, strlen(text), &bytes) ||
        bytes != STORE_ENCRYPTION_KEY_BYTES) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "public_key",
                        "must be 32 bytes in standard base64 with padding (44 characters)");
    } else if (!auth_crypto_x25519_key_usable(out)) {
        err = http_fail(resp, TL_ERR_INVALID_REQUEST, "public_key",
                        "is not a usable X25519 public key (a point of small order)");
    }
    json_decref(body);
    return err;
}

enum tl_err notes_key_put(struct http_request *req, struct http_response *resp)
{
    struct store_encryption_key key;
    struct store_encryption_key stored;
    struct store *store = NULL;
    TL_ASSERT(req->principal.authenticated);
    memset(&key, 0, sizeof(key));
    enum tl_err err = notes_key_parse(req, resp, key.public_key);
    if (err != TL_OK) {
        return err;
    }
    key.user_id = req->principal.user_id;
    key.created_ns = clock_wall_ns();
    key.updated_ns = key.created_ns;
    err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_encryption_key_put(store, &key, &stored);
    api_app_store_release(req->app, store);
    if (err != TL_OK) {
        return err;
    }
    return notes_key_render(resp, NULL, &stored);
}

enum tl_err notes_key_get(struct http_request *req, struct http_response *resp)
{
    struct store_encryption_key key;
    struct store *reader = NULL;
    bool found = false;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = store_encryption_key_get(reader, req->principal.user_id, &key, &found);
    }
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "you have published no encryption key");
    }
    return notes_key_render(resp, NULL, &key);
}

enum tl_err notes_key_delete(struct http_request *req, struct http_response *resp)
{
    struct store *store = NULL;
    TL_ASSERT(req->principal.authenticated);
    enum tl_err err = api_app_store_acquire(req->app, &store);
    if (err != TL_OK) {
        return err;
    }
    err = store_encryption_key_delete(store, req->principal.user_id);
    api_app_store_release(req->app, store);
    if (err == TL_ERR_NOT_FOUND) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "you have published no encryption key");
    }
    if (err != TL_OK) {
        return err;
    }
    resp->status = 204;
    buf_reset(&resp->body);
    return TL_OK;
}

enum tl_err notes_user_key_get(struct http_request *req, struct http_response *resp)
{
    const char *handle = http_request_param(req, "handle");
    struct users_key users_key;
    struct store_user user;
    struct store_encryption_key key;
    struct store *reader = NULL;
    bool found = false;
    TL_ASSERT(handle != NULL);
    /* The path can only carry a handle ('@', '+' and email addresses do not route). A user
     * without a key answers like a user that does not exist. */
    if (users_key_parse(handle, strlen(handle), &users_key) != TL_OK ||
        users_key.kind != USERS_KEY_HANDLE) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no user with that handle has a key");
    }
    enum tl_err err = http_request_store(req, &reader);
    if (err == TL_OK) {
        err = users_find(reader, &users_key, &user, &found);
    }
    if (err == TL_OK && found) {
        err = store_encryption_key_get(reader, user.id, &key, &found);
    }
    explicit_bzero(user.password_hash, sizeof(user.password_hash));
    if (err != TL_OK) {
        return err;
    }
    if (!found) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no user with that handle has a key");
    }
    return notes_key_render(resp, user.handle, &key);
}

/* ---- Sealed notes on payments ---- */

/* One copy: canonical base64 of a box of STORE_SEALED_NOTE_BYTES_MIN..MAX bytes. */
static bool notes_box_decode(const char *text, uint8_t *out, uint32_t *out_bytes, char *copy)
{
    size_t len = strlen(text);
    size_t bytes = 0;
    if (len > NOTES_SEALED_TEXT_BYTES_MAX ||
        !auth_crypto_base64_decode(out, STORE_SEALED_NOTE_BYTES_MAX, text, len, &bytes) ||
        bytes < STORE_SEALED_NOTE_BYTES_MIN) {
        return false;
    }
    memcpy(copy, text, len + 1);
    *out_bytes = (uint32_t)bytes;
    return true;
}

enum tl_err notes_sealed_parse(const json_t *body, bool note, struct http_response *resp,
                               struct notes_sealed *out)
{
    struct json_error error;
    static const char sizes[] = "must be a sealed box (crypto_box_seal) of 49 to 1168 bytes in "
                                "standard base64 with padding";
    out->present = false;
    const json_t *sealed = json_object_get(body, "sealed_note");
    if (sealed == NULL) {
        return TL_OK;
    }
    if (note) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "sealed_note",
                         "send either note or sealed_note, not both");
    }
    if (json_body_validate(sealed, notes_sealed_fields,
                           sizeof(notes_sealed_fields) / sizeof(notes_sealed_fields[0]),
                           &error) != TL_OK) {
        /* Member names are short ("recipient", "sender") or unknown ones, cut to fit. */
        char param[TL_JSON_PARAM_BYTES_MAX + 1];
        int n = snprintf(param, sizeof(param), "sealed_note.%.*s",
                         (int)(sizeof(param) - sizeof("sealed_note.")), error.param);
        TL_ASSERT(n > 0);
        return http_fail(resp, TL_ERR_INVALID_REQUEST, param, error.detail);
    }
    memset(&out->note, 0, offsetof(struct store_payment_note, recipient_box));
    if (!notes_box_decode(json_field_string(sealed, "recipient"), out->note.recipient_box,
                          &out->note.recipient_bytes, out->recipient_text)) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "sealed_note.recipient", sizes);
    }
    if (!notes_box_decode(json_field_string(sealed, "sender"), out->note.sender_box,
                          &out->note.sender_bytes, out->sender_text)) {
        return http_fail(resp, TL_ERR_INVALID_REQUEST, "sealed_note.sender", sizes);
    }
    out->present = true;
    return TL_OK;
}

enum tl_err notes_sealed_check(struct store *reader, struct http_response *resp,
                               const struct notes_sealed *sealed, struct id128 from_user,
                               struct id128 to_user)
{
    struct store_encryption_key key;
    bool found = false;
    if (!sealed->present) {
        return TL_OK;
    }
    enum tl_err err = store_encryption_key_get(reader, to_user, &key, &found);
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_ENCRYPTION_KEY_MISSING, "sealed_note.recipient",
                         "the recipient has published no encryption key");
    }
    if (err == TL_OK) {
        err = store_encryption_key_get(reader, from_user, &key, &found);
    }
    if (err == TL_OK && !found) {
        return http_fail(resp, TL_ERR_ENCRYPTION_KEY_MISSING, "sealed_note.sender",
                         "publish your encryption key first (PUT /v1/me/encryption_key): the "
                         "sender copy is sealed to it");
    }
    return err;
}

enum tl_err notes_sealed_attach(struct notes_sealed *sealed, struct id128 payment_id,
                                struct writer_batch *batch)
{
    struct store_record record;
    if (!sealed->present) {
        return TL_OK;
    }
    void *buf = malloc(STORE_RECORD_PAYMENT_NOTE_BYTES);
    if (buf == NULL) {
        return TL_ERR_NOMEM;
    }
    sealed->note.payment_id = payment_id;
    store_record_payment_note(&sealed->note, buf, &record);
    enum tl_err err = writer_batch_attach(batch, &record); /* copies the payload */
    free(buf);
    return err;
}

const char *notes_sealed_text(const struct notes_sealed *sealed, bool sender)
{
    if (!sealed->present) {
        return NULL;
    }
    return sender ? sealed->sender_text : sealed->recipient_text;
}

/* ---- Reading the notes of payments ---- */

struct notes_page {
    uint32_t count;
    bool *found;
    char (*text)[NOTES_SEALED_TEXT_BYTES_MAX + 1];
};

void notes_page_free(struct notes_page *page)
{
    if (page == NULL) {
        return;
    }
    free(page->found);
    free(page->text);
    free(page);
}

/* Allocates a page of count entries with scratch rows for the store. */
static enum tl_err notes_page_new(uint32_t count, struct notes_page **out,
                                  struct store_payment_note **notes, struct id128 **ids)
{
    struct notes_page *page = calloc(1, sizeof(*page));
    *notes = calloc(count, sizeof(**notes));
    *ids = calloc(count, sizeof(**ids));
    if (page != NULL) {
        page->count = count;
        page->found = calloc(count, sizeof(*page->found));
        page->text = calloc(count, sizeof(*page->text));
    }
    if (page == NULL || page->found == NULL || page->text == NULL || *notes == NULL ||
        *ids == NULL) {
        notes_page_free(page);
        free(*notes);
        free(*ids);
        return TL_ERR_NOMEM;
    }
    *out = page;
    return TL_OK;
}

enum tl_err notes_page_load(struct store *reader, const struct store_payment *rows,
                            uint32_t count, struct id128 viewer, struct notes_page **out)
{
    struct notes_page *page = NULL;
    struct store_payment_note *notes = NULL;
    struct id128 *ids = NULL;
    TL_ASSERT(count <= TL_PAGE_LIMIT_MAX);
    *out = NULL;
    if (count == 0) {
        return TL_OK;
    }
    enum tl_err err = notes_page_new(count, &page, &notes, &ids);
    if (err != TL_OK) {
        return err;
    }
    for (uint32_t i = 0; i < count; i++) {
        ids[i] = rows[i].id;
    }
    err = store_payment_notes_get(reader, ids, count, notes, page->found);
    for (uint32_t i = 0; err == TL_OK && i < count; i++) {
        if (!page->found[i]) {
            continue;
        }
        /* A party sees their own copy; a viewer who is both (never: no self payments) would
         * see the sender's. */
        bool sender = id128_eq(rows[i].from_user, viewer);
        TL_ASSERT(sender || id128_eq(rows[i].to_user, viewer));
        const uint8_t *box = sender ? notes[i].sender_box : notes[i].recipient_box;
        uint32_t bytes = sender ? notes[i].sender_bytes : notes[i].recipient_bytes;
        auth_crypto_base64(page->text[i], sizeof(page->text[i]), box, bytes);
    }
    free(notes);
    free(ids);
    if (err != TL_OK) {
        notes_page_free(page);
        return err;
    }
    *out = page;
    return TL_OK;
}

const char *notes_page_text(const struct notes_page *page, uint32_t index)
{
    if (page == NULL) {
        return NULL;
    }
    TL_ASSERT(index < page->count);
    return page->found[index] ? page->text[index] : NULL;
}
