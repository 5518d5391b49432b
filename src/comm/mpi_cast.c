/* SPDX-License-Identifier: MIT */
/*
 * Rank casts in the MPI driver: a rank's combined progress batch on its way to the other
 * ranks, and (with --progress-tree K) the forwarding that carries casts along a tree.
 *
 * Straight (tree_k == 0): a small cast rides in the casting worker's frames (mpi.c); a
 * large one is queued here and sent to every other rank, announced, on the rank's cast tag.
 *
 * Tree: the ranks form a K-ary tree rooted at rank 0, and a rank talks progress only to
 * its neighbours (parent and children). Its own casts and every cast it receives from a
 * neighbour are appended, per channel, to one pending batch per other neighbour; at the
 * end of a driver pass each pending batch is consolidated (the registered compaction: a
 * +1 and a -1 of one pointstamp from different ranks cancel) and sent as one cast. Casts
 * between neighbours are not numbered: only the driver sends them, so they leave in order,
 * and frames between two ranks are handled in order. So a rank sends at most K + 1
 * progress messages per pass whatever the number of ranks, and for barrier-like rounds their size does not grow
 * with it either.
 *
 * Why that is safe: the protocol needs every receiver to apply each origin's batches
 * whole and in order. A tree has one path between two ranks, every link delivers in order
 * (frames per rank pair are put back in order; a large cast's announce holds later
 * deliveries from its sender until it has come), and a rank forwards in
 * the order it received; so each origin's casts reach every rank in order. A pending batch
 * holds whole casts, and is applied whole: that is a receiver applying several batches in
 * one step, and consolidating them is summing counts that would be summed anyway (the
 * same argument as for the rank's combined batch, doc/architecture.md).
 */
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

/* Tree mode: the casts of one channel waiting to leave at the end of the pass, one batch
 * per neighbour. Kept only while something waits (entries are reused, so a rank keeps no
 * state per channel: casts between neighbours need no numbers, see tide__mpi_tree_init). */
struct tide__fwd {
    uint32_t channel, type_tag;
    size_t rec_size;
    uint64_t meta[TIDE_BATCH_META];
    tide_batch **acc; /* per neighbour: records to send it, NULL when none */
};

static tide_batch *frame_for(struct tide__mpi *m, int rank, size_t bytes)
{
    tide_batch *f = tide__mpi_pool_get(m, bytes);
    struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, 0, (uint32_t)m->rank, 0, 0 };
    memcpy(tide__frame_hdr(f), &fh, sizeof fh);
    f->bytes = sizeof fh;
    f->peer_rank = rank;
    f->mpi_tag = TIDE__TAG_SMALL;
    f->owner = TIDE__DRIVER_OWNED;
    return f;
}

/* Sends message @p h with its h->nbytes of @p data to rank @p r as a large cast: an
 * announce in a frame of its own, then the payload (padded) on the rank's cast tag. */
static void send_large(struct tide__mpi *m, int r, const struct tide__msg_hdr *h,
                       const void *data)
{
    size_t padded = TIDE__PAD8(h->nbytes);
    const size_t fh_size = sizeof(struct tide__frame_hdr), mh_size = sizeof *h;
    tide_batch *note = frame_for(m, r, 0);
    tide__frame_hdr(note)->nmsgs = 1;
    tide__frame_hdr(note)->bytes = fh_size + mh_size;
    memcpy(tide__msg_hdr(note), h, sizeof *h);
    tide__msg_hdr(note)->flags |= TIDE__MSG_ANNOUNCE;
    note->bytes = fh_size + mh_size;
    tide__mpi_post_send(m, note); /* the announce is posted before the payload it announces */
    tide_batch *f = frame_for(m, r, padded);
    tide__frame_hdr(f)->nmsgs = 1;
    tide__frame_hdr(f)->bytes = TIDE__HEADROOM + padded;
    memcpy(tide__msg_hdr(f), h, sizeof *h);
    memcpy(tide__batch_data(f), data, h->nbytes);
    memset(tide__batch_data(f) + h->nbytes, 0, padded - h->nbytes);
    f->bytes = TIDE__HEADROOM + padded;
    f->mpi_tag = TIDE__TAG_LARGE_BASE + (int)m->nlocal;
    tide__mpi_post_send(m, f);
}

/* ---------------------------------------------------------------- the tree */

int tide__mpi_tree_init(struct tide__mpi *m, unsigned k)
{
    m->tree_k = k;
    if (!k)
        return 0;
    size_t cap = (size_t)k + 1;
    m->nbr = calloc(cap, sizeof *m->nbr);
    m->fwd_frames = calloc(cap, sizeof *m->fwd_frames);
    if (!m->nbr || !m->fwd_frames)
        return TIDE_ENOMEM;
    if (m->rank > 0)
        m->nbr[m->nnbr++] = (m->rank - 1) / (int)k;
    for (unsigned c = 1; c <= k; c++) {
        long child = (long)m->rank * k + c;
        if (child < m->ranks)
            m->nbr[m->nnbr++] = (int)child;
    }
    return 0;
}

void tide__mpi_tree_free(struct tide__mpi *m)
{
    for (size_t c = 0; c < m->capfwd; c++) {
        struct tide__fwd *f = &m->fwd[c];
        for (size_t j = 0; f->acc && j < m->nnbr; j++)
            tide_batch_free(f->acc[j]);
        free(f->acc);
    }
    free(m->fwd);
    free(m->fwd_frames);
    free(m->pack);
    free(m->nbr);
}

unsigned tide__mpi_tree_arity(int setting, int ranks)
{
    if (setting < 0) /* the default: see TIDE_TREE_RANKS in tide/comm.h */
        return ranks >= TIDE_TREE_RANKS ? TIDE_TREE_ARITY : 0;
    /* Two ranks are a tree already. */
    return setting >= 2 && ranks > 2 ? (unsigned)setting : 0;
}

/* The pending entry of @p channel, made (or an old one reused) if there is none. Few
 * channels have casts pending in one pass, so a scan finds it. */
static struct tide__fwd *fwd_of(struct tide__mpi *m, uint32_t channel)
{
    for (size_t c = 0; c < m->nfwd; c++)
        if (m->fwd[c].channel == channel)
            return &m->fwd[c];
    if (m->nfwd == m->capfwd) {
        size_t cap = m->capfwd ? 2 * m->capfwd : 4;
        struct tide__fwd *f = realloc(m->fwd, cap * sizeof *f);
        if (!f)
            tide__fatal("out of memory forwarding progress on rank %d", m->rank);
        memset(f + m->capfwd, 0, (cap - m->capfwd) * sizeof *f);
        m->fwd = f;
        m->capfwd = cap;
    }
    struct tide__fwd *f = &m->fwd[m->nfwd++];
    if (!f->acc && !(f->acc = calloc(m->nnbr, sizeof *f->acc)))
        tide__fatal("out of memory forwarding progress on rank %d", m->rank);
    f->channel = channel;
    return f;
}

/* Appends a cast's records to the pending batch of every neighbour but @p from (-1: all). */
static void fwd_append(struct tide__mpi *m, const struct tide__msg_hdr *mh, const void *data,
                       int from)
{
    if (!mh->nrecords)
        return;
    struct tide__fwd *f = fwd_of(m, mh->channel);
    f->type_tag = mh->type_tag;
    f->rec_size = mh->nbytes / mh->nrecords;
    memcpy(f->meta, mh->meta, sizeof f->meta);
    for (size_t j = 0; j < m->nnbr; j++) {
        if (m->nbr[j] == from)
            continue;
        tide_batch *b = f->acc[j];
        if (!b)
            b = f->acc[j] = tide__mpi_pool_get(m, mh->nbytes);
        if (tide__batch_reserve(b, b->bytes + mh->nbytes) != 0)
            tide__fatal("out of memory forwarding progress on rank %d", m->rank);
        memcpy(tide__batch_data(b) + b->bytes, data, mh->nbytes);
        b->bytes += mh->nbytes;
        b->len += mh->nrecords;
    }
}

void tide__mpi_cast_forward(struct tide__mpi *m, int src, const tide_batch *b)
{
    fwd_append(m, tide__msg_hdr((tide_batch *)b), tide__batch_data(b), src);
}

tide_batch *tide__mpi_cast_unpack(struct tide__mpi *m, tide_batch *b, const char **bad)
{
    struct tide__msg_hdr *mh = tide__msg_hdr(b);
    size_t bytes = (size_t)mh->nrecords * sizeof(tide_change); /* bounded by the wire check */
    tide_batch *u = tide__mpi_pool_get(m, bytes);
    if ((*bad = tide__wire_unpack_changes(tide__batch_data(b), mh->nbytes, mh->nrecords,
                                          tide__batch_data(u)))) {
        tide__mpi_pool_put(m, u);
        return NULL;
    }
    struct tide__msg_hdr *uh = tide__msg_hdr(u);
    memcpy(uh, mh, sizeof *uh);
    uh->flags &= ~TIDE__MSG_PACKED;
    uh->nbytes = bytes;
    tide__mpi_pool_put(m, b);
    return u;
}

/* Posts the frame being filled for a neighbour, if any. */
static void post_frame(struct tide__mpi *m, tide_batch **frame)
{
    if (!*frame)
        return;
    tide__frame_hdr(*frame)->bytes = (*frame)->bytes;
    tide__mpi_post_send(m, *frame);
    *frame = NULL;
}

bool tide__mpi_casts_flush(struct tide__mpi *m)
{
    if (!m->nfwd)
        return false;
    tide__compact_fn compact = atomic_load_explicit(&m->cast_compact, memory_order_acquire);
    tide_batch **frame = m->fwd_frames;
    for (size_t d = 0; d < m->nfwd; d++) {
        struct tide__fwd *f = &m->fwd[d];
        uint32_t channel = f->channel;
        for (size_t j = 0; j < m->nnbr; j++) {
            tide_batch *b = f->acc[j];
            if (!b)
                continue;
            f->acc[j] = NULL;
            if (compact && f->rec_size) {
                b->len = compact(tide__batch_data(b), b->len, f->rec_size);
                b->bytes = b->len * f->rec_size;
            }
            if (!b->len) { /* everything cancelled */
                tide__mpi_pool_put(m, b);
                continue;
            }
            int r = m->nbr[j];
            size_t bytes = b->bytes;
            const unsigned char *data = tide__wire_pack_batch(b, &m->pack, &m->pack_cap, &bytes);
            uint32_t flags = TIDE__MSG_FANOUT | (data ? TIDE__MSG_PACKED : 0);
            if (!data)
                data = tide__batch_data(b);
            size_t padded = TIDE__PAD8(bytes);
            struct tide__msg_hdr h = { channel, (uint32_t)((size_t)m->rank * m->nlocal),
                                       (uint32_t)((size_t)r * m->nlocal), f->type_tag, 0,
                                       b->len, bytes, flags, 0, { 0 } };
            memcpy(h.meta, f->meta, sizeof h.meta);
            bool large = TIDE__HEADROOM + padded > TIDE__POST_BYTES;
            size_t hb = large ? sizeof h : tide__wire_header_bytes(&h);
            atomic_fetch_add_explicit(&m->progress_msgs, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&m->progress_bytes, hb + padded, memory_order_relaxed);
            if (large) {
                post_frame(m, &frame[j]); /* what this neighbour was sent before goes first */
                send_large(m, r, &h, data);
                tide__mpi_pool_put(m, b);
                continue;
            }
            if (frame[j] && frame[j]->bytes + hb + padded > TIDE__POST_BYTES)
                post_frame(m, &frame[j]);
            if (!frame[j])
                frame[j] = frame_for(m, r, TIDE__POST_BYTES - TIDE__HEADROOM);
            tide__frame_put(frame[j], &h, data, bytes);
            tide__mpi_pool_put(m, b);
        }
    }
    m->nfwd = 0;
    for (size_t j = 0; j < m->nnbr; j++)
        post_frame(m, &frame[j]);
    return true;
}

/* ---------------------------------------------------------------- the rank's own casts */

bool tide__mpi_casts_send(struct tide__mpi *m)
{
    if (!atomic_load_explicit(&m->ncasts, memory_order_acquire))
        return false;
    pthread_mutex_lock(&m->casts_mu);
    struct tide__fifo q = m->casts;
    m->casts = (struct tide__fifo){ 0 };
    atomic_store_explicit(&m->ncasts, 0, memory_order_relaxed);
    pthread_mutex_unlock(&m->casts_mu);
    tide_batch *b;
    while ((b = tide__fifo_take(&q))) {
        const struct tide__msg_hdr *mh = tide__msg_hdr(b);
        if (m->tree_k) {
            fwd_append(m, mh, tide__batch_data(b), -1);
        } else {
            for (int r = 0; r < m->ranks; r++) {
                if (r == m->rank)
                    continue;
                struct tide__msg_hdr h = *mh;
                h.dst = (uint32_t)((size_t)r * m->nlocal);
                send_large(m, r, &h, tide__batch_data(b));
            }
        }
        if (tide__spsc_push(&m->w[b->owner].sent, b) != 0) /* to the worker's spares */
            tide_batch_free(b);
    }
    return true;
}
