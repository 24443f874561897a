/* test_config - option table, sources in priority order, validation, data dir and secret. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/config.h"

#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

static char temp_dir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(temp_dir, sizeof(temp_dir), "/tmp/tally-test-config-XXXXXX");
    assert_non_null(mkdtemp(temp_dir));
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", temp_dir);
    assert_int_equal(system(command), 0);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static enum tl_err parse(int argc, char *const *argv, char *const *envp, struct config *out,
                         char *error)
{
    return config_parse(argc, argv, envp, out, error);
}

static void test_defaults(void **state)
{
    (void)state;
    char *argv[] = {"tallyd"};
    char *envp[] = {NULL};
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    assert_int_equal(parse(ARGC(argv), argv, envp, &c, error), TL_OK);
    assert_int_equal(c.command, CONFIG_COMMAND_SERVE);
    assert_false(c.help);
    assert_string_equal(c.listen, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.threads, TL_HTTP_THREADS_DEFAULT);
    assert_int_equal(c.timeout_s, TL_HTTP_TIMEOUT_S_DEFAULT);
    assert_false(c.allow_insecure_http);
    assert_string_equal(c.tls_cert, "");
    assert_string_equal(c.data_dir, "var");
    assert_false(c.sandbox);
    assert_string_equal(c.default_currency, "USD");
    assert_int_equal(c.accounts_max, TL_LEDGER_ACCOUNTS_DEFAULT);
    assert_string_equal(c.log_level, "info");
}

static void test_sources_in_priority_order(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/tally.ini", temp_dir);
    write_file(path, "; comment\n[server]\nport = 9001\nthreads = 2\nlisten = ::1\n"
                     "[app]\nsandbox = yes\ndefault_currency = EUR\n[ratelimit]\nip_burst=7\n");
    char *argv[] = {"tallyd", "--config", path, "--port=9003", "--sandbox"};
    char *envp[] = {"PATH=/bin",
                    "TALLY_SERVER_PORT=9002",
                    "TALLY_SERVER_THREADS=3",
                    "TALLY_APP_SANDBOX=false",
                    "TALLY_DATA_DIR=/srv/tally",
                    NULL};
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    assert_int_equal(parse(ARGC(argv), argv, envp, &c, error), TL_OK);
    assert_int_equal(c.port, 9003);                 /* flag beats env beats file */
    assert_int_equal(c.threads, 3);                 /* env beats file */
    assert_string_equal(c.listen, "::1");           /* file beats default */
    assert_true(c.sandbox);                         /* bare flag beats env false */
    assert_string_equal(c.default_currency, "EUR"); /* file */
    assert_string_equal(c.data_dir, "/srv/tally");  /* env */
    assert_int_equal(c.ratelimit_ip_burst, 7);
    assert_string_equal(c.config_path, path);
}

static void test_flag_forms_and_command(void **state)
{
    (void)state;
    char *argv[] = {"tallyd",
                    "migrate",
                    "--data-dir",
                    "/d",
                    "--listen=0.0.0.0",
                    "--threads",
                    "8",
                    "--tls-cert",
                    "/c.pem",
                    "--tls-key=/k.pem",
                    "--allow-insecure-http=false",
                    "--default-currency",
                    "JPY",
                    "--log-level",
                    "debug"};
    char *envp[] = {NULL};
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    assert_int_equal(parse(ARGC(argv), argv, envp, &c, error), TL_OK);
    assert_int_equal(c.command, CONFIG_COMMAND_MIGRATE);
    assert_string_equal(c.data_dir, "/d");
    assert_string_equal(c.listen, "0.0.0.0");
    assert_int_equal(c.threads, 8);
    assert_string_equal(c.tls_cert, "/c.pem");
    assert_string_equal(c.tls_key, "/k.pem");
    assert_false(c.allow_insecure_http);
    assert_string_equal(c.default_currency, "JPY");
    assert_string_equal(c.log_level, "debug");
    char *serve[] = {"tallyd", "serve"};
    assert_int_equal(parse(ARGC(serve), serve, envp, &c, error), TL_OK);
    assert_int_equal(c.command, CONFIG_COMMAND_SERVE);
}

/* Each bad input fails with a one-line message that contains want. */
static void expect_bad(int argc, char **argv, char **envp, const char *want)
{
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    enum tl_err err = parse(argc, argv, envp, &c, error);
    if (err == TL_OK || strstr(error, want) == NULL || strchr(error, '\n') != NULL) {
        print_error("argv[1]=%s: got %s '%s', want '%s'\n", argc > 1 ? argv[1] : "",
                    tl_err_code(err), error, want);
        fail();
    }
}

static void test_bad_values(void **state)
{
    (void)state;
    char *none[] = {NULL};
    char *a1[] = {"tallyd", "--port", "70000"};
    expect_bad(3, a1, none, "server.port");
    char *a2[] = {"tallyd", "--port", "-1"};
    expect_bad(3, a2, none, "--port");
    char *a3[] = {"tallyd", "--threads", "0"};
    expect_bad(3, a3, none, "server.threads");
    char *a4[] = {"tallyd", "--listen", "localhost"};
    expect_bad(3, a4, none, "IP address");
    char *a5[] = {"tallyd", "--default-currency", "usd"};
    expect_bad(3, a5, none, "currency");
    char *a6[] = {"tallyd", "--sandbox=maybe"};
    expect_bad(2, a6, none, "boolean");
    char *a7[] = {"tallyd", "--tls-cert", "/c.pem"};
    expect_bad(3, a7, none, "together");
    char *a8[] = {"tallyd", "--bogus"};
    expect_bad(2, a8, none, "unknown option '--bogus'");
    char *a9[] = {"tallyd", "--port"};
    expect_bad(2, a9, none, "needs a value");
    char *a10[] = {"tallyd", "launch"};
    expect_bad(2, a10, none, "unknown command");
    char *a11[] = {"tallyd", "serve", "migrate"};
    expect_bad(3, a11, none, "unexpected argument");
    char *a12[] = {"tallyd", "--log-level", "loud"};
    expect_bad(3, a12, none, "log.level");
    char *a13[] = {"tallyd", "--data-dir="};
    expect_bad(2, a13, none, "data.dir");
    char *a14[] = {"tallyd", "--port", "12a"};
    expect_bad(3, a14, none, "server.port");
    char *a15[] = {"tallyd"};
    char *env15[] = {"TALLY_SERVER_TIMEOUT_S=0", NULL};
    expect_bad(1, a15, env15, "TALLY_SERVER_TIMEOUT_S");
    char *env16[] = {"TALLY_SERVER_CONNECTIONS_MAX=10", NULL};
    expect_bad(1, a15, env16, "connections_per_ip_max");
    char long_dir[TL_CONFIG_PATH_BYTES_MAX + 16];
    memset(long_dir, 'd', sizeof(long_dir) - 1);
    long_dir[sizeof(long_dir) - 1] = '\0';
    char *a17[] = {"tallyd", "--data-dir", long_dir};
    expect_bad(3, a17, none, "longer than");
}

static void test_bad_files(void **state)
{
    (void)state;
    char path[128];
    char *none[] = {NULL};
    snprintf(path, sizeof(path), "%s/bad.ini", temp_dir);
    write_file(path, "[server]\nport = 80\ncolour = blue\n");
    char *a1[] = {"tallyd", "--config", path};
    expect_bad(3, a1, none, "unknown key [server] colour");
    write_file(path, "[server]\nport = 99999\n");
    expect_bad(3, a1, none, "bad.ini");
    write_file(path, "[server]\nthis line has no equals sign\n");
    expect_bad(3, a1, none, ":2:");
    char *a2[] = {"tallyd", "--config", "/nonexistent/tally.ini"};
    expect_bad(3, a2, none, "cannot open");
}

static void test_help(void **state)
{
    (void)state;
    char *argv[] = {"tallyd", "--port", "1", "--help", "--bogus"};
    char *envp[] = {NULL};
    struct config c;
    char error[CONFIG_ERROR_BYTES];
    assert_int_equal(parse(ARGC(argv), argv, envp, &c, error), TL_OK);
    assert_true(c.help);
    char *text = NULL;
    size_t text_bytes = 0;
    FILE *out = open_memstream(&text, &text_bytes);
    config_help_print(out, "tallyd");
    fclose(out);
    static const char *const expected[] = {
        "--config FILE",    "--help",
        "--data-dir VALUE", "TALLY_DATA_DIR",
        "--listen VALUE",   "TALLY_SERVER_LISTEN",
        "--port VALUE",     "TALLY_SERVER_PORT, default 8080",
        "--tls-cert",       "--tls-key",
        "--sandbox",        "--allow-insecure-http",
        "--threads",        "--default-currency",
        "default USD",      "TALLY_RATELIMIT_LOOKUP_PER_MIN",
        "migrate",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        if (strstr(text, expected[i]) == NULL) {
            print_error("help lacks '%s'\n", expected[i]);
            fail();
        }
    }
    free(text);
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(config_listen_is_loopback("127.0.0.1"));
    assert_true(config_listen_is_loopback("127.8.9.1"));
    assert_true(config_listen_is_loopback("::1"));
    assert_false(config_listen_is_loopback("0.0.0.0"));
    assert_false(config_listen_is_loopback("::"));
    assert_false(config_listen_is_loopback("10.0.0.1"));
    assert_false(config_listen_is_loopback("128.0.0.1"));
    assert_false(config_listen_is_loopback("localhost"));
}

static void test_data_dir_and_secret(void **state)
{
    (void)state;
    char dir[128];
    char key_path[160];
    char error[CONFIG_ERROR_BYTES];
    struct stat st;
    uint8_t first[CONFIG_SECRET_BYTES];
    uint8_t second[CONFIG_SECRET_BYTES];
    snprintf(dir, sizeof(dir), "%s/data", temp_dir);
    snprintf(key_path, sizeof(key_path), "%s/" CONFIG_SECRET_FILE, dir);

    assert_int_equal(config_secret_load(dir, first, error), TL_ERR_IO);
    assert_int_equal(config_data_dir_prepare(dir, error), TL_OK);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, CONFIG_SECRET_BYTES);
    assert_int_equal(config_secret_load(dir, first, error), TL_OK);

    /* A second start keeps the secret; a loose directory mode is tightened. */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(config_data_dir_prepare(dir, error), TL_OK);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(config_secret_load(dir, second, error), TL_OK);
    assert_memory_equal(first, second, CONFIG_SECRET_BYTES);
    uint8_t zero[CONFIG_SECRET_BYTES] = {0};
    assert_memory_not_equal(first, zero, CONFIG_SECRET_BYTES);

    /* A readable secret or one of the wrong size is refused. */
    assert_int_equal(chmod(key_path, 0644), 0);
    assert_int_equal(config_secret_load(dir, second, error), TL_ERR_CORRUPT);
    assert_non_null(strstr(error, "0600"));
    assert_int_equal(chmod(key_path, 0600), 0);
    assert_int_equal(truncate(key_path, 16), 0);
    assert_int_equal(config_secret_load(dir, second, error), TL_ERR_CORRUPT);

    /* The data directory's parent must exist; a file is not a directory. */
    char nested_dir[192];
    snprintf(nested_dir, sizeof(nested_dir), "%s/missing/data", temp_dir);
    assert_int_equal(config_data_dir_prepare(nested_dir, error), TL_ERR_IO);
    assert_int_equal(config_data_dir_prepare(key_path, error), TL_ERR_IO);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_sources_in_priority_order),
    cmocka_unit_test(test_flag_forms_and_command),
    cmocka_unit_test(test_bad_values),
    cmocka_unit_test(test_bad_files),
    cmocka_unit_test(test_help),
    cmocka_unit_test(test_loopback),
    cmocka_unit_test(test_data_dir_and_secret),
};

int main(void)
{
    size_t total = sizeof(tests) / sizeof(tests[0]);
    int failed = cmocka_run_group_tests(tests, setup_dir, teardown_dir);
    printf("%zu passed, %d failed\n", total - (size_t)failed, failed);
    return failed == 0 ? 0 : 1;
}
