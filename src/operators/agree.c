/* SPDX-License-Identifier: MIT */
/* tide_check_same: a one-call check that every worker was given the same value. */
#include <stdio.h>
#include <string.h>

#include "operators_internal.h"

struct vote {
    uint64_t hash, worker;
};
static TIDE_TYPE_POD(vote_type, struct vote);

struct tally {
    uint64_t mine;
    uint64_t other; /* a worker whose hash differs from this one's, or UINT64_MAX */
};

static void tally_votes(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    const struct vote *v = record;
    struct tally *tl = ctx;
    if (v->hash != tl->mine && tl->other == UINT64_MAX)
        tl->other = v->worker;
}

static uint64_t to_zero(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}

static uint64_t fnv1a(const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return (h ^ len) * UINT64_C(1099511628211);
}

void tide_check_same(tide_worker *w, const char *what, const void *value, size_t len)
{
    struct tally tl = { fnv1a(value, len), UINT64_MAX };
    struct vote mine = { tl.mine, tide_worker_index(w) };
    char name[96];
    snprintf(name, sizeof name, "check same %s", what);
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, name);
    tide__scope_hide(scope); /* the library's, not the program's: not in --dot */
    /* every vote to worker 0, which compares them with its own: one message per worker,
     * and a mismatch stops the whole job from there */
    tide_stream *votes = tide_exchange(tide_input_new(scope, &vote_type, &in), to_zero, NULL);
    tide_probe *done = tide_probe_new(tide_inspect(votes, tally_votes, &tl));
    tide_dataflow_end(scope);
    tide_input_send(in, &mine);
    tide_input_close(in);
    while (!tide_probe_done(done))
        tide_worker_step(w);
    if (tl.other != UINT64_MAX)
        tide_abort("the workers were not given the same %s: worker %zu's differs from worker "
                   "%llu's (were the ranks started with different arguments?)", what,
                   tide_worker_index(w), (unsigned long long)tl.other);
}
