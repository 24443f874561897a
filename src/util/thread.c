#include "util/thread.h"

#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

/* What the new thread needs before it runs main; it owns and frees this. */
struct thread_start {
    void *(*main)(void *);
    void *arg;
    char name[THREAD_NAME_BYTES_MAX + 1];
};

/* The thread names itself before main runs, so main (and anything that looks at the thread
 * from then on) always sees the name. */
static void *thread_trampoline(void *raw)
{
    struct thread_start start = *(struct thread_start *)raw;
    free(raw);
    /* Only a name over the kernel's length fails, and thread_start rules that out; a thread
     * without its name still does its work, so the result is not an error. */
    (void)pthread_setname_np(pthread_self(), start.name);
    return start.main(start.arg);
}

bool thread_start(pthread_t *thread, const char *name, void *(*main)(void *), void *arg)
{
    TL_ASSERT(name != NULL);
    size_t name_bytes = strlen(name);
    TL_ASSERT(name_bytes >= 1 && name_bytes <= THREAD_NAME_BYTES_MAX);
    struct thread_start *start = malloc(sizeof(*start));
    if (start == NULL) {
        return false;
    }
    start->main = main;
    start->arg = arg;
    memcpy(start->name, name, name_bytes + 1);
    if (pthread_create(thread, NULL, thread_trampoline, start) != 0) {
        free(start);
        return false;
    }
    return true;
}
