/* SPDX-License-Identifier: MIT */
/* Exchange bodies for check_dataflow and mpi_dataflow: records of every size, many exchange
 * edges, channels reclaimed, bounded staging, a progress batch of thousands of changes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataflow_work.h"

/* ---------------------------------------------------------------- records of every size */

/* Byte strings from empty to larger than a frame, 12-byte records (not a multiple of the
 * wire's 8-byte padding) and 8-byte ones, exchanged among all workers. Between ranks of several
 * workers each, the strings (over 512 bytes per worker in one batch) are staged per worker and
 * the largest announced and sent apart; the few 12-byte records travel in split messages
 * (one per rank, a group per worker). Every record must reach the worker its key picks,
 * whole. */
static const size_t sizes[] = { 0, 1, 8, 15, 100, 5000, 70000, 200000 };
#define NSIZES (sizeof sizes / sizeof *sizes)
#define SIZED_RECORDS (2 * NSIZES)
#define TWELVES 120 /* under 512 bytes per worker: staged per rank */

struct twelve {
    uint32_t sender, i, check;
};
static TIDE_TYPE_POD(twelve_type, struct twelve);

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

/* Sized record i of sender s: its length and bytes tell both. */
static size_t sized_len(uint64_t s, uint64_t i) { return sizes[i % NSIZES] + (i / NSIZES) * (s % 3); }
static unsigned char sized_byte(uint64_t s, uint64_t i, size_t j)
{
    return (unsigned char)(s * 31 + i * 7 + j * 13);
}
static uint64_t sized_key(uint64_t s, uint64_t i) { return mix(s * 1000 + i); }

struct sized_seen {
    size_t me, peers;
    uint64_t got[3], errors;
};

static bool sized_match(const tide_bytes *b, uint64_t *s, uint64_t *i, size_t peers)
{
    for (*s = 0; *s < peers; (*s)++)
        for (*i = 0; *i < SIZED_RECORDS; (*i)++) {
            if (sized_len(*s, *i) != b->len)
                continue;
            size_t j = 0;
            while (j < b->len && ((const unsigned char *)b->data)[j] == sized_byte(*s, *i, j))
                j++;
            if (j == b->len)
                return true;
        }
    return false;
}

static uint64_t sized_hash(const void *r, void *ctx)
{
    /* the key is what sized_match finds: the receiving side checks it picked this worker */
    const struct sized_seen *seen = ctx;
    uint64_t s, i;
    return sized_match(r, &s, &i, seen->peers) ? sized_key(s, i) : 0;
}

static void sized_check(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct sized_seen *seen = ctx;
    uint64_t s, i;
    if (!sized_match(r, &s, &i, seen->peers) || sized_key(s, i) % seen->peers != seen->me)
        seen->errors++;
    seen->got[0]++;
}

/* 8-byte records, the exchange's fastest path (a batch's records written at cursors per
 * worker; two workers: at both cursors, one advancing): every value must reach the worker
 * tide_hash_u64 picks. */
#define EIGHTS 3000
static uint64_t eight_value(uint64_t s, uint64_t i) { return mix(s * 1000 + i) >> 8; }

static void eight_check(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct sized_seen *seen = ctx;
    uint64_t v = *(const uint64_t *)r;
    if (tide_hash_u64(&v, NULL) % seen->peers != seen->me)
        seen->errors++;
    seen->got[2]++;
}

static uint64_t twelve_hash(const void *r, void *ctx)
{
    (void)ctx;
    const struct twelve *x = r;
    return sized_key(x->sender, x->i);
}

static void twelve_check(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct sized_seen *seen = ctx;
    const struct twelve *x = r;
    if (x->sender >= seen->peers || x->check != x->sender * 1000003u + x->i ||
        sized_key(x->sender, x->i) % seen->peers != seen->me)
        seen->errors++;
    seen->got[1]++;
}

int df_exchange_sizes(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    unsigned char *mem[SIZED_RECORDS];
    tide_bytes recs[SIZED_RECORDS];
    for (size_t i = 0; i < SIZED_RECORDS; i++) {
        size_t n = sized_len(me, i);
        mem[i] = malloc(n ? n : 1);
        WORK_CHECK(w, mem[i] != NULL, "out of memory");
        for (size_t j = 0; j < n; j++)
            mem[i][j] = sized_byte(me, i, j);
        recs[i] = (tide_bytes){ mem[i], n };
    }
    struct twelve *tw = malloc(TWELVES * sizeof *tw);
    WORK_CHECK(w, tw != NULL, "out of memory");
    for (uint32_t i = 0; i < TWELVES; i++)
        tw[i] = (struct twelve){ (uint32_t)me, i, (uint32_t)me * 1000003u + i };
    uint64_t *eights = malloc(EIGHTS * sizeof *eights);
    WORK_CHECK(w, eights != NULL, "out of memory");
    for (uint64_t i = 0; i < EIGHTS; i++)
        eights[i] = eight_value(me, i);
    struct sized_seen seen = { me, peers, { 0, 0, 0 }, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "sizes");
    tide_inspect(tide_exchange(tide_to_stream(scope, TIDE_BYTES, recs, SIZED_RECORDS),
                               sized_hash, &seen),
                 sized_check, &seen);
    tide_inspect(tide_exchange(tide_to_stream(scope, &twelve_type, tw, TWELVES), twelve_hash,
                               NULL),
                 twelve_check, &seen);
    tide_inspect(tide_exchange(tide_to_stream(scope, TIDE_U64, eights, EIGHTS), tide_hash_u64,
                               NULL),
                 eight_check, &seen);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    for (size_t i = 0; i < SIZED_RECORDS; i++)
        free(mem[i]);
    free(tw);
    free(eights);
    uint64_t want[3] = { 0, 0, 0 };
    /* equal records (the empty ones, say) have one key: the first sender's that matches */
    unsigned char *scratch = malloc(sizes[NSIZES - 1] + SIZED_RECORDS * 3);
    WORK_CHECK(w, scratch != NULL, "out of memory");
    for (uint64_t s = 0; s < peers; s++) {
        for (uint64_t i = 0; i < SIZED_RECORDS; i++) {
            tide_bytes r = { scratch, sized_len(s, i) };
            for (size_t j = 0; j < r.len; j++)
                scratch[j] = sized_byte(s, i, j);
            want[0] += sized_hash(&r, &seen) % peers == me;
        }
        for (uint64_t i = 0; i < TWELVES; i++)
            want[1] += sized_key(s, i) % peers == me;
        for (uint64_t i = 0; i < EIGHTS; i++) {
            uint64_t v = eight_value(s, i);
            want[2] += tide_hash_u64(&v, NULL) % peers == me;
        }
    }
    free(scratch);
    WORK_CHECK(w, seen.errors == 0, "%llu records wrong or on the wrong worker",
               (unsigned long long)seen.errors);
    WORK_CHECK(w, seen.got[0] == want[0] && seen.got[1] == want[1] && seen.got[2] == want[2],
               "%llu byte strings, %llu 12-byte and %llu 8-byte records arrived, want %llu, "
               "%llu and %llu",
               (unsigned long long)seen.got[0], (unsigned long long)seen.got[1],
               (unsigned long long)seen.got[2], (unsigned long long)want[0],
               (unsigned long long)want[1], (unsigned long long)want[2]);
    return 0;
}

/* ---------------------------------------------------------------- batch callbacks */

/* A batch hash routes as the per-record one would: 12-byte records in a batch split in
 * several chunks (and in parts for every worker), and in a batch of 3; a pact with both
 * hashes uses the per-record one for byte strings. tide_map_batch maps each record once,
 * at its time, also past the size of one output buffer. */
#define BIG_TWELVES 5000
#define MAPPED 10000 /* 80 KB a batch: more than a session's buffer */

struct batch_seen {
    struct sized_seen seen;
    uint64_t hashed;        /* records given to the batch hash */
    uint64_t mapped[2], mapped_sum, map_errors;
};

static void twelve_hash_batch(const void *records, size_t n, uint64_t *hashes, void *ctx)
{
    struct batch_seen *bs = ctx;
    const struct twelve *x = records;
    for (size_t i = 0; i < n; i++)
        hashes[i] = sized_key(x[i].sender, x[i].i);
    bs->hashed += n;
}

/* The byte strings: 8 bytes, sender * 1000 + i. */
static uint64_t bytes_key(const void *r)
{
    const tide_bytes *b = r;
    uint64_t k = UINT64_MAX;
    if (b->len == 8)
        memcpy(&k, b->data, 8);
    return k;
}

static uint64_t bytes_hash(const void *r, void *ctx)
{
    (void)ctx;
    return mix(bytes_key(r));
}

static void bytes_check(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct sized_seen *seen = ctx;
    uint64_t k = bytes_key(r);
    if (k / 1000 >= seen->peers || k % 1000 >= SIZED_RECORDS || mix(k) % seen->peers != seen->me)
        seen->errors++;
    seen->got[0]++;
}

static void pass_on(tide_op *op, void *state)
{
    (void)state;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b))
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
}

static void affine(const void *in, size_t n, void *out, void *ctx)
{
    (void)ctx;
    const uint64_t *x = in;
    uint64_t *y = out;
    for (size_t i = 0; i < n; i++)
        y[i] = 3 * x[i] + 1;
}

/* Mapped record v = 3 x + 1 of x = sender * 10^6 + epoch * 10^5 + i: at time epoch. */
static void mapped_check(const tide_time *t, const void *r, void *ctx)
{
    struct batch_seen *bs = ctx;
    uint64_t y = *(const uint64_t *)r, x = (y - 1) / 3, epoch = x / 100000 % 10;
    if (y % 3 != 1 || epoch > 1 || t->c[0] != epoch || x % 100000 >= MAPPED)
        bs->map_errors++;
    else
        bs->mapped[epoch]++;
    bs->mapped_sum += y;
}

int df_batch_calls(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct twelve *tw = malloc((BIG_TWELVES + 3) * sizeof *tw);
    WORK_CHECK(w, tw != NULL, "out of memory");
    for (uint32_t i = 0; i < BIG_TWELVES + 3; i++)
        tw[i] = (struct twelve){ (uint32_t)me, i, (uint32_t)me * 1000003u + i };
    uint64_t keys[SIZED_RECORDS];
    tide_bytes recs[SIZED_RECORDS];
    for (size_t i = 0; i < SIZED_RECORDS; i++) {
        keys[i] = me * 1000 + i;
        recs[i] = (tide_bytes){ &keys[i], 8 };
    }
    struct batch_seen bs = { .seen = { me, peers, { 0, 0 }, 0 } };
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "batch_calls");
    tide_inspect(tide_exchange_batch(tide_to_stream(scope, &twelve_type, tw, BIG_TWELVES),
                                     twelve_hash_batch, &bs),
                 twelve_check, &bs.seen);
    tide_stream *few = tide_to_stream(scope, &twelve_type, tw + BIG_TWELVES, 3);
    tide_inspect(tide_unary(few, TIDE_EXCHANGE_BATCH(twelve_hash_batch, &bs), "Few",
                            &twelve_type, pass_on, NULL, NULL),
                 twelve_check, &bs.seen);
    tide_pact both = { .hash = bytes_hash, .ctx = &bs, .hash_batch = twelve_hash_batch };
    tide_stream *strs = tide_to_stream(scope, TIDE_BYTES, recs, SIZED_RECORDS);
    tide_inspect(tide_unary(strs, both, "Both", TIDE_BYTES, pass_on, NULL, NULL),
                 bytes_check, &bs.seen);
    tide_stream *m = tide_map_batch(tide_input_new(scope, TIDE_U64, &in), TIDE_U64, affine, NULL);
    tide_probe *p = tide_probe_new(tide_inspect(m, mapped_check, &bs));
    tide_dataflow_end(scope);
    uint64_t want_sum = 0;
    for (uint64_t epoch = 0; epoch < 2; epoch++) {
        for (uint64_t i = 0; i < MAPPED; i++) {
            uint64_t x = me * 1000000 + epoch * 100000 + i;
            tide_input_send(in, &x);
            want_sum += 3 * x + 1;
        }
        tide_input_advance_to(in, epoch + 1);
    }
    tide_input_close(in);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, tide_probe_done(p), "the mapped stream's probe is not done");
    free(tw);
    uint64_t want[2] = { 0, 0 };
    for (uint64_t s = 0; s < peers; s++) {
        for (uint64_t i = 0; i < SIZED_RECORDS; i++)
            want[0] += mix(s * 1000 + i) % peers == me;
        for (uint64_t i = 0; i < BIG_TWELVES + 3; i++)
            want[1] += sized_key(s, i) % peers == me;
    }
    WORK_CHECK(w, bs.seen.errors == 0, "%llu records wrong or on the wrong worker",
               (unsigned long long)bs.seen.errors);
    WORK_CHECK(w, bs.seen.got[0] == want[0] && bs.seen.got[1] == want[1],
               "%llu byte strings and %llu 12-byte records arrived, want %llu and %llu",
               (unsigned long long)bs.seen.got[0], (unsigned long long)bs.seen.got[1],
               (unsigned long long)want[0], (unsigned long long)want[1]);
    /* one worker has no exchange channel: nothing is hashed */
    WORK_CHECK(w, bs.hashed == (peers > 1 ? BIG_TWELVES + 3 : 0),
               "the batch hash saw %llu records, want %d", (unsigned long long)bs.hashed,
               peers > 1 ? BIG_TWELVES + 3 : 0);
    WORK_CHECK(w, bs.map_errors == 0 && bs.mapped[0] == MAPPED && bs.mapped[1] == MAPPED &&
                      bs.mapped_sum == want_sum,
               "map_batch: %llu wrong, %llu and %llu at epochs 0 and 1 (want %d each), sum "
               "%llu (want %llu)",
               (unsigned long long)bs.map_errors, (unsigned long long)bs.mapped[0],
               (unsigned long long)bs.mapped[1], MAPPED, (unsigned long long)bs.mapped_sum,
               (unsigned long long)want_sum);
    return 0;
}

/* ---------------------------------------------------------------- per-peer state */

/* A dataflow of many exchange edges: every record goes through all of them and ends where
 * the last one sends it; and the state the rank keeps per peer grows with the number of
 * workers and ranks only as the transport's formulas say (16 bytes per remote worker and
 * channel for the pushes, a pointer per worker in each channel's push array, a cast number
 * per rank and channel, and per rank a few counters: doc/architecture.md), never with
 * anything larger. */
#define EDGES 32

struct landed {
    size_t index, peers;
    uint64_t count;
    int misplaced;
};

static uint64_t hop(const void *r, void *ctx)
{
    uintptr_t k = (uintptr_t)ctx; /* a different spread at every edge */
    return *(const uint64_t *)r * (2 * k + 1) + k;
}

static void landed_logic(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct landed *l = ctx;
    l->count++;
    if (hop(r, (void *)(uintptr_t)(EDGES - 1)) % l->peers != l->index)
        l->misplaced++;
}

int df_many_exchanges(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t vals[100];
    for (uint64_t i = 0; i < 100; i++)
        vals[i] = i;
    size_t peers = tide_worker_peers(w), me = tide_worker_index(w);
    struct landed l = { me, peers, 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "many exchanges");
    tide_stream *s = tide_to_stream(scope, TIDE_U64, vals, 100);
    for (uintptr_t k = 0; k < EDGES; k++)
        s = tide_exchange(s, hop, (void *)k);
    tide_inspect(s, landed_logic, &l);
    tide_dataflow_end(scope);
    tide_comm_stats st;
    tide_comm_stats_get(tide_worker_allocator(w), &st);
    while (tide_worker_step(w))
        ;
    uint64_t want = 0;
    for (uint64_t i = 0; i < 100; i++)
        want += hop(&vals[i], (void *)(uintptr_t)(EDGES - 1)) % peers == me;
    WORK_CHECK(w, l.misplaced == 0, "%d records on the wrong worker", l.misplaced);
    WORK_CHECK(w, l.count == want * peers, "%llu records arrived, want %llu",
               (unsigned long long)l.count, (unsigned long long)(want * peers));
    tide_allocator *a = tide_worker_allocator(w);
    uint64_t ranks = tide_allocator_ranks(a), workers = peers / ranks;
    uint64_t channels = EDGES + 2; /* and the progress channel, and the worker's first */
    /* Per rank: the driver's counters; per worker: a frame slot, a place in the list of
     * ranks with an open frame and its flag (13 bytes) per rank; per channel and
     * worker: a block pointer and a cast number per rank. Exchanges between ranks need no
     * pushes (they send per rank) and progress only reaches rank-mates, so the only block
     * of pushes is the first channel's, towards the next worker. Nothing per worker of
     * another rank: before, every channel took 16 bytes per remote worker and 8 per worker
     * at every worker. Under --memory the flow control adds 48 per rank (mpi_credit.c). */
    uint64_t bound = ranks * (64 + 48) + workers * ranks * 13 + channels * workers * 16 * ranks +
                     workers * (16 + 16 * workers);
    WORK_CHECK(w, st.peer_bytes <= bound,
               "%llu bytes of per-peer state for %llu ranks x %llu workers and %llu channels, "
               "more than the %llu the transport's formulas allow",
               (unsigned long long)st.peer_bytes, (unsigned long long)ranks,
               (unsigned long long)workers, (unsigned long long)channels,
               (unsigned long long)bound);
    WORK_CHECK(w, ranks == 1 || st.peer_bytes > 0, "no per-peer state counted on %llu ranks",
               (unsigned long long)ranks);
    return 0;
}

/* ---------------------------------------------------------------- reclaimed channels */

#define RECLAIM_DATAFLOWS 20
#define RECLAIM_EDGES 4

/* Dataflows that finish one after another must not leave their channels' per-peer state
 * behind: a worker finishes (and frees) one before building the next, so a rank holds the
 * channels of at most two at once (a rank-mate may still be freeing the previous one). */
int df_reclaim(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t vals[100];
    for (uint64_t i = 0; i < 100; i++)
        vals[i] = i;
    tide_allocator *a = tide_worker_allocator(w);
    size_t peers = tide_worker_peers(w), me = tide_worker_index(w);
    uint64_t ranks = tide_allocator_ranks(a), workers = peers / ranks;
    uint64_t per_chan = workers * 16 * ranks; /* see df_many_exchanges */
    tide_comm_stats st0, st1;
    tide_comm_stats_get(a, &st0);
    for (int d = 0; d < RECLAIM_DATAFLOWS; d++) {
        struct landed l = { me, peers, 0, 0 };
        tide_scope *scope = tide_dataflow_begin(w, "reclaim");
        tide_stream *s = tide_to_stream(scope, TIDE_U64, vals, 100);
        for (uintptr_t k = EDGES - RECLAIM_EDGES; k < EDGES; k++)
            s = tide_exchange(s, hop, (void *)k);
        tide_inspect(s, landed_logic, &l);
        tide_dataflow_end(scope);
        while (tide_worker_step(w))
            ;
        WORK_CHECK(w, l.misplaced == 0, "dataflow %d: %d records on the wrong worker", d,
                   l.misplaced);
    }
    tide_comm_stats_get(a, &st1);
    /* Each dataflow has RECLAIM_EDGES exchange channels and a progress channel. */
    uint64_t bound = st0.peer_bytes + 2 * (RECLAIM_EDGES + 1) * per_chan;
    if (bound < st0.peer_bytes_peak)
        bound = st0.peer_bytes_peak;
    WORK_CHECK(w, ranks == 1 || st1.peer_bytes_peak <= bound,
               "per-peer state peaked at %llu bytes over %d dataflows that ran one after "
               "another, more than the %llu that two at a time take",
               (unsigned long long)st1.peer_bytes_peak, RECLAIM_DATAFLOWS,
               (unsigned long long)bound);
    return 0;
}

/* ---------------------------------------------------------------- bounded staging */

#define SKEW_RECORDS 100000 /* 800 KB in one batch at every worker */
#define PIECE_MAX (128 * 1024) /* twice the staging bound, for slack */

struct pieces {
    uint64_t records, sum, biggest;
};

static uint64_t to_worker_zero(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}

static void piece_logic(const tide_time *t, tide_batch *b, void *ctx)
{
    (void)t;
    struct pieces *p = ctx;
    const uint64_t *v = tide_batch_records(b);
    for (size_t i = 0; i < tide_batch_len(b); i++)
        p->sum += v[i];
    p->records += tide_batch_len(b);
    if (tide_batch_bytes(b) > p->biggest)
        p->biggest = tide_batch_bytes(b);
}

/* A skewed exchange: staging for the one busy target is pushed whenever it fills, so a
 * worker never holds a whole input batch per target (it reserved that for every target
 * before), and the target receives pieces of bounded size. */
int df_exchange_bounded(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t *vals = malloc(SKEW_RECORDS * sizeof *vals);
    WORK_CHECK(w, vals != NULL, "out of memory");
    for (uint64_t i = 0; i < SKEW_RECORDS; i++)
        vals[i] = i;
    struct pieces got = { 0, 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "skewed");
    tide_stream *s = tide_to_stream(scope, TIDE_U64, vals, SKEW_RECORDS);
    tide_inspect_batch(tide_exchange(s, to_worker_zero, NULL), piece_logic, &got);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    free(vals);
    uint64_t peers = tide_worker_peers(w);
    bool zero = tide_worker_index(w) == 0;
    uint64_t want = zero ? SKEW_RECORDS * peers : 0;
    WORK_CHECK(w, got.records == want, "%llu records arrived, want %llu",
               (unsigned long long)got.records, (unsigned long long)want);
    WORK_CHECK(w, got.sum == (zero ? peers * (SKEW_RECORDS * (SKEW_RECORDS - 1ull) / 2) : 0),
               "the records' sum is %llu", (unsigned long long)got.sum);
    WORK_CHECK(w, peers == 1 || got.biggest <= PIECE_MAX,
               "a piece of %llu bytes arrived: staging is not bounded",
               (unsigned long long)got.biggest);
    return 0;
}

/* ---------------------------------------------------------------- a wide progress batch */

/* One step that moves thousands of pointstamps (a capability and a message count at each
 * of WIDE times): its progress batch is larger than a preposted receive even packed (6
 * bytes a change: 84 KB), so between ranks it travels as a large rank cast (announced,
 * then on the rank's cast tag). Every record must land on its worker, and the frontier
 * must pass every time. */
#define WIDE 7000

static uint64_t by_value(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r;
}

static void count_record(const tide_time *t, const void *r, void *ctx)
{
    struct landed *l = ctx;
    l->count++;
    uint64_t v = *(const uint64_t *)r;
    if (v % l->peers != l->index || t->c[0] != v + 1)
        l->misplaced++;
}

int df_wide_progress(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t peers = tide_worker_peers(w), me = tide_worker_index(w);
    struct landed l = { me, peers, 0, 0 };
    tide_unordered *u;
    tide_cap *cap;
    tide_scope *scope = tide_dataflow_begin(w, "wide progress");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &cap);
    s = tide_exchange(s, by_value, NULL);
    tide_inspect(s, count_record, &l);
    tide_dataflow_end(scope);
    tide_cap **caps = malloc(WIDE * sizeof *caps);
    WORK_CHECK(w, caps != NULL, "out of memory");
    for (uint64_t i = 0; i < WIDE; i++) {
        tide_time t = tide_time_root(i + 1);
        caps[i] = tide_cap_delayed(cap, &t);
        tide_session_give(tide_unordered_session(u, caps[i]), &i);
    }
    tide_cap_drop(&cap);
    tide_worker_step(w);
    for (uint64_t i = 0; i < WIDE; i++)
        tide_cap_drop(&caps[i]);
    free(caps);
    while (tide_worker_step(w))
        ;
    uint64_t want = 0;
    for (uint64_t i = 0; i < WIDE; i++)
        want += i % peers == me;
    WORK_CHECK(w, l.misplaced == 0, "%d records on the wrong worker or at the wrong time",
               l.misplaced);
    WORK_CHECK(w, l.count == want * peers, "%llu records arrived, want %llu",
               (unsigned long long)l.count, (unsigned long long)(want * peers));
    return 0;
}
