/* SPDX-License-Identifier: MIT */
/*
 * The work of timely's examples/barrier.rs: one operator in a loop (a feedback edge that
 * adds 1 to the epoch) which, notified at epoch t, asks to be notified at t + 1 while
 * t + 1 < ROUNDS. Every round is a barrier among all workers: no worker's notification at
 * t + 1 can fire before every worker has given up its capability at t. Nothing else moves,
 * so this measures the progress protocol alone.
 *
 *   barrier ROUNDS [tide options]
 */
#include <inttypes.h>

#include "example.h"

static void barrier(tide_op *op, void *arg)
{
    uint64_t rounds = *(const uint64_t *)arg;
    tide_cap *cap;
    while ((cap = tide_op_next_notification(op))) {
        uint64_t next = tide_cap_epoch(cap) + 1;
        if (next < rounds) {
            tide_time t = tide_time_root(next);
            tide_op_notify_at(op, tide_cap_delayed(cap, &t));
        }
    }
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    uint64_t *rounds = arg;
    tide_loop *loop;
    tide_time zero = tide_time_root(0);
    tide_scope *scope = tide_dataflow_begin(w, "barrier");
    tide_stream *s = tide_loop_variable(scope, 1, TIDE_U64, &loop);
    s = tide_unary_notify(s, TIDE_PIPELINE, "Barrier", TIDE_U64, barrier, rounds, NULL, &zero, 1);
    tide_loop_connect(loop, s);
    tide_dataflow_end(scope);
    double start = example_now();
    while (tide_worker_step(w))
        ;
    double secs = example_now() - start;
    if (tide_worker_index(w) == 0)
        printf("%" PRIu64 " rounds in %.3f s: %.0f rounds/s (%zu workers)\n", *rounds, secs,
               (double)*rounds / secs, tide_worker_peers(w));
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("barrier", &cfg, &argc, argv);
    uint64_t rounds;
    if (argc != 2 || example_parse(argv[1], &rounds)) {
        fprintf(stderr, "usage: barrier ROUNDS [tide options]  (ROUNDS a positive integer%s%s)\n",
                argc >= 2 ? ", got " : "", argc >= 2 ? argv[1] : "");
        return 2;
    }
    return tide_execute(&cfg, run, &rounds) == 0 ? 0 : 1;
}
