/*
 * test_stepup_rules.c - the step-up policy (core/stepup_rules.h): thresholds in major units by
 * currency exponent, and which rules a payment or an account change hits.
 */
#include "core/stepup_rules.h"

#include <string.h>

#include "test.h"

#define NS 1000000000ull

static void test_thresholds_parse(void **state)
{
    (void)state;
    struct stepup_policy p;
    const char *why = NULL;
    memset(&p, 0, sizeof(p));
    assert_int_equal(stepup_thresholds_parse("USD:500.00,EUR:450,JPY:70000,KWD:1.234", &p, &why),
                     TL_OK);
    assert_int_equal(p.threshold_count, 4);
    assert_int_equal(p.thresholds[0].currency, 840);
    assert_int_equal(p.thresholds[0].amount_minor, 50000);
    assert_int_equal(p.thresholds[1].currency, 978);
    assert_int_equal(p.thresholds[1].amount_minor, 45000);
    assert_int_equal(p.thresholds[2].currency, 392);
    assert_int_equal(p.thresholds[2].amount_minor, 70000);
    assert_int_equal(p.thresholds[3].amount_minor, 1234);
    assert_int_equal(stepup_thresholds_parse("", &p, &why), TL_OK);
    assert_int_equal(p.threshold_count, 0);
    static const char *const bad[] = {
        "USD", "USD:", "usd:5", "XYZ:5", "USD:5.001", "JPY:1.5", "USD:0", "USD:-5", "USD:5,",
        ",USD:5", "USD:5,,EUR:4", "USD:5,USD:6", "USD :5", "USD:1e3", "USD:5;EUR:4",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(stepup_thresholds_parse(bad[i], &p, &why), TL_ERR_INVALID_REQUEST);
        assert_non_null(why);
    }
}

static struct stepup_policy policy(void)
{
    struct stepup_policy p;
    const char *why = NULL;
    memset(&p, 0, sizeof(p));
    assert_int_equal(stepup_thresholds_parse("USD:500.00,JPY:70000", &p, &why), TL_OK);
    p.new_recipient = true;
    p.new_device_s = 600;
    p.account_rules = STEPUP_RULE_PASSWORD_CHANGE | STEPUP_RULE_DEVICE_KEY_CHANGE;
    return p;
}

static struct stepup_subject payment(int64_t amount, uint16_t currency)
{
    struct stepup_subject s;
    memset(&s, 0, sizeof(s));
    s.action = STEPUP_ACTION_PAYMENT;
    s.amount_minor = amount;
    s.currency = currency;
    s.paid_before = true;
    s.now_ns = 10000 * NS;
    s.session_created_ns = 1000 * NS; /* 9000 s old */
    return s;
}

static void test_payment_rules(void **state)
{
    (void)state;
    struct stepup_policy p = policy();
    struct stepup_subject s = payment(50000, 840);
    assert_int_equal(stepup_rules_hit(&p, &s), 0); /* exactly the threshold */
    s.amount_minor = 50001;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_AMOUNT);
    s = payment(1000000, 978); /* EUR: no threshold configured */
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
    s = payment(70001, 392);
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_AMOUNT);
    s = payment(100, 840);
    s.paid_before = false;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_NEW_RECIPIENT);
    p.new_recipient = false;
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
}

static void test_new_device(void **state)
{
    (void)state;
    struct stepup_policy p = policy();
    struct stepup_subject s = payment(100, 840);
    s.session_created_ns = s.now_ns - 599 * NS;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_NEW_DEVICE);
    s.session_created_ns = s.now_ns - 600 * NS;
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
    s.session_created_ns = s.now_ns - 10 * NS;
    s.session_stepped_up = true;
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
    s.session_stepped_up = false;
    s.session_created_ns = 0; /* unknown session: treated as new */
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_NEW_DEVICE);
    s.session_created_ns = s.now_ns + NS; /* a clock step back: new */
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_NEW_DEVICE);
    p.new_device_s = 0;
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
    /* Several at once. */
    p = policy();
    s = payment(60000, 840);
    s.paid_before = false;
    s.session_created_ns = s.now_ns;
    assert_int_equal(stepup_rules_hit(&p, &s),
                     STEPUP_RULE_AMOUNT | STEPUP_RULE_NEW_RECIPIENT | STEPUP_RULE_NEW_DEVICE);
}

static void test_account_rules(void **state)
{
    (void)state;
    struct stepup_policy p = policy();
    struct stepup_subject s;
    memset(&s, 0, sizeof(s));
    s.action = STEPUP_ACTION_PASSWORD_CHANGE;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_PASSWORD_CHANGE);
    s.action = STEPUP_ACTION_DEVICE_KEY_CHANGE;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_DEVICE_KEY_CHANGE);
    s.action = STEPUP_ACTION_CONTACT_CHANGE;
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
    s.action = STEPUP_ACTION_PAYOUT_DESTINATION;
    assert_int_equal(stepup_rules_hit(&p, &s), 0);
    p.account_rules = STEPUP_RULES_ALL;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_PAYOUT_DESTINATION);
    s.action = STEPUP_ACTION_CONTACT_CHANGE;
    assert_int_equal(stepup_rules_hit(&p, &s), STEPUP_RULE_CONTACT_CHANGE);
}

static void test_rule_names(void **state)
{
    (void)state;
    assert_string_equal(stepup_rule_name(STEPUP_RULE_AMOUNT), "amount_over_threshold");
    assert_string_equal(stepup_rule_name(STEPUP_RULE_NEW_RECIPIENT), "new_recipient");
    assert_string_equal(stepup_rule_name(STEPUP_RULE_NEW_DEVICE), "new_device");
    assert_string_equal(stepup_rule_name(STEPUP_RULE_PAYOUT_DESTINATION), "payout_destination");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_thresholds_parse),
    cmocka_unit_test(test_payment_rules),
    cmocka_unit_test(test_new_device),
    cmocka_unit_test(test_account_rules),
    cmocka_unit_test(test_rule_names),
};

TL_TEST_MAIN(tests)
