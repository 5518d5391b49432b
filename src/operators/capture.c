/* SPDX-License-Identifier: MIT */
/*
 * capture_into and replay_into: a stream written as events to one file per worker, read back
 * later by any number of workers. The format is described in doc/capture.md; in short, a
 * header, then events: records at a time ('M'), changes of the stream's frontier ('P'), and
 * the end of the stream ('E'). Every file starts with a count of one at time 0, the frontier
 * every stream starts with, so replaying workers can hold a capability from the start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "operators_internal.h"

static const char magic[8] = { 't', 'i', 'd', 'e', 'c', 'a', 'p', '\n' };
enum { FORMAT_VERSION = 1, REPLAY_EVENTS_PER_STEP = 256 };

struct header {
    uint32_t version, index, peers, depth;
    uint64_t size;
    char name[64];
};

/* ---------------------------------------------------------------- encoding */

struct file {
    FILE *f;
    char *path;
    uint64_t pos, size;            /* replay: bytes read so far, and the file's size */
    tide_mutable_antichain counts; /* replay: this file's own frontier counts */
};

static void put(struct file *f, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f->f) != n)
        tide_abort("Capture: writing '%s': %s", f->path, strerror(errno));
}

static void put_u64(struct file *f, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(f, b, 8);
}

static void put_u32(struct file *f, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(f, b, 4);
}

static void put_time(struct file *f, const tide_time *t)
{
    for (uint32_t i = 0; i < t->depth; i++)
        put_u64(f, t->c[i]);
}

/* Reading: a short read is a file cut short or corrupt, named with its offset. */
static _Noreturn void corrupt(const struct file *f, const char *what)
{
    tide_abort("Replay: '%s' is cut short or not a capture file (%s at byte %ld)", f->path,
               what, ftell(f->f));
}

static void get(struct file *f, void *p, size_t n, const char *what)
{
    if (n && fread(p, 1, n, f->f) != n)
        corrupt(f, what);
    f->pos += n;
}

/* What is left to read: lengths in a file are checked against it before anything is
 * allocated for them. */
static uint64_t remaining(const struct file *f)
{
    return f->size > f->pos ? f->size - f->pos : 0;
}

static uint64_t get_u64(struct file *f, const char *what)
{
    unsigned char b[8];
    get(f, b, 8, what);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static uint32_t get_u32(struct file *f, const char *what)
{
    unsigned char b[4];
    get(f, b, 4, what);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static tide_time get_time(struct file *f, uint32_t depth)
{
    tide_time t = { .depth = depth };
    for (uint32_t i = 0; i < depth; i++)
        t.c[i] = get_u64(f, "a time");
    return t;
}

static char *file_path(const char *prefix, size_t index)
{
    size_t n = strlen(prefix) + 24;
    char *p = malloc(n);
    if (!p)
        tide_abort("Capture: out of memory");
    snprintf(p, n, "%s.%zu", prefix, index);
    return p;
}

static void file_open(struct file *f, const char *prefix, size_t index, const char *mode)
{
    f->path = file_path(prefix, index);
    if (!(f->f = fopen(f->path, mode)))
        tide_abort("%s: cannot open '%s': %s", *mode == 'w' ? "Capture" : "Replay", f->path,
                   strerror(errno));
    f->pos = 0;
    struct stat st;
    f->size = fstat(fileno(f->f), &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void file_close(struct file *f)
{
    if (f->f && fclose(f->f) != 0)
        tide_abort("Capture: closing '%s': %s", f->path, strerror(errno));
    f->f = NULL;
}

/* ---------------------------------------------------------------- capture */

struct capture {
    struct file file;
    tide_antichain written; /* the frontier the file has told so far */
    tide_change_batch changes;
    unsigned char value[TIDE__VALUE_BYTES];
    unsigned char *buf; /* one encoded variable-length record, reused */
    size_t bufcap;
};

static void put_records(struct capture *c, tide_batch *b)
{
    const tide_type *type = tide_batch_type(b);
    if (type->size) {
        put(&c->file, tide_batch_records(b), tide_batch_bytes(b));
        return;
    }
    for (size_t at = 0; tide_batch_read(b, &at, c->value);) {
        size_t len = type->encoded_size(c->value);
        if (len > UINT32_MAX)
            tide_abort("Capture: a %s record of %zu bytes is too large", type->name, len);
        if (len > c->bufcap) {
            free(c->buf);
            if (!(c->buf = malloc(c->bufcap = len)))
                tide_abort("Capture: out of memory");
        }
        type->encode(c->value, c->buf);
        put_u32(&c->file, (uint32_t)len);
        put(&c->file, c->buf, len);
    }
}

/* Writes the frontier's changes since the last 'P' event, if any. */
static void put_progress(struct capture *c, const tide_antichain *now)
{
    if (tide_antichain_equal(&c->written, now))
        return;
    tide_change_batch_clear(&c->changes);
    for (size_t i = 0; i < c->written.len; i++)
        tide_change_batch_update(&c->changes, 0, &c->written.elems[i], -1);
    for (size_t i = 0; i < now->len; i++)
        tide_change_batch_update(&c->changes, 0, &now->elems[i], +1);
    tide_change_batch_compact(&c->changes);
    put(&c->file, "P", 1);
    put_u64(&c->file, c->changes.len);
    for (size_t i = 0; i < c->changes.len; i++) {
        put_time(&c->file, &c->changes.changes[i].time);
        put_u64(&c->file, (uint64_t)c->changes.changes[i].delta);
    }
    tide_antichain_clear(&c->written);
    for (size_t i = 0; i < now->len; i++)
        tide_antichain_insert(&c->written, &now->elems[i]);
}

static void capture_run(tide_op *op, void *arg)
{
    struct capture *c = arg;
    tide_cap *cap;
    tide_batch *b;
    if (!c->file.f) /* the stream has ended */
        return;
    /* records first: a time leaves the file's frontier only after its records */
    while (tide_op_next(op, 0, &cap, &b)) {
        put(&c->file, "M", 1);
        put_time(&c->file, tide_cap_time(cap));
        put_u64(&c->file, tide_batch_len(b));
        put_records(c, b);
    }
    const tide_antichain *frontier = tide_op_frontier(op, 0);
    put_progress(c, frontier);
    if (frontier->len == 0) {
        put(&c->file, "E", 1);
        file_close(&c->file);
    }
}

static void capture_free(void *arg)
{
    struct capture *c = arg;
    if (c->file.f) /* the dataflow was dropped before its end: the file says so */
        fclose(c->file.f);
    free(c->file.path);
    free(c->buf);
    tide_antichain_free(&c->written);
    tide_change_batch_free(&c->changes);
    free(c);
}

void tide_capture_into(tide_stream *s, const char *prefix)
{
    tide_scope *scope = tide_stream_scope(s);
    tide_worker *w = tide_scope_worker(scope);
    const tide_type *type = tide_stream_type(s);
    size_t name_len = strlen(type->name);
    if (name_len >= sizeof ((struct header *)0)->name)
        tide_abort("Capture: the type name '%s' is too long to record", type->name);
    struct capture *c = calloc(1, sizeof *c);
    if (!c)
        tide_abort("Capture: out of memory");
    tide_antichain_init(&c->written);
    tide_change_batch_init(&c->changes);
    uint32_t depth = tide_scope_depth(scope);
    tide_time zero = { .depth = depth };
    tide_antichain_insert(&c->written, &zero);
    file_open(&c->file, prefix, tide_worker_index(w), "wb");
    put(&c->file, magic, sizeof magic);
    put_u32(&c->file, FORMAT_VERSION);
    put_u32(&c->file, (uint32_t)tide_worker_index(w));
    put_u32(&c->file, (uint32_t)tide_worker_peers(w));
    put_u32(&c->file, depth);
    put_u64(&c->file, type->size);
    put_u32(&c->file, (uint32_t)name_len);
    put(&c->file, type->name, name_len);
    tide_sink(s, TIDE_PIPELINE, "Capture", capture_run, c, capture_free);
}

/* ---------------------------------------------------------------- replay */

struct replay {
    const tide_type *type;
    uint32_t depth;
    struct file *files; /* this worker's share; f == NULL once read to the end */
    size_t nfiles;
    tide_capset caps;
    tide_mutable_antichain counts; /* the summed frontiers of the files still open */
    unsigned char *buf;
    size_t bufcap;
};

static void read_header(struct file *f, struct header *h)
{
    char m[sizeof magic];
    get(f, m, sizeof m, "the header");
    if (memcmp(m, magic, sizeof magic) != 0)
        tide_abort("Replay: '%s' is not a tide capture file", f->path);
    h->version = get_u32(f, "the header");
    if (h->version != FORMAT_VERSION)
        tide_abort("Replay: '%s' has format version %u; this tide reads version %d", f->path,
                   h->version, FORMAT_VERSION);
    h->index = get_u32(f, "the header");
    h->peers = get_u32(f, "the header");
    h->depth = get_u32(f, "the header");
    h->size = get_u64(f, "the header");
    uint32_t len = get_u32(f, "the header");
    if (len >= sizeof h->name || h->depth == 0 || h->depth > TIDE_TIME_MAX_DEPTH ||
        h->peers == 0 || h->index >= h->peers)
        corrupt(f, "the header");
    get(f, h->name, len, "the header");
    h->name[len] = '\0';
}

/* Reads one message's records into a batch of the replayed type. */
static tide_batch *read_records(struct replay *r, struct file *f)
{
    uint64_t n = get_u64(f, "a record count");
    /* a record takes at least its size, or its 4-byte length */
    if (n > remaining(f) / (r->type->size ? r->type->size : 4))
        corrupt(f, "a record count larger than the rest of the file");
    tide_batch *b = tide_batch_new(r->type, 0);
    if (!b)
        tide_abort("Replay: out of memory");
    if (r->type->size) {
        void *at = n ? tide_batch_extend(b, n) : NULL;
        if (n && !at)
            tide_abort("Replay: out of memory");
        get(f, at, n * r->type->size, "records");
        return b;
    }
    unsigned char value[TIDE__VALUE_BYTES];
    for (uint64_t i = 0; i < n; i++) {
        uint32_t len = get_u32(f, "a record length");
        if (len > remaining(f))
            corrupt(f, "a record longer than the rest of the file");
        if (len > r->bufcap) {
            free(r->buf);
            if (!(r->buf = malloc(r->bufcap = len)))
                tide_abort("Replay: out of memory");
        }
        get(f, r->buf, len, "a record");
        if (!tide_type_valid_encoding(r->type, r->buf, len))
            corrupt(f, r->type == TIDE_STR ? "a string without its terminating NUL"
                                           : "a record its type cannot decode");
        r->type->decode(r->buf, len, value);
        if (tide_batch_push(b, value) != 0)
            tide_abort("Replay: out of memory");
    }
    return b;
}

static void replay_message(struct replay *r, struct file *f, tide_op *op)
{
    tide_time t = get_time(f, r->depth);
    tide_batch *b = read_records(r, f);
    size_t i = 0;
    while (i < r->caps.len && !tide_time_le(tide_cap_time(r->caps.caps[i]), &t))
        i++;
    /* The file's own frontier, as of this event: the capabilities are only brought down to
     * the files' frontiers at the end of an activation. */
    if (i == r->caps.len || !tide_antichain_less_equal(&f->counts.frontier, &t)) {
        char tb[96];
        tide_time_format(&t, tb, sizeof tb);
        tide_abort("Replay: '%s' has records at time %s after its frontier had passed it",
                   f->path, tb);
    }
    tide_session_give_batch(tide_op_session_at(op, 0, r->caps.caps[i], &t), &b);
}

static void replay_progress(struct replay *r, struct file *f)
{
    uint64_t n = get_u64(f, "a change count");
    if (n > remaining(f) / (8 * (r->depth + 1)))
        corrupt(f, "a change count larger than the rest of the file");
    for (uint64_t i = 0; i < n; i++) {
        tide_change ch = { .key = 0 };
        ch.time = get_time(f, r->depth);
        ch.delta = (int64_t)get_u64(f, "a change");
        /* A file's counts are its stream's: never below zero, and summed without wrapping. */
        int64_t mine, all;
        if (__builtin_add_overflow(tide_mutable_antichain_count(&f->counts, &ch.time),
                                   ch.delta, &mine) || mine < 0 ||
            __builtin_add_overflow(tide_mutable_antichain_count(&r->counts, &ch.time),
                                   ch.delta, &all))
            corrupt(f, "a progress change that takes a count below zero or past 2^63");
        tide_mutable_antichain_update(&f->counts, &ch, 1, NULL);
        tide_mutable_antichain_update(&r->counts, &ch, 1, NULL);
    }
}

/* Reads up to a bounded number of events of @p f; false once its stream has ended. */
static bool replay_file(struct replay *r, struct file *f, tide_op *op)
{
    for (int k = 0; k < REPLAY_EVENTS_PER_STEP; k++) {
        int tag = fgetc(f->f);
        switch (tag) {
        case 'M':
            replay_message(r, f, op);
            break;
        case 'P':
            replay_progress(r, f);
            break;
        case 'E':
            if (f->counts.frontier.len) {
                char tb[96];
                tide_time_format(&f->counts.frontier.elems[0], tb, sizeof tb);
                tide_abort("Replay: '%s' ends while its frontier still holds time %s",
                           f->path, tb);
            }
            fclose(f->f);
            f->f = NULL;
            return false;
        case EOF:
            tide_abort("Replay: '%s' ends before its stream did (was the capturing job "
                       "stopped, or its dataflow dropped?)", f->path);
        default:
            corrupt(f, "an event");
        }
    }
    return true;
}

static void replay_run(tide_op *op, void *arg)
{
    struct replay *r = arg;
    bool more = false;
    if (!tide_op_has_room(op))
        return; /* activated again once there is room */
    for (size_t i = 0; i < r->nfiles; i++)
        if (r->files[i].f && replay_file(r, &r->files[i], op))
            more = true;
    tide_capset_downgrade(&r->caps, &r->counts.frontier);
    if (more)
        tide_op_activate(op);
}

static void replay_free(void *arg)
{
    struct replay *r = arg;
    for (size_t i = 0; i < r->nfiles; i++) {
        if (r->files[i].f)
            fclose(r->files[i].f);
        free(r->files[i].path);
        tide_mutable_antichain_free(&r->files[i].counts);
    }
    free(r->files);
    tide_capset_free(&r->caps);
    tide_mutable_antichain_free(&r->counts);
    free(r->buf);
    free(r);
}

/* Opens capture file @p index and checks that its header fits this replay. */
static void open_checked(struct replay *r, struct file *f, const char *prefix, size_t index,
                         uint32_t *peers)
{
    struct header h;
    file_open(f, prefix, index, "rb");
    read_header(f, &h);
    if (h.size != r->type->size || strcmp(h.name, r->type->name) != 0)
        tide_abort("Replay: '%s' holds %s records, not %s", f->path, h.name, r->type->name);
    if (h.depth != r->depth)
        tide_abort("Replay: '%s' was captured in a scope of depth %u, not %u", f->path,
                   h.depth, r->depth);
    if (*peers == 0)
        *peers = h.peers;
    if (h.peers != *peers || h.index != index)
        tide_abort("Replay: '%s' is file %u of %u, not file %zu of %u (files of different "
                   "captures mixed?)", f->path, h.index, h.peers, index, *peers);
}

tide_stream *tide_replay_into(tide_scope *scope, const tide_type *type, const char *prefix)
{
    tide_worker *w = tide_scope_worker(scope);
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    struct replay *r = calloc(1, sizeof *r);
    if (!r)
        tide_abort("Replay: out of memory");
    r->type = type;
    r->depth = tide_scope_depth(scope);
    tide_capset_init(&r->caps);
    tide_mutable_antichain_init(&r->counts);
    /* How many files the capture wrote is in every header: read it from this worker's
     * first file, so that a replay in the capturing job (same worker count) reads no file
     * another worker may still be writing; file 0 tells when this worker has none. */
    uint32_t captured = 0;
    struct file probe = { .path = file_path(prefix, me) };
    bool own = (probe.f = fopen(probe.path, "rb")) != NULL;
    if (own)
        fclose(probe.f);
    free(probe.path);
    struct file first = { 0 };
    open_checked(r, &first, prefix, own ? me : 0, &captured);
    fclose(first.f);
    free(first.path);
    if (!own && me < captured) /* reports the missing file */
        open_checked(r, &first, prefix, me, &captured);
    r->files = calloc(captured / peers + 1, sizeof *r->files);
    if (!r->files)
        tide_abort("Replay: out of memory");
    tide_time zero = { .depth = r->depth };
    for (size_t i = me; i < captured; i += peers) {
        struct file *f = &r->files[r->nfiles++];
        tide_mutable_antichain_init(&f->counts);
        open_checked(r, f, prefix, i, &captured);
        tide_change start = { .key = 0, .time = zero, .delta = 1 };
        tide_mutable_antichain_update(&f->counts, &start, 1, NULL);
        tide_mutable_antichain_update(&r->counts, &start, 1, NULL);
    }
    tide_cap *initial;
    tide_stream *s = tide_source(scope, "Replay", type, replay_run, r, replay_free, &initial);
    tide_capset_insert(&r->caps, initial);
    return s;
}
