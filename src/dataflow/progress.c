/* SPDX-License-Identifier: MIT */
/*
 * A dataflow's progress: this worker's updates of a step go to every worker in one batch
 * (all scopes together); received batches are applied whole to the scopes' trackers.
 *
 * Nested scopes: each has two trackers over the same graph. `internal` holds only the
 * scope's own pointstamps; what they imply at the scope's outputs is what the parent
 * sees the scope node hold (applied locally by every worker: the trackers already count
 * every worker's updates). `full` also holds, at the scope's inputs, the parent's frontier
 * there; it gives the frontiers of the operators inside. Keeping the two apart is what
 * stops a scope inside an outer loop from holding itself up through its own inputs.
 */
#include <stdio.h>

#include "dataflow_internal.h"

#define LOC_MASK ((UINT64_C(1) << TIDE__SCOPE_SHIFT) - 1)

void tide__activate(tide_op *op)
{
    if (!op->active) {
        op->active = true;
        op->df->nactive++;
    }
}

static void apply(tide_dataflow *df, const tide_change_batch *b)
{
    if (df->fp_pending)
        tide__fingerprint_check(df, b);
    for (size_t i = 0; i < b->len; i++) {
        const tide_change *c = &b->changes[i];
        uint64_t s = c->key >> TIDE__SCOPE_SHIFT;
        if (s >= df->nscopes && tide__fingerprint_key(c->key))
            continue;
        if (s >= df->nscopes)
            tide__fatal("dataflow '%s': a progress update for scope %llu, which it does not "
                        "have (do all workers build the same dataflows?)", df->name,
                        (unsigned long long)s);
        tide_scope *sc = df->scopes[s];
        tide_location l = tide_location_from_key(c->key & LOC_MASK);
        tide_tracker_update(sc->full, l, &c->time, c->delta);
        if (sc->internal)
            tide_tracker_update(sc->internal, l, &c->time, c->delta);
    }
}

/* Gives the parent's frontier at input @p port of @p child to the child's full tracker. */
static void mirror(tide_scope *child, uint32_t port, const tide_antichain *outer)
{
    tide_antichain *m = &child->mirror[port];
    if (tide_antichain_equal(m, outer))
        return;
    tide_location l = { 0, port, true };
    for (size_t i = 0; i < m->len; i++) {
        tide_time e = tide_time_enter(&m->elems[i]);
        tide_tracker_update(child->full, l, &e, -1);
    }
    tide_antichain_clear(m);
    for (size_t i = 0; i < outer->len; i++) {
        tide_antichain_insert(m, &outer->elems[i]);
        tide_time e = tide_time_enter(&outer->elems[i]);
        tide_tracker_update(child->full, l, &e, +1);
    }
}

static uint32_t loc_index(const tide_scope *s, tide_location l)
{
    return l.source ? s->ntargets + s->sbase[l.node] + l.port : s->tbase[l.node] + l.port;
}

static void propagate(tide_dataflow *df)
{
    /* What nested scopes hold, innermost first, into their parents. */
    for (uint32_t i = df->nscopes; i-- > 1;) {
        tide_scope *s = df->scopes[i];
        tide_tracker_propagate(s->internal);
        tide_change_batch_clear(&df->scratch);
        tide_tracker_scope_changes(s->internal, &df->scratch);
        for (size_t k = 0; k < df->scratch.len; k++) {
            const tide_change *c = &df->scratch.changes[k];
            tide_location l = { s->node_in_parent, (uint32_t)c->key, true };
            tide_tracker_update(s->parent->full, l, &c->time, c->delta);
            if (s->parent->internal)
                tide_tracker_update(s->parent->internal, l, &c->time, c->delta);
        }
    }
    /* Frontiers, outermost first: a scope's inputs take its parent's frontier. */
    for (uint32_t i = 0; i < df->nscopes; i++) {
        tide_scope *s = df->scopes[i];
        if (!tide_tracker_propagate(s->full))
            continue;
        size_t n;
        const tide_location *changed = tide_tracker_changed(s->full, &n);
        for (size_t k = 0; k < n; k++) {
            tide_location l = changed[k];
            const tide_antichain *f = tide_tracker_frontier(s->full, l);
            uint32_t idx = loc_index(s, l);
            bool ne = f->len > 0;
            if (ne != s->nonempty[idx]) {
                s->nonempty[idx] = ne;
                if (ne)
                    s->live++;
                else
                    s->live--;
            }
            if (l.source)
                continue;
            struct tide__node *node = &s->nodes[l.node];
            if (node->kind == NODE_OP && df->w->log_kinds & TIDE_LOG_FRONTIER)
                tide__log_frontier(df->w, node->ptr, l.port, f);
            if (node->kind == NODE_OP && ((tide_op *)node->ptr)->watch)
                tide__activate(node->ptr);
            else if (node->kind == NODE_SCOPE)
                mirror(node->ptr, l.port, f);
        }
    }
}

void tide__progress_init(tide_dataflow *df) { propagate(df); }

/* Whether removing pointstamp (l, t) may move a frontier, in this worker's view: not when
 * the frontier at l holds a time strictly before t, nor when something other than l's own
 * pointstamps implies t at l (an upstream capability or message: its own release is what
 * will matter). The test of timely's demand mode. Holding a removal only delays it, so a
 * wrong "no" costs time, never safety; and the earliest pointstamp's removal always
 * matters, so holds resolve in order. */
static bool removal_matters(tide_dataflow *df, const tide_change *c)
{
    uint64_t s = c->key >> TIDE__SCOPE_SHIFT;
    if (s >= df->nscopes)
        return true;
    tide_tracker *t = df->scopes[s]->full;
    tide_location l = tide_location_from_key(c->key & LOC_MASK);
    const tide_mutable_antichain *imp = tide_tracker_implications(t, l);
    for (size_t i = 0; i < imp->frontier.len; i++)
        if (tide_time_lt(&imp->frontier.elems[i], &c->time))
            return false;
    const tide_antichain *own = &tide_tracker_pointstamps(t, l)->frontier;
    int64_t mine = 0;
    for (size_t i = 0; i < own->len; i++)
        if (tide_time_eq(&own->elems[i], &c->time))
            mine = 1;
    return tide_mutable_antichain_count(imp, &c->time) - mine < 1;
}

bool tide__progress_must_send(void *ctx, const tide_change *c, size_t n)
{
    tide_dataflow *df = ctx;
    for (size_t i = 0; i < n; i++)
        if (c[i].delta < 0 && removal_matters(df, &c[i]))
            return true;
    return false;
}

bool tide__progress_absorb(tide_dataflow *df)
{
    bool got = false;
    if (df->pc) {
        tide_change_batch_clear(&df->incoming);
        if (tide_progcaster_recv(df->pc, &df->incoming)) {
            if (df->w->log_kinds & TIDE_LOG_PROGRESS_RECEIVE)
                tide__log_progress(df, false, df->incoming.len);
            apply(df, &df->incoming);
            got = true;
        }
    }
    propagate(df);
    return got;
}

void tide__progress_send(tide_dataflow *df)
{
    if (df->pc) {
        if (df->w->log_kinds & TIDE_LOG_PROGRESS_SEND) {
            tide_change_batch_compact(&df->local); /* as the broadcast would: what leaves */
            tide__log_progress(df, true, df->local.len);
        }
        tide_progcaster_send(df->pc, &df->local); /* every step: it may release a held batch */
    } else if (df->local.len) {
        /* The only worker: its updates are the whole story. Propagated at once, so that
         * what they enable is active before the worker decides whether to sleep. */
        tide_change_batch_compact(&df->local);
        if (df->w->log_kinds & TIDE_LOG_PROGRESS_RECEIVE)
            tide__log_progress(df, false, df->local.len);
        apply(df, &df->local);
        tide_change_batch_clear(&df->local);
        propagate(df);
    }
}

bool tide__dataflow_complete(const tide_dataflow *df)
{
    if (df->nactive || df->local.len || df->ndirty)
        return false;
    for (uint32_t i = 0; i < df->nscopes; i++)
        if (df->scopes[i]->live)
            return false;
    return true;
}
