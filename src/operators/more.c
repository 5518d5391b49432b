/* SPDX-License-Identifier: MIT */
/* branch_when, ok_err, accumulate, to_stream_iter. */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

/* ---------------------------------------------------------------- branch_when */

struct when {
    bool (*pred)(const tide_time *t, void *ctx);
    void *ctx;
};

static void branch_when_run(tide_op *op, void *arg)
{
    struct when *w = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        uint32_t port = w->pred(tide_cap_time(cap), w->ctx) ? 0 : 1;
        tide_session_give_batch(tide_op_session(op, port, cap), &b);
    }
}

void tide_branch_when(tide_stream *s, bool (*pred)(const tide_time *t, void *ctx), void *ctx,
                      tide_stream **yes, tide_stream **no)
{
    struct when *w = malloc(sizeof *w);
    if (!w)
        tide_abort("BranchWhen: out of memory");
    *w = (struct when){ pred, ctx };
    tide_builder *b = tide_builder_new(tide_stream_scope(s), "BranchWhen");
    tide_builder_input(b, s, TIDE_PIPELINE);
    *yes = tide_builder_output(b, tide_stream_type(s));
    *no = tide_builder_output(b, tide_stream_type(s));
    tide_builder_frontier(b, false);
    tide_builder_build(b, branch_when_run, w, free, NULL);
}

/* ---------------------------------------------------------------- ok_err */

struct ok_err {
    bool (*fn)(const void *record, void *ok, void *err, void *ctx);
    void *ctx;
};

static void ok_err_run(tide_op *op, void *arg)
{
    struct ok_err *oe = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES], ok[256], err[256];
    while (tide_op_next(op, 0, &cap, &b)) {
        for (size_t at = 0; at < tide_batch_bytes(b);) {
            bool good = oe->fn(tide__record_next(b, &at, value), ok, err, oe->ctx);
            tide_session_give(tide_op_session(op, good ? 0 : 1, cap), good ? ok : err);
        }
    }
}

void tide_ok_err(tide_stream *s, const tide_type *ok_type, const tide_type *err_type,
                 bool (*fn)(const void *record, void *ok, void *err, void *ctx), void *ctx,
                 tide_stream **ok_out, tide_stream **err_out)
{
    if (ok_type->size > 256 || err_type->size > 256)
        tide_abort("OkErr: results larger than 256 bytes");
    struct ok_err *oe = malloc(sizeof *oe);
    if (!oe)
        tide_abort("OkErr: out of memory");
    *oe = (struct ok_err){ fn, ctx };
    tide_builder *b = tide_builder_new(tide_stream_scope(s), "OkErr");
    tide_builder_input(b, s, TIDE_PIPELINE);
    *ok_out = tide_builder_output(b, ok_type);
    *err_out = tide_builder_output(b, err_type);
    tide_builder_frontier(b, false);
    tide_builder_build(b, ok_err_run, oe, free, NULL);
}

/* ---------------------------------------------------------------- accumulate */

struct accumulate {
    void (*fold)(void *acc, const void *record, void *ctx);
    void *ctx;
    size_t size;
    unsigned char *init;
    struct tide__by_time accs; /* the value being folded, per open time */
};

static unsigned char *acc_at(struct accumulate *a, tide_op *op, const tide_cap *cap)
{
    bool fresh;
    void **slot = tide__by_time_slot(&a->accs, tide_cap_time(cap), &fresh);
    if (fresh) {
        if (!(*slot = malloc(a->size)))
            tide_abort("Accumulate: out of memory");
        memcpy(*slot, a->init, a->size);
        tide_op_notify_at(op, tide_cap_retain(cap));
    }
    return *slot;
}

static void accumulate_run(tide_op *op, void *arg)
{
    struct accumulate *a = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        unsigned char *acc = acc_at(a, op, cap);
        for (size_t at = 0; at < tide_batch_bytes(b);)
            a->fold(acc, tide__record_next(b, &at, value), a->ctx);
    }
    while ((cap = tide_op_next_notification(op))) {
        unsigned char *acc = tide__by_time_take(&a->accs, tide_cap_time(cap));
        tide_session_give(tide_op_session(op, 0, cap), acc);
        free(acc);
    }
}

static void accumulate_free(void *arg)
{
    struct accumulate *a = arg;
    tide__by_time_free(&a->accs, free);
    free(a->init);
    free(a);
}

tide_stream *tide_accumulate(tide_stream *s, const tide_type *out, const void *init,
                             void (*fold)(void *acc, const void *record, void *ctx), void *ctx)
{
    if (!out->size)
        tide_abort("Accumulate: its result type %s has no fixed size", out->name);
    struct accumulate *a = calloc(1, sizeof *a);
    if (!a || !(a->init = malloc(out->size)))
        tide_abort("Accumulate: out of memory");
    a->fold = fold;
    a->ctx = ctx;
    a->size = out->size;
    memcpy(a->init, init, out->size);
    return tide_unary_notify(s, TIDE_PIPELINE, "Accumulate", out, accumulate_run, a,
                             accumulate_free, NULL, 0);
}

/* ---------------------------------------------------------------- to_stream_iter */

struct iter {
    bool (*next)(void *record, void *ctx);
    void *ctx;
    size_t per_step;
    tide_cap *cap;
};

static void iter_run(tide_op *op, void *arg)
{
    struct iter *it = arg;
    unsigned char value[256];
    if (!it->cap)
        return;
    if (!tide_op_has_room(op))
        return; /* activated again once there is room */
    tide_session *out = tide_op_session(op, 0, it->cap);
    for (size_t n = 0; n < it->per_step; n++) {
        if (!it->next(value, it->ctx)) {
            tide_cap_drop(&it->cap);
            return;
        }
        tide_session_give(out, value);
    }
    tide_op_activate(op); /* more next step: memory stays bounded */
}

static void iter_free(void *arg)
{
    struct iter *it = arg;
    tide_cap_drop(&it->cap);
    free(it);
}

tide_stream *tide_to_stream_iter(tide_scope *scope, const tide_type *type,
                                 bool (*next)(void *record, void *ctx), void *ctx,
                                 size_t per_step)
{
    if (type->size > 256)
        tide_abort("ToStreamIter: %s records are larger than 256 bytes", type->name);
    struct iter *it = calloc(1, sizeof *it);
    if (!it)
        tide_abort("ToStreamIter: out of memory");
    it->next = next;
    it->ctx = ctx;
    it->per_step = per_step ? per_step : 1;
    return tide_source(scope, "ToStreamIter", type, iter_run, it, iter_free, &it->cap);
}
