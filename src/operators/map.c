/* SPDX-License-Identifier: MIT */
/* map, map_batch, map_in_place, flat_map, filter: a record in, some records out, at its
 * time. */
#include <stdlib.h>

#include "operators_internal.h"

/* What each of these keeps: the user's function and context. */
struct record_fn {
    void (*fn)(void);
    void *ctx;
};

static struct record_fn *keep_fn(void (*fn)(void), void *ctx)
{
    struct record_fn *r = malloc(sizeof *r);
    if (!r)
        tide_abort("map: out of memory");
    r->fn = fn;
    r->ctx = ctx;
    return r;
}

/* Calls @p each on every record of every batch of input 0, with a session at its time. */
static void for_each_record(tide_op *op, const struct record_fn *r,
                            void (*each)(const struct record_fn *r, const void *rec,
                                         tide_session *out))
{
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = tide_op_session(op, 0, cap);
        for (size_t at = 0; at < tide_batch_bytes(b);)
            each(r, tide__record_next(b, &at, value), out);
    }
}

static void map_each(const struct record_fn *r, const void *rec, tide_session *out)
{
    unsigned char value[TIDE__VALUE_BYTES]; /* a variable-length type's decoded value */
    ((tide_map_fn)r->fn)(rec, value, r->ctx);
    tide_session_give(out, value);
}

/* A fixed-size record is mapped straight into its place in the output, whatever its size:
 * written to a temporary and given, it was read back right after the function's stores,
 * which stalls when they were narrower than the copy's loads (see tide_input_extend). */
static void map_in_place_each(const struct record_fn *r, const void *rec, tide_session *out)
{
    ((tide_map_fn)r->fn)(rec, tide_session_extend(out, 1), r->ctx);
}

static void map_run(tide_op *op, void *arg) { for_each_record(op, arg, map_each); }
static void map_fixed_run(tide_op *op, void *arg) { for_each_record(op, arg, map_in_place_each); }

tide_stream *tide_map(tide_stream *s, const tide_type *out, tide_map_fn fn, void *ctx)
{
    return tide_unary(s, TIDE_PIPELINE, "Map", out, out->size ? map_fixed_run : map_run,
                      keep_fn((void (*)(void))fn, ctx), free);
}

static void map_batch_run(tide_op *op, void *arg)
{
    const struct record_fn *r = arg;
    tide_map_batch_fn fn = (tide_map_batch_fn)r->fn;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        size_t n = tide_batch_len(b);
        if (n)
            fn(tide_batch_records(b), n, tide_session_extend(tide_op_session(op, 0, cap), n),
               r->ctx);
    }
}

tide_stream *tide_map_batch(tide_stream *s, const tide_type *out, tide_map_batch_fn fn,
                            void *ctx)
{
    const tide_type *in = tide_stream_type(s);
    if (!in->size || !out->size)
        tide_abort("MapBatch: maps arrays of fixed-size records, and %s records have no "
                   "fixed size; use tide_map", in->size ? out->name : in->name);
    return tide_unary(s, TIDE_PIPELINE, "MapBatch", out, map_batch_run,
                      keep_fn((void (*)(void))fn, ctx), free);
}

static void flat_map_each(const struct record_fn *r, const void *rec, tide_session *out)
{
    ((tide_flat_map_fn)r->fn)(rec, out, r->ctx);
}

static void flat_map_run(tide_op *op, void *arg) { for_each_record(op, arg, flat_map_each); }

tide_stream *tide_flat_map(tide_stream *s, const tide_type *out, tide_flat_map_fn fn, void *ctx)
{
    return tide_unary(s, TIDE_PIPELINE, "FlatMap", out, flat_map_run,
                      keep_fn((void (*)(void))fn, ctx), free);
}

static void filter_each(const struct record_fn *r, const void *rec, tide_session *out)
{
    if (((bool (*)(const void *, void *))r->fn)(rec, r->ctx))
        tide_session_give(out, rec);
}

static void filter_run(tide_op *op, void *arg) { for_each_record(op, arg, filter_each); }

tide_stream *tide_filter(tide_stream *s, bool (*keep)(const void *record, void *ctx), void *ctx)
{
    return tide_unary(s, TIDE_PIPELINE, "Filter", tide_stream_type(s), filter_run,
                      keep_fn((void (*)(void))keep, ctx), free);
}

/* In place: the batch itself moves on. */
static void map_in_place_run(tide_op *op, void *arg)
{
    const struct record_fn *r = arg;
    void (*fn)(void *, void *) = (void (*)(void *, void *))r->fn;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        unsigned char *rec = tide_batch_records(b);
        size_t size = tide_batch_type(b)->size;
        for (size_t i = 0; i < tide_batch_len(b); i++)
            fn(rec + i * size, r->ctx);
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
    }
}

tide_stream *tide_map_in_place(tide_stream *s, void (*fn)(void *record, void *ctx), void *ctx)
{
    if (!tide_stream_type(s)->size)
        tide_abort("MapInPlace: %s records have no fixed size; use tide_map",
                   tide_stream_type(s)->name);
    return tide_unary(s, TIDE_PIPELINE, "MapInPlace", tide_stream_type(s), map_in_place_run,
                      keep_fn((void (*)(void))fn, ctx), free);
}
