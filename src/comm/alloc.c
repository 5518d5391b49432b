/* SPDX-License-Identifier: MIT */
/* The allocator front: channels by creation order, the queues between the workers of one
 * rank (shared by the thread, process and mpi backends), Push/Pull on those queues. */
#include <mpi.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bufpool_internal.h"
#include "mpi_internal.h"

/* The rank's MPI lock while a job runs: a fatal error waits for whoever is inside MPI to
 * leave it before calling MPI_Abort (MPI_THREAD_SERIALIZED allows one thread in MPI). */
static _Atomic(struct tide__mpi_lock *) fatal_mpi_lock;
static pthread_mutex_t fatal_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool in_fatal;
_Thread_local bool tide__mpi_held __attribute__((tls_model("initial-exec")));

bool tide__mpi_lock_wait(struct tide__mpi_lock *lock, int64_t timeout_ns)
{
    uint64_t start = timeout_ns >= 0 ? tide__now_ns() : 0;
    long nap = 1000;
    for (unsigned tries = 1;; tries++) {
        if (tide__mpi_trylock(lock))
            return true;
        if (timeout_ns >= 0 && tide__now_ns() - start >= (uint64_t)timeout_ns)
            return false;
        /* A driver's pass takes microseconds: yield to it first. A program's own MPI
         * section can take as long as it likes: nap then, up to a millisecond at a time. */
        if (tries < 1000) {
            sched_yield();
            continue;
        }
        nanosleep(&(struct timespec){ 0, nap }, NULL);
        if (nap < 1000000)
            nap *= 2;
    }
}

void tide__fatal_mpi_lock(struct tide__mpi_lock *lock)
{
    atomic_store(&fatal_mpi_lock, lock);
}

void tide__fatal(const char *fmt, ...)
{
    if (in_fatal) /* a fatal error while reporting one (from inside MPI_Abort, say) */
        _Exit(1);
    in_fatal = true;
    /* One thread reports and stops the job; any other that fails meanwhile waits here for
     * the process to end, so messages do not interleave and MPI sees one caller. */
    pthread_mutex_lock(&fatal_mu);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tide: fatal: %s\n", msg);
    fflush(stderr);
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        struct tide__mpi_lock *lock = atomic_load(&fatal_mpi_lock);
        /* Unless this thread is the one in MPI. A thread stuck inside MPI for 2 s would
         * hold us forever: abort regardless then. */
        if (lock && !tide__mpi_held)
            (void)tide__mpi_lock_wait(lock, 2000000000);
        /* The message is in a pipe to the launcher, which tears the job down on
         * MPI_Abort: MPICH's Hydra then lost it in about 1 run of 6. A pause lets the
         * launcher forward it first. */
        nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    _Exit(1);
}

int tide__shared_init(struct tide__shared *s, size_t nlocal)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->moves, NULL);
    s->nlocal = nlocal;
    s->max_channels = TIDE__MAX_CHANNELS;
    s->wakers = calloc(nlocal, sizeof *s->wakers);
    if (!s->wakers || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->wakers);
        return TIDE_ENOMEM;
    }
    atomic_init(&s->mpi_lock.taken, false);
    for (size_t i = 0; i < nlocal; i++)
        if (tide__waker_init(&s->wakers[i]) != 0) {
            while (i--)
                tide__waker_destroy(&s->wakers[i]);
            free(s->wakers);
            pthread_mutex_destroy(&s->mu);
            return TIDE_ENOMEM;
        }
    return 0;
}

static void chan_shared_free(struct tide__chan_shared *cs)
{
    for (unsigned i = 0; i < TIDE__RANK_SLOTS; i++)
        if (cs->rank_state[i] && cs->rank_state_free[i])
            cs->rank_state_free[i](cs->rank_state[i]);
    /* Batches still queued are either unread data or recycled buffers: both ours now. */
    for (size_t i = 0; i < 2 * cs->n * cs->n; i++) {
        void *b;
        while ((b = tide__spsc_pop(&cs->q[i])))
            tide_batch_free(b);
        tide__spsc_destroy(&cs->q[i]);
    }
    free(cs);
}

void tide__shared_destroy(struct tide__shared *s)
{
    for (size_t i = 0; i < s->nchans; i++)
        if (s->chans[i]) /* (NULL: closed by every worker) */
            chan_shared_free(s->chans[i]);
    free(s->chans);
    for (size_t i = 0; i < s->nlocal; i++)
        tide__waker_destroy(&s->wakers[i]);
    free(s->wakers);
    pthread_mutex_destroy(&s->mu);
}

void tide__allocator_init(tide_allocator *a, struct tide__shared *s, size_t rank, size_t ranks,
                          size_t local)
{
    memset(a, 0, sizeof *a);
    a->shared = s;
    a->nlocal = s->nlocal;
    a->rank = rank;
    a->ranks = ranks;
    a->local = local;
    a->index = rank * s->nlocal + local;
    a->peers = ranks * s->nlocal;
    a->ops = s->mpi ? &tide__alloc_mpi : s->nlocal > 1 ? &tide__alloc_process : &tide__alloc_thread;
}

static void free_remote(tide_allocator *a, struct tide__chan *ch)
{
    if (ch->remote_mem && a->ops->free_remote)
        a->ops->free_remote(ch->remote_mem);
    else
        free(ch->remote_mem);
    ch->remote_mem = NULL;
}

/* The bytes of spare @p b that count against tide__spare_bound(): frame-sized ones only. */
static size_t spare_counted(const tide_batch *b)
{
    return b->cap <= TIDE__SPARE_SMALL ? b->cap : 0;
}

static void spares_free(tide_allocator *a)
{
    tide__fifo_free_all(&a->spares);
    a->spare_bytes = 0;
}

void tide__allocator_destroy(tide_allocator *a)
{
    for (size_t i = 0; i < a->nchans; i++) {
        struct tide__chan *ch = a->chans[i];
        if (!ch) /* refused: another type */
            continue;
        tide__fifo_free_all(&ch->pull.remote);
        tide__fifo_free_all(&ch->pull.early);
        free(ch->pull.in);
        free(ch->pull.expect_seq);
        free(ch->pushes);
        free(ch->push_mem);
        free_remote(a, ch);
        free(ch);
    }
    free(a->chans);
    a->chans = NULL;
    a->nchans = 0;
    spares_free(a);
}

void tide__spare_put(tide_allocator *a, tide_batch *b)
{
    size_t counted = spare_counted(b);
    if (a->spares.count >= TIDE__MAX_SPARES ||
        (a->spare_bytes + counted > tide__spare_bound(a) && tide__bufpool_running())) {
        tide_batch_free(b);
        return;
    }
    b->home = NULL;
    a->spare_bytes += counted;
    tide__fifo_put_front(&a->spares, b);
}

tide_batch *tide__spare_take(tide_allocator *a, const tide_type *type, size_t bytes)
{
    tide_batch *b = tide__fifo_take_fit(&a->spares, bytes);
    if (b) {
        a->spare_bytes -= spare_counted(b);
        tide_batch_clear(b);
        b->type = type;
    }
    return b;
}

size_t tide_allocator_index(const tide_allocator *a) { return a->index; }
size_t tide_allocator_peers(const tide_allocator *a) { return a->peers; }
size_t tide_allocator_rank(const tide_allocator *a) { return a->rank; }
size_t tide_allocator_ranks(const tide_allocator *a) { return a->ranks; }
const char *tide_allocator_backend(const tide_allocator *a) { return a->ops->name; }

/* ---------------------------------------------------------------- in-rank Push */

struct local_push {
    struct tide_push base;
    tide_allocator *alloc;
    struct tide__spsc *fwd, *ret;
    struct tide__waker *target;
};

static void local_send(tide_push *p, tide_batch **bp)
{
    struct local_push *lp = (struct local_push *)p;
    tide_batch *b = bp ? *bp : NULL;
    if (!b || b->len == 0)
        return; /* in-rank queues are visible at once: nothing to flush */
    /* Once pushed, b is the receiver's (it may free it at once): read it before. */
    const tide_type *type = b->type;
    size_t bytes = b->bytes;
    b->home = lp->ret;
    if (tide__spsc_push(lp->fwd, b) != 0)
        tide__fatal("out of memory queueing a batch");
    tide__waker_notify(lp->target);
    tide_batch *r = tide__spsc_pop(lp->ret);
    if (r) {
        tide_batch_clear(r);
        r->type = type;
        r->home = NULL;
    } else {
        r = tide__spare_take(lp->alloc, type, bytes);
    }
    *bp = r;
}

bool tide__push_backlog(tide_push *p)
{
    return p->send == local_send && !tide__spsc_empty(((struct local_push *)p)->fwd);
}

void tide__allocator_trim(tide_allocator *a)
{
    for (size_t c = 0; c < a->nchans; c++) {
        struct tide__chan *ch = a->chans[c];
        if (!ch || ch->closed)
            continue;
        struct local_push *lps = ch->push_mem;
        for (size_t d = 0; d < a->nlocal; d++) {
            tide_batch *b;
            while ((b = tide__spsc_pop(lps[d].ret)))
                tide_batch_free(b);
        }
    }
    spares_free(a);
}

void tide_push_send(tide_push *p, tide_batch **batch)
{
    p->send(p, batch);
}

/* ---------------------------------------------------------------- Pull */

void tide__give_back(tide_allocator *a, tide_batch *b)
{
    struct tide__spsc *home = b->home;
    b->home = NULL;
    if (b->shared) {
        /* A view of a buffer its rank-mates read too: the last view takes the buffer home,
         * and every view goes home (base NULL) to be used again. */
        tide_batch *buf = tide__batch_unshare(b);
        if (buf && (!home || tide__spsc_push(home, buf) != 0))
            tide_batch_free(buf);
        if (!home || tide__spsc_push(home, b) != 0)
            tide_batch_free(b);
        return;
    }
    if (!home)
        tide__spare_put(a, b);
    else if (tide__spsc_push(home, b) != 0)
        tide_batch_free(b);
}

bool tide_pull_recv(tide_pull *p, tide_batch **batch)
{
    if (*batch) {
        tide__give_back(p->alloc, *batch);
        *batch = NULL;
    }
    for (size_t i = 0; i < p->nin; i++) {
        size_t s = p->next + i < p->nin ? p->next + i : p->next + i - p->nin;
        tide_batch *b = tide__spsc_pop(p->in[s]);
        if (b) {
            /* Move on to the next sender so that a busy one cannot starve the others. */
            p->next = s + 1 < p->nin ? s + 1 : 0;
            *batch = b;
            return true;
        }
    }
    *batch = tide__fifo_take(&p->remote);
    return *batch != NULL;
}

/* ---------------------------------------------------------------- allocation */

/* Makes room for one more pointer in *arr (count n, capacity *cap). 0 or TIDE_ENOMEM. */
static int grow_ptrs(void *arr, size_t n, size_t *cap)
{
    void **a = *(void ***)arr;
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 16;
    a = realloc(a, c * sizeof *a);
    if (!a)
        return TIDE_ENOMEM;
    *(void ***)arr = a;
    *cap = c;
    return 0;
}

/* The rank's queues of channel @p id, made by the first worker to ask; NULL with *err
 * TIDE_ETYPE (a rank-mate allocated it with another type) or TIDE_ENOMEM. */
static struct tide__chan_shared *chan_shared(tide_allocator *a, size_t id, const tide_type *type,
                                             int *err)
{
    struct tide__shared *s = a->shared;
    struct tide__chan_shared *cs = NULL;
    *err = TIDE_ENOMEM;
    pthread_mutex_lock(&s->mu);
    if (id < s->nchans) {
        cs = s->chans[id];
        if (!cs) /* every worker of the rank closed it, so all of them allocated it */
            tide__fatal("worker %zu allocated channel %zu twice", a->index, id);
        if (!tide_type_equal(cs->type, type)) {
            fprintf(stderr,
                    "tide: worker %zu allocated channel %zu with record type '%s', but worker "
                    "%zu allocated it with type '%s': every worker must allocate the same "
                    "channels in the same order\n",
                    a->index, id, type->name, cs->first_worker, cs->type->name);
            cs = NULL;
            *err = TIDE_ETYPE;
        }
        pthread_mutex_unlock(&s->mu);
        return cs;
    }
    size_t n = s->nlocal;
    if (grow_ptrs(&s->chans, s->nchans, &s->capchans) != 0)
        goto out;
    cs = tide__calloc_aligned(1, sizeof *cs + 2 * n * n * sizeof cs->q[0]);
    if (!cs)
        goto out;
    cs->type = type;
    cs->first_worker = a->index;
    cs->n = n;
    for (size_t i = 0; i < 2 * n * n; i++)
        if (tide__spsc_init(&cs->q[i]) != 0) {
            cs->n = 0;
            while (i--)
                tide__spsc_destroy(&cs->q[i]);
            free(cs);
            cs = NULL;
            goto out;
        }
    s->chans[s->nchans++] = cs;
out:
    pthread_mutex_unlock(&s->mu);
    return cs;
}

static int allocate(tide_allocator *a, const tide_type *type, bool lazy, tide_pull **pull);

int tide_allocator_allocate(tide_allocator *a, const tide_type *type, tide_push ***pushes,
                            tide_pull **pull)
{
    int id = allocate(a, type, false, pull);
    if (id >= 0)
        *pushes = a->chans[id]->pushes;
    return id;
}

int tide_allocator_allocate_lazy(tide_allocator *a, const tide_type *type, tide_pull **pull)
{
    return allocate(a, type, true, pull);
}

tide_push *tide_allocator_push(tide_allocator *a, int channel, size_t target)
{
    if (channel < 0 || (size_t)channel >= a->nchans || target >= a->peers)
        return NULL;
    struct tide__chan *ch = a->chans[channel];
    if (!ch || ch->closed)
        return NULL;
    if (!ch->lazy)
        return ch->pushes[target];
    if (target / a->nlocal == a->rank)
        return &((struct local_push *)ch->push_mem)[target % a->nlocal].base;
    return a->ops->remote_push ? a->ops->remote_push(a, ch, target) : NULL;
}

static int allocate(tide_allocator *a, const tide_type *type, bool lazy, tide_pull **pull)
{
    size_t id = a->nchans, n = a->nlocal;
    if (id >= a->shared->max_channels) {
        /* receivers refuse higher ids (wire_internal.h) */
        fprintf(stderr, "tide: worker %zu: a job may allocate at most %zu channels\n", a->index,
                a->shared->max_channels);
        return TIDE_EINVAL;
    }
    if (grow_ptrs(&a->chans, a->nchans, &a->capchans) != 0)
        return TIDE_ENOMEM;
    int err;
    struct tide__chan_shared *cs = chan_shared(a, id, type, &err);
    if (!cs && err == TIDE_ETYPE) {
        /* The channel keeps its place (NULL): ids stay aligned with the other workers'. */
        a->chans[a->nchans++] = NULL;
        return TIDE_ETYPE;
    }
    if (!cs)
        return TIDE_ENOMEM;
    struct tide__chan *ch = calloc(1, sizeof *ch);
    struct local_push *lps = calloc(n, sizeof *lps);
    if (!ch || !lps)
        goto nomem;
    ch->id = id;
    ch->type = type;
    ch->type_tag = tide__type_tag(type);
    ch->push_mem = lps;
    ch->lazy = lazy;
    ch->pushes = lazy ? NULL : calloc(a->peers, sizeof *ch->pushes);
    ch->pull.in = calloc(n, sizeof *ch->pull.in);
    if ((!lazy && !ch->pushes) || !ch->pull.in)
        goto nomem;
    size_t me = a->local;
    for (size_t d = 0; d < n; d++) {
        lps[d].base.send = local_send;
        lps[d].alloc = a;
        lps[d].fwd = &cs->q[2 * (me * n + d)];
        lps[d].ret = &cs->q[2 * (me * n + d) + 1];
        lps[d].target = &a->shared->wakers[d];
        if (!lazy)
            ch->pushes[a->rank * n + d] = &lps[d].base;
        ch->pull.in[d] = &cs->q[2 * (d * n + me)];
    }
    ch->pull.alloc = a;
    ch->pull.type = type;
    ch->pull.nin = n;
    if (a->ops->allocate_remote && a->ops->allocate_remote(a, ch) != 0)
        goto nomem;
    a->chans[a->nchans++] = ch;
    *pull = &ch->pull;
    return (int)id;
nomem:
    if (ch) {
        free(ch->pushes);
        free(ch->pull.in);
        free(ch->pull.expect_seq);
    }
    free(lps);
    free(ch);
    return TIDE_ENOMEM;
}

/* Frees a channel's parts at this worker; its struct stays, so that its id stays taken
 * and what still arrives for it can be recognised and dropped. */
static void chan_close(tide_allocator *a, struct tide__chan *ch)
{
    if (a->ops->close_remote)
        a->ops->close_remote(a, ch);
    for (size_t d = 0; d < ch->pull.nin; d++) { /* what rank-mates sent us: theirs again */
        tide_batch *b;
        while ((b = tide__spsc_pop(ch->pull.in[d])))
            tide__give_back(a, b);
    }
    tide_batch *b;
    while ((b = tide__fifo_take(&ch->pull.remote)))
        tide__give_back(a, b);
    while ((b = tide__fifo_take(&ch->pull.early)))
        tide__give_back(a, b);
    free(ch->pull.in);
    free(ch->pull.expect_seq);
    free(ch->pushes);
    free(ch->push_mem);
    free_remote(a, ch);
    ch->pull.in = NULL;
    ch->pull.nin = 0;
    ch->pull.expect_seq = NULL;
    ch->pushes = NULL;
    ch->push_mem = ch->remote_mem = NULL;
    ch->closed = true;
}

void tide_allocator_close(tide_allocator *a, int channel)
{
    if (channel < 0 || (size_t)channel >= a->nchans || !a->chans[channel] ||
        a->chans[channel]->closed)
        return;
    chan_close(a, a->chans[channel]);
    /* The queues between the rank's workers go with the last of them to close. */
    struct tide__shared *s = a->shared;
    struct tide__chan_shared *gone = NULL;
    pthread_mutex_lock(&s->mu);
    struct tide__chan_shared *cs = s->chans[channel];
    if (cs && ++cs->closed == cs->n) {
        gone = cs;
        s->chans[channel] = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (gone)
        chan_shared_free(gone);
}

void tide_allocator_receive(tide_allocator *a)
{
    a->seen_events = atomic_load(&a->shared->wakers[a->local].events);
    if (a->ops->receive)
        a->ops->receive(a);
}

void tide_allocator_release(tide_allocator *a)
{
    if (a->ops->release)
        a->ops->release(a);
}

void tide_allocator_park(tide_allocator *a, int64_t timeout_ns)
{
    a->ops->park(a, timeout_ns);
}

void tide_allocator_wake(tide_allocator *a)
{
    tide__waker_notify(&a->shared->wakers[a->local]);
}

void tide__allocator_wake_local(tide_allocator *a, size_t local)
{
    tide__waker_notify(&a->shared->wakers[local]);
}

void tide__channel_mark_progress(tide_allocator *a, int channel)
{
    if (channel >= 0 && (size_t)channel < a->nchans && a->chans[channel] &&
        !a->chans[channel]->closed)
        a->chans[channel]->progress = true;
}

void *tide__channel_rank_state(tide_allocator *a, int channel, unsigned slot,
                               void *(*make)(void *), void *arg, void (*destroy)(void *))
{
    struct tide__shared *s = a->shared;
    void *state = NULL;
    pthread_mutex_lock(&s->mu);
    if (channel >= 0 && (size_t)channel < s->nchans && s->chans[channel]) {
        struct tide__chan_shared *cs = s->chans[channel];
        if (!cs->rank_state[slot] && (cs->rank_state[slot] = make(arg)))
            cs->rank_state_free[slot] = destroy;
        state = cs->rank_state[slot];
    }
    pthread_mutex_unlock(&s->mu);
    return state;
}

void tide_allocator_mpi_enter(tide_allocator *a)
{
    /* What this worker pushed must be on its way first: the peer may need it before it
     * can take part in whatever MPI calls the caller is about to make. */
    tide_allocator_release(a);
    /* A communication thread re-takes the lock at once after each pass; saying that we
     * wait makes it step aside (mutexes are not fair). */
    atomic_fetch_add(&a->shared->mpi_waiters, 1);
    tide__mpi_lock(&a->shared->mpi_lock);
    atomic_fetch_sub(&a->shared->mpi_waiters, 1);
    if (a->shared->mpi)
        tide__mpi_pass(a->shared->mpi, false);
}

void tide_allocator_mpi_leave(tide_allocator *a)
{
    tide__mpi_unlock(&a->shared->mpi_lock);
}

static void local_park(tide_allocator *a, int64_t timeout_ns)
{
    tide__waker_wait(&a->shared->wakers[a->local], a->seen_events, timeout_ns);
}

/* One worker and several threads of one rank share all their code: the thread backend is
 * the process backend with one queue pair, which costs it nothing measurable. */
const struct tide__alloc_ops tide__alloc_thread = { .name = "thread", .park = local_park };
const struct tide__alloc_ops tide__alloc_process = { .name = "process", .park = local_park };
