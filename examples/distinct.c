/* SPDX-License-Identifier: MIT */
/*
 * The counterpart of timely's examples/distinct.rs: workers 0 and 1 send a few numbers,
 * exchanged by value; a Distinct operator passes on each value the first time it sees it at
 * a time, and every worker prints the values that reach it ("worker W:<tab>value X").
 *
 *   distinct [tide options]
 */
#include <inttypes.h>
#include <string.h>

#include "example.h"

/* The values seen per open time, in an open-addressing set per time (few times are open at
 * once); a time's set is dropped once the input frontier has passed it. */
struct seen_at {
    uint64_t epoch;
    uint64_t *slots; /* value + 1; 0: empty */
    size_t nslots, used;
};

struct distinct {
    struct seen_at *times;
    size_t ntimes;
};

static bool insert(struct seen_at *s, uint64_t v)
{
    if (2 * (s->used + 1) > s->nslots) {
        struct seen_at bigger = { s->epoch, NULL, s->nslots ? 2 * s->nslots : 16, 0 };
        if (!(bigger.slots = calloc(bigger.nslots, sizeof *bigger.slots)))
            tide_abort("distinct: out of memory");
        for (size_t i = 0; i < s->nslots; i++)
            if (s->slots[i])
                insert(&bigger, s->slots[i] - 1);
        free(s->slots);
        *s = bigger;
    }
    size_t j = (v * 0x9e3779b97f4a7c15ULL) & (s->nslots - 1);
    for (; s->slots[j]; j = (j + 1) & (s->nslots - 1))
        if (s->slots[j] == v + 1)
            return false;
    s->slots[j] = v + 1;
    s->used++;
    return true;
}

static struct seen_at *seen_at(struct distinct *d, uint64_t epoch)
{
    for (size_t i = 0; i < d->ntimes; i++)
        if (d->times[i].epoch == epoch)
            return &d->times[i];
    struct seen_at *more = realloc(d->times, (d->ntimes + 1) * sizeof *more);
    if (!more)
        tide_abort("distinct: out of memory");
    d->times = more;
    d->times[d->ntimes] = (struct seen_at){ .epoch = epoch };
    return &d->times[d->ntimes++];
}

static void distinct_logic(tide_op *op, void *arg)
{
    struct distinct *d = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        struct seen_at *s = seen_at(d, tide_cap_epoch(cap));
        tide_session *out = tide_op_session(op, 0, cap);
        const uint64_t *v = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++)
            if (insert(s, v[i]))
                tide_session_give(out, &v[i]);
    }
    for (size_t i = 0; i < d->ntimes;) {
        tide_time t = tide_time_root(d->times[i].epoch);
        if (tide_antichain_less_equal(tide_op_frontier(op, 0), &t)) {
            i++;
            continue;
        }
        free(d->times[i].slots);
        d->times[i] = d->times[--d->ntimes];
    }
}

static void distinct_free(void *arg)
{
    struct distinct *d = arg;
    for (size_t i = 0; i < d->ntimes; i++)
        free(d->times[i].slots);
    free(d->times);
    free(d);
}

static void print_value(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    printf("worker %zu:\tvalue %" PRIu64 "\n", *(const size_t *)ctx, *(const uint64_t *)r);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    (void)arg;
    static const uint64_t mine[2][8] = { { 0, 1, 2, 2, 2, 3, 3, 4 }, { 0, 0, 3, 4, 4, 5, 7, 7 } };
    size_t me = tide_worker_index(w);
    struct distinct *d = calloc(1, sizeof *d);
    if (!d)
        return 1;
    tide_input *input;
    tide_scope *scope = tide_dataflow_begin(w, "distinct");
    tide_stream *s = tide_unary_frontier(tide_input_new(scope, TIDE_U64, &input),
                                         TIDE_EXCHANGE(tide_hash_u64, NULL), "Distinct", TIDE_U64,
                                         distinct_logic, d, distinct_free);
    tide_probe *probe = tide_probe_new(tide_inspect(s, print_value, &me));
    tide_dataflow_end(scope);
    if (me < 2)
        for (int i = 0; i < 8; i++)
            tide_input_send(input, &mine[me][i]);
    tide_input_advance_to(input, 1);
    while (tide_probe_less_than(probe, tide_input_epoch(input)))
        tide_worker_step(w);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("distinct", &cfg, &argc, argv);
    if (argc != 1) {
        fprintf(stderr, "usage: distinct [tide options]\n");
        return 2;
    }
    return tide_execute(&cfg, run, NULL) == 0 ? 0 : 1;
}
