/* SPDX-License-Identifier: MIT */
/* tide_read_files and tide_read_text: text files as a source, file i at epoch i, each
 * worker parsing its share of the lines (a line a call, or runs of them). A worker reads
 * only its share of a file's bytes: the lines that start in its slice (workers in order,
 * slices of equal size), so that reading scales with the workers. Anything else (a pipe)
 * is read whole by the first worker of each rank, keeping every line: its lines can be
 * read once only. Standard input is read by rank 0 alone (the launchers give it to rank 0;
 * MPICH's Hydra gives the others a pipe that never ends). No coordination either way, and
 * a file any worker cannot read stops the job with its name. */
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "operators_internal.h"

/* Lines read per activation: memory stays bounded whatever the size of a file, and other
 * operators run between. */
#define LINES_PER_STEP 1024
/* Bytes asked of read() at a time (more when a line is longer). Lines are cut out of the
 * block in place, where getline() took the FILE's lock and copied each line out of its
 * buffer: wordcount -w 1 spent 10% of its time there. 256 KiB rather than 64: a system
 * call costs several microseconds on a paravirtual VM, and wordcount's 130 MB took 0.965x
 * the time at -w 1 (15 pinned runs) and 0.96x at -w 2 (9); 1 MiB was no faster. */
#define READ_BLOCK ((size_t)256 << 10)
/* tide_read_text's runs of lines, one an activation: about as many bytes as LINES_PER_STEP
 * lines of wordcount's input, so that an activation's output stays as bounded as
 * tide_read_files'. (16 KiB and 256 KiB runs took the same time there, 11 pinned runs.) */
#define TEXT_RUN ((size_t)64 << 10)

struct reader {
    char *name;
    char **files;
    size_t nfiles, file; /* the file being read = the epoch */
    tide_parse_fn parse;           /* tide_read_files' */
    tide_parse_text_fn parse_text; /* or tide_read_text's */
    void *ctx;
    tide_cap *cap;
    int fd;            /* -1: none open */
    bool eof;          /* read() has returned 0, or the file is another worker's */
    uint64_t line;     /* lines read from the file (parse_text: only when !regular) */
    bool sliced;       /* reading the lines that start in [pos, end) */
    bool regular;      /* a regular file: lines are found again by their byte */
    uint64_t pos, end; /* byte offsets */
    char *buf;         /* bytes read, [at, len) not yet cut into lines; cap_buf > len
                        * (allocated with the first file) */
    size_t cap_buf, at, len;
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

/* The newlines in the @p n bytes at @p s. */
static uint64_t count_newlines(const char *s, size_t n)
{
    uint64_t k = 0;
    for (const char *e = s + n; (s = memchr(s, '\n', (size_t)(e - s))); s++)
        k++;
    return k;
}

/* Byte @p k/@p peers of @p size, without overflow. */
static uint64_t slice_at(uint64_t size, size_t k, size_t peers)
{
    return size / peers * k + size % peers * k / peers;
}

/* Whether the reader counts the lines it reads, for its messages, rather than finding them
 * again by their byte (which a pipe cannot). */
static bool counts_lines(const struct reader *r)
{
    return r->parse_text ? !r->regular : !r->sliced;
}

static _Noreturn void read_failed(const struct reader *r, int err)
{
    bool lines = counts_lines(r);
    tide_abort("%s: cannot read '%s' (%s %" PRIu64 "): %s", r->name, r->files[r->file],
               lines ? "line" : "byte", lines ? r->line + 1 : r->pos, strerror(err));
}

/* The next lines of the open file: those that end in its next @p run bytes, or the next
 * line alone if none does (@p run 0: one line), NUL-terminated in place of the last one's
 * newline, and in *n the bytes they took in the file (newlines included), in *len the
 * bytes before that NUL; NULL at the end of the file. Valid until the next call. */
static char *next_lines(struct reader *r, size_t run, size_t *n, size_t *len)
{
    for (;;) {
        char *s = r->buf + r->at;
        size_t avail = r->len - r->at, in = run < avail ? run : avail;
        char *nl = in ? memrchr(s, '\n', in) : NULL;
        if (!nl && avail > in)
            nl = memchr(s + in, '\n', avail - in);
        if (nl || (r->eof && avail)) { /* a last line may have no newline */
            size_t k = nl ? (size_t)(nl - s) : avail;
            s[k] = '\0';
            *len = k;
            *n = nl ? k + 1 : k;
            r->at += *n;
            return s;
        }
        if (r->eof)
            return NULL;
        /* the line begun so far to the front, with room for a block after it and a NUL */
        memmove(r->buf, s, avail);
        r->at = 0;
        r->len = avail;
        if (r->cap_buf - r->len <= READ_BLOCK / 2) {
            size_t cap = 2 * r->cap_buf;
            char *b = cap > r->cap_buf ? realloc(r->buf, cap) : NULL;
            if (!b)
                tide_abort("%s: out of memory reading '%s' (a line of over %zu bytes)", r->name,
                           r->files[r->file], r->len);
            r->buf = b;
            r->cap_buf = cap;
        }
        ssize_t got;
        do
            got = read(r->fd, r->buf + r->len, r->cap_buf - r->len - 1);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            read_failed(r, errno);
        r->eof = got == 0;
        r->len += (size_t)got;
    }
}

/* Whether @p st is this process's standard input. */
static bool is_stdin(const struct stat *st)
{
    struct stat in;
    return fstat(0, &in) == 0 && in.st_dev == st->st_dev && in.st_ino == st->st_ino;
}

/* Opens file r->file and moves to the first line of this worker's slice (worker @p me of
 * @p peers, @p local on rank @p rank). */
static void open_slice(struct reader *r, size_t me, size_t peers, size_t local, size_t rank)
{
    if ((r->fd = open(r->files[r->file], O_RDONLY | O_CLOEXEC)) < 0)
        tide_abort("%s: cannot open '%s': %s", r->name, r->files[r->file], strerror(errno));
    if (!r->buf && !(r->buf = malloc(r->cap_buf = READ_BLOCK + 1)))
        tide_abort("%s: out of memory reading '%s'", r->name, r->files[r->file]);
    r->eof = false;
    r->at = r->len = 0;
    r->sliced = false;
    r->pos = 0;
    struct stat st;
    bool known = fstat(r->fd, &st) == 0;
    r->regular = known && S_ISREG(st.st_mode);
    if (peers == 1 || !known || !S_ISREG(st.st_mode)) {
        /* read whole (a pipe cannot seek; a directory's offsets are not bytes), by one
         * worker of the rank: the others' reads would take lines from it. Standard input
         * is rank 0's alone: MPICH's Hydra gives the other ranks a pipe that never ends. */
        r->eof = local != 0 || (rank != 0 && known && is_stdin(&st));
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t start = slice_at(size, me, peers);
    r->end = me + 1 == peers ? UINT64_MAX : slice_at(size, me + 1, peers);
    r->sliced = true;
    /* The line holding byte start - 1 is the previous slice's: skip to its end. */
    if (lseek(r->fd, start ? (off_t)start - 1 : 0, SEEK_SET) < 0)
        read_failed(r, errno);
    r->pos = start;
    if (start) {
        size_t skip, len;
        r->pos = next_lines(r, 0, &skip, &len) ? start - 1 + skip : UINT64_MAX;
    }
}

/* The end of file @p r->file (or of this worker's slice of it): true when it was the last
 * (the capability is dropped), else the capability moves to the next file's epoch. */
static bool next_file(struct reader *r)
{
    close(r->fd);
    r->fd = -1;
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
    tide_allocator *a = tide_worker_allocator(w);
    size_t local = me % (peers / tide_allocator_ranks(a)), rank = tide_allocator_rank(a);
    if (!r->cap || !tide_op_has_room(op)) /* (under --memory: run again once there is) */
        return;
    if (r->fd < 0)
        open_slice(r, me, peers, local, rank);
    tide_session *out = tide_op_session(op, 0, r->cap);
    /* tide_read_text: one run of lines, within this worker's slice (the lines that start
     * before its end) */
    size_t run = 0;
    if (r->parse_text)
        run = r->sliced && r->end - r->pos < TEXT_RUN ? (size_t)(r->end - r->pos) : TEXT_RUN;
    for (int n = 0; n < (r->parse_text ? 1 : LINES_PER_STEP); n++) {
        size_t len, textlen;
        char *text;
        if ((r->sliced && r->pos >= r->end) || !(text = next_lines(r, run, &len, &textlen))) {
            if (next_file(r))
                return;
            break;
        }
        uint64_t at = r->pos, first = r->line + 1; /* (first: when counts_lines) */
        const char *where = NULL, *wrong;
        r->pos += len;
        if (r->parse_text) {
            if (counts_lines(r))
                r->line += 1 + count_newlines(text, textlen);
            wrong = r->parse_text(text, textlen, &where, out, r->ctx);
        } else {
            r->line++;
            wrong = r->parse(text, out, r->ctx);
        }
        if (wrong) {
            uint64_t line = counts_lines(r) ? first : line_at(r->files[r->file], at);
            uintptr_t at_byte = (uintptr_t)where, from = (uintptr_t)text;
            if (where && at_byte >= from && at_byte - from <= textlen) /* (else: ignored) */
                line += count_newlines(text, (size_t)(where - text));
            tide_abort("%s: %s:%" PRIu64 ": %s", r->name, r->files[r->file], line, wrong);
        }
    }
    tide_op_activate(op);
}

static void reader_free(void *arg)
{
    struct reader *r = arg;
    tide_cap_drop(&r->cap);
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    free(r->name);
    free(r->buf);
    free(r);
}

/* The reader of either kind: @p parse or @p parse_text. */
static tide_stream *reader_new(tide_scope *scope, const char *name, const char *const *files,
                               size_t nfiles, const tide_type *out, tide_parse_fn parse,
                               tide_parse_text_fn parse_text, void *ctx)
{
    struct reader *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name)) ||
        !(r->files = calloc(nfiles ? nfiles : 1, sizeof *r->files)))
        tide_abort("%s: out of memory", name);
    for (size_t i = 0; i < nfiles; i++)
        if (!(r->files[i] = strdup(files[i])))
            tide_abort("%s: out of memory", name);
    r->fd = -1;
    r->nfiles = nfiles;
    r->parse = parse;
    r->parse_text = parse_text;
    r->ctx = ctx;
    if (!parse && !parse_text)
        tide_abort("%s: no parse function", name);
    tide_stream *s = tide_source(scope, name, out, read_logic, r, reader_free, &r->cap);
    if (!nfiles)
        tide_cap_drop(&r->cap);
    return s;
}

tide_stream *tide_read_files(tide_scope *scope, const char *name, const char *const *files,
                             size_t nfiles, const tide_type *out, tide_parse_fn parse,
                             void *ctx)
{
    return reader_new(scope, name, files, nfiles, out, parse, NULL, ctx);
}

tide_stream *tide_read_text(tide_scope *scope, const char *name, const char *const *files,
                            size_t nfiles, const tide_type *out, tide_parse_text_fn parse,
                            void *ctx)
{
    return reader_new(scope, name, files, nfiles, out, NULL, parse, ctx);
}
