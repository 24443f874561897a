/*
 * webauthn.c - see webauthn.h. libcbor parses CBOR, jansson parses clientDataJSON, OpenSSL
 * (libcrypto) checks keys and signatures; this is the only file that includes libcbor.
 */
#include "auth/webauthn.h"

#include <cbor.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#include "util/assert.h"

static_assert(WEBAUTHN_CREDENTIAL_ID_BYTES_MAX <= UINT16_MAX, "fits the 16-bit length field");
static_assert(WEBAUTHN_AUTH_DATA_BYTES_MAX <= WEBAUTHN_ATTESTATION_BYTES_MAX, "nested");

#define WEBAUTHN_AUTH_DATA_HEADER_BYTES 37 /* rpIdHash, flags, signCount */
#define WEBAUTHN_P256_POINT_BYTES 65
#define WEBAUTHN_ED25519_KEY_BYTES 32
#define WEBAUTHN_COORD_BYTES 32
#define WEBAUTHN_FMT_BYTES_MAX 16

static enum tl_err webauthn_fail(const char **why, const char *sentence)
{
    *why = sentence;
    return TL_ERR_INVALID_REQUEST;
}

void webauthn_sha256(const void *in, size_t in_bytes, uint8_t out[WEBAUTHN_HASH_BYTES])
{
    unsigned int out_len = 0;
    TL_ASSERT(EVP_Digest(in, in_bytes, out, &out_len, EVP_sha256(), NULL) == 1);
    TL_ASSERT(out_len == WEBAUTHN_HASH_BYTES);
}

const char *webauthn_alg_name(int32_t alg)
{
    if (alg == WEBAUTHN_ALG_ES256) {
        return "ES256";
    }
    if (alg == WEBAUTHN_ALG_EDDSA) {
        return "EdDSA";
    }
    return "unknown";
}

bool webauthn_sign_count_ok(uint32_t stored, uint32_t presented)
{
    if (stored == 0 && presented == 0) {
        return true;
    }
    return presented > stored;
}

/* ---- base64url ---- */

static int webauthn_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

bool webauthn_base64url_decode(const char *text, size_t text_len, uint8_t *out,
                               size_t out_bytes_max, size_t *out_bytes)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    if (text_len % 4 == 1) {
        return false; /* 6 bits cannot end a byte */
    }
    for (size_t i = 0; i < text_len; i++) {
        int v = webauthn_b64_value(text[i]);
        if (v < 0) {
            return false;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == out_bytes_max) {
                return false;
            }
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    if (acc != 0) {
        return false; /* leftover bits must be zero: one spelling per value */
    }
    *out_bytes = n;
    return true;
}

/* ---- clientDataJSON ---- */

static bool webauthn_json_text(const json_t *object, const char *name, char *out, size_t out_bytes)
{
    const json_t *value = json_object_get(object, name);
    if (!json_is_string(value)) {
        return false;
    }
    size_t len = json_string_length(value);
    const char *text = json_string_value(value);
    if (len == 0 || len >= out_bytes || memchr(text, '\0', len) != NULL) {
        return false;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return true;
}

enum tl_err webauthn_client_data_parse(const uint8_t *json, size_t json_bytes,
                                       struct webauthn_client_data *out, const char **why)
{
    struct webauthn_client_data cd;
    char challenge[WEBAUTHN_CHALLENGE_BYTES * 2];
    size_t challenge_bytes = 0;
    enum tl_err err = TL_ERR_INVALID_REQUEST;
    json_t *root = NULL;
    memset(&cd, 0, sizeof(cd));
    if (json_bytes == 0 || json_bytes > WEBAUTHN_CLIENT_DATA_BYTES_MAX) {
        return webauthn_fail(why, "clientDataJSON is empty or too long");
    }
    root = json_loadb((const char *)json, json_bytes, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        err = webauthn_fail(why, "clientDataJSON is not a JSON object");
        goto out;
    }
    if (!webauthn_json_text(root, "type", cd.type, sizeof(cd.type)) ||
        !webauthn_json_text(root, "origin", cd.origin, sizeof(cd.origin)) ||
        !webauthn_json_text(root, "challenge", challenge, sizeof(challenge))) {
        err = webauthn_fail(why, "clientDataJSON lacks type, challenge or origin");
        goto out;
    }
    if (!webauthn_base64url_decode(challenge, strlen(challenge), cd.challenge, sizeof(cd.challenge),
                                   &challenge_bytes) ||
        challenge_bytes != WEBAUTHN_CHALLENGE_BYTES) {
        err = webauthn_fail(why, "clientDataJSON challenge is not one this server issues");
        goto out;
    }
    const json_t *cross = json_object_get(root, "crossOrigin");
    if (cross != NULL && !json_is_boolean(cross)) {
        err = webauthn_fail(why, "clientDataJSON crossOrigin is not a boolean");
        goto out;
    }
    cd.cross_origin = cross != NULL && json_is_true(cross);
    *out = cd;
    err = TL_OK;
out:
    json_decref(root);
    return err;
}

/* ---- CBOR helpers: definite lengths only ---- */

/* Reads the head of the item at d[*off]: major type and argument. False when it is truncated,
 * indefinite-length or uses a reserved additional-information value. */
static bool webauthn_cbor_head(const uint8_t *d, size_t n, size_t *off, unsigned *major,
                               uint64_t *arg)
{
    if (*off >= n) {
        return false;
    }
    uint8_t initial = d[(*off)++];
    unsigned info = initial & 31u;
    *major = initial >> 5;
    if (info < 24) {
        *arg = info;
        return true;
    }
    if (info > 27) {
        return false; /* 28-30 reserved, 31 indefinite length */
    }
    size_t len = (size_t)1 << (info - 24);
    if (n - *off < len) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v << 8 | d[*off + i];
    }
    *off += len;
    *arg = v;
    return true;
}

/*
 * Walks one CBOR item at the start of d without allocating: every string length and container
 * count must fit in the bytes that are left (so no declared size can make the decoder allocate
 * more than the input justifies), nesting is at most WEBAUTHN_CBOR_DEPTH_MAX, and there are no
 * indefinite lengths or tags (WebAuthn uses neither). *item_bytes is the item's length.
 */
static bool webauthn_cbor_check(const uint8_t *d, size_t n, size_t *item_bytes)
{
    uint64_t pending[WEBAUTHN_CBOR_DEPTH_MAX + 1];
    size_t depth = 0;
    size_t off = 0;
    pending[0] = 1;
    for (;;) {
        if (pending[depth] == 0) {
            if (depth == 0) {
                break;
            }
            depth--;
            continue;
        }
        pending[depth]--;
        unsigned major = 0;
        uint64_t arg = 0;
        if (!webauthn_cbor_head(d, n, &off, &major, &arg)) {
            return false;
        }
        if (major == 2 || major == 3) {
            if (arg > n - off) {
                return false;
            }
            off += (size_t)arg;
        } else if (major == 4 || major == 5) {
            uint64_t items = major == 5 ? arg * 2 : arg;
            if (arg > (n - off) || items > (n - off) || depth == WEBAUTHN_CBOR_DEPTH_MAX) {
                return false; /* every item takes at least one byte */
            }
            if (items > 0) {
                pending[++depth] = items;
            }
        } else if (major == 6) {
            return false;
        }
    }
    *item_bytes = off;
    return true;
}

/* One CBOR item from data; *read is how many bytes it took. NULL when malformed. */
static cbor_item_t *webauthn_cbor_load(const uint8_t *data, size_t data_bytes, size_t *read)
{
    struct cbor_load_result result;
    size_t item_bytes = 0;
    if (data_bytes == 0 || !webauthn_cbor_check(data, data_bytes, &item_bytes)) {
        return NULL;
    }
    cbor_item_t *item = cbor_load(data, item_bytes, &result);
    if (item == NULL) {
        return NULL;
    }
    if (result.error.code != CBOR_ERR_NONE || result.read != item_bytes) {
        cbor_decref(&item);
        return NULL;
    }
    *read = result.read;
    return item;
}

static bool webauthn_cbor_int(const cbor_item_t *item, int64_t *out)
{
    uint64_t v;
    if (cbor_isa_uint(item)) {
        v = cbor_get_int(item);
        if (v > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = (int64_t)v;
        return true;
    }
    if (cbor_isa_negint(item)) {
        v = cbor_get_int(item);
        if (v > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = -1 - (int64_t)v;
        return true;
    }
    return false;
}

/* A definite byte string; *bytes points into item. */
static bool webauthn_cbor_bytes(const cbor_item_t *item, const uint8_t **bytes, size_t *len)
{
    if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
        return false;
    }
    *bytes = cbor_bytestring_handle(item);
    *len = cbor_bytestring_length(item);
    return *len == 0 || *bytes != NULL;
}

/* A definite text string equal to name. */
static bool webauthn_cbor_text_is(const cbor_item_t *item, const char *name)
{
    if (!cbor_isa_string(item) || !cbor_string_is_definite(item)) {
        return false;
    }
    size_t len = cbor_string_length(item);
    return len == strlen(name) && (len == 0 || memcmp(cbor_string_handle(item), name, len) == 0);
}

/* A definite map of at most max members; every key unique (compared by encoding type and
 * value for the int and text keys we accept; any other key type is refused). */
static bool webauthn_cbor_map(const cbor_item_t *item, size_t max)
{
    if (!cbor_isa_map(item) || !cbor_map_is_definite(item) || cbor_map_size(item) > max) {
        return false;
    }
    struct cbor_pair *pairs = cbor_map_handle(item);
    size_t size = cbor_map_size(item);
    for (size_t i = 0; i < size; i++) {
        int64_t a = 0;
        bool a_int = webauthn_cbor_int(pairs[i].key, &a);
        bool a_text = cbor_isa_string(pairs[i].key) && cbor_string_is_definite(pairs[i].key);
        if (!a_int && !a_text) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            int64_t b = 0;
            if (a_int && webauthn_cbor_int(pairs[j].key, &b) && a == b) {
                return false;
            }
            if (a_text && cbor_isa_string(pairs[j].key) &&
                cbor_string_length(pairs[j].key) == cbor_string_length(pairs[i].key) &&
                memcmp(cbor_string_handle(pairs[j].key), cbor_string_handle(pairs[i].key),
                       cbor_string_length(pairs[i].key)) == 0) {
                return false;
            }
        }
    }
    return true;
}

/* ---- Keys and signatures (OpenSSL) ---- */

static EVP_PKEY *webauthn_pkey(const struct webauthn_key *key)
{
    if (key->alg == WEBAUTHN_ALG_EDDSA && key->bytes_len == WEBAUTHN_ED25519_KEY_BYTES) {
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key->bytes, key->bytes_len);
    }
    if (key->alg != WEBAUTHN_ALG_ES256 || key->bytes_len != WEBAUTHN_P256_POINT_BYTES) {
        return NULL;
    }
    char group[] = "prime256v1";
    uint8_t point[WEBAUTHN_P256_POINT_BYTES];
    memcpy(point, key->bytes, sizeof(point));
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_END,
    };
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    if (pkey == NULL) {
        return NULL;
    }
    /* The point must lie on the curve (and not be the point at infinity). */
    EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = check != NULL && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

bool webauthn_signature_verify(const struct webauthn_key *key, const uint8_t *msg, size_t msg_bytes,
                               const uint8_t *sig, size_t sig_bytes)
{
    TL_ASSERT(key != NULL);
    if (sig == NULL || sig_bytes == 0 || sig_bytes > WEBAUTHN_SIGNATURE_BYTES_MAX) {
        return false;
    }
    if (key->alg == WEBAUTHN_ALG_EDDSA && sig_bytes != 64) {
        return false;
    }
    EVP_PKEY *pkey = webauthn_pkey(key);
    if (pkey == NULL) {
        return false;
    }
    bool ok = false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const EVP_MD *digest = key->alg == WEBAUTHN_ALG_ES256 ? EVP_sha256() : NULL;
    if (md != NULL && EVP_DigestVerifyInit(md, NULL, digest, NULL, pkey) == 1) {
        ok = EVP_DigestVerify(md, sig, sig_bytes, msg, msg_bytes) == 1;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

/* ---- COSE keys ---- */

/* COSE labels and values we read (RFC 9052 section 7, RFC 9053). */
#define COSE_KTY 1
#define COSE_ALG 3
#define COSE_CRV (-1)
#define COSE_X (-2)
#define COSE_Y (-3)
#define COSE_KTY_OKP 1
#define COSE_KTY_EC2 2
#define COSE_CRV_P256 1
#define COSE_CRV_ED25519 6

struct webauthn_cose_fields {
    int64_t kty, alg, crv;
    const uint8_t *x, *y;
    size_t x_len, y_len;
    bool has_kty, has_alg, has_crv;
};

static bool webauthn_cose_fields(const cbor_item_t *map, struct webauthn_cose_fields *f)
{
    struct cbor_pair *pairs = cbor_map_handle(map);
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < cbor_map_size(map); i++) {
        int64_t label = 0;
        if (!webauthn_cbor_int(pairs[i].key, &label)) {
            return false; /* text labels are not used by WebAuthn keys */
        }
        const cbor_item_t *v = pairs[i].value;
        bool ok = true;
        if (label == COSE_KTY) {
            ok = f->has_kty = webauthn_cbor_int(v, &f->kty);
        } else if (label == COSE_ALG) {
            ok = f->has_alg = webauthn_cbor_int(v, &f->alg);
        } else if (label == COSE_CRV) {
            ok = f->has_crv = webauthn_cbor_int(v, &f->crv);
        } else if (label == COSE_X) {
            ok = webauthn_cbor_bytes(v, &f->x, &f->x_len);
        } else if (label == COSE_Y) {
            ok = webauthn_cbor_bytes(v, &f->y, &f->y_len);
        }
        if (!ok) {
            return false;
        }
    }
    return f->has_kty && f->has_alg && f->has_crv && f->x != NULL;
}

static enum tl_err webauthn_cose_key_item(const cbor_item_t *map, struct webauthn_key *out,
                                          const char **why)
{
    struct webauthn_cose_fields f;
    struct webauthn_key key;
    memset(&key, 0, sizeof(key));
    if (!webauthn_cbor_map(map, WEBAUTHN_CBOR_MAP_MEMBERS_MAX) || !webauthn_cose_fields(map, &f)) {
        return webauthn_fail(why, "credential public key is not a well-formed COSE key");
    }
    if (f.kty == COSE_KTY_EC2 && f.alg == WEBAUTHN_ALG_ES256 && f.crv == COSE_CRV_P256 &&
        f.x_len == WEBAUTHN_COORD_BYTES && f.y != NULL && f.y_len == WEBAUTHN_COORD_BYTES) {
        key.alg = WEBAUTHN_ALG_ES256;
        key.bytes[0] = 0x04;
        memcpy(key.bytes + 1, f.x, WEBAUTHN_COORD_BYTES);
        memcpy(key.bytes + 1 + WEBAUTHN_COORD_BYTES, f.y, WEBAUTHN_COORD_BYTES);
        key.bytes_len = WEBAUTHN_P256_POINT_BYTES;
    } else if (f.kty == COSE_KTY_OKP && f.alg == WEBAUTHN_ALG_EDDSA && f.crv == COSE_CRV_ED25519 &&
               f.x_len == WEBAUTHN_ED25519_KEY_BYTES && f.y == NULL) {
        key.alg = WEBAUTHN_ALG_EDDSA;
        memcpy(key.bytes, f.x, WEBAUTHN_ED25519_KEY_BYTES);
        key.bytes_len = WEBAUTHN_ED25519_KEY_BYTES;
    } else {
        return webauthn_fail(why, "credential key is not ES256 (P-256) or EdDSA (Ed25519)");
    }
    EVP_PKEY *pkey = webauthn_pkey(&key);
    if (pkey == NULL) {
        return webauthn_fail(why, "credential public key is not a valid point or key");
    }
    EVP_PKEY_free(pkey);
    *out = key;
    return TL_OK;
}

enum tl_err webauthn_cose_key_parse(const uint8_t *data, size_t data_bytes,
                                    struct webauthn_key *out, const char **why)
{
    size_t read = 0;
    cbor_item_t *item = webauthn_cbor_load(data, data_bytes, &read);
    if (item == NULL || read != data_bytes) {
        if (item != NULL) {
            cbor_decref(&item);
        }
        return webauthn_fail(why, "credential public key is not one CBOR item");
    }
    enum tl_err err = webauthn_cose_key_item(item, out, why);
    cbor_decref(&item);
    return err;
}

/* ---- Authenticator data ---- */

/* Attested credential data at data[*offset..]: AAGUID, length, id, COSE key. */
static enum tl_err webauthn_attested(const uint8_t *data, size_t data_bytes, size_t *offset,
                                     struct webauthn_auth_data *ad, const char **why)
{
    size_t off = *offset;
    if (data_bytes - off < WEBAUTHN_AAGUID_BYTES + 2) {
        return webauthn_fail(why, "attested credential data is truncated");
    }
    memcpy(ad->aaguid, data + off, WEBAUTHN_AAGUID_BYTES);
    off += WEBAUTHN_AAGUID_BYTES;
    size_t id_len = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (id_len == 0 || id_len > WEBAUTHN_CREDENTIAL_ID_BYTES_MAX || data_bytes - off < id_len) {
        return webauthn_fail(why, "credential id is empty, too long or truncated");
    }
    memcpy(ad->credential_id, data + off, id_len);
    ad->credential_id_bytes = (uint32_t)id_len;
    off += id_len;
    size_t read = 0;
    cbor_item_t *key = webauthn_cbor_load(data + off, data_bytes - off, &read);
    if (key == NULL) {
        return webauthn_fail(why, "credential public key is not CBOR");
    }
    enum tl_err err = webauthn_cose_key_item(key, &ad->key, why);
    cbor_decref(&key);
    if (err == TL_OK) {
        *offset = off + read;
    }
    return err;
}

enum tl_err webauthn_auth_data_parse(const uint8_t *data, size_t data_bytes,
                                     struct webauthn_auth_data *out, const char **why)
{
    struct webauthn_auth_data ad;
    memset(&ad, 0, sizeof(ad));
    if (data_bytes < WEBAUTHN_AUTH_DATA_HEADER_BYTES ||
        data_bytes > WEBAUTHN_ATTESTATION_BYTES_MAX) {
        return webauthn_fail(why, "authenticator data is too short or too long");
    }
    memcpy(ad.rp_id_hash, data, WEBAUTHN_HASH_BYTES);
    ad.flags = data[32];
    ad.sign_count =
        (uint32_t)data[33] << 24 | (uint32_t)data[34] << 16 | (uint32_t)data[35] << 8 | data[36];
    size_t off = WEBAUTHN_AUTH_DATA_HEADER_BYTES;
    if ((ad.flags & WEBAUTHN_FLAG_AT) != 0) {
        enum tl_err err = webauthn_attested(data, data_bytes, &off, &ad, why);
        if (err != TL_OK) {
            return err;
        }
    }
    if ((ad.flags & WEBAUTHN_FLAG_ED) != 0) {
        size_t read = 0;
        cbor_item_t *ext = webauthn_cbor_load(data + off, data_bytes - off, &read);
        bool ok = ext != NULL && webauthn_cbor_map(ext, WEBAUTHN_CBOR_MAP_MEMBERS_MAX);
        if (ext != NULL) {
            cbor_decref(&ext);
        }
        if (!ok) {
            return webauthn_fail(why, "authenticator extension data is not a CBOR map");
        }
        off += read;
    }
    if (off != data_bytes) {
        return webauthn_fail(why, "authenticator data has trailing bytes");
    }
    *out = ad;
    return TL_OK;
}

/* ---- Ceremonies ---- */

static enum tl_err webauthn_client_data_check(const struct webauthn_expect *expect,
                                              const uint8_t *client_data, size_t bytes,
                                              const char *type, const char **why)
{
    struct webauthn_client_data cd;
    enum tl_err err = webauthn_client_data_parse(client_data, bytes, &cd, why);
    if (err != TL_OK) {
        return err;
    }
    if (strcmp(cd.type, type) != 0) {
        return webauthn_fail(why, "clientDataJSON type is not the one of this ceremony");
    }
    /* CRYPTO_memcmp keeps the comparison constant time, though the challenge is no secret. */
    if (CRYPTO_memcmp(cd.challenge, expect->challenge, WEBAUTHN_CHALLENGE_BYTES) != 0) {
        return webauthn_fail(why, "clientDataJSON challenge does not match");
    }
    if (strcmp(cd.origin, expect->origin) != 0) {
        return webauthn_fail(why, "clientDataJSON origin is not this relying party's origin");
    }
    if (cd.cross_origin) {
        return webauthn_fail(why, "cross-origin ceremonies are not accepted");
    }
    return TL_OK;
}

static enum tl_err webauthn_auth_data_check(const struct webauthn_expect *expect,
                                            const struct webauthn_auth_data *ad, const char **why)
{
    uint8_t rp_hash[WEBAUTHN_HASH_BYTES];
    webauthn_sha256(expect->rp_id, strlen(expect->rp_id), rp_hash);
    if (CRYPTO_memcmp(rp_hash, ad->rp_id_hash, sizeof(rp_hash)) != 0) {
        return webauthn_fail(why, "authenticator data is for another relying party");
    }
    if ((ad->flags & WEBAUTHN_FLAG_UP) == 0) {
        return webauthn_fail(why, "the user was not present (UP flag clear)");
    }
    if ((ad->flags & WEBAUTHN_FLAG_UV) == 0) {
        return webauthn_fail(why, "the user was not verified (UV flag clear)");
    }
    return TL_OK;
}

/* The parts of an attestation object: fmt, attStmt and authData, each exactly once. */
struct webauthn_att_parts {
    const cbor_item_t *fmt;
    const cbor_item_t *stmt;
    const uint8_t *auth_data;
    size_t auth_data_bytes;
};

static bool webauthn_att_split(const cbor_item_t *root, struct webauthn_att_parts *p)
{
    memset(p, 0, sizeof(*p));
    if (!webauthn_cbor_map(root, 3) || cbor_map_size(root) != 3) {
        return false;
    }
    struct cbor_pair *pairs = cbor_map_handle(root);
    for (size_t i = 0; i < 3; i++) {
        if (webauthn_cbor_text_is(pairs[i].key, "fmt") && cbor_isa_string(pairs[i].value) &&
            cbor_string_is_definite(pairs[i].value)) {
            p->fmt = pairs[i].value;
        } else if (webauthn_cbor_text_is(pairs[i].key, "attStmt")) {
            p->stmt = pairs[i].value;
        } else if (webauthn_cbor_text_is(pairs[i].key, "authData")) {
            if (!webauthn_cbor_bytes(pairs[i].value, &p->auth_data, &p->auth_data_bytes)) {
                return false;
            }
        } else {
            return false;
        }
    }
    return p->fmt != NULL && p->stmt != NULL && p->auth_data != NULL &&
           webauthn_cbor_map(p->stmt, WEBAUTHN_CBOR_MAP_MEMBERS_MAX);
}

/* "packed" self attestation: {alg, sig} with the credential's own algorithm and key. */
static enum tl_err webauthn_packed_self(const struct webauthn_att_parts *p,
                                        const struct webauthn_auth_data *ad,
                                        const uint8_t cd_hash[WEBAUTHN_HASH_BYTES],
                                        const char **why)
{
    struct cbor_pair *pairs = cbor_map_handle(p->stmt);
    int64_t alg = 0;
    bool has_alg = false;
    const uint8_t *sig = NULL;
    size_t sig_len = 0;
    for (size_t i = 0; i < cbor_map_size(p->stmt); i++) {
        if (webauthn_cbor_text_is(pairs[i].key, "alg")) {
            has_alg = webauthn_cbor_int(pairs[i].value, &alg);
        } else if (webauthn_cbor_text_is(pairs[i].key, "sig")) {
            (void)webauthn_cbor_bytes(pairs[i].value, &sig, &sig_len);
        } else if (webauthn_cbor_text_is(pairs[i].key, "x5c")) {
            return webauthn_fail(why, "certificate attestation is not accepted; request none");
        } else {
            return webauthn_fail(why, "packed attestation statement has an unknown member");
        }
    }
    if (!has_alg || alg != ad->key.alg || sig == NULL) {
        return webauthn_fail(why, "packed attestation alg or sig missing or wrong");
    }
    size_t signed_bytes = p->auth_data_bytes + WEBAUTHN_HASH_BYTES;
    uint8_t message[WEBAUTHN_ATTESTATION_BYTES_MAX + WEBAUTHN_HASH_BYTES];
    TL_ASSERT(signed_bytes <= sizeof(message));
    memcpy(message, p->auth_data, p->auth_data_bytes);
    memcpy(message + p->auth_data_bytes, cd_hash, WEBAUTHN_HASH_BYTES);
    if (!webauthn_signature_verify(&ad->key, message, signed_bytes, sig, sig_len)) {
        return webauthn_fail(why, "packed attestation signature does not verify");
    }
    return TL_OK;
}

static enum tl_err webauthn_attestation_check(const uint8_t *attestation, size_t bytes,
                                              const uint8_t cd_hash[WEBAUTHN_HASH_BYTES],
                                              struct webauthn_auth_data *ad, const char **why)
{
    size_t read = 0;
    struct webauthn_att_parts parts;
    enum tl_err err = TL_ERR_INVALID_REQUEST;
    cbor_item_t *root = webauthn_cbor_load(attestation, bytes, &read);
    if (root == NULL || read != bytes || !webauthn_att_split(root, &parts)) {
        err = webauthn_fail(why, "attestationObject is not a well-formed CBOR map");
        goto out;
    }
    err = webauthn_auth_data_parse(parts.auth_data, parts.auth_data_bytes, ad, why);
    if (err != TL_OK) {
        goto out;
    }
    if ((ad->flags & WEBAUTHN_FLAG_AT) == 0) {
        err = webauthn_fail(why, "authenticator data carries no credential (AT flag clear)");
        goto out;
    }
    if (webauthn_cbor_text_is(parts.fmt, "none")) {
        err = cbor_map_size(parts.stmt) == 0
                  ? TL_OK
                  : webauthn_fail(why, "attestation none must have an empty statement");
    } else if (webauthn_cbor_text_is(parts.fmt, "packed")) {
        err = webauthn_packed_self(&parts, ad, cd_hash, why);
    } else {
        err = webauthn_fail(why, "attestation format not accepted; request attestation none");
    }
out:
    if (root != NULL) {
        cbor_decref(&root);
    }
    return err;
}

enum tl_err webauthn_register_verify(const struct webauthn_expect *expect,
                                     const uint8_t *client_data, size_t client_data_bytes,
                                     const uint8_t *attestation, size_t attestation_bytes,
                                     struct webauthn_auth_data *out, const char **why)
{
    uint8_t cd_hash[WEBAUTHN_HASH_BYTES];
    struct webauthn_auth_data ad;
    TL_ASSERT(expect != NULL);
    TL_ASSERT(out != NULL);
    enum tl_err err =
        webauthn_client_data_check(expect, client_data, client_data_bytes, "webauthn.create", why);
    if (err != TL_OK) {
        return err;
    }
    if (attestation_bytes == 0 || attestation_bytes > WEBAUTHN_ATTESTATION_BYTES_MAX) {
        return webauthn_fail(why, "attestationObject is empty or too long");
    }
    webauthn_sha256(client_data, client_data_bytes, cd_hash);
    err = webauthn_attestation_check(attestation, attestation_bytes, cd_hash, &ad, why);
    if (err == TL_OK) {
        err = webauthn_auth_data_check(expect, &ad, why);
    }
    if (err == TL_OK) {
        *out = ad;
    }
    return err;
}

enum tl_err webauthn_assert_verify(const struct webauthn_expect *expect,
                                   const struct webauthn_key *key, const uint8_t *client_data,
                                   size_t client_data_bytes, const uint8_t *auth_data,
                                   size_t auth_data_bytes, const uint8_t *sig, size_t sig_bytes,
                                   uint32_t *out_sign_count, const char **why)
{
    struct webauthn_auth_data ad;
    uint8_t message[WEBAUTHN_AUTH_DATA_BYTES_MAX + WEBAUTHN_HASH_BYTES];
    TL_ASSERT(expect != NULL);
    TL_ASSERT(key != NULL);
    enum tl_err err =
        webauthn_client_data_check(expect, client_data, client_data_bytes, "webauthn.get", why);
    if (err != TL_OK) {
        return err;
    }
    if (auth_data_bytes > WEBAUTHN_AUTH_DATA_BYTES_MAX) {
        return webauthn_fail(why, "authenticatorData is too long");
    }
    err = webauthn_auth_data_parse(auth_data, auth_data_bytes, &ad, why);
    if (err != TL_OK) {
        return err;
    }
    if ((ad.flags & WEBAUTHN_FLAG_AT) != 0) {
        return webauthn_fail(why, "an assertion must not carry attested credential data");
    }
    err = webauthn_auth_data_check(expect, &ad, why);
    if (err != TL_OK) {
        return err;
    }
    memcpy(message, auth_data, auth_data_bytes);
    webauthn_sha256(client_data, client_data_bytes, message + auth_data_bytes);
    if (!webauthn_signature_verify(key, message, auth_data_bytes + WEBAUTHN_HASH_BYTES, sig,
                                   sig_bytes)) {
        return webauthn_fail(why, "assertion signature does not verify");
    }
    *out_sign_count = ad.sign_count;
    return TL_OK;
}
