/* SPDX-License-Identifier: MIT */
/* The generic operators (source, sink, unary, binary and their frontier and notify
 * forms), input handles, unordered inputs and probes: all thin layers on the builder. */
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

tide_stream *tide_source(tide_scope *scope, const char *name, const tide_type *type,
                         tide_logic_fn logic, void *state, tide_free_fn free_state,
                         tide_cap **initial)
{
    tide_builder *b = tide_builder_new(scope, name);
    tide_stream *s = tide_builder_output(b, type);
    tide_builder_build(b, logic, state, free_state, initial);
    return s;
}

tide_op *tide_sink(tide_stream *in, tide_pact pact, const char *name, tide_logic_fn logic,
                   void *state, tide_free_fn free_state)
{
    tide_builder *b = tide_builder_new(in->scope, name);
    tide_builder_input(b, in, pact);
    return tide_builder_build(b, logic, state, free_state, NULL);
}

/* The shape every unary and binary operator shares. */
static tide_stream *op_n(tide_stream *const *ins, const tide_pact *pacts, uint32_t n,
                         const char *name, const tide_type *out, tide_logic_fn logic,
                         void *state, tide_free_fn free_state, bool watch,
                         const tide_time *init, size_t ninit, bool notify)
{
    tide_builder *b = tide_builder_new(ins[0]->scope, name);
    for (uint32_t i = 0; i < n; i++)
        tide_builder_input(b, ins[i], pacts[i]);
    tide_stream *s = tide_builder_output(b, out);
    tide_builder_frontier(b, watch);
    tide_cap *cap = NULL;
    tide_op *op = tide_builder_build(b, logic, state, free_state, notify ? &cap : NULL);
    if (notify) {
        op->notif = tide_notificator_new();
        for (size_t i = 0; i < ninit; i++)
            tide_notificator_notify_at(op->notif, tide_cap_delayed(cap, &init[i]));
        tide_cap_drop(&cap);
    }
    return s;
}

tide_stream *tide_unary(tide_stream *in, tide_pact pact, const char *name,
                        const tide_type *out, tide_logic_fn logic, void *state,
                        tide_free_fn free_state)
{
    return op_n(&in, &pact, 1, name, out, logic, state, free_state, false, NULL, 0, false);
}

tide_stream *tide_unary_frontier(tide_stream *in, tide_pact pact, const char *name,
                                 const tide_type *out, tide_logic_fn logic, void *state,
                                 tide_free_fn free_state)
{
    return op_n(&in, &pact, 1, name, out, logic, state, free_state, true, NULL, 0, false);
}

tide_stream *tide_unary_notify(tide_stream *in, tide_pact pact, const char *name,
                               const tide_type *out, tide_logic_fn logic, void *state,
                               tide_free_fn free_state, const tide_time *init, size_t ninit)
{
    return op_n(&in, &pact, 1, name, out, logic, state, free_state, true, init, ninit, true);
}

tide_stream *tide_binary(tide_stream *in0, tide_stream *in1, tide_pact pact0, tide_pact pact1,
                         const char *name, const tide_type *out, tide_logic_fn logic,
                         void *state, tide_free_fn free_state)
{
    tide_stream *ins[2] = { in0, in1 };
    tide_pact pacts[2] = { pact0, pact1 };
    return op_n(ins, pacts, 2, name, out, logic, state, free_state, false, NULL, 0, false);
}

tide_stream *tide_binary_frontier(tide_stream *in0, tide_stream *in1, tide_pact pact0,
                                  tide_pact pact1, const char *name, const tide_type *out,
                                  tide_logic_fn logic, void *state, tide_free_fn free_state)
{
    tide_stream *ins[2] = { in0, in1 };
    tide_pact pacts[2] = { pact0, pact1 };
    return op_n(ins, pacts, 2, name, out, logic, state, free_state, true, NULL, 0, false);
}

tide_stream *tide_binary_notify(tide_stream *in0, tide_stream *in1, tide_pact pact0,
                                tide_pact pact1, const char *name, const tide_type *out,
                                tide_logic_fn logic, void *state, tide_free_fn free_state,
                                const tide_time *init, size_t ninit)
{
    tide_stream *ins[2] = { in0, in1 };
    tide_pact pacts[2] = { pact0, pact1 };
    return op_n(ins, pacts, 2, name, out, logic, state, free_state, true, init, ninit, true);
}

static bool pact_given(const tide_pact *p)
{
    return p->hash || p->hash_batch || p->ctx;
}

tide_stream *tide_operator(const tide_op_desc *d)
{
    const char *name = d->name ? d->name : "Operator";
    uint32_t n = 0;
    while (n < TIDE_OP_MAX_INPUTS && d->in[n])
        n++;
    for (uint32_t i = n; i < TIDE_OP_MAX_INPUTS; i++) {
        if (d->in[i])
            tide__fatal("tide_operator '%s': input %u given after an empty input %u", name,
                        i, n);
        if (pact_given(&d->pact[i]))
            tide__fatal("tide_operator '%s': a pact for port %u, which has no input", name, i);
    }
    if (!d->logic)
        tide__fatal("tide_operator '%s': no logic", name);
    if (!n && !d->scope)
        tide__fatal("tide_operator '%s': no inputs and no scope (a source needs .scope)",
                    name);
    if (n && d->scope && d->scope != d->in[0]->scope)
        tide__fatal("tide_operator '%s': .scope is not the scope of its inputs", name);
    tide_builder *b = tide_builder_new(n ? d->in[0]->scope : d->scope, name);
    for (uint32_t i = 0; i < n; i++)
        tide_builder_input(b, d->in[i], d->pact[i]);
    tide_stream *s = d->out ? tide_builder_output(b, d->out) : NULL;
    bool notify = d->notify || d->nnotify;
    tide_builder_frontier(b, d->frontier || notify);
    tide_cap *cap = NULL;
    tide_op *op = tide_builder_build(b, d->logic, d->state, d->free_state,
                                     notify || d->initial ? &cap : NULL);
    if (notify) {
        op->notif = tide_notificator_new();
        for (size_t i = 0; i < d->nnotify; i++)
            tide_notificator_notify_at(op->notif, tide_cap_delayed(cap, &d->notify_at[i]));
    }
    if (d->initial)
        *d->initial = cap;
    else
        tide_cap_drop(&cap);
    if (d->op)
        *d->op = op;
    return s;
}

/* ---------------------------------------------------------------- inputs */

tide_stream *tide_input_new(tide_scope *root, const tide_type *type, tide_input **handle)
{
    if (root->parent)
        tide__fatal("dataflow '%s': tide_input_new in scope '%s': inputs belong to the "
                    "root scope (enter their streams into nested scopes)", root->df->name,
                    root->name);
    tide_input *in = calloc(1, sizeof *in);
    if (!in)
        tide__fatal("out of memory creating an input");
    tide_builder *b = tide_builder_new(root, "Input");
    tide_stream *s = tide_builder_output(b, type);
    in->op = tide_builder_build(b, NULL, NULL, NULL, &in->cap);
    in->win = &in->op->out[0].session.win;
    tide_worker *w = root->df->w;
    in->next = w->inputs;
    w->inputs = in;
    *handle = in;
    return s;
}

static void check_open(const tide_input *in, const char *what)
{
    if (in->closed)
        tide__fatal("input handle: %s after the input was closed", what);
}

void tide__input_send(tide_input *in, const void *record)
{
    check_open(in, "tide_input_send");
    tide_session_give(tide_op_session(in->op, 0, in->cap), record);
}

void *tide__input_extend(tide_input *in, size_t n)
{
    check_open(in, "tide_input_extend");
    const tide_type *type = in->op->out[0].type;
    if (!type->size)
        tide__fatal("input of dataflow '%s': tide_input_extend on %s records, which have no "
                    "fixed size (send them with tide_input_send)", in->op->df->name,
                    type->name);
    return tide_session_extend(tide_op_session(in->op, 0, in->cap), n);
}

void tide_input_send_batch(tide_input *in, tide_batch **batch)
{
    check_open(in, "tide_input_send_batch");
    tide_session_give_batch(tide_op_session(in->op, 0, in->cap), batch);
}

void tide_input_advance_to(tide_input *in, uint64_t epoch)
{
    check_open(in, "tide_input_advance_to");
    if (epoch < in->epoch)
        tide__fatal("input of dataflow '%s': advance_to(%llu) after advance_to(%llu): "
                    "epochs only move forward", in->op->df->name, (unsigned long long)epoch,
                    (unsigned long long)in->epoch);
    if (epoch == in->epoch)
        return;
    tide__op_flush(in->op);
    tide_time t = tide_time_root(epoch);
    tide_cap_downgrade(in->cap, &t);
    in->epoch = epoch;
}

void tide_input_close(tide_input *in)
{
    if (in->closed)
        return;
    tide__op_flush(in->op);
    tide_cap_drop(&in->cap);
    in->closed = true;
}

uint64_t tide_input_epoch(const tide_input *in) { return in->epoch; }

tide_stream *tide_unordered_input_new(tide_scope *scope, const tide_type *type,
                                      tide_unordered **handle, tide_cap **cap)
{
    tide_builder *b = tide_builder_new(scope, "UnorderedInput");
    tide_stream *s = tide_builder_output(b, type);
    tide_unordered *u = calloc(1, sizeof *u);
    if (!u)
        tide__fatal("out of memory creating an input");
    u->op = tide_builder_build(b, NULL, u, free, cap);
    *handle = u;
    return s;
}

tide_session *tide_unordered_session(tide_unordered *u, const tide_cap *cap)
{
    return tide_op_session(u->op, 0, cap);
}

/* ---------------------------------------------------------------- probes */

static void probe_drain(tide_op *op, void *state)
{
    (void)state;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b))
        ;
}

static void probe_watch(tide_probe *p, tide_stream *s)
{
    tide_op **ops = realloc(p->ops, (p->nops + 1) * sizeof *ops);
    if (!ops)
        tide__fatal("out of memory creating a probe");
    p->ops = ops;
    tide_builder *b = tide_builder_new(s->scope, "Probe");
    tide_builder_input(b, s, TIDE_PIPELINE);
    tide_builder_frontier(b, false);
    tide_op *op = tide_builder_build(b, probe_drain, NULL, NULL, NULL);
    op->in[0].frontier_only = true;
    p->ops[p->nops++] = op;
}

tide_probe *tide_probe_new(tide_stream *s)
{
    tide_probe *p = calloc(1, sizeof *p);
    if (!p)
        tide__fatal("out of memory creating a probe");
    tide_antichain_init(&p->merged);
    probe_watch(p, s);
    tide_worker *w = s->scope->df->w;
    p->next = w->probes;
    w->probes = p;
    return p;
}

tide_stream *tide_probe_with(tide_stream *s, tide_probe *p)
{
    probe_watch(p, s);
    return s;
}

/* A watched input's frontier (NULL until tide_dataflow_end, when the probe knows nothing). */
static const tide_antichain *watched(const tide_op *op)
{
    return op->in[0].frontier;
}

const tide_antichain *tide_probe_frontier(const tide_probe *p)
{
    tide_antichain *m = (tide_antichain *)&p->merged; /* a cache: logically const */
    tide_antichain_clear(m);
    for (size_t i = 0; i < p->nops; i++) {
        const tide_antichain *f = watched(p->ops[i]);
        for (size_t k = 0; f && k < f->len; k++)
            tide_antichain_insert(m, &f->elems[k]);
    }
    return m;
}

bool tide_probe_less_than_time(const tide_probe *p, const tide_time *t)
{
    for (size_t i = 0; i < p->nops; i++) {
        const tide_antichain *f = watched(p->ops[i]);
        if (f && tide_antichain_less_than(f, t))
            return true;
    }
    return false;
}

bool tide_probe_less_equal_time(const tide_probe *p, const tide_time *t)
{
    for (size_t i = 0; i < p->nops; i++) {
        const tide_antichain *f = watched(p->ops[i]);
        if (f && tide_antichain_less_equal(f, t))
            return true;
    }
    return false;
}

bool tide_probe_less_than(const tide_probe *p, uint64_t e)
{
    tide_time t = tide_time_root(e);
    return tide_probe_less_than_time(p, &t);
}

bool tide_probe_less_equal(const tide_probe *p, uint64_t e)
{
    tide_time t = tide_time_root(e);
    return tide_probe_less_equal_time(p, &t);
}

bool tide_probe_done(const tide_probe *p)
{
    for (size_t i = 0; i < p->nops; i++) {
        const tide_antichain *f = watched(p->ops[i]);
        if (f && f->len)
            return false;
    }
    return true;
}
