/* SPDX-License-Identifier: MIT */
/*
 * The throughput benchmark of timely's examples/exchange.rs: each round every worker sends
 * the 64-bit values 0..BATCH-1 into an input, exchanged by value (value % workers), then
 * advances the input and steps until its probe has passed the round. Each worker prints
 * its elapsed time and the records per second it introduced.
 *
 *   exchange BATCH ROUNDS [tide options]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tide.h>

struct args {
    uint64_t batch, rounds;
};

static uint64_t by_value(const void *record, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)record;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(tide_worker *w, void *arg)
{
    const struct args *a = arg;
    tide_input *input;
    tide_scope *scope = tide_dataflow_begin(w, "exchange");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &input);
    tide_probe *probe = tide_probe_new(tide_exchange(s, by_value, NULL));
    tide_dataflow_end(scope);
    double start = now();
    for (uint64_t round = 0; round < a->rounds; round++) {
        for (uint64_t i = 0; i < a->batch; i++)
            tide_input_send(input, &i);
        tide_input_advance_to(input, round + 1);
        while (tide_probe_less_than(probe, tide_input_epoch(input)))
            tide_worker_step(w);
    }
    double secs = now() - start;
    printf("%.6fs\tworker %zu complete; rate: %.4g records/s\n", secs, tide_worker_index(w),
           (double)(a->rounds * a->batch) / secs);
    return 0;
}

static int parse(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || *end || s[0] == '-' || *v == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "exchange: %s\n", cfg.error);
        return 2;
    }
    struct args a;
    if (argc != 3 || parse(argv[1], &a.batch) || parse(argv[2], &a.rounds)) {
        fprintf(stderr, "usage: exchange BATCH ROUNDS [tide options]  (positive integers)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
