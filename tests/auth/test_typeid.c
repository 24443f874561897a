/*
 * test_typeid.c - TypeID encoding (src/util/typeid.c): the TypeID spec's vectors, rejections,
 * and round trips. Lives in tests/auth because the identity work owns it; it links tally_util
 * only.
 */
#include "test.h"

#include <string.h>

#include "util/id128.h"
#include "util/typeid.h"

struct vector {
    const char *typeid;
    const char *prefix;
    const char *hex; /* the id as 32 hex digits */
};

/* From the TypeID spec's valid-id list (v0.3). */
static const struct vector vectors[] = {
    {"00000000000000000000000000", "", "00000000000000000000000000000000"},
    {"00000000000000000000000001", "", "00000000000000000000000000000001"},
    {"0000000000000000000000000a", "", "0000000000000000000000000000000a"},
    {"0000000000000000000000000g", "", "00000000000000000000000000000010"},
    {"00000000000000000000000010", "", "00000000000000000000000000000020"},
    {"7zzzzzzzzzzzzzzzzzzzzzzzzz", "", "ffffffffffffffffffffffffffffffff"},
    {"prefix_0123456789abcdefghjkmnpqrs", "prefix", "0110c8531d0952d8d73e1194e95b5f19"},
    {"prefix_01h455vb4pex5vsknk084sn02q", "prefix", "01890a5dac96774bbcceb302099a8057"},
    {"pre_fix_00000000000000000000000000", "pre_fix", "00000000000000000000000000000000"},
    {"user_00000000000000000000000000", "user", "00000000000000000000000000000000"},
};

static struct id128 hex_id(const char *hex)
{
    struct id128 id;
    assert_true(id128_from_hex(hex, strlen(hex), &id));
    return id;
}

static void test_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char out[TYPEID_STR_BYTES];
        size_t len = typeid_encode(vectors[i].prefix, hex_id(vectors[i].hex), out);
        assert_string_equal(out, vectors[i].typeid);
        assert_int_equal(len, strlen(vectors[i].typeid));
    }
}

static void test_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const struct vector *v = &vectors[i];
        struct id128 id = {1, 1};
        enum typeid_fault fault = TYPEID_FAULT_LENGTH;
        assert_int_equal(typeid_decode(v->typeid, strlen(v->typeid), v->prefix, &id, &fault),
                         TL_OK);
        assert_int_equal(fault, TYPEID_FAULT_NONE);
        assert_true(id128_eq(id, hex_id(v->hex)));

        size_t prefix_len = 99;
        assert_int_equal(typeid_parse(v->typeid, strlen(v->typeid), &prefix_len, &id, NULL), TL_OK);
        assert_int_equal(prefix_len, strlen(v->prefix));
        assert_memory_equal(v->typeid, v->prefix, prefix_len);
    }
}

struct rejection {
    const char *typeid;
    const char *expected_prefix;
    enum typeid_fault fault;
};

static const struct rejection rejections[] = {
    /* wrong kind of object */
    {"wal_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_WRONG_PREFIX},
    {"users_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_WRONG_PREFIX},
    {"use_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_WRONG_PREFIX},
    {"01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_WRONG_PREFIX},
    {"user_01h455vb4pex5vsknk084sn02q", "", TYPEID_FAULT_WRONG_PREFIX},
    /* length */
    {"", "user", TYPEID_FAULT_LENGTH},
    {"user_", "user", TYPEID_FAULT_LENGTH},
    {"user_01h455vb4pex5vsknk084sn02", "user", TYPEID_FAULT_LENGTH},
    {"user_01h455vb4pex5vsknk084sn02qq", "user", TYPEID_FAULT_LENGTH},
    {"user01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_LENGTH},
    {"0000000000000000000000000", "", TYPEID_FAULT_LENGTH},
    {"000000000000000000000000000", "", TYPEID_FAULT_LENGTH},
    /* 64-character prefix: over the 90-character maximum in all */
    {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl_00000000000000000000000000",
     "user", TYPEID_FAULT_LENGTH},
    /* prefix rules */
    {"USER_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"User_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"us3r_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"12345_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"pre.fix_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"pre fix_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"_user_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"user__01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    {"us\xc3\xa9r_01h455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_PREFIX},
    /* suffix characters: uppercase, Crockford aliases i l o u, punctuation */
    {"user_01H455VB4PEX5VSKNK084SN02Q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_01h455vb4pex5vsknk084sn02Q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_0ih455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_0lh455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_0oh455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_0uh455vb4pex5vsknk084sn02q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_01h455vb4pex5vsknk084sn0-q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_01h455vb4pex5vsknk084sn0 q", "user", TYPEID_FAULT_SUFFIX_CHAR},
    {"user_01h455vb4pex5vsknk084sn0\xffq", "user", TYPEID_FAULT_SUFFIX_CHAR},
    /* more than 128 bits */
    {"user_8zzzzzzzzzzzzzzzzzzzzzzzzz", "user", TYPEID_FAULT_SUFFIX_OVERFLOW},
    {"user_80000000000000000000000000", "user", TYPEID_FAULT_SUFFIX_OVERFLOW},
    {"zzzzzzzzzzzzzzzzzzzzzzzzzz", "", TYPEID_FAULT_SUFFIX_OVERFLOW},
};

static void test_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejections / sizeof rejections[0]; i++) {
        const struct rejection *r = &rejections[i];
        struct id128 id = {7, 7};
        enum typeid_fault fault = TYPEID_FAULT_NONE;
        enum tl_err err =
            typeid_decode(r->typeid, strlen(r->typeid), r->expected_prefix, &id, &fault);
        if (err != TL_ERR_INVALID_REQUEST || fault != r->fault) {
            fail_msg("%s: err %d fault %d, want fault %d", r->typeid, err, fault, r->fault);
        }
        assert_true(id128_eq(id, id128_make(7, 7)));
        assert_non_null(typeid_fault_detail(fault));
    }
}

/* A NUL inside the counted length is a bad character, not an end of string. */
static void test_embedded_nul(void **state)
{
    (void)state;
    const char s[] = "user_01h455vb4pex5vsk\0k084sn02q";
    struct id128 id;
    enum typeid_fault fault = TYPEID_FAULT_NONE;
    assert_int_equal(typeid_decode(s, sizeof s - 1, "user", &id, &fault), TL_ERR_INVALID_REQUEST);
    assert_int_equal(fault, TYPEID_FAULT_SUFFIX_CHAR);
}

static void test_prefix_rules(void **state)
{
    (void)state;
    const char p63[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";
    const char p64[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl";
    assert_true(typeid_prefix_valid("", 0));
    assert_true(typeid_prefix_valid("user", 4));
    assert_true(typeid_prefix_valid("a_b", 3));
    assert_true(typeid_prefix_valid("a__b", 4));
    assert_true(typeid_prefix_valid(p63, sizeof p63 - 1));
    assert_false(typeid_prefix_valid(p64, sizeof p64 - 1));
    assert_false(typeid_prefix_valid("_a", 2));
    assert_false(typeid_prefix_valid("a_", 2));
    assert_false(typeid_prefix_valid("_", 1));
    assert_false(typeid_prefix_valid("A", 1));
    assert_false(typeid_prefix_valid("a1", 2));
    assert_false(typeid_prefix_valid("a-b", 3));

    /* The longest prefix round-trips at the longest length. */
    char out[TYPEID_STR_BYTES];
    struct id128 id = id128_make(0x0123456789abcdefull, 0xfedcba9876543210ull);
    struct id128 back;
    assert_int_equal(typeid_encode(p63, id, out), TYPEID_LEN_MAX);
    assert_int_equal(typeid_decode(out, TYPEID_LEN_MAX, p63, &back, NULL), TL_OK);
    assert_true(id128_eq(id, back));
}

static void test_tally_prefixes(void **state)
{
    (void)state;
    const char *prefixes[] = {TYPEID_PREFIX_USER,    TYPEID_PREFIX_WALLET,  TYPEID_PREFIX_PAYMENT,
                              TYPEID_PREFIX_SESSION, TYPEID_PREFIX_DEPOSIT, TYPEID_PREFIX_TRANSFER};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        assert_true(typeid_prefix_valid(prefixes[i], strlen(prefixes[i])));
    }
}

/* Every bit position survives a round trip, one bit at a time and in random ids. */
static void test_round_trips(void **state)
{
    (void)state;
    char out[TYPEID_STR_BYTES];
    struct id128 back;
    for (unsigned bit = 0; bit < 128; bit++) {
        struct id128 id = bit < 64 ? id128_make(0, 1ull << bit) : id128_make(1ull << (bit - 64), 0);
        size_t len = typeid_encode("txn", id, out);
        assert_int_equal(len, 4 + TYPEID_SUFFIX_LEN);
        assert_true(out[4] >= '0' && out[4] <= '7');
        assert_int_equal(typeid_decode(out, len, "txn", &back, NULL), TL_OK);
        assert_true(id128_eq(id, back));
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 10000; i++) {
        /* xorshift: deterministic and independent of the code under test */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t y = x * 0xd1342543de82ef95ull;
        struct id128 id = id128_make(x, y);
        size_t len = typeid_encode("pay", id, out);
        assert_int_equal(typeid_decode(out, len, "pay", &back, NULL), TL_OK);
        assert_true(id128_eq(id, back));
    }
    for (int i = 0; i < 100; i++) {
        struct id128 id = id128_new();
        size_t len = typeid_encode("user", id, out);
        assert_int_equal(typeid_decode(out, len, "user", &back, NULL), TL_OK);
        assert_true(id128_eq(id, back));
    }
}

/* Ids made at increasing times sort the same as their TypeID strings. */
static void test_sort_order(void **state)
{
    (void)state;
    char a[TYPEID_STR_BYTES];
    char b[TYPEID_STR_BYTES];
    struct id128 lo = id128_make(0x0000000000001000ull, 5);
    struct id128 hi = id128_make(0x0000000000001000ull, 6);
    typeid_encode("wal", lo, a);
    typeid_encode("wal", hi, b);
    assert_true(strcmp(a, b) < 0);
    typeid_encode("wal", id128_make(0x7fffffffffffffffull, ~0ull), a);
    typeid_encode("wal", id128_make(0x8000000000000000ull, 0), b);
    assert_true(strcmp(a, b) < 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vectors_encode), cmocka_unit_test(test_vectors_decode),
    cmocka_unit_test(test_rejections),     cmocka_unit_test(test_embedded_nul),
    cmocka_unit_test(test_prefix_rules),   cmocka_unit_test(test_tally_prefixes),
    cmocka_unit_test(test_round_trips),    cmocka_unit_test(test_sort_order),
};

TL_TEST_MAIN(tests)
