/* SPDX-License-Identifier: MIT */
/*
 * The throughput benchmark of timely's examples/exchange.rs: each round every worker sends
 * the 64-bit values 0..BATCH-1 into an input, exchanged by value (value % workers), then
 * advances the input and steps until its probe has passed the round. Each worker prints
 * its elapsed time and the records per second it introduced.
 *
 *   exchange BATCH ROUNDS [tide options]
 */
#include <inttypes.h>

#include "example.h"

struct args {
    uint64_t batch, rounds;
};

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    tide_input *input;
    tide_scope *scope = tide_dataflow_begin(w, "exchange");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &input);
    tide_probe *probe = tide_probe_new(tide_exchange(s, tide_hash_u64, NULL));
    tide_dataflow_end(scope);
    double start = example_now();
    /* The bound in a local and a copy of the counter given: the record's store may write
     * any uint64_t the compiler cannot see is private (a->batch), and a counter whose
     * address is given lives in memory, a load and a store a record. */
    const uint64_t batch = a->batch, rounds = a->rounds;
    for (uint64_t round = 0; round < rounds; round++) {
        for (uint64_t i = 0; i < batch; i++) {
            uint64_t record = i;
            tide_input_send(input, &record);
        }
        tide_input_advance_to(input, round + 1);
        while (tide_probe_less_than(probe, tide_input_epoch(input)))
            tide_worker_step(w);
    }
    double secs = example_now() - start;
    printf("%.6fs\tworker %zu complete; rate: %.4g records/s\n", secs, tide_worker_index(w),
           (double)(a->rounds * a->batch) / secs);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("exchange", &cfg, &argc, argv);
    struct args a;
    if (argc != 3 || example_parse(argv[1], &a.batch) || example_parse(argv[2], &a.rounds)) {
        fprintf(stderr, "usage: exchange BATCH ROUNDS [tide options]  (positive integers)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
