/*
 * ledger.h - the double-entry ledger state machine.
 *
 * Pure domain logic: no I/O, no clock, no SQL, no allocation after ledger_open. Given the same
 * loaded state, batch timestamps and events it produces the same results, byte for byte.
 * Every balance change is a transfer between two accounts of the same currency, so per
 * currency total debits equal total credits; the ledger asserts this after every event and
 * stops the process rather than post wrong money.
 *
 * The model follows TigerBeetle's (accounts with posted/pending debits and credits, transfers
 * with pending/post/void, linked chains) and adds what a wallet platform needs: account kinds,
 * a currency on every account and transfer, the post-transfer balances of both accounts in
 * every result, and hold expiry as an explicit, recorded event.
 *
 * Threading: a ledger is owned by one thread (the writer). Nothing here locks.
 */
#ifndef TL_CORE_LEDGER_H
#define TL_CORE_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "util/id128.h"
#include "util/limits.h"

/* Events one batch may hold over all its apply calls: a full writer batch plus an expiry sweep.
 * More is a bug of the caller and asserts. */
#define LEDGER_BATCH_EVENTS_MAX (TL_BATCH_EVENTS_MAX + TL_EXPIRE_SWEEP_MAX)

/* What an account is for. Wallets are liabilities (the platform owes the user). */
enum ledger_account_kind {
    LEDGER_KIND_WALLET = 1,          /* a user's wallet in one currency */
    LEDGER_KIND_FEE_REVENUE = 2,     /* fees the operator earned */
    LEDGER_KIND_SANDBOX_FUNDING = 3, /* source of sandbox deposits (debit side grows) */
    LEDGER_KIND_FX_POOL = 4,         /* per-currency pool conversions go through */
    LEDGER_KIND_PAYOUT_CLEARING = 5, /* money on its way out to banks and cards */
    LEDGER_KIND_CARD_FUNDING = 6,    /* card-rail settlement (asset side) */
    LEDGER_KIND_BANK_FUNDING = 7,    /* bank-rail settlement (asset side) */
    LEDGER_KIND_ESCROW = 8,          /* money held between two parties */
    LEDGER_KIND_OPERATING = 9,       /* operator's own funds, adjustments */
    LEDGER_KIND_REFUNDABLE = 10,      /* per payment: what may still go back to the payer */
    LEDGER_KIND_REFUND_CAPACITY = 11, /* per currency: counterpart of the refundable accounts */
    LEDGER_KIND_RECEIVABLE = 12,      /* per wallet: what its user owes after a reversal */
};
#define LEDGER_KIND_MAX 12

/* Account flags. LINKED belongs to the request: it is not recorded on the created account. */
#define LEDGER_ACCOUNT_LINKED (1u << 0) /* event chains with the next event in the call */
#define LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS (1u << 1) /* wallets: no overdraft */
#define LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS (1u << 2) /* asset-side accounts */
#define LEDGER_ACCOUNT_FLAGS_KNOWN (LEDGER_ACCOUNT_LINKED | LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS | LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)

/* Transfer flags. LINKED belongs to the request: it is not recorded on the posting. */
#define LEDGER_TRANSFER_LINKED (1u << 0)         /* chains with the next event in the call */
#define LEDGER_TRANSFER_PENDING (1u << 1)        /* a hold: moves into *_pending */
#define LEDGER_TRANSFER_POST_PENDING (1u << 2)   /* posts a hold, fully or partly */
#define LEDGER_TRANSFER_VOID_PENDING (1u << 3)   /* releases a hold */
#define LEDGER_TRANSFER_EXPIRE_PENDING (1u << 4) /* releases an expired hold (writer only) */
#define LEDGER_TRANSFER_FLAGS_KNOWN 0x1fu

/* Why money moved. Stored with every transfer; 0 is invalid. */
enum ledger_code {
    LEDGER_CODE_DEPOSIT = 1,
    LEDGER_CODE_PAYMENT = 2,
    LEDGER_CODE_FEE = 3,
    LEDGER_CODE_FX = 4,
    LEDGER_CODE_PAYOUT = 5,
    LEDGER_CODE_REFUND = 6,
    LEDGER_CODE_REVERSAL = 7,
    LEDGER_CODE_HOLD = 8,
    LEDGER_CODE_HOLD_EXPIRY = 9,
    LEDGER_CODE_ADJUSTMENT = 10,
};

/* State of a pending transfer (a hold). */
enum ledger_pending_status {
    LEDGER_PENDING_NONE = 0, /* the transfer is not a hold */
    LEDGER_PENDING_OPEN = 1,
    LEDGER_PENDING_POSTED = 2,
    LEDGER_PENDING_VOIDED = 3,
    LEDGER_PENDING_EXPIRED = 4,
};

struct ledger_account {
    struct id128 id;        /* never zero */
    struct id128 user_data; /* pseudonymous owner reference (a user id); never PII */
    int64_t debits_pending;
    int64_t debits_posted;
    int64_t credits_pending;
    int64_t credits_posted;
    uint64_t timestamp; /* ns, assigned by the ledger; must be 0 on create */
    /* ns timestamp of the newest posting on either side of this account, 0 = none yet: the
     * head of the account's history chain (ledger_posting.debit_prev / credit_prev). Assigned
     * by the ledger; must be 0 on create. */
    uint64_t posting_last;
    uint16_t currency;  /* ISO 4217 number */
    uint16_t kind;      /* enum ledger_account_kind */
    uint32_t flags;     /* LEDGER_ACCOUNT_* */
};

struct ledger_transfer {
    struct id128 id;
    struct id128 debit_account_id;  /* may be zero on post/void: taken from the hold */
    struct id128 credit_account_id; /* may be zero on post/void: taken from the hold */
    struct id128 pending_id;        /* the hold a post/void/expire refers to, else zero */
    struct id128 user_ref;          /* what it belongs to (a payment id), may be zero */
    int64_t amount;     /* > 0; on post 0 means the full held amount; on void/expire 0 or full */
    uint64_t timestamp; /* ns, assigned by the ledger; must be 0 on create */
    uint32_t timeout_s; /* holds only: expires at timestamp + timeout_s; 0 = never. An event
                         * whose own timestamp is at or past that may only expire the hold. */
    uint16_t currency;  /* ISO 4217 number; may be 0 on post/void: taken from the hold */
    uint16_t code;      /* enum ledger_code */
    uint16_t flags;     /* LEDGER_TRANSFER_* */
};

/* A transfer as recorded, with the balances of both accounts right after it. */
struct ledger_balance {
    int64_t debits_pending;
    int64_t debits_posted;
    int64_t credits_pending;
    int64_t credits_posted;
};

struct ledger_posting {
    struct ledger_transfer transfer; /* resolved: accounts, currency, amount all filled in */
    struct ledger_balance debit_after;
    struct ledger_balance credit_after;
    /* The history chains: the timestamp of the previous posting of the debit (credit)
     * account, i.e. its posting_last before this one; 0 = this is the account's first. Every
     * account's history is its posting_last followed back through these links, so a store
     * can serve history by appending rows only. */
    uint64_t debit_prev;
    uint64_t credit_prev;
    uint8_t pending_status; /* enum ledger_pending_status as of this batch (holds only) */
};

/* Outcomes, each with a stable name: X(enum, "name"). "pending_expired" is
 * LEDGER_PENDING_HAS_EXPIRED because LEDGER_PENDING_EXPIRED names the hold status. */
#define LEDGER_RESULT_TABLE(X)                                                                 \
    X(LEDGER_OK, "ok")                                                                         \
    X(LEDGER_LINKED_EVENT_FAILED, "linked_event_failed")                                       \
    X(LEDGER_LINKED_EVENT_CHAIN_OPEN, "linked_event_chain_open")                               \
    X(LEDGER_EXISTS, "exists")                                                                 \
    X(LEDGER_EXISTS_WITH_DIFFERENT_FIELDS, "exists_with_different_fields")                     \
    X(LEDGER_ID_MUST_NOT_BE_ZERO, "id_must_not_be_zero")                                       \
    X(LEDGER_FLAGS_UNKNOWN, "flags_unknown")                                                   \
    X(LEDGER_FLAGS_ARE_MUTUALLY_EXCLUSIVE, "flags_are_mutually_exclusive")                     \
    X(LEDGER_TIMESTAMP_MUST_BE_ZERO, "timestamp_must_be_zero")                                 \
    X(LEDGER_BALANCES_MUST_BE_ZERO, "balances_must_be_zero")                                   \
    X(LEDGER_KIND_INVALID, "kind_invalid")                                                     \
    X(LEDGER_CURRENCY_INVALID, "currency_invalid")                                             \
    X(LEDGER_LEDGER_FULL, "ledger_full")                                                       \
    X(LEDGER_CODE_MUST_NOT_BE_ZERO, "code_must_not_be_zero")                                   \
    X(LEDGER_AMOUNT_MUST_BE_POSITIVE, "amount_must_be_positive")                               \
    X(LEDGER_ACCOUNTS_MUST_DIFFER, "accounts_must_differ")                                     \
    X(LEDGER_DEBIT_ACCOUNT_NOT_FOUND, "debit_account_not_found")                               \
    X(LEDGER_CREDIT_ACCOUNT_NOT_FOUND, "credit_account_not_found")                             \
    X(LEDGER_CURRENCY_MISMATCH, "currency_mismatch")                                           \
    X(LEDGER_PENDING_ID_MUST_BE_ZERO, "pending_id_must_be_zero")                               \
    X(LEDGER_PENDING_ID_MUST_NOT_BE_ZERO, "pending_id_must_not_be_zero")                       \
    X(LEDGER_PENDING_ID_MUST_DIFFER, "pending_id_must_differ")                                 \
    X(LEDGER_TIMEOUT_RESERVED_FOR_PENDING, "timeout_reserved_for_pending")                     \
    X(LEDGER_TIMEOUT_TOO_LONG, "timeout_too_long")                                             \
    X(LEDGER_PENDING_NOT_FOUND, "pending_not_found")                                           \
    X(LEDGER_PENDING_NOT_PENDING, "pending_not_pending")                                       \
    X(LEDGER_PENDING_HAS_DIFFERENT_ACCOUNTS, "pending_has_different_accounts")                 \
    X(LEDGER_PENDING_HAS_DIFFERENT_CURRENCY, "pending_has_different_currency")                 \
    X(LEDGER_EXCEEDS_PENDING_AMOUNT, "exceeds_pending_amount")                                 \
    X(LEDGER_PENDING_AMOUNT_MUST_MATCH, "pending_amount_must_match")                           \
    X(LEDGER_PENDING_ALREADY_POSTED, "pending_already_posted")                                 \
    X(LEDGER_PENDING_ALREADY_VOIDED, "pending_already_voided")                                 \
    X(LEDGER_PENDING_ALREADY_EXPIRED, "pending_already_expired")                               \
    X(LEDGER_PENDING_HAS_EXPIRED, "pending_expired")                                           \
    X(LEDGER_PENDING_NOT_EXPIRED, "pending_not_expired")                                       \
    X(LEDGER_EXCEEDS_CREDITS, "exceeds_credits")                                               \
    X(LEDGER_EXCEEDS_DEBITS, "exceeds_debits")                                                 \
    X(LEDGER_OVERFLOW, "overflow")

enum ledger_result {
#define LEDGER_RESULT_ENUM(e, name) e,
    LEDGER_RESULT_TABLE(LEDGER_RESULT_ENUM)
#undef LEDGER_RESULT_ENUM
        LEDGER_RESULT_COUNT
};

/* Stable name ("exceeds_credits"). Cannot fail. */
const char *ledger_result_name(enum ledger_result result);

enum ledger_event_kind {
    LEDGER_EVENT_ACCOUNT = 1,
    LEDGER_EVENT_TRANSFER = 2,
};

struct ledger_event {
    uint32_t kind; /* enum ledger_event_kind */
    union {
        struct ledger_account account;
        struct ledger_transfer transfer;
    } as;
};

struct ledger_event_result {
    uint32_t result;    /* enum ledger_result */
    uint64_t timestamp; /* of the created object, or of the existing one for LEDGER_EXISTS */
    /* Transfers: balances right after this event (ok), or current balances (exists);
     * zero for failures. Accounts: debit_after holds the account's balances. */
    struct ledger_balance debit_after;
    struct ledger_balance credit_after;
};

/*
 * Transfers that are not in the ledger's memory live in the store. Before a batch, the writer
 * prefetches the transfers its events name (their own ids and pending_ids) and answers these
 * lookups from that prefetch. get returns false when no transfer has that id; otherwise fills
 * *out (resolved, as recorded) and *status (the hold's state, LEDGER_PENDING_NONE if not a hold).
 * It must answer the same way for the same id throughout a batch. The ledger asks the batch's
 * own changes first (transfers it created, holds it resolved), so the prefetch may be stale
 * about those. A NULL lookup (or transfer_get) means the store holds no transfers.
 */
struct ledger_lookup {
    bool (*transfer_get)(void *ctx, struct id128 id, struct ledger_transfer *out,
                         enum ledger_pending_status *status);
    void *ctx;
};

struct ledger_config {
    uint32_t accounts_max; /* capacity of the account table, 1..2^30 */
};

struct ledger;

/* Every account and hold status change the current batch made, for the store to write. */
struct ledger_pending_update {
    struct id128 pending_id;
    uint8_t status; /* enum ledger_pending_status */
};

struct ledger_batch_out {
    const struct ledger_posting *postings; /* transfers created, in timestamp order */
    uint32_t posting_count;
    const struct ledger_account *const *accounts; /* created or changed, final state, once */
    uint32_t account_count;
    /* Holds resolved, once each, including holds created in this batch (whose posting already
     * carries the final pending_status). */
    const struct ledger_pending_update *pending_updates;
    uint32_t pending_update_count;
};

/* Allocates a ledger; the only allocation it ever makes. TL_ERR_NOMEM or TL_ERR_INVALID_REQUEST
 * (bad config); *out is set only on TL_OK. */
enum tl_err ledger_open(const struct ledger_config *config, struct ledger **out);
void ledger_close(struct ledger *ledger);

/* Startup and refresh: puts an account as stored (replacing a cached copy with the same id),
 * and moves the timestamp clock past its timestamp and posting_last.
 * Outside a batch only. Returns TL_ERR_LIMIT when the table is full, TL_ERR_CORRUPT when the
 * stored account breaks its own flags or has negative balances. */
enum tl_err ledger_account_load(struct ledger *ledger, const struct ledger_account *account);
/* Startup: the largest timestamp ever assigned, so new ones keep increasing. */
void ledger_timestamp_load(struct ledger *ledger, uint64_t timestamp_last);
uint64_t ledger_timestamp_last(const struct ledger *ledger);

/* The account with this id, or NULL. The pointer is valid until the next call that changes
 * the ledger. */
const struct ledger_account *ledger_account_get(const struct ledger *ledger, struct id128 id);
uint32_t ledger_account_count(const struct ledger *ledger);

/*
 * A batch: begin, one or more apply calls, output, then commit or rollback.
 * now_ns is the writer's clock; timestamps are max(now_ns, last + 1) and strictly increase.
 * apply fills results[i] for events[i]. Events flagged LINKED chain with the next event of the
 * same call: all succeed or none does (the failing event reports its own result, the others
 * LEDGER_LINKED_EVENT_FAILED). Only LEDGER_OK succeeds: LEDGER_EXISTS fails a chain too.
 * A chain left open at the end of the call is not run: every event of it gets
 * LEDGER_LINKED_EVENT_CHAIN_OPEN. Failed events take no timestamp. apply cannot fail as a
 * whole: every outcome is per event. A batch holds at most LEDGER_BATCH_EVENTS_MAX events.
 * begin copies *lookup (NULL allowed); its ctx must stay valid until commit or rollback, and
 * so does what output returns.
 * rollback restores exactly the state at begin (the writer calls it when the store fails).
 */
void ledger_batch_begin(struct ledger *ledger, uint64_t now_ns, const struct ledger_lookup *lookup);
void ledger_batch_apply(struct ledger *ledger, const struct ledger_event *events, uint32_t count,
                        struct ledger_event_result *results);
void ledger_batch_output(const struct ledger *ledger, struct ledger_batch_out *out);
void ledger_batch_commit(struct ledger *ledger);
void ledger_batch_rollback(struct ledger *ledger);

/* Full scan of every invariant (tests and startup); asserts, so it returns only when sound.
 * Per currency, total debits must equal total credits, so it assumes every account is loaded
 * (after ledger_account_load refreshed only some, only the per-event checks apply). */
void ledger_invariants_check(const struct ledger *ledger);

/* Available balance of a wallet-like account: credits_posted - debits_posted - debits_pending.
 * Cannot fail (balances are bounded by int64 and never negative). */
int64_t ledger_balance_available(const struct ledger_balance *balance);

#endif
