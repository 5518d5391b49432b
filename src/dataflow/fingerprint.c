/* SPDX-License-Identifier: MIT */
/*
 * Every worker must build the same dataflows: channels and progress locations are matched
 * by the order of creation. A worker that builds another graph used to surface as a
 * progress update for a location the graph does not have, or as a hang. So each dataflow's
 * shape is hashed when it is built, and the hashes ride in the dataflow's first progress
 * batch, on a scope index no scope has: every worker compares every worker's hash with its
 * own, and worker 0 also sends the hash of each prefix of its operator list, from which a
 * worker that differs names the first operator where it does. A worker's first batch holds
 * its fingerprint before any of its other updates, so a mismatch is caught before those
 * updates are applied.
 */
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

#define FP_SCOPE ((uint64_t)TIDE__MAX_SCOPES) /* beyond every real scope index */
#define FP_PREFIX (UINT64_C(1) << 40)         /* key bit: worker 0's per-operator hashes */

static uint64_t mix(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        h = (h ^ (v & 0xff)) * UINT64_C(1099511628211);
    return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return mix(h, 0);
}

/* An operator's own shape: where it is, its name, its ports' types and pacts, and the
 * edges that reach its inputs. */
static uint64_t op_hash(uint64_t h, const tide_op *op)
{
    const tide_scope *s = op->scope;
    h = mix(mix(mix(h, s->index), op->node), (uint64_t)op->nin << 32 | op->nout);
    h = mix_str(h, op->name);
    for (uint32_t i = 0; i < op->nin; i++)
        h = mix(mix(h, tide__type_tag(op->in[i].type)), tide__exchanges(&op->in[i].pact));
    for (uint32_t o = 0; o < op->nout; o++)
        h = mix(h, tide__type_tag(op->out[o].type));
    for (size_t e = 0; e < s->nedges; e++)
        if (s->edges[e].to == op->node)
            h = mix(mix(mix(h, s->edges[e].from), s->edges[e].out), s->edges[e].in);
    return h;
}

void tide__fingerprint_send(tide_dataflow *df)
{
    tide_worker *w = df->w;
    uint64_t h = UINT64_C(14695981039346656037);
    bool zero = w->index == 0;
    if (!(df->fp_prefix = malloc((df->nops ? df->nops : 1) * sizeof *df->fp_prefix)))
        tide__fatal("dataflow '%s': out of memory", df->name);
    for (uint32_t k = 0; k < df->nops; k++) {
        h = op_hash(h, df->ops[k]);
        df->fp_prefix[k] = h;
        if (zero) {
            tide_time t = { .depth = 2, .c = { h, k } };
            tide__update(df, FP_SCOPE << TIDE__SCOPE_SHIFT | FP_PREFIX | k, &t, 1);
        }
    }
    /* Everything else: every scope's nodes and edges, in order. */
    for (uint32_t i = 0; i < df->nscopes; i++) {
        const tide_scope *s = df->scopes[i];
        h = mix(mix(h, s->nnodes), s->nedges);
        for (uint32_t n = 0; n < s->nnodes; n++)
            h = mix_str(mix(h, (uint64_t)s->nodes[n].kind), s->nodes[n].name);
        for (size_t e = 0; e < s->nedges; e++)
            h = mix(mix(mix(mix(h, s->edges[e].from), s->edges[e].out), s->edges[e].to),
                    s->edges[e].in);
    }
    df->fp_full = h;
    tide_time t = { .depth = 2, .c = { h, df->nops } };
    tide__update(df, FP_SCOPE << TIDE__SCOPE_SHIFT | w->index, &t, 1);
}

static _Noreturn void differs(const tide_dataflow *df, uint64_t worker, uint64_t nops)
{
    tide__fatal("dataflow '%s' differs between workers: worker %llu built it with %llu "
                "operators, worker %zu with %u, and their operators or connections differ "
                "(every worker must build the same dataflows, in the same order)", df->name,
                (unsigned long long)worker, (unsigned long long)nops, df->w->index, df->nops);
}

/* Worker @p other's hash of its first k + 1 operators against ours. */
static void check_prefix(const tide_dataflow *df, uint64_t other, uint64_t k, uint64_t hash)
{
    if (k < df->nops && df->fp_prefix[k] == hash)
        return;
    if (k >= df->nops)
        tide__fatal("dataflow '%s' differs between workers: worker %llu has more than the %u "
                    "operators worker %zu built", df->name, (unsigned long long)other,
                    df->nops, df->w->index);
    const tide_op *op = df->ops[k];
    tide__fatal("dataflow '%s' differs between workers: operator %llu ('%s', %u inputs, %u "
                "outputs, in scope '%s') on worker %zu is not what worker %llu has there (its "
                "name, ports, record types, pacts or inputs differ)", df->name,
                (unsigned long long)k, op->name, op->nin, op->nout, op->scope->name,
                df->w->index, (unsigned long long)other);
}

void tide__fingerprint_differs(const tide_dataflow *df, size_t other, uint32_t nops,
                               const uint64_t *prefix)
{
    for (uint32_t k = 0; prefix && k < nops; k++)
        check_prefix(df, other, k, prefix[k]);
    differs(df, other, nops);
}

void tide__fingerprint_check(tide_dataflow *df, const tide_change *c, size_t n,
                             size_t *pending)
{
    /* Per-operator hashes first: they give the precise message when both kinds differ. */
    for (size_t i = 0; i < n; i++)
        if (c[i].key >> TIDE__SCOPE_SHIFT == FP_SCOPE && c[i].key & FP_PREFIX)
            check_prefix(df, 0, c[i].key & (FP_PREFIX - 1), c[i].time.c[0]);
    for (size_t i = 0; i < n; i++) {
        if (c[i].key >> TIDE__SCOPE_SHIFT != FP_SCOPE || c[i].key & FP_PREFIX)
            continue;
        uint64_t worker = c[i].key & (FP_PREFIX - 1);
        if (c[i].time.c[0] != df->fp_full || c[i].time.c[1] != df->nops)
            differs(df, worker, c[i].time.c[1]);
        if (*pending && --*pending == 0) {
            free(df->fp_prefix); /* every worker's agrees: nothing more to compare */
            df->fp_prefix = NULL;
        }
    }
}

bool tide__fingerprint_key(uint64_t key) { return key >> TIDE__SCOPE_SHIFT == FP_SCOPE; }
