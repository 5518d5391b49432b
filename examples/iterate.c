/* SPDX-License-Identifier: MIT */
/*
 * Iteration in a nested scope, timely's `iterate` idiom: the numbers 0..9 enter a loop
 * scope whose times are (epoch, round); each round halves every number, and what is still
 * above zero goes around again, one round later. Every number is seen at every round
 * until it reaches zero, so 8 is seen as 8, 4, 2 and 1 at rounds 0 to 3; the numbers leave
 * the scope with the outer time (the epoch) only.
 *
 *   iterate [-w WORKERS]           threads in one process
 *   mpirun -n 2 iterate [-w 1]     MPI ranks
 */
#include <inttypes.h>
#include <stdio.h>

#include <tide.h>

static void halve(const void *in, void *out, void *ctx)
{
    (void)ctx;
    *(uint64_t *)out = *(const uint64_t *)in / 2;
}

static bool above_zero(const void *record, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)record > 0;
}

static void seen(const tide_time *t, const void *record, void *ctx)
{
    printf("worker %zu:\tround %" PRIu64 ": %" PRIu64 "\n", tide_worker_index(ctx), t->c[1],
           *(const uint64_t *)record);
}

static int iterate(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[10];
    size_t n = 0;
    for (uint64_t x = tide_worker_index(w); x < 10; x += tide_worker_peers(w))
        numbers[n++] = x;
    tide_scope *scope = tide_dataflow_begin(w, "iterate");
    tide_stream *start = tide_to_stream(scope, TIDE_U64, numbers, n);

    tide_scope *loop = tide_scope_begin(scope, "halving");
    tide_loop *back;
    tide_stream *again = tide_loop_variable(loop, 1, TIDE_U64, &back); /* next round */
    tide_stream *x = tide_concat(tide_enter(loop, start), again);
    x = tide_exchange(x, tide_hash_u64, NULL);
    x = tide_inspect(x, seen, w);
    x = tide_filter(tide_map(x, TIDE_U64, halve, NULL), above_zero, NULL);
    tide_loop_connect(back, x);
    tide_scope_end(loop);

    tide_probe *done = tide_probe_new(tide_leave(x));
    tide_dataflow_end(scope);
    while (!tide_probe_done(done))
        tide_worker_step(w);
    return 0;
}

int main(int argc, char **argv)
{
    return tide_execute_from_args(&argc, argv, iterate, NULL) == 0 ? 0 : 1;
}
