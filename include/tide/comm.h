/* SPDX-License-Identifier: MIT */
/**
 * @file tide/comm.h  The communication layer: record types, batches, configuration,
 * start-up of worker threads (and MPI ranks), channel allocators and Push/Pull endpoints.
 *
 * Ownership rules, in one place: a batch belongs to whoever holds its pointer. Pushing
 * hands it to the channel; pulling hands it to the caller until it is given back to the
 * same pull (for reuse by its sender) or freed with tide_batch_free().
 */
#ifndef TIDE_COMM_H
#define TIDE_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- record types */

/**
 * Describes the records of a channel or stream. Fixed-size records (size > 0) are plain
 * bytes and move by memcpy. Variable-length records (size == 0) are stored in a batch as
 * encoded bytes; encode/decode convert between a user value and those bytes.
 */
typedef struct tide_type {
    const char *name;                            /**< shown in error messages */
    size_t size;                                 /**< bytes per record; 0 = variable */
    size_t (*encoded_size)(const void *value);   /**< variable only: bytes encode writes */
    void (*encode)(const void *value, void *out);/**< variable only */
    /** variable only: fill *value from the bytes; may point into the batch. A decoded
     *  value takes at most TIDE_VALUE_MAX bytes (the operators decode into buffers of
     *  that size): make it a view, like tide_bytes. */
    void (*decode)(const void *bytes, size_t len, void *value);
    /** variable only: sizeof the user value (e.g. sizeof(tide_bytes)); lets tide_to_stream
     *  step through an array of values. 0 when unknown. */
    size_t value_size;
} tide_type;

/** The most bytes a variable-length type's decoded value may take (see tide_type.decode;
 *  a stream whose type gives a larger value_size stops the run). */
#define TIDE_VALUE_MAX 64

/** The user value of a TIDE_BYTES record: a view, valid while its batch is. */
typedef struct tide_bytes {
    const void *data; /**< the bytes */
    size_t len;       /**< how many */
} tide_bytes;

/** The built-in record types; use them through TIDE_U64 and the other macros below. */
extern const tide_type tide_type_u64;
/** See TIDE_I64. */
extern const tide_type tide_type_i64;
/** See TIDE_F64. */
extern const tide_type tide_type_f64;
/** See TIDE_U32. */
extern const tide_type tide_type_u32;
/** See TIDE_BYTES. */
extern const tide_type tide_type_bytes;
/** See TIDE_STR. */
extern const tide_type tide_type_str;
#define TIDE_U64 (&tide_type_u64)     /**< uint64_t */
#define TIDE_I64 (&tide_type_i64)     /**< int64_t */
#define TIDE_F64 (&tide_type_f64)     /**< double */
#define TIDE_U32 (&tide_type_u32)     /**< uint32_t */
#define TIDE_BYTES (&tide_type_bytes) /**< byte strings; the value is a tide_bytes */
#define TIDE_STR (&tide_type_str)     /**< NUL-terminated strings; the value is a const char * */

/** Defines `const tide_type var` for a plain-old-data C type (pass it as &var). */
#define TIDE_TYPE_POD(var, ctype) const tide_type var = { #ctype, sizeof(ctype), 0, 0, 0, 0 }

/** True when @p len encoded bytes can be decoded as a record of the variable-length type
 *  @p t (TIDE_STR: they end with the string's NUL; other types: any bytes). Received
 *  batches and replayed files are checked with it before anything decodes them. */
bool tide_type_valid_encoding(const tide_type *t, const void *bytes, size_t len);
/** True when two descriptors describe the same records (same name and size). */
bool tide_type_equal(const tide_type *a, const tide_type *b);

/* ---------------------------------------------------------------- batches */

/** Words of metadata a batch carries across channels untouched (the dataflow layer keeps
 *  a batch's timestamp there). */
#define TIDE_BATCH_META 6

/** A contiguous buffer of records of one type plus a count. */
typedef struct tide_batch tide_batch;

/** A new empty batch with room for @p bytes bytes of records; NULL when out of memory.
 *  The caller owns it. */
tide_batch *tide_batch_new(const tide_type *type, size_t bytes);
/** Frees a batch the caller owns (NULL is ignored). */
void tide_batch_free(tide_batch *b);
/** The record type. */
const tide_type *tide_batch_type(const tide_batch *b);
/** Number of records. */
size_t tide_batch_len(const tide_batch *b);
/** Bytes of record data. */
size_t tide_batch_bytes(const tide_batch *b);
/** Fixed-size types: the records as an array of tide_batch_len() elements. */
void *tide_batch_records(tide_batch *b);
/** The TIDE_BATCH_META metadata words (zero in a new or cleared batch). */
uint64_t *tide_batch_meta(tide_batch *b);
/** Appends one record (copied, or encoded for variable types). TIDE_ENOMEM on failure. */
int tide_batch_push(tide_batch *b, const void *value);
/** Fixed-size types: appends @p n records left for the caller to fill; returns where they
 *  start, or NULL when out of memory. */
void *tide_batch_extend(tide_batch *b, size_t n);
/** Empties the batch, keeping its buffer. */
void tide_batch_clear(tide_batch *b);
/**
 * Reads the record at *cursor (start with 0) into *value (copy for fixed types, decode for
 * variable ones) and advances the cursor; false after the last record.
 */
bool tide_batch_read(const tide_batch *b, size_t *cursor, void *value);
/**
 * Process-wide count of the allocations the communication layer made for messages so far
 * (batch buffers created or grown, queue nodes). In steady state it stops growing: buffers
 * and nodes are recycled, not allocated per message.
 */
uint64_t tide_comm_allocations(void);
/**
 * Bytes of batch buffers this process (rank) holds now: records queued between operators
 * and in channels, transport frames, exchange staging, records that operators stash per
 * time, the pools' spare batches, and the operator library's tables (the per-key states
 * of aggregate and state_machine, the per-time maps of delay, count, accumulate and the
 * rest). What --memory bounds. What operators of your own allocate is not in it.
 */
uint64_t tide_memory_held(void);
/** The most tide_memory_held() has been in this process so far. */
uint64_t tide_memory_peak(void);

/* ---------------------------------------------------------------- configuration */

/** How worker threads are pinned to the cpuset the launcher gave the rank. */
typedef enum tide_bind {
    TIDE_BIND_NONE = 0, /**< leave threads where the launcher put the process */
    TIDE_BIND_CORE,     /**< one core per worker (the default) */
    TIDE_BIND_PU,       /**< one hardware thread per worker */
    TIDE_BIND_NUMA      /**< workers spread over NUMA nodes, free inside each */
} tide_bind;

/** Who drives MPI in a rank: its workers, taking turns (the default), or a communication
 *  thread of its own (doc/architecture.md compares them). */
typedef enum tide_progress { TIDE_PROGRESS_WORKERS = 0, TIDE_PROGRESS_THREAD } tide_progress;

/** When progress updates leave a rank: at once (eager), or only once they may move some
 *  worker's frontier (demand, the default, timely's ProgressMode::Demand; fewer messages
 *  when records flow while their producers hold capabilities). */
typedef enum tide_progress_mode { TIDE_PROGRESS_EAGER = 0, TIDE_PROGRESS_DEMAND } tide_progress_mode;

/** Below this many ranks progress goes straight to every rank by default; from here on
 *  along a tree of TIDE_TREE_ARITY (doc/architecture.md, "Scale", has the model). */
#define TIDE_TREE_RANKS 32
/** The arity of that default tree (--progress-tree K chooses another). */
#define TIDE_TREE_ARITY 16

/** From this many workers per rank on, a rank's workers share one progress tracker per
 *  dataflow by default (--progress-share W chooses another threshold; doc/architecture.md,
 *  "Progress", has the measurements behind it). */
#define TIDE_SHARE_WORKERS 4

/** Whether to start MPI. AUTO starts it when a launcher (mpirun, srun) started us. */
typedef enum tide_launch { TIDE_LAUNCH_AUTO = 0, TIDE_LAUNCH_SINGLE, TIDE_LAUNCH_MPI } tide_launch;

/** Run configuration; fill with tide_config_init(), then tide_config_from_args(). */
typedef struct tide_config {
    size_t workers;       /**< worker threads per rank (-w/--workers) */
    tide_bind bind;       /**< --bind none|core|pu|numa */
    bool report_bindings; /**< --report-bindings: one line per worker on stderr */
    bool stats;           /**< --stats: each rank prints its transport counters, memory and
                               start-up time on stderr when it stops (tide_comm_stats) */
    tide_progress progress; /**< --progress workers|thread */
    tide_progress_mode progress_mode; /**< --progress-mode eager|demand */
    int progress_tree;    /**< --progress-tree K: progress between ranks travels a K-ary tree
                               of ranks (K >= 2), or straight to every rank (0); -1 (the
                               default): a TIDE_TREE_ARITY-ary tree from TIDE_TREE_RANKS
                               ranks on, straight below */
    size_t progress_share; /**< --progress-share W: a rank's workers share one progress
                               tracker per dataflow when the rank has at least W workers
                               (each applies every update to its own below; 0: never).
                               Default TIDE_SHARE_WORKERS */
    bool shm;             /**< --shm on|off: small frames between ranks of one node go
                               through rings in memory the node's ranks share (MPI's shared
                               window) instead of MPI messages; on by default */
    const char *dot;      /**< --dot FILE: worker 0 writes each dataflow's graph there
                               (Graphviz DOT) when it is built; NULL: none. Points into
                               argv when parsed. */
    double watch;         /**< --watch SECONDS: a status line on stderr every SECONDS from
                               worker 0, and a report of what every worker waits for once
                               nothing has moved for three of them (doc/observing.md);
                               0: none */
    const char *trace;    /**< --trace FILE: every worker records when its operators ran,
                               when it parked and the messages between workers; rank 0
                               writes them all to FILE at the end as a Chrome/Perfetto
                               JSON trace; NULL: none. Points into argv when parsed. */
    const char *trace_otf2; /**< --trace FILE.otf2: the same events as an OTF2 archive
                               (FILE.otf2 and the directory FILE beside it), when tide was
                               built with OTF2; NULL: none. Both may be given. */
    uint64_t memory;      /**< --memory SIZE: bytes of batches a rank should hold at most
                               (tide_memory_held()); sources wait while it is over, and
                               each rank reports its peak at the end; 0: no budget */
    const char *spill_dir; /**< --spill-dir DIR: where batches go that a rank over its
                               --memory budget cannot keep (NULL: TMPDIR, else /tmp).
                               Points into argv when parsed. */
    tide_launch launch;   /**< TIDE_LAUNCH_AUTO unless the program forces it */
    char error[256];      /**< why the last call on this config failed */
} tide_config;

/**
 * Defaults: workers from TIDE_WORKERS, else SLURM_CPUS_PER_TASK, else 1; bind core;
 * progress mode demand; progress tree by the number of ranks (-1); shared rings on.
 * Returns TIDE_EINVAL (message in cfg->error) when one of those variables is malformed.
 */
int tide_config_init(tide_config *cfg);
/**
 * Parses and removes tide's options from argv (-w N, --workers[=]N, --bind[=]MODE,
 * --report-bindings, --stats, --progress[=]workers|thread, --progress-mode[=]eager|demand,
 * --progress-tree[=]K, --progress-share[=]W, --shm[=]on|off, --dot[=]FILE, --watch[=]SECONDS, --trace[=]FILE, --memory[=]SIZE,
 * --spill-dir[=]DIR),
 * leaving the program's own arguments in order and
 * argv[*argc] NULL.
 * A "--" ends tide's options (it is removed; what follows is left alone).
 * Returns TIDE_EINVAL with cfg->error naming the bad argument.
 */
int tide_config_from_args(tide_config *cfg, int *argc, char **argv);
/** The name of a binding mode ("none", "core", "pu", "numa"). */
const char *tide_bind_name(tide_bind bind);

/* ---------------------------------------------------------------- allocators, Push, Pull */

/** A worker's handle on the communication layer: its identity and its channels. */
typedef struct tide_allocator tide_allocator;
/** The sending end of a channel towards one worker. */
typedef struct tide_push tide_push;
/** The receiving end of a channel at this worker (from all workers). */
typedef struct tide_pull tide_pull;

/** This worker's index among all workers: rank * workers_per_rank + thread. */
size_t tide_allocator_index(const tide_allocator *a);
/** Number of workers in the whole job. */
size_t tide_allocator_peers(const tide_allocator *a);
/** This worker's MPI rank (0 without MPI). */
size_t tide_allocator_rank(const tide_allocator *a);
/** The number of MPI ranks in the job (1 without MPI). */
size_t tide_allocator_ranks(const tide_allocator *a);
/** "thread", "process" or "mpi". */
const char *tide_allocator_backend(const tide_allocator *a);

/** What this rank's MPI transport did so far, for the whole rank (all zero without MPI). */
typedef struct tide_comm_stats {
    uint64_t sends;          /**< MPI sends posted (frames to other ranks, every tag) */
    uint64_t send_bytes;     /**< bytes of those frames, headers included */
    uint64_t recvs;          /**< frames received from other ranks */
    uint64_t recv_bytes;     /**< bytes of those frames */
    uint64_t reordered;      /**< frames that completed in an earlier poll than a frame the
                                  same rank sent before them, held back until it came (MPI
                                  orders matching, not completion) */
    uint64_t progress_msgs;  /**< progress messages sent to workers of other ranks */
    uint64_t progress_bytes; /**< their bytes on the wire, message headers included */
    uint64_t max_requests;   /**< most MPI requests in flight at once */
    uint64_t peer_bytes;     /**< bytes of state the rank keeps per other rank or remote
                                  worker (endpoints, sequence numbers, frame slots) now;
                                  a closed channel's are given back */
    uint64_t peer_bytes_peak; /**< the most peer_bytes was at any time */
    uint64_t shm_frames;     /**< frames to ranks of this node written to their shared
                                  rings instead (--shm), not counted in sends */
    uint64_t shm_bytes;      /**< bytes of those frames */
    uint64_t shm_waits;      /**< of those, frames that found their ring full and waited
                                  in the sending rank for its receiver to make room */
} tide_comm_stats;
/** Fills *out with the counters of @p a's rank so far (a consistent snapshot is taken
 *  under the rank's MPI lock, so call it outside hot loops). */
void tide_comm_stats_get(tide_allocator *a, tide_comm_stats *out);

/**
 * Allocates the next channel (channels are matched across workers by creation order, so
 * every worker must allocate the same channels in the same order with the same type).
 * On success *pushes is an array of tide_allocator_peers() endpoints (index = target
 * worker) and *pull this worker's receiving end, both owned by the allocator, and the
 * channel id (>= 0) is returned. TIDE_ENOMEM, TIDE_ETYPE (another worker allocated this
 * channel with another type; the message goes to stderr) or TIDE_EINVAL (past the 2^24
 * channels a job may allocate; to stderr too) otherwise; a channel refused with TIDE_ETYPE
 * still takes its id, so the next channel has the same id on every worker.
 */
int tide_allocator_allocate(tide_allocator *a, const tide_type *type, tide_push ***pushes,
                            tide_pull **pull);
/**
 * Allocates the next channel as tide_allocator_allocate() does, without the array of an
 * endpoint per worker: tide_allocator_push() gives the endpoint towards a worker, made the
 * first time it is asked for, so that the channel costs this worker memory for the ranks
 * it sends to rather than for every worker of the job. Every worker must allocate the
 * same channels in the same order, lazily or not (the wire does not tell them apart).
 */
int tide_allocator_allocate_lazy(tide_allocator *a, const tide_type *type, tide_pull **pull);
/**
 * The endpoint of @p channel towards worker @p target (either kind of channel): the same
 * pointer every time. NULL for an unknown or closed channel, a target outside
 * [0, tide_allocator_peers()), or when memory runs out.
 */
tide_push *tide_allocator_push(tide_allocator *a, int channel, size_t target);
/**
 * Frees this worker's side of a channel whose traffic has ended (a finished or dropped
 * dataflow's): its pushes, its pull and the per-peer state behind them. The id stays taken,
 * so later channels keep their ids on every worker; messages that still arrive for it are
 * dropped. The queues between the rank's workers are freed when the last of them closes it.
 * The pushes and pull returned for it must not be used again. Unknown or closed ids are
 * ignored.
 */
void tide_allocator_close(tide_allocator *a, int channel);
/** Moves arrived messages into the channels' pulls (call before pulling). */
void tide_allocator_receive(tide_allocator *a);
/** Flushes everything pushed so far towards the other workers (call after pushing). */
void tide_allocator_release(tide_allocator *a);
/**
 * Sleeps until a message may have arrived for this worker, tide_allocator_wake() is
 * called, or @p timeout_ns passes (< 0: no timeout). Returns at once when something
 * arrived since the last tide_allocator_receive().
 */
void tide_allocator_park(tide_allocator *a, int64_t timeout_ns);
/** Wakes the worker from tide_allocator_park(); safe from any thread. */
void tide_allocator_wake(tide_allocator *a);
/**
 * Lets a worker make MPI calls of its own while tide runs: tide drives MPI from one thread
 * at a time (MPI_THREAD_SERIALIZED), so hold the rank's MPI turn from enter to leave. What
 * this worker pushed is sent first. Keep the turn short: no tide message moves and no
 * other thread of the rank reaches MPI meanwhile. In particular, with several workers per
 * rank, never wait in a blocking call for another rank's worker (it may be waiting for its
 * own rank's turn, held by a worker waiting for yours): post nonblocking calls, then test
 * them in short enter/leave sections. Use MPI_COMM_WORLD or your own communicator; tide's
 * traffic is on a duplicate of its own.
 */
void tide_allocator_mpi_enter(tide_allocator *a);
/** Ends tide_allocator_mpi_enter(). */
void tide_allocator_mpi_leave(tide_allocator *a);

/**
 * Pushes *batch to the channel's target (ownership passes) and may leave a recycled empty
 * batch in its place, or NULL. Pushing NULL (*batch == NULL, or batch == NULL) flushes:
 * after it, everything pushed earlier reaches the target without more calls here.
 * Empty batches are not sent.
 */
void tide_push_send(tide_push *p, tide_batch **batch);
/**
 * Hands back *batch (a spent batch from this pull, or NULL), then stores the next
 * arrived batch in *batch and returns true, or stores NULL and returns false.
 * Batches from one sender arrive in the order they were pushed.
 */
bool tide_pull_recv(tide_pull *p, tide_batch **batch);

/* ---------------------------------------------------------------- start-up */

/** A worker's body; its return value is the worker's result. */
typedef int (*tide_comm_fn)(tide_allocator *alloc, void *ctx);
/** The running workers of this rank. */
typedef struct tide_guards tide_guards;

/**
 * Starts MPI if launched by mpirun/srun (checking that all ranks agree on the worker count
 * and tide version), pins and starts cfg->workers threads running @p fn, and returns their
 * guards. On error nothing is left running and a message naming the problem is on stderr.
 */
int tide_comm_initialize(const tide_config *cfg, tide_comm_fn fn, void *ctx,
                         tide_guards **guards);
/** Number of workers this rank runs. */
size_t tide_guards_count(const tide_guards *g);
/** Index of the first worker of this rank (its results are for workers first, first+1...). */
size_t tide_guards_first(const tide_guards *g);
/**
 * Waits for this rank's workers, stores each one's result in results[i] (may be NULL),
 * shuts the communication down (MPI finalized if tide started it) and frees @p g.
 */
int tide_guards_join(tide_guards *g, int *results);

#ifdef __cplusplus
}
#endif
#endif
