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

/* Visits waiting for their iteration's notification. */
struct pending {
    uint64_t epoch;
    struct visit *v;
    size_t len, cap;
};

struct bfs {
    size_t me, peers;
    uint64_t nodes;
    double start;
    tide_notificator *notes;
    bool edges_noted, built;
    struct edge *edges; /* until the graph is built */
    size_t nedges, capedges;
    uint32_t *offsets, *targets; /* out-edges of local node n: targets[offsets[n], offsets[n+1]) */
    uint32_t *parent;            /* per local node; UINT32_MAX until reached */
    struct pending *pending;
    size_t npending, cappending;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    *cap = *cap ? 2 * *cap : 64;
    while (*cap < need)
        *cap *= 2;
    p = realloc(p, *cap * size);
    if (!p)
        tide_abort("bfs: out of memory");
    return p;
}

/* Out-edges grouped by local source node (a counting sort). */
static void build_graph(struct bfs *g)
{
    size_t local = g->nodes / g->peers + 1;
    g->offsets = calloc(local + 1, sizeof *g->offsets);
    g->targets = malloc((g->nedges ? g->nedges : 1) * sizeof *g->targets);
    g->parent = malloc(local * sizeof *g->parent);
    if (!g->offsets || !g->targets || !g->parent)
        tide_abort("bfs: out of memory");
    memset(g->parent, 0xff, local * sizeof *g->parent);
    for (size_t i = 0; i < g->nedges; i++)
        g->offsets[g->edges[i].src / g->peers + 1]++;
    for (size_t n = 0; n < local; n++)
        g->offsets[n + 1] += g->offsets[n];
    for (size_t i = 0; i < g->nedges; i++)
        g->targets[g->offsets[g->edges[i].src / g->peers]++] = g->edges[i].dst;
    for (size_t n = local; n > 0; n--) /* the fill moved each start to the next's */
        g->offsets[n] = g->offsets[n - 1];
    g->offsets[0] = 0;
    free(g->edges);
    g->edges = NULL;
    g->built = true;
}

static struct pending *pending_at(struct bfs *g, const tide_cap *cap)
{
    for (size_t i = 0; i < g->npending; i++)
        if (g->pending[i].epoch == tide_cap_epoch(cap))
            return &g->pending[i];
    g->pending = grow(g->pending, &g->cappending, g->npending + 1, sizeof *g->pending);
    tide_notificator_notify_at(g->notes, tide_cap_retain(cap));
    g->pending[g->npending] = (struct pending){ .epoch = tide_cap_epoch(cap) };
    return &g->pending[g->npending++];
}

/* First visits become reached nodes (output 1); their out-edges' targets go round the loop
 * (output 0). */
static void visit(struct bfs *g, tide_op *op, tide_cap *cap)
{
    struct pending *p = NULL;
    for (size_t i = 0; i < g->npending && !p; i++)
        if (g->pending[i].epoch == tide_cap_epoch(cap))
            p = &g->pending[i];
    if (!p)
        return;
    tide_session *next = tide_op_session(op, 0, cap), *reached = tide_op_session(op, 1, cap);
    for (size_t i = 0; i < p->len; i++) {
        uint32_t node = p->v[i].node, local = node / (uint32_t)g->peers;
        if (g->parent[local] != UINT32_MAX)
            continue;
        g->parent[local] = p->v[i].parent;
        uint64_t n64 = node;
        tide_session_give(reached, &n64);
        for (uint32_t e = g->offsets[local]; e < g->offsets[local + 1]; e++)
            tide_session_give(next, &(struct visit){ g->targets[e], node });
    }
    free(p->v);
    *p = g->pending[--g->npending];
}

static void bfs_logic(tide_op *op, void *arg)
{
    struct bfs *g = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        if (!g->edges_noted) { /* every edge is at time 0 */
            tide_notificator_notify_at(g->notes, tide_cap_retain(cap));
            g->edges_noted = true;
        }
        size_t n = tide_batch_len(b);
        g->edges = grow(g->edges, &g->capedges, g->nedges + n, sizeof *g->edges);
        memcpy(g->edges + g->nedges, tide_batch_records(b), n * sizeof *g->edges);
        g->nedges += n;
    }
    while (tide_op_next(op, 1, &cap, &b)) {
        struct pending *p = pending_at(g, cap);
        size_t n = tide_batch_len(b);
        p->v = grow(p->v, &p->cap, p->len + n, sizeof *p->v);
        memcpy(p->v + p->len, tide_batch_records(b), n * sizeof *p->v);
        p->len += n;
    }
    const tide_antichain *fronts[2] = { tide_op_frontier(op, 0), tide_op_frontier(op, 1) };
    while ((cap = tide_notificator_next(g->notes, fronts, 2))) {
        if (!g->built)
            build_graph(g);
        if (g->me == 0)
            printf("%.6fs:\ttime: %" PRIu64 "\n", example_now() - g->start, tide_cap_epoch(cap));
        visit(g, op, cap);
    }
}

static void bfs_free(void *arg)
{
    struct bfs *g = arg;
    tide_notificator_free(g->notes);
    for (size_t i = 0; i < g->npending; i++)
        free(g->pending[i].v);
    free(g->pending);
    free(g->edges);
    free(g->offsets);
    free(g->targets);
    free(g->parent);
    free(g);
}

static uint64_t by_src(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct edge *)r)->src;
}

static uint64_t by_node(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct visit *)r)->node;
}

static uint64_t to_zero(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}

/* This worker's share of the edges: edge i for every i below EDGES that is this worker's
 * index modulo the worker count. */
struct edge_gen {
    uint64_t i, step, end, nodes;
};

static bool next_edge(void *record, void *ctx)
{
    struct edge_gen *gen = ctx;
    if (gen->i >= gen->end)
        return false;
    struct edge *e = record;
    example_edge(gen->i, gen->nodes, &e->src, &e->dst);
    gen->i += gen->step;
    return true;
}

static void add(void *acc, const void *r, void *ctx)
{
    (void)ctx;
    *(uint64_t *)acc += *(const uint64_t *)r;
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
    g->notes = tide_notificator_new();
    g->start = example_now();
    struct edge_gen gen = { g->me, g->peers, a->edges, a->nodes };
    struct visit root = { 0, 0 };
    tide_loop *loop;
    tide_scope *scope = tide_dataflow_begin(w, "bfs");
    tide_stream *edges = tide_to_stream_iter(scope, &edge_type, next_edge, &gen, 4096);
    tide_stream *visits = tide_loop_variable(scope, 1, &visit_type, &loop);
    tide_builder *bld = tide_builder_new(scope, "BFS");
    tide_builder_input(bld, edges, TIDE_EXCHANGE(by_src, NULL));
    tide_builder_input(bld, visits, TIDE_EXCHANGE(by_node, NULL));
    tide_stream *next = tide_builder_output(bld, &visit_type);
    tide_stream *reached = tide_builder_output(bld, TIDE_U64);
    tide_builder_build(bld, bfs_logic, g, bfs_free, NULL);
    tide_loop_connect(loop, tide_concat(next, tide_to_stream(scope, &visit_type, &root,
                                                             g->me == 0 ? 1 : 0)));
    if (a->levels) {
        uint64_t zero = 0;
        tide_stream *counts = tide_exchange(tide_count(reached), to_zero, NULL);
        tide_inspect(tide_accumulate(counts, TIDE_U64, &zero, add, NULL), print_level, NULL);
    }
    tide_dataflow_end(scope);
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
