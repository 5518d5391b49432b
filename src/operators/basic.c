/* SPDX-License-Identifier: MIT */
/* to_stream, inspect, exchange: the operators the first examples need. */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct to_stream {
    tide_cap *cap;
    tide_batch *records;
};

static void to_stream_free(void *arg)
{
    struct to_stream *st = arg;
    tide_cap_drop(&st->cap);
    tide_batch_free(st->records);
    free(st);
}

static void to_stream_run(tide_op *op, void *arg)
{
    struct to_stream *st = arg;
    if (!st->cap)
        return;
    tide_session_give_batch(tide_op_session(op, 0, st->cap), &st->records);
    tide_cap_drop(&st->cap);
}

tide_stream *tide_to_stream(tide_scope *scope, const tide_type *type, const void *records,
                            size_t n)
{
    size_t step = type->size ? type->size : type->value_size;
    if (!step)
        tide_abort("ToStream: type %s is variable-length and does not give its value_size, so "
                   "its array of values cannot be walked; set value_size or use "
                   "tide_to_stream_iter", type->name);
    struct to_stream *st = calloc(1, sizeof *st);
    if (!st || !(st->records = tide_batch_new(type, type->size ? n * type->size : 64)))
        tide_abort("ToStream: out of memory for %zu records of type %s", n, type->name);
    for (size_t i = 0; i < n; i++)
        if (tide_batch_push(st->records, (const char *)records + i * step) != 0)
            tide_abort("ToStream: out of memory for %zu records of type %s", n, type->name);
    return tide_source(scope, "ToStream", type, to_stream_run, st, to_stream_free, &st->cap);
}

struct inspect {
    tide_record_fn fn;
    void *ctx;
};

static void inspect_run(tide_op *op, void *arg)
{
    struct inspect *st = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        const tide_time *t = tide_cap_time(cap);
        for (size_t at = 0; at < tide_batch_bytes(b);)
            st->fn(t, tide__record_next(b, &at, value), st->ctx);
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
    }
}

tide_stream *tide_inspect(tide_stream *s, tide_record_fn fn, void *ctx)
{
    struct inspect *st = malloc(sizeof *st);
    if (!st)
        tide_abort("Inspect: out of memory");
    *st = (struct inspect){ fn, ctx };
    return tide_unary(s, TIDE_PIPELINE, "Inspect", tide_stream_type(s), inspect_run, st, free);
}

static void forward(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b))
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
}

tide_stream *tide_exchange(tide_stream *s, tide_hash_fn hash, void *ctx)
{
    return tide_unary(s, TIDE_EXCHANGE(hash, ctx), "Exchange", tide_stream_type(s), forward,
                      NULL, NULL);
}

tide_stream *tide_exchange_batch(tide_stream *s, tide_hash_batch_fn hash_batch, void *ctx)
{
    return tide_unary(s, TIDE_EXCHANGE_BATCH(hash_batch, ctx), "Exchange",
                      tide_stream_type(s), forward, NULL, NULL);
}
