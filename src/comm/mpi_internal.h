/* SPDX-License-Identifier: MIT */
/* The mpi backend's parts: the transport a rank shares (driven under one lock, see
 * mpi_driver.c) and the worker side (mpi.c). */
#ifndef TIDE_MPI_INTERNAL_H
#define TIDE_MPI_INTERNAL_H

#include <mpi.h>
#include <string.h>

#include "alloc_internal.h"

#define TIDE__TAG_SMALL 17      /* frames of at most TIDE__POST_BYTES */
#define TIDE__TAG_RING 16       /* (not an MPI tag) an announced payload for a shared ring */
#define TIDE__TAG_LARGE_BASE 32 /* + the sending worker's thread index: announced payloads;
                                  + workers per rank: the rank's announced casts */

/* What one local worker shares with whoever drives MPI. */
struct tide__mpi_worker {
    struct tide__spsc outbox; /* worker -> driver: frames to send */
    struct tide__spsc inbox;  /* driver -> worker: received batches, header in headroom */
    struct tide__spsc spent;  /* worker -> driver: received batches given back */
    struct tide__spsc sent;   /* driver -> worker: buffers whose send completed */
};

/* A request the driver waits for: a preposted receive, a large receive or a send. */
struct tide__mpi_slot {
    tide_batch *buf;
    int kind;
    int peer;
    uint64_t posted; /* a preposted receive's place in the order of posting */
};

/* Consolidates @p n records of @p size bytes in place; returns how many are left. */
typedef size_t (*tide__compact_fn)(void *records, size_t n, size_t size);

/* The driver's own frames (casts) go back to its pool when sent, not to a worker. */
#define TIDE__DRIVER_OWNED (~0u)

/* Requests tested together with one MPI_Testsome, and what each is for. */
struct tide__mpi_reqs {
    MPI_Request *reqs;
    struct tide__mpi_slot *slots;
    int *done;
    MPI_Status *statuses;
    size_t n, cap;
};

struct tide__mpi {
    MPI_Comm comm;
    int rank, ranks;
    size_t nlocal;
    struct tide__shared *shared;
    struct tide__mpi_lock *lock; /* &shared->mpi_lock: whoever holds it drives MPI for the rank */
    /* TIDE_PROGRESS_THREAD: the rank's communication thread, woken by workers that queue */
    bool own_thread;
    pthread_t thread;
    atomic_bool stop;
    struct tide__waker thread_waker;
    struct tide__mpi_worker *w;
    /* The driver's, under lock. Receives (rx: [0, nposts) preposted, then the large
     * ones) are tested at every pass; sends (tx) only now and then (see poll_sends), so
     * a pass costs the same however many sends are in flight. */
    struct tide__mpi_reqs rx, tx;
    size_t nposts;
    uint64_t posts; /* receives preposted so far (their order: first_post) */
    atomic_size_t sending; /* sends and large receives in flight (read without the lock) */
    atomic_uint_fast64_t moves; /* sends and receives so far (--memory: is the rank moving?) */
    atomic_bool waiting;        /* frames wait for another rank's credit */
    struct tide__fifo pool;  /* receive buffers */
    size_t pool_bytes;       /* their capacity (bounded: tide__mpi_pool_put) */
    struct tide__fifo views; /* batch structs for views of a rank cast (base NULL) */
    struct tide__fifo *held; /* per source rank: deliveries waiting behind a large receive */
    uint64_t *frames_to, *frames_from; /* every tag, for the shutdown count */
    uint32_t *seq_to, *seq_from;       /* TIDE__TAG_SMALL frames, for their order */
    /* Small frames that completed before an earlier one from the same rank (rare: a
     * rendezvous frame followed by an eager one), in arrival order; any source. */
    tide_batch *ahead;
    /* Rank casts queued by workers (msg header in the headroom; the large ones, or all
     * in tree mode), sent by the driver in queue order (mpi_cast.c). */
    pthread_mutex_t casts_mu;
    struct tide__fifo casts;
    atomic_size_t ncasts;
    /* Tree mode (--progress-tree, tree_k > 0): the rank's neighbours in the tree (parent
     * first, then children), the casts pending, per channel that has some. */
    unsigned tree_k;
    int *nbr;
    size_t nnbr;
    struct tide__fwd *fwd;
    size_t nfwd, capfwd;
    tide_batch **fwd_frames; /* per neighbour, while a flush fills them */
    unsigned char *pack;     /* a merged cast's changes packed */
    size_t pack_cap;
    _Atomic(tide__compact_fn) cast_compact; /* merges casts' records (the progress layer) */
    unsigned polls; /* MPI_Testsome calls, to tell frames held across polls */
    unsigned empty; /* passes in a row that moved and received nothing */
    /* The rank's counters (tide_comm_stats); the driver's under lock, the atomics by the
     * workers as they send. */
    tide_comm_stats stats;
    atomic_uint_fast64_t progress_msgs, progress_bytes, peer_bytes, peer_bytes_peak;
    uint64_t started_ns;
    /* --memory: flow control between ranks (mpi_credit.c; NULL without a budget) */
    struct tide__mpi_credit *credit;
    bool stopping; /* the workers have returned: the transport is being shut down */
    /* --shm: small frames to ranks of this node through shared rings (mpi_shm.c; NULL
     * when off or alone on the node) */
    struct tide__shm *shm;
};

/* Starts MPI when asked or launched by mpirun/srun, checks that every rank runs the same
 * worker count and tide version. *comm_out is a duplicate of MPI_COMM_WORLD (or
 * MPI_COMM_NULL when MPI is not used); *finalize says whether tide initialized MPI. */
int tide__mpi_start(const tide_config *cfg, MPI_Comm *comm_out, bool *finalize);
/* Creates the transport for a job of several ranks and attaches it to @p s; with
 * TIDE_PROGRESS_THREAD it starts the rank's communication thread. */
int tide__mpi_transport_new(struct tide__shared *s, MPI_Comm comm, const tide_config *cfg);
/* The tree arity --progress-tree gives for @p ranks ranks (0: straight to every rank). */
unsigned tide__mpi_tree_arity(int setting, int ranks);
/* After the rank's workers returned: delivers what is in flight, waits for every rank to
 * receive what it was sent, stores the rank's final counters in *final (may be NULL),
 * frees the transport. */
void tide__mpi_transport_free(struct tide__shared *s, tide_comm_stats *final);
/* The rank's counters so far; the caller holds the MPI lock. */
void tide__mpi_stats_locked(struct tide__mpi *m, tide_comm_stats *out);
/* Counts @p delta bytes of per-peer state (negative: freed), keeping the peak. */
void tide__mpi_peer_bytes(struct tide__mpi *m, int64_t delta);
/* The driver's (lock held): a pooled buffer with room for @p bytes of data; posts frame
 * @p f to f->peer_rank (numbering small frames per rank pair). */
tide_batch *tide__mpi_pool_get(struct tide__mpi *m, size_t bytes);
/* Keeps @p b for reuse, or frees it when the pool holds enough; trim frees the pool. */
void tide__mpi_pool_put(struct tide__mpi *m, tide_batch *b);
void tide__mpi_pool_trim(struct tide__mpi *m);
void tide__mpi_post_send(struct tide__mpi *m, tide_batch *f);
/* Posts @p f at once, past the flow control (credits, and frames it lets go). */
void tide__mpi_post_now(struct tide__mpi *m, tide_batch *f);
/* mpi_credit.c, the driver's (lock held), all no-ops without a budget (limit 0): init and
 * free; hold queues frame @p f (true) when the window towards its rank is full; received
 * counts @p bytes of frames from @p src to be credited; apply takes a credit from @p src
 * and posts what it lets go; send posts the credits owed (true if any); blocked is the
 * number of frames waiting for credit. */
int tide__mpi_credit_init(struct tide__mpi *m, uint64_t limit);
void tide__mpi_credit_free(struct tide__mpi *m);
bool tide__mpi_credit_hold(struct tide__mpi *m, tide_batch *f);
void tide__mpi_credit_received(struct tide__mpi *m, int src, uint64_t bytes);
void tide__mpi_credit_apply(struct tide__mpi *m, int src, uint64_t bytes);
bool tide__mpi_credit_send(struct tide__mpi *m);
size_t tide__mpi_credit_blocked(const struct tide__mpi *m);
/* mpi_shm.c. init (collective over the transport's communicator) shares rings with the
 * other ranks of the node when all of them @p want to, free (collective too) lets them
 * go; failures are fatal. carries says whether an announced payload of @p bytes (its
 * headers included) to or from @p rank goes through a ring (both ends decide alike; any
 * thread, while the transport runs). The driver's (lock held):
 * send takes small frame @p f for a rank of this node (false: not one), or a payload
 * tagged TIDE__TAG_RING, which goes through its ring now or, when that is full, in order
 * later; poll hands what waits in this rank's rings to @p sink and says whether there
 * was any: a small frame in a pooled buffer, or a payload into the buffer that
 * sink->payload_buffer finds for its headers (the TIDE__HEADROOM bytes it starts with). */
struct tide__shm_sink {
    void (*frame)(struct tide__mpi *m, tide_batch *buf, size_t bytes, int src);
    tide_batch *(*payload_buffer)(struct tide__mpi *m, int src, const unsigned char *hdrs,
                                  size_t bytes);
    void (*payload)(struct tide__mpi *m, tide_batch *buf, size_t bytes, int src);
};
void tide__mpi_shm_init(struct tide__mpi *m, bool want);
void tide__mpi_shm_free(struct tide__mpi *m);
bool tide__mpi_shm_carries(const struct tide__mpi *m, int rank, size_t bytes);
bool tide__mpi_shm_send(struct tide__mpi *m, tide_batch *f);
bool tide__mpi_shm_poll(struct tide__mpi *m, const struct tide__shm_sink *sink);
/* The driver's: writes the frames that wait for room in a ring (true if any); how many
 * wait (0 without rings). */
bool tide__mpi_shm_flush(struct tide__mpi *m);
size_t tide__mpi_shm_waiting(const struct tide__mpi *m);
/* mpi_driver.c: frame @p f went through a ring: counted, and back to whoever filled it. */
void tide__mpi_frame_sent(struct tide__mpi *m, tide_batch *f);
/* mpi_cast.c, the driver's (lock held). Sends the casts workers queued; true if any. */
bool tide__mpi_casts_send(struct tide__mpi *m);
/* Tree mode: sets up the rank's neighbours for arity @p k (0: no tree); frees it all. */
int tide__mpi_tree_init(struct tide__mpi *m, unsigned k);
void tide__mpi_tree_free(struct tide__mpi *m);
/* Tree mode: cast @p b arrived from neighbour @p src: it goes on to the other neighbours. */
void tide__mpi_cast_forward(struct tide__mpi *m, int src, const tide_batch *b);
/* A received cast of packed changes as the batch of tide_change records it stands for
 * (@p b goes back to the pool), unpacked once for the rank: its workers and the tree's
 * forwarding read records. NULL with *bad saying why when the packing is malformed. */
tide_batch *tide__mpi_cast_unpack(struct tide__mpi *m, tide_batch *b, const char **bad);
/* Tree mode: sends the pending casts, consolidated; true if any. */
bool tide__mpi_casts_flush(struct tide__mpi *m);
/* Frees the communicator and finalizes MPI when tide initialized it. */
void tide__mpi_stop(MPI_Comm comm, bool finalize);
/* One pass of the driver, with the MPI lock held (mpi_driver.c): posts what the workers
 * queued, hands on what arrived; with @p all the sends are tested too. True when it moved
 * anything. */
bool tide__mpi_pass(struct tide__mpi *m, bool all);
/* Posts the receives a rank keeps preposted for small frames (at the transport's start). */
void tide__mpi_post_initial(struct tide__mpi *m);
/* Drives MPI if no other thread does right now: sends what workers queued, completes
 * sends, receives and delivers frames. Returns at once when another thread drives. */
void tide__mpi_try_progress(struct tide__mpi *m, struct tide__mpi_worker *mw);
/* After @p mw queued a frame: posts the queued sends now if no other thread is driving MPI
 * (that one posts them), without testing receives: no reply can be there yet. */
void tide__mpi_try_send(struct tide__mpi *m, struct tide__mpi_worker *mw);

static inline struct tide__frame_hdr *tide__frame_hdr(tide_batch *f)
{
    return (struct tide__frame_hdr *)f->base;
}

static inline struct tide__msg_hdr *tide__msg_hdr(tide_batch *b)
{
    return (struct tide__msg_hdr *)(b->base + sizeof(struct tide__frame_hdr));
}

/* Appends message @p mh and @p bytes of @p payload, padded to 8 bytes with zeros, to frame
 * @p f, which the caller made room in (TIDE__POST_BYTES in all). */
static inline void tide__frame_put(tide_batch *f, const struct tide__msg_hdr *mh,
                                   const void *payload, size_t bytes)
{
    size_t padded = TIDE__PAD8(bytes);
    unsigned char *at = f->base + f->bytes;
    size_t hb = tide__wire_put_header(mh, at); /* short for a packed cast */
    if (bytes)
        memcpy(at + hb, payload, bytes);
    memset(at + hb + bytes, 0, padded - bytes);
    f->bytes += hb + padded;
    tide__frame_hdr(f)->nmsgs++;
}

#endif
