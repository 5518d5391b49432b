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

/* Eight bytes at a time (FNV-1a, a byte at a time, was a chain of one multiplication per
 * byte: 10% of wordcount at -w 2, where every word is hashed twice); the length is mixed
 * in first, so that strings differing only in trailing zero bytes of a chunk differ. The
 * last bytes are read with loads that overlap bytes already mixed (as wyhash does) rather
 * than copied into a zeroed word: the byte-wise copy made the next load wait for the
 * stores to drain, a third of the function's time in wordcount. The loads stay inside
 * the string, and with the length mixed in, strings of one length still map injectively
 * onto the words mixed. */
static inline uint64_t load64(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint64_t load32(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

uint64_t tide_hash_str(const void *record, void *ctx)
{
    (void)ctx;
    const char *s = *(const char *const *)record;
    size_t len = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15u ^ (len * 0xff51afd7ed558ccdu), w;
    if (len >= 8) {
        const char *last = s + len - 8;
        for (; s < last; s += 8) {
            h = (h ^ load64(s)) * 0xc4ceb9fe1a85ec53u;
            h ^= h >> 29;
        }
        w = load64(last);
    } else if (len >= 4) {
        w = load32(s) | load32(s + len - 4) << 32;
    } else if (len) {
        w = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[len / 2] << 8 |
            (uint64_t)(unsigned char)s[len - 1] << 16;
    } else {
        w = 0;
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 32; /* the last mixing of murmur3's finalizer */
    h *= 0xff51afd7ed558ccdu;
    return h ^ (h >> 33);
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
