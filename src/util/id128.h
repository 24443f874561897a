/*
 * id128.h - 128-bit identifiers.
 *
 * Ledger accounts and transfers are named by 128-bit ids. Ids made here are UUIDv7 (RFC 9562):
 * 48-bit Unix milliseconds, version, variant and 74 random bits, so they sort by time and the
 * store's primary-key B-trees grow at their right edge. The all-zero id is reserved and never valid.
 * Byte form is big-endian (hi first), so memcmp order equals numeric order.
 */
#ifndef TL_UTIL_ID128_H
#define TL_UTIL_ID128_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct id128 {
    uint64_t hi;
    uint64_t lo;
};

#define ID128_BYTES 16

static inline bool id128_eq(struct id128 a, struct id128 b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

static inline bool id128_is_zero(struct id128 a)
{
    return a.hi == 0 && a.lo == 0;
}

static inline int id128_cmp(struct id128 a, struct id128 b)
{
    if (a.hi != b.hi) {
        return a.hi < b.hi ? -1 : 1;
    }
    if (a.lo != b.lo) {
        return a.lo < b.lo ? -1 : 1;
    }
    return 0;
}

/* A well-mixed 64-bit hash for open-addressing tables. Cannot fail. */
static inline uint64_t id128_hash(struct id128 a)
{
    uint64_t x = a.hi ^ (a.lo * 0x9e3779b97f4a7c15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline struct id128 id128_make(uint64_t hi, uint64_t lo)
{
    struct id128 id = {hi, lo};
    return id;
}

/* Big-endian 16-byte form. Cannot fail. */
void id128_to_bytes(struct id128 id, uint8_t out[ID128_BYTES]);
struct id128 id128_from_bytes(const uint8_t in[ID128_BYTES]);

/* 32 lowercase hex digits plus NUL. Cannot fail. */
#define ID128_HEX_BYTES 33
void id128_to_hex(struct id128 id, char out[ID128_HEX_BYTES]);
/* Parses exactly 32 hex digits; returns false (out untouched) on anything else. */
bool id128_from_hex(const char *s, size_t len, struct id128 *out);

/* A new UUIDv7 from the wall clock and libsodium's randomness. Never zero. The program must
 * have called sodium_init() (every main() does) before the first call. */
struct id128 id128_new(void);
/* The Unix milliseconds embedded in an id made by id128_new. */
static inline uint64_t id128_unix_ms(struct id128 id)
{
    return id.hi >> 16;
}

#endif
