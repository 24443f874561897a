#include "core/fees.h"

#include "util/assert.h"

enum tl_err fees_p2p(int64_t amount, uint32_t bps, uint32_t fixed_minor, int64_t *out_fee)
{
    TL_ASSERT(amount > 0);
    TL_ASSERT(bps <= FEES_BPS_MAX);
    unsigned __int128 product = (unsigned __int128)(uint64_t)amount * bps;
    /* Adding half the divisor before dividing rounds the exact quotient half-up. */
    unsigned __int128 fee = (product + FEES_BPS_MAX / 2u) / FEES_BPS_MAX + fixed_minor;
    if (fee > (unsigned __int128)INT64_MAX) {
        return TL_ERR_OVERFLOW;
    }
    *out_fee = (int64_t)fee;
    TL_ASSERT(*out_fee >= 0);
    return TL_OK;
}
