/* SPDX-License-Identifier: MIT */
/*
 * The progress protocol between workers (threads and ranks): every worker runs a simulated
 * dataflow on the same graph, holding capabilities, sending messages (real ones, on a
 * channel) to random workers, downgrading and dropping capabilities at random, and
 * broadcasting its pointstamp updates once per step with the progcaster. Checked:
 *  - safety: a message never arrives at a time its target's frontier (in the receiver's
 *    view) has already passed;
 *  - liveness: once everything is released, every worker sees every frontier empty and
 *    every count zero.
 * Run by tests/mpi_progress.sh under mpirun -n 1, 2, 3 with -w 1 and -w 2.
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include <tide.h>

#include "check_main.h"

static tide_config cfg;
static tide_progcast_route route = TIDE_PROGCAST_DIRECT;

/* input -> a -> b -> sink, and b -> feedback (+1 inner) -> a: depth 2. */
enum { INPUT, A, B, FEEDBACK, SINK, NODES };

static tide_graph *graph(void)
{
    tide_graph *g = tide_graph_new(2);
    tide_summary id = tide_summary_identity(2), fb = tide_summary_feedback(2, 1);
    tide_graph_add_node(g, "input", 0, 1);
    tide_graph_add_node(g, "a", 2, 1);
    tide_graph_add_node(g, "b", 1, 2);
    tide_graph_add_node(g, "feedback", 1, 1);
    tide_graph_add_node(g, "sink", 1, 0);
    tide_graph_add_summary(g, A, 0, 0, &id);
    tide_graph_add_summary(g, A, 1, 0, &id);
    tide_graph_add_summary(g, B, 0, 0, &id);
    tide_graph_add_summary(g, B, 0, 1, &id);
    tide_graph_add_summary(g, FEEDBACK, 0, 0, &fb);
    tide_graph_add_edge(g, INPUT, 0, A, 0);
    tide_graph_add_edge(g, A, 0, B, 0);
    tide_graph_add_edge(g, B, 0, SINK, 0);
    tide_graph_add_edge(g, B, 1, FEEDBACK, 0);
    tide_graph_add_edge(g, FEEDBACK, 0, A, 1);
    return g;
}

/* Where output port (node, out) leads. */
static tide_location downstream(uint32_t node, uint32_t out)
{
    switch (node) {
    case INPUT: return (tide_location){ A, 0, false };
    case A: return (tide_location){ B, 0, false };
    case B: return out == 0 ? (tide_location){ SINK, 0, false } : (tide_location){ FEEDBACK, 0, false };
    default: return (tide_location){ A, 1, false };
    }
}

struct point {
    tide_location loc;
    tide_time time;
};

struct msg {
    uint64_t key; /* target location */
    tide_time time;
};
static TIDE_TYPE_POD(msg_type, struct msg);

struct sim {
    tide_allocator *a;
    tide_tracker *tracker;
    tide_progcaster *pc;
    tide_change_batch out, in;
    tide_push **push;
    tide_pull *pull;
    struct point caps[256], msgs[1024];
    size_t ncaps, nmsgs;
    uint64_t rng;
    uint64_t checked; /* messages whose arrival was checked against the frontier */
};

static uint64_t rnd(struct sim *s, uint64_t n)
{
    s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (s->rng >> 33) % n;
}

static void update(struct sim *s, tide_location loc, const tide_time *t, int64_t d)
{
    tide_change_batch_update(&s->out, tide_location_key(loc), t, d);
}

static void add_cap(struct sim *s, tide_location loc, const tide_time *t)
{
    if (s->ncaps == 256)
        return;
    update(s, loc, t, +1);
    s->caps[s->ncaps++] = (struct point){ loc, *t };
}

static void drop_cap(struct sim *s, size_t k)
{
    update(s, s->caps[k].loc, &s->caps[k].time, -1);
    s->caps[k] = s->caps[--s->ncaps];
}

/* Applies what other workers (and we) broadcast; then checks arrivals. */
static int absorb(struct sim *s)
{
    tide_allocator_receive(s->a);
    tide_change_batch_clear(&s->in);
    tide_progcaster_recv(s->pc, &s->in);
    for (size_t i = 0; i < s->in.len; i++)
        tide_tracker_update(s->tracker, tide_location_from_key(s->in.changes[i].key),
                            &s->in.changes[i].time, s->in.changes[i].delta);
    tide_tracker_propagate(s->tracker);
    tide_batch *b = NULL;
    while (tide_pull_recv(s->pull, &b)) {
        const struct msg *m = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            tide_location loc = tide_location_from_key(m[i].key);
            const tide_antichain *f = tide_tracker_frontier(s->tracker, loc);
            if (!tide_antichain_less_equal(f, &m[i].time)) {
                char tb[64];
                tide_time_format(&m[i].time, tb, sizeof tb);
                fprintf(stderr, "worker %zu: a message at %s reached input %u of node %u "
                                "after its frontier passed it\n",
                        tide_allocator_index(s->a), tb, loc.port, loc.node);
                tide_batch_free(b);
                return 1;
            }
            s->checked++;
            if (s->nmsgs < 1024)
                s->msgs[s->nmsgs++] = (struct point){ loc, m[i].time };
            else
                update(s, loc, &m[i].time, -1); /* full: consume at once */
        }
    }
    return 0;
}

static void send_msg(struct sim *s, size_t target, tide_location loc, const tide_time *t)
{
    update(s, loc, t, +1); /* in the same step's batch as the capability it comes from */
    tide_batch *b = tide_batch_new(&msg_type, 0);
    struct msg m = { tide_location_key(loc), *t };
    tide_batch_push(b, &m);
    tide_push_send(s->push[target], &b);
    tide_batch_free(b);
}

static bool all_empty(struct sim *s)
{
    for (uint32_t n = 0; n < NODES; n++)
        for (int kind = 0; kind < 2; kind++) {
            uint32_t ports = kind ? tide_tracker_outputs(s->tracker, n)
                                  : tide_tracker_inputs(s->tracker, n);
            for (uint32_t p = 0; p < ports; p++) {
                tide_location loc = { n, p, kind == 1 };
                if (tide_tracker_frontier(s->tracker, loc)->len ||
                    tide_tracker_pointstamps(s->tracker, loc)->counts.len)
                    return false;
            }
        }
    return true;
}

static int simulate(tide_allocator *a, void *ctx)
{
    (void)ctx;
    struct sim *s = calloc(1, sizeof *s);
    size_t peers = tide_allocator_peers(a), me = tide_allocator_index(a);
    s->a = a;
    s->rng = 77 + me;
    tide_graph *g = graph();
    if (tide_tracker_new(g, &s->tracker, NULL, 0) != 0)
        return 1;
    tide_graph_free(g);
    s->pc = tide_progcaster_new(a, route);
    tide_allocator_allocate(a, &msg_type, &s->push, &s->pull);
    tide_change_batch_init(&s->out);
    tide_change_batch_init(&s->in);
    /* Every worker starts with a capability at the input, and knows that every other
     * worker does: counted locally, so that no frontier moves before all have spoken. */
    tide_location input = { INPUT, 0, true };
    tide_time zero = { 2, 0, { 0, 0 } };
    tide_tracker_update(s->tracker, input, &zero, (int64_t)peers);
    s->caps[s->ncaps++] = (struct point){ input, zero };
    /* One message from the input to every worker first: however the scheduling goes, each
     * worker then checks messages from every peer. */
    for (size_t t = 0; t < peers; t++)
        send_msg(s, t, downstream(INPUT, 0), &zero);
    const int active_steps = 300;
    int rc = 0;
    double deadline = MPI_Wtime() + 90;
    for (int step = 0;; step++) {
        bool draining = step >= active_steps;
        if ((rc = absorb(s)) != 0)
            break;
        /* Consume some messages: an operator gets capabilities at its outputs. */
        for (size_t k = 0; k < s->nmsgs && k < 4;) {
            struct point m = s->msgs[k];
            if (!draining) {
                const tide_summary *sum;
                uint32_t outs = tide_tracker_outputs(s->tracker, m.loc.node);
                for (uint32_t o = 0; o < outs; o++) {
                    tide_location src = { m.loc.node, o, true };
                    if (rnd(s, 2) && tide_tracker_path_summaries(s->tracker, m.loc, src, &sum)) {
                        tide_time t;
                        if (tide_summary_apply(&sum[0], &m.time, &t) && t.c[1] < 20)
                            add_cap(s, src, &t);
                    }
                }
            }
            update(s, m.loc, &m.time, -1);
            s->msgs[k] = s->msgs[--s->nmsgs];
        }
        /* Use, downgrade or drop capabilities. */
        for (size_t k = 0; k < s->ncaps;) {
            struct point c = s->caps[k];
            uint64_t r = draining ? 3 : rnd(s, 6);
            if (r <= 1 && c.loc.node != SINK) {
                tide_time t = c.time;
                t.c[1] += rnd(s, 2);
                send_msg(s, (size_t)rnd(s, peers), downstream(c.loc.node, c.loc.port), &t);
                k++;
            } else if (r == 2) {
                tide_time t = c.time;
                t.c[rnd(s, 2)] += 1;
                add_cap(s, c.loc, &t);
                drop_cap(s, k); /* a downgrade: +1 later, -1 now, one batch */
            } else if (r == 3 && (draining || rnd(s, 3) == 0)) {
                drop_cap(s, k);
            } else {
                k++;
            }
        }
        for (size_t t = 0; t < peers; t++)
            tide_push_send(s->push[t], NULL);
        tide_progcaster_send(s->pc, &s->out);
        tide_allocator_release(a);
        if (draining && !s->ncaps && !s->nmsgs && all_empty(s))
            break;
        if (MPI_Wtime() > deadline) {
            fprintf(stderr, "worker %zu: no quiescence after 90 s (%zu capabilities, %zu "
                            "messages held)\n",
                    me, s->ncaps, s->nmsgs);
            rc = 1;
            break;
        }
        if (draining)
            tide_allocator_park(a, 1000000);
    }
    if (rc == 0 && s->checked == 0 && peers > 1) {
        fprintf(stderr, "worker %zu: received no messages: the test did not test\n", me);
        rc = 1;
    }
    tide_progcaster_free(s->pc);
    tide_tracker_free(s->tracker);
    tide_change_batch_free(&s->out);
    tide_change_batch_free(&s->in);
    tide_batch *b = NULL;
    tide_pull_recv(s->pull, &b);
    free(s);
    return rc;
}

START_TEST(test_protocol)
{
    tide_guards *g;
    ck_assert_int_eq(tide_comm_initialize(&cfg, simulate, NULL, &g), 0);
    int res[64] = { 0 };
    tide_guards_join(g, res);
    for (size_t i = 0; i < cfg.workers; i++)
        ck_assert_msg(res[i] == 0, "worker %zu of this rank failed", i);
}
END_TEST

int main(int argc, char **argv)
{
    int provided, failed = 1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0 ||
        cfg.workers > 64 || (argc > 1 && strcmp(argv[1], "--per-rank") != 0)) {
        fprintf(stderr, "mpi_progress: %s (usage: mpi_progress [--per-rank] [tide options])\n",
                cfg.error);
    } else {
        if (argc > 1)
            route = TIDE_PROGCAST_PER_RANK;
        TCase *tc = tcase_create("progress protocol");
        tcase_add_test(tc, test_protocol);
        failed = run_suite("mpi_progress", tc, CK_NOFORK);
    }
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? EXIT_FAILURE : EXIT_SUCCESS;
}
