/* SPDX-License-Identifier: MIT */
/*
 * Operators that move records to later times: delay (a time per record), delay_batch (a
 * time per batch), delay_total (delay for totally ordered times, released by watching the
 * frontier instead of through notifications) and reclock (records released at the times of
 * another stream). Each holds a batch per pending time.
 */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct delay {
    tide_delay_fn fn;
    tide_delay_batch_fn batch_fn;
    void *ctx;
    bool total;                   /* delay_total: capabilities kept here, not notified */
    struct tide__by_time pending; /* a struct pending per later time */
};

struct pending {
    tide_batch *records;
    tide_cap *cap; /* delay_total only */
};

static const char *delay_name(const struct delay *d)
{
    return d->total ? "DelayTotal" : d->batch_fn ? "DelayBatch" : "Delay";
}

/* The batch of records waiting for @p t, with a capability at @p t. */
static tide_batch *pending_at(struct delay *d, tide_op *op, const tide_cap *cap,
                              const tide_time *t, const tide_type *type)
{
    bool fresh;
    void **slot = tide__by_time_slot(&d->pending, t, &fresh);
    if (fresh) {
        struct pending *p = malloc(sizeof *p);
        if (!p || !(p->records = tide_batch_new(type, 0)))
            tide_abort("%s: out of memory", delay_name(d));
        /* tide_cap_delayed stops the run if @p t is earlier than the capability */
        p->cap = tide_cap_delayed(cap, t);
        if (!d->total) {
            tide_op_notify_at(op, p->cap);
            p->cap = NULL;
        }
        *slot = p;
    }
    return ((struct pending *)*slot)->records;
}

static void release(tide_op *op, struct pending *p, const tide_cap *cap)
{
    tide_session_give_batch(tide_op_session(op, 0, cap), &p->records);
    tide_cap_drop(&p->cap);
    free(p);
}

/* by_time entries start with their time */
static int earliest_first(const void *a, const void *b)
{
    return tide_time_cmp(a, b);
}

/* delay_total: releases, earliest first, every time the input frontier has passed; times
 * are totally ordered, so those are a prefix of the sorted pending times. */
static void release_passed(struct delay *d, tide_op *op)
{
    struct tide__by_time *m = &d->pending;
    if (m->len == 0) /* qsort and memmove want non-null arrays even for no elements */
        return;
    /* Most activations release nothing (records arrive, the frontier stays): one look at
     * the earliest time then, not a sort and a new index. */
    size_t first = 0;
    for (size_t i = 1; i < m->len; i++)
        if (tide_time_cmp(&m->at[i].t, &m->at[first].t) < 0)
            first = i;
    if (tide_antichain_less_equal(tide_op_frontier(op, 0), &m->at[first].t))
        return;
    qsort(m->at, m->len, sizeof *m->at, earliest_first);
    size_t n = 0;
    while (n < m->len && !tide_antichain_less_equal(tide_op_frontier(op, 0), &m->at[n].t)) {
        struct pending *p = m->at[n++].v;
        release(op, p, p->cap);
    }
    memmove(m->at, m->at + n, (m->len - n) * sizeof *m->at);
    m->len -= n;
    tide__by_time_reordered(m);
}

static void delay_run(tide_op *op, void *arg)
{
    struct delay *d = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        const tide_type *type = tide_batch_type(b);
        if (d->batch_fn) {
            tide_time later = *tide_cap_time(cap);
            d->batch_fn(tide_cap_time(cap), &later, d->ctx);
            tide__batch_append(pending_at(d, op, cap, &later, type), b, delay_name(d));
            continue;
        }
        for (size_t at = 0; at < tide_batch_bytes(b);) {
            const void *rec = tide__record_next(b, &at, value);
            tide_time later = *tide_cap_time(cap);
            d->fn(rec, tide_cap_time(cap), &later, d->ctx);
            if (tide_batch_push(pending_at(d, op, cap, &later, type), rec) != 0)
                tide_abort("%s: out of memory", delay_name(d));
        }
    }
    if (d->total) {
        release_passed(d, op);
        return;
    }
    while ((cap = tide_op_next_notification(op)))
        release(op, tide__by_time_take(&d->pending, tide_cap_time(cap)), cap);
}

static void free_pending(void *arg)
{
    struct pending *p = arg;
    tide_batch_free(p->records);
    tide_cap_drop(&p->cap);
    free(p);
}

static void delay_free(void *arg)
{
    struct delay *d = arg;
    tide__by_time_free(&d->pending, free_pending);
    free(d);
}

static tide_stream *delay_build(tide_stream *s, struct delay proto)
{
    struct delay *d = malloc(sizeof *d);
    if (!d)
        tide_abort("%s: out of memory", delay_name(&proto));
    *d = proto;
    if (d->total)
        return tide_unary_frontier(s, TIDE_PIPELINE, delay_name(d), tide_stream_type(s),
                                   delay_run, d, delay_free);
    return tide_unary_notify(s, TIDE_PIPELINE, delay_name(d), tide_stream_type(s), delay_run,
                             d, delay_free, NULL, 0);
}

tide_stream *tide_delay(tide_stream *s, tide_delay_fn fn, void *ctx)
{
    return delay_build(s, (struct delay){ .fn = fn, .ctx = ctx });
}

tide_stream *tide_delay_batch(tide_stream *s, tide_delay_batch_fn fn, void *ctx)
{
    return delay_build(s, (struct delay){ .batch_fn = fn, .ctx = ctx });
}

tide_stream *tide_delay_total(tide_stream *s, tide_delay_fn fn, void *ctx)
{
    if (tide_scope_depth(tide_stream_scope(s)) != 1)
        tide_abort("DelayTotal: times in a nested scope are only partially ordered; use "
                   "tide_delay there");
    return delay_build(s, (struct delay){ .fn = fn, .ctx = ctx, .total = true });
}

/* ---------------------------------------------------------------- reclock */

/* Data (input 0) waits in batches per time; each clock time (input 1) asks for a
 * notification, at which every waiting record not later than it leaves at that time. */
static void reclock_run(tide_op *op, void *arg)
{
    struct tide__by_time *stash = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        bool fresh;
        tide__by_time_append(stash, tide_cap_time(cap), b, &fresh, "Reclock");
    }
    while (tide_op_next(op, 1, &cap, &b))
        tide_op_notify_at(op, tide_cap_retain(cap));
    while ((cap = tide_op_next_notification(op))) {
        for (size_t i = 0; i < stash->len;) {
            if (!tide_time_le(&stash->at[i].t, tide_cap_time(cap))) {
                i++;
                continue;
            }
            tide_batch *ready = stash->at[i].v;
            tide__by_time_remove_at(stash, i);
            tide_session_give_batch(tide_op_session(op, 0, cap), &ready);
        }
    }
}

static void reclock_free(void *arg)
{
    tide__by_time_free_batches(arg);
    free(arg);
}

tide_stream *tide_reclock(tide_stream *s, tide_stream *clock)
{
    struct tide__by_time *stash = calloc(1, sizeof *stash);
    if (!stash)
        tide_abort("Reclock: out of memory");
    return tide_binary_notify(s, clock, TIDE_PIPELINE, TIDE_PIPELINE, "Reclock",
                              tide_stream_type(s), reclock_run, stash, reclock_free, NULL, 0);
}
