#include "api/money_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "util/assert.h"

#define MONEY_CACHE_WAYS 4u
/* Locks per table; a set's lock is its index modulo this. */
#define MONEY_CACHE_STRIPES 64u

static_assert((MONEY_CACHE_USERS / MONEY_CACHE_WAYS & (MONEY_CACHE_USERS / MONEY_CACHE_WAYS - 1)) ==
                  0,
              "power-of-two set count");
static_assert((MONEY_CACHE_RECIPIENTS / MONEY_CACHE_WAYS &
               (MONEY_CACHE_RECIPIENTS / MONEY_CACHE_WAYS - 1)) == 0,
              "power-of-two set count");
static_assert((MONEY_CACHE_WALLETS / MONEY_CACHE_WAYS &
               (MONEY_CACHE_WALLETS / MONEY_CACHE_WAYS - 1)) == 0,
              "power-of-two set count");

static_assert((MONEY_CACHE_STEPUP_SESSIONS / MONEY_CACHE_WAYS &
               (MONEY_CACHE_STEPUP_SESSIONS / MONEY_CACHE_WAYS - 1)) == 0,
              "power-of-two set count");
static_assert((MONEY_CACHE_STEPUP_PAIRS / MONEY_CACHE_WAYS &
               (MONEY_CACHE_STEPUP_PAIRS / MONEY_CACHE_WAYS - 1)) == 0,
              "power-of-two set count");

/* Every entry starts with its key's hash; 0 marks an empty way (real hashes have bit 0 set). */
struct user_entry {
    uint64_t hash;
    struct money_user user;
};

struct recipient_entry {
    uint64_t hash;
    struct id128 user_id;
    uint32_t kind; /* enum recipient_kind */
    char value[VALIDATE_RECIPIENT_BYTES];
};

struct wallet_entry {
    uint64_t hash;
    struct store_wallet wallet;
};

/* Two ids: a session's facts (user, session) or a pair that paid before (payer, payee). */
struct id_pair {
    struct id128 a;
    struct id128 b;
};

struct stepup_session_entry {
    uint64_t hash;
    struct id_pair key;
    uint64_t generation;
    uint64_t until_ns;
    struct store_stepup_facts facts; /* paid_before unused */
};

struct stepup_pair_entry {
    uint64_t hash;
    struct id_pair key;
};

/* The key a lookup compares against an entry whose hash matched. */
typedef bool (*cache_key_equal_fn)(const void *entry, const void *key);

struct cache_table {
    void *entries;
    size_t entry_bytes;
    uint32_t set_mask;
    uint8_t *next_way; /* per set: the way a put replaces when the key is not there */
    cache_key_equal_fn key_equal;
    pthread_mutex_t locks[MONEY_CACHE_STRIPES];
};

static struct user_entry cache_users[MONEY_CACHE_USERS];
static struct recipient_entry cache_recipients[MONEY_CACHE_RECIPIENTS];
static struct wallet_entry cache_wallets[MONEY_CACHE_WALLETS];
static uint8_t cache_users_next[MONEY_CACHE_USERS / MONEY_CACHE_WAYS];
static uint8_t cache_recipients_next[MONEY_CACHE_RECIPIENTS / MONEY_CACHE_WAYS];
static uint8_t cache_wallets_next[MONEY_CACHE_WALLETS / MONEY_CACHE_WAYS];
static struct stepup_session_entry cache_stepup_sessions[MONEY_CACHE_STEPUP_SESSIONS];
static struct stepup_pair_entry cache_stepup_pairs[MONEY_CACHE_STEPUP_PAIRS];
static uint8_t cache_stepup_sessions_next[MONEY_CACHE_STEPUP_SESSIONS / MONEY_CACHE_WAYS];
static uint8_t cache_stepup_pairs_next[MONEY_CACHE_STEPUP_PAIRS / MONEY_CACHE_WAYS];
/* Bumped after every change to step-up facts in this process; starts at 1 so that a zeroed
 * entry never matches. */
static _Atomic uint64_t stepup_generation = 1;

static bool user_key_equal(const void *entry, const void *key)
{
    return id128_eq(((const struct user_entry *)entry)->user.id, *(const struct id128 *)key);
}

static bool recipient_key_equal(const void *entry, const void *key)
{
    const struct recipient_entry *e = entry;
    const struct recipient *r = key;
    return e->kind == (uint32_t)r->kind && strcmp(e->value, r->value) == 0;
}

struct wallet_key {
    struct id128 user_id;
    uint16_t currency;
};

static bool wallet_key_equal(const void *entry, const void *key)
{
    const struct wallet_entry *e = entry;
    const struct wallet_key *k = key;
    return id128_eq(e->wallet.user_id, k->user_id) && e->wallet.currency == k->currency;
}

/* Both step-up entries start with (hash, id_pair). */
static bool id_pair_key_equal(const void *entry, const void *key)
{
    const struct stepup_pair_entry *e = entry;
    const struct id_pair *k = key;
    return id128_eq(e->key.a, k->a) && id128_eq(e->key.b, k->b);
}

/* The locks are set up once by cache_init_locks (pthread_once), before any use. */
static struct cache_table table_users = {
    .entries = cache_users,
    .entry_bytes = sizeof(struct user_entry),
    .set_mask = MONEY_CACHE_USERS / MONEY_CACHE_WAYS - 1,
    .next_way = cache_users_next,
    .key_equal = user_key_equal,
};
static struct cache_table table_recipients = {
    .entries = cache_recipients,
    .entry_bytes = sizeof(struct recipient_entry),
    .set_mask = MONEY_CACHE_RECIPIENTS / MONEY_CACHE_WAYS - 1,
    .next_way = cache_recipients_next,
    .key_equal = recipient_key_equal,
};
static struct cache_table table_wallets = {
    .entries = cache_wallets,
    .entry_bytes = sizeof(struct wallet_entry),
    .set_mask = MONEY_CACHE_WALLETS / MONEY_CACHE_WAYS - 1,
    .next_way = cache_wallets_next,
    .key_equal = wallet_key_equal,
};

static struct cache_table table_stepup_sessions = {
    .entries = cache_stepup_sessions,
    .entry_bytes = sizeof(struct stepup_session_entry),
    .set_mask = MONEY_CACHE_STEPUP_SESSIONS / MONEY_CACHE_WAYS - 1,
    .next_way = cache_stepup_sessions_next,
    .key_equal = id_pair_key_equal,
};
static struct cache_table table_stepup_pairs = {
    .entries = cache_stepup_pairs,
    .entry_bytes = sizeof(struct stepup_pair_entry),
    .set_mask = MONEY_CACHE_STEPUP_PAIRS / MONEY_CACHE_WAYS - 1,
    .next_way = cache_stepup_pairs_next,
    .key_equal = id_pair_key_equal,
};

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_init_locks(void)
{
    struct cache_table *tables[] = {&table_users, &table_recipients, &table_wallets,
                                    &table_stepup_sessions, &table_stepup_pairs};
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (uint32_t i = 0; i < MONEY_CACHE_STRIPES; i++) {
            TL_ASSERT(pthread_mutex_init(&tables[t]->locks[i], NULL) == 0);
        }
    }
}

static uint64_t cache_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x | 1u;
}

/* FNV-1a over a string, then mixed. */
static uint64_t cache_hash_str(uint32_t kind, const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull ^ kind;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return cache_mix(h);
}

static void *cache_way(struct cache_table *t, uint64_t set, uint32_t way)
{
    return (uint8_t *)t->entries + (set * MONEY_CACHE_WAYS + way) * t->entry_bytes;
}

/* Copies the entry for key into out (entry_bytes); false on a miss. */
static bool cache_get(struct cache_table *t, uint64_t hash, const void *key, void *out)
{
    TL_ASSERT(pthread_once(&cache_once, cache_init_locks) == 0);
    uint64_t set = hash & t->set_mask;
    pthread_mutex_t *lock = &t->locks[set % MONEY_CACHE_STRIPES];
    bool hit = false;
    TL_ASSERT(pthread_mutex_lock(lock) == 0);
    for (uint32_t way = 0; way < MONEY_CACHE_WAYS && !hit; way++) {
        const void *entry = cache_way(t, set, way);
        if (*(const uint64_t *)entry == hash && t->key_equal(entry, key)) {
            memcpy(out, entry, t->entry_bytes);
            hit = true;
        }
    }
    TL_ASSERT(pthread_mutex_unlock(lock) == 0);
    return hit;
}

/* Stores entry (whose first field is its hash) over the same key, else over the set's next
 * way in turn. */
static void cache_put(struct cache_table *t, const void *entry, const void *key)
{
    TL_ASSERT(pthread_once(&cache_once, cache_init_locks) == 0);
    uint64_t hash = *(const uint64_t *)entry;
    TL_ASSERT((hash & 1u) == 1u);
    uint64_t set = hash & t->set_mask;
    pthread_mutex_t *lock = &t->locks[set % MONEY_CACHE_STRIPES];
    TL_ASSERT(pthread_mutex_lock(lock) == 0);
    void *slot = NULL;
    for (uint32_t way = 0; way < MONEY_CACHE_WAYS && slot == NULL; way++) {
        void *candidate = cache_way(t, set, way);
        if (*(const uint64_t *)candidate == hash && t->key_equal(candidate, key)) {
            slot = candidate;
        }
    }
    if (slot == NULL) {
        slot = cache_way(t, set, t->next_way[set]);
        t->next_way[set] = (uint8_t)((t->next_way[set] + 1u) % MONEY_CACHE_WAYS);
    }
    memcpy(slot, entry, t->entry_bytes);
    TL_ASSERT(pthread_mutex_unlock(lock) == 0);
}

static void money_user_from_row(const struct store_user *row, struct money_user *out)
{
    memset(out, 0, sizeof(*out));
    out->id = row->id;
    static_assert(sizeof(out->handle) == sizeof(row->handle), "same size");
    static_assert(sizeof(out->display_name) == sizeof(row->display_name), "same size");
    memcpy(out->handle, row->handle, sizeof(out->handle));
    memcpy(out->display_name, row->display_name, sizeof(out->display_name));
    out->handle[sizeof(out->handle) - 1] = '\0';
    out->display_name[sizeof(out->display_name) - 1] = '\0';
}

static void money_cache_user_put(const struct money_user *user)
{
    struct user_entry entry = {.hash = cache_mix(id128_hash(user->id)), .user = *user};
    cache_put(&table_users, &entry, &user->id);
}

enum tl_err money_cache_user_get(struct store *reader, struct id128 id, struct money_user *out,
                                 bool *found)
{
    struct user_entry entry;
    if (cache_get(&table_users, cache_mix(id128_hash(id)), &id, &entry)) {
        *out = entry.user;
        *found = true;
        return TL_OK;
    }
    struct store_user row;
    bool exists = false;
    enum tl_err err = store_user_get(reader, id, &row, &exists);
    if (err != TL_OK) {
        return err;
    }
    if (exists) {
        TL_ASSERT(id128_eq(row.id, id));
        money_user_from_row(&row, out);
        money_cache_user_put(out);
    }
    *found = exists;
    return TL_OK;
}

/* The store lookup for a recipient: exactly one of handle, email, phone. */
static enum tl_err money_cache_recipient_read(struct store *reader,
                                              const struct recipient *recipient,
                                              struct store_user *row, bool *found)
{
    const char *value = recipient->value;
    switch (recipient->kind) {
    case RECIPIENT_HANDLE:
        return store_user_find(reader, value, NULL, NULL, row, found);
    case RECIPIENT_EMAIL:
        return store_user_find(reader, NULL, value, NULL, row, found);
    case RECIPIENT_PHONE:
        return store_user_find(reader, NULL, NULL, value, row, found);
    }
    TL_UNREACHABLE();
    return TL_ERR_INTERNAL;
}

enum tl_err money_cache_recipient_find(struct store *reader, const struct recipient *recipient,
                                       struct money_user *out, bool *found)
{
    uint64_t hash = cache_hash_str((uint32_t)recipient->kind, recipient->value);
    struct recipient_entry entry;
    if (cache_get(&table_recipients, hash, recipient, &entry)) {
        enum tl_err err = money_cache_user_get(reader, entry.user_id, out, found);
        if (err != TL_OK || *found) {
            return err;
        }
    }
    struct store_user row;
    bool exists = false;
    enum tl_err err = money_cache_recipient_read(reader, recipient, &row, &exists);
    if (err != TL_OK) {
        return err;
    }
    if (exists) {
        money_user_from_row(&row, out);
        money_cache_user_put(out);
        memset(&entry, 0, sizeof(entry));
        entry.hash = hash;
        entry.user_id = row.id;
        entry.kind = (uint32_t)recipient->kind;
        static_assert(sizeof(entry.value) == sizeof(recipient->value), "same size");
        memcpy(entry.value, recipient->value, sizeof(entry.value));
        cache_put(&table_recipients, &entry, recipient);
    }
    *found = exists;
    return TL_OK;
}

static uint64_t wallet_hash(struct id128 user_id, uint16_t currency)
{
    return cache_mix(id128_hash(user_id) ^ ((uint64_t)currency * 0x9e3779b97f4a7c15ull));
}

void money_cache_wallet_put(const struct store_wallet *wallet)
{
    TL_ASSERT(!id128_is_zero(wallet->id));
    TL_ASSERT(wallet->currency != 0);
    struct wallet_key key = {wallet->user_id, wallet->currency};
    struct wallet_entry entry = {.hash = wallet_hash(key.user_id, key.currency), .wallet = *wallet};
    cache_put(&table_wallets, &entry, &key);
}

enum tl_err money_cache_wallet_find(struct store *reader, struct id128 user_id, uint16_t currency,
                                    struct store_wallet *out, bool *found)
{
    struct wallet_key key = {user_id, currency};
    struct wallet_entry entry;
    if (cache_get(&table_wallets, wallet_hash(user_id, currency), &key, &entry)) {
        *out = entry.wallet;
        *found = true;
        return TL_OK;
    }
    bool exists = false;
    enum tl_err err = store_wallet_find(reader, user_id, currency, out, &exists);
    if (err != TL_OK) {
        return err;
    }
    if (exists) {
        TL_ASSERT(id128_eq(out->user_id, user_id));
        TL_ASSERT(out->currency == currency);
        money_cache_wallet_put(out);
    }
    *found = exists;
    return TL_OK;
}

/* ---- Step-up facts ---- */

static uint64_t id_pair_hash(uint32_t kind, struct id_pair key)
{
    return cache_mix(id128_hash(key.a) * 31u + id128_hash(key.b) + kind);
}

uint64_t money_cache_stepup_generation(void)
{
    return atomic_load(&stepup_generation);
}

void money_cache_stepup_changed(void)
{
    atomic_fetch_add(&stepup_generation, 1);
}

bool money_cache_stepup_get(struct id128 user_id, struct id128 session_id, struct id128 to_user,
                            uint64_t now_ns, struct store_stepup_facts *out)
{
    struct id_pair session_key = {.a = user_id, .b = session_id};
    struct stepup_session_entry entry;
    if (!cache_get(&table_stepup_sessions, id_pair_hash(1, session_key), &session_key, &entry) ||
        entry.generation != atomic_load(&stepup_generation) || now_ns >= entry.until_ns) {
        return false;
    }
    *out = entry.facts;
    out->paid_before = false;
    if (!id128_is_zero(to_user)) {
        struct id_pair pair_key = {.a = user_id, .b = to_user};
        struct stepup_pair_entry pair;
        if (!cache_get(&table_stepup_pairs, id_pair_hash(2, pair_key), &pair_key, &pair)) {
            return false;
        }
        out->paid_before = true;
    }
    return true;
}

void money_cache_stepup_put(struct id128 user_id, struct id128 session_id, struct id128 to_user,
                            uint64_t generation, uint64_t now_ns,
                            const struct store_stepup_facts *facts)
{
    TL_ASSERT(generation != 0);
    TL_ASSERT(!facts->paid_before || !id128_is_zero(to_user));
    struct stepup_session_entry entry = {
        .key = {.a = user_id, .b = session_id},
        .generation = generation,
        .until_ns = now_ns + MONEY_CACHE_STEPUP_TTL_NS,
        .facts = *facts,
    };
    entry.hash = id_pair_hash(1, entry.key);
    entry.facts.paid_before = false;
    cache_put(&table_stepup_sessions, &entry, &entry.key);
    if (facts->paid_before) {
        struct stepup_pair_entry pair = {.key = {.a = user_id, .b = to_user}};
        pair.hash = id_pair_hash(2, pair.key);
        cache_put(&table_stepup_pairs, &pair, &pair.key);
    }
}
