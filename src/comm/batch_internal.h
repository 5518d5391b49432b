/* SPDX-License-Identifier: MIT */
#ifndef TIDE_BATCH_INTERNAL_H
#define TIDE_BATCH_INTERNAL_H

#include <stdatomic.h>
#include <string.h>
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
/* Zeroed memory for a table of at least @p bytes read at random, counted in
 * tide_memory_held; its size in *got (for tide__table_free). From 2 MiB it is mapped in
 * whole huge pages, asked for with MADV_HUGEPAGE. NULL when out of memory. */
void *tide__table_alloc(size_t bytes, size_t *got);
/* Frees a table of tide__table_alloc (NULL is ignored). */
void tide__table_free(void *p, size_t got);
/* --memory: the peak of tide_memory_held() starts again from what is held now. */
void tide__memory_restart_peak(void);
/* A 32-bit tag of the type's name and size, sent with every message to check types. */
uint32_t tide__type_tag(const tide_type *t);
/* Bytes one variable record of @p len bytes takes in a batch. */
static inline size_t tide__var_record_bytes(size_t len) { return 4 + ((len + 3) & ~(size_t)3); }

/* Writes a TIDE_STR record of the @p n bytes at @p str and a NUL at @p at (its length
 * word, the bytes, padding): tide__var_record_bytes(n + 1) bytes. */
static inline void tide__str_put(unsigned char *at, const char *str, size_t n)
{
    size_t need = tide__var_record_bytes(n + 1);
    uint32_t len32 = (uint32_t)(n + 1);
    memcpy(at, &len32, 4);
    memset(at + need - 4, 0, 4); /* padding, defined bytes on the wire, and the NUL */
    memcpy(at + 4, str, n);
}
/* Writes variable-length @p value, whose encoding takes @p len bytes (the length of
 * tide__var_len), as a record at @p at: tide__var_record_bytes(len) bytes. */
void tide__var_put(const tide_type *t, const void *value, size_t len, unsigned char *at);
/* The bytes variable-length @p value encodes to (a string's NUL included). */
size_t tide__var_len(const tide_type *t, const void *value);

/* Appends a TIDE_STR record of the @p n bytes at @p str and a NUL to @p b, which owns
 * its buffer and has room for it (a session's give of a string). */
static inline void tide__batch_put_strn(tide_batch *b, const char *str, size_t n)
{
    tide__str_put(tide__batch_data(b) + b->bytes, str, n);
    b->bytes += tide__var_record_bytes(n + 1);
    b->len++;
}

/* The bytes of the string record at @p at in a batch of TIDE_STR (its 4-byte length with
 * the NUL, then the bytes), with their number without the NUL in *n: the length is
 * stored, so hashing the record needs no strlen. */
static inline const char *tide__str_record(const unsigned char *at, size_t *n)
{
    uint32_t len;
    memcpy(&len, at, 4);
    *n = len ? len - 1 : 0;
    return (const char *)at + 4;
}

static inline uint64_t tide__load64(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint64_t tide__load32(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

/* tide_hash_str() of the @p len bytes at @p s, for callers that know the length. Eight
 * bytes at a time (FNV-1a, a byte at a time, was a chain of one multiplication per byte:
 * 10% of wordcount at -w 2, where every word is hashed twice); the length is mixed in
 * first, so that strings differing only in trailing zero bytes of a chunk differ. The last
 * bytes are read with loads that overlap bytes already mixed (as wyhash does) rather than
 * copied into a zeroed word: the byte-wise copy made the next load wait for the stores to
 * drain, a third of the function's time in wordcount. The loads stay inside the string,
 * and with the length mixed in, strings of one length still map injectively onto the
 * words mixed. */
static inline uint64_t tide__hash_strn(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ (len * 0xff51afd7ed558ccdu), w;
    if (len >= 8) {
        const char *last = s + len - 8;
        for (; s < last; s += 8) {
            h = (h ^ tide__load64(s)) * 0xc4ceb9fe1a85ec53u;
            h ^= h >> 29;
        }
        w = tide__load64(last);
    } else if (len >= 4) {
        w = tide__load32(s) | tide__load32(s + len - 4) << 32;
    } else if (len) {
        w = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[len / 2] << 8 |
            (uint64_t)(unsigned char)s[len - 1] << 16;
    } else {
        w = 0;
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 32; /* the last mixing of murmur3's finalizer */
    h *= 0xff51afd7ed558ccdu;
    return h ^ (h >> 33);
}

/* Whether the @p len bytes at @p a and @p b are equal, with the hash's overlapping loads:
 * inline, where memcmp of a length known only at run time is a call per record (wordcount's
 * table lookups compare each word with its key once). */
static inline bool tide__str_same(const char *a, const char *b, size_t len)
{
    if (len >= 8) {
        for (size_t i = 0; i + 8 < len; i += 8)
            if (tide__load64(a + i) != tide__load64(b + i))
                return false;
        return tide__load64(a + len - 8) == tide__load64(b + len - 8);
    }
    if (len >= 4)
        return tide__load32(a) == tide__load32(b) &&
               tide__load32(a + len - 4) == tide__load32(b + len - 4);
    return !len || (a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1]);
}

#endif
