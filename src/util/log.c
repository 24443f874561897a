#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/assert.h"
#include "util/clock.h"

static _Atomic int log_fd = 2;
static _Atomic int log_threshold = LOG_INFO;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

void log_level_set(enum log_level level)
{
    TL_ASSERT((unsigned)level <= LOG_ERROR);
    atomic_store(&log_threshold, (int)level);
}

bool log_level_parse(const char *name, enum log_level *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

void log_fd_set(int fd)
{
    TL_ASSERT(fd >= 0);
    atomic_store(&log_fd, fd);
}

/* Appends raw bytes; 0 when they do not fit (used is never 0 once a line has started). */
static size_t log_put(char *out, size_t out_bytes, size_t used, const char *s, size_t n)
{
    if (used == 0 || n >= out_bytes - used) {
        return 0;
    }
    memcpy(out + used, s, n);
    return used + n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one. */
static size_t log_utf8_length(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

size_t log_json_string(char *out, size_t out_bytes, size_t used, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    used = log_put(out, out_bytes, used, "\"", 1);
    while (used != 0 && *p != '\0') {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            used = log_put(out, out_bytes, used, esc, 2);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0xf];
            used = log_put(out, out_bytes, used, esc, 6);
            p++;
        } else if (*p < 0x80) {
            used = log_put(out, out_bytes, used, (const char *)p, 1);
            p++;
        } else {
            size_t n = log_utf8_length(p);
            if (n == 0) {
                used = log_put(out, out_bytes, used, "\\ufffd", 6);
                p++;
            } else {
                used = log_put(out, out_bytes, used, (const char *)p, n);
                p += n;
            }
        }
    }
    return log_put(out, out_bytes, used, "\"", 1);
}

static size_t log_field_put(char *out, size_t out_bytes, size_t used, const struct log_field *f)
{
    char number[32];
    used = log_put(out, out_bytes, used, ",\"", 2);
    used = log_put(out, out_bytes, used, f->key, strlen(f->key));
    used = log_put(out, out_bytes, used, "\":", 2);
    switch (f->kind) {
    case LOG_FIELD_STR:
        if (f->as.str == NULL) {
            return log_put(out, out_bytes, used, "null", 4);
        }
        return log_json_string(out, out_bytes, used, f->as.str);
    case LOG_FIELD_I64:
        snprintf(number, sizeof(number), "%" PRId64, f->as.i64);
        return log_put(out, out_bytes, used, number, strlen(number));
    case LOG_FIELD_U64:
        snprintf(number, sizeof(number), "%" PRIu64, f->as.u64);
        return log_put(out, out_bytes, used, number, strlen(number));
    case LOG_FIELD_BOOL:
        return f->as.b ? log_put(out, out_bytes, used, "true", 4)
                       : log_put(out, out_bytes, used, "false", 5);
    }
    TL_UNREACHABLE();
    return 0;
}

/* The line head: {"ts":"...","level":"...","event":"..." */
static size_t log_head(char *out, size_t out_bytes, enum log_level level, const char *event)
{
    char ts[CLOCK_ISO8601_BYTES];
    clock_iso8601(clock_wall_ns(), ts);
    int n = snprintf(out, out_bytes, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts,
                     log_level_names[level]);
    TL_ASSERT(n > 0 && (size_t)n < out_bytes);
    return log_json_string(out, out_bytes, (size_t)n, event);
}

static void log_write_all(const char *line, size_t bytes)
{
    int fd = atomic_load(&log_fd);
    while (bytes > 0) {
        ssize_t n = write(fd, line, bytes);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        line += n;
        bytes -= (size_t)n;
    }
}

void log_event(enum log_level level, const char *event, const struct log_field *fields,
               size_t field_count)
{
    TL_ASSERT((unsigned)level <= LOG_ERROR);
    TL_ASSERT(event != NULL);
    if ((int)level < atomic_load(&log_threshold)) {
        return;
    }
    char line[LOG_LINE_BYTES_MAX];
    size_t used = log_head(line, sizeof(line), level, event);
    for (size_t i = 0; i < field_count && used != 0; i++) {
        used = log_field_put(line, sizeof(line), used, &fields[i]);
    }
    used = log_put(line, sizeof(line), used, "}\n", 2);
    if (used == 0) {
        /* Too long to print whole: say so instead of cutting fields silently. */
        used = log_head(line, sizeof(line), level, event);
        used = log_put(line, sizeof(line), used, ",\"log_line_too_long\":true}\n", 27);
        TL_ASSERT(used != 0);
    }
    log_write_all(line, used);
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
    char msg[LOG_LINE_BYTES_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        msg[0] = '\0';
    }
    if ((size_t)n >= sizeof(msg)) {
        /* Our own messages are short; should one ever be cut, the line says so. */
        LOG(level, event, LOG_STR("msg", msg), LOG_BOOL("msg_truncated", true));
        return;
    }
    LOG(level, event, LOG_STR("msg", msg));
}
