/* SPDX-License-Identifier: MIT */
/*
 * A skewed exchange, the case a memory budget is for: every worker introduces RECORDS
 * 64-bit values and all of them go to worker 0, which spends WORK rounds of hashing on
 * each. The producers are W - 1 times faster than the consumer, so without a budget the
 * records pile up in front of it; with --memory the producers wait (they ask
 * tide_worker_has_room() between chunks, or, with --iter, the source does it itself).
 * With --fanout K worker 0 makes K copies of every record it receives (a flat_map) before
 * consuming them: one run of the flat_map then queues far more than back-pressure on the
 * sources can stop, which is what spilling (--memory, --spill-dir) is for. With --before
 * every worker makes the copies before the exchange, and they reach worker 0 through it.
 * With --delay every record is held back (tide_delay) until the source has finished: what
 * is held then waits for the sources themselves, and a budget smaller than the data has
 * to give way (the end-of-run report counts how often) rather than wait forever; with
 * --spread T the records wait at T different times (value % T after the end), each record
 * looked up among them (a benchmark of tide_delay's map of pending times).
 * Worker 0 prints how many records it took and their sum, which are exact in every shape.
 *
 *   skew RECORDS WORK [--iter] [--delay [--spread T]] [--fanout K [--before]] [tide options]
 *   e.g. mpirun -n 2 skew 20000000 50 --memory 64M
 */
#include <inttypes.h>

#include "example.h"

#define CHUNK 4096           /* records fed between two questions about room */
#define EPOCH_RECORDS 262144 /* records per epoch of the input */

struct args {
    uint64_t records, work, fanout, spread;
    bool iter, delay, before;
};

struct consumer {
    uint64_t work, count, sum, mix;
};

static void consume(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    struct consumer *c = ctx;
    uint64_t v = *(const uint64_t *)record, s = v;
    for (uint64_t i = 0; i < c->work; i++)
        c->mix ^= example_random(&s);
    c->count++;
    c->sum += v;
}

/* After every epoch the input will have (one of *ctx times): released once the source is
 * done. */
static void to_end(const void *record, const tide_time *t, tide_time *later, void *ctx)
{
    (void)t;
    uint64_t spread = *(const uint64_t *)ctx;
    *later = tide_time_root((UINT64_C(1) << 40) + *(const uint64_t *)record % spread);
}

static void copies(const void *in, tide_session *out, void *ctx)
{
    for (uint64_t k = *(const uint64_t *)ctx; k > 0; k--)
        tide_session_give(out, in);
}

struct iter {
    uint64_t next, end, stride;
};

static bool iter_next(void *record, void *ctx)
{
    struct iter *it = ctx;
    if (it->next >= it->end)
        return false;
    *(uint64_t *)record = it->next;
    it->next += it->stride;
    return true;
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct args *a = arg;
    uint64_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t n = a->records * peers; /* values 0..n-1, value v from worker v % peers */
    uint64_t k = a->fanout > 1 ? a->fanout : 1, sum = n % 2 ? n * ((n - 1) / 2) : n / 2 * (n - 1);
    struct consumer c = { a->work, 0, 0, 0 };
    struct iter it = { me, n, peers };
    tide_input *input = NULL;
    tide_scope *scope = tide_dataflow_begin(w, "skew");
    tide_stream *s = a->iter ? tide_to_stream_iter(scope, TIDE_U64, iter_next, &it, CHUNK)
                             : tide_input_new(scope, TIDE_U64, &input);
    if (a->delay)
        s = tide_delay(s, to_end, (void *)&a->spread);
    if (a->fanout > 1 && a->before)
        s = tide_flat_map(s, TIDE_U64, copies, (void *)&a->fanout);
    s = tide_exchange(s, tide_hash_zero, NULL);
    if (a->fanout > 1 && !a->before)
        s = tide_flat_map(s, TIDE_U64, copies, (void *)&a->fanout);
    tide_probe *probe = tide_probe_new(tide_inspect(s, consume, &c));
    tide_dataflow_end(scope);
    double start = example_now();
    if (input) {
        for (uint64_t v = me, sent = 0; v < n; v += peers) {
            if (sent % CHUNK == 0)
                while (!tide_worker_has_room(w))
                    tide_worker_step(w);
            tide_input_send(input, &v);
            if (++sent % EPOCH_RECORDS == 0)
                tide_input_advance_to(input, sent / EPOCH_RECORDS);
        }
        tide_input_close(input);
    }
    while (tide_worker_step(w))
        ;
    (void)probe;
    if (me == 0)
        printf("worker 0 took %" PRIu64 " records, sum %" PRIu64 " (expected %" PRIu64
               " and %" PRIu64 "), in %.3f s\n",
               c.count, c.sum, n * k, sum * k, example_now() - start);
    return c.mix == 1 ? 1 : 0; /* keeps the work from being optimized away */
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("skew", &cfg, &argc, argv);
    struct args a = { 0, 0, 1, 1, false, false, false };
    int pos = 0;
    char *given[2];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iter") == 0)
            a.iter = true;
        else if (strcmp(argv[i], "--delay") == 0)
            a.delay = true;
        else if (strcmp(argv[i], "--before") == 0)
            a.before = true;
        else if (strcmp(argv[i], "--fanout") == 0 && i + 1 < argc &&
                 example_parse(argv[i + 1], &a.fanout) == 0)
            i++;
        else if (strcmp(argv[i], "--spread") == 0 && i + 1 < argc &&
                 example_parse(argv[i + 1], &a.spread) == 0)
            i++;
        else if (pos < 2)
            given[pos++] = argv[i];
        else
            pos = 3;
    }
    if (pos != 2 || example_parse(given[0], &a.records) ||
        example_parse_min(given[1], 0, &a.work)) {
        fprintf(stderr, "usage: skew RECORDS WORK [--iter] [--delay [--spread T]] [--fanout K [--before]] [tide options]  "
                        "(RECORDS per "
                        "worker, positive; WORK rounds of hashing per record, 0 or more)\n");
        return 2;
    }
    return tide_execute(&cfg, run, &a) == 0 ? 0 : 1;
}
