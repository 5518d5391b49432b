/* SPDX-License-Identifier: MIT */
/* An unbounded single-producer single-consumer queue of pointers. Nodes the consumer has
 * passed are reused by the producer, so a queue in steady state allocates nothing. Pushers
 * never block: a bounded queue could deadlock two workers that push to each other. */
#ifndef TIDE_SPSC_INTERNAL_H
#define TIDE_SPSC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

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

int tide__spsc_init(struct tide__spsc *q);
/* Frees the nodes; values still queued are not touched (drain them first). */
void tide__spsc_destroy(struct tide__spsc *q);
/* Producer. 0, or TIDE_ENOMEM. */
int tide__spsc_push(struct tide__spsc *q, void *value);
/* Consumer: the oldest value, or NULL when empty. */
void *tide__spsc_pop(struct tide__spsc *q);
/* Consumer (or anyone, as a hint): true when nothing is queued. */
bool tide__spsc_empty(struct tide__spsc *q);

#endif
