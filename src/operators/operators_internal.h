/* SPDX-License-Identifier: MIT */
/* What the operators share; built on the public API only. */
#ifndef TIDE_OPERATORS_INTERNAL_H
#define TIDE_OPERATORS_INTERNAL_H

#include "tide/operators.h"

#include "../comm/batch_internal.h"

/* Room for a decoded variable-length value: decoded values are small views (a pointer, or
 * a pointer and a length). */
#define TIDE__VALUE_BYTES TIDE_VALUE_MAX

/* The record at byte offset *at of @p b, moving *at to the next one: a pointer into the
 * batch for fixed-size records (no copy), else the record decoded into @p value. Loop with
 * `for (size_t at = 0; at < tide_batch_bytes(b);)`. */
static inline const void *tide__record_next(tide_batch *b, size_t *at, void *value)
{
    size_t size = tide_batch_type(b)->size;
    if (size) {
        const void *rec = (const unsigned char *)tide_batch_records(b) + *at;
        *at += size;
        return rec;
    }
    tide_batch_read(b, at, value);
    return value;
}

/* From the dataflow layer: leaves the dataflow of @p root out of --dot (it is the
 * library's own, as tide_check_same's). */
void tide__scope_hide(tide_scope *root);
/* From the dataflow layer (see there): an input batch kept without a copy, and a batch
 * given back to the worker's pool. */
tide_batch *tide__op_keep(tide_batch *b);
void tide__op_recycle(tide_batch *b);

/* Payloads per open time (by_time.c), in `at` in no particular order; zeroed is empty. */
struct tide__by_time {
    struct {
        tide_time t;
        void *v;
    } *at;
    size_t len, cap;
    size_t *index;  /* from 16 times on: position + 1 in `at` per slot, 0 for none */
    size_t nindex;  /* slots, a power of two at least twice cap */
    bool indexed;   /* the index (or its absence below 16 times) matches `at` */
};
/* After a caller reorders `at` itself (sorts it, drops a prefix): the index is made again
 * when next needed. */
void tide__by_time_reordered(struct tide__by_time *m);
/* Removes the entry at position @p i (the last one moves there). */
void tide__by_time_remove_at(struct tide__by_time *m, size_t i);
/* The payload slot of time @p t; a new slot (NULL, *fresh set) when the time had none. */
void **tide__by_time_slot(struct tide__by_time *m, const tide_time *t, bool *fresh);
/* Removes time @p t, returning its payload (NULL when it had none). */
void *tide__by_time_take(struct tide__by_time *m, const tide_time *t);
/* Frees every payload with @p free_v, then the map. */
void tide__by_time_free(struct tide__by_time *m, void (*free_v)(void *));
/* For maps whose payloads are batches: appends @p b's records to the batch of time @p t
 * (created when the time had none, *fresh then set); @p who names the operator in errors. */
void tide__by_time_append(struct tide__by_time *m, const tide_time *t, tide_batch *b,
                          bool *fresh, const char *who);
/* tide__by_time_free() for maps of batches. */
void tide__by_time_free_batches(struct tide__by_time *m);

/* For a helper that only prefetches: GCC finds it free of side effects and drops every
 * call to it whose result is unused, prefetches and all (the keyed table's entry prefetch
 * and tide_table_prefetch were compiled to nothing so), unless it is inlined where used. */
#define TIDE__PREFETCHER static inline __attribute__((always_inline))

/* States per key (keyed.c): an open-addressing table whose keys are the first record seen
 * with that key, kept encoded in a batch (variable-length keys work too). Removed keys leave
 * their slot until the next rebuild, which also drops their bytes. */
struct tide__keyed {
    size_t state_size;
    uint64_t (*hash)(const void *record, void *ctx);
    bool (*same_key)(const void *a, const void *b, void *ctx);
    void *ctx;
    const char *who; /* the operator, for messages */
    size_t key_size;  /* the key type's size (0: variable-length) */
    uint64_t *slots;  /* see keyed.c */
    size_t slot_bytes; /* as allocated (tide__table_alloc) */
    size_t nslots, used, live;
    size_t sstride;   /* state_size rounded up to 8 */
    const tide_type *type;
    unsigned char *ent; /* the entries: each key's state, then its record (keyed.c) */
    size_t ent_bytes, ent_cap;
};
void tide__keyed_init(struct tide__keyed *k, const tide_type *type, size_t state_size,
                      uint64_t (*hash)(const void *, void *),
                      bool (*same_key)(const void *, const void *, void *), void *ctx,
                      const char *who);
/* The state of @p record's key; a new key gets a zeroed state (*fresh then true, when
 * @p fresh is not NULL). Valid until the next call. */
void *tide__keyed_state(struct tide__keyed *k, const void *record, bool *fresh);
/* fold(state of the record's key, record, ctx) for each record of @p b in order (new keys
 * get zeroed states), as tide__keyed_state per record but with the table's misses
 * overlapped. */
void tide__keyed_fold(struct tide__keyed *k, tide_batch *b,
                      void (*fold)(void *state, const void *record, void *ctx), void *ctx);
/* The state of @p record's key, or NULL when it has none. */
void *tide__keyed_find(struct tide__keyed *k, const void *record);
/* Forgets @p record's key (its state too). */
void tide__keyed_remove(struct tide__keyed *k, const void *record);
/* The next live key from *cursor (start at 0): its record decoded into @p key, its state
 * in *state; false after the last. */
bool tide__keyed_next(const struct tide__keyed *k, size_t *cursor, void *key, void **state);
void tide__keyed_free(struct tide__keyed *k);

/* Appends @p from's records to @p to (same type). */
void tide__batch_append(tide_batch *to, tide_batch *from, const char *who);

#endif
