/* SPDX-License-Identifier: MIT */
#include "comm_work.h"
#include "comm_work_internal.h"

#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int comm_pump(tide_allocator *a, tide_pull *pull, comm_on_batch f, void *st,
              size_t *remaining)
{
    uint64_t deadline = 0;
    tide_batch *b = NULL;
    while (*remaining > 0) {
        tide_allocator_receive(a);
        bool got = false;
        while (tide_pull_recv(pull, &b)) {
            got = true;
            if (f(a, b, st) != 0) {
                tide_batch_free(b);
                return 1;
            }
        }
        tide_allocator_release(a);
        if (!got) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t now = (uint64_t)ts.tv_sec;
            if (!deadline)
                deadline = now + 60;
            if (now > deadline)
                FAIL(a, "nothing arrived for 60 s, %zu still expected", *remaining);
            tide_allocator_park(a, 100000000);
        } else {
            deadline = 0;
        }
    }
    return 0;
}

int run_workers(const tide_config *cfg, tide_comm_fn fn, void *ctx)
{
    tide_guards *g;
    if (tide_comm_initialize(cfg, fn, ctx, &g) != 0)
        return -1;
    size_t n = tide_guards_count(g);
    int *res = calloc(n, sizeof *res);
    tide_guards_join(g, res);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += res[i] != 0;
    free(res);
    return failed;
}

/* ---------------------------------------------------------------- all to all */

struct a2a {
    uint64_t seen; /* bit per sender (tests use at most 64 workers) */
    size_t *remaining;
};

static int a2a_batch(tide_allocator *a, tide_batch *b, void *st)
{
    struct a2a *s = st;
    uint64_t *v = tide_batch_records(b);
    if (tide_batch_len(b) != 2)
        FAIL(a, "batch of %zu records, expected 2", tide_batch_len(b));
    if (v[1] != tide_allocator_index(a) * 1000 + v[0])
        FAIL(a, "from %" PRIu64 ": payload %" PRIu64 " is not for me", v[0], v[1]);
    if (s->seen & (1ull << v[0]))
        FAIL(a, "two messages from worker %" PRIu64, v[0]);
    s->seen |= 1ull << v[0];
    (*s->remaining)--;
    return 0;
}

/* Every worker sends two records to every worker, through @p push (an eager channel's
 * array) or, when it is NULL, through tide_allocator_push() of lazy channel @p ch, and
 * checks it heard from every worker on @p pull. */
static int all_to_all(tide_allocator *a, tide_push **push, int ch, tide_pull *pull)
{
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_batch *b = NULL;
    for (size_t t = 0; t < peers; t++) {
        tide_push *p = push ? push[t] : tide_allocator_push(a, ch, t);
        if (!p || (!push && tide_allocator_push(a, ch, t) != p))
            FAIL(a, "no endpoint, or a new one each time, towards worker %zu", t);
        if (!b)
            b = tide_batch_new(TIDE_U64, 0);
        uint64_t v[2] = { me, t * 1000 + me };
        tide_batch_push(b, &v[0]);
        tide_batch_push(b, &v[1]);
        tide_push_send(p, &b);
        tide_push_send(p, NULL);
    }
    tide_batch_free(b);
    size_t remaining = peers;
    struct a2a st = { 0, &remaining };
    if (comm_pump(a, pull, a2a_batch, &st, &remaining))
        return 1;
    if (st.seen != (peers == 64 ? ~0ull : (1ull << peers) - 1))
        FAIL(a, "did not hear from every worker%s", push ? "" : " on the lazy channel");
    return 0;
}

int work_all_to_all(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push;
    tide_pull *pull;
    if (tide_allocator_allocate(a, TIDE_U64, &push, &pull) < 0)
        FAIL(a, "could not allocate a channel");
    return all_to_all(a, push, -1, pull);
}

/* ---------------------------------------------------------------- lazy channels */

/* A lazy channel: the same all-to-all through tide_allocator_push(), which gives one
 * endpoint per target (the same each time) and NULL for what is not there; before any
 * push is asked for, the channel's per-peer state is a few words per rank, none per
 * worker (it was 24 bytes per worker). A lazy and an eager channel interleave. */
int work_lazy(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    size_t ranks = tide_allocator_ranks(a);
    tide_comm_stats st0, st1;
    tide_allocator_receive(a); /* the worker's own per-rank state exists from its first call */
    tide_comm_stats_get(a, &st0);
    tide_pull *pull;
    int ch = tide_allocator_allocate_lazy(a, TIDE_U64, &pull);
    if (ch < 0)
        FAIL(a, "could not allocate a lazy channel");
    tide_comm_stats_get(a, &st1);
    /* (checked with one worker per rank: rank-mates would allocate meanwhile) */
    uint64_t bound = ranks * 16;
    if (ranks > 1 && peers == ranks && st1.peer_bytes - st0.peer_bytes > bound)
        FAIL(a, "a lazy channel took %llu bytes of per-peer state at once, over %llu",
             (unsigned long long)(st1.peer_bytes - st0.peer_bytes), (unsigned long long)bound);
    tide_push **eager;
    tide_pull *eager_pull;
    int ch2 = tide_allocator_allocate(a, TIDE_U64, &eager, &eager_pull);
    if (ch2 != ch + 1)
        FAIL(a, "the eager channel after a lazy one has id %d, not %d", ch2, ch + 1);
    if (tide_allocator_push(a, ch, peers) || tide_allocator_push(a, ch + 2, 0) ||
        tide_allocator_push(a, -1, 0))
        FAIL(a, "tide_allocator_push gave an endpoint for a worker or channel not there");
    if (tide_allocator_push(a, ch2, me) != eager[me])
        FAIL(a, "tide_allocator_push of an eager channel is not its array's endpoint");
    if (all_to_all(a, NULL, ch, pull))
        return 1;
    tide_allocator_close(a, ch);
    if (tide_allocator_push(a, ch, me))
        FAIL(a, "a closed channel still gives endpoints");
    return 0;
}

/* ---------------------------------------------------------------- FIFO per sender */

#define FIFO_N 2000

struct fifo_st {
    uint64_t *next; /* per sender */
    size_t *remaining;
};

static int fifo_batch(tide_allocator *a, tide_batch *b, void *st)
{
    struct fifo_st *s = st;
    uint64_t *m = tide_batch_meta(b);
    uint64_t *v = tide_batch_records(b);
    uint64_t src = m[0];
    for (size_t i = 0; i < tide_batch_len(b); i++) {
        if (v[i] != s->next[src])
            FAIL(a, "from worker %" PRIu64 ": got %" PRIu64 ", expected %" PRIu64, src, v[i],
                 s->next[src]);
        s->next[src]++;
        (*s->remaining)--;
    }
    return 0;
}

int work_fifo(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push;
    tide_pull *pull;
    tide_allocator_allocate(a, TIDE_U64, &push, &pull);
    uint64_t *counter = calloc(peers, sizeof *counter);
    uint64_t *next = calloc(peers, sizeof *next);
    size_t remaining = (size_t)FIFO_N * peers;
    struct fifo_st st = { next, &remaining };
    tide_batch *b = NULL;
    uint64_t seed = me;
    /* Batches of 1 to 40 records, to all targets in random order, receiving in between. */
    for (size_t k = 0; k < (size_t)FIFO_N * peers;) {
        size_t t = rng(&seed) % peers, n = 1 + rng(&seed) % 40;
        if (counter[t] >= FIFO_N)
            continue;
        if (!b)
            b = tide_batch_new(TIDE_U64, 0);
        tide_batch_meta(b)[0] = me;
        for (size_t i = 0; i < n && counter[t] < FIFO_N; i++, k++)
            tide_batch_push(b, &counter[t]), counter[t]++;
        tide_push_send(push[t], &b);
        if (k % 64 == 0) {
            tide_allocator_release(a);
            tide_allocator_receive(a);
            tide_batch *in = NULL;
            while (tide_pull_recv(pull, &in))
                if (fifo_batch(a, in, &st)) {
                    tide_batch_free(in);
                    return 1;
                }
        }
    }
    tide_batch_free(b);
    for (size_t t = 0; t < peers; t++)
        tide_push_send(push[t], NULL);
    int rc = comm_pump(a, pull, fifo_batch, &st, &remaining);
    free(counter);
    free(next);
    return rc;
}

/* ---------------------------------------------------------------- many channels */

#define NCHAN 24
#define PER_CHAN 50

struct chan_st {
    size_t remaining;
};

int work_many_channels(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push[NCHAN];
    tide_pull *pull[NCHAN];
    for (int c = 0; c < NCHAN; c++) {
        int id = tide_allocator_allocate(a, c % 2 ? TIDE_U32 : TIDE_U64, &push[c], &pull[c]);
        if (id != c)
            FAIL(a, "channel %d got id %d", c, id);
    }
    /* Every worker sends PER_CHAN records to every worker on every channel, interleaving
     * channels at random; the value names the channel and the sender. */
    uint64_t seed = 77 + me;
    size_t sent[NCHAN] = { 0 };
    for (size_t k = 0; k < NCHAN * PER_CHAN;) {
        int c = (int)(rng(&seed) % NCHAN);
        if (sent[c] == PER_CHAN)
            continue;
        for (size_t t = 0; t < peers; t++) {
            tide_batch *b = tide_batch_new(c % 2 ? TIDE_U32 : TIDE_U64, 0);
            uint64_t v = (uint64_t)c * 100000 + me * 1000 + sent[c];
            uint32_t v32 = (uint32_t)v;
            tide_batch_push(b, c % 2 ? (void *)&v32 : (void *)&v);
            tide_push_send(push[c][t], &b);
            tide_batch_free(b);
        }
        sent[c]++, k++;
    }
    for (int c = 0; c < NCHAN; c++)
        for (size_t t = 0; t < peers; t++)
            tide_push_send(push[c][t], NULL);
    size_t remaining = (size_t)NCHAN * PER_CHAN * peers;
    uint64_t *next = calloc((size_t)NCHAN * peers, sizeof *next);
    uint64_t deadline_rounds = 0;
    while (remaining) {
        tide_allocator_receive(a);
        bool got = false;
        for (int c = 0; c < NCHAN; c++) {
            tide_batch *b = NULL;
            while (tide_pull_recv(pull[c], &b)) {
                got = true;
                uint64_t v;
                if (c % 2) {
                    uint32_t v32;
                    size_t at = 0;
                    tide_batch_read(b, &at, &v32);
                    v = v32;
                } else {
                    v = *(uint64_t *)tide_batch_records(b);
                }
                uint64_t src = (v / 1000) % 100, seq = v % 1000;
                if (v / 100000 != (uint64_t)c || src >= peers || seq != next[c * peers + src])
                    FAIL(a, "channel %d: got %" PRIu64, c, v);
                next[c * peers + src]++;
                remaining--;
            }
        }
        tide_allocator_release(a);
        if (!got) {
            if (++deadline_rounds > 600)
                FAIL(a, "stuck with %zu records missing", remaining);
            tide_allocator_park(a, 100000000);
        } else {
            deadline_rounds = 0;
        }
    }
    free(next);
    return 0;
}

/* ---------------------------------------------------------------- variable-length records */

static void make_text(char *buf, size_t len, uint64_t key)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + mix(key + i) % 26);
    buf[len] = '\0';
}

struct var_st {
    uint64_t *next;
    size_t *remaining;
    char *buf;
};

static int var_batch(tide_allocator *a, tide_batch *b, void *st)
{
    struct var_st *s = st;
    uint64_t src = tide_batch_meta(b)[0];
    size_t at = 0;
    tide_bytes rec;
    while (tide_batch_read(b, &at, &rec)) {
        uint64_t key = src * 1000003 + tide_allocator_index(a) * 1009 + s->next[src];
        size_t len = mix(key) % 300;
        make_text(s->buf, len, key);
        if (rec.len != len || memcmp(rec.data, s->buf, len) != 0)
            FAIL(a, "record %" PRIu64 " from %" PRIu64 ": %zu bytes, expected %zu", s->next[src],
                 src, rec.len, len);
        s->next[src]++;
        (*s->remaining)--;
    }
    return 0;
}

#define VAR_N 300

int work_variable(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push;
    tide_pull *pull;
    tide_allocator_allocate(a, TIDE_BYTES, &push, &pull);
    char buf[400];
    for (size_t t = 0; t < peers; t++) {
        tide_batch *b = tide_batch_new(TIDE_BYTES, 0);
        for (uint64_t i = 0; i < VAR_N; i++) {
            uint64_t key = me * 1000003 + t * 1009 + i;
            size_t len = mix(key) % 300;
            make_text(buf, len, key);
            tide_bytes rec = { buf, len };
            tide_batch_push(b, &rec);
            if (i % 7 == 6 || i == VAR_N - 1) {
                tide_batch_meta(b)[0] = me;
                tide_push_send(push[t], &b);
                if (!b)
                    b = tide_batch_new(TIDE_BYTES, 0);
            }
        }
        tide_push_send(push[t], NULL);
        tide_batch_free(b);
    }
    uint64_t *next = calloc(peers, sizeof *next);
    size_t remaining = (size_t)VAR_N * peers;
    struct var_st st = { next, &remaining, malloc(400) };
    int rc = comm_pump(a, pull, var_batch, &st, &remaining);
    free(st.buf);
    free(next);
    return rc;
}

/* ---------------------------------------------------------------- stress */

/* Every worker sends STRESS_N messages of random size (1 B to 192 KiB, mostly small) on
 * STRESS_CH channels of two types to random workers, receiving as it goes; each payload
 * byte is a function of (sender, target, channel, sequence, position), so the receiver
 * checks every byte and the order. */
#define STRESS_N 1500
#define STRESS_CH 8

static size_t stress_len(uint64_t *s)
{
    uint64_t r = rng(s);
    switch (r % 8) {
    case 0: return 1 + (size_t)(rng(s) % (192 * 1024 - 1));
    case 1: case 2: return 1 + (size_t)(rng(s) % 8191);
    default: return 1 + (size_t)(rng(s) % 255);
    }
}

static uint64_t stress_word(uint64_t src, uint64_t dst, int c, uint64_t seq, size_t j)
{
    return mix((((src * 131 + dst) * 31 + (uint64_t)c) * 1000003 + seq) * 7919 + j);
}

struct stress_st {
    uint64_t *next; /* [channel][src] */
    size_t peers;
    size_t remaining;
};

static int stress_check(tide_allocator *a, int c, tide_batch *b, struct stress_st *s)
{
    uint64_t *m = tide_batch_meta(b);
    uint64_t src = m[0], seq = m[1], len = m[2], me = tide_allocator_index(a);
    if (src >= s->peers || seq != s->next[c * s->peers + src])
        FAIL(a, "channel %d: message %" PRIu64 " from %" PRIu64 " out of order", c, seq, src);
    s->next[c * s->peers + src]++;
    if (c % 2 == 0) {
        size_t n = tide_batch_len(b);
        uint64_t *v = tide_batch_records(b);
        if (n != len)
            FAIL(a, "channel %d message %" PRIu64 ": %zu records, sent %" PRIu64, c, seq, n, len);
        for (size_t j = 0; j < n; j++)
            if (v[j] != stress_word(src, me, c, seq, j))
                FAIL(a, "channel %d message %" PRIu64 " from %" PRIu64 ": word %zu differs", c,
                     seq, src, j);
    } else {
        tide_bytes rec;
        size_t at = 0;
        if (!tide_batch_read(b, &at, &rec) || rec.len != len || tide_batch_len(b) != 1)
            FAIL(a, "channel %d message %" PRIu64 ": bad byte string", c, seq);
        const unsigned char *p = rec.data;
        for (size_t j = 0; j < len; j++)
            if (p[j] != (unsigned char)(stress_word(src, me, c, seq, j / 8) >> (j % 8)))
                FAIL(a, "channel %d message %" PRIu64 " from %" PRIu64 ": byte %zu differs", c,
                     seq, src, j);
    }
    s->remaining--;
    return 0;
}

static int stress_poll(tide_allocator *a, tide_pull **pull, struct stress_st *s, bool *got)
{
    tide_allocator_receive(a);
    for (int c = 0; c < STRESS_CH; c++) {
        tide_batch *b = NULL;
        while (tide_pull_recv(pull[c], &b)) {
            *got = true;
            if (stress_check(a, c, b, s)) {
                tide_batch_free(b);
                return 1;
            }
        }
    }
    return 0;
}

int work_stress(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push[STRESS_CH];
    tide_pull *pull[STRESS_CH];
    for (int c = 0; c < STRESS_CH; c++)
        tide_allocator_allocate(a, c % 2 ? TIDE_BYTES : TIDE_U64, &push[c], &pull[c]);
    /* How many messages come to me: replay every sender's choices. */
    struct stress_st st = { calloc((size_t)STRESS_CH * peers, sizeof(uint64_t)), peers, 0 };
    for (size_t src = 0; src < peers; src++) {
        uint64_t seed = 1000 + src;
        for (int k = 0; k < STRESS_N; k++) {
            size_t dst = rng(&seed) % peers;
            rng(&seed);
            stress_len(&seed);
            st.remaining += dst == me;
        }
    }
    uint64_t *seq = calloc((size_t)STRESS_CH * peers, sizeof *seq);
    unsigned char *bytes = malloc(192 * 1024);
    uint64_t seed = 1000 + me;
    tide_batch *b = NULL;
    for (int k = 0; k < STRESS_N; k++) {
        size_t dst = rng(&seed) % peers;
        int c = (int)(rng(&seed) % STRESS_CH);
        size_t len = stress_len(&seed);
        uint64_t s = seq[c * peers + dst]++;
        const tide_type *type = c % 2 ? TIDE_BYTES : TIDE_U64;
        if (b && tide_batch_type(b) != type) {
            tide_batch_free(b);
            b = NULL;
        }
        if (!b)
            b = tide_batch_new(type, 0);
        if (c % 2 == 0) {
            uint64_t *v = tide_batch_extend(b, len);
            for (size_t j = 0; j < len; j++)
                v[j] = stress_word(me, dst, c, s, j);
        } else {
            for (size_t j = 0; j < len; j++)
                bytes[j] = (unsigned char)(stress_word(me, dst, c, s, j / 8) >> (j % 8));
            tide_bytes rec = { bytes, len };
            tide_batch_push(b, &rec);
        }
        uint64_t *m = tide_batch_meta(b);
        m[0] = me, m[1] = s, m[2] = len;
        tide_push_send(push[c][dst], &b);
        if (k % 16 == 15) {
            bool got = false;
            tide_allocator_release(a);
            if (stress_poll(a, pull, &st, &got))
                return 1;
        }
    }
    tide_batch_free(b);
    free(bytes);
    tide_allocator_release(a);
    int idle = 0;
    while (st.remaining) {
        bool got = false;
        if (stress_poll(a, pull, &st, &got))
            return 1;
        tide_allocator_release(a);
        if (!got) {
            if (++idle > 600)
                FAIL(a, "stuck with %zu messages missing", st.remaining);
            tide_allocator_park(a, 100000000);
        } else {
            idle = 0;
        }
    }
    free(st.next);
    free(seq);
    return 0;
}

/* ---------------------------------------------------------------- recycling */

size_t work_small_records = 16, work_large_records = 16384;

int work_recycling(tide_allocator *a, void *ctx)
{
    size_t records = *(size_t *)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push;
    tide_pull *pull;
    tide_allocator_allocate(a, TIDE_U64, &push, &pull);
    /* A ring: each round every worker sends one batch to its successor and waits for its
     * predecessor's, so all workers stay within a few rounds of each other. */
    const int rounds = 3000, measure_from = 500, measure_to = 2500;
    tide_batch *out = NULL, *in = NULL;
    uint64_t before = 0, after = 0;
    for (int r = 0; r < rounds; r++) {
        if (r == measure_from)
            before = tide_comm_allocations();
        if (r == measure_to)
            after = tide_comm_allocations();
        if (!out)
            out = tide_batch_new(TIDE_U64, records * 8);
        uint64_t *v = tide_batch_extend(out, records);
        for (size_t j = 0; j < records; j++)
            v[j] = (uint64_t)r + j;
        tide_push_send(push[(me + 1) % peers], &out);
        tide_push_send(push[(me + 1) % peers], NULL);
        int idle = 0;
        for (;;) {
            tide_allocator_receive(a);
            if (tide_pull_recv(pull, &in))
                break;
            tide_allocator_release(a);
            if (++idle > 600)
                FAIL(a, "round %d never arrived", r);
            tide_allocator_park(a, 100000000);
        }
        uint64_t *got = tide_batch_records(in);
        if (tide_batch_len(in) != records || got[0] != (uint64_t)r)
            FAIL(a, "round %d: wrong batch", r);
    }
    tide_batch_free(out);
    tide_pull_recv(pull, &in); /* hand the last one back */
    /* A receiver that lags makes its sender take one more batch into circulation, so some
     * allocations happen (the counter is process-wide: all workers of the rank count);
     * without recycling there would be at least one per round and worker. */
    if (after - before > (uint64_t)(measure_to - measure_from) / 20)
        FAIL(a, "%" PRIu64 " allocations in %d steady-state rounds of %zu-record batches",
             after - before, measure_to - measure_from, records);
    return 0;
}

/* ---------------------------------------------------------------- park and wake */

struct waker_arg {
    tide_allocator *a;
};

static void *wake_later(void *arg)
{
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    tide_allocator_wake(((struct waker_arg *)arg)->a);
    return NULL;
}

int work_park_wake(tide_allocator *a, void *ctx)
{
    (void)ctx;
    struct timespec t0, t1;
    tide_allocator_receive(a);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tide_allocator_park(a, 20 * 1000 * 1000); /* nothing comes: the timeout ends it */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms < 19)
        FAIL(a, "park with a 20 ms timeout returned after %.1f ms", ms);
    /* A wake from another thread ends an unbounded park. */
    pthread_t th;
    struct waker_arg arg = { a };
    tide_allocator_receive(a);
    pthread_create(&th, NULL, wake_later, &arg);
    tide_allocator_park(a, -1);
    pthread_join(th, NULL);
    /* A wake that came before parking is not lost. */
    tide_allocator_receive(a);
    tide_allocator_wake(a);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tide_allocator_park(a, 10LL * 1000 * 1000 * 1000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms > 5000)
        FAIL(a, "an earlier wake was lost (parked %.0f ms)", ms);
    /* Parked with nothing coming, a worker sleeps instead of spinning a core: over 400 ms
     * it may poll (MPI cannot wake a thread) but must use far less than 400 ms of CPU. */
    struct timespec c0, c1;
    tide_allocator_receive(a);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    tide_allocator_park(a, 400LL * 1000 * 1000);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double cpu_ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
    if (cpu_ms > 200)
        FAIL(a, "a parked worker used %.0f ms of CPU in 400 ms", cpu_ms);
    return 0;
}
