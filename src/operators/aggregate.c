/* SPDX-License-Identifier: MIT */
/*
 * aggregate: records exchanged by key, folded per (time, key), emitted when the time is
 * complete: one keyed table (keyed.c) per time still open.
 */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct aggregate {
    tide_aggregate_ops ops;
    void *ctx;
    const tide_type *in;
    struct tide__by_time tables; /* a struct tide__keyed per open time */
};

/* The table of @p cap's time; a new one asks for the time's notification. */
static struct tide__keyed *table_at(struct aggregate *a, tide_op *op, const tide_cap *cap)
{
    bool fresh;
    void **slot = tide__by_time_slot(&a->tables, tide_cap_time(cap), &fresh);
    if (!fresh)
        return *slot;
    struct tide__keyed *tb = malloc(sizeof *tb);
    if (!tb)
        tide_abort("Aggregate: out of memory");
    tide__keyed_init(tb, a->in, a->ops.state_size, a->ops.hash, a->ops.same_key, a->ctx,
                     "Aggregate");
    tide_op_notify_at(op, tide_cap_retain(cap));
    return *slot = tb;
}

static void table_free(void *arg)
{
    tide__keyed_free(arg);
    free(arg);
}

static void aggregate_run(tide_op *op, void *arg)
{
    struct aggregate *a = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        tide__keyed_fold(table_at(a, op, cap), b, a->ops.fold, a->ctx);
    }
    while ((cap = tide_op_next_notification(op))) {
        struct tide__keyed *tb = tide__by_time_take(&a->tables, tide_cap_time(cap));
        tide_session *out = tide_op_session(op, 0, cap);
        void *state;
        for (size_t k = 0; tide__keyed_next(tb, &k, value, &state);)
            a->ops.emit(value, state, out, a->ctx);
        table_free(tb);
    }
}

static void aggregate_free(void *arg)
{
    struct aggregate *a = arg;
    tide__by_time_free(&a->tables, table_free);
    free(a);
}

tide_stream *tide_aggregate(tide_stream *s, const tide_type *out, const tide_aggregate_ops *ops,
                            void *ctx)
{
    struct aggregate *a = calloc(1, sizeof *a);
    if (!a)
        tide_abort("Aggregate: out of memory");
    a->ops = *ops;
    a->ctx = ctx;
    a->in = tide_stream_type(s);
    return tide_unary_notify(s, TIDE_EXCHANGE(ops->hash, ctx), "Aggregate", out, aggregate_run,
                             a, aggregate_free, NULL, 0);
}
