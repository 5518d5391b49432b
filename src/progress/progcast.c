/* SPDX-License-Identifier: MIT */
/*
 * The progress broadcast: a worker's pointstamp updates of one step go to every worker.
 * Batches from one sender arrive whole and in order, which is what makes applying other
 * workers' updates safe: a message's +1 at its target travels in the same batch as, or
 * before, the release of the capability it was sent at.
 *
 * Inside a rank each worker's batch goes to each rank-mate by pointer, at once, unless the
 * rank's workers share their trackers (tide_progcaster_share_rank: the dataflow layer's
 * case), when each applies its own batches there and nothing moves inside the rank. Towards
 * other ranks, the batches of a rank's workers are appended to one batch per rank, which
 * is sent (compacted) as one message per other rank and fanned out to that rank's workers
 * by its transport: per step a rank sends R - 1 progress messages, not W x W x (R - 1).
 * Merging is safe because the combined batch holds whole batches, each worker's in the
 * order it made them, and a receiver applies it whole: that is the same as receiving those
 * batches together in one step, which a receiver may always do.
 *
 * With TIDE_PROGCAST_PER_RANK the combined batch waits until every rank-mate has read and
 * answered (ended the step that read them) every cast from other ranks that this worker
 * has read: then the whole rank's answer to a round leaves as one message. It never waits
 * longer than HOLD_NS, and tide_progcaster_flush() sends it before a worker parks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "progress_internal.h"

static TIDE_TYPE_POD(change_type, tide_change);

/* Longest a combined batch waits for rank-mates (measured: see doc/architecture.md). */
#define HOLD_NS 100000
/* Demand mode: longest it waits for a change that matters. A safety net only: the
 * predicate is re-evaluated at every step of every worker of the rank. */
#define DEMAND_HOLD_NS 10000000

/* A counter on a cache line of its own: each worker writes its own at every step. */
struct seen {
    _Alignas(64) atomic_uint_fast64_t casts;
};

/* What the workers of a rank share for one progress channel. */
struct rank_out {
    pthread_mutex_t mu;
    tide_change_batch acc; /* batches for other ranks not sent yet, in order */
    uint64_t seq;          /* casts sent on the channel so far */
    uint64_t since_ns;     /* when acc became non-empty */
    atomic_bool holding;   /* acc is not empty (read without the lock on every step) */
    tide_batch *spare;     /* the batch the next cast is written into */
    /* Per local worker: how many casts from other ranks it has read and answered (ended
     * the step that read them); UINT64_MAX once it is gone. Every worker of a rank gets
     * the same casts in the same order, so equal counts mean the same casts. */
    struct seen *seen;
};

struct tide_progcaster {
    tide_allocator *alloc;
    int channel; /* lazy: a push is made for the workers this one sends to */
    tide_pull *pull;
    size_t peers, ranks;
    size_t nlocal, first, local; /* workers per rank, this rank's first worker, and us */
    tide_progcast_route route;
    struct rank_out *out; /* NULL with one rank */
    uint64_t casts;       /* casts from other ranks read so far */
    bool shared;          /* tide_progcaster_share_rank: nothing pushed inside the rank */
    bool (*must_send)(void *ctx, const tide_change *c, size_t n); /* demand mode */
    void *demand_ctx;
    tide_batch *held;     /* the last batch received, handed back at the next receive */
    tide_batch *spare;    /* a recycled batch for the next push */
    uint64_t batches, updates;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void rank_out_free(void *arg)
{
    struct rank_out *o = arg;
    tide_change_batch_free(&o->acc);
    tide_batch_free(o->spare);
    pthread_mutex_destroy(&o->mu);
    free(o->seen);
    free(o);
}

static void *rank_out_new(void *arg)
{
    size_t nlocal = *(const size_t *)arg;
    struct rank_out *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->seen = aligned_alloc(64, nlocal * sizeof *o->seen);
    if (!o->seen || pthread_mutex_init(&o->mu, NULL) != 0) {
        free(o->seen);
        free(o);
        return NULL;
    }
    tide_change_batch_init(&o->acc);
    atomic_init(&o->holding, false);
    for (size_t i = 0; i < nlocal; i++)
        atomic_init(&o->seen[i].casts, 0);
    return o;
}

/* Casts forwarded along the progress tree are merged with this: their records are
 * changes, and summing them is what every receiver does anyway. */
static size_t compact_changes(void *records, size_t n, size_t size)
{
    if (size != sizeof(tide_change))
        return n;
    tide_change_batch b = { records, n, n, 0 };
    tide_change_batch_compact(&b);
    return b.len;
}

tide_progcaster *tide_progcaster_new(tide_allocator *alloc, tide_progcast_route route)
{
    tide_progcaster *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->alloc = alloc;
    p->peers = tide_allocator_peers(alloc);
    p->ranks = tide_allocator_ranks(alloc);
    p->nlocal = p->peers / p->ranks;
    p->first = tide_allocator_rank(alloc) * p->nlocal;
    p->local = tide_allocator_index(alloc) - p->first;
    p->route = route;
    p->channel = tide_allocator_allocate_lazy(alloc, &change_type, &p->pull);
    if (p->channel < 0) {
        free(p);
        return NULL;
    }
    tide__channel_mark_progress(alloc, p->channel);
    tide__rank_cast_compact(alloc, compact_changes);
    if (p->ranks > 1 &&
        !(p->out = tide__channel_rank_state(alloc, p->channel, 0, rank_out_new, &p->nlocal,
                                            rank_out_free))) {
        free(p);
        return NULL;
    }
    return p;
}

/* meta[0] of a batch cast from another rank (0 on a rank-mate's). */
#define FROM_RANK 1

/* *spare (made if NULL), emptied and filled with @p n changes, marked @p from. */
static tide_batch *fill(tide_batch **spare, const tide_change *c, size_t n, uint64_t from)
{
    tide_batch *b = *spare;
    if (b)
        tide_batch_clear(b);
    else if (!(b = *spare = tide_batch_new(&change_type, n * sizeof *c)))
        tide__fatal("out of memory sending progress updates");
    tide_change *out = tide_batch_extend(b, n);
    if (!out)
        tide__fatal("out of memory sending progress updates");
    memcpy(out, c, n * sizeof *out);
    tide_batch_meta(b)[0] = from;
    return b;
}

/* Sends the rank's combined batch to the other ranks; the caller holds out->mu, so casts
 * leave in the order their batches were combined. */
static void flush_locked(tide_progcaster *p)
{
    struct rank_out *o = p->out;
    o->since_ns = 0;
    atomic_store_explicit(&o->holding, false, memory_order_relaxed);
    tide_change_batch_compact(&o->acc);
    if (o->acc.len == 0)
        return;
    tide__rank_cast(p->alloc, p->channel, fill(&o->spare, o->acc.changes, o->acc.len, FROM_RANK),
                    o->seq++);
    tide_change_batch_clear(&o->acc);
}

enum when { STEP_END, AGED, NOW };

/* Demand mode: whether the combined batch (compacted first) may move a frontier. */
static bool matters(tide_progcaster *p)
{
    struct rank_out *o = p->out;
    tide_change_batch_compact(&o->acc);
    return o->acc.len > 0 && p->must_send(p->demand_ctx, o->acc.changes, o->acc.len);
}

/* Whether every worker of the rank has answered every cast we have read: then nothing it
 * read can still add to the combined batch (what it answers later comes next round). */
static bool all_answered(const tide_progcaster *p)
{
    for (size_t i = 0; i < p->nlocal; i++)
        if (atomic_load_explicit(&p->out->seen[i].casts, memory_order_acquire) < p->casts)
            return false;
    return true;
}

/* Sends the combined batch if it should go now (see the top of the file). */
static void maybe_flush(tide_progcaster *p, enum when when)
{
    struct rank_out *o = p->out;
    if (!o || !atomic_load_explicit(&o->holding, memory_order_relaxed))
        return;
    pthread_mutex_lock(&o->mu);
    bool go;
    if (o->acc.len == 0)
        go = false;
    else if (when == NOW)
        go = true;
    else if (p->must_send) {
        uint64_t age = now_ns() - o->since_ns;
        go = age >= DEMAND_HOLD_NS ||
             (((when == STEP_END && all_answered(p)) || age >= HOLD_NS) && matters(p));
    } else
        go = p->route != TIDE_PROGCAST_PER_RANK || (when == STEP_END && all_answered(p)) ||
             now_ns() - o->since_ns >= HOLD_NS;
    if (!go && o->acc.len == 0) /* it all cancelled out */
        atomic_store_explicit(&o->holding, false, memory_order_relaxed);
    if (go)
        flush_locked(p);
    pthread_mutex_unlock(&o->mu);
    if (go)
        tide__rank_cast_kick(p->alloc);
}

void tide_progcaster_flush(tide_progcaster *p)
{
    if (p)
        maybe_flush(p, p->must_send ? STEP_END : NOW);
}

void tide_progcaster_set_demand(tide_progcaster *p,
                                bool (*must_send)(void *ctx, const tide_change *c, size_t n),
                                void *ctx)
{
    p->must_send = must_send;
    p->demand_ctx = ctx;
}

bool tide_progcaster_holding(const tide_progcaster *p)
{
    return p && p->out && atomic_load_explicit(&p->out->holding, memory_order_relaxed);
}

void tide_progcaster_free(tide_progcaster *p)
{
    if (!p)
        return;
    tide_pull_recv(p->pull, &p->held); /* hands the last one back */
    tide_batch_free(p->held);
    tide_batch_free(p->spare);
    if (p->out) {
        /* Nothing of ours may stay behind, and rank-mates no longer wait for us. */
        atomic_store_explicit(&p->out->seen[p->local].casts, UINT64_MAX, memory_order_release);
        maybe_flush(p, NOW);
    }
    tide_allocator_close(p->alloc, p->channel);
    free(p);
}

/* Pushes a copy of @p n changes to worker @p w; *spare is a batch to fill (or NULL). */
static void push_copy(tide_progcaster *p, size_t w, const tide_change *c, size_t n,
                      tide_batch **spare)
{
    tide_batch *b = fill(spare, c, n, 0);
    tide_push *to = tide_allocator_push(p->alloc, p->channel, w);
    if (!to)
        tide__fatal("out of memory sending progress to worker %zu", w);
    tide_push_send(to, &b);
    tide_push_send(to, NULL);
    *spare = b;
}

void tide_progcaster_send(tide_progcaster *p, tide_change_batch *updates)
{
    tide_change_batch_compact(updates);
    if (updates->len) {
        for (size_t w = p->first; w < p->first + p->nlocal && !p->shared; w++)
            push_copy(p, w, updates->changes, updates->len, &p->spare);
        struct rank_out *o = p->out;
        if (o && p->nlocal == 1 && !p->must_send &&
            !atomic_load_explicit(&o->holding, memory_order_relaxed)) {
            /* Alone in the rank and eager: nothing to combine or hold, so no lock, no
             * clock; the batch goes out as it is. */
            tide__rank_cast(p->alloc, p->channel,
                            fill(&p->spare, updates->changes, updates->len, FROM_RANK), o->seq++);
            tide__rank_cast_kick(p->alloc);
            o = NULL;
        }
        if (o) {
            pthread_mutex_lock(&o->mu);
            if (o->acc.len == 0) {
                o->since_ns = now_ns();
                atomic_store_explicit(&o->holding, true, memory_order_relaxed);
            }
            for (size_t i = 0; i < updates->len; i++) {
                const tide_change *c = &updates->changes[i];
                tide_change_batch_update(&o->acc, c->key, &c->time, c->delta);
            }
            pthread_mutex_unlock(&o->mu);
        }
        p->batches++;
        p->updates += updates->len;
        tide_change_batch_clear(updates);
    }
    if (p->out) {
        /* Published after our answer is in the combined batch. */
        atomic_store_explicit(&p->out->seen[p->local].casts, p->casts, memory_order_release);
        maybe_flush(p, STEP_END);
    }
}

void *tide_progcaster_share_rank(tide_progcaster *p, void *(*make)(void *), void *arg,
                                 void (*destroy)(void *))
{
    p->shared = true;
    return tide__channel_rank_state(p->alloc, p->channel, 1, make, arg, destroy);
}

size_t tide_progcaster_recv_each(tide_progcaster *p,
                                 void (*each)(void *ctx, const tide_change *c, size_t n,
                                              uint64_t cast),
                                 void *ctx)
{
    size_t n = 0;
    while (tide_pull_recv(p->pull, &p->held)) {
        uint64_t cast = UINT64_MAX;
        if (tide_batch_meta(p->held)[0] == FROM_RANK)
            cast = p->casts++;
        each(ctx, tide_batch_records(p->held), tide_batch_len(p->held), cast);
        n++;
    }
    if (p->out && p->route == TIDE_PROGCAST_PER_RANK)
        maybe_flush(p, AGED);
    return n;
}

static void append_changes(void *ctx, const tide_change *c, size_t n, uint64_t cast)
{
    (void)cast;
    for (size_t i = 0; i < n; i++)
        tide_change_batch_update(ctx, c[i].key, &c[i].time, c[i].delta);
}

size_t tide_progcaster_recv(tide_progcaster *p, tide_change_batch *into)
{
    return tide_progcaster_recv_each(p, append_changes, into);
}

void tide_progcaster_stats(const tide_progcaster *p, uint64_t *batches, uint64_t *updates)
{
    *batches = p->batches;
    *updates = p->updates;
}
