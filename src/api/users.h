/*
 * users.h - sign up, the signed-in user, and recipient lookup.
 *
 *   POST /v1/users          {handle, email, phone?, password, display_name} -> 201 user
 *   GET  /v1/me             -> the user the token belongs to
 *   GET  /v1/users/lookup?q -> {handle, display_name} of the user q names
 *
 * A new user is a user row and a wallet row in the server's default currency, written in one
 * store transaction, then the wallet's ledger account opened through the writer. When the
 * writer cannot open it, the rows are deleted again and the client gets 503: a user never
 * exists without a wallet account that can receive money.
 *
 * Also the helpers sessions.c shares: the user resource as JSON, API timestamps, and the
 * parsing of a login or lookup string into the normalised key the store looks users up by.
 *
 * Never: return a password hash, log a password, or show lookup callers more than a handle and
 * a display name.
 */
#ifndef TL_API_USERS_H
#define TL_API_USERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "auth/validate.h"
#include "store/app.h"
#include "util/err.h"

enum tl_err users_create(struct http_request *req, struct http_response *resp);
enum tl_err users_me(struct http_request *req, struct http_response *resp);
enum tl_err users_lookup(struct http_request *req, struct http_response *resp);

/* The user resource {"id","handle","display_name","email","phone" (or null),"created_at"}, a
 * new reference; NULL when out of memory. */
json_t *users_json(const struct store_user *user);


/* Which unique field a login or lookup string names. */
enum users_key_kind {
    USERS_KEY_HANDLE = 1,
    USERS_KEY_EMAIL = 2,
    USERS_KEY_PHONE = 3,
};

struct users_key {
    enum users_key_kind kind;
    char value[VALIDATE_EMAIL_BYTES]; /* normalised as stored: handle and email lower case */
};

/*
 * Parses "@handle", "handle", an email or an E.164 phone ("+" and digits) into the key the
 * store finds users by. TL_ERR_INVALID_REQUEST when it cannot name anyone. Pure.
 */
enum tl_err users_key_parse(const char *in, size_t in_len, struct users_key *out);

/* store_user_find with the key. TL_OK with *found, or the store's error. */
enum tl_err users_find(struct store *store, const struct users_key *key, struct store_user *out,
                       bool *found);

#endif
