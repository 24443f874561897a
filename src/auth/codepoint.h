/*
 * codepoint.h - strict UTF-8 decoding for the auth validators.
 *
 * Strict means RFC 3629: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no truncated sequences. Every validator that counts "characters" counts code points
 * decoded here, so a limit means the same thing everywhere. Pure; never allocates, never
 * asserts on input.
 */
#ifndef TL_AUTH_CODEPOINT_H
#define TL_AUTH_CODEPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the code point starting at s[*pos] (s has len bytes, *pos < len). On success stores it
 * in *out, advances *pos past it and returns true; on malformed input returns false with *pos
 * and *out untouched.
 */
bool codepoint_next(const char *s, size_t len, size_t *pos, uint32_t *out);

/* Counts the code points of s; false (and *count untouched) if s is not valid UTF-8. */
bool codepoint_count(const char *s, size_t len, size_t *count);

/*
 * True for code points that must not appear in names and notes because they are invisible
 * controls or change how surrounding text renders: C0 and C1 controls and DEL (category Cc),
 * the bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069), which
 * can make a name display reversed in another user's payment screen, and the line and paragraph
 * separators U+2028/U+2029. Cannot fail.
 */
bool codepoint_is_control(uint32_t cp);

#endif
