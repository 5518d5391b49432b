/* SPDX-License-Identifier: MIT */
/* What the example programs share: a clock, argument parsing, the random sequence their
 * generated inputs come from (the tests regenerate it to compute the same results alone). */
#ifndef TIDE_EXAMPLE_H
#define TIDE_EXAMPLE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <tide.h>

/* Seconds on a monotonic clock. */
static inline double example_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A decimal integer of digits only (no blanks, no sign, below 2^64), at least @p min;
 * -1 for anything else. */
static inline int example_parse_min(const char *s, uint64_t min, uint64_t *v)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    *v = strtoull(s, &end, 10);
    return errno || *end || *v < min ? -1 : 0;
}

/* A positive decimal integer; -1 for anything else. */
static inline int example_parse(const char *s, uint64_t *v)
{
    return example_parse_min(s, 1, v);
}

/* The next value of a splitmix64 sequence whose state is *s. */
static inline uint64_t example_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random edge @p i among @p nodes nodes: drawn from the sequence seeded by 2 i, so any
 * worker can draw any edge, and a graph split among workers is the same in every shape. */
static inline void example_edge(uint64_t i, uint64_t nodes, uint32_t *src, uint32_t *dst)
{
    uint64_t s = 2 * i;
    *src = (uint32_t)(example_random(&s) % nodes);
    *dst = (uint32_t)(example_random(&s) % nodes);
}

/* A union-find forest (unionfind's, and its single-threaded program's): the root of @p x,
 * halving the path on the way (each node pointed at its grandparent, so later walks are
 * shorter: with union by rank, half the time of either alone here). */
static inline uint32_t example_find_root(uint32_t *root, uint32_t x)
{
    while (root[x] != x)
        x = root[x] = root[root[x]];
    return x;
}

/* Unites the trees of roots @p x and @p y (x != y), the lower ranked under the other. */
static inline void example_unite(uint32_t *root, uint8_t *rank, uint32_t x, uint32_t y)
{
    if (rank[x] < rank[y]) {
        root[x] = y;
    } else {
        root[y] = x;
        if (rank[x] == rank[y])
            rank[x]++;
    }
}

/* Zeroed memory, as calloc's, whose every page is first touched here by a write. A fresh
 * page of calloc's zeros that is read first maps the kernel's shared zero page, and the
 * first write after copies it: a fault that flushes the TLBs of the cores running the
 * process's other threads, which then miss on their next lookups (unionfind -w 2: 6.5%
 * of its time in those flushes, 0.92x the time with its ranks allocated here). From 2 MiB
 * it is aligned to 2 MiB and asked for in huge pages, as tide's own large buffers are: one
 * fault per 2 MiB where a virtual machine pays some 7 us per 4 KiB page (the single-threaded
 * programs of tests/examples_seq.c allocate here too: bfs 0.70x its time). Free with
 * free(). */
#define EXAMPLE_HUGE ((size_t)2 << 20)
static inline void *example_zalloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    if (bytes >= EXAMPLE_HUGE && bytes <= SIZE_MAX - EXAMPLE_HUGE) {
        size_t whole = (bytes + EXAMPLE_HUGE - 1) & ~(EXAMPLE_HUGE - 1);
        unsigned char *p = aligned_alloc(EXAMPLE_HUGE, whole);
        if (p) {
#ifdef MADV_HUGEPAGE
            madvise(p, whole, MADV_HUGEPAGE); /* advice: failing it costs only speed */
#endif
            memset(p, 0, bytes);
        }
        return p;
    }
    unsigned char *p = calloc(n ? n : 1, size ? size : 1);
    for (size_t at = 0; p && at < bytes; at += 4096)
        ((volatile unsigned char *)p)[at] = 0;
    return p;
}

/* Arrays of uint64_t that grow by doubling, cut from a pool of their owner's: blocks of
 * 1 MiB, and an array that a doubling leaves behind is kept for the next array of its
 * size. realloc per doubling cost hashjoin a third of its time on a worker thread (glibc
 * trims and consolidates a thread's arena as it goes), 1.75 times what the same reallocs
 * cost the single-threaded program. Arrays past 4 KiB are malloc's. */
#define EXAMPLE_POOL_BLOCK ((size_t)1 << 20)
#define EXAMPLE_POOL_MAX ((size_t)4 << 10)
#define EXAMPLE_POOL_CLASSES 8 /* arrays of 4 << k values, 32 B to EXAMPLE_POOL_MAX */

struct example_pool {
    unsigned char *at, *end; /* the rest of the newest block */
    void **blocks;
    size_t nblocks;
    uint64_t *spare[EXAMPLE_POOL_CLASSES]; /* kept arrays, linked through their first value */
};

static inline void *example_pool_cut(struct example_pool *p, size_t bytes)
{
    if ((size_t)(p->end - p->at) < bytes) {
        void **blocks = realloc(p->blocks, (p->nblocks + 1) * sizeof *blocks);
        unsigned char *b = malloc(EXAMPLE_POOL_BLOCK);
        if (!blocks || !b) {
            fprintf(stderr, "example: out of memory\n");
            exit(1);
        }
        p->blocks = blocks;
        p->blocks[p->nblocks++] = b;
        p->at = b;
        p->end = b + EXAMPLE_POOL_BLOCK;
    }
    void *v = p->at;
    p->at += bytes;
    return v;
}

/* The capacity of an array of @p len values grown by example_pool_grow: 0 when empty, else
 * the power of two from 4 up that holds them. It follows from the length, so an owner
 * keeps only that (hashjoin's table entry: 24 bytes, not 32). */
static inline uint32_t example_pool_cap(uint32_t len)
{
    return len == 0 ? 0 : len <= 4 ? 4 : (uint32_t)1 << (32 - __builtin_clz(len - 1));
}

/* Room for one more value at the end of *v, which holds @p len: the array twice as large
 * (4 when empty) when it is full. */
static inline void example_pool_grow(struct example_pool *p, uint64_t **v, uint32_t len)
{
    size_t old = (size_t)example_pool_cap(len) * 8;
    if (len * (size_t)8 < old)
        return;
    size_t bytes = old ? 2 * old : 32;
    unsigned k = 0;
    while (((size_t)32 << k) < bytes && k < EXAMPLE_POOL_CLASSES)
        k++;
    uint64_t *n;
    if (bytes > EXAMPLE_POOL_MAX) {
        n = old > EXAMPLE_POOL_MAX ? realloc(*v, bytes) : malloc(bytes);
        if (!n) {
            fprintf(stderr, "example: out of memory\n");
            exit(1);
        }
        if (old > EXAMPLE_POOL_MAX) {
            *v = n;
            return;
        }
    } else if ((n = p->spare[k])) {
        memcpy(&p->spare[k], n, sizeof n);
    } else {
        n = example_pool_cut(p, bytes);
    }
    if (len)
        memcpy(n, *v, (size_t)len * 8);
    if (old) { /* pooled (it is not past EXAMPLE_POOL_MAX): kept for the next of its size */
        memcpy(*v, &p->spare[k - 1], sizeof *v);
        p->spare[k - 1] = *v;
    }
    *v = n;
}

/* Frees array @p v of @p len values when it is malloc's (the pool's go with the pool). */
static inline void example_pool_drop(uint64_t *v, uint32_t len)
{
    if ((size_t)example_pool_cap(len) * 8 > EXAMPLE_POOL_MAX)
        free(v);
}

/* Frees the pool's blocks (and with them every array cut from them). */
static inline void example_pool_free(struct example_pool *p)
{
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    memset(p, 0, sizeof *p);
}

/* The program's own arguments (after tide's options are taken out), NUL-separated. */
static char example_args[4096];
static size_t example_args_len;

/* Takes tide's options out of argv into *cfg (exits with the message on a bad one), and
 * makes stdout line-buffered: workers of several ranks print through one launcher, which
 * would otherwise interleave pieces of their buffers. */
static inline void example_config(const char *prog, tide_config *cfg, int *argc, char **argv)
{
    if (tide_config_init(cfg) != 0 || tide_config_from_args(cfg, argc, argv) != 0) {
        fprintf(stderr, "%s: %s\n", prog, cfg->error);
        exit(2);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    example_args_len = 0;
    for (int i = 1; i < *argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        if (example_args_len + n > sizeof example_args)
            n = sizeof example_args - example_args_len; /* the rest still goes in the check */
        memcpy(example_args + example_args_len, argv[i], n);
        example_args_len += n;
    }
}

/* Stops the job unless every worker's program was given the same arguments (call at the
 * start of the worker function). */
static inline void example_check_args(tide_worker *w)
{
    tide_check_same(w, "program arguments", example_args, example_args_len);
}

#endif
