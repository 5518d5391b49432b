/* SPDX-License-Identifier: MIT */
/*
 * Breadth-first search on a random graph, the counterpart of timely's examples/bfs.rs:
 * EDGES random edges among NODES nodes are exchanged by source; a loop carries (node,
 * parent) pairs, exchanged by node, from node 0 outwards, one iteration per level. At each
 * iteration's notification the BFS operator marks the nodes reached for the first time and
 * sends their out-edges' targets round the loop. Worker 0 prints a line per iteration (its
 * elapsed time and the iteration); with --levels, how many nodes are at each distance from
 * node 0 (the root goes round the loop once first, so distance d is iteration d + 1).
 *
 *   bfs NODES EDGES [--levels] [tide options]
 */
#include <inttypes.h>
#include <string.h>

#include "example.h"

struct edge {
    uint32_t src, dst;
};
struct visit {
    uint32_t node, parent;
};
static TIDE_TYPE_POD(edge_type, struct edge);
static TIDE_TYPE_POD(visit_type, struct visit);

struct args {
    uint64_t nodes, edges;
    bool levels;
};

/* Edges (port 0, all at time 0) and visits (port 1) wait in a stash until their time is
 * complete on both inputs. */
struct bfs {
    size_t me, peers;
    uint64_t nodes;
    double start;
    tide_stash *stash;
    uint32_t *offsets, *targets; /* out-edges of local node n: targets[offsets[n], offsets[n+1]) */
    uint32_t *parent;            /* per local node; UINT32_MAX until reached */
};

/* Out-edges grouped by local source node (a counting sort); @p edges NULL: none. */
static void build_graph(struct bfs *g, tide_batch *edges)
{
    const struct edge *e = edges ? tide_batch_records(edges) : NULL;
    size_t local = g->nodes / g->peers + 1, n = edges ? tide_batch_len(edges) : 0;
    g->offsets = example_zalloc(local + 1, sizeof *g->offsets);
    g->targets = example_zalloc(n ? n : 1, sizeof *g->targets);
    g->parent = example_zalloc(local, sizeof *g->parent);
    if (!g->offsets || !g->targets || !g->parent)
        tide_abort("bfs: out of memory");
    memset(g->parent, 0xff, local * sizeof *g->parent);
    for (size_t i = 0; i < n; i++)
        g->offsets[e[i].src / g->peers + 1]++;
    for (size_t k = 0; k < local; k++)
        g->offsets[k + 1] += g->offsets[k];
    for (size_t i = 0; i < n; i++)
        g->targets[g->offsets[e[i].src / g->peers]++] = e[i].dst;
    for (size_t k = local; k > 0; k--) /* the fill moved each start to the next's */
        g->offsets[k] = g->offsets[k - 1];
    g->offsets[0] = 0;
}

/* First visits become reached nodes (output 1); their out-edges' targets go round the loop
 * (output 0). */
static void visit(struct bfs *g, tide_op *op, tide_cap *cap, tide_batch *visits)
{
    const struct visit *v = tide_batch_records(visits);
    tide_session *next = tide_op_session(op, 0, cap), *reached = tide_op_session(op, 1, cap);
    size_t n = tide_batch_len(visits);
    for (size_t i = 0; i < n; i++) {
        /* Later visits' misses overlap this one's work: a node's state 16 visits ahead,
         * then (in cache by then) its out-edges 8 ahead, if it is still to be reached. */
        if (i + 16 < n) {
            uint32_t ahead = v[i + 16].node / (uint32_t)g->peers;
            __builtin_prefetch(&g->parent[ahead]);
            __builtin_prefetch(&g->offsets[ahead]);
        }
        if (i + 8 < n) {
            uint32_t ahead = v[i + 8].node / (uint32_t)g->peers;
            if (g->parent[ahead] == UINT32_MAX)
                __builtin_prefetch(&g->targets[g->offsets[ahead]]);
        }
        uint32_t node = v[i].node, local = node / (uint32_t)g->peers;
        if (g->parent[local] != UINT32_MAX)
            continue;
        g->parent[local] = v[i].parent;
        uint64_t n64 = node;
        tide_session_give(reached, &n64);
        for (uint32_t e = g->offsets[local]; e < g->offsets[local + 1]; e++)
            *(struct visit *)tide_session_extend(next, 1) = (struct visit){ g->targets[e], node };
    }
}

static void bfs_logic(tide_op *op, void *arg)
{
    struct bfs *g = arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++)
        while (tide_op_next(op, port, &cap, &b))
            tide_stash_add(g->stash, port, cap, b);
    while (tide_stash_next(g->stash, op, &cap)) {
        tide_batch *edges = tide_stash_take(g->stash, 0), *visits = tide_stash_take(g->stash, 1);
        if (!g->parent) /* the first time out is 0, all the edges' (if this worker has any) */
            build_graph(g, edges);
        if (g->me == 0)
            printf("%.6fs:\ttime: %" PRIu64 "\n", example_now() - g->start, tide_cap_epoch(cap));
        if (visits)
            visit(g, op, cap, visits);
        tide_batch_free(edges);
        tide_batch_free(visits);
        tide_cap_drop(&cap);
    }
}

static void bfs_free(void *arg)
{
    struct bfs *g = arg;
    tide_stash_free(g->stash);
    free(g->offsets);
    free(g->targets);
    free(g->parent);
    free(g);
}

static void print_level(const tide_time *t, const void *r, void *ctx)
{
    (void)ctx;
    printf("distance %" PRIu64 ": %" PRIu64 " nodes\n", t->c[0] - 1, *(const uint64_t *)r);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    struct bfs *g = calloc(1, sizeof *g);
    if (!g)
        return 1;
    g->me = tide_worker_index(w);
    g->peers = tide_worker_peers(w);
    g->nodes = a->nodes;
    g->stash = tide_stash_new();
    g->start = example_now();
    struct visit root = { 0, 0 };
    tide_loop *loop;
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "bfs");
    tide_stream *edges = tide_input_new(scope, &edge_type, &in);
    tide_stream *visits = tide_loop_variable(scope, 1, &visit_type, &loop);
    tide_builder *bld = tide_builder_new(scope, "BFS");
    /* by source and by node: tide_hash_u32 reads a record's leading uint32_t */
    tide_builder_input(bld, edges, TIDE_EXCHANGE(tide_hash_u32, NULL));
    tide_builder_input(bld, visits, TIDE_EXCHANGE(tide_hash_u32, NULL));
    tide_stream *next = tide_builder_output(bld, &visit_type);
    tide_stream *reached = tide_builder_output(bld, TIDE_U64);
    tide_builder_build(bld, bfs_logic, g, bfs_free, NULL);
    tide_loop_connect(loop, tide_concat(next, tide_to_stream(scope, &visit_type, &root,
                                                             g->me == 0 ? 1 : 0)));
    if (a->levels) /* the reached nodes counted at worker 0 */
        tide_inspect(tide_count(tide_exchange(reached, tide_hash_zero, NULL)), print_level, NULL);
    tide_dataflow_end(scope);
    /* This worker's share, stepping now and then: the BFS operator takes the exchanged
     * edges in as they come and their batches go back, where 80 MB of them waiting at once
     * cost a page fault per 4 KiB (doc/architecture.md, COST). */
    uint64_t made = 0;
    for (uint64_t i = g->me; i < a->edges; i += g->peers) {
        struct edge *e = tide_input_extend(in, 1); /* in place: see unionfind.c */
        example_edge(i, a->nodes, &e->src, &e->dst);
        if (++made % 65536 == 0)
            tide_worker_step(w);
    }
    tide_input_close(in);
    while (tide_worker_step(w))
        ;
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("bfs", &cfg, &argc, argv);
    struct args a = { .levels = argc == 4 && strcmp(argv[3], "--levels") == 0 };
    if ((argc != 3 && !a.levels) || example_parse(argv[1], &a.nodes) ||
        example_parse(argv[2], &a.edges) || a.nodes > UINT32_MAX - 1) {
        fprintf(stderr, "usage: bfs NODES EDGES [--levels] [tide options]  (positive "
                        "integers, NODES below 2^32 - 1)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
