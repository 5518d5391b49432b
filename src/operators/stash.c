/* SPDX-License-Identifier: MIT */
/* tide_stash: records kept per time with a capability, until an operator's input frontiers
 * have passed the time (timely's HashMap<T, Vec<D>> next to a notificator). The times are a
 * tide__by_time map (few are open at once); the ready ones are handed out in tide_time_cmp
 * order, which extends the partial order, so a time never comes out before
 * one it could depend on. */
#include <stdlib.h>

#include "operators_internal.h"

/* What one port got at one time, in order, in one batch: the first batch as it came, taken
 * from the input without a copy when it fills most of its buffer, and every later one
 * copied onto its end. Keeping the later ones too (and joining them when taken) copied as
 * much, but held each input batch's buffer until then, where a copy gives it back to the
 * worker for the next batch: pagerank -w 1 peaked at 243 MB instead of 266, bfs -w 1 0.93x
 * the time and 16,000 page faults instead of 23,000 (7 interleaved pairs). */
struct port_list {
    tide_batch *all;
};

/* A first batch kept as it came fills at least half its buffer and this much of it: a
 * small batch in a large buffer would hold memory that a copy does not. */
#define KEEP_BYTES 4096

struct entry {
    tide_cap *cap;            /* retained from the first batch at this time */
    struct port_list *ports;  /* nports of them */
    void *state;              /* tide_stash_state's */
};

struct tide_stash {
    struct tide__by_time times; /* of struct entry */
    uint32_t nports;
    struct entry current; /* handed out by tide_stash_next, freed at the next call */
    void (*free_state)(void *);
};

tide_stash *tide_stash_new(void)
{
    tide_stash *s = calloc(1, sizeof *s);
    if (!s)
        tide_abort("tide_stash_new: out of memory");
    s->free_state = free;
    return s;
}

void tide_stash_free_states(tide_stash *s, void (*free_state)(void *state))
{
    s->free_state = free_state ? free_state : free;
}

/* Frees what @p e holds but its capability. */
static void free_ports(tide_stash *s, struct entry *e)
{
    for (uint32_t p = 0; e->ports && p < s->nports; p++)
        tide_batch_free(e->ports[p].all);
    free(e->ports);
    e->ports = NULL;
    if (e->state)
        s->free_state(e->state);
    e->state = NULL;
}

/* Makes room in @p e for nports batches, from @p had. */
static void widen(struct entry *e, uint32_t had, uint32_t n)
{
    if (!n) /* a state only, so far */
        return;
    struct port_list *p = realloc(e->ports, n * sizeof *p);
    if (!p)
        tide_abort("tide_stash_add: out of memory");
    for (uint32_t k = had; k < n; k++)
        p[k] = (struct port_list){ NULL };
    e->ports = p;
}

/* The entry at @p cap's time, made (with a capability) when there is none. */
static struct entry *entry_at(tide_stash *s, const tide_cap *cap, const char *who)
{
    bool fresh;
    void **slot = tide__by_time_slot(&s->times, tide_cap_time(cap), &fresh);
    if (fresh) {
        struct entry *e = calloc(1, sizeof *e);
        if (!e)
            tide_abort("%s: out of memory", who);
        widen(e, 0, s->nports);
        e->cap = tide_cap_retain(cap);
        *slot = e;
    }
    return *slot;
}

void **tide_stash_state(tide_stash *s, const tide_cap *cap)
{
    if (!cap)
        tide_abort("tide_stash_state: no capability");
    return &entry_at(s, cap, "tide_stash_state")->state;
}

void *tide_stash_take_state(tide_stash *s)
{
    void *state = s->current.state;
    s->current.state = NULL;
    return state;
}

void tide_stash_add(tide_stash *s, uint32_t port, const tide_cap *cap, tide_batch *batch)
{
    if (!cap || !batch)
        tide_abort("tide_stash_add: no %s", cap ? "batch" : "capability");
    if (port >= s->nports) { /* every entry, and the one handed out, gets the new port */
        for (size_t i = 0; i < s->times.len; i++)
            widen(s->times.at[i].v, s->nports, port + 1);
        if (s->current.ports)
            widen(&s->current, s->nports, port + 1);
        s->nports = port + 1;
    }
    struct port_list *to = &entry_at(s, cap, "tide_stash_add")->ports[port];
    if (to->all && !tide_type_equal(tide_batch_type(to->all), tide_batch_type(batch)))
        tide_abort("tide_stash_add: a batch of %s records at port %u, which holds %s",
                   tide_batch_type(batch)->name, port, tide_batch_type(to->all)->name);
    if (!to->all) {
        to->all = batch->bytes >= KEEP_BYTES && batch->bytes >= batch->cap / 2
                      ? tide__op_keep(batch)
                      : NULL;
        if (to->all)
            return;
        if (!(to->all = tide_batch_new(tide_batch_type(batch), 0)))
            tide_abort("tide_stash_add: out of memory");
    }
    tide__batch_append(to->all, batch, "tide_stash_add");
}

bool tide_stash_next(tide_stash *s, tide_op *op, tide_cap **cap)
{
    free_ports(s, &s->current);
    const tide_time *best = NULL;
    uint32_t nin = tide_op_inputs(op);
    for (size_t i = 0; i < s->times.len; i++) {
        const tide_time *t = &s->times.at[i].t;
        bool open = false;
        for (uint32_t p = 0; p < nin && !open; p++)
            open = tide_antichain_less_equal(tide_op_frontier(op, p), t);
        if (!open && (!best || tide_time_cmp(t, best) < 0))
            best = t;
    }
    if (!best) {
        *cap = NULL;
        return false;
    }
    tide_time t = *best; /* the take moves entries */
    struct entry *e = tide__by_time_take(&s->times, &t);
    s->current = *e;
    free(e);
    *cap = s->current.cap;
    s->current.cap = NULL;
    return true;
}

tide_batch *tide_stash_take(tide_stash *s, uint32_t port)
{
    if (!s->current.ports || port >= s->nports)
        return NULL;
    tide_batch *b = s->current.ports[port].all;
    s->current.ports[port].all = NULL;
    return b;
}

size_t tide_stash_len(const tide_stash *s) { return s->times.len; }

void tide_stash_free(tide_stash *s)
{
    if (!s)
        return;
    free_ports(s, &s->current);
    for (size_t i = 0; i < s->times.len; i++) {
        struct entry *e = s->times.at[i].v;
        tide_cap_drop(&e->cap);
        free_ports(s, e);
        free(e);
        s->times.at[i].v = NULL;
    }
    tide__by_time_free(&s->times, free); /* the map itself (its slots are NULL now) */
    free(s);
}
