// fuzz-sources: src/auth/webauthn.c
// fuzz-libs: -lcbor -ljansson -lcrypto
// fuzz-args: -max_len=8192
/*
 * fuzz_webauthn.c - libFuzzer target for the WebAuthn parsers (src/auth/webauthn.h): what a
 * browser, or anyone posing as one, sends to POST /v1/me/passkeys and POST
 * /v1/sessions/passkey. The first byte picks the parser, the rest is its input:
 *   0  attestationObject through webauthn_register_verify (fixed clientDataJSON)
 *   1  authenticator data through webauthn_auth_data_parse
 *   2  a COSE key through webauthn_cose_key_parse
 *   3  clientDataJSON through webauthn_client_data_parse
 *   4  base64url through webauthn_base64url_decode
 *   5  authenticatorData of an assertion through webauthn_assert_verify (fixed key and sig)
 * Properties checked beyond "no crash" (ASan and UBSan are on):
 *   - a refusal always names a reason (*why non-NULL) and leaves the output untouched;
 *   - an accepted registration has UP, UV and AT set, the RP id's hash, a credential id of
 *     1..1023 bytes and a key whose length fits its algorithm, and is accepted again (pure);
 *   - accepted authenticator data agrees with its fixed header (flags byte, big-endian count)
 *     and carries a credential exactly when AT is set;
 *   - an accepted COSE key re-encodes canonically to a key that parses to the same bytes;
 *   - accepted base64url re-encodes to exactly the input (one spelling per value);
 *   - the assertion is never accepted: the signature is over other data.
 * Seed corpus: tests/fuzz/corpus/webauthn/ (the unit tests' vectors).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/webauthn.h"
#include "util/assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CD_CREATE                                                                                  \
    "{\"type\":\"webauthn.create\",\"challenge\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\"," \
    "\"origin\":\"https://localhost:8443\",\"crossOrigin\":false}"
#define CD_GET                                                                                     \
    "{\"type\":\"webauthn.get\",\"challenge\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\","    \
    "\"origin\":\"https://localhost:8443\",\"crossOrigin\":false}"

static const uint8_t challenge[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode_b64url(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    }
    return o;
}

static void check_registration(const uint8_t *in, size_t n)
{
    struct webauthn_expect expect = {"localhost", "https://localhost:8443", challenge};
    static struct webauthn_auth_data out, again;
    const char *why = NULL;
    uint8_t rp_hash[32];
    memset(&out, 0xa5, sizeof(out));
    enum tl_err err = webauthn_register_verify(&expect, (const uint8_t *)CD_CREATE,
                                               strlen(CD_CREATE), in, n, &out, &why);
    if (err != TL_OK) {
        TL_ASSERT(err == TL_ERR_INVALID_REQUEST);
        TL_ASSERT(why != NULL);
        TL_ASSERT(out.flags == 0xa5 && out.sign_count == 0xa5a5a5a5u);
        return;
    }
    webauthn_sha256("localhost", 9, rp_hash);
    TL_ASSERT(memcmp(out.rp_id_hash, rp_hash, 32) == 0);
    TL_ASSERT((out.flags & (WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_UV | WEBAUTHN_FLAG_AT)) ==
              (WEBAUTHN_FLAG_UP | WEBAUTHN_FLAG_UV | WEBAUTHN_FLAG_AT));
    TL_ASSERT(out.credential_id_bytes >= 1);
    TL_ASSERT(out.credential_id_bytes <= WEBAUTHN_CREDENTIAL_ID_BYTES_MAX);
    TL_ASSERT(out.key.bytes_len == (out.key.alg == WEBAUTHN_ALG_ES256 ? 65u : 32u));
    TL_ASSERT(out.key.alg == WEBAUTHN_ALG_ES256 || out.key.alg == WEBAUTHN_ALG_EDDSA);
    TL_ASSERT(webauthn_register_verify(&expect, (const uint8_t *)CD_CREATE, strlen(CD_CREATE), in,
                                       n, &again, &why) == TL_OK);
    TL_ASSERT(memcmp(&out, &again, sizeof(out)) == 0);
}

static void check_auth_data(const uint8_t *in, size_t n)
{
    static struct webauthn_auth_data out;
    const char *why = NULL;
    if (webauthn_auth_data_parse(in, n, &out, &why) != TL_OK) {
        TL_ASSERT(why != NULL);
        return;
    }
    TL_ASSERT(n >= 37);
    TL_ASSERT(out.flags == in[32]);
    TL_ASSERT(out.sign_count ==
              ((uint32_t)in[33] << 24 | (uint32_t)in[34] << 16 | (uint32_t)in[35] << 8 | in[36]));
    TL_ASSERT(((out.flags & WEBAUTHN_FLAG_AT) != 0) == (out.credential_id_bytes != 0));
    TL_ASSERT(memcmp(out.rp_id_hash, in, 32) == 0);
}

/* A canonical COSE encoding of key (what webauthn.c accepts). */
static size_t encode_cose(const struct webauthn_key *key, uint8_t *out)
{
    size_t o = 0;
    if (key->alg == WEBAUTHN_ALG_ES256) {
        static const uint8_t head[] = {0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20};
        memcpy(out, head, sizeof(head));
        o = sizeof(head);
        memcpy(out + o, key->bytes + 1, 32);
        o += 32;
        out[o++] = 0x22;
        out[o++] = 0x58;
        out[o++] = 0x20;
        memcpy(out + o, key->bytes + 33, 32);
        return o + 32;
    }
    static const uint8_t head[] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20};
    memcpy(out, head, sizeof(head));
    memcpy(out + sizeof(head), key->bytes, 32);
    return sizeof(head) + 32;
}

static void check_cose(const uint8_t *in, size_t n)
{
    struct webauthn_key key, again;
    const char *why = NULL;
    uint8_t canonical[128];
    if (webauthn_cose_key_parse(in, n, &key, &why) != TL_OK) {
        TL_ASSERT(why != NULL);
        return;
    }
    size_t len = encode_cose(&key, canonical);
    TL_ASSERT(webauthn_cose_key_parse(canonical, len, &again, &why) == TL_OK);
    TL_ASSERT(again.alg == key.alg);
    TL_ASSERT(again.bytes_len == key.bytes_len);
    TL_ASSERT(memcmp(again.bytes, key.bytes, key.bytes_len) == 0);
}

static void check_client_data(const uint8_t *in, size_t n)
{
    struct webauthn_client_data cd;
    const char *why = NULL;
    if (webauthn_client_data_parse(in, n, &cd, &why) != TL_OK) {
        TL_ASSERT(why != NULL);
        return;
    }
    TL_ASSERT(cd.type[0] != '\0');
    TL_ASSERT(cd.origin[0] != '\0');
    TL_ASSERT(memchr(cd.type, '\0', sizeof(cd.type)) != NULL);
    TL_ASSERT(memchr(cd.origin, '\0', sizeof(cd.origin)) != NULL);
}

static void check_base64url(const uint8_t *in, size_t n)
{
    static uint8_t bytes[8192];
    static char text[8192 * 2];
    size_t len = 0;
    if (!webauthn_base64url_decode((const char *)in, n, bytes, sizeof(bytes), &len)) {
        return;
    }
    TL_ASSERT(len == n * 3 / 4);
    TL_ASSERT(encode_b64url(bytes, len, text) == n);
    TL_ASSERT(memcmp(text, in, n) == 0);
}

static void check_assertion(const uint8_t *in, size_t n)
{
    struct webauthn_expect expect = {"localhost", "https://localhost:8443", challenge};
    struct webauthn_key key = {.alg = WEBAUTHN_ALG_EDDSA, .bytes_len = 32};
    static const uint8_t sig[64] = {1};
    uint32_t count = 0;
    const char *why = NULL;
    memset(key.bytes, 0x11, 32);
    enum tl_err err = webauthn_assert_verify(&expect, &key, (const uint8_t *)CD_GET, strlen(CD_GET),
                                             in, n, sig, sizeof(sig), &count, &why);
    TL_ASSERT(err == TL_ERR_INVALID_REQUEST);
    TL_ASSERT(why != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        check_registration(in, n);
        break;
    case 1:
        check_auth_data(in, n);
        break;
    case 2:
        check_cose(in, n);
        break;
    case 3:
        check_client_data(in, n);
        break;
    case 4:
        check_base64url(in, n);
        break;
    default:
        check_assertion(in, n);
        break;
    }
    return 0;
}
