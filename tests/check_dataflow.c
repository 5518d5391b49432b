/* SPDX-License-Identifier: MIT */
/* The dataflow layer in threads: every body of dataflow_work.c with 1 and 3 workers (the
 * MPI shapes are in mpi_dataflow.c), plus what only makes sense in one process. */
#include "check_main.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataflow_work.h"

static int run_with(size_t workers, tide_worker_fn fn)
{
    tide_config cfg = check_threads(workers);
    cfg.progress_share = 2; /* 3 workers share their trackers (MPI shapes -w 2 do not) */
    return tide_execute(&cfg, fn, NULL);
}

#define WORK_TEST(name, fn)                                                               \
    START_TEST(test_##name) { ck_assert_int_eq(run_with(_i == 0 ? 1 : 3, fn), 0); }      \
    END_TEST
DATAFLOW_WORK_TESTS(WORK_TEST)

static int step_count;
static bool fewer_than_3(void *arg)
{
    (void)arg;
    return step_count++ < 3;
}

static int example_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    WORK_CHECK(w, tide_worker_peers(w) == 1 && tide_worker_index(w) == 0, "not one worker");
    tide_worker_step_while(w, fewer_than_3, NULL);
    WORK_CHECK(w, step_count == 4, "step_while stepped %d times", step_count);
    return 0;
}

START_TEST(test_example) { ck_assert_int_eq(tide_example(example_body, NULL), 0); }
END_TEST

static int fails(tide_worker *w, void *ctx)
{
    (void)ctx;
    return tide_worker_index(w) == 1 ? 7 : 0;
}

START_TEST(test_worker_result) { ck_assert_int_eq(run_with(2, fails), 7); }
END_TEST

/* Worker i of 4 returns 10 * i, so all but the first fail: tide_execute_results gives each
 * one's result (and 0 past them), and returns the first non-zero as tide_execute does. */
static int ten_times(tide_worker *w, void *ctx)
{
    (void)ctx;
    return 10 * (int)tide_worker_index(w);
}

START_TEST(test_worker_results)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = 4;
    cfg.bind = TIDE_BIND_NONE;
    cfg.launch = TIDE_LAUNCH_SINGLE;
    int each[6] = { -1, -1, -1, -1, -1, -1 };
    ck_assert_int_eq(tide_execute_results(&cfg, ten_times, NULL, each, 6), 10);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(each[i], i < 4 ? 10 * i : 0);
}
END_TEST

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A worker waiting for input that does not come sleeps in step_or_park: over 0.3 s of
 * waiting it uses a small part of a core (a spinning worker would use all of it). */
static int idle_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "idle");
    tide_probe *probe = tide_probe_new(tide_input_new(scope, TIDE_U64, &in));
    tide_dataflow_end(scope);
    tide_input_advance_to(in, 1);
    while (tide_probe_less_than(probe, 1))
        tide_worker_step(w);
    double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_THREAD_CPUTIME_ID);
    int parks = 0;
    while (seconds(CLOCK_MONOTONIC) - wall < 0.3) {
        tide_worker_step_or_park(w, 20 * 1000 * 1000);
        parks++;
    }
    double used = (seconds(CLOCK_THREAD_CPUTIME_ID) - cpu) / (seconds(CLOCK_MONOTONIC) - wall);
    WORK_CHECK(w, used < 0.25, "an idle worker used %.0f%% of a core in step_or_park", 100 * used);
    WORK_CHECK(w, tide_probe_less_than(probe, 2), "the probe moved without input");
    return 0;
}

START_TEST(test_idle_parks) { ck_assert_int_eq(run_with(1, idle_body), 0); }
END_TEST

/* tide_worker_log: operator events name the operator and count the records it took, only
 * for dataflows built after the callback was set; a mask leaves other kinds out. */
struct log_seen {
    size_t worker;
    uint64_t inspect_records, events, before, bad;
};

static void on_event(const tide_log_event *e, void *ctx)
{
    struct log_seen *s = ctx;
    if (e->kind != TIDE_LOG_OPERATOR)
        return; /* parks: whether there are any depends on timing */
    s->events++;
    if (e->worker != s->worker || e->dur_ns > 60e9)
        s->bad++;
    if (strncmp(e->name, "before/", 7) == 0)
        s->before++;
    if (strcmp(e->name, "logged/Inspect") == 0)
        s->inspect_records += e->records;
}

static uint64_t ident(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r;
}

static void nothing(const tide_time *t, const void *r, void *ctx) { (void)t, (void)r, (void)ctx; }

static int run_dataflow(tide_worker *w, const char *name)
{
    uint64_t v[100];
    for (uint64_t i = 0; i < 100; i++)
        v[i] = i;
    tide_scope *s = tide_dataflow_begin(w, name);
    tide_probe *p = tide_probe_new(
        tide_inspect(tide_exchange(tide_to_stream(s, TIDE_U64, v, 100), ident, NULL), nothing,
                     NULL));
    tide_dataflow_end(s);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    return 0;
}

static int log_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct log_seen seen = { .worker = me }, parks = { .worker = me };
    run_dataflow(w, "before");
    tide_worker_log(w, TIDE_LOG_OPERATOR, on_event, &seen);
    run_dataflow(w, "logged");
    tide_worker_log(w, TIDE_LOG_PARK, on_event, &parks);
    run_dataflow(w, "parks only");
    tide_worker_log(w, 0, NULL, NULL);
    uint64_t want = 0;
    for (uint64_t i = 0; i < 100; i++)
        want += i % peers == me ? peers : 0;
    WORK_CHECK(w, seen.inspect_records == want, "Inspect took %llu records, not %llu",
               (unsigned long long)seen.inspect_records, (unsigned long long)want);
    WORK_CHECK(w, seen.events >= 4 && !seen.bad && !seen.before,
               "%llu events, %llu malformed, %llu of a dataflow built before",
               (unsigned long long)seen.events, (unsigned long long)seen.bad,
               (unsigned long long)seen.before);
    WORK_CHECK(w, parks.events == 0, "%llu operator events with a park-only mask",
               (unsigned long long)parks.events);
    return 0;
}

START_TEST(test_log) { ck_assert_int_eq(run_with(_i == 0 ? 1 : 3, log_body), 0); }
END_TEST

/* TIDE_LOG_SEND and TIDE_LOG_RECEIVE: one event per message between two workers at each
 * end, with the same message number, the same records, each naming the other end; every
 * record that changes worker is in one, and no message of a worker to itself is. */
static _Atomic uint64_t msg_sent, msg_received, msg_sent_records, msg_received_records;
static _Atomic uint64_t msg_id_sum; /* sends add, receives take away: 0 when they pair up */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15u;
    return x ^ (x >> 29);
}

static void on_message(const tide_log_event *e, void *ctx)
{
    struct log_seen *s = ctx;
    bool out = e->kind == TIDE_LOG_SEND;
    if ((!out && e->kind != TIDE_LOG_RECEIVE) || e->worker != s->worker || e->peer == e->worker ||
        e->channel < 0 || e->dur_ns != 0 || !e->records || e->bytes != 8 * e->records ||
        strncmp(e->name, "messages/", 9) != 0) {
        s->bad++;
        return;
    }
    s->events++;
    /* the same message seen from both ends: (sender, receiver, number) */
    size_t from = out ? e->worker : e->peer, to = out ? e->peer : e->worker;
    uint64_t id = mix(mix(from * 1000003u + to) ^ e->message);
    atomic_fetch_add(out ? &msg_sent : &msg_received, 1);
    atomic_fetch_add(out ? &msg_sent_records : &msg_received_records, e->records);
    atomic_fetch_add(&msg_id_sum, out ? id : (uint64_t)0 - id);
}

static int messages_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct log_seen seen = { .worker = tide_worker_index(w) };
    tide_worker_log(w, TIDE_LOG_SEND | TIDE_LOG_RECEIVE, on_message, &seen);
    run_dataflow(w, "messages");
    tide_worker_log(w, 0, NULL, NULL);
    WORK_CHECK(w, !seen.bad, "%llu malformed message events", (unsigned long long)seen.bad);
    return 0;
}

START_TEST(test_log_messages)
{
    size_t peers = _i == 0 ? 1 : 3;
    msg_sent = msg_received = msg_sent_records = msg_received_records = msg_id_sum = 0;
    ck_assert_int_eq(run_with(peers, messages_body), 0);
    /* each worker sends its 100 records to worker i % peers: all but its own share leave */
    uint64_t crossing = 0;
    for (size_t me = 0; me < peers; me++)
        for (uint64_t i = 0; i < 100; i++)
            crossing += i % peers != me;
    ck_assert_uint_eq(msg_sent_records, crossing);
    ck_assert_uint_eq(msg_received_records, crossing);
    ck_assert_uint_eq(msg_sent, msg_received);
    ck_assert(peers == 1 ? msg_sent == 0 : msg_sent > 0);
    ck_assert_uint_eq(msg_id_sum, 0);
}
END_TEST

/* The build, progress and frontier kinds: every operator and every edge into an operator
 * once at tide_dataflow_end (with consistent numbers, the exchange edge on a channel when
 * there are several workers), progress sent only when there is someone to send it to and
 * applied, and the probe's frontier ends empty. The workers of a rank share their
 * trackers, so over all workers (one rank) exactly the changes sent are applied, once
 * each: a worker applying every worker's batches would make it 3 times as many. */
struct built_seen {
    size_t worker, peers;
    uint64_t ops, inputs, outputs, edges, exchange_edges, bad, sent, applied, frontiers;
    uint64_t sent_changes, applied_changes;
    bool probe_done;
};

static atomic_uint_fast64_t built_sent_changes, built_applied_changes;

static void on_built(const tide_log_event *e, void *ctx)
{
    struct built_seen *s = ctx;
    bool progress = e->kind == TIDE_LOG_PROGRESS_SEND || e->kind == TIDE_LOG_PROGRESS_RECEIVE;
    if (e->worker != s->worker || (!progress && strncmp(e->name, "built/", 6) != 0)) {
        s->bad++;
        return;
    }
    switch (e->kind) {
    case TIDE_LOG_OPERATOR_BUILT:
        s->ops++;
        s->inputs += e->inputs;
        s->outputs += e->outputs;
        s->bad += strcmp(e->scope, "built") != 0;
        break;
    case TIDE_LOG_CHANNEL_BUILT:
        s->edges++;
        s->bad += e->op == e->target_op ||
                  (strcmp(e->pact, "exchange") && strcmp(e->pact, "pipeline"));
        if (strcmp(e->pact, "exchange") == 0)
            s->exchange_edges++;
        /* an exchange between several workers has a channel; anything else has none */
        s->bad += (strcmp(e->pact, "exchange") == 0 && s->peers > 1) != (e->channel >= 0);
        break;
    case TIDE_LOG_PROGRESS_SEND:
        s->sent++;
        s->sent_changes += e->records;
        s->bad += e->records == 0;
        break;
    case TIDE_LOG_PROGRESS_RECEIVE:
        s->applied++;
        s->applied_changes += e->records;
        s->bad += e->records == 0;
        break;
    case TIDE_LOG_FRONTIER:
        s->frontiers++;
        if (strcmp(e->name, "built/Probe") == 0 && e->nfrontier == 0)
            s->probe_done = true;
        for (size_t i = 0; i < e->nfrontier; i++)
            s->bad += e->frontier[i].depth != 1;
        break;
    default:
        s->bad++;
    }
}

static int built_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t peers = tide_worker_peers(w);
    struct built_seen s = { .worker = tide_worker_index(w), .peers = peers };
    tide_worker_log(w, TIDE_LOG_OPERATOR_BUILT | TIDE_LOG_CHANNEL_BUILT | TIDE_LOG_FRONTIER |
                           TIDE_LOG_PROGRESS_SEND | TIDE_LOG_PROGRESS_RECEIVE,
                    on_built, &s);
    run_dataflow(w, "built");
    tide_worker_log(w, 0, NULL, NULL);
    /* to_stream -> exchange -> inspect -> probe: 4 operators, 3 edges, one exchanged */
    WORK_CHECK(w, !s.bad, "%llu malformed events", (unsigned long long)s.bad);
    WORK_CHECK(w, s.ops >= 3 && s.edges == s.ops - 1 && s.inputs == s.edges &&
                      s.exchange_edges == 1,
               "%llu operators (%llu inputs, %llu outputs), %llu edges (%llu exchanged)",
               (unsigned long long)s.ops, (unsigned long long)s.inputs,
               (unsigned long long)s.outputs, (unsigned long long)s.edges,
               (unsigned long long)s.exchange_edges);
    /* With shared trackers a worker may leave every application to its rank-mates (the
     * one holding them applies what the others queued): the total is checked below. */
    WORK_CHECK(w, (peers > 1 || s.applied > 0) && (peers > 1) == (s.sent > 0),
               "progress sent %llu times, applied %llu times with %zu workers",
               (unsigned long long)s.sent, (unsigned long long)s.applied, peers);
    WORK_CHECK(w, s.probe_done && s.frontiers >= 3, "%llu frontier events, probe done: %d",
               (unsigned long long)s.frontiers, s.probe_done);
    atomic_fetch_add(&built_sent_changes, s.sent_changes);
    atomic_fetch_add(&built_applied_changes, s.applied_changes);
    return 0;
}

START_TEST(test_log_built)
{
    atomic_store(&built_sent_changes, 0);
    atomic_store(&built_applied_changes, 0);
    ck_assert_int_eq(run_with(_i == 0 ? 1 : 3, built_body), 0);
    if (_i > 0) {
        ck_assert_uint_gt(atomic_load(&built_sent_changes), 0);
        ck_assert_uint_eq(atomic_load(&built_applied_changes), atomic_load(&built_sent_changes));
    }
}
END_TEST

/* A worker that stops stepping while it shares its rank's trackers misses their notes of
 * frontier changes; once it lags by more than they keep (4096), it is told to copy every
 * frontier when it steps again. Two pipelines, A and B. Worker 0 closes A (A's frontier
 * empties: a note), then runs 6000 epochs through B (12000 notes) while the others, their
 * inputs closed, wait without stepping. Then they step until A's probe is done, which only
 * the copy can tell them (the note was dropped), while worker 0 keeps B open (so the
 * dataflow cannot complete, which would end the probes anyway). */
static atomic_int lag_released, lag_finished, lag_checked;

static void copy_u64(const void *in, void *out, void *ctx)
{
    (void)ctx;
    memcpy(out, in, sizeof(uint64_t));
}

static void step_until_done(tide_worker *w, const tide_probe *p)
{
    while (!tide_probe_done(p))
        tide_worker_step_or_park(w, 1000000);
}

static int lag_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_input *a, *b;
    tide_scope *s = tide_dataflow_begin(w, "lag");
    tide_probe *pa = tide_probe_new(tide_map(tide_input_new(s, TIDE_U64, &a), TIDE_U64,
                                             copy_u64, NULL));
    tide_probe *pb = tide_probe_new(tide_map(tide_input_new(s, TIDE_U64, &b), TIDE_U64,
                                             copy_u64, NULL));
    tide_dataflow_end(s);
    int others = (int)tide_worker_peers(w) - 1;
    if (tide_worker_index(w) != 0) {
        tide_input_close(a);
        tide_input_close(b);
        for (int i = 0; i < 100; i++)
            tide_worker_step(w); /* its capabilities' release is in the trackers */
        atomic_fetch_add(&lag_released, 1);
        while (!atomic_load(&lag_finished))
            sched_yield();
        step_until_done(w, pa);
        atomic_fetch_add(&lag_checked, 1);
    } else {
        while (atomic_load(&lag_released) < others)
            sched_yield();
        tide_input_close(a);
        step_until_done(w, pa);
        for (uint64_t e = 0; e < 6000; e++) {
            tide_input_send(b, &e);
            tide_input_advance_to(b, e + 1);
            while (tide_probe_less_equal(pb, e))
                tide_worker_step(w);
        }
        atomic_store(&lag_finished, 1);
        while (atomic_load(&lag_checked) < others)
            tide_worker_step_or_park(w, 1000000);
        tide_input_close(b);
    }
    step_until_done(w, pb);
    return 0;
}

START_TEST(test_lagging_worker)
{
    atomic_store(&lag_released, 0);
    atomic_store(&lag_finished, 0);
    atomic_store(&lag_checked, 0);
    ck_assert_int_eq(run_with(3, lag_body), 0);
}
END_TEST

/* tide_log_stream: the log of a worker's other dataflows reaches a dataflow of its own as
 * records (this worker's operator runs of "work", the records it sent to other workers),
 * none of the log dataflow's own, at epochs that do not run ahead of the records' times;
 * the stream ends when logging stops. */
struct log_stream_seen {
    size_t worker;
    uint64_t work_runs, sent_records, own, bad;
};

static void on_log_record(const tide_time *t, const void *rec, void *ctx)
{
    const tide_log_record *r = rec;
    struct log_stream_seen *s = ctx;
    uint64_t at = t->c[0] * 1000000u; /* the record's epoch, in ns */
    /* not before it happened, nor a minute after */
    if (r->worker != s->worker || at + 1000000u <= r->start_ns ||
        at > r->start_ns + r->dur_ns + 60000000000u)
        s->bad++;
    if (strncmp(r->name, "log/", 4) == 0 || strcmp(r->name, "log") == 0)
        s->own++;
    if (r->kind == TIDE_LOG_OPERATOR && strncmp(r->name, "work/", 5) == 0)
        s->work_runs++;
    if (r->kind == TIDE_LOG_SEND)
        s->sent_records += r->records;
}

static int log_stream_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct log_stream_seen seen = { .worker = me };
    tide_scope *s = tide_dataflow_begin(w, "log");
    tide_probe *p = tide_probe_new(tide_inspect(
        tide_log_stream(s, TIDE_LOG_OPERATOR | TIDE_LOG_SEND | TIDE_LOG_PROGRESS_SEND),
        on_log_record, &seen));
    tide_dataflow_end(s);
    run_dataflow(w, "work");
    for (int i = 0; i < 1000; i++) /* the log keeps its stream open meanwhile */
        tide_worker_step(w);
    WORK_CHECK(w, !tide_probe_done(p), "the log stream ended while logging went on");
    tide_worker_log(w, 0, NULL, NULL);
    while (!tide_probe_done(p))
        tide_worker_step_or_park(w, 1000000);
    uint64_t crossing = 0;
    for (uint64_t i = 0; i < 100; i++)
        crossing += i % peers != me;
    WORK_CHECK(w, !seen.bad && !seen.own && seen.work_runs >= 3 &&
                      seen.sent_records == crossing,
               "%llu bad, %llu of its own, %llu runs of work, %llu records sent (not %llu)",
               (unsigned long long)seen.bad, (unsigned long long)seen.own,
               (unsigned long long)seen.work_runs, (unsigned long long)seen.sent_records,
               (unsigned long long)crossing);
    return 0;
}

START_TEST(test_log_stream) { ck_assert_int_eq(run_with(_i == 0 ? 1 : 3, log_stream_body), 0); }
END_TEST

/* tide_hash_u64 (computed inline by the exchange) sends each record where a hash function
 * of the program's returning the same value does: value % workers, with a power-of-two
 * worker count and without, with batches large enough for the per-slot cursors and small. */
struct placed {
    size_t worker, peers;
    uint64_t got, misplaced;
};

static void check_placed(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct placed *p = ctx;
    p->got++;
    p->misplaced += *(const uint64_t *)r % p->peers != p->worker;
}

static int hash_u64_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct placed inl = { me, peers, 0, 0 }, ind = { me, peers, 0, 0 };
    enum { N = 5000 };
    uint64_t *v = malloc(N * sizeof *v);
    for (uint64_t i = 0; i < N; i++)
        v[i] = i * 7 + me;
    tide_scope *s = tide_dataflow_begin(w, "hash u64");
    tide_stream *in = tide_to_stream(s, TIDE_U64, v, N);
    tide_stream *few = tide_to_stream(s, TIDE_U64, v, 3);
    tide_probe *p1 = tide_probe_new(tide_inspect(
        tide_exchange(tide_concat(in, few), tide_hash_u64, NULL), check_placed, &inl));
    tide_stream *in2 = tide_concat(tide_to_stream(s, TIDE_U64, v, N),
                                   tide_to_stream(s, TIDE_U64, v, 3));
    tide_probe *p2 =
        tide_probe_new(tide_inspect(tide_exchange(in2, ident, NULL), check_placed, &ind));
    tide_dataflow_end(s);
    while (!tide_probe_done(p1) || !tide_probe_done(p2))
        tide_worker_step(w);
    free(v);
    WORK_CHECK(w, !inl.misplaced && inl.got == ind.got && !ind.misplaced,
               "inline: %llu records, %llu misplaced; through a call: %llu, %llu misplaced",
               (unsigned long long)inl.got, (unsigned long long)inl.misplaced,
               (unsigned long long)ind.got, (unsigned long long)ind.misplaced);
    return 0;
}

START_TEST(test_hash_u64)
{
    static const size_t shapes[] = { 1, 3, 4 };
    ck_assert_int_eq(run_with(shapes[_i], hash_u64_body), 0);
}
END_TEST

/* tide_memory_held() counts the operator library's tables: an aggregate holding 200,000
 * keys of an open epoch holds their slots and states (24 bytes a key at least: two 8-byte
 * slots and the state), and gives them back when the epoch completes. */
struct folded {
    uint64_t n;
};

static bool same_u64(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)a == *(const uint64_t *)b;
}

static void count_fold(void *state, const void *record, void *ctx)
{
    (void)record;
    ++*(uint64_t *)state;
    ((struct folded *)ctx)->n++;
}

static void emit_none(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)key, (void)state, (void)out, (void)ctx;
}

static int keyed_held_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    enum { KEYS = 200000 };
    struct folded f = { 0 };
    const tide_aggregate_ops ops = { sizeof(uint64_t), tide_hash_u64, same_u64, count_fold,
                                     emit_none, NULL };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "keyed_held");
    tide_probe *p =
        tide_probe_new(tide_aggregate(tide_input_new(scope, TIDE_U64, &in), TIDE_U64, &ops, &f));
    tide_dataflow_end(scope);
    uint64_t before = tide_memory_held();
    for (uint64_t k = 0; k < KEYS; k++)
        tide_input_send(in, &k);
    while (f.n < KEYS)
        tide_worker_step(w);
    uint64_t during = tide_memory_held();
    tide_input_close(in);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    uint64_t after = tide_memory_held();
    WORK_CHECK(w, during >= before + 24 * KEYS && after + 24 * KEYS <= during,
               "held %llu bytes before, %llu with %d keys, %llu after",
               (unsigned long long)before, (unsigned long long)during, (int)KEYS,
               (unsigned long long)after);
    return 0;
}

START_TEST(test_keyed_held) { ck_assert_int_eq(run_with(1, keyed_held_body), 0); }
END_TEST

/* tide_aggregate with a merge (a combiner): every worker counts the same 70,000 string
 * keys twice in one epoch, so each worker's combining table fills past its bound (65,536
 * keys) and sends partials early, and a key's partials come from every worker, some
 * twice; every key must reach worker 0 once with a count of 2 x workers. Keys are compared
 * with tide_same_str, which the tables read inline with the stored lengths. The records
 * are counted by a fold of the test's own and by tide_fold_count, which the tables count
 * inline. */
struct combined {
    uint64_t keys, wrong, want;
};

static void count_str(void *state, const void *record, void *ctx)
{
    (void)record, (void)ctx;
    ++*(uint64_t *)state;
}

static void (*combine_fold)(void *, const void *, void *) = count_str;

static void add_counts(void *state, const void *other, void *ctx)
{
    (void)ctx;
    *(uint64_t *)state += *(const uint64_t *)other;
}

static void emit_count(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)key, (void)ctx;
    tide_session_give(out, state);
}

static void check_count(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    struct combined *c = ctx;
    c->keys++;
    c->wrong += *(const uint64_t *)record != c->want;
}

static int combine_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    enum { KEYS = 70000 };
    size_t peers = tide_worker_peers(w);
    struct combined c = { 0, 0, 2 * peers };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "combine");
    const tide_aggregate_ops ops = { .state_size = sizeof(uint64_t), .hash = tide_hash_str,
                                     .same_key = tide_same_str, .fold = combine_fold,
                                     .emit = emit_count, .merge = add_counts };
    tide_stream *counts = tide_aggregate(tide_input_new(scope, TIDE_STR, &in), TIDE_U64, &ops,
                                         NULL);
    tide_probe *p =
        tide_probe_new(tide_inspect(tide_exchange(counts, tide_hash_zero, NULL), check_count, &c));
    tide_dataflow_end(scope);
    char word[24];
    const char *wp = word;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned k = 0; k < KEYS; k++) {
            snprintf(word, sizeof word, "key%u", k);
            tide_input_send(in, &wp);
            if (k % 1024 == 0)
                tide_worker_step(w);
        }
    tide_input_close(in);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    bool zero = tide_worker_index(w) == 0;
    WORK_CHECK(w, c.wrong == 0 && c.keys == (zero ? KEYS : 0),
               "worker %zu: %llu keys, %llu of them with a count other than %llu",
               tide_worker_index(w), (unsigned long long)c.keys, (unsigned long long)c.wrong,
               (unsigned long long)c.want);
    return 0;
}

START_TEST(test_aggregate_combine)
{
    combine_fold = _i < 3 ? count_str : tide_fold_count;
    ck_assert_int_eq(run_with((size_t)_i % 3 + 1, combine_body), 0);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("dataflow");
    tcase_set_timeout(tc, 120);
#define ADD_WORK_TEST(name, fn) tcase_add_loop_test(tc, test_##name, 0, 2);
    DATAFLOW_WORK_TESTS(ADD_WORK_TEST)
    tcase_add_test(tc, test_example);
    tcase_add_test(tc, test_worker_result);
    tcase_add_test(tc, test_worker_results);
    tcase_add_test(tc, test_idle_parks);
    tcase_add_test(tc, test_keyed_held);
    tcase_add_loop_test(tc, test_log, 0, 2);
    tcase_add_loop_test(tc, test_log_messages, 0, 2);
    tcase_add_loop_test(tc, test_log_built, 0, 2);
    tcase_add_test(tc, test_lagging_worker);
    tcase_add_loop_test(tc, test_log_stream, 0, 2);
    tcase_add_loop_test(tc, test_hash_u64, 0, 3);
    tcase_add_loop_test(tc, test_aggregate_combine, 0, 6);
    return run_suite("dataflow", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
