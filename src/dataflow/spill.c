/* SPDX-License-Identifier: MIT */
/*
 * Spilling under --memory: while its rank is over budget, a batch about to join a queue
 * that already holds one goes to the rank's spill file, and only its struct (time, counts,
 * where its records are) joins the queue, in order. Three queues: an operator's input fed
 * inside its worker, the batches a worker took from an exchange channel, and the in-rank
 * channel itself, where the sender spills (a rank-mate that runs a flat_map or a join
 * would otherwise pile up its whole output there before the receiver takes any of it).
 * The operator reads a batch back when it takes it, so nothing is lost or reordered, and
 * progress (which counts records, not bytes) does not see it. This is for what
 * back-pressure cannot stop: an operator that makes many records from few in one run, for
 * a slower one after it. A queue's first batch always stays, so an operator never waits on
 * the disk for its next batch when it has one in memory.
 *
 * One file per rank, created in the spill directory when the first worker joins and
 * unlinked at once (nothing is left behind, whatever happens to the job); written at its
 * end, read by offset; once nothing spilled is left in it, it is cut back to nothing. The
 * rank's workers share it because a batch spilled by its sender is read back by another
 * worker, which may outlive the sender's worker; the lock covers only the bookkeeping and
 * the writes (whose offsets it hands out), not the reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataflow_internal.h"

/* Buffers of spilled batches kept for the batches read back: malloc would give those
 * fresh memory in the reading thread's arena while the writing thread's keeps the freed
 * buffers, and each arena peaks on its own (`skew 67108864 0 -w 2 --memory 512M`: peak
 * RSS 740 MiB and 12-14 s freeing them, 578-587 MiB and 5.5-6.2 s with them reused).
 * Bounded, and counted as held. */
#define CACHE_BYTES ((size_t)4 << 20)
#define CACHE_MAX 256

struct tide__spill {
    pthread_mutex_t lock;
    struct { unsigned char *base; size_t cap; } cache[CACHE_MAX];
    size_t ncache, cache_bytes;
    const char *dir;
    int fd;                  /* -1 until the file is created */
    uint64_t end;            /* bytes written */
    uint64_t live;           /* batches in it not read back */
    uint64_t batches, bytes; /* spilled so far (the report) */
};

const char *tide__spill_dir(const char *given)
{
    if (given && *given)
        return given;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

struct tide__spill *tide__spill_new(const char *dir)
{
    struct tide__spill *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->lock, NULL) != 0)
        tide__fatal("out of memory starting --memory");
    s->dir = dir;
    s->fd = -1;
    return s;
}

/* Creates the file (s->lock held). */
static int open_file(struct tide__spill *s, char *err, size_t errlen)
{
    if (s->fd >= 0)
        return 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tide-spill-XXXXXX", s->dir) >= (int)sizeof path) {
        snprintf(err, errlen, "--spill-dir %s: the name is too long", s->dir);
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "--spill-dir %s: cannot create a spill file there: %s", s->dir,
                 strerror(errno));
        return -1;
    }
    unlink(path);
    s->fd = fd;
    return 0;
}

int tide__spill_prepare(struct tide__spill *s, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    int rc = open_file(s, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void tide__spill_free(struct tide__spill *s, uint64_t *batches, uint64_t *bytes)
{
    *batches = s->batches;
    *bytes = s->bytes;
    if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->ncache; i++)
        tide__batch_free_buffer(s->cache[i].base, s->cache[i].cap);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool over_budget(tide_worker *w, const tide_batch *b)
{
    return w->spill && b->bytes >= 4096 && !b->shared && !b->spilled &&
           tide_memory_held() >= tide__budget_limit(w->budget);
}

/* Writes @p b's records at the end of the spill file and drops its buffer: @p b then stands
 * for them. */
static void spill(tide_worker *w, tide_batch *b)
{
    struct tide__spill *s = w->spill;
    const unsigned char *data = tide__batch_data(b);
    char err[4200];
    pthread_mutex_lock(&s->lock);
    /* the first worker to join creates the file; a rank-mate may get here first */
    if (open_file(s, err, sizeof err) != 0)
        tide__fatal("worker %zu: %s", w->index, err);
    for (size_t done = 0; done < b->bytes;) {
        ssize_t n = pwrite(s->fd, data + done, b->bytes - done, (off_t)(s->end + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            tide__fatal("worker %zu: spilling %zu bytes to %s: %s (--spill-dir)", w->index,
                        b->bytes, s->dir, n < 0 ? strerror(errno) : "nothing written");
        done += (size_t)n;
    }
    b->view_off = s->end;
    s->end += b->bytes;
    s->live++;
    s->batches++;
    s->bytes += b->bytes;
    bool kept = s->ncache < CACHE_MAX && s->cache_bytes + b->cap <= CACHE_BYTES;
    if (kept) {
        size_t cap;
        unsigned char *base = tide__batch_take_buffer(b, &cap);
        s->cache[s->ncache].base = base;
        s->cache[s->ncache++].cap = cap;
        s->cache_bytes += cap;
    }
    pthread_mutex_unlock(&s->lock);
    b->spilled = true;
    if (!kept)
        tide__batch_drop_buffer(b);
    /* What stays in memory is the batch's struct: counted, so that a backlog on disk is
     * bounded by the budget too (some 200 times it), not by the input */
    tide__memory_account((int64_t)sizeof *b);
}

bool tide__spill_maybe(tide_worker *w, struct tide__fifo *queue, tide_batch *b)
{
    if (!queue->count || !over_budget(w, b))
        return false;
    spill(w, b);
    return true;
}

bool tide__spill_sent(tide_worker *w, tide_push *to, tide_batch *b)
{
    if (!over_budget(w, b) || !tide__push_backlog(to))
        return false;
    spill(w, b);
    return true;
}

/* One spilled batch fewer in the file: with none left, the file is cut back. */
static void forget(tide_worker *w, tide_batch *b)
{
    struct tide__spill *s = w->spill;
    b->spilled = false;
    b->view_off = 0;
    tide__memory_account(-(int64_t)sizeof *b);
    pthread_mutex_lock(&s->lock);
    if (--s->live == 0) { /* nothing left in it: give the disk back */
        if (ftruncate(s->fd, 0) != 0)
            tide__fatal("worker %zu: emptying the spill file in %s: %s", w->index, s->dir,
                        strerror(errno));
        s->end = 0;
    }
    pthread_mutex_unlock(&s->lock);
}

void tide__spill_restore(tide_worker *w, tide_batch *b)
{
    struct tide__spill *s = w->spill;
    pthread_mutex_lock(&s->lock);
    for (size_t i = s->ncache; i-- > 0;)
        if (s->cache[i].cap >= b->bytes) {
            tide__batch_give_buffer(b, s->cache[i].base, s->cache[i].cap);
            s->cache_bytes -= s->cache[i].cap;
            s->cache[i] = s->cache[--s->ncache];
            break;
        }
    pthread_mutex_unlock(&s->lock);
    if (tide__batch_reserve(b, b->bytes) != 0)
        tide__fatal("out of memory reading back %zu spilled bytes", b->bytes);
    unsigned char *data = tide__batch_data(b);
    for (size_t done = 0; done < b->bytes;) {
        ssize_t n = pread(s->fd, data + done, b->bytes - done, (off_t)(b->view_off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            tide__fatal("worker %zu: reading back %zu spilled bytes from %s: %s", w->index,
                        b->bytes, s->dir, n < 0 ? strerror(errno) : "the file is short");
        done += (size_t)n;
    }
    forget(w, b);
}

void tide__spill_discard(tide_worker *w, tide_batch *b)
{
    if (b->spilled)
        forget(w, b);
}
