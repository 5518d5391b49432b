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

static tide_time get_time(tide_batch *b)
{
    const uint64_t *m = tide_batch_meta(b);
    tide_time t = { .depth = (uint32_t)m[0] };
    memcpy(t.c, &m[1], sizeof t.c);
    return t;
}

/* Counts @p b in at an input of @p w's (what is queued is what arrived less what was
 * taken: --trace samples it). */
static inline void arrived(tide_worker *w, const tide_batch *b)
{
    w->records_arrived += b->len;
    w->bytes_arrived += b->bytes;
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

/* Queues a batch taken from the exchange channel (under --memory its records may go to
 * the spill file, or its sender may have put them there already). */
static void take_pulled(tide_worker *w, struct tide__in *in, tide_batch *b)
{
    arrived(w, b);
    if (w->spill)
        tide__spill_maybe(w, &in->pulled, b);
    tide__fifo_put(&in->pulled, b);
}

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
            take_pulled(op->df->w, in, b);
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
            take_pulled(op->df->w, in, b);
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
    op->kept = NULL;
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
    tide_worker *w = op->df->w;
    bool from_channel = in->current_pulled;
    if (b->spilled) {
        tide__spill_restore(w, b);
        /* Read back into a buffer of this worker's, it stays here (the worker's pool takes
         * it): handed back, it would wait in its sender's return queue, which after a
         * spilled burst could hold the whole burst again. */
        in->current_pulled = false;
    }
    w->records_in += tide_batch_len(b);
    w->bytes_in += tide_batch_bytes(b);
    if (w->budget)
        tide__budget_moved(w);
    if (w->trace && from_channel)
        tide__trace_receive(w, op, in->chan, b);
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

/* An empty batch of @p w's, with room for what @p b holds: what goes back to a channel in
 * place of @p b, for its sender (or the transport) to fill as it filled @p b. A smaller one
 * made every receive from another rank allocate its buffer anew. */
static tide_batch *empty_like(tide_worker *w, const tide_batch *b)
{
    tide_batch *e = tide__fifo_take_fit(&w->pool, b->cap);
    if (e) {
        w->pool_bytes -= e->cap;
        tide_batch_clear(e);
        e->type = b->type;
    } else if (!(e = tide_batch_new(b->type, b->cap))) {
        tide__fatal("out of memory allocating a batch");
    }
    if (e->cap < b->cap && tide__batch_reserve(e, b->cap) != 0)
        tide__fatal("out of memory allocating a batch");
    return e;
}


/* Whether a target of @p out after the @p k-th (from the first: k = -1) takes the batch:
 * a probe does only when nothing else does. */
static bool later_takes(const struct tide__out *out, ptrdiff_t k, bool any_other)
{
    for (size_t j = (size_t)(k + 1); j < out->ntargets; j++) {
        const struct tide__target *tg = &out->targets[j];
        if (!any_other || !tg->op->in[tg->port].frontier_only)
            return true;
    }
    return false;
}

/* Passes batch @p b (time @p t, ownership passes) to every target of output @p o. */
static void deliver(tide_op *op, uint32_t o, tide_batch *b, const tide_time *t)
{
    struct tide__out *out = &op->out[o];
    tide_worker *w = op->df->w;
    /* A probe next to other consumers is given nothing (timely's probe passes records
     * through): its frontier follows the stream's all the same, and the batch is not
     * copied for it. A probe alone on a stream takes the batch as any consumer would
     * (skipping it too measured 9% slower between 2 ranks: exchange's rounds then waited
     * on progress that the probe's own reads had sent sooner). */
    bool others = later_takes(out, -1, true);
    for (size_t k = 0; k < out->ntargets && b; k++) {
        struct tide__target *tg = &out->targets[k];
        struct tide__in *in = &tg->op->in[tg->port];
        if (in->frontier_only && others)
            continue;
        tide_time tt;
        if (!tide__xform_apply(&tg->xf, t, &tt))
            continue; /* past the end of time: dropped */
        if (in->pull) {
            tide__exchange(op, tg, b, &tt);
            continue;
        }
        bool last = !later_takes(out, (ptrdiff_t)k, others);
        tide_batch *d = last ? b : copy_batch(w, b);
        if (last)
            b = NULL;
        tide__set_time(d, &tt);
        tide__update(op->df, tg->key, &tt, (int64_t)d->len);
        arrived(w, d);
        if (w->spill)
            tide__spill_maybe(w, &in->queue, d);
        tide__fifo_put(&in->queue, d);
        tide__activate(tg->op);
    }
    if (b)
        tide__worker_recycle(w, b);
}

/* Takes the batch input @p in is reading out of it: the caller owns it from then on. One
 * from a channel owes its sender (or the transport) a buffer: an empty one of this
 * worker's goes back in its place, as timely swaps in an empty container. A view of a
 * buffer rank-mates share is copied. */
static tide_batch *take_current(tide_op *op, struct tide__in *in)
{
    tide_batch *b = in->current;
    in->current = NULL;
    if (!in->current_pulled)
        return b;
    tide_worker *w = op->df->w;
    tide_batch *back;
    if (b->shared) {
        back = b;
        b = copy_batch(w, back);
    } else {
        back = empty_like(w, b);
        back->home = b->home;
        b->home = NULL;
    }
    if (tide_pull_recv(in->pull, &back)) {
        arrived(w, back);
        tide__fifo_put(&in->pulled, back);
    }
    return b;
}

/* The operator whose logic runs on this thread (NULL between operators). */
static _Thread_local tide_op *running_op;

/* Only a batch of this worker's own: one from a channel would have to be replaced by an
 * empty batch for its sender, a fresh buffer when the pool has none, where handing it back
 * lets the sender reuse it (pagerank -w 2: 1.16x the time when those were kept too). */
tide_batch *tide__op_keep(tide_batch *b)
{
    tide_op *op = running_op;
    for (uint32_t i = 0; op && b && i < op->nin; i++)
        if (op->in[i].current == b && !op->in[i].current_pulled)
            return op->kept = take_current(op, &op->in[i]);
    return NULL;
}

void tide__op_recycle(tide_batch *b)
{
    if (running_op)
        tide__worker_recycle(running_op->df->w, b);
    else
        tide_batch_free(b);
}

/* ---------------------------------------------------------------- sessions */

/* Points the write window at the end of the buffer's records. */
static void session_attach(struct tide_session *s)
{
    tide_batch *b = s->buf;
    size_t limit = b->cap < SESSION_BYTES ? b->cap : SESSION_BYTES;
    s->win.size = b->type->size;
    s->win.wp = s->win.end = tide__batch_data(b) + b->bytes; /* closed: nothing fits */
    s->win.swp = tide__batch_data(b) + b->bytes;
    s->win.sroom = 0;
    if (s->win.size) {
        if (limit > b->bytes)
            s->win.end = tide__batch_data(b) + b->bytes +
                         (limit - b->bytes) / s->win.size * s->win.size;
    } else if (b->type == TIDE_STR && !b->shared && limit > b->bytes) {
        s->win.sroom = limit - b->bytes;
    }
}

/* Brings the buffer's counts up to what was written through the window. */
static void session_sync(struct tide_session *s)
{
    tide_batch *b = s->buf;
    if (!b)
        return;
    if (s->win.size) {
        size_t bytes = (size_t)(s->win.wp - tide__batch_data(b));
        b->len += (bytes - b->bytes) / s->win.size;
        b->bytes = bytes;
    } else if (s->win.scount) {
        b->bytes = (size_t)(s->win.swp - tide__batch_data(b));
        b->len += s->win.scount;
        s->win.scount = 0;
    }
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
    s->win.wp = s->win.end = s->win.swp = NULL;
    s->win.sroom = 0;
    deliver(s->op, s->port, b, &s->time);
}

void tide__op_flush(tide_op *op)
{
    for (uint32_t o = 0; o < op->nout; o++) {
        struct tide_session *s = &op->out[o].session;
        session_flush(s);
        s->open = false;
        s->win.end = s->win.wp; /* closed: the next give goes through tide_op_session again */
        s->win.sroom = 0;
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

/* Room for @p bytes of records in the session's buffer. A session that outgrows its
 * buffer is filling it: it grows to the session size at once, not by doubling from the
 * pool's 1 KiB (pagerank's rounds of a million changes took five reallocs a batch). */
static void session_room(struct tide_session *s, size_t bytes)
{
    tide_batch *b = s->buf;
    if (bytes > b->cap && tide__batch_reserve(b, bytes > SESSION_BYTES ? bytes : SESSION_BYTES))
        tide__fatal("operator '%s': out of memory buffering output", s->op->name);
}

/* A session is open from tide_op_session() until its operator's logic returns (or, for an
 * input, until the input is advanced); its window is closed then, so a give through one
 * kept past that comes here. */
static void check_open_session(const struct tide_session *s, const char *what)
{
    if (!s->open)
        tide__fatal("operator '%s': %s on a session of output %u after its operator's logic "
                    "returned (ask tide_op_session for one at every activation)",
                    s->op->name, what, s->port);
}

static void session_give_slow(struct tide_session *s, const void *record)
{
    check_open_session(s, "tide_session_give");
    session_sync(s);
    if (s->buf->bytes >= SESSION_BYTES) {
        session_flush(s);
        session_new_buffer(s);
    }
    if (s->win.size)
        session_room(s, s->buf->bytes + s->win.size);
    if (tide_batch_push(s->buf, record) != 0)
        tide__fatal("operator '%s': out of memory buffering output", s->op->name);
    session_attach(s);
}

/* tide_session_give()'s call when the record does not fit the window inline. A string
 * (wordcount's words) is measured once and written as tide_session_give_str() does. */
void tide__session_give(tide_session *s, const void *record)
{
    if (!s->win.size && s->buf && s->buf->type == TIDE_STR) {
        const char *str = *(const char *const *)record;
        tide_session_give_str(s, str, strlen(str));
        return;
    }
    if (!tide__window_put(&s->win, record))
        session_give_slow(s, record);
}

/* tide_session_give_str()'s call when the string is long or the window has no room: into
 * the buffer while it has room (up to SESSION_BYTES in), else the general push. */
void tide__session_give_str(tide_session *s, const char *str, size_t len)
{
    check_open_session(s, "tide_session_give_str");
    if (s->op->out[s->port].type != TIDE_STR)
        tide__fatal("operator '%s': tide_session_give_str on output %u, whose records are "
                    "'%s', not strings", s->op->name, s->port,
                    s->op->out[s->port].type->name);
    session_sync(s);
    tide_batch *b = s->buf;
    if (b && !b->shared && b->bytes < SESSION_BYTES && len < UINT32_MAX &&
        b->bytes + tide__var_record_bytes(len + 1) <= b->cap) {
        tide__batch_put_strn(b, str, len);
        session_attach(s);
        return;
    }
    /* the general push, which reads a NUL-terminated string */
    char small[128], *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy)
        tide__fatal("operator '%s': out of memory buffering output", s->op->name);
    memcpy(copy, str, len);
    copy[len] = 0;
    const char *p = copy;
    session_give_slow(s, &p);
    if (copy != small)
        free(copy);
}

void tide_session_give_n(tide_session *s, const void *records, size_t n)
{
    check_open_session(s, "tide_session_give_n");
    size_t size = s->win.size;
    if (!size)
        tide__fatal("operator '%s': tide_session_give_n on variable-length records",
                    s->op->name);
    session_sync(s);
    tide_batch *b = s->buf;
    session_room(s, b->bytes + n * size);
    memcpy(tide__batch_data(b) + b->bytes, records, n * size);
    b->bytes += n * size;
    b->len += n;
    session_attach(s); /* the buffer may have moved */
    if (s->buf->bytes >= SESSION_BYTES) {
        session_flush(s);
        session_new_buffer(s);
    }
}

void *tide__session_extend(tide_session *s, size_t n)
{
    check_open_session(s, "tide_session_extend");
    size_t size = s->win.size;
    if (!size)
        tide__fatal("operator '%s': tide_session_extend on variable-length records",
                    s->op->name);
    if (n > SIZE_MAX / size)
        tide__fatal("operator '%s': tide_session_extend of %zu records", s->op->name, n);
    session_sync(s);
    if (s->buf->bytes && s->buf->bytes + n * size > SESSION_BYTES) {
        session_flush(s);
        session_new_buffer(s);
    }
    tide_batch *b = s->buf;
    session_room(s, b->bytes + n * size);
    unsigned char *at = tide__batch_data(b) + b->bytes;
    b->bytes += n * size;
    b->len += n;
    session_attach(s);
    return at;
}

void tide_session_give_batch(tide_session *s, tide_batch **batch)
{
    tide_batch *b = *batch;
    *batch = NULL;
    if (!b)
        return;
    check_open_session(s, "tide_session_give_batch");
    tide_op *op = s->op;
    if (!tide_type_equal(b->type, op->out[s->port].type))
        tide__fatal("operator '%s' gives a batch of %s records to output %u, which carries %s",
                    op->name, b->type->name, s->port, op->out[s->port].type->name);
    /* A batch being read from an input moves on without a copy (exchange 10000 20000 -w 2
     * copied every batch here before); one a stash kept stays there, and a copy goes. */
    if (b == op->kept) {
        op->kept = NULL;
        b = copy_batch(op->df->w, b);
    }
    for (uint32_t i = 0; i < op->nin; i++)
        if (op->in[i].current == b)
            b = take_current(op, &op->in[i]);
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
    tide_op *outer = running_op;
    running_op = op;
    op->logic(op, op->state);
    running_op = outer;
    op->running = false;
    op->kept = NULL;
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
        tide_antichain_free(&in->own);
        release_current(op, in);
        tide_batch *b;
        while ((b = tide__fifo_take(&in->queue))) {
            tide__spill_discard(w, b);
            tide_batch_free(b);
        }
        while ((b = tide__fifo_take(&in->pulled))) {
            if (b->spilled) { /* no buffer: not worth handing back */
                tide__spill_discard(w, b);
                tide_batch_free(b);
                continue;
            }
            if (tide_pull_recv(in->pull, &b))
                tide__fifo_put(&in->pulled, b);
        }
        if (in->pull)
            tide_allocator_close(w->alloc, in->chan);
    }
    for (uint32_t o = 0; o < op->nout; o++) {
        struct tide__out *out = &op->out[o];
        tide_batch_free(out->session.buf);
        for (size_t k = 0; k < out->ntargets; k++) {
            tide__exchange_free(&out->targets[k]);
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
