/*
 * test_totp.c - one-time passwords (src/auth/totp.c) against the RFCs' own vectors (RFC 4226
 * appendix D, RFC 6238 appendix B for HMAC-SHA1, RFC 4648 section 10 for base32), the
 * verification window and replay rule, and the second-factor secrets of src/auth/mfa.c
 * (sealing bound to the user, recovery codes, challenges).
 */
#include "test.h"

#include <string.h>

#include "auth/mfa.h"
#include "auth/totp.h"

static const uint8_t rfc_key[20] = "12345678901234567890";

static void test_hotp_rfc4226(void **state)
{
    (void)state;
    static const uint32_t expected[10] = {755224, 287082, 359152, 969429, 338314,
                                          254676, 287922, 162583, 399871, 520489};
    for (uint64_t counter = 0; counter < 10; counter++) {
        assert_int_equal(totp_hotp(rfc_key, sizeof(rfc_key), counter, 6), expected[counter]);
    }
}

static void test_totp_rfc6238(void **state)
{
    (void)state;
    static const struct {
        uint64_t unix_s;
        uint32_t code;
    } vectors[] = {
        {59u, 94287082u},         {1111111109u, 7081804u},  {1111111111u, 14050471u},
        {1234567890u, 89005924u}, {2000000000u, 69279037u}, {20000000000u, 65353130u},
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint64_t step = totp_step_of(vectors[i].unix_s);
        assert_int_equal(totp_hotp(rfc_key, sizeof(rfc_key), step, 8), vectors[i].code);
        /* The 6-digit code is the last six digits of the 8-digit one. */
        assert_int_equal(totp_hotp(rfc_key, sizeof(rfc_key), step, 6), vectors[i].code % 1000000u);
    }
}

static void code_of(uint64_t unix_s, char out[7])
{
    snprintf(out, 7, "%06u", totp_hotp(rfc_key, sizeof(rfc_key), totp_step_of(unix_s), 6));
}

static void test_verify_window_and_replay(void **state)
{
    (void)state;
    const uint64_t now = 1111111111u; /* step 37037037 */
    const uint64_t step = totp_step_of(now);
    char code[7];
    uint64_t matched = 0;

    code_of(now, code);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, code, 6, &matched), TL_OK);
    assert_int_equal(matched, step);
    /* The same code again after its step was used: refused. */
    assert_int_equal(totp_verify(rfc_key, 20, now, step, code, 6, &matched), TL_ERR_UNAUTHORIZED);
    /* One step old: accepted (matched is that older step). */
    code_of(now - 30, code);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, code, 6, &matched), TL_OK);
    assert_int_equal(matched, step - 1);
    /* ... but not once the current step was used. */
    assert_int_equal(totp_verify(rfc_key, 20, now, step, code, 6, &matched), TL_ERR_UNAUTHORIZED);
    /* Two steps old, and one step ahead: refused. */
    code_of(now - 60, code);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, code, 6, &matched), TL_ERR_UNAUTHORIZED);
    code_of(now + 30, code);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, code, 6, &matched), TL_ERR_UNAUTHORIZED);
    /* Shapes that cannot be a code. */
    code_of(now, code);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, code, 5, &matched), TL_ERR_UNAUTHORIZED);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, "12a456", 6, &matched), TL_ERR_UNAUTHORIZED);
    assert_int_equal(totp_verify(rfc_key, 20, now, 0, "", 0, &matched), TL_ERR_UNAUTHORIZED);
}

static void test_base32_rfc4648(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",        "MY",       "MZXQ",      "MZXW6",
                                        "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    for (size_t i = 0; i < 7; i++) {
        char out[32];
        uint8_t back[16];
        size_t back_bytes = 99;
        size_t len = strlen(plain[i]);
        totp_base32_encode((const uint8_t *)plain[i], len, out, sizeof(out));
        assert_string_equal(out, coded[i]);
        assert_int_equal(totp_base32_decode(out, strlen(out), back, sizeof(back), &back_bytes),
                         TL_OK);
        assert_int_equal(back_bytes, len);
        assert_memory_equal(back, plain[i], len);
    }
    uint8_t back[4];
    size_t n = 0;
    assert_int_equal(totp_base32_decode("MZ1W", 4, back, sizeof(back), &n), TL_ERR_INVALID_REQUEST);
    assert_int_equal(totp_base32_decode("MZXW6YTBOI", 10, back, sizeof(back), &n),
                     TL_ERR_INVALID_REQUEST);
}

static struct mfa_key key_of(uint8_t fill)
{
    uint8_t secret[32];
    struct mfa_key key;
    memset(secret, fill, sizeof(secret));
    assert_int_equal(mfa_key_derive(secret, sizeof(secret), &key), TL_OK);
    return key;
}

static void test_seal_bound_to_user_and_key(void **state)
{
    (void)state;
    struct mfa_key key = key_of(1);
    struct mfa_key other_key = key_of(2);
    struct id128 alice = id128_make(1, 1);
    struct id128 bob = id128_make(1, 2);
    uint8_t secret[TOTP_SECRET_BYTES];
    uint8_t sealed[MFA_SEALED_BYTES_MAX];
    uint8_t opened[TOTP_SECRET_BYTES_MAX];
    size_t sealed_bytes = 0;
    size_t opened_bytes = 0;

    mfa_totp_secret_new(secret);
    mfa_totp_seal(&key, alice, secret, sizeof(secret), sealed, &sealed_bytes);
    assert_int_equal(sealed_bytes, sizeof(secret) + 40);
    assert_null(memmem(sealed, sealed_bytes, secret, sizeof(secret)));
    assert_int_equal(mfa_totp_open(&key, alice, sealed, sealed_bytes, opened, &opened_bytes),
                     TL_OK);
    assert_int_equal(opened_bytes, sizeof(secret));
    assert_memory_equal(opened, secret, sizeof(secret));
    assert_int_equal(mfa_totp_open(&key, bob, sealed, sealed_bytes, opened, &opened_bytes),
                     TL_ERR_CORRUPT);
    assert_int_equal(mfa_totp_open(&other_key, alice, sealed, sealed_bytes, opened, &opened_bytes),
                     TL_ERR_CORRUPT);
    sealed[sealed_bytes - 1] ^= 1;
    assert_int_equal(mfa_totp_open(&key, alice, sealed, sealed_bytes, opened, &opened_bytes),
                     TL_ERR_CORRUPT);
    assert_int_equal(mfa_totp_open(&key, alice, sealed, 10, opened, &opened_bytes), TL_ERR_CORRUPT);
}

static void test_recovery_codes(void **state)
{
    (void)state;
    struct mfa_key key = key_of(3);
    struct id128 alice = id128_make(1, 1);
    char codes[MFA_RECOVERY_CODE_COUNT][MFA_RECOVERY_CODE_STR_BYTES];
    uint8_t hashes[MFA_RECOVERY_CODE_COUNT][MFA_HASH_BYTES];
    uint8_t hash[MFA_HASH_BYTES];

    mfa_recovery_codes_new(&key, alice, codes, hashes);
    for (size_t i = 0; i < MFA_RECOVERY_CODE_COUNT; i++) {
        assert_int_equal(strlen(codes[i]), 11);
        assert_int_equal(codes[i][5], '-');
        assert_int_equal(mfa_recovery_code_hash(&key, alice, codes[i], 11, hash), TL_OK);
        assert_memory_equal(hash, hashes[i], MFA_HASH_BYTES);
        for (size_t j = 0; j < i; j++) {
            assert_memory_not_equal(hashes[i], hashes[j], MFA_HASH_BYTES);
        }
    }
    /* Case, dashes and spaces do not matter; the user does. */
    char typed[32];
    snprintf(typed, sizeof(typed), " %.5s %.5s ", codes[0], codes[0] + 6);
    for (char *c = typed; *c != '\0'; c++) {
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    }
    assert_int_equal(mfa_recovery_code_hash(&key, alice, typed, strlen(typed), hash), TL_OK);
    assert_memory_equal(hash, hashes[0], MFA_HASH_BYTES);
    assert_int_equal(mfa_recovery_code_hash(&key, id128_make(1, 2), codes[0], 11, hash), TL_OK);
    assert_memory_not_equal(hash, hashes[0], MFA_HASH_BYTES);
    assert_int_equal(mfa_recovery_code_hash(&key, alice, "abcde-fgh1j", 11, hash),
                     TL_ERR_INVALID_REQUEST);
    assert_int_equal(mfa_recovery_code_hash(&key, alice, "abcde", 5, hash), TL_ERR_INVALID_REQUEST);
}

static void test_challenges(void **state)
{
    (void)state;
    struct mfa_key key = key_of(4);
    char challenge[MFA_CHALLENGE_STR_BYTES];
    uint8_t hash[MFA_HASH_BYTES];
    uint8_t again[MFA_HASH_BYTES];

    mfa_challenge_new(&key, challenge, hash);
    assert_int_equal(strncmp(challenge, "mfa_", 4), 0);
    assert_int_equal(mfa_challenge_hash(&key, challenge, strlen(challenge), again), TL_OK);
    assert_memory_equal(hash, again, MFA_HASH_BYTES);
    challenge[10] = challenge[10] == 'A' ? 'B' : 'A';
    assert_int_equal(mfa_challenge_hash(&key, challenge, strlen(challenge), again), TL_OK);
    assert_memory_not_equal(hash, again, MFA_HASH_BYTES);
    challenge[10] = '!';
    assert_int_equal(mfa_challenge_hash(&key, challenge, strlen(challenge), again),
                     TL_ERR_UNAUTHORIZED);
    assert_int_equal(mfa_challenge_hash(&key, "tly_x", 5, again), TL_ERR_UNAUTHORIZED);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hotp_rfc4226),
    cmocka_unit_test(test_totp_rfc6238),
    cmocka_unit_test(test_verify_window_and_replay),
    cmocka_unit_test(test_base32_rfc4648),
    cmocka_unit_test(test_seal_bound_to_user_and_key),
    cmocka_unit_test(test_recovery_codes),
    cmocka_unit_test(test_challenges),
};

TL_TEST_MAIN(tests)
