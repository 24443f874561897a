#include "api/static_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/app.h"
#include "util/assert.h"
#include "util/config.h"
#include "util/log.h"

static_assert(STATIC_FILES_BYTES_MAX <= TL_HTTP_RESPONSE_BYTES_MAX, "a file fits a response");
static_assert(sizeof(STATIC_FILES_CSP) <= TL_HTTP_HEADER_VALUE_BYTES_MAX, "the CSP fits");

static const struct {
    const char *extension;
    const char *type;
} static_files_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

const char *static_files_type(const char *name)
{
    size_t len = strnlen(name, STATIC_FILES_NAME_BYTES_MAX);
    if (len == 0 || len >= STATIC_FILES_NAME_BYTES_MAX) {
        return NULL;
    }
    const char *dot = strchr(name, '.');
    if (dot == NULL || dot == name || strchr(dot + 1, '.') != NULL) {
        return NULL; /* no dot files, exactly one dot, so never "." or ".." */
    }
    for (const char *c = name; c < dot; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
        if (!ok) {
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof(static_files_types) / sizeof(static_files_types[0]); i++) {
        if (strcmp(dot + 1, static_files_types[i].extension) == 0) {
            return static_files_types[i].type;
        }
    }
    return NULL;
}

/* Reads the regular file fd (at most STATIC_FILES_BYTES_MAX) into the body. */
static enum tl_err static_files_read(int fd, struct http_response *resp)
{
    struct stat st;
    char chunk[16384];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > STATIC_FILES_BYTES_MAX) {
        return TL_ERR_NOT_FOUND;
    }
    buf_reset(&resp->body);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return TL_ERR_IO;
        }
        if (n == 0) {
            return TL_OK;
        }
        if (resp->body.len + (size_t)n > STATIC_FILES_BYTES_MAX) {
            return TL_ERR_NOT_FOUND; /* it grew while we read it */
        }
        enum tl_err err = buf_append(&resp->body, chunk, (size_t)n);
        if (err != TL_OK) {
            return err;
        }
    }
}

enum tl_err static_files_get(struct http_request *req, struct http_response *resp)
{
    const struct config *config = req->app->config;
    const char *name = http_request_param(req, "file");
    char path[TL_CONFIG_PATH_BYTES_MAX + STATIC_FILES_NAME_BYTES_MAX + 2];
    TL_ASSERT(name != NULL);
    const char *type = static_files_type(name);
    if (config == NULL || config->web_dir[0] == '\0' || type == NULL) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such file");
    }
    int len = snprintf(path, sizeof(path), "%s/%s", config->web_dir, name);
    TL_ASSERT(len > 0 && (size_t)len < sizeof(path));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return http_fail(resp, TL_ERR_NOT_FOUND, NULL, "no such file");
    }
    enum tl_err err = static_files_read(fd, resp);
    close(fd);
    if (err == TL_ERR_NOT_FOUND) {
        buf_reset(&resp->body);
        return http_fail(resp, err, NULL, "no such file");
    }
    if (err != TL_OK) {
        LOG(LOG_WARN, "static_file_unreadable", LOG_STR("request_id", req->request_id));
        buf_reset(&resp->body);
        return err;
    }
    resp->status = 200;
    resp->content_type = type;
    TL_ASSERT(http_response_header_set(resp, "Content-Security-Policy", STATIC_FILES_CSP) == TL_OK);
    TL_ASSERT(http_response_header_set(resp, "X-Frame-Options", "DENY") == TL_OK);
    TL_ASSERT(http_response_header_set(resp, "Referrer-Policy", "no-referrer") == TL_OK);
    return TL_OK;
}
