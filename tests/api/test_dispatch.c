/* test_dispatch - the request phases, driven without sockets through hand-built requests. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/dispatch.h"
#include "api/json.h"
#include "api/metrics.h"
#include "api/ops.h"
#include "api/ratelimit.h"
#include "test.h"
#include "util/assert.h"

/* ---- A handler written the way resource handlers will be: parse, execute, render ---- */

static const struct json_field deposit_fields[] = {
    JSON_AMOUNT("amount", true),
    JSON_STRING("currency", true, 3),
};

static enum tl_err deposit_create(struct http_request *req, struct http_response *resp)
{
    struct json_error error;
    json_t *body = NULL;
    if (json_body_read(req->body, req->body_bytes, deposit_fields, 2, &body, &error) != TL_OK) {
        return http_fail(resp, error.err, error.param, error.detail);
    }
    json_int_t amount = json_field_int(body, "amount", 0);
    json_t *out =
        json_pack("{s:s,s:I,s:s,s:s}", "wallet", http_request_param(req, "id"), "amount", amount,
                  "currency", json_field_string(body, "currency"), "idempotency_key",
                  req->idempotency_key != NULL ? req->idempotency_key : "");
    json_decref(body);
    TL_ASSERT(http_response_header_set(resp, "Location", "/v1/deposits/1") == TL_OK);
    return http_response_json(resp, 201, out);
}

static enum tl_err whoami(struct http_request *req, struct http_response *resp)
{
    char hex[ID128_HEX_BYTES];
    id128_to_hex(req->principal.user_id, hex);
    return http_response_json(resp, 200, json_pack("{s:s}", "user", hex));
}

static enum tl_err lookup(struct http_request *req, struct http_response *resp)
{
    const char *q = http_request_query(req, "q");
    return http_response_json(resp, 200, json_pack("{s:s?}", "q", q));
}

static enum tl_err always_busy(struct http_request *req, struct http_response *resp)
{
    (void)req;
    (void)resp;
    return TL_ERR_BUSY;
}

static const struct route table[] = {
    {HTTP_GET, "/healthz", ops_healthz, "healthz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/readyz", ops_readyz, "readyz", 0, ROUTE_LIMIT_NONE},
    {HTTP_GET, "/metrics", ops_metrics, "metrics", 0, ROUTE_LIMIT_NONE},
    {HTTP_POST, "/v1/wallets/{id}/deposits", deposit_create, "deposits.create", ROUTE_IDEMPOTENT,
     ROUTE_LIMIT_IP},
    {HTTP_GET, "/v1/me", whoami, "me", ROUTE_AUTH, ROUTE_LIMIT_USER},
    {HTTP_GET, "/v1/lookup", lookup, "lookup", 0, ROUTE_LIMIT_LOOKUP},
    {HTTP_GET, "/v1/busy", always_busy, "busy", 0, ROUTE_LIMIT_IP},
};
#define TABLE_COUNT (sizeof(table) / sizeof(table[0]))
static const char *table_names[TABLE_COUNT];

/* ---- Fake transport: headers and query from arrays ---- */

struct fake {
    const char *headers[8][2];
    const char *query[4][2];
};

static const char *fake_lookup(void *ctx, enum http_lookup_kind kind, const char *name)
{
    struct fake *f = ctx;
    for (int i = 0; i < 8; i++) {
        const char *const *pair =
            kind == HTTP_LOOKUP_HEADER ? f->headers[i] : (i < 4 ? f->query[i] : NULL);
        if (pair == NULL || pair[0] == NULL) {
            continue;
        }
        bool same = kind == HTTP_LOOKUP_HEADER ? strcasecmp(pair[0], name) == 0
                                               : strcmp(pair[0], name) == 0;
        if (same) {
            return pair[1];
        }
    }
    return NULL;
}

static uint64_t fake_now_ns = 1000000000ull;
static uint64_t fake_clock(void)
{
    return fake_now_ns;
}

static enum tl_err fake_authenticate(void *ctx, struct http_request *req)
{
    (void)ctx;
    const char *auth = http_request_header(req, "Authorization");
    if (auth == NULL || strcmp(auth, "Bearer good") != 0) {
        return TL_ERR_UNAUTHORIZED;
    }
    req->principal.authenticated = true;
    req->principal.user_id = id128_make(1, 2);
    return TL_OK;
}

struct harness {
    struct api_app app;
    struct fake fake;
    struct http_request req;
    struct http_response resp;
    json_t *body;
};

static int setup(void **state)
{
    struct harness *h = calloc(1, sizeof(*h));
    for (size_t i = 0; i < TABLE_COUNT; i++) {
        table_names[i] = table[i].name;
    }
    router_table_check(table, TABLE_COUNT);
    h->app.routes = table;
    h->app.route_count = TABLE_COUNT;
    assert_int_equal(metrics_new(table_names, TABLE_COUNT, &h->app.metrics), TL_OK);
    struct ratelimit_config ip = {60, 100, 1024};
    struct ratelimit_config lookup_class = {1, 1, 1024}; /* one a minute */
    assert_int_equal(ratelimit_new(&ip, &h->app.limits[ROUTE_LIMIT_IP]), TL_OK);
    assert_int_equal(ratelimit_new(&ip, &h->app.limits[ROUTE_LIMIT_USER]), TL_OK);
    assert_int_equal(ratelimit_new(&lookup_class, &h->app.limits[ROUTE_LIMIT_LOOKUP]), TL_OK);
    h->app.clock_ns = fake_clock;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct harness *h = *state;
    for (int c = 0; c < ROUTE_LIMIT_COUNT; c++) {
        ratelimit_free(h->app.limits[c]);
    }
    metrics_free(h->app.metrics);
    http_response_free(&h->resp);
    json_decref(h->body);
    free(h);
    return 0;
}

/* Runs one request; the response body (JSON) is parsed into h->body. */
static int run(struct harness *h, enum http_method method, const char *path, const char *body)
{
    http_response_free(&h->resp);
    json_decref(h->body);
    h->body = NULL;
    memset(&h->req, 0, sizeof(h->req));
    h->req.method = method;
    h->req.path = path;
    h->req.body = (const uint8_t *)body;
    h->req.body_bytes = body != NULL ? strlen(body) : 0;
    snprintf(h->req.request_id, sizeof(h->req.request_id), "req_test");
    snprintf(h->req.client_ip, sizeof(h->req.client_ip), "192.0.2.7");
    h->req.lookup_ = fake_lookup;
    h->req.lookup_ctx_ = &h->fake;
    http_response_init(&h->resp);
    dispatch_run(&h->app, &h->req, &h->resp);
    if (strstr(h->resp.content_type, "json") != NULL) {
        json_error_t jerr;
        h->body = json_loadb(h->resp.body.data, h->resp.body.len, 0, &jerr);
        assert_non_null(h->body);
    }
    return h->resp.status;
}

static const char *field(struct harness *h, const char *name)
{
    return json_string_value(json_object_get(h->body, name));
}

static void expect_problem(struct harness *h, int status, const char *code, const char *param)
{
    assert_int_equal(h->resp.status, status);
    assert_string_equal(h->resp.content_type, "application/problem+json");
    assert_string_equal(field(h, "code"), code);
    assert_string_equal(field(h, "request_id"), "req_test");
    if (param != NULL) {
        assert_string_equal(field(h, "param"), param);
    } else {
        assert_null(json_object_get(h->body, "param"));
    }
}

static void test_ops_routes(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run(h, HTTP_GET, "/healthz", NULL), 200);
    assert_string_equal(field(h, "status"), "ok");
    assert_int_equal(run(h, HTTP_HEAD, "/healthz", NULL), 200);
    /* No reader pool: not ready. */
    assert_int_equal(run(h, HTTP_GET, "/readyz", NULL), 503);
    expect_problem(h, 503, "not_ready", NULL);
    assert_int_equal(run(h, HTTP_GET, "/metrics", NULL), 200);
    assert_string_equal(h->resp.content_type, METRICS_CONTENT_TYPE);
    assert_non_null(strstr(buf_str(&h->resp.body), "tally_writer_up 0"));
}

static void test_not_found_and_method_not_allowed(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run(h, HTTP_GET, "/nope", NULL), 404);
    expect_problem(h, 404, "not_found", NULL);
    assert_int_equal(h->req.route_index, TABLE_COUNT);
    assert_int_equal(run(h, HTTP_DELETE, "/healthz", NULL), 405);
    expect_problem(h, 405, "method_not_allowed", NULL);
    assert_string_equal(http_response_header(&h->resp, "Allow"), "GET, HEAD");
}

static void test_handler_parse_execute_render(void **state)
{
    struct harness *h = *state;
    h->fake.headers[0][0] = "Content-Type";
    h->fake.headers[0][1] = "application/json; charset=utf-8";
    assert_int_equal(
        run(h, HTTP_POST, "/v1/wallets/w1/deposits", "{\"amount\":1050,\"currency\":\"USD\"}"),
        201);
    assert_string_equal(field(h, "wallet"), "w1");
    assert_int_equal(json_integer_value(json_object_get(h->body, "amount")), 1050);
    assert_string_equal(http_response_header(&h->resp, "Location"), "/v1/deposits/1");
    assert_int_equal(h->resp.problem_err, TL_OK);
    /* A handler's failure becomes a problem with its param. */
    assert_int_equal(
        run(h, HTTP_POST, "/v1/wallets/w1/deposits", "{\"amount\":10.5,\"currency\":\"USD\"}"),
        400);
    expect_problem(h, 400, "invalid_amount", "amount");
    assert_int_equal(h->resp.problem_err, TL_ERR_INVALID_AMOUNT);
    assert_int_equal(
        run(h, HTTP_POST, "/v1/wallets/w1/deposits", "{\"amount\":1,\"currency\":\"USD\",\"x\":1}"),
        400);
    expect_problem(h, 400, "invalid_request", "x");
    assert_int_equal(run(h, HTTP_GET, "/v1/busy", NULL), 503);
    expect_problem(h, 503, "service_busy", NULL);
}

static void test_content_type_is_enforced(void **state)
{
    struct harness *h = *state;
    h->fake.headers[0][0] = "Content-Type";
    h->fake.headers[0][1] = "text/plain";
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", "{}"), 415);
    expect_problem(h, 415, "unsupported_media_type", "Content-Type");
    h->fake.headers[0][1] = "application/jsonx";
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", "{}"), 415);
    h->fake.headers[0][0] = NULL;
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", "{}"), 415);
    /* An empty body needs no content type (and fails in the handler's parse). */
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", NULL), 400);
    expect_problem(h, 400, "invalid_request", NULL);
}

static void test_idempotency_key(void **state)
{
    struct harness *h = *state;
    const char *body = "{\"amount\":5,\"currency\":\"EUR\"}";
    h->fake.headers[0][0] = "Content-Type";
    h->fake.headers[0][1] = "application/json";
    h->fake.headers[1][0] = "Idempotency-Key";
    h->fake.headers[1][1] = "order-42";
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", body), 201);
    assert_string_equal(field(h, "idempotency_key"), "order-42");
    h->fake.headers[1][1] = "has space";
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", body), 400);
    expect_problem(h, 400, "invalid_request", "Idempotency-Key");
    h->fake.headers[1][1] = "";
    assert_int_equal(run(h, HTTP_POST, "/v1/wallets/w1/deposits", body), 400);
}

static void test_authentication(void **state)
{
    struct harness *h = *state;
    /* No authenticator configured: 401. */
    assert_int_equal(run(h, HTTP_GET, "/v1/me", NULL), 401);
    expect_problem(h, 401, "unauthorized", NULL);
    h->app.authenticate = fake_authenticate;
    assert_int_equal(run(h, HTTP_GET, "/v1/me", NULL), 401);
    h->fake.headers[0][0] = "Authorization";
    h->fake.headers[0][1] = "Bearer bad";
    assert_int_equal(run(h, HTTP_GET, "/v1/me", NULL), 401);
    assert_false(h->req.principal.authenticated);
    h->fake.headers[0][1] = "Bearer good";
    assert_int_equal(run(h, HTTP_GET, "/v1/me", NULL), 200);
    assert_string_equal(field(h, "user"), "00000000000000010000000000000002");
}

static void test_rate_limits(void **state)
{
    struct harness *h = *state;
    /* Per address: burst 3, then 429 with Retry-After; ops routes are never limited. */
    struct ratelimit_config tight = {60, 3, 1024};
    ratelimit_free(h->app.limits[ROUTE_LIMIT_IP]);
    assert_int_equal(ratelimit_new(&tight, &h->app.limits[ROUTE_LIMIT_IP]), TL_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run(h, HTTP_GET, "/v1/busy", NULL), 503);
    }
    assert_int_equal(run(h, HTTP_GET, "/v1/busy", NULL), 429);
    expect_problem(h, 429, "rate_limited", NULL);
    assert_string_equal(http_response_header(&h->resp, "Retry-After"), "1");
    for (int i = 0; i < 10; i++) {
        assert_int_equal(run(h, HTTP_GET, "/healthz", NULL), 200);
    }
    fake_now_ns += 1000000000ull;
    assert_int_equal(run(h, HTTP_GET, "/v1/busy", NULL), 503);
    /* Lookup class: one per minute on top of the address bucket. */
    fake_now_ns += 3600ull * 1000000000ull;
    h->fake.query[0][0] = "q";
    h->fake.query[0][1] = "alice";
    assert_int_equal(run(h, HTTP_GET, "/v1/lookup", NULL), 200);
    assert_string_equal(field(h, "q"), "alice");
    assert_int_equal(run(h, HTTP_GET, "/v1/lookup", NULL), 429);
    assert_string_equal(http_response_header(&h->resp, "Retry-After"), "60");
    /* The refusals are counted by class. */
    struct buf text;
    buf_init(&text, TL_HTTP_RESPONSE_BYTES_MAX);
    assert_int_equal(metrics_render(h->app.metrics, NULL, &text), TL_OK);
    assert_non_null(strstr(buf_str(&text), "tally_http_rate_limited_total{class=\"ip\"} 1\n"));
    assert_non_null(strstr(buf_str(&text), "tally_http_rate_limited_total{class=\"lookup\"} 1\n"));
    buf_free(&text);
}

static void test_response_headers_are_bounded(void **state)
{
    (void)state;
    struct http_response resp;
    http_response_init(&resp);
    static const char *const names[] = {"A", "B", "C", "D", "E", "F", "G", "H", "I"};
    for (unsigned i = 0; i < TL_HTTP_RESPONSE_HEADERS_MAX; i++) {
        assert_int_equal(http_response_header_set(&resp, names[i], "v"), TL_OK);
    }
    assert_int_equal(http_response_header_set(&resp, "I", "v"), TL_ERR_LIMIT);
    assert_int_equal(http_response_header_set(&resp, "a", "replaced"), TL_OK);
    assert_string_equal(http_response_header(&resp, "A"), "replaced");
    char long_value[TL_HTTP_HEADER_VALUE_BYTES_MAX + 1];
    memset(long_value, 'v', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    assert_int_equal(http_response_header_set(&resp, "A", long_value), TL_ERR_LIMIT);
    assert_string_equal(http_response_header(&resp, "A"), "replaced");
    http_response_free(&resp);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ops_routes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_not_found_and_method_not_allowed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_handler_parse_execute_render, setup, teardown),
    cmocka_unit_test_setup_teardown(test_content_type_is_enforced, setup, teardown),
    cmocka_unit_test_setup_teardown(test_idempotency_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_authentication, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rate_limits, setup, teardown),
    cmocka_unit_test(test_response_headers_are_bounded),
};

TL_TEST_MAIN(tests)
