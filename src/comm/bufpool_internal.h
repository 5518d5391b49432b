/* SPDX-License-Identifier: MIT */
#ifndef TIDE_BUFPOOL_INTERNAL_H
#define TIDE_BUFPOOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Batch buffers under --memory: sizes rounded up (to TIDE__HEADROOM and a power of two of
 * data) and buffers freed kept in
 * rank-wide lists, one per size, for any thread's next buffer of that size (at most
 * @p keep bytes of them; beyond that they are freed). Called before the rank's threads
 * start; off again (tide__bufpool_stop, which frees what is kept) after they end. */
void tide__bufpool_start(uint64_t keep);
void tide__bufpool_stop(void);
/* Whether the pool is on (the rank runs under --memory). */
bool tide__bufpool_running(void);
/* Bytes a buffer asked for @p bytes gets: rounded up while the pool is on, else @p bytes. */
size_t tide__bufpool_size(size_t bytes);
/* A buffer of tide__bufpool_size(@p bytes) bytes (NULL: out of memory). */
unsigned char *tide__bufpool_alloc(size_t bytes);
/* Gives @p base (of @p bytes bytes, as allocated) back. */
void tide__bufpool_free(unsigned char *base, size_t bytes);
/* A buffer of tide__bufpool_size(@p bytes) bytes holding the first @p keep bytes of @p base
 * (of @p had bytes), which is given back; NULL (and @p base untouched) when out of memory. */
unsigned char *tide__bufpool_realloc(unsigned char *base, size_t had, size_t keep,
                                     size_t bytes);

/* @p bytes of zeroed memory mapped on their own, aligned to 2 MiB and advised into
 * transparent huge pages; NULL when out of memory. Batch buffers of 2 MiB and more are
 * such mappings, and so are tables (tide__table_alloc) and the slab's chunks (slab.c). */
unsigned char *tide__huge_map(size_t bytes);
/* Unmaps what tide__huge_map(@p bytes) gave (NULL is ignored). */
void tide__huge_unmap(void *p, size_t bytes);

#endif
