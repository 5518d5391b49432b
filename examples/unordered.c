/* SPDX-License-Identifier: MIT */
/*
 * An unordered input: the program sends records at any times it holds capabilities for,
 * in any order, and a time completes downstream once every capability at or before it is
 * dropped. Worker 0 derives capabilities at 7, 3 and 5 from the input's first one (at 0),
 * sends one record at each, drops the first, then drops 7, 3 and 5 in that order, and
 * after each drop steps until the probe's frontier has moved as far as it can: dropping 7
 * completes nothing (3 and 5 are still held), dropping 3 completes the times before 5.
 * The other workers drop their first capability at once and only step.
 *
 *   unordered [-w WORKERS]           threads in one process
 *   mpirun -n 2 unordered [-w 1]     MPI ranks
 */
#include <inttypes.h>
#include <stdio.h>

#include <tide.h>

static void seen(const tide_time *t, const void *record, void *ctx)
{
    (void)ctx;
    printf("record %" PRIu64 " at time %" PRIu64 "\n", *(const uint64_t *)record, t->c[0]);
}

/* Steps until the probe's frontier is @p want (UINT64_MAX: empty, every time complete),
 * then says so. */
static void step_until(tide_worker *w, tide_probe *p, uint64_t want, uint64_t dropped)
{
    for (;;) {
        const tide_antichain *f = tide_probe_frontier(p);
        uint64_t at = f->len ? f->elems[0].c[0] : UINT64_MAX;
        if (at == want)
            break;
        tide_worker_step(w);
    }
    if (want == UINT64_MAX)
        printf("dropped %" PRIu64 ": every time is complete\n", dropped);
    else
        printf("dropped %" PRIu64 ": the times before %" PRIu64 " are complete\n", dropped, want);
}

static int unordered(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_unordered *u;
    tide_cap *first;
    tide_scope *scope = tide_dataflow_begin(w, "unordered");
    tide_stream *s = tide_unordered_input_new(scope, TIDE_U64, &u, &first);
    tide_probe *p = tide_probe_new(tide_inspect(s, seen, NULL));
    tide_dataflow_end(scope);
    if (tide_worker_index(w) != 0) {
        tide_cap_drop(&first);
        while (!tide_probe_done(p))
            tide_worker_step(w);
        return 0;
    }
    uint64_t times[3] = { 7, 3, 5 };
    tide_cap *caps[3];
    for (int i = 0; i < 3; i++) {
        tide_time t = tide_time_root(times[i]);
        caps[i] = tide_cap_delayed(first, &t); /* capabilities work outside operators */
        tide_session_give(tide_unordered_session(u, caps[i]), &times[i]);
    }
    tide_cap_drop(&first);
    step_until(w, p, 3, 0);
    tide_cap_drop(&caps[0]);
    step_until(w, p, 3, 7);
    tide_cap_drop(&caps[1]);
    step_until(w, p, 5, 3);
    tide_cap_drop(&caps[2]);
    step_until(w, p, UINT64_MAX, 5);
    return 0;
}

int main(int argc, char **argv)
{
    return tide_execute_from_args(&argc, argv, unordered, NULL) == 0 ? 0 : 1;
}
