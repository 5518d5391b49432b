/* SPDX-License-Identifier: MIT */
/* What a worker waits for: its operators' input frontiers, the capabilities held and by
 * whom, pending notifications, records queued, open inputs and probes. Written for a person
 * looking at a job that does not finish (--watch, SIGUSR1, tide_worker_report). */
#include <stdio.h>
#include <stdlib.h>

#include "dataflow_internal.h"

/* Times shown per operator and operators per dataflow: a report is read, not parsed. */
#define SHOW_TIMES 4
#define SHOW_OPS 64

static void put_time(FILE *out, const tide_time *t)
{
    char buf[256];
    tide_time_format(t, buf, sizeof buf);
    fputs(buf, out);
}

void tide__put_antichain(FILE *out, const tide_antichain *a)
{
    fputc('{', out);
    for (size_t i = 0; a && i < a->len; i++) {
        if (i)
            fputs(", ", out);
        put_time(out, &a->elems[i]);
    }
    fputc('}', out);
}

static size_t queued_records(const struct tide__fifo *f)
{
    size_t n = 0;
    for (const tide_batch *b = f->head; b; b = b->next)
        n += tide_batch_len(b);
    return n;
}

/* An owned capability slot of @p w, by position (NULL past the end or when not owned). */
static tide_cap *owned_slot(tide_worker *w, size_t i)
{
    tide_cap *c = (tide_cap *)w->cap_blocks[i / TIDE__CAP_BLOCK] + i % TIDE__CAP_BLOCK;
    return c->kind == CAP_OWNED ? c : NULL;
}

static const char *holder(const tide_op *op, const tide_input *in)
{
    if (in)
        return "its input handle";
    if (!op->logic)
        return "the program (an unordered input's or a builder's capability: drop it with "
               "tide_cap_drop)";
    return "its logic";
}

/* The input handle of @p op, if the operator is one. */
static const tide_input *input_of(const tide_worker *w, const tide_op *op)
{
    for (const tide_input *in = w->inputs; in; in = in->next)
        if (in->op == op)
            return in;
    return NULL;
}

/* The separator before an item of an operator's line. */
static const char *item(bool *first)
{
    const char *sep = *first ? ": " : "; ";
    *first = false;
    return sep;
}

/* One operator's line: what it waits for and what it holds. False when there is nothing
 * to say (no frontier at its inputs, nothing held or queued). */
static bool report_op(FILE *out, tide_worker *w, tide_op *op, size_t nslots)
{
    size_t held = 0, notes = 0, batches = 0, records = 0;
    bool waiting = false;
    for (uint32_t i = 0; i < op->nin; i++) {
        const struct tide__in *in = &op->in[i];
        batches += in->queue.count + in->pulled.count;
        records += queued_records(&in->queue) + queued_records(&in->pulled);
        waiting |= in->frontier && in->frontier->len;
    }
    for (size_t i = 0; i < nslots; i++) {
        tide_cap *c = owned_slot(w, i);
        if (c && c->op == op) {
            if (op->notif && tide__notificator_holds(op->notif, c))
                notes++;
            else
                held++;
        }
    }
    if (!held && !notes && !batches && !waiting)
        return false;
    fprintf(out, "    operator '%s' (%u)", op->name, op->id);
    bool first = true;
    for (uint32_t i = 0; i < op->nin; i++) {
        fprintf(out, "%sinput %u frontier ", item(&first), i);
        tide__put_antichain(out, op->in[i].frontier);
    }
    if (batches)
        fprintf(out, "%s%zu records in %zu batches queued", item(&first), records, batches);
    const tide_input *in = input_of(w, op);
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? notes : held, shown = 0;
        if (!n)
            continue;
        if (pass)
            fprintf(out, "%s%zu notification%s pending at", item(&first), n, n > 1 ? "s" : "");
        else
            fprintf(out, "%s%zu capabilit%s held by %s at", item(&first), n,
                    n > 1 ? "ies" : "y", holder(op, in));
        for (size_t i = 0; i < nslots && shown < SHOW_TIMES; i++) {
            tide_cap *c = owned_slot(w, i);
            if (!c || c->op != op ||
                (op->notif && tide__notificator_holds(op->notif, c)) != (pass == 1))
                continue;
            fputs(shown++ ? ", " : " ", out);
            put_time(out, &c->time);
        }
        if (n > shown)
            fputs(", ...", out);
    }
    if (in && !in->closed)
        fprintf(out, "%sinput open at epoch %llu (tide_input_advance_to or tide_input_close "
                     "lets it go)", item(&first), (unsigned long long)in->epoch);
    fputc('\n', out);
    return true;
}

void tide_worker_report(tide_worker *w, FILE *out)
{
    size_t nslots = w->ncap_blocks * TIDE__CAP_BLOCK;
    flockfile(out); /* one block per worker, when several write to one stream */
    fprintf(out, "tide report: worker %zu (rank %zu, thread %zu of %zu): %zu dataflows, %llu "
                 "idle steps in a row\n", w->index, tide_allocator_rank(w->alloc),
            w->alloc->local, w->alloc->nlocal, w->ndfs, (unsigned long long)w->idle);
    for (size_t d = 0; d < w->ndfs; d++) {
        tide_dataflow *df = w->dfs[d];
        fprintf(out, "  dataflow '%s' (number %u), %u operators:\n", df->name, df->id + 1,
                df->nops);
        size_t shown = 0, more = 0;
        for (uint32_t k = 0; k < df->nops; k++) {
            if (shown >= SHOW_OPS) {
                more++;
                continue;
            }
            shown += report_op(out, w, df->ops[k], nslots);
        }
        if (more)
            fprintf(out, "    (%zu more operators not shown)\n", more);
        size_t np = 0; /* probes are listed latest first: number them as they were made */
        for (tide_probe *p = w->probes; p; p = p->next)
            np++;
        for (tide_probe *p = w->probes; p; p = p->next, np--)
            if (p->nops && p->ops[0]->df == df) {
                fprintf(out, "    probe %zu: frontier ", np);
                tide__put_antichain(out, tide_probe_frontier(p));
                fputc('\n', out);
            }
    }
    fflush(out);
    funlockfile(out);
}
