/* SPDX-License-Identifier: MIT */
/* Workers: running a program on every worker, stepping dataflows, activations. */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

/* Steps with nothing to do before tide_worker_step_or_park() sleeps: a peer's reply is
 * usually a few microseconds away, and a futex wake per round costs more than that. */
#define SPIN_STEPS 200
/* Idle steps between two sched_yield() calls in tide_worker_step(). */
#define YIELD_EVERY 64
/* Spare batches a worker keeps, and their bytes at most: batches come back from every
 * channel, so a count alone would let the pool hold many large ones (exchange 8 x 8:
 * 43.5 MiB per rank with 256 batches and no byte bound). */
#define POOL_MAX 256
#define POOL_BYTES (1024 * 1024)

size_t tide_worker_index(const tide_worker *w) { return w->index; }
size_t tide_worker_peers(const tide_worker *w) { return w->peers; }
tide_allocator *tide_worker_allocator(tide_worker *w) { return w->alloc; }

tide_batch *tide__worker_batch(tide_worker *w, const tide_type *type)
{
    tide_batch *b = tide__fifo_take(&w->pool);
    if (b) {
        w->pool_bytes -= b->cap;
        b->type = type;
        b->len = b->bytes = 0;
        return b;
    }
    if (!(b = tide_batch_new(type, 1024)))
        tide__fatal("out of memory allocating a batch");
    return b;
}

void tide__worker_recycle(tide_worker *w, tide_batch *b)
{
    if (w->pool.count >= POOL_MAX || w->pool_bytes + b->cap > POOL_BYTES) {
        tide_batch_free(b);
        return;
    }
    tide_batch_clear(b);
    tide__fifo_put_front(&w->pool, b);
    w->pool_bytes += b->cap;
}

/* ---------------------------------------------------------------- activators */

static void hub_release(struct tide__act_hub *h)
{
    if (atomic_fetch_sub(&h->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h->ext);
    free(h);
}

tide_activator *tide_op_activator(tide_op *op)
{
    if (!op->act) {
        tide_activator *a = calloc(1, sizeof *a);
        if (!a)
            tide__fatal("out of memory creating an activator");
        atomic_init(&a->refs, 1);
        atomic_init(&a->queued, false);
        a->hub = op->df->w->hub;
        atomic_fetch_add(&a->hub->refs, 1);
        a->op = op;
        op->act = a;
    }
    return op->act;
}

tide_activator *tide_activator_retain(tide_activator *a)
{
    atomic_fetch_add(&a->refs, 1);
    return a;
}

void tide_activator_release(tide_activator *a)
{
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    hub_release(a->hub);
    free(a);
}

int tide_activator_activate(tide_activator *a)
{
    struct tide__act_hub *h = a->hub;
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    if (!a->op || h->gone) {
        rc = TIDE_EGONE;
    } else if (!atomic_exchange(&a->queued, true)) {
        tide__reserve(&h->ext, &h->capext, h->next + 1, sizeof *h->ext);
        h->ext[h->next++] = a;
        atomic_store(&h->pending, true);
        tide_allocator_wake(h->alloc); /* under the lock: the worker is still there */
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

void tide__worker_forget_activator(tide_worker *w, tide_activator *a)
{
    struct tide__act_hub *h = w->hub;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->next; i++)
        if (h->ext[i] == a)
            h->ext[i--] = h->ext[--h->next];
    a->op = NULL;
    pthread_mutex_unlock(&h->mu);
    tide_activator_release(a); /* the operator's reference */
}

static bool take_activations(tide_worker *w)
{
    struct tide__act_hub *h = w->hub;
    if (!atomic_load_explicit(&h->pending, memory_order_acquire))
        return false;
    pthread_mutex_lock(&h->mu);
    atomic_store(&h->pending, false);
    for (size_t i = 0; i < h->next; i++) {
        atomic_store(&h->ext[i]->queued, false);
        tide__activate(h->ext[i]->op);
    }
    h->next = 0;
    pthread_mutex_unlock(&h->mu);
    return true;
}

/* ---------------------------------------------------------------- finished workers */

struct finished {
    uint64_t worker, built;
    int64_t result;
};
static TIDE_TYPE_POD(finished_type, struct finished);

/* Idle steps between two looks at the finished workers' channel. */
#define DONE_CHECK_EVERY 64

/* Tells the next worker (index + 1, wrapping): one message per worker, not one per pair.
 * If some workers built a dataflow that worker k never built, the first of them after k
 * hears of it, from k or from a worker between them that did not build it either (and so
 * finished too); none of them can have completed it. */
static void announce_finished(tide_worker *w, int rc)
{
    if (!w->done_push)
        return;
    tide_batch *b = tide_batch_new(&finished_type, sizeof(struct finished));
    struct finished f = { w->index, w->next_id, rc };
    if (!b || tide_batch_push(b, &f) != 0)
        tide__fatal("out of memory announcing the end of worker %zu", w->index);
    tide_push_send(w->done_push, &b); /* to the next worker, index + 1 */
    tide_push_send(w->done_push, NULL);
    tide_batch_free(b);
    tide_allocator_release(w->alloc);
}

/* The previous worker has finished after building `built` dataflows: one of ours with a
 * later id can never complete. */
static void check_finished(tide_worker *w)
{
    tide_batch *b = NULL;
    while (tide_pull_recv(w->done_pull, &b)) {
        const struct finished *f = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            for (size_t d = 0; d < w->ndfs; d++)
                if (w->dfs[d]->id >= f[i].built)
                    tide__fatal("worker %llu finished (its function returned %lld) after "
                                "building %llu dataflows, so dataflow '%s' (number %u) of "
                                "worker %zu can never complete: every worker must build the "
                                "same dataflows",
                                (unsigned long long)f[i].worker, (long long)f[i].result,
                                (unsigned long long)f[i].built, w->dfs[d]->name,
                                w->dfs[d]->id + 1, w->index);
    }
}

/* ---------------------------------------------------------------- stepping */

static void flush_dirty(tide_dataflow *df)
{
    for (uint32_t i = 0; i < df->ndirty; i++)
        tide__op_flush(df->dirty[i]);
    df->ndirty = 0;
}

static void remove_dataflow(tide_worker *w, size_t i)
{
    tide_dataflow *df = w->dfs[i];
    for (tide_probe *p = w->probes; p; p = p->next)
        for (size_t k = 0; k < p->nops; k++)
            if (p->ops[k]->df == df)
                p->ops[k--] = p->ops[--p->nops]; /* a finished dataflow: nothing more comes */
    for (tide_input *in = w->inputs; in; in = in->next)
        if (in->op && in->op->df == df) {
            in->op = NULL;
            in->win = NULL;
            in->cap = NULL;
            in->closed = true;
        }
    if (w->ngated)
        tide__budget_forget(w, df);
    tide__dataflow_free(df);
    memmove(&w->dfs[i], &w->dfs[i + 1], (w->ndfs - i - 1) * sizeof *w->dfs);
    w->ndfs--;
}

bool tide_worker_step(tide_worker *w)
{
    /* Receiving first notes the wake-ups seen so far (a park returns at once after a
     * later one): taking the activations first lost one that came in between, and the
     * worker then slept through it (check_dataflow's activator test hung under ASan). */
    tide_allocator_receive(w->alloc);
    bool did = take_activations(w);
    for (size_t d = 0; d < w->ndfs; d++) {
        tide_dataflow *df = w->dfs[d];
        flush_dirty(df);
        for (uint32_t k = 0; k < df->nexchange; k++)
            if (tide__op_poll(df->exchange_ops[k]))
                tide__activate(df->exchange_ops[k]);
        did |= tide__progress_absorb(df);
        if (!df->nactive)
            continue;
        did = true;
        if (w->trace) /* what waits for the operators, before they run */
            tide__trace_queue(w, false);
        for (uint32_t k = 0; k < df->nops && df->nactive; k++) {
            tide_op *op = df->ops[k];
            if (!op->active)
                continue;
            op->active = false;
            df->nactive--;
            if (w->trace) {
                uint64_t start = tide__now_ns(), records = w->records_in;
                tide__op_run(op);
                tide__trace_op(w, op, start, records);
            } else {
                tide__op_run(op);
            }
        }
    }
    for (size_t d = 0; d < w->ndfs; d++) {
        flush_dirty(w->dfs[d]);
        tide__progress_send(w->dfs[d]);
    }
    w->busy_steps += did;
    if (w->budget)
        tide__budget_step(w, did);
    if (w->trace)
        tide__trace_queue(w, false);
    if (w->watch &&
        atomic_load_explicit(w->watch_requests, memory_order_relaxed) != w->watch_seen)
        tide__watch_answer(w);
    tide_allocator_release(w->alloc);
    for (size_t d = w->ndfs; d-- > 0;)
        if (tide__dataflow_complete(w->dfs[d]))
            remove_dataflow(w, d);
    w->idle = did ? 0 : w->idle + 1;
    /* A worker waiting on its peers gives up its core now and then: when workers
     * outnumber cores, the peer it waits for may need it. */
    if (w->idle && w->idle % YIELD_EVERY == 0)
        sched_yield();
    if (w->done_pull && w->idle % DONE_CHECK_EVERY == 1 && w->ndfs)
        check_finished(w);
    return w->ndfs > 0;
}

#define DEMAND_RECHECK_NS 10000000

bool tide_worker_step_or_park(tide_worker *w, int64_t timeout_ns)
{
    bool more = tide_worker_step(w);
    if (w->idle == 0 || !more)
        return more;
    if (w->idle < SPIN_STEPS) {
        if (w->idle > SPIN_STEPS / 2)
            sched_yield();
        return more;
    }
    for (size_t d = 0; d < w->ndfs; d++)
        if (w->dfs[d]->nactive)
            return more;
    bool holding = false;
    for (size_t d = 0; d < w->ndfs; d++) {
        tide_progcaster_flush(w->dfs[d]->pc);
        holding |= tide_progcaster_holding(w->dfs[d]->pc);
    }
    /* Demand mode may still hold updates that matter to nobody yet: wake up now and then
     * to look again (what arrives wakes us anyway). */
    if (holding && (timeout_ns < 0 || timeout_ns > DEMAND_RECHECK_NS))
        timeout_ns = DEMAND_RECHECK_NS;
    timeout_ns = tide__budget_timeout(w, timeout_ns);
    if (w->done_pull) /* a finished peer's word is what wakes a worker waiting on it */
        check_finished(w);
    if (w->trace) {
        uint64_t start = tide__now_ns();
        tide_allocator_park(w->alloc, timeout_ns);
        tide__trace_park(w, start);
    } else {
        tide_allocator_park(w->alloc, timeout_ns);
    }
    return more;
}

void tide_worker_step_while(tide_worker *w, bool (*cond)(void *), void *arg)
{
    while (cond(arg))
        tide_worker_step(w);
}

size_t tide_worker_dataflows(const tide_worker *w) { return w->ndfs; }

void tide_dataflow_drop(tide_dataflow *df)
{
    tide_worker *w = df->w;
    for (size_t i = 0; i < w->ndfs; i++)
        if (w->dfs[i] == df) {
            remove_dataflow(w, i);
            return;
        }
    tide__fatal("tide_dataflow_drop: dataflow '%s' is not installed", df->name);
}

void tide_abort(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tide__fatal("%s", msg);
}

/* ---------------------------------------------------------------- execution */

static void worker_init(tide_worker *w, tide_allocator *a)
{
    memset(w, 0, sizeof *w);
    w->alloc = a;
    w->index = tide_allocator_index(a);
    w->peers = tide_allocator_peers(a);
    if (!(w->hub = calloc(1, sizeof *w->hub)) || pthread_mutex_init(&w->hub->mu, NULL) != 0)
        tide__fatal("out of memory starting a worker");
    atomic_init(&w->hub->refs, 1);
    atomic_init(&w->hub->pending, false);
    w->hub->alloc = a;
    int chan = w->peers > 1 ? tide_allocator_allocate_lazy(a, &finished_type, &w->done_pull) : -1;
    if (w->peers > 1 &&
        (chan < 0 || !(w->done_push = tide_allocator_push(a, chan, (w->index + 1) % w->peers))))
        tide__fatal("worker %zu: cannot allocate its first channel", w->index);
}

static void worker_destroy(tide_worker *w)
{
    while (w->ndfs)
        remove_dataflow(w, w->ndfs - 1);
    for (tide_probe *p = w->probes, *next; p; p = next) {
        next = p->next;
        tide_antichain_free(&p->merged);
        free(p->ops);
        free(p);
    }
    for (tide_input *in = w->inputs, *next; in; in = next) {
        next = in->next;
        free(in);
    }
    tide__fifo_free_all(&w->pool);
    for (size_t i = 0; i < w->ncap_blocks; i++)
        free(w->cap_blocks[i]);
    free(w->cap_blocks);
    free(w->dfs);
    pthread_mutex_lock(&w->hub->mu);
    w->hub->gone = true;
    pthread_mutex_unlock(&w->hub->mu);
    hub_release(w->hub);
}

struct run {
    tide_worker_fn fn;
    void *ctx;
    tide_progress_mode mode;
    size_t share;
    const char *dot, *trace, *trace_otf2;
    struct tide__watch *watch;
    struct tide__budget *budget;
};

/* Capabilities of operators without logic (unordered inputs, and builder operators that
 * hand their capabilities to the program) can only be held by the program: once its
 * function has returned nobody will drop them, so drop them here, as timely's closure end
 * does. Operators with logic keep theirs (their state may still drop them). An owned slot's
 * operator is alive: freeing a dataflow frees its owned slots (tide__cap_forget). */
static void drop_program_caps(tide_worker *w)
{
    for (size_t b = 0; b < w->ncap_blocks; b++)
        for (size_t i = 0; i < TIDE__CAP_BLOCK; i++) {
            tide_cap *c = (tide_cap *)w->cap_blocks[b] + i;
            if (c->kind == CAP_OWNED && !c->op->logic)
                tide__cap_drop_slot(c);
        }
}

static int run_worker(tide_allocator *a, void *arg)
{
    struct run *r = arg;
    tide_worker w;
    worker_init(&w, a);
    w.demand = r->mode == TIDE_PROGRESS_DEMAND;
    w.share = r->share;
    w.dot = r->dot;
    tide__watch_join(&w, r->watch);
    tide__trace_join(&w, r->trace, r->trace_otf2);
    tide__budget_join(&w, r->budget);
    if (!r->budget)
        tide__spare_start();
    int rc = r->fn(&w, r->ctx);
    tide__log_stop(&w);
    if (w.unbuilt)
        tide__fatal("worker %zu: dataflow '%s' was begun but never built: its function "
                    "returned without calling tide_dataflow_end on its root scope", w.index,
                    w.unbuilt->name);
    for (tide_input *in = w.inputs; in; in = in->next)
        if (!in->closed)
            tide_input_close(in);
    drop_program_caps(&w);
    /* Finish what the program built, whatever it returned: its peers may still need our
     * progress (a failing worker that stopped here would leave them waiting forever). */
    while (tide_worker_step_or_park(&w, -1))
        ;
    tide__watch_leave(&w);
    tide__budget_leave(&w);
    tide__trace_finish(&w);
    announce_finished(&w, rc);
    worker_destroy(&w);
    tide__spare_end();
    return rc;
}

int tide_execute_results(const tide_config *cfg, tide_worker_fn fn, void *ctx, int *each,
                         size_t cap)
{
    struct run r = { fn, ctx, cfg ? cfg->progress_mode : TIDE_PROGRESS_EAGER,
                     cfg ? cfg->progress_share : TIDE_SHARE_WORKERS, cfg ? cfg->dot : NULL, cfg ? cfg->trace : NULL, cfg ? cfg->trace_otf2 : NULL,
                     NULL, NULL };
    tide_guards *g;
    if (cfg && cfg->workers)
        r.watch = tide__watch_start(cfg);
    r.budget = tide__budget_start(cfg);
    int rc = tide_comm_initialize(cfg, run_worker, &r, &g);
    if (rc < 0) {
        tide__watch_stop(r.watch);
        tide__budget_stop(r.budget, 0, false);
        for (size_t i = 0; each && i < cap; i++)
            each[i] = 0;
        return rc;
    }
    size_t n = tide_guards_count(g), rank = tide_guards_first(g) / n;
    int *results = calloc(n, sizeof *results);
    if (!results)
        tide__fatal("out of memory");
    rc = tide_guards_join(g, results);
    tide__watch_stop(r.watch);
    tide__budget_stop(r.budget, rank, cfg && (cfg->memory || cfg->watch));
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = results[i];
    for (size_t i = 0; each && i < cap; i++)
        each[i] = i < n ? results[i] : 0;
    free(results);
    return rc;
}

int tide_execute(const tide_config *cfg, tide_worker_fn fn, void *ctx)
{
    return tide_execute_results(cfg, fn, ctx, NULL, 0);
}

int tide_execute_from_args(int *argc, char **argv, tide_worker_fn fn, void *ctx)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, argc, argv) != 0) {
        const char *prog = argv && argv[0] ? argv[0] : "tide";
        const char *slash = strrchr(prog, '/');
        fprintf(stderr, "%s: %s\n", slash ? slash + 1 : prog, cfg.error);
        return TIDE_EINVAL;
    }
    return tide_execute(&cfg, fn, ctx);
}

int tide_example(tide_worker_fn fn, void *ctx)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = 1;
    cfg.launch = TIDE_LAUNCH_SINGLE;
    cfg.bind = TIDE_BIND_NONE;
    return tide_execute(&cfg, fn, ctx);
}
