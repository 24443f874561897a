/*
 * stepup_rules.h - when a risky action needs a fresh second factor (step-up), as a pure function.
 *
 * The API (api/stepup.h) gathers the facts of a request (amount, whether the user paid this
 * recipient before, how old the session is and whether it completed a step-up) and asks
 * stepup_rules_hit which rules of the configured policy the request hits. The rules:
 *
 *   amount_over_threshold  a payment of more than the currency's threshold (config
 *                          stepup.amount_thresholds, e.g. "USD:500.00,EUR:450.00,JPY:70000":
 *                          major units, parsed by money.c; a currency without one is never hit)
 *   new_recipient          a payment to someone the user never paid before
 *   new_device             a payment from a session younger than stepup.new_device_s that has
 *                          not completed a step-up yet (a device that just logged in)
 *   password_change, device_key_change, contact_change, payout_destination
 *                          the sensitive account changes of those names, each when enabled
 *
 * Pure: no I/O, no clock (now is an input), no allocation.
 */
#ifndef TL_CORE_STEPUP_RULES_H
#define TL_CORE_STEPUP_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STEPUP_THRESHOLDS_MAX 32u
/* The longest thresholds text accepted ("XXX:" and 20 characters per currency). */
#define STEPUP_THRESHOLDS_TEXT_BYTES_MAX 512u

enum stepup_rule {
    STEPUP_RULE_AMOUNT = 1u << 0,
    STEPUP_RULE_NEW_RECIPIENT = 1u << 1,
    STEPUP_RULE_NEW_DEVICE = 1u << 2,
    STEPUP_RULE_PASSWORD_CHANGE = 1u << 3,
    STEPUP_RULE_DEVICE_KEY_CHANGE = 1u << 4,
    STEPUP_RULE_CONTACT_CHANGE = 1u << 5,
    STEPUP_RULE_PAYOUT_DESTINATION = 1u << 6,
};
#define STEPUP_RULE_COUNT 7u
#define STEPUP_RULES_ALL ((1u << STEPUP_RULE_COUNT) - 1u)

/* What the request does. */
enum stepup_action {
    STEPUP_ACTION_PAYMENT = 1,            /* any route that sends the user's money */
    STEPUP_ACTION_PASSWORD_CHANGE = 2,    /* POST /v1/me/password */
    STEPUP_ACTION_DEVICE_KEY_CHANGE = 3,  /* registering or revoking a device key */
    STEPUP_ACTION_CONTACT_CHANGE = 4,     /* email, phone, display name */
    STEPUP_ACTION_PAYOUT_DESTINATION = 5, /* adding or changing where payouts go */
};

struct stepup_threshold {
    uint16_t currency;    /* ISO 4217 number */
    int64_t amount_minor; /* a payment above this hits the rule */
};

struct stepup_policy {
    struct stepup_threshold thresholds[STEPUP_THRESHOLDS_MAX];
    uint32_t threshold_count;
    bool new_recipient;
    uint32_t new_device_s;  /* 0: the rule is off */
    uint32_t account_rules; /* which of the account-change rules are on (STEPUP_RULE_* bits) */
};

struct stepup_subject {
    enum stepup_action action;
    /* Payments: */
    int64_t amount_minor;
    uint16_t currency;
    bool paid_before;
    /* The session: */
    uint64_t now_ns;
    uint64_t session_created_ns; /* 0: unknown (treated as new) */
    bool session_stepped_up;
};

/*
 * Parses "CUR:amount[,CUR:amount...]" (no spaces; amount in major units with at most the
 * currency's minor digits, > 0; a currency at most once) into policy->thresholds. "" is no
 * thresholds. TL_ERR_INVALID_REQUEST with *why (a static sentence) otherwise; the policy's
 * thresholds are then unspecified.
 */
enum tl_err stepup_thresholds_parse(const char *text, struct stepup_policy *policy,
                                    const char **why);

/* The rules subject hits under policy (a bit set, 0 for none). Cannot fail. */
uint32_t stepup_rules_hit(const struct stepup_policy *policy, const struct stepup_subject *subject);

/* "amount_over_threshold" for STEPUP_RULE_AMOUNT, ...; rule is one bit. Cannot fail. */
const char *stepup_rule_name(uint32_t rule);

#endif
