/*
 * authn.h - who is calling: bearer tokens, the session cache, and the password-hashing gate.
 *
 * The authenticate phase (app.authenticate = authn_authenticate, ctx = the struct authn) reads
 * `Authorization: Bearer <token>`, hashes the token with the server's token key (token.h) and
 * finds its session: first in an in-memory cache, then in the store. Missing, malformed,
 * unknown, revoked and expired tokens all answer TL_ERR_UNAUTHORIZED; nothing tells them apart.
 *
 * The cache keeps payments at tens of thousands of requests per second off SQLite. It is
 * bounded (AUTHN_CACHE_ENTRIES_DEFAULT, set-associative, evicting the entry that expires
 * first), thread-safe with one lock per stripe, and keyed by token hash (never the token). An
 * entry lives until the earlier of its session's expiry (wall clock) and the cache TTL
 * (monotonic clock), so a session revoked by another process stops working within the cache
 * TTL at the latest. A logout in this process (authn_forget) takes effect at once: it leaves a
 * revoked marker that a racing lookup of the old row cannot overwrite.
 *
 * Argon2id costs about 65 ms of a core and 64 MiB, and an HTTP worker blocked in it serves no
 * one else. authn_password_hash and authn_password_verify let AUTHN_HASH_CONCURRENCY hashes run
 * at once and at most hash_waiters_max more workers wait; past that they answer TL_ERR_BUSY at
 * once, so a burst of logins can never tie up every worker and starve payments.
 *
 * Never: log, store or echo a token or a password.
 */
#ifndef TL_API_AUTHN_H
#define TL_API_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "auth/password.h"
#include "auth/token.h"
#include "util/err.h"
#include "util/id128.h"

struct throttle;

/* Cache slots; entries are spread over AUTHN_CACHE_STRIPES locks of AUTHN_CACHE_WAYS-way sets. */
#define AUTHN_CACHE_STRIPES 64u
#define AUTHN_CACHE_WAYS 8u
#define AUTHN_CACHE_ENTRIES_DEFAULT (64u * 1024u)
#define AUTHN_CACHE_ENTRIES_MIN (AUTHN_CACHE_STRIPES * AUTHN_CACHE_WAYS)
#define AUTHN_CACHE_ENTRIES_MAX (1u << 22)
/* How long a cached session is trusted without asking the store again. */
#define AUTHN_CACHE_TTL_MS_DEFAULT 30000u
#define AUTHN_CACHE_TTL_MS_MAX (10u * 60u * 1000u)
/* Argon2id hashes running at once. One leaves the other core of a two-core box to payments
 * (see PASSWORD_OPSLIMIT_DEFAULT). */
#define AUTHN_HASH_CONCURRENCY 1u
/* How long a worker waits for its turn to hash before answering TL_ERR_BUSY. */
#define AUTHN_HASH_WAIT_MS 2000u
/* Seconds a client is told to wait (Retry-After) when hashing is busy. */
#define AUTHN_HASH_RETRY_AFTER_S 1u
/* Lifetime of a login's second-factor challenge (config auth.mfa_challenge_ttl_s). */
#define AUTHN_MFA_CHALLENGE_TTL_S_DEFAULT 300u
#define AUTHN_MFA_CHALLENGE_TTL_S_MAX 3600u
/* Bounds of a session's lifetime (config auth.session_ttl_s). */
#define AUTHN_SESSION_TTL_S_MIN 60u
#define AUTHN_SESSION_TTL_S_MAX (90u * 86400u)

/* A clock in nanoseconds; ctx is authn_config.clock_ctx. */
typedef uint64_t (*authn_clock_fn)(void *ctx);

struct authn_config {
    const struct token_key *token_key; /* copied */
    struct password_ctx *passwords;    /* borrowed; NULL: password calls answer TL_ERR_STORAGE */
    struct throttle *throttle;         /* borrowed; NULL: logins are not throttled (tests) */
    uint32_t session_ttl_s;            /* AUTHN_SESSION_TTL_S_MIN..MAX */
    uint32_t mfa_challenge_ttl_s;      /* 0: AUTHN_MFA_CHALLENGE_TTL_S_DEFAULT; at most _MAX */
    uint32_t cache_entries_max;        /* 0: default; rounded up to a power of two */
    uint32_t cache_ttl_ms;             /* 0: default; at most AUTHN_CACHE_TTL_MS_MAX */
    uint32_t hash_waiters_max;         /* workers that may wait for a hash turn (0: none) */
    authn_clock_fn wall_ns;            /* session expiry; NULL: clock_wall_ns */
    authn_clock_fn mono_ns;            /* cache TTL; NULL: clock_mono_ns */
    void *clock_ctx;
};

struct authn;

/*
 * Makes the identity services. On TL_OK *out owns them (free with authn_free). Errors:
 * TL_ERR_LIMIT when a bound above is broken, TL_ERR_NOMEM. *out is untouched on error.
 */
enum tl_err authn_new(const struct authn_config *config, struct authn **out);
/* Frees; wipes the token key. NULL is a no-op. No call may be running. */
void authn_free(struct authn *authn);

/* The authenticate phase (api_authenticate_fn; ctx is a struct authn). Fills req->principal.
 * TL_ERR_UNAUTHORIZED for a bad or missing token, or the store's error when it cannot answer. */
enum tl_err authn_authenticate(void *ctx, struct http_request *req);

/*
 * Hashes the token in req's Authorization header (whatever the authenticate phase accepted).
 * TL_ERR_UNAUTHORIZED when there is none or it is malformed.
 */
enum tl_err authn_request_token_hash(const struct authn *authn, const struct http_request *req,
                                     struct token_hash *out);

/* ---- Sessions ---- */

struct authn_session {
    struct id128 user_id;
    struct id128 session_id;
    uint64_t expires_ns; /* wall clock */
};

/* Seconds a new session lives. Cannot fail. */
uint32_t authn_session_ttl_s(const struct authn *authn);
/* Now on the wall clock this authn was configured with. Cannot fail. */
uint64_t authn_wall_ns(const struct authn *authn);
/* A new token for the client and the hash to store. Cannot fail. */
void authn_token_new(const struct authn *authn, char out_token[TOKEN_STR_BYTES],
                     struct token_hash *out_hash);

/* Caches a live session (a fresh login, or a row just read from the store). Does nothing when
 * the token was forgotten in this process (a logout raced with the read). Cannot fail. */
void authn_cache_put(struct authn *authn, const struct token_hash *hash,
                     const struct authn_session *session);
/* True with *out filled when the token's session is cached and alive; false when it is not
 * cached, expired or revoked (*revoked says which of the last, when not NULL). Cannot fail. */
bool authn_cache_get(struct authn *authn, const struct token_hash *hash, struct authn_session *out,
                     bool *revoked);
/* After the session is revoked in the store: makes the token fail here at once. Cannot fail. */
void authn_forget(struct authn *authn, const struct token_hash *hash);

/*
 * After the store revoked sessions of user_id other than keep_session_id (zero: all of them):
 * marks every cached entry of them revoked, so they fail here at once (other processes: within
 * the cache TTL). Scans the whole cache (rare: password changes, "log out everywhere").
 * Cannot fail.
 */
void authn_forget_user(struct authn *authn, struct id128 user_id, struct id128 keep_session_id);
/* The same for one session by its id. Cannot fail. */
void authn_forget_session(struct authn *authn, struct id128 session_id);

/* The keys of the second factor (auth/mfa.h), derived from the server secret at authn_new. */
struct mfa_key;
const struct mfa_key *authn_mfa_key(const struct authn *authn);
/* Seconds a login's second-factor challenge lives. Cannot fail. */
uint32_t authn_mfa_challenge_ttl_s(const struct authn *authn);

/* Cache figures, for tests and /metrics. Thread-safe snapshot. */
struct authn_stats {
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions; /* live entries pushed out by newer ones */
    uint64_t hash_busy; /* password hashes refused because the gate was full */
};
void authn_stats_get(struct authn *authn, struct authn_stats *out);

/* ---- Passwords, behind the hashing gate ---- */

/* password_hash through the gate. TL_ERR_BUSY when no turn came (retry after
 * AUTHN_HASH_RETRY_AFTER_S), else password_hash's errors. */
enum tl_err authn_password_hash(struct authn *authn, const char *password, size_t password_bytes,
                                char out[PASSWORD_HASH_STR_BYTES]);
/*
 * password_verify through the gate; stored_hash NULL does the same work against a dummy hash
 * (password_verify_dummy) and answers TL_ERR_UNAUTHORIZED. TL_OK on a match,
 * TL_ERR_UNAUTHORIZED, TL_ERR_CORRUPT (unreadable stored hash) or TL_ERR_BUSY.
 */
enum tl_err authn_password_verify(struct authn *authn, const char *stored_hash,
                                  const char *password, size_t password_bytes);
/* The password policy (password_policy_check): TL_OK or TL_ERR_WEAK_PASSWORD with *detail set
 * to a sentence for the client. */
enum tl_err authn_password_policy(const struct authn *authn, const char *password,
                                  size_t password_bytes, const char **detail);

/*
 * Login throttle for account (user id bytes, or the normalised login string when no user
 * matched). TL_OK: go ahead, the attempt counts as a failure until authn_login_succeeded.
 * TL_ERR_RATE_LIMITED with *retry_after_s.
 */
enum tl_err authn_login_attempt(struct authn *authn, const void *account, size_t account_bytes,
                                uint32_t *retry_after_s);
void authn_login_succeeded(struct authn *authn, const void *account, size_t account_bytes);

/* ---- Cookie sessions for the web app, and last-seen ---- */

/*
 * A login that asks for it ({"cookie": true}, sessions.h) gets its token in the tally_session
 * cookie (Secure, HttpOnly, SameSite=Strict, Path=/, Max-Age of the session) and a CSRF token
 * in the tally_csrf cookie (the same attributes but readable by the page's script). The
 * authenticate phase takes the tally_session cookie when there is no Authorization header
 * (a bearer token always wins). A cookie-authenticated request with a method other than GET,
 * HEAD or OPTIONS must carry the CSRF token in X-CSRF-Token and, when it has an Origin header,
 * come from webauthn.origin or the origin it was addressed to; else TL_ERR_CSRF_FAILED (403)
 * and the handler never runs. The CSRF token is keyed BLAKE2b of the session id with a key
 * derived from the server secret: bound to the session, the same on every node, stored
 * nowhere, compared in constant time.
 *
 * Last-seen: a session that authenticates a request gets its last_seen_ns written at most once
 * per AUTHN_LAST_SEEN_INTERVAL_S per node (the cache entry remembers when), by one conditional
 * UPDATE (store_session_touch), so the hot path does not write per request.
 */
#define AUTHN_COOKIE_SESSION "tally_session"
#define AUTHN_COOKIE_CSRF "tally_csrf"
#define AUTHN_CSRF_HEADER "X-CSRF-Token"
#define AUTHN_CSRF_LABEL "tally.csrf.v1"
#define AUTHN_CSRF_KEY_BYTES 32
#define AUTHN_CSRF_MAC_BYTES 32
#define AUTHN_CSRF_TOKEN_BYTES (43 + 1) /* base64url of the MAC, and a NUL */
#define AUTHN_LAST_SEEN_INTERVAL_S 60u

/* The value of the first cookie called name in a Cookie header (NULL: none) into out; false
 * when there is none, it is empty or it does not fit. Cannot fail. */
bool authn_cookie_get(const char *header, const char *name, char *out, size_t out_bytes);
/* True when the request authenticates by cookie (it has no Authorization header). */
bool authn_request_cookie(const struct http_request *req);
/* The CSRF token of a session. Cannot fail. */
void authn_csrf_token(const struct authn *authn, struct id128 session_id,
                      char out[AUTHN_CSRF_TOKEN_BYTES]);
/* Adds the two Set-Cookie headers of a cookie login; out_csrf gets the CSRF token.
 * http_response_header_add's errors. */
enum tl_err authn_cookies_set(const struct authn *authn, struct http_response *resp,
                              const char *token, struct id128 session_id, uint64_t max_age_s,
                              char out_csrf[AUTHN_CSRF_TOKEN_BYTES]);
/* Adds Set-Cookie headers that delete both cookies (a logout). */
enum tl_err authn_cookies_clear(struct http_response *resp);

#endif
