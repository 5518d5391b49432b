/* SPDX-License-Identifier: MIT */
/*
 * A symmetric hash join, the counterpart of timely's examples/hashjoin.rs: two inputs of
 * random (key, value) pairs, keys below KEYS, exchanged by key; each arriving pair is joined
 * with the other side's pairs of its key seen so far, then kept for the other side's later
 * pairs, so each matching pair of pairs is produced once. VALS pairs per input in all, sent
 * BATCH per worker per round; each worker prints the time at which each of its rounds
 * completed, and at the end the number of joined pairs it produced and their checksum (the
 * sum of value1 * value2), which add up to the same totals in every shape.
 *
 *   hashjoin KEYS VALS BATCH [tide options]
 */
#include <inttypes.h>

#include "example.h"

struct pair {
    uint64_t key, val;
};
static TIDE_TYPE_POD(pair_type, struct pair);

struct args {
    uint64_t keys, vals, batch;
};

struct totals {
    uint64_t joined, checksum;
};

/* A key's values from each input, growing by doubling: both sides in one entry, so that a
 * pair's lookup finds the values to join with and the place for its own at once. The
 * capacities follow from the lengths (example_pool_cap): 24 bytes. */
struct values {
    uint64_t *v[2];
    uint32_t len[2];
};

/* A worker's keys index its entries directly: the exchange sends key k to worker
 * k % workers (tide_hash_u64 is the key itself), so k / workers numbers a worker's keys
 * from 0 without gaps, and no hash table stands between a pair and its entry (the
 * single-threaded program of the README's COST table indexes its array by key too; a
 * tide_table here took 1.2x the time, its slot's miss on top of the entry's). */
struct join {
    struct values *entry;
    uint64_t nentries;        /* keys / workers, rounded up */
    uint64_t workers;
    unsigned shift;           /* log2(workers) when a power of two, else 64 */
    struct example_pool pool; /* the values' arrays */
    struct totals *totals;    /* the worker's: the operator goes with its dataflow */
};

/* A key's entry at this worker: a shift, not a division, for a power-of-two worker count. */
static struct values *entry_of(const struct join *j, uint64_t key)
{
    uint64_t at = j->shift < 64 ? key >> j->shift : key / j->workers;
    if (at >= j->nentries)
        tide_abort("hashjoin: key %" PRIu64 " is not below the keys given", key);
    return &j->entry[at];
}

static void keep(struct join *j, struct values *e, uint32_t side, uint64_t val)
{
    example_pool_grow(&j->pool, &e->v[side], e->len[side]);
    e->v[side][e->len[side]++] = val;
}

/* Joins a pair of input @p port (value @p val, entry @p e) with the other side's values
 * of its key, writing the joined pairs in place (no call or check per pair), then keeps
 * it for that side's later pairs. */
static inline void join_one(struct join *j, tide_session *out, uint32_t port,
                            struct values *e, uint64_t val, uint64_t *joined,
                            uint64_t *checksum)
{
    const uint64_t *other = e->v[1 - port];
    uint32_t len = e->len[1 - port];
    uint64_t(*to)[2] = len ? tide_session_extend(out, len) : NULL;
    uint64_t sum = 0;
    for (uint32_t k = 0; k < len; k++) {
        /* always (value of input 0, value of input 1) */
        to[k][port] = val;
        to[k][1 - port] = other[k];
        sum += val * other[k];
    }
    *joined += len;
    *checksum += sum;
    keep(j, e, port, val);
}

/* One input batch per activation: the pairs it joins (about ten per input pair here) are
 * then read downstream before the next batch is joined, while they are still in cache,
 * and their buffers come back for the next; joining a round's whole input at once wrote
 * 32 MB of fresh memory a round before anything read it. */
static void join_logic(tide_op *op, void *arg)
{
    struct join *j = arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++) {
        if (tide_op_next(op, port, &cap, &b)) {
            tide_op_activate(op); /* for the rest */
            tide_session *out = tide_op_session(op, 0, cap);
            const struct pair *p = tide_batch_records(b);
            size_t n = tide_batch_len(b);
            uint64_t joined = 0, checksum = 0;
            enum { FAR = 24, NEAR = 12, CHUNK = 256 }; /* as the single thread's */
            struct values *st[CHUNK]; /* the chunk's entries, each found once */
            for (size_t c = 0; c < n; c += CHUNK) {
                size_t m = n - c < CHUNK ? n - c : CHUNK;
                for (size_t i = 0; i < m; i++) {
                    st[i] = entry_of(j, p[c + i].key);
                    if (i < FAR)
                        __builtin_prefetch(st[i]);
                }
                for (size_t i = 0; i < m; i++) {
                    /* the misses overlap: a pair's entry FAR pairs ahead, then NEAR pairs
                     * ahead every line of the other side's values (about 20 values, 3
                     * lines, here) and where its own goes */
                    if (i + FAR < m)
                        __builtin_prefetch(st[i + FAR]);
                    if (i + NEAR < m) {
                        const struct values *e = st[i + NEAR];
                        for (uint32_t k = 0; k < e->len[1 - port]; k += 8)
                            __builtin_prefetch(e->v[1 - port] + k);
                        if (e->len[port])
                            __builtin_prefetch(e->v[port] + e->len[port], 1);
                    }
                    join_one(j, out, port, st[i], p[c + i].val, &joined, &checksum);
                }
            }
            /* in registers meanwhile: a store per pair through j would alias the session's */
            j->totals->joined += joined;
            j->totals->checksum += checksum;
            return;
        }
    }
}

static void join_free(void *arg)
{
    struct join *j = arg;
    for (uint64_t k = 0; k < j->nentries; k++) {
        example_pool_drop(j->entry[k].v[0], j->entry[k].len[0]);
        example_pool_drop(j->entry[k].v[1], j->entry[k].len[1]);
    }
    example_pool_free(&j->pool);
    free(j->entry);
    free(j);
}

static TIDE_TYPE_POD(joined_type, uint64_t[2]);

/* Pair i of input `side` comes from the sequence seeded by 4 i + 2 side. */
static struct pair random_pair(uint64_t i, int side, uint64_t keys)
{
    uint64_t s = 4 * i + 2 * (uint64_t)side;
    struct pair p;
    p.key = example_random(&s) % keys;
    p.val = example_random(&s) % keys;
    return p;
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct totals totals = { 0, 0 };
    struct join *j = malloc(sizeof *j);
    if (!j)
        return 1;
    *j = (struct join){ .nentries = a->keys / peers + (a->keys % peers != 0), .workers = peers,
                        .shift = 64, .totals = &totals };
    if ((peers & (peers - 1)) == 0)
        j->shift = (unsigned)__builtin_ctzll(peers);
    if (j->nentries > SIZE_MAX / sizeof *j->entry ||
        !(j->entry = example_zalloc(j->nentries, sizeof *j->entry)))
        tide_abort("hashjoin: no memory for the entries of %" PRIu64 " keys (%zu bytes "
                   "each, on every worker for its share of the keys below KEYS)",
                   j->nentries, sizeof *j->entry);
    tide_input *in1, *in2;
    tide_scope *scope = tide_dataflow_begin(w, "hashjoin");
    tide_stream *s1 = tide_input_new(scope, &pair_type, &in1);
    tide_stream *s2 = tide_input_new(scope, &pair_type, &in2);
    /* by key: tide_hash_u64 reads a record's first 8 bytes */
    tide_probe *probe = tide_probe_new(tide_binary(s1, s2, TIDE_EXCHANGE(tide_hash_u64, NULL),
                                                   TIDE_EXCHANGE(tide_hash_u64, NULL), "HashJoin",
                                                   &joined_type, join_logic, j, join_free));
    tide_dataflow_end(scope);
    double start = example_now();
    uint64_t i = me;
    while (i < a->vals) {
        for (uint64_t n = 0; n < a->batch && i < a->vals; n++, i += peers) {
            struct pair p1 = random_pair(i, 0, a->keys), p2 = random_pair(i, 1, a->keys);
            tide_input_send(in1, &p1);
            tide_input_send(in2, &p2);
        }
        uint64_t next = tide_input_epoch(in1) + 1;
        tide_input_advance_to(in1, next);
        tide_input_advance_to(in2, next);
        while (tide_probe_less_than(probe, next))
            tide_worker_step(w);
        printf("%.6fs\tworker %zu batch complete\n", example_now() - start, me);
    }
    tide_input_close(in1);
    tide_input_close(in2);
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    printf("worker %zu: %" PRIu64 " joined pairs, checksum %" PRIu64 "\n", me, totals.joined,
           totals.checksum);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("hashjoin", &cfg, &argc, argv);
    struct args a;
    if (argc != 4 || example_parse(argv[1], &a.keys) || example_parse(argv[2], &a.vals) ||
        example_parse(argv[3], &a.batch)) {
        fprintf(stderr, "usage: hashjoin KEYS VALS BATCH [tide options]  (positive integers)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
