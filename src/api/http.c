#include "api/http.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "api/json.h"
#include "api/problem.h"
#include "api/readers.h"
#include "util/assert.h"

/* How long a request waits for a reader handle before answering 503. */
#define HTTP_READER_WAIT_MS 2000u

static const char *const http_method_names[HTTP_METHOD_COUNT] = {
    [HTTP_METHOD_OTHER] = "OTHER", [HTTP_GET] = "GET",         [HTTP_HEAD] = "HEAD",
    [HTTP_POST] = "POST",          [HTTP_PUT] = "PUT",         [HTTP_PATCH] = "PATCH",
    [HTTP_DELETE] = "DELETE",      [HTTP_OPTIONS] = "OPTIONS",
};

const char *http_method_name(enum http_method method)
{
    TL_ASSERT((unsigned)method < HTTP_METHOD_COUNT);
    return http_method_names[method];
}

enum http_method http_method_parse(const char *token)
{
    for (unsigned m = HTTP_GET; m < HTTP_METHOD_COUNT; m++) {
        if (strcmp(token, http_method_names[m]) == 0) {
            return (enum http_method)m;
        }
    }
    return HTTP_METHOD_OTHER;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < req->param_count; i++) {
        if (req->params[i].name_len == len && memcmp(req->params[i].name, name, len) == 0) {
            return req->params[i].value;
        }
    }
    return NULL;
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return req->lookup_ != NULL ? req->lookup_(req->lookup_ctx_, HTTP_LOOKUP_QUERY, name) : NULL;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return req->lookup_ != NULL ? req->lookup_(req->lookup_ctx_, HTTP_LOOKUP_HEADER, name) : NULL;
}

enum tl_err http_request_store(struct http_request *req, struct store **out)
{
    TL_ASSERT(req->app != NULL);
    if (req->reader_ == NULL) {
        if (req->app->readers == NULL) {
            return TL_ERR_STORAGE;
        }
        enum tl_err err = readers_acquire(req->app->readers, HTTP_READER_WAIT_MS, &req->reader_);
        if (err != TL_OK) {
            return err;
        }
    }
    *out = req->reader_;
    return TL_OK;
}

void http_response_init(struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    resp->content_type = "application/json";
    resp->problem_err = TL_OK;
    buf_init(&resp->body, TL_HTTP_RESPONSE_BYTES_MAX);
}

void http_response_free(struct http_response *resp)
{
    buf_free(&resp->body);
    if (resp->stream != NULL) { /* never handed to the server */
        resp->stream->release(resp->stream);
        resp->stream = NULL;
    }
}

enum tl_err http_response_header_set(struct http_response *resp, const char *name,
                                     const char *value)
{
    TL_ASSERT(name != NULL);
    TL_ASSERT(value != NULL);
    size_t len = strlen(value);
    if (len >= TL_HTTP_HEADER_VALUE_BYTES_MAX) {
        return TL_ERR_LIMIT;
    }
    struct http_header *slot = NULL;
    for (uint32_t i = 0; i < resp->header_count; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            slot = &resp->headers[i];
        }
    }
    if (slot == NULL) {
        if (resp->header_count >= TL_HTTP_RESPONSE_HEADERS_MAX) {
            return TL_ERR_LIMIT;
        }
        slot = &resp->headers[resp->header_count++];
        slot->name = name;
    }
    memcpy(slot->value, value, len + 1);
    return TL_OK;
}

enum tl_err http_response_header_add(struct http_response *resp, const char *name,
                                     const char *value)
{
    TL_ASSERT(name != NULL);
    TL_ASSERT(value != NULL);
    size_t len = strlen(value);
    if (len >= TL_HTTP_HEADER_VALUE_BYTES_MAX || resp->header_count >= TL_HTTP_RESPONSE_HEADERS_MAX) {
        return TL_ERR_LIMIT;
    }
    struct http_header *slot = &resp->headers[resp->header_count++];
    slot->name = name;
    memcpy(slot->value, value, len + 1);
    return TL_OK;
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
    for (uint32_t i = 0; i < resp->header_count; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            return resp->headers[i].value;
        }
    }
    return NULL;
}

enum tl_err http_response_json(struct http_response *resp, int status, struct json_t *value)
{
    TL_ASSERT(status >= 200 && status < 600);
    if (value == NULL) {
        return TL_ERR_NOMEM; /* a json_object() that failed, passed straight in */
    }
    buf_reset(&resp->body);
    enum tl_err err = json_render(value, &resp->body);
    json_decref(value);
    if (err != TL_OK) {
        return err;
    }
    resp->status = status;
    resp->content_type = "application/json";
    return TL_OK;
}

enum tl_err http_fail(struct http_response *resp, enum tl_err err, const char *param,
                      const char *detail)
{
    TL_ASSERT(err != TL_OK);
    snprintf(resp->problem_param, sizeof(resp->problem_param), "%s", param != NULL ? param : "");
    snprintf(resp->problem_detail, sizeof(resp->problem_detail), "%s",
             detail != NULL ? detail : "");
    return err;
}

void http_response_problem(struct http_response *resp, const struct http_request *req,
                           enum tl_err err, const char *param, const char *detail)
{
    int status = 500;
    buf_reset(&resp->body);
    if (detail != NULL && detail[0] == '\0') {
        detail = NULL;
    }
    if (problem_render(&resp->body, err, param, detail, req->request_id, &status) != TL_OK) {
        buf_reset(&resp->body);
    }
    resp->status = status;
    resp->content_type = PROBLEM_CONTENT_TYPE;
    resp->problem_err = err;
}
