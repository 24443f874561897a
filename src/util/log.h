/*
 * log.h - structured log lines, one JSON object per line, to stderr.
 *
 * Every line is {"ts":..., "level":..., "event":..., <fields>} written with a single write(2),
 * so lines from different threads never interleave. Callers pass typed fields; strings are
 * escaped here (control characters, quotes, invalid UTF-8), so a client-controlled value can
 * never break a line or forge a field.
 *
 * This module must never be handed a secret: no passwords, tokens, keys, Authorization or
 * Cookie header values, and no query strings (they can carry tokens). It cannot tell a secret
 * from any other string, so the rule is on the caller.
 */
#ifndef TL_UTIL_LOG_H
#define TL_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
};

enum log_field_kind {
    LOG_FIELD_STR = 1,
    LOG_FIELD_I64 = 2,
    LOG_FIELD_U64 = 3,
    LOG_FIELD_BOOL = 4,
};

struct log_field {
    const char *key; /* a literal: [a-z_]+, not escaped */
    enum log_field_kind kind;
    union {
        const char *str; /* NULL prints as null */
        int64_t i64;
        uint64_t u64;
        bool b;
    } as;
};

#define LOG_STR(k, v) ((struct log_field){.key = (k), .kind = LOG_FIELD_STR, .as.str = (v)})
#define LOG_I64(k, v) ((struct log_field){.key = (k), .kind = LOG_FIELD_I64, .as.i64 = (v)})
#define LOG_U64(k, v) ((struct log_field){.key = (k), .kind = LOG_FIELD_U64, .as.u64 = (v)})
#define LOG_BOOL(k, v) ((struct log_field){.key = (k), .kind = LOG_FIELD_BOOL, .as.b = (v)})

/* Longest line; a line that would be longer is replaced by one saying so (never cut). */
#define LOG_LINE_BYTES_MAX 8192

/* Writes one line if level is at or above the threshold. Cannot fail (a failed write to
 * stderr has nowhere to be reported). Thread-safe. */
void log_event(enum log_level level, const char *event, const struct log_field *fields,
               size_t field_count);

/* log_event with the fields given inline: LOG(LOG_INFO, "listening", LOG_U64("port", 8080)). */
#define LOG(level, event, ...)                                                                     \
    do {                                                                                           \
        const struct log_field log_fields_[] = {__VA_ARGS__};                                      \
        log_event((level), (event), log_fields_, sizeof(log_fields_) / sizeof(log_fields_[0]));    \
    } while (0)

/* A line with one "msg" field formatted printf-style. Same guarantees as log_event. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lines below this level are dropped. Default LOG_INFO. Thread-safe. */
void log_level_set(enum log_level level);
/* "debug", "info", "warn", "error" -> level; false (out untouched) for anything else. */
bool log_level_parse(const char *name, enum log_level *out);
/* Where lines go (default 2, stderr). Tests point it at a pipe or file. Thread-safe. */
void log_fd_set(int fd);

/*
 * Appends s as a JSON string (with quotes) to out, which has out_bytes room; returns the new
 * length or 0 when it does not fit. Escapes control characters, '"', '\\' and replaces each
 * byte of invalid UTF-8 with U+FFFD. Used by log_event; exposed for its tests.
 */
size_t log_json_string(char *out, size_t out_bytes, size_t used, const char *s);

#endif
