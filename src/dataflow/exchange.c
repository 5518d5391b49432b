/* SPDX-License-Identifier: MIT */
/*
 * The exchange pact at run time: a batch is split among the workers by the input's hash,
 * staged per target and sent, to rank-mates through the channel's pushes and to other
 * ranks per rank (split messages, wire_internal.h) or, for large batches, per worker.
 * Progress: each batch sent counts +n at the target input, at its time.
 */
#include <stdlib.h>
#include <string.h>

#include "dataflow_internal.h"

/* An exchange stages records per target, and a worker may send to few of its peers: a
 * target's staging batch starts as this (no room), so the record loop's one capacity check
 * also takes a batch the first time a target gets a record. Never written. */
static tide_batch no_room;

/* A target's staging batch holds at most about this much before it leaves on its own, so
 * staging stays bounded whatever the size of the batch being split. */
#define STAGE_MAX (64 * 1024)
/* The largest batch a rank-mate's slot keeps between exchanges. */
#define KEEP_MAX (2 * STAGE_MAX)

/* Where an exchange's records wait. With one rank: a slot per worker. With several: slots
 * [0, W) for this rank's W workers and slot W + r for rank r, where (W > 1) each record
 * follows the index of its worker there, 4 bytes. A rank's batch leaves as one message: as
 * it is when its records are all for one worker, else sorted into a group per worker (a
 * split message, wire_internal.h) that the target rank hands out. So the staging, the
 * messages and the endpoints of a worker grow with the ranks it sends to, not with their
 * workers. A batch with DENSE_BYTES or more per worker on average is staged per worker
 * instead, in slots W + R + p (tg->wide, made by the first such batch: 8 bytes per worker,
 * under 1/64 of the batch): each worker's part then leaves without the sort, and from its
 * own buffer when it is large (exchange 8 x 8, 512 bytes per worker per batch: 1.1e7
 * records/s split, 1.55e7 per worker, 1.45e7 before split messages). */
#define DENSE_BYTES 512
struct shape {
    size_t nlocal, rank, ranks, slots;
    unsigned shift; /* log2(nlocal) when nlocal is a power of two, else 0 */
    bool by_rank, pow2local;
};

static struct shape shape_of(const tide_worker *w)
{
    struct shape sh = { .ranks = tide_allocator_ranks(w->alloc),
                        .rank = tide_allocator_rank(w->alloc) };
    sh.nlocal = w->peers / sh.ranks;
    sh.by_rank = sh.ranks > 1;
    sh.slots = sh.by_rank ? sh.nlocal + sh.ranks : w->peers;
    sh.pow2local = (sh.nlocal & (sh.nlocal - 1)) == 0;
    while (sh.pow2local && (1u << sh.shift) < sh.nlocal)
        sh.shift++;
    return sh;
}

/* Worker @p p's slot; *tag is its index on its rank when records there carry it, else -1. */
static inline size_t slot_of(const struct shape *sh, bool dense, size_t p, int64_t *tag)
{
    *tag = -1;
    if (!sh->by_rank)
        return p;
    size_t r = sh->pow2local ? p >> sh->shift : p / sh->nlocal, l = p - r * sh->nlocal;
    if (r == sh->rank)
        return l;
    if (dense)
        return sh->slots + p;
    if (sh->nlocal > 1)
        *tag = (int64_t)l;
    return sh->nlocal + r;
}

static inline tide_batch **slot_at(struct tide__target *tg, const struct shape *sh,
                                   size_t slot)
{
    return slot < sh->slots ? &tg->spare[slot] : &tg->wide[slot - sh->slots];
}

/* Bytes of the record at @p rec of a batch of @p type. */
static size_t record_bytes(const tide_type *type, const unsigned char *rec)
{
    if (type->size)
        return type->size;
    uint32_t len;
    memcpy(&len, rec, 4);
    return tide__var_record_bytes(len);
}

/* Sends @p *b (ownership passes) to worker @p worker of another rank, or, @p split, to
 * the workers of rank @p worker / W as a split message; what comes back is recycled. */
static void send_remote(tide_op *op, struct tide__target *tg, size_t worker, bool split,
                        tide_batch *b, const tide_time *t)
{
    tide_worker *w = op->df->w;
    int chan = tg->op->in[tg->port].chan;
    tide__set_time(b, t);
    tide__update(op->df, tg->key, t, (int64_t)b->len);
    if (w->trace) {
        uint64_t tag = tide_batch_meta(b)[TIDE__TRACE_META] = tide__trace_tag(w);
        if (!split) {
            tide__trace_send(w, tg->op, chan, worker, tag, b->len, b->bytes);
        } else { /* one end per group: rank_push left their sizes in tg->groups */
            const uint64_t *nrec = tg->groups, *nbytes = nrec + tg->nlocal;
            for (size_t l = 0; l < tg->nlocal; l++)
                if (nrec[l])
                    tide__trace_send(w, tg->op, chan, worker + l, tag, nrec[l], nbytes[l]);
        }
    }
    tide__remote_send(w->alloc, chan, worker, split, &b);
    if (b)
        tide__worker_recycle(w, b);
}

/* Sends rank @p r's staged records: as they are (one worker per rank), without their
 * indices (all for one worker), or sorted into a split message. */
static void rank_push(tide_op *op, struct tide__target *tg, const struct shape *sh, size_t r,
                      const tide_time *t)
{
    tide_worker *w = op->df->w;
    size_t W = sh->nlocal, slot = W + r;
    tide_batch *s = tg->spare[slot];
    tg->spare[slot] = &no_room;
    if (W == 1) {
        send_remote(op, tg, r, false, s, t);
        return;
    }
    const tide_type *type = s->type;
    uint64_t *nrec = tg->groups, *nbytes = nrec + W, *at = nbytes + W;
    memset(tg->groups, 0, 3 * W * sizeof *tg->groups);
    unsigned char *data = tide__batch_data(s);
    size_t ngroups = 0, total = 0, only = 0;
    for (size_t pos = 0; pos < s->bytes;) {
        uint32_t l;
        memcpy(&l, data + pos, 4);
        size_t n = record_bytes(type, data + pos + 4);
        ngroups += nrec[l]++ == 0;
        nbytes[l] += n;
        only = l;
        pos += 4 + n;
    }
    if (ngroups == 1) { /* drop the indices in place: a plain message to that worker */
        for (size_t pos = 0; pos < s->bytes;) {
            size_t n = record_bytes(type, data + pos + 4);
            memmove(data + total, data + pos + 4, n);
            total += n;
            pos += 4 + n;
        }
        s->bytes = total;
        send_remote(op, tg, r * W + only, false, s, t);
        return;
    }
    for (size_t l = 0; l < W; l++) {
        at[l] = total;
        total += nbytes[l];
    }
    size_t padded = TIDE__PAD8(total), msg = padded + TIDE__SPLIT_TABLE(ngroups);
    tide_batch *o = tide__worker_batch(w, type);
    if (tide__batch_reserve(o, msg) != 0)
        tide__fatal("out of memory exchanging records");
    unsigned char *out = tide__batch_data(o);
    for (size_t pos = 0; pos < s->bytes;) {
        uint32_t l;
        memcpy(&l, data + pos, 4);
        size_t n = record_bytes(type, data + pos + 4);
        memcpy(out + at[l], data + pos + 4, n);
        at[l] += n;
        pos += 4 + n;
    }
    memset(out + total, 0, padded - total);
    unsigned char *table = out + padded;
    for (size_t l = 0; l < W; l++)
        if (nrec[l]) {
            struct tide__split_entry e = { (uint32_t)l, 0, nrec[l], nbytes[l] };
            memcpy(table, &e, sizeof e);
            table += sizeof e;
        }
    uint64_t n64 = ngroups;
    memcpy(table, &n64, sizeof n64);
    o->len = s->len;
    o->bytes = msg;
    tide__worker_recycle(w, s);
    send_remote(op, tg, r * W, true, o, t);
}

static void stage_push(tide_op *op, struct tide__target *tg, size_t slot, const tide_time *t)
{
    struct tide__in *in = &tg->op->in[tg->port];
    struct shape sh = shape_of(op->df->w);
    tide_batch **sp = slot_at(tg, &sh, slot);
    if (slot >= sh.slots) { /* a dense batch's part for a worker of another rank */
        tide_batch *s = *sp;
        *sp = &no_room;
        send_remote(op, tg, slot - sh.slots, false, s, t);
        return;
    }
    if (sh.by_rank && slot >= sh.nlocal) {
        rank_push(op, tg, &sh, slot - sh.nlocal, t);
        return;
    }
    size_t worker = sh.by_rank ? sh.rank * sh.nlocal + slot : slot;
    tide_worker *w = op->df->w;
    tide__set_time(*sp, t);
    tide__update(op->df, tg->key, t, (int64_t)(*sp)->len);
    if (w->trace && worker != w->index) {
        uint64_t tag = tide_batch_meta(*sp)[TIDE__TRACE_META] = tide__trace_tag(w);
        tide__trace_send(w, tg->op, in->chan, worker, tag, (*sp)->len, (*sp)->bytes);
    }
    tide_push *to = tide_allocator_push(w->alloc, in->chan, worker);
    if (!to)
        tide__fatal("out of memory exchanging records");
    if (w->spill)
        tide__spill_sent(w, to, *sp);
    tide_push_send(to, sp);
    /* A rank-mate's slot keeps the batch the push gives back, ready for the next exchange
     * (W slots; pagerank -w 2: 2.86 s against 3.16 s through the pool), unless it is a
     * large one that a single batch left behind. */
    if (!*sp)
        *sp = &no_room;
    else if ((*sp)->cap > KEEP_MAX) {
        tide__worker_recycle(w, *sp);
        *sp = &no_room;
    }
}

static void stage_touch(struct tide__target *tg, size_t slot)
{
    if (tg->ntouched == tg->captouched) {
        size_t cap = tg->captouched ? 2 * tg->captouched : 16;
        uint32_t *t = realloc(tg->touched, cap * sizeof *t);
        if (!t)
            tide__fatal("out of memory exchanging records");
        tg->touched = t;
        tg->captouched = cap;
    }
    tg->touched[tg->ntouched++] = (uint32_t)slot;
}

/* Slot @p slot's staging batch with room for @p n more bytes: taken, pushed when full, or
 * grown. */
static tide_batch *stage_room(tide_op *op, struct tide__target *tg, const struct shape *sh,
                              size_t slot, size_t n, const tide_type *type, const tide_time *t)
{
    tide_batch **sp = slot_at(tg, sh, slot), *s = *sp;
    if (s == &no_room && slot >= sh->nlocal)
        stage_touch(tg, slot);
    else if (s->len && s->bytes + n > STAGE_MAX) {
        stage_push(op, tg, slot, t); /* the slot stays in the touched list */
        s = *sp;
    }
    if (s == &no_room)
        s = *sp = tide__worker_batch(op->df->w, type);
    s->type = type;
    if (tide__batch_reserve(s, s->bytes + n) != 0)
        tide__fatal("out of memory exchanging records");
    return s;
}

/* Appends one record of @p n bytes to staging batch @p s (which has room), after its
 * worker's index @p tag when that is >= 0. */
static inline void stage_put(tide_batch *s, int64_t tag, const void *rec, size_t n)
{
    unsigned char *to = tide__batch_data(s) + s->bytes;
    if (tag >= 0) {
        uint32_t l = (uint32_t)tag;
        memcpy(to, &l, 4);
        to += 4;
        s->bytes += 4;
    }
    memcpy(to, rec, n);
    s->bytes += n;
    s->len++;
}

uint64_t tide_hash_u64(const void *record, void *ctx)
{
    (void)ctx;
    uint64_t v;
    memcpy(&v, record, sizeof v);
    return v;
}

uint64_t tide_hash_u32(const void *record, void *ctx)
{
    (void)ctx;
    uint32_t v;
    memcpy(&v, record, sizeof v);
    return v;
}

/* (tide__hash_strn: batch_internal.h; the exchange and keyed tables call it inline) */
uint64_t tide_hash_str(const void *record, void *ctx)
{
    (void)ctx;
    const char *s = *(const char *const *)record;
    return tide__hash_strn(s, strlen(s));
}

bool tide_same_str(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t len = strlen(x);
    return strlen(y) == len && tide__str_same(x, y, len);
}

uint64_t tide_hash_zero(const void *record, void *ctx)
{
    (void)record, (void)ctx;
    return 0;
}

/* Records whose workers are found before any is copied. */
#define CHUNK 256

/* The workers of the @p n fixed-size records at @p recs, by @p in's hash, into @p h: one
 * call for a batch hash, none for tide_hash_u64 or tide_hash_u32 (a record's first 8 or 4
 * bytes, read inline) or tide_hash_zero, else one per record; a power-of-two worker count divides with a mask. */
static void chunk_workers(const struct tide__in *in, const unsigned char *recs, size_t n,
                          size_t size, size_t peers, uint64_t *h)
{
    void *ctx = in->pact.ctx;
    if (in->pact.hash_batch)
        in->pact.hash_batch(recs, n, h, ctx);
    else if (in->pact.hash == tide_hash_zero)
        memset(h, 0, n * sizeof *h);
    else if (in->pact.hash == tide_hash_u64 && size == 8)
        memcpy(h, recs, n * 8);
    else if (in->pact.hash == tide_hash_u64)
        for (size_t j = 0; j < n; j++)
            memcpy(&h[j], recs + j * size, 8);
    else if (in->pact.hash == tide_hash_u32)
        for (size_t j = 0; j < n; j++) {
            uint32_t v;
            memcpy(&v, recs + j * size, 4);
            h[j] = v;
        }
    else
        for (size_t j = 0; j < n; j++)
            h[j] = in->pact.hash(recs + j * size, ctx);
    if ((peers & (peers - 1)) == 0)
        for (size_t j = 0; j < n; j++)
            h[j] &= peers - 1;
    else
        for (size_t j = 0; j < n; j++)
            h[j] %= peers;
}

/* Bytes to ask a full slot of capacity @p cap for, @p left records of @p need bytes still to
 * split: doubling up to STAGE_MAX (stage_room), never more than the rest of the batch. */
static inline size_t stage_want(size_t cap, size_t left, size_t need)
{
    size_t want = cap < 1024 ? 1024 : cap;
    if (want > left * need)
        want = left * need;
    return want < need ? need : want;
}

/* Slots up to which a batch of fixed-size records is split with its cursors on the stack
 * (CURSOR_SLOTS x 24 bytes) instead of through each slot's batch; a bit per slot. */
#define CURSOR_SLOTS 64
/* @p tg's worker-to-slot table (made on first use): slot_of() once per worker, not per
 * record. */
static const uint32_t *slot_map(struct tide__target *tg, const struct shape *sh, size_t peers)
{
    if (tg->slotmap)
        return tg->slotmap;
    if (!(tg->slotmap = malloc(peers * sizeof *tg->slotmap)))
        tide__fatal("out of memory exchanging records");
    for (size_t p = 0; p < peers; p++) {
        int64_t tag;
        size_t slot = slot_of(sh, false, p, &tag);
        tg->slotmap[p] = (uint32_t)slot | (uint32_t)(tag + 1) << 8;
    }
    return tg->slotmap;
}

/* The fixed-size records of @p b into their slots (not dense), CHUNK at a time: the slots of
 * a chunk's records are found first (a table lookup each, the slots touched kept as bits in
 * a register), every touched slot is given room for the whole chunk, and the copy loop then
 * has no capacity check and writes at cursors in local arrays rather than through each
 * slot's batch (loads and stores of a batch's fields per record were most of the
 * exchange's time, `perf annotate`). A slot's records all have the same size with or
 * without their index, so its count follows from its bytes. */
static void split_cursors(tide_op *op, struct tide__target *tg, const struct shape *sh,
                          const tide_batch *b, const tide_time *t)
{
    const tide_type *type = b->type;
    const unsigned char *data = tide__batch_data(b);
    struct tide__in *in = &tg->op->in[tg->port];
    size_t size = type->size, peers = op->df->w->peers, nslots = sh->slots;
    bool tagged = sh->by_rank && sh->nlocal > 1;
    unsigned char *cur[CURSOR_SLOTS], *end[CURSOR_SLOTS];
    size_t need[CURSOR_SLOTS];
    for (size_t k = 0; k < nslots; k++) {
        tide_batch *s = tg->spare[k];
        need[k] = size + (tagged && k >= sh->nlocal ? 4 : 0);
        cur[k] = end[k] = NULL;
        if (s != &no_room) {
            cur[k] = tide__batch_data(s) + s->bytes;
            end[k] = tide__batch_data(s) + s->cap;
        }
    }
    const uint32_t *map = slot_map(tg, sh, peers);
    uint64_t h[CHUNK];
    uint32_t ent[CHUNK];
    for (size_t i = 0; i < b->len; i += CHUNK) {
        size_t n = b->len - i < CHUNK ? b->len - i : CHUNK;
        const unsigned char *recs = data + i * size;
        chunk_workers(in, recs, n, size, peers, h);
        uint64_t touched = 0;
        for (size_t j = 0; j < n; j++) {
            uint32_t e = map[h[j]];
            ent[j] = e;
            touched |= (uint64_t)1 << (e & 0xff);
        }
        for (uint64_t m = touched; m; m &= m - 1) {
            size_t k = (size_t)__builtin_ctzll(m);
            if ((size_t)(end[k] - cur[k]) >= n * need[k])
                continue;
            tide_batch *s = tg->spare[k];
            if (s != &no_room) {
                s->bytes = (size_t)(cur[k] - tide__batch_data(s));
                s->len = s->bytes / need[k];
            }
            size_t want = stage_want(s == &no_room ? 0 : s->cap, b->len - i, need[k]);
            s = stage_room(op, tg, sh, k, want > n * need[k] ? want : n * need[k], type, t);
            cur[k] = tide__batch_data(s) + s->bytes;
            end[k] = tide__batch_data(s) + s->cap;
        }
        if (!tagged && size == 8 && __builtin_popcountll(touched) == 2) {
            /* Two slots (2 workers; 2 ranks of one: this worker and the other rank): each
             * record is written at both cursors, which stay in registers, and only its
             * slot's advances. Through the cursor array, a record's cursor load waited on
             * the previous record's store whenever both went to the same slot: half the
             * time with two slots, a third of the exchange's time in `perf annotate`. The
             * write at the other cursor stays within the room checked for n records. */
            size_t k0 = (size_t)__builtin_ctzll(touched);
            size_t k1 = (size_t)__builtin_ctzll(touched & (touched - 1));
            unsigned char *c0 = cur[k0], *c1 = cur[k1];
            for (size_t j = 0; j < n; j++) {
                uint64_t x;
                memcpy(&x, recs + j * 8, 8);
                size_t one = (ent[j] & 0xff) == k1;
                memcpy(c0, &x, 8);
                memcpy(c1, &x, 8);
                c0 += 8 - 8 * one;
                c1 += 8 * one;
            }
            cur[k0] = c0;
            cur[k1] = c1;
            continue;
        }
        if (!tagged && size == 8) { /* the common case, its copy one move */
            for (size_t j = 0; j < n; j++) {
                size_t k = ent[j] & 0xff;
                memcpy(cur[k], recs + j * 8, 8);
                cur[k] += 8;
            }
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            size_t k = ent[j] & 0xff;
            unsigned char *to = cur[k];
            if (ent[j] >> 8) {
                uint32_t l = (ent[j] >> 8) - 1;
                memcpy(to, &l, 4);
                to += 4;
            }
            memcpy(to, recs + j * size, size);
            cur[k] = to + size;
        }
    }
    for (size_t k = 0; k < nslots; k++) {
        tide_batch *s = tg->spare[k];
        if (s == &no_room)
            continue;
        s->bytes = (size_t)(cur[k] - tide__batch_data(s));
        s->len = s->bytes / need[k];
    }
}

/* Splits @p b among the workers by the input's hash and sends what each slot gets. */
void tide__exchange(tide_op *op, struct tide__target *tg, tide_batch *b, const tide_time *t)
{
    tide_worker *w = op->df->w;
    struct tide__in *in = &tg->op->in[tg->port];
    size_t peers = w->peers;
    struct shape sh = shape_of(w);
    if (!tg->spare) {
        tg->spare = malloc(sh.slots * sizeof *tg->spare);
        if (sh.by_rank && sh.nlocal > 1)
            tg->groups = malloc(3 * sh.nlocal * sizeof *tg->groups);
        if (!tg->spare || (sh.by_rank && sh.nlocal > 1 && !tg->groups))
            tide__fatal("out of memory exchanging records");
        for (size_t k = 0; k < sh.slots; k++)
            tg->spare[k] = &no_room;
        tg->nlocal = sh.nlocal;
    }
    bool dense = sh.by_rank && sh.nlocal > 1 && b->bytes / peers >= DENSE_BYTES;
    if (dense && !tg->wide) {
        if (!(tg->wide = malloc(peers * sizeof *tg->wide)))
            tide__fatal("out of memory exchanging records");
        for (size_t k = 0; k < peers; k++)
            tg->wide[k] = &no_room;
    }
    const tide_type *type = b->type;
    const unsigned char *data = tide__batch_data(b);
    int64_t tag;
    if (type->size && !dense && sh.slots <= CURSOR_SLOTS && b->len >= 4 * sh.slots) {
        split_cursors(op, tg, &sh, b, t);
    } else if (type->size) {
        size_t size = type->size;
        uint64_t h[CHUNK];
        for (size_t i = 0; i < b->len; i++) {
            size_t j = i % CHUNK;
            if (j == 0)
                chunk_workers(in, data + i * size,
                              b->len - i < CHUNK ? b->len - i : CHUNK, size, peers, h);
            const unsigned char *rec = data + i * size;
            size_t slot = slot_of(&sh, dense, h[j], &tag);
            size_t need = size + (tag >= 0 ? 4 : 0);
            tide_batch *s = *slot_at(tg, &sh, slot);
            if (s->bytes + need > s->cap) {
                s = stage_room(op, tg, &sh, slot, stage_want(s->cap, b->len - i, need), type, t);
            }
            if (size == 8) /* 8-byte records copy in one move */
                stage_put(s, tag, rec, 8);
            else
                stage_put(s, tag, rec, size);
        }
    } else {
        size_t cursor = 0;
        unsigned char value[TIDE_VALUE_MAX]; /* decoded values are views (tide_bytes) */
        /* strings hashed by tide_hash_str: their stored length spares a strlen each */
        bool str = type == TIDE_STR && in->pact.hash == tide_hash_str;
        while (cursor < b->bytes) {
            size_t at = cursor;
            uint64_t hash;
            if (str) {
                size_t len;
                const char *s = tide__str_record(data + at, &len);
                hash = tide__hash_str_rec(s, len);
                cursor += tide__var_record_bytes(len + 1);
            } else {
                tide_batch_read(b, &cursor, value);
                hash = in->pact.hash(value, in->pact.ctx);
            }
            size_t p = (size_t)(hash % peers), n = cursor - at;
            size_t slot = slot_of(&sh, dense, p, &tag), need = n + (tag >= 0 ? 4 : 0);
            tide_batch *s = *slot_at(tg, &sh, slot);
            if (s->bytes + need > s->cap || s->bytes + need > STAGE_MAX) /* (no_room: cap 0) */
                s = stage_room(op, tg, &sh, slot, need, type, t);
            stage_put(s, tag, data + at, n);
        }
    }
    for (size_t l = 0; l < sh.nlocal; l++)
        if (tg->spare[l]->len)
            stage_push(op, tg, l, t);
    for (size_t k = 0; k < tg->ntouched; k++) {
        size_t slot = tg->touched[k];
        tide_batch **sp = slot_at(tg, &sh, slot);
        if ((*sp)->len)
            stage_push(op, tg, slot, t);
        else if (*sp != &no_room) {
            tide__worker_recycle(w, *sp);
            *sp = &no_room;
        }
    }
    tg->ntouched = 0;
}

void tide__exchange_free(struct tide__target *tg)
{
    if (tg->spare) /* only rank-mates' slots hold a batch between exchanges */
        for (size_t l = 0; l < tg->nlocal; l++)
            if (tg->spare[l] != &no_room)
                tide_batch_free(tg->spare[l]);
    free(tg->spare);
    free(tg->touched);
    free(tg->groups);
    free(tg->wide);
    free(tg->slotmap);
}
