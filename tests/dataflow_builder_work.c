/* SPDX-License-Identifier: MIT */
/*
 * The general operator's declarations: summaries (tide_builder_summary) are honoured by
 * progress tracking and bound what a borrowed capability covers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataflow_work.h"

/* Steps (parking when idle) until the probe is at `epoch` or later (UINT64_MAX: until its
 * frontier is empty) or 60 s went by. A bound in steps is not one in time: under load, with
 * the transport on its own thread, a million idle steps can pass before a message lands. */
static void step_until(tide_worker *w, tide_probe *p, uint64_t epoch)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (epoch == UINT64_MAX ? !tide_probe_done(p) : tide_probe_less_than(p, epoch)) {
        tide_worker_step_or_park(w, 1000000);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 60)
            return;
    }
}

/* Input 0 reaches output 0 one epoch later (summary +1) and output 1 at once (identity).
 * Each record x at epoch e leaves as x on output 0 at e + 1 and on output 1 at e. */
static void later_and_now(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_time next = tide_time_root(tide_cap_epoch(cap) + 1);
        tide_session *later = tide_op_session_at(op, 0, cap, &next);
        const uint64_t *v = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            tide_session_give(later, &v[i]);
        tide_session_give_batch(tide_op_session(op, 1, cap), &b);
    }
}

struct at_epochs {
    uint64_t n[4];
    int errors;
};

static void count_at(const tide_time *t, const void *r, void *ctx)
{
    (void)r;
    struct at_epochs *a = ctx;
    if (t->c[0] < 4)
        a->n[t->c[0]]++;
    else
        a->errors++;
}

int df_summary(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct at_epochs later = { { 0 }, 0 }, now = { { 0 }, 0 };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "summary");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &in);
    tide_builder *b = tide_builder_new(scope, "LaterAndNow");
    tide_builder_input(b, s, TIDE_PIPELINE);
    tide_stream *out0 = tide_builder_output(b, TIDE_U64);
    tide_stream *out1 = tide_builder_output(b, TIDE_U64);
    tide_summary plus1 = tide_summary_feedback(1, 1);
    tide_builder_summary(b, 0, 0, &plus1);
    tide_builder_build(b, later_and_now, NULL, NULL, NULL);
    tide_probe *p0 = tide_probe_new(tide_inspect(out0, count_at, &later));
    tide_probe *p1 = tide_probe_new(tide_inspect(out1, count_at, &now));
    tide_dataflow_end(scope);
    for (uint64_t x = 0; x < 10; x++)
        tide_input_send(in, &x);
    tide_input_advance_to(in, 1);
    /* With the input at epoch 1, output 0 can only see epoch 2 and later: its epoch 1 (all
     * of epoch 0's records) completes without the input moving again. */
    step_until(w, p0, 2);
    WORK_CHECK(w, !tide_probe_less_than(p0, 2), "output 0's epoch 1 never completed");
    WORK_CHECK(w, tide_probe_less_than(p1, 2), "output 1 passed epoch 1 with its input there");
    WORK_CHECK(w, later.n[1] == 10 && later.n[0] == 0, "output 0: %llu at epoch 1, %llu at 0",
               (unsigned long long)later.n[1], (unsigned long long)later.n[0]);
    tide_input_close(in);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, now.n[0] == 10 && now.errors == 0 && later.errors == 0,
               "output 1: %llu records at epoch 0", (unsigned long long)now.n[0]);
    return 0;
}

/* ---------------------------------------------------------------- per-output capabilities */

/* Every record goes to both outputs; the operator keeps a capability for output 1 only at
 * the first epoch it sees, until told to let go: output 0 must complete meanwhile. */
struct holder {
    tide_cap *held;
    bool release;
};

static void hold_one(tide_op *op, void *arg)
{
    struct holder *h = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        if (!h->held) {
            h->held = tide_cap_retain_for(cap, 1);
            if (tide_cap_output(h->held) != 1)
                tide_abort("tide_cap_output: %lld for a capability for output 1",
                           (long long)tide_cap_output(h->held));
        }
        const uint64_t *v = tide_batch_records(b);
        tide_session *s0 = tide_op_session(op, 0, cap), *s1 = tide_op_session(op, 1, cap);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            tide_session_give(s0, &v[i]);
            tide_session_give(s1, &v[i]);
        }
    }
    if (h->release)
        tide_cap_drop(&h->held);
}

static void free_holder(void *arg)
{
    struct holder *h = arg;
    tide_cap_drop(&h->held);
}

int df_per_output(tide_worker *w, void *ctx)
{
    (void)ctx;
    static _Thread_local struct holder h;
    h = (struct holder){ NULL, false };
    struct seen_sum got0 = { 0, 0 }, got1 = { 0, 0 };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "per_output");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &in);
    tide_builder *b = tide_builder_new(scope, "HoldOne");
    tide_builder_input(b, s, TIDE_PIPELINE);
    tide_stream *out0 = tide_builder_output(b, TIDE_U64);
    tide_stream *out1 = tide_builder_output(b, TIDE_U64);
    tide_op *op = tide_builder_build(b, hold_one, &h, free_holder, NULL);
    tide_probe *p0 = tide_probe_new(tide_inspect(out0, sum_records, &got0));
    tide_probe *p1 = tide_probe_new(tide_inspect(out1, sum_records, &got1));
    tide_dataflow_end(scope);
    for (uint64_t x = 1; x <= 10; x++)
        tide_input_send(in, &x);
    tide_input_close(in);
    step_until(w, p0, UINT64_MAX);
    WORK_CHECK(w, tide_probe_done(p0), "output 0 never completed");
    WORK_CHECK(w, tide_probe_less_than(p1, 1), "output 1 completed with its capability held");
    WORK_CHECK(w, got0.n == 10 && got0.sum == 55 && got1.n == 10 && got1.sum == 55,
               "%llu and %llu records", (unsigned long long)got0.n, (unsigned long long)got1.n);
    h.release = true;
    tide_op_activate(op);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, tide_probe_done(p1), "output 1 did not complete once its capability went");
    return 0;
}

/* ---------------------------------------------------------------- capability sets */

struct joins {
    int checked, errors;
};

static bool has_time(const tide_capset *s, const tide_time *t)
{
    for (size_t i = 0; i < s->len; i++)
        if (tide_time_eq(tide_cap_time(s->caps[i]), t))
            return true;
    return false;
}

/* In a loop scope, times (e, i) are partially ordered. A set holding (e, 1), downgraded to
 * the frontier {(e, 3), (e + 1, 0)}, keeps what both allow: (e, 3) and (e + 1, 1); (e + 1,
 * 0) follows no held time (that stopped the run before). Held (e, 5) and downgraded to
 * {(e, 3)} it stays at (e, 5). */
static void join_logic(tide_op *op, void *arg)
{
    struct joins *j = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        const tide_time *t = tide_cap_time(cap);
        uint64_t e = t->c[0], i = t->c[1];
        tide_capset set;
        tide_capset_init(&set);
        tide_time held = tide_time_make(2, (uint64_t[]){ e, i + 1 });
        tide_capset_insert(&set, tide_cap_delayed(cap, &held));
        tide_antichain f;
        tide_antichain_init(&f);
        tide_time f0 = tide_time_make(2, (uint64_t[]){ e, i + 3 });
        tide_time f1 = tide_time_make(2, (uint64_t[]){ e + 1, i });
        tide_antichain_insert(&f, &f0);
        tide_antichain_insert(&f, &f1);
        tide_capset_downgrade(&set, &f);
        tide_time want1 = tide_time_make(2, (uint64_t[]){ e + 1, i + 1 });
        if (set.len != 2 || !has_time(&set, &f0) || !has_time(&set, &want1))
            j->errors++;
        tide_capset_clear(&set);
        tide_time five = tide_time_make(2, (uint64_t[]){ e, i + 5 });
        tide_capset_insert(&set, tide_cap_delayed(cap, &five));
        tide_antichain_clear(&f);
        tide_antichain_insert(&f, &f0);
        tide_capset_downgrade(&set, &f);
        if (set.len != 1 || !has_time(&set, &five))
            j->errors++;
        tide_antichain_free(&f);
        tide_capset_free(&set);
        j->checked++;
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
    }
}

int df_capset_join(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct joins j = { 0, 0 };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "capset");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &in);
    tide_scope *loop = tide_scope_begin(scope, "loop");
    tide_stream *inside = tide_unary(tide_enter(loop, s), TIDE_PIPELINE, "Joins", TIDE_U64,
                                     join_logic, &j, NULL);
    tide_scope_end(loop);
    tide_stream *out = tide_leave(inside);
    tide_probe *p = tide_probe_new(out);
    tide_dataflow_end(scope);
    uint64_t x = tide_worker_index(w);
    tide_input_send(in, &x);
    tide_input_close(in);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, j.errors == 0, "%d capability sets downgraded wrongly", j.errors);
    WORK_CHECK(w, j.checked >= 1, "the operator saw no batch");
    return 0;
}

/* ---------------------------------------------------------------- tide_stash */

/* Each worker stashes what reaches it on two inputs (port 0: values, port 1: anything,
 * counted) and, per ready time, emits SUMMARY | (sum0 * 1000 + count1). Input 1 lags input
 * 0 by two epochs, so a time waits for both frontiers; no record may arrive at a time
 * already emitted, and times come out in order. Port 1's records are also counted in a
 * state per time (tide_stash_state), which must agree with the records stashed; the states
 * of odd epochs are left in the stash, whose free function must free them. Even epochs
 * bring STASH_BIG more values on input 0, in batches large enough for the stash to keep
 * the first without a copy, the others and the small ones copied onto it; at even epochs the operator
 * also gives each port-0 batch on after stashing it (tide_session_give_batch), which must
 * leave the stash its records. */
#define SUMMARY (1ull << 63)
#define STASH_BIG 6000
struct stash_op {
    tide_stash *stash;
    uint64_t last;
    bool any;
    int errors;
};
static _Thread_local int states_made, states_freed;

static void free_count(void *state)
{
    states_freed++;
    free(state);
}

static void stash_logic(tide_op *op, void *arg)
{
    struct stash_op *st = arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++)
        while (tide_op_next(op, port, &cap, &b)) {
            if (st->any && tide_cap_epoch(cap) <= st->last)
                st->errors++; /* released too early */
            if (port == 1) {
                uint64_t **n = (uint64_t **)tide_stash_state(st->stash, cap);
                if (!*n && (*n = calloc(1, sizeof **n)))
                    states_made++;
                **n += tide_batch_len(b);
            }
            tide_stash_add(st->stash, port, cap, b);
            if (port == 0 && tide_cap_epoch(cap) % 2 == 0)
                tide_session_give_batch(tide_op_session(op, 0, cap), &b);
        }
    while (tide_stash_next(st->stash, op, &cap)) {
        uint64_t e = tide_cap_epoch(cap), sum = 0, count = 0;
        if (st->any && e <= st->last)
            st->errors++; /* out of order */
        st->any = true;
        st->last = e;
        tide_batch *r0 = tide_stash_take(st->stash, 0), *r1 = tide_stash_take(st->stash, 1);
        for (size_t i = 0; r0 && i < tide_batch_len(r0); i++)
            sum += ((const uint64_t *)tide_batch_records(r0))[i];
        count = r1 ? tide_batch_len(r1) : 0;
        if (e % 2 == 0) {
            uint64_t *n = tide_stash_take_state(st->stash);
            if ((n ? *n : 0) != count)
                st->errors++;
            if (n)
                free_count(n);
        }
        tide_batch_free(r0);
        tide_batch_free(r1);
        uint64_t out = SUMMARY | (sum * 1000 + count);
        tide_session_give(tide_op_session(op, 0, cap), &out);
        tide_cap_drop(&cap);
    }
}

static void stash_op_free(void *arg)
{
    struct stash_op *st = arg;
    tide_stash_free(st->stash);
}

struct per_epoch {
    uint64_t got[EPOCHS], given[EPOCHS]; /* the summary; the sum of the values given on */
    int errors;
};

static void note_epoch(const tide_time *t, const void *r, void *ctx)
{
    struct per_epoch *p = ctx;
    uint64_t x = *(const uint64_t *)r;
    if (t->c[0] < EPOCHS && !(x & SUMMARY))
        p->given[t->c[0]] += x;
    else if (t->c[0] < EPOCHS && !p->got[t->c[0]])
        p->got[t->c[0]] = x & ~SUMMARY;
    else
        p->errors++;
}

/* Feeds df_stash's inputs: worker k sends values k, k + peers, ... below 100 at every epoch
 * on input 0, and 10 records on input 1, two epochs later than input 0; then closes both. */
static void feed_lagging(tide_worker *w, tide_input *in0, tide_input *in1)
{
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    for (uint64_t e = 0; e < EPOCHS + 2; e++) {
        if (e < EPOCHS) {
            tide_input_advance_to(in0, e);
            for (uint64_t v = me; v < (e % 2 ? 100 : 100 + STASH_BIG); v += peers) {
                uint64_t x = v + e;
                tide_input_send(in0, &x);
            }
        }
        if (e >= 2) {
            tide_input_advance_to(in1, e - 2);
            for (uint64_t k = 0; k < 10; k++)
                tide_input_send(in1, &k);
        }
        for (int k = 0; k < 5; k++)
            tide_worker_step(w);
    }
    tide_input_close(in0);
    tide_input_close(in1);
}

/* What stash_logic must have emitted at worker me per epoch e: sum0 * 1000 + count1 of the
 * x = v + e (v < 100, or 100 + STASH_BIG at even epochs) with x % peers == me, and of the
 * input-1 records k < 10 with k % peers == me, from every worker, and at even epochs the
 * values x themselves; nothing at an unexpected time, released early or out of order. */
static int check_stashed(tide_worker *w, const struct per_epoch *seen,
                         const struct stash_op *st, const tide_probe *p)
{
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    for (uint64_t e = 0; e < EPOCHS; e++) {
        uint64_t sum = 0, count = 0;
        for (uint64_t v = 0; v < (e % 2 ? 100 : 100 + STASH_BIG); v++)
            if ((v + e) % peers == me)
                sum += v + e;
        for (uint64_t k = 0; k < 10; k++)
            if (k % peers == me)
                count += peers;
        WORK_CHECK(w, seen->got[e] == sum * 1000 + count,
                   "epoch %llu: %llu where %llu was expected", (unsigned long long)e,
                   (unsigned long long)seen->got[e], (unsigned long long)(sum * 1000 + count));
        WORK_CHECK(w, seen->given[e] == (e % 2 ? 0 : sum),
                   "epoch %llu: values summing to %llu given on, where %llu was expected",
                   (unsigned long long)e, (unsigned long long)seen->given[e],
                   (unsigned long long)(e % 2 ? 0 : sum));
    }
    WORK_CHECK(w, seen->errors == 0 && st->errors == 0 && tide_probe_done(p),
               "%d records at unexpected times, %d released early, out of order or with a "
               "wrong state", seen->errors, st->errors);
    return 0;
}

int df_stash(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t peers = tide_worker_peers(w);
    static _Thread_local struct stash_op st;
    st = (struct stash_op){ tide_stash_new(), 0, false, 0 };
    tide_stash_free_states(st.stash, free_count);
    states_made = states_freed = 0;
    struct per_epoch seen = { { 0 }, { 0 }, 0 };
    tide_input *in0, *in1;
    tide_scope *scope = tide_dataflow_begin(w, "stash");
    tide_stream *s0 = tide_input_new(scope, TIDE_U64, &in0);
    tide_stream *s1 = tide_input_new(scope, TIDE_U64, &in1);
    tide_pact pact = TIDE_EXCHANGE(tide_hash_u64, NULL);
    tide_stream *out = tide_binary_frontier(s0, s1, pact, pact, "Stashed", TIDE_U64,
                                            stash_logic, &st, stash_op_free);
    tide_probe *p = tide_probe_new(tide_inspect(out, note_epoch, &seen));
    tide_dataflow_end(scope);
    feed_lagging(w, in0, in1);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    while (tide_worker_step(w))
        ;
    if (check_stashed(w, &seen, &st, p) != 0)
        return 1;
    WORK_CHECK(w, states_freed == states_made && (peers > 10 || states_made == EPOCHS),
               "%d states made, %d freed", states_made, states_freed);
    return 0;
}

/* ---------------------------------------------------------------- tide_operator */

/* Built from descriptors: a source that gives 0..99 at epoch 0 from worker 0 with the
 * capability .initial kept for it, then a binary operator with two exchanged inputs that
 * watches frontiers (tide_stash_* as in df_stash), a unary one with notifications at every
 * epoch that emits the epoch once per worker, and a sink that counts what reaches it. */
struct desc_source {
    tide_cap *cap;
};

static void desc_source_logic(tide_op *op, void *arg)
{
    struct desc_source *s = arg;
    if (!s->cap)
        return;
    if (tide_worker_index(tide_op_worker(op)) == 0) {
        tide_session *out = tide_op_session(op, 0, s->cap);
        for (uint64_t x = 0; x < 100; x++)
            tide_session_give(out, &x);
    }
    tide_cap_drop(&s->cap);
}

static void desc_notified(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b))
        ;
    while ((cap = tide_op_next_notification(op))) {
        uint64_t e = tide_cap_epoch(cap);
        tide_session_give(tide_op_session(op, 0, cap), &e);
    }
}

static void desc_count(tide_op *op, void *arg)
{
    uint64_t *n = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b))
        *n += tide_batch_len(b);
}

int df_operator_desc(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    static _Thread_local struct stash_op st;
    static _Thread_local struct desc_source src;
    st = (struct stash_op){ tide_stash_new(), 0, false, 0 };
    tide_stash_free_states(st.stash, free_count);
    states_made = states_freed = 0;
    src.cap = NULL;
    struct per_epoch seen = { { 0 }, { 0 }, 0 };
    struct seen_sum source_seen = { 0, 0 }, notified = { 0, 0 };
    uint64_t sunk = 0;
    tide_input *in0, *in1;
    tide_time at[EPOCHS];
    for (uint64_t e = 0; e < EPOCHS; e++)
        at[e] = tide_time_root(e);
    tide_scope *scope = tide_dataflow_begin(w, "operator_desc");
    tide_stream *numbers = tide_operator(&(tide_op_desc){
        .name = "Numbers", .scope = scope, .out = TIDE_U64, .logic = desc_source_logic,
        .state = &src, .initial = &src.cap });
    tide_inspect(tide_exchange(numbers, tide_hash_u64, NULL), sum_records, &source_seen);
    tide_stream *s0 = tide_input_new(scope, TIDE_U64, &in0);
    tide_stream *s1 = tide_input_new(scope, TIDE_U64, &in1);
    tide_stream *out = tide_operator(&(tide_op_desc){
        .name = "Stashed", .in = { s0, s1 },
        .pact = { TIDE_EXCHANGE(tide_hash_u64, NULL), TIDE_EXCHANGE(tide_hash_u64, NULL) },
        .out = TIDE_U64, .logic = stash_logic, .state = &st, .free_state = stash_op_free,
        .frontier = true });
    tide_probe *p = tide_probe_new(tide_inspect(out, note_epoch, &seen));
    tide_stream *epochs = tide_operator(&(tide_op_desc){
        .name = "Notified", .in = { s0 }, .out = TIDE_U64, .logic = desc_notified,
        .notify_at = at, .nnotify = EPOCHS });
    tide_inspect(epochs, sum_records, &notified);
    tide_op *sink = NULL;
    tide_stream *none = tide_operator(&(tide_op_desc){
        .name = "Sink", .in = { s1 }, .logic = desc_count, .state = &sunk, .op = &sink });
    tide_dataflow_end(scope);
    WORK_CHECK(w, none == NULL && sink && !strcmp(tide_op_name(sink), "Sink") &&
                      tide_op_inputs(sink) == 1 && tide_op_outputs(sink) == 0,
               "the sink's descriptor built something else");
    feed_lagging(w, in0, in1);
    while (tide_worker_step(w))
        ;
    if (check_stashed(w, &seen, &st, p) != 0)
        return 1;
    uint64_t mine = 0, nmine = 0;
    for (uint64_t x = 0; x < 100; x++)
        if (x % peers == me)
            mine += x, nmine++;
    WORK_CHECK(w, source_seen.n == nmine && source_seen.sum == mine,
               "the source's records: %llu summing to %llu, expected %llu summing to %llu",
               (unsigned long long)source_seen.n, (unsigned long long)source_seen.sum,
               (unsigned long long)nmine, (unsigned long long)mine);
    WORK_CHECK(w, notified.n == EPOCHS && notified.sum == EPOCHS * (EPOCHS - 1) / 2,
               "notifications: %llu summing to %llu", (unsigned long long)notified.n,
               (unsigned long long)notified.sum);
    WORK_CHECK(w, sunk == 10 * EPOCHS, "the sink counted %llu records, not %d",
               (unsigned long long)sunk, 10 * EPOCHS);
    return 0;
}
