/* SPDX-License-Identifier: MIT */
/*
 * Operators at run time: reading inputs, output sessions, and delivering batches along
 * the routes computed when the dataflow was built.
 *
 * Progress accounting is done where records move: a batch of n records delivered to an
 * input counts +n there (at the time it will be read at), and reading it counts -n. Both
 * go into the worker's change batch of the step, which is broadcast after the operators
 * ran, so a record's +n always travels with (or before) the release of the capability it
 * was sent at.
 */
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

/* A session's buffer is passed on when it holds this much: big enough that per-batch
 * costs vanish, small enough to stay in cache. */
#define SESSION_BYTES (32 * 1024)

static void set_time(tide_batch *b, const tide_time *t)
{
    uint64_t *m = tide_batch_meta(b);
    m[0] = t->depth;
    memcpy(&m[1], t->c, sizeof t->c);
}

static tide_time get_time(tide_batch *b)
{
    const uint64_t *m = tide_batch_meta(b);
    tide_time t = { .depth = (uint32_t)m[0] };
    memcpy(t.c, &m[1], sizeof t.c);
    return t;
}

const char *tide_op_name(const tide_op *op) { return op->name; }
tide_worker *tide_op_worker(const tide_op *op) { return op->df->w; }
uint32_t tide_op_inputs(const tide_op *op) { return op->nin; }
uint32_t tide_op_outputs(const tide_op *op) { return op->nout; }

const tide_antichain *tide_op_frontier(const tide_op *op, uint32_t port)
{
    if (port >= op->nin)
        tide__fatal("operator '%s': no input %u (it has %u)", op->name, port, op->nin);
    return op->in[port].frontier;
}

void tide_op_activate(tide_op *op) { tide__activate(op); }

/* ---------------------------------------------------------------- inputs */

/* Hands a spent batch back to where it came from; batches the pull gives in exchange are
 * queued. */
static void release_current(tide_op *op, struct tide__in *in)
{
    tide_batch *b = in->current;
    if (!b)
        return;
    in->current = NULL;
    if (in->current_pulled) {
        if (tide_pull_recv(in->pull, &b))
            tide__fifo_put(&in->pulled, b);
    } else {
        tide__worker_recycle(op->df->w, b);
    }
}

bool tide__op_poll(tide_op *op)
{
    bool got = false;
    for (uint32_t i = 0; i < op->nin; i++) {
        struct tide__in *in = &op->in[i];
        if (!in->pull)
            continue;
        tide_batch *b = NULL;
        while (tide_pull_recv(in->pull, &b)) {
            tide__fifo_put(&in->pulled, b);
            b = NULL;
            got = true;
        }
    }
    return got;
}

bool tide_op_next(tide_op *op, uint32_t port, tide_cap **cap, tide_batch **batch)
{
    if (port >= op->nin)
        tide__fatal("operator '%s': no input %u (it has %u)", op->name, port, op->nin);
    struct tide__in *in = &op->in[port];
    release_current(op, in);
    tide_batch *b = tide__fifo_take(&in->queue);
    in->current_pulled = false;
    if (!b && in->pull && (b = tide__fifo_take(&in->pulled)))
        in->current_pulled = true;
    if (!b) {
        *cap = NULL;
        *batch = NULL;
        return false;
    }
    in->current = b;
    op->df->w->records_in += tide_batch_len(b);
    tide_time t = get_time(b);
    tide__update(op->df, in->key, &t, -(int64_t)tide_batch_len(b));
    tide_cap *c = tide__cap_new(op, &t);
    c->kind = CAP_BORROWED;
    c->port = port;
    c->next_free = op->borrowed;
    op->borrowed = c;
    *cap = tide__cap_handle(c);
    *batch = b;
    return true;
}

/* ---------------------------------------------------------------- delivery */

static tide_batch *copy_batch(tide_worker *w, tide_batch *b)
{
    tide_batch *c = tide__worker_batch(w, b->type);
    if (tide__batch_reserve(c, b->bytes) != 0)
        tide__fatal("out of memory copying a batch");
    memcpy(tide__batch_data(c), tide__batch_data(b), b->bytes);
    c->bytes = b->bytes;
    c->len = b->len;
    return c;
}

/* Appends record bytes [at, at + n) holding @p records records to @p b. */
static void append_raw(tide_batch *b, const void *at, size_t n, size_t records)
{
    if (tide__batch_reserve(b, b->bytes + n) != 0)
        tide__fatal("out of memory filling a batch");
    memcpy(tide__batch_data(b) + b->bytes, at, n);
    b->bytes += n;
    b->len += records;
}

/* An exchange stages records per target, and a worker may send to few of its peers: a
 * target's staging batch starts as this (no room), so the record loop's one capacity check
 * also takes a batch the first time a target gets a record. Never written. */
static tide_batch no_room;

/* A target's staging batch holds at most about this much before it leaves on its own, so
 * staging stays bounded whatever the size of the batch being split. */
#define STAGE_MAX (64 * 1024)

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
    set_time(b, t);
    tide__update(op->df, tg->key, t, (int64_t)b->len);
    tide__remote_send(w->alloc, tg->op->in[tg->port].chan, worker, split, &b);
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
    set_time(*sp, t);
    tide__update(op->df, tg->key, t, (int64_t)(*sp)->len);
    tide_push *to = tide_allocator_push(op->df->w->alloc, in->chan, worker);
    if (!to)
        tide__fatal("out of memory exchanging records");
    tide_push_send(to, sp);
    /* A batch the push gives back goes to the worker's pool: only touched slots hold one. */
    if (*sp)
        tide__worker_recycle(op->df->w, *sp);
    *sp = &no_room;
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
    if (s == &no_room)
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

/* Splits @p b among the workers by the input's hash and sends what each slot gets. */
static void exchange(tide_op *op, struct tide__target *tg, tide_batch *b, const tide_time *t)
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
    if (type->size) {
        size_t size = type->size;
        tide_hash_fn hash = in->pact.hash;
        void *ctx = in->pact.ctx;
        /* A power-of-two worker count divides with a mask, and 8-byte records copy in one
         * move. */
        bool pow2 = (peers & (peers - 1)) == 0;
        for (size_t i = 0; i < b->len; i++) {
            const unsigned char *rec = data + i * size;
            uint64_t h = hash(rec, ctx);
            size_t p = pow2 ? h & (peers - 1) : h % peers;
            size_t slot = slot_of(&sh, dense, p, &tag), need = size + (tag >= 0 ? 4 : 0);
            tide_batch *s = *slot_at(tg, &sh, slot);
            if (s->bytes + need > s->cap) {
                /* room for the rest of the batch at most, doubling up to STAGE_MAX */
                size_t want = s->cap < 1024 ? 1024 : s->cap;
                if (want > (b->len - i) * need)
                    want = (b->len - i) * need;
                s = stage_room(op, tg, &sh, slot, want < need ? need : want, type, t);
            }
            unsigned char *to = tide__batch_data(s) + s->bytes;
            if (tag >= 0) {
                uint32_t l = (uint32_t)tag;
                memcpy(to, &l, 4);
                to += 4;
            }
            if (size == 8)
                memcpy(to, rec, 8);
            else
                memcpy(to, rec, size);
            s->bytes += need;
            s->len++;
        }
    } else {
        size_t cursor = 0;
        unsigned char value[TIDE_VALUE_MAX]; /* decoded values are views (tide_bytes) */
        while (cursor < b->bytes) {
            size_t at = cursor;
            tide_batch_read(b, &cursor, value);
            size_t p = (size_t)(in->pact.hash(value, in->pact.ctx) % peers), n = cursor - at;
            size_t slot = slot_of(&sh, dense, p, &tag), need = n + (tag >= 0 ? 4 : 0);
            tide_batch *s = stage_room(op, tg, &sh, slot, need, type, t);
            unsigned char *to = tide__batch_data(s) + s->bytes;
            if (tag >= 0) {
                uint32_t l = (uint32_t)tag;
                memcpy(to, &l, 4);
                to += 4;
            }
            memcpy(to, data + at, n);
            s->bytes += need;
            s->len++;
        }
    }
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

/* Passes batch @p b (time @p t, ownership passes) to every target of output @p o. */
static void deliver(tide_op *op, uint32_t o, tide_batch *b, const tide_time *t)
{
    struct tide__out *out = &op->out[o];
    tide_worker *w = op->df->w;
    for (size_t k = 0; k < out->ntargets && b; k++) {
        struct tide__target *tg = &out->targets[k];
        tide_time tt;
        if (!tide__xform_apply(&tg->xf, t, &tt))
            continue; /* past the end of time: dropped */
        struct tide__in *in = &tg->op->in[tg->port];
        if (in->pull) {
            exchange(op, tg, b, &tt);
            continue;
        }
        bool last = k + 1 == out->ntargets;
        tide_batch *d = last ? b : copy_batch(w, b);
        if (last)
            b = NULL;
        set_time(d, &tt);
        tide__update(op->df, tg->key, &tt, (int64_t)d->len);
        tide__fifo_put(&in->queue, d);
        tide__activate(tg->op);
    }
    if (b)
        tide__worker_recycle(w, b);
}

/* ---------------------------------------------------------------- sessions */

/* Points the write window at the end of the buffer's records. */
static void session_attach(struct tide_session *s)
{
    tide_batch *b = s->buf;
    s->win.size = b->type->size;
    s->win.wp = s->win.end = tide__batch_data(b) + b->bytes;
    if (s->win.size) {
        size_t limit = b->cap < SESSION_BYTES ? b->cap : SESSION_BYTES;
        if (limit > b->bytes)
            s->win.end = tide__batch_data(b) + b->bytes +
                         (limit - b->bytes) / s->win.size * s->win.size;
    }
}

/* Brings the buffer's counts up to what was written through the window. */
static void session_sync(struct tide_session *s)
{
    tide_batch *b = s->buf;
    if (!b || !s->win.size)
        return;
    size_t bytes = (size_t)(s->win.wp - tide__batch_data(b));
    b->len += (bytes - b->bytes) / s->win.size;
    b->bytes = bytes;
}

static void session_new_buffer(struct tide_session *s)
{
    s->buf = tide__worker_batch(s->op->df->w, s->op->out[s->port].type);
    session_attach(s);
}

static void session_flush(struct tide_session *s)
{
    session_sync(s);
    if (!s->buf || !s->buf->len)
        return;
    tide_batch *b = s->buf;
    s->buf = NULL;
    s->win.wp = s->win.end = NULL;
    deliver(s->op, s->port, b, &s->time);
}

void tide__op_flush(tide_op *op)
{
    for (uint32_t o = 0; o < op->nout; o++) {
        struct tide_session *s = &op->out[o].session;
        session_flush(s);
        s->open = false;
        s->win.end = s->win.wp; /* closed: the next give goes through tide_op_session again */
    }
}

void tide__mark_dirty(tide_op *op)
{
    tide_dataflow *df = op->df;
    for (uint32_t i = 0; i < df->ndirty; i++)
        if (df->dirty[i] == op)
            return;
    size_t cap = df->capdirty;
    tide__reserve(&df->dirty, &cap, df->ndirty + 1, sizeof *df->dirty);
    df->capdirty = (uint32_t)cap;
    df->dirty[df->ndirty++] = op;
}

/* The slot of handle @p h, a live capability of @p op; stops the run otherwise. */
static const tide_cap *check_cap(const tide_op *op, const tide_cap *h, const char *what)
{
    if (!h)
        tide__fatal("operator '%s' %s without a capability", op->name, what);
    const tide_cap *cap = tide__cap_peek(h);
    if (cap->kind == CAP_FREE) {
        char tb[96];
        tide_time_format(&cap->time, tb, sizeof tb);
        tide__fatal("operator '%s' %s with a capability (at %s) it has already dropped",
                    op->name, what, tb);
    }
    if (tide__cap_stale(h))
        tide__fatal("operator '%s' %s with a capability it has already dropped (its slot "
                    "holds another capability now)", op->name, what);
    if (cap->op != op)
        tide__fatal("operator '%s' %s with a capability of operator '%s'", op->name, what,
                    cap->op->name);
    return cap;
}

static void check_output(const tide_op *op, const tide_cap *cap, uint32_t port)
{
    if (cap->out != TIDE__ANY_OUTPUT && cap->out != port)
        tide__fatal("operator '%s' sends on output %u with a capability for output %u only",
                    op->name, port, cap->out);
}

/* Opens output @p port's session at @p t (the capability already checked). */
static tide_session *open_session(tide_op *op, uint32_t port, const tide_time *t)
{
    if (port >= op->nout)
        tide__fatal("operator '%s': no output %u (it has %u)", op->name, port, op->nout);
    struct tide_session *s = &op->out[port].session;
    if (s->open) {
        if (tide_time_eq(&s->time, t))
            return s;
        session_flush(s);
    }
    s->open = true;
    s->time = *t;
    if (!s->buf) {
        session_new_buffer(s);
    } else {
        session_sync(s);
        session_attach(s);
    }
    if (!op->running)
        tide__mark_dirty(op);
    return s;
}

/* Whether some summary from input @p in to output @p out takes @p from to no later than
 * @p to (identity when none was declared for the pair). */
static bool pair_allows(const tide_op *op, uint32_t in, uint32_t out, const tide_time *from,
                        const tide_time *to)
{
    bool declared = false;
    for (size_t k = 0; k < op->nsums; k++) {
        const struct tide__sum *s = &op->sums[k];
        if (s->in != in || s->out != out)
            continue;
        declared = true;
        tide_time t;
        if (!s->none && tide_summary_apply(&s->s, from, &t) && tide_time_le(&t, to))
            return true;
    }
    return !declared && tide_time_le(from, to);
}

static void format_summaries(const tide_op *op, uint32_t in, uint32_t out, char *buf,
                             size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < op->nsums && len + 1 < n; k++) {
        const struct tide__sum *s = &op->sums[k];
        if (s->in != in || (out != TIDE__ANY_OUTPUT && s->out != out))
            continue;
        len += (size_t)snprintf(buf + len, n - len, "%sinput %u -> output %u: ",
                                len ? "; " : "", in, s->out);
        if (s->none)
            len += (size_t)snprintf(buf + len, n - len, "no path");
        else
            for (uint32_t d = 0; d < s->s.depth && len + 1 < n; d++)
                len += (size_t)snprintf(buf + len, n - len, "%s+%llu", d ? "," : "(",
                                        (unsigned long long)s->s.inc[d]);
        if (!s->none && len + 1 < n)
            len += (size_t)snprintf(buf + len, n - len, ")");
    }
    if (len + 1 >= n)
        buf[n - 1] = '\0';
}

void tide__check_summary(const tide_op *op, uint32_t in, uint32_t out, const tide_time *from,
                         const tide_time *to, const char *what)
{
    if (out != TIDE__ANY_OUTPUT ? pair_allows(op, in, out, from, to) : op->nout == 0)
        return;
    for (uint32_t o = 0; out == TIDE__ANY_OUTPUT && o < op->nout; o++)
        if (pair_allows(op, in, o, from, to))
            return;
    char tb[96], cb[96], sb[512];
    tide_time_format(to, tb, sizeof tb);
    tide_time_format(from, cb, sizeof cb);
    format_summaries(op, in, out, sb, sizeof sb);
    tide__fatal("operator '%s' %s at time %s from input %u's capability at %s, which its "
                "summary (%s) does not allow", op->name, what, tb, in, cb,
                sb[0] ? sb : "identity");
}

tide_session *tide_op_session_at(tide_op *op, uint32_t port, const tide_cap *h,
                                 const tide_time *t)
{
    const tide_cap *cap = check_cap(op, h, "sends");
    if (!tide_time_le(&cap->time, t)) {
        char tb[96], cb[96];
        tide_time_format(t, tb, sizeof tb);
        tide_time_format(&cap->time, cb, sizeof cb);
        tide__fatal("operator '%s' sends at time %s, which its capability (at %s) does not "
                    "cover", op->name, tb, cb);
    }
    check_output(op, cap, port);
    if (cap->kind == CAP_BORROWED && op->nsums)
        tide__check_summary(op, cap->port, port, &cap->time, t, "sends");
    return open_session(op, port, t);
}

tide_session *tide_op_session(tide_op *op, uint32_t port, const tide_cap *h)
{
    const tide_cap *cap = check_cap(op, h, "sends");
    check_output(op, cap, port);
    if (cap->kind == CAP_BORROWED && op->nsums)
        tide__check_summary(op, cap->port, port, &cap->time, &cap->time, "sends");
    return open_session(op, port, &cap->time);
}

static void session_give_slow(struct tide_session *s, const void *record)
{
    session_sync(s);
    if (s->buf->bytes >= SESSION_BYTES) {
        session_flush(s);
        session_new_buffer(s);
    }
    if (tide_batch_push(s->buf, record) != 0)
        tide__fatal("operator '%s': out of memory buffering output", s->op->name);
    session_attach(s);
}

void tide_session_give(tide_session *s, const void *record)
{
    if (!tide__window_put(&s->win, record))
        session_give_slow(s, record);
}

void tide_session_give_n(tide_session *s, const void *records, size_t n)
{
    size_t size = s->win.size;
    if (!size)
        tide__fatal("operator '%s': tide_session_give_n on variable-length records",
                    s->op->name);
    session_sync(s);
    append_raw(s->buf, records, n * size, n);
    session_attach(s); /* the buffer may have moved */
    if (s->buf->bytes >= SESSION_BYTES) {
        session_flush(s);
        session_new_buffer(s);
    }
}

void tide_session_give_batch(tide_session *s, tide_batch **batch)
{
    tide_batch *b = *batch;
    *batch = NULL;
    if (!b)
        return;
    tide_op *op = s->op;
    if (!tide_type_equal(b->type, op->out[s->port].type))
        tide__fatal("operator '%s' gives a batch of %s records to output %u, which carries %s",
                    op->name, b->type->name, s->port, op->out[s->port].type->name);
    /* a batch being read from an input moves on without a copy */
    for (uint32_t i = 0; i < op->nin; i++) {
        struct tide__in *in = &op->in[i];
        if (in->current == b) {
            in->current = NULL;
            if (in->current_pulled) { /* the pull wants a batch back: give it a copy */
                tide_batch *c = copy_batch(op->df->w, b);
                if (tide_pull_recv(in->pull, &b))
                    tide__fifo_put(&in->pulled, b);
                b = c;
            }
        }
    }
    session_flush(s);
    if (!s->buf)
        session_new_buffer(s);
    b->type = op->out[s->port].type;
    deliver(op, s->port, b, &s->time);
}

/* ---------------------------------------------------------------- running */

void tide__op_run(tide_op *op)
{
    if (!op->logic)
        return;
    op->running = true;
    op->logic(op, op->state);
    op->running = false;
    for (tide_cap *c = op->borrowed, *next; c; c = next) {
        next = c->next_free;
        tide__cap_free(c);
    }
    op->borrowed = NULL;
    for (uint32_t i = 0; i < op->nin; i++)
        release_current(op, &op->in[i]);
    if (op->notif)
        tide__notificator_drop_current(op->notif);
    tide__op_flush(op);
}

void tide__op_free(tide_op *op)
{
    tide_worker *w = op->df->w;
    for (uint32_t i = 0; i < op->nin; i++) {
        struct tide__in *in = &op->in[i];
        release_current(op, in);
        tide_batch *b;
        while ((b = tide__fifo_take(&in->queue)))
            tide_batch_free(b);
        while ((b = tide__fifo_take(&in->pulled)))
            if (tide_pull_recv(in->pull, &b))
                tide__fifo_put(&in->pulled, b);
        if (in->pull)
            tide_allocator_close(w->alloc, in->chan);
    }
    for (uint32_t o = 0; o < op->nout; o++) {
        struct tide__out *out = &op->out[o];
        tide_batch_free(out->session.buf);
        for (size_t k = 0; k < out->ntargets; k++) {
            free(out->targets[k].spare); /* every spare is &no_room between exchanges */
            free(out->targets[k].touched);
            free(out->targets[k].groups);
            free(out->targets[k].wide);
        }
        free(out->targets);
    }
    if (op->notif)
        tide_notificator_free(op->notif);
    if (op->act)
        tide__worker_forget_activator(w, op->act);
    for (tide_cap *c = op->borrowed, *next; c; c = next) {
        next = c->next_free;
        tide__cap_free(c);
    }
    free(op->fronts);
    free(op->sums);
    free(op->in);
    free(op->out);
    free(op->name);
    free(op);
}
