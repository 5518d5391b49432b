/* SPDX-License-Identifier: MIT */
/* The per-key state table shared by aggregate (one per open time) and state_machine (one for
 * the operator's life). Linear probing, power-of-two sizes, at most half full. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

/* A slot is one word, so that a table of many keys stays in cache (wordcount's 20000 words
 * need 64Ki slots: 512 KiB, where slots of hash, key offset, state offset and flag took
 * 2 MiB, more than a core's L2 here): 0 for never used, else the key's index + 1 in the low
 * IDX_BITS bits, a removed flag above them and the top bits of the key's hash as a tag, so
 * that a probe reads a key only when the tags agree. Key i's state is at i * state_size; its
 * record at i * size in `keys` for fixed-size types, at koff[i] for variable-length ones.
 * The slot's position comes from the hash's low bits, the tag from its high bits. */
#define IDX_BITS 39
#define IDX_MASK (((uint64_t)1 << IDX_BITS) - 1)
#define REMOVED_BIT ((uint64_t)1 << IDX_BITS)
#define TAG_SHIFT (IDX_BITS + 1)

static uint64_t tag_of(uint64_t h) { return h >> TAG_SHIFT << TAG_SHIFT; }

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
                               .ctx = ctx, .who = who, .key_size = type->size };
    if (type->size > TIDE__VALUE_BYTES) /* keys are read back into a value buffer */
        tide_abort("%s: %s records are larger than %d bytes", who, type->name,
                   TIDE__VALUE_BYTES);
    alloc_table(k, type, 64);
}

/* Key @p i's record: in place for fixed-size types, else decoded into @p value. */
static const void *key_at(const struct tide__keyed *k, size_t i, void *value)
{
    const unsigned char *keys = tide_batch_records(k->keys);
    if (k->key_size)
        return keys + i * k->key_size;
    if (tide_batch_type(k->keys) == TIDE_STR) { /* the common case, inline */
        size_t len;
        *(const char **)value = tide__str_record(keys + k->koff[i], &len);
        return value;
    }
    size_t cursor = k->koff[i];
    tide_batch_read(k->keys, &cursor, value);
    return value;
}

/* Adds a key (known absent) with a zeroed state in an empty slot; returns the state. */
static void *insert(struct tide__keyed *k, uint64_t h, const void *record)
{
    size_t j = h & (k->nslots - 1);
    while (k->slots[j])
        j = (j + 1) & (k->nslots - 1);
    if (k->nstates == IDX_MASK - 1)
        tide_abort("%s: more than %" PRIu64 " keys in one table", k->who, IDX_MASK - 1);
    size_t off = tide_batch_bytes(k->keys);
    if (tide_batch_push(k->keys, record) != 0)
        tide_abort("%s: out of memory", k->who);
    if (k->nstates == k->capstates) {
        size_t grown = k->capstates ? 2 * k->capstates : 64;
        size_t per = k->state_size + (k->key_size ? 0 : sizeof *k->koff);
        k->states = xrealloc(k, k->states, grown * k->state_size);
        if (!k->key_size)
            k->koff = xrealloc(k, k->koff, grown * sizeof *k->koff);
        tide__memory_account((int64_t)((grown - k->capstates) * per));
        k->capstates = grown;
    }
    size_t i = k->nstates++;
    if (!k->key_size)
        k->koff[i] = off;
    unsigned char *state = k->states + i * k->state_size;
    memset(state, 0, k->state_size);
    k->slots[j] = tag_of(h) | (i + 1);
    k->used++;
    k->live++;
    return state;
}

static void free_arrays(const struct tide__keyed *k)
{
    size_t per = k->state_size + (k->key_size ? 0 : sizeof *k->koff);
    tide__memory_account(-(int64_t)(k->nslots * sizeof *k->slots + k->capstates * per));
    free(k->slots);
    free(k->states);
    free(k->koff);
}

/* A new table holding only the live keys: twice the size when they fill a quarter of it.
 * Hashes are not kept, so each live key is hashed again (once per doubling, amortized). */
static void rebuild(struct tide__keyed *k)
{
    struct tide__keyed old = *k;
    size_t n = old.nslots;
    if (4 * old.live >= n)
        n *= 2;
    alloc_table(k, tide_batch_type(old.keys), n);
    k->states = NULL;
    k->koff = NULL;
    k->capstates = 0;
    unsigned char value[TIDE__VALUE_BYTES];
    for (size_t j = 0; j < old.nslots; j++) {
        uint64_t s = old.slots[j];
        if (!s || (s & REMOVED_BIT))
            continue;
        size_t i = (size_t)(s & IDX_MASK) - 1;
        const void *key = key_at(&old, i, value);
        memcpy(insert(k, old.hash(key, old.ctx), key), old.states + i * old.state_size,
               k->state_size);
    }
    free_arrays(&old);
    tide_batch_free(old.keys);
}

/* The slot of @p record's key, or the first never-used slot of its chain. */
static size_t find(const struct tide__keyed *k, uint64_t h, const void *record)
{
    unsigned char value[TIDE__VALUE_BYTES];
    uint64_t want = tag_of(h); /* and the removed bit clear */
    size_t j = h & (k->nslots - 1);
    for (uint64_t s; (s = k->slots[j]); j = (j + 1) & (k->nslots - 1))
        if ((s & ~IDX_MASK) == want &&
            k->same_key(record, key_at(k, (size_t)(s & IDX_MASK) - 1, value), k->ctx))
            break;
    return j;
}

/* find() for a string of @p len bytes at @p s in a table of TIDE_STR keys compared with
 * tide_same_str: by their stored lengths, then bytes, inline. */
static size_t find_str(const struct tide__keyed *k, uint64_t h, const char *s, size_t len)
{
    uint64_t want = tag_of(h);
    const unsigned char *keys = tide_batch_records(k->keys);
    size_t j = h & (k->nslots - 1);
    for (uint64_t e; (e = k->slots[j]); j = (j + 1) & (k->nslots - 1))
        if ((e & ~IDX_MASK) == want) {
            size_t klen;
            const char *key = tide__str_record(keys + k->koff[(e & IDX_MASK) - 1], &klen);
            if (klen == len && tide__str_same(key, s, len))
                break;
        }
    return j;
}

static void *state_of(const struct tide__keyed *k, size_t j)
{
    return k->states + ((size_t)(k->slots[j] & IDX_MASK) - 1) * k->state_size;
}

/* @p len: the length of the string @p record when the table compares strings with
 * tide_same_str and the caller knows it, else SIZE_MAX. */
static void *state_hashed(struct tide__keyed *k, uint64_t h, const void *record, size_t len,
                          bool *fresh)
{
    size_t j = len == SIZE_MAX ? find(k, h, record)
                               : find_str(k, h, *(const char *const *)record, len);
    *fresh = !k->slots[j];
    if (!*fresh)
        return state_of(k, j);
    if (2 * (k->used + 1) > k->nslots)
        rebuild(k);
    return insert(k, h, record);
}

void *tide__keyed_state(struct tide__keyed *k, const void *record, bool *fresh)
{
    bool ignored;
    return state_hashed(k, k->hash(record, k->ctx), record, SIZE_MAX, fresh ? fresh : &ignored);
}

/* A software pipeline over the batch's records: record i is hashed and its slot
 * prefetched AHEAD records before it is folded, and its slot read and its key and state
 * prefetched MID records before: a table of many keys is mostly out of cache, and its
 * misses then overlap with the work on the records between (wordcount's table of 20000
 * words: see doc/architecture.md). Hashing a group of 8 and prefetching only their slots
 * read each slot right after its prefetch was issued. */
enum { AHEAD = 16, MID = 8 };

static void prefetch_entry(const struct tide__keyed *k, uint64_t h)
{
    uint64_t s = k->slots[h & (k->nslots - 1)];
    if (!s || (s & ~IDX_MASK) != tag_of(h))
        return;
    size_t i = (size_t)(s & IDX_MASK) - 1;
    const unsigned char *keys = tide_batch_records(k->keys);
    __builtin_prefetch(keys + (k->key_size ? i * k->key_size : k->koff[i]));
    __builtin_prefetch(k->states + i * k->state_size);
}

void tide__keyed_fold(struct tide__keyed *k, tide_batch *b,
                      void (*fold)(void *state, const void *record, void *ctx), void *ctx)
{
    /* the value of a record that is not read in place (variable-length types) */
    unsigned char value[AHEAD][TIDE__VALUE_BYTES];
    const void *rec[AHEAD];
    uint64_t h[AHEAD];
    size_t lens[AHEAD];
    size_t n = tide_batch_len(b), at = 0;
    /* strings hashed by tide_hash_str: their stored length spares a strlen per record,
     * and with tide_same_str, the comparison with the key */
    bool str = tide_batch_type(b) == TIDE_STR && k->hash == tide_hash_str;
    bool same_str = str && k->same_key == tide_same_str && tide_batch_type(k->keys) == TIDE_STR;
    const unsigned char *data = tide_batch_records(b);
    bool fresh;
    for (size_t i = 0; i < n + AHEAD; i++) {
        if (i >= AHEAD) {
            size_t r = (i - AHEAD) % AHEAD;
            fold(state_hashed(k, h[r], rec[r], same_str ? lens[r] : SIZE_MAX, &fresh), rec[r],
                 ctx);
        }
        if (i >= MID && i - MID < n)
            prefetch_entry(k, h[(i - MID) % AHEAD]);
        if (i >= n)
            continue;
        size_t r = i % AHEAD;
        if (str) {
            size_t len;
            const char *s = tide__str_record(data + at, &len);
            *(const char **)value[r] = s;
            rec[r] = value[r];
            lens[r] = len;
            h[r] = tide__hash_strn(s, len);
            at += tide__var_record_bytes(len + 1);
        } else {
            rec[r] = tide__record_next(b, &at, value[r]);
            h[r] = k->hash(rec[r], k->ctx);
        }
        __builtin_prefetch(&k->slots[h[r] & (k->nslots - 1)]);
    }
}

void *tide__keyed_find(struct tide__keyed *k, const void *record)
{
    size_t j = find(k, k->hash(record, k->ctx), record);
    return k->slots[j] ? state_of(k, j) : NULL;
}

void tide__keyed_remove(struct tide__keyed *k, const void *record)
{
    size_t j = find(k, k->hash(record, k->ctx), record);
    if (k->slots[j]) {
        k->slots[j] |= REMOVED_BIT;
        k->live--;
    }
}

bool tide__keyed_next(const struct tide__keyed *k, size_t *cursor, void *key, void **state)
{
    for (; *cursor < k->nslots; ++*cursor) {
        uint64_t s = k->slots[*cursor];
        if (s && !(s & REMOVED_BIT)) {
            size_t i = (size_t)(s & IDX_MASK) - 1;
            if (k->key_size)
                memcpy(key, key_at(k, i, NULL), k->key_size);
            else
                key_at(k, i, key);
            *state = k->states + i * k->state_size;
            ++*cursor;
            return true;
        }
    }
    return false;
}

void tide__keyed_free(struct tide__keyed *k)
{
    free_arrays(k);
    tide_batch_free(k->keys);
    k->slots = NULL;
    k->states = NULL;
    k->koff = NULL;
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
