/* SPDX-License-Identifier: MIT */
/* tide_log_stream: a worker's log as a stream of its own dataflow. The log callback runs
 * anywhere on the worker's thread (inside another operator's run, inside an exchange), so
 * it only appends to a buffer and activates the source; the source, when it runs, moves
 * its capability up to the current millisecond and gives the buffer at that time. When
 * logging stops (tide_worker_log replaced or stopped, the worker's function returned) the
 * source gives what is left and drops its capability, which ends the stream. */
#include <stdlib.h>
#include <string.h>

#include "dataflow_internal.h"

const tide_type tide_log_record_type = { "tide_log_record", sizeof(tide_log_record), 0, 0, 0, 0 };

struct logsrc {
    tide_worker *w;
    tide_op *op;
    tide_cap *cap; /* NULL once the stream ended */
    const char *df; /* its own dataflow's name: its events are left out */
    size_t dflen;
    tide_log_record *buf;
    size_t n, capbuf;
    bool stopped, listening;
};

static void copy_str(char *to, size_t n, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len >= n)
        len = n - 1;
    memcpy(to, s ? s : "", len);
    to[len] = 0;
}

static void on_event(const tide_log_event *e, void *ctx)
{
    struct logsrc *ls = ctx;
    if (e->name && strncmp(e->name, ls->df, ls->dflen) == 0 &&
        (e->name[ls->dflen] == '/' || e->name[ls->dflen] == 0))
        return;
    tide__reserve(&ls->buf, &ls->capbuf, ls->n + 1, sizeof *ls->buf);
    tide_log_record *r = &ls->buf[ls->n++];
    *r = (tide_log_record){ .kind = (uint32_t)e->kind, .worker = (uint32_t)e->worker,
                            .start_ns = e->start_ns, .dur_ns = e->dur_ns,
                            .records = e->records, .bytes = e->bytes, .message = e->message,
                            .peer = (uint32_t)e->peer, .op = e->op, .port = e->port,
                            .target_op = e->target_op, .target_port = e->target_port,
                            .inputs = e->inputs, .outputs = e->outputs,
                            .channel = e->channel };
    copy_str(r->name, sizeof r->name, e->name);
    if (ls->op->df->built)
        tide_op_activate(ls->op);
}

static void on_stop(void *ctx)
{
    struct logsrc *ls = ctx;
    ls->listening = false;
    ls->stopped = true;
    if (ls->op && ls->op->df->built)
        tide_op_activate(ls->op);
}

static void run(tide_op *op, void *state)
{
    struct logsrc *ls = state;
    if (!ls->cap)
        return;
    uint64_t ms = (tide__now_ns() - ls->w->alloc->shared->clock_origin_ns) / 1000000u;
    if (ms > tide_cap_epoch(ls->cap)) {
        tide_time t = tide_time_root(ms);
        tide_cap_downgrade(ls->cap, &t);
    }
    if (ls->n) {
        tide_session_give_n(tide_op_session(op, 0, ls->cap), ls->buf, ls->n);
        ls->n = 0;
    }
    if (ls->stopped)
        tide_cap_drop(&ls->cap);
}

static void free_src(void *state)
{
    struct logsrc *ls = state;
    ls->op = NULL; /* going with its dataflow */
    if (ls->listening) /* the dataflow went first: the callback must not outlive it */
        tide_worker_log(ls->w, 0, NULL, NULL);
    tide_cap_drop(&ls->cap);
    free(ls->buf);
    free(ls);
}

tide_stream *tide_log_stream(tide_scope *root, unsigned kinds)
{
    if (tide_scope_depth(root) != 1)
        tide__fatal("tide_log_stream: give a dataflow's root scope (this one is nested %u "
                    "deep)", tide_scope_depth(root) - 1);
    struct logsrc *ls = calloc(1, sizeof *ls);
    if (!ls)
        tide__fatal("out of memory making a log stream");
    ls->w = tide_scope_worker(root);
    tide_stream *s = tide_source(root, "Log", &tide_log_record_type, run, ls, free_src,
                                 &ls->cap);
    ls->op = tide_stream_op(s);
    ls->df = ls->op->df->name;
    ls->dflen = strlen(ls->df);
    tide_worker_log(ls->w, kinds, on_event, ls);
    tide__log_on_stop(ls->w, on_stop);
    ls->listening = true;
    return s;
}
