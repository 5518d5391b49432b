/* SPDX-License-Identifier: MIT */
/*
 * The work of timely's examples/barrier.rs: one operator in a loop (a feedback edge that
 * adds 1 to the epoch) which, notified at epoch t, asks to be notified at t + 1 while
 * t + 1 < ROUNDS. Every round is a barrier among all workers: no worker's notification at
 * t + 1 can fire before every worker has given up its capability at t. Nothing else moves,
 * so this measures the progress protocol alone.
 *
 * With AHEAD, every worker keeps AHEAD notifications outstanding (notified at t, it asks
 * for t + AHEAD): the same rounds, with a notificator holding many pending times.
 *
 *   barrier ROUNDS [AHEAD] [tide options]
 */
#include <inttypes.h>

#include "example.h"

struct args {
    uint64_t rounds, ahead;
};

static void barrier(tide_op *op, void *arg)
{
    const struct args *a = arg;
    tide_cap *cap;
    while ((cap = tide_op_next_notification(op))) {
        uint64_t epoch = tide_cap_epoch(cap);
        /* the first round asks for the ones in between */
        for (uint64_t next = epoch ? epoch + a->ahead : 1;
             next <= epoch + a->ahead && next < a->rounds; next++) {
            tide_time t = tide_time_root(next);
            tide_op_notify_at(op, tide_cap_delayed(cap, &t));
        }
    }
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    struct args *a = arg;
    uint64_t *rounds = &a->rounds;
    tide_loop *loop;
    tide_time zero = tide_time_root(0);
    tide_scope *scope = tide_dataflow_begin(w, "barrier");
    tide_stream *s = tide_loop_variable(scope, 1, TIDE_U64, &loop);
    s = tide_unary_notify(s, TIDE_PIPELINE, "Barrier", TIDE_U64, barrier, a, NULL, &zero, 1);
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
    struct args a = { 0, 1 };
    if (argc < 2 || argc > 3 || example_parse(argv[1], &a.rounds) ||
        (argc == 3 && example_parse(argv[2], &a.ahead))) {
        const char *bad = argc < 2 ? NULL : argc == 3 && !example_parse(argv[1], &a.rounds)
                                                ? argv[2] : argv[1];
        fprintf(stderr, "usage: barrier ROUNDS [AHEAD] [tide options]  (positive integers%s%s)\n",
                bad ? ", got " : "", bad ? bad : "");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
