/* SPDX-License-Identifier: MIT */
/*
 * The counterpart of timely's examples/distinct.rs: workers 0 and 1 send a few numbers,
 * exchanged by value; a Distinct operator passes on each value the first time it sees it at
 * a time, and every worker prints the values that reach it ("worker W:<tab>value X").
 *
 *   distinct [tide options]
 */
#include <inttypes.h>
#include <string.h>

#include "example.h"

/* The values seen at each open time, a set per time in a stash, dropped once the input
 * frontier has passed the time. */
static void distinct_logic(tide_op *op, void *arg)
{
    tide_stash *seen = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_table **set = (tide_table **)tide_stash_state(seen, cap);
        if (!*set)
            *set = tide_table_new(TIDE_U64, 0, NULL, NULL, NULL);
        tide_session *out = tide_op_session(op, 0, cap);
        const uint64_t *v = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            if (tide_table_add(*set, &v[i]))
                tide_session_give(out, &v[i]);
    }
    while (tide_stash_next(seen, op, &cap)) {
        tide_table_free(tide_stash_take_state(seen));
        tide_cap_drop(&cap);
    }
}

static void free_set(void *set) { tide_table_free(set); }

static void distinct_free(void *arg) { tide_stash_free(arg); }

static void print_value(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    printf("worker %zu:\tvalue %" PRIu64 "\n", *(const size_t *)ctx, *(const uint64_t *)r);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    (void)arg;
    static const uint64_t mine[2][8] = { { 0, 1, 2, 2, 2, 3, 3, 4 }, { 0, 0, 3, 4, 4, 5, 7, 7 } };
    size_t me = tide_worker_index(w);
    tide_stash *seen = tide_stash_new();
    tide_stash_free_states(seen, free_set);
    tide_input *input;
    tide_scope *scope = tide_dataflow_begin(w, "distinct");
    tide_stream *s = tide_unary_frontier(tide_input_new(scope, TIDE_U64, &input),
                                         TIDE_EXCHANGE(tide_hash_u64, NULL), "Distinct", TIDE_U64,
                                         distinct_logic, seen, distinct_free);
    tide_probe *probe = tide_probe_new(tide_inspect(s, print_value, &me));
    tide_dataflow_end(scope);
    if (me < 2)
        for (int i = 0; i < 8; i++)
            tide_input_send(input, &mine[me][i]);
    tide_input_advance_to(input, 1);
    while (tide_probe_less_than(probe, tide_input_epoch(input)))
        tide_worker_step(w);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("distinct", &cfg, &argc, argv);
    if (argc != 1) {
        fprintf(stderr, "usage: distinct [tide options]\n");
        return 2;
    }
    return tide_execute(&cfg, run, NULL) == 0 ? 0 : 1;
}
