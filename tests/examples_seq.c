/* SPDX-License-Identifier: MIT */
/*
 * The computations of the examples done sequentially, in the plainest way, for
 * tests/examples_seq.sh to compare with what the examples print in every shape. Inputs are
 * drawn from the same sequences (examples/example.h).
 *
 *   examples_seq bfs NODES EDGES          distance D: N nodes
 *   examples_seq hashjoin KEYS VALS       P joined pairs, checksum C
 *   examples_seq unionfind NODES EDGES    C components
 *   examples_seq loopdemo RATE SECONDS    N records, S steps
 *   examples_seq pagerank NODES EDGES     per time with rank changes: TIME COUNT SUM MAX
 *   examples_seq pagerank FILE            the same for an edge list
 */
#include <inttypes.h>
#include <string.h>

#include "../examples/example.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "examples_seq: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---------------------------------------------------------------- bfs */

static void bfs(uint64_t nodes, uint64_t edges)
{
    uint32_t *src = xcalloc(edges, 4), *dst = xcalloc(edges, 4);
    uint64_t *dist = xcalloc(nodes, 8), *queue = xcalloc(nodes, 8), *count = xcalloc(nodes, 8);
    uint64_t *first = xcalloc(nodes + 1, 8), *adj = xcalloc(edges, 8);
    for (uint64_t i = 0; i < edges; i++) {
        example_edge(i, nodes, &src[i], &dst[i]);
        first[src[i] + 1]++;
    }
    for (uint64_t n = 0; n < nodes; n++)
        first[n + 1] += first[n];
    uint64_t *fill = xcalloc(nodes, 8);
    for (uint64_t i = 0; i < edges; i++)
        adj[first[src[i]] + fill[src[i]]++] = dst[i];
    for (uint64_t n = 0; n < nodes; n++)
        dist[n] = UINT64_MAX;
    uint64_t head = 0, tail = 0, maxd = 0;
    dist[0] = 0;
    queue[tail++] = 0;
    while (head < tail) {
        uint64_t n = queue[head++];
        count[dist[n]]++;
        maxd = dist[n];
        for (uint64_t e = first[n]; e < first[n + 1]; e++)
            if (dist[adj[e]] == UINT64_MAX) {
                dist[adj[e]] = dist[n] + 1;
                queue[tail++] = adj[e];
            }
    }
    for (uint64_t d = 0; d <= maxd; d++)
        printf("distance %" PRIu64 ": %" PRIu64 " nodes\n", d, count[d]);
    free(src), free(dst), free(dist), free(queue), free(count), free(first), free(adj), free(fill);
}

/* ---------------------------------------------------------------- hashjoin */

static void hashjoin(uint64_t keys, uint64_t vals)
{
    /* per key: how many values each side has, and their sums (the checksum is the sum over
     * keys of sum1 * sum2) */
    uint64_t *n1 = xcalloc(keys, 8), *n2 = xcalloc(keys, 8), *s1 = xcalloc(keys, 8),
             *s2 = xcalloc(keys, 8);
    for (uint64_t i = 0; i < vals; i++)
        for (int side = 0; side < 2; side++) {
            uint64_t s = 4 * i + 2 * (uint64_t)side;
            uint64_t key = example_random(&s) % keys, val = example_random(&s) % keys;
            (side ? n2 : n1)[key]++;
            (side ? s2 : s1)[key] += val;
        }
    uint64_t pairs = 0, checksum = 0;
    for (uint64_t k = 0; k < keys; k++) {
        pairs += n1[k] * n2[k];
        checksum += s1[k] * s2[k];
    }
    printf("%" PRIu64 " joined pairs, checksum %" PRIu64 "\n", pairs, checksum);
    free(n1), free(n2), free(s1), free(s2);
}

/* ---------------------------------------------------------------- unionfind */

static uint64_t root_of(uint64_t *parent, uint64_t x)
{
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

static void unionfind(uint64_t nodes, uint64_t edges)
{
    uint64_t *parent = xcalloc(nodes, 8), components = nodes;
    for (uint64_t n = 0; n < nodes; n++)
        parent[n] = n;
    for (uint64_t i = 0; i < edges; i++) {
        uint32_t a, b;
        example_edge(i, nodes, &a, &b);
        uint64_t x = root_of(parent, a), y = root_of(parent, b);
        if (x != y) {
            parent[x] = y;
            components--;
        }
    }
    printf("%" PRIu64 " components\n", components);
    free(parent);
}

/* ---------------------------------------------------------------- loopdemo */

static void loopdemo(uint64_t rate, uint64_t seconds)
{
    uint64_t steps = 0;
    for (uint64_t n = 0; n < rate * seconds; n++) {
        uint64_t x = n;
        do {
            x = x % 2 == 0 ? x / 2 : 3 * x + 1;
            steps++;
        } while (x > 1);
    }
    printf("%" PRIu64 " records, %" PRIu64 " steps\n", rate * seconds, steps);
}

/* ---------------------------------------------------------------- pagerank */

/* A vertex's out-edges as (target, multiplicity) sorted by target, its rank and the rank
 * change it has not applied yet. */
struct vertex {
    uint64_t *dst;
    int64_t *mult;
    size_t len, cap;
    int64_t rank, pending;
};

/* Adds @p sign times what @p v passes on to its targets into @p d: 5/6 of its rank shared
 * among its distinct targets, the remainder one each to the first targets. */
static void pass_on(const struct vertex *v, int64_t sign, int64_t *d)
{
    if (!v->len)
        return;
    int64_t degree = (int64_t)v->len, all = v->rank * 5 / 6;
    for (int64_t i = 0; i < degree; i++)
        d[v->dst[i]] += sign * v->mult[i] * (all / degree + (i < all % degree));
}

static void change_edge(struct vertex *v, uint64_t dst, int64_t diff)
{
    size_t i = 0;
    while (i < v->len && v->dst[i] < dst)
        i++;
    if (i < v->len && v->dst[i] == dst) {
        if ((v->mult[i] += diff) == 0) {
            memmove(v->dst + i, v->dst + i + 1, (v->len - i - 1) * 8);
            memmove(v->mult + i, v->mult + i + 1, (v->len - i - 1) * 8);
            v->len--;
        }
        return;
    }
    if (v->len == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4;
        v->dst = realloc(v->dst, v->cap * 8);
        v->mult = realloc(v->mult, v->cap * 8);
        if (!v->dst || !v->mult)
            exit(1);
    }
    memmove(v->dst + i + 1, v->dst + i, (v->len - i) * 8);
    memmove(v->mult + i + 1, v->mult + i, (v->len - i) * 8);
    v->dst[i] = dst;
    v->mult[i] = diff;
    v->len++;
}

struct edge_change {
    uint64_t src, dst;
    int64_t diff;
};

/* Runs the times: changes[t] (n[t] of them) arrive at time t, for t < times. */
static void pagerank(uint64_t nodes, struct edge_change **changes, size_t *n, uint64_t times)
{
    struct vertex *v = xcalloc(nodes, sizeof *v);
    for (uint64_t i = 0; i < nodes; i++)
        v[i].rank = 1000;
    int64_t *now = xcalloc(nodes, 8), *next = xcalloc(nodes, 8);
    bool more = true;
    for (uint64_t t = 0; t < times || more; t++) {
        for (size_t i = 0; t < times && i < n[t]; i++) {
            struct vertex *s = &v[changes[t][i].src];
            pass_on(s, -1, next);
            change_edge(s, changes[t][i].dst, changes[t][i].diff);
            pass_on(s, +1, next);
        }
        uint64_t count = 0;
        int64_t sum = 0, max = 0;
        for (uint64_t k = 0; k < nodes; k++) {
            if (!now[k])
                continue;
            int64_t size = now[k] < 0 ? -now[k] : now[k];
            count++;
            sum += size;
            max = size > max ? size : max;
            pass_on(&v[k], -1, next);
            v[k].pending += now[k];
            if (v[k].pending >= 6 || v[k].pending <= -6) {
                v[k].rank += v[k].pending;
                v[k].pending = 0;
            }
            pass_on(&v[k], +1, next);
        }
        if (count)
            printf("%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 "\n", t, count, sum, max);
        int64_t *tmp = now;
        now = next;
        next = tmp;
        memset(next, 0, nodes * 8);
        more = false;
        for (uint64_t k = 0; k < nodes && !more; k++)
            more = now[k] != 0;
    }
    for (uint64_t i = 0; i < nodes; i++)
        free(v[i].dst), free(v[i].mult);
    free(v), free(now), free(next);
}

static struct edge_change random_change(uint64_t *rng, uint64_t nodes, int64_t diff)
{
    uint64_t src = example_random(rng) % nodes;
    return (struct edge_change){ src, example_random(rng) % nodes, diff };
}

static void pagerank_random(uint64_t nodes, uint64_t edges)
{
    struct edge_change *c[1000];
    size_t n[1000];
    uint64_t adds = 1, dels = 1;
    c[0] = xcalloc(edges, sizeof **c);
    n[0] = edges;
    for (uint64_t i = 0; i < edges; i++)
        c[0][i] = random_change(&adds, nodes, 1);
    for (int t = 1; t < 1000; t++) {
        c[t] = xcalloc(2, sizeof **c);
        n[t] = 2;
        c[t][0] = random_change(&adds, nodes, 1);
        c[t][1] = random_change(&dels, nodes, -1);
    }
    pagerank(nodes, c, n, 1000);
    for (int t = 0; t < 1000; t++)
        free(c[t]);
}

static void pagerank_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    struct edge_change *c = NULL;
    size_t n = 0, cap = 0;
    uint64_t nodes = 0;
    unsigned long long a, b;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%llu %llu", &a, &b) != 2)
            continue;
        if (n == cap && !(c = realloc(c, (cap = cap ? 2 * cap : 1024) * sizeof *c)))
            exit(1);
        c[n++] = (struct edge_change){ a, b, 1 };
        nodes = a >= nodes ? a + 1 : nodes;
        nodes = b >= nodes ? b + 1 : nodes;
    }
    fclose(f);
    pagerank(nodes, &c, &n, 1);
    free(c);
}

int main(int argc, char **argv)
{
    uint64_t x = 0, y = 0;
    if (argc == 3 && strcmp(argv[1], "pagerank") == 0) {
        pagerank_file(argv[2]);
        return 0;
    }
    if (argc != 4 || example_parse(argv[2], &x) || example_parse(argv[3], &y)) {
        fprintf(stderr, "usage: examples_seq bfs|hashjoin|unionfind|loopdemo|pagerank A B\n");
        return 2;
    }
    if (strcmp(argv[1], "bfs") == 0)
        bfs(x, y);
    else if (strcmp(argv[1], "hashjoin") == 0)
        hashjoin(x, y);
    else if (strcmp(argv[1], "unionfind") == 0)
        unionfind(x, y);
    else if (strcmp(argv[1], "loopdemo") == 0)
        loopdemo(x, y);
    else if (strcmp(argv[1], "pagerank") == 0)
        pagerank_random(x, y);
    else
        return 2;
    return 0;
}
