/* SPDX-License-Identifier: MIT */
/*
 * aggregate: records exchanged by key, folded per (time, key), emitted when the time is
 * complete. One open-addressing table per time still open; a key is represented by its
 * first record, kept encoded in the table's arena (so variable-length keys work too).
 */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct slot {
    uint64_t hash;
    size_t key;   /* offset of the key record's bytes in the arena, + 1 (0: empty) */
    size_t state; /* offset of the state in the arena */
};

struct table {
    struct slot *slots;
    size_t nslots, used;
    tide_batch *keys;      /* key records, in the stream's type */
    unsigned char *states; /* state_size bytes per key */
    size_t nstates, capstates;
};

struct aggregate {
    tide_aggregate_ops ops;
    void *ctx;
    const tide_type *in;
    struct tide__by_time tables; /* a struct table per open time */
};

uint64_t tide_hash_str(const void *record, void *ctx)
{
    (void)ctx;
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *s = *(const unsigned char *const *)record; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    return h;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        tide_abort("Aggregate: out of memory");
    return p;
}

/* The table of @p cap's time; a new one asks for the time's notification. */
static struct table *table_at(struct aggregate *a, tide_op *op, const tide_cap *cap)
{
    bool fresh;
    void **slot = tide__by_time_slot(&a->tables, tide_cap_time(cap), &fresh);
    if (!fresh)
        return *slot;
    struct table *tb = calloc(1, sizeof *tb);
    if (!tb)
        tide_abort("Aggregate: out of memory");
    tb->nslots = 64;
    tb->slots = calloc(tb->nslots, sizeof *tb->slots);
    tb->keys = tide_batch_new(a->in, 0);
    if (!tb->slots || !tb->keys)
        tide_abort("Aggregate: out of memory");
    tide_op_notify_at(op, tide_cap_retain(cap));
    return *slot = tb;
}

static void table_free(void *arg)
{
    struct table *tb = arg;
    free(tb->slots);
    free(tb->states);
    tide_batch_free(tb->keys);
    free(tb);
}

/* The key record stored at offset @p off, decoded into @p value. */
static void key_at(const struct table *tb, size_t off, void *value)
{
    size_t cursor = off;
    tide_batch_read(tb->keys, &cursor, value);
}

static void grow(struct table *tb)
{
    struct slot *old = tb->slots;
    size_t n = tb->nslots;
    tb->nslots *= 2;
    tb->slots = calloc(tb->nslots, sizeof *tb->slots);
    if (!tb->slots)
        tide_abort("Aggregate: out of memory");
    for (size_t i = 0; i < n; i++)
        if (old[i].key) {
            size_t j = old[i].hash & (tb->nslots - 1);
            while (tb->slots[j].key)
                j = (j + 1) & (tb->nslots - 1);
            tb->slots[j] = old[i];
        }
    free(old);
}

static void fold(struct aggregate *a, struct table *tb, const void *rec)
{
    unsigned char key[TIDE__VALUE_BYTES];
    uint64_t h = a->ops.hash(rec, a->ctx);
    size_t j = h & (tb->nslots - 1);
    for (; tb->slots[j].key; j = (j + 1) & (tb->nslots - 1)) {
        if (tb->slots[j].hash != h)
            continue;
        key_at(tb, tb->slots[j].key - 1, key);
        if (a->ops.same_key(rec, key, a->ctx)) {
            a->ops.fold(tb->states + tb->slots[j].state, rec, a->ctx);
            return;
        }
    }
    if (2 * (tb->used + 1) > tb->nslots) {
        grow(tb);
        fold(a, tb, rec);
        return;
    }
    size_t off = tide_batch_bytes(tb->keys);
    if (tide_batch_push(tb->keys, rec) != 0)
        tide_abort("Aggregate: out of memory");
    if (tb->nstates == tb->capstates) {
        tb->capstates = tb->capstates ? 2 * tb->capstates : 64;
        tb->states = xrealloc(tb->states, tb->capstates * a->ops.state_size);
    }
    size_t soff = tb->nstates++ * a->ops.state_size;
    memset(tb->states + soff, 0, a->ops.state_size);
    tb->slots[j] = (struct slot){ h, off + 1, soff };
    tb->used++;
    a->ops.fold(tb->states + soff, rec, a->ctx);
}

static void aggregate_run(tide_op *op, void *arg)
{
    struct aggregate *a = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        struct table *tb = table_at(a, op, cap);
        for (size_t at = 0; at < tide_batch_bytes(b);)
            fold(a, tb, tide__record_next(b, &at, value));
    }
    while ((cap = tide_op_next_notification(op))) {
        struct table *tb = tide__by_time_take(&a->tables, tide_cap_time(cap));
        tide_session *out = tide_op_session(op, 0, cap);
        for (size_t k = 0; k < tb->nslots; k++)
            if (tb->slots[k].key) {
                key_at(tb, tb->slots[k].key - 1, value);
                a->ops.emit(value, tb->states + tb->slots[k].state, out, a->ctx);
            }
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
    if (a->in->size > TIDE__VALUE_BYTES) /* keys are read back into a value buffer */
        tide_abort("Aggregate: %s records are larger than %d bytes", a->in->name,
                   TIDE__VALUE_BYTES);
    return tide_unary_notify(s, TIDE_EXCHANGE(ops->hash, ctx), "Aggregate", out, aggregate_run,
                             a, aggregate_free, NULL, 0);
}
