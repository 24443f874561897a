/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Response bodies, request bodies and rendered text are built here. A buffer grows by doubling
 * up to bytes_max and never past it: an append that would exceed the maximum fails with
 * TL_ERR_LIMIT and leaves the buffer exactly as it was, so going over a limit is an error and
 * never a silent truncation. The data is always NUL-terminated (the NUL is not counted in len
 * and does not count against bytes_max) so text can be handed to C string functions.
 * Not thread-safe: one owner at a time.
 */
#ifndef TL_UTIL_BUF_H
#define TL_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct buf {
    char *data;       /* NULL until the first append; NUL-terminated after it */
    size_t len;       /* bytes used, without the terminating NUL */
    size_t cap;       /* bytes allocated, including room for the NUL */
    size_t bytes_max; /* len never exceeds this */
};

/* An empty buffer that may grow to bytes_max (> 0). Allocates nothing. Cannot fail. */
void buf_init(struct buf *b, size_t bytes_max);
/* Frees the storage and leaves an empty buffer with the same maximum. Cannot fail. */
void buf_free(struct buf *b);
/* Forgets the contents and keeps the storage for reuse. Cannot fail. */
void buf_reset(struct buf *b);
/* Forgets everything past the first len bytes (len <= b->len). Cannot fail. */
void buf_truncate(struct buf *b, size_t len);

/* Appends bytes. TL_ERR_LIMIT past bytes_max, TL_ERR_NOMEM; on error b is unchanged. */
enum tl_err buf_append(struct buf *b, const void *data, size_t bytes);
enum tl_err buf_append_str(struct buf *b, const char *s);
/* Appends printf-formatted text. Same errors; on error b is unchanged. */
enum tl_err buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum tl_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Makes room for at least bytes more without appending. Same errors. */
enum tl_err buf_reserve(struct buf *b, size_t bytes);

/* The contents as a string: "" for a buffer that never grew. Cannot fail. */
static inline const char *buf_str(const struct buf *b)
{
    return b->data != NULL ? b->data : "";
}

#endif
