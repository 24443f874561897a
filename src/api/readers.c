#include "api/readers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/assert.h"
#include "util/clock.h"
#include "util/limits.h"

struct readers {
    pthread_mutex_t mutex;
    pthread_cond_t freed;
    uint32_t count;
    uint32_t free_count;
    struct store *free[TL_READERS_MAX]; /* [0, free_count) are free */
    struct store *all[TL_READERS_MAX];
};

enum tl_err readers_open(const struct store_config *config, uint32_t count, struct readers **out)
{
    TL_ASSERT(count >= 1);
    TL_ASSERT(count <= TL_READERS_MAX);
    struct readers *readers = calloc(1, sizeof(*readers));
    if (readers == NULL) {
        return TL_ERR_NOMEM;
    }
    clock_cond_init_mono(&readers->freed);
    TL_ASSERT(pthread_mutex_init(&readers->mutex, NULL) == 0);
    struct store_config reader_config = *config;
    reader_config.read_only = true;
    for (uint32_t i = 0; i < count; i++) {
        enum tl_err err = store_open(&reader_config, &readers->all[i]);
        if (err != TL_OK) {
            readers_close(readers);
            return err;
        }
        readers->free[i] = readers->all[i];
        readers->count = i + 1;
        readers->free_count = i + 1;
    }
    *out = readers;
    return TL_OK;
}

void readers_close(struct readers *readers)
{
    if (readers == NULL) {
        return;
    }
    TL_ASSERT(readers->free_count == readers->count);
    for (uint32_t i = 0; i < readers->count; i++) {
        store_close(readers->all[i]);
    }
    pthread_cond_destroy(&readers->freed);
    pthread_mutex_destroy(&readers->mutex);
    free(readers);
}

enum tl_err readers_acquire(struct readers *readers, uint32_t wait_ms, struct store **out)
{
    struct timespec deadline = clock_mono_deadline(wait_ms);
    enum tl_err err = TL_OK;
    TL_ASSERT(pthread_mutex_lock(&readers->mutex) == 0);
    while (readers->free_count == 0) {
        int rc = pthread_cond_timedwait(&readers->freed, &readers->mutex, &deadline);
        if (rc == ETIMEDOUT) {
            err = TL_ERR_BUSY;
            break;
        }
        TL_ASSERT(rc == 0);
    }
    if (err == TL_OK) {
        *out = readers->free[--readers->free_count];
    }
    TL_ASSERT(pthread_mutex_unlock(&readers->mutex) == 0);
    return err;
}

void readers_release(struct readers *readers, struct store *store)
{
    TL_ASSERT(store != NULL);
    TL_ASSERT(pthread_mutex_lock(&readers->mutex) == 0);
    TL_ASSERT(readers->free_count < readers->count);
    readers->free[readers->free_count++] = store;
    TL_ASSERT(pthread_cond_signal(&readers->freed) == 0);
    TL_ASSERT(pthread_mutex_unlock(&readers->mutex) == 0);
}
