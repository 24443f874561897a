#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

/* The smallest allocation; most bodies and log lines fit without a second one. */
#define BUF_CAP_MIN 256

void buf_init(struct buf *b, size_t bytes_max)
{
    TL_ASSERT(b != NULL);
    TL_ASSERT(bytes_max > 0);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->bytes_max = bytes_max;
}

void buf_free(struct buf *b)
{
    TL_ASSERT(b != NULL);
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    TL_ASSERT(b != NULL);
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void buf_truncate(struct buf *b, size_t len)
{
    TL_ASSERT(b != NULL);
    TL_ASSERT(len <= b->len);
    b->len = len;
    if (b->data != NULL) {
        b->data[len] = '\0';
    }
}

enum tl_err buf_reserve(struct buf *b, size_t bytes)
{
    TL_ASSERT(b != NULL);
    TL_ASSERT(b->len <= b->bytes_max);
    if (bytes > b->bytes_max - b->len) {
        return TL_ERR_LIMIT;
    }
    size_t need = b->len + bytes + 1; /* + NUL; cannot overflow: bounded by bytes_max + 1 */
    if (need <= b->cap) {
        return TL_OK;
    }
    size_t cap = b->cap < BUF_CAP_MIN ? BUF_CAP_MIN : b->cap;
    while (cap < need) {
        cap *= 2;
    }
    if (cap > b->bytes_max + 1) {
        cap = b->bytes_max + 1;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        return TL_ERR_NOMEM;
    }
    if (b->data == NULL) {
        data[0] = '\0';
    }
    b->data = data;
    b->cap = cap;
    return TL_OK;
}

enum tl_err buf_append(struct buf *b, const void *data, size_t bytes)
{
    TL_ASSERT(data != NULL || bytes == 0);
    enum tl_err err = buf_reserve(b, bytes);
    if (err != TL_OK) {
        return err;
    }
    if (bytes > 0) {
        memcpy(b->data + b->len, data, bytes);
        b->len += bytes;
    }
    if (b->data != NULL) {
        b->data[b->len] = '\0';
    }
    return TL_OK;
}

enum tl_err buf_append_str(struct buf *b, const char *s)
{
    TL_ASSERT(s != NULL);
    return buf_append(b, s, strlen(s));
}

enum tl_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list measure;
    va_copy(measure, ap);
    int needed = vsnprintf(NULL, 0, fmt, measure);
    va_end(measure);
    if (needed < 0) {
        return TL_ERR_INTERNAL;
    }
    enum tl_err err = buf_reserve(b, (size_t)needed);
    if (err != TL_OK) {
        return err;
    }
    int written = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    TL_ASSERT(written == needed);
    b->len += (size_t)written;
    return TL_OK;
}

enum tl_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum tl_err err = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}
