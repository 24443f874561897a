#include "core/stepup_rules.h"

#include <string.h>

#include "core/money.h"
#include "util/assert.h"

#define STEPUP_NS_PER_S 1000000000ull

static const char *const stepup_rule_names[STEPUP_RULE_COUNT] = {
    "amount_over_threshold", "new_recipient",  "new_device",        "password_change",
    "device_key_change",     "contact_change", "payout_destination",
};

const char *stepup_rule_name(uint32_t rule)
{
    TL_ASSERT(rule != 0);
    TL_ASSERT((rule & (rule - 1u)) == 0);
    for (uint32_t i = 0; i < STEPUP_RULE_COUNT; i++) {
        if (rule == 1u << i) {
            return stepup_rule_names[i];
        }
    }
    TL_ASSERT(false);
    return "";
}

/* One "CUR:amount" part of len bytes. */
static enum tl_err stepup_threshold_parse(const char *part, size_t len, struct stepup_policy *p,
                                          const char **why)
{
    if (len < 5 || part[3] != ':') {
        *why = "each threshold is CUR:amount, e.g. USD:500.00";
        return TL_ERR_INVALID_REQUEST;
    }
    const struct money_currency *currency = money_currency_find(part, 3);
    if (currency == NULL) {
        *why = "a threshold names an unknown currency";
        return TL_ERR_INVALID_REQUEST;
    }
    int64_t minor = 0;
    if (money_parse(part + 4, len - 4, currency, &minor) != TL_OK || minor <= 0) {
        *why = "a threshold amount is not a positive amount of its currency";
        return TL_ERR_INVALID_REQUEST;
    }
    for (uint32_t i = 0; i < p->threshold_count; i++) {
        if (p->thresholds[i].currency == currency->numeric) {
            *why = "a currency has two thresholds";
            return TL_ERR_INVALID_REQUEST;
        }
    }
    if (p->threshold_count >= STEPUP_THRESHOLDS_MAX) {
        *why = "too many thresholds";
        return TL_ERR_INVALID_REQUEST;
    }
    p->thresholds[p->threshold_count].currency = currency->numeric;
    p->thresholds[p->threshold_count].amount_minor = minor;
    p->threshold_count++;
    return TL_OK;
}

enum tl_err stepup_thresholds_parse(const char *text, struct stepup_policy *policy,
                                    const char **why)
{
    size_t len = strnlen(text, STEPUP_THRESHOLDS_TEXT_BYTES_MAX + 1);
    policy->threshold_count = 0;
    if (len > STEPUP_THRESHOLDS_TEXT_BYTES_MAX) {
        *why = "the thresholds text is too long";
        return TL_ERR_INVALID_REQUEST;
    }
    size_t start = 0;
    while (start < len) {
        const char *comma = memchr(text + start, ',', len - start);
        size_t end = comma != NULL ? (size_t)(comma - text) : len;
        enum tl_err err = stepup_threshold_parse(text + start, end - start, policy, why);
        if (err != TL_OK) {
            return err;
        }
        if (comma != NULL && end + 1 == len) {
            *why = "the thresholds end with a comma";
            return TL_ERR_INVALID_REQUEST;
        }
        start = end + 1;
    }
    return TL_OK;
}

static uint32_t stepup_payment_rules(const struct stepup_policy *p, const struct stepup_subject *s)
{
    uint32_t hit = 0;
    TL_ASSERT(s->amount_minor > 0);
    for (uint32_t i = 0; i < p->threshold_count; i++) {
        if (p->thresholds[i].currency == s->currency &&
            s->amount_minor > p->thresholds[i].amount_minor) {
            hit |= STEPUP_RULE_AMOUNT;
        }
    }
    if (p->new_recipient && !s->paid_before) {
        hit |= STEPUP_RULE_NEW_RECIPIENT;
    }
    if (p->new_device_s > 0 && !s->session_stepped_up) {
        uint64_t young_ns = (uint64_t)p->new_device_s * STEPUP_NS_PER_S;
        bool unknown = s->session_created_ns == 0 || s->session_created_ns > s->now_ns;
        if (unknown || s->now_ns - s->session_created_ns < young_ns) {
            hit |= STEPUP_RULE_NEW_DEVICE;
        }
    }
    return hit;
}

uint32_t stepup_rules_hit(const struct stepup_policy *policy, const struct stepup_subject *subject)
{
    TL_ASSERT(policy->threshold_count <= STEPUP_THRESHOLDS_MAX);
    TL_ASSERT((policy->account_rules & ~STEPUP_RULES_ALL) == 0);
    uint32_t rule = 0;
    switch (subject->action) {
    case STEPUP_ACTION_PAYMENT:
        return stepup_payment_rules(policy, subject);
    case STEPUP_ACTION_PASSWORD_CHANGE:
        rule = STEPUP_RULE_PASSWORD_CHANGE;
        break;
    case STEPUP_ACTION_DEVICE_KEY_CHANGE:
        rule = STEPUP_RULE_DEVICE_KEY_CHANGE;
        break;
    case STEPUP_ACTION_CONTACT_CHANGE:
        rule = STEPUP_RULE_CONTACT_CHANGE;
        break;
    case STEPUP_ACTION_PAYOUT_DESTINATION:
        rule = STEPUP_RULE_PAYOUT_DESTINATION;
        break;
    }
    TL_ASSERT(rule != 0);
    return policy->account_rules & rule;
}
