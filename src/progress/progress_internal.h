/* SPDX-License-Identifier: MIT */
#ifndef TIDE_PROGRESS_INTERNAL_H
#define TIDE_PROGRESS_INTERNAL_H

#include <stdlib.h>

#include "tide/progress.h"

/* From the comm layer: stops the run (every rank) with a message. */
_Noreturn void tide__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From the comm layer (alloc_internal.h says more). */
void tide__channel_mark_progress(tide_allocator *a, int channel);
void *tide__channel_rank_state(tide_allocator *a, int channel, unsigned slot,
                               void *(*make)(void *), void *arg, void (*destroy)(void *));
void tide__rank_cast(tide_allocator *a, int channel, const tide_batch *b, uint64_t seq);
void tide__rank_cast_kick(tide_allocator *a);
void tide__rank_cast_compact(tide_allocator *a, size_t (*compact)(void *, size_t, size_t));

/* Grows *arr (elements of @p size bytes) to hold at least @p need; containers here abort on
 * out-of-memory rather than return errors from every update. */
static inline void tide__reserve(void *arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *p = realloc(*(void **)arr, c * size);
    if (!p)
        tide__fatal("out of memory (progress tracking)");
    *(void **)arr = p;
    *cap = c;
}

#endif
