/* SPDX-License-Identifier: MIT */
/* The per-key state table shared by aggregate (one per open time) and state_machine (one for
 * the operator's life). Linear probing, power-of-two sizes, at most half full. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "operators_internal.h"

/* A slot is one word, so that a table of many keys stays in cache (wordcount's 20000 words
 * need 64Ki slots: 512 KiB, where slots of hash, key offset, state offset and flag took
 * 2 MiB, more than a core's L2 here): 0 for never used, else where the key's entry starts
 * (in 8-byte words, + 1) in the low IDX_BITS bits, a removed flag above them and the top
 * bits of the key's hash as a tag, so that a probe reads an entry only when the tags
 * agree. An entry is the key's state (state_size bytes, padded to 8), then its record as
 * a batch holds it, padded to 8: a hit finds state and key together, and the address
 * comes from the slot alone, so a loop of lookups can prefetch it without a dependent
 * load (a separate array of key offsets cost wordcount a miss per word: see
 * doc/architecture.md). Records are as a batch holds them (variable-length ones: a length
 * word, the encoding, padding). The slot's position comes from the hash's low bits, the
 * tag from its high bits. */
#define IDX_BITS 39
#define IDX_MASK (((uint64_t)1 << IDX_BITS) - 1)
#define REMOVED_BIT ((uint64_t)1 << IDX_BITS)
#define TAG_SHIFT (IDX_BITS + 1)

static uint64_t tag_of(uint64_t h) { return h >> TAG_SHIFT << TAG_SHIFT; }

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

static void alloc_table(struct tide__keyed *k, size_t nslots)
{
    k->nslots = nslots;
    if (nslots > SIZE_MAX / sizeof *k->slots ||
        !(k->slots = tide__table_alloc(nslots * sizeof *k->slots, &k->slot_bytes)))
        tide_abort("%s: out of memory", k->who);
    k->ent = NULL;
    k->ent_bytes = k->ent_cap = 0;
    k->used = k->live = 0;
}

static void free_table(const struct tide__keyed *k)
{
    tide__memory_account(-(int64_t)k->ent_cap);
    tide__table_free(k->slots, k->slot_bytes);
    free(k->ent);
}

void tide__keyed_init(struct tide__keyed *k, const tide_type *type, size_t state_size,
                      uint64_t (*hash)(const void *, void *),
                      bool (*same_key)(const void *, const void *, void *), void *ctx,
                      const char *who)
{
    *k = (struct tide__keyed){ .state_size = state_size, .hash = hash, .same_key = same_key,
                               .ctx = ctx, .who = who, .key_size = type->size,
                               .sstride = round8(state_size), .type = type };
    if (type->size > TIDE__VALUE_BYTES) /* keys are read back into a value buffer */
        tide_abort("%s: %s records are larger than %d bytes", who, type->name,
                   TIDE__VALUE_BYTES);
    alloc_table(k, 64);
}

/* The entry a used slot points to. */
static unsigned char *entry_of(const struct tide__keyed *k, uint64_t slot)
{
    return k->ent + ((size_t)(slot & IDX_MASK) - 1) * 8;
}

/* An entry's key record: in place for fixed-size types, else decoded into @p value. */
static const void *key_in(const struct tide__keyed *k, const unsigned char *e, void *value)
{
    const unsigned char *rec = e + k->sstride;
    if (k->key_size)
        return rec;
    const tide_type *t = k->type;
    if (t == TIDE_STR) { /* the common case, inline */
        size_t len;
        *(const char **)value = tide__str_record(rec, &len);
        return value;
    }
    uint32_t len;
    memcpy(&len, rec, 4);
    t->decode(rec + 4, len, value);
    return value;
}

/* Adds a key (known absent) with a zeroed state in an empty slot; returns the state. */
static void *insert(struct tide__keyed *k, uint64_t h, const void *record)
{
    size_t j = h & (k->nslots - 1);
    while (k->slots[j])
        j = (j + 1) & (k->nslots - 1);
    size_t len = k->key_size ? k->key_size : tide__var_len(k->type, record);
    size_t rec = k->key_size ? len : tide__var_record_bytes(len);
    size_t at = k->ent_bytes, end = at + k->sstride + round8(rec);
    if (!k->key_size && len > UINT32_MAX)
        tide_abort("%s: a key of %zu bytes", k->who, len);
    if (end / 8 + 1 > IDX_MASK)
        tide_abort("%s: more than %" PRIu64 " bytes of keys and states in one table", k->who,
                   IDX_MASK * 8);
    if (end > k->ent_cap) {
        size_t cap = k->ent_cap ? 2 * k->ent_cap : 1024;
        while (cap < end)
            cap *= 2;
        unsigned char *e = realloc(k->ent, cap);
        if (!e)
            tide_abort("%s: out of memory", k->who);
        tide__memory_account((int64_t)(cap - k->ent_cap));
        k->ent = e;
        k->ent_cap = cap;
    }
    unsigned char *e = k->ent + at;
    memset(e, 0, k->sstride); /* the zeroed state */
    if (k->key_size)
        memcpy(e + k->sstride, record, len);
    else
        tide__var_put(k->type, record, len, e + k->sstride);
    memset(e + k->sstride + rec, 0, round8(rec) - rec);
    k->ent_bytes = end;
    k->slots[j] = tag_of(h) | (at / 8 + 1);
    k->used++;
    k->live++;
    return e;
}

/* A new table holding only the live keys: twice the size when they fill a quarter of it.
 * Hashes are not kept, so each live key is hashed again (once per doubling, amortized). */
static void rebuild(struct tide__keyed *k)
{
    struct tide__keyed old = *k;
    size_t n = old.nslots;
    if (4 * old.live >= n)
        n *= 2;
    alloc_table(k, n);
    unsigned char value[TIDE__VALUE_BYTES];
    for (size_t j = 0; j < old.nslots; j++) {
        uint64_t s = old.slots[j];
        if (!s || (s & REMOVED_BIT))
            continue;
        const unsigned char *e = entry_of(&old, s);
        const void *key = key_in(&old, e, value);
        memcpy(insert(k, old.hash(key, old.ctx), key), e, k->state_size);
    }
    free_table(&old);
}

/* The slot of @p record's key, or the first never-used slot of its chain. */
static size_t find(const struct tide__keyed *k, uint64_t h, const void *record)
{
    unsigned char value[TIDE__VALUE_BYTES];
    uint64_t want = tag_of(h); /* and the removed bit clear */
    size_t j = h & (k->nslots - 1);
    for (uint64_t s; (s = k->slots[j]); j = (j + 1) & (k->nslots - 1))
        if ((s & ~IDX_MASK) == want &&
            k->same_key(record, key_in(k, entry_of(k, s), value), k->ctx))
            break;
    return j;
}

/* The state of the string of @p len bytes at @p s when it is a key of the table (TIDE_STR
 * keys compared as tide_same_str does: by their stored lengths, then bytes, inline; both
 * read with their records' padding when @p s is in a record too), else NULL. Inline in
 * the fold's loop, the table's fields stay in registers across records, where a call per
 * record reloaded them after each fold call (wordcount -w 1: 0.95x the time). Always: GCC
 * had kept it a function of its own, a call per word (0.99x without). */
static inline __attribute__((always_inline)) void *
hit_str(const struct tide__keyed *k, uint64_t h, const char *s, size_t len, bool in_record)
{
    uint64_t want = tag_of(h);
    size_t mask = k->nslots - 1, j = h & mask;
    for (uint64_t e; (e = k->slots[j]); j = (j + 1) & mask)
        if ((e & ~IDX_MASK) == want) {
            unsigned char *state = entry_of(k, e);
            size_t klen;
            const char *key = tide__str_record(state + k->sstride, &klen);
            if (klen == len && (in_record ? tide__str_same_rec(key, s, len)
                                          : tide__str_same(key, s, len)))
                return state;
        }
    return NULL;
}

static void *state_of(const struct tide__keyed *k, size_t j)
{
    return entry_of(k, k->slots[j]);
}

/* Adds @p record's key (hash @p h, known absent) with a zeroed state; returns the state. */
static void *add_key(struct tide__keyed *k, uint64_t h, const void *record)
{
    if (2 * (k->used + 1) > k->nslots)
        rebuild(k);
    return insert(k, h, record);
}

/* @p len: the length of the string @p record when the table compares strings with
 * tide_same_str and the caller knows it, else SIZE_MAX. */
static void *state_hashed(struct tide__keyed *k, uint64_t h, const void *record, size_t len,
                          bool *fresh)
{
    if (len != SIZE_MAX) {
        void *state = hit_str(k, h, *(const char *const *)record, len, true);
        *fresh = !state;
        if (state)
            return state;
    } else {
        size_t j = find(k, h, record);
        *fresh = !k->slots[j];
        if (!*fresh)
            return state_of(k, j);
    }
    return add_key(k, h, record);
}

/* Whether the table's keys are strings hashed and compared by the library's own functions,
 * which it then calls inline (a program's string table, tide_table_get: no calls through
 * the table's pointers and no key decoded per probe; a /tmp copy of wordcount counting
 * each word with tide_table_get took 0.73 s against 0.78, five runs each). */
static bool own_strings(const struct tide__keyed *k)
{
    return k->type == TIDE_STR && k->hash == tide_hash_str && k->same_key == tide_same_str;
}

/* The state of a program's string key (own_strings), else NULL; its hash in *h. */
static void *own_string_state(const struct tide__keyed *k, const void *record, uint64_t *h)
{
    const char *s = *(const char *const *)record;
    size_t len = strlen(s);
    *h = tide__hash_strn(s, len); /* tide_hash_str's */
    return hit_str(k, *h, s, len, false);
}

void *tide__keyed_state(struct tide__keyed *k, const void *record, bool *fresh)
{
    bool ignored;
    if (!fresh)
        fresh = &ignored;
    if (own_strings(k)) {
        uint64_t h;
        void *state = own_string_state(k, record, &h);
        *fresh = !state;
        return state ? state : add_key(k, h, record);
    }
    return state_hashed(k, k->hash(record, k->ctx), record, SIZE_MAX, fresh);
}

/* Past FAR_ENTRIES of entries, a software pipeline over the batch's records: record i is
 * hashed and its slot prefetched AHEAD records before it is folded, and its slot read and
 * its entry (state and key) prefetched MID records before: the misses then overlap with
 * the work on the records between. Hashing a group of 8 and prefetching only their slots
 * read each slot right after its prefetch was issued. A table that stays in cache is
 * folded one record at a time: wordcount's 20,000 words (480 KB of entries) took 0.87x
 * the time so, against the pipeline, and the entry prefetch (whose call the compiler had
 * dropped until TIDE__PREFETCHER) made that pipeline 1.06x slower there; a count of 1.7
 * million words (40 MB) took 0.92x the time with it. With entries (no key offsets to
 * load) 24/12 and 32/16 were no faster. */
enum { AHEAD = 16, MID = 8 };
#define FAR_ENTRIES ((size_t)1 << 20)

TIDE__PREFETCHER void prefetch_entry(const struct tide__keyed *k, uint64_t h)
{
    uint64_t s = k->slots[h & (k->nslots - 1)];
    if (s && (s & ~IDX_MASK) == tag_of(h))
        __builtin_prefetch(entry_of(k, s));
}

/* The @p n TIDE_STR records at @p data folded into a table of string keys in cache, each
 * looked up inline (hit_str); a NULL @p fold counts them (tide_fold_count), with no call
 * per record: inlined twice, one loop calls and the other adds. */
static inline __attribute__((always_inline)) void
fold_strs(struct tide__keyed *k, const unsigned char *data, size_t n,
          void (*fold)(void *state, const void *record, void *ctx), void *ctx)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = tide__str_record(data + at, &len);
        at += tide__var_record_bytes(len + 1);
        uint64_t hr = tide__hash_str_rec(s, len);
        void *state = hit_str(k, hr, s, len, true);
        if (!state)
            state = add_key(k, hr, &s);
        if (fold)
            fold(state, &s, ctx);
        else
            ++*(uint64_t *)state;
    }
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
    bool same_str = str && k->same_key == tide_same_str && k->type == TIDE_STR;
    const unsigned char *data = tide_batch_records(b);
    bool fresh;
    if (k->ent_bytes <= FAR_ENTRIES && same_str) { /* wordcount's: see hit_str */
        if (fold == tide_fold_count)
            fold_strs(k, data, n, NULL, NULL);
        else
            fold_strs(k, data, n, fold, ctx);
        return;
    }
    if (k->ent_bytes <= FAR_ENTRIES) { /* in cache: a pipeline would only cost */
        for (size_t i = 0; i < n; i++) {
            uint64_t hr;
            size_t len;
            const void *r;
            const char *s;
            if (str) {
                s = tide__str_record(data + at, &len);
                at += tide__var_record_bytes(len + 1);
                hr = tide__hash_str_rec(s, len);
                r = &s;
            } else {
                r = tide__record_next(b, &at, value[0]);
                hr = k->hash(r, k->ctx);
            }
            fold(state_hashed(k, hr, r, SIZE_MAX, &fresh), r, ctx); /* (same_str: above) */
        }
        return;
    }
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
            h[r] = tide__hash_str_rec(s, len);
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
    uint64_t h;
    if (own_strings(k))
        return own_string_state(k, record, &h);
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
            unsigned char *e = entry_of(k, s);
            if (k->key_size)
                memcpy(key, e + k->sstride, k->key_size);
            else
                key_in(k, e, key);
            *state = e;
            ++*cursor;
            return true;
        }
    }
    return false;
}

void tide__keyed_free(struct tide__keyed *k)
{
    free_table(k);
    k->slots = NULL;
    k->ent = NULL;
    k->nslots = k->ent_cap = k->ent_bytes = 0;
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
