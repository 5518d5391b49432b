/* SPDX-License-Identifier: MIT */
/*
 * Dataflows every test shape runs (threads, processes, MPI ranks). Results are gathered at
 * worker 0 through the dataflow itself (exchanged with a hash of 0) and compared there
 * with what a sequential computation gives.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataflow_work.h"

uint64_t to_zero(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}

static uint64_t by_u64(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r * 0x9e3779b97f4a7c15ULL >> 7;
}

/* Safety, checked on every batch an operator reads: its time is still in the frontier. */
static int check_in_frontier(tide_op *op, uint32_t port, const tide_cap *cap)
{
    if (tide_antichain_less_equal(tide_op_frontier(op, port), tide_cap_time(cap)))
        return 0;
    char tb[64];
    tide_time_format(tide_cap_time(cap), tb, sizeof tb);
    fprintf(stderr, "operator '%s': a batch at %s arrived after its input frontier passed it\n",
            tide_op_name(op), tb);
    return 1;
}

/* ---------------------------------------------------------------- epochs */

#define PER_EPOCH 100

struct sum_state {
    uint64_t count[EPOCHS], sum[EPOCHS];
    int64_t last_notified;
    int errors;
};

static TIDE_TYPE_POD(total_type, struct total);

/* Sums each epoch's records and reports the sum once the epoch is complete. */
static void sum_logic(tide_op *op, void *arg)
{
    struct sum_state *s = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        s->errors += check_in_frontier(op, 0, cap);
        uint64_t e = tide_cap_epoch(cap);
        const uint64_t *v = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            if (v[i] / 100000 != e)
                s->errors++;
            s->count[e % EPOCHS]++;
            s->sum[e % EPOCHS] += v[i];
        }
        tide_op_notify_at(op, tide_cap_retain(cap));
    }
    while ((cap = tide_op_next_notification(op))) {
        uint64_t e = tide_cap_epoch(cap);
        if ((int64_t)e <= s->last_notified)
            s->errors++; /* notifications come in time order, once per time */
        s->last_notified = (int64_t)e;
        struct total t = { e, s->count[e], s->sum[e] };
        tide_session_give(tide_op_session(op, 0, cap), &t);
    }
}


static void gather_logic(tide_op *op, void *arg)
{
    struct gather *g = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        g->errors += check_in_frontier(op, 0, cap);
        const struct total *t = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            g->got[t[i].epoch].count += t[i].count;
            g->got[t[i].epoch].sum += t[i].sum;
        }
    }
}

int df_epochs(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct sum_state *s = calloc(1, sizeof *s);
    struct gather g = { 0 };
    s->last_notified = -1;
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "epochs");
    tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
    st = tide_unary_notify(st, TIDE_EXCHANGE(by_u64, NULL), "Sum", &total_type, sum_logic, s,
                           NULL, NULL, 0);
    tide_sink(st, TIDE_EXCHANGE(to_zero, NULL), "Gather", gather_logic, &g, NULL);
    tide_probe *probe = tide_probe_new(st);
    tide_dataflow_end(scope);
    for (uint64_t e = 0; e < EPOCHS; e++) {
        for (uint64_t i = 0; i < PER_EPOCH; i++) {
            uint64_t v = e * 100000 + me * 1000 + i;
            tide_input_send(in, &v);
        }
        tide_input_advance_to(in, e + 1);
        while (tide_probe_less_than(probe, e + 1))
            tide_worker_step(w);
        WORK_CHECK(w, tide_probe_less_equal(probe, e + 1), "probe passed epoch %llu early",
                   (unsigned long long)e + 1);
    }
    tide_input_close(in);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, tide_probe_done(probe), "probe not done after the dataflow completed");
    WORK_CHECK(w, s->errors == 0, "Sum saw %d wrong records, times or notifications", s->errors);
    WORK_CHECK(w, g.errors == 0, "Gather saw a batch after its frontier passed");
    if (me == 0)
        for (uint64_t e = 0; e < EPOCHS; e++) {
            uint64_t sum = 0;
            for (uint64_t p = 0; p < peers; p++)
                for (uint64_t i = 0; i < PER_EPOCH; i++)
                    sum += e * 100000 + p * 1000 + i;
            WORK_CHECK(w, g.got[e].count == peers * PER_EPOCH && g.got[e].sum == sum,
                       "epoch %llu: %llu records summing to %llu, want %llu and %llu",
                       (unsigned long long)e, (unsigned long long)g.got[e].count,
                       (unsigned long long)g.got[e].sum,
                       (unsigned long long)(peers * PER_EPOCH), (unsigned long long)sum);
        }
    free(s);
    return 0;
}

/* ---------------------------------------------------------------- iterate */

/* Each x in 1..MAX_X enters a loop as (x, x) and goes round as (x, v - 1) while v > 1;
 * every (x, v) also leaves the loop. Inside, records are exchanged by v. */
#define MAX_X 20

struct pair {
    uint64_t x, v;
};
static TIDE_TYPE_POD(pair_type, struct pair);

static uint64_t by_v(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct pair *)r)->v;
}

struct step_state {
    int errors;
};

static void step_input(tide_op *op, struct step_state *s, uint32_t port)
{
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, port, &cap, &b)) {
        s->errors += check_in_frontier(op, port, cap);
        const tide_time *t = tide_cap_time(cap);
        tide_session *out = tide_op_session(op, 0, cap);
        const struct pair *p = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            if (t->depth != 2 || t->c[0] != 0 || t->c[1] != p[i].x - p[i].v)
                s->errors++; /* (x, v) is seen at iteration x - v */
            tide_session_give(out, &p[i]);
        }
        tide_session *back = tide_op_session(op, 1, cap);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            if (p[i].v > 1) {
                struct pair n = { p[i].x, p[i].v - 1 };
                tide_session_give(back, &n);
            }
    }
}

static void step_logic(tide_op *op, void *arg)
{
    step_input(op, arg, 0);
    step_input(op, arg, 1);
}

struct collect {
    uint64_t count, sum;
    int errors;
};

static void collect_logic(tide_op *op, void *arg)
{
    struct collect *c = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        c->errors += check_in_frontier(op, 0, cap);
        if (tide_cap_time(cap)->depth != 1 || tide_cap_epoch(cap) != 0)
            c->errors++;
        const struct pair *p = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            c->count++;
            c->sum += p[i].v;
        }
    }
}

int df_iterate(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct step_state st = { 0 };
    struct collect c = { 0 };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "iterate");
    tide_stream *s = tide_input_new(scope, &pair_type, &in);
    tide_scope *inner = tide_scope_begin(scope, "loop");
    tide_loop *loop;
    tide_stream *around = tide_loop_variable(inner, 1, &pair_type, &loop);
    tide_builder *b = tide_builder_new(inner, "Step");
    tide_builder_input(b, tide_enter(inner, s), TIDE_EXCHANGE(by_v, NULL));
    tide_builder_input(b, around, TIDE_EXCHANGE(by_v, NULL));
    tide_stream *out = tide_builder_output(b, &pair_type);
    tide_stream *back = tide_builder_output(b, &pair_type);
    tide_builder_build(b, step_logic, &st, NULL, NULL);
    tide_loop_connect(loop, back);
    tide_scope_end(inner);
    tide_stream *left = tide_leave(out);
    tide_sink(left, TIDE_EXCHANGE(to_zero, NULL), "Collect", collect_logic, &c, NULL);
    tide_probe *probe = tide_probe_new(left);
    tide_dataflow_end(scope);
    for (uint64_t x = me + 1; x <= MAX_X; x += peers) {
        struct pair p = { x, x };
        tide_input_send(in, &p);
    }
    tide_input_close(in);
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, st.errors == 0 && c.errors == 0, "%d wrong times in the loop, %d outside",
               st.errors, c.errors);
    uint64_t want_count = 0, want_sum = 0;
    for (uint64_t x = 1; x <= MAX_X; x++) {
        want_count += x;
        want_sum += x * (x + 1) / 2;
    }
    if (me == 0)
        WORK_CHECK(w, c.count == want_count && c.sum == want_sum,
                   "%llu records summing to %llu left the loop, want %llu and %llu",
                   (unsigned long long)c.count, (unsigned long long)c.sum,
                   (unsigned long long)want_count, (unsigned long long)want_sum);
    return 0;
}

/* ---------------------------------------------------------------- unordered input */

/* Each worker holds capabilities at 7, 3 and 5, sends at them in that order and drops them
 * in the order 7, 3, 5 over several steps; "Order" emits each time's records once the
 * frontier has passed it, holding a capability set, so they come out as 3, 5, 7. */
struct order {
    tide_capset caps;
    uint64_t stash[10]; /* records per time (time < 10) */
    uint64_t seen_times[8];
    size_t nseen;
    int errors;
};

static void order_logic(tide_op *op, void *arg)
{
    struct order *o = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        o->errors += check_in_frontier(op, 0, cap);
        tide_capset_insert(&o->caps, tide_cap_retain(cap));
        o->stash[tide_cap_epoch(cap) % 10] += tide_batch_len(b);
    }
    const tide_antichain *f = tide_op_frontier(op, 0);
    for (uint64_t t = 0; t < 10; t++) {
        tide_time tt = tide_time_root(t);
        if (!o->stash[t] || tide_antichain_less_equal(f, &tt))
            continue;
        const tide_cap *c = NULL;
        for (size_t i = 0; i < o->caps.len; i++)
            if (tide_time_le(tide_cap_time(o->caps.caps[i]), &tt))
                c = o->caps.caps[i];
        if (!c) {
            o->errors++;
            continue;
        }
        tide_session *s = tide_op_session_at(op, 0, c, &tt);
        tide_session_give(s, &t);
        o->stash[t] = 0;
    }
    /* keep one capability, at the earliest time still waiting */
    tide_antichain keep;
    tide_antichain_init(&keep);
    for (uint64_t t = 0; t < 10 && keep.len == 0; t++)
        if (o->stash[t]) {
            tide_time tt = tide_time_root(t);
            tide_antichain_insert(&keep, &tt);
        }
    if (keep.len == 0)
        tide_capset_clear(&o->caps);
    else
        tide_capset_downgrade(&o->caps, &keep);
    tide_antichain_free(&keep);
}

static void order_free(void *arg)
{
    tide_capset_free(&((struct order *)arg)->caps);
}

static void record_time(const tide_time *t, const void *r, void *ctx)
{
    struct order *o = ctx;
    if (o->nseen < 8)
        o->seen_times[o->nseen++] = t->c[0];
    if (*(const uint64_t *)r != t->c[0])
        o->errors++;
}

int df_unordered(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct order o = { 0 };
    tide_capset_init(&o.caps);
    tide_unordered *u;
    tide_cap *cap;
    tide_scope *scope = tide_dataflow_begin(w, "unordered");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    s = tide_unary_frontier(s, TIDE_PIPELINE, "Order", TIDE_U64, order_logic, &o, order_free);
    s = tide_inspect(s, record_time, &o);
    tide_probe *probe = tide_probe_new(s);
    tide_dataflow_end(scope);
    tide_time t7 = tide_time_root(7), t3 = tide_time_root(3), t5 = tide_time_root(5);
    tide_cap *c7 = tide_cap_delayed(cap, &t7), *c3 = tide_cap_delayed(cap, &t3);
    tide_cap *c5 = tide_cap_delayed(cap, &t5);
    tide_cap_drop(&cap);
    uint64_t v7 = 7, v3 = 3, v5 = 5;
    tide_session_give(tide_unordered_session(u, c7), &v7);
    tide_session_give(tide_unordered_session(u, c3), &v3);
    tide_session_give(tide_unordered_session(u, c5), &v5);
    tide_cap *order[3] = { c7, c3, c5 };
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 5; k++)
            tide_worker_step(w);
        tide_cap_drop(&order[i]);
    }
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, o.errors == 0, "%d errors in Order", o.errors);
    WORK_CHECK(w, o.nseen == 3 && o.seen_times[0] == 3 && o.seen_times[1] == 5 &&
                      o.seen_times[2] == 7,
               "records came out at %zu times, first %llu", o.nseen,
               (unsigned long long)o.seen_times[0]);
    return 0;
}

/* ---------------------------------------------------------------- two dataflows, one dropped */

static void count_logic(tide_op *op, void *arg)
{
    uint64_t *n = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b))
        *n += tide_batch_len(b);
}

int df_drop(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t na = 0, nb = 0;
    tide_input *ia, *ib;
    tide_scope *sa = tide_dataflow_begin(w, "a");
    tide_stream *a = tide_input_new(sa, TIDE_U64, &ia);
    tide_sink(a, TIDE_EXCHANGE(by_u64, NULL), "CountA", count_logic, &na, NULL);
    tide_probe *pa = tide_probe_new(a);
    tide_dataflow *dfa = tide_dataflow_end(sa);
    tide_scope *sb = tide_dataflow_begin(w, "b");
    tide_stream *b = tide_input_new(sb, TIDE_U64, &ib);
    b = tide_exchange(b, to_zero, NULL);
    tide_sink(b, TIDE_PIPELINE, "CountB", count_logic, &nb, NULL);
    tide_probe *pb = tide_probe_new(b);
    tide_dataflow_end(sb);
    WORK_CHECK(w, tide_worker_dataflows(w) == 2, "%zu dataflows installed, want 2",
               tide_worker_dataflows(w));
    for (uint64_t e = 0; e < 6; e++) {
        if (e < 3)
            for (uint64_t i = 0; i < 10; i++)
                tide_input_send(ia, &i);
        tide_input_send(ib, &e);
        if (e < 3)
            tide_input_advance_to(ia, e + 1);
        tide_input_advance_to(ib, e + 1);
        while ((e < 3 && tide_probe_less_than(pa, e + 1)) || tide_probe_less_than(pb, e + 1))
            tide_worker_step(w);
        if (e == 2) {
            tide_dataflow_drop(dfa); /* a is abandoned, b goes on */
            WORK_CHECK(w, tide_worker_dataflows(w) == 1, "dataflow a still installed");
            WORK_CHECK(w, tide_probe_done(pa), "the probe of a dropped dataflow is not done");
        }
    }
    tide_input_close(ib);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, tide_worker_dataflows(w) == 0, "dataflow b did not complete");
    uint64_t want = tide_worker_index(w) == 0 ? 6 * tide_worker_peers(w) : 0;
    WORK_CHECK(w, nb == want, "b counted %llu records, want %llu", (unsigned long long)nb,
               (unsigned long long)want);
    return 0;
}

/* ---------------------------------------------------------------- activation from a thread */

#define FEED 100

struct feed {
    pthread_mutex_t mu;
    uint64_t queue[FEED];
    size_t queued, taken;
    bool finished;
    tide_cap *cap;
    tide_activator *act;
    atomic_bool dataflow_done; /* set by the worker once its dataflow is gone */
    int late;                  /* what activating then returned */
};

static void *feeder(void *arg)
{
    struct feed *f = arg;
    for (uint64_t i = 0; i < FEED; i++) {
        struct timespec ts = { 0, 200000 };
        if (i % 10 == 0)
            nanosleep(&ts, NULL);
        pthread_mutex_lock(&f->mu);
        f->queue[f->queued++] = i;
        f->finished = i + 1 == FEED;
        pthread_mutex_unlock(&f->mu);
        tide_activator_activate(f->act);
    }
    /* The dataflow completes on its own once everything is fed: the handle (retained)
     * must then say so instead of touching the freed operator. */
    while (!atomic_load(&f->dataflow_done)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    f->late = tide_activator_activate(f->act);
    tide_activator_release(f->act);
    return NULL;
}

static void feed_logic(tide_op *op, void *arg)
{
    struct feed *f = arg;
    if (!f->cap)
        return;
    pthread_mutex_lock(&f->mu);
    if (f->taken < f->queued) {
        tide_session *s = tide_op_session(op, 0, f->cap);
        while (f->taken < f->queued)
            tide_session_give(s, &f->queue[f->taken++]);
    }
    bool done = f->finished && f->taken == f->queued;
    pthread_mutex_unlock(&f->mu);
    if (done)
        tide_cap_drop(&f->cap);
}

int df_activator(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct feed f = { .queued = 0 };
    atomic_init(&f.dataflow_done, false);
    pthread_mutex_init(&f.mu, NULL);
    uint64_t n = 0;
    tide_scope *scope = tide_dataflow_begin(w, "feed");
    tide_stream *s = tide_source(scope, "Feed", TIDE_U64, feed_logic, &f, NULL, &f.cap);
    f.act = tide_activator_retain(tide_op_activator(tide_stream_op(s)));
    tide_sink(s, TIDE_PIPELINE, "Count", count_logic, &n, NULL);
    tide_dataflow_end(scope);
    pthread_t t;
    WORK_CHECK(w, pthread_create(&t, NULL, feeder, &f) == 0, "cannot start a thread");
    uint64_t steps = 0;
    while (tide_worker_step_or_park(w, -1)) /* sleeps between the feeder's records */
        steps++;
    atomic_store(&f.dataflow_done, true);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&f.mu);
    WORK_CHECK(w, n == FEED, "%llu records fed through, want %d", (unsigned long long)n, FEED);
    WORK_CHECK(w, f.late == TIDE_EGONE, "activating a finished dataflow's operator gave %d",
               f.late);
    return 0;
}

/* ---------------------------------------------------------------- binary operators */

/* Two inputs fed by tide_input_send_batch: a plain binary operator merges them (input 0
 * pipelined, input 1 exchanged and marked by + 1000), and a binary_notify operator counts
 * each epoch's records of both inputs and reports at the epoch's notification. */
static void merge_logic(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++)
        while (tide_op_next(op, port, &cap, &b)) {
            tide_session *out = tide_op_session(op, 0, cap);
            const uint64_t *v = tide_batch_records(b);
            for (size_t i = 0; i < tide_batch_len(b); i++) {
                uint64_t x = v[i] + port * 1000;
                tide_session_give(out, &x);
            }
        }
}

struct pairs {
    uint64_t count[2][EPOCHS];
    uint64_t reported[EPOCHS];
    uint64_t at_notification[EPOCHS];
    int errors;
};

static void pair_count_logic(tide_op *op, void *arg)
{
    struct pairs *p = arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++)
        while (tide_op_next(op, port, &cap, &b)) {
            p->errors += check_in_frontier(op, port, cap);
            p->count[port][tide_cap_epoch(cap) % EPOCHS] += tide_batch_len(b);
            tide_op_notify_at(op, tide_cap_retain(cap));
        }
    while ((cap = tide_op_next_notification(op))) {
        uint64_t e = tide_cap_epoch(cap) % EPOCHS;
        /* both inputs are complete at e: their counts must be final (checked at the end) */
        p->at_notification[e] = p->count[0][e] + p->count[1][e];
        p->reported[e]++;
    }
}


void sum_records(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct seen_sum *s = ctx;
    s->n++;
    s->sum += *(const uint64_t *)r;
}

int df_binary(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct pairs p = { .errors = 0 };
    struct seen_sum merged = { 0, 0 };
    tide_input *i0, *i1;
    tide_scope *scope = tide_dataflow_begin(w, "binary");
    tide_stream *a = tide_input_new(scope, TIDE_U64, &i0);
    tide_stream *b = tide_input_new(scope, TIDE_U64, &i1);
    tide_stream *m = tide_binary(a, b, TIDE_PIPELINE, TIDE_EXCHANGE(by_u64, NULL), "Merge",
                                 TIDE_U64, merge_logic, NULL, NULL);
    tide_probe *probe = tide_probe_new(tide_inspect(m, sum_records, &merged));
    tide_binary_notify(a, b, TIDE_EXCHANGE(by_u64, NULL), TIDE_EXCHANGE(by_u64, NULL),
                       "PairCount", TIDE_U64, pair_count_logic, &p, NULL, NULL, 0);
    tide_dataflow_end(scope);
    for (uint64_t e = 0; e < EPOCHS; e++) {
        for (uint32_t k = 0; k < 2; k++) {
            tide_batch *batch = tide_batch_new(TIDE_U64, 0);
            for (uint64_t i = 0; i < 10; i++)
                tide_batch_push(batch, &i);
            tide_input_send_batch(k ? i1 : i0, &batch);
            WORK_CHECK(w, batch == NULL, "send_batch left the batch with the caller");
        }
        tide_input_advance_to(i0, e + 1);
        tide_input_advance_to(i1, e + 1);
        WORK_CHECK(w, tide_input_epoch(i0) == e + 1, "input epoch %llu",
                   (unsigned long long)tide_input_epoch(i0));
        while (tide_probe_less_than(probe, e + 1))
            tide_worker_step(w);
    }
    tide_input_close(i0);
    tide_input_close(i1);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, p.errors == 0, "%d errors in PairCount", p.errors);
    /* each worker merged its own 0..9 and, from every worker, the v + 1000 hashed to it */
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t want_n = 10 * EPOCHS, want_sum = 45 * EPOCHS;
    for (uint64_t v = 0; v < 10; v++)
        if (by_u64(&v, NULL) % peers == me) {
            want_n += EPOCHS * peers;
            want_sum += EPOCHS * peers * (v + 1000);
        }
    WORK_CHECK(w, merged.n == want_n && merged.sum == want_sum,
               "merged %llu records summing to %llu, want %llu and %llu",
               (unsigned long long)merged.n, (unsigned long long)merged.sum,
               (unsigned long long)want_n, (unsigned long long)want_sum);
    for (uint64_t e = 0; e < EPOCHS; e++) {
        uint64_t final = p.count[0][e] + p.count[1][e];
        WORK_CHECK(w, p.reported[e] == (final > 0), "epoch %llu notified %llu times",
                   (unsigned long long)e, (unsigned long long)p.reported[e]);
        WORK_CHECK(w, p.at_notification[e] == final,
                   "epoch %llu: %llu records at its notification, %llu in the end",
                   (unsigned long long)e, (unsigned long long)p.at_notification[e],
                   (unsigned long long)final);
    }
    return 0;
}

/* ---------------------------------------------------------------- probe_with */

/* One probe on two inputs answers for both: it passes an epoch only when both have. */
int df_probe_with(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_input *a, *b;
    tide_scope *scope = tide_dataflow_begin(w, "probe_with");
    tide_stream *sa = tide_input_new(scope, TIDE_U64, &a);
    tide_stream *sb = tide_input_new(scope, TIDE_U64, &b);
    tide_probe *p = tide_probe_new(tide_exchange(sa, by_u64, NULL));
    WORK_CHECK(w, tide_probe_with(sb, p) == sb, "tide_probe_with did not return its stream");
    tide_dataflow_end(scope);
    tide_input_advance_to(a, 5);
    for (int k = 0; k < 50; k++)
        tide_worker_step(w);
    WORK_CHECK(w, tide_probe_less_than(p, 1), "the probe passed epoch 0 with input b at 0");
    tide_input_advance_to(b, 3);
    while (tide_probe_less_than(p, 3))
        tide_worker_step(w);
    WORK_CHECK(w, tide_probe_less_equal(p, 3) && !tide_probe_done(p), "frontier not at 3");
    const tide_antichain *f = tide_probe_frontier(p);
    WORK_CHECK(w, f->len == 1 && f->elems[0].c[0] == 3, "merged frontier not {3}");
    tide_input_close(a);
    tide_input_close(b);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    return 0;
}
