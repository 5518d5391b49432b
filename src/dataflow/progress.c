/* SPDX-License-Identifier: MIT */
/*
 * A dataflow's progress. The workers of a rank share one set of trackers per dataflow
 * (struct tide__rank_progress, kept with the dataflow's progress channel): a worker
 * applies its step's updates to them under their lock, and a cast from another rank is
 * applied once, by the first of the rank's workers to read it. Propagation then runs once
 * per rank, not once per worker; the frontier changes it makes at operator inputs go to a
 * log that each worker replays into frontiers of its own, since an operator must not read
 * a frontier that another worker changes under it.
 *
 * Applying a worker's batch to the shared trackers at the end of its step is what its
 * rank-mates receiving it at once did before: batches are still applied whole, each
 * worker's in the order it made them, and a cast whole, in its sender's order.
 *
 * Nested scopes: each has two trackers over the same graph. `internal` holds only the
 * scope's own pointstamps; what they imply at the scope's outputs is what the parent
 * sees the scope node hold (applied locally: the trackers already count every worker's
 * updates). `full` also holds, at the scope's inputs, the parent's frontier there; it
 * gives the frontiers of the operators inside. Keeping the two apart is what stops a
 * scope inside an outer loop from holding itself up through its own inputs.
 *
 * Lock order: the progress broadcast's lock for the combined batch (demand mode's test
 * runs under it) before the trackers' lock; nothing of the broadcast is called while the
 * trackers' lock is held.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

#define LOC_MASK ((UINT64_C(1) << TIDE__SCOPE_SHIFT) - 1)
/* Notes a worker may lag behind before it is told to copy every frontier instead (a
 * worker busy in its program for long would otherwise hold the log's memory). */
#define LOG_MAX 4096
#define NOT_JOINED UINT64_MAX

struct rp_scope {
    tide_tracker *full, *internal;
    tide_antichain *mirror; /* per input: the outer frontier as given to `full` */
    uint32_t ninputs, ntargets, parent, node_in_parent;
    uint32_t *tbase, *sbase; /* numbering of locations: targets, then sources */
    int *kind;               /* per node */
    uint32_t *child;         /* per node: the scope index of a nested scope's node */
    bool *nonempty;          /* per location of `full`: frontier not empty */
};

/* A frontier that changed at an operator's input. */
struct note {
    uint32_t scope, node, port;
};

/* Every worker reads `end`, `queued` and `live` at every step, and lock words change hands
 * at every step: they live on cache lines of their own, apart from each other. */
struct tide__rank_progress {
    _Alignas(64) atomic_uint_fast64_t end; /* base + len: read without the lock */
    atomic_size_t queued; /* queue.len, read without qmu */
    atomic_size_t live;   /* locations with a non-empty frontier, over all scopes */
    _Alignas(64) pthread_mutex_t mu; /* the trackers, the notes and what follows */
    size_t nlocal; /* workers sharing it (1: no lock is taken) */
    bool built;
    uint32_t nscopes;
    struct rp_scope *scopes;
    tide_change_batch scratch;
    size_t fp_pending;   /* workers whose fingerprint has not been applied */
    size_t fp_worker;    /* the worker whose fingerprint joiners are compared with */
    uint64_t fp_full;
    uint32_t fp_nops;
    uint64_t *fp_prefix;
    struct note *log;    /* frontier changes since the oldest cursor */
    size_t len, cap;
    uint64_t base;       /* the number of log[0] */
    uint64_t *cursor;    /* per local worker: its next note, NOT_JOINED if none */
    atomic_bool *resync; /* per local worker: notes were dropped before it read them */
    tide_change_batch work; /* the holder's: what it took from the queue */
    /* Batches waiting for whoever holds the trackers next, one after another (applied
     * together they are applied whole, each in order). */
    _Alignas(64) pthread_mutex_t qmu;
    tide_change_batch queue;
    uint64_t casts_queued; /* casts from other ranks queued (numbered as read) */
};

void tide__activate(tide_op *op)
{
    if (!op->active) {
        op->active = true;
        op->df->nactive++;
    }
}

static void rp_lock(struct tide__rank_progress *rp)
{
    if (rp->nlocal > 1)
        pthread_mutex_lock(&rp->mu);
}

static bool rp_trylock(struct tide__rank_progress *rp)
{
    return rp->nlocal == 1 || pthread_mutex_trylock(&rp->mu) == 0;
}

static void rp_unlock(struct tide__rank_progress *rp)
{
    if (rp->nlocal > 1)
        pthread_mutex_unlock(&rp->mu);
}

/* Appends @p n changes to the queue; a cast (@p cast its number, UINT64_MAX for this
 * worker's own batch) only if no rank-mate has queued it yet. */
static void enqueue(struct tide__rank_progress *rp, const tide_change *c, size_t n, uint64_t cast)
{
    if (rp->nlocal > 1)
        pthread_mutex_lock(&rp->qmu);
    if (cast == UINT64_MAX || cast >= rp->casts_queued) {
        tide_change_batch *q = &rp->queue;
        tide__reserve(&q->changes, &q->cap, q->len + n, sizeof *q->changes);
        memcpy(q->changes + q->len, c, n * sizeof *c);
        q->len += n;
        if (cast != UINT64_MAX)
            rp->casts_queued = cast + 1;
        atomic_store(&rp->queued, q->len);
    }
    if (rp->nlocal > 1)
        pthread_mutex_unlock(&rp->qmu);
}

/* Takes the queue into rp->work (the trackers' holder only); false if it was empty. */
static bool dequeue(struct tide__rank_progress *rp)
{
    if (!atomic_load(&rp->queued))
        return false;
    if (rp->nlocal > 1)
        pthread_mutex_lock(&rp->qmu);
    tide_change_batch t = rp->work;
    rp->work = rp->queue;
    rp->queue = t;
    rp->queue.len = rp->queue.clean = 0;
    atomic_store(&rp->queued, 0);
    if (rp->nlocal > 1)
        pthread_mutex_unlock(&rp->qmu);
    return rp->work.len > 0;
}

/* ---------------------------------------------------------------- applying, propagating */

static void apply(struct tide__rank_progress *rp, tide_dataflow *df, const tide_change *c,
                  size_t n)
{
    if (rp->fp_pending)
        tide__fingerprint_check(df, c, n, &rp->fp_pending);
    for (size_t i = 0; i < n; i++) {
        uint64_t s = c[i].key >> TIDE__SCOPE_SHIFT;
        if (s >= rp->nscopes && tide__fingerprint_key(c[i].key))
            continue;
        if (s >= rp->nscopes)
            tide__fatal("dataflow '%s': a progress update for scope %llu, which it does not "
                        "have (do all workers build the same dataflows?)", df->name,
                        (unsigned long long)s);
        struct rp_scope *sc = &rp->scopes[s];
        tide_location l = tide_location_from_key(c[i].key & LOC_MASK);
        tide_tracker_update(sc->full, l, &c[i].time, c[i].delta);
        if (sc->internal)
            tide_tracker_update(sc->internal, l, &c[i].time, c[i].delta);
    }
}

/* Gives the parent's frontier at input @p port of @p child to the child's full tracker. */
static void mirror(struct rp_scope *child, uint32_t port, const tide_antichain *outer)
{
    tide_antichain *m = &child->mirror[port];
    if (tide_antichain_equal(m, outer))
        return;
    tide_location l = { 0, port, true };
    for (size_t i = 0; i < m->len; i++) {
        tide_time e = tide_time_enter(&m->elems[i]);
        tide_tracker_update(child->full, l, &e, -1);
    }
    tide_antichain_clear(m);
    for (size_t i = 0; i < outer->len; i++) {
        tide_antichain_insert(m, &outer->elems[i]);
        tide_time e = tide_time_enter(&outer->elems[i]);
        tide_tracker_update(child->full, l, &e, +1);
    }
}

static void copy_antichain(tide_antichain *to, const tide_antichain *from)
{
    tide_antichain_clear(to);
    for (size_t i = 0; i < from->len; i++)
        tide_antichain_insert(to, &from->elems[i]);
}

/* Input @p port of @p op has a new frontier: its own copy follows (when it has one). */
static void input_moved(tide_op *op, uint32_t port, const tide_antichain *f)
{
    struct tide__in *in = &op->in[port];
    if (in->frontier != f)
        copy_antichain(&in->own, f);
}

/* What a worker does once it has its new frontiers: logs and activations, outside the
 * lock (a log callback is the program's code). */
static void input_told(tide_dataflow *df, tide_op *op, uint32_t port)
{
    if (df->w->log_kinds & TIDE_LOG_FRONTIER)
        tide__log_frontier(df->w, op, port, op->in[port].frontier);
    if (op->watch)
        tide__activate(op);
}

static void note(struct tide__rank_progress *rp, uint32_t scope, uint32_t node, uint32_t port)
{
    if (rp->len >= LOG_MAX) {
        /* Whoever has not read it all copies every frontier instead. */
        uint64_t end = rp->base + rp->len;
        for (size_t i = 0; i < rp->nlocal; i++)
            if (rp->cursor[i] != NOT_JOINED && rp->cursor[i] < end) {
                rp->cursor[i] = end;
                atomic_store_explicit(&rp->resync[i], true, memory_order_relaxed);
            }
        rp->base = end;
        rp->len = 0;
    }
    tide__reserve(&rp->log, &rp->cap, rp->len + 1, sizeof *rp->log);
    rp->log[rp->len++] = (struct note){ scope, node, port };
}

static uint32_t loc_index(const struct rp_scope *s, tide_location l)
{
    return l.source ? s->ntargets + s->sbase[l.node] + l.port : s->tbase[l.node] + l.port;
}

/* Propagates the trackers. With one worker sharing them, @p df's operators hear of their
 * new frontiers at once (none with NULL); otherwise the changes are noted for every worker
 * to replay. */
static void propagate(struct tide__rank_progress *rp, tide_dataflow *df)
{
    /* What nested scopes hold, innermost first, into their parents. */
    for (uint32_t i = rp->nscopes; i-- > 1;) {
        struct rp_scope *s = &rp->scopes[i], *parent = &rp->scopes[s->parent];
        tide_tracker_propagate(s->internal);
        tide_change_batch_clear(&rp->scratch);
        tide_tracker_scope_changes(s->internal, &rp->scratch);
        for (size_t k = 0; k < rp->scratch.len; k++) {
            const tide_change *c = &rp->scratch.changes[k];
            tide_location l = { s->node_in_parent, (uint32_t)c->key, true };
            tide_tracker_update(parent->full, l, &c->time, c->delta);
            if (parent->internal)
                tide_tracker_update(parent->internal, l, &c->time, c->delta);
        }
    }
    /* Frontiers, outermost first: a scope's inputs take its parent's frontier. */
    size_t live = 0; /* the change of rp->live, modulo 2^N */
    for (uint32_t i = 0; i < rp->nscopes; i++) {
        struct rp_scope *s = &rp->scopes[i];
        if (!tide_tracker_propagate(s->full))
            continue;
        size_t n;
        const tide_location *changed = tide_tracker_changed(s->full, &n);
        for (size_t k = 0; k < n; k++) {
            tide_location l = changed[k];
            const tide_antichain *f = tide_tracker_frontier(s->full, l);
            uint32_t idx = loc_index(s, l);
            bool ne = f->len > 0;
            if (ne != s->nonempty[idx]) {
                s->nonempty[idx] = ne;
                live += ne ? 1 : (size_t)-1;
            }
            if (l.source)
                continue;
            if (s->kind[l.node] == NODE_SCOPE)
                mirror(&rp->scopes[s->child[l.node]], l.port, f);
            else if (s->kind[l.node] == NODE_OP && rp->nlocal > 1)
                note(rp, i, l.node, l.port);
            else if (s->kind[l.node] == NODE_OP && df)
                input_told(df, df->scopes[i]->nodes[l.node].ptr, l.port);
        }
    }
    /* The notes before the count: a worker that sees the trackers empty then sees the
     * notes it must still read before its dataflow is complete. */
    atomic_store_explicit(&rp->end, rp->base + rp->len, memory_order_release);
    if (live)
        atomic_fetch_add_explicit(&rp->live, live, memory_order_release);
}

/* Brings @p df's own frontiers up to the notes (under the lock); the operators to tell
 * are left in df->told. */
static void replay(struct tide__rank_progress *rp, tide_dataflow *df)
{
    size_t me = df->rp_slot;
    df->ntold = 0;
    if (atomic_exchange_explicit(&rp->resync[me], false, memory_order_relaxed)) {
        for (uint32_t k = 0; k < df->nops; k++) {
            tide_op *op = df->ops[k];
            for (uint32_t i = 0; i < op->nin; i++) {
                struct rp_scope *s = &rp->scopes[op->scope->index];
                input_moved(op, i, tide_tracker_frontier(s->full,
                                                         (tide_location){ op->node, i, false }));
                tide__reserve(&df->told, &df->captold, df->ntold + 1, sizeof *df->told);
                df->told[df->ntold++] = (struct tide__told){ op, i };
            }
        }
    }
    uint64_t end = rp->base + rp->len;
    for (uint64_t k = rp->cursor[me]; k < end; k++) {
        const struct note *nt = &rp->log[k - rp->base];
        tide_op *op = df->scopes[nt->scope]->nodes[nt->node].ptr;
        input_moved(op, nt->port,
                    tide_tracker_frontier(rp->scopes[nt->scope].full,
                                          (tide_location){ nt->node, nt->port, false }));
        tide__reserve(&df->told, &df->captold, df->ntold + 1, sizeof *df->told);
        df->told[df->ntold++] = (struct tide__told){ op, nt->port };
    }
    rp->cursor[me] = df->rp_seen = end;
    for (size_t i = 0; i < rp->nlocal; i++)
        if (rp->cursor[i] != NOT_JOINED && rp->cursor[i] < end)
            return;
    rp->base = end; /* everyone has read everything */
    rp->len = 0;
}

/* After the lock: tells @p df's operators, and wakes the rank-mates with notes to read. */
static void told(struct tide__rank_progress *rp, tide_dataflow *df, bool wake)
{
    for (size_t i = 0; i < df->ntold; i++)
        input_told(df, df->told[i].op, df->told[i].port);
    df->ntold = 0;
    if (!wake)
        return;
    for (size_t i = 0; i < rp->nlocal; i++) /* one not (or no longer) joined shrugs */
        if (i != df->rp_slot)
            tide__allocator_wake_local(df->w->alloc, i);
}

/* Flat combining: whoever gets the trackers' lock applies everything queued (its own
 * batches and its rank-mates'), propagates once and replays its notes; a worker that
 * finds the lock held leaves its batch queued and goes on (waiting for the lock made -w 2
 * barrier rounds 2.3x slower). The holder looks at the queue again after letting go, so
 * nothing queued meanwhile is left behind. Returns false if the lock was held. */
static bool combine(struct tide__rank_progress *rp, tide_dataflow *df)
{
    bool ran = false;
    while (rp_trylock(rp)) {
        ran = true;
        size_t changes = 0;
        uint64_t before = rp->base + rp->len;
        size_t live = atomic_load_explicit(&rp->live, memory_order_relaxed);
        if (dequeue(rp)) {
            apply(rp, df, rp->work.changes, rp->work.len);
            changes = rp->work.len;
        }
        if (changes)
            propagate(rp, df);
        bool wake = rp->nlocal > 1 &&
                    (rp->base + rp->len != before ||
                     (live && !atomic_load_explicit(&rp->live, memory_order_relaxed)));
        if (rp->nlocal > 1)
            replay(rp, df);
        rp_unlock(rp);
        df->moved |= df->ntold > 0;
        told(rp, df, wake);
        if (changes && df->w->log_kinds & TIDE_LOG_PROGRESS_RECEIVE)
            tide__log_progress(df, false, changes);
        /* seq_cst, as the enqueuer's count before its try: one of the two sees the
         * other (and absorb() looks at the count too, at every step of every worker). */
        if (!atomic_load(&rp->queued))
            break;
    }
    return ran;
}

/* ---------------------------------------------------------------- joining */

static void *rp_new(void *arg)
{
    size_t nlocal = *(const size_t *)arg;
    struct tide__rank_progress *rp = aligned_alloc(64, sizeof *rp);
    if (!rp)
        return NULL;
    memset(rp, 0, sizeof *rp);
    rp->nlocal = nlocal;
    rp->cursor = malloc(nlocal * sizeof *rp->cursor);
    rp->resync = malloc(nlocal * sizeof *rp->resync);
    bool mu = false, qmu = false;
    if (!rp->cursor || !rp->resync || !(mu = !pthread_mutex_init(&rp->mu, NULL)) ||
        !(qmu = !pthread_mutex_init(&rp->qmu, NULL))) {
        if (mu)
            pthread_mutex_destroy(&rp->mu);
        free(rp->cursor);
        free(rp->resync);
        free(rp);
        return NULL;
    }
    tide_change_batch_init(&rp->queue);
    tide_change_batch_init(&rp->work);
    atomic_init(&rp->queued, 0);
    for (size_t i = 0; i < nlocal; i++) {
        rp->cursor[i] = NOT_JOINED;
        atomic_init(&rp->resync[i], false);
    }
    atomic_init(&rp->live, 0);
    atomic_init(&rp->end, 0);
    tide_change_batch_init(&rp->scratch);
    return rp;
}

static void rp_free(void *arg)
{
    struct tide__rank_progress *rp = arg;
    for (uint32_t i = 0; i < rp->nscopes; i++) {
        struct rp_scope *s = &rp->scopes[i];
        tide_tracker_free(s->full);
        tide_tracker_free(s->internal);
        for (uint32_t j = 0; j < s->ninputs; j++)
            tide_antichain_free(&s->mirror[j]);
        free(s->mirror);
        free(s->tbase);
        free(s->sbase);
        free(s->kind);
        free(s->child);
        free(s->nonempty);
    }
    free(rp->scopes);
    tide_change_batch_free(&rp->scratch);
    free(rp->fp_prefix);
    free(rp->log);
    free(rp->cursor);
    free(rp->resync);
    tide_change_batch_free(&rp->queue);
    tide_change_batch_free(&rp->work);
    pthread_mutex_destroy(&rp->qmu);
    pthread_mutex_destroy(&rp->mu);
    free(rp);
}

static void *copy_of(const void *from, size_t n, size_t size)
{
    void *to = malloc(n ? n * size : 1);
    if (!to)
        tide__fatal("out of memory building a dataflow");
    memcpy(to, from, n * size);
    return to;
}

/* The first worker of the rank to end the dataflow makes the trackers: the scopes'
 * structure copied (the rank-mates' dataflows may be gone before the trackers are), every
 * worker's initial capabilities counted. */
static tide_tracker *tracker(tide_graph *g, const tide_scope *s)
{
    char err[512];
    tide_tracker *t;
    if (tide_tracker_new(g, &t, err, sizeof err) < 0)
        tide__fatal("dataflow '%s', scope '%s': %s", s->df->name, s->name, err);
    return t;
}

static void create(struct tide__rank_progress *rp, tide_dataflow *df,
                   tide_graph *(*graph)(tide_scope *s, tide_tracker *const *internal))
{
    rp->nscopes = df->nscopes;
    if (!(rp->scopes = calloc(df->nscopes, sizeof *rp->scopes)))
        tide__fatal("out of memory building a dataflow");
    tide_tracker **internal = calloc(df->nscopes, sizeof *internal);
    if (!internal)
        tide__fatal("out of memory building a dataflow");
    /* Children were created after their parents: made first, so that their summaries
     * are known when the parent's graph is. */
    for (uint32_t i = df->nscopes; i-- > 0;) {
        tide_scope *s = df->scopes[i];
        struct rp_scope *r = &rp->scopes[i];
        tide_graph *g = graph(s, internal);
        r->full = tracker(g, s);
        if (s->parent)
            internal[i] = r->internal = tracker(g, s);
        tide_graph_free(g);
        r->ninputs = s->ninputs;
        r->ntargets = s->ntargets;
        r->parent = s->parent ? s->parent->index : 0;
        r->node_in_parent = s->node_in_parent;
        r->tbase = copy_of(s->tbase, s->nnodes, sizeof *s->tbase);
        r->sbase = copy_of(s->sbase, s->nnodes, sizeof *s->sbase);
        r->kind = malloc((s->nnodes ? s->nnodes : 1) * sizeof *r->kind);
        r->child = calloc(s->nnodes ? s->nnodes : 1, sizeof *r->child);
        r->nonempty = calloc(s->nlocs ? s->nlocs : 1, sizeof *r->nonempty);
        r->mirror = calloc(s->ninputs ? s->ninputs : 1, sizeof *r->mirror);
        if (!r->kind || !r->child || !r->nonempty || !r->mirror)
            tide__fatal("out of memory building a dataflow");
        for (uint32_t n = 0; n < s->nnodes; n++) {
            r->kind[n] = s->nodes[n].kind;
            if (r->kind[n] == NODE_SCOPE)
                r->child[n] = ((tide_scope *)s->nodes[n].ptr)->index;
        }
        for (uint32_t j = 0; j < s->ninputs; j++)
            tide_antichain_init(&r->mirror[j]);
    }
    free(internal);
    tide_time zero = { 0 };
    int64_t peers = (int64_t)df->w->peers;
    for (uint32_t k = 0; k < df->nops; k++) {
        tide_op *op = df->ops[k];
        struct rp_scope *r = &rp->scopes[op->scope->index];
        zero.depth = op->scope->depth;
        for (uint32_t o = 0; o < op->nout; o++) {
            tide_location l = { op->node, o, true };
            tide_tracker_update(r->full, l, &zero, peers);
            if (r->internal)
                tide_tracker_update(r->internal, l, &zero, peers);
        }
    }
    rp->fp_pending = df->pc ? df->w->peers : 0;
    rp->fp_worker = df->w->index;
    rp->fp_full = df->fp_full;
    rp->fp_nops = df->nops;
    if (df->fp_prefix)
        rp->fp_prefix = copy_of(df->fp_prefix, df->nops, sizeof *df->fp_prefix);
    /* Every worker copies its frontiers as it joins, and every operator runs once at the
     * start: no notes. */
    propagate(rp, NULL);
    rp->base += rp->len;
    rp->len = 0;
    atomic_store_explicit(&rp->end, rp->base, memory_order_release);
    rp->built = true;
}

void tide__progress_install(tide_dataflow *df,
                            tide_graph *(*graph)(tide_scope *s, tide_tracker *const *internal))
{
    tide_worker *w = df->w;
    tide_allocator *a = w->alloc;
    size_t nlocal = w->peers / tide_allocator_ranks(a);
    df->rp_shared = df->pc && w->share && nlocal >= w->share;
    if (df->rp_shared) {
        df->rp_slot = w->index - tide_allocator_rank(a) * nlocal;
        df->rp = tide_progcaster_share_rank(df->pc, rp_new, &nlocal, rp_free);
    } else {
        /* Its own: every batch of the rank's workers comes through the progress channel
         * (its own too) and is applied here, as by each rank-mate. */
        size_t one = 1;
        df->rp_slot = 0;
        df->rp = rp_new(&one);
    }
    if (!df->rp)
        tide__fatal("dataflow '%s': out of memory", df->name);
    struct tide__rank_progress *rp = df->rp;
    rp_lock(rp);
    if (!rp->built)
        create(rp, df, graph);
    else if (rp->fp_full != df->fp_full || rp->fp_nops != df->nops)
        tide__fingerprint_differs(df, rp->fp_worker, rp->fp_nops, rp->fp_prefix);
    rp->cursor[df->rp_slot] = df->rp_seen = rp->base + rp->len;
    for (uint32_t k = 0; k < df->nops; k++) {
        tide_op *op = df->ops[k];
        const tide_tracker *t = rp->scopes[op->scope->index].full;
        for (uint32_t i = 0; i < op->nin; i++) {
            const tide_antichain *f = tide_tracker_frontier(t, (tide_location){ op->node, i,
                                                                                false });
            if (rp->nlocal > 1) {
                copy_antichain(&op->in[i].own, f);
                f = &op->in[i].own;
            }
            op->in[i].frontier = f;
        }
    }
    rp_unlock(rp);
    if (w->log_kinds & TIDE_LOG_FRONTIER)
        for (uint32_t k = 0; k < df->nops; k++)
            for (uint32_t i = 0; i < df->ops[k]->nin; i++)
                tide__log_frontier(w, df->ops[k], i, df->ops[k]->in[i].frontier);
}

void tide__progress_leave(tide_dataflow *df)
{
    struct tide__rank_progress *rp = df->rp;
    if (!rp)
        return;
    rp_lock(rp);
    rp->cursor[df->rp_slot] = NOT_JOINED;
    rp_unlock(rp);
    if (!df->rp_shared)
        rp_free(rp);
    df->rp = NULL;
}

/* ---------------------------------------------------------------- demand mode */

/* Whether removing pointstamp (l, t) may move a frontier, in the rank's view: not when
 * the frontier at l holds a time strictly before t, nor when something other than l's own
 * pointstamps implies t at l (an upstream capability or message: its own release is what
 * will matter). The test of timely's demand mode. Holding a removal only delays it, so a
 * wrong "no" costs time, never safety; and the earliest pointstamp's removal always
 * matters, so holds resolve in order. */
static bool removal_matters(struct tide__rank_progress *rp, const tide_change *c)
{
    uint64_t s = c->key >> TIDE__SCOPE_SHIFT;
    if (s >= rp->nscopes)
        return true;
    tide_tracker *t = rp->scopes[s].full;
    tide_location l = tide_location_from_key(c->key & LOC_MASK);
    const tide_mutable_antichain *imp = tide_tracker_implications(t, l);
    for (size_t i = 0; i < imp->frontier.len; i++)
        if (tide_time_lt(&imp->frontier.elems[i], &c->time))
            return false;
    const tide_antichain *own = &tide_tracker_pointstamps(t, l)->frontier;
    int64_t mine = 0;
    for (size_t i = 0; i < own->len; i++)
        if (tide_time_eq(&own->elems[i], &c->time))
            mine = 1;
    return tide_mutable_antichain_count(imp, &c->time) - mine < 1;
}

bool tide__progress_must_send(void *ctx, const tide_change *c, size_t n)
{
    tide_dataflow *df = ctx;
    struct tide__rank_progress *rp = df->rp;
    if (!rp) /* not built yet: nothing can move */
        return true;
    bool must = false;
    rp_lock(rp);
    for (size_t i = 0; i < n && !must; i++)
        must = c[i].delta < 0 && removal_matters(rp, &c[i]);
    rp_unlock(rp);
    return must;
}

/* ---------------------------------------------------------------- each step */

/* A batch read from the progress channel: a cast from another rank, queued for the
 * trackers by the first of the rank's workers to read it. */
static void collect(void *ctx, const tide_change *c, size_t n, uint64_t cast)
{
    tide_dataflow *df = ctx;
    enqueue(df->rp, c, n, cast);
}

bool tide__progress_absorb(tide_dataflow *df)
{
    struct tide__rank_progress *rp = df->rp;
    size_t got = 0;
    if (df->pc)
        got = tide_progcaster_recv_each(df->pc, collect, df);
    bool behind = rp->nlocal > 1 &&
                  (atomic_load_explicit(&rp->end, memory_order_acquire) != df->rp_seen ||
                   atomic_load_explicit(&rp->resync[df->rp_slot], memory_order_relaxed) ||
                   atomic_load_explicit(&rp->queued, memory_order_relaxed));
    if (!got && !behind)
        return false;
    df->moved = false;
    bool ran = combine(rp, df);
    /* New frontiers count as work, as a rank-mate's batch arriving did: a worker that
     * counted them idle would soon yield or park while its rank-mates make progress. So
     * does a replay put off because a rank-mate held the trackers. */
    return got > 0 || df->moved || (behind && !ran);
}

void tide__progress_send(tide_dataflow *df)
{
    if (df->local.len) {
        tide_change_batch_compact(&df->local);
        if (df->local.len) {
            if (df->pc && df->w->log_kinds & TIDE_LOG_PROGRESS_SEND)
                tide__log_progress(df, true, df->local.len);

            /* Applied before the worker decides whether to sleep, so that what it enables
             * is active by then (by a rank-mate holding the trackers, if one does: it
             * wakes whoever has new frontiers). */
            if (df->rp_shared || !df->pc) {
                enqueue(df->rp, df->local.changes, df->local.len, UINT64_MAX);
                combine(df->rp, df);
            } /* else it comes back through the progress channel, as to every rank-mate */
        }
    }
    if (df->pc)
        tide_progcaster_send(df->pc, &df->local); /* every step: it may release a held batch */
    else
        tide_change_batch_clear(&df->local);
}

bool tide__dataflow_complete(const tide_dataflow *df)
{
    /* Empty trackers, and this worker's operators have heard of every frontier change
     * (a rank-mate may have emptied the trackers since this worker last looked). */
    const struct tide__rank_progress *rp = df->rp;
    return !df->nactive && !df->local.len && !df->ndirty &&
           !atomic_load_explicit(&rp->live, memory_order_acquire) &&
           (rp->nlocal == 1 ||
            (atomic_load_explicit(&rp->end, memory_order_acquire) == df->rp_seen &&
             !atomic_load_explicit(&rp->resync[df->rp_slot], memory_order_relaxed)));
}
