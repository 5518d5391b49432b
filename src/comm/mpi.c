/* SPDX-License-Identifier: MIT */
/*
 * The mpi backend: the in-rank queues of alloc.c plus frames between ranks.
 *
 * Open MPI here is about 100x slower when two threads of a rank call it at once, so one
 * thread at a time drives MPI: whichever worker takes `lock` (MPI_THREAD_SERIALIZED) runs
 * progress() for the whole rank. Workers never wait for the lock: they queue frames in
 * their outbox and try it; someone holding it drains every outbox before letting go, and
 * every worker tries again at its next receive/release. This costs no extra thread, which
 * on a node whose cores all run workers is worth more than a dedicated progress thread.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

#define TAG_FRAME 17
#define FRAME_MAX (64 * 1024)  /* coalesce small messages up to this many bytes */
#define LARGE 4096             /* payloads this large travel in place, in a frame of their own */
#define RECV_BURST 64          /* frames received per progress call, at most */
#define MAX_CHANNELS (1u << 24)

/* What one local worker shares with whoever drives MPI. */
struct mpi_worker {
    struct tide__spsc outbox; /* worker -> driver: frames to send */
    struct tide__spsc inbox;  /* driver -> worker: received batches, header in headroom */
    struct tide__spsc spent;  /* worker -> driver: received batches given back */
    struct tide__spsc sent;   /* driver -> worker: buffers whose send completed */
};

struct tide__mpi {
    MPI_Comm comm;
    int rank, ranks;
    size_t nlocal;
    struct tide__shared *shared;
    pthread_mutex_t lock;
    struct mpi_worker *w;
    /* the driver's (under lock) */
    MPI_Request *reqs;
    tide_batch **req_buf;
    int *done_idx;
    size_t npending, cappending;
    struct tide__fifo pool; /* receive buffers */
    uint64_t *frames_to, *frames_from;
};

struct pending {
    struct tide__fifo q;
};

/* A worker's own state. */
struct mpi_local {
    struct tide__mpi *m;
    struct mpi_worker *mw;
    tide_allocator *alloc;
    tide_batch **frame;      /* per rank: the frame being filled */
    struct pending *pending; /* per channel id not allocated yet */
    size_t npending;
};

struct remote_push {
    struct tide_push base;
    struct mpi_local *ml;
    int rank;
    uint32_t channel, src, dst, tag;
    uint64_t seq;
};

static inline struct tide__frame_hdr *frame_hdr(tide_batch *f)
{
    return (struct tide__frame_hdr *)f->base;
}

static inline struct tide__msg_hdr *msg_hdr(tide_batch *b)
{
    return (struct tide__msg_hdr *)(b->base + sizeof(struct tide__frame_hdr));
}

/* ---------------------------------------------------------------- driver side */

static void post_send(struct tide__mpi *m, tide_batch *f)
{
    if (m->npending == m->cappending) {
        size_t cap = m->cappending ? 2 * m->cappending : 64;
        MPI_Request *r = realloc(m->reqs, cap * sizeof *r);
        if (r)
            m->reqs = r;
        tide_batch **bufs = realloc(m->req_buf, cap * sizeof *bufs);
        if (bufs)
            m->req_buf = bufs;
        int *idx = realloc(m->done_idx, cap * sizeof *idx);
        if (idx)
            m->done_idx = idx;
        if (!r || !bufs || !idx)
            tide__fatal("out of memory tracking MPI sends");
        m->cappending = cap;
    }
    int rc = MPI_Isend(f->base, (int)f->bytes, MPI_BYTE, f->peer_rank, TAG_FRAME, m->comm,
                       &m->reqs[m->npending]);
    if (rc != MPI_SUCCESS)
        tide__fatal("MPI_Isend of %zu bytes from rank %d to rank %d failed", f->bytes,
                    m->rank, f->peer_rank);
    m->req_buf[m->npending++] = f;
    m->frames_to[f->peer_rank]++;
}

static void complete_sends(struct tide__mpi *m)
{
    if (!m->npending)
        return;
    int outcount = 0;
    if (MPI_Testsome((int)m->npending, m->reqs, &outcount, m->done_idx, MPI_STATUSES_IGNORE) !=
        MPI_SUCCESS)
        tide__fatal("MPI_Testsome failed on rank %d", m->rank);
    if (outcount <= 0)
        return;
    for (int i = 0; i < outcount; i++) {
        tide_batch *f = m->req_buf[m->done_idx[i]];
        m->req_buf[m->done_idx[i]] = NULL;
        if (tide__spsc_push(&m->w[f->owner].sent, f) != 0)
            tide_batch_free(f);
    }
    size_t j = 0;
    for (size_t i = 0; i < m->npending; i++)
        if (m->req_buf[i]) {
            m->reqs[j] = m->reqs[i];
            m->req_buf[j++] = m->req_buf[i];
        }
    m->npending = j;
}

static tide_batch *pool_get(struct tide__mpi *m, size_t total)
{
    tide_batch *b = tide__fifo_take(&m->pool);
    if (!b && !(b = tide_batch_new(NULL, total)))
        tide__fatal("out of memory receiving %zu bytes on rank %d", total, m->rank);
    if (tide__batch_reserve(b, total) != 0)
        tide__fatal("out of memory receiving %zu bytes on rank %d", total, m->rank);
    b->len = b->bytes = 0;
    b->next = NULL;
    return b;
}

static _Noreturn void bad_frame(struct tide__mpi *m, int src, const char *what)
{
    tide__fatal("rank %d received a malformed frame from rank %d: %s", m->rank, src, what);
}

static void deliver(struct tide__mpi *m, const struct tide__msg_hdr *mh, tide_batch *b)
{
    size_t local = mh->dst - (size_t)m->rank * m->nlocal;
    b->len = mh->nrecords;
    b->bytes = mh->nbytes;
    memcpy(b->meta, mh->meta, sizeof b->meta);
    b->type = NULL;
    b->home = &m->w[local].spent;
    if (tide__spsc_push(&m->w[local].inbox, b) != 0)
        tide__fatal("out of memory delivering a message on rank %d", m->rank);
    tide__waker_notify(&m->shared->wakers[local]);
}

static void receive_frame(struct tide__mpi *m, tide_batch *buf, size_t count, int src)
{
    const size_t fh_size = sizeof(struct tide__frame_hdr), mh_size = sizeof(struct tide__msg_hdr);
    if (count < fh_size + mh_size)
        bad_frame(m, src, "shorter than its headers");
    struct tide__frame_hdr *fh = frame_hdr(buf);
    if (fh->magic != TIDE__FRAME_MAGIC)
        bad_frame(m, src, "bad magic number (not a tide frame)");
    if (fh->bytes != count || (int)fh->src_rank != src || fh->nmsgs == 0)
        bad_frame(m, src, "header disagrees with what arrived");
    size_t pos = fh_size;
    size_t lo = (size_t)m->rank * m->nlocal, src_lo = (size_t)src * m->nlocal;
    for (uint32_t k = 0; k < fh->nmsgs; k++) {
        if (pos + mh_size > count)
            bad_frame(m, src, "message header past the end");
        struct tide__msg_hdr *mh = (struct tide__msg_hdr *)(buf->base + pos);
        if (mh->dst < lo || mh->dst >= lo + m->nlocal)
            tide__fatal("rank %d received a message on channel %u for worker %u, which "
                        "runs on rank %zu, from rank %d",
                        m->rank, mh->channel, mh->dst, (size_t)mh->dst / m->nlocal, src);
        if (mh->src < src_lo || mh->src >= src_lo + m->nlocal)
            bad_frame(m, src, "source worker not on the sending rank");
        if (mh->nbytes > count - pos - mh_size || TIDE__PAD8(mh->nbytes) > count - pos - mh_size)
            tide__fatal("rank %d: message on channel %u from rank %d claims %llu bytes, more "
                        "than its frame holds", m->rank, mh->channel, src,
                        (unsigned long long)mh->nbytes);
        if (fh->nmsgs == 1) {
            deliver(m, mh, buf); /* the frame buffer becomes the batch: no copy */
            return;
        }
        tide_batch *b = pool_get(m, mh->nbytes);
        memcpy(msg_hdr(b), mh, mh_size);
        memcpy(tide__batch_data(b), buf->base + pos + mh_size, mh->nbytes);
        deliver(m, mh, b);
        pos += mh_size + TIDE__PAD8(mh->nbytes);
    }
    tide__fifo_put_front(&m->pool, buf);
}

/* Runs with `lock` held: sends what workers queued, completes sends, receives frames. */
static void progress(struct tide__mpi *m)
{
    for (size_t i = 0; i < m->nlocal; i++) {
        tide_batch *f;
        while ((f = tide__spsc_pop(&m->w[i].outbox)))
            post_send(m, f);
        while ((f = tide__spsc_pop(&m->w[i].spent)))
            tide__fifo_put_front(&m->pool, f);
    }
    complete_sends(m);
    for (int k = 0; k < RECV_BURST; k++) {
        int flag = 0, count = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, TAG_FRAME, m->comm, &flag, &msg, &st) != MPI_SUCCESS)
            tide__fatal("MPI_Improbe failed on rank %d", m->rank);
        if (!flag)
            break;
        MPI_Get_count(&st, MPI_BYTE, &count);
        tide_batch *buf = pool_get(m, (size_t)count);
        if (MPI_Mrecv(buf->base, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            tide__fatal("MPI_Mrecv of %d bytes from rank %d failed on rank %d", count,
                        st.MPI_SOURCE, m->rank);
        m->frames_from[st.MPI_SOURCE]++;
        receive_frame(m, buf, (size_t)count, st.MPI_SOURCE);
    }
}

static void try_progress(struct tide__mpi *m, struct mpi_worker *mw)
{
    /* Retry while our own frames wait: the holder may have drained outboxes before we
     * queued and be about to let go. */
    do {
        if (pthread_mutex_trylock(&m->lock) != 0)
            return;
        progress(m);
        pthread_mutex_unlock(&m->lock);
    } while (!tide__spsc_empty(&mw->outbox));
}

/* ---------------------------------------------------------------- worker side */

/* A spare buffer: sent frames come back through `sent` and join the worker's spares. */
static tide_batch *spare_buffer(struct mpi_local *ml, const tide_type *type)
{
    tide_batch *b;
    while ((b = tide__spsc_pop(&ml->mw->sent)))
        tide__spare_put(ml->alloc, b);
    return tide__spare_take(ml->alloc, type);
}

static tide_batch *new_frame(struct mpi_local *ml, int rank)
{
    tide_batch *f = spare_buffer(ml, NULL);
    if (!f && !(f = tide_batch_new(NULL, FRAME_MAX)))
        tide__fatal("out of memory building a frame");
    struct tide__frame_hdr *fh = frame_hdr(f);
    fh->magic = TIDE__FRAME_MAGIC;
    fh->nmsgs = 0;
    fh->src_rank = (uint32_t)ml->m->rank;
    fh->reserved = 0;
    f->bytes = sizeof *fh;
    f->peer_rank = rank;
    f->owner = (unsigned)(ml->mw - ml->m->w);
    return f;
}

static void queue_frame(struct mpi_local *ml, tide_batch *f)
{
    frame_hdr(f)->bytes = f->bytes;
    if (tide__spsc_push(&ml->mw->outbox, f) != 0)
        tide__fatal("out of memory queueing a frame");
    try_progress(ml->m, ml->mw);
}

static void flush_frame(struct mpi_local *ml, int rank)
{
    tide_batch *f = ml->frame[rank];
    if (f && frame_hdr(f)->nmsgs) {
        ml->frame[rank] = NULL;
        queue_frame(ml, f);
    }
}

static void remote_send(tide_push *p, tide_batch **bp)
{
    struct remote_push *rp = (struct remote_push *)p;
    struct mpi_local *ml = rp->ml;
    tide_batch *b = bp ? *bp : NULL;
    if (!b) {
        flush_frame(ml, rp->rank);
        return;
    }
    if (b->len == 0)
        return;
    struct tide__msg_hdr mh = { rp->channel, rp->src, rp->dst, rp->tag, rp->seq++,
                                b->len, b->bytes, { 0 } };
    memcpy(mh.meta, b->meta, sizeof mh.meta);
    size_t padded = TIDE__PAD8(b->bytes);
    if (b->bytes >= LARGE) {
        flush_frame(ml, rp->rank); /* keeps this sender's messages in order */
        memset(tide__batch_data(b) + b->bytes, 0, padded - b->bytes);
        tide_batch *f = b;
        memcpy(msg_hdr(f), &mh, sizeof mh);
        const tide_type *type = b->type;
        struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, 1, (uint32_t)ml->m->rank, 0, 0 };
        memcpy(frame_hdr(f), &fh, sizeof fh);
        f->bytes = TIDE__HEADROOM + padded;
        f->peer_rank = rp->rank;
        f->owner = (unsigned)(ml->mw - ml->m->w);
        queue_frame(ml, f);
        *bp = spare_buffer(ml, type);
        return;
    }
    size_t need = sizeof mh + padded;
    tide_batch *f = ml->frame[rp->rank];
    if (f && f->bytes + need > FRAME_MAX) {
        flush_frame(ml, rp->rank);
        f = NULL;
    }
    if (!f)
        f = ml->frame[rp->rank] = new_frame(ml, rp->rank);
    if (tide__batch_reserve(f, f->bytes + need) != 0)
        tide__fatal("out of memory building a frame");
    unsigned char *at = f->base + f->bytes;
    memcpy(at, &mh, sizeof mh);
    memcpy(at + sizeof mh, tide__batch_data(b), b->bytes);
    memset(at + sizeof mh + b->bytes, 0, padded - b->bytes);
    f->bytes += need;
    frame_hdr(f)->nmsgs++;
    tide_batch_clear(b);
}

static struct mpi_local *local_of(tide_allocator *a)
{
    struct mpi_local *ml = a->backend;
    if (ml)
        return ml;
    ml = calloc(1, sizeof *ml);
    if (ml)
        ml->frame = calloc((size_t)a->shared->mpi->ranks, sizeof *ml->frame);
    if (!ml || !ml->frame)
        tide__fatal("out of memory starting worker %zu", a->index);
    ml->m = a->shared->mpi;
    ml->mw = &ml->m->w[a->local];
    ml->alloc = a;
    a->backend = ml;
    return ml;
}

static _Noreturn void bad_message(tide_allocator *a, const struct tide__msg_hdr *mh,
                                  const char *what)
{
    tide__fatal("worker %zu (rank %zu): message on channel %u from worker %u (rank %zu): %s",
                a->index, a->rank, mh->channel, mh->src, (size_t)mh->src / a->nlocal, what);
}

static void route(tide_allocator *a, struct tide__chan *ch, tide_batch *b)
{
    const struct tide__msg_hdr *mh = msg_hdr(b);
    if (mh->type_tag != tide__type_tag(ch->type)) {
        char what[160];
        snprintf(what, sizeof what, "its records are not of this worker's type '%s'",
                 ch->type->name);
        bad_message(a, mh, what);
    }
    if (ch->type->size && mh->nbytes != mh->nrecords * ch->type->size)
        bad_message(a, mh, "its length is not a whole number of records");
    if (mh->seq != ch->pull.expect_seq[mh->src]) {
        char what[160];
        snprintf(what, sizeof what, "sequence number %llu where %llu was expected",
                 (unsigned long long)mh->seq, (unsigned long long)ch->pull.expect_seq[mh->src]);
        bad_message(a, mh, what);
    }
    ch->pull.expect_seq[mh->src]++;
    b->type = ch->type;
    tide__fifo_put(&ch->pull.remote, b);
}

static void mpi_receive(tide_allocator *a)
{
    struct mpi_local *ml = local_of(a);
    try_progress(ml->m, ml->mw);
    tide_batch *b;
    while ((b = tide__spsc_pop(&ml->mw->inbox))) {
        const struct tide__msg_hdr *mh = msg_hdr(b);
        if (mh->channel < a->nchans) {
            route(a, a->chans[mh->channel], b);
            continue;
        }
        if (mh->channel >= MAX_CHANNELS)
            bad_message(a, mh, "no worker allocates that many channels");
        /* Not allocated here yet: keep it until it is (channels align by creation order,
         * and another worker may simply be ahead of us). */
        if (mh->channel >= ml->npending) {
            size_t n = ml->npending ? ml->npending : 8;
            while (n <= mh->channel)
                n *= 2;
            struct pending *p = realloc(ml->pending, n * sizeof *p);
            if (!p)
                tide__fatal("out of memory holding early messages");
            memset(p + ml->npending, 0, (n - ml->npending) * sizeof *p);
            ml->pending = p;
            ml->npending = n;
        }
        tide__fifo_put(&ml->pending[mh->channel].q, b);
    }
}

static void mpi_release(tide_allocator *a)
{
    struct mpi_local *ml = local_of(a);
    for (int r = 0; r < ml->m->ranks; r++)
        flush_frame(ml, r);
    try_progress(ml->m, ml->mw);
}

static void mpi_park(tide_allocator *a, int64_t timeout_ns)
{
    /* MPI cannot wake a sleeping thread, so a parked worker polls: briefly at full speed
     * (a reply is often microseconds away), then sleeping with a growing interval so that
     * an idle worker costs next to no CPU. Local deliveries still wake it at once. */
    struct mpi_local *ml = local_of(a);
    struct tide__waker *wk = &a->shared->wakers[a->local];
    uint64_t start = tide__now_ns();
    int64_t nap = 20000;
    for (;;) {
        try_progress(ml->m, ml->mw);
        if (atomic_load(&wk->events) != a->seen_events)
            return;
        int64_t waited = (int64_t)(tide__now_ns() - start);
        if (timeout_ns >= 0 && waited >= timeout_ns)
            return;
        if (waited < 50000) {
            sched_yield();
            continue;
        }
        int64_t t = timeout_ns >= 0 && timeout_ns - waited < nap ? timeout_ns - waited : nap;
        tide__waker_wait(wk, a->seen_events, t);
        if (nap < 1000000)
            nap *= 2;
    }
}

static int mpi_allocate_remote(tide_allocator *a, struct tide__chan *ch)
{
    struct mpi_local *ml = local_of(a);
    size_t remote = a->peers - a->nlocal;
    struct remote_push *rps = calloc(remote, sizeof *rps);
    uint64_t *seq = calloc(a->peers, sizeof *seq);
    if (!rps || !seq) {
        free(rps);
        free(seq);
        return TIDE_ENOMEM;
    }
    /* The in-rank pushes live in push_mem; the remote ones are appended to it. */
    size_t k = 0;
    for (size_t t = 0; t < a->peers; t++) {
        if (t / a->nlocal == a->rank)
            continue;
        struct remote_push *rp = &rps[k++];
        rp->base.send = remote_send;
        rp->ml = ml;
        rp->rank = (int)(t / a->nlocal);
        rp->channel = (uint32_t)ch->id;
        rp->src = (uint32_t)a->index;
        rp->dst = (uint32_t)t;
        rp->tag = tide__type_tag(ch->type);
        ch->pushes[t] = &rp->base;
    }
    ch->pull.expect_seq = seq;
    ch->remote_mem = rps;
    /* Messages that arrived before this worker allocated the channel. */
    if (ch->id < ml->npending) {
        tide_batch *b;
        while ((b = tide__fifo_take(&ml->pending[ch->id].q)))
            route(a, ch, b);
    }
    return 0;
}

static void mpi_finish(tide_allocator *a)
{
    struct mpi_local *ml = a->backend;
    if (!ml)
        return;
    mpi_release(a);
    mpi_receive(a);
    for (size_t c = 0; c < ml->npending; c++)
        if (ml->pending[c].q.count) {
            const struct tide__msg_hdr *mh = msg_hdr(ml->pending[c].q.head);
            tide__fatal("worker %zu (rank %zu) received %zu message(s) on channel %zu, which "
                        "it never allocated (first from worker %u on rank %zu): every worker "
                        "must allocate the same channels in the same order",
                        a->index, a->rank, ml->pending[c].q.count, c, mh->src,
                        (size_t)mh->src / a->nlocal);
        }
    for (int r = 0; r < ml->m->ranks; r++)
        if (ml->frame[r])
            tide_batch_free(ml->frame[r]);
    free(ml->pending);
    free(ml->frame);
    free(ml);
    a->backend = NULL;
}

const struct tide__alloc_ops tide__alloc_mpi = { "mpi", mpi_allocate_remote, mpi_receive,
                                                 mpi_release, mpi_park, mpi_finish };

/* ---------------------------------------------------------------- start and stop */

int tide__mpi_transport_new(struct tide__shared *s, MPI_Comm comm)
{
    struct tide__mpi *m = calloc(1, sizeof *m);
    if (!m)
        return TIDE_ENOMEM;
    m->comm = comm;
    MPI_Comm_rank(comm, &m->rank);
    MPI_Comm_size(comm, &m->ranks);
    m->nlocal = s->nlocal;
    m->shared = s;
    m->w = calloc(s->nlocal, sizeof *m->w);
    m->frames_to = calloc((size_t)m->ranks, sizeof *m->frames_to);
    m->frames_from = calloc((size_t)m->ranks, sizeof *m->frames_from);
    if (!m->w || !m->frames_to || !m->frames_from || pthread_mutex_init(&m->lock, NULL) != 0)
        goto nomem;
    for (size_t i = 0; i < s->nlocal; i++) {
        struct mpi_worker *w = &m->w[i];
        if (tide__spsc_init(&w->outbox) || tide__spsc_init(&w->inbox) ||
            tide__spsc_init(&w->spent) || tide__spsc_init(&w->sent))
            goto nomem; /* (a few nodes leak on this path; we are out of memory anyway) */
    }
    s->mpi = m;
    return 0;
nomem:
    free(m->w);
    free(m->frames_to);
    free(m->frames_from);
    free(m);
    return TIDE_ENOMEM;
}

static void drain_free(struct tide__spsc *q)
{
    void *b;
    while ((b = tide__spsc_pop(q)))
        tide_batch_free(b);
    tide__spsc_destroy(q);
}

void tide__mpi_transport_free(struct tide__shared *s)
{
    struct tide__mpi *m = s->mpi;
    if (!m)
        return;
    /* Every rank tells every other how many frames it sent; a rank stops only when it has
     * received all of them and all its own sends completed, so no message is cut off and
     * MPI_Finalize never waits on an unmatched send. */
    uint64_t *expect = calloc((size_t)m->ranks, sizeof *expect);
    if (!expect)
        tide__fatal("out of memory stopping the transport");
    MPI_Request req;
    pthread_mutex_lock(&m->lock);
    progress(m);
    MPI_Ialltoall(m->frames_to, 1, MPI_UINT64_T, expect, 1, MPI_UINT64_T, m->comm, &req);
    for (;;) {
        int done = 0;
        progress(m);
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        bool all = done && m->npending == 0;
        for (int r = 0; all && r < m->ranks; r++)
            all = m->frames_from[r] == expect[r];
        if (all)
            break;
        sched_yield();
    }
    pthread_mutex_unlock(&m->lock);
    free(expect);
    for (size_t i = 0; i < m->nlocal; i++) {
        drain_free(&m->w[i].outbox);
        drain_free(&m->w[i].inbox);
        drain_free(&m->w[i].spent);
        drain_free(&m->w[i].sent);
    }
    tide__fifo_free_all(&m->pool);
    free(m->reqs);
    free(m->req_buf);
    free(m->done_idx);
    free(m->frames_to);
    free(m->frames_from);
    free(m->w);
    pthread_mutex_destroy(&m->lock);
    free(m);
    s->mpi = NULL;
}
