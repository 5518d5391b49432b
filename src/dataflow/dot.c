/* SPDX-License-Identifier: MIT */
/*
 * --dot FILE: the graph of every dataflow the program builds, in Graphviz's DOT language,
 * written by worker 0 at tide_dataflow_end (every worker builds the same graph; the
 * fingerprint checks that). One digraph per dataflow, appended in the order they are
 * built; `dot -Tsvg -O FILE` renders each.
 *
 * Operators are boxes, loop variables circles, scopes clusters; a nested scope's inputs
 * and outputs are the points where edges cross into and out of its cluster. An edge into
 * an operator says its record type and pact (pipeline or exchange); edges into a loop
 * variable (the feedback) are dashed and say the step.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataflow_internal.h"

/* Writes @p s as a DOT string body (quotes and backslashes escaped). */
static void put_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

/* The DOT node an edge leaves from or goes to: (node, port) of scope @p s; @p into says
 * whether the edge goes into it. */
static void endpoint(FILE *f, const tide_scope *s, uint32_t node, bool into)
{
    const struct tide__node *n = &s->nodes[node];
    if (n->kind == NODE_BOUNDARY) /* this scope's own inputs (leaving) or outputs (entering) */
        fprintf(f, "\"s%u_%s\"", s->index, into ? "out" : "in");
    else if (n->kind == NODE_SCOPE) /* a child scope: its inputs (entering) or outputs */
        fprintf(f, "\"s%u_%s\"", ((const tide_scope *)n->ptr)->index, into ? "in" : "out");
    else
        fprintf(f, "\"s%un%u\"", s->index, node);
}

/* The record type on an edge: its source's output type, looked up through the scope
 * boundaries it crosses (a scope's input has the type of what enters it, a scope's output
 * the type of what leaves it). */
static const tide_type *source_type(const tide_scope *s, uint32_t node, uint32_t port)
{
    const struct tide__node *n = &s->nodes[node];
    if (n->kind == NODE_OP)
        return ((const tide_op *)n->ptr)->out[port].type;
    if (n->kind == NODE_FEEDBACK)
        return ((const struct tide_loop *)n->ptr)->type;
    const tide_scope *at = n->kind == NODE_SCOPE ? n->ptr : s->parent;
    uint32_t to = n->kind == NODE_SCOPE ? 0 : s->node_in_parent;
    for (size_t i = 0; at && i < at->nedges; i++)
        if (at->edges[i].to == to && at->edges[i].in == port)
            return source_type(at, at->edges[i].from, at->edges[i].out);
    return NULL;
}

static void write_scope(FILE *f, const tide_dataflow *df, const tide_scope *s, int indent)
{
    fprintf(f, "%*ssubgraph \"cluster_s%u\" {\n%*s  label=\"", indent, "", s->index, indent, "");
    put_str(f, s->name);
    fprintf(f, "\";\n");
    if (s->parent)
        fprintf(f, "%*s  \"s%u_in\" [shape=point, xlabel=\"in\"];\n"
                   "%*s  \"s%u_out\" [shape=point, xlabel=\"out\"];\n",
                indent, "", s->index, indent, "", s->index);
    for (uint32_t k = 0; k < s->nnodes; k++) {
        const struct tide__node *n = &s->nodes[k];
        if (n->kind == NODE_OP || n->kind == NODE_FEEDBACK) {
            fprintf(f, "%*s  \"s%un%u\" [label=\"", indent, "", s->index, k);
            put_str(f, n->kind == NODE_OP ? ((const tide_op *)n->ptr)->name
                                          : ((const struct tide_loop *)n->ptr)->name);
            fprintf(f, "\"%s];\n", n->kind == NODE_FEEDBACK ? ", shape=circle" : "");
        }
    }
    for (uint32_t i = 0; i < df->nscopes; i++)
        if (df->scopes[i]->parent == s)
            write_scope(f, df, df->scopes[i], indent + 2);
    fprintf(f, "%*s}\n", indent, "");
}

static void write_edges(FILE *f, const tide_scope *s)
{
    for (size_t i = 0; i < s->nedges; i++) {
        const struct tide__edge *e = &s->edges[i];
        const struct tide__node *to = &s->nodes[e->to];
        fprintf(f, "  ");
        endpoint(f, s, e->from, false);
        fprintf(f, " -> ");
        endpoint(f, s, e->to, true);
        const tide_type *type = source_type(s, e->from, e->out);
        fprintf(f, " [label=\"");
        if (type)
            put_str(f, type->name);
        if (to->kind == NODE_OP) {
            const struct tide__in *in = &((const tide_op *)to->ptr)->in[e->in];
            fprintf(f, "%s%s", type ? ", " : "", tide__exchanges(&in->pact) ? "exchange" : "pipeline");
        } else if (to->kind == NODE_FEEDBACK) {
            fprintf(f, "%sloop +%llu", type ? ", " : "",
                    (unsigned long long)((const struct tide_loop *)to->ptr)->step);
        }
        fprintf(f, "\"%s];\n", to->kind == NODE_FEEDBACK ? ", style=dashed" : "");
    }
}

void tide__dot_write(tide_dataflow *df)
{
    tide_worker *w = df->w;
    if (!w->dot || w->index != 0 || df->hidden)
        return;
    FILE *f = fopen(w->dot, w->dot_graphs ? "a" : "w");
    if (!f)
        tide__fatal("--dot: cannot open '%s': %s", w->dot, strerror(errno));
    fprintf(f, "digraph \"");
    put_str(f, df->name);
    fprintf(f, "\" {\n  node [shape=box];\n");
    write_scope(f, df, df->scopes[0], 2);
    for (uint32_t i = 0; i < df->nscopes; i++)
        write_edges(f, df->scopes[i]);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        tide__fatal("--dot: cannot write '%s': %s", w->dot, strerror(errno));
    w->dot_graphs++;
}
