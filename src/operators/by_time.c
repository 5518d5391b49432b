/* SPDX-License-Identifier: MIT */
/* A map from times to payloads, for the operators that hold something per open time. Few
 * times are open at once in most dataflows, and there a linear search is the fast choice;
 * from INDEX_MIN times on, an open-addressing index finds a time in O(1) (tide_delay looks
 * up a time per record: with 1000 pending times it compared 1000 times per record). */
#include <stdlib.h>

#include "operators_internal.h"

#define INDEX_MIN 16

static uint64_t hash_time(const tide_time *t)
{
    uint64_t h = t->depth;
    for (uint32_t i = 0; i < t->depth; i++)
        h = (h ^ t->c[i]) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* Frees the index (rebuilt at the next lookup that wants it). */
static void drop_index(struct tide__by_time *m)
{
    tide__memory_account(-(int64_t)(m->nindex * sizeof *m->index));
    free(m->index);
    m->index = NULL;
    m->nindex = 0;
}

static void index_put(struct tide__by_time *m, size_t pos)
{
    size_t mask = m->nindex - 1, i = hash_time(&m->at[pos].t) & mask;
    while (m->index[i])
        i = (i + 1) & mask;
    m->index[i] = pos + 1;
}

/* The index slot holding position @p pos. */
static size_t index_slot(const struct tide__by_time *m, size_t pos)
{
    size_t mask = m->nindex - 1, i = hash_time(&m->at[pos].t) & mask;
    while (m->index[i] != pos + 1)
        i = (i + 1) & mask;
    return i;
}

/* Empties index slot @p i, moving later entries of its cluster back so that every
 * lookup still finds its time without tombstones. */
static void index_remove(struct tide__by_time *m, size_t i)
{
    size_t mask = m->nindex - 1, j = i;
    m->index[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->index[j])
            return;
        size_t home = hash_time(&m->at[m->index[j] - 1].t) & mask;
        /* the entry at j may move to i if its home is not in (i, j] cyclically */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->index[i] = m->index[j];
            m->index[j] = 0;
            i = j;
        }
    }
}

/* An index of twice the map's room, or none below INDEX_MIN times. */
static void build_index(struct tide__by_time *m)
{
    drop_index(m);
    m->indexed = true;
    if (m->len < INDEX_MIN)
        return;
    size_t n = INDEX_MIN * 2;
    while (n < 2 * m->cap)
        n *= 2;
    if (!(m->index = calloc(n, sizeof *m->index)))
        tide_abort("out of memory keeping records per time");
    tide__memory_account((int64_t)(n * sizeof *m->index));
    m->nindex = n;
    for (size_t p = 0; p < m->len; p++)
        index_put(m, p);
}

/* Position of @p t, or m->len when it has none. */
static size_t find(struct tide__by_time *m, const tide_time *t)
{
    if (!m->indexed || (!m->index && m->len >= INDEX_MIN))
        build_index(m);
    if (!m->index) {
        for (size_t i = 0; i < m->len; i++)
            if (tide_time_eq(&m->at[i].t, t))
                return i;
        return m->len;
    }
    size_t mask = m->nindex - 1;
    for (size_t i = hash_time(t) & mask; m->index[i]; i = (i + 1) & mask)
        if (tide_time_eq(&m->at[m->index[i] - 1].t, t))
            return m->index[i] - 1;
    return m->len;
}

void tide__by_time_reordered(struct tide__by_time *m)
{
    m->indexed = false;
}

void **tide__by_time_slot(struct tide__by_time *m, const tide_time *t, bool *fresh)
{
    size_t i = find(m, t);
    if (i < m->len) {
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
        m->indexed = false; /* sized by the room: made again for the new room */
    }
    m->at[m->len].t = *t;
    m->at[m->len].v = NULL;
    *fresh = true;
    m->len++;
    if (m->indexed && m->index)
        index_put(m, m->len - 1);
    return &m->at[m->len - 1].v;
}

void tide__by_time_remove_at(struct tide__by_time *m, size_t i)
{
    size_t last = m->len - 1;
    if (m->indexed && m->index) {
        index_remove(m, index_slot(m, i));
        if (i != last) /* the last one moves into the hole: its slot follows */
            m->index[index_slot(m, last)] = i + 1;
    }
    m->at[i] = m->at[last];
    m->len--;
}

void *tide__by_time_take(struct tide__by_time *m, const tide_time *t)
{
    size_t i = find(m, t);
    if (i == m->len)
        return NULL;
    void *v = m->at[i].v;
    tide__by_time_remove_at(m, i);
    return v;
}

void tide__by_time_free(struct tide__by_time *m, void (*free_v)(void *))
{
    for (size_t i = 0; i < m->len; i++)
        free_v(m->at[i].v);
    tide__memory_account(-(int64_t)(m->cap * sizeof *m->at));
    free(m->at);
    drop_index(m);
    m->at = NULL;
    m->len = m->cap = 0;
    m->indexed = false;
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
