/* SPDX-License-Identifier: MIT */
/*
 * The operators that move records in time or keep state across times (delay_total,
 * delay_batch, reclock, state_machine), fed records whose times arrive out of order, and
 * compared with the same computation done sequentially here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataflow_work.h"

#define FEED_EPOCHS 5

/* Gives the records of @p epoch into @p out. */
typedef void (*feed_fn)(tide_worker *w, uint64_t epoch, tide_session *out, void *ctx);

/* Feeds an unordered input the records of epochs FEED_EPOCHS-1 down to 0 (latest first),
 * then releases the epochs in order, stepping between each, and runs to the end. */
static void feed_reversed(tide_worker *w, tide_unordered *u, tide_cap *cap, feed_fn fn,
                          void *ctx)
{
    tide_cap *at[FEED_EPOCHS];
    for (uint64_t e = 0; e < FEED_EPOCHS; e++) {
        tide_time t = tide_time_root(e);
        at[e] = tide_cap_delayed(cap, &t);
    }
    tide_cap_drop(&cap);
    for (uint64_t e = FEED_EPOCHS; e-- > 0;) {
        fn(w, e, tide_unordered_session(u, at[e]), ctx);
        for (int k = 0; k < 3; k++)
            tide_worker_step(w);
    }
    for (uint64_t e = 0; e < FEED_EPOCHS; e++) {
        tide_cap_drop(&at[e]);
        for (int k = 0; k < 3; k++)
            tide_worker_step(w);
    }
    while (tide_worker_step(w))
        ;
}

/* ---------------------------------------------------------------- delay_total, delay_batch */

/* Each worker gives 10 + e records x = 100 * e + k at epoch e. delay_total moves x to
 * e + x % 3; delay_batch moves a batch at e to 2 * e. Each output is checked record by
 * record (its time, and times never going back) and counted per time against the count
 * computed here. */
static void feed_delay(tide_worker *w, uint64_t e, tide_session *out, void *ctx)
{
    (void)w;
    (void)ctx;
    for (uint64_t k = 0; k < 10 + e; k++) {
        uint64_t x = 100 * e + k;
        tide_session_give(out, &x);
    }
}

static void by_mod3(const void *record, const tide_time *t, tide_time *later, void *ctx)
{
    (void)ctx;
    *later = tide_time_root(t->c[0] + *(const uint64_t *)record % 3);
}

static void doubled(const tide_time *t, tide_time *later, void *ctx)
{
    (void)ctx;
    *later = tide_time_root(2 * t->c[0]);
}

#define LATEST (2 * FEED_EPOCHS)

struct timed {
    bool total; /* which rule the records followed */
    uint64_t count[LATEST];
    uint64_t last;
    int errors;
};

static void check_timed(const tide_time *t, const void *r, void *ctx)
{
    struct timed *d = ctx;
    uint64_t x = *(const uint64_t *)r, e = x / 100;
    uint64_t want = d->total ? e + x % 3 : 2 * e;
    if (t->c[0] != want || t->c[0] < d->last || t->c[0] >= LATEST)
        d->errors++;
    else
        d->count[t->c[0]]++;
    d->last = t->c[0];
}

int df_delay_total_batch(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct timed total = { .total = true }, batch = { .total = false };
    tide_unordered *u;
    tide_cap *cap;
    tide_scope *scope = tide_dataflow_begin(w, "delay_total_batch");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    tide_inspect(tide_delay_total(s, by_mod3, NULL), check_timed, &total);
    tide_inspect(tide_delay_batch(s, doubled, NULL), check_timed, &batch);
    tide_dataflow_end(scope);
    feed_reversed(w, u, cap, feed_delay, NULL);
    WORK_CHECK(w, total.errors == 0, "delay_total: %d records at a wrong time", total.errors);
    WORK_CHECK(w, batch.errors == 0, "delay_batch: %d records at a wrong time", batch.errors);
    uint64_t want_total[LATEST] = { 0 }, want_batch[LATEST] = { 0 };
    for (uint64_t e = 0; e < FEED_EPOCHS; e++)
        for (uint64_t k = 0; k < 10 + e; k++) {
            want_total[e + (100 * e + k) % 3]++;
            want_batch[2 * e]++;
        }
    for (int t = 0; t < LATEST; t++) {
        WORK_CHECK(w, total.count[t] == want_total[t], "delay_total: %llu records at %d, want %llu",
                   (unsigned long long)total.count[t], t, (unsigned long long)want_total[t]);
        WORK_CHECK(w, batch.count[t] == want_batch[t], "delay_batch: %llu records at %d, want %llu",
                   (unsigned long long)batch.count[t], t, (unsigned long long)want_batch[t]);
    }
    return 0;
}

/* ---------------------------------------------------------------- many pending times */

/* Hundreds of times pending at once (the map per time indexes them from 16 on): each
 * worker gives, at epoch e, records x = 1000 * e + k for k < SPREAD; delay and
 * delay_total move x to e + 1 + (k * 37) % SPREAD, in an order that jumps about; reclock
 * releases delay's output at clock times every 7 epochs. Counts per time against the
 * rule, and delay_total's times never go back. */
#define SPREAD 300
#define MANY_LATEST (FEED_EPOCHS + SPREAD)

static void feed_many(tide_worker *w, uint64_t e, tide_session *out, void *ctx)
{
    (void)w;
    (void)ctx;
    for (uint64_t k = 0; k < SPREAD; k++) {
        uint64_t x = 1000 * e + k;
        tide_session_give(out, &x);
    }
}

static uint64_t spread_to(uint64_t x) { return x / 1000 + 1 + (x % 1000 * 37) % SPREAD; }

static void spread(const void *record, const tide_time *t, tide_time *later, void *ctx)
{
    (void)ctx;
    (void)t;
    *later = tide_time_root(spread_to(*(const uint64_t *)record));
}

struct spread_seen {
    uint64_t count[MANY_LATEST + 7];
    uint64_t last;
    int errors;
    bool in_order, clocked;
};

static void check_spread(const tide_time *t, const void *r, void *ctx)
{
    struct spread_seen *d = ctx;
    uint64_t x = *(const uint64_t *)r, want = spread_to(x);
    if (d->clocked) /* released at the first clock time (a multiple of 7) not before */
        want = (want + 6) / 7 * 7;
    if (t->c[0] != want || t->c[0] >= MANY_LATEST + 7 || (d->in_order && t->c[0] < d->last))
        d->errors++;
    else
        d->count[t->c[0]]++;
    d->last = t->c[0];
}

int df_delay_many(tide_worker *w, void *ctx)
{
    (void)ctx;
    static struct spread_seen zero;
    struct spread_seen *seen = malloc(3 * sizeof *seen);
    if (!seen)
        return 1;
    for (int i = 0; i < 3; i++)
        seen[i] = zero;
    seen[1].in_order = true;
    seen[2].clocked = true;
    tide_unordered *u;
    tide_cap *cap;
    tide_input *clock_in;
    tide_scope *scope = tide_dataflow_begin(w, "delay_many");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    tide_stream *clock = tide_input_new(scope, TIDE_U64, &clock_in);
    tide_stream *delayed = tide_delay(s, spread, NULL);
    tide_inspect(delayed, check_spread, &seen[0]);
    tide_inspect(tide_delay_total(s, spread, NULL), check_spread, &seen[1]);
    tide_inspect(tide_reclock(delayed, clock), check_spread, &seen[2]);
    tide_dataflow_end(scope);
    uint64_t tick = 0;
    for (uint64_t t = 0; t < MANY_LATEST + 7; t += 7) {
        tide_input_advance_to(clock_in, t);
        tide_input_send(clock_in, &tick);
    }
    tide_input_close(clock_in);
    feed_reversed(w, u, cap, feed_many, NULL);
    uint64_t want[MANY_LATEST + 7] = { 0 }, want_clocked[MANY_LATEST + 7] = { 0 };
    for (uint64_t e = 0; e < FEED_EPOCHS; e++)
        for (uint64_t k = 0; k < SPREAD; k++) {
            uint64_t t = spread_to(1000 * e + k);
            want[t]++;
            want_clocked[(t + 6) / 7 * 7]++;
        }
    static const char *const name[] = { "delay", "delay_total", "reclock" };
    for (int i = 0; i < 3; i++) {
        WORK_CHECK(w, seen[i].errors == 0, "%s: %d records at a wrong time", name[i],
                   seen[i].errors);
        for (uint64_t t = 0; t < MANY_LATEST + 7; t++) {
            uint64_t n = i == 2 ? want_clocked[t] : want[t];
            WORK_CHECK(w, seen[i].count[t] == n, "%s: %llu records at %llu, want %llu",
                       name[i], (unsigned long long)seen[i].count[t], (unsigned long long)t,
                       (unsigned long long)n);
        }
    }
    free(seen);
    return 0;
}

/* ---------------------------------------------------------------- reclock */

/* Data: each worker gives e + 1 records of value e at every epoch e (out of order). Clock:
 * times 1 and 3 on every worker (an ordered input; reclock reads its own worker's clock). Records of epochs 0-1 must leave at 1, 2-3 at 3,
 * and epoch 4's never (no clock time covers it). */
static void feed_reclock(tide_worker *w, uint64_t e, tide_session *out, void *ctx)
{
    (void)w;
    (void)ctx;
    for (uint64_t k = 0; k <= e; k++)
        tide_session_give(out, &e);
}

struct reclocked {
    uint64_t count[FEED_EPOCHS];
    int errors;
};

static void check_reclocked(const tide_time *t, const void *r, void *ctx)
{
    struct reclocked *d = ctx;
    uint64_t e = *(const uint64_t *)r, want = e <= 1 ? 1 : 3;
    if (t->c[0] != want || e >= 4)
        d->errors++;
    else
        d->count[e]++;
}

int df_reclock(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct reclocked d = { .errors = 0 };
    tide_unordered *u;
    tide_cap *cap;
    tide_input *clock_in;
    tide_scope *scope = tide_dataflow_begin(w, "reclock");
    tide_stream *data = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    tide_stream *clock = tide_input_new(scope, TIDE_U64, &clock_in);
    tide_inspect(tide_reclock(data, clock), check_reclocked, &d);
    tide_dataflow_end(scope);
    uint64_t tick = 0;
    tide_input_advance_to(clock_in, 1);
    tide_input_send(clock_in, &tick);
    tide_input_advance_to(clock_in, 3);
    tide_input_send(clock_in, &tick);
    tide_input_close(clock_in);
    feed_reversed(w, u, cap, feed_reclock, NULL);
    WORK_CHECK(w, d.errors == 0, "%d records at a wrong time", d.errors);
    for (uint64_t e = 0; e < 4; e++)
        WORK_CHECK(w, d.count[e] == e + 1, "%llu records of epoch %llu, want %llu",
                   (unsigned long long)d.count[e], (unsigned long long)e,
                   (unsigned long long)e + 1);
    return 0;
}

/* ---------------------------------------------------------------- state_machine */

/* Keys 0..KEYS-1; at epoch e worker i gives key k (e + i + k) % 4 times. A key's state
 * counts its records and forgets itself at the 7th, giving a (key, epoch) record then; it
 * also reports a record applied after one of a later epoch. How many times each key is
 * forgotten by each epoch depends only on how many of its records came up to that epoch,
 * which the check computes here. */
#define KEYS 100

struct keyed_rec {
    uint64_t key, epoch, error;
};
static TIDE_TYPE_POD(keyed_rec_type, struct keyed_rec);

static void feed_keys(tide_worker *w, uint64_t e, tide_session *out, void *ctx)
{
    (void)ctx;
    for (uint64_t k = 0; k < KEYS; k++)
        for (uint64_t n = 0; n < (e + tide_worker_index(w) + k) % 4; n++)
            tide_session_give(out, &(struct keyed_rec){ k, e, 0 });
}

static uint64_t key_hash(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct keyed_rec *)r)->key * 0x9E3779B97F4A7C15ULL;
}

static bool same_key(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return ((const struct keyed_rec *)a)->key == ((const struct keyed_rec *)b)->key;
}

struct counter {
    uint64_t seen, last_epoch;
};

static bool count_to_7(void *state, const void *record, tide_session *out, void *ctx)
{
    (void)ctx;
    struct counter *c = state;
    const struct keyed_rec *r = record;
    if (r->epoch < c->last_epoch)
        tide_session_give(out, &(struct keyed_rec){ r->key, r->epoch, 1 });
    c->last_epoch = r->epoch;
    if (++c->seen < 7)
        return false;
    tide_session_give(out, r);
    return true;
}

struct forgotten {
    uint64_t times[KEYS][FEED_EPOCHS];
    int errors;
};

static void gather_forgotten(tide_op *op, void *arg)
{
    struct forgotten *f = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        const struct keyed_rec *r = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            if (r[i].error || r[i].key >= KEYS || r[i].epoch != tide_cap_epoch(cap))
                f->errors++;
            else
                f->times[r[i].key][r[i].epoch]++;
        }
    }
}

int df_state_machine(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct forgotten f = { .errors = 0 };
    tide_unordered *u;
    tide_cap *cap;
    tide_scope *scope = tide_dataflow_begin(w, "state_machine");
    tide_stream *s = tide_unordered_input_new(scope, &keyed_rec_type, &u, &cap);
    tide_state_machine_ops ops = { sizeof(struct counter), key_hash, same_key, count_to_7 };
    s = tide_state_machine(s, &keyed_rec_type, &ops, NULL);
    tide_sink(s, TIDE_EXCHANGE(to_zero, NULL), "Gather", gather_forgotten, &f, NULL);
    tide_dataflow_end(scope);
    feed_reversed(w, u, cap, feed_keys, NULL);
    WORK_CHECK(w, f.errors == 0, "%d records out of time order or malformed", f.errors);
    if (tide_worker_index(w) != 0)
        return 0;
    for (uint64_t k = 0; k < KEYS; k++) {
        uint64_t seen = 0;
        for (uint64_t e = 0; e < FEED_EPOCHS; e++) {
            uint64_t before = seen / 7;
            for (uint64_t i = 0; i < tide_worker_peers(w); i++)
                seen += (e + i + k) % 4;
            WORK_CHECK(w, f.times[k][e] == seen / 7 - before,
                       "key %llu forgotten %llu times at epoch %llu, want %llu",
                       (unsigned long long)k, (unsigned long long)f.times[k][e],
                       (unsigned long long)e, (unsigned long long)(seen / 7 - before));
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- capture_into, replay_into */

/* Each worker captures numbers and strings given out of time order (feed_keys' pattern, as
 * u64 records and as their decimal strings); a second dataflow replays both and checks, per
 * epoch, the count and sum of each once its frontier has passed the epoch, against what the
 * worker gave (each worker replays its own files, as the worker count is the same). */
static void feed_capture(tide_worker *w, uint64_t e, tide_session *out, void *ctx)
{
    (void)ctx;
    for (uint64_t k = 0; k < 20 + e * tide_worker_index(w); k++) {
        uint64_t x = 1000 * e + k;
        tide_session_give(out, &x);
    }
}

static void numbers_to_strings(const void *in, void *out, void *ctx)
{
    (void)ctx;
    static _Thread_local char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)*(const uint64_t *)in);
    *(const char **)out = buf;
}

/* A sink over a replayed stream: sums records per epoch; once the frontier passes an epoch,
 * that epoch's sums must be final (checked against the expected values in the sink). */
struct replay_check {
    bool strings; /* TIDE_STR records holding the numbers */
    struct seen_sum got[FEED_EPOCHS], want[FEED_EPOCHS];
    uint64_t checked; /* epochs checked so far */
    int errors;
};

static void check_replayed(tide_op *op, void *arg)
{
    struct replay_check *c = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        uint64_t e = tide_cap_epoch(cap);
        for (size_t at = 0; at < tide_batch_bytes(b);) {
            uint64_t x;
            if (c->strings) {
                const char *str;
                tide_batch_read(b, &at, &str);
                x = strtoull(str, NULL, 10);
            } else {
                tide_batch_read(b, &at, &x);
            }
            if (e >= FEED_EPOCHS || x / 1000 != e || e < c->checked) {
                c->errors++;
                continue;
            }
            c->got[e].n++;
            c->got[e].sum += x;
        }
    }
    while (c->checked < FEED_EPOCHS && !tide_antichain_less_equal(tide_op_frontier(op, 0),
                                                                 &(tide_time){ .depth = 1,
                                                                     .c = { c->checked } })) {
        uint64_t e = c->checked++;
        if (c->got[e].n != c->want[e].n || c->got[e].sum != c->want[e].sum)
            c->errors++;
    }
}

int df_capture(tide_worker *w, void *ctx)
{
    (void)ctx;
    const char *tmp = getenv("TMPDIR");
    char prefix[256], strprefix[300];
    snprintf(prefix, sizeof prefix, "%s/tide-capture-test-%ld", tmp ? tmp : "/tmp",
             (long)getppid());
    snprintf(strprefix, sizeof strprefix, "%s-str", prefix);
    tide_unordered *u;
    tide_cap *cap;
    tide_scope *scope = tide_dataflow_begin(w, "capture");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    tide_capture_into(s, prefix);
    tide_capture_into(tide_map(s, TIDE_STR, numbers_to_strings, NULL), strprefix);
    tide_dataflow_end(scope);
    feed_reversed(w, u, cap, feed_capture, NULL);

    struct replay_check nums = { .strings = false }, strs = { .strings = true };
    for (uint64_t e = 0; e < FEED_EPOCHS; e++)
        for (uint64_t k = 0; k < 20 + e * tide_worker_index(w); k++) {
            nums.want[e].n++;
            nums.want[e].sum += 1000 * e + k;
        }
    memcpy(strs.want, nums.want, sizeof nums.want);
    scope = tide_dataflow_begin(w, "replay");
    tide_sink(tide_replay_into(scope, TIDE_U64, prefix), TIDE_PIPELINE, "CheckNumbers",
              check_replayed, &nums, NULL);
    tide_sink(tide_replay_into(scope, TIDE_STR, strprefix), TIDE_PIPELINE, "CheckStrings",
              check_replayed, &strs, NULL);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    char path[320];
    snprintf(path, sizeof path, "%s.%zu", prefix, tide_worker_index(w));
    remove(path);
    snprintf(path, sizeof path, "%s.%zu", strprefix, tide_worker_index(w));
    remove(path);
    WORK_CHECK(w, nums.checked == FEED_EPOCHS && nums.errors == 0,
               "numbers: %d wrong or early records, %llu epochs checked", nums.errors,
               (unsigned long long)nums.checked);
    WORK_CHECK(w, strs.checked == FEED_EPOCHS && strs.errors == 0,
               "strings: %d wrong or early records, %llu epochs checked", strs.errors,
               (unsigned long long)strs.checked);
    return 0;
}

/* ---------------------------------------------------------------- the stateless operators at
 * several times */

/* Every worker gives x = 1000 e + k for k < 20 + e + its index at each epoch e (out of
 * order, through feed_reversed); the library's operators each get that stream, and every
 * output is gathered at worker 0 and totalled per epoch, with each record's epoch checked
 * against its value where the value says it (x / 1000, or one more after the delay).
 * Worker 0 compares every total with the same computation done here. */
enum { T_MAP, T_IN_PLACE, T_FILTER, T_FLAT_MAP, T_EXCHANGE, T_BROADCAST, T_CONCAT, T_PART1,
       T_BRANCH_NO, T_WHEN_EVEN, T_OK, T_ERR, T_COUNT, T_ACCUMULATE, T_DELAY, T_CONCATENATE,
       T_INSPECT_BATCH, T_AGGREGATE, T_STREAMS };
static const char *const t_names[T_STREAMS] = {
    "map", "map_in_place", "filter", "flat_map", "exchange", "broadcast", "concat",
    "partition", "branch", "branch_when", "ok_err ok", "ok_err err", "count", "accumulate",
    "delay", "concatenate", "inspect_batch", "aggregate" };

struct tallies {
    struct seen_sum at[T_STREAMS][FEED_EPOCHS + 1];
    int errors;
};
struct tally_port {
    struct tallies *t;
    int stream;
};

static void tally_logic(tide_op *op, void *arg)
{
    struct tally_port *p = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        uint64_t e = tide_cap_epoch(cap);
        const uint64_t *x = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            bool tagged = p->stream != T_COUNT && p->stream != T_ACCUMULATE &&
                          p->stream != T_AGGREGATE;
            uint64_t want = x[i] / 1000 + (p->stream == T_DELAY);
            if (e > FEED_EPOCHS || (tagged && want != e)) {
                p->t->errors++;
                continue;
            }
            p->t->at[p->stream][e].n++;
            p->t->at[p->stream][e].sum += x[i];
        }
    }
}

static void tally(tide_stream *s, struct tally_port *ports, struct tallies *t, int stream)
{
    ports[stream] = (struct tally_port){ t, stream };
    tide_sink(s, TIDE_EXCHANGE(to_zero, NULL), t_names[stream], tally_logic, &ports[stream],
              NULL);
}

static void feed_tagged(tide_worker *w, uint64_t e, tide_session *out, void *ctx)
{
    (void)ctx;
    for (uint64_t k = 0; k < 20 + e + tide_worker_index(w); k++) {
        uint64_t x = 1000 * e + k;
        tide_session_give(out, &x);
    }
}

static void plus_500(const void *in, void *out, void *ctx)
{
    (void)ctx;
    *(uint64_t *)out = *(const uint64_t *)in + 500;
}

static void incr(void *r, void *ctx)
{
    (void)ctx;
    ++*(uint64_t *)r;
}

static bool is_even(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 2 == 0;
}

static void mod3_copies(const void *in, tide_session *out, void *ctx)
{
    (void)ctx;
    for (uint64_t c = 0; c < *(const uint64_t *)in % 3; c++)
        tide_session_give(out, in);
}

static uint64_t value_hash(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r;
}

static uint64_t value_mod3(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 3;
}

static bool epoch_even(const tide_time *t, void *ctx)
{
    (void)ctx;
    return t->c[0] % 2 == 0;
}

static bool split_even(const void *r, void *ok, void *err, void *ctx)
{
    (void)ctx;
    uint64_t x = *(const uint64_t *)r;
    *(uint64_t *)(x % 2 == 0 ? ok : err) = x;
    return x % 2 == 0;
}

static void sum_u64(void *acc, const void *r, void *ctx)
{
    (void)ctx;
    *(uint64_t *)acc += *(const uint64_t *)r;
}

static void count_batch(const tide_time *t, tide_batch *b, void *ctx)
{
    (void)t;
    *(uint64_t *)ctx += tide_batch_len(b);
}

/* aggregate: the sum of each key's (x % 5) records per time */
static bool same_mod5_key(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)a % 5 == *(const uint64_t *)b % 5;
}

static uint64_t mod5_key(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 5;
}

static void fold_sum(void *state, const void *r, void *ctx)
{
    (void)ctx;
    *(uint64_t *)state += *(const uint64_t *)r;
}

static void emit_sum(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)key;
    (void)ctx;
    tide_session_give(out, state);
}

static void next_epoch(const void *record, const tide_time *t, tide_time *later, void *ctx)
{
    (void)record;
    (void)ctx;
    *later = tide_time_root(t->c[0] + 1);
}

/* What stream @p s should total at epoch @p e (before delay's shift) for one input record
 * @p x, given as increments to *want. */
static void expect(int s, uint64_t x, uint64_t peers, struct seen_sum *want)
{
    switch (s) {
    case T_MAP: want->n++, want->sum += x + 500; break;
    case T_IN_PLACE: want->n++, want->sum += x + 1; break;
    case T_FILTER: case T_OK: if (x % 2 == 0) want->n++, want->sum += x; break;
    case T_BRANCH_NO: case T_ERR: if (x % 2) want->n++, want->sum += x; break;
    case T_FLAT_MAP: want->n += x % 3, want->sum += x * (x % 3); break;
    case T_EXCHANGE: case T_DELAY: case T_INSPECT_BATCH: want->n++, want->sum += x; break;
    case T_CONCATENATE: want->n += 3, want->sum += 3 * x; break;
    case T_AGGREGATE: want->sum += x; break; /* one record per key: counted below */
    case T_BROADCAST: want->n += peers, want->sum += x * peers; break;
    case T_CONCAT: want->n += 2, want->sum += 2 * x + 500; break;
    case T_PART1: if (x % 3 == 1) want->n++, want->sum += x; break;
    case T_WHEN_EVEN: if (x / 1000 % 2 == 0) want->n++, want->sum += x; break;
    default: break; /* count and accumulate: per worker, below */
    }
}

int df_operators_at_times(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct tallies t = { .errors = 0 };
    struct tally_port ports[T_STREAMS];
    tide_unordered *u;
    tide_cap *cap;
    tide_scope *scope = tide_dataflow_begin(w, "operators_at_times");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    tide_stream *mapped = tide_map(s, TIDE_U64, plus_500, NULL);
    tally(mapped, ports, &t, T_MAP);
    tally(tide_map_in_place(s, incr, NULL), ports, &t, T_IN_PLACE);
    tally(tide_filter(s, is_even, NULL), ports, &t, T_FILTER);
    tally(tide_flat_map(s, TIDE_U64, mod3_copies, NULL), ports, &t, T_FLAT_MAP);
    tally(tide_exchange(s, value_hash, NULL), ports, &t, T_EXCHANGE);
    tally(tide_broadcast(s), ports, &t, T_BROADCAST);
    tally(tide_concat(s, mapped), ports, &t, T_CONCAT);
    tide_stream *parts[3], *yes, *no, *ok, *err;
    tide_partition(s, 3, value_mod3, NULL, parts);
    tally(parts[1], ports, &t, T_PART1);
    tide_branch(s, is_even, NULL, &yes, &no);
    tally(no, ports, &t, T_BRANCH_NO);
    tide_branch_when(s, epoch_even, NULL, &yes, &no);
    tally(yes, ports, &t, T_WHEN_EVEN);
    tide_ok_err(s, TIDE_U64, TIDE_U64, split_even, NULL, &ok, &err);
    tally(ok, ports, &t, T_OK);
    tally(err, ports, &t, T_ERR);
    tally(tide_count(s), ports, &t, T_COUNT);
    uint64_t zero = 0;
    tally(tide_accumulate(s, TIDE_U64, &zero, sum_u64, NULL), ports, &t, T_ACCUMULATE);
    tally(tide_delay(s, next_epoch, NULL), ports, &t, T_DELAY);
    tide_stream *three[3] = { s, s, s };
    tally(tide_concatenate(three, 3), ports, &t, T_CONCATENATE);
    uint64_t batched = 0;
    tally(tide_inspect_batch(s, count_batch, &batched), ports, &t, T_INSPECT_BATCH);
    tide_aggregate_ops sums = { sizeof(uint64_t), mod5_key, same_mod5_key, fold_sum, emit_sum, NULL };
    tally(tide_aggregate(s, TIDE_U64, &sums, NULL), ports, &t, T_AGGREGATE);
    tide_dataflow_end(scope);
    feed_reversed(w, u, cap, feed_tagged, NULL);
    WORK_CHECK(w, t.errors == 0, "%d records at a time their value does not allow", t.errors);
    uint64_t mine = 0;
    for (uint64_t e = 0; e < FEED_EPOCHS; e++)
        mine += 20 + e + tide_worker_index(w);
    WORK_CHECK(w, batched == mine, "inspect_batch saw %llu records, want %llu",
               (unsigned long long)batched, (unsigned long long)mine);
    if (tide_worker_index(w) != 0)
        return 0;
    uint64_t peers = tide_worker_peers(w);
    for (int st = 0; st < T_STREAMS; st++)
        for (uint64_t e = 0; e < FEED_EPOCHS; e++) {
            struct seen_sum want = { 0, 0 };
            for (uint64_t p = 0; p < peers; p++)
                for (uint64_t k = 0; k < 20 + e + p; k++) {
                    uint64_t x = 1000 * e + k;
                    expect(st, x, peers, &want);
                    if (st == T_ACCUMULATE)
                        want.sum += x;
                    if (st == T_COUNT)
                        want.sum++;
                }
            if (st == T_COUNT || st == T_ACCUMULATE)
                want.n = peers; /* one record per worker and epoch */
            if (st == T_AGGREGATE)
                want.n = 5; /* one per key; every epoch has at least 20 records */
            const struct seen_sum *got = &t.at[st][e + (st == T_DELAY)];
            WORK_CHECK(w, got->n == want.n && got->sum == want.sum,
                       "%s at epoch %llu: %llu records summing to %llu, want %llu and %llu",
                       t_names[st], (unsigned long long)e, (unsigned long long)got->n,
                       (unsigned long long)got->sum, (unsigned long long)want.n,
                       (unsigned long long)want.sum);
        }
    return 0;
}
