/*
 * test_webauthn.c - src/auth/webauthn.c: base64url, clientDataJSON, COSE keys, authenticator
 * data, attestation objects ("none" and "packed" self attestation), assertions with ES256 and
 * EdDSA signatures (fixed vectors made with the openssl CLI: webauthn_vectors.h), the flag and
 * sign-count rules, and malformed input (every truncation and single-byte change of a valid
 * attestation is refused or accepted without a crash or a sanitizer report).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/webauthn.h"
#include "test.h"
#include "webauthn_vectors.h"

#define BUF_MAX 4096

struct blob {
    uint8_t bytes[BUF_MAX];
    size_t len;
};

static void put(struct blob *b, const void *data, size_t n)
{
    assert_true(b->len + n <= sizeof(b->bytes));
    memcpy(b->bytes + b->len, data, n);
    b->len += n;
}

static void put_byte(struct blob *b, uint8_t v)
{
    put(b, &v, 1);
}

static void cose_es256(struct blob *b, const uint8_t point[65])
{
    static const uint8_t head[] = {0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20};
    static const uint8_t y_head[] = {0x22, 0x58, 0x20};
    put(b, head, sizeof(head));
    put(b, point + 1, 32);
    put(b, y_head, sizeof(y_head));
    put(b, point + 33, 32);
}

/* Registration authenticator data: rpIdHash of rp_id, flags, count 0, credential, ES256 key. */
static void reg_auth_data(struct blob *b, const char *rp_id, uint8_t flags)
{
    uint8_t hash[32];
    uint8_t aaguid[16] = {0};
    webauthn_sha256(rp_id, strlen(rp_id), hash);
    put(b, hash, sizeof(hash));
    put_byte(b, flags);
    put(b, "\0\0\0\0", 4);
    put(b, aaguid, sizeof(aaguid));
    put_byte(b, 0);
    put_byte(b, sizeof(vec_credential_id));
    put(b, vec_credential_id, sizeof(vec_credential_id));
    cose_es256(b, vec_p256_point);
}

/* {"fmt": fmt, "attStmt": stmt (raw CBOR), "authData": ad}. */
static void att_object(struct blob *out, const char *fmt, const uint8_t *stmt, size_t stmt_len,
                       const uint8_t *ad, size_t ad_len)
{
    put_byte(out, 0xa3);
    put_byte(out, 0x63);
    put(out, "fmt", 3);
    put_byte(out, (uint8_t)(0x60 + strlen(fmt)));
    put(out, fmt, strlen(fmt));
    put_byte(out, 0x67);
    put(out, "attStmt", 7);
    put(out, stmt, stmt_len);
    put_byte(out, 0x68);
    put(out, "authData", 8);
    put_byte(out, 0x59);
    put_byte(out, (uint8_t)(ad_len >> 8));
    put_byte(out, (uint8_t)ad_len);
    put(out, ad, ad_len);
}

static const uint8_t empty_map[] = {0xa0};

static struct webauthn_expect expect_default(void)
{
    struct webauthn_expect e = {VEC_RP_ID, VEC_ORIGIN, vec_challenge};
    return e;
}

static enum tl_err register_none(const char *client_data, const struct blob *att,
                                 struct webauthn_auth_data *out, const char **why)
{
    struct webauthn_expect e = expect_default();
    return webauthn_register_verify(&e, (const uint8_t *)client_data, strlen(client_data),
                                    att->bytes, att->len, out, why);
}

/* ---- base64url ---- */

static void test_base64url(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    assert_true(webauthn_base64url_decode("", 0, out, sizeof(out), &n));
    assert_int_equal(n, 0);
    assert_true(webauthn_base64url_decode("_-8", 3, out, sizeof(out), &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(out[1], 0xef);
    assert_true(webauthn_base64url_decode("AQID", 4, out, sizeof(out), &n));
    assert_int_equal(n, 3);
    assert_false(webauthn_base64url_decode("AQ==", 4, out, sizeof(out), &n)); /* padding */
    assert_false(webauthn_base64url_decode("AQ+/", 4, out, sizeof(out), &n)); /* base64 */
    assert_false(webauthn_base64url_decode("AR", 2, out, sizeof(out), &n));   /* bits left */
    assert_false(webauthn_base64url_decode("A", 1, out, sizeof(out), &n));
    assert_false(webauthn_base64url_decode("AQ ID", 5, out, sizeof(out), &n));
    assert_false(webauthn_base64url_decode("AQIDBAUGBwgJ", 12, out, sizeof(out), &n)); /* 9 > 8 */
    assert_true(webauthn_base64url_decode("AQIDBAUGBwg", 11, out, sizeof(out), &n));
    assert_int_equal(n, 8);
}

/* ---- clientDataJSON ---- */

static void test_client_data(void **state)
{
    (void)state;
    struct webauthn_client_data cd;
    const char *why = NULL;
    const char *good = VEC_CLIENT_DATA_GET;
    assert_int_equal(webauthn_client_data_parse((const uint8_t *)good, strlen(good), &cd, &why),
                     TL_OK);
    assert_string_equal(cd.type, "webauthn.get");
    assert_string_equal(cd.origin, VEC_ORIGIN);
    assert_memory_equal(cd.challenge, vec_challenge, 32);
    assert_false(cd.cross_origin);
    static const char *const bad[] = {
        "",
        "[]",
        "{\"type\":\"webauthn.get\"}",
        "{\"type\":\"webauthn.get\",\"challenge\":\"AQID\",\"origin\":\"https://x\"}",
        "{\"type\":\"webauthn.get\",\"type\":\"webauthn.get\",\"challenge\":"
        "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\",\"origin\":\"https://x\"}",
        "{\"type\":\"webauthn.get\",\"challenge\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\","
        "\"origin\":\"https://x\",\"crossOrigin\":\"no\"}",
        "{\"type\":7,\"challenge\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\","
        "\"origin\":\"https://x\"}",
        "{\"type\":\"webauthn.get\",\"challenge\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\","
        "\"origin\":\"https://x\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(
            webauthn_client_data_parse((const uint8_t *)bad[i], strlen(bad[i]), &cd, &why),
            TL_ERR_INVALID_REQUEST);
        assert_non_null(why);
    }
    char *huge = malloc(WEBAUTHN_CLIENT_DATA_BYTES_MAX + 2);
    assert_non_null(huge);
    memset(huge, ' ', WEBAUTHN_CLIENT_DATA_BYTES_MAX + 1);
    assert_int_equal(webauthn_client_data_parse((const uint8_t *)huge,
                                                WEBAUTHN_CLIENT_DATA_BYTES_MAX + 1, &cd, &why),
                     TL_ERR_INVALID_REQUEST);
    free(huge);
}

/* ---- COSE keys ---- */

static void test_cose_keys(void **state)
{
    (void)state;
    struct webauthn_key key;
    const char *why = NULL;
    struct blob b = {.len = 0};
    cose_es256(&b, vec_p256_point);
    assert_int_equal(webauthn_cose_key_parse(b.bytes, b.len, &key, &why), TL_OK);
    assert_int_equal(key.alg, WEBAUTHN_ALG_ES256);
    assert_int_equal(key.bytes_len, 65);
    assert_memory_equal(key.bytes, vec_p256_point, 65);

    struct blob ed = {.len = 0};
    static const uint8_t ed_head[] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20};
    put(&ed, ed_head, sizeof(ed_head));
    put(&ed, vec_ed25519_key, 32);
    assert_int_equal(webauthn_cose_key_parse(ed.bytes, ed.len, &key, &why), TL_OK);
    assert_int_equal(key.alg, WEBAUTHN_ALG_EDDSA);
    assert_int_equal(key.bytes_len, 32);

    /* Trailing byte; wrong curve; y of another length; a point off the curve. */
    struct blob bad = b;
    put_byte(&bad, 0x00);
    assert_int_equal(webauthn_cose_key_parse(bad.bytes, bad.len, &key, &why),
                     TL_ERR_INVALID_REQUEST);
    bad = b;
    bad.bytes[6] = 0x02; /* crv P-384 */
    assert_int_equal(webauthn_cose_key_parse(bad.bytes, bad.len, &key, &why),
                     TL_ERR_INVALID_REQUEST);
    bad = b;
    bad.bytes[bad.len - 1] ^= 0x01; /* y changed: not on the curve */
    assert_int_equal(webauthn_cose_key_parse(bad.bytes, bad.len, &key, &why),
                     TL_ERR_INVALID_REQUEST);
    bad = b;
    bad.bytes[4] = 0x27; /* alg EdDSA with an EC2 key */
    assert_int_equal(webauthn_cose_key_parse(bad.bytes, bad.len, &key, &why),
                     TL_ERR_INVALID_REQUEST);
    /* Duplicate label: {1:2, 1:2, ...} as a 6-member map. */
    struct blob dup = {.len = 0};
    put_byte(&dup, 0xa6);
    put(&dup, "\x01\x02", 2);
    put(&dup, b.bytes + 1, b.len - 1);
    assert_int_equal(webauthn_cose_key_parse(dup.bytes, dup.len, &key, &why),
                     TL_ERR_INVALID_REQUEST);
    /* Indefinite-length map. */
    struct blob indef = {.len = 0};
    put_byte(&indef, 0xbf);
    put(&indef, b.bytes + 1, b.len - 1);
    put_byte(&indef, 0xff);
    assert_int_equal(webauthn_cose_key_parse(indef.bytes, indef.len, &key, &why),
                     TL_ERR_INVALID_REQUEST);
    /* Not a map; deep nesting; empty. */
    static const uint8_t array[] = {0x81, 0x01};
    assert_int_equal(webauthn_cose_key_parse(array, sizeof(array), &key, &why),
                     TL_ERR_INVALID_REQUEST);
    uint8_t deep[2000];
    memset(deep, 0x81, sizeof(deep));
    deep[sizeof(deep) - 1] = 0x01;
    assert_int_equal(webauthn_cose_key_parse(deep, sizeof(deep), &key, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(webauthn_cose_key_parse(deep, 0, &key, &why), TL_ERR_INVALID_REQUEST);
    /* A length claiming far more than there is. */
    static const uint8_t liar[] = {0xa1, 0x21, 0x5b, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    assert_int_equal(webauthn_cose_key_parse(liar, sizeof(liar), &key, &why),
                     TL_ERR_INVALID_REQUEST);
    /* Containers claiming more members than there are bytes (found by fuzz_webauthn: the
     * decoder allocated what the count said), a tag, and nesting past the limit. */
    static const uint8_t huge_map[] = {0xbb, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(webauthn_cose_key_parse(huge_map, sizeof(huge_map), &key, &why),
                     TL_ERR_INVALID_REQUEST);
    static const uint8_t huge_array[] = {0x9a, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02};
    assert_int_equal(webauthn_cose_key_parse(huge_array, sizeof(huge_array), &key, &why),
                     TL_ERR_INVALID_REQUEST);
    static const uint8_t tagged[] = {0xc0, 0xa0};
    assert_int_equal(webauthn_cose_key_parse(tagged, sizeof(tagged), &key, &why),
                     TL_ERR_INVALID_REQUEST);
    uint8_t nested[WEBAUTHN_CBOR_DEPTH_MAX + 2];
    memset(nested, 0xa1, sizeof(nested));
    nested[sizeof(nested) - 1] = 0xa0; /* {x: {x: ... {}}} with keys missing: never valid */
    assert_int_equal(webauthn_cose_key_parse(nested, sizeof(nested), &key, &why),
                     TL_ERR_INVALID_REQUEST);
}

/* ---- Authenticator data ---- */

static void test_auth_data(void **state)
{
    (void)state;
    struct webauthn_auth_data ad;
    const char *why = NULL;
    struct blob b = {.len = 0};
    reg_auth_data(&b, VEC_RP_ID, 0x45);
    assert_int_equal(webauthn_auth_data_parse(b.bytes, b.len, &ad, &why), TL_OK);
    assert_int_equal(ad.flags, 0x45);
    assert_int_equal(ad.credential_id_bytes, sizeof(vec_credential_id));
    assert_memory_equal(ad.credential_id, vec_credential_id, sizeof(vec_credential_id));
    assert_int_equal(ad.key.alg, WEBAUTHN_ALG_ES256);
    /* Every truncation fails. */
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(webauthn_auth_data_parse(b.bytes, n, &ad, &why), TL_ERR_INVALID_REQUEST);
    }
    /* Trailing bytes without ED; with ED they must be one CBOR map. */
    struct blob t = b;
    put_byte(&t, 0xa0);
    assert_int_equal(webauthn_auth_data_parse(t.bytes, t.len, &ad, &why), TL_ERR_INVALID_REQUEST);
    t.bytes[32] |= WEBAUTHN_FLAG_ED;
    assert_int_equal(webauthn_auth_data_parse(t.bytes, t.len, &ad, &why), TL_OK);
    t.bytes[t.len - 1] = 0x80; /* an array, not a map */
    assert_int_equal(webauthn_auth_data_parse(t.bytes, t.len, &ad, &why), TL_ERR_INVALID_REQUEST);
    /* Credential id length zero, and longer than the data. */
    struct blob z = b;
    z.bytes[37 + 16] = 0;
    z.bytes[37 + 17] = 0;
    assert_int_equal(webauthn_auth_data_parse(z.bytes, z.len, &ad, &why), TL_ERR_INVALID_REQUEST);
    z.bytes[37 + 16] = 0xff;
    assert_int_equal(webauthn_auth_data_parse(z.bytes, z.len, &ad, &why), TL_ERR_INVALID_REQUEST);
    /* Assertion data: header only, sign count read big-endian. */
    assert_int_equal(webauthn_auth_data_parse(vec_assertion_auth_data,
                                              sizeof(vec_assertion_auth_data), &ad, &why),
                     TL_OK);
    assert_int_equal(ad.sign_count, VEC_SIGN_COUNT);
    assert_int_equal(ad.credential_id_bytes, 0);
}

/* ---- Registration ---- */

static void test_register_none(void **state)
{
    (void)state;
    struct webauthn_auth_data out;
    const char *why = NULL;
    struct blob ad = {.len = 0};
    struct blob att = {.len = 0};
    reg_auth_data(&ad, VEC_RP_ID, 0x45);
    att_object(&att, "none", empty_map, sizeof(empty_map), ad.bytes, ad.len);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why), TL_OK);
    assert_memory_equal(out.credential_id, vec_credential_id, sizeof(vec_credential_id));
    assert_memory_equal(out.key.bytes, vec_p256_point, 65);
    assert_int_equal(out.sign_count, 0);

    /* The assertion's client data, another origin, another challenge, another RP. */
    assert_int_equal(register_none(VEC_CLIENT_DATA_GET, &att, &out, &why), TL_ERR_INVALID_REQUEST);
    const char *other_origin = "{\"type\":\"webauthn.create\",\"challenge\":"
                               "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\","
                               "\"origin\":\"https://evil.example\"}";
    assert_int_equal(register_none(other_origin, &att, &out, &why), TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "origin"));
    const char *other_challenge = "{\"type\":\"webauthn.create\",\"challenge\":"
                                  "\"AAIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\","
                                  "\"origin\":\"https://localhost:8443\"}";
    assert_int_equal(register_none(other_challenge, &att, &out, &why), TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "challenge"));
    const char *cross = "{\"type\":\"webauthn.create\",\"challenge\":"
                        "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\","
                        "\"origin\":\"https://localhost:8443\",\"crossOrigin\":true}";
    assert_int_equal(register_none(cross, &att, &out, &why), TL_ERR_INVALID_REQUEST);

    struct blob other_rp = {.len = 0};
    struct blob att2 = {.len = 0};
    reg_auth_data(&other_rp, "example.com", 0x45);
    att_object(&att2, "none", empty_map, sizeof(empty_map), other_rp.bytes, other_rp.len);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att2, &out, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "relying party"));
}

static void test_register_flags_and_formats(void **state)
{
    (void)state;
    struct webauthn_auth_data out;
    const char *why = NULL;
    static const struct {
        uint8_t flags;
        const char *why_part;
    } cases[] = {{0x44, "UP"}, {0x41, "UV"}, {0x05, "AT"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct blob ad = {.len = 0};
        struct blob att = {.len = 0};
        if (cases[i].flags & WEBAUTHN_FLAG_AT) {
            reg_auth_data(&ad, VEC_RP_ID, cases[i].flags);
        } else {
            uint8_t hash[32];
            webauthn_sha256(VEC_RP_ID, strlen(VEC_RP_ID), hash);
            put(&ad, hash, 32);
            put_byte(&ad, cases[i].flags);
            put(&ad, "\0\0\0\0", 4);
        }
        att_object(&att, "none", empty_map, sizeof(empty_map), ad.bytes, ad.len);
        assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why),
                         TL_ERR_INVALID_REQUEST);
        assert_non_null(strstr(why, cases[i].why_part));
    }
    struct blob ad = {.len = 0};
    reg_auth_data(&ad, VEC_RP_ID, 0x45);
    /* Another format; "none" with a statement; trailing bytes after the object. */
    struct blob att = {.len = 0};
    att_object(&att, "fido-u2f", empty_map, sizeof(empty_map), ad.bytes, ad.len);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why),
                     TL_ERR_INVALID_REQUEST);
    static const uint8_t stmt[] = {0xa1, 0x63, 'a', 'l', 'g', 0x26};
    att.len = 0;
    att_object(&att, "none", stmt, sizeof(stmt), ad.bytes, ad.len);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why),
                     TL_ERR_INVALID_REQUEST);
    att.len = 0;
    att_object(&att, "none", empty_map, sizeof(empty_map), ad.bytes, ad.len);
    put_byte(&att, 0x00);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why),
                     TL_ERR_INVALID_REQUEST);
}

/* A packed self attestation by the Ed25519 vector key (signed with the openssl CLI). */
static void packed_object(struct blob *att, const uint8_t *sig, size_t sig_len, bool x5c)
{
    struct blob stmt = {.len = 0};
    put_byte(&stmt, x5c ? 0xa3 : 0xa2);
    put(&stmt,
        "\x63"
        "alg",
        4);
    put_byte(&stmt, 0x27); /* -8 */
    put(&stmt,
        "\x63"
        "sig",
        4);
    put_byte(&stmt, 0x58);
    put_byte(&stmt, (uint8_t)sig_len);
    put(&stmt, sig, sig_len);
    if (x5c) {
        put(&stmt,
            "\x63"
            "x5c",
            4);
        put(&stmt, "\x81\x41\x00", 3);
    }
    att_object(att, "packed", stmt.bytes, stmt.len, vec_packed_auth_data,
               sizeof(vec_packed_auth_data));
}

static void test_register_packed(void **state)
{
    (void)state;
    struct webauthn_auth_data out;
    const char *why = NULL;
    struct blob att = {.len = 0};
    packed_object(&att, vec_packed_sig, sizeof(vec_packed_sig), false);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why), TL_OK);
    assert_int_equal(out.key.alg, WEBAUTHN_ALG_EDDSA);
    assert_memory_equal(out.key.bytes, vec_ed25519_key, 32);

    uint8_t bad_sig[sizeof(vec_packed_sig)];
    memcpy(bad_sig, vec_packed_sig, sizeof(bad_sig));
    bad_sig[5] ^= 0x10;
    att.len = 0;
    packed_object(&att, bad_sig, sizeof(bad_sig), false);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "signature"));
    att.len = 0;
    packed_object(&att, vec_packed_sig, sizeof(vec_packed_sig), true);
    assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &att, &out, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "certificate"));
}

/* Every truncation and every single-byte change of a valid attestation: no crash, and a
 * truncation is always refused. */
static void test_register_mutations(void **state)
{
    (void)state;
    struct webauthn_auth_data out;
    const char *why = NULL;
    struct blob ad = {.len = 0};
    struct blob att = {.len = 0};
    reg_auth_data(&ad, VEC_RP_ID, 0x45);
    att_object(&att, "none", empty_map, sizeof(empty_map), ad.bytes, ad.len);
    for (size_t n = 0; n < att.len; n++) {
        struct blob cut = att;
        cut.len = n;
        assert_int_equal(register_none(VEC_CLIENT_DATA_CREATE, &cut, &out, &why),
                         TL_ERR_INVALID_REQUEST);
    }
    static const uint8_t values[] = {0x00, 0x01, 0x17, 0x18, 0x1f, 0x20, 0x3b, 0x5f,
                                     0x7f, 0x9f, 0xa0, 0xbf, 0xc0, 0xf9, 0xfb, 0xff};
    size_t accepted = 0;
    for (size_t i = 0; i < att.len; i++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            struct blob m = att;
            if (m.bytes[i] == values[v]) {
                continue;
            }
            m.bytes[i] = values[v];
            if (register_none(VEC_CLIENT_DATA_CREATE, &m, &out, &why) == TL_OK) {
                accepted++;
                assert_true((out.flags & 0x05) == 0x05);
            }
        }
    }
    /* Only changes the ceremony does not cover (AAGUID, counter, reserved flags, credential id
     * bytes) can pass. */
    assert_true(accepted < att.len * sizeof(values) / 2);
}

/* ---- Assertions ---- */

static enum tl_err assert_vec(const struct webauthn_key *key, const uint8_t *ad, size_t ad_len,
                              const uint8_t *sig, size_t sig_len, uint32_t *count, const char **why)
{
    struct webauthn_expect e = expect_default();
    const char *cd = VEC_CLIENT_DATA_GET;
    return webauthn_assert_verify(&e, key, (const uint8_t *)cd, strlen(cd), ad, ad_len, sig,
                                  sig_len, count, why);
}

static void test_assert_signatures(void **state)
{
    (void)state;
    struct webauthn_key es = {.alg = WEBAUTHN_ALG_ES256, .bytes_len = 65};
    struct webauthn_key ed = {.alg = WEBAUTHN_ALG_EDDSA, .bytes_len = 32};
    memcpy(es.bytes, vec_p256_point, 65);
    memcpy(ed.bytes, vec_ed25519_key, 32);
    uint32_t count = 0;
    const char *why = NULL;
    assert_int_equal(assert_vec(&es, vec_assertion_auth_data, sizeof(vec_assertion_auth_data),
                                vec_sig_es256, sizeof(vec_sig_es256), &count, &why),
                     TL_OK);
    assert_int_equal(count, VEC_SIGN_COUNT);
    assert_int_equal(assert_vec(&ed, vec_assertion_auth_data, sizeof(vec_assertion_auth_data),
                                vec_sig_ed25519, sizeof(vec_sig_ed25519), &count, &why),
                     TL_OK);
    /* Crossed keys and signatures. */
    assert_int_equal(assert_vec(&ed, vec_assertion_auth_data, sizeof(vec_assertion_auth_data),
                                vec_sig_es256, sizeof(vec_sig_es256), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(assert_vec(&es, vec_assertion_auth_data, sizeof(vec_assertion_auth_data),
                                vec_sig_ed25519, sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    /* Every bit of each signature matters. */
    for (size_t i = 0; i < sizeof(vec_sig_ed25519) * 8; i++) {
        uint8_t sig[sizeof(vec_sig_ed25519)];
        memcpy(sig, vec_sig_ed25519, sizeof(sig));
        sig[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(assert_vec(&ed, vec_assertion_auth_data, sizeof(vec_assertion_auth_data),
                                    sig, sizeof(sig), &count, &why),
                         TL_ERR_INVALID_REQUEST);
    }
    for (size_t i = 0; i < sizeof(vec_sig_es256); i++) {
        uint8_t sig[sizeof(vec_sig_es256)];
        memcpy(sig, vec_sig_es256, sizeof(sig));
        sig[i] ^= 0x01;
        assert_int_equal(assert_vec(&es, vec_assertion_auth_data, sizeof(vec_assertion_auth_data),
                                    sig, sizeof(sig), &count, &why),
                         TL_ERR_INVALID_REQUEST);
    }
    /* The counter is signed: a changed count breaks the signature. */
    uint8_t ad[sizeof(vec_assertion_auth_data)];
    memcpy(ad, vec_assertion_auth_data, sizeof(ad));
    ad[36] = 8;
    assert_int_equal(
        assert_vec(&es, ad, sizeof(ad), vec_sig_es256, sizeof(vec_sig_es256), &count, &why),
        TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "signature"));
    /* Flags are checked before the signature. */
    memcpy(ad, vec_assertion_auth_data, sizeof(ad));
    ad[32] = 0x01;
    assert_int_equal(
        assert_vec(&es, ad, sizeof(ad), vec_sig_es256, sizeof(vec_sig_es256), &count, &why),
        TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "UV"));
    ad[32] = 0x04;
    assert_int_equal(
        assert_vec(&es, ad, sizeof(ad), vec_sig_es256, sizeof(vec_sig_es256), &count, &why),
        TL_ERR_INVALID_REQUEST);
    assert_non_null(strstr(why, "UP"));
    /* Registration client data is refused for an assertion. */
    struct webauthn_expect e = expect_default();
    const char *create = VEC_CLIENT_DATA_CREATE;
    assert_int_equal(webauthn_assert_verify(&e, &es, (const uint8_t *)create, strlen(create),
                                            vec_assertion_auth_data,
                                            sizeof(vec_assertion_auth_data), vec_sig_es256,
                                            sizeof(vec_sig_es256), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    /* An empty or oversized signature. */
    assert_false(webauthn_signature_verify(&es, ad, sizeof(ad), vec_sig_es256, 0));
    assert_false(webauthn_signature_verify(&es, ad, sizeof(ad), vec_sig_es256,
                                           WEBAUTHN_SIGNATURE_BYTES_MAX + 1));
}

static void test_sign_count(void **state)
{
    (void)state;
    assert_true(webauthn_sign_count_ok(0, 0));
    assert_true(webauthn_sign_count_ok(0, 1));
    assert_true(webauthn_sign_count_ok(5, 6));
    assert_true(webauthn_sign_count_ok(5, UINT32_MAX));
    assert_false(webauthn_sign_count_ok(5, 5));
    assert_false(webauthn_sign_count_ok(5, 4));
    assert_false(webauthn_sign_count_ok(5, 0));
    assert_false(webauthn_sign_count_ok(UINT32_MAX, UINT32_MAX));
    assert_string_equal(webauthn_alg_name(WEBAUTHN_ALG_ES256), "ES256");
    assert_string_equal(webauthn_alg_name(WEBAUTHN_ALG_EDDSA), "EdDSA");
    assert_string_equal(webauthn_alg_name(-257), "unknown");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_base64url),         cmocka_unit_test(test_client_data),
    cmocka_unit_test(test_cose_keys),         cmocka_unit_test(test_auth_data),
    cmocka_unit_test(test_register_none),     cmocka_unit_test(test_register_flags_and_formats),
    cmocka_unit_test(test_register_packed),   cmocka_unit_test(test_register_mutations),
    cmocka_unit_test(test_assert_signatures), cmocka_unit_test(test_sign_count),
};

TL_TEST_MAIN(tests)
