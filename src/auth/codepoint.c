#include "auth/codepoint.h"

bool codepoint_next(const char *s, size_t len, size_t *pos, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s + *pos;
    size_t left = len - *pos;
    uint32_t cp;
    size_t need;
    uint32_t min;

    if (p[0] < 0x80) {
        *out = p[0];
        *pos += 1;
        return true;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        cp = p[0] & 0x1fu;
        need = 1;
        min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        cp = p[0] & 0x0fu;
        need = 2;
        min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        cp = p[0] & 0x07u;
        need = 3;
        min = 0x10000;
    } else {
        /* A continuation byte, an overlong 2-byte lead (C0, C1) or F5..FF. */
        return false;
    }
    if (left <= need) {
        return false;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xc0u) != 0x80u) {
            return false;
        }
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return false;
    }
    *out = cp;
    *pos += need + 1;
    return true;
}

bool codepoint_count(const char *s, size_t len, size_t *count)
{
    size_t pos = 0;
    size_t n = 0;
    uint32_t cp;
    while (pos < len) {
        if (!codepoint_next(s, len, &pos, &cp)) {
            return false;
        }
        n++;
    }
    *count = n;
    return true;
}

bool codepoint_is_control(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
        return true;
    }
    if (cp >= 0x202a && cp <= 0x202e) {
        return true;
    }
    if (cp >= 0x2066 && cp <= 0x2069) {
        return true;
    }
    return cp == 0x2028 || cp == 0x2029;
}
