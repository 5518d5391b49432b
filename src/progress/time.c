/* SPDX-License-Identifier: MIT */
/* Times, path summaries and antichains of times. */
#include <stdio.h>
#include <string.h>

#include "progress_internal.h"

tide_time tide_time_root(uint64_t epoch)
{
    tide_time t = { 1, 0, { epoch } };
    return t;
}

tide_time tide_time_make(uint32_t depth, const uint64_t *coords)
{
    tide_time t = { depth, 0, { 0 } };
    for (uint32_t i = 0; i < depth && i < TIDE_TIME_MAX_DEPTH; i++)
        t.c[i] = coords[i];
    return t;
}

bool tide_time_le(const tide_time *a, const tide_time *b)
{
    for (uint32_t i = 0; i < a->depth; i++)
        if (a->c[i] > b->c[i])
            return false;
    return true;
}

tide_time tide_time_join(const tide_time *a, const tide_time *b)
{
    tide_time t = *a;
    for (uint32_t i = 0; i < a->depth; i++)
        if (b->c[i] > t.c[i])
            t.c[i] = b->c[i];
    return t;
}

bool tide_time_eq(const tide_time *a, const tide_time *b)
{
    for (uint32_t i = 0; i < a->depth; i++)
        if (a->c[i] != b->c[i])
            return false;
    return true;
}

bool tide_time_lt(const tide_time *a, const tide_time *b)
{
    return tide_time_le(a, b) && !tide_time_eq(a, b);
}

int tide_time_cmp(const tide_time *a, const tide_time *b)
{
    for (uint32_t i = 0; i < a->depth; i++)
        if (a->c[i] != b->c[i])
            return a->c[i] < b->c[i] ? -1 : 1;
    return 0;
}

int tide_time_format(const tide_time *t, char *buf, size_t len)
{
    if (t->depth == 1)
        return snprintf(buf, len, "%llu", (unsigned long long)t->c[0]);
    int n = snprintf(buf, len, "(");
    for (uint32_t i = 0; i < t->depth; i++)
        n += snprintf(buf + (n < (int)len ? n : (int)len), (size_t)n < len ? len - (size_t)n : 0,
                      "%s%llu", i ? ", " : "", (unsigned long long)t->c[i]);
    n += snprintf(buf + (n < (int)len ? n : (int)len), (size_t)n < len ? len - (size_t)n : 0, ")");
    return n;
}

tide_time tide_time_enter(const tide_time *t)
{
    tide_time r = *t;
    if (r.depth >= TIDE_TIME_MAX_DEPTH)
        tide__fatal("scopes nest deeper than TIDE_TIME_MAX_DEPTH (%d)", TIDE_TIME_MAX_DEPTH);
    r.c[r.depth++] = 0;
    return r;
}

tide_time tide_time_leave(const tide_time *t)
{
    tide_time r = *t;
    if (r.depth > 1)
        r.c[--r.depth] = 0;
    return r;
}

/* ---------------------------------------------------------------- summaries */

tide_summary tide_summary_identity(uint32_t depth)
{
    tide_summary s = { depth, 0, { 0 } };
    return s;
}

tide_summary tide_summary_feedback(uint32_t depth, uint64_t k)
{
    tide_summary s = tide_summary_identity(depth);
    if (depth > 0)
        s.inc[depth - 1] = k;
    return s;
}

bool tide_summary_apply(const tide_summary *s, const tide_time *t, tide_time *out)
{
    tide_time r = *t;
    for (uint32_t i = 0; i < t->depth; i++) {
        if (r.c[i] > UINT64_MAX - s->inc[i])
            return false;
        r.c[i] += s->inc[i];
    }
    *out = r;
    return true;
}

bool tide_summary_then(const tide_summary *a, const tide_summary *b, tide_summary *out)
{
    tide_summary r = *a;
    for (uint32_t i = 0; i < a->depth; i++) {
        if (r.inc[i] > UINT64_MAX - b->inc[i])
            return false;
        r.inc[i] += b->inc[i];
    }
    *out = r;
    return true;
}

bool tide_summary_le(const tide_summary *a, const tide_summary *b)
{
    for (uint32_t i = 0; i < a->depth; i++)
        if (a->inc[i] > b->inc[i])
            return false;
    return true;
}

bool tide_summary_eq(const tide_summary *a, const tide_summary *b)
{
    return tide_summary_le(a, b) && tide_summary_le(b, a);
}

bool tide_summary_advances(const tide_summary *s)
{
    for (uint32_t i = 0; i < s->depth; i++)
        if (s->inc[i])
            return true;
    return false;
}

tide_summary tide_summary_leave(const tide_summary *s)
{
    tide_summary r = *s;
    if (r.depth > 1)
        r.inc[--r.depth] = 0;
    return r;
}

/* ---------------------------------------------------------------- antichains */

void tide_antichain_init(tide_antichain *a) { memset(a, 0, sizeof *a); }

void tide_antichain_free(tide_antichain *a)
{
    free(a->elems);
    memset(a, 0, sizeof *a);
}

void tide_antichain_clear(tide_antichain *a) { a->len = 0; }

bool tide_antichain_insert(tide_antichain *a, const tide_time *t)
{
    for (size_t i = 0; i < a->len; i++)
        if (tide_time_le(&a->elems[i], t))
            return false;
    size_t j = 0;
    for (size_t i = 0; i < a->len; i++)
        if (!tide_time_le(t, &a->elems[i]))
            a->elems[j++] = a->elems[i];
    a->len = j;
    tide__reserve(&a->elems, &a->cap, a->len + 1, sizeof *a->elems);
    a->elems[a->len++] = *t;
    return true;
}

bool tide_antichain_less_than(const tide_antichain *a, const tide_time *t)
{
    for (size_t i = 0; i < a->len; i++)
        if (tide_time_lt(&a->elems[i], t))
            return true;
    return false;
}

bool tide_antichain_less_equal(const tide_antichain *a, const tide_time *t)
{
    for (size_t i = 0; i < a->len; i++)
        if (tide_time_le(&a->elems[i], t))
            return true;
    return false;
}

bool tide_antichain_equal(const tide_antichain *a, const tide_antichain *b)
{
    if (a->len != b->len)
        return false;
    for (size_t i = 0; i < a->len; i++) {
        bool found = false;
        for (size_t j = 0; j < b->len && !found; j++)
            found = tide_time_eq(&a->elems[i], &b->elems[j]);
        if (!found)
            return false;
    }
    return true;
}
