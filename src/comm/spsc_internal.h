/* SPDX-License-Identifier: MIT */
/* An unbounded single-producer single-consumer queue of pointers. Nodes the consumer has
 * passed are reused by the producer, so a queue in steady state allocates nothing. Pushers
 * never block: a bounded queue could deadlock two workers that push to each other. */
#ifndef TIDE_SPSC_INTERNAL_H
#define TIDE_SPSC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct tide__spsc_node {
    struct tide__spsc_node *_Atomic next;
    void *value;
};

struct tide__spsc {
    /* consumer side, on its own cache line */
    _Alignas(64) struct tide__spsc_node *_Atomic tail; /* last consumed node (a dummy) */
    /* producer side */
    _Alignas(64) struct tide__spsc_node *head;  /* last pushed node */
    struct tide__spsc_node *first;              /* oldest node, reusable up to tail_copy */
    struct tide__spsc_node *tail_copy;
};

/* 0, TIDE_ENOMEM; stops the run if @p q is not on its cache line (allocate what holds
 * queues with tide__calloc_aligned: plain malloc gives 16 bytes). */
int tide__spsc_init(struct tide__spsc *q);
/* calloc() for structs that hold queues: zeroed, aligned to 64 bytes; free() frees it.
 * NULL when out of memory or when n * size overflows. */
void *tide__calloc_aligned(size_t n, size_t size);
/* Frees the nodes; values still queued are not touched (drain them first). */
void tide__spsc_destroy(struct tide__spsc *q);
/* Producer. 0, or TIDE_ENOMEM. */
int tide__spsc_push(struct tide__spsc *q, void *value);
/* Consumer: the oldest value, or NULL when empty. Inline, as the next one: a poll loop
 * looks at several queues per pass, most of them empty. */
static inline void *tide__spsc_pop(struct tide__spsc *q)
{
    struct tide__spsc_node *t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct tide__spsc_node *n = atomic_load_explicit(&t->next, memory_order_acquire);
    if (!n)
        return NULL;
    void *v = n->value;
    atomic_store_explicit(&q->tail, n, memory_order_release);
    return v;
}
/* Consumer (or anyone, as a hint): true when nothing is queued. */
static inline bool tide__spsc_empty(struct tide__spsc *q)
{
    struct tide__spsc_node *t = atomic_load_explicit(&q->tail, memory_order_acquire);
    return atomic_load_explicit(&t->next, memory_order_acquire) == NULL;
}

#endif
