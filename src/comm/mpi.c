/* SPDX-License-Identifier: MIT */
/*
 * The mpi backend, worker side: the in-rank queues of alloc.c plus pushes to workers of
 * other ranks, which write frames (wire_internal.h) for the rank's MPI driver
 * (mpi_driver.c), and the routing of what the driver delivers to the channels' pulls.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

#define LARGE 4096 /* payloads this large travel in place, in a frame of their own */
#define SPLIT_COALESCE (16 * 1024) /* ... split messages this large (see send_msg) */
/* A parked worker polls (yielding its core) this long before it starts to nap. Shorter
 * windows lock two workers that wait for each other into a pattern where every reply
 * waits out a nap (measured: 50 us gave 4k-70k progress rounds/s between 2 ranks in most
 * runs, against 1.7M when neither naps). */
#define POLL_NS 1000000

struct pending {
    struct tide__fifo q;
};

/* A worker's own state. */
struct mpi_local {
    struct tide__mpi *m;
    struct tide__mpi_worker *mw;
    tide_allocator *alloc;
    tide_batch **frame;      /* per rank: the frame being filled */
    /* The ranks given a frame since the last release, once each (listed[r]): a release
     * sends those, so its cost grows with the ranks written to, not the job's size. */
    uint32_t *open;
    unsigned char *listed;
    size_t nopen;
    struct pending *pending; /* per channel id not allocated yet */
    size_t npending;
    unsigned char *pack;     /* a cast's changes packed (tide__rank_cast) */
    size_t pack_cap;
};

/* A worker's pushes of one channel to the workers of other ranks, in a block per rank: a
 * push is two words (its function and its block), and its target is its place in the
 * block, so a remote worker costs 16 bytes per channel here. A lazy channel makes a rank's
 * block when a push towards it is first asked for; the others make every block at once
 * (and the channel's array of a pointer per worker). */
struct remote_chan;
struct rank_block {
    struct remote_chan *rc;
    size_t rank;
    struct remote_push {
        struct tide_push base;
        struct rank_block *blk;
    } push[]; /* one per worker of the rank */
};
struct remote_chan {
    struct mpi_local *ml;
    const struct tide__chan *ch;
    uint32_t channel, src, type_tag;
    size_t nlocal, ranks;
    size_t counted; /* peer bytes counted for this channel */
    void *eager;    /* not lazy: every block, in one allocation */
    struct rank_block *blocks[]; /* per rank (ours and, lazily, unused ones NULL) */
};

/* ---------------------------------------------------------------- worker side */

/* A spare buffer: sent frames come back through `sent` and join the worker's spares. */
static tide_batch *spare_buffer(struct mpi_local *ml, const tide_type *type, size_t bytes)
{
    tide_batch *b;
    while ((b = tide__spsc_pop(&ml->mw->sent)))
        tide__spare_put(ml->alloc, b);
    return tide__spare_take(ml->alloc, type, bytes);
}

static tide_batch *new_frame(struct mpi_local *ml, int rank)
{
    tide_batch *f = spare_buffer(ml, NULL, TIDE__POST_BYTES);
    if (!f && !(f = tide_batch_new(NULL, TIDE__POST_BYTES)))
        tide__fatal("out of memory building a frame");
    if (tide__batch_reserve(f, TIDE__POST_BYTES) != 0)
        tide__fatal("out of memory building a frame");
    struct tide__frame_hdr *fh = tide__frame_hdr(f);
    fh->magic = TIDE__FRAME_MAGIC;
    fh->nmsgs = 0;
    fh->src_rank = (uint32_t)ml->m->rank;
    fh->seq = 0;
    f->bytes = sizeof *fh;
    f->peer_rank = rank;
    f->mpi_tag = TIDE__TAG_SMALL;
    f->owner = (unsigned)(ml->mw - ml->m->w);
    return f;
}

static void queue_frame(struct mpi_local *ml, tide_batch *f)
{
    tide__frame_hdr(f)->bytes = f->bytes;
    if (tide__spsc_push(&ml->mw->outbox, f) != 0)
        tide__fatal("out of memory queueing a frame");
    tide__mpi_try_send(ml->m, ml->mw);
}

static void flush_frame(struct mpi_local *ml, int rank)
{
    tide_batch *f = ml->frame[rank];
    if (f && tide__frame_hdr(f)->nmsgs) {
        ml->frame[rank] = NULL;
        queue_frame(ml, f);
    }
}

/* Appends a message (header, then @p payload padded to 8 bytes) to the frame for @p rank,
 * sending the frame first when the message would not fit. */
static void append(struct mpi_local *ml, int rank, const struct tide__msg_hdr *mh,
                   const void *payload, size_t bytes)
{
    size_t padded = TIDE__PAD8(bytes), need = tide__wire_header_bytes(mh) + padded;
    tide_batch *f = ml->frame[rank];
    if (f && f->bytes + need > TIDE__POST_BYTES) {
        flush_frame(ml, rank);
        f = NULL;
    }
    if (!f) {
        f = ml->frame[rank] = new_frame(ml, rank);
        if (!ml->listed[rank]) {
            ml->listed[rank] = 1;
            ml->open[ml->nopen++] = (uint32_t)rank;
        }
    }
    tide__frame_put(f, mh, payload, bytes);
}

/* Three ways to another rank: a small batch is copied into the frame being filled (and
 * coalesced with other small messages); a batch of LARGE bytes or more is sent from its own
 * buffer as a frame of its own; one too large for a preposted receive is announced in the
 * frame stream and sent from its buffer on this worker's large tag. */
static void send_msg(struct remote_chan *rc, size_t dst, uint32_t flags, tide_batch **bp)
{
    struct mpi_local *ml = rc->ml;
    int rank = (int)(dst / rc->nlocal);
    tide_batch *b = bp ? *bp : NULL;
    if (!b) {
        flush_frame(ml, rank);
        return;
    }
    if (b->len == 0)
        return;
    /* No per-stream number: frames are numbered per rank pair and handled in order, and
     * one worker's messages to a rank ride its frames in order. */
    struct tide__msg_hdr mh = { rc->channel, rc->src, (uint32_t)dst, rc->type_tag, 0,
                                b->len, b->bytes, flags, 0, { 0 } };
    memcpy(mh.meta, b->meta, sizeof mh.meta);
    size_t padded = TIDE__PAD8(b->bytes);
    if (rc->ch->progress) {
        atomic_fetch_add_explicit(&ml->m->progress_msgs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ml->m->progress_bytes, sizeof mh + padded,
                                  memory_order_relaxed);
    }
    /* A split message was copied once already (sorted by worker): coalescing it too costs
     * a copy of a few KiB where a frame of its own would cost a send and a buffer in flight
     * (exchange 8 x 8: twice the sends, 1.7x the RSS). */
    if (b->bytes < (flags & TIDE__MSG_SPLIT ? SPLIT_COALESCE : LARGE)) {
        append(ml, rank, &mh, tide__batch_data(b), b->bytes);
        tide_batch_clear(b);
        return;
    }
    int tag = TIDE__TAG_SMALL;
    if (TIDE__HEADROOM + padded > TIDE__POST_BYTES) {
        struct tide__msg_hdr note = mh;
        note.flags |= TIDE__MSG_ANNOUNCE;
        append(ml, rank, &note, NULL, 0);
        tag = tide__mpi_shm_carries(ml->m, rank, TIDE__HEADROOM + padded)
                  ? TIDE__TAG_RING
                  : TIDE__TAG_LARGE_BASE + (int)(ml->mw - ml->m->w);
    }
    flush_frame(ml, rank); /* keeps this sender's messages in order */
    memset(tide__batch_data(b) + b->bytes, 0, padded - b->bytes);
    const tide_type *type = b->type;
    struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, 1, (uint32_t)ml->m->rank, 0,
                                  TIDE__HEADROOM + padded };
    memcpy(tide__frame_hdr(b), &fh, sizeof fh);
    memcpy(tide__msg_hdr(b), &mh, sizeof mh);
    b->bytes = TIDE__HEADROOM + padded;
    b->peer_rank = rank;
    b->mpi_tag = tag;
    b->owner = (unsigned)(ml->mw - ml->m->w);
    size_t bytes = b->bytes - TIDE__HEADROOM; /* b is the driver's once queued */
    queue_frame(ml, b);
    *bp = spare_buffer(ml, type, bytes);
}

static void remote_send(tide_push *p, tide_batch **bp)
{
    struct remote_push *rp = (struct remote_push *)p;
    struct rank_block *blk = rp->blk;
    send_msg(blk->rc, blk->rank * blk->rc->nlocal + (size_t)(rp - blk->push), 0, bp);
}

void tide__remote_send(tide_allocator *a, int channel, size_t worker, bool split,
                       tide_batch **batch)
{
    send_msg(a->chans[channel]->remote_mem, worker, split ? TIDE__MSG_SPLIT : 0, batch);
}

/* A worker's group of a split message, as a batch of its own (the view is given back). */
static tide_batch *split_copy(struct mpi_local *ml, tide_batch *v)
{
    tide_batch *c = spare_buffer(ml, NULL, v->bytes);
    if (!c && !(c = tide_batch_new(NULL, v->bytes)))
        tide__fatal("out of memory receiving a message");
    if (tide__batch_reserve(c, v->bytes) != 0)
        tide__fatal("out of memory receiving a message");
    struct tide__msg_hdr *mh = tide__msg_hdr(c);
    memcpy(mh, tide__msg_hdr(v), sizeof *mh);
    mh->flags &= ~TIDE__MSG_SPLIT;
    mh->dst = (uint32_t)ml->alloc->index;
    mh->nrecords = v->len;
    mh->nbytes = v->bytes;
    memcpy(tide__batch_data(c), tide__batch_data(v) + v->view_off, v->bytes);
    c->len = v->len;
    c->bytes = v->bytes;
    memcpy(c->meta, v->meta, sizeof c->meta);
    c->type = NULL;
    tide__give_back(ml->alloc, v);
    return c;
}

static struct mpi_local *local_of(tide_allocator *a)
{
    struct mpi_local *ml = a->backend;
    if (ml)
        return ml;
    size_t ranks = (size_t)a->shared->mpi->ranks;
    ml = calloc(1, sizeof *ml);
    if (ml) {
        ml->frame = calloc(ranks, sizeof *ml->frame);
        ml->open = calloc(ranks, sizeof *ml->open);
        ml->listed = calloc(ranks, 1);
    }
    if (!ml || !ml->frame || !ml->open || !ml->listed)
        tide__fatal("out of memory starting worker %zu", a->index);
    ml->m = a->shared->mpi;
    ml->mw = &ml->m->w[a->local];
    tide__mpi_peer_bytes(ml->m, (int64_t)(ranks * (sizeof *ml->frame + sizeof *ml->open + 1)));
    ml->alloc = a;
    a->backend = ml;
    return ml;
}

void tide__rank_cast(tide_allocator *a, int channel, const tide_batch *b, uint64_t seq)
{
    struct tide__mpi *m = a->shared->mpi;
    if (!m || b->len == 0)
        return;
    struct mpi_local *ml = local_of(a);
    const struct tide__chan *ch = a->chans[channel];
    /* Along a tree the driver merges casts before they leave, and packs what it sends. */
    size_t bytes = b->bytes;
    const unsigned char *data =
        m->tree_k ? NULL : tide__wire_pack_batch(b, &ml->pack, &ml->pack_cap, &bytes);
    uint32_t flags = TIDE__MSG_FANOUT | (data ? TIDE__MSG_PACKED : 0);
    if (!data)
        data = tide__batch_data(b);
    size_t padded = TIDE__PAD8(bytes);
    struct tide__msg_hdr mh = { (uint32_t)channel, (uint32_t)(a->rank * a->nlocal), 0,
                                ch->type_tag, seq, b->len, bytes, flags, 0, { 0 } };
    memcpy(mh.meta, b->meta, sizeof mh.meta);
    if (ch->progress && !m->tree_k) { /* (the driver counts what leaves along a tree) */
        uint64_t peers = (uint64_t)m->ranks - 1;
        bool small = TIDE__HEADROOM + padded <= TIDE__POST_BYTES; /* large: a full header */
        atomic_fetch_add_explicit(&m->progress_msgs, peers, memory_order_relaxed);
        atomic_fetch_add_explicit(
            &m->progress_bytes,
            peers * ((small ? tide__wire_header_bytes(&mh) : sizeof mh) + padded),
            memory_order_relaxed);
    }
    if (!m->tree_k && TIDE__HEADROOM + padded <= TIDE__POST_BYTES) {
        for (size_t r = 0; r < a->ranks; r++) {
            if (r == a->rank)
                continue;
            mh.dst = (uint32_t)(r * a->nlocal);
            append(ml, (int)r, &mh, data, bytes);
        }
        return;
    }
    /* Large, or along a tree: the driver sends it (mpi_cast.c). */
    tide_batch *c = spare_buffer(ml, b->type, padded);
    if (!c && !(c = tide_batch_new(b->type, padded)))
        tide__fatal("out of memory sending on channel %d", channel);
    if (tide__batch_reserve(c, padded) != 0)
        tide__fatal("out of memory sending on channel %d", channel);
    memcpy(tide__batch_data(c), data, bytes);
    memset(tide__batch_data(c) + bytes, 0, padded - bytes);
    memcpy(tide__msg_hdr(c), &mh, sizeof mh);
    c->owner = (unsigned)a->local; /* the driver gives it back to us when it is sent */
    pthread_mutex_lock(&m->casts_mu);
    tide__fifo_put(&m->casts, c);
    atomic_fetch_add_explicit(&m->ncasts, 1, memory_order_release);
    pthread_mutex_unlock(&m->casts_mu);
}

void tide__rank_cast_compact(tide_allocator *a, size_t (*compact)(void *, size_t, size_t))
{
    if (a->shared->mpi)
        atomic_store_explicit(&a->shared->mpi->cast_compact, compact, memory_order_release);
}

void tide__rank_cast_kick(tide_allocator *a)
{
    if (a->shared->mpi)
        tide_allocator_release(a);
}

static _Noreturn void bad_message(tide_allocator *a, const struct tide__msg_hdr *mh,
                                  const char *what)
{
    tide__fatal("worker %zu (rank %zu): message on channel %u from worker %u (rank %zu): %s",
                a->index, a->rank, mh->channel, mh->src, (size_t)mh->src / a->nlocal, what);
}

/* Casts held back per channel at most: more means one was lost, not late. */
#define MAX_EARLY 4096

/* The cast from worker @p src numbered @p seq among those that came early, if there. */
static tide_batch *take_early(struct tide__fifo *f, uint32_t src, uint64_t seq)
{
    tide_batch *prev = NULL;
    for (tide_batch *b = f->head; b; prev = b, b = b->next) {
        const struct tide__msg_hdr *mh = tide__msg_hdr(b);
        if (mh->src != src || mh->seq != seq)
            continue;
        if (prev)
            prev->next = b->next;
        else
            f->head = b->next;
        if (f->tail == b)
            f->tail = prev;
        f->count--;
        b->next = NULL;
        return b;
    }
    return NULL;
}

static bool along_tree(const tide_allocator *a)
{
    return a->shared->mpi->tree_k != 0;
}

static void route(tide_allocator *a, struct tide__chan *ch, tide_batch *b)
{
    const struct tide__msg_hdr *mh = tide__msg_hdr(b);
    if (mh->type_tag != ch->type_tag) {
        char what[160];
        snprintf(what, sizeof what, "its records are not of this worker's type '%s'",
                 ch->type->name);
        bad_message(a, mh, what);
    }
    const char *bad = tide__wire_records(ch->type, mh->nrecords, tide__batch_data(b),
                                         mh->nbytes);
    if (bad)
        bad_message(a, mh, bad);
    if (!(mh->flags & TIDE__MSG_FANOUT)) {
        b->type = ch->type;
        tide__fifo_put(&ch->pull.remote, b);
        return;
    }
    /* Along a tree only the driver sends casts, and they arrive in order. */
    if (along_tree(a)) {
        b->type = ch->type;
        tide__fifo_put(&ch->pull.remote, b);
        return;
    }
    /* Straight, a rank's casts are numbered (they leave through several workers' frames). */
    uint64_t *expect = &ch->pull.expect_seq[mh->src / a->nlocal];
    if (mh->seq != *expect) {
        if (mh->seq > *expect && ch->pull.early.count < MAX_EARLY) {
            tide__fifo_put(&ch->pull.early, b); /* an earlier cast is still on its way */
            return;
        }
        char what[160];
        snprintf(what, sizeof what, "sequence number %llu where %llu was expected",
                 (unsigned long long)mh->seq, (unsigned long long)*expect);
        bad_message(a, mh, what);
    }
    for (;;) {
        ++*expect;
        b->type = ch->type;
        tide__fifo_put(&ch->pull.remote, b);
        if (!ch->pull.early.count || !(b = take_early(&ch->pull.early, mh->src, *expect)))
            return;
        mh = tide__msg_hdr(b);
    }
}

static void mpi_receive(tide_allocator *a)
{
    struct mpi_local *ml = local_of(a);
    tide__mpi_try_progress(ml->m, ml->mw);
    tide_batch *b;
    while ((b = tide__spsc_pop(&ml->mw->inbox))) {
        if (b->shared && tide__msg_hdr(b)->flags & TIDE__MSG_SPLIT)
            b = split_copy(ml, b);
        const struct tide__msg_hdr *mh = tide__msg_hdr(b);
        if (mh->channel < a->nchans) {
            if (a->chans[mh->channel] && a->chans[mh->channel]->closed) {
                tide__give_back(a, b); /* for a dataflow this worker has finished or dropped */
                continue;
            }
            if (!a->chans[mh->channel])
                bad_message(a, mh, "this worker refused that channel: it allocated it with "
                                   "another type");
            route(a, a->chans[mh->channel], b);
            continue;
        }
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
    bool queued = false;
    for (size_t i = 0; i < ml->nopen; i++) {
        uint32_t r = ml->open[i];
        ml->listed[r] = 0;
        tide_batch *f = ml->frame[r];
        if (f && tide__frame_hdr(f)->nmsgs) {
            ml->frame[r] = NULL;
            tide__frame_hdr(f)->bytes = f->bytes;
            if (tide__spsc_push(&ml->mw->outbox, f) != 0)
                tide__fatal("out of memory queueing a frame");
            queued = true;
        }
    }
    ml->nopen = 0;
    /* The frames are posted at once, all together; their replies are looked for at the
     * next receive (a poll costs as much as a send here). */
    if (queued)
        tide__mpi_try_send(ml->m, ml->mw);
}

static void mpi_park(tide_allocator *a, int64_t timeout_ns)
{
    /* MPI cannot wake a sleeping thread, so a parked worker polls: briefly at full speed
     * (a reply is often microseconds away), then sleeping with a growing interval so that
     * an idle worker costs next to no CPU. Local deliveries still wake it at once. */
    struct mpi_local *ml = local_of(a);
    struct tide__waker *wk = &a->shared->wakers[a->local];
    if (ml->m->own_thread) {
        /* The communication thread delivers and wakes us: nothing to poll. */
        tide__waker_wait(wk, a->seen_events, timeout_ns);
        return;
    }
    uint64_t start = tide__now_ns();
    int64_t nap = 20000;
    for (;;) {
        tide__mpi_try_progress(ml->m, ml->mw);
        if (atomic_load(&wk->events) != a->seen_events)
            return;
        int64_t waited = (int64_t)(tide__now_ns() - start);
        if (timeout_ns >= 0 && waited >= timeout_ns)
            return;
        /* Keep polling while our rank has sends in flight: some need the sender's MPI
         * progress to complete, and a sleeping sender would hold its peer up. */
        if (waited < POLL_NS ||
            atomic_load_explicit(&ml->m->sending, memory_order_relaxed) > 0) {
            sched_yield();
            continue;
        }
        int64_t t = timeout_ns >= 0 && timeout_ns - waited < nap ? timeout_ns - waited : nap;
        tide__waker_wait(wk, a->seen_events, t);
        if (nap < 1000000)
            nap *= 2;
    }
}

static size_t block_bytes(size_t nlocal)
{
    return sizeof(struct rank_block) + nlocal * sizeof(struct remote_push);
}

static void block_init(struct remote_chan *rc, struct rank_block *blk, size_t rank)
{
    blk->rc = rc;
    blk->rank = rank;
    for (size_t k = 0; k < rc->nlocal; k++)
        blk->push[k] = (struct remote_push){ { remote_send }, blk };
}

static void count_peer_bytes(struct remote_chan *rc, size_t bytes)
{
    rc->counted += bytes;
    tide__mpi_peer_bytes(rc->ml->m, (int64_t)bytes);
}

static int mpi_allocate_remote(tide_allocator *a, struct tide__chan *ch)
{
    struct mpi_local *ml = local_of(a);
    size_t ranks = a->ranks, bb = block_bytes(a->nlocal);
    struct remote_chan *rc = calloc(1, sizeof *rc + ranks * sizeof rc->blocks[0]);
    uint64_t *seq = calloc(ranks, sizeof *seq); /* casts expected, per source rank */
    if (rc && !ch->lazy)
        rc->eager = malloc((ranks - 1) * bb);
    if (!rc || !seq || (!ch->lazy && !rc->eager)) {
        free(rc);
        free(seq);
        return TIDE_ENOMEM;
    }
    rc->ml = ml;
    rc->ch = ch;
    rc->channel = (uint32_t)ch->id;
    rc->src = (uint32_t)a->index;
    rc->type_tag = ch->type_tag;
    rc->nlocal = a->nlocal;
    rc->ranks = ranks;
    /* Per-peer bytes: the block pointers and the cast numbers per rank, then the blocks
     * and, not lazy, the channel's push array. */
    count_peer_bytes(rc, ranks * (sizeof rc->blocks[0] + sizeof *seq));
    if (!ch->lazy) {
        unsigned char *at = rc->eager;
        for (size_t r = 0; r < ranks; r++) {
            if (r == a->rank)
                continue;
            struct rank_block *blk = rc->blocks[r] = (struct rank_block *)at;
            at += bb;
            block_init(rc, blk, r);
            for (size_t k = 0; k < a->nlocal; k++)
                ch->pushes[r * a->nlocal + k] = &blk->push[k].base;
        }
        count_peer_bytes(rc, (ranks - 1) * bb + a->peers * sizeof(tide_push *));
    }
    ch->pull.expect_seq = seq;
    ch->remote_mem = rc;
    /* Messages that arrived before this worker allocated the channel. */
    if (ch->id < ml->npending) {
        tide_batch *b;
        while ((b = tide__fifo_take(&ml->pending[ch->id].q)))
            route(a, ch, b);
    }
    return 0;
}

static tide_push *mpi_remote_push(tide_allocator *a, struct tide__chan *ch, size_t target)
{
    struct remote_chan *rc = ch->remote_mem;
    size_t r = target / a->nlocal;
    if (!rc->blocks[r]) {
        struct rank_block *blk = malloc(block_bytes(a->nlocal));
        if (!blk)
            return NULL;
        block_init(rc, blk, r);
        rc->blocks[r] = blk;
        count_peer_bytes(rc, block_bytes(a->nlocal));
    }
    return &rc->blocks[r]->push[target % a->nlocal].base;
}

/* chan_close frees what mpi_allocate_remote made: it is uncounted here. */
static void mpi_close_remote(tide_allocator *a, struct tide__chan *ch)
{
    struct remote_chan *rc = ch->remote_mem;
    if (rc)
        tide__mpi_peer_bytes(local_of(a)->m, -(int64_t)rc->counted);
}

static void mpi_free_remote(void *mem)
{
    struct remote_chan *rc = mem;
    if (rc->eager)
        free(rc->eager);
    else
        for (size_t r = 0; r < rc->ranks; r++)
            free(rc->blocks[r]);
    free(rc);
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
            const struct tide__msg_hdr *mh = tide__msg_hdr(ml->pending[c].q.head);
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
    free(ml->pack);
    free(ml->frame);
    free(ml->open);
    free(ml->listed);
    free(ml);
    a->backend = NULL;
}

const struct tide__alloc_ops tide__alloc_mpi = {
    .name = "mpi", .allocate_remote = mpi_allocate_remote, .receive = mpi_receive,
    .release = mpi_release, .park = mpi_park, .finish = mpi_finish,
    .close_remote = mpi_close_remote, .remote_push = mpi_remote_push,
    .free_remote = mpi_free_remote,
};

