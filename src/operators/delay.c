/* SPDX-License-Identifier: MIT */
/* delay: records held back until their input is complete at a later time, then sent at it.
 * One batch per pending time, each held with a capability through the notificator. */
#include <stdlib.h>

#include "operators_internal.h"

struct delay {
    tide_delay_fn fn;
    void *ctx;
    struct tide__by_time pending; /* a batch per later time */
};

/* The batch of records waiting for @p t, with a capability at @p t in the notificator. */
static tide_batch *pending_at(struct delay *d, tide_op *op, const tide_cap *cap,
                              const tide_time *t, const tide_type *type)
{
    bool fresh;
    void **slot = tide__by_time_slot(&d->pending, t, &fresh);
    if (fresh) {
        /* tide_cap_delayed stops the run if @p t is earlier than the capability */
        tide_op_notify_at(op, tide_cap_delayed(cap, t));
        if (!(*slot = tide_batch_new(type, 0)))
            tide_abort("Delay: out of memory");
    }
    return *slot;
}

static void delay_run(tide_op *op, void *arg)
{
    struct delay *d = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        const tide_type *type = tide_batch_type(b);
        for (size_t at = 0; at < tide_batch_bytes(b);) {
            const void *rec = tide__record_next(b, &at, value);
            tide_time later = *tide_cap_time(cap);
            d->fn(rec, tide_cap_time(cap), &later, d->ctx);
            if (tide_batch_push(pending_at(d, op, cap, &later, type), rec) != 0)
                tide_abort("Delay: out of memory");
        }
    }
    while ((cap = tide_op_next_notification(op))) {
        tide_batch *ready = tide__by_time_take(&d->pending, tide_cap_time(cap));
        tide_session_give_batch(tide_op_session(op, 0, cap), &ready);
    }
}

static void free_batch(void *b) { tide_batch_free(b); }

static void delay_free(void *arg)
{
    struct delay *d = arg;
    tide__by_time_free(&d->pending, free_batch);
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
