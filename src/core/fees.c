#include "core/fees.h"

#include <string.h>

#include "util/assert.h"

static const char *const fees_operation_names[FEES_OPERATION_COUNT] = {
    "p2p", "instant_payout", "standard_payout", "card_funding", "fx",
};

const char *fees_operation_name(enum fees_operation operation)
{
    if ((unsigned)operation >= FEES_OPERATION_COUNT) {
        return NULL;
    }
    return fees_operation_names[operation];
}

bool fees_operation_find(const char *name, size_t name_len, enum fees_operation *out)
{
    TL_ASSERT(name != NULL);
    for (unsigned i = 0; i < FEES_OPERATION_COUNT; i++) {
        if (strlen(fees_operation_names[i]) == name_len &&
            memcmp(fees_operation_names[i], name, name_len) == 0) {
            *out = (enum fees_operation)i;
            return true;
        }
    }
    return false;
}

static bool fees_scaled_ok(int64_t value)
{
    return value >= 0 && value <= FEES_SCALED_MAX;
}

enum tl_err fees_schedule_check(const struct fees_schedule *schedule)
{
    TL_ASSERT(schedule != NULL);
    if (schedule->bps > FEES_BPS_MAX || !fees_scaled_ok(schedule->fixed_e4) ||
        !fees_scaled_ok(schedule->min_e4)) {
        return TL_ERR_INVALID_REQUEST;
    }
    if (schedule->max_e4 != -1 &&
        (!fees_scaled_ok(schedule->max_e4) || schedule->max_e4 < schedule->min_e4)) {
        return TL_ERR_INVALID_REQUEST;
    }
    return TL_OK;
}

/* x / divisor rounded half-up (x >= 0, divisor > 0). */
static unsigned __int128 fees_div_half_up(unsigned __int128 x, uint64_t divisor)
{
    TL_ASSERT(divisor > 0);
    return (x + divisor / 2u) / divisor;
}

int64_t fees_scaled_to_minor(int64_t scaled_e4, uint8_t exponent)
{
    TL_ASSERT(fees_scaled_ok(scaled_e4));
    TL_ASSERT(exponent <= FEES_SCALE_EXPONENT);
    uint64_t divisor = 1;
    for (unsigned i = exponent; i < FEES_SCALE_EXPONENT; i++) {
        divisor *= 10u;
    }
    unsigned __int128 minor = fees_div_half_up((unsigned __int128)(uint64_t)scaled_e4, divisor);
    TL_ASSERT(minor <= (unsigned __int128)scaled_e4);
    return (int64_t)minor;
}

enum tl_err fees_compute(const struct fees_schedule *schedule, uint8_t exponent, int64_t amount,
                         struct fees_quote *out)
{
    TL_ASSERT(amount > 0);
    TL_ASSERT(out != NULL);
    TL_ASSERT(fees_schedule_check(schedule) == TL_OK);
    unsigned __int128 product = (unsigned __int128)(uint64_t)amount * schedule->bps;
    unsigned __int128 percent = fees_div_half_up(product, FEES_BPS_MAX);
    unsigned __int128 fixed = (unsigned __int128)(uint64_t)fees_scaled_to_minor(
                                  schedule->fixed_e4, exponent) +
                              schedule->fixed_minor;
    unsigned __int128 fee = percent + fixed;
    unsigned __int128 min = (uint64_t)fees_scaled_to_minor(schedule->min_e4, exponent);
    struct fees_quote q;
    memset(&q, 0, sizeof(q));
    if (fee < min) {
        fee = min;
        q.clamped_min = true;
    }
    if (schedule->max_e4 != -1) {
        unsigned __int128 max = (uint64_t)fees_scaled_to_minor(schedule->max_e4, exponent);
        if (fee > max) {
            fee = max;
            q.clamped_max = true;
        }
    }
    /* percent <= amount and fixed < 2^63 (both fit int64), so only their sum can pass
     * INT64_MAX, and a maximum may bring it back. */
    TL_ASSERT(percent <= (unsigned __int128)INT64_MAX);
    TL_ASSERT(fixed <= (unsigned __int128)INT64_MAX);
    if (fee > (unsigned __int128)INT64_MAX) {
        return TL_ERR_OVERFLOW;
    }
    q.percent = (int64_t)percent;
    q.fixed = (int64_t)fixed;
    q.fee = (int64_t)fee;
    TL_ASSERT(q.fee >= 0);
    TL_ASSERT(!(q.clamped_min && q.clamped_max)); /* min <= max */
    *out = q;
    return TL_OK;
}

enum tl_err fees_p2p(int64_t amount, uint32_t bps, uint32_t fixed_minor, int64_t *out_fee)
{
    TL_ASSERT(amount > 0);
    TL_ASSERT(bps <= FEES_BPS_MAX);
    unsigned __int128 product = (unsigned __int128)(uint64_t)amount * bps;
    /* Adding half the divisor before dividing rounds the exact quotient half-up. */
    unsigned __int128 fee = fees_div_half_up(product, FEES_BPS_MAX) + fixed_minor;
    if (fee > (unsigned __int128)INT64_MAX) {
        return TL_ERR_OVERFLOW;
    }
    *out_fee = (int64_t)fee;
    TL_ASSERT(*out_fee >= 0);
    return TL_OK;
}
