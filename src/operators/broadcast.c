/* SPDX-License-Identifier: MIT */
/*
 * broadcast: a contract routes each record to one worker, so each record travels once per
 * worker in an envelope (TIDE_BYTES: the target worker, then the record's bytes as a batch
 * holds them), exchanged by target and opened on arrival.
 */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct envelope_buf {
    unsigned char *data;
    size_t cap;
};

static uint64_t by_target(const void *record, void *ctx)
{
    (void)ctx;
    uint64_t target;
    memcpy(&target, ((const tide_bytes *)record)->data, sizeof target);
    return target;
}

/* The bytes of one record in batch @p b starting at @p at, and where the next starts. */
static size_t record_end(tide_batch *b, size_t at)
{
    const tide_type *t = tide_batch_type(b);
    if (t->size)
        return at + t->size;
    uint32_t len;
    memcpy(&len, (const unsigned char *)tide_batch_records(b) + at, 4);
    return at + 4 + ((len + 3) & ~(size_t)3);
}

static void send_run(tide_op *op, void *arg)
{
    struct envelope_buf *e = arg;
    size_t peers = tide_worker_peers(tide_op_worker(op));
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = tide_op_session(op, 0, cap);
        const unsigned char *data = tide_batch_records(b);
        for (size_t at = 0; at < tide_batch_bytes(b);) {
            size_t end = record_end(b, at), n = end - at;
            if (e->cap < 8 + n) {
                e->cap = 2 * (8 + n);
                e->data = realloc(e->data, e->cap);
                if (!e->data)
                    tide_abort("Broadcast: out of memory");
            }
            memcpy(e->data + 8, data + at, n);
            for (uint64_t p = 0; p < peers; p++) {
                memcpy(e->data, &p, 8);
                tide_bytes env = { e->data, 8 + n };
                tide_session_give(out, &env);
            }
            at = end;
        }
    }
}

static void envelope_free(void *arg)
{
    struct envelope_buf *e = arg;
    free(e->data);
    free(e);
}

static void open_run(tide_op *op, void *arg)
{
    const tide_type *type = arg;
    tide_cap *cap;
    tide_batch *b;
    unsigned char value[TIDE__VALUE_BYTES];
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = tide_op_session(op, 0, cap);
        size_t cursor = 0;
        tide_bytes env;
        while (tide_batch_read(b, &cursor, &env)) {
            const unsigned char *rec = (const unsigned char *)env.data + 8;
            if (type->size) {
                tide_session_give(out, rec);
            } else {
                uint32_t len;
                memcpy(&len, rec, 4);
                type->decode(rec + 4, len, value);
                tide_session_give(out, value);
            }
        }
    }
}

tide_stream *tide_broadcast(tide_stream *s)
{
    struct envelope_buf *e = calloc(1, sizeof *e);
    if (!e)
        tide_abort("Broadcast: out of memory");
    const tide_type *type = tide_stream_type(s);
    tide_stream *env = tide_unary(s, TIDE_PIPELINE, "BroadcastSend", TIDE_BYTES, send_run, e,
                                  envelope_free);
    return tide_unary(env, TIDE_EXCHANGE(by_target, NULL), "BroadcastOpen", type, open_run,
                      (void *)type, NULL);
}
