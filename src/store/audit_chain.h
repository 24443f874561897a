/*
 * audit_chain.h - the audit log's hash chain: its canonical encoding, its checkpoints and its
 * verifier. Part of the store module; the backends chain entries with store_audit_chain, the
 * verifier reads them back through store_audit_scan (app.h).
 *
 * An entry's hash is SHA-256 over its canonical encoding (version 1, all integers big-endian):
 *
 *   bytes  field
 *   8      the ASCII bytes "TLAUDIT1" (what this is, and the encoding's version)
 *   8      seq (unsigned)
 *   8      created_ns (unsigned: nanoseconds since the Unix epoch, UTC)
 *   16     user_id (the 16 bytes of the UUID)
 *   16     counterparty_id (16 zero bytes when none)
 *   8      amount (two's complement)
 *   2      currency (ISO 4217 number; 0 when nothing moved)
 *   1 + n  kind: n (1..39), then n bytes
 *   1 + n  subject: n (0..63), then n bytes
 *   1 + n  request_id: n (0..64), then n bytes
 *   32     prev_hash (the hash of entry seq - 1; 32 zero bytes for seq 1)
 *
 * The client address (ip) is not part of it. A checkpoint's mac is HMAC-SHA-256 over
 * "TLAUDCP1" || seq (8) || created_ns (8) || hash (32) keyed with
 * store_audit_checkpoint_key(server secret).
 *
 * Never: put PII into the chain (the store's entries hold ids and references only), or accept
 * a chain the verifier has not walked to its end.
 */
#ifndef TL_STORE_AUDIT_CHAIN_H
#define TL_STORE_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/app.h"

#define STORE_AUDIT_KEY_BYTES 32
/* The largest canonical encoding: the fixed fields, three length-prefixed strings, prev_hash. */
#define STORE_AUDIT_ENCODED_BYTES_MAX                                                              \
    (66 + 3 + (STORE_AUDIT_KIND_BYTES_MAX - 1) + (STORE_AUDIT_SUBJECT_BYTES_MAX - 1) +             \
     (STORE_AUDIT_REQUEST_ID_BYTES_MAX - 1) + STORE_AUDIT_HASH_BYTES)

/* Writes the canonical encoding of entry (its seq and prev_hash as they are) into out and
 * returns its length. Cannot fail. */
size_t store_audit_encode(const struct store_audit *entry,
                          uint8_t out[STORE_AUDIT_ENCODED_BYTES_MAX]);

/* Sets entry's seq and prev_hash, computes its hash and marks it sealed. Cannot fail. */
void store_audit_chain(struct store_audit *entry, uint64_t seq,
                       const uint8_t prev_hash[STORE_AUDIT_HASH_BYTES]);

/* The checkpoint key: HMAC-SHA-256 keyed with the server secret over a fixed label. */
void store_audit_checkpoint_key(const uint8_t *secret, size_t secret_bytes,
                                uint8_t out[STORE_AUDIT_KEY_BYTES]);
/* Fills checkpoint->mac from its seq, created_ns and hash. Cannot fail. */
void store_audit_checkpoint_sign(const uint8_t key[STORE_AUDIT_KEY_BYTES],
                                 struct store_audit_checkpoint *checkpoint);

/* Reads the head and, when it is newer than the newest checkpoint, signs and stores a
 * checkpoint of it at now_ns. *out_seq: the seq checkpointed now, 0 when none was needed
 * (empty chain, or the head has a checkpoint). Errors of the store calls. */
enum tl_err store_audit_checkpoint_head(struct store *store,
                                        const uint8_t key[STORE_AUDIT_KEY_BYTES], uint64_t now_ns,
                                        uint64_t *out_seq);

/* What store_audit_verify found. */
#define STORE_AUDIT_REASON_BYTES 192
struct store_audit_report {
    bool ok;
    uint64_t entry_count;
    uint64_t head_seq;
    uint8_t head_hash[STORE_AUDIT_HASH_BYTES];
    uint64_t checkpoint_count;
    uint64_t checkpoint_seq_last;          /* 0: none */
    uint64_t bad_seq;                      /* when !ok: the first seq that fails */
    char reason[STORE_AUDIT_REASON_BYTES]; /* when !ok: why, one line */
};

/*
 * Walks the whole chain from seq 1: every seq present and in order, every entry sealed, every
 * prev_hash the previous entry's hash, every hash the SHA-256 of the entry's encoding; and
 * every checkpoint: it names an entry that is there with the same hash, and (key non-NULL) its
 * mac verifies. A checkpoint above the head means entries were cut off the end. TL_OK when the
 * walk finished (out->ok says whether the chain passed); otherwise the store's error.
 */
enum tl_err store_audit_verify(struct store *store, const uint8_t *key,
                               struct store_audit_report *out);

#endif
