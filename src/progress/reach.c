/* SPDX-License-Identifier: MIT */
/*
 * Reachability: which times may still arrive at each location of a dataflow graph.
 *
 * Every location (an operator's input port, a target, or output port, a source) keeps the
 * counts of its own pointstamps (capabilities at sources, messages in flight at targets)
 * and its "implications": a mutable antichain fed by the frontier of its own pointstamps
 * and by the frontiers of the locations linked to it, moved along the link's summaries.
 * A target links to its operator's outputs (the operator's internal summaries), a source
 * to the inputs its edges reach (identity). Only frontier changes travel, through a
 * worklist ordered by time so that changes at the same place and time cancel before they
 * move on: the work is proportional to the change, not to the graph.
 */
#include <stdio.h>
#include <string.h>

#include "progress_internal.h"

struct gnode {
    char *name;
    uint32_t inputs, outputs;
};

struct gsummary {
    uint32_t node, in, out;
    tide_summary s;
};

struct gedge {
    uint32_t from, out, to, in;
};

struct tide_graph {
    uint32_t depth;
    struct gnode *nodes;
    size_t nnodes, capnodes;
    struct gsummary *sums;
    size_t nsums, capsums;
    struct gedge *edges;
    size_t nedges, capedges;
};

tide_graph *tide_graph_new(uint32_t depth)
{
    if (depth == 0 || depth > TIDE_TIME_MAX_DEPTH)
        return NULL;
    tide_graph *g = calloc(1, sizeof *g);
    if (g)
        g->depth = depth;
    return g;
}

void tide_graph_free(tide_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nnodes; i++)
        free(g->nodes[i].name);
    free(g->nodes);
    free(g->sums);
    free(g->edges);
    free(g);
}

int tide_graph_add_node(tide_graph *g, const char *name, uint32_t inputs, uint32_t outputs)
{
    if (g->nnodes >= INT32_MAX)
        return TIDE_EINVAL;
    char *copy = strdup(name ? name : "?");
    if (!copy)
        return TIDE_ENOMEM;
    tide__reserve(&g->nodes, &g->capnodes, g->nnodes + 1, sizeof *g->nodes);
    g->nodes[g->nnodes] = (struct gnode){ copy, inputs, outputs };
    return (int)g->nnodes++;
}

int tide_graph_add_summary(tide_graph *g, uint32_t node, uint32_t in, uint32_t out,
                           const tide_summary *s)
{
    if (node >= g->nnodes || in >= g->nodes[node].inputs || out >= g->nodes[node].outputs ||
        s->depth != g->depth)
        return TIDE_EINVAL;
    tide__reserve(&g->sums, &g->capsums, g->nsums + 1, sizeof *g->sums);
    g->sums[g->nsums++] = (struct gsummary){ node, in, out, *s };
    return 0;
}

int tide_graph_add_edge(tide_graph *g, uint32_t from, uint32_t out, uint32_t to, uint32_t in)
{
    if (from >= g->nnodes || to >= g->nnodes || out >= g->nodes[from].outputs ||
        in >= g->nodes[to].inputs)
        return TIDE_EINVAL;
    tide__reserve(&g->edges, &g->capedges, g->nedges + 1, sizeof *g->edges);
    g->edges[g->nedges++] = (struct gedge){ from, out, to, in };
    return 0;
}

/* ---------------------------------------------------------------- the tracker */

struct link {
    uint32_t dst;
    uint32_t nsum;
    size_t sum; /* first summary in tracker->sums */
};

struct work {
    tide_time time;
    uint32_t loc;
    int64_t delta;
};

struct loc_state {
    tide_mutable_antichain points;
    tide_mutable_antichain implied;
    tide_location where;
    bool changed;
};

struct tide_tracker {
    uint32_t depth;
    uint32_t nnodes;
    struct gnode *nodes;    /* names owned here */
    uint32_t *tbase, *sbase; /* first location of each node's targets / sources */
    uint32_t ntargets, nlocs;
    size_t *link_at;        /* links of location l: [link_at[l], link_at[l + 1]) */
    struct link *links;
    tide_summary *sums;
    struct loc_state *locs;
    tide_change_batch pending; /* key: location index */
    struct work *heap;
    size_t nheap, capheap;
    tide_change_batch scratch;
    tide_location *changed;
    size_t nchanged, capchanged;
    /* Scope outputs (inputs of node 0) seen from the parent: projected counts, and the
     * changes of their frontiers not yet taken by tide_tracker_scope_changes(). */
    tide_mutable_antichain *outer;
    tide_change_batch outer_pending, outer_changes;
    /* path summaries from a location, computed on demand: [from][to] antichains */
    tide_summary **paths;     /* per from: flat summaries */
    size_t **path_at;         /* per from: offsets, nlocs + 1 */
};

static uint32_t loc_index(const tide_tracker *t, tide_location l)
{
    return l.source ? t->ntargets + t->sbase[l.node] + l.port : t->tbase[l.node] + l.port;
}

static tide_location loc_of(const tide_tracker *t, uint32_t i)
{
    tide_location l = { 0, 0, i >= t->ntargets };
    uint32_t k = l.source ? i - t->ntargets : i;
    const uint32_t *base = l.source ? t->sbase : t->tbase;
    /* Nodes with no ports of this kind share a base; the owner is the last such node. */
    uint32_t lo = 0, hi = t->nnodes;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (base[mid] <= k)
            lo = mid;
        else
            hi = mid;
    }
    while (lo + 1 < t->nnodes && base[lo + 1] <= k)
        lo++;
    l.node = lo;
    l.port = k - base[lo];
    return l;
}

uint64_t tide_location_key(tide_location loc)
{
    return ((uint64_t)loc.node << 32) | ((uint64_t)loc.port << 1) | (loc.source ? 1 : 0);
}

tide_location tide_location_from_key(uint64_t key)
{
    tide_location l = { (uint32_t)(key >> 32), (uint32_t)((key & 0xffffffffu) >> 1),
                        (key & 1) != 0 };
    return l;
}

/* Adds @p s to the antichain of summaries sums[*n] unless one there is <= it, removing
 * those >= it. True when added. */
static bool summaries_insert(tide_summary **sums, size_t *n, size_t *cap, const tide_summary *s)
{
    for (size_t i = 0; i < *n; i++)
        if (tide_summary_le(&(*sums)[i], s))
            return false;
    size_t j = 0;
    for (size_t i = 0; i < *n; i++)
        if (!tide_summary_le(s, &(*sums)[i]))
            (*sums)[j++] = (*sums)[i];
    *n = j;
    tide__reserve(sums, cap, *n + 1, sizeof **sums);
    (*sums)[(*n)++] = *s;
    return true;
}

/* Finds a cycle of links that can keep a time unchanged, and names its operators. */
static bool zero_cycle(const tide_tracker *t, char *err, size_t errlen)
{
    uint8_t *color = calloc(t->nlocs, 1); /* 0 new, 1 on stack, 2 done */
    uint32_t *parent = malloc(t->nlocs * sizeof *parent);
    uint32_t *stack = malloc(t->nlocs * sizeof *stack);
    size_t *next = malloc(t->nlocs * sizeof *next);
    if (!color || !parent || !stack || !next)
        tide__fatal("out of memory checking the dataflow graph");
    bool found = false;
    for (uint32_t root = 0; root < t->nlocs && !found; root++) {
        if (color[root])
            continue;
        size_t sp = 0;
        stack[sp++] = root;
        color[root] = 1;
        next[root] = t->link_at[root];
        while (sp && !found) {
            uint32_t u = stack[sp - 1];
            if (next[u] == t->link_at[u + 1]) {
                color[u] = 2;
                sp--;
                continue;
            }
            const struct link *l = &t->links[next[u]++];
            bool zero = false;
            for (uint32_t k = 0; k < l->nsum && !zero; k++)
                zero = !tide_summary_advances(&t->sums[l->sum + k]);
            if (!zero)
                continue;
            if (color[l->dst] == 1) {
                /* Found: walk back from u to l->dst. */
                int n = snprintf(err, errlen, "a cycle that does not advance time: ");
                uint32_t path[64];
                size_t len = 0;
                for (uint32_t v = u; len < 64; v = parent[v]) {
                    path[len++] = v;
                    if (v == l->dst)
                        break;
                }
                uint32_t last = UINT32_MAX;
                for (size_t k = len; k-- > 0;) {
                    tide_location loc = loc_of(t, path[k]);
                    if (loc.node == last)
                        continue;
                    last = loc.node;
                    if (n >= 0 && (size_t)n < errlen)
                        n += snprintf(err + n, errlen - (size_t)n, "'%s' -> ",
                                      t->nodes[loc.node].name);
                }
                if (n >= 0 && (size_t)n < errlen)
                    snprintf(err + n, errlen - (size_t)n,
                             "'%s' (give the loop a feedback edge whose summary advances time)",
                             t->nodes[loc_of(t, l->dst).node].name);
                found = true;
            } else if (color[l->dst] == 0) {
                color[l->dst] = 1;
                parent[l->dst] = u;
                next[l->dst] = t->link_at[l->dst];
                stack[sp++] = l->dst;
            }
        }
    }
    free(color);
    free(parent);
    free(stack);
    free(next);
    return found;
}

int tide_tracker_new(const tide_graph *g, tide_tracker **out, char *err, size_t errlen)
{
    char scratch[8];
    if (!err) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    tide_tracker *t = calloc(1, sizeof *t);
    if (!t)
        return TIDE_ENOMEM;
    t->depth = g->depth;
    t->nnodes = (uint32_t)g->nnodes;
    t->nodes = calloc(g->nnodes + 1, sizeof *t->nodes);
    t->tbase = calloc(g->nnodes + 1, sizeof *t->tbase);
    t->sbase = calloc(g->nnodes + 1, sizeof *t->sbase);
    if (!t->nodes || !t->tbase || !t->sbase)
        tide__fatal("out of memory building a tracker");
    uint32_t nt = 0, ns = 0;
    for (size_t n = 0; n < g->nnodes; n++) {
        t->nodes[n] = g->nodes[n];
        t->nodes[n].name = strdup(g->nodes[n].name);
        t->tbase[n] = nt;
        t->sbase[n] = ns;
        nt += g->nodes[n].inputs;
        ns += g->nodes[n].outputs;
    }
    t->ntargets = nt;
    t->nlocs = nt + ns;
    /* Links, grouped by their origin location (CSR). */
    size_t *count = calloc(t->nlocs + 1, sizeof *count);
    t->link_at = calloc(t->nlocs + 1, sizeof *t->link_at);
    t->locs = calloc(t->nlocs ? t->nlocs : 1, sizeof *t->locs);
    if (!count || !t->link_at || !t->locs)
        tide__fatal("out of memory building a tracker");
    /* A target links to each output its operator has summaries for, with their antichain. */
    tide_summary *tmp = NULL;
    size_t ntmp = 0, captmp = 0, nlinks = 0, capsums = 0, nsums = 0;
    struct link *links = NULL;
    size_t caplinks = 0;
    uint32_t *origin = NULL;
    size_t caporigin = 0;
    for (uint32_t n = 0; n < t->nnodes; n++)
        for (uint32_t i = 0; i < g->nodes[n].inputs; i++)
            for (uint32_t o = 0; o < g->nodes[n].outputs; o++) {
                ntmp = 0;
                for (size_t k = 0; k < g->nsums; k++)
                    if (g->sums[k].node == n && g->sums[k].in == i && g->sums[k].out == o)
                        summaries_insert(&tmp, &ntmp, &captmp, &g->sums[k].s);
                if (!ntmp)
                    continue;
                tide__reserve(&links, &caplinks, nlinks + 1, sizeof *links);
                tide__reserve(&origin, &caporigin, nlinks + 1, sizeof *origin);
                tide__reserve(&t->sums, &capsums, nsums + ntmp, sizeof *t->sums);
                memcpy(&t->sums[nsums], tmp, ntmp * sizeof *tmp);
                origin[nlinks] = t->tbase[n] + i;
                links[nlinks++] = (struct link){ t->ntargets + t->sbase[n] + o, (uint32_t)ntmp,
                                                 nsums };
                nsums += ntmp;
            }
    tide_summary id = tide_summary_identity(t->depth);
    for (size_t e = 0; e < g->nedges; e++) {
        const struct gedge *ge = &g->edges[e];
        tide__reserve(&links, &caplinks, nlinks + 1, sizeof *links);
        tide__reserve(&origin, &caporigin, nlinks + 1, sizeof *origin);
        tide__reserve(&t->sums, &capsums, nsums + 1, sizeof *t->sums);
        t->sums[nsums] = id;
        origin[nlinks] = t->ntargets + t->sbase[ge->from] + ge->out;
        links[nlinks++] = (struct link){ t->tbase[ge->to] + ge->in, 1, nsums++ };
    }
    free(tmp);
    for (size_t k = 0; k < nlinks; k++)
        count[origin[k] + 1]++;
    for (uint32_t l = 0; l < t->nlocs; l++)
        count[l + 1] += count[l];
    memcpy(t->link_at, count, (t->nlocs + 1) * sizeof *count);
    t->links = malloc((nlinks ? nlinks : 1) * sizeof *t->links);
    if (!t->links)
        tide__fatal("out of memory building a tracker");
    for (size_t k = 0; k < nlinks; k++)
        t->links[count[origin[k]]++] = links[k];
    free(links);
    free(origin);
    free(count);
    for (uint32_t l = 0; l < t->nlocs; l++) {
        tide_mutable_antichain_init(&t->locs[l].points);
        tide_mutable_antichain_init(&t->locs[l].implied);
        t->locs[l].where = loc_of(t, l);
    }
    uint32_t scope_outputs = t->nnodes ? t->nodes[0].inputs : 0;
    t->outer = calloc(scope_outputs ? scope_outputs : 1, sizeof *t->outer);
    if (!t->outer)
        tide__fatal("out of memory building a tracker");
    for (uint32_t j = 0; j < scope_outputs; j++)
        tide_mutable_antichain_init(&t->outer[j]);
    t->paths = calloc(t->nlocs ? t->nlocs : 1, sizeof *t->paths);
    t->path_at = calloc(t->nlocs ? t->nlocs : 1, sizeof *t->path_at);
    if (!t->paths || !t->path_at)
        tide__fatal("out of memory building a tracker");
    if (zero_cycle(t, err, errlen)) {
        tide_tracker_free(t);
        return TIDE_EINVAL;
    }
    *out = t;
    return 0;
}

void tide_tracker_free(tide_tracker *t)
{
    if (!t)
        return;
    for (uint32_t n = 0; n < t->nnodes; n++)
        free(t->nodes[n].name);
    for (uint32_t l = 0; l < t->nlocs; l++) {
        tide_mutable_antichain_free(&t->locs[l].points);
        tide_mutable_antichain_free(&t->locs[l].implied);
        if (t->paths) {
            free(t->paths[l]);
            free(t->path_at[l]);
        }
    }
    free(t->paths);
    free(t->path_at);
    if (t->outer)
        for (uint32_t j = 0; t->nnodes && j < t->nodes[0].inputs; j++)
            tide_mutable_antichain_free(&t->outer[j]);
    free(t->outer);
    tide_change_batch_free(&t->outer_changes);
    tide_change_batch_free(&t->outer_pending);
    free(t->nodes);
    free(t->tbase);
    free(t->sbase);
    free(t->link_at);
    free(t->links);
    free(t->sums);
    free(t->locs);
    free(t->heap);
    free(t->changed);
    tide_change_batch_free(&t->pending);
    tide_change_batch_free(&t->scratch);
    free(t);
}

uint32_t tide_tracker_nodes(const tide_tracker *t) { return t->nnodes; }
uint32_t tide_tracker_inputs(const tide_tracker *t, uint32_t n) { return t->nodes[n].inputs; }
uint32_t tide_tracker_outputs(const tide_tracker *t, uint32_t n) { return t->nodes[n].outputs; }

static bool valid(const tide_tracker *t, tide_location l)
{
    return l.node < t->nnodes &&
           l.port < (l.source ? t->nodes[l.node].outputs : t->nodes[l.node].inputs);
}

void tide_tracker_update(tide_tracker *t, tide_location loc, const tide_time *time,
                         int64_t delta)
{
    if (!valid(t, loc) || time->depth != t->depth)
        tide__fatal("progress update for a location or time the graph does not have "
                    "(operator %u, %s %u)",
                    loc.node, loc.source ? "output" : "input", loc.port);
    tide_change_batch_update(&t->pending, loc_index(t, loc), time, delta);
}

const tide_antichain *tide_tracker_frontier(const tide_tracker *t, tide_location loc)
{
    return &t->locs[loc_index(t, loc)].implied.frontier;
}

const tide_mutable_antichain *tide_tracker_implications(const tide_tracker *t,
                                                        tide_location loc)
{
    return &t->locs[loc_index(t, loc)].implied;
}

const tide_mutable_antichain *tide_tracker_pointstamps(const tide_tracker *t,
                                                       tide_location loc)
{
    return &t->locs[loc_index(t, loc)].points;
}

const tide_location *tide_tracker_changed(const tide_tracker *t, size_t *n)
{
    *n = t->nchanged;
    return t->changed;
}

/* ---------------------------------------------------------------- the worklist */

static bool work_before(const struct work *a, const struct work *b)
{
    /* The hottest comparison of propagation: inline, times of one tracker share a depth. */
    for (uint32_t i = 0; i < a->time.depth; i++)
        if (a->time.c[i] != b->time.c[i])
            return a->time.c[i] < b->time.c[i];
    return a->loc < b->loc;
}

static void heap_push(tide_tracker *t, const tide_time *time, uint32_t loc, int64_t delta)
{
    tide__reserve(&t->heap, &t->capheap, t->nheap + 1, sizeof *t->heap);
    size_t i = t->nheap++;
    struct work w = { *time, loc, delta };
    while (i > 0 && work_before(&w, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = w;
}

static struct work heap_pop(tide_tracker *t)
{
    struct work top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nheap)
            break;
        if (c + 1 < t->nheap && work_before(&t->heap[c + 1], &t->heap[c]))
            c++;
        if (!work_before(&t->heap[c], &last))
            break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->nheap)
        t->heap[i] = last;
    return top;
}

static void mark_changed(tide_tracker *t, uint32_t l)
{
    if (t->locs[l].changed)
        return;
    t->locs[l].changed = true;
    tide__reserve(&t->changed, &t->capchanged, t->nchanged + 1, sizeof *t->changed);
    t->changed[t->nchanged++] = t->locs[l].where;
}

/* A scope output's frontier moved: what the parent sees moves by the projection. Collected
 * over a whole propagation, so that moves within one outer time cancel. */
static void project(tide_tracker *t, uint32_t j, const tide_change_batch *fc)
{
    for (size_t k = 0; k < fc->len; k++) {
        tide_time o = tide_time_leave(&fc->changes[k].time);
        tide_change_batch_update(&t->outer_pending, j, &o, fc->changes[k].delta);
    }
}

static void apply_projections(tide_tracker *t)
{
    tide_change_batch *p = &t->outer_pending;
    tide_change_batch_compact(p);
    for (size_t i = 0; i < p->len;) {
        size_t j = i;
        while (j < p->len && p->changes[j].key == p->changes[i].key)
            j++;
        tide_change_batch_clear(&t->scratch);
        tide_mutable_antichain_update(&t->outer[p->changes[i].key], &p->changes[i], j - i,
                                      &t->scratch);
        for (size_t k = 0; k < t->scratch.len; k++)
            tide_change_batch_update(&t->outer_changes, p->changes[i].key,
                                     &t->scratch.changes[k].time, t->scratch.changes[k].delta);
        i = j;
    }
    tide_change_batch_clear(p);
}

size_t tide_tracker_propagate(tide_tracker *t)
{
    for (size_t i = 0; i < t->nchanged; i++)
        t->locs[loc_index(t, t->changed[i])].changed = false;
    t->nchanged = 0;
    tide_change_batch_compact(&t->pending);
    /* Pointstamp changes, a location at a time; what moves their frontier is work. */
    for (size_t i = 0; i < t->pending.len;) {
        size_t j = i;
        uint32_t l = (uint32_t)t->pending.changes[i].key;
        while (j < t->pending.len && t->pending.changes[j].key == l)
            j++;
        tide_change_batch_clear(&t->scratch);
        tide_mutable_antichain_update(&t->locs[l].points, &t->pending.changes[i], j - i,
                                      &t->scratch);
        for (size_t k = 0; k < t->scratch.len; k++)
            heap_push(t, &t->scratch.changes[k].time, l, t->scratch.changes[k].delta);
        i = j;
    }
    tide_change_batch_clear(&t->pending);
    while (t->nheap) {
        struct work w = heap_pop(t);
        while (t->nheap && t->heap[0].loc == w.loc && tide_time_eq(&t->heap[0].time, &w.time))
            w.delta += heap_pop(t).delta;
        if (w.delta == 0)
            continue;
        tide_change c = { 0, w.time, w.delta };
        tide_change_batch_clear(&t->scratch);
        tide_mutable_antichain_update(&t->locs[w.loc].implied, &c, 1, &t->scratch);
        if (t->scratch.len == 0)
            continue;
        mark_changed(t, w.loc);
        if (w.loc < t->nodes[0].inputs && t->depth > 1)
            project(t, w.loc, &t->scratch); /* node 0's targets come first */
        for (size_t k = 0; k < t->scratch.len; k++) {
            const tide_change *fc = &t->scratch.changes[k];
            for (size_t e = t->link_at[w.loc]; e < t->link_at[w.loc + 1]; e++) {
                const struct link *l = &t->links[e];
                for (uint32_t s = 0; s < l->nsum; s++) {
                    tide_time moved;
                    if (tide_summary_apply(&t->sums[l->sum + s], &fc->time, &moved))
                        heap_push(t, &moved, l->dst, fc->delta);
                }
            }
        }
    }
    if (t->outer_pending.len)
        apply_projections(t);
    return t->nchanged;
}

/* ---------------------------------------------------------------- path summaries */

/* All path summaries from location @p from, to every location: a fixed point over
 * antichains of summaries (cycles advance time, so composed summaries end up dominated). */
static void compute_paths(tide_tracker *t, uint32_t from)
{
    size_t n = t->nlocs;
    tide_summary **per = calloc(n, sizeof *per);
    size_t *len = calloc(n, sizeof *len), *cap = calloc(n, sizeof *cap);
    uint32_t *queue = NULL;
    bool *queued = calloc(n, sizeof *queued);
    size_t qcap = 0, qhead = 0, qtail = 0;
    if (!per || !len || !cap || !queued)
        tide__fatal("out of memory computing path summaries");
    tide_summary id = tide_summary_identity(t->depth);
    summaries_insert(&per[from], &len[from], &cap[from], &id);
    tide__reserve(&queue, &qcap, 1, sizeof *queue);
    queue[qtail++] = from;
    queued[from] = true;
    while (qhead < qtail) {
        uint32_t u = queue[qhead++];
        queued[u] = false;
        for (size_t e = t->link_at[u]; e < t->link_at[u + 1]; e++) {
            const struct link *l = &t->links[e];
            bool grew = false;
            for (size_t a = 0; a < len[u]; a++)
                for (uint32_t b = 0; b < l->nsum; b++) {
                    tide_summary s;
                    if (tide_summary_then(&per[u][a], &t->sums[l->sum + b], &s) &&
                        summaries_insert(&per[l->dst], &len[l->dst], &cap[l->dst], &s))
                        grew = true;
                }
            if (grew && !queued[l->dst]) {
                tide__reserve(&queue, &qcap, qtail + 1, sizeof *queue);
                queue[qtail++] = l->dst;
                queued[l->dst] = true;
            }
        }
    }
    size_t total = 0;
    t->path_at[from] = malloc((n + 1) * sizeof **t->path_at);
    if (!t->path_at[from])
        tide__fatal("out of memory computing path summaries");
    for (size_t v = 0; v < n; v++) {
        t->path_at[from][v] = total;
        total += len[v];
    }
    t->path_at[from][n] = total;
    t->paths[from] = malloc((total ? total : 1) * sizeof **t->paths);
    if (!t->paths[from])
        tide__fatal("out of memory computing path summaries");
    for (size_t v = 0; v < n; v++) {
        if (len[v])
            memcpy(&t->paths[from][t->path_at[from][v]], per[v], len[v] * sizeof **per);
        free(per[v]);
    }
    free(per);
    free(len);
    free(cap);
    free(queue);
    free(queued);
}

void tide_tracker_scope_changes(tide_tracker *t, tide_change_batch *into)
{
    for (size_t i = 0; i < t->outer_changes.len; i++) {
        const tide_change *c = &t->outer_changes.changes[i];
        tide_change_batch_update(into, c->key, &c->time, c->delta);
    }
    tide_change_batch_clear(&t->outer_changes);
}

size_t tide_tracker_scope_summaries(const tide_tracker *t, uint32_t in, uint32_t out,
                                    tide_summary *buf, size_t cap)
{
    const tide_summary *s;
    size_t n = tide_tracker_path_summaries(t, (tide_location){ 0, in, true },
                                           (tide_location){ 0, out, false }, &s);
    tide_summary *proj = NULL;
    size_t np = 0, capp = 0;
    for (size_t i = 0; i < n; i++) {
        tide_summary o = tide_summary_leave(&s[i]);
        summaries_insert(&proj, &np, &capp, &o);
    }
    for (size_t i = 0; i < np && i < cap; i++)
        buf[i] = proj[i];
    free(proj);
    return np;
}

size_t tide_tracker_path_summaries(const tide_tracker *t, tide_location from, tide_location to,
                                   const tide_summary **summaries)
{
    uint32_t f = loc_index(t, from), d = loc_index(t, to);
    if (!t->paths[f])
        compute_paths((tide_tracker *)t, f); /* a cache: logically const */
    *summaries = &t->paths[f][t->path_at[f][d]];
    return t->path_at[f][d + 1] - t->path_at[f][d];
}
