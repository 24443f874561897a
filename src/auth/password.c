#include "auth/password.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_crypto.h"
#include "auth/codepoint.h"
#include "auth/common_passwords.h"
#include "util/assert.h"

static_assert(PASSWORD_HASH_STR_BYTES == AUTH_CRYPTO_PWHASH_STR_BYTES, "hash string buffer");
static_assert(PASSWORD_BYTES_MAX <= COMMON_PASSWORDS_ENTRY_BYTES_MAX, "list covers every length");
static_assert(PASSWORD_CODEPOINTS_MIN <= PASSWORD_CODEPOINTS_MAX, "policy bounds");
static_assert(PASSWORD_OPSLIMIT_DEFAULT >= AUTH_CRYPTO_PWHASH_OPSLIMIT_MIN, "default ops");
static_assert(PASSWORD_OPSLIMIT_DEFAULT <= PASSWORD_OPSLIMIT_MAX, "default ops");
static_assert(PASSWORD_MEMLIMIT_BYTES_DEFAULT <= PASSWORD_MEMLIMIT_BYTES_MAX, "default mem");

/* Bytes of the random password behind the dummy hash. */
#define PASSWORD_DUMMY_SECRET_BYTES 32

struct password_ctx {
    struct password_cost cost;
    struct common_passwords *common;
    char dummy_hash[PASSWORD_HASH_STR_BYTES];
};

struct password_cost password_cost_default(void)
{
    struct password_cost cost = {PASSWORD_OPSLIMIT_DEFAULT, PASSWORD_MEMLIMIT_BYTES_DEFAULT};
    return cost;
}

struct password_cost password_cost_min(void)
{
    struct password_cost cost = {AUTH_CRYPTO_PWHASH_OPSLIMIT_MIN,
                                 AUTH_CRYPTO_PWHASH_MEMLIMIT_MIN_BYTES};
    return cost;
}

void password_config_default(struct password_config *out)
{
    out->cost = password_cost_default();
    out->common_list_path = NULL;
}

static bool password_cost_valid(struct password_cost cost)
{
    if (cost.opslimit < AUTH_CRYPTO_PWHASH_OPSLIMIT_MIN || cost.opslimit > PASSWORD_OPSLIMIT_MAX) {
        return false;
    }
    return cost.memlimit_bytes >= AUTH_CRYPTO_PWHASH_MEMLIMIT_MIN_BYTES &&
           cost.memlimit_bytes <= PASSWORD_MEMLIMIT_BYTES_MAX;
}

/* A hash of 32 random bytes nobody knows, so password_verify_dummy cannot succeed. */
static enum tl_err password_make_dummy(struct password_ctx *ctx)
{
    char secret[PASSWORD_DUMMY_SECRET_BYTES];
    auth_crypto_random(secret, sizeof secret);
    enum tl_err err = auth_crypto_pwhash_str(ctx->dummy_hash, secret, sizeof secret,
                                             ctx->cost.opslimit, ctx->cost.memlimit_bytes);
    auth_crypto_wipe(secret, sizeof secret);
    return err;
}

enum tl_err password_ctx_new(const struct password_config *config, struct password_ctx **out)
{
    struct password_ctx *ctx = NULL;
    enum tl_err err = auth_crypto_init();
    if (err != TL_OK) {
        goto out;
    }
    err = TL_ERR_LIMIT;
    if (!password_cost_valid(config->cost)) {
        goto out;
    }
    err = TL_ERR_NOMEM;
    ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        goto out;
    }
    ctx->cost = config->cost;
    if (config->common_list_path != NULL) {
        err = common_passwords_from_file(config->common_list_path, &ctx->common);
    } else {
        err = common_passwords_from_bytes((const char *)common_passwords_embedded,
                                          common_passwords_embedded_bytes, &ctx->common);
    }
    if (err != TL_OK) {
        goto out;
    }
    err = password_make_dummy(ctx);
    if (err != TL_OK) {
        goto out;
    }
    *out = ctx;
    ctx = NULL;
out:
    password_ctx_free(ctx);
    return err;
}

void password_ctx_free(struct password_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    common_passwords_free(ctx->common);
    free(ctx);
}

size_t password_ctx_common_count(const struct password_ctx *ctx)
{
    return common_passwords_count(ctx->common);
}

#define PASSWORD_PARAM "password"
/* The details below spell the bounds out; change them together. */
static_assert(PASSWORD_CODEPOINTS_MIN == 12, "too_short detail says 12");
static_assert(PASSWORD_CODEPOINTS_MAX == 1024, "too_long detail says 1024");

enum tl_err password_policy_check(const struct password_ctx *ctx, const char *password,
                                  size_t password_bytes, struct auth_fault *fault)
{
    size_t codepoints = 0;

    /* Bounded before decoding, so a huge body costs no more than a long password. */
    if (password_bytes > PASSWORD_BYTES_MAX) {
        goto out_too_long;
    }
    if (!codepoint_count(password, password_bytes, &codepoints)) {
        auth_fault_set(fault, PASSWORD_PARAM, "invalid_utf8", "Password must be valid UTF-8.");
        return TL_ERR_INVALID_REQUEST;
    }
    if (codepoints < PASSWORD_CODEPOINTS_MIN) {
        auth_fault_set(fault, PASSWORD_PARAM, "too_short",
                       "Password must be at least 12 characters long.");
        return TL_ERR_INVALID_REQUEST;
    }
    if (codepoints > PASSWORD_CODEPOINTS_MAX) {
        goto out_too_long;
    }
    if (common_passwords_contains(ctx->common, password, password_bytes)) {
        auth_fault_set(fault, PASSWORD_PARAM, "too_common",
                       "Password is too common; choose one that is harder to guess.");
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
out_too_long:
    auth_fault_set(fault, PASSWORD_PARAM, "too_long",
                   "Password must be at most 1024 characters long.");
    return TL_ERR_INVALID_REQUEST;
}

enum tl_err password_hash(const struct password_ctx *ctx, const char *password,
                          size_t password_bytes, char out[PASSWORD_HASH_STR_BYTES])
{
    if (password_bytes > PASSWORD_BYTES_MAX) {
        return TL_ERR_INVALID_REQUEST;
    }
    return auth_crypto_pwhash_str(out, password, password_bytes, ctx->cost.opslimit,
                                  ctx->cost.memlimit_bytes);
}

/* True if s is a NUL-terminated string that starts like an Argon2id hash string. */
static bool password_stored_wellformed(const char *stored_hash)
{
    size_t len = strnlen(stored_hash, PASSWORD_HASH_STR_BYTES);
    size_t prefix_len = strlen(AUTH_CRYPTO_PWHASH_PREFIX);
    if (len == PASSWORD_HASH_STR_BYTES || len <= prefix_len) {
        return false;
    }
    return memcmp(stored_hash, AUTH_CRYPTO_PWHASH_PREFIX, prefix_len) == 0;
}

enum tl_err password_verify(const struct password_ctx *ctx, const char *stored_hash,
                            const char *password, size_t password_bytes)
{
    (void)ctx;
    if (!password_stored_wellformed(stored_hash)) {
        return TL_ERR_CORRUPT;
    }
    if (password_bytes > PASSWORD_BYTES_MAX) {
        return TL_ERR_UNAUTHORIZED;
    }
    if (!auth_crypto_pwhash_verify(stored_hash, password, password_bytes)) {
        return TL_ERR_UNAUTHORIZED;
    }
    return TL_OK;
}

enum tl_err password_verify_dummy(const struct password_ctx *ctx, const char *password,
                                  size_t password_bytes)
{
    enum tl_err err = password_verify(ctx, ctx->dummy_hash, password, password_bytes);
    /* Matching would mean guessing 256 random bits. */
    TL_ASSERT(err != TL_OK);
    return TL_ERR_UNAUTHORIZED;
}

bool password_needs_rehash(const struct password_ctx *ctx, const char *stored_hash)
{
    if (!password_stored_wellformed(stored_hash)) {
        return true;
    }
    return auth_crypto_pwhash_needs_rehash(stored_hash, ctx->cost.opslimit,
                                           ctx->cost.memlimit_bytes) != 0;
}
