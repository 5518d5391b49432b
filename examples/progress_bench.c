/* SPDX-License-Identifier: MIT */
/*
 * Speed of progress tracking:
 *  - tracker updates per second on a chain of 1000 operators, (a) advancing the input so
 *    that the frontier moves at all 2000 locations, (b) messages in flight at times the
 *    frontier already covers (nothing moves: the cost of the bookkeeping alone);
 *  - tracker updates per second on a graph of 100 operators with loops, random updates;
 *  - progress rounds per second between all workers: each worker broadcasts one batch and
 *    waits for every worker's batch of the round (the cost of a round of the protocol).
 *
 *   progress_bench [--rounds N] [--rounds-only] [--per-rank] [tide options]
 *   mpirun -n 2 progress_bench --rounds-only [tide options]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tide.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static tide_tracker *chain(uint32_t n)
{
    tide_graph *g = tide_graph_new(1);
    tide_summary id = tide_summary_identity(1);
    tide_graph_add_node(g, "input", 0, 1);
    for (uint32_t i = 1; i <= n; i++) {
        tide_graph_add_node(g, "op", 1, 1);
        tide_graph_add_summary(g, i, 0, 0, &id);
        tide_graph_add_edge(g, i - 1, 0, i, 0);
    }
    tide_tracker *t;
    if (tide_tracker_new(g, &t, NULL, 0) != 0)
        exit(1);
    tide_graph_free(g);
    return t;
}

static void bench_chain(void)
{
    tide_tracker *t = chain(1000);
    tide_location input = { 0, 0, true };
    tide_time t0 = tide_time_root(0);
    tide_tracker_update(t, input, &t0, 1);
    tide_tracker_propagate(t);
    /* (a) the input advances: 2 updates per round, the frontier moves everywhere. */
    int rounds = 2000;
    double start = now();
    for (int r = 0; r < rounds; r++) {
        tide_time a = tide_time_root((uint64_t)r), b = tide_time_root((uint64_t)r + 1);
        tide_tracker_update(t, input, &b, +1);
        tide_tracker_update(t, input, &a, -1);
        tide_tracker_propagate(t);
    }
    double el = now() - start;
    printf("tracker, 1000-operator chain, input advances:   %10.0f updates/s "
           "(%.0f rounds/s, each moving 2000 frontiers)\n",
           2 * rounds / el, rounds / el);
    /* (b) messages above the frontier come and go in the middle of the chain. */
    uint64_t base = (uint64_t)rounds;
    int n = 200000;
    start = now();
    for (int r = 0; r < n; r++) {
        tide_location mid = { 500, 0, false };
        tide_time m = tide_time_root(base + 5 + (uint64_t)(r % 7));
        tide_tracker_update(t, mid, &m, +1);
        if (r % 2)
            tide_tracker_update(t, mid, &m, -1);
        tide_tracker_propagate(t);
    }
    el = now() - start;
    printf("tracker, 1000-operator chain, messages in flight: %10.0f updates/s "
           "(no frontier moves)\n", 1.5 * n / el);
    tide_tracker_free(t);
}

static uint64_t rng = 12345;
static uint64_t rnd(uint64_t n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng >> 33) % n;
}

static void bench_loops(void)
{
    /* 100 operators of 2 inputs and 2 outputs; every fifth is a feedback (+1 on the inner
     * coordinate) whose second output goes back to a random operator, making cycles.
     * Depth 2, as inside one iterative scope. */
    tide_graph *g = tide_graph_new(2);
    tide_summary id = tide_summary_identity(2), fb = tide_summary_feedback(2, 1);
    const uint32_t nodes = 100;
    for (uint32_t i = 0; i < nodes; i++) {
        tide_graph_add_node(g, i % 5 ? "op" : "feedback", 2, 2);
        for (uint32_t in = 0; in < 2; in++)
            for (uint32_t out = 0; out < 2; out++)
                tide_graph_add_summary(g, i, in, out, i % 5 ? &id : &fb);
    }
    /* Edges go forward, except from feedback operators: every cycle passes one. */
    for (uint32_t i = 0; i < nodes; i++) {
        bool back = i % 5 == 0;
        if (i + 1 < nodes || back)
            tide_graph_add_edge(g, i, 0, (i + 1) % nodes, 0);
        if (back)
            tide_graph_add_edge(g, i, 1, (uint32_t)rnd(nodes), 1);
        else if (i + 1 < nodes)
            tide_graph_add_edge(g, i, 1, i + 1 + (uint32_t)rnd(nodes - i - 1), 1);
    }
    tide_tracker *t;
    char err[256];
    if (tide_tracker_new(g, &t, err, sizeof err) != 0) {
        fprintf(stderr, "progress_bench: %s\n", err);
        exit(1);
    }
    tide_graph_free(g);
    struct { tide_location loc; tide_time time; } live[256];
    size_t nlive = 0, updates = 0;
    double start = now();
    for (int r = 0; r < 100000; r++) {
        if (nlive && (nlive == 256 || rnd(2))) {
            size_t k = rnd(nlive);
            tide_tracker_update(t, live[k].loc, &live[k].time, -1);
            live[k] = live[--nlive];
        } else {
            uint64_t c[2] = { (uint64_t)r / 1000 + rnd(3), rnd(10) };
            live[nlive].loc = (tide_location){ (uint32_t)rnd(nodes), (uint32_t)rnd(2), rnd(2) == 0 };
            live[nlive].time = tide_time_make(2, c);
            tide_tracker_update(t, live[nlive].loc, &live[nlive].time, +1);
            nlive++;
        }
        updates++;
        tide_tracker_propagate(t);
    }
    double el = now() - start;
    printf("tracker, 100-operator graph with loops, random:  %10.0f updates/s\n", updates / el);
    tide_tracker_free(t);
}

static int rounds = 20000;
static bool rounds_only;
static tide_progcast_route route = TIDE_PROGCAST_DIRECT;

static int round_trip(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t peers = tide_allocator_peers(a);
    tide_progcaster *pc = tide_progcaster_new(a, route);
    tide_change_batch out, in;
    tide_change_batch_init(&out);
    tide_change_batch_init(&in);
    uint64_t got = 0;
    double start = 0;
    for (int r = -100; r < rounds; r++) { /* 100 rounds of warm-up */
        if (r == 0)
            start = now();
        tide_time t = tide_time_root((uint64_t)(r + 100));
        tide_change_batch_update(&out, 0, &t, 1);
        tide_progcaster_send(pc, &out);
        tide_allocator_release(a);
        uint64_t want = (uint64_t)(r + 101) * peers;
        int idle = 0;
        while (got < want) {
            tide_allocator_receive(a);
            size_t n = tide_progcaster_recv(pc, &in);
            /* Count the +1s, not the batches: a rank may combine its workers' batches of a
             * round into one cast (and their +1s at one time into one +2). */
            for (size_t i = 0; i < in.len; i++)
                got += (uint64_t)in.changes[i].delta;
            tide_change_batch_clear(&in);
            tide_allocator_release(a);
            /* Spin a while, then park: parking at once costs a wake-up per round when the
             * peers run on other cores, never parking starves them when workers outnumber
             * cores. */
            idle = n ? 0 : idle + 1;
            if (idle > 200)
                tide_allocator_park(a, 1000000);
        }
    }
    double el = now() - start;
    if (tide_allocator_index(a) == 0) {
        uint64_t batches, updates;
        tide_progcaster_stats(pc, &batches, &updates);
        char label[96];
        snprintf(label, sizeof label, "progress rounds, %zu rank(s) x %zu worker(s) (%s%s):",
                 tide_allocator_ranks(a), peers / tide_allocator_ranks(a),
                 tide_allocator_backend(a), route == TIDE_PROGCAST_PER_RANK ? ", per rank" : "");
        printf("%-58s %10.0f rounds/s\n", label, rounds / el);
    }
    tide_change_batch_free(&out);
    tide_change_batch_free(&in);
    tide_progcaster_free(pc);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "progress_bench: %s\n", cfg.error);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--rounds-only") == 0) {
            rounds_only = true;
        } else if (strcmp(argv[i], "--per-rank") == 0) {
            route = TIDE_PROGCAST_PER_RANK;
        } else {
            fprintf(stderr, "progress_bench: unexpected argument '%s' (usage: progress_bench "
                            "[--rounds N] [--rounds-only] [--per-rank] [tide options])\n", argv[i]);
            return 2;
        }
    }
    tide_guards *g;
    if (tide_comm_initialize(&cfg, round_trip, NULL, &g) != 0)
        return 1;
    /* The tracker figures come from the first rank only, while its workers run the
     * rounds: measured afterwards, so the two do not compete for cores. */
    size_t first = tide_guards_first(g);
    tide_guards_join(g, NULL);
    if (first == 0 && !rounds_only) {
        bench_chain();
        bench_loops();
    }
    return 0;
}
