/* SPDX-License-Identifier: MIT */
/*
 * Why the library cuts its own medium buffers: the batches in flight between operators
 * (a session's 32 KiB, staging's 64 KiB) came from the worker threads' glibc arenas, in
 * 4 KiB pages, and a dataflow that holds a round's records at once (bfs's visits of a
 * level, pagerank's first round) touched each page of them afresh, a fault each: bfs
 * 1000000 10000000 -w 1 took 13,000 faults where its single-threaded program took 200,
 * on a VM where a fault costs some 7 us. Here they come from chunks of 2 MiB, aligned and
 * advised into huge pages (one fault each), kept while any block in them is in use, and a
 * block freed by any thread (batches cross threads) serves the next of its size on any
 * thread of its NUMA node. A chunk's header sits in its first 64 bytes, so a block finds
 * its chunk by rounding its address down.
 *
 * Per NUMA node: glibc's arenas are the threads', so a worker's batches were pages it had
 * touched first, on its own node; a slab shared by the whole rank would hand a worker on
 * one socket blocks last written on the other. Each node has its lists (the node of the
 * allocating thread's CPU at the time, which a pinned worker keeps), and a chunk's pages
 * are first touched by a thread of its node.
 */
/* getcpu (glibc 2.29 and later) */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bufpool_internal.h"
#include "slab_internal.h"
#include "wire_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* Blocks not handed out, and a block's bytes past what was asked, are poisoned, so that
 * AddressSanitizer sees overruns and uses after free as it does for malloc's. */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK ((size_t)2 << 20)
#define HEADER 64
#define CLASSES 5 /* 16 KiB << 0..4 of data, each with its headroom */

struct block {
    struct block *next;
};

struct chunk {
    struct chunk *next, *prev; /* among its class's open chunks, or the empty ones */
    struct block *freed;       /* blocks given back, to hand out first */
    unsigned node, cls;        /* its lists */
    unsigned live, carved;     /* blocks in use; blocks cut so far (the rest untouched) */
    bool huge;                 /* mapped in huge pages (for its life, whatever its class) */
};
_Static_assert(sizeof(struct chunk) <= HEADER, "a chunk's header fits its first line");

/* Per node (nodes past TIDE__SLAB_NODES share lists, modulo) and class: the chunks that
 * have a block to give (freed, or not yet cut). */
static struct {
    pthread_mutex_t mu;
    struct chunk *open;
} classes[TIDE__SLAB_NODES][CLASSES];

/* Per node: empty chunks kept for reuse; and how many chunks are mapped in all. */
static pthread_mutex_t empty_mu = PTHREAD_MUTEX_INITIALIZER;
static struct chunk *empty[TIDE__SLAB_NODES];
static size_t nempty[TIDE__SLAB_NODES], nchunks;
/* Chunks mapped in huge pages, and how many may be. A huge page is resident whole, so a
 * batch's untouched tail costs memory that in 4 KiB pages it does not: `skew 33554432 0
 * -w 2` (512 MiB of records piling up in front of worker 0, no budget, its batches two
 * thirds full) peaked at 1054 MB with every chunk huge against 605 MB in glibc's pages.
 * Past the first 256 MiB, chunks come in 4 KiB pages (MADV_NOHUGEPAGE, for systems whose
 * THP mode is "always"): what a dataflow keeps in flight normally (bfs's and pagerank's
 * rounds: some 100 MB) stays in huge pages, a pile-up costs what glibc's pages did. */
static size_t nhuge, huge_max = TIDE__SLAB_HUGE_CHUNKS;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_locks(void)
{
    for (unsigned n = 0; n < TIDE__SLAB_NODES; n++)
        for (unsigned c = 0; c < CLASSES; c++)
            pthread_mutex_init(&classes[n][c].mu, NULL);
}

/* The NUMA node of the CPU this thread runs on (0 where the C library cannot tell). */
static unsigned current_node(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    unsigned cpu, node;
    if (getcpu(&cpu, &node) == 0)
        return node % TIDE__SLAB_NODES;
#endif
    return 0;
}

/* A block's bytes: its class's data and headroom, rounded up to a cache line. */
static size_t block_bytes(unsigned c)
{
    return (TIDE__HEADROOM + (TIDE__SLAB_MIN << c) + 63) & ~(size_t)63;
}

static unsigned blocks_per_chunk(unsigned c)
{
    return (unsigned)((CHUNK - HEADER) / block_bytes(c));
}

bool tide__slab_fits(size_t bytes)
{
    return bytes >= TIDE__SLAB_MIN && bytes <= block_bytes(CLASSES - 1);
}

/* The smallest class whose blocks hold @p bytes (tide__slab_fits). */
static unsigned class_of(size_t bytes)
{
    unsigned c = 0;
    while (block_bytes(c) < bytes)
        c++;
    return c;
}

static void unlink_chunk(struct chunk **list, struct chunk *ch)
{
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        *list = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    ch->next = ch->prev = NULL;
}

static void push_chunk(struct chunk **list, struct chunk *ch)
{
    ch->prev = NULL;
    ch->next = *list;
    if (*list)
        (*list)->prev = ch;
    *list = ch;
}

/* An empty chunk of node @p node: a kept one, else a new mapping (NULL when out of
 * memory), whose pages the caller, on that node, touches first. */
static struct chunk *chunk_get(unsigned node)
{
    pthread_mutex_lock(&empty_mu);
    struct chunk *ch = empty[node];
    if (ch) {
        unlink_chunk(&empty[node], ch);
        nempty[node]--;
    }
    pthread_mutex_unlock(&empty_mu);
    if (ch)
        return ch;
    unsigned char *m = tide__huge_map(CHUNK);
    if (!m)
        return NULL;
    pthread_mutex_lock(&empty_mu);
    nchunks++;
    bool huge = nhuge < huge_max;
    nhuge += huge;
    pthread_mutex_unlock(&empty_mu);
#ifdef MADV_NOHUGEPAGE
    if (!huge) /* before anything touches it: advice, failing it costs only memory */
        madvise(m, CHUNK, MADV_NOHUGEPAGE);
#endif
    ch = (struct chunk *)(void *)m;
    ch->huge = huge;
    POISON(m + HEADER, CHUNK - HEADER);
    return ch;
}

/* Keeps an emptied chunk for reuse on its node, or unmaps it when enough are kept there. */
static void chunk_put(struct chunk *ch)
{
    pthread_mutex_lock(&empty_mu);
    bool keep = nempty[ch->node] < TIDE__SLAB_KEEP_EMPTY;
    if (keep) {
        push_chunk(&empty[ch->node], ch);
        nempty[ch->node]++;
    } else {
        nchunks--;
        nhuge -= ch->huge;
    }
    pthread_mutex_unlock(&empty_mu);
    if (!keep) {
        UNPOISON(ch, CHUNK); /* a later mapping here starts clean */
        tide__huge_unmap(ch, CHUNK);
    }
}

/* A block given back that its chunk does not know at that size: the library's own bug
 * (its callers free with the size they allocated with), or memory overwritten. Stops here,
 * where carrying on would hand the block out twice. (No tide__fatal: the slab stays a
 * leaf, which the wire's fuzz target links alone.) */
static _Noreturn void misfreed(const unsigned char *p, size_t bytes)
{
    fprintf(stderr, "tide: fatal: a batch buffer of %zu bytes at %p given back to the wrong "
                    "chunk (the library's bug, or memory overwritten)\n",
            bytes, (const void *)p);
    abort();
}

unsigned char *tide__slab_alloc(size_t bytes) { return tide__slab_alloc_on(bytes, current_node()); }

unsigned char *tide__slab_alloc_on(size_t bytes, unsigned node)
{
    pthread_once(&once, init_locks);
    unsigned c = class_of(bytes);
    node %= TIDE__SLAB_NODES;
    pthread_mutex_t *mu = &classes[node][c].mu;
    struct chunk **open = &classes[node][c].open;
    pthread_mutex_lock(mu);
    struct chunk *ch = *open;
    if (!ch) {
        if (!(ch = chunk_get(node))) {
            pthread_mutex_unlock(mu);
            return NULL;
        }
        *ch = (struct chunk){ .node = node, .cls = c, .huge = ch->huge };
        push_chunk(open, ch);
    }
    struct block *b = ch->freed;
    if (b) {
        UNPOISON(b, sizeof *b);
        ch->freed = b->next;
    } else {
        b = (struct block *)(void *)((unsigned char *)ch + HEADER + ch->carved++ * block_bytes(c));
    }
    ch->live++;
    if (!ch->freed && ch->carved == blocks_per_chunk(c))
        unlink_chunk(open, ch); /* full */
    pthread_mutex_unlock(mu);
    UNPOISON(b, bytes);
    return (unsigned char *)b;
}

void tide__slab_free(unsigned char *p, size_t bytes)
{
    unsigned c = class_of(bytes);
    struct chunk *ch = (struct chunk *)((uintptr_t)p & ~(uintptr_t)(CHUNK - 1));
    struct block *b = (struct block *)(void *)p;
    /* The chunk's node is fixed while it has blocks in use: the block's hand-off to this
     * thread ordered its write before this read. */
    unsigned node = ch->node;
    if (node >= TIDE__SLAB_NODES || ch->cls != c)
        misfreed(p, bytes);
    pthread_mutex_t *mu = &classes[node][c].mu;
    pthread_mutex_lock(mu);
    bool was_full = !ch->freed && ch->carved == blocks_per_chunk(c);
    UNPOISON(b, sizeof *b);
    b->next = ch->freed;
    ch->freed = b;
    POISON(b, block_bytes(c));
    if (was_full)
        push_chunk(&classes[node][c].open, ch);
    bool emptied = --ch->live == 0;
    if (emptied)
        unlink_chunk(&classes[node][c].open, ch);
    pthread_mutex_unlock(mu);
    if (emptied)
        chunk_put(ch);
}

void tide__slab_set_huge_chunks(size_t n)
{
    pthread_mutex_lock(&empty_mu);
    huge_max = n;
    pthread_mutex_unlock(&empty_mu);
}

struct tide__slab_stats tide__slab_stats(void)
{
    pthread_mutex_lock(&empty_mu);
    struct tide__slab_stats s = { nchunks, 0, nhuge };
    for (unsigned n = 0; n < TIDE__SLAB_NODES; n++)
        s.empty += nempty[n];
    pthread_mutex_unlock(&empty_mu);
    return s;
}
