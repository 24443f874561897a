#include "util/id128.h"

#include <sodium.h>
#include <time.h>

#include "util/assert.h"

void id128_to_bytes(struct id128 id, uint8_t out[ID128_BYTES])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(id.hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(id.lo >> (56 - 8 * i));
    }
}

struct id128 id128_from_bytes(const uint8_t in[ID128_BYTES])
{
    struct id128 id = {0, 0};
    for (int i = 0; i < 8; i++) {
        id.hi = (id.hi << 8) | in[i];
        id.lo = (id.lo << 8) | in[8 + i];
    }
    return id;
}

void id128_to_hex(struct id128 id, char out[ID128_HEX_BYTES])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t bytes[ID128_BYTES];
    id128_to_bytes(id, bytes);
    for (int i = 0; i < ID128_BYTES; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[32] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool id128_from_hex(const char *s, size_t len, struct id128 *out)
{
    uint8_t bytes[ID128_BYTES];
    if (len != 32) {
        return false;
    }
    for (size_t i = 0; i < ID128_BYTES; i++) {
        int h = hex_value(s[2 * i]);
        int l = hex_value(s[2 * i + 1]);
        if (h < 0 || l < 0) {
            return false;
        }
        bytes[i] = (uint8_t)(h << 4 | l);
    }
    *out = id128_from_bytes(bytes);
    return true;
}

struct id128 id128_new(void)
{
    struct timespec ts;
    uint8_t rnd[10];
    struct id128 id;

    /* UUIDv7 layout (RFC 9562): 48-bit Unix ms, version 7, 12 random bits, variant 0b10,
     * 62 random bits. TypeIDs encode exactly this. */
    TL_ASSERT(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    randombytes_buf(rnd, sizeof rnd);
    id.hi = (ms & 0xffffffffffffull) << 16 | 0x7000u | ((uint64_t)(rnd[0] & 0x0f) << 8) | rnd[1];
    id.lo = 0;
    for (int i = 2; i < 10; i++) {
        id.lo = (id.lo << 8) | rnd[i];
    }
    id.lo = (id.lo & 0x3fffffffffffffffull) | 0x8000000000000000ull;
    TL_ASSERT(!id128_is_zero(id));
    return id;
}
