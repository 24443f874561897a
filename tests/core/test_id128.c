/*
 * test_id128.c - 128-bit ids: byte and hex forms, ordering, and the UUIDv7 layout of new ids.
 */
#include "util/id128.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

#define NEW_ID_COUNT 10000

static const struct id128 sample_ids[] = {
    {0, 0},
    {0, 1},
    {1, 0},
    {UINT64_MAX, UINT64_MAX},
    {0x0123456789abcdefull, 0xfedcba9876543210ull},
    {0x8000000000000000ull, 0},
    {0, 0x8000000000000000ull},
    {0x7fffffffffffffffull, 0xffffffffffffffffull},
    {0x018f3c1a2b4c7d5eull, 0x8123456789abcdefull},
};
#define SAMPLE_COUNT (sizeof sample_ids / sizeof sample_ids[0])

/* Well-mixed test values from a counter, using the module's own hash as the mixer. */
static uint64_t next_random(uint64_t *counter)
{
    *counter += 1;
    return id128_hash(id128_make(*counter, 0x5eed));
}

static int sign_of(int value)
{
    return (value > 0) - (value < 0);
}

static uint64_t now_unix_ms(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_bytes_round_trip(void **state)
{
    static const uint8_t expected[ID128_BYTES] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                                  0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    uint8_t bytes[ID128_BYTES];
    (void)state;
    id128_to_bytes(id128_make(0x0123456789abcdefull, 0xfedcba9876543210ull), bytes);
    assert_memory_equal(bytes, expected, ID128_BYTES);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        id128_to_bytes(sample_ids[i], bytes);
        assert_true(id128_eq(id128_from_bytes(bytes), sample_ids[i]));
    }
}

/* Big-endian bytes compare (memcmp) exactly as id128_cmp orders the numbers. */
static void test_bytes_order_matches_cmp(void **state)
{
    uint64_t seed = 7;
    (void)state;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        for (size_t j = 0; j < SAMPLE_COUNT; j++) {
            uint8_t a[ID128_BYTES];
            uint8_t b[ID128_BYTES];
            id128_to_bytes(sample_ids[i], a);
            id128_to_bytes(sample_ids[j], b);
            assert_int_equal(sign_of(memcmp(a, b, ID128_BYTES)),
                             id128_cmp(sample_ids[i], sample_ids[j]));
        }
    }
    for (int i = 0; i < 10000; i++) {
        /* Share the high half often, so the low half decides too. */
        struct id128 x =
            id128_make(next_random(&seed) >> (i % 3 == 0 ? 60 : 0), next_random(&seed));
        struct id128 y = id128_make(i % 2 == 0 ? x.hi : next_random(&seed), next_random(&seed));
        uint8_t a[ID128_BYTES];
        uint8_t b[ID128_BYTES];
        id128_to_bytes(x, a);
        id128_to_bytes(y, b);
        assert_int_equal(sign_of(memcmp(a, b, ID128_BYTES)), id128_cmp(x, y));
        assert_int_equal(id128_cmp(x, y), -id128_cmp(y, x));
    }
}

static void test_hex_round_trip(void **state)
{
    char hex[ID128_HEX_BYTES];
    struct id128 parsed;
    (void)state;
    id128_to_hex(id128_make(0x0123456789abcdefull, 0xfedcba9876543210ull), hex);
    assert_string_equal(hex, "0123456789abcdeffedcba9876543210");
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        id128_to_hex(sample_ids[i], hex);
        assert_int_equal(strlen(hex), 32);
        assert_true(id128_from_hex(hex, 32, &parsed));
        assert_true(id128_eq(parsed, sample_ids[i]));
    }
    /* Upper-case digits are hex digits too. */
    assert_true(id128_from_hex("0123456789ABCDEFFEDCBA9876543210", 32, &parsed));
    assert_true(id128_eq(parsed, id128_make(0x0123456789abcdefull, 0xfedcba9876543210ull)));
}

static void test_hex_rejected(void **state)
{
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {"", 0},
        {"0123456789abcdeffedcba987654321", 31},
        {"0123456789abcdeffedcba98765432100", 33},
        {"0123456789abcdeffedcba987654321g", 32},
        {"g123456789abcdeffedcba9876543210", 32},
        {"0123456789abcdeffedcba987654321 ", 32},
        {" 123456789abcdeffedcba9876543210", 32},
        {"0x23456789abcdeffedcba9876543210", 32},
        {"-123456789abcdeffedcba9876543210", 32},
        {"0123456789abcdef\0edcba9876543210", 32},
        {"01234567-89ab-cdef-fedc-ba9876543210", 36},
        {"0123456789abcdeffedcba98765432\xc3\xa9", 32},
    };
    const struct id128 sentinel = id128_make(0x5a5a5a5a5a5a5a5aull, 0xa5a5a5a5a5a5a5a5ull);
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct id128 out = sentinel;
        assert_false(id128_from_hex(bad[i].text, bad[i].len, &out));
        assert_true(id128_eq(out, sentinel));
    }
}

static int id128_qsort_cmp(const void *a, const void *b)
{
    return id128_cmp(*(const struct id128 *)a, *(const struct id128 *)b);
}

/* Never zero, version 7, variant 0b10, and no two alike. */
static void test_new_layout(void **state)
{
    struct id128 *ids = calloc(NEW_ID_COUNT, sizeof *ids);
    (void)state;
    assert_non_null(ids);
    for (size_t i = 0; i < NEW_ID_COUNT; i++) {
        ids[i] = id128_new();
        assert_false(id128_is_zero(ids[i]));
        assert_int_equal((ids[i].hi >> 12) & 0xf, 7);
        assert_int_equal(ids[i].lo >> 62, 2);
    }
    qsort(ids, NEW_ID_COUNT, sizeof *ids, id128_qsort_cmp);
    for (size_t i = 1; i < NEW_ID_COUNT; i++) {
        assert_false(id128_eq(ids[i - 1], ids[i]));
    }
    free(ids);
}

/* The random bits are random: over many ids each of the 74 flips both ways. */
static void test_new_random_bits_vary(void **state)
{
    uint64_t hi_and = UINT64_MAX, hi_or = 0, lo_and = UINT64_MAX, lo_or = 0;
    (void)state;
    for (int i = 0; i < 256; i++) {
        struct id128 id = id128_new();
        hi_and &= id.hi;
        hi_or |= id.hi;
        lo_and &= id.lo;
        lo_or |= id.lo;
    }
    assert_int_equal((hi_or & ~hi_and) & 0xfff, 0xfff);
    assert_int_equal((lo_or & ~lo_and), 0x3fffffffffffffffull);
}

static void sleep_until_next_ms(uint64_t ms)
{
    const struct timespec pause = {0, 200000};
    while (now_unix_ms() <= ms) {
        nanosleep(&pause, NULL);
    }
}

/* An id made in a later millisecond sorts after every id of an earlier one. */
static void test_new_sorts_by_time(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        struct id128 earlier = id128_new();
        sleep_until_next_ms(id128_unix_ms(earlier));
        struct id128 later = id128_new();
        assert_true(id128_unix_ms(later) > id128_unix_ms(earlier));
        assert_true(id128_cmp(earlier, later) < 0);
        uint8_t a[ID128_BYTES];
        uint8_t b[ID128_BYTES];
        id128_to_bytes(earlier, a);
        id128_to_bytes(later, b);
        assert_true(memcmp(a, b, ID128_BYTES) < 0);
    }
}

static void test_new_unix_ms_is_now(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        uint64_t before = now_unix_ms();
        struct id128 id = id128_new();
        uint64_t after = now_unix_ms();
        assert_true(id128_unix_ms(id) >= before);
        assert_true(id128_unix_ms(id) <= after);
    }
    /* After 2020-01-01 and before 2100-01-01: the field holds milliseconds, not seconds. */
    uint64_t ms = id128_unix_ms(id128_new());
    assert_true(ms > UINT64_C(1577836800000));
    assert_true(ms < UINT64_C(4102444800000));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bytes_round_trip),  cmocka_unit_test(test_bytes_order_matches_cmp),
    cmocka_unit_test(test_hex_round_trip),    cmocka_unit_test(test_hex_rejected),
    cmocka_unit_test(test_new_layout),        cmocka_unit_test(test_new_random_bits_vary),
    cmocka_unit_test(test_new_sorts_by_time), cmocka_unit_test(test_new_unix_ms_is_now),
};

TL_TEST_MAIN(tests)
