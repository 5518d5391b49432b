/* SPDX-License-Identifier: MIT */
/* Operators that shape streams without looking much at records: inspect_batch, concat,
 * concatenate, partition, branch, count. */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct batch_fn {
    void (*fn)(const tide_time *t, tide_batch *batch, void *ctx);
    void *ctx;
};

static void inspect_batch_run(tide_op *op, void *arg)
{
    struct batch_fn *f = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        f->fn(tide_cap_time(cap), b, f->ctx);
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
    }
}

tide_stream *tide_inspect_batch(tide_stream *s,
                                void (*fn)(const tide_time *t, tide_batch *batch, void *ctx),
                                void *ctx)
{
    struct batch_fn *f = malloc(sizeof *f);
    if (!f)
        tide_abort("InspectBatch: out of memory");
    *f = (struct batch_fn){ fn, ctx };
    return tide_unary(s, TIDE_PIPELINE, "InspectBatch", tide_stream_type(s), inspect_batch_run,
                      f, free);
}

/* Every input's batches, moved on as they are. */
static void pass_all(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t i = 0; i < tide_op_inputs(op); i++)
        while (tide_op_next(op, i, &cap, &b))
            tide_session_give_batch(tide_op_session(op, 0, cap), &b);
}

/* The operator is named after the call that made it, so that messages name that call. */
static tide_stream *concat_named(tide_stream *const *streams, size_t n, const char *name)
{
    if (n == 0)
        tide_abort("%s: no streams", name);
    const tide_type *type = tide_stream_type(streams[0]);
    tide_builder *b = tide_builder_new(tide_stream_scope(streams[0]), name);
    for (size_t i = 0; i < n; i++) {
        tide_stream_expect(streams[i], type, name);
        tide_builder_input(b, streams[i], TIDE_PIPELINE);
    }
    tide_stream *out = tide_builder_output(b, type);
    tide_builder_frontier(b, false);
    tide_builder_build(b, pass_all, NULL, NULL, NULL);
    return out;
}

tide_stream *tide_concatenate(tide_stream *const *streams, size_t n)
{
    return concat_named(streams, n, "Concatenate");
}

tide_stream *tide_concat(tide_stream *a, tide_stream *b)
{
    tide_stream *both[2] = { a, b };
    return concat_named(both, 2, "Concat");
}

struct router {
    uint64_t (*route)(const void *record, void *ctx);
    bool (*pred)(const void *record, void *ctx);
    void *ctx;
    size_t n;
};

static void partition_run(tide_op *op, void *arg)
{
    struct router *r = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        for (size_t at = 0; at < tide_batch_bytes(b);) {
            const void *rec = tide__record_next(b, &at, value);
            uint64_t k = r->pred ? !r->pred(rec, r->ctx) : r->route(rec, r->ctx);
            if (k >= r->n)
                tide_abort("Partition: a record routed to output %llu of %zu",
                           (unsigned long long)k, r->n);
            tide_session_give(tide_op_session(op, (uint32_t)k, cap), rec);
        }
    }
}

static void split(tide_stream *s, struct router *r, tide_stream **out)
{
    tide_builder *b = tide_builder_new(tide_stream_scope(s), r->pred ? "Branch" : "Partition");
    tide_builder_input(b, s, TIDE_PIPELINE);
    for (size_t i = 0; i < r->n; i++)
        out[i] = tide_builder_output(b, tide_stream_type(s));
    tide_builder_frontier(b, false);
    tide_builder_build(b, partition_run, r, free, NULL);
}

void tide_partition(tide_stream *s, size_t n, uint64_t (*route)(const void *record, void *ctx),
                    void *ctx, tide_stream **out)
{
    struct router *r = malloc(sizeof *r);
    if (!r || n == 0)
        tide_abort("Partition: %s", n ? "out of memory" : "no outputs");
    *r = (struct router){ route, NULL, ctx, n };
    split(s, r, out);
}

void tide_branch(tide_stream *s, bool (*pred)(const void *record, void *ctx), void *ctx,
                 tide_stream **yes, tide_stream **no)
{
    struct router *r = malloc(sizeof *r);
    if (!r)
        tide_abort("Branch: out of memory");
    *r = (struct router){ NULL, pred, ctx, 2 };
    tide_stream *out[2];
    split(s, r, out);
    *yes = out[0];
    *no = out[1];
}

/* Counts per time, emitted at each time's notification. */
static void count_run(tide_op *op, void *arg)
{
    struct tide__by_time *counts = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        bool fresh;
        void **slot = tide__by_time_slot(counts, tide_cap_time(cap), &fresh);
        if (fresh) {
            if (!(*slot = calloc(1, sizeof(uint64_t))))
                tide_abort("Count: out of memory");
            tide_op_notify_at(op, tide_cap_retain(cap));
        }
        *(uint64_t *)*slot += tide_batch_len(b);
    }
    while ((cap = tide_op_next_notification(op))) {
        uint64_t *n = tide__by_time_take(counts, tide_cap_time(cap));
        tide_session_give(tide_op_session(op, 0, cap), n);
        free(n);
    }
}

static void counts_free(void *arg)
{
    tide__by_time_free(arg, free);
    free(arg);
}

tide_stream *tide_count(tide_stream *s)
{
    struct tide__by_time *counts = calloc(1, sizeof *counts);
    if (!counts)
        tide_abort("Count: out of memory");
    return tide_unary_notify(s, TIDE_PIPELINE, "Count", TIDE_U64, count_run, counts,
                             counts_free, NULL, 0);
}
