/* SPDX-License-Identifier: MIT */
/*
 * state_machine: keyed state that lives across times, one transition per record, records
 * applied in time order. A batch whose time is already the input frontier's least is applied
 * at once; a batch that earlier times may still precede waits for its time's notification.
 */
#include <stdlib.h>

#include "operators_internal.h"

struct machine {
    tide_state_machine_ops ops;
    void *ctx;
    struct tide__keyed states;
    struct tide__by_time pending; /* a batch per time waiting for its notification */
};

static void apply(struct machine *m, tide_batch *b, tide_session *out)
{
    unsigned char value[TIDE__VALUE_BYTES];
    for (size_t at = 0; at < tide_batch_bytes(b);) {
        const void *rec = tide__record_next(b, &at, value);
        if (m->ops.step(tide__keyed_state(&m->states, rec, NULL), rec, out, m->ctx))
            tide__keyed_remove(&m->states, rec);
    }
}

static void machine_run(tide_op *op, void *arg)
{
    struct machine *m = arg;
    tide_cap *cap;
    tide_batch *b;
    /* notifications first: they hold records of times before any that may be applied now */
    while ((cap = tide_op_next_notification(op))) {
        tide_batch *ready = tide__by_time_take(&m->pending, tide_cap_time(cap));
        apply(m, ready, tide_op_session(op, 0, cap));
        tide_batch_free(ready);
    }
    while (tide_op_next(op, 0, &cap, &b)) {
        if (!tide_antichain_less_than(tide_op_frontier(op, 0), tide_cap_time(cap))) {
            apply(m, b, tide_op_session(op, 0, cap));
            continue;
        }
        bool fresh;
        tide__by_time_append(&m->pending, tide_cap_time(cap), b, &fresh, "StateMachine");
        if (fresh)
            tide_op_notify_at(op, tide_cap_retain(cap));
    }
}

static void machine_free(void *arg)
{
    struct machine *m = arg;
    tide__keyed_free(&m->states);
    tide__by_time_free_batches(&m->pending);
    free(m);
}

tide_stream *tide_state_machine(tide_stream *s, const tide_type *out,
                                const tide_state_machine_ops *ops, void *ctx)
{
    struct machine *m = calloc(1, sizeof *m);
    if (!m)
        tide_abort("StateMachine: out of memory");
    m->ops = *ops;
    m->ctx = ctx;
    tide__keyed_init(&m->states, tide_stream_type(s), ops->state_size, ops->hash, ops->same_key, ctx,
                     "StateMachine");
    return tide_unary_notify(s, TIDE_EXCHANGE(ops->hash, ctx), "StateMachine", out,
                             machine_run, m, machine_free, NULL, 0);
}
