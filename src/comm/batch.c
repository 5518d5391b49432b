/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "bufpool_internal.h"

static atomic_uint_fast64_t allocations;
/* Bytes of batch buffers alive in this process (a process is a rank), and the most there
 * have been: what --memory bounds. Changed only when a buffer is made, grown or freed,
 * never per record, and batches are pooled, so the shared line is written rarely. */
static atomic_int_fast64_t held;
static atomic_int_fast64_t peak;

void tide__memory_account(int64_t delta)
{
    int64_t now = atomic_fetch_add_explicit(&held, delta, memory_order_relaxed) + delta;
    if (delta <= 0)
        return;
    int64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(&peak, &p, now,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* A table read at random misses the TLB as well as the cache once its pages outnumber
 * the TLB's entries (hashjoin's 10 MB of slots: 2560 pages of 4 KiB); in huge pages it
 * does not. The kernel only backs whole, aligned huge pages, and only on request when
 * transparent huge pages are in "madvise" mode (Debian's default). */
#define HUGE_BYTES ((size_t)2 << 20)

/* Writes a byte of every page of zeroed memory fresh from the kernel. Tables are probed
 * before they are written: a page of zeros read first maps the kernel's shared zero page,
 * and the first write after copies it, a fault that flushes the TLBs of the cores running
 * the process's other threads (wordcount -w 2: 1.6% of its profile in those flushes, from
 * the keyed table's inserts). Written first, a page is simply allocated. */
static void first_touch(unsigned char *p, size_t bytes)
{
    for (size_t at = 0; at < bytes; at += 4096)
        ((volatile unsigned char *)p)[at] = 0;
}

void *tide__table_alloc(size_t bytes, size_t *got)
{
    if (bytes < HUGE_BYTES) {
        void *p = calloc(1, bytes ? bytes : 1);
        *got = bytes;
        if (p) {
            first_touch(p, bytes);
            tide__memory_account((int64_t)bytes);
        }
        return p;
    }
    if (bytes > SIZE_MAX - 2 * HUGE_BYTES)
        return NULL;
    size_t len = (bytes + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    unsigned char *m = tide__huge_map(len);
    if (!m)
        return NULL;
    first_touch(m, len); /* after the advice: huge pages from the first writes */
    *got = len;
    tide__memory_account((int64_t)len);
    return m;
}

void tide__table_free(void *p, size_t got)
{
    if (!p)
        return;
    tide__memory_account(-(int64_t)got);
    if (got < HUGE_BYTES)
        free(p);
    else
        tide__huge_unmap(p, got);
}

uint64_t tide_memory_held(void)
{
    int64_t h = atomic_load_explicit(&held, memory_order_relaxed);
    return h > 0 ? (uint64_t)h : 0;
}

void tide__memory_restart_peak(void)
{
    atomic_store_explicit(&peak, atomic_load_explicit(&held, memory_order_relaxed),
                          memory_order_relaxed);
}

uint64_t tide_memory_peak(void)
{
    return (uint64_t)atomic_load_explicit(&peak, memory_order_relaxed);
}

void tide__count_allocation(void)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

uint64_t tide_comm_allocations(void)
{
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}

tide_batch *tide_batch_new(const tide_type *type, size_t bytes)
{
    tide_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->type = type;
    if (tide__batch_reserve(b, bytes ? bytes : 64) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

tide_batch *tide__batch_unshare(tide_batch *view)
{
    tide_batch *buf = view->shared;
    view->shared = NULL;
    view->base = NULL;
    view->cap = 0;
    /* acq_rel: the last one frees or reuses the buffer after every other view's reads. */
    return atomic_fetch_sub_explicit(&buf->refs, 1, memory_order_acq_rel) == 1 ? buf : NULL;
}

/* A worker thread's spare large buffers, still counted as held. glibc maps a block of 32
 * MiB and over afresh on every malloc and unmaps it on free, so an operator that gathers a
 * time's records into one batch, sorts them with tide_consolidate, frees the batch and
 * gathers the next time's (pagerank: 2 million changes a round) paid a page fault per 4 KiB
 * every round, for the batch and for the sort's scratch: two spares keep both. Only without
 * a --memory budget: kept memory would count against the budget with nothing to bring it
 * back. */
#define SPARE_MIN ((size_t)1 << 20)
#define SPARES 2
static _Thread_local bool spare_on;
static _Thread_local struct spare {
    unsigned char *base;
    size_t cap;
} spares[SPARES];

void tide__spare_start(void)
{
    spare_on = true;
}

void tide__spare_end(void)
{
    for (int i = 0; i < SPARES; i++) {
        tide__batch_free_buffer(spares[i].base, spares[i].cap);
        spares[i] = (struct spare){ NULL, 0 };
    }
    spare_on = false;
}

/* Keeps @p base (capacity @p cap) in place of the smallest spare when it is large and
 * larger than that one; frees what is not kept. */
static void spare_or_free(unsigned char *base, size_t cap)
{
    struct spare *s = &spares[spares[1].cap < spares[0].cap];
    if (spare_on && cap >= SPARE_MIN && cap > s->cap) {
        tide__batch_free_buffer(s->base, s->cap);
        *s = (struct spare){ base, cap };
        return;
    }
    tide__batch_free_buffer(base, cap);
}

/* The smallest spare with room for @p bytes, taken from the spares, or NULL. */
static unsigned char *spare_take(size_t bytes, size_t *cap)
{
    struct spare *best = NULL;
    for (int i = 0; i < SPARES; i++)
        if (spares[i].base && spares[i].cap >= bytes && (!best || spares[i].cap < best->cap))
            best = &spares[i];
    if (!best)
        return NULL;
    unsigned char *base = best->base;
    *cap = best->cap;
    *best = (struct spare){ NULL, 0 };
    return base;
}

unsigned char *tide__scratch_take(size_t bytes, size_t *cap)
{
    unsigned char *base = spare_take(bytes, cap);
    if (base)
        return base;
    size_t size = tide__bufpool_size(TIDE__HEADROOM + bytes);
    if ((base = tide__bufpool_alloc(TIDE__HEADROOM + bytes)))
        tide__memory_account((int64_t)size);
    *cap = size - TIDE__HEADROOM;
    return base;
}

void tide__scratch_give(unsigned char *base, size_t cap)
{
    if (base)
        spare_or_free(base, cap);
}

void tide_batch_free(tide_batch *b)
{
    if (!b)
        return;
    if (b->shared)
        tide_batch_free(tide__batch_unshare(b));
    if (b->base)
        spare_or_free(b->base, b->cap);
    free(b);
}

void tide__batch_free_buffer(unsigned char *base, size_t cap)
{
    if (base)
        tide__memory_account(-(int64_t)(TIDE__HEADROOM + cap));
    tide__bufpool_free(base, TIDE__HEADROOM + cap);
}

void tide__batch_drop_buffer(tide_batch *b)
{
    tide__batch_free_buffer(b->base, b->cap);
    b->base = NULL;
    b->cap = 0;
}

unsigned char *tide__batch_take_buffer(tide_batch *b, size_t *cap)
{
    unsigned char *base = b->base;
    *cap = b->cap;
    b->base = NULL;
    b->cap = 0;
    return base;
}

void tide__batch_give_buffer(tide_batch *b, unsigned char *base, size_t cap)
{
    b->base = base;
    b->cap = cap;
}

/* A view about to be written gets a copy of what it reads. */
static int unshare_copy(tide_batch *b)
{
    size_t cap = tide__bufpool_size(TIDE__HEADROOM + b->cap) - TIDE__HEADROOM;
    unsigned char *base = tide__bufpool_alloc(TIDE__HEADROOM + b->cap);
    if (!base)
        return TIDE_ENOMEM;
    memcpy(base, b->base, TIDE__HEADROOM + b->bytes);
    tide__memory_account((int64_t)(TIDE__HEADROOM + cap));
    tide_batch_free(tide__batch_unshare(b));
    b->base = base;
    b->cap = cap;
    return 0;
}

int tide__batch_reserve(tide_batch *b, size_t bytes)
{
    if (b->shared && unshare_copy(b) != 0)
        return TIDE_ENOMEM;
    if (bytes <= b->cap && b->base)
        return 0;
    /* Beyond this the doubling below would wrap (a length from a peer or a file can ask). */
    if (bytes > (SIZE_MAX - TIDE__HEADROOM) / 2)
        return TIDE_ENOMEM;
    /* Grow geometrically so that filling a batch record by record costs O(log n) mallocs. */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < bytes)
        cap *= 2;
    size_t spare_cap;
    unsigned char *spare = cap >= SPARE_MIN ? spare_take(cap, &spare_cap) : NULL;
    if (spare) { /* counted already */
        if (b->base)
            memcpy(spare, b->base, TIDE__HEADROOM + b->bytes);
        tide__batch_free_buffer(b->base, b->cap);
        b->base = spare;
        b->cap = spare_cap;
        return 0;
    }
    size_t had = b->base ? TIDE__HEADROOM + b->cap : 0;
    size_t total = tide__bufpool_size(TIDE__HEADROOM + cap);
    unsigned char *base = tide__bufpool_realloc(b->base, had, had, TIDE__HEADROOM + cap);
    if (!base)
        return TIDE_ENOMEM;
    cap = total - TIDE__HEADROOM;
    tide__count_allocation();
    tide__memory_account((int64_t)cap - (int64_t)(b->base ? b->cap : 0) +
                         (b->base ? 0 : TIDE__HEADROOM));
    b->base = base;
    b->cap = cap;
    return 0;
}

const tide_type *tide_batch_type(const tide_batch *b) { return b->type; }
size_t tide_batch_len(const tide_batch *b) { return b->len; }
size_t tide_batch_bytes(const tide_batch *b) { return b->bytes; }
void *tide_batch_records(tide_batch *b) { return tide__batch_data(b); }
uint64_t *tide_batch_meta(tide_batch *b) { return b->meta; }

void tide_batch_clear(tide_batch *b)
{
    b->len = 0;
    b->bytes = 0;
    memset(b->meta, 0, sizeof b->meta);
}

void *tide_batch_extend(tide_batch *b, size_t n)
{
    size_t add = n * b->type->size;
    if (tide__batch_reserve(b, b->bytes + add) != 0)
        return NULL;
    void *at = tide__batch_data(b) + b->bytes;
    b->bytes += add;
    b->len += n;
    return at;
}

size_t tide__var_len(const tide_type *t, const void *value)
{
    /* strings, the common case, without a call through t */
    return t == &tide_type_str ? strlen(*(const char *const *)value) + 1 : t->encoded_size(value);
}

void tide__var_put(const tide_type *t, const void *value, size_t len, unsigned char *at)
{
    if (t == &tide_type_str) {
        tide__str_put(at, *(const char *const *)value, len - 1);
        return;
    }
    uint32_t len32 = (uint32_t)len;
    memcpy(at, &len32, 4);
    t->encode(value, at + 4);
    memset(at + 4 + len, 0, tide__var_record_bytes(len) - 4 - len); /* defined padding */
}

int tide_batch_push(tide_batch *b, const void *value)
{
    const tide_type *t = b->type;
    if (t->size) {
        void *at = tide_batch_extend(b, 1);
        if (!at)
            return TIDE_ENOMEM;
        memcpy(at, value, t->size);
        return 0;
    }
    size_t len = tide__var_len(t, value), need = tide__var_record_bytes(len);
    if (len > UINT32_MAX)
        return TIDE_EINVAL;
    if ((b->bytes + need > b->cap || !b->base || b->shared) &&
        tide__batch_reserve(b, b->bytes + need) != 0)
        return TIDE_ENOMEM;
    tide__var_put(t, value, len, tide__batch_data(b) + b->bytes);
    b->bytes += need;
    b->len++;
    return 0;
}

bool tide_batch_read(const tide_batch *b, size_t *cursor, void *value)
{
    const tide_type *t = b->type;
    if (*cursor >= b->bytes)
        return false;
    const unsigned char *at = tide__batch_data(b) + *cursor;
    if (t->size) {
        memcpy(value, at, t->size);
        *cursor += t->size;
        return true;
    }
    uint32_t len;
    memcpy(&len, at, 4);
    if (t == &tide_type_str) /* the common case, without a call through t */
        *(const char **)value = (const char *)at + 4;
    else
        t->decode(at + 4, len, value);
    *cursor += tide__var_record_bytes(len);
    return true;
}
