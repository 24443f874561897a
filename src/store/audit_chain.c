/*
 * audit_chain.c - the audit log's canonical encoding, hashes, checkpoints and verifier
 * (audit_chain.h). SHA-256 and HMAC-SHA-256 are libsodium's.
 */
#include "store/audit_chain.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

static_assert(crypto_hash_sha256_BYTES == STORE_AUDIT_HASH_BYTES, "a chain hash is a SHA-256");
static_assert(crypto_auth_hmacsha256_BYTES == STORE_AUDIT_HASH_BYTES, "a mac is an HMAC-SHA-256");
static_assert(crypto_auth_hmacsha256_KEYBYTES == STORE_AUDIT_KEY_BYTES, "a checkpoint key");
static_assert(STORE_AUDIT_KIND_BYTES_MAX - 1 <= UINT8_MAX, "a kind's length fits in a byte");
static_assert(STORE_AUDIT_SUBJECT_BYTES_MAX - 1 <= UINT8_MAX, "a subject's length fits");
static_assert(STORE_AUDIT_REQUEST_ID_BYTES_MAX - 1 <= UINT8_MAX, "a request id's length fits");

#define AUDIT_ENTRY_TAG "TLAUDIT1"
#define AUDIT_CHECKPOINT_TAG "TLAUDCP1"
#define AUDIT_TAG_BYTES 8
#define AUDIT_KEY_LABEL "tally audit checkpoint key v1"

static pthread_once_t audit_sodium_once = PTHREAD_ONCE_INIT;

static void audit_sodium_init(void)
{
    TL_ASSERT(sodium_init() >= 0);
}

static void audit_sodium(void)
{
    TL_ASSERT(pthread_once(&audit_sodium_once, audit_sodium_init) == 0);
}

static size_t put_be(uint8_t *out, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        out[bytes - 1 - i] = (uint8_t)(v >> (8 * i));
    }
    return bytes;
}

/* A length byte, then the bytes of a NUL-terminated string of at most max - 1 bytes. */
static size_t put_text(uint8_t *out, const char *text, size_t max)
{
    size_t n = strnlen(text, max);
    TL_ASSERT(n < max);
    TL_ASSERT(n <= UINT8_MAX);
    out[0] = (uint8_t)n;
    memcpy(out + 1, text, n);
    return 1 + n;
}

size_t store_audit_encode(const struct store_audit *e, uint8_t out[STORE_AUDIT_ENCODED_BYTES_MAX])
{
    size_t n = 0;
    TL_ASSERT(e != NULL);
    TL_ASSERT(e->kind[0] != '\0');
    memcpy(out, AUDIT_ENTRY_TAG, AUDIT_TAG_BYTES);
    n += AUDIT_TAG_BYTES;
    n += put_be(out + n, e->seq, 8);
    n += put_be(out + n, e->created_ns, 8);
    id128_to_bytes(e->user_id, out + n);
    n += ID128_BYTES;
    id128_to_bytes(e->counterparty_id, out + n);
    n += ID128_BYTES;
    n += put_be(out + n, (uint64_t)e->amount, 8);
    n += put_be(out + n, e->currency, 2);
    TL_ASSERT(n == 66);
    n += put_text(out + n, e->kind, sizeof(e->kind));
    n += put_text(out + n, e->subject, sizeof(e->subject));
    n += put_text(out + n, e->request_id, sizeof(e->request_id));
    memcpy(out + n, e->prev_hash, STORE_AUDIT_HASH_BYTES);
    n += STORE_AUDIT_HASH_BYTES;
    TL_ASSERT(n <= STORE_AUDIT_ENCODED_BYTES_MAX);
    return n;
}

static void audit_hash(const struct store_audit *e, uint8_t out[STORE_AUDIT_HASH_BYTES])
{
    uint8_t encoded[STORE_AUDIT_ENCODED_BYTES_MAX];
    size_t n = store_audit_encode(e, encoded);
    audit_sodium();
    TL_ASSERT(crypto_hash_sha256(out, encoded, n) == 0);
}

void store_audit_chain(struct store_audit *e, uint64_t seq,
                       const uint8_t prev_hash[STORE_AUDIT_HASH_BYTES])
{
    TL_ASSERT(e != NULL);
    TL_ASSERT(seq > 0);
    TL_ASSERT(seq <= (uint64_t)INT64_MAX);
    e->seq = seq;
    memcpy(e->prev_hash, prev_hash, STORE_AUDIT_HASH_BYTES);
    audit_hash(e, e->hash);
    e->sealed = true;
}

void store_audit_checkpoint_key(const uint8_t *secret, size_t secret_bytes,
                                uint8_t out[STORE_AUDIT_KEY_BYTES])
{
    crypto_auth_hmacsha256_state state;
    TL_ASSERT(secret != NULL);
    TL_ASSERT(secret_bytes >= 16);
    audit_sodium();
    TL_ASSERT(crypto_auth_hmacsha256_init(&state, secret, secret_bytes) == 0);
    TL_ASSERT(crypto_auth_hmacsha256_update(&state, (const uint8_t *)AUDIT_KEY_LABEL,
                                            sizeof(AUDIT_KEY_LABEL) - 1) == 0);
    TL_ASSERT(crypto_auth_hmacsha256_final(&state, out) == 0);
    sodium_memzero(&state, sizeof(state));
}

static void checkpoint_mac(const uint8_t key[STORE_AUDIT_KEY_BYTES],
                           const struct store_audit_checkpoint *c,
                           uint8_t out[STORE_AUDIT_HASH_BYTES])
{
    uint8_t message[AUDIT_TAG_BYTES + 16 + STORE_AUDIT_HASH_BYTES];
    size_t n = 0;
    memcpy(message, AUDIT_CHECKPOINT_TAG, AUDIT_TAG_BYTES);
    n += AUDIT_TAG_BYTES;
    n += put_be(message + n, c->seq, 8);
    n += put_be(message + n, c->created_ns, 8);
    memcpy(message + n, c->hash, STORE_AUDIT_HASH_BYTES);
    n += STORE_AUDIT_HASH_BYTES;
    TL_ASSERT(n == sizeof(message));
    audit_sodium();
    TL_ASSERT(crypto_auth_hmacsha256(out, message, n, key) == 0);
}

void store_audit_checkpoint_sign(const uint8_t key[STORE_AUDIT_KEY_BYTES],
                                 struct store_audit_checkpoint *c)
{
    TL_ASSERT(key != NULL);
    TL_ASSERT(c != NULL);
    TL_ASSERT(c->seq > 0);
    checkpoint_mac(key, c, c->mac);
}

enum tl_err store_audit_checkpoint_head(struct store *store,
                                        const uint8_t key[STORE_AUDIT_KEY_BYTES], uint64_t now_ns,
                                        uint64_t *out_seq)
{
    struct store_audit_checkpoint c;
    bool inserted = false;
    TL_ASSERT(out_seq != NULL);
    memset(&c, 0, sizeof(c));
    enum tl_err err = store_audit_head(store, &c.seq, c.hash);
    if (err != TL_OK || c.seq == 0) {
        *out_seq = 0;
        return err;
    }
    c.created_ns = now_ns;
    store_audit_checkpoint_sign(key, &c);
    err = store_audit_checkpoint_put(store, &c, &inserted);
    *out_seq = err == TL_OK && inserted ? c.seq : 0;
    return err;
}

/* ---- The verifier ---- */

static void report_fail(struct store_audit_report *r, uint64_t seq, const char *reason)
{
    r->ok = false;
    r->bad_seq = seq;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* The walk's state: the next checkpoints to meet, paged like the entries. */
struct verify_walk {
    struct store *store;
    const uint8_t *key;
    struct store_audit_report *report;
    struct store_audit_checkpoint *checkpoints;
    uint32_t checkpoint_count;
    uint32_t checkpoint_index;
    uint64_t checkpoint_after; /* seq of the last checkpoint read */
    bool checkpoints_done;
};

/* The next unchecked checkpoint, or NULL when there is none. */
static enum tl_err walk_checkpoint(struct verify_walk *w, struct store_audit_checkpoint **out)
{
    *out = NULL;
    if (w->checkpoint_index == w->checkpoint_count && !w->checkpoints_done) {
        enum tl_err err =
            store_audit_checkpoints_list(w->store, w->checkpoint_after, STORE_AUDIT_SCAN_MAX,
                                         w->checkpoints, &w->checkpoint_count);
        if (err != TL_OK) {
            return err;
        }
        w->checkpoint_index = 0;
        w->checkpoints_done = w->checkpoint_count < STORE_AUDIT_SCAN_MAX;
        if (w->checkpoint_count > 0) {
            w->checkpoint_after = w->checkpoints[w->checkpoint_count - 1].seq;
        }
    }
    if (w->checkpoint_index < w->checkpoint_count) {
        *out = &w->checkpoints[w->checkpoint_index];
    }
    return TL_OK;
}

/* A checkpoint's mac: false (and the report says why) when it does not verify. */
static bool walk_mac_ok(struct verify_walk *w, const struct store_audit_checkpoint *c)
{
    uint8_t mac[STORE_AUDIT_HASH_BYTES];
    if (w->key == NULL) {
        return true;
    }
    checkpoint_mac(w->key, c, mac);
    if (crypto_verify_32(mac, c->mac) != 0) {
        report_fail(w->report, c->seq,
                    "the checkpoint's signature does not verify (forged, or made with another "
                    "server secret)");
        return false;
    }
    return true;
}

/* One entry, the one expected next after prev. False when it fails (the report says why). */
static bool walk_entry(struct verify_walk *w, const struct store_audit *e, uint64_t expected_seq,
                       const uint8_t prev[STORE_AUDIT_HASH_BYTES])
{
    char reason[STORE_AUDIT_REASON_BYTES];
    struct store_audit copy;
    if (e->seq != expected_seq) {
        snprintf(reason, sizeof(reason),
                 "the entry is missing (the next entry stored is seq %" PRIu64 ")", e->seq);
        report_fail(w->report, expected_seq, reason);
        return false;
    }
    if (!e->sealed) {
        report_fail(w->report, e->seq, "the entry has no hash (never sealed)");
        return false;
    }
    if (memcmp(e->prev_hash, prev, STORE_AUDIT_HASH_BYTES) != 0) {
        report_fail(w->report, e->seq,
                    expected_seq == 1 ? "prev_hash of the first entry is not zero"
                                      : "prev_hash is not the previous entry's hash");
        return false;
    }
    copy = *e;
    audit_hash(e, copy.hash);
    if (memcmp(copy.hash, e->hash, STORE_AUDIT_HASH_BYTES) != 0) {
        report_fail(w->report, e->seq, "the hash does not match the entry's contents");
        return false;
    }
    return true;
}

/* The checkpoint at e's seq, when there is one. */
static enum tl_err walk_checkpoint_at(struct verify_walk *w, const struct store_audit *e, bool *ok)
{
    struct store_audit_checkpoint *c = NULL;
    enum tl_err err = walk_checkpoint(w, &c);
    *ok = true;
    if (err != TL_OK || c == NULL || c->seq != e->seq) {
        TL_ASSERT(err != TL_OK || c == NULL || c->seq > e->seq); /* checked in seq order */
        return err;
    }
    w->checkpoint_index++;
    w->report->checkpoint_count++;
    w->report->checkpoint_seq_last = c->seq;
    if (memcmp(c->hash, e->hash, STORE_AUDIT_HASH_BYTES) != 0) {
        report_fail(w->report, e->seq, "a signed checkpoint names another hash for this entry");
        *ok = false;
        return TL_OK;
    }
    *ok = walk_mac_ok(w, c);
    return TL_OK;
}

/* After the last entry: a checkpoint beyond it signed entries that are gone. */
static enum tl_err walk_tail(struct verify_walk *w)
{
    struct store_audit_checkpoint *c = NULL;
    char reason[STORE_AUDIT_REASON_BYTES];
    enum tl_err err = walk_checkpoint(w, &c);
    if (err != TL_OK || c == NULL) {
        return err;
    }
    if (!walk_mac_ok(w, c)) {
        return TL_OK;
    }
    snprintf(reason, sizeof(reason),
             "entries after seq %" PRIu64 " are missing: a signed checkpoint covers seq %" PRIu64
             " (the log was cut)",
             w->report->head_seq, c->seq);
    report_fail(w->report, w->report->head_seq + 1, reason);
    return TL_OK;
}

/* Walks the entries after w's head, page by page, to the end of the chain. *ok false when one
 * fails; *any says whether there was at least one. */
static enum tl_err walk_entries(struct verify_walk *w, struct store_audit *entries,
                                uint8_t prev[STORE_AUDIT_HASH_BYTES], bool *ok, bool *any)
{
    uint32_t count = 0;
    *any = false;
    do {
        uint64_t after = w->report->head_seq;
        enum tl_err err = store_audit_scan(w->store, after, STORE_AUDIT_SCAN_MAX, entries, &count);
        for (uint32_t i = 0; err == TL_OK && *ok && i < count; i++) {
            *ok = walk_entry(w, &entries[i], after + 1, prev);
            if (*ok) {
                err = walk_checkpoint_at(w, &entries[i], ok);
            }
            if (*ok) {
                memcpy(prev, entries[i].hash, STORE_AUDIT_HASH_BYTES);
                after = entries[i].seq;
                w->report->entry_count++;
                w->report->head_seq = after;
                memcpy(w->report->head_hash, prev, STORE_AUDIT_HASH_BYTES);
            }
        }
        if (err != TL_OK) {
            return err;
        }
        *any = *any || count > 0;
    } while (*ok && count == STORE_AUDIT_SCAN_MAX);
    return TL_OK;
}

/* The walk may run while servers append: a checkpoint above the head it reached may sign
 * entries committed after its last page, so it reads on before it calls the tail cut. */
static enum tl_err verify_walk(struct verify_walk *w, struct store_audit *entries)
{
    uint8_t prev[STORE_AUDIT_HASH_BYTES];
    struct store_audit_checkpoint *c = NULL;
    bool ok = true;
    bool any = true;
    memset(prev, 0, sizeof(prev));
    enum tl_err err = walk_entries(w, entries, prev, &ok, &any);
    while (err == TL_OK && ok) {
        err = walk_checkpoint(w, &c);
        if (err != TL_OK || c == NULL) {
            return err;
        }
        err = walk_entries(w, entries, prev, &ok, &any);
        if (err == TL_OK && ok && !any) {
            return walk_tail(w);
        }
    }
    return err;
}

enum tl_err store_audit_verify(struct store *store, const uint8_t *key,
                               struct store_audit_report *out)
{
    struct store_audit_report report;
    struct verify_walk w;
    TL_ASSERT(store != NULL);
    TL_ASSERT(out != NULL);
    memset(&report, 0, sizeof(report));
    report.ok = true;
    memset(&w, 0, sizeof(w));
    w.store = store;
    w.key = key;
    w.report = &report;
    struct store_audit *entries = malloc(STORE_AUDIT_SCAN_MAX * sizeof(*entries));
    w.checkpoints = malloc(STORE_AUDIT_SCAN_MAX * sizeof(*w.checkpoints));
    enum tl_err err = entries != NULL && w.checkpoints != NULL ? TL_OK : TL_ERR_NOMEM;
    if (err == TL_OK) {
        err = verify_walk(&w, entries);
    }
    free(entries);
    free(w.checkpoints);
    if (err == TL_OK) {
        *out = report;
    }
    return err;
}
