/* SPDX-License-Identifier: MIT */
/* The per-key state table shared by aggregate (one per open time) and state_machine (one for
 * the operator's life). Linear probing, power-of-two sizes, at most half full. */
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

struct tide__keyed_slot {
    uint64_t hash;
    size_t key;   /* offset of the key record in k->keys, + 1; 0: never used */
    size_t state; /* offset of the state in k->states */
    bool live;    /* false once removed: the slot keeps probing chains intact */
};

static void *xrealloc(const struct tide__keyed *k, void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        tide_abort("%s: out of memory", k->who);
    return p;
}

static void alloc_table(struct tide__keyed *k, const tide_type *type, size_t nslots)
{
    k->nslots = nslots;
    k->slots = calloc(nslots, sizeof *k->slots);
    tide__memory_account((int64_t)(nslots * sizeof *k->slots));
    k->keys = tide_batch_new(type, 0);
    if (!k->slots || !k->keys)
        tide_abort("%s: out of memory", k->who);
    k->used = k->live = k->nstates = 0;
}

void tide__keyed_init(struct tide__keyed *k, const tide_type *type, size_t state_size,
                      uint64_t (*hash)(const void *, void *),
                      bool (*same_key)(const void *, const void *, void *), void *ctx,
                      const char *who)
{
    *k = (struct tide__keyed){ .state_size = state_size, .hash = hash, .same_key = same_key,
                               .ctx = ctx, .who = who };
    if (type->size > TIDE__VALUE_BYTES) /* keys are read back into a value buffer */
        tide_abort("%s: %s records are larger than %d bytes", who, type->name,
                   TIDE__VALUE_BYTES);
    alloc_table(k, type, 64);
}

static void key_at(const struct tide__keyed *k, size_t slot, void *value)
{
    size_t cursor = k->slots[slot].key - 1;
    tide_batch_read(k->keys, &cursor, value);
}

/* Adds a key (known absent) with a zeroed state in an empty slot; returns the state. */
static void *insert(struct tide__keyed *k, uint64_t h, const void *record)
{
    size_t j = h & (k->nslots - 1);
    while (k->slots[j].key)
        j = (j + 1) & (k->nslots - 1);
    size_t off = tide_batch_bytes(k->keys);
    if (tide_batch_push(k->keys, record) != 0)
        tide_abort("%s: out of memory", k->who);
    if (k->nstates == k->capstates) {
        size_t grown = k->capstates ? 2 * k->capstates : 64;
        k->states = xrealloc(k, k->states, grown * k->state_size);
        tide__memory_account((int64_t)((grown - k->capstates) * k->state_size));
        k->capstates = grown;
    }
    size_t soff = k->nstates++ * k->state_size;
    memset(k->states + soff, 0, k->state_size);
    k->slots[j] = (struct tide__keyed_slot){ h, off + 1, soff, true };
    k->used++;
    k->live++;
    return k->states + soff;
}

static void free_arrays(const struct tide__keyed *k)
{
    tide__memory_account(-(int64_t)(k->nslots * sizeof *k->slots + k->capstates * k->state_size));
    free(k->slots);
    free(k->states);
}

/* A new table holding only the live keys: twice the size when they fill a quarter of it. */
static void rebuild(struct tide__keyed *k)
{
    struct tide__keyed old = *k;
    size_t n = old.nslots;
    if (4 * old.live >= n)
        n *= 2;
    alloc_table(k, tide_batch_type(old.keys), n);
    k->states = NULL;
    k->capstates = 0;
    unsigned char key[TIDE__VALUE_BYTES];
    for (size_t i = 0; i < old.nslots; i++)
        if (old.slots[i].live) {
            key_at(&old, i, key);
            memcpy(insert(k, old.slots[i].hash, key), old.states + old.slots[i].state,
                   k->state_size);
        }
    free_arrays(&old);
    tide_batch_free(old.keys);
}

/* The slot of @p record's key, or the first never-used slot of its chain. */
static size_t find(const struct tide__keyed *k, uint64_t h, const void *record)
{
    unsigned char key[TIDE__VALUE_BYTES];
    size_t j = h & (k->nslots - 1);
    for (; k->slots[j].key; j = (j + 1) & (k->nslots - 1)) {
        if (k->slots[j].hash != h || !k->slots[j].live)
            continue;
        key_at(k, j, key);
        if (k->same_key(record, key, k->ctx))
            break;
    }
    return j;
}

static void *state_hashed(struct tide__keyed *k, uint64_t h, const void *record)
{
    size_t j = find(k, h, record);
    if (k->slots[j].key)
        return k->states + k->slots[j].state;
    if (2 * (k->used + 1) > k->nslots)
        rebuild(k);
    return insert(k, h, record);
}

void *tide__keyed_state(struct tide__keyed *k, const void *record)
{
    return state_hashed(k, k->hash(record, k->ctx), record);
}

/* Records are hashed a group at a time and their slots prefetched before the first is
 * looked up: a table of many keys is mostly out of cache, and the misses then overlap
 * (wordcount's table of 20000 words: see doc/architecture.md). */
enum { FOLD_GROUP = 8 };

void tide__keyed_fold(struct tide__keyed *k, tide_batch *b,
                      void (*fold)(void *state, const void *record, void *ctx), void *ctx)
{
    unsigned char value[FOLD_GROUP][TIDE__VALUE_BYTES];
    const void *rec[FOLD_GROUP];
    uint64_t h[FOLD_GROUP];
    size_t bytes = tide_batch_bytes(b);
    for (size_t at = 0; at < bytes;) {
        size_t n = 0;
        for (; n < FOLD_GROUP && at < bytes; n++) {
            rec[n] = tide__record_next(b, &at, value[n]);
            h[n] = k->hash(rec[n], k->ctx);
            __builtin_prefetch(&k->slots[h[n] & (k->nslots - 1)]);
        }
        for (size_t i = 0; i < n; i++)
            fold(state_hashed(k, h[i], rec[i]), rec[i], ctx);
    }
}

void *tide__keyed_find(struct tide__keyed *k, const void *record)
{
    size_t j = find(k, k->hash(record, k->ctx), record);
    return k->slots[j].key ? k->states + k->slots[j].state : NULL;
}

void tide__keyed_remove(struct tide__keyed *k, const void *record)
{
    size_t j = find(k, k->hash(record, k->ctx), record);
    if (k->slots[j].key) {
        k->slots[j].live = false;
        k->live--;
    }
}

bool tide__keyed_next(const struct tide__keyed *k, size_t *cursor, void *key, void **state)
{
    for (; *cursor < k->nslots; ++*cursor)
        if (k->slots[*cursor].live) {
            key_at(k, *cursor, key);
            *state = k->states + k->slots[(*cursor)++].state;
            return true;
        }
    return false;
}

void tide__keyed_free(struct tide__keyed *k)
{
    free_arrays(k);
    tide_batch_free(k->keys);
    k->slots = NULL;
    k->states = NULL;
    k->keys = NULL;
    k->nslots = k->capstates = 0;
}

void tide__batch_append(tide_batch *to, tide_batch *from, const char *who)
{
    size_t size = tide_batch_type(from)->size;
    if (size) {
        size_t n = tide_batch_len(from);
        void *at = tide_batch_extend(to, n);
        if (!at && n)
            tide_abort("%s: out of memory", who);
        if (n)
            memcpy(at, tide_batch_records(from), n * size);
        return;
    }
    unsigned char value[TIDE__VALUE_BYTES];
    for (size_t at = 0; tide_batch_read(from, &at, value);)
        if (tide_batch_push(to, value) != 0)
            tide_abort("%s: out of memory", who);
}
