/* SPDX-License-Identifier: MIT */
#ifndef TIDE_SLAB_INTERNAL_H
#define TIDE_SLAB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Batch buffers of medium size (TIDE__SLAB_MIN to TIDE__SLAB_MAX bytes: sessions' and
 * staging's 32 and 64 KiB, a stash's first doublings) come from 2 MiB chunks of the
 * library's own, mapped in transparent huge pages and cut into blocks of one size each;
 * a block freed by any thread serves the next of its size on any thread. Smaller ones are
 * malloc's, larger ones mapped on their own (bufpool.c). */
#define TIDE__SLAB_MIN ((size_t)16 << 10)
#define TIDE__SLAB_MAX ((size_t)256 << 10)

/* NUMA nodes told apart: each has its own chunks (nodes past this share, modulo). */
#define TIDE__SLAB_NODES 8

/* Whether a buffer of @p bytes comes from the slab (and so goes back to it). */
bool tide__slab_fits(size_t bytes);
/* A block of at least @p bytes (tide__slab_fits) from the chunks of the NUMA node this
 * thread runs on, or NULL when out of memory. */
unsigned char *tide__slab_alloc(size_t bytes);
/* The same from node @p node's chunks (for tests). */
unsigned char *tide__slab_alloc_on(size_t bytes, unsigned node);
/* Gives back @p p, from tide__slab_alloc(@p bytes), to its chunk, on any thread. */
void tide__slab_free(unsigned char *p, size_t bytes);

/* What the slab holds, for tests: chunks mapped, of which empty ones kept for reuse, and
 * of which in huge pages. */
struct tide__slab_stats {
    size_t chunks, empty, huge;
};
struct tide__slab_stats tide__slab_stats(void);
/* Chunks mapped in huge pages at most (256 MiB); those mapped beyond come in 4 KiB pages. */
#define TIDE__SLAB_HUGE_CHUNKS 128
/* Sets that bound (for tests). */
void tide__slab_set_huge_chunks(size_t n);
/* Empty chunks kept mapped per node for the next blocks at most (more are unmapped). */
#define TIDE__SLAB_KEEP_EMPTY 16

#endif
