#include "api/money_cache.h"

#include <pthread.h>
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

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_init_locks(void)
{
    struct cache_table *tables[] = {&table_users, &table_recipients, &table_wallets};
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
