/* SPDX-License-Identifier: MIT */
/*
 * An open-loop latency test, the counterpart of timely's examples/loopdemo.rs: the workers
 * offer RATE records per second in all for DURATION seconds, record n becoming due n / RATE
 * seconds after the start; the input's time is in nanoseconds and advances with the clock.
 * Each record goes round a loop, one Collatz step per iteration (x / 2 or 3x + 1) until it
 * reaches 1. A record is retired once the probe shows its time complete, and its latency
 * (completion minus due time) is counted in buckets of 1/16 of a power of two. Worker 0
 * prints, for each bucket with records, its lower end in nanoseconds and the fraction of
 * its records retired in that bucket or a faster one; every worker then prints how many records it introduced and how many loop
 * steps they took, totals that do not depend on timing or on the shape.
 *
 *   loopdemo RATE DURATION [tide options]
 */
#include <inttypes.h>
#include <string.h>

#include "example.h"

struct args {
    uint64_t rate, seconds;
};

static void collatz(void *r, void *ctx)
{
    (void)ctx;
    uint64_t *x = r;
    *x = *x % 2 == 0 ? *x / 2 : 3 * *x + 1;
}

static bool above_one(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r > 1;
}

static void count_step(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    (void)r;
    ++*(uint64_t *)ctx;
}

static uint64_t ceil_log2(uint64_t x)
{
    return x <= 1 ? 0 : 64 - (uint64_t)__builtin_clzll(x - 1);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t steps = 0, introduced = 0;
    tide_input *input;
    tide_loop *loop;
    tide_probe *probe = NULL;
    tide_scope *scope = tide_dataflow_begin(w, "loopdemo");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &input);
    s = tide_concat(s, tide_loop_variable(scope, 1, TIDE_U64, &loop));
    s = tide_filter(tide_map_in_place(tide_inspect(s, count_step, &steps), collatz, NULL),
                    above_one, NULL);
    probe = tide_probe_new(s);
    tide_loop_connect(loop, s);
    tide_dataflow_end(scope);

    uint64_t ns_per_record = 1000000000 / a->rate, limit = a->rate * a->seconds;
    uint64_t inserted_ns = 0, next_insert = me, next_retire = me;
    uint64_t counts[64][16];
    memset(counts, 0, sizeof counts);
    double start = example_now();
    while (next_retire < limit) {
        uint64_t elapsed_ns = (uint64_t)((example_now() - start) * 1e9);
        const tide_antichain *f = tide_probe_frontier(probe);
        uint64_t acked_ns = f->len ? f->elems[0].c[0] : UINT64_MAX;
        for (; next_retire < limit && next_retire * ns_per_record < acked_ns; next_retire += peers) {
            uint64_t latency = elapsed_ns - next_retire * ns_per_record;
            uint64_t bucket = ceil_log2(latency), shift = bucket >= 5 ? bucket - 5 : 0;
            counts[bucket][(latency >> shift) & 0xF]++;
        }
        /* Offer what is due, in steps that grow with the work outstanding: the more is in
         * flight, the coarser the times (fewer to track, larger batches). */
        uint64_t outstanding = inserted_ns - (acked_ns < inserted_ns ? acked_ns : inserted_ns);
        uint64_t target = elapsed_ns & ~((UINT64_C(1) << ceil_log2(outstanding + 1)) - 1);
        if (inserted_ns < target) {
            for (; next_insert < limit && next_insert * ns_per_record < target; next_insert += peers) {
                tide_input_send(input, &next_insert);
                introduced++;
            }
            tide_input_advance_to(input, target);
            inserted_ns = target;
        }
        tide_worker_step(w);
    }
    tide_input_close(input);
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    if (me == 0) {
        uint64_t total = 0, sum = 0;
        for (int b = 0; b < 64; b++)
            for (int k = 0; k < 16; k++)
                total += counts[b][k];
        for (int b = 0; b < 64 && sum < total; b++)
            for (int k = 0; k < 16 && sum < total; k++) {
                if (!counts[b][k])
                    continue;
                sum += counts[b][k];
                uint64_t low = b >= 5 ? (UINT64_C(1) << (b - 1)) + ((uint64_t)k << (b - 5))
                                      : (uint64_t)k;
                printf("%" PRIu64 "\t%.6f\n", low, (double)sum / (double)total);
            }
    }
    printf("worker %zu: %" PRIu64 " records, %" PRIu64 " steps\n", me, introduced, steps);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("loopdemo", &cfg, &argc, argv);
    struct args a;
    if (argc != 3 || example_parse(argv[1], &a.rate) || example_parse(argv[2], &a.seconds) ||
        a.rate > 1000000000) {
        fprintf(stderr, "usage: loopdemo RATE DURATION [tide options]  (records per second, "
                        "at most 10^9, and seconds: positive integers)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
