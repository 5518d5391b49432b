/* SPDX-License-Identifier: MIT */
/* A small map from times to payloads, for the operators that hold something per open time.
 * Few times are open at once, so a linear search is the fast choice. */
#include <stdlib.h>

#include "operators_internal.h"

void **tide__by_time_slot(struct tide__by_time *m, const tide_time *t, bool *fresh)
{
    for (size_t i = 0; i < m->len; i++)
        if (tide_time_eq(&m->at[i].t, t)) {
            *fresh = false;
            return &m->at[i].v;
        }
    if (m->len == m->cap) {
        size_t grown = m->cap ? 2 * m->cap : 8;
        m->at = realloc(m->at, grown * sizeof *m->at);
        if (!m->at)
            tide_abort("out of memory keeping records per time");
        tide__memory_account((int64_t)((grown - m->cap) * sizeof *m->at));
        m->cap = grown;
    }
    m->at[m->len].t = *t;
    m->at[m->len].v = NULL;
    *fresh = true;
    return &m->at[m->len++].v;
}

void *tide__by_time_take(struct tide__by_time *m, const tide_time *t)
{
    for (size_t i = 0; i < m->len; i++)
        if (tide_time_eq(&m->at[i].t, t)) {
            void *v = m->at[i].v;
            m->at[i] = m->at[--m->len];
            return v;
        }
    return NULL;
}

void tide__by_time_free(struct tide__by_time *m, void (*free_v)(void *))
{
    for (size_t i = 0; i < m->len; i++)
        free_v(m->at[i].v);
    tide__memory_account(-(int64_t)(m->cap * sizeof *m->at));
    free(m->at);
    m->at = NULL;
    m->len = m->cap = 0;
}

void tide__by_time_append(struct tide__by_time *m, const tide_time *t, tide_batch *b,
                          bool *fresh, const char *who)
{
    void **slot = tide__by_time_slot(m, t, fresh);
    if (*fresh && !(*slot = tide_batch_new(tide_batch_type(b), 0)))
        tide_abort("%s: out of memory", who);
    tide__batch_append(*slot, b, who);
}

static void free_batch(void *b) { tide_batch_free(b); }

void tide__by_time_free_batches(struct tide__by_time *m)
{
    tide__by_time_free(m, free_batch);
}
