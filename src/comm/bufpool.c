/* SPDX-License-Identifier: MIT */
/*
 * Why a pool: under --memory the batches a rank holds stay under the budget, yet glibc
 * gives each thread an arena of its own, and a buffer freed into one arena serves only the
 * threads of that arena. Buffers that move between threads (a producer's batches spilled
 * and read back by the consumer, staging handed back to its sender) then leave each arena
 * as large as the most it ever held, and the rank's RSS grows with the input: `skew
 * 268435456 0 -w 2 --memory 512M` (4 GiB pushed) peaked at 825 MiB RSS, and at 539 MiB with
 * a single arena. Recycling buffers rank-wide, by power-of-two size, makes a buffer freed by
 * any thread serve the next of its size on any thread, so what the rank keeps follows what
 * it holds at once. Off without --memory: the per-thread arenas are faster where memory is
 * not bounded.
 */
/* MAP_ANONYMOUS and madvise, which strict C11 hides */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufpool_internal.h"
#include "slab_internal.h"
#include "wire_internal.h"

/* Sizes are TIDE__HEADROOM + a power of two, as batches ask for them (their capacities
 * double, staging fills 64 KiB, a session 32 KiB): a power of two in all would give a
 * 64 KiB batch a 128 KiB buffer. */
#define MIN_SHIFT 6  /* 64 bytes of data, what a new batch gets */
#define MAX_SHIFT 30 /* 1 GiB: larger buffers are malloc'd as asked */
#define CLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define CLASS_BYTES(c) (TIDE__HEADROOM + ((size_t)1 << (MIN_SHIFT + (c))))

struct freed {
    struct freed *next;
};

static struct {
    pthread_mutex_t mu;
    struct freed *head;
} lists[CLASSES];
static atomic_bool on;
static atomic_uint_fast64_t kept, keep_max;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_locks(void)
{
    for (int i = 0; i < CLASSES; i++)
        pthread_mutex_init(&lists[i].mu, NULL);
}

/* A buffer of 2 MiB and more is mapped on its own, aligned to 2 MiB and in transparent
 * huge pages (asked for with MADV_HUGEPAGE, which Debian's "madvise" mode needs). Where a
 * page fault is dear, as in a virtual machine (some 7 us each on a 2-core VM here), the
 * 4 KiB faults of the large batches an operator gathers cost a worker much of its lead:
 * pagerank 100000 1000000 -w 1 took 65,000 faults and 0.45 s of system time; in huge
 * pages 36,000 and 0.87x the time (bfs 0.79x). glibc maps such blocks too, but in 4 KiB
 * pages and afresh on every malloc. Buffers of 16 to 256 KiB come from the slab
 * (slab.c), smaller ones and those between from malloc. */
#define BIG_BYTES ((size_t)2 << 20)

static size_t page_round(size_t bytes)
{
    long p = sysconf(_SC_PAGESIZE); /* glibc keeps it: no system call */
    size_t page = p > 0 ? (size_t)p : 4096;
    return (bytes + page - 1) & ~(page - 1);
}

unsigned char *tide__huge_map(size_t bytes)
{
    size_t len = page_round(bytes);
    if (len < bytes || len > SIZE_MAX - BIG_BYTES)
        return NULL;
    unsigned char *m = mmap(NULL, len + BIG_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    /* aligned: the mapping's ends beyond the aligned range go back */
    size_t head = (BIG_BYTES - (uintptr_t)m % BIG_BYTES) % BIG_BYTES;
    if (head)
        munmap(m, head);
    munmap(m + head + len, BIG_BYTES - head); /* (head < BIG_BYTES: never empty) */
#ifdef MADV_HUGEPAGE
    madvise(m + head, len, MADV_HUGEPAGE); /* advice: failing it costs only speed */
#endif
    return m + head;
}

void tide__huge_unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, page_round(bytes));
}

/* Where a buffer of @p size bytes comes from (and goes back to): malloc below the slab's
 * sizes and between them and big ones, the slab, or a mapping of its own. */
enum source { MALLOC, SLAB, MAPPED };

static enum source source_of(size_t size)
{
    return size >= BIG_BYTES ? MAPPED : tide__slab_fits(size) ? SLAB : MALLOC;
}

static unsigned char *buffer_alloc(size_t size)
{
    switch (source_of(size)) {
    case MAPPED:
        return tide__huge_map(size);
    case SLAB:
        return tide__slab_alloc(size);
    default:
        return malloc(size);
    }
}

static void buffer_free(unsigned char *base, size_t size)
{
    switch (source_of(size)) {
    case MAPPED:
        tide__huge_unmap(base, size);
        break;
    case SLAB:
        tide__slab_free(base, size);
        break;
    default:
        free(base);
    }
}

/* @p base (@p had bytes) as a buffer of @p size bytes holding its first @p keep bytes; NULL
 * (and @p base untouched) when out of memory. malloc's in place where it can; the others
 * are copied to a new buffer. A big buffer's pages are not moved instead (mremap with
 * MREMAP_FIXED): that made a job under MPICH wait forever now and then (mpi_dataflow -n 3
 * -w 2 with a progress tree: 3 runs of 32, none of 40 with the copy). MPICH's UCX (1.13,
 * Debian 12) replaces mremap with a hook of four arguments (ucm_mremap in
 * <ucm/api/ucm.h>), so MREMAP_FIXED's target address is not passed on and the pages land
 * wherever a stray register says. The copy costs a doubling buffer one pass over what it
 * holds. */
static unsigned char *buffer_realloc(unsigned char *base, size_t had, size_t keep, size_t size)
{
    if (!base)
        return buffer_alloc(size);
    if (source_of(had) == MALLOC && source_of(size) == MALLOC)
        return realloc(base, size);
    unsigned char *to = buffer_alloc(size);
    if (!to)
        return NULL;
    keep = keep < had ? keep : had;
    memcpy(to, base, keep < size ? keep : size);
    buffer_free(base, had);
    return to;
}

/* The smallest class of @p bytes or more, or -1 past the largest. */
static int class_of(size_t bytes)
{
    int c = 0;
    while (c < CLASSES && CLASS_BYTES(c) < bytes)
        c++;
    return c < CLASSES ? c : -1;
}

void tide__bufpool_start(uint64_t keep)
{
    pthread_once(&once, init_locks);
    atomic_store(&keep_max, keep);
    atomic_store(&on, true);
}

bool tide__bufpool_running(void) { return atomic_load_explicit(&on, memory_order_relaxed); }

void tide__bufpool_stop(void)
{
    atomic_store(&on, false);
    for (int c = 0; c < CLASSES; c++) {
        pthread_mutex_lock(&lists[c].mu);
        struct freed *f = lists[c].head;
        lists[c].head = NULL;
        pthread_mutex_unlock(&lists[c].mu);
        while (f) {
            struct freed *next = f->next;
            buffer_free((unsigned char *)f, CLASS_BYTES(c));
            f = next;
        }
    }
    atomic_store(&kept, 0);
}

size_t tide__bufpool_size(size_t bytes)
{
    if (!atomic_load_explicit(&on, memory_order_relaxed))
        return bytes;
    int c = class_of(bytes);
    return c < 0 ? bytes : CLASS_BYTES(c);
}

/* The class a buffer of exactly @p bytes belongs to while the pool is on, or -1. */
static int pooled_class(size_t bytes)
{
    if (!atomic_load_explicit(&on, memory_order_relaxed))
        return -1;
    int c = class_of(bytes);
    return c >= 0 && bytes == CLASS_BYTES(c) ? c : -1;
}

/* A kept buffer of exactly @p size bytes, or NULL. */
static unsigned char *take_kept(size_t size)
{
    int c = pooled_class(size);
    if (c < 0)
        return NULL;
    pthread_mutex_lock(&lists[c].mu);
    struct freed *f = lists[c].head;
    if (f)
        lists[c].head = f->next;
    pthread_mutex_unlock(&lists[c].mu);
    if (f)
        atomic_fetch_sub_explicit(&kept, size, memory_order_relaxed);
    return (unsigned char *)f;
}

unsigned char *tide__bufpool_alloc(size_t bytes)
{
    size_t size = tide__bufpool_size(bytes);
    unsigned char *base = take_kept(size);
    return base ? base : buffer_alloc(size);
}

void tide__bufpool_free(unsigned char *base, size_t bytes)
{
    if (!base)
        return;
    int c = pooled_class(bytes);
    if (c >= 0) {
        uint64_t now = atomic_fetch_add_explicit(&kept, bytes, memory_order_relaxed) + bytes;
        if (now <= atomic_load_explicit(&keep_max, memory_order_relaxed)) {
            struct freed *f = (struct freed *)(void *)base;
            pthread_mutex_lock(&lists[c].mu);
            f->next = lists[c].head;
            lists[c].head = f;
            pthread_mutex_unlock(&lists[c].mu);
            return;
        }
        atomic_fetch_sub_explicit(&kept, bytes, memory_order_relaxed); /* full: freed */
    }
    buffer_free(base, bytes);
}

unsigned char *tide__bufpool_realloc(unsigned char *base, size_t had, size_t keep,
                                     size_t bytes)
{
    size_t size = tide__bufpool_size(bytes);
    unsigned char *to = take_kept(size);
    if (!to) /* small ones in place where they can */
        return buffer_realloc(base, had, keep, size);
    if (base) {
        memcpy(to, base, keep < had ? keep : had);
        tide__bufpool_free(base, had);
    }
    return to;
}
