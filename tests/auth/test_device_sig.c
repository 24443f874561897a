/*
 * test_device_sig.c - the canonical form of a device-signed request (auth/device_sig.h): its
 * exact bytes, field checks, timestamps, freshness, and Ed25519 verification with keys made by
 * libsodium, including every field a tamperer could change.
 */
#include "auth/device_sig.h"

#include <sodium.h>
#include <string.h>

#include "test.h"

#define BODY "{\"to\":\"@bob\",\"amount\":100,\"currency\":\"USD\"}"

static struct device_sig_request request(void)
{
    struct device_sig_request r = {"POST", "/v1/payments", (const uint8_t *)BODY, strlen(BODY),
                                   "key-1", 1795430671u, "dkey_01m8403rk8frw9da3q36s8aj6v"};
    return r;
}

static void test_canonical_bytes(void **state)
{
    (void)state;
    char form[DEVICE_SIG_CANONICAL_BYTES_MAX];
    size_t len = 0;
    struct device_sig_request r = request();
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_OK);
    /* SHA-256 of BODY by sha256sum. */
    const char *want = "TALLY-DEVICE-SIGNATURE-V1\nPOST\n/v1/payments\n"
                       "22c2f631e408595edc943f87e4d026127919bbc1308ab5496f66722ac9e99cb3\n"
                       "key-1\n1795430671\ndkey_01m8403rk8frw9da3q36s8aj6v\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(form, want, len);
    /* No key and an empty body. */
    r.idempotency_key = NULL;
    r.body = NULL;
    r.body_bytes = 0;
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_OK);
    want = "TALLY-DEVICE-SIGNATURE-V1\nPOST\n/v1/payments\n"
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
           "\n1795430671\ndkey_01m8403rk8frw9da3q36s8aj6v\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(form, want, len);
}

static void test_canonical_refuses_ambiguous_fields(void **state)
{
    (void)state;
    char form[DEVICE_SIG_CANONICAL_BYTES_MAX];
    size_t len = 0;
    struct device_sig_request r = request();
    r.path = "/v1/payments\nPOST";
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_ERR_INVALID_REQUEST);
    r = request();
    r.idempotency_key = "a b";
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_ERR_INVALID_REQUEST);
    r = request();
    r.key_id = "";
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_ERR_INVALID_REQUEST);
    char long_key[DEVICE_SIG_IKEY_BYTES_MAX + 2];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    r = request();
    r.idempotency_key = long_key;
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_ERR_INVALID_REQUEST);
    long_key[DEVICE_SIG_IKEY_BYTES_MAX] = '\0'; /* exactly the maximum */
    assert_int_equal(device_sig_canonical(&r, form, sizeof(form), &len), TL_OK);
}

static void test_timestamps(void **state)
{
    (void)state;
    uint64_t ts = 0;
    assert_true(device_sig_timestamp_parse("1795430671", &ts));
    assert_int_equal(ts, 1795430671u);
    assert_true(device_sig_timestamp_parse("9999999999", &ts));
    assert_false(device_sig_timestamp_parse("", &ts));
    assert_false(device_sig_timestamp_parse("0", &ts));
    assert_false(device_sig_timestamp_parse("01795430671", &ts));
    assert_false(device_sig_timestamp_parse("-1", &ts));
    assert_false(device_sig_timestamp_parse("+1795430671", &ts));
    assert_false(device_sig_timestamp_parse("17954306.1", &ts));
    assert_false(device_sig_timestamp_parse("10000000000", &ts));
    assert_true(device_sig_fresh(1000, 1000, 0));
    assert_true(device_sig_fresh(700, 1000, 300));
    assert_true(device_sig_fresh(1300, 1000, 300));
    assert_false(device_sig_fresh(699, 1000, 300));
    assert_false(device_sig_fresh(1301, 1000, 300));
}

static void sign(const struct device_sig_request *r, const uint8_t sk[crypto_sign_SECRETKEYBYTES],
                 uint8_t sig[DEVICE_SIG_BYTES])
{
    char form[DEVICE_SIG_CANONICAL_BYTES_MAX];
    size_t len = 0;
    assert_int_equal(device_sig_canonical(r, form, sizeof(form), &len), TL_OK);
    assert_int_equal(crypto_sign_detached(sig, NULL, (const uint8_t *)form, len, sk), 0);
}

static void test_verify_and_tampering(void **state)
{
    (void)state;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
    uint8_t sig[DEVICE_SIG_BYTES];
    assert_int_equal(sodium_init() >= 0, 1);
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    struct device_sig_request r = request();
    sign(&r, sk, sig);
    assert_true(device_sig_verify(&r, pk, sig));
    assert_false(device_sig_verify(&r, pk2, sig)); /* another key */
    struct device_sig_request t = r;
    t.body = (const uint8_t *)"{\"to\":\"@bob\",\"amount\":900,\"currency\":\"USD\"}";
    t.body_bytes = strlen((const char *)t.body);
    assert_false(device_sig_verify(&t, pk, sig));
    t = r;
    t.path = "/v1/payment_requests/preq_x/pay";
    assert_false(device_sig_verify(&t, pk, sig));
    t = r;
    t.method = "PUT";
    assert_false(device_sig_verify(&t, pk, sig));
    t = r;
    t.idempotency_key = "key-2";
    assert_false(device_sig_verify(&t, pk, sig));
    t = r;
    t.timestamp_s++;
    assert_false(device_sig_verify(&t, pk, sig));
    t = r;
    t.key_id = "dkey_01m8403rk8frw9da3q36s8aj6w";
    assert_false(device_sig_verify(&t, pk, sig));
    for (size_t i = 0; i < sizeof(sig); i++) {
        sig[i] ^= 0x01;
        assert_false(device_sig_verify(&r, pk, sig));
        sig[i] ^= 0x01;
    }
    assert_true(device_sig_verify(&r, pk, sig));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_canonical_bytes),
    cmocka_unit_test(test_canonical_refuses_ambiguous_fields),
    cmocka_unit_test(test_timestamps),
    cmocka_unit_test(test_verify_and_tampering),
};

TL_TEST_MAIN(tests)
