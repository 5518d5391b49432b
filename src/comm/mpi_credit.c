/* SPDX-License-Identifier: MIT */
/*
 * Flow control between ranks under --memory: a slow receiver slows its senders.
 *
 * A sender may have at most `window` bytes of frames towards one rank that the receiver
 * has not credited back; the frames beyond wait, in order, in the sender's queue for that
 * rank (where its own budget sees them and makes its sources wait). A receiver credits what
 * it received (frame bytes, counted as the sender counted them) once it owes a quarter of a
 * window, in a frame of its own that needs no credit; while its rank is over its budget it
 * holds the credits back, and so its senders stop.
 *
 * Credits are counted at receipt, not when the records are consumed, so that every byte
 * received is credited exactly once whatever becomes of its batch (a dropped channel, a
 * batch an operator keeps): nothing can leak the window away. Why it cannot deadlock:
 * a sender waits only while it has more than half a window unanswered (more than
 * window - a small frame for small frames), so once its frames have arrived the receiver
 * owes more than a quarter of a window and answers, unless it is over its budget. An
 * over-budget receiver drains by itself (its operators always run) and answers once its
 * held bytes are under the budget; when neither its workers take batches nor its held
 * bytes fall for PATIENCE_NS (what it holds waits for records still to come) it answers
 * anyway, as the sources' budget gives way.
 * At shutdown it always answers.
 */
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

#define PATIENCE_NS 10000000
/* A window: an eighth of the budget, within these. At least 8 small frames, so that a
 * sender blocked on a small frame has more than half a window unanswered. */
#define MIN_WINDOW (8 * (uint64_t)TIDE__POST_BYTES)
#define MAX_WINDOW ((uint64_t)16 << 20)

struct tide__mpi_credit {
    uint64_t limit, window;
    uint64_t *inflight;        /* per rank: bytes sent to it, not credited yet */
    uint64_t *owed;            /* per rank: bytes received from it, not credited yet */
    struct tide__fifo *blocked; /* per rank: frames waiting for credit, in order */
    size_t nblocked;
    int *owing;                /* ranks with owed > 0 (each once) */
    size_t nowing;
    uint64_t hold_since, hold_mark, hold_moves; /* while credits are held back */
    uint64_t sent, held_back, gave_way;
};

int tide__mpi_credit_init(struct tide__mpi *m, uint64_t limit)
{
    if (!limit || m->ranks < 2)
        return 0;
    struct tide__mpi_credit *c = calloc(1, sizeof *c);
    size_t r = (size_t)m->ranks;
    if (!c)
        return TIDE_ENOMEM;
    m->credit = c;
    c->inflight = calloc(r, sizeof *c->inflight);
    c->owed = calloc(r, sizeof *c->owed);
    c->blocked = calloc(r, sizeof *c->blocked);
    c->owing = calloc(r, sizeof *c->owing);
    if (!c->inflight || !c->owed || !c->blocked || !c->owing) {
        tide__mpi_credit_free(m);
        return TIDE_ENOMEM;
    }
    c->limit = limit;
    c->window = limit / 8;
    if (c->window < MIN_WINDOW)
        c->window = MIN_WINDOW;
    if (c->window > MAX_WINDOW)
        c->window = MAX_WINDOW;
    tide__mpi_peer_bytes(m, (int64_t)(r * (2 * sizeof(uint64_t) + sizeof(struct tide__fifo) +
                                           sizeof(int))));
    return 0;
}

void tide__mpi_credit_free(struct tide__mpi *m)
{
    struct tide__mpi_credit *c = m->credit;
    if (!c)
        return;
    for (int r = 0; c->blocked && r < m->ranks; r++)
        tide__fifo_free_all(&c->blocked[r]);
    free(c->inflight);
    free(c->owed);
    free(c->blocked);
    free(c->owing);
    free(c);
    m->credit = NULL;
}

size_t tide__mpi_credit_blocked(const struct tide__mpi *m)
{
    return m->credit ? m->credit->nblocked : 0;
}

static bool is_credit(tide_batch *f)
{
    /* (a short cast's header is shorter than the flags' place in a full one) */
    return f->mpi_tag == TIDE__TAG_SMALL && tide__frame_hdr(f)->nmsgs == 1 &&
           !(tide__msg_hdr(f)->channel & TIDE__SHORT_CAST) &&
           tide__msg_hdr(f)->flags & TIDE__MSG_CREDIT;
}

/* Whether frame @p f may go now with @p inflight bytes unanswered: a large payload while at
 * most half a window is, a small frame while it fits the window. */
static bool fits(const struct tide__mpi_credit *c, uint64_t inflight, const tide_batch *f)
{
    if (f->mpi_tag != TIDE__TAG_SMALL)
        return inflight <= c->window / 2;
    return inflight + f->bytes <= c->window;
}

bool tide__mpi_credit_hold(struct tide__mpi *m, tide_batch *f)
{
    struct tide__mpi_credit *c = m->credit;
    if (!c || is_credit(f))
        return false;
    int r = f->peer_rank;
    if (c->blocked[r].count || !fits(c, c->inflight[r], f)) {
        tide__fifo_put(&c->blocked[r], f);
        c->nblocked++;
        return true;
    }
    c->inflight[r] += f->bytes;
    return false;
}

void tide__mpi_credit_received(struct tide__mpi *m, int src, uint64_t bytes)
{
    struct tide__mpi_credit *c = m->credit;
    if (!c)
        return;
    if (!c->owed[src])
        c->owing[c->nowing++] = src;
    c->owed[src] += bytes;
}

void tide__mpi_credit_apply(struct tide__mpi *m, int src, uint64_t bytes)
{
    struct tide__mpi_credit *c = m->credit;
    if (!c || bytes > c->inflight[src])
        tide__fatal("rank %d received a credit of %llu bytes from rank %d, which was sent "
                    "%llu bytes not credited yet (do all ranks run with --memory?)",
                    m->rank, (unsigned long long)bytes, src,
                    (unsigned long long)(c ? c->inflight[src] : 0));
    c->inflight[src] -= bytes;
    struct tide__fifo *q = &c->blocked[src];
    while (q->head && fits(c, c->inflight[src], q->head)) {
        tide_batch *f = tide__fifo_take(q);
        c->nblocked--;
        c->inflight[src] += f->bytes;
        tide__mpi_post_now(m, f);
    }
}

/* Whether credits may go now: within the budget, at shutdown, or when the rank has not
 * drained for PATIENCE_NS while over it (then once per PATIENCE_NS). */
static bool may_credit(struct tide__mpi *m, struct tide__mpi_credit *c)
{
    uint64_t held = tide_memory_held();
    if (held < c->limit || m->stopping) {
        c->hold_since = 0;
        return true;
    }
    tide__mpi_pool_trim(m); /* what the driver keeps for reuse goes first */
    if ((held = tide_memory_held()) < c->limit) {
        c->hold_since = 0;
        return true;
    }
    uint64_t now = tide__now_ns();
    const struct tide__moves *mv = atomic_load_explicit(&m->shared->moves, memory_order_acquire);
    uint64_t moves = mv ? mv->sum(mv) : 0;
    if (!c->hold_since || held < c->hold_mark || moves != c->hold_moves) {
        if (!c->hold_since)
            c->held_back++;
        c->hold_since = now;
        c->hold_mark = held;
        c->hold_moves = moves;
        return false;
    }
    if (now - c->hold_since < PATIENCE_NS)
        return false;
    c->gave_way++;
    c->hold_since = now;
    return true;
}

bool tide__mpi_credit_send(struct tide__mpi *m)
{
    struct tide__mpi_credit *c = m->credit;
    if (!c || !c->nowing)
        return false;
    bool any = false, checked = false, allowed = false;
    size_t k = 0;
    for (size_t i = 0; i < c->nowing; i++) {
        int r = c->owing[i];
        if (c->owed[r] < c->window / 4 && !m->stopping) {
            c->owing[k++] = r;
            continue;
        }
        if (!checked) {
            allowed = may_credit(m, c);
            checked = true;
        }
        if (!allowed) {
            c->owing[k++] = r;
            continue;
        }
        tide_batch *f = tide__mpi_pool_get(m, 0);
        struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, 1, (uint32_t)m->rank, 0,
                                      TIDE__HEADROOM };
        memcpy(tide__frame_hdr(f), &fh, sizeof fh);
        struct tide__msg_hdr mh = { 0 };
        mh.src = (uint32_t)((size_t)m->rank * m->nlocal);
        mh.dst = (uint32_t)((size_t)r * m->nlocal);
        mh.seq = c->owed[r];
        mh.flags = TIDE__MSG_CREDIT;
        memcpy(tide__msg_hdr(f), &mh, sizeof mh);
        f->bytes = TIDE__HEADROOM;
        f->peer_rank = r;
        f->mpi_tag = TIDE__TAG_SMALL;
        f->owner = TIDE__DRIVER_OWNED;
        c->owed[r] = 0;
        c->sent++;
        tide__mpi_post_now(m, f);
        any = true;
    }
    c->nowing = k;
    return any;
}
