/* SPDX-License-Identifier: MIT */
/* delay: records held back until their input is complete at a later time, then sent at it.
 * One batch per pending time, each held with a capability through the notificator. */
#include <stdlib.h>

#include "tide/operators.h"

struct pending {
    tide_time t;
    tide_batch *records;
};

struct delay {
    tide_delay_fn fn;
    void *ctx;
    struct pending *at;
    size_t len, cap;
};

static tide_batch **pending_at(struct delay *d, tide_op *op, const tide_cap *cap,
                               const tide_time *t, const tide_type *type)
{
    for (size_t i = 0; i < d->len; i++)
        if (tide_time_eq(&d->at[i].t, t))
            return &d->at[i].records;
    if (d->len == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->at = realloc(d->at, d->cap * sizeof *d->at);
        if (!d->at)
            tide_abort("Delay: out of memory");
    }
    /* a capability at the later time; tide_cap_delayed stops the run if it is earlier */
    tide_op_notify_at(op, tide_cap_delayed(cap, t));
    d->at[d->len] = (struct pending){ *t, tide_batch_new(type, 0) };
    if (!d->at[d->len].records)
        tide_abort("Delay: out of memory");
    return &d->at[d->len++].records;
}

static void delay_run(tide_op *op, void *arg)
{
    struct delay *d = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[64];
    while (tide_op_next(op, 0, &cap, &b)) {
        const tide_type *type = tide_batch_type(b);
        size_t cursor = 0, at = 0;
        const unsigned char *data = tide_batch_records(b);
        while (at < tide_batch_bytes(b)) {
            const void *rec = data + at;
            if (!type->size) {
                cursor = at;
                tide_batch_read(b, &cursor, value);
                rec = value;
            }
            tide_time later = *tide_cap_time(cap);
            d->fn(rec, tide_cap_time(cap), &later, d->ctx);
            if (tide_batch_push(*pending_at(d, op, cap, &later, type), rec) != 0)
                tide_abort("Delay: out of memory");
            at = type->size ? at + type->size : cursor;
        }
    }
    while ((cap = tide_op_next_notification(op)))
        for (size_t i = 0; i < d->len; i++)
            if (tide_time_eq(&d->at[i].t, tide_cap_time(cap))) {
                tide_session_give_batch(tide_op_session(op, 0, cap), &d->at[i].records);
                d->at[i] = d->at[--d->len];
                break;
            }
}

static void delay_free(void *arg)
{
    struct delay *d = arg;
    for (size_t i = 0; i < d->len; i++)
        tide_batch_free(d->at[i].records);
    free(d->at);
    free(d);
}

tide_stream *tide_delay(tide_stream *s, tide_delay_fn fn, void *ctx)
{
    struct delay *d = calloc(1, sizeof *d);
    if (!d)
        tide_abort("Delay: out of memory");
    d->fn = fn;
    d->ctx = ctx;
    return tide_unary_notify(s, TIDE_PIPELINE, "Delay", tide_stream_type(s), delay_run, d,
                             delay_free, NULL, 0);
}
