/* SPDX-License-Identifier: MIT */
/*
 * The MPI driver of a rank: the one path through which the rank's workers reach MPI.
 *
 * Open MPI here is about 100x slower when two threads of a rank call it at once, so one
 * thread at a time drives MPI: whichever worker takes `lock` (MPI_THREAD_SERIALIZED) runs
 * progress() for the whole rank. Workers never wait for the lock: they queue frames in
 * their outbox and try it; the holder drains every outbox, and every worker tries again
 * at its next receive, release or park. This costs no thread of its own, which on a node
 * whose cores all run workers is worth more than a dedicated progress thread
 * (doc/architecture.md has the measurements).
 *
 * Receives are posted in advance (ANY_SOURCE, TIDE__POST_BYTES each), so a small frame
 * lands without a probe, and one MPI_Testsome over the receives is the whole poll (sends
 * are tested apart, every few passes: poll_sends). A
 * frame that holds one message becomes that message's batch (no copy); the messages of a
 * coalesced frame are copied out. Larger batches are announced in the frame stream; their
 * receive is posted when the announce is read, and later deliveries from that rank wait
 * behind it, so every (sender, receiver, channel) stays FIFO.
 */
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

enum { SLOT_POST, SLOT_LARGE, SLOT_SEND };

#define NPOSTS 4

static _Noreturn void bad_frame(struct tide__mpi *m, int src, const char *what)
{
    tide__fatal("rank %d received a malformed frame from rank %d: %s", m->rank, src, what);
}

/* Receive buffers kept at most (their capacity): a burst of large messages would leave
 * the pool holding all of them. */
#define POOL_BYTES (4u << 20)

void tide__mpi_pool_put(struct tide__mpi *m, tide_batch *b)
{
    if (m->pool_bytes + b->cap > POOL_BYTES) {
        tide_batch_free(b);
        return;
    }
    m->pool_bytes += b->cap;
    tide__fifo_put_front(&m->pool, b);
}

void tide__mpi_pool_trim(struct tide__mpi *m)
{
    tide__fifo_free_all(&m->pool);
    m->pool_bytes = 0;
}

tide_batch *tide__mpi_pool_get(struct tide__mpi *m, size_t bytes)
{
    tide_batch *b = tide__fifo_take_fit(&m->pool, bytes);
    if (b)
        m->pool_bytes -= b->cap;
    if (!b && !(b = tide_batch_new(NULL, bytes)))
        tide__fatal("out of memory receiving %zu bytes on rank %d", bytes, m->rank);
    /* Emptied first: a growth keeps the old contents, and a frame's byte count (its
     * headers included) can exceed its capacity (ASan: growing such a frame into a spare of
     * 1 MiB or more copied past its end). */
    b->len = b->bytes = 0;
    if (tide__batch_reserve(b, bytes) != 0)
        tide__fatal("out of memory receiving %zu bytes on rank %d", bytes, m->rank);
    b->next = NULL;
    b->peer_rank = 0;
    return b;
}

static size_t add_slot(struct tide__mpi *m, struct tide__mpi_reqs *q)
{
    if (q->n == q->cap) {
        /* Starts small on purpose: the arrays then grow while frames are being handled,
         * which the tests (under ASan) exercise; doubling makes it rare later. */
        size_t cap = q->cap ? 2 * q->cap : NPOSTS + 4;
        MPI_Request *r = realloc(q->reqs, cap * sizeof *r);
        if (r)
            q->reqs = r;
        struct tide__mpi_slot *s = realloc(q->slots, cap * sizeof *s);
        if (s)
            q->slots = s;
        int *d = realloc(q->done, cap * sizeof *d);
        if (d)
            q->done = d;
        MPI_Status *st = realloc(q->statuses, cap * sizeof *st);
        if (st)
            q->statuses = st;
        if (!r || !s || !d || !st)
            tide__fatal("out of memory tracking MPI requests on rank %d", m->rank);
        q->cap = cap;
    }
    return q->n++;
}

static void count_in_flight(struct tide__mpi *m)
{
    size_t blocked = m->credit ? tide__mpi_credit_blocked(m) : 0;
    /* frames waiting for room in a ring count: a parked worker keeps polling for them */
    size_t n = m->tx.n + m->rx.n - m->nposts + blocked + tide__mpi_shm_waiting(m);
    atomic_store_explicit(&m->waiting, blocked > 0, memory_order_relaxed);
    if (m->rx.n + m->tx.n > m->stats.max_requests)
        m->stats.max_requests = m->rx.n + m->tx.n;
    atomic_store_explicit(&m->sending, n, memory_order_relaxed);
    atomic_store_explicit(&m->moves, m->stats.sends + m->stats.recvs, memory_order_relaxed);
}

uint64_t tide__transport_moves(tide_allocator *a)
{
    struct tide__mpi *m = a->shared->mpi;
    return m ? atomic_load_explicit(&m->moves, memory_order_relaxed) : 0;
}

bool tide__transport_waiting(tide_allocator *a)
{
    struct tide__mpi *m = a->shared->mpi;
    return m && atomic_load_explicit(&m->waiting, memory_order_relaxed);
}

static void post_receive(struct tide__mpi *m, size_t i)
{
    tide_batch *b = tide__mpi_pool_get(m, TIDE__POST_BYTES);
    m->rx.slots[i] = (struct tide__mpi_slot){ b, SLOT_POST, MPI_ANY_SOURCE, m->posts++ };
    if (MPI_Irecv(b->base, (int)TIDE__POST_BYTES, MPI_BYTE, MPI_ANY_SOURCE, TIDE__TAG_SMALL,
                  m->comm, &m->rx.reqs[i]) != MPI_SUCCESS)
        tide__fatal("MPI_Irecv failed on rank %d", m->rank);
}

void tide__mpi_post_send(struct tide__mpi *m, tide_batch *f)
{
    if (m->credit && tide__mpi_credit_hold(m, f))
        count_in_flight(m);
    else
        tide__mpi_post_now(m, f);
}

/* A frame whose send completed goes back to whoever filled it. */
static void sent(struct tide__mpi *m, tide_batch *f)
{
    if (f->owner == TIDE__DRIVER_OWNED)
        tide__mpi_pool_put(m, f);
    else if (tide__spsc_push(&m->w[f->owner].sent, f) != 0)
        tide_batch_free(f);
}

void tide__mpi_frame_sent(struct tide__mpi *m, tide_batch *f)
{
    m->stats.shm_frames++;
    m->stats.shm_bytes += f->bytes;
    m->frames_to[f->peer_rank]++;
    sent(m, f);
}

void tide__mpi_post_now(struct tide__mpi *m, tide_batch *f)
{
    /* Numbered here, under the lock, in the order the sends are posted: that is the order
     * in which they match the peer's receives (or are written to its ring). */
    if (f->mpi_tag == TIDE__TAG_SMALL)
        tide__frame_hdr(f)->seq = m->seq_to[f->peer_rank]++;
    if ((f->mpi_tag == TIDE__TAG_SMALL || f->mpi_tag == TIDE__TAG_RING) && m->shm &&
        tide__mpi_shm_send(m, f)) {
        count_in_flight(m);
        return;
    }
    if (f->mpi_tag == TIDE__TAG_RING)
        tide__fatal("rank %d: a payload for a shared ring to rank %d, which shares none",
                    m->rank, f->peer_rank);
    size_t i = add_slot(m, &m->tx);
    m->tx.slots[i] = (struct tide__mpi_slot){ f, SLOT_SEND, f->peer_rank, 0 };
    m->stats.sends++;
    m->stats.send_bytes += f->bytes;
    if (MPI_Isend(f->base, (int)f->bytes, MPI_BYTE, f->peer_rank, f->mpi_tag, m->comm,
                  &m->tx.reqs[i]) != MPI_SUCCESS)
        tide__fatal("MPI_Isend of %zu bytes from rank %d to rank %d failed", f->bytes,
                    m->rank, f->peer_rank);
    m->frames_to[f->peer_rank]++;
    count_in_flight(m);
}

/* Hands a received batch (its message header in its headroom) to local worker @p local. */
static void deliver_one(struct tide__mpi *m, tide_batch *b, size_t local)
{
    const struct tide__msg_hdr *mh = tide__msg_hdr(b);
    if (!b->shared || !(mh->flags & TIDE__MSG_SPLIT)) {
        b->len = mh->nrecords;
        b->bytes = mh->nbytes;
    }
    memcpy(b->meta, mh->meta, sizeof b->meta);
    b->type = NULL;
    b->home = &m->w[local].spent;
    if (tide__spsc_push(&m->w[local].inbox, b) != 0)
        tide__fatal("out of memory delivering a message on rank %d", m->rank);
    tide__waker_notify(&m->shared->wakers[local]);
}

static tide_batch *view_of(struct tide__mpi *m, tide_batch *b)
{
    tide_batch *v = tide__fifo_take(&m->views);
    if (!v && !(v = calloc(1, sizeof *v)))
        tide__fatal("out of memory delivering a message on rank %d", m->rank);
    v->shared = b;
    v->base = b->base;
    v->cap = b->cap;
    return v;
}

/* A split message's groups go to their workers as views of the one buffer, each worker
 * copying out its own (mpi.c): the groups share the buffer, and a worker owns what it is
 * given. A message for one worker only is that worker's batch as it is. The table was
 * checked with the frame. */
static void deliver_split(struct tide__mpi *m, tide_batch *b)
{
    struct tide__msg_hdr *mh = tide__msg_hdr(b);
    const unsigned char *data = tide__batch_data(b);
    uint64_t n = 0, at = 0;
    if (tide__wire_split(data, mh->nbytes, mh->nrecords, m->nlocal, &n, &at))
        tide__fatal("rank %d: a split message changed after its check", m->rank);
    if (n == 1) {
        struct tide__split_entry e = tide__wire_split_group(data, at, 0);
        mh->nbytes = e.nbytes;
        mh->flags &= ~TIDE__MSG_SPLIT;
        mh->dst += e.local;
        deliver_one(m, b, e.local);
        return;
    }
    atomic_store_explicit(&b->refs, (unsigned)n, memory_order_relaxed);
    uint64_t off = 0;
    for (uint64_t k = 0; k < n; k++) {
        struct tide__split_entry e = tide__wire_split_group(data, at, k);
        tide_batch *v = view_of(m, b);
        v->len = e.nrecords;
        v->bytes = e.nbytes;
        v->view_off = off;
        off += e.nbytes;
        deliver_one(m, v, e.local);
    }
}

static _Noreturn void bad_message(struct tide__mpi *m, int src, const struct tide__msg_hdr *mh,
                                  const char *what);

/* A rank cast goes to every worker of the rank, each reading the one received buffer
 * through a view of its own (workers only read casts); the buffer comes back with the
 * last view. */
static void deliver(struct tide__mpi *m, int src, tide_batch *b)
{
    if (tide__msg_hdr(b)->flags & TIDE__MSG_PACKED) {
        const char *bad;
        tide_batch *u = tide__mpi_cast_unpack(m, b, &bad);
        if (!u)
            bad_message(m, src, tide__msg_hdr(b), bad);
        b = u;
    }
    const struct tide__msg_hdr *mh = tide__msg_hdr(b);
    size_t first = (size_t)m->rank * m->nlocal;
    if (mh->flags & TIDE__MSG_SPLIT) {
        deliver_split(m, b);
        return;
    }
    if (m->tree_k && mh->flags & TIDE__MSG_FANOUT)
        tide__mpi_cast_forward(m, src, b);
    if (!(mh->flags & TIDE__MSG_FANOUT) || m->nlocal == 1) {
        deliver_one(m, b, mh->dst - first);
        return;
    }
    atomic_store_explicit(&b->refs, (unsigned)m->nlocal, memory_order_relaxed);
    for (size_t i = 0; i < m->nlocal; i++)
        deliver_one(m, view_of(m, b), i);
}

/* Delivers now, or after the large receives this rank's earlier messages wait for. */
static void deliver_in_order(struct tide__mpi *m, int src, tide_batch *b)
{
    if (m->held[src].count)
        tide__fifo_put(&m->held[src], b);
    else
        deliver(m, src, b);
}

static void release_held(struct tide__mpi *m, int src)
{
    while (m->held[src].head && m->held[src].head->peer_rank >= 0)
        deliver(m, src, tide__fifo_take(&m->held[src]));
}

/* Stops the job over a malformed frame or message (the target worker's case in words a
 * user can act on: it is what a job with mismatched ranks shows). */
static _Noreturn void bad_message(struct tide__mpi *m, int src, const struct tide__msg_hdr *mh,
                                  const char *what)
{
    if (!mh)
        bad_frame(m, src, what);
    size_t lo = (size_t)m->rank * m->nlocal;
    if (mh->dst < lo || mh->dst - lo >= m->nlocal)
        tide__fatal("rank %d received a message on channel %u for worker %u, which runs on "
                    "rank %zu, from rank %d",
                    m->rank, mh->channel, mh->dst, (size_t)mh->dst / m->nlocal, src);
    tide__fatal("rank %d: message on channel %u from rank %d (%llu bytes): %s", m->rank,
                mh->channel, src, (unsigned long long)mh->nbytes, what);
}

static void check_frame(struct tide__mpi *m, tide_batch *buf, size_t count, int src)
{
    struct tide__msg_hdr mh;
    bool at_msg;
    const char *bad =
        tide__wire_check(buf->base, count, src, (size_t)m->rank, m->nlocal, &mh, &at_msg);
    if (bad)
        bad_message(m, src, at_msg ? &mh : NULL, bad);
}

static void announce(struct tide__mpi *m, int src, const struct tide__msg_hdr *mh)
{
    size_t total = TIDE__HEADROOM + TIDE__PAD8(mh->nbytes); /* bounded by tide__wire_message */
    tide_batch *b = tide__mpi_pool_get(m, TIDE__PAD8(mh->nbytes));
    b->peer_rank = -1; /* not complete: deliveries from src wait behind it */
    b->mpi_tag = 0;
    /* The payload is checked against its announce on arrival: keep the announce where the
     * payload's own header will land. */
    b->len = mh->nrecords;
    b->bytes = mh->nbytes;
    b->meta[0] = (uint64_t)mh->channel << 32 | mh->type_tag;
    b->meta[1] = (uint64_t)mh->src << 32 | mh->dst;
    b->meta[2] = mh->seq;
    b->meta[3] = mh->flags;
    /* A worker's payload comes through the ring from src when it fits (its sender decided
     * alike), after this announce: ring_payload_buffer() finds this buffer for it. */
    if (!(mh->flags & TIDE__MSG_FANOUT) && tide__mpi_shm_carries(m, src, total)) {
        b->mpi_tag = TIDE__TAG_RING;
        tide__fifo_put(&m->held[src], b);
        return;
    }
    size_t i = add_slot(m, &m->rx);
    m->rx.slots[i] = (struct tide__mpi_slot){ b, SLOT_LARGE, src, 0 };
    int tag = TIDE__TAG_LARGE_BASE + (mh->flags & TIDE__MSG_FANOUT
                                          ? (int)m->nlocal
                                          : (int)(mh->src - (size_t)src * m->nlocal));
    if (MPI_Irecv(b->base, (int)total, MPI_BYTE, src, tag, m->comm, &m->rx.reqs[i]) !=
        MPI_SUCCESS)
        tide__fatal("MPI_Irecv of %zu bytes failed on rank %d", total, m->rank);
    tide__fifo_put(&m->held[src], b);
}

/* Hands out the messages of a frame that check_frame has passed. */
static void receive_frame(struct tide__mpi *m, tide_batch *buf, int src)
{
    uint32_t nmsgs = tide__frame_hdr(buf)->nmsgs;
    size_t count = tide__frame_hdr(buf)->bytes, pos = sizeof(struct tide__frame_hdr);
    struct tide__msg_hdr mh;
    tide__wire_header(buf->base, count, pos, (size_t)src, (size_t)m->rank, m->nlocal, &mh);
    if (mh.flags & TIDE__MSG_CREDIT) { /* alone in its frame (checked) */
        tide__mpi_credit_apply(m, src, mh.seq);
        tide__mpi_pool_put(m, buf);
        return;
    }
    tide__mpi_credit_received(m, src, count);
    for (uint32_t k = 0; k < nmsgs; k++) {
        size_t at = pos, data = tide__wire_next(buf->base, count, &pos, (size_t)src,
                                                (size_t)m->rank, m->nlocal, &mh);
        if (mh.flags & TIDE__MSG_ANNOUNCE) {
            announce(m, src, &mh);
            continue;
        }
        if (nmsgs == 1 && data - at == sizeof mh) {
            buf->peer_rank = 0;
            deliver_in_order(m, src, buf); /* the frame buffer becomes the batch */
            return;
        }
        tide_batch *b = tide__mpi_pool_get(m, mh.nbytes);
        b->peer_rank = 0;
        memcpy(tide__msg_hdr(b), &mh, sizeof mh);
        memcpy(tide__batch_data(b), buf->base + data, mh.nbytes);
        deliver_in_order(m, src, b);
    }
    tide__mpi_pool_put(m, buf);
}

/* Takes the frame from @p src numbered @p seq out of the frames that came early, if it is
 * there. The list is almost always empty, and holds at most a few frames per rank that
 * was mid-rendezvous, so a scan is cheaper than per-rank state. */
static tide_batch *take_ahead(struct tide__mpi *m, int src, uint32_t seq)
{
    for (tide_batch **at = &m->ahead; *at; at = &(*at)->next) {
        tide_batch *b = *at;
        if (b->peer_rank == src && tide__frame_hdr(b)->seq == seq) {
            *at = b->next;
            b->next = NULL;
            return b;
        }
    }
    return NULL;
}

/* Handles the small frames of each rank in the order they were sent. Preposted receives
 * match in posting order, but a receive that matched a rendezvous frame can complete
 * after later receives that matched eager frames from the same rank (seen with MPICH on
 * one node, and with Open MPI's TCP transport at InfiniBand-like eager limits): those wait
 * here for it. */
static void small_complete(struct tide__mpi *m, tide_batch *buf, size_t count, int src)
{
    check_frame(m, buf, count, src);
    if (tide__frame_hdr(buf)->seq != m->seq_from[src]) {
        buf->peer_rank = src;
        buf->owner = m->polls; /* (a received buffer's owner is not used otherwise) */
        buf->next = m->ahead;
        m->ahead = buf;
        return;
    }
    while (buf) {
        m->seq_from[src]++;
        receive_frame(m, buf, src);
        if ((buf = m->ahead ? take_ahead(m, src, m->seq_from[src]) : NULL)) {
            /* Completed a poll before a frame sent ahead of it: ordering by position in
             * one MPI_Testsome (as tide did before) would have delivered it too early. */
            if (buf->owner != m->polls)
                m->stats.reordered++;
        }
    }
}

/* A frame of @p count bytes from @p src arrived (MPI's or a shared ring's): counted. */
static void arrived(struct tide__mpi *m, size_t count, int src)
{
    m->stats.recvs++;
    m->stats.recv_bytes += count;
    m->frames_from[src]++;
}

/* A frame taken from a shared ring (mpi_shm.c): as a small frame MPI delivered. */
static void shm_got(struct tide__mpi *m, tide_batch *buf, size_t count, int src)
{
    arrived(m, count, src);
    small_complete(m, buf, count, src);
}

static void large_complete(struct tide__mpi *m, tide_batch *b, size_t count, int src);

/* Where a payload of @p count bytes from @p src's ring goes: the buffer of the first
 * announce from its sending worker still waiting for one (a worker's payloads follow its
 * announces in order; other workers' frames of the same rank may come between). */
static tide_batch *ring_payload_buffer(struct tide__mpi *m, int src, const unsigned char *hdrs,
                                       size_t count)
{
    struct tide__msg_hdr mh;
    memcpy(&mh, hdrs + sizeof(struct tide__frame_hdr), sizeof mh);
    for (tide_batch *b = m->held[src].head; b; b = b->next) {
        if (b->peer_rank != -1 || b->mpi_tag != TIDE__TAG_RING ||
            (uint32_t)(b->meta[1] >> 32) != mh.src)
            continue;
        if (count > TIDE__HEADROOM + TIDE__PAD8(b->bytes))
            bad_frame(m, src, "a payload larger than its announce");
        b->mpi_tag = 0;
        return b;
    }
    bad_frame(m, src, "a payload in the shared ring that no announce awaits");
}

static void ring_payload(struct tide__mpi *m, tide_batch *b, size_t count, int src)
{
    arrived(m, count, src);
    large_complete(m, b, count, src);
}

static const struct tide__shm_sink shm_sink = { shm_got, ring_payload_buffer, ring_payload };

static void large_complete(struct tide__mpi *m, tide_batch *b, size_t count, int src)
{
    struct tide__msg_hdr promised = {
        .channel = (uint32_t)(b->meta[0] >> 32), .type_tag = (uint32_t)b->meta[0],
        .src = (uint32_t)(b->meta[1] >> 32), .dst = (uint32_t)b->meta[1], .seq = b->meta[2],
        .nrecords = b->len, .nbytes = b->bytes, .flags = (uint32_t)b->meta[3]
    };
    check_frame(m, b, count, src);
    if (tide__frame_hdr(b)->nmsgs != 1)
        bad_frame(m, src, "a large payload with more than one message");
    const struct tide__msg_hdr *mh = tide__msg_hdr(b);
    const char *bad = tide__wire_same_announce(&promised, mh);
    if (bad)
        bad_frame(m, src, bad);
    tide__mpi_credit_received(m, src, count);
    b->peer_rank = 0;
    release_held(m, src);
}

/* Keeps the requests [from, n) whose slot still has a buffer, in order. */
static void compact(struct tide__mpi_reqs *q, size_t from)
{
    size_t j = from;
    for (size_t i = from; i < q->n; i++)
        if (q->slots[i].buf) {
            q->reqs[j] = q->reqs[i];
            q->slots[j++] = q->slots[i];
        }
    q->n = j;
}

/* Sends are tested every SEND_POLL passes, or once this many are in flight: their
 * completion only gives buffers back (an eager send completes when posted, and MPI
 * progresses a rendezvous one in any call), so a pass need not scan them. */
#define SEND_POLL 8
#define SEND_BACKLOG 32

static bool poll_sends(struct tide__mpi *m, bool now)
{
    if (!m->tx.n || (!now && m->tx.n < SEND_BACKLOG && m->polls % SEND_POLL))
        return false;
    int out = 0;
    if (MPI_Testsome((int)m->tx.n, m->tx.reqs, &out, m->tx.done, m->tx.statuses) !=
        MPI_SUCCESS)
        tide__fatal("MPI_Testsome failed on rank %d", m->rank);
    if (out <= 0 || out == MPI_UNDEFINED)
        return false;
    for (int k = 0; k < out; k++) {
        struct tide__mpi_slot *sl = &m->tx.slots[m->tx.done[k]];
        sent(m, sl->buf);
        sl->buf = NULL;
    }
    compact(&m->tx, 0);
    count_in_flight(m);
    return true;
}

/* Posts what the workers and the tree queued to send; true when there was any. */
static bool send_pass(struct tide__mpi *m)
{
    /* The flow control's and the casts' calls are skipped when they have nothing to do:
     * a poll loop makes this pass millions of times. */
    bool moved = m->credit && tide__mpi_credit_send(m);
    if (tide__mpi_shm_waiting(m) && tide__mpi_shm_flush(m)) {
        moved = true;
        count_in_flight(m); /* fewer wait: a parked worker may stop polling for them */
    }
    if (atomic_load_explicit(&m->ncasts, memory_order_relaxed))
        moved |= tide__mpi_casts_send(m);
    for (size_t i = 0; i < m->nlocal; i++) {
        tide_batch *f;
        while ((f = tide__spsc_pop(&m->w[i].outbox))) {
            tide__mpi_post_send(m, f);
            moved = true;
        }
        while ((f = tide__spsc_pop(&m->w[i].spent))) {
            if (f->base)
                tide__mpi_pool_put(m, f);
            else
                tide__fifo_put_front(&m->views, f);
        }
    }
    return moved;
}

/* Hands on what receive @p i completed with @p st; its slot is left empty (a preposted
 * one is posted again at the next pass, a large one compacted away). */
static void receive_done(struct tide__mpi *m, size_t i, const MPI_Status *st)
{
    struct tide__mpi_reqs *q = &m->rx;
    tide_batch *buf = q->slots[i].buf;
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    if (q->slots[i].kind == SLOT_POST) {
        arrived(m, (size_t)count, st->MPI_SOURCE);
        small_complete(m, buf, (size_t)count, st->MPI_SOURCE);
    } else {
        arrived(m, (size_t)count, q->slots[i].peer);
        large_complete(m, buf, (size_t)count, q->slots[i].peer);
    }
    q->slots[i].buf = NULL;
}

/* The preposted receive posted first: the next small frame matches it (receives of one
 * tag from any source match in the order they were posted). */
static size_t first_post(const struct tide__mpi *m)
{
    size_t first = 0;
    for (size_t i = 1; i < m->nposts; i++)
        if (m->rx.slots[i].posted < m->rx.slots[first].posted)
            first = i;
    return first;
}

/* The end of a pass that received nothing: a good time to test the sends. */
static bool pass_idle(struct tide__mpi *m, bool all, bool moved)
{
    if (m->nfwd)
        moved |= tide__mpi_casts_flush(m);
    return poll_sends(m, all || !moved) || moved;
}

/* The end of a pass that received frames. */
static bool pass_received(struct tide__mpi *m, bool all)
{
    tide__mpi_casts_flush(m); /* what this pass received goes on along the tree at once */
    count_in_flight(m);
    poll_sends(m, all);
    return true;
}

/* (mpi_internal.h) */
bool tide__mpi_pass(struct tide__mpi *m, bool all)
{
    bool moved = send_pass(m);
    /* Receives that completed last time are posted again only now: between a frame's
     * arrival and the reply it causes, the only MPI call is the reply's send. */
    for (size_t i = 0; i < m->nposts; i++)
        if (!m->rx.slots[i].buf)
            post_receive(m, i);
    int out = 0;
    m->polls++;
    bool got = m->shm && tide__mpi_shm_poll(m, &shm_sink);
    struct tide__mpi_reqs *q = &m->rx;
    /* A waiting rank whose frames come through the rings looks at them at every pass and
     * at MPI every fourth: MPI's poll is most of an empty pass. Nor does a pass that took
     * frames from the rings poll MPI (but every fourth): their batches wait in the
     * workers' inboxes until the pass ends. */
    if (m->shm && (got || (!moved && m->empty > 1)) && m->polls % 4) {
        if (!got) {
            m->empty++;
            return pass_idle(m, all, moved);
        }
        m->empty = 0;
        return pass_received(m, all);
    }
    if (MPI_Testsome((int)q->n, q->reqs, &out, q->done, q->statuses) != MPI_SUCCESS)
        tide__fatal("MPI_Testsome failed on rank %d", m->rank);
    if (out == MPI_UNDEFINED)
        out = 0;
    if (out || moved || got)
        m->empty = 0;
    else if (m->nlocal == 1 && ++m->empty > 1) {
        /* MPI_Testsome progresses MPI only when nothing had completed, and returns
         * without looking again: a frame that arrived in that progress would be seen a
         * whole pass later (the worker's loop in between). MPI_Test looks again after
         * its progress, so a waiting rank's only worker (its second empty pass in a
         * row: a busy worker's step often makes one) also tests the receive that the
         * next small frame matches (receives of one tag from any source match in the
         * order they were posted). With several workers, another one's pass comes
         * sooner, and the second progress only made their passes longer. */
        size_t i = first_post(m);
        int flag = 0;
        MPI_Status st;
        if (MPI_Test(&q->reqs[i], &flag, &st) != MPI_SUCCESS)
            tide__fatal("MPI_Test failed on rank %d", m->rank);
        if (flag) {
            q->done[0] = (int)i;
            q->statuses[0] = st;
            out = 1;
        }
    }
    if (out == 0 && !got)
        return pass_idle(m, all, moved);
    /* Completions come in any order; small_complete() restores each sender's. */
    for (int k = 0; k < out; k++)
        /* By index, not by pointer: handling a frame can read an announce, which adds a
         * request and may move the slot array. */
        receive_done(m, (size_t)q->done[k], &q->statuses[k]);
    compact(q, m->nposts);
    return pass_received(m, all);
}

void tide__mpi_stats_locked(struct tide__mpi *m, tide_comm_stats *out)
{
    *out = m->stats;
    out->progress_msgs = atomic_load_explicit(&m->progress_msgs, memory_order_relaxed);
    out->progress_bytes = atomic_load_explicit(&m->progress_bytes, memory_order_relaxed);
    out->peer_bytes = atomic_load_explicit(&m->peer_bytes, memory_order_relaxed);
    out->peer_bytes_peak = atomic_load_explicit(&m->peer_bytes_peak, memory_order_relaxed);
}

void tide__mpi_peer_bytes(struct tide__mpi *m, int64_t delta)
{
    uint64_t now = atomic_fetch_add_explicit(&m->peer_bytes, (uint64_t)delta,
                                             memory_order_relaxed) + (uint64_t)delta;
    uint64_t peak = atomic_load_explicit(&m->peer_bytes_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak_explicit(
                             &m->peer_bytes_peak, &peak, now, memory_order_relaxed,
                             memory_order_relaxed))
        ;
}

void tide_comm_stats_get(tide_allocator *a, tide_comm_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!a || !a->shared->mpi)
        return;
    atomic_fetch_add(&a->shared->mpi_waiters, 1);
    tide__mpi_lock(&a->shared->mpi_lock);
    atomic_fetch_sub(&a->shared->mpi_waiters, 1);
    tide__mpi_stats_locked(a->shared->mpi, out);
    tide__mpi_unlock(&a->shared->mpi_lock);
}

/* Drives MPI for the rank unless another thread does right now: a full pass, or with
 * @p send_only just the queued sends. Retries while our own frames wait: the holder may
 * have drained outboxes before we queued and be about to let go. */
static void try_drive(struct tide__mpi *m, struct tide__mpi_worker *mw, bool send_only)
{
    if (m->own_thread) {
        if (send_only || !tide__spsc_empty(&mw->outbox) ||
            atomic_load_explicit(&m->ncasts, memory_order_relaxed))
            tide__waker_notify(&m->thread_waker);
        return;
    }
    do {
        if (!tide__mpi_trylock(m->lock))
            return;
        if (send_only) {
            send_pass(m);
            count_in_flight(m);
        } else {
            tide__mpi_pass(m, false);
        }
        tide__mpi_unlock(m->lock);
    } while (!tide__spsc_empty(&mw->outbox) ||
             atomic_load_explicit(&m->ncasts, memory_order_relaxed));
}

void tide__mpi_try_send(struct tide__mpi *m, struct tide__mpi_worker *mw)
{
    try_drive(m, mw, true);
}

void tide__mpi_try_progress(struct tide__mpi *m, struct tide__mpi_worker *mw)
{
    try_drive(m, mw, false);
}

void tide__mpi_post_initial(struct tide__mpi *m)
{
    for (size_t i = 0; i < NPOSTS; i++)
        post_receive(m, add_slot(m, &m->rx));
    m->nposts = NPOSTS;
}
