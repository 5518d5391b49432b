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
 * The graph: EDGES random edges over NODES vertices at epoch 0 (the same graph whatever the
 * number of workers: worker w sends every peers-th edge of one random sequence), then 999
 * rounds of one insertion and one deletion (of the oldest edge), one epoch each.
 *
 * Or the graph of an edge list (lines "SRC DST"; '#' starts a comment line) at epoch 0, the
 * workers splitting its lines, with no rounds after it: the ranks are iterated until their
 * changes die out.
 *
 *   pagerank NODES EDGES [tide options]
 *   pagerank EDGE-LIST-FILE [tide options]
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "example.h"

struct edge_change {
    uint64_t src, dst;
    int64_t diff;
};
struct rank_change {
    uint64_t node;
    int64_t diff;
};
static TIDE_TYPE_POD(edge_change_type, struct edge_change);
static TIDE_TYPE_POD(rank_change_type, struct rank_change);

/* ---------------------------------------------------------------- small containers */

struct vec {
    void *data;
    size_t len, cap, size;
};

static void *vec_push(struct vec *v)
{
    if (v->len == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4;
        v->data = realloc(v->data, v->cap * v->size);
        if (!v->data)
            tide_abort("pagerank: out of memory");
    }
    return (char *)v->data + v->len++ * v->size;
}

/* (node, diff) pairs: sorted by node, equal nodes summed, zeros dropped. Sorting is most of
 * this program's work (as in timely's): an LSD radix sort on the bits the nodes use. */
static void radix_sort(struct rank_change *p, size_t n, struct vec *tmp)
{
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++)
        max |= p[i].node;
    if (tmp->cap < n) {
        tmp->data = realloc(tmp->data, n * sizeof *p);
        if (!tmp->data)
            tide_abort("pagerank: out of memory");
        tmp->cap = n;
    }
    struct rank_change *a = p, *b = tmp->data;
    for (unsigned shift = 0; shift < 64 && (max >> shift); shift += 11) {
        size_t count[2049] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((a[i].node >> shift) & 2047) + 1]++;
        for (size_t k = 1; k < 2049; k++)
            count[k] += count[k - 1];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i].node >> shift) & 2047]++] = a[i];
        struct rank_change *t = a;
        a = b;
        b = t;
    }
    if (a != p)
        memcpy(p, a, n * sizeof *p);
}

static void sum_sorted(struct vec *v)
{
    struct rank_change *p = v->data;
    size_t out = 0;
    for (size_t i = 0; i < v->len;) {
        struct rank_change c = p[i++];
        while (i < v->len && p[i].node == c.node)
            c.diff += p[i++].diff;
        if (c.diff)
            p[out++] = c;
    }
    v->len = out;
}

static void compact(struct vec *v, struct vec *tmp)
{
    if (v->len > 64) {
        radix_sort(v->data, v->len, tmp);
    } else { /* short lists: insertion sort */
        struct rank_change *p = v->data;
        for (size_t i = 1; i < v->len; i++) {
            struct rank_change x = p[i];
            size_t j = i;
            for (; j > 0 && p[j - 1].node > x.node; j--)
                p[j] = p[j - 1];
            p[j] = x;
        }
    }
    sum_sorted(v);
}

/* ---------------------------------------------------------------- the operator's state */

struct vertex {
    struct vec edges; /* rank_change pairs: (dst, multiplicity), compacted */
    int64_t rank, pending;
};

struct stash {
    tide_cap *cap;
    struct vec edges, ranks; /* edge_change, rank_change */
};

struct pagerank {
    struct vertex *v;
    size_t nv;
    struct stash *stash;
    size_t nstash, capstash;
    struct vec delta, tmp;
    double start;
};


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
            pr->v[i] = (struct vertex){ { NULL, 0, 0, sizeof(struct rank_change) }, 1000, 0 };
        pr->nv = nv;
    }
    return &pr->v[n];
}

static void reserve(struct vec *v, size_t n)
{
    if (v->cap < n) {
        v->cap = v->cap * 2 > n ? v->cap * 2 : n;
        v->data = realloc(v->data, v->cap * v->size);
        if (!v->data)
            tide_abort("pagerank: out of memory");
    }
}

/* Appends to delta what @p v passes on with rank @p rank, times @p sign: a run sorted by
 * node, as the edge list is. */
static void allocate(const struct vertex *v, int64_t rank, int64_t sign, struct vec *delta)
{
    const struct rank_change *e = v->edges.data;
    int64_t degree = (int64_t)v->edges.len;
    if (!degree)
        return;
    reserve(delta, delta->len + (size_t)degree);
    struct rank_change *d = (struct rank_change *)delta->data + delta->len;
    int64_t distribute = rank * 5 / 6, share = distribute / degree, extra = distribute % degree;
    for (int64_t i = 0; i < degree; i++)
        d[i] = (struct rank_change){ e[i].node, sign * e[i].diff * (share + (i < extra)) };
    delta->len += (size_t)degree;
}

/* Sends the delta: two sorted runs (what was passed on, negated, then what is now),
 * merged with equal nodes summed and zeros dropped. */
static void send_delta(struct pagerank *pr, size_t first, tide_session *out)
{
    const struct rank_change *d = pr->delta.data;
    size_t n = pr->delta.len, i = 0, j = first, k = 0;
    reserve(&pr->tmp, n);
    struct rank_change *m = pr->tmp.data;
    while (i < first || j < n) {
        struct rank_change c;
        if (j == n || (i < first && d[i].node < d[j].node))
            c = d[i++];
        else if (i == first || d[j].node < d[i].node)
            c = d[j++];
        else {
            c = d[i++];
            c.diff += d[j++].diff;
        }
        if (c.diff)
            m[k++] = c;
    }
    tide_session_give_n(out, m, k);
    pr->delta.len = 0;
}

static struct stash *stash_at(struct pagerank *pr, const tide_cap *cap)
{
    for (size_t i = 0; i < pr->nstash; i++)
        if (tide_time_eq(tide_cap_time(pr->stash[i].cap), tide_cap_time(cap)))
            return &pr->stash[i];
    if (pr->nstash == pr->capstash) {
        pr->capstash = pr->capstash ? 2 * pr->capstash : 8;
        pr->stash = realloc(pr->stash, pr->capstash * sizeof *pr->stash);
        if (!pr->stash)
            tide_abort("pagerank: out of memory");
    }
    struct stash *s = &pr->stash[pr->nstash++];
    *s = (struct stash){ tide_cap_retain(cap), { NULL, 0, 0, sizeof(struct edge_change) },
                         { NULL, 0, 0, sizeof(struct rank_change) } };
    return s;
}

/* Adds @p diff to the multiplicity of edge to @p dst in a sorted list (dropping it at 0). */
static void add_edge(struct vec *edges, uint64_t dst, int64_t diff)
{
    struct rank_change *e = edges->data;
    size_t lo = 0, hi = edges->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e[mid].node < dst)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < edges->len && e[lo].node == dst) {
        if ((e[lo].diff += diff) == 0) {
            memmove(&e[lo], &e[lo + 1], (edges->len - lo - 1) * sizeof *e);
            edges->len--;
        }
        return;
    }
    vec_push(edges);
    e = edges->data;
    memmove(&e[lo + 1], &e[lo], (edges->len - 1 - lo) * sizeof *e);
    e[lo] = (struct rank_change){ dst, diff };
}

static void apply_edges(struct pagerank *pr, struct stash *s, tide_session *out)
{
    struct edge_change *c = s->edges.data;
    for (size_t i = 0; i < s->edges.len; i++) {
        struct vertex *v = vertex(pr, c[i].src);
        allocate(v, v->rank, -1, &pr->delta);
        size_t first = pr->delta.len;
        add_edge(&v->edges, c[i].dst, c[i].diff);
        allocate(v, v->rank, +1, &pr->delta);
        send_delta(pr, first, out);
    }
}

static void apply_ranks(struct pagerank *pr, struct stash *s, tide_session *out)
{
    compact(&s->ranks, &pr->tmp);
    const struct rank_change *c = s->ranks.data;
    int64_t sum = 0, max = 0;
    for (size_t i = 0; i < s->ranks.len; i++) {
        struct vertex *v = vertex(pr, c[i].node);
        int64_t size = c[i].diff < 0 ? -c[i].diff : c[i].diff;
        sum += size;
        max = size > max ? size : max;
        allocate(v, v->rank, -1, &pr->delta);
        size_t first = pr->delta.len;
        v->pending += c[i].diff;
        if (v->pending >= 6 || v->pending <= -6) {
            v->rank += v->pending;
            v->pending = 0;
        }
        allocate(v, v->rank, +1, &pr->delta);
        send_delta(pr, first, out);
    }
    printf("%.6fs:\t%" PRIu64 "\t%zu\t%" PRId64 "\t%" PRId64 "\n", example_now() - pr->start,
           tide_cap_epoch(s->cap), s->ranks.len, sum, max);
}

static void pagerank(tide_op *op, void *arg)
{
    struct pagerank *pr = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        const struct edge_change *c = tide_batch_records(b);
        struct stash *s = stash_at(pr, cap);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            *(struct edge_change *)vec_push(&s->edges) = c[i];
    }
    while (tide_op_next(op, 1, &cap, &b)) {
        const struct rank_change *c = tide_batch_records(b);
        struct stash *s = stash_at(pr, cap);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            *(struct rank_change *)vec_push(&s->ranks) = c[i];
    }
    const tide_antichain *f0 = tide_op_frontier(op, 0), *f1 = tide_op_frontier(op, 1);
    for (size_t i = 0; i < pr->nstash;) {
        struct stash *s = &pr->stash[i];
        const tide_time *t = tide_cap_time(s->cap);
        if (tide_antichain_less_equal(f0, t) || tide_antichain_less_equal(f1, t)) {
            i++;
            continue;
        }
        tide_session *out = tide_op_session(op, 0, s->cap);
        apply_edges(pr, s, out);
        if (s->ranks.len)
            apply_ranks(pr, s, out);
        tide_cap_drop(&s->cap);
        free(s->edges.data);
        free(s->ranks.data);
        *s = pr->stash[--pr->nstash];
    }
}

static void pagerank_free(void *arg)
{
    struct pagerank *pr = arg;
    for (size_t i = 0; i < pr->nv; i++)
        free(pr->v[i].edges.data);
    for (size_t i = 0; i < pr->nstash; i++) {
        tide_cap_drop(&pr->stash[i].cap);
        free(pr->stash[i].edges.data);
        free(pr->stash[i].ranks.data);
    }
    free(pr->v);
    free(pr->stash);
    free(pr->delta.data);
    free(pr->tmp.data);
    free(pr);
}

/* ---------------------------------------------------------------- driving it */

static uint64_t by_src(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct edge_change *)r)->src;
}

static uint64_t by_node_hash(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct rank_change *)r)->node;
}

struct args {
    uint64_t nodes, edges;
    const char *file; /* an edge list instead of random edges */
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

/* Sends this worker's share of the edge list: every peers-th edge line. Lines hold two node
 * ids; blank lines and lines starting with '#' are skipped. */
static int send_file(tide_worker *w, const char *path, size_t me, size_t peers,
                     tide_input *input)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "pagerank: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    uint64_t lineno = 0, edge = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        uint64_t src, dst;
        if (parse_ids(p, &src, &dst) != 0) {
            fprintf(stderr, "pagerank: %s:%" PRIu64 ": expected two node ids (0 to %llu)\n",
                    path, lineno, (unsigned long long)MAX_NODE);
            rc = -1;
        } else if (edge++ % peers == me) {
            struct edge_change e = { src, dst, 1 };
            wait_for_room(w, edge);
            tide_input_send(input, &e);
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "pagerank: reading '%s': %s\n", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && edge == 0) {
        fprintf(stderr, "pagerank: '%s' has no edges\n", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct pagerank *pr = calloc(1, sizeof *pr);
    if (!pr)
        return 1;
    pr->delta.size = pr->tmp.size = sizeof(struct rank_change);
    pr->start = example_now();
    tide_input *input;
    tide_loop *loop;
    tide_scope *scope = tide_dataflow_begin(w, "pagerank");
    tide_stream *edges = tide_input_new(scope, &edge_change_type, &input);
    tide_stream *ranks = tide_loop_variable(scope, 1, &rank_change_type, &loop);
    tide_stream *changes = tide_binary_frontier(edges, ranks, TIDE_EXCHANGE(by_src, NULL),
                                                TIDE_EXCHANGE(by_node_hash, NULL), "PageRank",
                                                &rank_change_type, pagerank, pr, pagerank_free);
    tide_probe *probe = tide_probe_new(changes);
    tide_loop_connect(loop, changes);
    tide_dataflow_end(scope);

    if (a->file) { /* the file's graph, then iterate until the ranks settle */
        if (send_file(w, a->file, me, peers, input) != 0)
            tide_abort("pagerank: no graph to rank");
        tide_input_close(input);
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
    struct args a = { .file = argc == 2 ? argv[1] : NULL };
    uint64_t number;
    if (a.file && example_parse(a.file, &number) == 0 && access(a.file, F_OK) != 0)
        a.file = NULL; /* NODES without EDGES, not a file name */
    if (!a.file && (argc != 3 || example_parse(argv[1], &a.nodes) ||
                    example_parse(argv[2], &a.edges))) {
        fprintf(stderr, "usage: pagerank NODES EDGES [tide options]  (positive integers)\n"
                        "       pagerank EDGE-LIST-FILE [tide options]  (lines 'SRC DST')\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
