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

/* meta[0] of a batch that its receiver must pass on to its rank-mates. */
#define FORWARD 1

struct tide_progcaster {
    tide_allocator *alloc;
    tide_push **push;
    tide_pull *pull;
    size_t peers;
    size_t nlocal, first; /* workers per rank, and this rank's first worker */
    tide_progcast_route route;
    tide_batch *held; /* the last batch received, handed back at the next receive */
    uint64_t batches, updates;
};

tide_progcaster *tide_progcaster_new(tide_allocator *alloc, tide_progcast_route route)
{
    tide_progcaster *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->alloc = alloc;
    p->peers = tide_allocator_peers(alloc);
    p->nlocal = p->peers / tide_allocator_ranks(alloc);
    p->first = tide_allocator_rank(alloc) * p->nlocal;
    p->route = p->nlocal > 1 ? route : TIDE_PROGCAST_DIRECT;
    int id = tide_allocator_allocate(alloc, &change_type, &p->push, &p->pull);
    if (id < 0) {
        free(p);
        return NULL;
    }
    tide__channel_mark_progress(alloc, id);
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

/* Pushes a copy of @p n changes to worker @p w; *spare is a batch to fill (or NULL). */
static void push_copy(tide_progcaster *p, size_t w, const tide_change *c, size_t n,
                      uint64_t flag, tide_batch **spare)
{
    tide_batch *b = *spare;
    if (!b && !(b = tide_batch_new(&change_type, n * sizeof *c)))
        tide__fatal("out of memory sending progress updates");
    tide_change *out = tide_batch_extend(b, n);
    if (!out)
        tide__fatal("out of memory sending progress updates");
    memcpy(out, c, n * sizeof *out);
    tide_batch_meta(b)[0] = flag;
    tide_push_send(p->push[w], &b);
    tide_push_send(p->push[w], NULL);
    *spare = b;
}

void tide_progcaster_send(tide_progcaster *p, tide_change_batch *updates)
{
    tide_change_batch_compact(updates);
    if (updates->len == 0)
        return;
    /* Each receiver gets its own copy: inside a rank batches move by pointer. */
    tide_batch *b = NULL;
    for (size_t w = 0; w < p->peers; w++) {
        bool local = w >= p->first && w < p->first + p->nlocal;
        if (p->route == TIDE_PROGCAST_PER_RANK && !local) {
            if (w % p->nlocal)
                continue; /* the rank's first worker passes it on */
            push_copy(p, w, updates->changes, updates->len, FORWARD, &b);
        } else {
            push_copy(p, w, updates->changes, updates->len, 0, &b);
        }
    }
    tide_batch_free(b);
    p->batches++;
    p->updates += updates->len;
    tide_change_batch_clear(updates);
}

size_t tide_progcaster_recv(tide_progcaster *p, tide_change_batch *into)
{
    size_t n = 0;
    tide_batch *spare = NULL;
    while (tide_pull_recv(p->pull, &p->held)) {
        const tide_change *c = tide_batch_records(p->held);
        size_t len = tide_batch_len(p->held);
        for (size_t i = 0; i < len; i++)
            tide_change_batch_update(into, c[i].key, &c[i].time, c[i].delta);
        /* A batch from another rank, sent once for the whole rank: pass it on. Every
         * batch of one sender takes this same route, so each stays in order. */
        if (tide_batch_meta(p->held)[0] == FORWARD)
            for (size_t w = p->first; w < p->first + p->nlocal; w++)
                if (w != tide_allocator_index(p->alloc))
                    push_copy(p, w, c, len, 0, &spare);
        n++;
    }
    tide_batch_free(spare);
    return n;
}

void tide_progcaster_stats(const tide_progcaster *p, uint64_t *batches, uint64_t *updates)
{
    *batches = p->batches;
    *updates = p->updates;
}
