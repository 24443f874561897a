/*
 * render.h - compact JSON text for response bodies, written straight into a struct buf.
 *
 * The money handlers render on hot paths (and one of them partly on the writer thread), so
 * they write JSON text directly instead of building a jansson tree: no allocation beyond the
 * body buffer itself. A render keeps the commas for up to RENDER_DEPTH_MAX nested objects and
 * arrays, and a sticky error: after the first failed append every call is a no-op and
 * render_finish reports it, so callers write a whole object and check once.
 *
 * Strings must be valid UTF-8 (everything we render came through a validator or is ours);
 * '"', '\\' and control characters are escaped, other bytes are copied as they are.
 * Timestamps are RFC 3339 UTC with milliseconds: "2026-11-23T05:00:00.123Z".
 *
 * Never: emit invalid JSON silently (nesting mistakes assert), or allocate outside the buf.
 */
#ifndef TL_API_RENDER_H
#define TL_API_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/id128.h"

/* Nesting of objects and arrays one render may open. */
#define RENDER_DEPTH_MAX 8u
/* "2026-11-23T05:00:00.123Z" plus NUL. */
#define RENDER_TIME_BYTES 25

struct render {
    struct buf *out;
    enum tl_err err;
    uint32_t depth;
    bool after_key;
    bool comma[RENDER_DEPTH_MAX + 1];
};

/* Starts rendering at the end of out (borrowed). Cannot fail. */
void render_init(struct render *r, struct buf *out);
/* TL_OK, or the first error of an append (TL_ERR_LIMIT, TL_ERR_NOMEM); asserts that every
 * object and array was closed. */
enum tl_err render_finish(struct render *r);
/* The first error so far, without the closing check (for renders split across calls). */
static inline enum tl_err render_error(const struct render *r)
{
    return r->err;
}

void render_object_begin(struct render *r);
void render_object_end(struct render *r);
void render_array_begin(struct render *r);
void render_array_end(struct render *r);
/* A member name inside an object; name is a literal without characters to escape. */
void render_key(struct render *r, const char *name);

void render_str(struct render *r, const char *s);
/* s, or null when s is NULL or empty. */
void render_str_or_null(struct render *r, const char *s);
void render_i64(struct render *r, int64_t value);
void render_bool(struct render *r, bool value);
void render_null(struct render *r);
/* "<prefix>_<26 base32>"; prefix is one of TYPEID_PREFIX_*. */
void render_typeid(struct render *r, const char *prefix, struct id128 id);
/* Nanoseconds since the epoch as an RFC 3339 string with milliseconds. */
void render_time(struct render *r, uint64_t wall_ns);

/* The RFC 3339 text of wall_ns (truncated to the millisecond). Cannot fail. */
void render_time_text(uint64_t wall_ns, char out[RENDER_TIME_BYTES]);

#endif
