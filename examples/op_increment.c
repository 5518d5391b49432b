/* SPDX-License-Identifier: MIT */
/*
 * "Creating operators", the first program: the numbers 0..9, each incremented by a unary
 * operator written in place. Like the original it prints nothing; with --show it prints
 * what leaves the operator.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <tide.h>

static void increment(tide_op *op, void *state)
{
    (void)state;
    tide_cap *cap;
    tide_batch *batch;
    while (tide_op_next(op, 0, &cap, &batch)) {
        tide_session *out = tide_op_session(op, 0, cap);
        const uint64_t *x = tide_batch_records(batch);
        for (size_t i = 0; i < tide_batch_len(batch); i++) {
            uint64_t y = x[i] + 1;
            tide_session_give(out, &y);
        }
    }
}

static void show(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    (void)ctx;
    printf("seen: %" PRIu64 "\n", *(const uint64_t *)record);
}

static int build(tide_worker *w, void *arg)
{
    uint64_t numbers[10];
    for (uint64_t i = 0; i < 10; i++)
        numbers[i] = i;
    tide_scope *scope = tide_dataflow_begin(w, "increment");
    tide_stream *s = tide_to_stream(scope, TIDE_U64, numbers, 10);
    s = tide_unary(s, TIDE_PIPELINE, "increment", TIDE_U64, increment, NULL, NULL);
    if (*(const int *)arg)
        tide_inspect(s, show, NULL);
    tide_dataflow_end(scope);
    return 0;
}

int main(int argc, char **argv)
{
    int show_output = argc > 1 && strcmp(argv[1], "--show") == 0;
    return tide_example(build, &show_output);
}
