/* SPDX-License-Identifier: MIT */
/*
 * Random dataflows against the progress protocol. For each seed, every worker builds the
 * same random graph: operators with one or two inputs and one or two outputs, fed by the
 * input, by earlier operators or by loop variables (connected at the end to any output,
 * so there are loops of every shape), each input randomly pipelined or exchanged. The
 * operators (different random choices on each worker) pass records on at once, or hold
 * capabilities (delayed to later epochs, downgraded further, dropped in any order) and
 * send later. Records carry a hop budget, so every run ends.
 *
 * Checked on every batch read: its time is not behind the input's frontier. Checked at the
 * end: every probe is done and the dataflow completed on every worker.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dataflow_work.h"

struct rrec {
    uint64_t ttl, salt;
};
static TIDE_TYPE_POD(rrec_type, struct rrec);

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static uint64_t by_salt(const void *r, void *ctx)
{
    (void)ctx;
    return ((const struct rrec *)r)->salt;
}

struct held {
    tide_cap *cap;
    uint32_t out;
    struct rrec rec;
};

struct rop {
    uint64_t rng;
    struct held *held;
    size_t nheld, capheld;
    int *errors; /* the run's, outliving the operator */
};

static void hold(struct rop *r, tide_cap *cap, uint32_t out, struct rrec rec)
{
    if (r->nheld == r->capheld) {
        r->capheld = r->capheld ? 2 * r->capheld : 8;
        r->held = realloc(r->held, r->capheld * sizeof *r->held);
        if (!r->held)
            abort();
    }
    r->held[r->nheld++] = (struct held){ cap, out, rec };
}

static void random_logic(tide_op *op, void *arg)
{
    struct rop *r = arg;
    uint32_t nout = tide_op_outputs(op);
    for (uint32_t i = 0; i < tide_op_inputs(op); i++) {
        tide_cap *cap;
        tide_batch *b;
        while (tide_op_next(op, i, &cap, &b)) {
            const tide_time *t = tide_cap_time(cap);
            if (!tide_antichain_less_equal(tide_op_frontier(op, i), t)) {
                fprintf(stderr, "operator '%s' input %u: a batch at %llu after its frontier "
                                "passed it\n", tide_op_name(op), i,
                        (unsigned long long)t->c[0]);
                (*r->errors)++;
            }
            const struct rrec *rec = tide_batch_records(b);
            for (size_t k = 0; k < tide_batch_len(b); k++) {
                if (rec[k].ttl == 0)
                    continue;
                struct rrec next = { rec[k].ttl - 1, rnd(&r->rng) };
                uint32_t o = (uint32_t)(rnd(&r->rng) % nout);
                if (rnd(&r->rng) % 2) {
                    tide_session_give(tide_op_session(op, o, cap), &next);
                } else {
                    tide_time later = tide_time_root(t->c[0] + rnd(&r->rng) % 3);
                    hold(r, tide_cap_delayed(cap, &later), o, next);
                }
            }
        }
    }
    /* Release some held records, move some capabilities on, in any order. */
    for (size_t k = 0; k < r->nheld;) {
        struct held *h = &r->held[k];
        uint64_t choice = rnd(&r->rng) % 4;
        if (choice == 0) {
            tide_session_give(tide_op_session(op, h->out, h->cap), &h->rec);
            tide_cap_drop(&h->cap);
            *h = r->held[--r->nheld];
            continue;
        }
        if (choice == 1) {
            tide_time later = tide_time_root(tide_cap_epoch(h->cap) + 1);
            tide_cap_downgrade(h->cap, &later);
        }
        k++;
    }
    if (r->nheld)
        tide_op_activate(op);
}

static void rop_free(void *arg)
{
    struct rop *r = arg;
    for (size_t k = 0; k < r->nheld; k++)
        tide_cap_drop(&r->held[k].cap);
    free(r->held);
    free(r);
}

#define MAX_STREAMS 64
#define MAX_OPS 10

/* Builds the graph of @p seed; its operators count their errors in *errors. */
static void build(tide_worker *w, uint64_t seed, tide_input **in, tide_probe **probes,
                  size_t *nprobes, int *errors)
{
    uint64_t g = seed * 0x9e3779b97f4a7c15ULL + 1;
    tide_scope *scope = tide_dataflow_begin(w, "random");
    tide_stream *streams[MAX_STREAMS];
    size_t ns = 0;
    tide_loop *loops[MAX_OPS * 2];
    size_t nl = 0;
    streams[ns++] = tide_input_new(scope, &rrec_type, in);
    size_t nops = 2 + rnd(&g) % (MAX_OPS - 1);
    for (size_t i = 0; i < nops; i++) {
        char name[32];
        snprintf(name, sizeof name, "op%zu", i);
        tide_builder *b = tide_builder_new(scope, name);
        uint32_t nin = 1 + (rnd(&g) % 3 == 0);
        for (uint32_t k = 0; k < nin; k++) {
            tide_stream *src;
            if (rnd(&g) % 4 == 0) {
                src = tide_loop_variable(scope, 1 + rnd(&g) % 2, &rrec_type, &loops[nl++]);
            } else {
                src = streams[rnd(&g) % ns];
            }
            tide_pact pact = rnd(&g) % 2 ? TIDE_EXCHANGE(by_salt, NULL) : TIDE_PIPELINE;
            tide_builder_input(b, src, pact);
        }
        uint32_t nout = 1 + (rnd(&g) % 3 == 0);
        for (uint32_t k = 0; k < nout && ns < MAX_STREAMS; k++)
            streams[ns++] = tide_builder_output(b, &rrec_type);
        struct rop *r = calloc(1, sizeof *r);
        if (!r)
            abort();
        r->rng = seed * 1000003 + tide_worker_index(w) * 7919 + i;
        r->errors = errors;
        tide_builder_build(b, random_logic, r, rop_free, NULL);
    }
    for (size_t k = 0; k < nl; k++)
        tide_loop_connect(loops[k], streams[1 + rnd(&g) % (ns - 1)]);
    *nprobes = 0;
    for (size_t k = 1; k < ns; k++)
        probes[(*nprobes)++] = tide_probe_new(streams[k]);
    tide_dataflow_end(scope);
}

int df_random(tide_worker *w, void *ctx)
{
    (void)ctx;
    const char *env = getenv("TIDE_RANDOM_SEEDS");
    uint64_t seeds = env ? strtoull(env, NULL, 10) : 12;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        tide_input *in;
        tide_probe *probes[MAX_STREAMS];
        size_t nprobes;
        int errors = 0;
        build(w, seed, &in, probes, &nprobes, &errors);
        uint64_t rng = seed + 31 * tide_worker_index(w);
        for (uint64_t e = 0; e < 4; e++) {
            for (int k = 0; k < 20; k++) {
                struct rrec r = { rnd(&rng) % 6, rnd(&rng) };
                tide_input_send(in, &r);
            }
            tide_input_advance_to(in, e + 1);
            for (int k = 0; k < 3; k++)
                tide_worker_step(w);
        }
        tide_input_close(in);
        while (tide_worker_step(w))
            ;
        for (size_t k = 0; k < nprobes; k++)
            WORK_CHECK(w, tide_probe_done(probes[k]), "seed %llu: probe %zu not done",
                       (unsigned long long)seed, k);
        WORK_CHECK(w, errors == 0, "seed %llu: %d batches behind their frontier",
                   (unsigned long long)seed, errors);
    }
    return 0;
}
