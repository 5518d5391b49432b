/* SPDX-License-Identifier: MIT */
/**
 * @file tide/dataflow.h  The dataflow layer: workers, dataflows and scopes, streams,
 * parallelization contracts, generic operators, capabilities, frontiers, notificators,
 * activators, input and probe handles.
 *
 * A program runs one function per worker (tide_execute_from_args). Each worker builds the
 * same dataflows in the same order (tide_dataflow_begin ... tide_dataflow_end), feeds them
 * through input handles and steps them (tide_worker_step) until its probes say a time is
 * complete. Handles (streams, operators, inputs, probes) belong to the worker; nothing
 * here is thread-safe except tide_activator_activate().
 *
 * Times: the root scope's time is an epoch (one coordinate); every nested scope adds one.
 * Functions with "epoch" in their name are for the root scope; the others take a tide_time.
 *
 * Misuse of the model (sending with a capability already dropped, at a time before the
 * capability's, downgrading to an earlier time, connecting streams of different types,
 * a loop whose summary does not advance time) stops the run on every rank with a message
 * naming the operator and the times.
 */
#ifndef TIDE_DATAFLOW_H
#define TIDE_DATAFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tide/comm.h"
#include "tide/progress.h"

/* The C11 keywords this header uses, spelled so that C++ can include it too. */
#ifdef __cplusplus
#define TIDE__NORETURN [[noreturn]]
#define TIDE__RESTRICT __restrict__
#else
#define TIDE__NORETURN _Noreturn
#define TIDE__RESTRICT restrict
#endif

/* Branch hints for the inline record paths: laid out with the common case falling
 * through, a record's send is one taken branch (the caller's loop) instead of three. */
#if defined(__GNUC__) || defined(__clang__)
#define TIDE__LIKELY(x) __builtin_expect(!!(x), 1)
#define TIDE__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TIDE__LIKELY(x) (x)
#define TIDE__UNLIKELY(x) (x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** One worker: a thread of a rank, which builds dataflows and steps them. */
typedef struct tide_worker tide_worker;
/** A dataflow installed on a worker (every worker builds the same ones, in order). */
typedef struct tide_dataflow tide_dataflow;
/** A scope of a dataflow: the root one, or a nested (iterative) one. */
typedef struct tide_scope tide_scope;
/** The output of an operator: records with times, consumed by the operators built on it. */
typedef struct tide_stream tide_stream;
/** An operator (its logic runs on its worker when scheduled). */
typedef struct tide_op tide_op;
/** A capability: the right to send records at a time (and later ones) on an output. */
typedef struct tide_cap tide_cap;
/** Where an operator gives records at one time on one output (tide_op_session()). */
typedef struct tide_session tide_session;
/** A handle that schedules an operator from outside its worker's step (any thread). */
typedef struct tide_activator tide_activator;
/** A feedback edge of a nested scope (tide_loop_new()). */
typedef struct tide_loop tide_loop;
/** An operator under construction with any number of inputs and outputs. */
typedef struct tide_builder tide_builder;
/** The program's handle on an input stream it feeds record by record, epoch by epoch. */
typedef struct tide_input tide_input;
/** The program's handle on an input fed at times of its choosing (capabilities). */
typedef struct tide_unordered tide_unordered;
/** Watches the frontier of a stream: which times may still appear there. */
typedef struct tide_probe tide_probe;
/** Capabilities waiting until input frontiers pass their times. */
typedef struct tide_notificator tide_notificator;

/* ---------------------------------------------------------------- execution */

/** A worker's body: builds and runs dataflows; its return value is the worker's result. */
typedef int (*tide_worker_fn)(tide_worker *w, void *ctx);

/**
 * Parses tide's options out of argv (see tide_config_from_args; the program's own
 * arguments stay, in order, so @p ctx may point at argc/argv), starts the workers (and
 * MPI under a launcher), runs @p fn on each, then keeps stepping each worker until its
 * dataflows are complete, whatever @p fn returned (its peers may need its progress), and
 * shuts down. When @p fn returns, what only the program could release is released: inputs
 * still open are closed, and capabilities of unordered inputs (and of other operators
 * without logic) still held, retained or in capability sets are dropped; those handles are
 * invalid afterwards. A dataflow begun and never ended (tide_dataflow_end) stops the run
 * with a message naming it. Returns 0 when
 * every worker returned 0, the first non-zero worker result otherwise, or a negative
 * TIDE_E... code when the run could not start (the reason is on stderr).
 */
int tide_execute_from_args(int *argc, char **argv, tide_worker_fn fn, void *ctx);
/** Like tide_execute_from_args() with a configuration the program filled itself. */
int tide_execute(const tide_config *cfg, tide_worker_fn fn, void *ctx);
/** tide_execute(), and what each worker of this rank returned: @p each[i] is the result of
 *  the rank's i-th worker (global index rank * workers + i), for i < @p cap (0 beyond the
 *  rank's workers, and all 0 when the run could not start). */
int tide_execute_results(const tide_config *cfg, tide_worker_fn fn, void *ctx, int *each,
                         size_t cap);
/** One worker in this thread's process, no MPI, no options read: for small examples. */
int tide_example(tide_worker_fn fn, void *ctx);

/** This worker's index in [0, peers). */
size_t tide_worker_index(const tide_worker *w);
/** Number of workers in the job. */
size_t tide_worker_peers(const tide_worker *w);
/** The worker's communication handle (for channels or MPI calls of the program's own). */
tide_allocator *tide_worker_allocator(tide_worker *w);
/**
 * One round of work: moves arrived messages and progress, runs the operators that have
 * something to do, and sends this worker's progress. Returns true while some dataflow of
 * this worker is not complete.
 */
bool tide_worker_step(tide_worker *w);
/**
 * Like tide_worker_step(), but when there was nothing to do, sleeps until a message or an
 * activation arrives or @p timeout_ns passes (< 0: no limit), without spinning a core.
 */
bool tide_worker_step_or_park(tide_worker *w, int64_t timeout_ns);
/**
 * Whether a source on this worker may produce now under the rank's --memory budget: true
 * without a budget or while within it, false while the rank is over it and still draining
 * (step, then ask again: `while (!tide_worker_has_room(w)) tide_worker_step(w);` before
 * each chunk fed to an input). When the rank stops draining (what it holds waits for the
 * sources themselves) it gives way and says true for a while (doc/running.md, "Memory").
 */
bool tide_worker_has_room(tide_worker *w);
/** Steps while @p cond(@p arg) is true. */
void tide_worker_step_while(tide_worker *w, bool (*cond)(void *arg), void *arg);
/** Number of installed dataflows not yet complete. */
size_t tide_worker_dataflows(const tide_worker *w);
/** Writes what @p w waits for to @p out, for a person: per dataflow, each operator with
 *  something to say (its input frontiers, records queued, the capabilities held and by
 *  whom, pending notifications, an input handle not closed) and the probes' frontiers.
 *  Call it on the worker's own thread; --watch and SIGUSR1 print the same report. */
void tide_worker_report(tide_worker *w, FILE *out);

/** What a worker's event log reports (timely's logging, for the program itself). */
typedef enum tide_log_kind {
    TIDE_LOG_OPERATOR = 1, /**< an operator ran: name, start, duration, records taken */
    TIDE_LOG_PARK = 2,     /**< the worker slept, waiting for a message or an activation */
    TIDE_LOG_SEND = 4,     /**< records left for another worker: one event per message */
    TIDE_LOG_RECEIVE = 8,  /**< an operator took a message another worker sent */
    /** At tide_dataflow_end, one per operator: name, op, scope, inputs, outputs. */
    TIDE_LOG_OPERATOR_BUILT = 16,
    /** At tide_dataflow_end, one per edge into an operator's input (through scope
     *  boundaries): op and port it leaves, target_op and target_port, pact, channel. */
    TIDE_LOG_CHANNEL_BUILT = 32,
    TIDE_LOG_PROGRESS_SEND = 64,     /**< a step's progress updates left: records = changes */
    TIDE_LOG_PROGRESS_RECEIVE = 128, /**< progress updates were applied by this worker to its
                                          rank's trackers (each update by one worker of the
                                          rank): records = changes */
    /** An operator input's frontier moved (a probe is an operator too): name, op, port,
     *  frontier. */
    TIDE_LOG_FRONTIER = 256
} tide_log_kind;
/** One event; valid during the callback only. */
typedef struct tide_log_event {
    tide_log_kind kind; /**< what happened */
    size_t worker;      /**< the worker it happened on (its index in the job) */
    uint64_t start_ns; /**< from the job's start (aligned across ranks under --trace) */
    uint64_t dur_ns;   /**< 0 for a message */
    /** "dataflow/operator": the operator that ran, or a message's receiving operator;
     *  "park" */
    const char *name;
    uint64_t records; /**< taken in this run (operator), or in the message */
    /* Messages only (TIDE_LOG_SEND, TIDE_LOG_RECEIVE): */
    size_t peer;      /**< the worker it went to (send) or came from (receive) */
    uint64_t bytes;   /**< of record data */
    int channel;      /**< the channel it travelled on (tide_allocator ids) */
    /** The same number at both ends of one message (--trace draws it as an arrow). */
    uint64_t message;
    /* Building and frontiers (TIDE_LOG_*_BUILT, TIDE_LOG_FRONTIER): */
    uint32_t op;                     /**< operator (its number in its dataflow) */
    uint32_t port;                   /**< the operator's port */
    uint32_t target_op;              /**< the operator a channel goes to */
    uint32_t target_port;            /**< and its input port */
    uint32_t inputs;                 /**< an operator's number of inputs */
    uint32_t outputs;                /**< and of outputs */
    const char *scope;               /**< an operator's scope, "dataflow/scope/..." */
    const char *pact;                /**< a channel's: "pipeline" or "exchange" */
    const tide_time *frontier;       /**< the input's new frontier (nfrontier times) */
    size_t nfrontier;                /**< number of times in frontier */
} tide_log_event;
/** A callback of tide_worker_log(). */
typedef void (*tide_log_fn)(const tide_log_event *e, void *ctx);
/** Calls @p fn on @p w's thread for each event whose kind is in @p kinds (a mask of
 *  tide_log_kind; 0 stops it), for the operators of dataflows built from now on. Costs
 *  two clock reads per operator run and one per message while set; --trace records the
 *  runs, parks and messages too. */
void tide_worker_log(tide_worker *w, unsigned kinds, tide_log_fn fn, void *ctx);

/** A tide_log_event as a record (tide_log_stream): the strings cut to fit, no frontier. */
typedef struct tide_log_record {
    uint32_t kind;        /**< tide_log_event.kind */
    uint32_t worker;      /**< tide_log_event.worker */
    uint64_t start_ns;    /**< tide_log_event.start_ns */
    uint64_t dur_ns;      /**< tide_log_event.dur_ns */
    uint64_t records;     /**< tide_log_event.records */
    uint64_t bytes;       /**< tide_log_event.bytes */
    uint64_t message;     /**< tide_log_event.message */
    uint32_t peer;        /**< tide_log_event.peer */
    uint32_t op;          /**< tide_log_event.op */
    uint32_t port;        /**< tide_log_event.port */
    uint32_t target_op;   /**< tide_log_event.target_op */
    uint32_t target_port; /**< tide_log_event.target_port */
    uint32_t inputs;      /**< tide_log_event.inputs */
    uint32_t outputs;     /**< tide_log_event.outputs */
    int32_t channel;      /**< tide_log_event.channel */
    char name[64]; /**< "dataflow/operator", "park", or a dataflow's name (progress) */
} tide_log_record;
/** The type of tide_log_stream's records (plain data). */
extern const tide_type tide_log_record_type;
/**
 * This worker's own events of kinds @p kinds as a stream in the dataflow of @p root (a
 * root scope), so that the program can compute on its log: each record at the epoch of
 * the milliseconds since the job's start when the stream's source took it (at or after
 * its start_ns). It takes the place of tide_worker_log's callback: the stream ends when
 * logging is stopped or replaced (tide_worker_log) and when the worker's function returns.
 * Events of the dataflow that reads the log are left out (it would read its own reading).
 */
tide_stream *tide_log_stream(tide_scope *root, unsigned kinds);

/* ---------------------------------------------------------------- building dataflows */

/**
 * Starts building a dataflow; returns its root scope (time = epoch). Every worker must
 * build the same dataflows, with the same operators, in the same order.
 */
tide_scope *tide_dataflow_begin(tide_worker *w, const char *name);
/**
 * Finishes building: checks the graph (unconnected loops, cycles that do not advance
 * time: fatal, naming the operators) and installs it. Returns its handle, valid until it
 * completes or is dropped.
 */
tide_dataflow *tide_dataflow_end(tide_scope *root);
/** Removes a dataflow from this worker at once (its operators' state is freed). */
void tide_dataflow_drop(tide_dataflow *df);

/**
 * A nested iterative scope inside @p parent: its times have one more coordinate (the
 * iteration). Streams come in with tide_enter(), go out with tide_leave(), and go around
 * with loop variables.
 */
tide_scope *tide_scope_begin(tide_scope *parent, const char *name);
/** Ends building @p scope (optional): adding operators, loops or entered streams to it
 *  afterwards stops the run with a message; its streams may still leave to the parent. */
void tide_scope_end(tide_scope *scope);
/** The scope's worker. */
tide_worker *tide_scope_worker(const tide_scope *scope);
/** The scope's depth: 1 for the root scope, one more per nested scope. */
uint32_t tide_scope_depth(const tide_scope *scope);

/** The stream @p s (of the scope's parent) inside @p inner, at times with an iteration 0. */
tide_stream *tide_enter(tide_scope *inner, tide_stream *s);
/** The stream @p s (of a nested scope) in the parent scope, the iteration dropped. */
tide_stream *tide_leave(tide_stream *s);
/**
 * A loop variable: a stream whose records are those later connected with
 * tide_loop_connect(), @p step iterations later (step >= 1 advances the scope's innermost
 * coordinate; in the root scope, the epoch). Records whose time would overflow are dropped.
 */
tide_stream *tide_loop_variable(tide_scope *scope, uint64_t step, const tide_type *type,
                                tide_loop **loop);
/** Closes the loop: @p s (of the loop's scope and type) feeds the loop variable. */
void tide_loop_connect(tide_loop *loop, tide_stream *s);

/** A stream's scope. */
tide_scope *tide_stream_scope(const tide_stream *s);
/** A stream's record type. */
const tide_type *tide_stream_type(const tide_stream *s);
/** Stops the run, naming the stream's producer and @p consumer, unless @p s carries
 *  records of @p type. For operators that expect a particular record type. */
void tide_stream_expect(const tide_stream *s, const tide_type *type, const char *consumer);
/** The operator whose output the stream is (NULL for entered, left and loop streams). */
tide_op *tide_stream_op(const tide_stream *s);

/** Stops the whole job (every thread, every rank) with a message on stderr: for errors of
 *  the program that leave nothing sensible to do. */
TIDE__NORETURN void tide_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------- contracts */

/** Which worker a record goes to: hash % peers. Receives the record as tide_batch_read()
 *  yields it (a pointer to a fixed-size record, or to the decoded value). */
typedef uint64_t (*tide_hash_fn)(const void *record, void *ctx);

/** The hashes of @p n fixed-size records stored contiguously at @p records, into
 *  hashes[0..n): one call per batch where tide_hash_fn makes one per record, and a loop
 *  the compiler can vectorize. Record i goes to worker hashes[i] % peers. */
typedef void (*tide_hash_batch_fn)(const void *records, size_t n, uint64_t *hashes, void *ctx);

/** How an input receives its records: all on this worker (hash and hash_batch NULL,
 *  pipeline), or each on worker hash % peers (exchange). */
typedef struct tide_pact {
    tide_hash_fn hash; /**< per record; NULL: pipeline, unless hash_batch is set */
    void *ctx;         /**< passed to hash and hash_batch */
    /** Per batch, for fixed-size records: used instead of hash when set (hash, if also
     *  set, serves streams of variable-length records, which have no array to pass). */
    tide_hash_batch_fn hash_batch;
} tide_pact;

/** Records stay on the worker that produced them. */
#define TIDE_PIPELINE ((tide_pact){ NULL, NULL, NULL })
/** Records go to worker hash(record, ctx) % peers. */
#define TIDE_EXCHANGE(hash, ctx) ((tide_pact){ (hash), (ctx), NULL })
/** Records go to the workers that hash_batch(records, n, hashes, ctx) gives, hashes[i] %
 *  peers (fixed-size records only). */
#define TIDE_EXCHANGE_BATCH(hash_batch, ctx) ((tide_pact){ NULL, (ctx), (hash_batch) })
/** The hash of a record that is its first 8 bytes as a uint64_t: a u64 record's value
 *  (timely's exchange by value: record % peers), or a struct's leading uint64_t key.
 *  Exchanges recognise it and read the key inline, without a call per record; records
 *  must be at least 8 bytes. */
uint64_t tide_hash_u64(const void *record, void *ctx);
/** tide_hash_u64 for a leading uint32_t: a u32 record's value, or a struct's first field
 *  when it is a uint32_t key; read inline by exchanges. Records must be at least 4 bytes. */
uint64_t tide_hash_u32(const void *record, void *ctx);
/** A 64-bit hash of a string record (the value of a TIDE_STR record, a const char *),
 *  mixing 8 bytes at a time; the same on every worker and rank of a job. Exchanges and
 *  aggregate tables recognise it on TIDE_STR streams and hash with the stored length. */
uint64_t tide_hash_str(const void *record, void *ctx);
/** Whether two string records (values of TIDE_STR records, const char *) are the same
 *  string: the key equality to give with tide_hash_str. Aggregate tables and tide_table
 *  recognise the two together and hash and compare inline (records by their stored
 *  lengths). */
bool tide_same_str(const void *a, const void *b, void *ctx);
/** The hash that sends every record to worker 0 (to gather a stream in one place).
 *  Exchanges recognise it: no call per record. */
uint64_t tide_hash_zero(const void *record, void *ctx);

/* ---------------------------------------------------------------- generic operators */

/** An operator's logic, called when it is scheduled (data arrived, a frontier it watches
 *  moved, or it was activated). @p state is the pointer given when it was built. */
typedef void (*tide_logic_fn)(tide_op *op, void *state);
/** Frees an operator's state when its dataflow goes away (may be NULL). */
typedef void (*tide_free_fn)(void *state);

/**
 * An operator with no inputs. It starts with a capability at time 0 of the scope: stored
 * in *initial (owned by the caller) when @p initial is not NULL, dropped otherwise.
 */
tide_stream *tide_source(tide_scope *scope, const char *name, const tide_type *type,
                         tide_logic_fn logic, void *state, tide_free_fn free_state,
                         tide_cap **initial);
/** An operator with one input and no output, scheduled also when its frontier moves. */
tide_op *tide_sink(tide_stream *in, tide_pact pact, const char *name, tide_logic_fn logic,
                   void *state, tide_free_fn free_state);
/** One input, one output of type @p out; scheduled when data arrives. */
tide_stream *tide_unary(tide_stream *in, tide_pact pact, const char *name,
                        const tide_type *out, tide_logic_fn logic, void *state,
                        tide_free_fn free_state);
/** tide_unary(), also scheduled when the input frontier moves. */
tide_stream *tide_unary_frontier(tide_stream *in, tide_pact pact, const char *name,
                                 const tide_type *out, tide_logic_fn logic, void *state,
                                 tide_free_fn free_state);
/** tide_unary_frontier() with a notificator (tide_op_notify_at / tide_op_next_notification)
 *  that starts with a notification request at each of the @p ninit times @p init. */
tide_stream *tide_unary_notify(tide_stream *in, tide_pact pact, const char *name,
                               const tide_type *out, tide_logic_fn logic, void *state,
                               tide_free_fn free_state, const tide_time *init, size_t ninit);
/** Two inputs (ports 0 and 1), one output. */
tide_stream *tide_binary(tide_stream *in0, tide_stream *in1, tide_pact pact0, tide_pact pact1,
                         const char *name, const tide_type *out, tide_logic_fn logic,
                         void *state, tide_free_fn free_state);
/** tide_binary(), also scheduled when either input frontier moves. */
tide_stream *tide_binary_frontier(tide_stream *in0, tide_stream *in1, tide_pact pact0,
                                  tide_pact pact1, const char *name, const tide_type *out,
                                  tide_logic_fn logic, void *state, tide_free_fn free_state);
/** tide_binary_frontier() with a notificator, as tide_unary_notify(). */
tide_stream *tide_binary_notify(tide_stream *in0, tide_stream *in1, tide_pact pact0,
                                tide_pact pact1, const char *name, const tide_type *out,
                                tide_logic_fn logic, void *state, tide_free_fn free_state,
                                const tide_time *init, size_t ninit);

/** Inputs an operator described by a tide_op_desc may have (more: tide_builder_new()). */
#define TIDE_OP_MAX_INPUTS 8

/**
 * An operator with up to TIDE_OP_MAX_INPUTS inputs and at most one output, described by
 * named fields instead of a long argument list: what tide_source(), tide_sink(), and the
 * plain, _frontier and _notify forms of tide_unary() and tide_binary() do, in one call.
 * Fields left out are zero: pipeline pacts, no output, no free function, scheduled only
 * when data arrives. Fill it with designated initializers:
 *
 *     tide_stream *out = tide_operator(&(tide_op_desc){
 *         .name = "Join", .in = { left, right },
 *         .pact = { TIDE_EXCHANGE(tide_hash_u64, NULL), TIDE_EXCHANGE(tide_hash_u64, NULL) },
 *         .out = TIDE_U64, .logic = join, .state = st, .free_state = join_free,
 *         .frontier = true });
 */
typedef struct tide_op_desc {
    const char *name;                        /**< in messages, --dot and traces */
    tide_stream *in[TIDE_OP_MAX_INPUTS];     /**< the inputs, ports 0, 1, ... (no gaps) */
    tide_pact pact[TIDE_OP_MAX_INPUTS];      /**< how input i is read (zero: pipeline) */
    tide_scope *scope;                       /**< a source's scope (with inputs: theirs) */
    const tide_type *out;                    /**< the output's records; NULL: no output */
    tide_logic_fn logic;                     /**< called when the operator is scheduled */
    void *state;                             /**< passed to logic */
    tide_free_fn free_state;                 /**< frees state with the dataflow, or NULL */
    /** Also scheduled when an input frontier moves (as the _frontier forms). */
    bool frontier;
    /** A notificator (as the _notify forms, which also watch frontiers), starting with
     *  a request at each of the nnotify times notify_at; implied by nnotify > 0. */
    bool notify;
    const tide_time *notify_at; /**< see notify */
    size_t nnotify;             /**< see notify */
    /** Where to store a capability for time 0 of the scope, for all outputs (owned by the
     *  caller: drop it); NULL: none is kept. */
    tide_cap **initial;
    /** Where to store the operator (for a sink, say); NULL: not wanted. */
    tide_op **op;
} tide_op_desc;
/** Builds the operator @p d describes; returns its output stream, or NULL when it has none.
 *  Stops the run naming the operator when @p d is inconsistent (no logic, an input after
 *  an empty one, no inputs and no scope, a pact on a port without an input). */
tide_stream *tide_operator(const tide_op_desc *d);

/**
 * The general operator: any number of inputs and outputs. By default every input reaches
 * every output at the same time (identity summary); tide_builder_summary() changes a pair.
 * Freed by tide_builder_build().
 */
tide_builder *tide_builder_new(tide_scope *scope, const char *name);
/** Adds an input reading @p s with @p pact; returns its port. */
uint32_t tide_builder_input(tide_builder *b, tide_stream *s, tide_pact pact);
/** Adds an output of records of @p type; returns its stream. */
tide_stream *tide_builder_output(tide_builder *b, const tide_type *type);
/** What input @p in does to times on their way to output @p out: @p s, or no path at all
 *  when @p s is NULL. */
void tide_builder_summary(tide_builder *b, uint32_t in, uint32_t out, const tide_summary *s);
/** Whether the operator is scheduled when an input frontier moves (default true). */
void tide_builder_frontier(tide_builder *b, bool watch);
/** Builds the operator (see tide_source() for @p initial: a capability for all outputs). */
tide_op *tide_builder_build(tide_builder *b, tide_logic_fn logic, void *state,
                            tide_free_fn free_state, tide_cap **initial);

/* ---------------------------------------------------------------- inside an operator */

/**
 * The next batch of input @p port, with a capability at its time (*cap, borrowed: valid
 * until the next tide_op_next() on this operator or the end of the logic; keep it with
 * tide_cap_retain()). The batch is the operator's until then too; false when none is left.
 */
bool tide_op_next(tide_op *op, uint32_t port, tide_cap **cap, tide_batch **batch);
/** Input @p port's frontier: the times at which records may still arrive there. */
const tide_antichain *tide_op_frontier(const tide_op *op, uint32_t port);
/**
 * An output session: records given to it leave output @p port at @p cap's time. @p cap must
 * be a live capability of this operator (owned or borrowed from an input). The session is
 * valid until the next session on that output or the end of the logic.
 */
tide_session *tide_op_session(tide_op *op, uint32_t port, const tide_cap *cap);
/** A session at time @p t, which must not be earlier than @p cap's time. */
tide_session *tide_op_session_at(tide_op *op, uint32_t port, const tide_cap *cap,
                                 const tide_time *t);
/** Not for programs: the write window of an output session and of an input (the first
 *  thing a tide_session holds and a tide_input points to), so that tide_session_give() and
 *  tide_input_send() can copy a fixed-size record inline, as putc() does, and
 *  tide_session_give_str() a short string. */
struct tide__window {
    unsigned char *wp, *end; /* fixed-size records: room for whole ones in [wp, end) */
    size_t size;             /* record size (0: variable-length, never through wp) */
    unsigned char *swp;      /* strings: sroom free bytes at swp while open */
    size_t sroom;
    size_t scount;           /* strings written at swp that the buffer does not count yet */
};
/** Not for programs: copies a fixed-size record into an open window with room; false
 *  (nothing done) otherwise. */
static inline bool tide__window_put(struct tide__window *TIDE__RESTRICT w, const void *record)
{
    if (TIDE__UNLIKELY(!w))
        return false;
    /* Read once, before the record is written: the copy's stores are of bytes, which
     * could be the window's own as far as the compiler knows, and reloading the window
     * after them chained each record to the last (restrict says they are not). */
    unsigned char *wp = w->wp;
    size_t size = w->size;
    if (TIDE__UNLIKELY(wp >= w->end))
        return false;
    /* Small records of whole words move a word at a time, inline: a size known only at
     * run time made memcpy a call per record (hashjoin -w 1: 16% of its time, for its
     * 16-byte pairs). The words are read as bytes (the record is the program's, of any
     * type) and stored as uint64_t, into the library's buffer, which only the library
     * and the receiving operators (through tide_batch_records(), after library calls)
     * read: a byte store could alias anything, so the caller's loop reloaded its
     * variables whose address it had given away (an input handle, its bound) after
     * every record. */
    if (TIDE__LIKELY(size == 8)) {
        uint64_t v;
        memcpy(&v, record, 8);
        *(uint64_t *)(void *)wp = v;
    } else if (size % 8 == 0 && size <= 64) {
        for (size_t k = 0; k < size; k += 8) {
            uint64_t v;
            memcpy(&v, (const unsigned char *)record + k, 8);
            *(uint64_t *)(void *)(wp + k) = v;
        }
    } else {
        memcpy(wp, record, size);
    }
    w->wp = wp + size;
    return true;
}

/** Not for programs: room for @p n fixed-size records in an open window, advanced past
 *  them; NULL (nothing done) if it has not that much (or holds variable-length records). */
static inline void *tide__window_extend(struct tide__window *w, size_t n)
{
    if (TIDE__UNLIKELY(!w || !w->size))
        return NULL;
    unsigned char *wp = w->wp;
    /* n below 2^32 keeps n * size from wrapping in 64 bits (records are far smaller
     * than 2^32 bytes) without a division */
    if (TIDE__UNLIKELY((uint64_t)n >> 32 || (uint64_t)n * w->size > (uint64_t)(w->end - wp)))
        return NULL;
    w->wp = wp + n * w->size;
    return wp;
}

void tide__session_give(tide_session *s, const void *record);
/** Sends one record (copied, or encoded for variable-length types). */
static inline void tide_session_give(tide_session *s, const void *record)
{
    if (TIDE__UNLIKELY(!tide__window_put((struct tide__window *)(void *)s, record)))
        tide__session_give(s, record);
}
/** Not for programs: the longest string tide_session_give_str() writes inline. */
#define TIDE__STR_INLINE 64
/** Not for programs: writes a string record of @p len bytes and a NUL into an open string
 *  window with room (a length word, the bytes, the NUL and padding to 4 bytes: as
 *  tide_batch_push writes one); false (nothing done) otherwise. */
static inline bool tide__window_put_str(struct tide__window *TIDE__RESTRICT w,
                                        const char *str, size_t len)
{
    unsigned char *at = w->swp;
    size_t need = 4 + ((len + 4) & ~(size_t)3);
    if (TIDE__UNLIKELY(len > TIDE__STR_INLINE || need > w->sroom))
        return false;
    uint32_t len32 = (uint32_t)len + 1;
    memcpy(at, &len32, 4);
    memset(at + need - 4, 0, 4); /* the NUL and padding (the bytes may overwrite part) */
    /* whole words, the last one overlapping: no call for a length known at run time */
    unsigned char *d = at + 4;
    if (len >= 8) {
        for (size_t k = 0; k + 8 < len; k += 8)
            memcpy(d + k, str + k, 8);
        memcpy(d + len - 8, str + len - 8, 8);
    } else if (len >= 4) {
        memcpy(d, str, 4);
        memcpy(d + len - 4, str + len - 4, 4);
    } else {
        for (size_t k = 0; k < len; k++)
            d[k] = (unsigned char)str[k];
    }
    w->swp = at + need;
    w->sroom -= need;
    w->scount++;
    return true;
}
void tide__session_give_str(tide_session *s, const char *str, size_t len);
/** Sends a string (a session of TIDE_STR) of the @p len bytes at @p str, which need not
 *  end in a NUL and must hold none: a tokenizer gives the words of a line where they lie,
 *  without a strlen or a terminated copy of each (short ones inline, with no call). */
static inline void tide_session_give_str(tide_session *s, const char *str, size_t len)
{
    if (TIDE__UNLIKELY(!tide__window_put_str((struct tide__window *)(void *)s, str, len)))
        tide__session_give_str(s, str, len);
}
/** Sends @p n fixed-size records stored contiguously at @p records. */
void tide_session_give_n(tide_session *s, const void *records, size_t n);
void *tide__session_extend(tide_session *s, size_t n);
/** Fixed-size records: room for @p n records at the end of the session's buffer, sent as
 *  they are once the logic returns (or the session's buffer leaves); the caller writes all
 *  @p n before its next call on any session of the operator. Returns where they start:
 *  a batch-level operator fills its output in place, with no call per record, and one
 *  record built in place (`*(struct edge *)tide_session_extend(out, 1) = e`) is not read
 *  back: tide_session_give() copies a record from where it was built, which stalls when
 *  its fields were just stored one by one (see tide_input_extend()). Inline while the
 *  buffer has room. */
static inline void *tide_session_extend(tide_session *s, size_t n)
{
    void *at = tide__window_extend((struct tide__window *)(void *)s, n);
    return TIDE__LIKELY(at != NULL) ? at : tide__session_extend(s, n);
}
/** Sends a whole batch of the output's type: ownership passes (a batch from tide_op_next
 *  too, which moves without a copy); *batch is left NULL. */
void tide_session_give_batch(tide_session *s, tide_batch **batch);

/** The operator's name. */
const char *tide_op_name(const tide_op *op);
/** The worker the operator runs on. */
tide_worker *tide_op_worker(const tide_op *op);
/** The operator's number of inputs. */
uint32_t tide_op_inputs(const tide_op *op);
/** The operator's number of outputs. */
uint32_t tide_op_outputs(const tide_op *op);
/** Schedules the operator again at the next step. */
void tide_op_activate(tide_op *op);
/**
 * For sources, under a --memory budget: true when @p op may produce now; false when its
 * rank is over the budget, and then @p op is activated again once there is room (return
 * without producing, keeping the capability). Always true without a budget.
 */
bool tide_op_has_room(tide_op *op);
/** A handle that schedules the operator from any thread (and wakes its worker), owned by
 *  the operator while its dataflow is installed. A thread that may use it after that (the
 *  dataflow can complete on its own) takes a reference with tide_activator_retain(). */
tide_activator *tide_op_activator(tide_op *op);
/** Another reference to @p a, valid until tide_activator_release(); returns @p a. */
tide_activator *tide_activator_retain(tide_activator *a);
/** Drops a reference taken with tide_activator_retain() (NULL is ignored). */
void tide_activator_release(tide_activator *a);
/** Schedules the activator's operator; safe from any thread. 0, or TIDE_EGONE when the
 *  operator's dataflow has completed or been dropped, or its worker has finished (timely's
 *  SyncActivationError): nothing is touched then. */
int tide_activator_activate(tide_activator *a);

/** (*_notify operators) Asks to be notified when no input can still receive data at or
 *  before @p cap's time; takes ownership of @p cap (an owned capability). */
void tide_op_notify_at(tide_op *op, tide_cap *cap);
/**
 * (*_notify operators) The next due notification in time order, or NULL: a capability
 * owned by the operator until the next call or the end of the logic (then dropped; keep
 * it with tide_cap_retain() or tide_cap_delayed()).
 */
tide_cap *tide_op_next_notification(tide_op *op);

/* ---------------------------------------------------------------- capabilities */

/** The capability's time. */
const tide_time *tide_cap_time(const tide_cap *c);
/** Its first coordinate (the epoch). */
uint64_t tide_cap_epoch(const tide_cap *c);
/** A new owned capability at the same time (from an owned or a borrowed one). */
tide_cap *tide_cap_retain(const tide_cap *c);
/** A new owned capability at @p t, which must not be earlier than @p c's time. */
tide_cap *tide_cap_delayed(const tide_cap *c, const tide_time *t);
/**
 * Per-output capabilities (timely's retain_for_output / delayed_for_output): an owned
 * capability at @p c's time (or @p t) that holds back only output @p output, so that an
 * operator can keep one output open while its others complete. Sessions on other outputs
 * with it stop the run; retaining or delaying it keeps its output. @p c may be for all
 * outputs (any capability but those made by these two) or already for @p output.
 */
tide_cap *tide_cap_retain_for(const tide_cap *c, uint32_t output);
/** tide_cap_delayed() for output @p output only (see tide_cap_retain_for()). */
tide_cap *tide_cap_delayed_for(const tide_cap *c, const tide_time *t, uint32_t output);
/** The output a capability is for, or -1 when it is for all of its operator's outputs. */
int64_t tide_cap_output(const tide_cap *c);
/** Moves an owned capability to @p t, which must not be earlier than its time. */
void tide_cap_downgrade(tide_cap *c, const tide_time *t);
/** Drops an owned capability and sets *c to NULL (NULL is ignored). Any copy of the handle
 *  is invalid from then on: using one stops the run, even once its slot has been reused. */
void tide_cap_drop(tide_cap **c);

/** A set of owned capabilities, at most one per time. */
typedef struct tide_capset {
    tide_cap **caps; /**< the capabilities, len of them */
    size_t len;      /**< number held */
    size_t cap;      /**< room in caps */
} tide_capset;
/** An empty set (a tide_capset may also be zero-initialized). */
void tide_capset_init(tide_capset *s);
/** Drops every capability in the set and frees it. */
void tide_capset_free(tide_capset *s);
/** Adds an owned capability (ownership passes; dropped if the set has its time). */
void tide_capset_insert(tide_capset *s, tide_cap *c);
/** Keeps capabilities at the least times that both the set and @p frontier allow: for
 *  each held time c and frontier time f their join (tide_time_join), the minimal ones, each
 *  delayed from a capability the set holds; drops the rest. With totally ordered times:
 *  each frontier time at or after a held one, or a held time after every frontier time. An
 *  empty frontier drops them all. */
void tide_capset_downgrade(tide_capset *s, const tide_antichain *frontier);
/** Drops them all (the set stays usable). */
void tide_capset_clear(tide_capset *s);

/** A FrontierNotificator: capabilities waiting until frontiers pass their times. */
tide_notificator *tide_notificator_new(void);
/** Drops the capabilities it still holds. */
void tide_notificator_free(tide_notificator *n);
/** Keeps owned capability @p cap until the frontiers pass its time (ownership passes). */
void tide_notificator_notify_at(tide_notificator *n, tide_cap *cap);
/**
 * The earliest held capability whose time no frontier of @p frontiers (@p n of them) is
 * less than or equal to, or NULL. The capability is the notificator's until the next call
 * (then dropped), as for tide_op_next_notification().
 */
tide_cap *tide_notificator_next(tide_notificator *n, const tide_antichain *const *frontiers,
                                size_t count);
/** Number of capabilities waiting. */
size_t tide_notificator_pending(const tide_notificator *n);

/* ---------------------------------------------------------------- inputs and probes */

/** A root-scope input: records sent through *handle enter the stream at its epoch. */
tide_stream *tide_input_new(tide_scope *root, const tide_type *type, tide_input **handle);
void tide__input_send(tide_input *in, const void *record);
/** Sends one record at the current epoch. Under a --memory budget, a program feeding much
 *  data asks tide_worker_has_room() between chunks. */
static inline void tide_input_send(tide_input *in, const void *record)
{
    if (TIDE__UNLIKELY(!tide__window_put(*(struct tide__window **)in, record)))
        tide__input_send(in, record);
}
void *tide__input_extend(tide_input *in, size_t n);
/**
 * Fixed-size records: room for @p n records at the current epoch, for the caller to write
 * before its next call on the input; returns where they start. A record written there
 * field by field is sent without a copy, where tide_input_send() reads it back from where
 * it was built: a record of two 32-bit fields just stored is read as one 64-bit word that
 * the processor cannot forward from the two stores, and waits for them (unionfind -w 1:
 * 0.87x the time with its edges written in place). Inline while the buffer has room.
 */
static inline void *tide_input_extend(tide_input *in, size_t n)
{
    void *at = tide__window_extend(*(struct tide__window **)in, n);
    return TIDE__LIKELY(at != NULL) ? at : tide__input_extend(in, n);
}
/** Sends a batch (ownership passes; *batch left NULL). */
void tide_input_send_batch(tide_input *in, tide_batch **batch);
/** Promises no more records before @p epoch (which must not be earlier than the current). */
void tide_input_advance_to(tide_input *in, uint64_t epoch);
/** Promises no more records at all. Open inputs are closed when the worker returns. */
void tide_input_close(tide_input *in);
/** The current epoch. */
uint64_t tide_input_epoch(const tide_input *in);

/**
 * An input whose records may carry any time a capability covers, in any order: the program
 * holds the input's capabilities (the first, *cap, at time 0, on every worker), derives
 * others from them with tide_cap_delayed(), tide_cap_retain() and tide_cap_downgrade()
 * (they work outside operators too), and sends through sessions at them. A time completes
 * downstream only once every worker has dropped every capability at or before it: the
 * program drops each with tide_cap_drop() (a worker with nothing to send drops *cap at
 * once). Capabilities it still holds when its worker function returns are dropped then.
 * examples/unordered.c shows the whole cycle.
 */
tide_stream *tide_unordered_input_new(tide_scope *scope, const tide_type *type,
                                      tide_unordered **handle, tide_cap **cap);
/** A session of the unordered input at @p cap's time: the records given to it carry that
 *  time and leave at the worker's next step. It stays valid until the next session on this
 *  input or the next tide_worker_step(); keep @p cap until you have given it everything. */
tide_session *tide_unordered_session(tide_unordered *u, const tide_cap *cap);

/** Watches the frontier of @p s: which times may still appear there (on any worker). */
tide_probe *tide_probe_new(tide_stream *s);
/** Watches @p s too (its scope's dataflow must be the probe's): the probe then answers for
 *  all its streams together. Returns @p s. */
tide_stream *tide_probe_with(tide_stream *s, tide_probe *p);
/** Some time before epoch @p e may still appear. */
bool tide_probe_less_than(const tide_probe *p, uint64_t e);
/** Some time at or before epoch @p e may still appear. */
bool tide_probe_less_equal(const tide_probe *p, uint64_t e);
/** tide_probe_less_than() for a time of any depth. */
bool tide_probe_less_than_time(const tide_probe *p, const tide_time *t);
/** tide_probe_less_equal() for a time of any depth. */
bool tide_probe_less_equal_time(const tide_probe *p, const tide_time *t);
/** No time may appear any more. */
bool tide_probe_done(const tide_probe *p);
/** The frontier itself (empty once done). */
const tide_antichain *tide_probe_frontier(const tide_probe *p);

#ifdef __cplusplus
}
#endif
#endif
