/* test_router - the route table's matcher and its startup checks. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/router.h"
#include "test.h"

static enum tl_err handler_stub(struct http_request *req, struct http_response *resp)
{
    (void)req;
    (void)resp;
    return TL_OK;
}

static const struct route table[] = {
    {HTTP_GET, "/healthz", handler_stub, "healthz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/v1/users/me", handler_stub, "users.me", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/users/{id}", handler_stub, "users.get", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_POST, "/v1/payments", handler_stub, "payments.create", ROUTE_AUTH | ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/payments", handler_stub, "payments.list", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/wallets/{wallet_id}/history/{entry}", handler_stub, "wallets.entry", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
    {HTTP_DELETE, "/v1/sessions/{id}", handler_stub, "sessions.delete", ROUTE_AUTH,
     ROUTE_LIMIT_USER},
};
#define TABLE_COUNT (sizeof(table) / sizeof(table[0]))

static enum router_outcome match(enum http_method method, const char *path,
                                 struct router_match *out)
{
    return router_match(table, TABLE_COUNT, method, path, out);
}

static void test_literal_and_order(void **state)
{
    (void)state;
    struct router_match m;
    assert_int_equal(match(HTTP_GET, "/healthz", &m), ROUTER_FOUND);
    assert_int_equal(m.route_index, 0);
    assert_int_equal(m.param_count, 0);
    /* The literal row listed first wins over the {id} row. */
    assert_int_equal(match(HTTP_GET, "/v1/users/me", &m), ROUTER_FOUND);
    assert_int_equal(m.route_index, 1);
    assert_int_equal(match(HTTP_POST, "/v1/payments", &m), ROUTER_FOUND);
    assert_int_equal(m.route_index, 3);
    assert_int_equal(match(HTTP_GET, "/v1/payments", &m), ROUTER_FOUND);
    assert_int_equal(m.route_index, 4);
}

static void test_params_are_captured(void **state)
{
    (void)state;
    struct router_match m;
    assert_int_equal(match(HTTP_GET, "/v1/users/0190a1b2c3d4", &m), ROUTER_FOUND);
    assert_int_equal(m.route_index, 2);
    assert_int_equal(m.param_count, 1);
    assert_int_equal(m.params[0].name_len, 2);
    assert_memory_equal(m.params[0].name, "id", 2);
    assert_string_equal(m.params[0].value, "0190a1b2c3d4");

    assert_int_equal(match(HTTP_GET, "/v1/wallets/w-1/history/e_2.x~", &m), ROUTER_FOUND);
    assert_int_equal(m.param_count, 2);
    assert_memory_equal(m.params[0].name, "wallet_id", 9);
    assert_string_equal(m.params[0].value, "w-1");
    assert_memory_equal(m.params[1].name, "entry", 5);
    assert_string_equal(m.params[1].value, "e_2.x~");

    /* http_request_param reads them by name. */
    struct http_request req;
    memset(&req, 0, sizeof(req));
    memcpy(req.params, m.params, sizeof(req.params));
    req.param_count = m.param_count;
    assert_string_equal(http_request_param(&req, "wallet_id"), "w-1");
    assert_string_equal(http_request_param(&req, "entry"), "e_2.x~");
    assert_null(http_request_param(&req, "wallet"));
    assert_null(http_request_param(&req, "id"));
}

static void test_not_found(void **state)
{
    (void)state;
    struct router_match m;
    static const char *const paths[] = {
        "/",
        "/nope",
        "/healthz/",
        "/healthz/x",
        "//healthz",
        "/v1/users",
        "/v1/users/",
        "/v1/users//",
        "/v1/users/a/b",
        "/v1/users/a b",
        "/v1/users/a%2Fb",
        "/v1/users/\xc3\xa9",
        "/v1/users/{id}",
        "/HEALTHZ",
        "",
        "healthz",
        "/v1/wallets/w/history/",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (match(HTTP_GET, paths[i], &m) != ROUTER_NOT_FOUND) {
            print_error("path '%s' matched\n", paths[i]);
            fail();
        }
    }
    char long_param[TL_ROUTE_PARAM_BYTES_MAX + 16] = "/v1/users/";
    memset(long_param + 10, 'a', TL_ROUTE_PARAM_BYTES_MAX + 1);
    long_param[10 + TL_ROUTE_PARAM_BYTES_MAX + 1] = '\0';
    assert_int_equal(match(HTTP_GET, long_param, &m), ROUTER_NOT_FOUND);
    long_param[10 + TL_ROUTE_PARAM_BYTES_MAX] = '\0';
    assert_int_equal(match(HTTP_GET, long_param, &m), ROUTER_FOUND);
    char long_path[TL_ROUTE_PATH_BYTES_MAX + 8];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    assert_int_equal(match(HTTP_GET, long_path, &m), ROUTER_NOT_FOUND);
}

static void test_method_not_allowed_lists_allow(void **state)
{
    (void)state;
    struct router_match m;
    assert_int_equal(match(HTTP_POST, "/healthz", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(match(HTTP_DELETE, "/v1/payments", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, POST");
    assert_int_equal(match(HTTP_GET, "/v1/sessions/abc", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "DELETE");
    assert_int_equal(match(HTTP_METHOD_OTHER, "/healthz", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(match(HTTP_OPTIONS, "/v1/users/x", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD");
}

static void test_head_uses_get_rows(void **state)
{
    (void)state;
    struct router_match m;
    assert_int_equal(match(HTTP_HEAD, "/v1/users/x", &m), ROUTER_FOUND);
    assert_int_equal(m.route_index, 2);
    assert_int_equal(match(HTTP_HEAD, "/v1/sessions/x", &m), ROUTER_METHOD_NOT_ALLOWED);
}

static void test_methods_parse(void **state)
{
    (void)state;
    assert_int_equal(http_method_parse("GET"), HTTP_GET);
    assert_int_equal(http_method_parse("DELETE"), HTTP_DELETE);
    assert_int_equal(http_method_parse("get"), HTTP_METHOD_OTHER);
    assert_int_equal(http_method_parse("BREW"), HTTP_METHOD_OTHER);
    assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");
}

static void test_tables_that_pass(void **state)
{
    (void)state;
    router_table_check(table, TABLE_COUNT);
    router_table_check(api_routes, api_route_count);
    assert_true(api_route_count >= 3);
}

/* Runs router_table_check on a bad table in a child; it must abort. */
static void expect_table_rejected(const struct route *bad, size_t count)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        router_table_check(bad, count);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_tables_that_fail(void **state)
{
    (void)state;
    const struct route shadowed[] = {
        {HTTP_GET, "/v1/users/{id}", handler_stub, "a", 0, ROUTE_LIMIT_IP},
        {HTTP_GET, "/v1/users/me", handler_stub, "b", 0, ROUTE_LIMIT_IP},
    };
    expect_table_rejected(shadowed, 2);
    const struct route duplicate_name[] = {
        {HTTP_GET, "/a", handler_stub, "same", 0, ROUTE_LIMIT_IP},
        {HTTP_GET, "/b", handler_stub, "same", 0, ROUTE_LIMIT_IP},
    };
    expect_table_rejected(duplicate_name, 2);
    const struct route duplicate_row[] = {
        {HTTP_GET, "/a/{x}", handler_stub, "a", 0, ROUTE_LIMIT_IP},
        {HTTP_GET, "/a/{y}", handler_stub, "b", 0, ROUTE_LIMIT_IP},
    };
    expect_table_rejected(duplicate_row, 2);
    const struct route trailing_slash[] = {{HTTP_GET, "/a/", handler_stub, "a", 0, 0}};
    expect_table_rejected(trailing_slash, 1);
    const struct route bad_param[] = {{HTTP_GET, "/a/{Id}", handler_stub, "a", 0, 0}};
    expect_table_rejected(bad_param, 1);
    const struct route no_handler[] = {{HTTP_GET, "/a", NULL, "a", 0, 0}};
    expect_table_rejected(no_handler, 1);
    const struct route bad_name[] = {{HTTP_GET, "/a", handler_stub, "A b", 0, 0}};
    expect_table_rejected(bad_name, 1);
    const struct route idempotent_get[] = {
        {HTTP_GET, "/a", handler_stub, "a", ROUTE_IDEMPOTENT, 0}};
    expect_table_rejected(idempotent_get, 1);
    const struct route head_row[] = {{HTTP_HEAD, "/a", handler_stub, "a", 0, 0}};
    expect_table_rejected(head_row, 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_literal_and_order),
    cmocka_unit_test(test_params_are_captured),
    cmocka_unit_test(test_not_found),
    cmocka_unit_test(test_method_not_allowed_lists_allow),
    cmocka_unit_test(test_head_uses_get_rows),
    cmocka_unit_test(test_methods_parse),
    cmocka_unit_test(test_tables_that_pass),
    cmocka_unit_test(test_tables_that_fail),
};

TL_TEST_MAIN(tests)
