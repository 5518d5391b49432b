/* SPDX-License-Identifier: MIT */
/*
 * tide as an implementation of Task Bench (Slaughter et al., SC20): the task graphs of its
 * core library, run as a timely dataflow, with the core's own kernels, input validation and
 * report, so that Task Bench's scripts read this program's output as they read the others'.
 *
 * Each graph is one operator in a loop whose feedback adds 1 to the epoch. Points are split
 * among the workers in blocks (worker w of W owns points [w M / W, (w + 1) M / W) of a
 * graph M wide). A task runs as soon as all of its inputs have arrived, counted against its
 * dependencies, not when a frontier passes, so no timestep waits for the progress protocol.
 * An output goes straight to the dependent points of the same worker and, exchanged by
 * point, to the others', with the producer's point and the reader's timestep, so that the
 * receiver puts it in the slot the core expects. The core checks every task's inputs
 * (their timestep and point) and stops the run on a wrong one.
 *
 * Times: by default every output travels at epoch 0 (each worker's operator holds its
 * capability there until its points have run every task), so progress messages are only
 * needed when a graph ends. With --timestep-epochs, timestep t is epoch t instead: the
 * capability follows the earliest timestep a point of the worker has still to run, and a
 * probe could tell when each timestep is complete everywhere, at the price of a progress
 * round per timestep (doc/architecture.md compares the two).
 *
 * Like Task Bench's MPI implementations, the graphs run twice and the second run is timed,
 * from a point all workers have reached until every task of every graph has run.
 *
 *   task_bench [Task Bench options: -steps N -width N -type T -kernel K -iter N ... -and ...]
 *              [--timestep-epochs] [tide options]
 */
#include <core_c.h>
#include <inttypes.h>

#include "example.h"

/* What an output record carries before the output itself. */
struct header {
    int64_t dst, src, t; /* t: the timestep of dst's task that reads it */
};

struct interval {
    long lo, hi;
};

/* Dependencies (or reverse dependencies) of a graph's points, per dependence set. */
struct deps {
    struct interval *iv; /* all intervals; point i of set d has [at[d][i], at[d][i+1]) */
    size_t *at;          /* (nsets * npoints + 1) offsets into iv */
};

/* Inputs of one task of a point that have arrived before it could run. */
struct pending {
    long t;
    long count, expected;
    char *buf; /* expected outputs, in the core's order */
    size_t cap;
};

struct point {
    long next;                /* the next timestep at which this point has a task */
    struct pending *pend;     /* [0, npend) in use, then spare buffers */
    size_t npend, nspare, cappend;
    char *output;
    const char **in_ptr;
    size_t *in_bytes;
    bool queued; /* on the ready queue */
};

/* A timestep's shape (the core computes it on each call, through a C++ object). */
struct step {
    long t, offset, width, set;
};
#define STEP_CACHE 64 /* timesteps remembered: the few in flight at once, and then some */

struct graph {
    task_graph_t g;
    struct step steps[STEP_CACHE]; /* timestep t at (t + 1) % STEP_CACHE */
    size_t me;
    long first, npoints; /* this worker's points */
    long nsets;
    uint32_t *owner; /* worker of every point */
    size_t out_bytes, rec_size;
    unsigned char *rec; /* an output record being sent */
    tide_type type;
    struct deps deps, rdeps;
    struct point *pt;
    char *scratch;
    bool epochs;   /* timestep t is epoch t (else all at epoch 0, t in the records) */
    long *ready; /* local points whose next task can run: a ring from ready_at */
    size_t ready_at, nready;
    long unfinished; /* local points with tasks left */
    tide_cap *cap; /* epochs: at the earliest timestep a point of this worker has to run */
    long executed, expected;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        tide_abort("task_bench: out of memory");
    return p;
}

/* ---------------------------------------------------------------- the graph's shape */

/* Caches the core's interval lists (it builds a C++ vector per call). */
static void deps_cache(struct graph *gr, struct deps *d, bool reverse)
{
    size_t n = (size_t)(gr->nsets * gr->npoints), len = 0, cap = 16;
    d->at = xcalloc(n + 1, sizeof *d->at);
    d->iv = xcalloc(cap, sizeof *d->iv);
    for (long s = 0; s < gr->nsets; s++) {
        for (long i = 0; i < gr->npoints; i++) {
            interval_list_t l = reverse ? task_graph_reverse_dependencies(gr->g, s, gr->first + i)
                                        : task_graph_dependencies(gr->g, s, gr->first + i);
            long k = interval_list_num_intervals(l);
            for (long j = 0; j < k; j++) {
                if (len == cap) {
                    cap *= 2;
                    d->iv = realloc(d->iv, cap * sizeof *d->iv);
                    if (!d->iv)
                        tide_abort("task_bench: out of memory");
                }
                interval_t v = interval_list_interval(l, j);
                d->iv[len++] = (struct interval){ v.start, v.end };
            }
            interval_list_destroy(l);
            d->at[s * gr->npoints + i + 1] = len;
        }
    }
}

/* Timestep t's shape (t from -1, where the core says no point has a task). */
static const struct step *step_at(struct graph *gr, long t)
{
    struct step *s = &gr->steps[(unsigned long)(t + 1) % STEP_CACHE];
    if (s->t != t) {
        s->t = t;
        s->offset = task_graph_offset_at_timestep(gr->g, t);
        s->width = task_graph_width_at_timestep(gr->g, t);
        s->set = t >= 0 ? task_graph_dependence_set_at_timestep(gr->g, t) : 0;
    }
    return s;
}

/* Whether point p has a task at timestep t. */
static bool active(struct graph *gr, long t, long p)
{
    const struct step *s = step_at(gr, t);
    return p >= s->offset && p < s->offset + s->width;
}

/* The first timestep at or after t at which point p has a task (timesteps if none). */
static long next_active(struct graph *gr, long t, long p)
{
    while (t < gr->g.timesteps && !active(gr, t, p))
        t++;
    return t;
}

/* For the task of local point i at timestep t: how many inputs it takes (its dependencies
 * that had a task at t - 1) and, when src >= 0, the slot of src's output among them. */
static long inputs_of(struct graph *gr, long t, long i, long src, long *slot)
{
    long set = step_at(gr, t)->set;
    const struct step *prev = step_at(gr, t - 1);
    long off = prev->offset, end = prev->offset + prev->width - 1;
    const size_t *at = &gr->deps.at[set * gr->npoints + i];
    long n = 0;
    for (size_t k = at[0]; k < at[1]; k++) {
        long lo = gr->deps.iv[k].lo > off ? gr->deps.iv[k].lo : off;
        long hi = gr->deps.iv[k].hi < end ? gr->deps.iv[k].hi : end;
        if (lo > hi)
            continue;
        if (src >= lo && src <= hi)
            *slot = n + (src - lo);
        n += hi - lo + 1;
    }
    return n;
}

/* ---------------------------------------------------------------- arriving inputs */

/* Local point i's inputs for timestep t (@p expected of them), a new entry if none yet. */
static struct pending *pending_at(struct graph *gr, long i, long t, long expected)
{
    struct point *p = &gr->pt[i];
    for (size_t k = 0; k < p->npend; k++)
        if (p->pend[k].t == t)
            return &p->pend[k];
    if (p->npend + p->nspare == p->cappend) {
        p->cappend = p->cappend ? 2 * p->cappend : 2;
        p->pend = realloc(p->pend, p->cappend * sizeof *p->pend);
        if (!p->pend)
            tide_abort("task_bench: out of memory");
        memset(&p->pend[p->npend + p->nspare], 0,
               (p->cappend - p->npend - p->nspare) * sizeof *p->pend);
    }
    /* the first spare entry (or a new one) becomes live; its buffer is reused */
    struct pending *e = &p->pend[p->npend++];
    if (p->nspare)
        p->nspare--;
    e->t = t;
    e->count = 0;
    e->expected = expected;
    size_t bytes = (size_t)expected * gr->out_bytes;
    if (e->cap < bytes) {
        free(e->buf);
        e->buf = xcalloc(1, bytes);
        e->cap = bytes;
    }
    return e;
}

/* Local point i can run its next task: onto the ready queue (once). */
static void make_ready(struct graph *gr, long i)
{
    if (!gr->pt[i].queued) {
        gr->pt[i].queued = true;
        gr->ready[(gr->ready_at + gr->nready++) % (size_t)gr->npoints] = i;
    }
}

/* The output of point src at timestep t - 1 for local point i's task at timestep t. */
static void deliver(struct graph *gr, long i, long t, long src, const void *data)
{
    long slot = -1;
    long expected = inputs_of(gr, t, i, src, &slot);
    struct pending *e = pending_at(gr, i, t, expected);
    if (slot < 0 || e->count >= e->expected || t < gr->pt[i].next)
        tide_abort("task_bench: graph %ld: point %ld sent timestep %ld's point %ld an output "
                   "it does not depend on", gr->g.graph_index, src, t, gr->first + i);
    memcpy(e->buf + (size_t)slot * gr->out_bytes, data, gr->out_bytes);
    if (++e->count == e->expected && t == gr->pt[i].next)
        make_ready(gr, i);
}

/* Moves local point i on to its next task after timestep t; ready at once when that task
 * takes no inputs or has them all. */
static void advance(struct graph *gr, long i, long t)
{
    struct point *p = &gr->pt[i];
    p->next = next_active(gr, t, gr->first + i);
    if (p->next >= gr->g.timesteps) {
        gr->unfinished--;
        return;
    }
    long unused;
    if (inputs_of(gr, p->next, i, -1, &unused) == 0) {
        make_ready(gr, i);
        return;
    }
    for (size_t k = 0; k < p->npend; k++)
        if (p->pend[k].t == p->next && p->pend[k].count == p->pend[k].expected)
            make_ready(gr, i);
}

/* ---------------------------------------------------------------- running tasks */

struct out {
    tide_op *op;
    tide_session *s;
    long t; /* the session's epoch, -1 before the first */
};

/* Sends local point i's output at timestep t to the points whose tasks at t + 1 read it. */
static void send_output(struct graph *gr, long i, long t, struct out *o)
{
    if (t + 1 >= gr->g.timesteps)
        return;
    const struct step *next = step_at(gr, t + 1);
    long set = next->set, off = next->offset, end = next->offset + next->width - 1;
    const size_t *at = &gr->rdeps.at[set * gr->npoints + i];
    const char *data = gr->pt[i].output;
    for (size_t k = at[0]; k < at[1]; k++) {
        long lo = gr->rdeps.iv[k].lo > off ? gr->rdeps.iv[k].lo : off;
        long hi = gr->rdeps.iv[k].hi < end ? gr->rdeps.iv[k].hi : end;
        for (long q = lo; q <= hi; q++) {
            if (gr->owner[q] == gr->me) {
                deliver(gr, q - gr->first, t + 1, gr->first + i, data);
                continue;
            }
            long epoch = gr->epochs ? t : 0;
            if (o->t != epoch) {
                tide_time at_t = tide_time_root((uint64_t)epoch);
                o->s = tide_op_session_at(o->op, 0, gr->cap, &at_t);
                o->t = epoch;
            }
            struct header h = { q, gr->first + i, t + 1 };
            memcpy(gr->rec, &h, sizeof h);
            memcpy(gr->rec + sizeof h, data, gr->out_bytes);
            tide_session_give(o->s, gr->rec);
        }
    }
}

/* Runs local point i's next task, whose inputs are all there. */
static void run_task(struct graph *gr, long i, struct out *o)
{
    struct point *p = &gr->pt[i];
    long t = p->next, n = 0;
    struct pending *e = NULL;
    for (size_t k = 0; k < p->npend; k++)
        if (p->pend[k].t == t)
            e = &p->pend[k];
    if (e) {
        n = e->expected;
        for (long k = 0; k < n; k++) {
            p->in_ptr[k] = e->buf + (size_t)k * gr->out_bytes;
            p->in_bytes[k] = gr->out_bytes;
        }
    }
    size_t scratch = gr->g.scratch_bytes_per_task;
    task_graph_execute_point_scratch(gr->g, t, gr->first + i, p->output, gr->out_bytes,
                                     p->in_ptr, p->in_bytes, (size_t)n,
                                     gr->scratch + scratch * (size_t)i, scratch);
    gr->executed++;
    if (e) { /* back to the spares, its buffer kept */
        struct pending done = *e;
        *e = p->pend[--p->npend];
        p->pend[p->npend] = done;
        p->nspare++;
    }
    send_output(gr, i, t, o);
    advance(gr, i, t + 1);
}

static void task_logic(tide_op *op, void *state)
{
    struct graph *gr = state;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        const unsigned char *r = tide_batch_records(b);
        for (size_t k = 0, n = tide_batch_len(b); k < n; k++, r += gr->rec_size) {
            struct header h;
            memcpy(&h, r, sizeof h);
            long t = (long)h.t;
            if (gr->epochs && (uint64_t)t != tide_cap_epoch(cap))
                t = -1;
            if (h.dst < gr->first || h.dst >= gr->first + gr->npoints || h.src < 0 ||
                h.src >= gr->g.max_width || t < 1 || t >= gr->g.timesteps)
                tide_abort("task_bench: graph %ld: worker %zu received an output for point "
                           "%" PRId64 " from point %" PRId64 " at timestep %ld, which is not "
                           "its to run", gr->g.graph_index, gr->me, h.dst, h.src, t);
            deliver(gr, h.dst - gr->first, t, h.src, r + sizeof h);
        }
    }
    if (!gr->cap)
        return;
    /* A task's output can make another local task ready: run them in the order they
     * became ready, which follows the timesteps. But outputs for other workers leave only
     * when this returns: once some are waiting, stop before a later timestep's task (a
     * worker can run far ahead on points whose inputs are all its own) and go on at the
     * next step. */
    struct out o = { op, NULL, -1 };
    long wave = -1;
    while (gr->nready) {
        long i = gr->ready[gr->ready_at];
        if (o.s && gr->pt[i].next > wave) {
            tide_op_activate(op);
            break;
        }
        gr->ready_at = (gr->ready_at + 1) % (size_t)gr->npoints;
        gr->nready--;
        gr->pt[i].queued = false;
        wave = gr->pt[i].next > wave ? gr->pt[i].next : wave;
        run_task(gr, i, &o);
    }
    if (!gr->unfinished) {
        if (gr->executed != gr->expected)
            tide_abort("task_bench: graph %ld: worker %zu ran %ld tasks where its points "
                       "have %ld", gr->g.graph_index, gr->me, gr->executed, gr->expected);
        tide_cap_drop(&gr->cap);
    } else if (gr->epochs) {
        long least = gr->g.timesteps;
        for (long i = 0; i < gr->npoints; i++)
            least = gr->pt[i].next < least ? gr->pt[i].next : least;
        if ((uint64_t)least > tide_cap_epoch(gr->cap)) {
            tide_time t = tide_time_root((uint64_t)least);
            tide_cap_downgrade(gr->cap, &t);
        }
    }
}

static void graph_free(void *state)
{
    struct graph *gr = state;
    for (long i = 0; i < gr->npoints; i++) {
        struct point *p = &gr->pt[i];
        for (size_t k = 0; k < p->npend + p->nspare; k++)
            free(p->pend[k].buf);
        free(p->pend);
        free(p->output);
        free(p->in_ptr);
        free(p->in_bytes);
    }
    free(gr->pt);
    free(gr->owner);
    free(gr->rec);
    free(gr->ready);
    free(gr->deps.iv);
    free(gr->deps.at);
    free(gr->rdeps.iv);
    free(gr->rdeps.at);
    free(gr->scratch);
    tide_cap_drop(&gr->cap);
    free(gr);
}

static uint64_t by_owner(const void *record, void *ctx)
{
    const struct graph *gr = ctx;
    struct header h;
    memcpy(&h, record, sizeof h);
    return gr->owner[h.dst];
}

/* ---------------------------------------------------------------- building and running */

static struct graph *graph_new(task_graph_t g, size_t me, size_t peers, bool epochs)
{
    struct graph *gr = xcalloc(1, sizeof *gr);
    gr->g = g;
    gr->epochs = epochs;
    for (long k = 0; k < STEP_CACHE; k++)
        gr->steps[k].t = -2; /* none */
    gr->me = me;
    long m = g.max_width;
    gr->first = (long)(me * (size_t)m / peers);
    gr->npoints = (long)((me + 1) * (size_t)m / peers) - gr->first;
    gr->nsets = task_graph_max_dependence_sets(g);
    gr->owner = xcalloc((size_t)m, sizeof *gr->owner);
    for (long p = 0; p < m; p++) /* the w with floor(w m / W) <= p < floor((w + 1) m / W) */
        gr->owner[p] = (uint32_t)((((size_t)p + 1) * peers - 1) / (size_t)m);
    gr->out_bytes = g.output_bytes_per_task;
    gr->rec_size = sizeof(struct header) + ((gr->out_bytes + 7) & ~(size_t)7);
    gr->rec = xcalloc(1, gr->rec_size);
    gr->type = (tide_type){ "task output", gr->rec_size, 0, 0, 0, 0 };
    deps_cache(gr, &gr->deps, false);
    deps_cache(gr, &gr->rdeps, true);
    gr->pt = xcalloc((size_t)gr->npoints, sizeof *gr->pt);
    for (long i = 0; i < gr->npoints; i++) {
        struct point *p = &gr->pt[i];
        long most = 1;
        for (long s = 0; s < gr->nsets; s++) {
            const size_t *at = &gr->deps.at[s * gr->npoints + i];
            long n = 0;
            for (size_t k = at[0]; k < at[1]; k++)
                n += gr->deps.iv[k].hi - gr->deps.iv[k].lo + 1;
            most = n > most ? n : most;
        }
        p->output = xcalloc(1, gr->out_bytes);
        p->in_ptr = xcalloc((size_t)most, sizeof *p->in_ptr);
        p->in_bytes = xcalloc((size_t)most, sizeof *p->in_bytes);
    }
    gr->ready = xcalloc((size_t)gr->npoints, sizeof *gr->ready);
    gr->unfinished = gr->npoints;
    for (long i = 0; i < gr->npoints; i++)
        advance(gr, i, 0);
    for (long t = 0; t < g.timesteps; t++) {
        const struct step *s = step_at(gr, t);
        long lo = s->offset > gr->first ? s->offset : gr->first;
        long hi = s->offset + s->width < gr->first + gr->npoints ? s->offset + s->width
                                                                 : gr->first + gr->npoints;
        gr->expected += hi > lo ? hi - lo : 0;
    }
    size_t scratch = g.scratch_bytes_per_task * (size_t)gr->npoints;
    gr->scratch = scratch ? xcalloc(1, scratch) : NULL;
    if (scratch)
        task_graph_prepare_scratch(gr->scratch, scratch);
    return gr;
}

struct args {
    app_t app;
    bool epochs;
    double elapsed;
};

/* Every graph of the app, once, to the end; returns when the last task anywhere has run. */
static void run_graphs(tide_worker *w, const struct args *a)
{
    task_graph_list_t graphs = app_task_graphs(a->app);
    long n = task_graph_list_num_task_graphs(graphs);
    tide_scope *scope = tide_dataflow_begin(w, "task_bench");
    for (long k = 0; k < n; k++) {
        struct graph *gr = graph_new(task_graph_list_task_graph(graphs, k), tide_worker_index(w),
                                     tide_worker_peers(w), a->epochs);
        tide_loop *loop;
        tide_stream *in = tide_loop_variable(scope, 1, &gr->type, &loop);
        tide_builder *b = tide_builder_new(scope, "Tasks");
        tide_builder_input(b, in, TIDE_EXCHANGE(by_owner, gr));
        tide_stream *out = tide_builder_output(b, &gr->type);
        tide_builder_frontier(b, false);
        tide_op *op = tide_builder_build(b, task_logic, gr, graph_free, &gr->cap);
        tide_loop_connect(loop, out);
        if (gr->npoints == 0)
            tide_cap_drop(&gr->cap);
        else
            tide_op_activate(op); /* tasks without inputs need no message to start */
    }
    tide_dataflow_end(scope);
    task_graph_list_destroy(graphs);
    while (tide_worker_dataflows(w) > 0)
        tide_worker_step(w);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    struct args *a = arg;
    bool first = tide_worker_index(w) == 0;
    if (first)
        app_display(a->app);
    for (int iter = 0; iter < 2; iter++) {
        tide_check_same(w, "iteration", &iter, sizeof iter); /* all workers are here */
        double start = example_now();
        run_graphs(w, a);
        a->elapsed = example_now() - start;
    }
    if (first)
        app_report_timing(a->app, a->elapsed);
    return 0;
}

/* Task Bench's options that take a value, and those that do not. */
static const char *const valued[] = { "-steps", "-width",  "-type",   "-radix",     "-period",
                                      "-fraction", "-kernel", "-iter", "-output", "-scratch",
                                      "-sample", "-imbalance", "-field", "-nodes" };
static const char *const flags[] = { "-and", "-v", "-vv", "-h", "-skip-graph-validation" };

static bool listed(const char *arg, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arg, list[i]) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    /* Task Bench's options first (tide's -w would read "-width" as "-w idth"), in order;
     * what is left is tide's. */
    char **bench = xcalloc((size_t)argc + 1, sizeof *bench);
    int nbench = 0, nrest = 1;
    bool epochs = false;
    bench[nbench++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timestep-epochs") == 0) {
            epochs = true;
            continue;
        }
        bool takes_value = listed(argv[i], valued, sizeof valued / sizeof *valued);
        if (takes_value || listed(argv[i], flags, sizeof flags / sizeof *flags)) {
            bench[nbench++] = argv[i];
            if (takes_value && i + 1 < argc)
                bench[nbench++] = argv[++i];
        } else {
            argv[nrest++] = argv[i];
        }
    }
    argv[nrest] = NULL;
    tide_config cfg;
    example_config("task_bench", &cfg, &nrest, argv);
    if (nrest > 1) {
        fprintf(stderr, "task_bench: '%s' is neither a Task Bench option nor a tide option "
                        "(-h lists Task Bench's)\n", argv[1]);
        return 2;
    }
    /* The workers check that they were given the same options: Task Bench's are those. */
    example_args_len = 0;
    for (int i = 1; i < nbench; i++) {
        size_t n = strlen(bench[i]) + 1;
        if (example_args_len + n <= sizeof example_args) {
            memcpy(example_args + example_args_len, bench[i], n);
            example_args_len += n;
        }
    }
    struct args a = { app_create(nbench, bench), epochs, 0 };
    int rc = tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
    app_destroy(a.app);
    free(bench);
    return rc;
}
