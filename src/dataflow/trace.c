/* SPDX-License-Identifier: MIT */
/* The event log: tide_worker_log's callback and --trace FILE, a Chrome/Perfetto JSON
 * trace of the whole job. Each worker appends fixed-size events (an operator's run, a
 * park, a message sent or taken, a sample of its queues) to a buffer of its own: no lock,
 * no system call but the clock. At the end every worker turns its events into JSON text
 * and sends it to worker 0 on a channel of its own (allocated by every worker when the
 * option is given), and worker 0 writes the file: one process per rank, one thread per
 * worker, times in microseconds from the job's zero (aligned across ranks at start-up,
 * initialize.c).
 *
 * A message between two workers is drawn as a flow arrow from a "send" slice on the
 * sender's thread to a "receive" slice on the receiver's, inside the operator runs that
 * sent and took it. Both ends must name the flow alike without the receiver being told
 * anything but the batch: the sender writes its index and its count of messages into the
 * batch's last metadata word (TIDE__TRACE_META; the time takes the others), and each end
 * makes the flow's number from that and the receiving worker. A split message (one
 * message to several workers of a rank) is then one flow per worker, as it should be. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dataflow_internal.h"
#include "trace_internal.h"

/* Events kept per worker (40 bytes each: 80 MiB); later ones are counted, not kept. */
#define MAX_EVENTS (1u << 21)
#define EV_BLOCK 8192
#define CHUNK 4080
/* Queue samples are taken at most this often (and when a worker parks). */
#define QUEUE_EVERY_NS 100000

/* A piece of a worker's part, sent to worker 0: its JSON text or its packed events. */
enum { PART_JSON, PART_EVENTS, NPARTS };
struct chunk {
    uint32_t len, worker;
    uint8_t last, part;
    char text[CHUNK];
};
#define PER_BATCH 8 /* chunks per batch: 32 KiB messages */
static TIDE_TYPE_POD(chunk_type, struct chunk);

struct tide__trace {
    struct tide__trace_event **blocks; /* EV_BLOCK events each: kept in place, never copied */
    size_t n, nblocks;     /* events; room for block pointers */
    uint64_t dropped;
    char **names; /* "dataflow/operator", by op->trace_id */
    size_t nnames, capnames;
    uint64_t origin; /* the job's zero on this rank's clock */
    uint64_t start;  /* when the worker began (--trace), on the same clock */
    tide_push *push; /* towards worker 0 */
    tide_pull *pull;
    FILE *out; /* worker 0 */
    const char *path; /* --trace FILE.json (NULL: none) */
    const char *otf2; /* --trace FILE.otf2 (NULL: none) */
    bool keep;        /* for either: else events go to the program's callback only */
    unsigned kinds;   /* tide_worker_log */
    tide_log_fn fn;
    void *ctx;
    void (*on_stop)(void *ctx); /* told when fn is replaced or stopped (tide_log_stream) */
    uint32_t sent;     /* messages this worker sent (wraps: TIDE__TRACE_META) */
    uint64_t queue_ns; /* the last queue sample: when, and what it said */
    uint64_t queue_records, queue_bytes;
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

/* The callback's owner is told that it is no longer called. */
static void stopped(struct tide__trace *t)
{
    void (*on_stop)(void *) = t->on_stop;
    t->on_stop = NULL;
    if (on_stop)
        on_stop(t->ctx);
}

void tide__log_on_stop(tide_worker *w, void (*on_stop)(void *ctx))
{
    w->trace->on_stop = on_stop;
}

void tide_worker_log(tide_worker *w, unsigned kinds, tide_log_fn fn, void *ctx)
{
    struct tide__trace *t = w->trace ? w->trace : trace_new(w);
    stopped(t);
    t->kinds = fn ? kinds : 0;
    t->fn = fn;
    t->ctx = ctx;
    w->log_kinds = t->kinds;
}

void tide__trace_join(tide_worker *w, const char *path, const char *otf2)
{
    if (!path && !otf2)
        return;
    struct tide__trace *t = trace_new(w);
    t->path = path;
    t->otf2 = otf2;
    t->keep = true;
    t->start = tide__now_ns();
    int chan = w->peers > 1 ? tide_allocator_allocate_lazy(w->alloc, &chunk_type, &t->pull) : -1;
    if (w->peers > 1 && (chan < 0 || !(t->push = tide_allocator_push(w->alloc, chan, 0))))
        tide__fatal("worker %zu: cannot allocate the --trace channel", w->index);
    /* opened now: a path that cannot be written stops the job before it runs, not after */
    if (w->index == 0 && path && !(t->out = fopen(path, "w")))
        tide__fatal("--trace: cannot write '%s': %s", path, strerror(errno));
#ifdef TIDE_HAVE_OTF2
    if (w->index == 0 && otf2)
        tide__otf2_check(otf2);
#endif
}

void tide__log_stop(tide_worker *w)
{
    if (w->trace) {
        stopped(w->trace);
        w->trace->kinds = 0; /* its context may be gone with the program's function */
    }
    w->log_kinds = 0;
}

/* "dataflow/scope/..." of @p s into @p buf. */
static void scope_path(const tide_scope *s, char *buf, size_t n)
{
    if (s->parent) {
        scope_path(s->parent, buf, n);
        size_t at = strlen(buf);
        snprintf(buf + at, n - at, "/%s", s->name);
    } else {
        snprintf(buf, n, "%s", s->df->name);
    }
}

/* TIDE_LOG_OPERATOR_BUILT and TIDE_LOG_CHANNEL_BUILT for a dataflow just built. */
static void log_built(tide_dataflow *df)
{
    struct tide__trace *t = df->w->trace;
    char scope[512];
    for (uint32_t k = 0; k < df->nops; k++) {
        const tide_op *op = df->ops[k];
        tide_log_event e = { .worker = df->w->index, .name = t->names[op->trace_id],
                             .op = op->id, .inputs = op->nin, .outputs = op->nout };
        if (t->kinds & TIDE_LOG_OPERATOR_BUILT) {
            scope_path(op->scope, scope, sizeof scope);
            e.kind = TIDE_LOG_OPERATOR_BUILT;
            e.scope = scope;
            t->fn(&e, t->ctx);
        }
        if (!(t->kinds & TIDE_LOG_CHANNEL_BUILT))
            continue;
        for (uint32_t o = 0; o < op->nout; o++)
            for (size_t j = 0; j < op->out[o].ntargets; j++) {
                const struct tide__target *tg = &op->out[o].targets[j];
                const struct tide__in *in = &tg->op->in[tg->port];
                tide_log_event c = { .kind = TIDE_LOG_CHANNEL_BUILT,
                                     .worker = df->w->index, .name = e.name, .op = op->id,
                                     .port = o, .target_op = tg->op->id,
                                     .target_port = tg->port,
                                     .pact = tide__exchanges(&in->pact) ? "exchange" : "pipeline",
                                     .channel = in->pull ? in->chan : -1 };
                t->fn(&c, t->ctx);
            }
    }
}

void tide__log_progress(tide_dataflow *df, bool out, size_t changes)
{
    tide_worker *w = df->w;
    struct tide__trace *t = w->trace;
    unsigned mask = out ? TIDE_LOG_PROGRESS_SEND : TIDE_LOG_PROGRESS_RECEIVE;
    if (!(t->kinds & mask) || !changes)
        return;
    tide_log_event e = { .kind = (tide_log_kind)mask, .worker = w->index,
                         .start_ns = tide__now_ns() - t->origin,
                         .name = df->name, .records = changes,
                         .channel = -1 };
    t->fn(&e, t->ctx);
}

void tide__log_frontier(tide_worker *w, const tide_op *op, uint32_t port,
                        const tide_antichain *f)
{
    struct tide__trace *t = w->trace;
    if (!(t->kinds & TIDE_LOG_FRONTIER))
        return;
    tide_log_event e = { .kind = TIDE_LOG_FRONTIER, .worker = w->index,
                         .start_ns = tide__now_ns() - t->origin,
                         .name = op->trace_id != TIDE__NO_TRACE_ID ? t->names[op->trace_id]
                                                                  : op->name,
                         .op = op->id, .port = port, .channel = -1, .frontier = f->elems,
                         .nfrontier = f->len };
    t->fn(&e, t->ctx);
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
    if (t->kinds & (TIDE_LOG_OPERATOR_BUILT | TIDE_LOG_CHANNEL_BUILT))
        log_built(df);
}

/* Keeps @p ev for the file (when there is one), counting what the buffer has no room for. */
static void keep(struct tide__trace *t, const struct tide__trace_event *ev)
{
    if (!t->keep)
        return;
    if (t->n % EV_BLOCK == 0) {
        if (t->n == MAX_EVENTS) {
            t->dropped++;
            return;
        }
        tide__reserve(&t->blocks, &t->nblocks, t->n / EV_BLOCK + 1, sizeof *t->blocks);
        /* mapped in whole at once: a page fault per 100 events was most of what tracing
         * cost a barrier round (in a VM) */
        void *b = mmap(NULL, EV_BLOCK * sizeof *ev, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (b == MAP_FAILED)
            tide__fatal("out of memory in --trace");
        t->blocks[t->n / EV_BLOCK] = b;
    }
    t->blocks[t->n / EV_BLOCK][t->n % EV_BLOCK] = *ev;
    t->n++;
}

static void record(tide_worker *w, uint32_t kind, uint32_t name, uint64_t ts,
                   uint64_t records)
{
    struct tide__trace *t = w->trace;
    uint64_t dur = tide__now_ns() - ts;
    unsigned mask = kind == TIDE__EV_OP ? TIDE_LOG_OPERATOR : TIDE_LOG_PARK;
    if (t->kinds & mask) {
        tide_log_event e = { .kind = (tide_log_kind)mask, .worker = w->index,
                             .start_ns = ts - t->origin, .dur_ns = dur,
                             .name = kind == TIDE__EV_OP ? t->names[name] : "park",
                             .records = records };
        t->fn(&e, t->ctx);
    }
    keep(t, &(struct tide__trace_event){ .ts = ts, .dur = dur, .kind = kind, .name = name,
                             .records = records });
}

void tide__trace_op(tide_worker *w, const tide_op *op, uint64_t start, uint64_t records)
{
    if (op->trace_id != TIDE__NO_TRACE_ID)
        record(w, TIDE__EV_OP, op->trace_id, start, w->records_in - records);
}

void tide__trace_park(tide_worker *w, uint64_t start)
{
    tide__trace_queue(w, true);
    record(w, TIDE__EV_PARK, 0, start, 0);
}

uint64_t tide__trace_tag(tide_worker *w)
{
    return (uint64_t)(w->index + 1) << 32 | w->trace->sent++;
}

/* The flow of message @p tag (TIDE__TRACE_META) to worker @p dst: distinct for every
 * sender, receiver and message up to 2^28 messages per sender and 2^18 workers, a mix of
 * them beyond. */
static uint64_t flow_of(uint64_t tag, size_t dst, size_t peers)
{
    uint64_t src = (tag >> 32) - 1, n = tag & 0xfffffff;
    return (src * peers + dst) << 28 | n;
}

/* One end of a message, @p w's: @p peer at the other, @p to the receiving operator. */
static void message(tide_worker *w, bool out, const tide_op *to, int chan, size_t peer,
                    uint64_t flow, uint64_t records, uint64_t bytes)
{
    struct tide__trace *t = w->trace;
    uint64_t now = tide__now_ns();
    unsigned mask = out ? TIDE_LOG_SEND : TIDE_LOG_RECEIVE;
    bool named = to->trace_id != TIDE__NO_TRACE_ID;
    if (t->kinds & mask) {
        tide_log_event e = { .kind = (tide_log_kind)mask, .worker = w->index,
                             .start_ns = now - t->origin, .name = named ? t->names[to->trace_id]
                                                                     : to->name,
                             .records = records, .peer = peer, .bytes = bytes,
                             .channel = chan, .message = flow };
        t->fn(&e, t->ctx);
    }
    if (named)
        keep(t, &(struct tide__trace_event){ .ts = now, .dur = TIDE__EV_MESSAGE(chan, bytes),
                                             .kind = out ? TIDE__EV_SEND : TIDE__EV_RECV,
                                 .name = to->trace_id, .records = records, .aux = flow,
                                 .peer = (uint32_t)peer & 0xfffffff });
}

void tide__trace_send(tide_worker *w, const tide_op *to, int chan, size_t dst, uint64_t tag,
                      uint64_t records, uint64_t bytes)
{
    message(w, true, to, chan, dst, flow_of(tag, dst, w->peers), records, bytes);
}

void tide__trace_receive(tide_worker *w, const tide_op *op, int chan, tide_batch *b)
{
    uint64_t tag = tide_batch_meta(b)[TIDE__TRACE_META];
    if (!tag)
        return; /* from this worker, or from one that did not trace it */
    message(w, false, op, chan, (size_t)(tag >> 32) - 1, flow_of(tag, w->index, w->peers),
            tide_batch_len(b), tide_batch_bytes(b));
}

void tide__trace_queue(tide_worker *w, bool now)
{
    struct tide__trace *t = w->trace;
    if (!t->keep)
        return;
    uint64_t records = w->records_arrived - w->records_in;
    uint64_t bytes = w->bytes_arrived - w->bytes_in;
    if (records == t->queue_records && bytes == t->queue_bytes)
        return;
    uint64_t ts = tide__now_ns();
    if (!now && ts - t->queue_ns < QUEUE_EVERY_NS)
        return;
    t->queue_ns = ts;
    t->queue_records = records;
    t->queue_bytes = bytes;
    keep(t, &(struct tide__trace_event){ .ts = ts, .dur = bytes, .kind = TIDE__EV_QUEUE,
                                         .records = records });
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
                   "\"rank %zu\",\"clock_error_us\":%.3f}},\n{\"ph\":\"M\",\"name\":"
                   "\"process_sort_index\",\"pid\":%zu,\"args\":{\"sort_index\":%zu}},\n",
                rank, rank, (double)w->alloc->shared->clock_error_ns / 1e3, rank, rank);
    fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%zu,\"tid\":%zu,\"args\":{"
               "\"name\":\"worker %zu\",\"events_dropped\":%llu}}", rank, w->index, w->index,
            (unsigned long long)t->dropped);
    /* the worker's start and end (now: its dataflows are done), as instants */
    double begin = (double)(int64_t)(t->start - t->origin) / 1e3;
    double end = (double)(int64_t)(tide__now_ns() - t->origin) / 1e3;
    for (int k = 0; k < 2; k++)
        fprintf(f, ",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":%zu,\"tid\":%zu,\"ts\":%.3f,"
                   "\"name\":\"worker %s\",\"cat\":\"worker\"}", rank, w->index,
                k ? end : begin, k ? "end" : "start");
    for (size_t i = 0; i < t->n; i++) {
        const struct tide__trace_event *e = &t->blocks[i / EV_BLOCK][i % EV_BLOCK];
        double ts = (double)(int64_t)(e->ts - t->origin) / 1e3;
        if (e->kind == TIDE__EV_QUEUE) {
            fprintf(f, ",\n{\"ph\":\"C\",\"pid\":%zu,\"tid\":%zu,\"ts\":%.3f,\"name\":"
                       "\"queued at worker %zu\",\"args\":{\"records\":%llu,\"bytes\":%llu}}",
                    rank, w->index, ts, w->index, (unsigned long long)e->records,
                    (unsigned long long)e->dur);
            continue;
        }
        bool msg = e->kind == TIDE__EV_SEND || e->kind == TIDE__EV_RECV;
        fprintf(f, ",\n{\"ph\":\"X\",\"pid\":%zu,\"tid\":%zu,\"ts\":%.3f,\"dur\":%.3f,", rank,
                w->index, ts, msg ? 0.0 : (double)e->dur / 1e3);
        if (e->kind == TIDE__EV_PARK) {
            fputs("\"name\":\"park\",\"cat\":\"idle\"}", f);
            continue;
        }
        if (e->kind == TIDE__EV_SEND || e->kind == TIDE__EV_RECV) {
            bool out = e->kind == TIDE__EV_SEND;
            fprintf(f, "\"name\":\"%s\",\"cat\":\"message\",\"bind_id\":\"%llx\",\"%s\":true,"
                       "\"args\":{\"records\":%llu,\"bytes\":%llu,\"%s\":%u,\"into\":\"",
                    out ? "send" : "receive", (unsigned long long)e->aux,
                    out ? "flow_out" : "flow_in", (unsigned long long)e->records,
                    (unsigned long long)TIDE__EV_BYTES(e), out ? "to" : "from",
                    (unsigned)e->peer);
            put_json(f, t->names[e->name]);
            fputs("\"}}", f);
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

/* This worker's events for the OTF2 writer: a header (events, names, rank), the events
 * with times from the job's zero, the names each followed by a NUL. */
static char *pack(tide_worker *w, size_t *len)
{
    struct tide__trace *t = w->trace;
    size_t names = 0;
    for (size_t i = 0; i < t->nnames; i++)
        names += strlen(t->names[i]) + 1;
    *len = 3 * sizeof(uint64_t) + t->n * sizeof(struct tide__trace_event) + names;
    char *out = malloc(*len), *at = out;
    if (!out)
        tide__fatal("out of memory writing the trace");
    uint64_t head[3] = { t->n, t->nnames, tide_allocator_rank(w->alloc) };
    memcpy(at, head, sizeof head);
    at += sizeof head;
    for (size_t i = 0; i < t->n; i++) {
        struct tide__trace_event e = t->blocks[i / EV_BLOCK][i % EV_BLOCK];
        e.ts = e.ts > t->origin ? e.ts - t->origin : 0;
        memcpy(at, &e, sizeof e);
        at += sizeof e;
    }
    for (size_t i = 0; i < t->nnames; i++) {
        size_t n = strlen(t->names[i]) + 1;
        memcpy(at, t->names[i], n);
        at += n;
    }
    return out;
}

static void send_part(tide_worker *w, int part, const char *text, size_t len)
{
    struct tide__trace *t = w->trace;
    tide_batch *b = tide_batch_new(&chunk_type, sizeof(struct chunk) * PER_BATCH);
    if (!b)
        tide__fatal("out of memory sending the trace");
    size_t at = 0;
    do {
        struct chunk c;
        c.worker = (uint32_t)w->index;
        c.part = (uint8_t)part;
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
    tide_batch_free(b);
}

/* Worker 0: every other worker's parts, the JSON ones into the file as each completes
 * (chunks of several workers interleave, so each is put together apart and written once
 * whole), the packed events into @p blobs. */
struct part {
    char *text;
    size_t len, cap;
};

static void gather(tide_worker *w, struct part *blobs)
{
    struct tide__trace *t = w->trace;
    struct part *parts = calloc(w->peers * NPARTS, sizeof *parts);
    if (!parts)
        tide__fatal("out of memory writing the trace");
    size_t left = (w->peers - 1) * ((t->path != NULL) + (t->otf2 != NULL));
    while (left) {
        tide_allocator_receive(w->alloc);
        tide_batch *b = NULL;
        bool got = false;
        while (tide_pull_recv(t->pull, &b)) {
            const struct chunk *c = tide_batch_records(b);
            for (size_t i = 0; i < tide_batch_len(b); i++) {
                if (c[i].worker >= w->peers || c[i].worker == 0 || c[i].len > CHUNK ||
                    c[i].part >= NPARTS || (c[i].part == PART_JSON ? !t->path : !t->otf2))
                    tide__fatal("--trace: a malformed part from worker %u", c[i].worker);
                struct part *p = &parts[c[i].worker * NPARTS + c[i].part];
                tide__reserve(&p->text, &p->cap, p->len + c[i].len, 1);
                memcpy(p->text + p->len, c[i].text, c[i].len);
                p->len += c[i].len;
                if (!c[i].last)
                    continue;
                if (c[i].part == PART_JSON) {
                    fputs(",\n", t->out);
                    fwrite(p->text, 1, p->len, t->out);
                    free(p->text);
                } else {
                    blobs[c[i].worker] = *p;
                }
                *p = (struct part){ 0 };
                left--;
            }
            got = true;
        }
        tide_allocator_release(w->alloc);
        if (!got)
            tide_allocator_park(w->alloc, 100000000);
    }
    free(parts);
}

#ifdef TIDE_HAVE_OTF2
/* Reads worker @p worker's packed events (pack) into @p p, pointing into @p buf. */
static void unpack(char *buf, size_t len, size_t worker, struct tide__trace_part *p,
                   const char ***names)
{
    uint64_t head[3];
    if (len < sizeof head)
        tide__fatal("--trace: a malformed part from worker %zu", worker);
    memcpy(head, buf, sizeof head);
    size_t evbytes = (size_t)head[0] * sizeof(struct tide__trace_event);
    if (head[0] > MAX_EVENTS || len - sizeof head < evbytes)
        tide__fatal("--trace: a malformed part from worker %zu", worker);
    *p = (struct tide__trace_part){ .rank = (size_t)head[2], .worker = worker,
                                    .ev = (const struct tide__trace_event *)(buf + sizeof head),
                                    .n = (size_t)head[0], .nnames = (size_t)head[1] };
    *names = malloc((p->nnames ? p->nnames : 1) * sizeof **names);
    if (!*names)
        tide__fatal("out of memory writing the trace");
    char *at = buf + sizeof head + evbytes, *end = buf + len;
    for (size_t i = 0; i < p->nnames; i++) {
        char *nul = memchr(at, 0, (size_t)(end - at));
        if (!nul)
            tide__fatal("--trace: a malformed part from worker %zu", worker);
        (*names)[i] = at;
        at = nul + 1;
    }
    p->names = *names;
}

static void write_otf2(tide_worker *w, struct part *blobs)
{
    struct tide__trace_part *parts = calloc(w->peers, sizeof *parts);
    const char ***names = calloc(w->peers, sizeof *names);
    if (!parts || !names)
        tide__fatal("out of memory writing the trace");
    for (size_t k = 0; k < w->peers; k++)
        unpack(blobs[k].text, blobs[k].len, k, &parts[k], &names[k]);
    tide__otf2_write(w->trace->otf2, tide_allocator_ranks(w->alloc), w->peers, parts);
    for (size_t k = 0; k < w->peers; k++)
        free(names[k]);
    free(names);
    free(parts);
}
#endif

void tide__trace_finish(tide_worker *w)
{
    struct tide__trace *t = w->trace;
    if (!t)
        return;
    if (t->keep) {
        tide__trace_queue(w, true);
        size_t len = 0, blen = 0;
        char *text = t->path ? render(w, &len) : NULL;
        char *blob = t->otf2 ? pack(w, &blen) : NULL;
        if (w->index != 0) {
            if (text)
                send_part(w, PART_JSON, text, len);
            if (blob)
                send_part(w, PART_EVENTS, blob, blen);
            tide_push_send(t->push, NULL);
            tide_allocator_release(w->alloc);
            free(blob);
        } else {
            struct part *blobs = calloc(w->peers, sizeof *blobs);
            if (!blobs)
                tide__fatal("out of memory writing the trace");
            blobs[0] = (struct part){ blob, blen, blen };
            if (t->path) {
                fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", t->out);
                fwrite(text, 1, len, t->out);
            }
            if (w->peers > 1)
                gather(w, blobs);
            if (t->path) {
                fputs("\n]}\n", t->out);
                if (fclose(t->out) != 0)
                    tide__fatal("--trace: writing '%s' failed: %s", t->path, strerror(errno));
            }
#ifdef TIDE_HAVE_OTF2
            if (t->otf2)
                write_otf2(w, blobs);
#endif
            for (size_t k = 0; k < w->peers; k++)
                free(blobs[k].text);
            free(blobs);
        }
        free(text);
    }
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->names);
    for (size_t i = 0; i * EV_BLOCK < t->n; i++)
        munmap(t->blocks[i], EV_BLOCK * sizeof **t->blocks);
    free(t->blocks);
    free(t);
    w->trace = NULL;
}
