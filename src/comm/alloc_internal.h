/* SPDX-License-Identifier: MIT */
/* The allocator interface behind tide_allocator, and what its backends share. */
#ifndef TIDE_ALLOC_INTERNAL_H
#define TIDE_ALLOC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "batch_internal.h"
#include "spsc_internal.h"

/* Lets a worker sleep until someone delivers to it. Deliverers bump `events` and only take
 * the mutex when the worker said it is sleeping, so a busy worker costs them one atomic. */
struct tide__waker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint events;
    atomic_bool sleeping;
    bool token; /* under mu */
};

int tide__waker_init(struct tide__waker *w);
void tide__waker_destroy(struct tide__waker *w);
/* After delivering something to the waker's worker. */
void tide__waker_notify(struct tide__waker *w);
/* Sleeps while `events` still equals @p seen, up to @p timeout_ns (< 0: no limit). */
void tide__waker_wait(struct tide__waker *w, unsigned seen, int64_t timeout_ns);
uint64_t tide__now_ns(void);

/* An intrusive FIFO of batches (through batch->next), owned by one thread. */
struct tide__fifo {
    tide_batch *head, *tail;
    size_t count;
};
void tide__fifo_put(struct tide__fifo *f, tide_batch *b);
/* Puts @p b first: buffer pools are stacks, so the most recently used (cache-hot) buffer is
 * the next one handed out. */
void tide__fifo_put_front(struct tide__fifo *f, tide_batch *b);
tide_batch *tide__fifo_take(struct tide__fifo *f);
/* Takes the buffer among the first 64 of a pool that holds @p bytes most tightly (or the
 * first, to be grown, when none does): pools mix frame-sized and large buffers, and
 * growing a small one for every large message would allocate per message. */
tide_batch *tide__fifo_take_fit(struct tide__fifo *f, size_t bytes);
void tide__fifo_free_all(struct tide__fifo *f);

struct tide_push {
    void (*send)(tide_push *p, tide_batch **batch);
};

struct tide_pull {
    tide_allocator *alloc;
    const tide_type *type;
    size_t nin;               /* workers of this rank */
    struct tide__spsc **in;   /* from each worker of this rank */
    size_t next;              /* round-robin position over `in` */
    struct tide__fifo remote; /* from other ranks, routed by receive() */
    uint64_t *expect_seq;     /* per source rank: the next rank cast (see mpi.c) */
    /* Rank casts that came ahead of an earlier cast from the same rank (casts of a rank
     * leave in order, but through the frames of whichever worker sent them). */
    struct tide__fifo early;
};

/* One channel at one worker. */
struct tide__chan {
    size_t id;
    const tide_type *type;
    uint32_t type_tag; /* tide__type_tag(type), sent with and checked on every message */
    tide_push **pushes; /* NULL for a lazy channel (tide_allocator_push makes them) */
    struct tide_pull pull;
    void *push_mem;   /* the in-rank push structs, one block */
    void *remote_mem; /* the pushes to other ranks (mpi backend; freed by free_remote) */
    bool lazy;        /* tide_allocator_allocate_lazy: remote pushes made on first use */
    bool progress;    /* carries progress updates (counted apart in tide_comm_stats) */
    bool closed;      /* tide_allocator_close: only this struct is left; arrivals dropped */
};

/* A channel's queues between the workers of one rank, created by the first worker to
 * allocate it. q[2*(s*n+d)] carries batches s -> d, q[2*(s*n+d)+1] hands them back. */
#define TIDE__RANK_SLOTS 2

struct tide__chan_shared {
    const tide_type *type;
    size_t first_worker;
    size_t n;
    /* What the channel's users keep per rank (slot 0: the progress broadcast's combined
     * batch; slot 1: the dataflow's trackers), made by the first worker that asks, freed
     * with the channel. */
    void *rank_state[TIDE__RANK_SLOTS];
    void (*rank_state_free[TIDE__RANK_SLOTS])(void *);
    size_t closed; /* workers of the rank that closed it (under the registry lock) */
    struct tide__spsc q[];
};

/* What the workers of one rank share. */
/* --memory: what the rank's workers have done (batches taken, busy steps), summed; the
 * transport reads it to tell a rank that drains from one that cannot (mpi_credit.c). The
 * dataflow layer's budget provides it (budget.c). */
struct tide__moves {
    uint64_t (*sum)(const struct tide__moves *m);
};

/* The rank's MPI lock (tide__mpi_trylock below). */
struct tide__mpi_lock {
    atomic_bool taken;
};

struct tide__shared {
    size_t nlocal;
    _Atomic(const struct tide__moves *) moves; /* NULL without a budget */
    pthread_mutex_t mu;                /* guards the registry */
    struct tide__chan_shared **chans;  /* registry by channel id */
    size_t nchans, capchans;
    size_t max_channels;               /* TIDE__MAX_CHANNELS (tests lower it) */
    struct tide__waker *wakers;        /* one per local worker */
    struct tide__mpi_lock mpi_lock;    /* held by whoever calls MPI (SERIALIZED) */
    atomic_int mpi_waiters;            /* threads blocked on mpi_lock: drivers step aside */
    struct tide__mpi *mpi;             /* NULL without MPI */
    uint64_t clock_origin_ns; /* the job's time zero on this rank's tide__now_ns clock:
                                 aligned with rank 0's under --trace (initialize.c) */
    uint64_t clock_error_ns;  /* how far that zero may be from rank 0's at most: half the
                                 best round trip that measured it (0 on rank 0) */
};

struct tide__alloc_ops {
    const char *name;
    /* Creates the pushes to other ranks (in-rank pushes are common to all backends). */
    int (*allocate_remote)(tide_allocator *a, struct tide__chan *ch);
    void (*receive)(tide_allocator *a);
    void (*release)(tide_allocator *a);
    void (*park)(tide_allocator *a, int64_t timeout_ns);
    /* The worker returned: flush, report leftovers, free backend state. */
    void (*finish)(tide_allocator *a);
    /* Uncounts what allocate_remote made for @p ch before it is freed (NULL: nothing). */
    void (*close_remote)(tide_allocator *a, struct tide__chan *ch);
    /* The push of @p ch (allocated lazily) towards @p target, a worker of another rank;
     * NULL when out of memory. */
    tide_push *(*remote_push)(tide_allocator *a, struct tide__chan *ch, size_t target);
    /* Frees a channel's remote_mem (NULL: plain free). */
    void (*free_remote)(void *remote_mem);
};

struct tide_allocator {
    const struct tide__alloc_ops *ops;
    size_t index, peers, rank, ranks;
    size_t local, nlocal; /* thread within the rank, threads per rank */
    struct tide__shared *shared;
    struct tide__chan **chans;
    size_t nchans, capchans;
    unsigned seen_events;
    /* Recycled buffers with no sender to go back to, reused by the next pushes. */
    struct tide__fifo spares;
    size_t spare_bytes; /* the capacities of the frame-sized ones (tide__spare_bound) */
    void *backend; /* per-worker backend state */
};

/* Hands a received batch back to its sender (or to the worker's spares). */
void tide__give_back(tide_allocator *a, tide_batch *b);
/* For a push to a worker of this rank: whether a batch it sent still waits in the queue
 * (the receiver has not taken it yet). False for pushes to other ranks. */
bool tide__push_backlog(tide_push *p);

/* Spares kept per worker at most; more are freed (bounds memory after a burst). */
#define TIDE__MAX_SPARES 64
/* ... and under --memory, of frame size or less (capacities up to TIDE__SPARE_SMALL: a
 * frame's buffer is the pool's 128 KiB class), at most tide__spare_bound() bytes: two
 * frames per rank, 2 MiB at the least. Sent frames come back as spares, and a worker kept
 * 64 of them, 6 MiB, to refill the few it fills at once (one per rank it sends to):
 * exchange 10000 100 on 8 ranks x 8 workers held 121 MiB of batches at its peak, 70 with
 * the bound, at the same rate; a flat 2 MiB cost 16 x 1 a sixth of its rate, hence the
 * share per rank. Only under --memory, where what is freed goes to the rank-wide pool
 * (bufpool.c) and comes back cheaply: without it, frames freed and allocated anew made
 * exchange on 8 x 1 0.93x as fast, and memory is not what the rank was told to save.
 * Larger spares are the buffers of large batches, which their senders get back to fill
 * again: they are kept by number only (a byte bound of 2 MiB on them cut 1 MiB streaming
 * to a third). */
#define TIDE__SPARE_SMALL (2 * (size_t)TIDE__POST_BYTES)
#define TIDE__SPARE_MIN_BYTES ((size_t)2 << 20)
static inline size_t tide__spare_bound(const tide_allocator *a)
{
    size_t per_rank = a->ranks * 2 * TIDE__SPARE_SMALL;
    return per_rank > TIDE__SPARE_MIN_BYTES ? per_rank : TIDE__SPARE_MIN_BYTES;
}
/* Keeps @p b for reuse, or frees it when there are enough spares. */
void tide__spare_put(tide_allocator *a, tide_batch *b);
/* Frees the batches this worker keeps for reuse: those its rank-mates handed back on its
 * channels and its spares (--memory, when the rank is over its budget: after a burst the
 * queues back hold as many batches as the burst had). */
void tide__allocator_trim(tide_allocator *a);
/* Frames the rank's transport has sent and received so far (0 without MPI): while it
 * grows, the rank is moving (--memory: a sender waiting for credits is not stuck). */
uint64_t tide__transport_moves(tide_allocator *a);
/* Whether frames of the rank wait for another rank's credit (mpi_credit.c): that rank
 * answers in time whatever this one does, so waiting for it is not being stuck. */
bool tide__transport_waiting(tide_allocator *a);
/* A spare buffer for about @p bytes bytes, emptied and typed @p type, or NULL. */
tide_batch *tide__spare_take(tide_allocator *a, const tide_type *type, size_t bytes);

extern const struct tide__alloc_ops tide__alloc_thread, tide__alloc_process, tide__alloc_mpi;

int tide__shared_init(struct tide__shared *s, size_t nlocal);
void tide__shared_destroy(struct tide__shared *s);
void tide__allocator_init(tide_allocator *a, struct tide__shared *s, size_t rank,
                          size_t ranks, size_t local);
/* Frees the worker's channels (after ops->finish). */
void tide__allocator_destroy(tide_allocator *a);
/* Stops the whole job with a message (every rank, through MPI_Abort when MPI runs). */
/* Marks @p channel as carrying progress updates (counted apart in tide_comm_stats). */
void tide__channel_mark_progress(tide_allocator *a, int channel);
/* The rank-wide state in @p slot (< TIDE__RANK_SLOTS) of @p channel: made by make(arg)
 * for the first worker of the rank that asks (under the registry lock), the same pointer
 * for the others; freed by destroy() when the rank's workers have all closed the channel.
 * NULL when make() fails. */
void *tide__channel_rank_state(tide_allocator *a, int channel, unsigned slot,
                               void *(*make)(void *), void *arg, void (*destroy)(void *));
/* Wakes the rank's worker @p local (its index within the rank), parked or not. */
void tide__allocator_wake_local(tide_allocator *a, size_t local);
/* Sends a copy of @p b on @p channel to every worker of every other rank, as message
 * @p seq of this rank's stream on the channel (the caller numbers the casts, from 0, and
 * serializes them). A small cast rides in this worker's frames, with its other messages;
 * a large one is queued for the rank's driver. Receivers apply a rank's casts in the
 * order of their numbers. Without other ranks nothing is sent. */
void tide__rank_cast(tide_allocator *a, int channel, const tide_batch *b, uint64_t seq);
/* Sends *batch on @p channel to @p worker, a worker of another rank, without a push (a
 * lazy channel needs none). @p split: *batch is a split message's payload
 * (wire_internal.h, TIDE__MSG_SPLIT) for the workers of that rank, whose first worker
 * @p worker must be, its len all its records; the rank gives each worker its group.
 * Ownership passes, and a recycled empty batch or NULL is left in its place. In order with
 * this worker's other messages to that rank's workers on the channel. MPI backend only. */
void tide__remote_send(tide_allocator *a, int channel, size_t worker, bool split,
                       tide_batch **batch);
/* How the driver may merge casts of a channel's records when it forwards them along the
 * progress tree (in place; returns the records left); without one it concatenates them. */
void tide__rank_cast_compact(tide_allocator *a, size_t (*compact)(void *, size_t, size_t));
/* Gives what tide__rank_cast() wrote to MPI now (flushes this worker's frames). */
void tide__rank_cast_kick(tide_allocator *a);
_Noreturn void tide__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1 where there is none. */
long tide__status_kib(const char *field);
/* The lock that tide__fatal takes before MPI_Abort (NULL when MPI stops). */
void tide__fatal_mpi_lock(struct tide__mpi_lock *lock);
/* The rank's MPI lock (MPI_THREAD_SERIALIZED: one thread inside MPI at a time). Workers only
 * ever try it, once per pass of a poll loop, so its cost is the try and the release: a
 * flag taken by an exchange and released by a plain store cost a third of a mutex's
 * trylock and unlock (2.5 against 8 ns a pair in a loop here). The few who must wait
 * (a program's own MPI calls, the communication thread, statistics, shutdown, a fatal
 * error) try again between yields, then between naps (tide__mpi_lock_wait). Whether
 * this thread holds it is kept for tide__fatal, in initial-exec TLS: the default model
 * cost a __tls_get_addr call per pass. */
extern _Thread_local bool tide__mpi_held __attribute__((tls_model("initial-exec")));
static inline bool tide__mpi_trylock(struct tide__mpi_lock *lock)
{
    if (atomic_load_explicit(&lock->taken, memory_order_relaxed) ||
        atomic_exchange_explicit(&lock->taken, true, memory_order_acquire))
        return false;
    tide__mpi_held = true;
    return true;
}
/* Waits for the lock; false if @p timeout_ns (>= 0) passed first. */
bool tide__mpi_lock_wait(struct tide__mpi_lock *lock, int64_t timeout_ns);
static inline void tide__mpi_lock(struct tide__mpi_lock *lock)
{
    if (!tide__mpi_trylock(lock))
        tide__mpi_lock_wait(lock, -1);
}
static inline void tide__mpi_unlock(struct tide__mpi_lock *lock)
{
    tide__mpi_held = false;
    atomic_store_explicit(&lock->taken, false, memory_order_release);
}

#endif
