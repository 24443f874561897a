/*
 * money_cache.h - bounded in-memory read-through caches for the money hot path.
 *
 * A payment needs the sender's and the recipient's public face (id, handle, display name) and
 * both wallets. Those rows do not change once written in this issue (handles and display
 * names have no update endpoint; a wallet row is immutable), so they are cached in the process
 * and a payment between known users reads nothing from the store. Only found rows are cached:
 * a recipient or wallet that does not exist yet may exist a moment later.
 *
 *   users       by id                          MONEY_CACHE_USERS entries
 *   recipients  by (kind, normalized value)    MONEY_CACHE_RECIPIENTS entries -> user id
 *   wallets     by (user id, currency)         MONEY_CACHE_WALLETS entries
 *
 * Each table is 4-way set associative with a lock per set stripe; a full set replaces its
 * entries in turn. Tables are static: nothing to set up, nothing allocated. Thread-safe.
 *
 * Never: cache PII beyond what a payment shows (no email, phone or password hash), or cache a
 * miss. A later issue that lets users change a handle, email, phone or display name must add
 * invalidation here first.
 */
#ifndef TL_API_MONEY_CACHE_H
#define TL_API_MONEY_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/validate.h"
#include "store/app.h"
#include "store/stepup.h"
#include "util/err.h"
#include "util/id128.h"

#define MONEY_CACHE_USERS (16u * 1024u)
#define MONEY_CACHE_RECIPIENTS (16u * 1024u)
#define MONEY_CACHE_WALLETS (64u * 1024u)
#define MONEY_CACHE_STEPUP_SESSIONS (16u * 1024u)
#define MONEY_CACHE_STEPUP_PAIRS (64u * 1024u)
/* How long cached step-up facts are trusted at most: a backstop for a change this process did
 * not make (another process on the same SQLite file); changes made here invalidate at once. */
#define MONEY_CACHE_STEPUP_TTL_NS (2ull * 1000000000ull)

/* What the money endpoints show about a user. */
struct money_user {
    struct id128 id;
    char handle[STORE_HANDLE_BYTES_MAX];
    char display_name[STORE_DISPLAY_NAME_BYTES_MAX];
};

/* The user with id, from the cache or reader (a store handle). *found false when there is no
 * such user. TL_ERR_STORAGE. */
enum tl_err money_cache_user_get(struct store *reader, struct id128 id, struct money_user *out,
                                 bool *found);

/* The user a recipient names (validate_recipient's output), from the cache or reader. */
enum tl_err money_cache_recipient_find(struct store *reader, const struct recipient *recipient,
                                       struct money_user *out, bool *found);

/* The user's wallet in currency, from the cache or reader. */
enum tl_err money_cache_wallet_find(struct store *reader, struct id128 user_id, uint16_t currency,
                                    struct store_wallet *out, bool *found);

/* Remembers a wallet row that was just opened. Cannot fail. */
void money_cache_wallet_put(const struct store_wallet *wallet);

/*
 * Step-up facts (store_stepup_facts): every payment needs them, and reading them cost a
 * six-part query per payment, the only store read left on the payment path. They change only
 * when a user enrols or removes a factor or a device key, or answers a challenge, and every
 * such change in this process calls money_cache_stepup_changed afterwards, which invalidates
 * all entries (changes are rare). Only for a store whose process is the only writer
 * (store_exclusive): with several nodes another node's change would not be seen here.
 *
 *   sessions  by (user id, session id)  the facts except paid_before, for
 *             MONEY_CACHE_STEPUP_TTL_NS at most
 *   pairs     by (payer, payee)         only pairs that paid before (that never becomes false)
 *
 * Protocol: generation = money_cache_stepup_generation() BEFORE reading the store, then
 * money_cache_stepup_put(..., generation): an entry read across a change is never used.
 */
uint64_t money_cache_stepup_generation(void);
void money_cache_stepup_changed(void);
/* True and *out filled when the session's facts are fresh at now_ns and, unless to_user is
 * zero, the pair is known to have paid before. */
bool money_cache_stepup_get(struct id128 user_id, struct id128 session_id, struct id128 to_user,
                            uint64_t now_ns, struct store_stepup_facts *out);
void money_cache_stepup_put(struct id128 user_id, struct id128 session_id, struct id128 to_user,
                            uint64_t generation, uint64_t now_ns,
                            const struct store_stepup_facts *facts);

#endif
