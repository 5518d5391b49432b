/* SPDX-License-Identifier: MIT */
/* tide_read_files: text files as a source, file i at epoch i, each worker parsing its share
 * of the lines. Every worker reads every file (its share is line number % workers): no
 * coordination, and a file any worker cannot read stops the job with its name. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    uint64_t line;
    char *buf;
    size_t cap_buf;
};

/* The end of file @p r->file: true when it was the last (the capability is dropped), else
 * the capability moves to the next file's epoch. */
static bool next_file(struct reader *r)
{
    if (ferror(r->f) || !feof(r->f)) /* getline's ENOMEM sets no error flag on the stream */
        tide_abort("%s: cannot read '%s' (line %" PRIu64 "): %s", r->name, r->files[r->file],
                   r->line + 1, strerror(errno ? errno : EIO));
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
    if (!r->f && !(r->f = fopen(r->files[r->file], "r")))
        tide_abort("%s: cannot open '%s': %s", r->name, r->files[r->file], strerror(errno));
    tide_session *out = tide_op_session(op, 0, r->cap);
    for (int n = 0; n < LINES_PER_STEP; n++) {
        errno = 0;
        ssize_t len = getline(&r->buf, &r->cap_buf, r->f);
        if (len < 0) {
            if (next_file(r))
                return;
            break;
        }
        if (r->line++ % peers != me)
            continue;
        if (len && r->buf[len - 1] == '\n')
            r->buf[len - 1] = '\0';
        const char *wrong = r->parse(r->buf, out, r->ctx);
        if (wrong)
            tide_abort("%s: %s:%" PRIu64 ": %s", r->name, r->files[r->file], r->line, wrong);
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
