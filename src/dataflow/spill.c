/* SPDX-License-Identifier: MIT */
/*
 * Spilling under --memory: while its rank is over budget, a batch that reaches an operator
 * which already has batches waiting at that input (delivered inside its worker, or taken
 * from the exchange channel, whose batch then goes back to its sender at once) goes to the
 * worker's spill file, and only a struct (time, counts, where its records are) stays in
 * the queue, in order. The
 * operator reads it back when it takes it, so nothing is lost or reordered, and progress
 * (which counts records, not bytes) does not see it. This is for what back-pressure cannot
 * stop: an operator that makes many records from few (a flat_map, a join) in one run, for
 * a slower one after it. The queue's first batch always stays, so an operator never waits
 * on the disk for its next batch when it has one in memory.
 *
 * One file per worker, created in the spill directory and unlinked at once (nothing is
 * left behind, whatever happens to the job); written at its end, read by offset; once
 * nothing spilled is left in it, it is cut back to nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataflow_internal.h"

struct tide__spill {
    int fd;
    uint64_t end;  /* bytes written */
    uint64_t live; /* batches in it not read back */
    uint64_t batches, bytes; /* spilled so far (the report) */
};

const char *tide__spill_dir(const char *given)
{
    if (given && *given)
        return given;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

int tide__spill_open(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tide-spill-XXXXXX", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "--spill-dir %s: the name is too long", dir);
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "--spill-dir %s: cannot create a spill file there: %s", dir,
                 strerror(errno));
        return -1;
    }
    unlink(path);
    return fd;
}

static struct tide__spill *spill_of(tide_worker *w)
{
    if (w->spill)
        return w->spill;
    char err[4200];
    int fd = tide__spill_open(w->spill_dir, err, sizeof err);
    if (fd < 0)
        tide__fatal("worker %zu: %s", w->index, err);
    struct tide__spill *s = calloc(1, sizeof *s);
    if (!s)
        tide__fatal("out of memory spilling");
    s->fd = fd;
    w->spill = s;
    return s;
}

static bool should_spill(tide_worker *w, const struct tide__fifo *queue, const tide_batch *b)
{
    return w->spill_dir && queue->count && b->bytes >= 4096 && !b->shared && w->budget &&
           tide_memory_held() >= tide__budget_limit(w->budget);
}

/* Writes @p b's records, at @p data, at the end of the spill file: @p b then stands for
 * them (its own buffer, if any, is the caller's to drop). */
static void spill(tide_worker *w, tide_batch *b, const unsigned char *data)
{
    struct tide__spill *s = spill_of(w);
    for (size_t done = 0; done < b->bytes;) {
        ssize_t n = pwrite(s->fd, data + done, b->bytes - done, (off_t)(s->end + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            tide__fatal("worker %zu: spilling %zu bytes to %s: %s (--spill-dir)", w->index,
                        b->bytes, w->spill_dir, n < 0 ? strerror(errno) : "nothing written");
        done += (size_t)n;
    }
    b->view_off = s->end;
    b->spilled = true;
    s->end += b->bytes;
    s->live++;
    s->batches++;
    s->bytes += b->bytes;
}

bool tide__spill_maybe(tide_worker *w, struct tide__fifo *queue, tide_batch *b)
{
    if (!should_spill(w, queue, b))
        return false;
    spill(w, b, tide__batch_data(b));
    tide__batch_drop_buffer(b);
    return true;
}

tide_batch *tide__spill_received(tide_worker *w, struct tide__fifo *queue, tide_batch *b)
{
    if (!should_spill(w, queue, b))
        return b;
    /* The records go to the file from the channel's batch, which goes back to its sender
     * at once (a rank-mate reuses it, the transport frees or pools it); a batch of this
     * worker's stands for them. */
    tide_batch *p = tide__worker_batch(w, b->type);
    tide__batch_drop_buffer(p);
    p->len = b->len;
    p->bytes = b->bytes;
    memcpy(p->meta, b->meta, sizeof p->meta);
    spill(w, p, tide__batch_data(b));
    tide__give_back(w->alloc, b);
    return p;
}

void tide__spill_restore(tide_worker *w, tide_batch *b)
{
    struct tide__spill *s = w->spill;
    if (tide__batch_reserve(b, b->bytes) != 0)
        tide__fatal("out of memory reading back %zu spilled bytes", b->bytes);
    unsigned char *data = tide__batch_data(b);
    for (size_t done = 0; done < b->bytes;) {
        ssize_t n = pread(s->fd, data + done, b->bytes - done, (off_t)(b->view_off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            tide__fatal("worker %zu: reading back %zu spilled bytes from %s: %s", w->index,
                        b->bytes, w->spill_dir, n < 0 ? strerror(errno) : "the file is short");
        done += (size_t)n;
    }
    b->spilled = false;
    b->view_off = 0;
    if (--s->live == 0) { /* nothing left in it: give the disk back */
        if (ftruncate(s->fd, 0) != 0)
            tide__fatal("worker %zu: emptying its spill file in %s: %s", w->index,
                        w->spill_dir, strerror(errno));
        s->end = 0;
    }
}

void tide__spill_close(tide_worker *w)
{
    struct tide__spill *s = w->spill;
    if (!s)
        return;
    if (w->budget)
        tide__budget_spilled(w->budget, s->batches, s->bytes);
    close(s->fd);
    free(s);
    w->spill = NULL;
}
