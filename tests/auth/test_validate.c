/*
 * test_validate.c - accept and reject tables for every validator in src/auth/validate.c and
 * the recipient parser.
 */
#include "test.h"

#include <string.h>

#include "auth/validate.h"

/* An input, and either its normal form (NULL reason) or the reason it is refused. */
struct row {
    const char *in;
    const char *normal; /* for accepts: expected output; NULL = same as in */
    const char *reason; /* for rejects */
};

typedef enum tl_err (*normalizer)(const char *in, size_t in_len, char *out,
                                  struct auth_fault *fault);

static enum tl_err handle_fn(const char *in, size_t len, char *out, struct auth_fault *fault)
{
    return validate_handle(in, len, out, fault);
}

static enum tl_err email_fn(const char *in, size_t len, char *out, struct auth_fault *fault)
{
    return validate_email(in, len, out, fault);
}

static enum tl_err phone_fn(const char *in, size_t len, char *out, struct auth_fault *fault)
{
    return validate_phone(in, len, out, fault);
}

static void run_rows(normalizer fn, const char *param, const struct row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct row *r = &rows[i];
        char out[VALIDATE_RECIPIENT_BYTES + 8];
        struct auth_fault fault = {NULL, NULL, NULL};
        memset(out, '#', sizeof out);
        enum tl_err err = fn(r->in, strlen(r->in), out, &fault);
        if (r->reason == NULL) {
            if (err != TL_OK) {
                fail_msg("%s: rejected (%s), want accepted", r->in, fault.reason);
            }
            assert_string_equal(out, r->normal != NULL ? r->normal : r->in);
            assert_null(fault.param);
        } else {
            if (err != TL_ERR_INVALID_REQUEST || fault.reason == NULL ||
                strcmp(fault.reason, r->reason) != 0) {
                fail_msg("%s: err %d reason %s, want %s", r->in, err,
                         fault.reason ? fault.reason : "(none)", r->reason);
            }
            assert_string_equal(fault.param, param);
            assert_non_null(fault.detail);
            assert_int_equal(out[0], '#');
        }
    }
}

#define ROWS(rows) (rows), sizeof(rows) / sizeof((rows)[0])

static const struct row handle_rows[] = {
    {"abc", NULL, NULL},
    {"alice", NULL, NULL},
    {"a_1", NULL, NULL},
    {"___", NULL, NULL},
    {"007", NULL, NULL},
    {"Alice", "alice", NULL},
    {"ALICE_SMITH_99", "alice_smith_99", NULL},
    {"abcdefghijklmnopqrstuvwxyz0123", NULL, NULL},
    {"", NULL, "too_short"},
    {"ab", NULL, "too_short"},
    {"AB", NULL, "too_short"},
    {"abcdefghijklmnopqrstuvwxyz01234", NULL, "too_long"},
    {"@alice", NULL, "invalid_characters"},
    {"alice smith", NULL, "invalid_characters"},
    {"alice-smith", NULL, "invalid_characters"},
    {"alice.smith", NULL, "invalid_characters"},
    {" alice", NULL, "invalid_characters"},
    {"alice\n", NULL, "invalid_characters"},
    {"alic\xc3\xaf", NULL, "invalid_characters"}, /* ï */
    {"\xd0\xb0lice", NULL, "invalid_characters"}, /* Cyrillic а */
};

static void test_handle(void **state)
{
    (void)state;
    run_rows(handle_fn, "handle", ROWS(handle_rows));
    /* An embedded NUL is a bad character, not an end. */
    char out[VALIDATE_HANDLE_BYTES];
    assert_int_equal(validate_handle("ab\0cd", 5, out, NULL), TL_ERR_INVALID_REQUEST);
}

#define LOCAL_64 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"
#define LABEL_63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
#define LABEL_61 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi"

static const struct row email_rows[] = {
    {"a@b.co", NULL, NULL},
    {"alice@example.com", NULL, NULL},
    {"Alice.Smith@Example.COM", "Alice.Smith@example.com", NULL},
    {"alice+tag@mail.example.co.uk", NULL, NULL},
    {"o'brien@example.ie", NULL, NULL},
    {"x!#$%&'*+-/=?^_`{|}~y@example.com", NULL, NULL},
    {"user@xn--bcher-kva.example", NULL, NULL},
    {"user@sub-domain.example-1.com", NULL, NULL},
    {"user@123.example.com", NULL, NULL},
    {LOCAL_64 "@example.com", NULL, NULL},
    {"a@" LABEL_63 ".com", NULL, NULL},
    /* 254 characters: 64 + '@' + 63 + '.' + 63 + '.' + 61 */
    {LOCAL_64 "@" LABEL_63 "." LABEL_63 "." LABEL_61, NULL, NULL},
    {LOCAL_64 "@" LABEL_63 "." LABEL_63 "." LABEL_61 "x", NULL, "too_long"},
    {"a" LOCAL_64 "@example.com", NULL, "too_long"},
    {"", NULL, "invalid_format"},
    {"alice", NULL, "invalid_format"},
    {"alice.example.com", NULL, "invalid_format"},
    {"@example.com", NULL, "invalid_format"},
    {"alice@", NULL, "invalid_format"},
    {"alice@example", NULL, "invalid_format"},
    {"alice@@example.com", NULL, "invalid_format"},
    {"alice@bob@example.com", NULL, "invalid_format"},
    {"alice smith@example.com", NULL, "invalid_format"},
    {"alice@exa mple.com", NULL, "invalid_format"},
    {" alice@example.com", NULL, "invalid_format"},
    {"alice@example.com ", NULL, "invalid_format"},
    {"alice\t@example.com", NULL, "invalid_format"},
    {"alice@example.com\n", NULL, "invalid_format"},
    {".alice@example.com", NULL, "invalid_format"},
    {"alice.@example.com", NULL, "invalid_format"},
    {"al..ice@example.com", NULL, "invalid_format"},
    {"\"alice\"@example.com", NULL, "invalid_format"},
    {"alice(comment)@example.com", NULL, "invalid_format"},
    {"<alice@example.com>", NULL, "invalid_format"},
    {"alice@.example.com", NULL, "invalid_format"},
    {"alice@example.com.", NULL, "invalid_format"},
    {"alice@example..com", NULL, "invalid_format"},
    {"alice@-example.com", NULL, "invalid_format"},
    {"alice@example-.com", NULL, "invalid_format"},
    {"alice@exa_mple.com", NULL, "invalid_format"},
    {"alice@[192.168.0.1]", NULL, "invalid_format"},
    {"alice@192.168.0.1", NULL, "invalid_format"},
    {"alice@example.123", NULL, "invalid_format"},
    {"a@" LABEL_63 "x.com", NULL, "invalid_format"},
    {"j\xc3\xb6rg@example.com", NULL, "invalid_format"},
    {"user@m\xc3\xbcller.example", NULL, "invalid_format"},
    {"user@ex\xd0\xb0mple.com", NULL, "invalid_format"},
};

static void test_email(void **state)
{
    (void)state;
    run_rows(email_fn, "email", ROWS(email_rows));
    char out[VALIDATE_EMAIL_BYTES];
    assert_int_equal(validate_email("a\0b@example.com", 15, out, NULL), TL_ERR_INVALID_REQUEST);
    assert_int_equal(validate_email("ab@exam\0ple.com", 15, out, NULL), TL_ERR_INVALID_REQUEST);
}

static const struct row phone_rows[] = {
    {"+14155550123", NULL, NULL},
    {"+442071838750", NULL, NULL},
    {"+12345678", NULL, NULL},
    {"+123456789012345", NULL, NULL},
    {"+9", NULL, "invalid_format"},
    {"+1234567", NULL, "invalid_format"},
    {"+1234567890123456", NULL, "invalid_format"},
    {"", NULL, "invalid_format"},
    {"+", NULL, "invalid_format"},
    {"14155550123", NULL, "invalid_format"},
    {"004414155550123", NULL, "invalid_format"},
    {"+04155550123", NULL, "invalid_format"},
    {"+1 415 555 0123", NULL, "invalid_format"},
    {"+1-415-555-0123", NULL, "invalid_format"},
    {"+1(415)5550123", NULL, "invalid_format"},
    {"++14155550123", NULL, "invalid_format"},
    {"+14155550123 ", NULL, "invalid_format"},
    {"+1415555O123", NULL, "invalid_format"},
    {"+\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7\xd9\xa8", NULL,
     "invalid_format"}, /* Arabic-Indic digits */
};

static void test_phone(void **state)
{
    (void)state;
    run_rows(phone_fn, "phone", ROWS(phone_rows));
}

struct text_row {
    const char *in;
    const char *reason; /* NULL: accepted */
};

static void run_text(enum tl_err (*fn)(const char *, size_t, struct auth_fault *),
                     const char *param, const struct text_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct auth_fault fault = {NULL, NULL, NULL};
        enum tl_err err = fn(rows[i].in, strlen(rows[i].in), &fault);
        if (rows[i].reason == NULL) {
            if (err != TL_OK) {
                fail_msg("row %zu rejected (%s), want accepted", i, fault.reason);
            }
        } else {
            if (err != TL_ERR_INVALID_REQUEST || fault.reason == NULL ||
                strcmp(fault.reason, rows[i].reason) != 0) {
                fail_msg("row %zu: err %d reason %s, want %s", i, err,
                         fault.reason ? fault.reason : "(none)", rows[i].reason);
            }
            assert_string_equal(fault.param, param);
        }
    }
}

/* A string of count copies of unit, in a static buffer big enough for the tests below. */
static const char *times(const char *unit, size_t count)
{
    static char buf[8][4096];
    static int next;
    char *out = buf[next++ % 8];
    size_t n = strlen(unit);
    assert_true(n * count < sizeof buf[0]);
    for (size_t i = 0; i < count; i++) {
        memcpy(out + i * n, unit, n);
    }
    out[n * count] = '\0';
    return out;
}

static void test_display_name(void **state)
{
    (void)state;
    const struct text_row rows[] = {
        {"A", NULL},
        {"Alice Smith", NULL},
        {"Zo\xc3\xab \xe5\xbc\xa0\xe4\xbc\x9f", NULL},          /* Zoë 张伟 */
        {"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", NULL}, /* emoji with ZWJ */
        {"O'Brien-Smith, Jr.", NULL},
        {times("x", 64), NULL},
        {times("\xe5\xbc\xa0", 64), NULL},
        {"", "empty"},
        {times("x", 65), "too_long"},
        {times("\xf0\x9f\x98\x80", 65), "too_long"},
        {"Alice\nSmith", "invalid_characters"},
        {"Alice\tSmith", "invalid_characters"},
        {"Alice\rSmith", "invalid_characters"},
        {"Alice\x7f", "invalid_characters"},
        {"Alice\xc2\x85", "invalid_characters"},          /* NEL, C1 control */
        {"\xe2\x80\xaeMalice", "invalid_characters"},     /* right-to-left override */
        {"Alice\xe2\x81\xa6x", "invalid_characters"},     /* left-to-right isolate */
        {"Alice\xe2\x80\xa8Smith", "invalid_characters"}, /* line separator */
        {" Alice", "surrounding_space"},
        {"Alice ", "surrounding_space"},
        {" ", "surrounding_space"},
        {"Alice\xc2\xa0", "surrounding_space"},      /* no-break space */
        {"\xe3\x80\x80Malice", "surrounding_space"}, /* ideographic space */
        {"Alice\xff", "invalid_utf8"},
        {"Alice\xc0\xa0", "invalid_utf8"},
        {"Alice\xed\xb0\x80", "invalid_utf8"},
    };
    run_text(validate_display_name, "display_name", ROWS(rows));
    assert_int_equal(validate_display_name("Al\0ce", 5, NULL), TL_ERR_INVALID_REQUEST);
}

static void test_note(void **state)
{
    (void)state;
    const struct text_row rows[] = {
        {"", NULL},
        {"Dinner \xf0\x9f\x8d\x95", NULL},
        {"line one\nline two\n", NULL},
        {" leading and trailing spaces are fine ", NULL},
        {times("x", 280), NULL},
        {times("\xe2\x82\xac", 280), NULL},
        {times("\n", 280), NULL},
        {times("x", 281), "too_long"},
        {times("\xf0\x9f\x8d\x95", 281), "too_long"},
        {"tab\there", "invalid_characters"},
        {"crlf\r\n", "invalid_characters"},
        {"bell\a", "invalid_characters"},
        {"esc\x1b[31m", "invalid_characters"},
        {"\xe2\x80\xaeoverride", "invalid_characters"},
        {"para\xe2\x80\xa9sep", "invalid_characters"},
        {"bad \xe2\x28\xa1", "invalid_utf8"},
        {"truncated \xf0\x9f\x8d", "invalid_utf8"},
    };
    run_text(validate_note, "note", ROWS(rows));
    assert_int_equal(validate_note("a\0b", 3, NULL), TL_ERR_INVALID_REQUEST);
}

struct recipient_row {
    const char *in;
    enum recipient_kind kind; /* 0: rejected */
    const char *value;        /* normalised value, or the reason when rejected */
};

static void test_recipient(void **state)
{
    (void)state;
    const struct recipient_row rows[] = {
        {"@alice", RECIPIENT_HANDLE, "alice"},
        {"@Alice_99", RECIPIENT_HANDLE, "alice_99"},
        {"+14155550123", RECIPIENT_PHONE, "+14155550123"},
        {"alice@example.com", RECIPIENT_EMAIL, "alice@example.com"},
        {"Alice@EXAMPLE.com", RECIPIENT_EMAIL, "Alice@example.com"},
        {"", 0, "empty"},
        {"alice", 0, "invalid_format"},
        {"14155550123", 0, "invalid_format"},
        {"@", 0, "too_short"},
        {"@al", 0, "too_short"},
        {"@alice@example.com", 0, "invalid_characters"},
        {"@@alice", 0, "invalid_characters"},
        {"+1 415 555 0123", 0, "invalid_format"},
        {"+alice", 0, "invalid_format"},
        {"alice@example", 0, "invalid_format"},
        {" @alice", 0, "invalid_format"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct recipient_row *r = &rows[i];
        struct recipient out;
        struct auth_fault fault = {NULL, NULL, NULL};
        memset(&out, 0x5a, sizeof out);
        enum tl_err err = validate_recipient(r->in, strlen(r->in), &out, &fault);
        if (r->kind != 0) {
            if (err != TL_OK) {
                fail_msg("%s: rejected (%s)", r->in, fault.reason);
            }
            assert_int_equal(out.kind, r->kind);
            assert_string_equal(out.value, r->value);
            assert_int_equal(out.value_len, strlen(r->value));
        } else {
            if (err != TL_ERR_INVALID_REQUEST || strcmp(fault.reason, r->value) != 0) {
                fail_msg("%s: err %d reason %s, want %s", r->in, err,
                         fault.reason ? fault.reason : "(none)", r->value);
            }
            assert_string_equal(fault.param, "recipient");
            assert_int_equal(out.value_len, 0x5a5a5a5a5a5a5a5aull);
        }
    }
}

/* A NULL fault pointer is allowed everywhere. */
static void test_null_fault(void **state)
{
    (void)state;
    char out[VALIDATE_EMAIL_BYTES];
    struct recipient r;
    assert_int_equal(validate_handle("x", 1, out, NULL), TL_ERR_INVALID_REQUEST);
    assert_int_equal(validate_email("x", 1, out, NULL), TL_ERR_INVALID_REQUEST);
    assert_int_equal(validate_phone("x", 1, out, NULL), TL_ERR_INVALID_REQUEST);
    assert_int_equal(validate_display_name("", 0, NULL), TL_ERR_INVALID_REQUEST);
    assert_int_equal(validate_note("\x01", 1, NULL), TL_ERR_INVALID_REQUEST);
    assert_int_equal(validate_recipient("x", 1, &r, NULL), TL_ERR_INVALID_REQUEST);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handle),     cmocka_unit_test(test_email),
    cmocka_unit_test(test_phone),      cmocka_unit_test(test_display_name),
    cmocka_unit_test(test_note),       cmocka_unit_test(test_recipient),
    cmocka_unit_test(test_null_fault),
};

TL_TEST_MAIN(tests)
