/* SPDX-License-Identifier: MIT */
/*
 * The computations of the examples done sequentially, in the plainest way, for
 * tests/examples_seq.sh to compare with what the examples print in every shape, and
 * scripts/bench-cost to time the examples against. Inputs are drawn from the same sequences
 * (examples/example.h).
 *
 *   examples_seq bfs NODES EDGES          distance D: N nodes
 *   examples_seq hashjoin KEYS VALS       P joined pairs, checksum C
 *   examples_seq unionfind NODES EDGES    C components
 *   examples_seq unionfind-threads NODES EDGES   the same on two threads, as unionfind -w 2
 *   examples_seq loopdemo RATE SECONDS    N records, S steps
 *   examples_seq pagerank NODES EDGES     per time with rank changes: TIME COUNT SUM MAX
 *   examples_seq pagerank FILE            the same for an edge list
 *   examples_seq wordcount FILE...        per file: words, distinct words, the 10 most frequent
 *   examples_seq words LINES PER_LINE     wordcount's input for bench-cost (text)
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "../examples/example.h"

/* example_zalloc's pages, as the examples' (examples/example.h) */
static void *xcalloc(size_t n, size_t size)
{
    void *p = example_zalloc(n, size);
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
        /* examples/bfs.c's prefetches: a queued node's state 16 ahead, its edges 8 ahead;
         * and a target's distance 8 edges ahead */
        if (head + 16 < tail)
            __builtin_prefetch(&first[queue[head + 16]]);
        if (head + 8 < tail)
            __builtin_prefetch(&adj[first[queue[head + 8]]]);
        for (uint64_t e = first[n]; e < first[n + 1]; e++) {
            if (e + 8 < first[n + 1])
                __builtin_prefetch(&dist[adj[e + 8]]);
            if (dist[adj[e]] == UINT64_MAX) {
                dist[adj[e]] = dist[n] + 1;
                queue[tail++] = adj[e];
            }
        }
    }
    for (uint64_t d = 0; d <= maxd; d++)
        printf("distance %" PRIu64 ": %" PRIu64 " nodes\n", d, count[d]);
    free(src), free(dst), free(dist), free(queue), free(count), free(first), free(adj), free(fill);
}

/* ---------------------------------------------------------------- hashjoin */

/* The symmetric hash join of examples/hashjoin.c in one thread: each pair is joined with the
 * other side's values of its key seen so far, and every joined pair is formed and written
 * out (into a buffer of 1024, read back for the checksum when full, as a batch goes to the
 * dataflow's probe), so that COST compares the same work. A key's values from both sides
 * sit together, as in the example's table entries, in an array indexed by key; they grow
 * by doubling, in a pool as the example's (examples/example.h). */
struct values {
    uint64_t *v[2];
    uint32_t len[2]; /* their capacities follow (example_pool_cap), as in the example */
};

struct joined {
    uint64_t pair[1024][2];
    size_t n;
    uint64_t count, checksum;
};

static void joined_flush(struct joined *out)
{
    for (size_t i = 0; i < out->n; i++)
        out->checksum += out->pair[i][0] * out->pair[i][1];
    out->count += out->n;
    out->n = 0;
}

static void join_one(struct example_pool *pool, struct values *e, int side, uint64_t val,
                     struct joined *out)
{
    for (uint32_t k = 0; k < e->len[1 - side]; k++) {
        if (out->n == 1024)
            joined_flush(out);
        out->pair[out->n][side] = val;
        out->pair[out->n][1 - side] = e->v[1 - side][k];
        out->n++;
    }
    example_pool_grow(pool, &e->v[side], e->len[side]);
    e->v[side][e->len[side]++] = val;
}

static void hashjoin(uint64_t keys, uint64_t vals)
{
    struct values *entry = xcalloc(keys, sizeof *entry);
    struct joined *out = xcalloc(1, sizeof *out);
    struct example_pool pool = { 0 }; /* the values' arrays, as the example's */
    /* In chunks, so that the misses on a key's entry (24 pairs ahead) and on its values
     * (12 ahead, every line of the other side's) overlap, as examples/hashjoin.c prefetches
     * them. */
    enum { CHUNK = 2048, FAR = 24, NEAR = 12 };
    static uint64_t key[CHUNK], val[CHUNK];
    for (uint64_t c = 0; c < vals; c += CHUNK / 2) {
        size_t n = 0;
        for (uint64_t i = c; i < vals && i < c + CHUNK / 2; i++)
            for (int s = 0; s < 2; s++, n++) {
                uint64_t seed = 4 * i + 2 * (uint64_t)s;
                key[n] = example_random(&seed) % keys;
                val[n] = example_random(&seed) % keys;
            }
        for (size_t k = 0; k < n; k++) {
            if (k + FAR < n)
                __builtin_prefetch(&entry[key[k + FAR]]);
            if (k + NEAR < n) {
                const struct values *e = &entry[key[k + NEAR]];
                int s = (int)((k + NEAR) & 1);
                for (uint32_t j = 0; j < e->len[1 - s]; j += 8)
                    __builtin_prefetch(e->v[1 - s] + j);
                if (e->len[s])
                    __builtin_prefetch(e->v[s] + e->len[s], 1);
            }
            join_one(&pool, &entry[key[k]], (int)(k & 1), val[k], out);
        }
    }
    joined_flush(out);
    printf("%" PRIu64 " joined pairs, checksum %" PRIu64 "\n", out->count, out->checksum);
    for (uint64_t k = 0; k < keys; k++) {
        example_pool_drop(entry[k].v[0], entry[k].len[0]);
        example_pool_drop(entry[k].v[1], entry[k].len[1]);
    }
    example_pool_free(&pool);
    free(entry);
    free(out);
}

/* ---------------------------------------------------------------- wordcount */

/* examples/wordcount.c's counts per file in one thread: words are runs of letters,
 * lower-cased, at most 47 of them (longer runs are not words); an open-addressing table
 * from word to count, the words in one growing arena. */
#define MAX_WORD 47

struct word_slot {
    uint64_t hash, count;
    size_t at; /* offset of the word in the arena, + 1 (0: an empty slot) */
};

struct word_table {
    struct word_slot *slot;
    size_t mask, len;
    char *arena;
    size_t used, cap;
};

static uint64_t word_hash(const char *w, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)w[i]) * 0x100000001b3u;
    return h;
}

static void word_grow(struct word_table *t)
{
    size_t n = 2 * (t->mask + 1);
    struct word_slot *s = xcalloc(n, sizeof *s);
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slot[i].at) {
            size_t j = t->slot[i].hash & (n - 1);
            while (s[j].at)
                j = (j + 1) & (n - 1);
            s[j] = t->slot[i];
        }
    free(t->slot);
    t->slot = s;
    t->mask = n - 1;
}

/* Whether the @p n bytes at @p a and @p b are equal: whole words, the last one overlapping,
 * inline (strncmp, a call per lookup, was a third of this program's time, where the
 * dataflow's table compares inline). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8), memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8), memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static void word_add(struct word_table *t, const char *w, size_t n)
{
    uint64_t h = word_hash(w, n);
    size_t j = h & t->mask;
    for (; t->slot[j].at; j = (j + 1) & t->mask) {
        const char *o = t->arena + t->slot[j].at - 1;
        if (t->slot[j].hash == h && o[n] == 0 && same_bytes(o, w, n)) {
            t->slot[j].count++;
            return;
        }
    }
    if (t->used + n + 1 > t->cap) {
        t->cap = 2 * (t->used + n + 1);
        t->arena = realloc(t->arena, t->cap);
        if (!t->arena) {
            fprintf(stderr, "examples_seq: out of memory\n");
            exit(1);
        }
    }
    memcpy(t->arena + t->used, w, n);
    t->arena[t->used + n] = 0;
    t->slot[j] = (struct word_slot){ h, 1, t->used + 1 };
    t->used += n + 1;
    if (2 * ++t->len > t->mask)
        word_grow(t);
}

static const char *words_of; /* the arena, for by_count */

static int by_count(const void *a, const void *b)
{
    const struct word_slot *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(words_of + x->at - 1, words_of + y->at - 1);
}

static void wordcount(char **files, int nfiles)
{
    char *buf = xcalloc(1, 1 << 20);
    for (int f = 0; f < nfiles; f++) {
        FILE *in = fopen(files[f], "r");
        if (!in) {
            fprintf(stderr, "examples_seq: cannot open '%s'\n", files[f]);
            exit(1);
        }
        struct word_table t = { xcalloc(1024, sizeof(struct word_slot)), 1023, 0, NULL, 0, 0 };
        char word[MAX_WORD];
        size_t n = 0, got;
        bool too_long = false;
        uint64_t words = 0;
        /* a word ends at any byte that is not a letter, so also at the end of the file */
        do {
            got = fread(buf, 1, 1 << 20, in);
            for (size_t i = 0; i <= got; i++) {
                int c = i < got ? (unsigned char)buf[i] : 0;
                if ((unsigned)(c | 32) - (unsigned)'a' < 26u) {
                    if (n < MAX_WORD)
                        word[n++] = (char)(c | 32);
                    else
                        too_long = true;
                } else if (i < got || got == 0) {
                    if (n && !too_long)
                        word_add(&t, word, n), words++;
                    n = 0, too_long = false;
                }
            }
        } while (got);
        fclose(in);
        struct word_slot *all = xcalloc(t.len, sizeof *all);
        size_t d = 0;
        for (size_t i = 0; i <= t.mask; i++)
            if (t.slot[i].at)
                all[d++] = t.slot[i];
        words_of = t.arena;
        qsort(all, d, sizeof *all, by_count);
        printf("epoch %d (%s): %" PRIu64 " words, %zu distinct\n", f, files[f], words, d);
        for (size_t i = 0; i < d && i < 10; i++)
            printf("  %7" PRIu64 " %s\n", all[i].count, t.arena + all[i].at - 1);
        free(all), free(t.slot), free(t.arena);
    }
    free(buf);
}

/* wordcount's input for scripts/bench-cost, the same on every machine: @p lines lines of
 * @p per_line words drawn from 20000 made-up words of 2 to 9 letters, skewed towards the
 * first (word 20000 r^3 for r uniform in [0, 1)). */
static void words(uint64_t lines, uint64_t per_line)
{
    enum { VOCAB = 20000 };
    static char vocab[VOCAB][10];
    uint64_t rng = 7;
    for (int i = 0; i < VOCAB; i++) {
        int n = 2 + (int)(example_random(&rng) % 8);
        for (int k = 0; k < n; k++)
            vocab[i][k] = (char)('a' + example_random(&rng) % 26);
    }
    for (uint64_t l = 0; l < lines; l++)
        for (uint64_t k = 0; k < per_line; k++) {
            double r = (double)(example_random(&rng) >> 11) / 9007199254740992.0; /* 2^53 */
            fputs(vocab[(int)(VOCAB * r * r * r)], stdout);
            putchar(k + 1 < per_line ? ' ' : '\n');
        }
}

/* ---------------------------------------------------------------- unionfind */

/* Unites the n edges a[i]-b[i] in the forest (root, rank): examples/unionfind.c's loop,
 * the misses on an edge's nodes asked for 8 edges ahead. The roots each union joined go to
 * (jx, jy) when given. Returns the number of unions. */
static size_t unite_edges(uint32_t *root, uint8_t *rank, const uint32_t *a, const uint32_t *b,
                          size_t n, uint32_t *jx, uint32_t *jy)
{
    size_t unions = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 8 < n) {
            __builtin_prefetch(&root[a[i + 8]]);
            __builtin_prefetch(&root[b[i + 8]]);
        }
        uint32_t x = example_find_root(root, a[i]), y = example_find_root(root, b[i]);
        if (x == y)
            continue;
        if (jx) {
            jx[unions] = x;
            jy[unions] = y;
        }
        unions++;
        example_unite(root, rank, x, y);
    }
    return unions;
}

/* edges drawn and united in chunks, so that the prefetches have edges ahead to ask for */
enum { UF_CHUNK = 4096 };

static uint32_t *forest_new(uint64_t nodes, uint8_t **rank)
{
    uint32_t *root = xcalloc(nodes, 4);
    *rank = xcalloc(nodes, 1);
    for (uint64_t n = 0; n < nodes; n++)
        root[n] = (uint32_t)n;
    return root;
}

/* examples/unionfind.c's forest (example_find_root, example_unite): union by rank and path
 * halving, the fastest of the variants tried here (either alone takes twice the time) */
static void unionfind(uint64_t nodes, uint64_t edges)
{
    uint8_t *rank;
    uint32_t *root = forest_new(nodes, &rank);
    uint64_t components = nodes;
    static uint32_t a[UF_CHUNK], b[UF_CHUNK];
    for (uint64_t c = 0; c < edges; c += UF_CHUNK) {
        size_t n = edges - c < UF_CHUNK ? (size_t)(edges - c) : UF_CHUNK;
        for (size_t i = 0; i < n; i++)
            example_edge(c + i, nodes, &a[i], &b[i]);
        components -= unite_edges(root, rank, a, b, n, NULL, NULL);
    }
    printf("%" PRIu64 " components\n", components);
    free(root);
    free(rank);
}

/* The most unionfind -w 2 could make of its algorithm (timely's) here, with no dataflow:
 * two threads, each uniting every other chunk of the edges in a forest of its own; thread 1
 * appends the roots its unions join to an array, and thread 0 unites those in its forest
 * too, after each of its own chunks and at the end. Timed against the single thread by
 * scripts/bench-cost. */
struct uf_pair {
    uint64_t nodes, edges;
    uint32_t *jx, *jy;       /* thread 1's joins: at most nodes - 1 */
    _Atomic size_t joined;   /* how many of them thread 0 may read */
    _Atomic bool done;       /* thread 1 has no more */
    uint64_t unions;         /* thread 0's: the whole graph's, at the end */
};

struct uf_thread {
    struct uf_pair *pair;
    int me;
};

/* Thread 0: unites the joins thread 1 published since the last call (*merged of them). */
static size_t merge_joins(struct uf_pair *p, uint32_t *root, uint8_t *rank, size_t *merged)
{
    size_t ready = atomic_load_explicit(&p->joined, memory_order_acquire);
    size_t unions = unite_edges(root, rank, p->jx + *merged, p->jy + *merged, ready - *merged,
                                NULL, NULL);
    *merged = ready;
    return unions;
}

static void *unionfind_thread(void *arg)
{
    struct uf_thread *t = arg;
    struct uf_pair *p = t->pair;
    uint8_t *rank;
    uint32_t *root = forest_new(p->nodes, &rank); /* its pages first touched here */
    uint32_t a[UF_CHUNK], b[UF_CHUNK];
    size_t unions = 0, merged = 0;
    for (uint64_t c = (uint64_t)t->me * UF_CHUNK; c < p->edges; c += 2 * UF_CHUNK) {
        size_t n = p->edges - c < UF_CHUNK ? (size_t)(p->edges - c) : UF_CHUNK;
        for (size_t i = 0; i < n; i++)
            example_edge(c + i, p->nodes, &a[i], &b[i]);
        if (t->me == 1) {
            unions += unite_edges(root, rank, a, b, n, p->jx + unions, p->jy + unions);
            atomic_store_explicit(&p->joined, unions, memory_order_release);
            continue;
        }
        unions += unite_edges(root, rank, a, b, n, NULL, NULL);
        unions += merge_joins(p, root, rank, &merged);
    }
    if (t->me == 1) {
        atomic_store_explicit(&p->done, true, memory_order_release);
    } else {
        for (bool last = false; !last;) {
            /* done read first: the joins counted before it was set are all visible */
            last = atomic_load_explicit(&p->done, memory_order_acquire);
            unions += merge_joins(p, root, rank, &merged);
            if (!last)
                sched_yield();
        }
        p->unions = unions;
    }
    free(root);
    free(rank);
    return NULL;
}

static void unionfind_threads(uint64_t nodes, uint64_t edges)
{
    struct uf_pair p = { .nodes = nodes, .edges = edges };
    p.jx = xcalloc(nodes, 4);
    p.jy = xcalloc(nodes, 4);
    atomic_init(&p.joined, 0);
    atomic_init(&p.done, false);
    struct uf_thread t[2] = { { &p, 0 }, { &p, 1 } };
    pthread_t thread[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&thread[i], NULL, unionfind_thread, &t[i]) != 0) {
            fprintf(stderr, "examples_seq: could not start a thread\n");
            exit(1);
        }
    for (int i = 0; i < 2; i++)
        pthread_join(thread[i], NULL);
    printf("%" PRIu64 " components\n", nodes - p.unions);
    free(p.jx);
    free(p.jy);
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
 * change it has not applied yet. A target and its multiplicity lie together, as in the
 * example's lists (one miss per list, where two arrays made two). */
struct out_edge {
    uint64_t dst;
    int64_t mult;
};

struct vertex {
    struct out_edge *e;
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
        d[v->e[i].dst] += sign * v->e[i].mult * (all / degree + (i < all % degree));
}

/* Adds into @p d what @p v passes on changes by when its rank moves from @p from to @p to,
 * its targets unchanged: per target, the new share less the old, in one pass. */
static void pass_diff(const struct vertex *v, int64_t from, int64_t to, int64_t *d)
{
    if (!v->len)
        return;
    int64_t degree = (int64_t)v->len, was = from * 5 / 6, now = to * 5 / 6;
    int64_t was_share = was / degree, was_extra = was % degree;
    int64_t now_share = now / degree, now_extra = now % degree;
    for (int64_t i = 0; i < degree; i++)
        d[v->e[i].dst] +=
            v->e[i].mult * ((now_share + (i < now_extra)) - (was_share + (i < was_extra)));
}

static void change_edge(struct vertex *v, uint64_t dst, int64_t diff)
{
    size_t i = 0;
    while (i < v->len && v->e[i].dst < dst)
        i++;
    if (i < v->len && v->e[i].dst == dst) {
        if ((v->e[i].mult += diff) == 0) {
            memmove(v->e + i, v->e + i + 1, (v->len - i - 1) * sizeof *v->e);
            v->len--;
        }
        return;
    }
    if (v->len == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4;
        if (!(v->e = realloc(v->e, v->cap * sizeof *v->e)))
            exit(1);
    }
    memmove(v->e + i + 1, v->e + i, (v->len - i) * sizeof *v->e);
    v->e[i] = (struct out_edge){ dst, diff };
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
            /* examples/pagerank.c's prefetches: a source's vertex 16 changes ahead, its
             * targets 8 ahead (and below, a changed node's 8 nodes ahead) */
            const struct edge_change *c = changes[t];
            if (i + 16 < n[t])
                __builtin_prefetch(&v[c[i + 16].src]);
            if (i + 8 < n[t]) {
                __builtin_prefetch(v[c[i + 8].src].e);
            }
            struct vertex *s = &v[changes[t][i].src];
            pass_on(s, -1, next);
            change_edge(s, changes[t][i].dst, changes[t][i].diff);
            pass_on(s, +1, next);
        }
        uint64_t count = 0;
        int64_t sum = 0, max = 0;
        for (uint64_t k = 0; k < nodes; k++) {
            if (k + 8 < nodes && now[k + 8])
                __builtin_prefetch(v[k + 8].e);
            if (!now[k])
                continue;
            int64_t size = now[k] < 0 ? -now[k] : now[k];
            count++;
            sum += size;
            max = size > max ? size : max;
            int64_t was = v[k].rank;
            v[k].pending += now[k];
            if (v[k].pending >= 6 || v[k].pending <= -6) {
                v[k].rank += v[k].pending;
                v[k].pending = 0;
            }
            pass_diff(&v[k], was, v[k].rank, next);
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
        free(v[i].e);
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
    if (argc >= 3 && strcmp(argv[1], "wordcount") == 0) {
        wordcount(argv + 2, argc - 2);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "pagerank") == 0) {
        pagerank_file(argv[2]);
        return 0;
    }
    static const char usage[] =
        "usage: examples_seq bfs|hashjoin|unionfind|unionfind-threads|loopdemo|pagerank|words "
        "A B\n"
        "       examples_seq pagerank FILE | wordcount FILE...\n";
    if (argc != 4 || example_parse(argv[2], &x) || example_parse(argv[3], &y)) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "bfs") == 0)
        bfs(x, y);
    else if (strcmp(argv[1], "hashjoin") == 0)
        hashjoin(x, y);
    else if (strcmp(argv[1], "unionfind") == 0)
        unionfind(x, y);
    else if (strcmp(argv[1], "unionfind-threads") == 0)
        unionfind_threads(x, y);
    else if (strcmp(argv[1], "loopdemo") == 0)
        loopdemo(x, y);
    else if (strcmp(argv[1], "pagerank") == 0)
        pagerank_random(x, y);
    else if (strcmp(argv[1], "words") == 0)
        words(x, y);
    else {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}
