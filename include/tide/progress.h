/* SPDX-License-Identifier: MIT */
/**
 * @file tide/progress.h  Progress tracking: timestamps and path summaries, antichains,
 * change batches, the reachability tracker, and the progress broadcast between workers.
 *
 * Value types (times, summaries) are plain structs passed by pointer. Containers
 * (antichains, change batches, mutable antichains) are structs the caller owns: initialize
 * with the _init function, release with the _free function; their fields are readable but
 * change only through the functions here.
 */
#ifndef TIDE_PROGRESS_H
#define TIDE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- times */

/** Most coordinates a time can have: the root scope plus three nested iterative scopes. */
#define TIDE_TIME_MAX_DEPTH 4

/** A timestamp: `depth` coordinates (1 in the root scope, one more per nested scope),
 *  ordered by the product partial order. Unused coordinates are zero. */
typedef struct tide_time {
    uint32_t depth;                  /**< coordinates in use */
    uint32_t reserved;               /**< zero */
    uint64_t c[TIDE_TIME_MAX_DEPTH]; /**< c[0] is the epoch, c[1] the first loop's counter */
} tide_time;

/** The root-scope time of epoch @p epoch. */
tide_time tide_time_root(uint64_t epoch);
/** A time of @p depth coordinates taken from @p coords. */
tide_time tide_time_make(uint32_t depth, const uint64_t *coords);
/** Product partial order: every coordinate of @p a is at most @p b's (same depth). */
bool tide_time_le(const tide_time *a, const tide_time *b);
/** tide_time_le() and not equal. */
bool tide_time_lt(const tide_time *a, const tide_time *b);
/** Same depth and the same coordinates. */
bool tide_time_eq(const tide_time *a, const tide_time *b);
/** The least time at or after both @p a and @p b (coordinate-wise maximum; same depth). */
tide_time tide_time_join(const tide_time *a, const tide_time *b);
/** A total order (lexicographic) that extends the partial order: for sorting. */
int tide_time_cmp(const tide_time *a, const tide_time *b);
/** Writes "5" or "(5, 2)" into @p buf (always terminated); returns the length it needed. */
int tide_time_format(const tide_time *t, char *buf, size_t len);
/** Entering a nested scope: the same time with a 0 appended. */
tide_time tide_time_enter(const tide_time *t);
/** Leaving a nested scope: the innermost coordinate dropped. */
tide_time tide_time_leave(const tide_time *t);

/* ---------------------------------------------------------------- path summaries */

/** What a path does to a time: adds inc[i] to coordinate i. Overflow means no path. */
typedef struct tide_summary {
    uint32_t depth;                    /**< coordinates in use */
    uint32_t reserved;                 /**< zero */
    uint64_t inc[TIDE_TIME_MAX_DEPTH]; /**< what is added to each coordinate */
} tide_summary;

/** The summary that changes nothing (an edge, or an operator that keeps times). */
tide_summary tide_summary_identity(uint32_t depth);
/** A feedback edge: +@p k on the innermost coordinate. */
tide_summary tide_summary_feedback(uint32_t depth, uint64_t k);
/** Applies @p s to @p t; false (and *out untouched) when a coordinate would overflow. */
bool tide_summary_apply(const tide_summary *s, const tide_time *t, tide_time *out);
/** The summary of following @p a, then @p b; false when it would overflow. */
bool tide_summary_then(const tide_summary *a, const tide_summary *b, tide_summary *out);
/** @p a yields times no later than @p b does, for every time. */
bool tide_summary_le(const tide_summary *a, const tide_summary *b);
/** Same depth and the same increments. */
bool tide_summary_eq(const tide_summary *a, const tide_summary *b);
/** True when the summary advances every time (some increment is positive). */
bool tide_summary_advances(const tide_summary *s);
/** An inner scope's summary seen from its parent: the innermost increment dropped. */
tide_summary tide_summary_leave(const tide_summary *s);

/* ---------------------------------------------------------------- antichains */

/** A set of mutually incomparable times (a frontier). The empty antichain is "done". */
typedef struct tide_antichain {
    tide_time *elems; /**< the times, len of them */
    size_t len;       /**< number of times */
    size_t cap;       /**< room in elems */
} tide_antichain;

/** Makes @p a an empty antichain. */
void tide_antichain_init(tide_antichain *a);
/** Frees the antichain's storage (it is empty afterwards). */
void tide_antichain_free(tide_antichain *a);
/** Empties the antichain, keeping its storage. */
void tide_antichain_clear(tide_antichain *a);
/** Adds @p t unless an element is <= it, removing elements >= it; true when added.
 *  Aborts the run on out-of-memory (like every container here). */
bool tide_antichain_insert(tide_antichain *a, const tide_time *t);
/** Some element is strictly less than @p t. */
bool tide_antichain_less_than(const tide_antichain *a, const tide_time *t);
/** Some element is less than or equal to @p t. */
bool tide_antichain_less_equal(const tide_antichain *a, const tide_time *t);
/** Same elements (in any order). */
bool tide_antichain_equal(const tide_antichain *a, const tide_antichain *b);

/* ---------------------------------------------------------------- change batches */

/** One change: count of (key, time) moves by delta. Keys name locations; 0 when unused. */
typedef struct tide_change {
    uint64_t key;   /**< the location (tide_location_key()), or 0 */
    tide_time time; /**< the time whose count changes */
    int64_t delta;  /**< by how much */
} tide_change;

/** Accumulated changes; tide_change_batch_compact() sums equal (key, time) and drops zeros. */
typedef struct tide_change_batch {
    tide_change *changes; /**< the changes, len of them */
    size_t len;           /**< number of changes */
    size_t cap;           /**< room in changes */
    size_t clean;         /**< changes[0, clean) are sorted and consolidated */
} tide_change_batch;

/** Makes @p b an empty change batch. */
void tide_change_batch_init(tide_change_batch *b);
/** Frees the batch's storage (it is empty afterwards). */
void tide_change_batch_free(tide_change_batch *b);
/** Empties the batch, keeping its storage. */
void tide_change_batch_clear(tide_change_batch *b);
/** Records (key, t, delta); delta 0 is ignored. */
void tide_change_batch_update(tide_change_batch *b, uint64_t key, const tide_time *t,
                              int64_t delta);
/** Sorts by (key, time), sums duplicates and drops zero sums. */
void tide_change_batch_compact(tide_change_batch *b);
/** True when the changes cancel out entirely (compacts). */
bool tide_change_batch_is_empty(tide_change_batch *b);

/* ---------------------------------------------------------------- mutable antichains */

/**
 * Counts per time and the frontier they imply: the minimal times whose count is positive.
 * Counts may go negative for a while (updates from different workers arrive in any order).
 */
typedef struct tide_mutable_antichain {
    tide_change_batch counts; /**< per time (key 0), sorted; zero only in the first `lead` */
    tide_antichain frontier;  /**< the minimal times with a positive count */
    size_t lead; /**< leading counts that dropped to zero, kept so that the earliest time
                      leaves without moving the others (dropped in bulk later) */
} tide_mutable_antichain;

/** Makes @p m an empty one (no counts, the empty frontier). */
void tide_mutable_antichain_init(tide_mutable_antichain *m);
/** Frees its storage. */
void tide_mutable_antichain_free(tide_mutable_antichain *m);
/**
 * Applies @p n changes (their keys are ignored) and appends the frontier's changes to
 * @p frontier_changes (key 0, +1 for a time that entered, -1 for one that left), if not
 * NULL. Costs a frontier rebuild only when a change can touch the frontier.
 */
void tide_mutable_antichain_update(tide_mutable_antichain *m, const tide_change *changes,
                                   size_t n, tide_change_batch *frontier_changes);
/** The count at exactly @p t. */
int64_t tide_mutable_antichain_count(const tide_mutable_antichain *m, const tide_time *t);

/* ---------------------------------------------------------------- reachability */

/** A dataflow graph for progress tracking: operators with input and output ports, the
 *  summaries from each input to each output, and edges from outputs to inputs. */
typedef struct tide_graph tide_graph;
/** A location: an operator's input port (target) or output port (source). */
typedef struct tide_location {
    uint32_t node; /**< the operator */
    uint32_t port; /**< its port */
    bool source;   /**< true: an output port; false: an input port */
} tide_location;

/** An empty graph whose times have @p depth coordinates; NULL on out-of-memory. */
tide_graph *tide_graph_new(uint32_t depth);
/** Frees a graph (NULL is ignored). */
void tide_graph_free(tide_graph *g);
/** Adds an operator; returns its index (>= 0) or TIDE_EINVAL/TIDE_ENOMEM. */
int tide_graph_add_node(tide_graph *g, const char *name, uint32_t inputs, uint32_t outputs);
/** Says input @p in of @p node can cause output @p out at times @p s later (several calls
 *  build an antichain). Without a call, that input cannot reach that output at all. */
int tide_graph_add_summary(tide_graph *g, uint32_t node, uint32_t in, uint32_t out,
                           const tide_summary *s);
/** Connects output @p out of @p from to input @p in of @p to. */
int tide_graph_add_edge(tide_graph *g, uint32_t from, uint32_t out, uint32_t to, uint32_t in);

/** Incrementally maintained frontiers at every location of a graph. */
typedef struct tide_tracker tide_tracker;

/**
 * Builds a tracker for @p g (which it copies; free g when you like). A cycle whose summary
 * does not strictly advance time makes it fail with TIDE_EINVAL and a message naming the
 * operators on the cycle in @p err (if not NULL).
 */
int tide_tracker_new(const tide_graph *g, tide_tracker **out, char *err, size_t errlen);
/** Frees a tracker (NULL is ignored). */
void tide_tracker_free(tide_tracker *t);
/** Changes the count of pointstamp (@p loc, @p time): capabilities at sources, messages in
 *  flight at targets. Takes effect at the next tide_tracker_propagate(). */
void tide_tracker_update(tide_tracker *t, tide_location loc, const tide_time *time,
                         int64_t delta);
/** Propagates the pending updates; work proportional to the change, not to the graph.
 *  Returns the number of locations whose frontier changed (see tide_tracker_changed). */
size_t tide_tracker_propagate(tide_tracker *t);
/** The locations whose frontier changed in the last propagate (valid until the next). */
const tide_location *tide_tracker_changed(const tide_tracker *t, size_t *n);
/** The frontier at @p loc: the times at which something may still arrive there. */
const tide_antichain *tide_tracker_frontier(const tide_tracker *t, tide_location loc);
/** What is implied at @p loc, with multiplicities: one count per time in the frontier of
 *  its own pointstamps and per time that each linked location's frontier implies here.
 *  Its frontier is tide_tracker_frontier(). */
const tide_mutable_antichain *tide_tracker_implications(const tide_tracker *t,
                                                        tide_location loc);
/** The pointstamp counts at @p loc (the updates applied so far). */
const tide_mutable_antichain *tide_tracker_pointstamps(const tide_tracker *t,
                                                       tide_location loc);
/** The antichain of path summaries from @p from to @p to (empty: no path). Computed when
 *  the tracker is built; for subgraphs, and for checking. */
size_t tide_tracker_path_summaries(const tide_tracker *t, tide_location from, tide_location to,
                                   const tide_summary **summaries);
/**
 * Nested scopes. A scope's graph uses node 0 as its boundary, as a subgraph does in
 * timely: node 0's outputs are the scope's inputs, its inputs are the scope's outputs
 * (give it no summaries; the parent knows what happens outside). The parent sees the scope
 * as one operator at outer times (the innermost coordinate dropped):
 *
 * tide_tracker_scope_changes() appends (and forgets) the changes, at outer times, of what
 * the scope's own pointstamps imply at each scope output (key = output index): the
 * capabilities the scope holds, for the parent's tracker.
 */
void tide_tracker_scope_changes(tide_tracker *t, tide_change_batch *into);
/** The parent's summaries from scope input @p in to scope output @p out: an antichain of
 *  up to @p cap summaries stored in @p buf; returns how many there are. */
size_t tide_tracker_scope_summaries(const tide_tracker *t, uint32_t in, uint32_t out,
                                    tide_summary *buf, size_t cap);
/** Number of operators. */
uint32_t tide_tracker_nodes(const tide_tracker *t);
/** Number of inputs of operator @p node. */
uint32_t tide_tracker_inputs(const tide_tracker *t, uint32_t node);
/** Number of outputs of operator @p node. */
uint32_t tide_tracker_outputs(const tide_tracker *t, uint32_t node);
/** A location as one 64-bit key (for change batches and the wire). */
uint64_t tide_location_key(tide_location loc);
/** The location a key of tide_location_key() stands for. */
tide_location tide_location_from_key(uint64_t key);

/* ---------------------------------------------------------------- progress broadcast */

/** Exchanges pointstamp updates between all workers over one channel of the
 *  communication layer: each worker's updates of a step go to every worker, applied whole
 *  and in order per sender. Inside a rank they go to each worker at once; to other ranks
 *  the batches of a rank's workers go combined, one message per other rank, fanned out
 *  there by the transport. */
typedef struct tide_progcaster tide_progcaster;

/** When a rank's combined batch leaves for the other ranks. */
typedef enum tide_progcast_route {
    TIDE_PROGCAST_DIRECT = 0, /**< at once, after every worker's send (one message per
                                   worker per step and other rank) */
    TIDE_PROGCAST_PER_RANK    /**< once the rank's workers have answered each other's
                                   batches (or after 100 us): one message per round */
} tide_progcast_route;

/** Allocates the progress channel on @p alloc (so every worker must create its
 *  progcasters in the same order as its other channels); NULL on out-of-memory. Every
 *  worker must use the same @p route. */
tide_progcaster *tide_progcaster_new(tide_allocator *alloc, tide_progcast_route route);
/** Sends what the rank still holds of ours, closes the progress channel
 *  (tide_allocator_close) and frees @p p (NULL is ignored). */
void tide_progcaster_free(tide_progcaster *p);
/** Sends @p updates (compacted first; nothing is sent when they cancel) to every worker
 *  and clears them. Call it once per step even with no updates: with
 *  TIDE_PROGCAST_PER_RANK it is where the rank's combined batch leaves. */
void tide_progcaster_send(tide_progcaster *p, tide_change_batch *updates);
/** Sends what the rank holds for other ranks now (before a worker parks or waits). */
void tide_progcaster_flush(tide_progcaster *p);
/**
 * Demand mode (timely's ProgressMode::Demand): the rank's combined batch leaves only when
 * @p must_send(ctx, changes, n) says that one of its changes may move a frontier somewhere
 * (and, as a safety net, after 10 ms); until then updates accumulate and cancel. The
 * predicate runs on the calling worker's thread, under the rank's lock for the batch.
 * NULL turns it off (eager). The dataflow layer sets it unless --progress-mode eager.
 */
void tide_progcaster_set_demand(tide_progcaster *p,
                                bool (*must_send)(void *ctx, const tide_change *c, size_t n),
                                void *ctx);
/** Whether the rank holds updates back (so a caller that waits should wake up to send
 *  them once its view changes). */
bool tide_progcaster_holding(const tide_progcaster *p);
/** Appends every update received since the last call to @p into (whole batches, in order
 *  per sender); call tide_allocator_receive() first. Returns the number of batches. */
size_t tide_progcaster_recv(tide_progcaster *p, tide_change_batch *into);
/**
 * For workers of a rank that share one tracker: from now on this worker's batches go to
 * the other ranks only, not to its rank-mates or itself (the caller applies them to the
 * shared tracker). Every worker of the job must make the same choice, before it sends.
 * Returns the state the rank's workers share for @p p: made by make(arg) for the first
 * worker to ask, freed by destroy() once every worker of the rank has freed its
 * progcaster; NULL when make() fails.
 */
void *tide_progcaster_share_rank(tide_progcaster *p, void *(*make)(void *), void *arg,
                                 void (*destroy)(void *));
/**
 * Like tide_progcaster_recv(), batch by batch: calls @p each with each batch received
 * and, for a cast from another rank, its number among the casts this worker has read
 * (from 0; UINT64_MAX for a rank-mate's batch). Every worker of a rank reads the same
 * casts in the same order, so a number names the same cast on each of them. Returns the
 * number of batches.
 */
size_t tide_progcaster_recv_each(tide_progcaster *p,
                                 void (*each)(void *ctx, const tide_change *c, size_t n,
                                              uint64_t cast),
                                 void *ctx);
/** Batches and updates sent so far by this worker (for measurements). */
void tide_progcaster_stats(const tide_progcaster *p, uint64_t *batches, uint64_t *updates);

#ifdef __cplusplus
}
#endif
#endif
