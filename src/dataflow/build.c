/* SPDX-License-Identifier: MIT */
/*
 * Building dataflows: scopes, streams, operators and their connections, then (at
 * tide_dataflow_end) the progress graphs of every scope and the physical routes from each
 * output to the inputs it reaches.
 *
 * Entering and leaving scopes and going around loops are not operators here: they are
 * nodes of the progress graphs only (scope nodes and feedback nodes), and records jump
 * straight from the producing operator to every consuming one, their time transformed on
 * the way. A record in flight is counted at the input that will consume it, in that
 * input's scope, which is what that scope's tracker needs; the parent learns of it through
 * what the scope reports at its outputs.
 */
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

static char *dupstr(const char *s)
{
    char *d = strdup(s ? s : "?");
    if (!d)
        tide__fatal("out of memory building a dataflow");
    return d;
}

static void *zalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        tide__fatal("out of memory building a dataflow");
    return p;
}

/* Graphs are fixed once their scope (or the dataflow) is ended. */
static void check_building(const tide_scope *s, const char *what)
{
    if (s->df->built)
        tide__fatal("dataflow '%s': %s after tide_dataflow_end()", s->df->name, what);
    if (s->ended)
        tide__fatal("dataflow '%s': %s in scope '%s' after tide_scope_end()", s->df->name, what,
                    s->name);
}

static uint32_t add_node(tide_scope *s, int kind, void *ptr, const char *name)
{
    if (s->nnodes + 1 >= TIDE__MAX_NODES)
        tide__fatal("dataflow '%s': too many operators in scope '%s'", s->df->name, s->name);
    size_t cap = s->capnodes;
    tide__reserve(&s->nodes, &cap, s->nnodes + 1, sizeof *s->nodes);
    s->capnodes = (uint32_t)cap;
    s->nodes[s->nnodes] = (struct tide__node){ kind, ptr, dupstr(name) };
    return s->nnodes++;
}

static void add_edge(tide_scope *s, uint32_t from, uint32_t out, uint32_t to, uint32_t in)
{
    size_t cap = s->capedges;
    tide__reserve(&s->edges, &cap, s->nedges + 1, sizeof *s->edges);
    s->capedges = cap;
    s->edges[s->nedges++] = (struct tide__edge){ from, out, to, in };
}

static tide_scope *scope_new(tide_dataflow *df, tide_scope *parent, const char *name)
{
    if (df->nscopes == TIDE__MAX_SCOPES)
        tide__fatal("dataflow '%s': more than %d scopes", df->name, TIDE__MAX_SCOPES);
    tide_scope *s = zalloc(1, sizeof *s);
    s->df = df;
    s->parent = parent;
    s->depth = parent ? parent->depth + 1 : 1;
    s->name = dupstr(name);
    s->index = df->nscopes;
    size_t cap = df->capscopes;
    tide__reserve(&df->scopes, &cap, df->nscopes + 1, sizeof *df->scopes);
    df->capscopes = (uint32_t)cap;
    df->scopes[df->nscopes++] = s;
    add_node(s, NODE_BOUNDARY, NULL, name);
    return s;
}

tide_scope *tide_dataflow_begin(tide_worker *w, const char *name)
{
    tide_dataflow *df = zalloc(1, sizeof *df);
    df->w = w;
    df->name = dupstr(name);
    df->id = w->next_id++;
    tide_change_batch_init(&df->local);
    /* Created first, so that every worker's progress channel has the same place among
     * the channels whatever the operators allocate. */
    if (w->peers > 1 && !(df->pc = tide_progcaster_new(w->alloc, TIDE_PROGCAST_PER_RANK)))
        tide__fatal("dataflow '%s': cannot allocate its progress channel", df->name);
    if (df->pc && w->demand)
        tide_progcaster_set_demand(df->pc, tide__progress_must_send, df); /* the default */
    df->next_unbuilt = w->unbuilt;
    w->unbuilt = df;
    return scope_new(df, NULL, name);
}

tide_scope *tide_scope_begin(tide_scope *parent, const char *name)
{
    check_building(parent, "tide_scope_begin");
    if (parent->depth >= TIDE_TIME_MAX_DEPTH)
        tide__fatal("dataflow '%s': scope '%s' would nest deeper than %d levels",
                    parent->df->name, name, TIDE_TIME_MAX_DEPTH - 1);
    tide_scope *s = scope_new(parent->df, parent, name);
    s->node_in_parent = add_node(parent, NODE_SCOPE, s, name);
    return s;
}

void tide_scope_end(tide_scope *scope)
{
    scope->ended = true;
}

tide_worker *tide_scope_worker(const tide_scope *scope) { return scope->df->w; }
uint32_t tide_scope_depth(const tide_scope *scope) { return scope->depth; }
tide_scope *tide_stream_scope(const tide_stream *s) { return s->scope; }
const tide_type *tide_stream_type(const tide_stream *s) { return s->type; }
tide_op *tide_stream_op(const tide_stream *s) { return s->op; }

tide_stream *tide__stream_new(tide_scope *s, uint32_t node, uint32_t port,
                              const tide_type *type, tide_op *op, const char *name)
{
    if (!type->size && type->value_size > TIDE_VALUE_MAX)
        tide__fatal("dataflow '%s': stream '%s' has type '%s', whose decoded values take %zu "
                    "bytes: the operators decode into TIDE_VALUE_MAX (%d) bytes; keep the "
                    "value a view (a pointer and a length) into the encoded bytes",
                    s->df->name, name, type->name, type->value_size, TIDE_VALUE_MAX);
    tide_stream *st = zalloc(1, sizeof *st);
    *st = (tide_stream){ s, node, port, type, op, name, s->df->streams };
    s->df->streams = st;
    return st;
}

tide_stream *tide_enter(tide_scope *inner, tide_stream *s)
{
    check_building(inner, "tide_enter");
    if (!inner->parent || s->scope != inner->parent)
        tide__fatal("dataflow '%s': tide_enter of the stream from '%s' into scope '%s', "
                    "which is not a scope directly inside the stream's scope '%s'",
                    inner->df->name, s->name, inner->name, s->scope->name);
    uint32_t port = inner->ninputs++;
    add_edge(s->scope, s->node, s->port, inner->node_in_parent, port);
    return tide__stream_new(inner, 0, port, s->type, NULL, s->name);
}

tide_stream *tide_leave(tide_stream *s)
{
    tide_scope *inner = s->scope;
    check_building(inner->parent ? inner->parent : inner, "tide_leave");
    if (!inner->parent)
        tide__fatal("dataflow '%s': tide_leave of the stream from '%s', which is in the root "
                    "scope", inner->df->name, s->name);
    uint32_t port = inner->noutputs++;
    add_edge(inner, s->node, s->port, 0, port);
    return tide__stream_new(inner->parent, inner->node_in_parent, port, s->type, NULL, s->name);
}

tide_stream *tide_loop_variable(tide_scope *scope, uint64_t step, const tide_type *type,
                                tide_loop **loop)
{
    check_building(scope, "tide_loop_variable");
    tide_loop *l = zalloc(1, sizeof *l);
    l->scope = scope;
    l->type = type;
    snprintf(l->name, sizeof l->name, "loop variable %u", scope->nnodes);
    l->step = step;
    l->node = add_node(scope, NODE_FEEDBACK, l, l->name);
    *loop = l;
    return tide__stream_new(scope, l->node, 0, type, NULL, l->name);
}

void tide_loop_connect(tide_loop *loop, tide_stream *s)
{
    tide_scope *scope = loop->scope;
    check_building(scope, "tide_loop_connect");
    if (loop->connected)
        tide__fatal("dataflow '%s': %s connected twice", scope->df->name, loop->name);
    if (s->scope != scope)
        tide__fatal("dataflow '%s': %s is connected to the stream from '%s' of scope '%s' "
                    "(use tide_enter/tide_leave to move streams between scopes)",
                    scope->df->name, loop->name, s->name, s->scope->name);
    tide_stream_expect(s, loop->type, loop->name);
    loop->connected = true;
    add_edge(scope, s->node, s->port, loop->node, 0);
}

void tide_stream_expect(const tide_stream *s, const tide_type *type, const char *consumer)
{
    if (!tide_type_equal(s->type, type))
        tide__fatal("dataflow '%s': type mismatch: '%s' produces %s records but '%s' expects "
                    "%s records", s->scope->df->name, s->name, s->type->name, consumer,
                    type->name);
}

tide_op *tide__op_new(tide_scope *s, const char *name, uint32_t nin, uint32_t nout)
{
    tide_dataflow *df = s->df;
    check_building(s, "adding an operator");
    tide_op *op = zalloc(1, sizeof *op);
    op->df = df;
    op->scope = s;
    op->name = dupstr(name);
    op->trace_id = TIDE__NO_TRACE_ID; /* named when its dataflow is built, if traced */
    op->nin = nin;
    op->nout = nout;
    op->in = zalloc(nin, sizeof *op->in);
    op->out = zalloc(nout, sizeof *op->out);
    op->node = add_node(s, NODE_OP, op, name);
    op->id = df->nops;
    size_t cap = df->capops;
    tide__reserve(&df->ops, &cap, df->nops + 1, sizeof *df->ops);
    df->capops = (uint32_t)cap;
    df->ops[df->nops++] = op;
    for (uint32_t o = 0; o < nout; o++) {
        op->out[o].key = tide__key(s->index, op->node, o, true);
        op->out[o].session = (struct tide_session){ .op = op, .port = o };
    }
    return op;
}

void tide__op_connect(tide_op *op, uint32_t port, tide_stream *s, tide_pact pact)
{
    tide_dataflow *df = op->df;
    if (s->scope != op->scope)
        tide__fatal("dataflow '%s': operator '%s' (scope '%s') reads the stream from '%s' of "
                    "scope '%s': use tide_enter/tide_leave to move streams between scopes",
                    df->name, op->name, op->scope->name, s->name, s->scope->name);
    struct tide__in *in = &op->in[port];
    size_t reads = pact.hash == tide_hash_u64 ? 8 : pact.hash == tide_hash_u32 ? 4 : 0;
    if (reads && !pact.hash_batch && s->type->size && s->type->size < reads)
        tide__fatal("dataflow '%s': operator '%s' input %u exchanges %s records of %zu bytes "
                    "by tide_hash_u%zu, which reads %zu", df->name, op->name, port,
                    s->type->name, s->type->size, 8 * reads, reads);
    if (pact.hash_batch && !pact.hash && !s->type->size)
        tide__fatal("dataflow '%s': operator '%s' input %u exchanges %s records by a batch "
                    "hash, which needs fixed-size records: give a per-record hash "
                    "(TIDE_EXCHANGE, or both in one tide_pact)",
                    df->name, op->name, port, s->type->name);
    in->type = s->type;
    in->pact = pact;
    in->key = tide__key(op->scope->index, op->node, port, false);
    add_edge(op->scope, s->node, s->port, op->node, port);
    if (tide__exchanges(&pact) && df->w->peers > 1) {
        int rc = tide_allocator_allocate_lazy(df->w->alloc, s->type, &in->pull);
        if (rc < 0)
            tide__fatal("dataflow '%s': operator '%s' input %u: cannot allocate its exchange "
                        "channel: %s", df->name, op->name, port, tide_strerror(rc));
        in->chan = rc;
        bool listed = false;
        for (uint32_t i = 0; i < df->nexchange; i++)
            listed |= df->exchange_ops[i] == op;
        if (!listed) {
            size_t cap = df->nexchange;
            tide__reserve(&df->exchange_ops, &cap, df->nexchange + 1, sizeof *df->exchange_ops);
            df->exchange_ops[df->nexchange++] = op;
        }
    }
}

/* ---------------------------------------------------------------- the general builder */

struct tide_builder {
    tide_op *op;
};

tide_builder *tide_builder_new(tide_scope *scope, const char *name)
{
    tide_builder *b = zalloc(1, sizeof *b);
    b->op = tide__op_new(scope, name, 0, 0);
    b->op->watch = true;
    return b;
}

uint32_t tide_builder_input(tide_builder *b, tide_stream *s, tide_pact pact)
{
    tide_op *op = b->op;
    struct tide__in *in = realloc(op->in, (op->nin + 1) * sizeof *in);
    if (!in)
        tide__fatal("out of memory building a dataflow");
    op->in = in;
    memset(&op->in[op->nin], 0, sizeof *in);
    tide__op_connect(op, op->nin, s, pact);
    return op->nin++;
}

tide_stream *tide_builder_output(tide_builder *b, const tide_type *type)
{
    tide_op *op = b->op;
    struct tide__out *out = realloc(op->out, (op->nout + 1) * sizeof *out);
    if (!out)
        tide__fatal("out of memory building a dataflow");
    op->out = out;
    uint32_t o = op->nout++;
    memset(&op->out[o], 0, sizeof *out);
    op->out[o].type = type;
    op->out[o].key = tide__key(op->scope->index, op->node, o, true);
    op->out[o].session = (struct tide_session){ .op = op, .port = o };
    return tide__stream_new(op->scope, op->node, o, type, op, op->name);
}

void tide_builder_summary(tide_builder *b, uint32_t in, uint32_t out, const tide_summary *s)
{
    tide_op *op = b->op;
    if (s && s->depth != op->scope->depth)
        tide__fatal("operator '%s': a summary of depth %u in a scope of depth %u", op->name,
                    s->depth, op->scope->depth);
    size_t cap = op->nsums;
    tide__reserve(&op->sums, &cap, op->nsums + 1, sizeof *op->sums);
    op->sums[op->nsums++] = (struct tide__sum){ in, out, s == NULL,
                                                s ? *s : tide_summary_identity(1) };
}

void tide_builder_frontier(tide_builder *b, bool watch) { b->op->watch = watch; }

tide_op *tide_builder_build(tide_builder *b, tide_logic_fn logic, void *state,
                            tide_free_fn free_state, tide_cap **initial)
{
    tide_op *op = b->op;
    free(b);
    op->logic = logic;
    op->state = state;
    op->free_state = free_state;
    op->built = true;
    /* Every worker counts every worker's initial capability when the dataflow is
     * installed; this worker's share is either handed out or released here. */
    tide_time zero = { .depth = op->scope->depth };
    if (initial && op->nout)
        *initial = tide__cap_handle(tide__cap_new(op, &zero));
    else {
        if (initial)
            *initial = NULL;
        for (uint32_t o = 0; o < op->nout; o++)
            tide__update(op->df, op->out[o].key, &zero, -1);
    }
    return op;
}

/* ---------------------------------------------------------------- installing */

static void xf_push(struct tide__xform *x, int kind, const tide_summary *s, const char *why)
{
    if (kind == XF_LEAVE && x->n && x->kind[x->n - 1] == XF_ENTER) {
        x->n--; /* in and straight out again */
        return;
    }
    if (kind == XF_STEP && x->n && x->kind[x->n - 1] == XF_STEP &&
        tide_summary_then(&x->step[x->n - 1], s, &x->step[x->n - 1]))
        return;
    if (x->n == TIDE__MAX_XF)
        tide__fatal("%s: a path through more than %d scopes and loops", why, TIDE__MAX_XF);
    x->kind[x->n] = (uint8_t)kind;
    if (s)
        x->step[x->n] = *s;
    x->n++;
}

bool tide__xform_apply(const struct tide__xform *x, const tide_time *in, tide_time *out)
{
    tide_time t = *in;
    for (uint32_t i = 0; i < x->n; i++) {
        switch (x->kind[i]) {
        case XF_ENTER: t = tide_time_enter(&t); break;
        case XF_LEAVE: t = tide_time_leave(&t); break;
        default:
            if (!tide_summary_apply(&x->step[i], &t, &t))
                return false;
        }
    }
    *out = t;
    return true;
}

/* Follows the progress graph from output (node, port) of scope @p s through scopes and
 * loops to the operator inputs it reaches. */
static void route(tide_op *op, uint32_t o, tide_scope *s, uint32_t node, uint32_t port,
                  struct tide__xform xf, unsigned hops)
{
    if (hops > 64)
        tide__fatal("dataflow '%s': the output of '%s' goes round loops that reach no "
                    "operator", s->df->name, op->name);
    for (size_t e = 0; e < s->nedges; e++) {
        const struct tide__edge *ed = &s->edges[e];
        if (ed->from != node || ed->out != port)
            continue;
        struct tide__node *n = &s->nodes[ed->to];
        struct tide__xform x = xf;
        if (n->kind == NODE_OP) {
            struct tide__out *out = &op->out[o];
            size_t cap = out->ntargets;
            tide__reserve(&out->targets, &cap, out->ntargets + 1, sizeof *out->targets);
            out->targets[out->ntargets++] = (struct tide__target){
                .op = n->ptr, .port = ed->in, .key = tide__key(s->index, ed->to, ed->in, false),
                .xf = xf };
        } else if (n->kind == NODE_FEEDBACK) {
            const tide_loop *l = n->ptr;
            tide_summary fb = tide_summary_feedback(s->depth, l->step);
            xf_push(&x, XF_STEP, &fb, op->name);
            route(op, o, s, ed->to, 0, x, hops + 1);
        } else if (n->kind == NODE_SCOPE) {
            xf_push(&x, XF_ENTER, NULL, op->name);
            route(op, o, n->ptr, 0, ed->in, x, hops + 1);
        } else {
            xf_push(&x, XF_LEAVE, NULL, op->name);
            route(op, o, s->parent, s->node_in_parent, ed->in, x, hops + 1);
        }
    }
}

static void node_ports(const tide_scope *s, uint32_t i, uint32_t *nin, uint32_t *nout)
{
    const struct tide__node *n = &s->nodes[i];
    switch (n->kind) {
    case NODE_BOUNDARY: *nin = s->noutputs; *nout = s->ninputs; break;
    case NODE_OP: *nin = ((tide_op *)n->ptr)->nin; *nout = ((tide_op *)n->ptr)->nout; break;
    case NODE_SCOPE:
        *nin = ((tide_scope *)n->ptr)->ninputs;
        *nout = ((tide_scope *)n->ptr)->noutputs;
        break;
    default: *nin = *nout = 1;
    }
}

static void add_summaries(tide_graph *g, const tide_scope *s, uint32_t i,
                          tide_tracker *const *internal)
{
    const struct tide__node *n = &s->nodes[i];
    uint32_t nin, nout;
    node_ports(s, i, &nin, &nout);
    if (n->kind == NODE_FEEDBACK) {
        tide_summary fb = tide_summary_feedback(s->depth, ((tide_loop *)n->ptr)->step);
        tide_graph_add_summary(g, i, 0, 0, &fb);
    } else if (n->kind == NODE_SCOPE) {
        const tide_scope *c = n->ptr;
        tide_summary buf[16];
        for (uint32_t a = 0; a < nin; a++)
            for (uint32_t b = 0; b < nout; b++) {
                size_t k = tide_tracker_scope_summaries(internal[c->index], a, b, buf, 16);
                for (size_t j = 0; j < k && j < 16; j++)
                    tide_graph_add_summary(g, i, a, b, &buf[j]);
            }
    } else if (n->kind == NODE_OP) {
        const tide_op *op = n->ptr;
        tide_summary id = tide_summary_identity(s->depth);
        for (uint32_t a = 0; a < nin; a++)
            for (uint32_t b = 0; b < nout; b++) {
                const struct tide__sum *found = NULL;
                for (size_t k = 0; k < op->nsums; k++)
                    if (op->sums[k].in == a && op->sums[k].out == b) {
                        found = &op->sums[k];
                        if (!found->none)
                            tide_graph_add_summary(g, i, a, b, &found->s);
                    }
                if (!found)
                    tide_graph_add_summary(g, i, a, b, &id);
            }
    }
}

/* Numbers the scope's locations (every worker: its operators' keys use them). */
static void number_scope(tide_scope *s)
{
    s->tbase = zalloc(s->nnodes, sizeof *s->tbase);
    s->sbase = zalloc(s->nnodes, sizeof *s->sbase);
    uint32_t nt = 0, ns = 0;
    for (uint32_t i = 0; i < s->nnodes; i++) {
        uint32_t nin, nout;
        node_ports(s, i, &nin, &nout);
        if (s->nodes[i].kind == NODE_OP && !((tide_op *)s->nodes[i].ptr)->built)
            tide__fatal("dataflow '%s': operator '%s' was never built (tide_builder_build)",
                        s->df->name, s->nodes[i].name);
        if (s->nodes[i].kind == NODE_FEEDBACK && !((tide_loop *)s->nodes[i].ptr)->connected)
            tide__fatal("dataflow '%s': %s is never connected (tide_loop_connect)",
                        s->df->name, s->nodes[i].name);
        s->tbase[i] = nt;
        s->sbase[i] = ns;
        nt += nin;
        ns += nout;
    }
    s->ntargets = nt;
    s->nlocs = nt + ns;
}

/* The scope's progress graph, for the rank's first worker to make the trackers from. */
static tide_graph *scope_graph(tide_scope *s, tide_tracker *const *internal)
{
    tide_graph *g = tide_graph_new(s->depth);
    if (!g)
        tide__fatal("out of memory building a dataflow");
    for (uint32_t i = 0; i < s->nnodes; i++) {
        uint32_t nin, nout;
        node_ports(s, i, &nin, &nout);
        if (tide_graph_add_node(g, s->nodes[i].name, nin, nout) < 0)
            tide__fatal("out of memory building a dataflow");
    }
    for (uint32_t i = 0; i < s->nnodes; i++)
        add_summaries(g, s, i, internal);
    for (size_t e = 0; e < s->nedges; e++)
        tide_graph_add_edge(g, s->edges[e].from, s->edges[e].out, s->edges[e].to,
                            s->edges[e].in);
    return g;
}

void tide__scope_hide(tide_scope *root)
{
    root->df->hidden = true;
}

tide_dataflow *tide_dataflow_end(tide_scope *root)
{
    tide_dataflow *df = root->df;
    check_building(root, "tide_dataflow_end");
    if (root->parent)
        tide__fatal("dataflow '%s': tide_dataflow_end on scope '%s', which is not the "
                    "dataflow's root (end nested scopes with tide_scope_end)", df->name,
                    root->name);
    for (uint32_t i = 0; i < df->nscopes; i++)
        number_scope(df->scopes[i]);
    for (uint32_t k = 0; k < df->nops; k++)
        for (uint32_t o = 0; o < df->ops[k]->nout; o++)
            route(df->ops[k], o, df->ops[k]->scope, df->ops[k]->node, o,
                  (struct tide__xform){ 0 }, 0);
    df->built = true;
    tide__dot_write(df);
    if (df->w->trace)
        tide__trace_dataflow(df);
    if (df->pc)
        tide__fingerprint_send(df);
    tide__progress_install(df, scope_graph);
    tide_worker *w = df->w;
    for (tide_dataflow **at = &w->unbuilt; *at; at = &(*at)->next_unbuilt)
        if (*at == df) {
            *at = df->next_unbuilt;
            break;
        }
    tide__reserve(&w->dfs, &w->capdfs, w->ndfs + 1, sizeof *w->dfs);
    w->dfs[w->ndfs++] = df;
    for (uint32_t k = 0; k < df->nops; k++)
        tide__activate(df->ops[k]); /* everyone runs once */
    return df;
}

void tide__dataflow_free(tide_dataflow *df)
{
    df->dropping = true;
    for (uint32_t k = 0; k < df->nops; k++)
        if (df->ops[k]->free_state)
            df->ops[k]->free_state(df->ops[k]->state);
    tide__cap_forget(df); /* what the program still held (a dropped dataflow) */
    for (uint32_t k = 0; k < df->nops; k++)
        tide__op_free(df->ops[k]);
    for (uint32_t i = 0; i < df->nscopes; i++) {
        tide_scope *s = df->scopes[i];
        for (uint32_t n = 0; n < s->nnodes; n++) {
            if (s->nodes[n].kind == NODE_FEEDBACK)
                free(s->nodes[n].ptr);
            free(s->nodes[n].name);
        }
        free(s->nodes);
        free(s->edges);
        free(s->tbase);
        free(s->sbase);
        free(s->name);
        free(s);
    }
    for (tide_stream *st = df->streams, *next; st; st = next) {
        next = st->next_alloc;
        free(st);
    }
    free(df->scopes);
    free(df->ops);
    free(df->exchange_ops);
    free(df->dirty);
    tide__progress_leave(df);
    tide_progcaster_free(df->pc);
    free(df->fp_prefix);
    free(df->told);
    tide_change_batch_free(&df->local);
    free(df->name);
    free(df);
}
