/* SPDX-License-Identifier: MIT */
/*
 * Connected components by union-find, the counterpart of timely's examples/unionfind.rs:
 * EDGES random edges among NODES nodes go through a UnionFind operator on every worker,
 * which passes on only the edges that join two of its components; those go to worker 0,
 * whose UnionFind does the same over all of them. Workers send their edges BATCH at a time,
 * advancing the input and waiting for the batch to clear after each. At the end worker 0
 * prints the number of connected components (NODES minus the joins its forest made).
 *
 * Unlike timely's, a worker's two UnionFinds share one forest, and worker 0's first does
 * not pass its joins on: they are already in the forest its second works in, where timely
 * unites each of them a second time (on one worker, half again the sequential program's
 * work; see the README's COST table).
 *
 *   unionfind NODES EDGES BATCH [tide options]
 */
#include <inttypes.h>
#include <string.h>

#include "example.h"

struct edge {
    uint32_t src, dst;
};
static TIDE_TYPE_POD(edge_type, struct edge);

struct args {
    uint64_t nodes, edges, batch;
};

struct forest {
    uint32_t *root;
    uint8_t *rank;
    uint64_t *joins; /* unions made, by both of the worker's operators (outlives them) */
    int users;       /* the operators that share it: the last one frees it */
};

/* What each of a worker's two UnionFinds is given: their forest, and whether to pass the
 * edges that join two components on (a first stage that is not worker 0's). */
struct stage {
    struct forest *forest;
    bool pass_on;
};

static void union_find(tide_op *op, void *arg)
{
    const struct stage *st = arg;
    struct forest *f = st->forest;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = st->pass_on ? tide_op_session(op, 0, cap) : NULL;
        const struct edge *e = tide_batch_records(b);
        size_t n = tide_batch_len(b);
        for (size_t i = 0; i < n; i++) {
            if (i + 8 < n) { /* the misses on later edges' nodes overlap this one's work */
                __builtin_prefetch(&f->root[e[i + 8].src]);
                __builtin_prefetch(&f->root[e[i + 8].dst]);
            }
            uint32_t x = example_find_root(f->root, e[i].src);
            uint32_t y = example_find_root(f->root, e[i].dst);
            if (x == y)
                continue;
            ++*f->joins;
            if (out) /* in place, as the input's edges are */
                *(struct edge *)tide_session_extend(out, 1) = (struct edge){ x, y };
            example_unite(f->root, f->rank, x, y);
        }
    }
}

static void stage_free(void *arg)
{
    struct stage *st = arg;
    struct forest *f = st->forest;
    if (--f->users == 0) {
        free(f->root);
        free(f->rank);
        free(f);
    }
    free(st);
}

static struct forest *forest_new(uint64_t nodes, uint64_t *joins)
{
    struct forest *f = malloc(sizeof *f);
    if (!f || !(f->root = example_zalloc(nodes, sizeof *f->root)) ||
        !(f->rank = example_zalloc(nodes, 1)))
        tide_abort("unionfind: out of memory for %" PRIu64 " nodes", nodes);
    for (uint64_t i = 0; i < nodes; i++)
        f->root[i] = (uint32_t)i;
    f->joins = joins;
    f->users = 0;
    return f;
}

static tide_stream *union_find_op(tide_stream *s, struct forest *f, bool pass_on)
{
    struct stage *st = malloc(sizeof *st);
    if (!st)
        tide_abort("unionfind: out of memory");
    *st = (struct stage){ f, pass_on };
    f->users++;
    return tide_unary(s, TIDE_PIPELINE, "UnionFind", &edge_type, union_find, st, stage_free);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t joins = 0;
    tide_input *input;
    tide_scope *scope = tide_dataflow_begin(w, "unionfind");
    struct forest *f = forest_new(a->nodes, &joins);
    tide_stream *s = union_find_op(tide_input_new(scope, &edge_type, &input), f, me != 0);
    s = union_find_op(tide_exchange(s, tide_hash_zero, NULL), f, false);
    tide_probe *probe = tide_probe_new(s);
    tide_dataflow_end(scope);
    uint64_t left = a->batch; /* to send before the next epoch (no division per edge) */
    for (uint64_t i = me; i < a->edges; i += peers) {
        /* written where the input keeps it: a record built here and sent was read back
         * as one word from its two fields' stores, which stalled (see tide_input_extend) */
        struct edge *e = tide_input_extend(input, 1);
        example_edge(i, a->nodes, &e->src, &e->dst);
        if (--left == 0) {
            left = a->batch;
            uint64_t next = tide_input_epoch(input) + 1;
            tide_input_advance_to(input, next);
            while (tide_probe_less_than(probe, next))
                tide_worker_step(w);
        }
    }
    tide_input_close(input);
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    if (me == 0)
        printf("%" PRIu64 " components\n", a->nodes - joins);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("unionfind", &cfg, &argc, argv);
    struct args a;
    if (argc != 4 || example_parse(argv[1], &a.nodes) || example_parse(argv[2], &a.edges) ||
        example_parse(argv[3], &a.batch) || a.nodes > UINT32_MAX) {
        fprintf(stderr, "usage: unionfind NODES EDGES BATCH [tide options]  (positive "
                        "integers, NODES at most 2^32 - 1)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
