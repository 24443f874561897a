/*
 * device_sig.h - the canonical form of a device-signed request and its Ed25519 check.
 *
 * A user's wallet app holds an Ed25519 key pair (a "device key"); the server keeps the public
 * key. A money request from a user with a live device key carries a detached signature over
 * these seven fields, each followed by one LF (0x0A), as bytes (docs/api.md, "Device keys and
 * signed requests"):
 *
 *   TALLY-DEVICE-SIGNATURE-V1
 *   <method>                      "POST"
 *   <path>                        "/v1/payments" (no query string)
 *   <body hash>                   SHA-256 of the exact body bytes, 64 lower-case hex digits
 *   <idempotency key>             the Idempotency-Key header, or empty
 *   <timestamp>                   Tally-Timestamp: Unix seconds, decimal, no sign or zeros ahead
 *   <key id>                      Tally-Device-Key: "dkey_..."
 *
 * Pure: no I/O, no clock, no store. Never: log or keep what it is given.
 */
#ifndef TL_AUTH_DEVICE_SIG_H
#define TL_AUTH_DEVICE_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define DEVICE_SIG_VERSION_LINE "TALLY-DEVICE-SIGNATURE-V1"
#define DEVICE_SIG_KEY_BYTES 32
#define DEVICE_SIG_BYTES 64
#define DEVICE_SIG_HASH_BYTES 32
/* Bounds of what a request may put into the form. */
#define DEVICE_SIG_PATH_BYTES_MAX 1024u
#define DEVICE_SIG_IKEY_BYTES_MAX 255u
#define DEVICE_SIG_KEY_ID_BYTES_MAX 96u
/* The longest canonical form: the fields above, their LFs and room to spare. */
#define DEVICE_SIG_CANONICAL_BYTES_MAX 1536u
/* Digits of a timestamp: up to 10 (the year 2286). */
#define DEVICE_SIG_TIMESTAMP_DIGITS_MAX 10u

struct device_sig_request {
    const char *method;          /* "POST" */
    const char *path;            /* without the query */
    const uint8_t *body;         /* may be NULL when body_bytes is 0 */
    size_t body_bytes;
    const char *idempotency_key; /* NULL or "" when absent */
    uint64_t timestamp_s;
    const char *key_id;
};

/* SHA-256 of the body. Cannot fail. */
void device_sig_body_hash(const uint8_t *body, size_t body_bytes,
                          uint8_t out[DEVICE_SIG_HASH_BYTES]);

/*
 * Writes the canonical form of req into out (out_bytes >= DEVICE_SIG_CANONICAL_BYTES_MAX) and
 * its length into *out_len. TL_ERR_INVALID_REQUEST when a field is over its bound or holds a
 * byte outside 0x21..0x7E (the path, method, key and key id are visible ASCII, so the form has
 * exactly one reading).
 */
enum tl_err device_sig_canonical(const struct device_sig_request *req, char *out,
                                 size_t out_bytes, size_t *out_len);

/* Parses a Tally-Timestamp value. False for anything but 1..10 digits without a leading 0. */
bool device_sig_timestamp_parse(const char *text, uint64_t *out);

/* True when timestamp_s is within window_s seconds of now_s, either way (clocks drift). */
bool device_sig_fresh(uint64_t timestamp_s, uint64_t now_s, uint32_t window_s);

/* True when sig is key's Ed25519 signature over the canonical form of req. Cannot fail. */
bool device_sig_verify(const struct device_sig_request *req,
                       const uint8_t key[DEVICE_SIG_KEY_BYTES],
                       const uint8_t sig[DEVICE_SIG_BYTES]);

#endif
