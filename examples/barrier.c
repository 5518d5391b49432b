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
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tide.h>

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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(tide_worker *w, void *arg)
{
    uint64_t *rounds = arg;
    tide_loop *loop;
    tide_time zero = tide_time_root(0);
    tide_scope *scope = tide_dataflow_begin(w, "barrier");
    tide_stream *s = tide_loop_variable(scope, 1, TIDE_U64, &loop);
    s = tide_unary_notify(s, TIDE_PIPELINE, "Barrier", TIDE_U64, barrier, rounds, NULL, &zero, 1);
    tide_loop_connect(loop, s);
    tide_dataflow_end(scope);
    double start = now();
    while (tide_worker_step(w))
        ;
    double secs = now() - start;
    if (tide_worker_index(w) == 0)
        printf("%" PRIu64 " rounds in %.3f s: %.0f rounds/s (%zu workers)\n", *rounds, secs,
               (double)*rounds / secs, tide_worker_peers(w));
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "barrier: %s\n", cfg.error);
        return 2;
    }
    char *end;
    errno = 0;
    uint64_t rounds = argc == 2 ? strtoull(argv[1], &end, 10) : 0;
    if (argc != 2 || errno || *end || rounds == 0 || argv[1][0] == '-') {
        fprintf(stderr, "usage: barrier ROUNDS [tide options]  (ROUNDS a positive integer%s%s)\n",
                argc >= 2 ? ", got " : "", argc >= 2 ? argv[1] : "");
        return 2;
    }
    return tide_execute(&cfg, run, &rounds) == 0 ? 0 : 1;
}
