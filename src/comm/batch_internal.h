/* SPDX-License-Identifier: MIT */
#ifndef TIDE_BATCH_INTERNAL_H
#define TIDE_BATCH_INTERNAL_H

#include <stdatomic.h>
#include "tide/comm.h"
#include "wire_internal.h"

struct tide__spsc;

struct tide_batch {
    const tide_type *type;
    size_t len;          /* records */
    size_t bytes;        /* bytes of record data */
    size_t cap;          /* bytes of record data the buffer holds */
    unsigned char *base; /* TIDE__HEADROOM bytes for wire headers, then the data */
    uint64_t meta[TIDE_BATCH_META];
    /* Where a receiver hands the batch back when spent: a queue whose only producer is
     * the receiving worker (the sender's recycling queue, or the transport's). */
    struct tide__spsc *home;
    /* Transport bookkeeping while the buffer is a frame or sits in a list. */
    tide_batch *next;
    int peer_rank; /* frame: the rank it goes to (-1: a large receive not complete yet) */
    int mpi_tag;   /* frame: the tag it is sent with */
    unsigned owner; /* frame: the local worker that gets the buffer back */
    /* A view reads another batch's buffer (`base` is that batch's): the transport hands a
     * rank cast to each worker of the rank as a view of one received buffer, which counts
     * the views still out in `refs`. A view given back keeps base NULL. */
    tide_batch *shared;
    atomic_uint refs;
    /* A view of a split message (TIDE__MSG_SPLIT) reads only its worker's group: `len`
     * records, `bytes` bytes from this offset of the shared data. */
    size_t view_off;
    /* --memory: the records are in the worker's spill file at offset view_off (base NULL);
     * only a batch queued at an operator inside its worker (dataflow/spill.c) */
    bool spilled;
};

static inline unsigned char *tide__batch_data(const tide_batch *b)
{
    return b->base + TIDE__HEADROOM;
}

/* Ends a view: it no longer reads its buffer (base NULL). Returns the buffer when this
 * was its last view (the caller then owns it), NULL otherwise. */
tide_batch *tide__batch_unshare(tide_batch *view);
/* Makes room for @p bytes bytes of data in all (contents kept; a view gets a buffer of
 * its own first). 0 or TIDE_ENOMEM. */
int tide__batch_reserve(tide_batch *b, size_t bytes);
/* Counts one allocation made for messages (see tide_comm_allocations). */
void tide__count_allocation(void);
/* Frees the buffer of @p b (its records are elsewhere: spilled), keeping the struct. */
void tide__batch_drop_buffer(tide_batch *b);
/* Detaches @p b's buffer (still counted in tide_memory_held) and returns it, its capacity in
 * *cap; NULL if it has none. */
unsigned char *tide__batch_take_buffer(tide_batch *b, size_t *cap);
/* Gives @p b, which has no buffer, @p base of capacity @p cap from tide__batch_take_buffer. */
void tide__batch_give_buffer(tide_batch *b, unsigned char *base, size_t cap);
/* Frees @p base (capacity @p cap) from tide__batch_take_buffer, counted as no longer held. */
void tide__batch_free_buffer(unsigned char *base, size_t cap);
/* On a worker thread without a --memory budget: keep the largest large buffer freed
 * (tide_batch_free, tide__scratch_give) for the next large one (tide__batch_reserve,
 * tide__scratch_take), until tide__spare_end frees it. */
void tide__spare_start(void);
void tide__spare_end(void);
/* A counted buffer with at least @p bytes of data after its TIDE__HEADROOM (the spare when
 * it is large enough), its capacity in *cap; NULL when out of memory. */
unsigned char *tide__scratch_take(size_t bytes, size_t *cap);
/* Gives back a buffer of tide__scratch_take (kept as the spare or freed). */
void tide__scratch_give(unsigned char *base, size_t cap);
/* Adds @p delta bytes to tide_memory_held(): for memory that tide holds outside batch
 * buffers and can count (the operator library's keyed tables and per-time maps). */
void tide__memory_account(int64_t delta);
/* --memory: the peak of tide_memory_held() starts again from what is held now. */
void tide__memory_restart_peak(void);
/* A 32-bit tag of the type's name and size, sent with every message to check types. */
uint32_t tide__type_tag(const tide_type *t);
/* Bytes one variable record of @p len bytes takes in a batch. */
static inline size_t tide__var_record_bytes(size_t len) { return 4 + ((len + 3) & ~(size_t)3); }

#endif
