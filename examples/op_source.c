/* SPDX-License-Identifier: MIT */
/*
 * "Creating operators", the source: produces its capability's time as a record, then
 * moves the capability one epoch on and activates itself again, until the time passes 20;
 * then drops the capability. Prints "number: 0" to "number: 21".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <tide.h>

struct counter {
    tide_cap *cap;            /* NULL once dropped */
    tide_activator *activator; /* to be scheduled again */
};

static void count_up(tide_op *op, void *state)
{
    struct counter *c = state;
    bool done = false;
    if (c->cap) {
        uint64_t time = tide_cap_epoch(c->cap);
        tide_session_give(tide_op_session(op, 0, c->cap), &time);
        tide_time next = tide_time_root(time + 1);
        tide_cap_downgrade(c->cap, &next);
        done = time > 20;
    }
    if (done)
        tide_cap_drop(&c->cap);
    else
        tide_activator_activate(c->activator);
}

static void counter_free(void *state)
{
    struct counter *c = state;
    tide_cap_drop(&c->cap);
    free(c);
}

static void show(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    (void)ctx;
    printf("number: %" PRIu64 "\n", *(const uint64_t *)record);
}

static int build(tide_worker *w, void *arg)
{
    (void)arg;
    struct counter *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    tide_scope *scope = tide_dataflow_begin(w, "source");
    tide_stream *s = tide_source(scope, "Source", TIDE_U64, count_up, c, counter_free, &c->cap);
    c->activator = tide_op_activator(tide_stream_op(s));
    tide_inspect(s, show, NULL);
    tide_dataflow_end(scope);
    return 0;
}

int main(void)
{
    return tide_example(build, NULL);
}
