/* SPDX-License-Identifier: MIT */
/*
 * The work of timely's examples/pagerank.rs, so that the two can be timed side by side:
 * incremental integer PageRank on a changing graph. Edge changes (src, dst, +-1) come in
 * through an input; rank changes (node, diff) go around a loop (one epoch per iteration);
 * one binary_frontier operator, exchanged by vertex on both inputs, keeps every source
 * vertex's edge list, rank (starting at 1000) and not yet applied rank change. When a time
 * is complete on both inputs it applies that time's edge changes, then its rank changes,
 * sending out for each vertex the change of what it passes to its neighbours (5/6 of its
 * rank, shared out among its edges); a vertex's rank moves once its pending change reaches
 * 6 in size. Every worker prints, per time with rank changes: elapsed time, the time, how
 * many vertices changed, the sum and the largest of their changes.
 *
 * A worker sums the rank changes it sends in a time by node before sending them, as a
 * combiner would (the single-threaded program adds them into an array): epoch 0's million
 * edges make 5 million changes, to at most NODES nodes. With --per-edge it sends each
 * edge's and each vertex's changes on their own, as timely's example does (the same
 * output; for timing the two side by side).
 *
 * The graph: EDGES random edges over NODES vertices at epoch 0 (the same graph whatever the
 * number of workers: worker w sends every peers-th edge of one random sequence), then 999
 * rounds of one insertion and one deletion (of the oldest edge), one epoch each.
 *
 * Or the graph of an edge list (lines "SRC DST"; '#' starts a comment line) at epoch 0, the
 * workers splitting its lines, with no rounds after it: the ranks are iterated until their
 * changes die out.
 *
 *   pagerank NODES EDGES [--per-edge] [tide options]
 *   pagerank EDGE-LIST-FILE [--per-edge] [tide options]
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "example.h"

struct edge_change {
    uint64_t src, dst;
    int64_t diff;
};
static TIDE_TYPE_POD(edge_change_type, struct edge_change);
/* Rank changes (node, diff) are tide_diff records, and so are edge lists (dst,
 * multiplicity): tide_consolidate sorts and sums them. */

/* ---------------------------------------------------------------- the operator's state */

struct vertex {
    tide_vec edges; /* tide_diff: (dst, multiplicity), sorted by dst */
    int64_t rank, pending;
};

struct pagerank {
    struct vertex *v;
    size_t nv;
    tide_stash *stash; /* per time: edge changes (port 0) and rank changes (port 1) */
    tide_vec sends;    /* tide_diff: the rank changes to send in the time at hand */
    size_t sum_at;     /* sends's length at which to sum it by node */
    bool per_edge;     /* send each edge's and each vertex's changes on their own */
    double start;
};

/* Summed by node when they have doubled since they last were (and they are at least this
 * many): a time's sends stay within twice the number of nodes they go to, in cache, and
 * each sum costs a pass over what it sums. */
#define SUM_AT_LEAST 65536

/* Room for @p n more rank changes to send. */
static tide_diff *sends_extend(struct pagerank *pr, size_t n)
{
    if (pr->sends.len + n > pr->sum_at) {
        pr->sends.len = tide_consolidate(pr->sends.data, pr->sends.len);
        pr->sum_at = 2 * pr->sends.len > SUM_AT_LEAST ? 2 * pr->sends.len : SUM_AT_LEAST;
    }
    return tide_vec_extend(&pr->sends, n);
}

/* Sends the rank changes made since the last send, summed by node, zeros left out. */
static void sends_flush(struct pagerank *pr, tide_session *out)
{
    pr->sends.len = tide_consolidate(pr->sends.data, pr->sends.len);
    tide_session_give_n(out, pr->sends.data, pr->sends.len);
    pr->sends.len = 0;
    pr->sum_at = SUM_AT_LEAST;
}


static struct vertex *vertex(struct pagerank *pr, uint64_t n)
{
    if (n >= pr->nv) {
        size_t nv = pr->nv ? pr->nv : 1024;
        while (nv <= n)
            nv *= 2;
        pr->v = realloc(pr->v, nv * sizeof *pr->v);
        if (!pr->v)
            tide_abort("pagerank: out of memory");
        for (size_t i = pr->nv; i < nv; i++)
            pr->v[i] = (struct vertex){ TIDE_VEC(tide_diff), 1000, 0 };
        pr->nv = nv;
    }
    return &pr->v[n];
}

/* Adds to the sends what @p v passes on with rank @p rank, times @p sign. */
static void allocate(struct pagerank *pr, const struct vertex *v, int64_t rank, int64_t sign)
{
    const tide_diff *e = v->edges.data;
    int64_t degree = (int64_t)v->edges.len;
    if (!degree)
        return;
    tide_diff *d = sends_extend(pr, (size_t)degree);
    int64_t distribute = rank * 5 / 6, share = distribute / degree, extra = distribute % degree;
    for (int64_t i = 0; i < degree; i++)
        d[i] = (tide_diff){ e[i].key, sign * e[i].diff * (share + (i < extra)) };
}

static void apply_edges(struct pagerank *pr, tide_batch *edges, tide_session *out)
{
    const struct edge_change *c = tide_batch_records(edges);
    size_t n = tide_batch_len(edges);
    for (size_t i = 0; i < n; i++) {
        /* as in apply_ranks, but the sources come in any order: their vertices 16 ahead,
         * then (in cache by then) their edge lists 8 ahead */
        if (i + 16 < n && c[i + 16].src < pr->nv)
            __builtin_prefetch(&pr->v[c[i + 16].src]);
        if (i + 8 < n && c[i + 8].src < pr->nv)
            __builtin_prefetch(pr->v[c[i + 8].src].edges.data);
        struct vertex *v = vertex(pr, c[i].src);
        allocate(pr, v, v->rank, -1);
        TIDE_VEC_PUSH(&v->edges, tide_diff, ((tide_diff){ c[i].dst, c[i].diff }));
        v->edges.len = tide_consolidate(v->edges.data, v->edges.len); /* sorted by dst */
        allocate(pr, v, v->rank, +1);
        if (pr->per_edge)
            sends_flush(pr, out);
    }
}

/* Adds to the sends what @p v passes on changes by when its rank moves from @p from to
 * @p to, its edges unchanged: per edge, the new share less the old, zeros left out (what
 * allocating both would leave once summed, in one pass over the edges). */
static void reallocate(struct pagerank *pr, const struct vertex *v, int64_t from, int64_t to)
{
    const tide_diff *e = v->edges.data;
    int64_t degree = (int64_t)v->edges.len;
    if (!degree)
        return;
    tide_diff *m = sends_extend(pr, (size_t)degree);
    int64_t was = from * 5 / 6, now = to * 5 / 6;
    int64_t was_share = was / degree, was_extra = was % degree;
    int64_t now_share = now / degree, now_extra = now % degree;
    size_t k = 0;
    for (int64_t i = 0; i < degree; i++) {
        int64_t c = e[i].diff * ((now_share + (i < now_extra)) - (was_share + (i < was_extra)));
        if (c)
            m[k++] = (tide_diff){ e[i].key, c };
    }
    pr->sends.len -= (size_t)degree - k;
}

static void apply_ranks(struct pagerank *pr, tide_batch *changes, uint64_t epoch,
                        tide_session *out)
{
    tide_diff *c = tide_batch_records(changes);
    size_t len = tide_consolidate(c, tide_batch_len(changes)); /* sorted, summed, shorter */
    int64_t sum = 0, max = 0;
    for (size_t i = 0; i < len; i++) {
        /* The vertices lie in order, their edge lists anywhere: ask for a later one's now,
         * so that its miss overlaps the work on those between. */
        if (i + 8 < len && c[i + 8].key < pr->nv)
            __builtin_prefetch(pr->v[c[i + 8].key].edges.data);
        struct vertex *v = vertex(pr, c[i].key);
        int64_t size = c[i].diff < 0 ? -c[i].diff : c[i].diff;
        sum += size;
        max = size > max ? size : max;
        int64_t was = v->rank;
        v->pending += c[i].diff;
        if (v->pending >= 6 || v->pending <= -6) {
            v->rank += v->pending;
            v->pending = 0;
        }
        reallocate(pr, v, was, v->rank);
        if (pr->per_edge)
            sends_flush(pr, out);
    }
    printf("%.6fs:\t%" PRIu64 "\t%zu\t%" PRId64 "\t%" PRId64 "\n", example_now() - pr->start,
           epoch, len, sum, max);
}

static void pagerank(tide_op *op, void *arg)
{
    struct pagerank *pr = arg;
    tide_cap *cap;
    tide_batch *b;
    for (uint32_t port = 0; port < 2; port++)
        while (tide_op_next(op, port, &cap, &b))
            tide_stash_add(pr->stash, port, cap, b);
    while (tide_stash_next(pr->stash, op, &cap)) {
        tide_session *out = tide_op_session(op, 0, cap);
        tide_batch *edges = tide_stash_take(pr->stash, 0), *ranks = tide_stash_take(pr->stash, 1);
        if (edges)
            apply_edges(pr, edges, out);
        if (ranks && tide_batch_len(ranks))
            apply_ranks(pr, ranks, tide_cap_epoch(cap), out);
        sends_flush(pr, out);
        tide_batch_free(edges);
        tide_batch_free(ranks);
        tide_cap_drop(&cap);
    }
}

static void pagerank_free(void *arg)
{
    struct pagerank *pr = arg;
    for (size_t i = 0; i < pr->nv; i++)
        tide_vec_free(&pr->v[i].edges);
    tide_stash_free(pr->stash);
    free(pr->v);
    tide_vec_free(&pr->sends);
    free(pr);
}

/* ---------------------------------------------------------------- driving it */

/* By source, a batch at a time (one call per batch, not per record); rank changes go by
 * node, their leading uint64_t (tide_hash_u64). */
static void by_src(const void *r, size_t n, uint64_t *h, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        h[i] = ((const struct edge_change *)r)[i].src;
}


struct args {
    uint64_t nodes, edges;
    const char *file; /* an edge list instead of random edges */
    bool per_edge;
};

/* The edge sequence every worker draws the same way, each sending its share. */
static struct edge_change random_edge(uint64_t *rng, uint64_t nodes, int64_t diff)
{
    uint64_t src = example_random(rng) % nodes;
    return (struct edge_change){ src, example_random(rng) % nodes, diff };
}

/* Under --memory, every 4096 edges: steps while the rank is over its budget. */
static void wait_for_room(tide_worker *w, uint64_t edge)
{
    if (edge % 4096 == 0)
        while (!tide_worker_has_room(w))
            tide_worker_step(w);
}

static void settle(tide_worker *w, tide_input *input, tide_probe *probe, uint64_t epoch)
{
    tide_input_advance_to(input, epoch);
    while (tide_probe_less_than(probe, tide_input_epoch(input)))
        tide_worker_step(w);
}

/* Node ids index a dense array: beyond this the array could not be allocated anyway. */
#define MAX_NODE UINT32_MAX

/* "SRC DST" with optional blanks around: decimal digits only (no sign), each at most
 * MAX_NODE. */
static int parse_ids(const char *p, uint64_t *src, uint64_t *dst)
{
    uint64_t *id[2] = { src, dst };
    for (int k = 0; k < 2; k++) {
        p += strspn(p, " \t");
        if (*p < '0' || *p > '9')
            return -1;
        char *end;
        errno = 0;
        *id[k] = strtoull(p, &end, 10);
        if (errno || *id[k] > MAX_NODE || (*end && !strchr(" \t\r\n", *end)))
            return -1;
        p = end;
    }
    p += strspn(p, " \t\r\n");
    return *p ? -1 : 0;
}

/* A line of the edge list: an edge, or nothing for a blank line or one starting with '#'. */
static const char *parse_edge(const char *line, tide_session *out, void *ctx)
{
    (void)ctx;
    const char *p = line + strspn(line, " \t\r");
    struct edge_change e = { 0, 0, 1 };
    if (*p == '#' || *p == '\0')
        return NULL;
    if (parse_ids(p, &e.src, &e.dst) != 0)
        return "expected two node ids (0 to 4294967295)";
    tide_session_give(out, &e);
    return NULL;
}

/* Whether the edge list at @p path has a line that is neither blank nor a comment (so that
 * an empty graph is an error, said once, before the workers start). */
static bool has_edges(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    bool any = false;
    while (f && !any && fgets(line, sizeof line, f)) {
        const char *p = line + strspn(line, " \t\r");
        any = *p != '#' && *p != '\n' && *p != '\0';
    }
    if (f)
        fclose(f);
    return any || !f; /* (a file that cannot be read is the reader's error) */
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct pagerank *pr = calloc(1, sizeof *pr);
    if (!pr)
        return 1;
    pr->sends = TIDE_VEC(tide_diff);
    pr->sum_at = SUM_AT_LEAST;
    pr->per_edge = a->per_edge;
    pr->stash = tide_stash_new();
    pr->start = example_now();
    tide_input *input = NULL;
    tide_loop *loop;
    tide_scope *scope = tide_dataflow_begin(w, "pagerank");
    tide_stream *edges = a->file ? tide_read_files(scope, "pagerank", &a->file, 1,
                                                   &edge_change_type, parse_edge, NULL)
                                 : tide_input_new(scope, &edge_change_type, &input);
    tide_stream *ranks = tide_loop_variable(scope, 1, TIDE_DIFF, &loop);
    tide_stream *changes = tide_operator(&(tide_op_desc){
        .name = "PageRank", .in = { edges, ranks },
        .pact = { TIDE_EXCHANGE_BATCH(by_src, NULL), TIDE_EXCHANGE(tide_hash_u64, NULL) },
        .out = TIDE_DIFF, .logic = pagerank, .state = pr, .free_state = pagerank_free,
        .frontier = true });
    tide_probe *probe = tide_probe_new(changes);
    tide_loop_connect(loop, changes);
    tide_dataflow_end(scope);

    if (a->file) { /* the file's graph, then iterate until the ranks settle */
        while (!tide_probe_done(probe))
            tide_worker_step(w);
        return 0;
    }
    /* The same seed: the deletions replay the sequence from its start, removing the oldest
     * edges first. */
    uint64_t adds = 1, dels = 1;
    for (uint64_t i = 0; i < a->edges; i++) {
        struct edge_change e = random_edge(&adds, a->nodes, 1);
        if (i % peers == me) {
            wait_for_room(w, i);
            tide_input_send(input, &e);
        }
    }
    settle(w, input, probe, 1);
    for (uint64_t round = 1; round < 1000; round++) {
        struct edge_change add = random_edge(&adds, a->nodes, 1);
        struct edge_change del = random_edge(&dels, a->nodes, -1);
        if (round % peers == me) {
            tide_input_send(input, &add);
            tide_input_send(input, &del);
        }
        settle(w, input, probe, round + 1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("pagerank", &cfg, &argc, argv);
    struct args a = { .per_edge = argc > 1 && strcmp(argv[argc - 1], "--per-edge") == 0 };
    argc -= a.per_edge;
    a.file = argc == 2 ? argv[1] : NULL;
    uint64_t number;
    if (a.file && example_parse(a.file, &number) == 0 && access(a.file, F_OK) != 0)
        a.file = NULL; /* NODES without EDGES, not a file name */
    if (!a.file && (argc != 3 || example_parse(argv[1], &a.nodes) ||
                    example_parse(argv[2], &a.edges))) {
        fprintf(stderr, "usage: pagerank NODES EDGES [--per-edge] [tide options]  (positive "
                        "integers)\n"
                        "       pagerank EDGE-LIST-FILE [--per-edge] [tide options]  (lines "
                        "'SRC DST')\n");
        return 2;
    }
    if (a.file && !has_edges(a.file)) {
        fprintf(stderr, "pagerank: '%s' has no edges\n", a.file);
        return 1;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
