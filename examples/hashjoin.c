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
#include <string.h>

#include "example.h"

struct pair {
    uint64_t key, val;
};
static TIDE_TYPE_POD(pair_type, struct pair);

struct args {
    uint64_t keys, vals, batch;
};

/* One side's values per key: an open-addressing table of keys, each with a value list. */
struct side {
    struct entry {
        uint64_t key; /* key + 1; 0: empty */
        uint64_t *vals;
        uint32_t len, cap;
    } *slots;
    size_t nslots, used;
};

struct totals {
    uint64_t joined, checksum;
};

struct join {
    struct side sides[2];
    struct totals *totals; /* the worker's: the operator goes with its dataflow */
};

static struct entry *find(struct side *s, uint64_t key, bool add)
{
    if (add && 2 * (s->used + 1) > s->nslots) {
        struct side bigger = { NULL, s->nslots ? 2 * s->nslots : 1024, 0 };
        if (!(bigger.slots = calloc(bigger.nslots, sizeof *bigger.slots)))
            tide_abort("hashjoin: out of memory");
        for (size_t i = 0; i < s->nslots; i++)
            if (s->slots[i].key) {
                *find(&bigger, s->slots[i].key - 1, true) = s->slots[i];
            }
        free(s->slots);
        *s = bigger;
    }
    if (!s->nslots)
        return NULL;
    size_t j = (key * 0x9e3779b97f4a7c15ULL >> 20) & (s->nslots - 1);
    for (; s->slots[j].key; j = (j + 1) & (s->nslots - 1))
        if (s->slots[j].key == key + 1)
            return &s->slots[j];
    if (!add)
        return NULL;
    s->used++;
    s->slots[j].key = key + 1;
    return &s->slots[j];
}

static void keep(struct side *s, const struct pair *p)
{
    struct entry *e = find(s, p->key, true);
    if (e->len == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 4;
        if (!(e->vals = realloc(e->vals, e->cap * sizeof *e->vals)))
            tide_abort("hashjoin: out of memory");
    }
    e->vals[e->len++] = p->val;
}

static void join_logic(tide_op *op, void *arg)
{
    struct join *j = arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++) {
        struct side *other = &j->sides[1 - port];
        while (tide_op_next(op, port, &cap, &b)) {
            tide_session *out = tide_op_session(op, 0, cap);
            const struct pair *p = tide_batch_records(b);
            for (size_t i = 0; i < tide_batch_len(b); i++) {
                const struct entry *e = find(other, p[i].key, false);
                for (uint32_t k = 0; e && k < e->len; k++) {
                    /* always (value of input 0, value of input 1) */
                    uint64_t v[2] = { port ? e->vals[k] : p[i].val, port ? p[i].val : e->vals[k] };
                    tide_session_give(out, v);
                    j->totals->joined++;
                    j->totals->checksum += v[0] * v[1];
                }
                keep(&j->sides[port], &p[i]);
            }
        }
    }
}

static void join_free(void *arg)
{
    struct join *j = arg;
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < j->sides[s].nslots; i++)
            free(j->sides[s].slots[i].vals);
        free(j->sides[s].slots);
    }
    free(j);
}

static uint64_t by_key(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct pair *)r)->key;
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
    struct join *j = calloc(1, sizeof *j);
    if (!j)
        return 1;
    j->totals = &totals;
    tide_input *in1, *in2;
    tide_scope *scope = tide_dataflow_begin(w, "hashjoin");
    tide_stream *s1 = tide_input_new(scope, &pair_type, &in1);
    tide_stream *s2 = tide_input_new(scope, &pair_type, &in2);
    tide_probe *probe = tide_probe_new(tide_binary(s1, s2, TIDE_EXCHANGE(by_key, NULL),
                                                   TIDE_EXCHANGE(by_key, NULL), "HashJoin",
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
