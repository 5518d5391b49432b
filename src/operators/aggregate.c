/* SPDX-License-Identifier: MIT */
/*
 * aggregate: records exchanged by key, folded per (time, key), emitted when the time is
 * complete: one keyed table (keyed.c) per time still open.
 *
 * With a merge function and more than one worker, in two operators: "Aggregate (combine)"
 * folds each worker's own records per (time, key) where they are, with no exchange, and
 * sends one partial per key and time (a TIDE_BYTES record: the state, then the key's
 * encoding) to the key's worker when the time is complete at its input, or as soon as its
 * table holds COMBINE_KEYS keys (so that its memory stays bounded when keys are many and
 * combining gains little); "Aggregate" there merges the partials and emits as before.
 */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

#define COMBINE_KEYS 65536

enum stage { SINGLE, COMBINE, MERGE };

struct aggregate {
    tide_aggregate_ops ops;
    void *ctx;
    const tide_type *in;  /* the records' (and keys') type */
    enum stage stage;
    struct tide__by_time tables; /* a struct tide__keyed per open time */
    unsigned char *scratch; /* COMBINE: a partial being encoded; MERGE: a partial's state */
    size_t cap_scratch;
};

static unsigned char *scratch(struct aggregate *a, size_t n)
{
    if (n > a->cap_scratch) {
        unsigned char *p = realloc(a->scratch, n);
        if (!p)
            tide_abort("Aggregate: out of memory");
        a->scratch = p;
        a->cap_scratch = n;
    }
    return a->scratch;
}

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

/* ---------------------------------------------------------------- partials */

/* A partial's key decoded into @p value (TIDE__VALUE_BYTES) and its state's bytes. */
static const unsigned char *partial_split(const struct aggregate *a, const tide_bytes *p,
                                          void *value)
{
    size_t ss = a->ops.state_size;
    const unsigned char *bytes = p->data;
    if (p->len < ss || (a->in->size && p->len != ss + a->in->size))
        tide_abort("Aggregate: a partial of %zu bytes for states of %zu bytes and %s keys",
                   p->len, ss, a->in->name);
    if (a->in->size)
        memcpy(value, bytes + ss, a->in->size);
    else
        a->in->decode(bytes + ss, p->len - ss, value);
    return bytes;
}

static uint64_t partial_hash(const void *record, void *ctx)
{
    const struct aggregate *a = ctx;
    unsigned char value[TIDE__VALUE_BYTES];
    partial_split(a, record, value);
    return a->ops.hash(value, a->ctx);
}

/* Sends every key's state of @p tb as a partial at @p cap's time. */
static void send_partials(struct aggregate *a, tide_op *op, const tide_cap *cap,
                          struct tide__keyed *tb)
{
    tide_session *out = tide_op_session(op, 0, cap);
    unsigned char value[TIDE__VALUE_BYTES];
    size_t ss = a->ops.state_size;
    void *state;
    for (size_t k = 0; tide__keyed_next(tb, &k, value, &state);) {
        size_t kn = a->in->size ? a->in->size : a->in->encoded_size(value);
        unsigned char *p = scratch(a, ss + kn);
        memcpy(p, state, ss);
        if (a->in->size)
            memcpy(p + ss, value, kn);
        else
            a->in->encode(value, p + ss);
        tide_session_give(out, &(tide_bytes){ p, ss + kn });
    }
}

/* Folds @p b's partials into the table of @p cap's time: a new key takes the partial's
 * state, a known one merges it. */
static void merge_partials(struct aggregate *a, tide_op *op, const tide_cap *cap,
                           tide_batch *b)
{
    struct tide__keyed *tb = table_at(a, op, cap);
    unsigned char value[TIDE__VALUE_BYTES];
    size_t ss = a->ops.state_size;
    unsigned char *other = scratch(a, ss ? ss : 1);
    tide_bytes p;
    for (size_t at = 0; tide_batch_read(b, &at, &p);) {
        const unsigned char *bytes = partial_split(a, &p, value);
        bool fresh;
        void *state = tide__keyed_state(tb, value, &fresh);
        if (fresh) {
            memcpy(state, bytes, ss);
        } else {
            memcpy(other, bytes, ss); /* aligned for the program's merge */
            a->ops.merge(state, other, a->ctx);
        }
    }
}

/* ---------------------------------------------------------------- the operators */

static void aggregate_run(tide_op *op, void *arg)
{
    struct aggregate *a = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        if (a->stage == MERGE) {
            merge_partials(a, op, cap, b);
            continue;
        }
        struct tide__keyed *tb = table_at(a, op, cap);
        tide__keyed_fold(tb, b, a->ops.fold, a->ctx);
        if (a->stage == COMBINE && tb->live >= COMBINE_KEYS) {
            send_partials(a, op, cap, tb);
            tide__keyed_free(tb);
            tide__keyed_init(tb, a->in, a->ops.state_size, a->ops.hash, a->ops.same_key,
                             a->ctx, "Aggregate");
        }
    }
    while ((cap = tide_op_next_notification(op))) {
        struct tide__keyed *tb = tide__by_time_take(&a->tables, tide_cap_time(cap));
        if (a->stage == COMBINE) {
            send_partials(a, op, cap, tb);
        } else {
            tide_session *out = tide_op_session(op, 0, cap);
            void *state;
            for (size_t k = 0; tide__keyed_next(tb, &k, value, &state);)
                a->ops.emit(value, state, out, a->ctx);
        }
        table_free(tb);
    }
}

static void aggregate_free(void *arg)
{
    struct aggregate *a = arg;
    tide__by_time_free(&a->tables, table_free);
    free(a->scratch);
    free(a);
}

static struct aggregate *aggregate_new(const tide_aggregate_ops *ops, void *ctx,
                                       const tide_type *in, enum stage stage)
{
    struct aggregate *a = calloc(1, sizeof *a);
    if (!a)
        tide_abort("Aggregate: out of memory");
    a->ops = *ops;
    a->ctx = ctx;
    a->in = in;
    a->stage = stage;
    return a;
}

void tide_fold_count(void *state, const void *record, void *ctx)
{
    (void)record;
    (void)ctx;
    ++*(uint64_t *)state;
}

tide_stream *tide_aggregate(tide_stream *s, const tide_type *out, const tide_aggregate_ops *ops,
                            void *ctx)
{
    const tide_type *in = tide_stream_type(s);
    if (ops->fold == tide_fold_count && ops->state_size < sizeof(uint64_t))
        tide_abort("tide_aggregate: tide_fold_count counts in a uint64_t state, and "
                   "state_size is %zu bytes", ops->state_size);
    if (!ops->merge || tide_worker_peers(tide_scope_worker(tide_stream_scope(s))) == 1) {
        struct aggregate *a = aggregate_new(ops, ctx, in, SINGLE);
        return tide_unary_notify(s, TIDE_EXCHANGE(ops->hash, ctx), "Aggregate", out,
                                 aggregate_run, a, aggregate_free, NULL, 0);
    }
    struct aggregate *c = aggregate_new(ops, ctx, in, COMBINE);
    tide_stream *partials = tide_unary_notify(s, TIDE_PIPELINE, "Aggregate (combine)",
                                              TIDE_BYTES, aggregate_run, c, aggregate_free,
                                              NULL, 0);
    struct aggregate *m = aggregate_new(ops, ctx, in, MERGE);
    return tide_unary_notify(partials, TIDE_EXCHANGE(partial_hash, m), "Aggregate", out,
                             aggregate_run, m, aggregate_free, NULL, 0);
}
