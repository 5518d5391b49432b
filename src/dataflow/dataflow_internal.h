/* SPDX-License-Identifier: MIT */
/* The dataflow layer's shared structures: workers, dataflows, scopes, operators, ports. */
#ifndef TIDE_DATAFLOW_INTERNAL_H
#define TIDE_DATAFLOW_INTERNAL_H

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>

#include "tide/dataflow.h"

#include "../comm/alloc_internal.h"
#include "../progress/progress_internal.h"

/* Progress keys carry the scope in their top byte: one change batch (and one broadcast)
 * per dataflow serves all of its scopes, so that a message entering a scope and the
 * release of what sent it travel together. Nodes stay below 2^24. */
#define TIDE__SCOPE_SHIFT 56
#define TIDE__MAX_NODES (1u << 24)
#define TIDE__MAX_SCOPES 255

static inline uint64_t tide__key(uint32_t scope, uint32_t node, uint32_t port, bool source)
{
    tide_location l = { node, port, source };
    return ((uint64_t)scope << TIDE__SCOPE_SHIFT) | tide_location_key(l);
}

/* How a record's time changes between an output and an input it reaches. */
enum { XF_ENTER, XF_LEAVE, XF_STEP };
#define TIDE__MAX_XF 8
struct tide__xform {
    uint32_t n;
    uint8_t kind[TIDE__MAX_XF];
    tide_summary step[TIDE__MAX_XF];
};
/* False when a loop step overflows the time (the records are dropped). */
bool tide__xform_apply(const struct tide__xform *x, const tide_time *in, tide_time *out);

/* A physical edge: where an output's records go. */
/* Whether an input with pact @p p exchanges its records (else: pipeline). */
static inline bool tide__exchanges(const tide_pact *p) { return p->hash || p->hash_batch; }

struct tide__target {
    tide_op *op;
    uint32_t port;
    uint64_t key; /* the input's progress key */
    struct tide__xform xf;
    tide_batch **spare; /* exchange: a batch per slot being filled (&no_room: none) */
    size_t nlocal; /* slots [0, nlocal) are this rank's workers: they keep their batch */
    /* The other slots being filled, so that the end of an exchange costs the ranks a batch
     * went to, not all of them (between exchanges those slots are &no_room). */
    uint32_t *touched;
    size_t ntouched, captouched;
    uint64_t *groups; /* by rank: records, bytes and place of each worker's group there */
    tide_batch **wide; /* a slot per worker, for batches large enough (op.c, DENSE_BYTES) */
    uint32_t *slotmap; /* per worker: its slot, and 1 + its index there when tagged (<< 8) */
};

/* A session writes fixed-size records straight into its buffer through wp (up to end, at
 * most SESSION_BYTES in), and strings through swp (sroom bytes); the buffer's byte and
 * record counts catch up in session_sync() (op.c). Other variable-length records always
 * take the slow path (end = wp, sroom = 0). */
struct tide_session {
    struct tide__window win; /* first: tide_input_send() reads it inline */
    tide_op *op;
    uint32_t port;
    bool open;
    tide_time time;
    tide_batch *buf;
};

struct tide__out {
    const tide_type *type;
    uint64_t key;
    struct tide__target *targets;
    size_t ntargets;
    struct tide_session session;
};

enum { CAP_FREE, CAP_OWNED, CAP_BORROWED, CAP_LENT };
#define TIDE__CAP_BLOCK 256 /* capabilities allocated at a time (cap.c) */

/* Capabilities live in slots that are reused; what the program holds is a handle, the
 * slot's address with the slot's generation in its low bits (slots are aligned so that
 * those bits are free). Freeing a slot moves its generation on, so a handle kept past its
 * drop no longer matches its slot and is caught, whether or not the slot was reused (all
 * but one in TIDE__CAP_ALIGN reuses). */
#define TIDE__CAP_ALIGN 128
#define TIDE__CAP_GEN_MASK ((uintptr_t)TIDE__CAP_ALIGN - 1)

struct tide_cap {
    _Alignas(TIDE__CAP_ALIGN) tide_op *op;
    tide_time time;
    int kind;
    uint32_t port; /* borrowed: the input it came from (its summaries bound what it covers) */
    uint32_t out;  /* the one output it counts at, or TIDE__ANY_OUTPUT: all of them */
    uint8_t gen;   /* the slot's generation: see TIDE__CAP_ALIGN */
    tide_cap *next_free;
};
_Static_assert(sizeof(struct tide_cap) == TIDE__CAP_ALIGN, "one capability per aligned slot");

/* The handle the program gets for slot @p c (NULL for NULL). */
static inline tide_cap *tide__cap_handle(tide_cap *c)
{
    return c ? (tide_cap *)((uintptr_t)c | c->gen) : NULL;
}
/* The slot a handle names, unchecked. */
static inline tide_cap *tide__cap_peek(const tide_cap *h)
{
    return (tide_cap *)((uintptr_t)h & ~TIDE__CAP_GEN_MASK);
}
/* The handle no longer names a live capability: dropped (its slot may hold another). */
static inline bool tide__cap_stale(const tide_cap *h)
{
    const tide_cap *c = tide__cap_peek(h);
    return c->gen != ((uintptr_t)h & TIDE__CAP_GEN_MASK) || c->kind == CAP_FREE;
}

struct tide__in {
    const tide_type *type;
    tide_pact pact;
    uint64_t key;
    const tide_antichain *frontier; /* into the tracker, or `own` when the rank shares it */
    tide_antichain own;
    tide_pull *pull;    /* exchange channel (lazy), when the job has several workers */
    int chan;           /* its id, closed with the operator */
    struct tide__fifo queue;  /* batches delivered inside this worker */
    struct tide__fifo pulled; /* batches from the exchange channel, owed back to it */
    tide_batch *current;
    bool current_pulled;
    /* A probe's: it needs the frontier only, so records are not delivered here (timely's
     * probe passes data through; a copy per batch for it is what this saves). */
    bool frontier_only;
};

/* External activations of one worker: on the heap and reference counted (the worker and
 * each activator hold one), as activators may outlive the worker, whose struct lives on its
 * thread's stack. */
struct tide__act_hub {
    pthread_mutex_t mu;
    atomic_int refs;
    bool gone;              /* the worker has finished: activations are refused */
    tide_allocator *alloc;  /* to wake the worker (valid until gone) */
    tide_activator **ext;   /* queued since the worker last looked */
    size_t next, capext;
    atomic_bool pending;
};

struct tide_activator {
    atomic_int refs;           /* the operator's, plus tide_activator_retain()'s */
    struct tide__act_hub *hub;
    tide_op *op;               /* NULL once the operator is freed (under hub->mu) */
    atomic_bool queued;
};

struct tide_op {
    tide_dataflow *df;
    tide_scope *scope;
    uint32_t node, id;
    char *name;
    uint32_t nin, nout;
    struct tide__in *in;
    struct tide__out *out;
    tide_logic_fn logic;
    void *state;
    tide_free_fn free_state;
    bool watch;   /* scheduled on frontier changes */
    bool active;
    bool running;
    tide_notificator *notif; /* *_notify operators */
    tide_cap *borrowed;      /* input capabilities handed out in this run */
    tide_batch *kept; /* the input batch a stash kept (tide__op_keep) since tide_op_next */
    const tide_antichain **fronts; /* the inputs' frontiers, for the notificator */
    tide_activator *act;
    uint32_t trace_id;      /* its name's number in the trace's name table */
    struct tide__sum *sums; /* summaries declared with tide_builder_summary */
    size_t nsums;
    bool built;
};

struct tide__sum {
    uint32_t in, out;
    bool none;
    tide_summary s;
};

enum { NODE_BOUNDARY, NODE_OP, NODE_SCOPE, NODE_FEEDBACK };

struct tide__node {
    int kind;
    void *ptr; /* tide_op, child scope, or tide_loop */
    char *name;
};

struct tide__edge {
    uint32_t from, out, to, in;
};

struct tide_scope {
    tide_dataflow *df;
    tide_scope *parent;
    uint32_t index, depth, node_in_parent;
    char *name;
    struct tide__node *nodes;
    uint32_t nnodes, capnodes;
    struct tide__edge *edges;
    size_t nedges, capedges;
    tide_graph *graph;
    uint32_t ninputs, noutputs;
    uint32_t *tbase, *sbase; /* numbering of locations: targets, then sources */
    uint32_t ntargets, nlocs;
    bool ended;
};

struct tide_stream {
    tide_scope *scope;
    uint32_t node, port;
    const tide_type *type;
    tide_op *op;
    const char *name; /* what produces it, for messages */
    tide_stream *next_alloc;
};

struct tide_loop {
    tide_scope *scope;
    uint32_t node;
    const tide_type *type;
    uint64_t step;
    bool connected;
    char name[96];
};

struct tide_probe {
    tide_op **ops;        /* one sink per watched stream (tide_probe_with adds more) */
    size_t nops;
    tide_antichain merged; /* the frontiers together, for tide_probe_frontier */
    tide_probe *next;
};

struct tide_input {
    struct tide__window *win; /* first: read inline by tide_input_send(); NULL once gone */
    tide_op *op;
    tide_cap *cap;
    uint64_t epoch;
    bool closed;
    tide_input *next;
};

struct tide_unordered {
    tide_op *op;
};

struct tide_dataflow {
    tide_worker *w;
    char *name;
    uint32_t id;
    tide_scope **scopes;
    uint32_t nscopes, capscopes;
    tide_op **ops;
    uint32_t nops, capops;
    uint32_t nactive;
    bool built, dropping;
    tide_progcaster *pc;
    tide_change_batch local; /* this worker's updates of the current step */
    /* progress.c: the trackers the rank's workers share, this worker's place there, and
     * the notes of frontier changes it has read */
    struct tide__rank_progress *rp;
    bool rp_shared; /* with the rank's other workers (else this worker's own) */
    size_t rp_slot;
    uint64_t rp_seen;
    bool moved; /* the last absorb gave operators new frontiers */
    struct tide__told { tide_op *op; uint32_t port; } *told; /* inputs with new frontiers */
    size_t ntold, captold;
    tide_stream *streams; /* every stream handle, freed with the dataflow */
    tide_op **exchange_ops; /* operators with exchange inputs, polled each step */
    uint32_t nexchange;
    tide_op **dirty; /* operators with sessions open outside their logic (inputs) */
    uint32_t ndirty, capdirty;
    tide_dataflow *next_unbuilt; /* begun, not yet ended: the worker's list */
    uint64_t fp_full;            /* fingerprint.c: this worker's hash of the graph */
    uint64_t *fp_prefix;         /* the hash of each prefix of the operator list */
    bool hidden;                 /* made by the library (tide_check_same): not in --dot */
};

struct tide_worker {
    tide_allocator *alloc;
    size_t index, peers;
    tide_dataflow **dfs;
    size_t ndfs, capdfs;
    uint32_t next_id;
    struct tide__act_hub *hub; /* external activations */
    /* A worker tells the next one on this channel (the worker's first) that it has
     * finished and how many dataflows it built: a peer waiting on a dataflow that a
     * finished worker never built would otherwise wait forever. Read only when idle. */
    tide_push *done_push; /* towards the next worker (index + 1, wrapping) */
    tide_pull *done_pull;
    struct tide__fifo pool; /* spare batches of any type */
    size_t pool_bytes;      /* their capacity */
    tide_cap *free_caps;
    void **cap_blocks;
    size_t ncap_blocks;
    tide_probe *probes;
    tide_input *inputs;
    tide_dataflow *unbuilt; /* dataflows begun and not ended, latest first */
    uint64_t idle; /* steps in a row with nothing to do */
    bool demand;   /* --progress-mode demand */
    size_t share;  /* --progress-share: workers per rank from which they share trackers */
    const char *dot;   /* --dot FILE (NULL: none) */
    unsigned dot_graphs; /* dataflows written to it so far */
    uint64_t busy_steps; /* steps that did something (--watch tells a stall by them) */
    uint64_t records_in; /* records its operators took from their inputs */
    uint64_t bytes_in;   /* and their bytes */
    /* Records (and bytes) that reached its operators' inputs: less what they took, what
     * is queued (--trace samples it). */
    uint64_t records_arrived, bytes_arrived;
    struct tide__watch *watch;     /* the execution's watcher (NULL: none) */
    atomic_uint *watch_requests;   /* its count of requests, loaded each step */
    unsigned watch_seen;           /* its requests answered so far */
    struct tide__watch_worker *ww; /* watch.c's state of this worker */
    struct tide__trace *trace;     /* --trace: trace.c's events (NULL: none) */
    unsigned log_kinds;            /* what tide_worker_log asked for (0: nothing) */
    struct tide__budget *budget;   /* --memory (NULL: none) */
    size_t budget_slot;            /* its place among the rank's workers there */
    uint64_t moves; /* batches taken and busy steps, while there is a budget */
    uint64_t gate_since, gate_held, gate_busy, grant, grant_bytes; /* budget.c's, waiting */
    tide_op **gated;               /* sources waiting for room */
    size_t ngated, capgated;
    struct tide__spill *spill;     /* --memory: the rank's spill file (NULL: none) */
};

/* budget.c: --memory (see there). Start and stop wrap an execution (NULL without a
 * budget; stop prints the rank's report); a worker joins and leaves it. Sources ask for
 * room (tide_op_has_room: when there is none they wait, activated again once there is); each step
 * ends with tide__budget_step when w->budget is set; parking waits at most what
 * tide__budget_timeout says. */
struct tide__budget *tide__budget_start(const tide_config *cfg);
void tide__budget_stop(struct tide__budget *b, size_t rank, bool report);
void tide__budget_join(tide_worker *w, struct tide__budget *b);
void tide__budget_leave(tide_worker *w);
bool tide__budget_room(tide_worker *w);
void tide__budget_forget(tide_worker *w, const tide_dataflow *df);
void tide__budget_step(tide_worker *w, bool did);
void tide__budget_moved(tide_worker *w); /* a batch taken */
int64_t tide__budget_timeout(const tide_worker *w, int64_t timeout_ns);

uint64_t tide__budget_limit(const struct tide__budget *b);
/* spill.c (see there). The directory --spill-dir gives (or TMPDIR, or /tmp). */
const char *tide__spill_dir(const char *given);
/* The rank's spill file in @p dir: made by tide__budget_start, its file created (and
 * unlinked) by tide__spill_prepare (-1 with a message in err when it cannot be), freed
 * with its totals by tide__budget_stop. */
struct tide__spill *tide__spill_new(const char *dir);
int tide__spill_prepare(struct tide__spill *s, char *err, size_t errlen);
void tide__spill_free(struct tide__spill *s, uint64_t *batches, uint64_t *bytes);
/* Whether batch @p b, about to join @p queue, went to the spill file instead (its struct
 * still joins the queue, its buffer gone). */
bool tide__spill_maybe(tide_worker *w, struct tide__fifo *queue, tide_batch *b);
/* The same for a batch about to be pushed to a rank-mate (or this worker) through @p to. */
bool tide__spill_sent(tide_worker *w, tide_push *to, tide_batch *b);
/* Reads spilled batch @p b back into a buffer of its own. */
void tide__spill_restore(tide_worker *w, tide_batch *b);
/* A batch that will not be read: if it is spilled, the file no longer keeps it. */
void tide__spill_discard(tide_worker *w, tide_batch *b);

/* watch.c: --watch and SIGUSR1 (see there). Start and stop wrap an execution; NULL when
 * there is nothing to watch for. */
struct tide__watch *tide__watch_start(const tide_config *cfg);
void tide__watch_stop(struct tide__watch *wt);
void tide__watch_join(tide_worker *w, struct tide__watch *wt);
void tide__watch_leave(tide_worker *w);
void tide__watch_answer(tide_worker *w);
/* trace.c: --trace (see there). Join at the worker's start, finish when its dataflows
 * are done (worker 0 writes the file); the rest record one event each. */
#define TIDE__NO_TRACE_ID UINT32_MAX /* an operator built before the trace began */
void tide__trace_join(tide_worker *w, const char *path, const char *otf2);
void tide__trace_dataflow(tide_dataflow *df);
void tide__trace_op(tide_worker *w, const tide_op *op, uint64_t start, uint64_t records);
void tide__trace_park(tide_worker *w, uint64_t start);
/* Messages between workers: a new message's tag for its TIDE__TRACE_META word, its send
 * to worker @p dst (once per receiving worker), and its receipt by operator @p op. */
uint64_t tide__trace_tag(tide_worker *w);
void tide__trace_send(tide_worker *w, const tide_op *to, int chan, size_t dst, uint64_t tag,
                      uint64_t records, uint64_t bytes);
void tide__trace_receive(tide_worker *w, const tide_op *op, int chan, tide_batch *b);
/* A sample of what is queued at @p w's inputs if it changed (at most every 100 us
 * unless @p now). */
void tide__trace_queue(tide_worker *w, bool now);
/* The program's log only (tide_worker_log; callers test w->log_kinds first): a step's
 * progress updates sent or applied, and a new frontier at input @p port of @p op. */
void tide__log_progress(tide_dataflow *df, bool out, size_t changes);
/* @p on_stop(ctx) is called once when the callback just set is replaced or stopped. */
void tide__log_on_stop(tide_worker *w, void (*on_stop)(void *ctx));
void tide__log_frontier(tide_worker *w, const tide_op *op, uint32_t port,
                        const tide_antichain *f);
void tide__trace_finish(tide_worker *w);
/* No more calls of the program's log callback (its function has returned). */
void tide__log_stop(tide_worker *w);
/* report.c: "{t1, t2}" (the report and the --watch status line) */
void tide__put_antichain(FILE *out, const tide_antichain *a);
/* cap.c: whether @p c waits in @p n (the report tells notifications from capabilities) */
bool tide__notificator_holds(const tide_notificator *n, const tide_cap *c);

/* Leaves @p root's dataflow out of --dot (the operator library's own dataflows). */
void tide__scope_hide(tide_scope *root);
/* For tide_stash_add: @p b when it is the batch the operator whose logic runs on this
 * thread is reading from an input (tide_op_next's) and came from this worker, taken out
 * of the input for the caller to keep; NULL when it is not, and the caller copies. */
tide_batch *tide__op_keep(tide_batch *b);
/* A batch the caller is done with, back to the running operator's worker's pool. */
void tide__op_recycle(tide_batch *b);
/* dot.c: appends @p df's graph to the --dot file (worker 0 only). */
void tide__dot_write(tide_dataflow *df);
/* From the comm layer: wakes the rank's worker @p local (its index within the rank). */
void tide__allocator_wake_local(tide_allocator *a, size_t local);
/* progress.c: demand mode's test of whether held updates may move a frontier */
bool tide__progress_must_send(void *df, const tide_change *c, size_t n);

/* worker.c */
tide_batch *tide__worker_batch(tide_worker *w, const tide_type *type);
void tide__worker_recycle(tide_worker *w, tide_batch *b);
/* Stamps @p b with time @p t (in its metadata, which travels with it). */
/* The metadata word after the time: the --trace tag of a message between workers
 * (trace.c), 0 when it is none. */
#define TIDE__TRACE_META 5
_Static_assert(1 + TIDE_TIME_MAX_DEPTH == TIDE__TRACE_META && TIDE__TRACE_META < TIDE_BATCH_META,
               "a batch's metadata holds its time and a trace tag");
static inline void tide__set_time(tide_batch *b, const tide_time *t)
{
    uint64_t *m = tide_batch_meta(b);
    m[0] = t->depth;
    memcpy(&m[1], t->c, sizeof t->c);
    m[TIDE__TRACE_META] = 0;
}
/* Splits @p b among the workers by target @p tg's hash and sends each worker's records at
 * time @p t (exchange.c; @p b stays the caller's). */
void tide__exchange(tide_op *op, struct tide__target *tg, tide_batch *b, const tide_time *t);
/* Frees @p tg's exchange staging. */
void tide__exchange_free(struct tide__target *tg);
void tide__worker_forget_activator(tide_worker *w, tide_activator *a);

/* build.c */
tide_op *tide__op_new(tide_scope *s, const char *name, uint32_t nin, uint32_t nout);
void tide__op_connect(tide_op *op, uint32_t port, tide_stream *s, tide_pact pact);
tide_stream *tide__stream_new(tide_scope *s, uint32_t node, uint32_t port,
                              const tide_type *type, tide_op *op, const char *name);
void tide__dataflow_free(tide_dataflow *df);

/* fingerprint.c: the check that every worker built the same graph (see there) */
void tide__fingerprint_send(tide_dataflow *df);
/* Checks the fingerprints among @p n changes against @p df's, counting them off *pending. */
void tide__fingerprint_check(tide_dataflow *df, const tide_change *c, size_t n,
                             size_t *pending);
/* @p df differs from what worker @p other built (@p nops operators, @p prefix its hashes
 * of each prefix of them, or NULL): stops the run saying where. */
_Noreturn void tide__fingerprint_differs(const tide_dataflow *df, size_t other, uint32_t nops,
                                         const uint64_t *prefix);
bool tide__fingerprint_key(uint64_t key);

/* progress.c */
/* Joins the trackers the rank's workers share for @p df (at tide_dataflow_end), making
 * them if it is the first: graph(s, internal) gives scope s's progress graph, with the
 * internal trackers of its nested scopes (by scope index) for their summaries. */
void tide__progress_install(tide_dataflow *df,
                            tide_graph *(*graph)(tide_scope *s, tide_tracker *const *internal));
/* Leaves them (the dataflow is being freed). */
void tide__progress_leave(tide_dataflow *df);
/* Receives, applies and propagates progress; activates operators; true if anything came. */
bool tide__progress_absorb(tide_dataflow *df);
void tide__progress_send(tide_dataflow *df);
bool tide__dataflow_complete(const tide_dataflow *df);
void tide__activate(tide_op *op);
static inline void tide__update(tide_dataflow *df, uint64_t key, const tide_time *t, int64_t d)
{
    tide_change_batch_update(&df->local, key, t, d);
}

/* op.c */
/* Runs an operator's logic, then flushes its outputs and invalidates borrowed capabilities. */
void tide__op_run(tide_op *op);
void tide__op_flush(tide_op *op);
/* Moves batches from the operator's exchange pulls into its queues; true if any arrived. */
bool tide__op_poll(tide_op *op);
void tide__op_free(tide_op *op);
tide_cap *tide__cap_new(tide_op *op, const tide_time *t);
void tide__cap_free(tide_cap *c);
/* Drops owned slot @p c (counted -1, freed). */
void tide__cap_drop_slot(tide_cap *c);
/* Frees the owned capabilities of @p df's operators that nobody dropped (dataflow freed). */
void tide__cap_forget(tide_dataflow *df);
void tide__cap_count(tide_cap *c, int64_t d);
/* Stops the run unless the operator's summaries let a capability borrowed from input
 * @p in at @p from cover time @p to at output @p out (TIDE__ANY_OUTPUT: at some output). */
#define TIDE__ANY_OUTPUT UINT32_MAX
void tide__check_summary(const tide_op *op, uint32_t in, uint32_t out, const tide_time *from,
                         const tide_time *to, const char *what);
void tide__mark_dirty(tide_op *op);

/* notify.c */
void tide__notificator_drop_current(tide_notificator *n);

#endif
