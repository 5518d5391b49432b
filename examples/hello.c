/* SPDX-License-Identifier: MIT */
/*
 * The README's hello: worker 0 feeds the rounds 0..9 into an input, one per epoch; the
 * records are exchanged by value, so worker (round % workers) prints each, and every
 * worker steps until its probe says the epoch is complete everywhere.
 *
 *   hello [-w WORKERS]            threads in one process
 *   mpirun -n 2 hello [-w 1]      MPI ranks
 */
#include <inttypes.h>
#include <stdio.h>

#include <tide.h>

static void say_hello(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    printf("worker %zu:\thello %" PRIu64 "\n", tide_worker_index(ctx), *(const uint64_t *)record);
    fflush(stdout);
}

static int hello(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_input *input;
    tide_scope *scope = tide_dataflow_begin(w, "hello");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &input);
    s = tide_exchange(s, tide_hash_u64, NULL);
    s = tide_inspect(s, say_hello, w);
    tide_probe *probe = tide_probe_new(s);
    tide_dataflow_end(scope);

    for (uint64_t round = 0; round < 10; round++) {
        if (tide_worker_index(w) == 0)
            tide_input_send(input, &round);
        tide_input_advance_to(input, round + 1);
        while (tide_probe_less_than(probe, tide_input_epoch(input)))
            tide_worker_step(w);
    }
    return 0;
}

int main(int argc, char **argv)
{
    return tide_execute_from_args(&argc, argv, hello, NULL) == 0 ? 0 : 1;
}
