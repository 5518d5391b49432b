/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "alloc_internal.h"

uint64_t tide__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int tide__waker_init(struct tide__waker *w)
{
    pthread_condattr_t attr;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return TIDE_ENOMEM;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&w->mu);
        return TIDE_ENOMEM;
    }
    atomic_init(&w->events, 0);
    atomic_init(&w->sleeping, false);
    w->token = false;
    return 0;
}

void tide__waker_destroy(struct tide__waker *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

void tide__waker_notify(struct tide__waker *w)
{
    /* seq_cst on both sides (here and in wait) means: either the sleeper sees the new
     * event count, or we see it sleeping and signal it. */
    atomic_fetch_add(&w->events, 1);
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->mu);
        w->token = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

void tide__waker_wait(struct tide__waker *w, unsigned seen, int64_t timeout_ns)
{
    atomic_store(&w->sleeping, true);
    if (atomic_load(&w->events) != seen) {
        atomic_store(&w->sleeping, false);
        return;
    }
    struct timespec until;
    if (timeout_ns >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ns / 1000000000;
        until.tv_nsec += timeout_ns % 1000000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&w->mu);
    while (!w->token) {
        int rc = timeout_ns >= 0 ? pthread_cond_timedwait(&w->cv, &w->mu, &until)
                                 : pthread_cond_wait(&w->cv, &w->mu);
        if (rc == ETIMEDOUT)
            break;
    }
    w->token = false;
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->sleeping, false);
}

void tide__fifo_put(struct tide__fifo *f, tide_batch *b)
{
    b->next = NULL;
    if (f->tail)
        f->tail->next = b;
    else
        f->head = b;
    f->tail = b;
    f->count++;
}

void tide__fifo_put_front(struct tide__fifo *f, tide_batch *b)
{
    b->next = f->head;
    f->head = b;
    if (!f->tail)
        f->tail = b;
    f->count++;
}

tide_batch *tide__fifo_take(struct tide__fifo *f)
{
    tide_batch *b = f->head;
    if (b) {
        f->head = b->next;
        if (!f->head)
            f->tail = NULL;
        f->count--;
        b->next = NULL;
    }
    return b;
}

tide_batch *tide__fifo_take_fit(struct tide__fifo *f, size_t bytes)
{
    enum { LOOK = 64 }; /* pools hold about as many buffers as are in flight */
    tide_batch *best = NULL, *best_prev = NULL, *prev = NULL;
    int n = 0;
    for (tide_batch *b = f->head; b && n < LOOK; prev = b, b = b->next, n++)
        if (b->cap >= bytes && (!best || b->cap < best->cap)) {
            best = b;
            best_prev = prev;
        }
    if (!best)
        return tide__fifo_take(f);
    if (best_prev)
        best_prev->next = best->next;
    else
        f->head = best->next;
    if (f->tail == best)
        f->tail = best_prev;
    f->count--;
    best->next = NULL;
    return best;
}

void tide__fifo_free_all(struct tide__fifo *f)
{
    tide_batch *b;
    while ((b = tide__fifo_take(f)))
        tide_batch_free(b);
}
