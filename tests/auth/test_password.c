/*
 * test_password.c - password policy, Argon2id hashing, verification, rehash and the
 * common-password list (src/auth/password.c, src/auth/common_passwords.c).
 * Uses libsodium's minimum cost except where a test is about the cost itself.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/common_passwords.h"
#include "auth/password.h"

static struct password_ctx *ctx_with_cost(struct password_cost cost)
{
    struct password_config config;
    struct password_ctx *ctx = NULL;
    password_config_default(&config);
    config.cost = cost;
    assert_int_equal(password_ctx_new(&config, &ctx), TL_OK);
    assert_non_null(ctx);
    return ctx;
}

static int setup_ctx(void **state)
{
    *state = ctx_with_cost(password_cost_min());
    return 0;
}

static int teardown_ctx(void **state)
{
    password_ctx_free(*state);
    return 0;
}

/* s repeated count times into a malloc'd buffer; *len gets its length. */
static char *repeat(const char *s, size_t count, size_t *len)
{
    size_t n = strlen(s);
    char *buf = malloc(n * count + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < count; i++) {
        memcpy(buf + i * n, s, n);
    }
    buf[n * count] = '\0';
    *len = n * count;
    return buf;
}

static enum tl_err check(struct password_ctx *ctx, const char *pw, size_t len, const char *reason)
{
    struct auth_fault fault = {NULL, NULL, NULL};
    enum tl_err err = password_policy_check(ctx, pw, len, &fault);
    if (reason == NULL) {
        assert_int_equal(err, TL_OK);
        assert_null(fault.reason);
    } else {
        assert_int_equal(err, TL_ERR_INVALID_REQUEST);
        assert_string_equal(fault.param, "password");
        assert_string_equal(fault.reason, reason);
        assert_non_null(fault.detail);
    }
    return err;
}

static void check_repeat(struct password_ctx *ctx, const char *unit, size_t count,
                         const char *reason)
{
    size_t len = 0;
    char *pw = repeat(unit, count, &len);
    check(ctx, pw, len, reason);
    free(pw);
}

/* Length is counted in code points: 11 two-, three- or four-byte characters are too short
 * however many bytes they take; 12 are enough. */
static void test_policy_length_codepoints(void **state)
{
    struct password_ctx *ctx = *state;
    const char *units[] = {"k", "\xc3\xa9" /* é */, "\xe2\x82\xac" /* € */,
                           "\xf0\x9f\x94\x91" /* 🔑 */};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        check_repeat(ctx, units[i], 0, "too_short");
        check_repeat(ctx, units[i], 11, "too_short");
        check_repeat(ctx, units[i], 12, NULL);
        check_repeat(ctx, units[i], 1024, NULL);
        check_repeat(ctx, units[i], 1025, "too_long");
    }
    /* Mixed widths: 8 ASCII and three multi-byte code points are 11 code points in 17 bytes;
     * one more ASCII character makes 12. */
    check(ctx, "abcdefgh\xf0\x9f\x94\x91\xe2\x82\xac\xc3\xa9", 17, "too_short");
    check(ctx, "abcdefghi\xf0\x9f\x94\x91\xe2\x82\xac\xc3\xa9", 18, NULL);
    /* Far past the byte bound: too long without decoding. */
    check_repeat(ctx, "a", 100000, "too_long");
    /* Spaces count and are kept. */
    check(ctx, "            ", 12, NULL);
}

static void test_policy_invalid_utf8(void **state)
{
    struct password_ctx *ctx = *state;
    const char *bad[] = {
        "abcdefghijkl\xff",             /* never valid */
        "abcdefghijkl\x80",             /* lone continuation */
        "abcdefghijkl\xc3",             /* truncated 2-byte */
        "abcdefghijkl\xe2\x82",         /* truncated 3-byte */
        "abcdefghijkl\xc0\xaf",         /* overlong '/' */
        "abcdefghijkl\xe0\x80\xaf",     /* overlong 3-byte */
        "abcdefghijkl\xed\xa0\x80",     /* UTF-16 surrogate */
        "abcdefghijkl\xf4\x90\x80\x80", /* above U+10FFFF */
        "abcdefghijkl\xf8\x88\x80\x80\x80",
        "\xc3(abcdefghijkl",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check(ctx, bad[i], strlen(bad[i]), "invalid_utf8");
    }
    /* Highest code point and U+FFFD are fine. */
    check(ctx, "abcdefghijk\xf4\x8f\xbf\xbf", 15, NULL);
    check(ctx, "abcdefghijk\xef\xbf\xbd", 14, NULL);
}

static void test_policy_common(void **state)
{
    struct password_ctx *ctx = *state;
    /* Entries of the shipped list at least 12 characters long, in any ASCII case. */
    check(ctx, "1qaz2wsx3edc", 12, "too_common");
    check(ctx, "1QAZ2WSX3EDC", 12, "too_common");
    check(ctx, "qwerty123456", 12, "too_common");
    check(ctx, "QwErTy123456", 12, "too_common");
    check(ctx, "qazwsxedcrfv", 12, "too_common");
    /* Near misses are not the entry. */
    check(ctx, "qwerty1234567", 13, NULL);
    check(ctx, " qwerty123456", 13, NULL);
    check(ctx, "correct horse battery staple", 28, NULL);
    /* Short common passwords fail on length first. */
    check(ctx, "password", 8, "too_short");
    assert_true(password_ctx_common_count(ctx) >= 10000);
}

static void test_hash_verify(void **state)
{
    struct password_ctx *ctx = *state;
    const char *pw = "correct horse battery staple";
    char hash[PASSWORD_HASH_STR_BYTES];
    char hash2[PASSWORD_HASH_STR_BYTES];

    assert_int_equal(password_hash(ctx, pw, strlen(pw), hash), TL_OK);
    /* Argon2id v1.3 with the configured cost (8 KiB, one pass, one lane). */
    assert_true(strncmp(hash, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    assert_true(strlen(hash) < PASSWORD_HASH_STR_BYTES);
    assert_int_equal(password_verify(ctx, hash, pw, strlen(pw)), TL_OK);
    /* Random salt: the same password hashes differently, and both verify. */
    assert_int_equal(password_hash(ctx, pw, strlen(pw), hash2), TL_OK);
    assert_string_not_equal(hash, hash2);
    assert_int_equal(password_verify(ctx, hash2, pw, strlen(pw)), TL_OK);

    assert_int_equal(password_verify(ctx, hash, "correct horse battery stapl", 27),
                     TL_ERR_UNAUTHORIZED);
    assert_int_equal(password_verify(ctx, hash, "Correct horse battery staple", 28),
                     TL_ERR_UNAUTHORIZED);
    assert_int_equal(password_verify(ctx, hash, "correct horse battery staple ", 29),
                     TL_ERR_UNAUTHORIZED);
    assert_int_equal(password_verify(ctx, hash, "", 0), TL_ERR_UNAUTHORIZED);
}

/* The whole password is hashed: no truncation at 72 bytes (bcrypt) or at a NUL. */
static void test_no_truncation(void **state)
{
    struct password_ctx *ctx = *state;
    char hash[PASSWORD_HASH_STR_BYTES];
    size_t len = 0;
    char *pw = repeat("\xf0\x9f\x94\x91", 1024, &len);
    assert_int_equal(len, PASSWORD_BYTES_MAX);
    assert_int_equal(password_hash(ctx, pw, len, hash), TL_OK);
    assert_int_equal(password_verify(ctx, hash, pw, len), TL_OK);
    assert_int_equal(password_verify(ctx, hash, pw, 72), TL_ERR_UNAUTHORIZED);
    assert_int_equal(password_verify(ctx, hash, pw, len - 4), TL_ERR_UNAUTHORIZED);
    pw[len - 1] = '\x90';
    assert_int_equal(password_verify(ctx, hash, pw, len), TL_ERR_UNAUTHORIZED);
    free(pw);

    const char with_nul[] = "abcdefgh\0ijklmnop";
    assert_int_equal(password_hash(ctx, with_nul, sizeof with_nul - 1, hash), TL_OK);
    assert_int_equal(password_verify(ctx, hash, with_nul, sizeof with_nul - 1), TL_OK);
    assert_int_equal(password_verify(ctx, hash, with_nul, 8), TL_ERR_UNAUTHORIZED);
}

static void test_over_byte_limit(void **state)
{
    struct password_ctx *ctx = *state;
    char hash[PASSWORD_HASH_STR_BYTES];
    size_t len = 0;
    char *pw = repeat("a", PASSWORD_BYTES_MAX + 1, &len);
    assert_int_equal(password_hash(ctx, pw, len, hash), TL_ERR_INVALID_REQUEST);
    assert_int_equal(password_hash(ctx, pw, len - 1, hash), TL_OK);
    assert_int_equal(password_verify(ctx, hash, pw, len), TL_ERR_UNAUTHORIZED);
    assert_int_equal(password_verify_dummy(ctx, pw, len), TL_ERR_UNAUTHORIZED);
    free(pw);
}

static void test_corrupt_stored_hash(void **state)
{
    struct password_ctx *ctx = *state;
    const char *bad[] = {
        "",
        "$argon2id$",
        "$2b$12$abcdefghijklmnopqrstuuJ2V0Zb8.lI7Kp9cHt6/Zq9x1M9oQ9a",
        "$argon2i$v=19$m=8,t=1,p=1$c29tZXNhbHQ$aGFzaA",
        "argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$aGFzaA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(password_verify(ctx, bad[i], "correct horse", 13), TL_ERR_CORRUPT);
        assert_true(password_needs_rehash(ctx, bad[i]));
    }
    /* Right prefix, broken body: a mismatch, never a match. */
    assert_int_equal(password_verify(ctx, "$argon2id$v=19$m=8,t=1,p=1$!!$!!", "x", 1),
                     TL_ERR_UNAUTHORIZED);
    /* An unterminated buffer is refused without reading past it. */
    char unterminated[PASSWORD_HASH_STR_BYTES];
    memset(unterminated, 'a', sizeof unterminated);
    memcpy(unterminated, "$argon2id$", 10);
    assert_int_equal(password_verify(ctx, unterminated, "x", 1), TL_ERR_CORRUPT);
}

static void test_needs_rehash(void **state)
{
    struct password_ctx *ctx = *state;
    struct password_cost other = {2, 16384};
    struct password_ctx *ctx2 = ctx_with_cost(other);
    char hash[PASSWORD_HASH_STR_BYTES];
    char hash2[PASSWORD_HASH_STR_BYTES];

    assert_int_equal(password_hash(ctx, "correct horse battery", 21, hash), TL_OK);
    assert_false(password_needs_rehash(ctx, hash));
    assert_true(password_needs_rehash(ctx2, hash));
    /* A hash from the old cost still verifies under the new context. */
    assert_int_equal(password_verify(ctx2, hash, "correct horse battery", 21), TL_OK);
    assert_int_equal(password_hash(ctx2, "correct horse battery", 21, hash2), TL_OK);
    assert_true(strncmp(hash2, "$argon2id$v=19$m=16,t=2,p=1$", 28) == 0);
    assert_false(password_needs_rehash(ctx2, hash2));
    assert_true(password_needs_rehash(ctx, hash2));
    password_ctx_free(ctx2);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define TIMING_RUNS 15

/* This thread's CPU time: what a verify costs, which time spent preempted does not blur. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Unknown user and wrong password cost about the same: the dummy really runs Argon2id with the
 * same parameters. Compares the fastest of several interleaved runs in CPU time, which other
 * load on the machine can only slow down, at a cost big enough to dominate the noise. */
static void test_dummy_verify(void **state)
{
    (void)state;
    struct password_cost cost = {1, 4u * 1024u * 1024u};
    struct password_ctx *ctx = ctx_with_cost(cost);
    char hash[PASSWORD_HASH_STR_BYTES];
    double real_min_ms = 1e9;
    double dummy_min_ms = 1e9;

    assert_int_equal(password_hash(ctx, "the real password", 17, hash), TL_OK);
    for (int i = 0; i < TIMING_RUNS; i++) {
        double t0 = cpu_ms();
        assert_int_equal(password_verify(ctx, hash, "a wrong password", 16), TL_ERR_UNAUTHORIZED);
        double t1 = cpu_ms();
        assert_int_equal(password_verify_dummy(ctx, "a wrong password", 16), TL_ERR_UNAUTHORIZED);
        double t2 = cpu_ms();
        real_min_ms = t1 - t0 < real_min_ms ? t1 - t0 : real_min_ms;
        dummy_min_ms = t2 - t1 < dummy_min_ms ? t2 - t1 : dummy_min_ms;
    }
    double ratio = dummy_min_ms / real_min_ms;
    printf("verify fastest %.2f ms, dummy fastest %.2f ms\n", real_min_ms, dummy_min_ms);
    assert_true(ratio > 0.5);
    assert_true(ratio < 2.0);
    /* Whatever is typed, the dummy never succeeds. */
    assert_int_equal(password_verify_dummy(ctx, "", 0), TL_ERR_UNAUTHORIZED);
    password_ctx_free(ctx);
}

static void test_config_bounds(void **state)
{
    (void)state;
    struct password_config config;
    struct password_ctx *ctx = NULL;
    password_config_default(&config);
    assert_int_equal(config.cost.opslimit, PASSWORD_OPSLIMIT_DEFAULT);
    assert_int_equal(config.cost.memlimit_bytes, PASSWORD_MEMLIMIT_BYTES_DEFAULT);
    assert_null(config.common_list_path);

    config.cost.opslimit = 0;
    assert_int_equal(password_ctx_new(&config, &ctx), TL_ERR_LIMIT);
    config.cost.opslimit = PASSWORD_OPSLIMIT_MAX + 1;
    assert_int_equal(password_ctx_new(&config, &ctx), TL_ERR_LIMIT);
    config.cost = password_cost_min();
    config.cost.memlimit_bytes = 4096;
    assert_int_equal(password_ctx_new(&config, &ctx), TL_ERR_LIMIT);
    config.cost.memlimit_bytes = (size_t)PASSWORD_MEMLIMIT_BYTES_MAX + 1;
    assert_int_equal(password_ctx_new(&config, &ctx), TL_ERR_LIMIT);
    assert_null(ctx);

    config.cost = password_cost_min();
    config.common_list_path = "/nonexistent/common-passwords.txt";
    assert_int_equal(password_ctx_new(&config, &ctx), TL_ERR_IO);
    assert_null(ctx);
}

/* A list file named in the config replaces the embedded one. */
static void test_list_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/tally-test-passwords-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "# a comment line\n"
                        "Hunter2Hunter2\r\n"
                        "\n"
                        "hunter2hunter2\n"
                        "pass phrase with spaces\n"
                        "  leading spaces kept\n"
                        "no final newline 123";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);

    struct password_config config;
    struct password_ctx *ctx = NULL;
    password_config_default(&config);
    config.cost = password_cost_min();
    config.common_list_path = path;
    assert_int_equal(password_ctx_new(&config, &ctx), TL_OK);
    unlink(path);
    /* The two Hunter2 lines fold to one entry. */
    assert_int_equal(password_ctx_common_count(ctx), 4);
    check(ctx, "HUNTER2hunter2", 14, "too_common");
    check(ctx, "pass phrase with spaces", 23, "too_common");
    check(ctx, "  leading spaces kept", 21, "too_common");
    check(ctx, "leading spaces kept", 19, NULL);
    check(ctx, "no final newline 123", 20, "too_common");
    check(ctx, "# a comment line", 16, NULL);
    /* The embedded list is not loaded as well. */
    check(ctx, "1qaz2wsx3edc", 12, NULL);
    password_ctx_free(ctx);
}

static void test_list_limits(void **state)
{
    (void)state;
    struct common_passwords *set = NULL;
    size_t len = 0;
    char *line = repeat("x", COMMON_PASSWORDS_ENTRY_BYTES_MAX + 1, &len);
    assert_int_equal(common_passwords_from_bytes(line, len, &set), TL_ERR_LIMIT);
    assert_null(set);
    assert_int_equal(common_passwords_from_bytes(line, len - 1, &set), TL_OK);
    assert_int_equal(common_passwords_count(set), 1);
    assert_true(common_passwords_contains(set, line, len - 1));
    assert_false(common_passwords_contains(set, line, len));
    common_passwords_free(set);
    free(line);

    assert_int_equal(common_passwords_from_bytes("", 0, &set), TL_OK);
    assert_int_equal(common_passwords_count(set), 0);
    assert_false(common_passwords_contains(set, "", 0));
    assert_false(common_passwords_contains(set, "x", 1));
    common_passwords_free(set);
    common_passwords_free(NULL);
}

/* The embedded list is the checked-in file, header included, parsed like any list. */
static void test_embedded_list(void **state)
{
    (void)state;
    struct common_passwords *set = NULL;
    assert_true(common_passwords_embedded_bytes > 0);
    assert_int_equal(common_passwords_embedded[0], '#');
    assert_int_equal(common_passwords_from_bytes((const char *)common_passwords_embedded,
                                                 common_passwords_embedded_bytes, &set),
                     TL_OK);
    assert_true(common_passwords_count(set) >= 10000);
    assert_true(common_passwords_contains(set, "123456", 6));
    assert_true(common_passwords_contains(set, "PASSWORD", 8));
    assert_true(common_passwords_contains(set, "michael", 7)); /* from john-data */
    assert_false(common_passwords_contains(set, "# Common passwords", 18));
    common_passwords_free(set);
}

/* Prints what the production cost costs on this machine (the number in password.h). */
static void test_default_cost_time(void **state)
{
    (void)state;
    struct password_ctx *ctx = ctx_with_cost(password_cost_default());
    char hash[PASSWORD_HASH_STR_BYTES];
    double t0 = now_ms();
    assert_int_equal(password_hash(ctx, "correct horse battery staple", 28, hash), TL_OK);
    double t1 = now_ms();
    assert_int_equal(password_verify(ctx, hash, "correct horse battery staple", 28), TL_OK);
    double t2 = now_ms();
    assert_true(strncmp(hash, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    printf("argon2id t=2 m=64MiB: hash %.1f ms, verify %.1f ms\n", t1 - t0, t2 - t1);
    password_ctx_free(ctx);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_policy_length_codepoints, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_policy_invalid_utf8, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_policy_common, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_hash_verify, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_no_truncation, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_over_byte_limit, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_corrupt_stored_hash, setup_ctx, teardown_ctx),
    cmocka_unit_test_setup_teardown(test_needs_rehash, setup_ctx, teardown_ctx),
    cmocka_unit_test(test_dummy_verify),
    cmocka_unit_test(test_config_bounds),
    cmocka_unit_test(test_list_from_file),
    cmocka_unit_test(test_list_limits),
    cmocka_unit_test(test_embedded_list),
    cmocka_unit_test(test_default_cost_time),
};

TL_TEST_MAIN(tests)
