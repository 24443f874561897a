#include "auth/device_sig.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_crypto.h"
#include "util/assert.h"

static_assert(DEVICE_SIG_KEY_BYTES == AUTH_CRYPTO_ED25519_KEY_BYTES, "Ed25519 key");
static_assert(DEVICE_SIG_BYTES == AUTH_CRYPTO_ED25519_SIG_BYTES, "Ed25519 signature");
static_assert(DEVICE_SIG_HASH_BYTES == AUTH_CRYPTO_SHA256_BYTES, "SHA-256");
static_assert(sizeof(DEVICE_SIG_VERSION_LINE) + 8 + DEVICE_SIG_PATH_BYTES_MAX +
                      2 * DEVICE_SIG_HASH_BYTES + DEVICE_SIG_IKEY_BYTES_MAX +
                      DEVICE_SIG_TIMESTAMP_DIGITS_MAX + DEVICE_SIG_KEY_ID_BYTES_MAX + 7 <=
                  DEVICE_SIG_CANONICAL_BYTES_MAX,
              "the longest form fits");

void device_sig_body_hash(const uint8_t *body, size_t body_bytes,
                          uint8_t out[DEVICE_SIG_HASH_BYTES])
{
    static const uint8_t empty[1] = {0};
    auth_crypto_sha256(body_bytes > 0 ? body : empty, body_bytes, out);
}

/* Visible ASCII only, 0..max bytes (min_one: at least one). */
static bool device_sig_field_ok(const char *text, size_t max, bool min_one)
{
    size_t len = strnlen(text, max + 1);
    if (len > max || (min_one && len == 0)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < 0x21 || text[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

enum tl_err device_sig_canonical(const struct device_sig_request *req, char *out,
                                 size_t out_bytes, size_t *out_len)
{
    uint8_t hash[DEVICE_SIG_HASH_BYTES];
    char hex[2 * DEVICE_SIG_HASH_BYTES + 1];
    const char *ikey = req->idempotency_key != NULL ? req->idempotency_key : "";
    TL_ASSERT(out_bytes >= DEVICE_SIG_CANONICAL_BYTES_MAX);
    if (!device_sig_field_ok(req->method, 16, true) ||
        !device_sig_field_ok(req->path, DEVICE_SIG_PATH_BYTES_MAX, true) ||
        !device_sig_field_ok(ikey, DEVICE_SIG_IKEY_BYTES_MAX, false) ||
        !device_sig_field_ok(req->key_id, DEVICE_SIG_KEY_ID_BYTES_MAX, true)) {
        return TL_ERR_INVALID_REQUEST;
    }
    device_sig_body_hash(req->body, req->body_bytes, hash);
    for (size_t i = 0; i < sizeof(hash); i++) {
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    }
    int n = snprintf(out, out_bytes, "%s\n%s\n%s\n%s\n%s\n%llu\n%s\n", DEVICE_SIG_VERSION_LINE,
                     req->method, req->path, hex, ikey, (unsigned long long)req->timestamp_s,
                     req->key_id);
    TL_ASSERT(n > 0);
    TL_ASSERT((size_t)n < out_bytes);
    *out_len = (size_t)n;
    return TL_OK;
}

bool device_sig_timestamp_parse(const char *text, uint64_t *out)
{
    uint64_t value = 0;
    size_t len = strnlen(text, DEVICE_SIG_TIMESTAMP_DIGITS_MAX + 1);
    if (len == 0 || len > DEVICE_SIG_TIMESTAMP_DIGITS_MAX || text[0] == '0') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10u + (uint64_t)(text[i] - '0');
    }
    *out = value;
    return true;
}

bool device_sig_fresh(uint64_t timestamp_s, uint64_t now_s, uint32_t window_s)
{
    uint64_t skew = timestamp_s > now_s ? timestamp_s - now_s : now_s - timestamp_s;
    return skew <= window_s;
}

bool device_sig_verify(const struct device_sig_request *req,
                       const uint8_t key[DEVICE_SIG_KEY_BYTES],
                       const uint8_t sig[DEVICE_SIG_BYTES])
{
    char form[DEVICE_SIG_CANONICAL_BYTES_MAX];
    size_t len = 0;
    if (device_sig_canonical(req, form, sizeof(form), &len) != TL_OK) {
        return false;
    }
    return auth_crypto_ed25519_verify(sig, (const uint8_t *)form, len, key);
}
