/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "alloc_internal.h"
#include "spsc_internal.h"
#include "tide/error.h"

void *tide__calloc_aligned(size_t n, size_t size)
{
    if (size && n > (SIZE_MAX - 63) / size)
        return NULL;
    size_t bytes = (n * size + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

int tide__spsc_init(struct tide__spsc *q)
{
    if ((uintptr_t)q % _Alignof(struct tide__spsc))
        tide__fatal("internal error: a queue at %p is not aligned to %zu bytes", (void *)q,
                    _Alignof(struct tide__spsc));
    struct tide__spsc_node *dummy = calloc(1, sizeof *dummy);
    if (!dummy)
        return TIDE_ENOMEM;
    atomic_init(&dummy->next, NULL);
    atomic_init(&q->tail, dummy);
    q->head = q->first = q->tail_copy = dummy;
    return 0;
}

void tide__spsc_destroy(struct tide__spsc *q)
{
    struct tide__spsc_node *n = q->first;
    while (n) {
        struct tide__spsc_node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
        free(n);
        n = next;
    }
    q->first = q->head = q->tail_copy = NULL;
}

static struct tide__spsc_node *node_get(struct tide__spsc *q)
{
    if (q->first == q->tail_copy)
        q->tail_copy = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (q->first != q->tail_copy) {
        struct tide__spsc_node *n = q->first;
        q->first = atomic_load_explicit(&n->next, memory_order_relaxed);
        return n;
    }
    tide__count_allocation();
    return malloc(sizeof(struct tide__spsc_node));
}

int tide__spsc_push(struct tide__spsc *q, void *value)
{
    struct tide__spsc_node *n = node_get(q);
    if (!n)
        return TIDE_ENOMEM;
    n->value = value;
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head->next, n, memory_order_release);
    q->head = n;
    return 0;
}

