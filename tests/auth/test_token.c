/*
 * test_token.c - session tokens (src/auth/token.c): shape, round trip, keyed hashing,
 * tampering and malformed input.
 */
#include "test.h"

#include <sodium.h>
#include <string.h>

#include "auth/token.h"

static const uint8_t secret_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t secret_b[32] = "fedcba9876543210fedcba9876543210";

static struct token_key key_from(const uint8_t *secret, size_t bytes)
{
    struct token_key key;
    assert_int_equal(token_key_init(&key, secret, bytes), TL_OK);
    return key;
}

static void test_key_bounds(void **state)
{
    (void)state;
    uint8_t secret[TOKEN_SECRET_BYTES_MAX + 1];
    struct token_key key;
    memset(secret, 7, sizeof secret);
    memset(&key, 0x5a, sizeof key);
    assert_int_equal(token_key_init(&key, secret, TOKEN_SECRET_BYTES_MIN - 1), TL_ERR_LIMIT);
    assert_int_equal(token_key_init(&key, secret, TOKEN_SECRET_BYTES_MAX + 1), TL_ERR_LIMIT);
    assert_int_equal(key.secret_bytes, 0x5a5a5a5a5a5a5a5aull);
    assert_int_equal(token_key_init(&key, secret, TOKEN_SECRET_BYTES_MIN), TL_OK);
    assert_int_equal(token_key_init(&key, secret, TOKEN_SECRET_BYTES_MAX), TL_OK);
    assert_int_equal(key.secret_bytes, TOKEN_SECRET_BYTES_MAX);
    token_key_wipe(&key);
    assert_int_equal(key.secret_bytes, 0);
    assert_int_equal(key.secret[0], 0);
}

static void test_new_shape(void **state)
{
    (void)state;
    struct token_key key = key_from(secret_a, sizeof secret_a);
    char token[TOKEN_STR_BYTES];
    struct token_hash hash;
    uint8_t raw[64];
    size_t raw_bytes = 0;

    token_new(&key, token, &hash);
    assert_int_equal(strlen(token), TOKEN_LEN);
    assert_int_equal(strlen(token), 47);
    assert_memory_equal(token, "tly_", 4);
    assert_true(token_wellformed(token, TOKEN_LEN));
    /* The body is 32 bytes of base64url without padding. */
    assert_int_equal(sodium_base642bin(raw, sizeof raw, token + 4, TOKEN_BODY_LEN, NULL, &raw_bytes,
                                       NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(raw_bytes, TOKEN_RANDOM_BYTES);
}

/* The stored hash is BLAKE2b-256 of the token string keyed with the server secret. */
static void test_hash_is_keyed_blake2b(void **state)
{
    (void)state;
    struct token_key key = key_from(secret_a, sizeof secret_a);
    char token[TOKEN_STR_BYTES];
    struct token_hash hash;
    uint8_t expected[32];

    token_new(&key, token, &hash);
    assert_int_equal(crypto_generichash(expected, sizeof expected, (const uint8_t *)token,
                                        TOKEN_LEN, secret_a, sizeof secret_a),
                     0);
    assert_memory_equal(hash.bytes, expected, sizeof expected);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct token_key key = key_from(secret_a, sizeof secret_a);
    for (int i = 0; i < 200; i++) {
        char token[TOKEN_STR_BYTES];
        struct token_hash made;
        struct token_hash presented;
        token_new(&key, token, &made);
        assert_int_equal(token_hash_presented(&key, token, strlen(token), &presented), TL_OK);
        assert_true(token_hash_equal(&made, &presented));
    }
}

static void test_tokens_differ(void **state)
{
    (void)state;
    struct token_key key = key_from(secret_a, sizeof secret_a);
    char t1[TOKEN_STR_BYTES];
    char t2[TOKEN_STR_BYTES];
    struct token_hash h1;
    struct token_hash h2;
    token_new(&key, t1, &h1);
    token_new(&key, t2, &h2);
    assert_string_not_equal(t1, t2);
    assert_false(token_hash_equal(&h1, &h2));
}

/* Another server secret gives another hash: a leaked sessions table is useless alone. */
static void test_other_key(void **state)
{
    (void)state;
    struct token_key a = key_from(secret_a, sizeof secret_a);
    struct token_key b = key_from(secret_b, sizeof secret_b);
    char token[TOKEN_STR_BYTES];
    struct token_hash made;
    struct token_hash with_b;
    token_new(&a, token, &made);
    assert_int_equal(token_hash_presented(&b, token, TOKEN_LEN, &with_b), TL_OK);
    assert_false(token_hash_equal(&made, &with_b));
}

/* Changing any one body character to another valid one still parses but no longer matches. */
static void test_tamper(void **state)
{
    (void)state;
    struct token_key key = key_from(secret_a, sizeof secret_a);
    char token[TOKEN_STR_BYTES];
    struct token_hash made;
    token_new(&key, token, &made);
    for (size_t i = TOKEN_PREFIX_LEN; i < TOKEN_LEN; i++) {
        char copy[TOKEN_STR_BYTES];
        struct token_hash hash;
        memcpy(copy, token, sizeof copy);
        /* 'A' and 'Q' have low two bits 00 (values 0 and 16), so the last character stays
         * canonical too. */
        copy[i] = copy[i] == 'A' ? 'Q' : 'A';
        assert_int_equal(token_hash_presented(&key, copy, TOKEN_LEN, &hash), TL_OK);
        assert_false(token_hash_equal(&made, &hash));
    }
}

static void test_malformed(void **state)
{
    (void)state;
    struct token_key key = key_from(secret_a, sizeof secret_a);
    char good[TOKEN_STR_BYTES];
    struct token_hash made;
    token_new(&key, good, &made);

    struct {
        size_t index; /* character to replace */
        char with;
    } edits[] = {
        {0, 'T'},
        {3, '-'},
        {0, 'x'},
        {4, '+'},
        {10, '/'},
        {20, '='},
        {30, ' '},
        {40, '.'},
        {46, '='},
        {5, '\0'},
        {6, '\xff'},
        /* a last character whose low two bits are not zero: not the canonical spelling */
        {46, 'B'},
        {46, 'b'},
        {46, '_'},
        {46, '1'},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char copy[TOKEN_STR_BYTES];
        struct token_hash hash;
        memset(&hash, 0x5a, sizeof hash);
        memcpy(copy, good, sizeof copy);
        copy[edits[i].index] = edits[i].with;
        assert_false(token_wellformed(copy, TOKEN_LEN));
        assert_int_equal(token_hash_presented(&key, copy, TOKEN_LEN, &hash), TL_ERR_UNAUTHORIZED);
        assert_int_equal(hash.bytes[0], 0x5a);
    }

    struct token_hash hash;
    /* Lengths: empty, short, long, and a padded body. */
    assert_int_equal(token_hash_presented(&key, "", 0, &hash), TL_ERR_UNAUTHORIZED);
    assert_int_equal(token_hash_presented(&key, good, TOKEN_LEN - 1, &hash), TL_ERR_UNAUTHORIZED);
    char longer[TOKEN_STR_BYTES + 1];
    memcpy(longer, good, TOKEN_LEN);
    longer[TOKEN_LEN] = '=';
    longer[TOKEN_LEN + 1] = '\0';
    assert_int_equal(token_hash_presented(&key, longer, TOKEN_LEN + 1, &hash), TL_ERR_UNAUTHORIZED);
    assert_int_equal(token_hash_presented(&key, "Bearer tly_", 11, &hash), TL_ERR_UNAUTHORIZED);
}

/* Every base64url character is accepted in the body; every other byte is refused. */
static void test_alphabet(void **state)
{
    (void)state;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char token[TOKEN_STR_BYTES];
    memcpy(token, "tly_", 4);
    memset(token + 4, 'A', TOKEN_BODY_LEN);
    token[TOKEN_LEN] = '\0';
    for (int c = 0; c < 256; c++) {
        token[4] = (char)c;
        bool in_alphabet = c != 0 && strchr(alphabet, c) != NULL;
        assert_int_equal(token_wellformed(token, TOKEN_LEN), in_alphabet);
    }
    /* Last character: only the 16 whose value is a multiple of 4. */
    int canonical = 0;
    token[4] = 'A';
    for (const char *p = alphabet; *p != '\0'; p++) {
        token[TOKEN_LEN - 1] = *p;
        canonical += token_wellformed(token, TOKEN_LEN) ? 1 : 0;
        bool multiple_of_4 = ((p - alphabet) & 3) == 0;
        assert_int_equal(token_wellformed(token, TOKEN_LEN), multiple_of_4);
    }
    assert_int_equal(canonical, 16);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_key_bounds),
    cmocka_unit_test(test_new_shape),
    cmocka_unit_test(test_hash_is_keyed_blake2b),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_tokens_differ),
    cmocka_unit_test(test_other_key),
    cmocka_unit_test(test_tamper),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_alphabet),
};

TL_TEST_MAIN(tests)
