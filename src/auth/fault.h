/*
 * fault.h - why an auth or validation function rejected client input.
 *
 * The functions return an enum tl_err (the API's `code`); this says which field was wrong and
 * why, for the problem document the API renders: `param` names the request field ("password"),
 * `reason` is a stable machine word ("too_short"), `detail` an English sentence. All three point
 * to string literals, so a fault can be copied and kept without freeing anything.
 * Header only; no module state.
 */
#ifndef TL_AUTH_FAULT_H
#define TL_AUTH_FAULT_H

#include <stddef.h>

struct auth_fault {
    const char *param;
    const char *reason;
    const char *detail;
};

/* Fills *fault when the caller asked for one (fault may be NULL). Cannot fail. */
static inline void auth_fault_set(struct auth_fault *fault, const char *param, const char *reason,
                                  const char *detail)
{
    if (fault != NULL) {
        fault->param = param;
        fault->reason = reason;
        fault->detail = detail;
    }
}

#endif
