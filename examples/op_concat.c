/* SPDX-License-Identifier: MIT */
/*
 * "Creating operators", concat_buffer: a binary operator that buffers both inputs per time
 * and sends a time's records only once neither input can receive more at that time.
 *
 *   op_concat [--show]                           with a FrontierNotificator
 *   op_concat --without-notificator [--show]     checking the frontiers itself
 *
 * Like the originals it prints nothing; with --show it prints what leaves the operator.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

struct entry {
    tide_time time;
    tide_cap *cap;        /* without a notificator: held while records wait */
    tide_batch *records;
};

struct concat {
    tide_notificator *notificator; /* NULL: the version without */
    struct entry *stash;
    size_t len, cap;
};

static struct entry *stash_at(struct concat *c, const tide_time *t)
{
    for (size_t i = 0; i < c->len; i++)
        if (tide_time_eq(&c->stash[i].time, t))
            return &c->stash[i];
    if (c->len == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4;
        c->stash = realloc(c->stash, c->cap * sizeof *c->stash);
        if (!c->stash)
            abort();
    }
    struct entry *e = &c->stash[c->len++];
    *e = (struct entry){ *t, NULL, tide_batch_new(TIDE_U64, 0) };
    return e;
}

static void stash_remove(struct concat *c, struct entry *e)
{
    tide_batch_free(e->records);
    *e = c->stash[--c->len];
}

static void read_input(tide_op *op, struct concat *c, uint32_t port)
{
    tide_cap *cap;
    tide_batch *batch;
    while (tide_op_next(op, port, &cap, &batch)) {
        struct entry *e = stash_at(c, tide_cap_time(cap));
        size_t n = tide_batch_len(batch);
        memcpy(tide_batch_extend(e->records, n), tide_batch_records(batch), n * sizeof(uint64_t));
        if (c->notificator)
            tide_notificator_notify_at(c->notificator, tide_cap_retain(cap));
        else if (!e->cap)
            e->cap = tide_cap_retain(cap);
    }
}

static void concat_buffer(tide_op *op, void *state)
{
    struct concat *c = state;
    read_input(op, c, 0);
    read_input(op, c, 1);
    const tide_antichain *frontiers[2] = { tide_op_frontier(op, 0), tide_op_frontier(op, 1) };
    if (c->notificator) {
        tide_cap *cap;
        while ((cap = tide_notificator_next(c->notificator, frontiers, 2))) {
            struct entry *e = stash_at(c, tide_cap_time(cap));
            tide_session_give_batch(tide_op_session(op, 0, cap), &e->records);
            stash_remove(c, e);
        }
        return;
    }
    for (size_t i = 0; i < c->len;) {
        struct entry *e = &c->stash[i];
        if (tide_antichain_less_equal(frontiers[0], &e->time) ||
            tide_antichain_less_equal(frontiers[1], &e->time)) {
            i++;
            continue;
        }
        tide_session_give_batch(tide_op_session(op, 0, e->cap), &e->records);
        tide_cap_drop(&e->cap);
        stash_remove(c, e); /* the last entry moved to i */
    }
}

static void concat_free(void *state)
{
    struct concat *c = state;
    while (c->len) {
        tide_cap_drop(&c->stash[c->len - 1].cap);
        stash_remove(c, &c->stash[c->len - 1]);
    }
    tide_notificator_free(c->notificator);
    free(c->stash);
    free(c);
}

static void show(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    (void)ctx;
    printf("seen: %" PRIu64 "\n", *(const uint64_t *)record);
}

struct options {
    bool show, without_notificator;
};

static int build(tide_worker *w, void *arg)
{
    const struct options *o = arg;
    uint64_t numbers[10];
    for (uint64_t i = 0; i < 10; i++)
        numbers[i] = i;
    struct concat *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    if (!o->without_notificator)
        c->notificator = tide_notificator_new();
    tide_scope *scope = tide_dataflow_begin(w, "concat");
    tide_stream *in1 = tide_to_stream(scope, TIDE_U64, numbers, 10);
    tide_stream *in2 = tide_to_stream(scope, TIDE_U64, numbers, 10);
    tide_stream *s = tide_binary_frontier(in1, in2, TIDE_PIPELINE, TIDE_PIPELINE,
                                          "concat_buffer", TIDE_U64, concat_buffer, c,
                                          concat_free);
    if (o->show)
        tide_inspect(s, show, NULL);
    tide_dataflow_end(scope);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = { false, false };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--show") == 0)
            o.show = true;
        else if (strcmp(argv[i], "--without-notificator") == 0)
            o.without_notificator = true;
        else {
            fprintf(stderr, "usage: op_concat [--without-notificator] [--show]\n");
            return 2;
        }
    }
    return tide_example(build, &o);
}
