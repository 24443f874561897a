/*
 * test_stepup_proof.c - a passkey answering a step-up challenge (auth/stepup_proof.h), with the
 * openssl-made assertion vectors of test_webauthn.c: the challenge is matched by its stored
 * SHA-256, and every other WebAuthn check still applies.
 */
#include "auth/stepup_proof.h"

#include <string.h>

#include "test.h"
#include "webauthn_vectors.h"

static void key_ed25519(struct webauthn_key *k)
{
    memset(k, 0, sizeof(*k));
    k->alg = WEBAUTHN_ALG_EDDSA;
    memcpy(k->bytes, vec_ed25519_key, sizeof(vec_ed25519_key));
    k->bytes_len = sizeof(vec_ed25519_key);
}

static void key_es256(struct webauthn_key *k)
{
    memset(k, 0, sizeof(*k));
    k->alg = WEBAUTHN_ALG_ES256;
    memcpy(k->bytes, vec_p256_point, sizeof(vec_p256_point));
    k->bytes_len = sizeof(vec_p256_point);
}

static enum tl_err prove(const char *origin, const uint8_t stored[WEBAUTHN_HASH_BYTES],
                         const struct webauthn_key *key, const char *client_data,
                         const uint8_t *sig, size_t sig_bytes, uint32_t *count, const char **why)
{
    return stepup_proof_passkey(VEC_RP_ID, origin, stored, key, (const uint8_t *)client_data,
                                strlen(client_data), vec_assertion_auth_data,
                                sizeof(vec_assertion_auth_data), sig, sig_bytes, count, why);
}

static void test_accepts_the_challenge_by_hash(void **state)
{
    (void)state;
    struct webauthn_key ed, es;
    uint8_t stored[WEBAUTHN_HASH_BYTES];
    uint32_t count = 0;
    const char *why = NULL;
    key_ed25519(&ed);
    key_es256(&es);
    webauthn_sha256(vec_challenge, sizeof(vec_challenge), stored);
    assert_int_equal(prove(VEC_ORIGIN, stored, &ed, VEC_CLIENT_DATA_GET, vec_sig_ed25519,
                           sizeof(vec_sig_ed25519), &count, &why),
                     TL_OK);
    assert_int_equal(count, VEC_SIGN_COUNT);
    count = 0;
    assert_int_equal(prove(VEC_ORIGIN, stored, &es, VEC_CLIENT_DATA_GET, vec_sig_es256,
                           sizeof(vec_sig_es256), &count, &why),
                     TL_OK);
    assert_int_equal(count, VEC_SIGN_COUNT);
}

static void test_refuses_another_challenge(void **state)
{
    (void)state;
    struct webauthn_key ed;
    uint8_t stored[WEBAUTHN_HASH_BYTES];
    uint8_t other[32];
    uint32_t count = 0;
    const char *why = NULL;
    key_ed25519(&ed);
    memcpy(other, vec_challenge, sizeof(other));
    other[0] ^= 1;
    webauthn_sha256(other, sizeof(other), stored);
    assert_int_equal(prove(VEC_ORIGIN, stored, &ed, VEC_CLIENT_DATA_GET, vec_sig_ed25519,
                           sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_string_equal(why, "the assertion is for another challenge");
    /* The raw challenge in place of its hash is another challenge too. */
    memcpy(stored, vec_challenge, sizeof(stored));
    assert_int_equal(prove(VEC_ORIGIN, stored, &ed, VEC_CLIENT_DATA_GET, vec_sig_ed25519,
                           sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    /* A challenge that offered no passkey (zeros) takes none. */
    memset(stored, 0, sizeof(stored));
    assert_int_equal(prove(VEC_ORIGIN, stored, &ed, VEC_CLIENT_DATA_GET, vec_sig_ed25519,
                           sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_string_equal(why, "this challenge offered no passkey");
}

static void test_refuses_what_webauthn_refuses(void **state)
{
    (void)state;
    struct webauthn_key ed, es;
    uint8_t stored[WEBAUTHN_HASH_BYTES];
    uint8_t sig[sizeof(vec_sig_ed25519)];
    uint32_t count = 0;
    const char *why = NULL;
    key_ed25519(&ed);
    key_es256(&es);
    webauthn_sha256(vec_challenge, sizeof(vec_challenge), stored);
    memcpy(sig, vec_sig_ed25519, sizeof(sig));
    sig[10] ^= 0x40;
    assert_int_equal(prove(VEC_ORIGIN, stored, &ed, VEC_CLIENT_DATA_GET, sig, sizeof(sig), &count,
                           &why),
                     TL_ERR_INVALID_REQUEST);
    /* Another key type than the credential's, another origin, a registration's client data. */
    assert_int_equal(prove(VEC_ORIGIN, stored, &es, VEC_CLIENT_DATA_GET, vec_sig_ed25519,
                           sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(prove("https://evil.example", stored, &ed, VEC_CLIENT_DATA_GET,
                           vec_sig_ed25519, sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(prove(VEC_ORIGIN, stored, &ed, VEC_CLIENT_DATA_CREATE, vec_sig_ed25519,
                           sizeof(vec_sig_ed25519), &count, &why),
                     TL_ERR_INVALID_REQUEST);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_accepts_the_challenge_by_hash),
    cmocka_unit_test(test_refuses_another_challenge),
    cmocka_unit_test(test_refuses_what_webauthn_refuses),
};

TL_TEST_MAIN(tests)
