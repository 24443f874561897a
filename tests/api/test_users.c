/*
 * test_users.c - the pure parts of the identity handlers: login/lookup keys, timestamps, the
 * user resource.
 */
#include <string.h>

#include "api/render.h"
#include "api/users.h"
#include "test.h"

static void expect_key(const char *in, enum users_key_kind kind, const char *value)
{
    struct users_key key;
    assert_int_equal(users_key_parse(in, strlen(in), &key), TL_OK);
    assert_int_equal(key.kind, kind);
    assert_string_equal(key.value, value);
}

static void expect_no_key(const char *in)
{
    struct users_key key;
    memset(&key, 0x5a, sizeof(key));
    assert_int_equal(users_key_parse(in, strlen(in), &key), TL_ERR_INVALID_REQUEST);
    assert_int_equal(key.kind, 0x5a5a5a5a); /* untouched */
}

static void test_key_kinds(void **state)
{
    (void)state;
    expect_key("@alice", USERS_KEY_HANDLE, "alice");
    expect_key("alice", USERS_KEY_HANDLE, "alice");
    expect_key("@Alice_99", USERS_KEY_HANDLE, "alice_99");
    expect_key("+15551234567", USERS_KEY_PHONE, "+15551234567");
    /* Emails are stored in lower case, local part included, so lookups ignore case. */
    expect_key("Alice.Smith@Example.COM", USERS_KEY_EMAIL, "alice.smith@example.com");
}

static void test_key_rejects(void **state)
{
    (void)state;
    expect_no_key("");
    expect_no_key("@");
    expect_no_key("@al");
    expect_no_key("al");
    expect_no_key("@@alice");
    expect_no_key("+1555");
    expect_no_key("+1 555 123 4567");
    expect_no_key("alice@");
    expect_no_key("@alice@example.com");
    expect_no_key("ali ce");
    expect_no_key("alice\n");
}

static void test_timestamp(void **state)
{
    (void)state;
    char out[RENDER_TIME_BYTES];
    render_time_text(1795410000123456789ull, out);
    assert_string_equal(out, "2026-11-23T05:00:00.123Z");
    render_time_text(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    render_time_text(999999ull, out); /* truncated, never rounded up */
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

static void test_user_json(void **state)
{
    (void)state;
    struct store_user user;
    memset(&user, 0, sizeof(user));
    user.id = id128_make(0x0190000000007000ull, 0x8000000000000001ull);
    snprintf(user.handle, sizeof(user.handle), "alice");
    snprintf(user.email, sizeof(user.email), "alice@example.com");
    snprintf(user.display_name, sizeof(user.display_name), "Alice \"A\" Ł");
    snprintf(user.password_hash, sizeof(user.password_hash), "$argon2id$secret");
    user.created_ns = 1795410000123456789ull;
    json_t *json = users_json(&user);
    assert_non_null(json);
    assert_int_equal(json_object_size(json), 6);
    assert_true(json_is_null(json_object_get(json, "phone")));
    assert_string_equal(json_string_value(json_object_get(json, "handle")), "alice");
    assert_string_equal(json_string_value(json_object_get(json, "display_name")), "Alice \"A\" Ł");
    assert_string_equal(json_string_value(json_object_get(json, "created_at")),
                        "2026-11-23T05:00:00.123Z");
    assert_int_equal(strncmp(json_string_value(json_object_get(json, "id")), "user_", 5), 0);
    assert_null(json_object_get(json, "password_hash"));
    json_decref(json);
    snprintf(user.phone, sizeof(user.phone), "+15551234567");
    json = users_json(&user);
    assert_string_equal(json_string_value(json_object_get(json, "phone")), "+15551234567");
    json_decref(json);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_key_kinds),
    cmocka_unit_test(test_key_rejects),
    cmocka_unit_test(test_timestamp),
    cmocka_unit_test(test_user_json),
};

TL_TEST_MAIN(tests)
