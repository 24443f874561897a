#include "util/thread.h"

#include <string.h>

#include "util/assert.h"

bool thread_start(pthread_t *thread, const char *name, void *(*main)(void *), void *arg)
{
    TL_ASSERT(name != NULL);
    TL_ASSERT(strlen(name) >= 1 && strlen(name) <= THREAD_NAME_BYTES_MAX);
    if (pthread_create(thread, NULL, main, arg) != 0) {
        return false;
    }
    /* Only a name over the kernel's length fails, and the assertion above rules that out;
     * a thread without its name still does its work, so the result is not an error. */
    (void)pthread_setname_np(*thread, name);
    return true;
}
