/* SPDX-License-Identifier: MIT */
/*
 * The operator library (tide/operators.h) in every test shape: chains of operators compared
 * with the same computation done sequentially here. Shared helpers are in dataflow_work.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataflow_work.h"

/* ---------------------------------------------------------------- the operator library */

/* Every worker introduces 0..99; doubled (map), multiples of 3 kept (filter), plus one
 * (map_in_place), each x given x % 4 times (flat_map), then counted and summed per x % 5
 * (aggregate, exchanged by key; once as it is, once with a merge, which combines each
 * worker's records before the exchange) and gathered at worker 0: compared with the same
 * computation done here sequentially. */
static void twice(const void *in, void *out, void *ctx)
{
    (void)ctx;
    *(uint64_t *)out = 2 * *(const uint64_t *)in;
}

static bool multiple_of_3(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 3 == 0;
}

static void plus_one(void *r, void *ctx)
{
    (void)ctx;
    ++*(uint64_t *)r;
}

static void repeat(const void *in, tide_session *out, void *ctx)
{
    (void)ctx;
    uint64_t x = *(const uint64_t *)in;
    for (uint64_t k = 0; k < x % 4; k++)
        tide_session_give(out, &x);
}

static uint64_t mod5(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 5;
}

static bool same_mod5(const void *a, const void *b, void *ctx)
{
    return mod5(a, ctx) == mod5(b, ctx);
}

struct cs {
    uint64_t count, sum;
};

static void fold_cs(void *state, const void *r, void *ctx)
{
    (void)ctx;
    struct cs *s = state;
    s->count++;
    s->sum += *(const uint64_t *)r;
}

static void merge_cs(void *state, const void *other, void *ctx)
{
    (void)ctx;
    struct cs *s = state;
    const struct cs *o = other;
    s->count += o->count;
    s->sum += o->sum;
}

static TIDE_TYPE_POD(keyed_type, struct total);

static void emit_cs(const void *key, const void *state, tide_session *out, void *ctx)
{
    const struct cs *s = state;
    struct total t = { mod5(key, ctx), s->count, s->sum };
    tide_session_give(out, &t);
}

static void gather_keyed(tide_op *op, void *arg)
{
    struct gather *g = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        const struct total *t = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            if (t[i].epoch >= EPOCHS || g->got[t[i].epoch].count) {
                g->errors++; /* a key out of range, or reported twice */
                continue;
            }
            g->got[t[i].epoch].count = t[i].count;
            g->got[t[i].epoch].sum = t[i].sum;
        }
    }
}

int df_operators(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[100];
    for (uint64_t i = 0; i < 100; i++)
        numbers[i] = i;
    struct gather g[2] = { { .errors = 0 }, { .errors = 0 } };
    tide_scope *scope = tide_dataflow_begin(w, "operators");
    tide_stream *s = tide_to_stream(scope, TIDE_U64, numbers, 100);
    s = tide_map(s, TIDE_U64, twice, NULL);
    s = tide_filter(s, multiple_of_3, NULL);
    s = tide_map_in_place(s, plus_one, NULL);
    s = tide_flat_map(s, TIDE_U64, repeat, NULL);
    tide_aggregate_ops ops = { sizeof(struct cs), mod5, same_mod5, fold_cs, emit_cs, NULL };
    tide_stream *plain = tide_aggregate(s, &keyed_type, &ops, NULL);
    ops.merge = merge_cs;
    tide_stream *combined = tide_aggregate(s, &keyed_type, &ops, NULL);
    tide_sink(plain, TIDE_EXCHANGE(to_zero, NULL), "Gather", gather_keyed, &g[0], NULL);
    tide_sink(combined, TIDE_EXCHANGE(to_zero, NULL), "Gather", gather_keyed, &g[1], NULL);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    for (int v = 0; v < 2; v++)
        WORK_CHECK(w, g[v].errors == 0, "%s: %d keys out of range or reported twice",
                   v ? "with merge" : "without merge", g[v].errors);
    if (tide_worker_index(w) != 0)
        return 0;
    struct cs want[5] = { { 0, 0 } };
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t x = 2 * i;
        if (x % 3)
            continue;
        x++;
        for (uint64_t k = 0; k < x % 4; k++) {
            want[x % 5].count += tide_worker_peers(w);
            want[x % 5].sum += x * tide_worker_peers(w);
        }
    }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < 5; k++)
            WORK_CHECK(w, g[v].got[k].count == want[k].count && g[v].got[k].sum == want[k].sum,
                       "%s, key %d: %llu records summing to %llu, want %llu and %llu",
                       v ? "with merge" : "without merge", k,
                       (unsigned long long)g[v].got[k].count,
                       (unsigned long long)g[v].got[k].sum, (unsigned long long)want[k].count,
                       (unsigned long long)want[k].sum);
    return 0;
}

/* ---------------------------------------------------------------- shaping streams */

/* 0..59 on every worker, split by x % 3 (partition), the first part split again by parity
 * (branch), all put back together (concatenate, concat) and counted (count). */
static uint64_t mod3(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 3;
}

static bool even(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 2 == 0;
}

struct shape_check {
    uint64_t expect_mod3, expect_even; /* what a stream must hold */
    uint64_t records, batches;
    int errors;
};

static void check_part(const tide_time *t, tide_batch *b, void *ctx)
{
    (void)t;
    struct shape_check *c = ctx;
    const uint64_t *v = tide_batch_records(b);
    c->batches++;
    for (size_t i = 0; i < tide_batch_len(b); i++, c->records++)
        if (v[i] % 3 != c->expect_mod3 || (c->expect_even < 2 && (v[i] % 2 == 0) != c->expect_even))
            c->errors++;
}

static void total_count(tide_op *op, void *arg)
{
    uint64_t *total = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        const uint64_t *n = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            *total += n[i];
    }
}

int df_shapes(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[60], total = 0;
    for (uint64_t i = 0; i < 60; i++)
        numbers[i] = i;
    struct shape_check yes = { 0, 1, 0, 0, 0 }, no = { 0, 0, 0, 0, 0 }, one = { 1, 2, 0, 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "shapes");
    tide_stream *parts[3], *y, *n;
    tide_partition(tide_to_stream(scope, TIDE_U64, numbers, 60), 3, mod3, NULL, parts);
    tide_branch(parts[0], even, NULL, &y, &n);
    tide_stream *all[3] = { tide_inspect_batch(y, check_part, &yes),
                            tide_inspect_batch(n, check_part, &no),
                            tide_inspect_batch(parts[1], check_part, &one) };
    tide_stream *s = tide_concat(tide_concatenate(all, 3), parts[2]);
    tide_sink(tide_count(s), TIDE_PIPELINE, "Total", total_count, &total, NULL);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, yes.errors + no.errors + one.errors == 0, "records in the wrong part");
    WORK_CHECK(w, yes.records == 10 && no.records == 10 && one.records == 20,
               "parts of %llu, %llu and %llu records", (unsigned long long)yes.records,
               (unsigned long long)no.records, (unsigned long long)one.records);
    WORK_CHECK(w, total == 60, "counted %llu records, want 60", (unsigned long long)total);
    return 0;
}

/* ---------------------------------------------------------------- tide_session_give_n */

/* Each input record x becomes 3000 records (x, x+1, ...) given with give_n in chunks of 1000,
 * crossing the session's buffer size many times (a regression: the write window once kept
 * pointing into a buffer that had moved). */
static void burst(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    uint64_t chunk[1000];
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = tide_op_session(op, 0, cap);
        const uint64_t *v = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            for (uint64_t k = 0; k < 3; k++) {
                for (uint64_t j = 0; j < 1000; j++)
                    chunk[j] = v[i] + k * 1000 + j;
                tide_session_give_n(out, chunk, 1000);
                tide_session_give(out, &chunk[0]); /* and single records in between */
            }
    }
}

int df_give_n(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[40];
    for (uint64_t i = 0; i < 40; i++)
        numbers[i] = i;
    struct seen_sum got = { 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "give_n");
    tide_stream *s = tide_to_stream(scope, TIDE_U64, numbers, 40);
    s = tide_unary(s, TIDE_PIPELINE, "Burst", TIDE_U64, burst, NULL, NULL);
    tide_inspect(s, sum_records, &got);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    uint64_t want_sum = 0;
    for (uint64_t x = 0; x < 40; x++)
        for (uint64_t k = 0; k < 3; k++) {
            for (uint64_t j = 0; j < 1000; j++)
                want_sum += x + k * 1000 + j;
            want_sum += x + k * 1000;
        }
    WORK_CHECK(w, got.n == 40 * 3 * 1001 && got.sum == want_sum,
               "%llu records summing to %llu, want %d and %llu", (unsigned long long)got.n,
               (unsigned long long)got.sum, 40 * 3 * 1001, (unsigned long long)want_sum);
    return 0;
}

/* ---------------------------------------------------------------- extend in place */

/* Records of two 32-bit fields (the shape tide_input_extend's note is about), written in
 * place through the input and an operator's session: one at a time and in chunks, across
 * the session's buffer size and the input's epochs, through two exchanges. */
struct duo {
    uint32_t a, b;
};
static TIDE_TYPE_POD(duo_type, struct duo);
#define EXTEND_N 9000 /* records a worker sends per epoch (over 2 buffers of 32 KiB) */

static uint64_t by_b(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct duo *)r)->b;
}

/* Each record once by itself, and each batch again in one chunk with a + 1000000. */
static void in_place_twice(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = tide_op_session(op, 0, cap);
        const struct duo *v = tide_batch_records(b);
        size_t n = tide_batch_len(b);
        for (size_t i = 0; i < n; i++)
            *(struct duo *)tide_session_extend(out, 1) = v[i];
        struct duo *chunk = tide_session_extend(out, n);
        for (size_t i = 0; i < n; i++)
            chunk[i] = (struct duo){ v[i].a + 1000000, v[i].b };
    }
}

static void sum_duos(const tide_time *t, const void *r, void *ctx)
{
    struct seen_sum *s = ctx;
    const struct duo *d = r;
    s->n++;
    s->sum += (d->a * 31u + d->b) * (t->c[0] + 1);
}

int df_extend(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint32_t me = (uint32_t)tide_worker_index(w), peers = (uint32_t)tide_worker_peers(w);
    struct seen_sum got = { 0, 0 };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "extend");
    tide_stream *s = tide_exchange(tide_input_new(scope, &duo_type, &in), by_b, NULL);
    s = tide_unary(s, TIDE_PIPELINE, "Twice", &duo_type, in_place_twice, NULL, NULL);
    tide_probe *probe = tide_probe_new(
        tide_inspect(tide_exchange(s, tide_hash_zero, NULL), sum_duos, &got));
    tide_dataflow_end(scope);
    for (uint64_t e = 0; e < 3; e++) {
        struct duo *first = tide_input_extend(in, 500);
        for (uint32_t i = 0; i < 500; i++)
            first[i] = (struct duo){ me, i };
        for (uint32_t i = 500; i < EXTEND_N; i++) {
            struct duo *d = tide_input_extend(in, 1);
            d->a = me;
            d->b = i;
        }
        tide_input_advance_to(in, e + 1);
        while (tide_probe_less_than(probe, e + 1))
            tide_worker_step(w);
    }
    tide_input_close(in);
    while (tide_worker_step(w))
        ;
    uint64_t want_n = 0, want_sum = 0;
    for (uint64_t e = 0; e < 3 && me == 0; e++)
        for (uint32_t p = 0; p < peers; p++)
            for (uint32_t i = 0; i < EXTEND_N; i++) {
                want_n += 2;
                want_sum += ((p * 31u + i) + ((p + 1000000) * 31u + i)) * (e + 1);
            }
    WORK_CHECK(w, got.n == want_n && got.sum == want_sum,
               "worker %u: %llu records summing to %llu, want %llu and %llu", me,
               (unsigned long long)got.n, (unsigned long long)got.sum,
               (unsigned long long)want_n, (unsigned long long)want_sum);
    return 0;
}

/* tide_map to records of 320 bytes, which it writes in place (it refused past 256 bytes
 * when it mapped through a temporary): every word of each record checked. */
struct wide {
    uint64_t v[40];
};
static TIDE_TYPE_POD(wide_type, struct wide);

static void widen(const void *in, void *out, void *ctx)
{
    (void)ctx;
    struct wide *w = out;
    for (uint64_t k = 0; k < 40; k++)
        w->v[k] = *(const uint64_t *)in * 40 + k;
}

static void check_wide(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct seen_sum *s = ctx;
    const struct wide *w = r;
    bool whole = true;
    for (uint64_t k = 0; k < 40; k++)
        whole = whole && w->v[k] == w->v[0] + k;
    s->n += whole; /* records whose words all agree */
    s->sum += w->v[0] / 40;
}

int df_map_wide(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[3000];
    for (uint64_t i = 0; i < 3000; i++)
        numbers[i] = i;
    struct seen_sum got = { 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "map_wide");
    tide_stream *s = tide_map(tide_to_stream(scope, TIDE_U64, numbers, 3000), &wide_type, widen,
                              NULL);
    tide_inspect(s, check_wide, &got);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, got.n == 3000 && got.sum == 2999 * 3000 / 2,
               "%llu whole records summing to %llu, want 3000 and %d", (unsigned long long)got.n,
               (unsigned long long)got.sum, 2999 * 3000 / 2);
    return 0;
}

/* ---------------------------------------------------------------- delay */

/* Records x at epoch 0 are delayed to epoch x % 4; each must come out at that epoch, and
 * only once the epoch is complete (after everything delayed to earlier epochs). */
static void to_mod4(const void *record, const tide_time *t, tide_time *later, void *ctx)
{
    (void)t;
    (void)ctx;
    *later = tide_time_root(*(const uint64_t *)record % 4);
}

struct delayed {
    uint64_t count[4];
    uint64_t last_epoch;
    int errors;
};

static void check_delayed(const tide_time *t, const void *r, void *ctx)
{
    struct delayed *d = ctx;
    uint64_t x = *(const uint64_t *)r;
    if (t->c[0] != x % 4 || t->c[0] < d->last_epoch)
        d->errors++;
    d->last_epoch = t->c[0];
    d->count[x % 4]++;
}

int df_delay(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[40];
    for (uint64_t i = 0; i < 40; i++)
        numbers[i] = 39 - i;
    struct delayed d = { .errors = 0 };
    tide_scope *scope = tide_dataflow_begin(w, "delay");
    tide_stream *s = tide_delay(tide_to_stream(scope, TIDE_U64, numbers, 40), to_mod4, NULL);
    tide_inspect(s, check_delayed, &d);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, d.errors == 0, "%d records at the wrong epoch or out of order", d.errors);
    for (int k = 0; k < 4; k++)
        WORK_CHECK(w, d.count[k] == 10, "%llu records at epoch %d, want 10",
                   (unsigned long long)d.count[k], k);
    return 0;
}

/* ---------------------------------------------------------------- iterator sources, branch_when,
 * accumulate */

/* Each worker's iterator yields 0..999, 7 per activation; delayed to epoch x % 2, the
 * records are split by branch_when on "epoch is 0" (evens one way, odds the other), and
 * accumulate sums each side's records per time. */
static bool count_to_1000(void *record, void *ctx)
{
    uint64_t *next = ctx;
    if (*next == 1000)
        return false;
    *(uint64_t *)record = (*next)++;
    return true;
}

static void to_parity(const void *record, const tide_time *t, tide_time *later, void *ctx)
{
    (void)t;
    (void)ctx;
    *later = tide_time_root(*(const uint64_t *)record % 2);
}

static bool epoch_zero(const tide_time *t, void *ctx)
{
    (void)ctx;
    return t->c[0] == 0;
}

static void add_u64(void *acc, const void *r, void *ctx)
{
    (void)ctx;
    *(uint64_t *)acc += *(const uint64_t *)r;
}

int df_iter_accumulate(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t next = 0, zero = 0;
    struct seen_sum yes = { 0, 0 }, no = { 0, 0 }, sums = { 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "iter");
    tide_stream *s = tide_to_stream_iter(scope, TIDE_U64, count_to_1000, &next, 7);
    tide_stream *y, *n;
    tide_branch_when(tide_delay(s, to_parity, NULL), epoch_zero, NULL, &y, &n);
    y = tide_inspect(y, sum_records, &yes);
    n = tide_inspect(n, sum_records, &no);
    tide_inspect(tide_accumulate(tide_concat(y, n), TIDE_U64, &zero, add_u64, NULL),
                 sum_records, &sums);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, yes.n == 500 && yes.sum == 249500 && no.n == 500 && no.sum == 250000,
               "branch_when: %llu and %llu records", (unsigned long long)yes.n,
               (unsigned long long)no.n);
    /* one sum per epoch: 249500 at 0 and 250000 at 1 */
    WORK_CHECK(w, sums.n == 2 && sums.sum == 499500, "accumulate gave %llu records, sum %llu",
               (unsigned long long)sums.n, (unsigned long long)sums.sum);
    return 0;
}

/* ---------------------------------------------------------------- broadcast */

/* Every worker introduces its own 10 numbers and 3 words; after broadcast every worker has
 * every worker's. */
struct word_tally {
    uint64_t words, odd;
};

static void tally(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct word_tally *wt = ctx;
    wt->words++;
    wt->odd += strcmp(*(const char *const *)r, "odd") == 0;
}

int df_broadcast(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t numbers[10];
    for (uint64_t i = 0; i < 10; i++)
        numbers[i] = me * 100 + i;
    const char *words[3] = { "alpha", "beta", me % 2 ? "odd" : "even" };
    struct seen_sum got = { 0, 0 };
    struct word_tally wt = { 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "broadcast");
    tide_inspect(tide_broadcast(tide_to_stream(scope, TIDE_U64, numbers, 10)), sum_records,
                 &got);
    tide_inspect(tide_broadcast(tide_to_stream(scope, TIDE_STR, words, 3)), tally, &wt);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    uint64_t want = 0;
    for (uint64_t p = 0; p < peers; p++)
        for (uint64_t i = 0; i < 10; i++)
            want += p * 100 + i;
    WORK_CHECK(w, got.n == 10 * peers && got.sum == want,
               "broadcast gave %llu numbers summing to %llu, want %zu and %llu",
               (unsigned long long)got.n, (unsigned long long)got.sum, 10 * peers,
               (unsigned long long)want);
    WORK_CHECK(w, wt.words == 3 * peers && wt.odd == peers / 2,
               "broadcast gave %llu words (%llu 'odd'), want %zu (%zu)",
               (unsigned long long)wt.words, (unsigned long long)wt.odd, 3 * peers, peers / 2);
    return 0;
}

/* ---------------------------------------------------------------- ok_err */

/* Numbers 0..99: multiples of 10 are errors (reported as strings), the rest halved. */
static bool halve_or_complain(const void *record, void *ok, void *err, void *ctx)
{
    uint64_t x = *(const uint64_t *)record;
    if (x % 10 == 0) {
        static const char *const complaint = "round";
        (void)ctx;
        *(const char **)err = complaint;
        return false;
    }
    *(double *)ok = (double)x / 2;
    return true;
}

static void sum_doubles(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    *(double *)ctx += *(const double *)r;
}

int df_ok_err(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[100];
    for (uint64_t i = 0; i < 100; i++)
        numbers[i] = i;
    double halves = 0;
    struct word_tally errors = { 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "ok_err");
    tide_stream *ok, *err;
    tide_ok_err(tide_to_stream(scope, TIDE_U64, numbers, 100), TIDE_F64, TIDE_STR,
                halve_or_complain, NULL, &ok, &err);
    tide_inspect(ok, sum_doubles, &halves);
    tide_inspect(err, tally, &errors);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, errors.words == 10 && halves == (4950.0 - 450.0) / 2,
               "ok_err: %llu errors, halves summing to %g", (unsigned long long)errors.words,
               halves);
    return 0;
}
