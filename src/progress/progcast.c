/* SPDX-License-Identifier: MIT */
/*
 * The progress broadcast: a worker's pointstamp updates of one step go to every worker as
 * one batch on a channel of the communication layer. Batches from one sender arrive whole
 * and in order (the channel is FIFO per sender), which is what makes applying other
 * workers' updates safe: a message's +1 at its target travels in the same batch as, or
 * before, the release of the capability it was sent at.
 */
#include <string.h>

#include "progress_internal.h"

static TIDE_TYPE_POD(change_type, tide_change);

struct tide_progcaster {
    tide_allocator *alloc;
    tide_push **push;
    tide_pull *pull;
    size_t peers;
    tide_batch *held; /* the last batch received, handed back at the next receive */
    uint64_t batches, updates;
};

tide_progcaster *tide_progcaster_new(tide_allocator *alloc)
{
    tide_progcaster *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->alloc = alloc;
    p->peers = tide_allocator_peers(alloc);
    if (tide_allocator_allocate(alloc, &change_type, &p->push, &p->pull) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void tide_progcaster_free(tide_progcaster *p)
{
    if (!p)
        return;
    tide_pull_recv(p->pull, &p->held); /* hands the last one back */
    tide_batch_free(p->held);
    free(p);
}

void tide_progcaster_send(tide_progcaster *p, tide_change_batch *updates)
{
    tide_change_batch_compact(updates);
    if (updates->len == 0)
        return;
    /* Each worker gets its own copy: inside a rank batches move by pointer. */
    tide_batch *b = NULL;
    for (size_t w = 0; w < p->peers; w++) {
        if (!b && !(b = tide_batch_new(&change_type, updates->len * sizeof(tide_change))))
            tide__fatal("out of memory sending progress updates");
        tide_change *out = tide_batch_extend(b, updates->len);
        if (!out)
            tide__fatal("out of memory sending progress updates");
        memcpy(out, updates->changes, updates->len * sizeof *out);
        tide_push_send(p->push[w], &b);
        tide_push_send(p->push[w], NULL);
    }
    tide_batch_free(b);
    p->batches++;
    p->updates += updates->len;
    tide_change_batch_clear(updates);
}

size_t tide_progcaster_recv(tide_progcaster *p, tide_change_batch *into)
{
    size_t n = 0;
    while (tide_pull_recv(p->pull, &p->held)) {
        const tide_change *c = tide_batch_records(p->held);
        for (size_t i = 0; i < tide_batch_len(p->held); i++)
            tide_change_batch_update(into, c[i].key, &c[i].time, c[i].delta);
        n++;
    }
    return n;
}

void tide_progcaster_stats(const tide_progcaster *p, uint64_t *batches, uint64_t *updates)
{
    *batches = p->batches;
    *updates = p->updates;
}
