/* SPDX-License-Identifier: MIT */
/*
 * --memory: a rank's budget for the batches it holds (tide_memory_held()), kept by making
 * its sources wait. Only sources wait (to_stream_iter, replay_into, and programs that ask
 * tide_worker_has_room() before feeding an input); every other operator always runs, so
 * what is queued drains.
 *
 * Why this cannot deadlock: a source that waits holds its capability, and memory may be
 * held by records that wait for exactly that capability to go (records an operator stashes
 * until a time completes, a loop that needs the input's next epoch). So a source waits only
 * while the rank is moving: some worker of the rank took a batch or did something in a
 * step, its transport sent or received a frame (a sender slowed by its receiver's credits,
 * mpi_credit.c, waits), or the bytes held fell. Once nothing has moved for PATIENCE_NS while over budget,
 * waiting cannot help: the worker's sources get a grant of more bytes (an eighth of the
 * budget, doubled at each grant in a row, so a stash larger than the budget costs a few
 * waits, not one per eighth), then wait again. The budget is kept whenever the rank can
 * drain by itself, and overrun (counted and reported) only when it cannot.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../comm/bufpool_internal.h"
#include "dataflow_internal.h"

/* Long enough that a worker deep in one batch (the signs that the rank moves are counted
 * per batch taken and per step) is not taken for a stuck rank; short enough that a job
 * whose stash exceeds the budget loses little (the grants double). */
#define PATIENCE_NS 10000000
/* Longest a worker with waiting sources sleeps before looking at the budget again. */
#define RECHECK_NS 500000

struct busy {
    _Alignas(64) atomic_uint_fast64_t moves; /* the worker's, published */
};

struct tide__budget {
    struct tide__moves moves; /* first: the transport sees this much (busy_sum) */
    uint64_t limit, quantum;
    size_t nlocal;
    atomic_size_t joined;
    struct busy *busy; /* per worker: its busy steps plus the batches it took */
    atomic_uint_fast64_t waits, grants; /* episodes of waiting; grants given */
    struct tide__spill *spill;
};

static uint64_t moves_sum(const struct tide__moves *m);

struct tide__budget *tide__budget_start(const tide_config *cfg)
{
    if (cfg && (cfg->memory || cfg->watch))
        tide__memory_restart_peak(); /* the report is of this execution */
    if (!cfg || !cfg->memory)
        return NULL;
    struct tide__budget *b = calloc(1, sizeof *b);
    size_t nlocal = cfg->workers ? cfg->workers : 1;
    if (!b || !(b->busy = aligned_alloc(64, nlocal * sizeof *b->busy)))
        tide__fatal("out of memory starting --memory");
    b->moves.sum = moves_sum;
    b->limit = cfg->memory;
    b->spill = tide__spill_new(tide__spill_dir(cfg->spill_dir));
    b->quantum = b->limit / 8 > 65536 ? b->limit / 8 : 65536;
    b->nlocal = nlocal;
    /* buffers recycled rank-wide, at most an eighth of the budget kept free */
    tide__bufpool_start(b->limit / 8);
    atomic_init(&b->joined, 0);
    atomic_init(&b->waits, 0);
    atomic_init(&b->grants, 0);
    for (size_t i = 0; i < nlocal; i++)
        atomic_init(&b->busy[i].moves, 0);
    return b;
}

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

void tide__budget_stop(struct tide__budget *b, size_t rank, bool report)
{
    uint64_t spilled = 0, spilled_bytes = 0;
    if (b)
        tide__spill_free(b->spill, &spilled, &spilled_bytes);
    if (report) { /* one write: the ranks of a job share the launcher's stderr */
        long hwm = tide__status_kib("VmHWM");
        char budget[64] = "", waits[192] = "";
        if (b) {
            snprintf(budget, sizeof budget, " (budget %.1f MiB)", mib(b->limit));
            snprintf(waits, sizeof waits, "; sources waited %llu times, the budget gave way "
                                          "%llu times, %llu batches spilled (%.1f MiB)",
                     (unsigned long long)atomic_load(&b->waits),
                     (unsigned long long)atomic_load(&b->grants),
                     (unsigned long long)spilled, mib(spilled_bytes));
        }
        fprintf(stderr, "tide: rank %zu: memory peak %.1f MiB held in batches%s, peak RSS "
                        "%.1f MiB%s\n",
                rank, mib(tide_memory_peak()), budget, hwm < 0 ? 0.0 : (double)hwm / 1024,
                waits);
    }
    if (b) {
        tide__bufpool_stop();
        free(b->busy);
        free(b);
    }
}

void tide__budget_join(tide_worker *w, struct tide__budget *b)
{
    w->budget = b;
    if (!b)
        return;
    w->budget_slot = atomic_fetch_add(&b->joined, 1);
    if (w->budget_slot >= b->nlocal)
        tide__fatal("--memory: more workers joined than the rank has");
    w->spill = b->spill;
    atomic_store(&w->alloc->shared->moves, &b->moves);
    if (w->budget_slot == 0) { /* a spill directory that cannot be used fails now */
        char err[4200];
        if (tide__spill_prepare(b->spill, err, sizeof err) != 0)
            tide__fatal("rank %zu: %s", tide_allocator_rank(w->alloc), err);
    }
}

uint64_t tide__budget_limit(const struct tide__budget *b) { return b->limit; }

static uint64_t busy_sum(const struct tide__budget *b)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < b->nlocal; i++)
        sum += atomic_load_explicit(&b->busy[i].moves, memory_order_relaxed);
    return sum;
}

static uint64_t moves_sum(const struct tide__moves *m)
{
    return busy_sum((const struct tide__budget *)m);
}

static void trim(tide_worker *w)
{
    tide__fifo_free_all(&w->pool);
    w->pool_bytes = 0;
    tide__allocator_trim(w->alloc);
}

bool tide__budget_room(tide_worker *w)
{
    struct tide__budget *b = w->budget;
    if (!b)
        return true;
    uint64_t held = tide_memory_held();
    if (held < b->limit) {
        w->gate_since = 0;
        w->grant = 0;
        w->grant_bytes = 0;
        return true;
    }
    if (held < w->grant)
        return true;
    /* What this worker keeps for reuse goes first: batches handed back wait there until it
     * sends again, and a waiting source does not send. */
    trim(w);
    if ((held = tide_memory_held()) < b->limit)
        return true;
    uint64_t busy = busy_sum(b) + tide__transport_moves(w->alloc), now = tide__now_ns();
    if (!w->gate_since || busy != w->gate_busy || held < w->gate_held) {
        if (!w->gate_since)
            atomic_fetch_add_explicit(&b->waits, 1, memory_order_relaxed);
        w->gate_since = now;
        w->gate_busy = busy;
        w->gate_held = held;
        w->grant = 0;
        return false;
    }
    if (now - w->gate_since < PATIENCE_NS || tide__transport_waiting(w->alloc))
        return false;
    atomic_fetch_add_explicit(&b->grants, 1, memory_order_relaxed);
    w->grant_bytes = w->grant_bytes ? 2 * w->grant_bytes : b->quantum;
    w->grant = held + w->grant_bytes;
    w->gate_since = 0;
    return true;
}

bool tide_worker_has_room(tide_worker *w) { return tide__budget_room(w); }

static void wait_for_room(tide_op *op)
{
    tide_worker *w = op->df->w;
    for (size_t i = 0; i < w->ngated; i++)
        if (w->gated[i] == op)
            return;
    if (w->ngated == w->capgated) {
        size_t cap = w->capgated ? 2 * w->capgated : 4;
        tide_op **g = realloc(w->gated, cap * sizeof *g);
        if (!g)
            tide__fatal("out of memory: a source waiting for --memory");
        w->gated = g;
        w->capgated = cap;
    }
    w->gated[w->ngated++] = op;
}

bool tide_op_has_room(tide_op *op)
{
    if (tide__budget_room(op->df->w))
        return true;
    wait_for_room(op);
    return false;
}

void tide__budget_forget(tide_worker *w, const tide_dataflow *df)
{
    size_t k = 0;
    for (size_t i = 0; i < w->ngated; i++)
        if (w->gated[i]->df != df)
            w->gated[k++] = w->gated[i];
    w->ngated = k;
}

void tide__budget_moved(tide_worker *w)
{
    atomic_store_explicit(&w->budget->busy[w->budget_slot].moves, ++w->moves,
                          memory_order_relaxed);
}

void tide__budget_step(tide_worker *w, bool did)
{
    if (did)
        tide__budget_moved(w);
    if (w->ngated && tide__budget_room(w)) {
        for (size_t i = 0; i < w->ngated; i++)
            tide__activate(w->gated[i]);
        w->ngated = 0;
    }
}

int64_t tide__budget_timeout(const tide_worker *w, int64_t timeout_ns)
{
    if (!w->ngated)
        return timeout_ns;
    return timeout_ns < 0 || timeout_ns > RECHECK_NS ? RECHECK_NS : timeout_ns;
}

void tide__budget_leave(tide_worker *w)
{
    free(w->gated);
    w->gated = NULL;
    w->ngated = w->capgated = 0;
}
