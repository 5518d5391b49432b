/* SPDX-License-Identifier: MIT */
/* Change batches and mutable antichains. */
#include <string.h>

#include "progress_internal.h"

void tide_change_batch_init(tide_change_batch *b) { memset(b, 0, sizeof *b); }

void tide_change_batch_free(tide_change_batch *b)
{
    free(b->changes);
    memset(b, 0, sizeof *b);
}

void tide_change_batch_clear(tide_change_batch *b) { b->len = b->clean = 0; }

void tide_change_batch_update(tide_change_batch *b, uint64_t key, const tide_time *t,
                              int64_t delta)
{
    if (delta == 0)
        return;
    tide__reserve(&b->changes, &b->cap, b->len + 1, sizeof *b->changes);
    tide_change *c = &b->changes[b->len++];
    c->key = key;
    c->time = *t;
    c->delta = delta;
    /* Compact now and then so that a long-lived batch of cancelling updates stays small. */
    if (b->len > 64 && b->len > 2 * b->clean)
        tide_change_batch_compact(b);
}

static int change_cmp(const void *x, const void *y)
{
    const tide_change *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return tide_time_cmp(&a->time, &b->time);
}

void tide_change_batch_compact(tide_change_batch *b)
{
    if (b->clean == b->len)
        return;
    qsort(b->changes, b->len, sizeof *b->changes, change_cmp);
    size_t j = 0;
    for (size_t i = 0; i < b->len;) {
        tide_change sum = b->changes[i++];
        while (i < b->len && change_cmp(&b->changes[i], &sum) == 0)
            sum.delta += b->changes[i++].delta;
        if (sum.delta != 0)
            b->changes[j++] = sum;
    }
    b->len = b->clean = j;
}

bool tide_change_batch_is_empty(tide_change_batch *b)
{
    tide_change_batch_compact(b);
    return b->len == 0;
}

/* ---------------------------------------------------------------- mutable antichains */

void tide_mutable_antichain_init(tide_mutable_antichain *m)
{
    tide_change_batch_init(&m->counts);
    tide_antichain_init(&m->frontier);
    m->lead = 0;
}

/* Drops the leading zero counts. */
static void drop_lead(tide_mutable_antichain *m)
{
    tide_change_batch *c = &m->counts;
    memmove(c->changes, c->changes + m->lead, (c->len - m->lead) * sizeof *c->changes);
    c->len -= m->lead;
    m->lead = 0;
}

void tide_mutable_antichain_free(tide_mutable_antichain *m)
{
    tide_change_batch_free(&m->counts);
    tide_antichain_free(&m->frontier);
}

/* Index of @p t in the sorted counts, or where it would go (*found false). */
static size_t find(const tide_change_batch *c, const tide_time *t, bool *found)
{
    size_t lo = 0, hi = c->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = tide_time_cmp(&c->changes[mid].time, t);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int64_t tide_mutable_antichain_count(const tide_mutable_antichain *m, const tide_time *t)
{
    bool found;
    size_t i = find(&m->counts, t, &found);
    return found ? m->counts.changes[i].delta : 0;
}

static bool in_frontier(const tide_antichain *f, const tide_time *t)
{
    for (size_t i = 0; i < f->len; i++)
        if (tide_time_eq(&f->elems[i], t))
            return true;
    return false;
}

void tide_mutable_antichain_update(tide_mutable_antichain *m, const tide_change *changes,
                                   size_t n, tide_change_batch *frontier_changes)
{
    tide_change_batch *c = &m->counts;
    bool rebuild = false;
    for (size_t k = 0; k < n; k++) {
        const tide_time *t = &changes[k].time;
        bool found;
        size_t i = find(c, t, &found);
        if (i < m->lead) { /* among the dropped ones: rare, so the simple way */
            drop_lead(m);
            i = find(c, t, &found);
        }
        int64_t before = found ? c->changes[i].delta : 0, after = before + changes[k].delta;
        if (!found) {
            tide__reserve(&c->changes, &c->cap, c->len + 1, sizeof *c->changes);
            memmove(&c->changes[i + 1], &c->changes[i], (c->len - i) * sizeof *c->changes);
            c->changes[i] = (tide_change){ 0, *t, after };
            c->len++;
        } else if (after == 0 && i == m->lead) { /* the earliest: stays, as a zero */
            c->changes[i].delta = 0;
            m->lead++;
        } else if (after == 0) {
            memmove(&c->changes[i], &c->changes[i + 1], (c->len - i - 1) * sizeof *c->changes);
            c->len--;
        } else {
            c->changes[i].delta = after;
        }
        /* Only a time that becomes positive below the frontier, or a frontier time that
         * stops being positive, can move the frontier. */
        if (before <= 0 && after > 0 && !tide_antichain_less_equal(&m->frontier, t))
            rebuild = true;
        else if (before > 0 && after <= 0 && in_frontier(&m->frontier, t))
            rebuild = true;
    }
    /* Moving the rest costs no more than the zeros it drops took to make; all zeros
     * leave the counts empty. */
    if (m->lead && 2 * m->lead >= c->len)
        drop_lead(m);
    c->clean = c->len;
    if (!rebuild)
        return;
    /* The old frontier, to diff against: on the stack when small (the usual case), so
     * that moving a frontier allocates nothing. */
    tide_time small[8], *old = small;
    size_t nold = m->frontier.len;
    if (nold > 8 && !(old = malloc(nold * sizeof *old)))
        tide__fatal("out of memory (progress tracking)");
    if (nold)
        memcpy(old, m->frontier.elems, nold * sizeof *old);
    tide_antichain_clear(&m->frontier);
    /* Counts are in lexicographic order, so no later time is below an earlier one:
     * inserting in this order never has to remove anything. A positive time whose
     * coordinates after the first are all 0 is below every later one (an epoch's time,
     * always so in the root scope): the scan ends there, instead of walking every pending
     * time (barrier with 10000 notifications outstanding spent most of its time here). */
    for (size_t i = m->lead; i < c->len; i++)
        if (c->changes[i].delta > 0) {
            const tide_time *t = &c->changes[i].time;
            tide_antichain_insert(&m->frontier, t);
            uint32_t k = 1;
            while (k < t->depth && !t->c[k])
                k++;
            if (k >= t->depth)
                break;
        }
    if (frontier_changes) {
        tide_antichain was = { old, nold, nold };
        for (size_t i = 0; i < nold; i++)
            if (!in_frontier(&m->frontier, &old[i]))
                tide_change_batch_update(frontier_changes, 0, &old[i], -1);
        for (size_t i = 0; i < m->frontier.len; i++)
            if (!in_frontier(&was, &m->frontier.elems[i]))
                tide_change_batch_update(frontier_changes, 0, &m->frontier.elems[i], +1);
    }
    if (old != small)
        free(old);
}
