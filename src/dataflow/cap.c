/* SPDX-License-Identifier: MIT */
/*
 * Capabilities, capability sets and notificators.
 *
 * An owned capability counts +1 at every output of its operator at its time; dropping it
 * counts -1. A borrowed one (from tide_op_next) counts nothing: the batch it came with is
 * counted at the input until the operator has read it, and reading it is reported in the
 * same step as whatever the operator sends.
 */
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"


tide_cap *tide__cap_new(tide_op *op, const tide_time *t)
{
    tide_worker *w = op->df->w;
    if (!w->free_caps) {
        tide_cap *block = aligned_alloc(TIDE__CAP_ALIGN, TIDE__CAP_BLOCK * sizeof *block);
        if (block)
            memset(block, 0, TIDE__CAP_BLOCK * sizeof *block);
        void **blocks = realloc(w->cap_blocks, (w->ncap_blocks + 1) * sizeof *blocks);
        if (!block || !blocks)
            tide__fatal("out of memory allocating capabilities");
        w->cap_blocks = blocks;
        w->cap_blocks[w->ncap_blocks++] = block;
        for (size_t i = 0; i < TIDE__CAP_BLOCK; i++) {
            block[i].next_free = w->free_caps;
            w->free_caps = &block[i];
        }
    }
    tide_cap *c = w->free_caps;
    w->free_caps = c->next_free;
    c->op = op;
    c->time = *t;
    c->kind = CAP_OWNED;
    c->out = TIDE__ANY_OUTPUT;
    c->next_free = NULL;
    return c;
}

void tide__cap_free(tide_cap *c)
{
    tide_worker *w = c->op->df->w;
    c->kind = CAP_FREE;
    c->gen = (uint8_t)((c->gen + 1) & TIDE__CAP_GEN_MASK); /* its handles are stale now */
    c->next_free = w->free_caps;
    w->free_caps = c;
}

void tide__cap_forget(tide_dataflow *df)
{
    tide_worker *w = df->w;
    for (size_t b = 0; b < w->ncap_blocks; b++)
        for (size_t i = 0; i < TIDE__CAP_BLOCK; i++) {
            tide_cap *c = (tide_cap *)w->cap_blocks[b] + i;
            if (c->kind == CAP_OWNED && c->op->df == df)
                tide__cap_free(c);
        }
}

void tide__cap_count(tide_cap *c, int64_t d)
{
    tide_op *op = c->op;
    if (op->df->dropping)
        return;
    if (c->out != TIDE__ANY_OUTPUT) {
        tide__update(op->df, op->out[c->out].key, &c->time, d);
        return;
    }
    for (uint32_t o = 0; o < op->nout; o++)
        tide__update(op->df, op->out[o].key, &c->time, d);
}

/* The live capability handle @p h names; stops the run when there is none. */
static tide_cap *slot_of(const tide_cap *h, const char *what)
{
    if (!h)
        tide__fatal("%s: no capability (NULL)", what);
    tide_cap *c = tide__cap_peek(h);
    if (c->kind == CAP_FREE) {
        char tb[96];
        tide_time_format(&c->time, tb, sizeof tb);
        tide__fatal("operator '%s': %s a capability (at %s) already dropped", c->op->name,
                    what, tb);
    }
    if (tide__cap_stale(h))
        tide__fatal("%s a capability already dropped (its slot holds another capability of "
                    "operator '%s' now)", what, c->op->name);
    return c;
}

static void check_later(const tide_cap *c, const tide_time *t, const char *what)
{
    if (t->depth != c->time.depth || !tide_time_le(&c->time, t)) {
        char tb[96], cb[96];
        tide_time_format(t, tb, sizeof tb);
        tide_time_format(&c->time, cb, sizeof cb);
        tide__fatal("operator '%s': cannot %s a capability from %s to %s, which is not later",
                    c->op->name, what, cb, tb);
    }
}

const tide_time *tide_cap_time(const tide_cap *h) { return &slot_of(h, "reading")->time; }
uint64_t tide_cap_epoch(const tide_cap *h) { return slot_of(h, "reading")->time.c[0]; }

/* A new owned capability at @p t counting at output @p out (or all outputs). */
static tide_cap *derive(const tide_cap *c, const tide_time *t, uint32_t out)
{
    check_later(c, t, "delay");
    if (out != TIDE__ANY_OUTPUT && out >= c->op->nout)
        tide__fatal("operator '%s': a capability for output %u (it has %u)", c->op->name, out,
                    c->op->nout);
    if (c->out != TIDE__ANY_OUTPUT && out != c->out)
        tide__fatal("operator '%s': a capability for output %u only cannot give one for %s",
                    c->op->name, c->out, out == TIDE__ANY_OUTPUT ? "every output" : "another");
    if (c->kind == CAP_BORROWED && c->op->nsums)
        tide__check_summary(c->op, c->port, out, &c->time, t, "keeps a capability");
    tide_cap *n = tide__cap_new(c->op, t);
    n->out = out;
    tide__cap_count(n, +1);
    return tide__cap_handle(n);
}

tide_cap *tide_cap_delayed(const tide_cap *h, const tide_time *t)
{
    const tide_cap *c = slot_of(h, "delaying");
    return derive(c, t, c->out);
}

tide_cap *tide_cap_retain(const tide_cap *h)
{
    const tide_cap *c = slot_of(h, "retaining");
    return derive(c, &c->time, c->out);
}

tide_cap *tide_cap_delayed_for(const tide_cap *h, const tide_time *t, uint32_t output)
{
    return derive(slot_of(h, "delaying"), t, output);
}

tide_cap *tide_cap_retain_for(const tide_cap *h, uint32_t output)
{
    const tide_cap *c = slot_of(h, "retaining");
    return derive(c, &c->time, output);
}

int64_t tide_cap_output(const tide_cap *h)
{
    const tide_cap *c = slot_of(h, "reading");
    return c->out == TIDE__ANY_OUTPUT ? -1 : (int64_t)c->out;
}

void tide_cap_downgrade(tide_cap *h, const tide_time *t)
{
    tide_cap *c = slot_of(h, "downgrading");
    if (c->kind != CAP_OWNED)
        tide__fatal("operator '%s': downgrading a capability it does not own (retain it "
                    "first)", c->op->name);
    check_later(c, t, "downgrade");
    if (tide_time_eq(&c->time, t))
        return;
    tide__cap_count(c, -1);
    c->time = *t;
    tide__cap_count(c, +1);
}

/* Drops an owned slot (not through a handle: the library's own). */
static void drop_slot(tide_cap *c)
{
    tide__cap_count(c, -1);
    tide__cap_free(c);
}

void tide_cap_drop(tide_cap **cp)
{
    if (!*cp)
        return;
    tide_cap *c = slot_of(*cp, "dropping");
    if (c->kind != CAP_OWNED)
        tide__fatal("operator '%s': dropping a capability it does not own (one from an input "
                    "or a notification is dropped for it)", c->op->name);
    drop_slot(c);
    *cp = NULL;
}

void tide__cap_drop_slot(tide_cap *c)
{
    drop_slot(c);
}

/* ---------------------------------------------------------------- sets */

void tide_capset_init(tide_capset *s) { memset(s, 0, sizeof *s); }

void tide_capset_clear(tide_capset *s)
{
    for (size_t i = 0; i < s->len; i++)
        tide_cap_drop(&s->caps[i]);
    s->len = 0;
}

void tide_capset_free(tide_capset *s)
{
    tide_capset_clear(s);
    free(s->caps);
    memset(s, 0, sizeof *s);
}

void tide_capset_insert(tide_capset *s, tide_cap *h)
{
    const tide_cap *c = slot_of(h, "inserting into a set");
    for (size_t i = 0; i < s->len; i++) {
        const tide_cap *e = tide__cap_peek(s->caps[i]);
        if (e->out == c->out && tide_time_eq(&e->time, &c->time)) {
            tide_cap_drop(&h);
            return;
        }
    }
    tide__reserve(&s->caps, &s->cap, s->len + 1, sizeof *s->caps);
    s->caps[s->len++] = h;
}

/* With partially ordered times a frontier time need not follow any held capability: the
 * set then keeps what both allow. A time is allowed by both when it is at or after a held
 * capability c and a frontier time f, i.e. at or after their join; the set keeps a
 * capability at each minimal join. With totally ordered times that is each frontier time
 * at or after some held capability, and a held capability that is after all of them. */
void tide_capset_downgrade(tide_capset *s, const tide_antichain *frontier)
{
    size_t old = s->len;
    for (size_t i = 0; i < old; i++)
        for (size_t f = 0; f < frontier->len; f++) {
            tide_time t = tide_time_join(tide_cap_time(s->caps[i]), &frontier->elems[f]);
            bool covered = false;
            for (size_t k = old; k < s->len && !covered; k++)
                covered = tide_time_le(tide_cap_time(s->caps[k]), &t);
            if (covered)
                continue;
            for (size_t k = old; k < s->len;) /* joins after t are not minimal */
                if (tide_time_le(&t, tide_cap_time(s->caps[k]))) {
                    tide_cap_drop(&s->caps[k]);
                    s->caps[k] = s->caps[--s->len];
                } else {
                    k++;
                }
            tide__reserve(&s->caps, &s->cap, s->len + 1, sizeof *s->caps);
            s->caps[s->len++] = tide_cap_delayed(s->caps[i], &t);
        }
    for (size_t i = 0; i < old; i++)
        tide_cap_drop(&s->caps[i]);
    memmove(s->caps, s->caps + old, (s->len - old) * sizeof *s->caps);
    s->len -= old;
}

/* ---------------------------------------------------------------- notificators */

struct tide_notificator {
    tide_cap **pending; /* a binary heap, earliest time (lexicographically) on top */
    size_t npending, cappending;
    tide_cap **ready; /* due, latest first (taken from the end) */
    size_t nready, capready;
    tide_cap *current; /* lent to the caller until the next call */
};

tide_notificator *tide_notificator_new(void)
{
    tide_notificator *n = calloc(1, sizeof *n);
    if (!n)
        tide__fatal("out of memory creating a notificator");
    return n;
}

static void drop_owned(tide_cap *c)
{
    c->kind = CAP_OWNED;
    drop_slot(c);
}

void tide__notificator_drop_current(tide_notificator *n)
{
    if (n->current) {
        drop_owned(n->current);
        n->current = NULL;
    }
}

void tide_notificator_free(tide_notificator *n)
{
    if (!n)
        return;
    tide__notificator_drop_current(n);
    for (size_t i = 0; i < n->npending; i++)
        drop_owned(n->pending[i]);
    for (size_t i = 0; i < n->nready; i++)
        drop_owned(n->ready[i]);
    free(n->pending);
    free(n->ready);
    free(n);
}

void tide_notificator_notify_at(tide_notificator *n, tide_cap *h)
{
    tide_cap *cap = slot_of(h, "asking for a notification with");
    if (cap->kind != CAP_OWNED)
        tide__fatal("operator '%s': a notification needs an owned capability (use "
                    "tide_cap_retain or tide_cap_delayed)", cap->op->name);
    tide__reserve(&n->pending, &n->cappending, n->npending + 1, sizeof *n->pending);
    size_t i = n->npending++;
    while (i > 0 && tide_time_cmp(&cap->time, &n->pending[(i - 1) / 2]->time) < 0) {
        n->pending[i] = n->pending[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    n->pending[i] = cap;
}

static void sift_down(tide_cap **h, size_t n, size_t i)
{
    tide_cap *c = h[i];
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && tide_time_cmp(&h[k + 1]->time, &h[k]->time) < 0)
            k++;
        if (tide_time_cmp(&h[k]->time, &c->time) >= 0)
            break;
        h[i] = h[k];
        i = k;
    }
    h[i] = c;
}

static int later_first(const void *a, const void *b)
{
    return tide_time_cmp(&(*(tide_cap *const *)b)->time, &(*(tide_cap *const *)a)->time);
}

static bool blocked(const tide_cap *c, const tide_antichain *const *frontiers, size_t count)
{
    for (size_t f = 0; f < count; f++)
        if (tide_antichain_less_equal(frontiers[f], &c->time))
            return true;
    return false;
}

static void make_ready(tide_notificator *n, tide_cap *c)
{
    tide__reserve(&n->ready, &n->capready, n->nready + 1, sizeof *n->ready);
    n->ready[n->nready++] = c;
}

tide_cap *tide_notificator_next(tide_notificator *n, const tide_antichain *const *frontiers,
                                size_t count)
{
    tide__notificator_drop_current(n);
    if (!n->nready && n->npending && n->pending[0]->time.depth == 1) {
        /* Epochs are totally ordered: once the earliest is blocked, so is every later
         * one, so only the due ones are looked at (not every pending one per call). */
        while (n->npending && !blocked(n->pending[0], frontiers, count)) {
            make_ready(n, n->pending[0]);
            n->pending[0] = n->pending[--n->npending];
            if (n->npending)
                sift_down(n->pending, n->npending, 0);
        }
        for (size_t i = 0, j = n->nready; i < j / 2; i++) { /* latest first */
            tide_cap *t = n->ready[i];
            n->ready[i] = n->ready[j - 1 - i];
            n->ready[j - 1 - i] = t;
        }
    } else if (!n->nready && n->npending) {
        /* Partially ordered times: a later time may be due while an earlier one is not. */
        size_t keep = 0;
        for (size_t i = 0; i < n->npending; i++) {
            tide_cap *c = n->pending[i];
            if (blocked(c, frontiers, count))
                n->pending[keep++] = c;
            else
                make_ready(n, c);
        }
        n->npending = keep;
        for (size_t i = keep / 2; i-- > 0;)
            sift_down(n->pending, keep, i);
        if (n->nready > 1)
            qsort(n->ready, n->nready, sizeof *n->ready, later_first);
    }
    if (!n->nready)
        return NULL;
    tide_cap *c = n->ready[--n->nready];
    /* one notification per time */
    while (n->nready && tide_time_eq(&n->ready[n->nready - 1]->time, &c->time))
        drop_owned(n->ready[--n->nready]);
    c->kind = CAP_LENT;
    n->current = c;
    return tide__cap_handle(c);
}

bool tide__notificator_holds(const tide_notificator *n, const tide_cap *c)
{
    for (size_t i = 0; i < n->npending; i++)
        if (n->pending[i] == c)
            return true;
    for (size_t i = 0; i < n->nready; i++)
        if (n->ready[i] == c)
            return true;
    return false;
}

size_t tide_notificator_pending(const tide_notificator *n)
{
    return n->npending + n->nready;
}

void tide_op_notify_at(tide_op *op, tide_cap *cap)
{
    if (!op->notif)
        tide__fatal("operator '%s': tide_op_notify_at needs a *_notify operator (or use a "
                    "tide_notificator of its own)", op->name);
    tide_notificator_notify_at(op->notif, cap);
}

tide_cap *tide_op_next_notification(tide_op *op)
{
    if (!op->notif)
        tide__fatal("operator '%s': tide_op_next_notification needs a *_notify operator",
                    op->name);
    if (!op->fronts && op->nin) {
        op->fronts = calloc(op->nin, sizeof *op->fronts);
        if (!op->fronts)
            tide__fatal("out of memory");
        for (uint32_t i = 0; i < op->nin; i++)
            op->fronts[i] = op->in[i].frontier;
    }
    return tide_notificator_next(op->notif, op->fronts, op->nin);
}
