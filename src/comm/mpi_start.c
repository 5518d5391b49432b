/* SPDX-License-Identifier: MIT */
/*
 * A rank's MPI transport started and stopped, and the communication thread that drives it
 * when TIDE_PROGRESS_THREAD asks for one (the passes themselves: mpi_driver.c). Stopping
 * runs passes until every frame any rank sent has arrived, so that no message is cut off.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

/* The communication thread (TIDE_PROGRESS_THREAD): drives MPI while there is traffic,
 * polls with growing naps when there is none, and wakes at once when a worker queues. */
static void *driver_main(void *arg)
{
    struct tide__mpi *m = arg;
    uint64_t idle_since = 0;
    int64_t nap = 20000;
    while (!atomic_load(&m->stop)) {
        unsigned seen = atomic_load(&m->thread_waker.events);
        if (atomic_load(&m->shared->mpi_waiters)) {
            sched_yield();
            continue;
        }
        tide__mpi_lock(m->lock);
        bool moved = tide__mpi_pass(m, false);
        bool waiting = tide__mpi_shm_waiting(m) > 0;
        tide__mpi_unlock(m->lock);
        if (moved || waiting) {
            /* Frames waiting for room in a ring keep it polling, yielding: the receiver
             * may make room any moment, and a nap would leave them waiting for it. */
            idle_since = 0;
            nap = 20000;
            if (!moved)
                sched_yield();
            continue;
        }
        /* MPI cannot wake us, and a message from another rank is usually answered within
         * microseconds, so keep polling (yielding the core) for a while after the last
         * traffic before napping. */
        uint64_t now = tide__now_ns();
        if (!idle_since)
            idle_since = now;
        if (now - idle_since < 2000000) {
            sched_yield();
            continue;
        }
        tide__waker_wait(&m->thread_waker, seen, nap);
        if (nap < 1000000)
            nap *= 2;
    }
    return NULL;
}

/* ---------------------------------------------------------------- start and stop */

int tide__mpi_transport_new(struct tide__shared *s, MPI_Comm comm, const tide_config *cfg)
{
    tide_progress mode = cfg->progress;
    struct tide__mpi *m = calloc(1, sizeof *m);
    if (!m)
        return TIDE_ENOMEM;
    m->comm = comm;
    MPI_Comm_rank(comm, &m->rank);
    MPI_Comm_size(comm, &m->ranks);
    m->nlocal = s->nlocal;
    m->shared = s;
    /* first, collective: every rank reaches it, whatever fails on one of them later */
    tide__mpi_shm_init(m, cfg->shm);
    m->lock = &s->mpi_lock;
    m->w = tide__calloc_aligned(s->nlocal, sizeof *m->w);
    m->held = calloc((size_t)m->ranks, sizeof *m->held);
    m->frames_to = calloc((size_t)m->ranks, sizeof *m->frames_to);
    m->frames_from = calloc((size_t)m->ranks, sizeof *m->frames_from);
    m->seq_to = calloc((size_t)m->ranks, sizeof *m->seq_to);
    m->seq_from = calloc((size_t)m->ranks, sizeof *m->seq_from);
    atomic_init(&m->peer_bytes,
                (uint64_t)m->ranks * (sizeof *m->held + sizeof *m->frames_to +
                                      sizeof *m->frames_from + sizeof *m->seq_to +
                                      sizeof *m->seq_from));
    atomic_init(&m->peer_bytes_peak, atomic_load(&m->peer_bytes));
    if (!m->w || !m->held || !m->frames_to || !m->frames_from || !m->seq_to || !m->seq_from ||
        tide__mpi_tree_init(m, tide__mpi_tree_arity(cfg->progress_tree, m->ranks)) != 0 ||
        tide__mpi_credit_init(m, cfg->memory) != 0 ||
        pthread_mutex_init(&m->casts_mu, NULL) != 0 ||
        tide__waker_init(&m->thread_waker) != 0)
        goto nomem;
    for (size_t i = 0; i < s->nlocal; i++) {
        struct tide__mpi_worker *w = &m->w[i];
        if (tide__spsc_init(&w->outbox) || tide__spsc_init(&w->inbox) ||
            tide__spsc_init(&w->spent) || tide__spsc_init(&w->sent))
            goto nomem; /* (a few nodes leak on this path; we are out of memory anyway) */
    }
    int *ub, flag = 0;
    MPI_Comm_get_attr(comm, MPI_TAG_UB, &ub, &flag);
    if (flag && (size_t)*ub < TIDE__TAG_LARGE_BASE + s->nlocal + 1)
        tide__fatal("this MPI's largest tag (%d) is too small for %zu workers per rank", *ub,
                    s->nlocal);
    tide__mpi_post_initial(m);
    s->mpi = m;
    tide__fatal_mpi_lock(m->lock);
    atomic_init(&m->stop, false);
    if (mode == TIDE_PROGRESS_THREAD) {
        m->own_thread = true;
        if (pthread_create(&m->thread, NULL, driver_main, m) != 0)
            tide__fatal("rank %d could not start its communication thread", m->rank);
    }
    return 0;
nomem:
    tide__mpi_shm_free(m);
    tide__mpi_tree_free(m);
    free(m->w);
    free(m->held);
    free(m->frames_to);
    free(m->frames_from);
    free(m->seq_to);
    free(m->seq_from);
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

static void reqs_free(struct tide__mpi_reqs *q)
{
    free(q->reqs);
    free(q->slots);
    free(q->done);
    free(q->statuses);
}

void tide__mpi_transport_free(struct tide__shared *s, tide_comm_stats *final)
{
    struct tide__mpi *m = s->mpi;
    if (!m)
        return;
    /* Every rank tells every other how many frames it sent; a rank stops only when it has
     * received all of them and all its own sends completed, so no message is cut off and
     * MPI_Finalize never waits on an unmatched send. Along a progress tree a rank forwards
     * what arrives even now (a rank still running may need it), so the counts are taken
     * again until a round in which no rank sent anything after giving its count. */
    size_t nbytes = (size_t)m->ranks * sizeof(uint64_t);
    uint64_t *expect = calloc(2, nbytes), *told = expect + m->ranks;
    if (!expect)
        tide__fatal("out of memory stopping the transport");
    MPI_Request req;
    if (m->own_thread) {
        atomic_store(&m->stop, true);
        tide__waker_notify(&m->thread_waker);
        pthread_join(m->thread, NULL);
    }
    tide__mpi_lock(m->lock);
    m->stopping = true; /* credits go whatever the budget: nothing may wait for them now */
    tide__mpi_pass(m, true);
    for (int more = 1; more;) {
        memcpy(told, m->frames_to, nbytes);
        MPI_Ialltoall(told, 1, MPI_UINT64_T, expect, 1, MPI_UINT64_T, m->comm, &req);
        for (;;) {
            int done = 0;
            tide__mpi_pass(m, true);
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            bool all = done && m->rx.n == m->nposts && m->tx.n == 0 &&
                       !tide__mpi_credit_blocked(m) && !tide__mpi_shm_waiting(m);
            for (int r = 0; all && r < m->ranks; r++)
                all = m->frames_from[r] >= expect[r];
            if (all)
                break;
            sched_yield();
        }
        int mine = memcmp(told, m->frames_to, nbytes) != 0, done = 0;
        MPI_Iallreduce(&mine, &more, 1, MPI_INT, MPI_LOR, m->comm, &req);
        /* No pass while the vote is out: a pass may send (a credit, a cast along the tree)
         * after `mine` was taken, and in the last round nobody would wait for that frame.
         * It stayed in MPI, and when the next execution's communicator reused the freed
         * one's context, it matched a receive there: a frame of the last execution taken
         * for one of this one (mpi_dataflow -n 2 -w 2 --memory 1M hung about 1 run in 25,
         * its real frame of that number left waiting forever; or a stale credit stopped it,
         * "received a credit of 144 bytes ... sent 0 bytes not credited yet"). */
        while (!done) {
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (!done)
                sched_yield();
        }
    }
    for (size_t i = 0; i < m->nposts; i++) {
        if (!m->rx.slots[i].buf)
            continue;
        if (m->rx.reqs[i] == MPI_REQUEST_NULL)
            tide__fatal("rank %d: preposted receive %zu has a buffer but no request", m->rank, i);
        MPI_Cancel(&m->rx.reqs[i]);
        MPI_Wait(&m->rx.reqs[i], MPI_STATUS_IGNORE);
        tide_batch_free(m->rx.slots[i].buf);
    }
    if (final)
        tide__mpi_stats_locked(m, final);
    tide__mpi_unlock(m->lock);
    free(expect);
    for (size_t i = 0; i < m->nlocal; i++) {
        drain_free(&m->w[i].outbox);
        drain_free(&m->w[i].inbox);
        drain_free(&m->w[i].spent);
        drain_free(&m->w[i].sent);
    }
    for (int r = 0; r < m->ranks; r++)
        tide__fifo_free_all(&m->held[r]);
    tide__fifo_free_all(&m->pool);
    tide__fifo_free_all(&m->views);
    for (tide_batch *b = m->ahead, *next; b; b = next) {
        next = b->next;
        tide_batch_free(b);
    }
    tide__fifo_free_all(&m->casts);
    pthread_mutex_destroy(&m->casts_mu);
    tide__mpi_shm_free(m); /* collective: every rank is past its last frame */
    tide__mpi_tree_free(m);
    tide__mpi_credit_free(m);
    reqs_free(&m->rx);
    reqs_free(&m->tx);
    free(m->held);
    free(m->frames_to);
    free(m->frames_from);
    free(m->seq_to);
    free(m->seq_from);
    free(m->w);
    tide__waker_destroy(&m->thread_waker);
    free(m);
    tide__fatal_mpi_lock(NULL);
    s->mpi = NULL;
}
