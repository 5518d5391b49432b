/* SPDX-License-Identifier: MIT */
/*
 * Jobs that wait on purpose, for tests/watch.sh: each waits SECONDS on a probe that cannot
 * pass (what --watch and SIGUSR1 must explain), then lets go and finishes normally. With
 * @PATH for SECONDS it waits until the file PATH exists instead: a test that signals the
 * job releases it once it has seen the reports, however slowly the machine runs.
 *
 *   stuck CASE SECONDS|@PATH [tide options]
 *
 *   open-input  an input at epoch 5 is neither advanced nor closed (worker 0 sent records)
 *   unordered   worker 0 keeps an unordered input's capability at time 3
 *   busy        like open-input, but the last worker's inspect sleeps SECONDS in its logic once
 *   report      open-input, and each worker calls tide_worker_report() on stdout once
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tide.h>

static const char *which;
static double seconds;
static const char *release; /* @PATH: wait for this file, not for SECONDS */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool waited_enough(double until)
{
    return release ? access(release, F_OK) == 0 : now() >= until;
}

static uint64_t ident(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r;
}

static void nap(const tide_time *t, const void *r, void *ctx)
{
    (void)r, (void)t;
    bool *slept = ctx;
    if (*slept)
        return;
    *slept = true;
    struct timespec d = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&d, NULL);
}

static int run(tide_worker *w, void *ctx)
{
    (void)ctx;
    bool first = tide_worker_index(w) == 0;
    tide_scope *s = tide_dataflow_begin(w, "stuck");
    tide_input *in = NULL;
    tide_unordered *u = NULL;
    tide_cap *cap = NULL;
    tide_stream *src = strcmp(which, "unordered") == 0
                           ? tide_unordered_input_new(s, TIDE_U64, &u, &cap)
                           : tide_input_new(s, TIDE_U64, &in);
    bool last = tide_worker_index(w) + 1 == tide_worker_peers(w);
    bool slept = !(last && strcmp(which, "busy") == 0);
    tide_stream *x = tide_exchange(src, ident, NULL);
    x = tide_inspect(x, nap, &slept);
    tide_probe *p = tide_probe_new(tide_count(x));
    tide_dataflow_end(s);

    tide_time three = tide_time_root(3);
    if (in) {
        tide_input_advance_to(in, 5);
        if (first)
            for (uint64_t i = 0; i < 10; i++)
                tide_input_send(in, &i);
    } else {
        tide_cap *at3 = tide_cap_delayed(cap, &three);
        tide_cap_drop(&cap);
        if (first) {
            uint64_t v = 7;
            tide_session_give(tide_unordered_session(u, at3), &v);
            cap = at3;
        } else {
            tide_cap_drop(&at3);
        }
    }
    /* tests/watch.sh signals now, each rank at the pid given here (looking ranks up by
     * their command line once found none in CI under ASan, twice) */
    printf("worker %zu: pid %ld\nworker %zu: waiting\n", tide_worker_index(w), (long)getpid(),
           tide_worker_index(w));
    fflush(stdout);
    double until = now() + seconds;
    bool reported = strcmp(which, "report") != 0;
    while (!waited_enough(until) && tide_probe_less_equal(p, 5)) {
        tide_worker_step_or_park(w, 10000000);
        if (!reported && now() > until - seconds / 2) {
            reported = true;
            tide_worker_report(w, stdout);
        }
    }
    if (cap)
        tide_cap_drop(&cap);
    if (in)
        tide_input_close(in);
    while (tide_worker_step_or_park(w, -1))
        ;
    printf("worker %zu: done\n", tide_worker_index(w));
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "stuck: %s\n", cfg.error);
        return 2;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: stuck open-input|unordered|busy|report SECONDS|@PATH [tide options]\n");
        return 2;
    }
    which = argv[1];
    if (argv[2][0] == '@')
        release = argv[2] + 1;
    else
        seconds = atof(argv[2]);
    return tide_execute(&cfg, run, NULL) == 0 ? 0 : 1;
}
