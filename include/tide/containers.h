/* SPDX-License-Identifier: MIT */
/** @file
 * Containers for operator state: a growable array, a hash table from keys to fixed-size
 * states, and the consolidation of (key, diff) updates. What C lacks and every operator
 * of the examples needed (timely's operators lean on Rust's Vec and HashMap). Their memory
 * counts in tide_memory_held(). Out of memory stops the job with a message. A container
 * belongs to one worker: no locking.
 */
#ifndef TIDE_CONTAINERS_H
#define TIDE_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/comm.h"
#include "tide/dataflow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- tide_vec */

/** A growable array of elements of one size. Start it with TIDE_VEC(type); the fields are
 *  the caller's to read (and len to lower). */
typedef struct tide_vec {
    void *data;  /**< len elements (NULL while nothing was added) */
    size_t len;  /**< elements in use */
    size_t cap;  /**< elements allocated */
    size_t size; /**< bytes per element */
} tide_vec;

/** An empty array of elements of type @p type. */
#define TIDE_VEC(type) ((tide_vec){ NULL, 0, 0, sizeof(type) })
/** Element @p i of @p v, an array of @p type. */
#define TIDE_VEC_AT(v, type, i) (((type *)(v)->data)[i])

/** Capacity for at least @p n elements in all, len unchanged (n = SIZE_MAX: stops the job,
 *  as any size that cannot be allocated). */
void tide_vec_reserve(tide_vec *v, size_t n);

/** Room for @p n more elements at the end, counted in len; returns the first of them
 *  (uninitialized). The array may move: earlier pointers into it are invalid. Inline: an
 *  append costs a compare and a store while there is room. */
static inline void *tide_vec_extend(tide_vec *v, size_t n)
{
    if (v->cap - v->len < n)
        tide_vec_reserve(v, n > SIZE_MAX - v->len ? SIZE_MAX : v->len + n);
    void *at = (unsigned char *)v->data + v->len * v->size;
    v->len += n;
    return at;
}
/** Appends @p value, an expression of type @p type (the array's element type). */
#define TIDE_VEC_PUSH(v, type, value) (*(type *)tide_vec_extend((v), 1) = (value))
/** Appends a copy of the element at @p elem. */
void tide_vec_push(tide_vec *v, const void *elem);
/** Frees the elements; the array is empty again (and can be reused). */
void tide_vec_free(tide_vec *v);

/* ---------------------------------------------------------------- tide_table */

/** A hash table from keys (records of a tide_type, up to TIDE_VALUE_MAX bytes decoded) to
 *  states of a fixed size, zeroed when their key is added. Linear probing, at most half
 *  full. */
typedef struct tide_table tide_table;

/** Whether keys @p a and @p b are the same key. */
typedef bool (*tide_same_fn)(const void *a, const void *b, void *ctx);

/**
 * A new table with keys of type @p key and states of @p state_size bytes (0: a set).
 * @p hash and @p same may be NULL for fixed-size keys: a hash of the key's bytes and
 * byte equality. Keys without a fixed size (TIDE_STR, TIDE_BYTES) need both; with
 * TIDE_STR keys, tide_hash_str and tide_same_str are recognised and run inline.
 */
tide_table *tide_table_new(const tide_type *key, size_t state_size, tide_hash_fn hash,
                           tide_same_fn same, void *ctx);
/** The state of @p key, added (zeroed) when the key is new. Valid until the next
 *  tide_table_get or tide_table_add on the table. */
void *tide_table_get(tide_table *t, const void *key);
/**
 * The states of @p n keys, the first at @p keys and each @p stride bytes after the last (a
 * key may lead a record), into @p states[0..n), each key added (zeroed) when new, as
 * tide_table_get would: a batch of lookups whose cache misses overlap, as they do not one
 * lookup at a time. All @p n states stay valid until the next call that adds keys.
 * Fixed-size keys only.
 */
void tide_table_get_n(tide_table *t, const void *keys, size_t stride, size_t n, void **states);
/** Adds @p key; true if it was new (false: it was there already). For sets. */
bool tide_table_add(tide_table *t, const void *key);
/** The state of @p key, or NULL when the key is not in the table. */
void *tide_table_find(tide_table *t, const void *key);
/** Starts loading the memory a lookup of @p key will read, without waiting for it: called
 *  a few keys ahead in a loop of lookups, the cache misses of several keys overlap. */
void tide_table_prefetch(const tide_table *t, const void *key);
/** Removes @p key and its state; false if it was not there. */
bool tide_table_remove(tide_table *t, const void *key);
/** Keys in the table. */
size_t tide_table_len(const tide_table *t);
/** The next key from *cursor (start at 0): decoded into @p key (room for one key value),
 *  its state in *state (may be NULL); false after the last. Tables are not changed while
 *  iterating. */
bool tide_table_next(const tide_table *t, size_t *cursor, void *key, void **state);
/** Frees the table (NULL is ignored). */
void tide_table_free(tide_table *t);

/* ---------------------------------------------------------------- consolidation */

/** A change of @p diff to the count or weight of @p key (a POD record: TIDE_DIFF). */
typedef struct tide_diff {
    uint64_t key; /**< what changes */
    int64_t diff; /**< by how much */
} tide_diff;

/** The record type of tide_diff. */
extern const tide_type tide_type_diff;
#define TIDE_DIFF (&tide_type_diff) /**< records of type tide_diff */

/** Sorts the @p n changes at @p d by key, sums the changes of each key and drops those that
 *  sum to zero, in place; returns how many are left. Past a few dozen changes: summed in
 *  an array by key when the keys span fewer than 262,144 values and twice the count, else
 *  radix sorted. */
size_t tide_consolidate(tide_diff *d, size_t n);

#ifdef __cplusplus
}
#endif
#endif
