/* SPDX-License-Identifier: MIT */
/* tide_vec, tide_table and tide_consolidate. */
#include <stdlib.h>
#include <string.h>

#include "tide/containers.h"

#include "operators_internal.h"

/* ---------------------------------------------------------------- tide_vec */

void tide_vec_reserve(tide_vec *v, size_t n)
{
    if (n <= v->cap)
        return;
    size_t cap = v->cap ? 2 * v->cap : 8;
    if (cap < n)
        cap = n;
    if (!v->size || cap > SIZE_MAX / v->size)
        tide_abort("tide_vec: %zu elements of %zu bytes cannot be allocated", cap, v->size);
    void *p = realloc(v->data, cap * v->size);
    if (!p)
        tide_abort("tide_vec: out of memory (%zu elements of %zu bytes)", cap, v->size);
    tide__memory_account((int64_t)((cap - v->cap) * v->size));
    v->data = p;
    v->cap = cap;
}

void tide_vec_push(tide_vec *v, const void *elem)
{
    memcpy(tide_vec_extend(v, 1), elem, v->size);
}

void tide_vec_free(tide_vec *v)
{
    tide__memory_account(-(int64_t)(v->cap * v->size));
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

/* ---------------------------------------------------------------- tide_table */

/* Fixed-size keys live in the table's slots, [key | state], each padded to 8 bytes, next to
 * a byte of control per slot: 0 empty, 1 removed, else 0x80 and the top 7 bits of the key's
 * hash. A probe scans the control bytes (a byte a slot: in cache when the slots are not) and
 * compares a key only where its byte matches, so a lookup costs about one miss, and a
 * lookup of an absent key usually none in the slots. (The library's keyed table, which
 * keeps keys encoded in a batch so that they may be of any length, took twice as long in
 * hashjoin; hash words stored in the slots, 1.1 times.) Keys without a fixed size go to
 * the keyed table. */
enum { EMPTY = 0, REMOVED = 1 };

struct tide_table {
    size_t key_size, state_size, slot_size; /* key_size 0: keyed */
    unsigned char *ctrl, *slots;
    size_t ctrl_bytes, slot_bytes; /* as allocated (tide__table_alloc) */
    size_t nslots, len, removed;
    unsigned shift; /* 64 - log2(nslots) */
    tide_hash_fn hash;
    tide_same_fn same;
    void *ctx;
    struct tide__keyed keyed;
};

#define PAD8(n) (((n) + 7) & ~(size_t)7)

static uint64_t key_hash(const tide_table *t, const void *key)
{
    if (t->hash)
        return t->hash(key, t->ctx);
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ t->key_size;
    size_t i = 0;
    for (; i + 8 <= t->key_size; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < t->key_size; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static bool key_same(const tide_table *t, const void *a, const void *b)
{
    if (t->same)
        return t->same(a, b, t->ctx);
    return t->key_size == 8 ? memcmp(a, b, 8) == 0 : memcmp(a, b, t->key_size) == 0;
}

static unsigned char *slot(const tide_table *t, size_t i) { return t->slots + i * t->slot_size; }

static void alloc_slots(tide_table *t, size_t nslots)
{
    if (nslots > SIZE_MAX / (t->slot_size + 1) ||
        !(t->ctrl = tide__table_alloc(nslots, &t->ctrl_bytes)) ||
        !(t->slots = tide__table_alloc(nslots * t->slot_size, &t->slot_bytes)))
        tide_abort("tide_table: out of memory (%zu slots of %zu bytes)", nslots, t->slot_size);
    t->nslots = nslots;
    t->shift = 64;
    while (((size_t)1 << (64 - t->shift)) < nslots)
        t->shift--;
    t->len = t->removed = 0;
}

static void free_slots(tide_table *t)
{
    tide__table_free(t->ctrl, t->ctrl_bytes);
    tide__table_free(t->slots, t->slot_bytes);
}

tide_table *tide_table_new(const tide_type *key, size_t state_size, tide_hash_fn hash,
                           tide_same_fn same, void *ctx)
{
    if (!key->size && (!hash || !same))
        tide_abort("tide_table: %s keys have no fixed size: give a hash and an equality",
                   key->name);
    tide_table *t = calloc(1, sizeof *t);
    if (!t)
        tide_abort("tide_table: out of memory");
    *t = (tide_table){ .key_size = key->size, .state_size = state_size, .hash = hash,
                       .same = same, .ctx = ctx };
    if (!key->size) {
        /* the program's functions themselves, which the keyed table recognises when they
         * are the library's string ones (tide_hash_str, tide_same_str): then it hashes and
         * compares inline */
        tide__keyed_init(&t->keyed, key, state_size, hash, same, ctx, "tide_table");
        return t;
    }
    t->slot_size = PAD8(key->size) + PAD8(state_size);
    alloc_slots(t, 16);
    return t;
}

/* The index of @p key's slot (hash @p h), or, when it is absent, -1 with *free the slot to
 * put it in (the first removed one on its path, else the empty one ending it). */
static ptrdiff_t probe(const tide_table *t, const void *key, uint64_t h, size_t *free_slot)
{
    size_t mask = t->nslots - 1, i = (size_t)((h * 0x9e3779b97f4a7c15ull) >> t->shift) & mask;
    unsigned char tag = (unsigned char)(0x80 | (h >> 57));
    size_t first_removed = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        unsigned char c = t->ctrl[i];
        if (c == tag && key_same(t, key, slot(t, i)))
            return (ptrdiff_t)i;
        if (c == EMPTY) {
            *free_slot = first_removed != SIZE_MAX ? first_removed : i;
            return -1;
        }
        if (c == REMOVED && first_removed == SIZE_MAX)
            first_removed = i;
    }
}

static void *state_at(const tide_table *t, size_t i) { return slot(t, i) + PAD8(t->key_size); }

/* Puts @p key (hash @p h, absent) in slot @p i with a zeroed state. */
static void *place(tide_table *t, size_t i, const void *key, uint64_t h)
{
    if (t->ctrl[i] == REMOVED)
        t->removed--;
    t->ctrl[i] = (unsigned char)(0x80 | (h >> 57));
    memcpy(slot(t, i), key, t->key_size);
    memset(state_at(t, i), 0, t->state_size);
    t->len++;
    return state_at(t, i);
}

/* The slots again, @p nslots of them (a power of two holding the keys), without the
 * removed ones. */
static void rehash_to(tide_table *t, size_t nslots)
{
    tide_table old = *t;
    alloc_slots(t, nslots);
    for (size_t i = 0; i < old.nslots; i++) {
        if (old.ctrl[i] <= REMOVED)
            continue;
        const unsigned char *s = slot(&old, i);
        uint64_t h = key_hash(t, s);
        size_t to;
        probe(t, s, h, &to);
        place(t, to, s, h);
        memcpy(state_at(t, to), s + PAD8(t->key_size), t->state_size);
    }
    free_slots(&old);
}

/* The slots again, twice as many when the keys fill a quarter of them. */
static void rehash(tide_table *t)
{
    rehash_to(t, 4 * t->len >= t->nslots ? 2 * t->nslots : t->nslots);
}

void *tide_table_get(tide_table *t, const void *key)
{
    if (!t->key_size)
        return tide__keyed_state(&t->keyed, key, NULL);
    uint64_t h = key_hash(t, key);
    size_t free_slot;
    ptrdiff_t i = probe(t, key, h, &free_slot);
    if (i >= 0)
        return state_at(t, (size_t)i);
    if (2 * (t->len + t->removed + 1) > t->nslots) {
        rehash(t);
        probe(t, key, h, &free_slot);
    }
    return place(t, free_slot, key, h);
}

bool tide_table_add(tide_table *t, const void *key)
{
    size_t before = tide_table_len(t);
    tide_table_get(t, key);
    return tide_table_len(t) > before;
}

void *tide_table_find(tide_table *t, const void *key)
{
    if (!t->key_size)
        return tide__keyed_find(&t->keyed, key);
    size_t free_slot;
    ptrdiff_t i = probe(t, key, key_hash(t, key), &free_slot);
    return i >= 0 ? state_at(t, (size_t)i) : NULL;
}

/* Starts loading the control byte and slot where a probe for hash @p h begins. */
TIDE__PREFETCHER void prefetch_hashed(const tide_table *t, uint64_t h)
{
    size_t i = (size_t)((h * 0x9e3779b97f4a7c15ull) >> t->shift) & (t->nslots - 1);
    __builtin_prefetch(&t->ctrl[i]);
    /* a slot wider than 8 bytes may cross into the next line (hashjoin's, of 40 bytes:
     * the lengths in its state, read first, were in the second line 3 times in 8) */
    __builtin_prefetch(slot(t, i));
    __builtin_prefetch(slot(t, i) + t->slot_size - 1);
}

void tide_table_prefetch(const tide_table *t, const void *key)
{
    if (t->key_size)
        prefetch_hashed(t, key_hash(t, key));
}

/* How far ahead of its probe a key is hashed and its slot prefetched: the distance
 * hashjoin's own pipeline used for its 10 MB table (others not measured here). */
enum { GET_AHEAD = 24 };

void tide_table_get_n(tide_table *t, const void *keys, size_t stride, size_t n, void **states)
{
    if (!t->key_size)
        tide_abort("tide_table_get_n: its keys have no fixed size (use tide_table_get)");
    if (n > SIZE_MAX / 4 - t->len - t->removed)
        tide_abort("tide_table_get_n: %zu keys", n);
    /* Room for all n first: a rehash on the way would move the states already handed out. */
    if (2 * (t->len + t->removed + n) > t->nslots) {
        size_t nslots = t->nslots;
        while (2 * (t->len + n) > nslots || 4 * t->len >= nslots)
            nslots *= 2;
        rehash_to(t, nslots);
    }
    const unsigned char *k = keys;
    uint64_t h[GET_AHEAD];
    for (size_t i = 0; i < n + GET_AHEAD; i++) {
        if (i >= GET_AHEAD) {
            size_t r = i - GET_AHEAD, free_slot;
            const void *key = k + r * stride;
            ptrdiff_t at = probe(t, key, h[r % GET_AHEAD], &free_slot);
            states[r] = at >= 0 ? state_at(t, (size_t)at)
                                : place(t, free_slot, key, h[r % GET_AHEAD]);
        }
        if (i < n) {
            h[i % GET_AHEAD] = key_hash(t, k + i * stride);
            prefetch_hashed(t, h[i % GET_AHEAD]);
        }
    }
}

bool tide_table_remove(tide_table *t, const void *key)
{
    size_t before = tide_table_len(t);
    if (!t->key_size) {
        tide__keyed_remove(&t->keyed, key);
        return t->keyed.live < before;
    }
    size_t free_slot;
    ptrdiff_t i = probe(t, key, key_hash(t, key), &free_slot);
    if (i < 0)
        return false;
    t->ctrl[i] = REMOVED;
    t->len--;
    t->removed++;
    return true;
}

size_t tide_table_len(const tide_table *t) { return t->key_size ? t->len : t->keyed.live; }

bool tide_table_next(const tide_table *t, size_t *cursor, void *key, void **state)
{
    void *st = NULL;
    if (!t->key_size) {
        if (!tide__keyed_next(&t->keyed, cursor, key, &st))
            return false;
    } else {
        while (*cursor < t->nslots && t->ctrl[*cursor] <= REMOVED)
            ++*cursor;
        if (*cursor == t->nslots)
            return false;
        memcpy(key, slot(t, *cursor), t->key_size);
        st = state_at(t, (*cursor)++);
    }
    if (state)
        *state = st;
    return true;
}

void tide_table_free(tide_table *t)
{
    if (!t)
        return;
    if (t->key_size)
        free_slots(t);
    else
        tide__keyed_free(&t->keyed);
    free(t);
}

/* ---------------------------------------------------------------- consolidation */

const tide_type tide_type_diff = { "tide_diff", sizeof(tide_diff), 0, 0, 0, 0 };

/* An LSD radix sort by key over the bits the keys use (@p used: their OR), in as few passes
 * of at most 11 bits as cover them, the bits shared out evenly: 17-bit keys (pagerank's
 * 100,000 nodes) sort in two passes of 9 bits, whose 512 write streams scatter faster than
 * 2048 do (2 million changes: 16-17 ms against 26-29 with passes of 11 and 6 bits). */
static void radix_sort(tide_diff *d, size_t n, uint64_t used)
{
    unsigned bits = 0;
    while (bits < 64 && (used >> bits))
        bits++;
    if (!bits)
        return;
    unsigned passes = (bits + 10) / 11, width = (bits + passes - 1) / passes;
    uint64_t mask = ((uint64_t)1 << width) - 1;
    size_t cap;
    unsigned char *scratch = tide__scratch_take(n * sizeof *d, &cap);
    if (!scratch)
        tide_abort("tide_consolidate: out of memory (%zu changes)", n);
    tide_diff *tmp = (tide_diff *)(void *)(scratch + TIDE__HEADROOM), *a = d, *b = tmp;
    for (unsigned p = 0, shift = 0; p < passes; p++, shift += width) {
        size_t count[2049] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((a[i].key >> shift) & mask) + 1]++;
        for (size_t k = 1; k <= mask + 1; k++)
            count[k] += count[k - 1];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i].key >> shift) & mask]++] = a[i];
        tide_diff *t = a;
        a = b;
        b = t;
    }
    if (a != d)
        memcpy(d, a, n * sizeof *d);
    tide__scratch_give(scratch, cap);
}

/* Keys spanning at most this many values, and no more than twice as many as there are
 * changes, are summed in an array indexed by key (one pass adding into a cache-sized
 * array, one pass reading it out in key order) instead of sorted: pagerank's rounds of a
 * million changes to 100,000 nodes. Wider, the array would leave the L2 cache and every
 * add would miss, where the sort's passes stream. */
#define DENSE_SPAN ((uint64_t)1 << 18)

/* Sums the changes of keys min..min+span-1 by key into d, in key order, dropping zeros;
 * returns how many are left. Every key left had a change, so they fit where the changes
 * were, which were all read first. */
static size_t dense_sum(tide_diff *d, size_t n, uint64_t min, uint64_t span)
{
    size_t cap;
    unsigned char *scratch = tide__scratch_take(span * sizeof(uint64_t), &cap);
    if (!scratch)
        tide_abort("tide_consolidate: out of memory (%zu changes)", n);
    /* unsigned: sums wrap as the sorted path's additions do, without signed overflow */
    uint64_t *sum = (uint64_t *)(void *)(scratch + TIDE__HEADROOM);
    memset(sum, 0, span * sizeof *sum);
    for (size_t i = 0; i < n; i++)
        sum[d[i].key - min] += (uint64_t)d[i].diff;
    size_t out = 0;
    for (uint64_t k = 0; k < span; k++)
        if (sum[k])
            d[out++] = (tide_diff){ min + k, (int64_t)sum[k] };
    tide__scratch_give(scratch, cap);
    return out;
}

size_t tide_consolidate(tide_diff *d, size_t n)
{
    if (n > 64) {
        uint64_t used = 0, min = UINT64_MAX, max = 0;
        for (size_t i = 0; i < n; i++) {
            used |= d[i].key;
            min = d[i].key < min ? d[i].key : min;
            max = d[i].key > max ? d[i].key : max;
        }
        if (max - min < DENSE_SPAN && max - min < 2 * (uint64_t)n)
            return dense_sum(d, n, min, max - min + 1);
        radix_sort(d, n, used);
    } else { /* short runs: insertion sort */
        for (size_t i = 1; i < n; i++) {
            tide_diff x = d[i];
            size_t j = i;
            for (; j > 0 && d[j - 1].key > x.key; j--)
                d[j] = d[j - 1];
            d[j] = x;
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        tide_diff c = d[i++];
        while (i < n && d[i].key == c.key)
            c.diff += d[i++].diff;
        if (c.diff)
            d[out++] = c;
    }
    return out;
}
