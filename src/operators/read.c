/* SPDX-License-Identifier: MIT */
/* tide_read_files: text files as a source, file i at epoch i, each worker parsing its share
 * of the lines. A worker reads only its share of a file's bytes: the lines that start in
 * its slice (workers in order, slices of equal size), so that reading scales with the
 * workers; a file that cannot seek (a pipe) is read whole by every worker, each keeping
 * the lines whose number % workers is its index. No coordination either way, and a file
 * any worker cannot read stops the job with its name. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "operators_internal.h"

/* Lines read per activation: memory stays bounded whatever the size of a file, and other
 * operators run between. */
#define LINES_PER_STEP 1024

struct reader {
    char *name;
    char **files;
    size_t nfiles, file; /* the file being read = the epoch */
    tide_parse_fn parse;
    void *ctx;
    tide_cap *cap;
    FILE *f;
    uint64_t line;     /* lines read from the file (by every worker when not sliced) */
    bool sliced;       /* reading the lines that start in [pos, end) */
    uint64_t pos, end; /* byte offsets */
    char *buf;
    size_t cap_buf;
};

/* The line number (from 1) of the line starting at byte @p at of @p path, for messages:
 * a worker reading a slice does not count the lines before it. */
static uint64_t line_at(const char *path, uint64_t at)
{
    FILE *f = fopen(path, "r");
    uint64_t line = 1;
    int c;
    for (uint64_t i = 0; f && i < at && (c = getc(f)) != EOF; i++)
        line += c == '\n';
    if (f)
        fclose(f);
    return line;
}

/* Byte @p k/@p peers of @p size, without overflow. */
static uint64_t slice_at(uint64_t size, size_t k, size_t peers)
{
    return size / peers * k + size % peers * k / peers;
}

/* Opens file r->file and moves to the first line of this worker's slice. */
static void open_slice(struct reader *r, size_t me, size_t peers)
{
    if (!(r->f = fopen(r->files[r->file], "r")))
        tide_abort("%s: cannot open '%s': %s", r->name, r->files[r->file], strerror(errno));
    r->sliced = false;
    r->pos = 0;
    off_t size;
    if (peers == 1 || fseeko(r->f, 0, SEEK_END) != 0 || (size = ftello(r->f)) < 0) {
        clearerr(r->f);
        return; /* read whole (a pipe cannot seek) */
    }
    uint64_t start = slice_at((uint64_t)size, me, peers);
    r->end = me + 1 == peers ? UINT64_MAX : slice_at((uint64_t)size, me + 1, peers);
    r->sliced = true;
    /* The line holding byte start - 1 is the previous slice's: skip to its end. */
    if (fseeko(r->f, start ? (off_t)start - 1 : 0, SEEK_SET) != 0)
        tide_abort("%s: cannot read '%s': %s", r->name, r->files[r->file], strerror(errno));
    r->pos = start;
    if (start) {
        errno = 0;
        ssize_t skip = getline(&r->buf, &r->cap_buf, r->f);
        r->pos = skip < 0 ? UINT64_MAX : start - 1 + (uint64_t)skip;
        if (skip < 0 && (ferror(r->f) || !feof(r->f)))
            tide_abort("%s: cannot read '%s': %s", r->name, r->files[r->file],
                       strerror(errno ? errno : EIO));
    }
}

/* The end of file @p r->file (or of this worker's slice of it): true when it was the last
 * (the capability is dropped), else the capability moves to the next file's epoch. */
static bool next_file(struct reader *r, bool slice_done)
{
    if (!slice_done && (ferror(r->f) || !feof(r->f))) /* getline's ENOMEM sets no error flag */
        tide_abort("%s: cannot read '%s' (%s %" PRIu64 "): %s", r->name, r->files[r->file],
                   r->sliced ? "byte" : "line", r->sliced ? r->pos : r->line + 1,
                   strerror(errno ? errno : EIO));
    fclose(r->f);
    r->f = NULL;
    r->line = 0;
    if (++r->file == r->nfiles) {
        tide_cap_drop(&r->cap);
        return true;
    }
    tide_time next = tide_time_root(r->file);
    tide_cap_downgrade(r->cap, &next);
    return false;
}

static void read_logic(tide_op *op, void *arg)
{
    struct reader *r = arg;
    tide_worker *w = tide_op_worker(op);
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    if (!r->cap || !tide_op_has_room(op)) /* (under --memory: run again once there is) */
        return;
    if (!r->f)
        open_slice(r, me, peers);
    tide_session *out = tide_op_session(op, 0, r->cap);
    for (int n = 0; n < LINES_PER_STEP; n++) {
        if (r->sliced && r->pos >= r->end) {
            if (next_file(r, true))
                return;
            break;
        }
        errno = 0;
        ssize_t len = getline(&r->buf, &r->cap_buf, r->f);
        if (len < 0) {
            if (next_file(r, false))
                return;
            break;
        }
        uint64_t at = r->pos;
        r->pos += (uint64_t)len;
        if (!r->sliced && r->line++ % peers != me)
            continue;
        if (len && r->buf[len - 1] == '\n')
            r->buf[len - 1] = '\0';
        const char *wrong = r->parse(r->buf, out, r->ctx);
        if (wrong)
            tide_abort("%s: %s:%" PRIu64 ": %s", r->name, r->files[r->file],
                       r->sliced ? line_at(r->files[r->file], at) : r->line, wrong);
    }
    tide_op_activate(op);
}

static void reader_free(void *arg)
{
    struct reader *r = arg;
    tide_cap_drop(&r->cap);
    if (r->f)
        fclose(r->f);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    free(r->name);
    free(r->buf);
    free(r);
}

tide_stream *tide_read_files(tide_scope *scope, const char *name, const char *const *files,
                             size_t nfiles, const tide_type *out, tide_parse_fn parse,
                             void *ctx)
{
    struct reader *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name)) ||
        !(r->files = calloc(nfiles ? nfiles : 1, sizeof *r->files)))
        tide_abort("%s: out of memory", name);
    for (size_t i = 0; i < nfiles; i++)
        if (!(r->files[i] = strdup(files[i])))
            tide_abort("%s: out of memory", name);
    r->nfiles = nfiles;
    r->parse = parse;
    r->ctx = ctx;
    tide_stream *s = tide_source(scope, name, out, read_logic, r, reader_free, &r->cap);
    if (!nfiles)
        tide_cap_drop(&r->cap);
    return s;
}
