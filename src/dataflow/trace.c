/* SPDX-License-Identifier: MIT */
/* The event log: tide_worker_log's callback and --trace FILE, a Chrome/Perfetto JSON
 * trace of the whole job. Each worker appends fixed-size events (an operator's run, a park) to a buffer of its own: no lock, no system call
 * but the clock. At the end every worker turns its events into JSON text and sends it to
 * worker 0 on a channel of its own (allocated by every worker when the option is given),
 * and worker 0 writes the file: one process per rank, one thread per worker, times in
 * microseconds from the job's zero (aligned across ranks at start-up, initialize.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataflow_internal.h"

/* Events kept per worker (32 bytes each: 64 MiB); later ones are counted, not kept. */
#define MAX_EVENTS (1u << 21)
#define CHUNK 4080

enum { EV_OP, EV_PARK };
struct event {
    uint64_t ts, dur; /* ns on this rank's clock */
    uint32_t kind, name;
    uint64_t records;
};

struct chunk {
    uint32_t len, worker;
    uint8_t last;
    char text[CHUNK];
};
#define PER_BATCH 8 /* chunks per batch: 32 KiB messages */
static TIDE_TYPE_POD(chunk_type, struct chunk);

struct tide__trace {
    struct event *ev;
    size_t n, cap;
    uint64_t dropped;
    char **names; /* "dataflow/operator", by op->trace_id */
    size_t nnames, capnames;
    uint64_t origin; /* the job's zero on this rank's clock */
    tide_push *push; /* towards worker 0 */
    tide_pull *pull;
    FILE *out; /* worker 0 */
    const char *path; /* NULL: events go to the program's callback only */
    unsigned kinds;   /* tide_worker_log */
    tide_log_fn fn;
    void *ctx;
};

static struct tide__trace *trace_new(tide_worker *w)
{
    struct tide__trace *t = calloc(1, sizeof *t);
    if (!t)
        tide__fatal("out of memory starting an event log");
    t->origin = w->alloc->shared->clock_origin_ns;
    w->trace = t;
    return t;
}

void tide_worker_log(tide_worker *w, unsigned kinds, tide_log_fn fn, void *ctx)
{
    struct tide__trace *t = w->trace ? w->trace : trace_new(w);
    t->kinds = fn ? kinds : 0;
    t->fn = fn;
    t->ctx = ctx;
}

void tide__trace_join(tide_worker *w, const char *path)
{
    if (!path)
        return;
    struct tide__trace *t = trace_new(w);
    t->path = path;
    int chan = w->peers > 1 ? tide_allocator_allocate_lazy(w->alloc, &chunk_type, &t->pull) : -1;
    if (w->peers > 1 && (chan < 0 || !(t->push = tide_allocator_push(w->alloc, chan, 0))))
        tide__fatal("worker %zu: cannot allocate the --trace channel", w->index);
    /* opened now: a path that cannot be written stops the job before it runs, not after */
    if (w->index == 0 && !(t->out = fopen(path, "w")))
        tide__fatal("--trace: cannot write '%s': %s", path, strerror(errno));
}

void tide__log_stop(tide_worker *w)
{
    if (w->trace)
        w->trace->kinds = 0; /* its context may be gone with the program's function */
}

void tide__trace_dataflow(tide_dataflow *df)
{
    struct tide__trace *t = df->w->trace;
    for (uint32_t k = 0; k < df->nops; k++) {
        tide_op *op = df->ops[k];
        tide__reserve(&t->names, &t->capnames, t->nnames + 1, sizeof *t->names);
        size_t len = strlen(df->name) + strlen(op->name) + 2;
        char *name = malloc(len);
        if (!name)
            tide__fatal("out of memory in --trace");
        snprintf(name, len, "%s/%s", df->name, op->name);
        op->trace_id = (uint32_t)t->nnames;
        t->names[t->nnames++] = name;
    }
}

static void record(tide_worker *w, uint32_t kind, uint32_t name, uint64_t ts,
                   uint64_t records)
{
    struct tide__trace *t = w->trace;
    uint64_t dur = tide__now_ns() - ts;
    unsigned mask = kind == EV_OP ? TIDE_LOG_OPERATOR : TIDE_LOG_PARK;
    if (t->kinds & mask) {
        tide_log_event e = { (tide_log_kind)mask, w->index, ts - t->origin, dur,
                             kind == EV_OP ? t->names[name] : "park", records };
        t->fn(&e, t->ctx);
    }
    if (!t->path)
        return;
    if (t->n == t->cap) {
        if (t->cap == MAX_EVENTS) {
            t->dropped++;
            return;
        }
        tide__reserve(&t->ev, &t->cap, t->n + 1, sizeof *t->ev);
        if (t->cap > MAX_EVENTS)
            t->cap = MAX_EVENTS;
    }
    t->ev[t->n++] = (struct event){ ts, dur, kind, name, records };
}

void tide__trace_op(tide_worker *w, const tide_op *op, uint64_t start, uint64_t records)
{
    if (op->trace_id != TIDE__NO_TRACE_ID)
        record(w, EV_OP, op->trace_id, start, w->records_in - records);
}

void tide__trace_park(tide_worker *w, uint64_t start)
{
    record(w, EV_PARK, 0, start, 0);
}

/* JSON string contents: quotes, backslashes and control characters escaped. */
static void put_json(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

/* This worker's part of the trace: comma-separated events, no trailing comma. */
static char *render(tide_worker *w, size_t *len)
{
    struct tide__trace *t = w->trace;
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        tide__fatal("out of memory writing the trace");
    size_t rank = tide_allocator_rank(w->alloc);
    if (w->alloc->local == 0)
        fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%zu,\"args\":{\"name\":"
                   "\"rank %zu\"}},\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%zu,"
                   "\"args\":{\"sort_index\":%zu}},\n", rank, rank, rank, rank);
    fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%zu,\"tid\":%zu,\"args\":{"
               "\"name\":\"worker %zu\",\"events_dropped\":%llu}}", rank, w->index, w->index,
            (unsigned long long)t->dropped);
    for (size_t i = 0; i < t->n; i++) {
        const struct event *e = &t->ev[i];
        double ts = (double)(int64_t)(e->ts - t->origin) / 1e3;
        fprintf(f, ",\n{\"ph\":\"X\",\"pid\":%zu,\"tid\":%zu,\"ts\":%.3f,\"dur\":%.3f,", rank,
                w->index, ts, (double)e->dur / 1e3);
        if (e->kind == EV_PARK) {
            fputs("\"name\":\"park\",\"cat\":\"idle\"}", f);
            continue;
        }
        fputs("\"name\":\"", f);
        put_json(f, t->names[e->name]);
        fprintf(f, "\",\"cat\":\"operator\",\"args\":{\"records\":%llu}}",
                (unsigned long long)e->records);
    }
    fclose(f);
    return text;
}

static void send_text(tide_worker *w, const char *text, size_t len)
{
    struct tide__trace *t = w->trace;
    tide_batch *b = tide_batch_new(&chunk_type, sizeof(struct chunk) * PER_BATCH);
    if (!b)
        tide__fatal("out of memory sending the trace");
    size_t at = 0;
    do {
        struct chunk c;
        c.worker = (uint32_t)w->index;
        c.len = (uint32_t)(len - at < CHUNK ? len - at : CHUNK);
        memcpy(c.text, text + at, c.len);
        at += c.len;
        c.last = at == len;
        if (tide_batch_push(b, &c) != 0)
            tide__fatal("out of memory sending the trace");
        if (c.last || tide_batch_len(b) == PER_BATCH) {
            tide_push_send(t->push, &b);
            if (!b && !(b = tide_batch_new(&chunk_type, sizeof(struct chunk) * PER_BATCH)))
                tide__fatal("out of memory sending the trace");
            tide_batch_clear(b);
        }
    } while (at < len);
    tide_push_send(t->push, NULL);
    tide_batch_free(b);
    tide_allocator_release(w->alloc);
}

void tide__trace_finish(tide_worker *w)
{
    struct tide__trace *t = w->trace;
    if (!t)
        return;
    size_t len = 0;
    char *text = t->path ? render(w, &len) : NULL;
    if (!t->path) {
        /* the program's log only: nothing to write */
    } else if (w->index != 0) {
        send_text(w, text, len);
    } else {
        fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", t->out);
        fwrite(text, 1, len, t->out);
        /* every other worker's text: chunks of several workers interleave, so each
         * worker's is put together apart and written once whole */
        struct part {
            char *text;
            size_t len, cap;
        } *parts = calloc(w->peers, sizeof *parts);
        if (!parts)
            tide__fatal("out of memory writing the trace");
        size_t left = w->peers - 1;
        while (left) {
            tide_allocator_receive(w->alloc);
            tide_batch *b = NULL;
            bool got = false;
            while (tide_pull_recv(t->pull, &b)) {
                const struct chunk *c = tide_batch_records(b);
                for (size_t i = 0; i < tide_batch_len(b); i++) {
                    if (c[i].worker >= w->peers || c[i].len > CHUNK)
                        tide__fatal("--trace: a malformed part from worker %u", c[i].worker);
                    struct part *p = &parts[c[i].worker];
                    tide__reserve(&p->text, &p->cap, p->len + c[i].len, 1);
                    memcpy(p->text + p->len, c[i].text, c[i].len);
                    p->len += c[i].len;
                    if (c[i].last) {
                        fputs(",\n", t->out);
                        fwrite(p->text, 1, p->len, t->out);
                        free(p->text);
                        p->text = NULL;
                        left--;
                    }
                }
                got = true;
            }
            tide_allocator_release(w->alloc);
            if (!got)
                tide_allocator_park(w->alloc, 100000000);
        }
        free(parts);
        fputs("\n]}\n", t->out);
        if (fclose(t->out) != 0)
            tide__fatal("--trace: writing '%s' failed: %s", t->path, strerror(errno));
    }
    free(text);
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->names);
    free(t->ev);
    free(t);
    w->trace = NULL;
}
