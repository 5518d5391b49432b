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

/* Bytes as a little-endian number on any machine: the string hashes put bytes read in
 * words and bytes read one at a time in the same places. */
static inline uint64_t tide__load64(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline uint64_t tide__load32(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    return w;
}

/* The string hash: the length, then the string's bytes eight at a time (tide__hash_body),
 * the last 0 to 7 of them as one word padded with zeros (tide__hash_end); with the length
 * mixed in first, a string and the same one with zero bytes appended differ, and strings
 * of one length map injectively onto the words mixed. (FNV-1a, a byte at a time, was a
 * chain of one multiplication per byte: 10% of wordcount at -w 2, where every word is
 * hashed twice.) */
static inline uint64_t tide__hash_body(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ (len * 0xff51afd7ed558ccdu);
    for (const char *t = s + (len & ~(size_t)7); s < t; s += 8) {
        h = (h ^ tide__load64(s)) * 0xc4ceb9fe1a85ec53u;
        h ^= h >> 29;
    }
    return h;
}

static inline uint64_t tide__hash_end(uint64_t h, uint64_t tail)
{
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 32; /* the last mixing of murmur3's finalizer */
    h *= 0xff51afd7ed558ccdu;
    return h ^ (h >> 33);
}

/* tide_hash_str() of the @p len bytes at @p s, for callers that know the length: any
 * bytes, read only inside the string (the last ones with loads that overlap bytes already
 * read and shifts, not copied into a zeroed word: the byte-wise copy made the next load
 * wait for the stores to drain, a third of the function's time in wordcount). */
static inline uint64_t tide__hash_strn(const char *s, size_t len)
{
    size_t r = len & 7;
    const char *t = s + (len - r);
    uint64_t w;
    if (r >= 4)
        w = tide__load32(t) | tide__load32(t + r - 4) >> (8 * (8 - r)) << 32;
    else
        for (w = 0; r; r--)
            w = w << 8 | (unsigned char)t[r - 1];
    return tide__hash_end(tide__hash_body(s, len), w);
}

/* The last @p r (< 8) bytes of a string in a record (tide__str_record), padded with zeros:
 * a record holds its string's bytes, the NUL and padding to four bytes, so the four at @p t
 * are in it, and the four after them when r >= 4. No branch on the length, which for
 * wordcount's words of 2 to 9 letters goes either way (its -w 1: 0.98x the time, 15
 * pairs); the mask leaves out what follows the string, which a record received from the
 * wire may hold. */
static inline uint64_t tide__str_rec_tail(const char *t, size_t r)
{
    size_t hi = r >= 4 ? 4 : 0;
    uint64_t w = tide__load32(t) | (uint64_t)tide__load32(t + hi) << (8 * hi);
    return w & (((uint64_t)1 << (8 * r)) - 1);
}

/* tide__hash_strn() of a string in a record (tide__str_record), reading the record's
 * padding (see tide__str_rec_tail): the same value with fewer branches. */
static inline uint64_t tide__hash_str_rec(const char *s, size_t len)
{
    size_t full = len & ~(size_t)7;
    return tide__hash_end(tide__hash_body(s, len), tide__str_rec_tail(s + full, len - full));
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

/* tide__str_same() of two strings in records (tide__str_record), reading their padding. */
static inline bool tide__str_same_rec(const char *a, const char *b, size_t len)
{
    size_t r = len & 7, full = len - r;
    for (size_t i = 0; i < full; i += 8)
        if (tide__load64(a + i) != tide__load64(b + i))
            return false;
    return tide__str_rec_tail(a + full, r) == tide__str_rec_tail(b + full, r);
}

#endif
