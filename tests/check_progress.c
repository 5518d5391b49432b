/* SPDX-License-Identifier: MIT */
/* Progress tracking: cases worked by hand, then property tests (fixed seeds) comparing the
 * incremental tracker with a brute-force recomputation after every batch of updates. */
#include <stdio.h>
#include <string.h>

#include <tide.h>

#include "check_main.h"

static tide_time T(uint64_t a) { return tide_time_root(a); }
static tide_time T2(uint64_t a, uint64_t b)
{
    uint64_t c[2] = { a, b };
    return tide_time_make(2, c);
}

/* ---------------------------------------------------------------- times and summaries */

START_TEST(test_time_orders)
{
    tide_time a = T2(1, 5), b = T2(2, 3), c = T2(2, 5);
    ck_assert(!tide_time_le(&a, &b) && !tide_time_le(&b, &a)); /* incomparable */
    ck_assert(tide_time_le(&a, &c) && tide_time_le(&b, &c));
    ck_assert(tide_time_lt(&a, &c) && !tide_time_lt(&c, &c));
    ck_assert_int_lt(tide_time_cmp(&a, &b), 0); /* the total order still sorts them */
    ck_assert_int_eq(tide_time_cmp(&c, &c), 0);
    char buf[64];
    tide_time_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, "(1, 5)");
    tide_time r = T(7);
    tide_time_format(&r, buf, sizeof buf);
    ck_assert_str_eq(buf, "7");
    tide_time in = tide_time_enter(&r);
    ck_assert_uint_eq(in.depth, 2);
    ck_assert_uint_eq(in.c[1], 0);
    tide_time out = tide_time_leave(&a);
    ck_assert(tide_time_eq(&out, &(tide_time){ 1, 0, { 1 } }));
    ck_assert_int_eq(tide_time_format(&a, buf, 3), 6); /* truncated, says what it needed */
    ck_assert_str_eq(buf, "(1");
}
END_TEST

START_TEST(test_summaries)
{
    tide_summary fb = tide_summary_feedback(2, 1), id = tide_summary_identity(2), s;
    tide_time t = T2(3, 4), u;
    ck_assert(tide_summary_apply(&fb, &t, &u));
    ck_assert(tide_time_eq(&u, &(tide_time){ 2, 0, { 3, 5 } }));
    ck_assert(tide_summary_then(&fb, &fb, &s));
    ck_assert_uint_eq(s.inc[1], 2);
    ck_assert(tide_summary_le(&id, &fb) && !tide_summary_le(&fb, &id));
    ck_assert(tide_summary_advances(&fb) && !tide_summary_advances(&id));
    tide_summary big = tide_summary_feedback(2, UINT64_MAX);
    ck_assert(!tide_summary_apply(&big, &t, &u)); /* overflow: no path */
    ck_assert(!tide_summary_then(&big, &fb, &s));
    tide_summary lv = tide_summary_leave(&fb);
    ck_assert_uint_eq(lv.depth, 1);
    ck_assert(!tide_summary_advances(&lv)); /* the loop's increment is invisible outside */
}
END_TEST

START_TEST(test_antichain)
{
    tide_antichain a;
    tide_antichain_init(&a);
    tide_time t15 = T2(1, 5), t23 = T2(2, 3), t14 = T2(1, 4), t99 = T2(9, 9);
    ck_assert(tide_antichain_insert(&a, &t15));
    ck_assert(tide_antichain_insert(&a, &t23)); /* incomparable: both stay */
    ck_assert_uint_eq(a.len, 2);
    ck_assert(!tide_antichain_insert(&a, &t99)); /* dominated */
    ck_assert(!tide_antichain_insert(&a, &t15)); /* already there */
    ck_assert(tide_antichain_insert(&a, &t14));  /* removes (1, 5) */
    ck_assert_uint_eq(a.len, 2);
    ck_assert(tide_antichain_less_equal(&a, &t14) && !tide_antichain_less_than(&a, &t14));
    ck_assert(tide_antichain_less_than(&a, &t15));
    tide_time t05 = T2(0, 5);
    ck_assert(!tide_antichain_less_equal(&a, &t05));
    tide_antichain b;
    tide_antichain_init(&b);
    tide_antichain_insert(&b, &t23);
    tide_antichain_insert(&b, &t14);
    ck_assert(tide_antichain_equal(&a, &b));
    tide_antichain_clear(&a);
    ck_assert(!tide_antichain_less_equal(&a, &t99)); /* empty: nothing can come */
    tide_antichain_free(&a);
    tide_antichain_free(&b);
}
END_TEST

START_TEST(test_change_batch)
{
    tide_change_batch b;
    tide_change_batch_init(&b);
    tide_time t1 = T(1), t2 = T(2);
    tide_change_batch_update(&b, 7, &t1, +1);
    tide_change_batch_update(&b, 7, &t2, +3);
    tide_change_batch_update(&b, 7, &t1, -1); /* cancels */
    tide_change_batch_update(&b, 3, &t2, +1);
    tide_change_batch_update(&b, 3, &t2, 0); /* ignored */
    tide_change_batch_compact(&b);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_uint_eq(b.changes[0].key, 3); /* sorted by key, then time */
    ck_assert_int_eq(b.changes[1].delta, 3);
    tide_change_batch_update(&b, 3, &t2, -1);
    tide_change_batch_update(&b, 7, &t2, -3);
    ck_assert(tide_change_batch_is_empty(&b));
    for (int i = 0; i < 1000; i++) { /* long cancelling streams stay small */
        tide_change_batch_update(&b, 1, &t1, +1);
        tide_change_batch_update(&b, 1, &t1, -1);
    }
    ck_assert_uint_le(b.len, 130);
    ck_assert(tide_change_batch_is_empty(&b));
    tide_change_batch_free(&b);
}
END_TEST

START_TEST(test_mutable_antichain)
{
    tide_mutable_antichain m;
    tide_change_batch fc;
    tide_mutable_antichain_init(&m);
    tide_change_batch_init(&fc);
    tide_change up[] = { { 0, T2(1, 5), +1 }, { 0, T2(2, 3), +2 }, { 0, T2(3, 6), +1 } };
    tide_mutable_antichain_update(&m, up, 3, &fc);
    ck_assert_uint_eq(m.frontier.len, 2); /* (1,5) and (2,3); (3,6) is above both */
    tide_change_batch_compact(&fc);
    ck_assert_uint_eq(fc.len, 2);
    ck_assert_int_eq(fc.changes[0].delta, +1);
    tide_change_batch_clear(&fc);
    /* Above the frontier: no frontier change, no rebuild. */
    tide_change more = { 0, T2(4, 9), +1 };
    tide_mutable_antichain_update(&m, &more, 1, &fc);
    ck_assert_uint_eq(fc.len, 0);
    /* (2,3) drops once: still count 1, frontier unchanged. */
    tide_change drop = { 0, T2(2, 3), -1 };
    tide_mutable_antichain_update(&m, &drop, 1, &fc);
    ck_assert_uint_eq(fc.len, 0);
    ck_assert_int_eq(tide_mutable_antichain_count(&m, &drop.time), 1);
    /* Now to 0: (2,3) leaves; (3,6) stays above (1,5)? no: (1,5) <= (3,6), so frontier is
     * {(1,5)} and only (2,3) leaves. */
    tide_mutable_antichain_update(&m, &drop, 1, &fc);
    tide_change_batch_compact(&fc);
    ck_assert_uint_eq(fc.len, 1);
    ck_assert_int_eq(fc.changes[0].delta, -1);
    ck_assert(tide_time_eq(&fc.changes[0].time, &drop.time));
    tide_change_batch_clear(&fc);
    /* A negative count (its +1 not seen yet) does not hold the frontier. */
    tide_change early = { 0, T2(0, 0), -1 };
    tide_mutable_antichain_update(&m, &early, 1, &fc);
    ck_assert_uint_eq(m.frontier.len, 1);
    tide_change late = { 0, T2(0, 0), +1 };
    tide_mutable_antichain_update(&m, &late, 1, &fc);
    ck_assert_uint_eq(m.frontier.len, 1);
    ck_assert_int_eq(tide_mutable_antichain_count(&m, &late.time), 0);
    tide_mutable_antichain_free(&m);
    tide_change_batch_free(&fc);
}
END_TEST

/* Random updates, mostly the pattern of progress (the earliest time leaves, a later one
 * comes) with some anywhere, negative and back again, over epochs and (epoch, round)
 * times: the counts and the frontier after every batch against a recount from scratch,
 * and the frontier changes reported against the frontiers' difference. Covers the zero
 * counts kept at the front and the scan that stops at a time below all later ones. */
START_TEST(test_mutable_antichain_random)
{
    enum { E = 12, R = 4, STEPS = 4000 };
    for (uint32_t depth = 1; depth <= 2; depth++) {
        uint64_t rng = 77 + depth;
        int64_t count[E][R] = { { 0 } };
        tide_mutable_antichain m;
        tide_change_batch fc;
        tide_mutable_antichain_init(&m);
        tide_change_batch_init(&fc);
        uint64_t low = 0; /* the pattern's earliest epoch */
        size_t saw_lead = 0, saw_revive = 0;
        for (int step = 0; step < STEPS; step++) {
            tide_change ch[3];
            size_t n = 0;
            uint64_t r = (rng = rng * 6364136223846793005ULL + 1442695040888963407ULL) >> 33;
            uint64_t e = r % E, k = depth == 2 ? (r >> 8) % R : 0;
            if (r % 3) { /* the earliest positive count goes, a later epoch comes */
                for (uint64_t x = 0; x < E * R && !n; x++) {
                    uint64_t xe = (low + x / R) % E, xk = depth == 2 ? x % R : 0;
                    if (count[xe][xk] > 0)
                        ch[n++] = (tide_change){ 0, depth == 2 ? T2(xe, xk) : T(xe), -1 };
                    if (depth == 1)
                        x += R - 1;
                }
                low = (low + (r >> 20) % 2) % E;
                ch[n++] = (tide_change){ 0, depth == 2 ? T2(e, k) : T(e), +1 };
            } else { /* anywhere, up or down */
                int64_t d = (int64_t)((r >> 12) % 5) - 2;
                if (d)
                    ch[n++] = (tide_change){ 0, depth == 2 ? T2(e, k) : T(e), d };
            }
            tide_antichain was;
            tide_antichain_init(&was);
            for (size_t i = 0; i < m.frontier.len; i++)
                tide_antichain_insert(&was, &m.frontier.elems[i]);
            tide_change_batch_clear(&fc);
            size_t lead = m.lead;
            for (size_t i = 0; i < n && lead; i++)
                saw_revive += tide_time_cmp(&ch[i].time, &m.counts.changes[lead - 1].time) <= 0;
            tide_mutable_antichain_update(&m, ch, n, &fc);
            saw_lead += m.lead > 0;
            for (size_t i = 0; i < n; i++)
                count[ch[i].time.c[0]][depth == 2 ? ch[i].time.c[1] : 0] += ch[i].delta;
            /* the recount: every count, and the minimal positive times */
            tide_antichain want;
            tide_antichain_init(&want);
            size_t nonzero = 0;
            for (uint64_t a = 0; a < E; a++)
                for (uint64_t b = 0; b < (depth == 2 ? R : 1); b++) {
                    tide_time t = depth == 2 ? T2(a, b) : T(a);
                    ck_assert_int_eq(tide_mutable_antichain_count(&m, &t), count[a][b]);
                    nonzero += count[a][b] != 0;
                    if (count[a][b] > 0)
                        tide_antichain_insert(&want, &t);
                }
            ck_assert_uint_ge(m.counts.len, nonzero);
            ck_assert_uint_le(m.counts.len - m.lead, nonzero);
            ck_assert_uint_eq(m.frontier.len, want.len);
            for (size_t i = 0; i < want.len; i++)
                ck_assert(tide_antichain_less_equal(&m.frontier, &want.elems[i]) &&
                          tide_antichain_less_equal(&want, &m.frontier.elems[i]));
            /* was + reported changes = now */
            tide_change_batch_compact(&fc);
            for (size_t i = 0; i < fc.len; i++) {
                bool in_was = false, in_now = false;
                for (size_t j = 0; j < was.len; j++)
                    in_was |= tide_time_eq(&was.elems[j], &fc.changes[i].time);
                for (size_t j = 0; j < want.len; j++)
                    in_now |= tide_time_eq(&want.elems[j], &fc.changes[i].time);
                ck_assert(fc.changes[i].delta == (in_now ? +1 : -1) && in_was != in_now);
            }
            tide_antichain_free(&want);
            tide_antichain_free(&was);
        }
        ck_assert_uint_gt(saw_lead, 50); /* the cases this is for happened */
        ck_assert_uint_gt(saw_revive, 10);
        /* everything back to zero: the counts end empty */
        for (uint64_t a = 0; a < E; a++)
            for (uint64_t b = 0; b < (depth == 2 ? R : 1); b++)
                if (count[a][b]) {
                    tide_change c = { 0, depth == 2 ? T2(a, b) : T(a), -count[a][b] };
                    tide_mutable_antichain_update(&m, &c, 1, NULL);
                }
        ck_assert_uint_eq(m.counts.len, 0);
        ck_assert_uint_eq(m.frontier.len, 0);
        tide_mutable_antichain_free(&m);
        tide_change_batch_free(&fc);
    }
}
END_TEST

/* ---------------------------------------------------------------- the tracker by hand */

static tide_location in(uint32_t node, uint32_t port) { return (tide_location){ node, port, false }; }
static tide_location out(uint32_t node, uint32_t port) { return (tide_location){ node, port, true }; }

/* source -> a -> b, with a feedback loop b -> a (+1 on the inner coordinate). */
static tide_tracker *loop_tracker(void)
{
    tide_graph *g = tide_graph_new(2);
    tide_summary id = tide_summary_identity(2), fb = tide_summary_feedback(2, 1);
    int src = tide_graph_add_node(g, "input", 0, 1);
    int a = tide_graph_add_node(g, "a", 2, 1);
    int b = tide_graph_add_node(g, "feedback", 1, 1);
    ck_assert_int_eq(tide_graph_add_summary(g, (uint32_t)a, 0, 0, &id), 0);
    ck_assert_int_eq(tide_graph_add_summary(g, (uint32_t)a, 1, 0, &id), 0);
    ck_assert_int_eq(tide_graph_add_summary(g, (uint32_t)b, 0, 0, &fb), 0);
    ck_assert_int_eq(tide_graph_add_edge(g, (uint32_t)src, 0, (uint32_t)a, 0), 0);
    ck_assert_int_eq(tide_graph_add_edge(g, (uint32_t)a, 0, (uint32_t)b, 0), 0);
    ck_assert_int_eq(tide_graph_add_edge(g, (uint32_t)b, 0, (uint32_t)a, 1), 0);
    tide_tracker *t;
    char err[256];
    ck_assert_int_eq(tide_tracker_new(g, &t, err, sizeof err), 0);
    tide_graph_free(g);
    return t;
}

START_TEST(test_tracker_loop)
{
    tide_tracker *t = loop_tracker();
    tide_time c0 = T2(0, 0), c1 = T2(1, 0);
    tide_tracker_update(t, out(0, 0), &c0, +1); /* the input holds a capability at (0,0) */
    ck_assert_uint_gt(tide_tracker_propagate(t), 0);
    const tide_antichain *fa = tide_tracker_frontier(t, in(1, 0));
    ck_assert_uint_eq(fa->len, 1);
    ck_assert(tide_time_eq(&fa->elems[0], &c0));
    /* Around the loop the frontier is one iteration later. */
    const tide_antichain *fl = tide_tracker_frontier(t, in(1, 1));
    ck_assert(tide_time_eq(&fl->elems[0], &(tide_time){ 2, 0, { 0, 1 } }));
    /* A message in flight into the feedback operator at (0, 3) holds its own input. */
    tide_time m = T2(0, 3);
    tide_tracker_update(t, in(2, 0), &m, +1);
    tide_tracker_update(t, out(0, 0), &c1, +1);
    tide_tracker_update(t, out(0, 0), &c0, -1); /* input advances to (1, 0) */
    tide_tracker_propagate(t);
    fa = tide_tracker_frontier(t, in(1, 0));
    ck_assert(tide_time_eq(&fa->elems[0], &c1));
    const tide_antichain *fb = tide_tracker_frontier(t, in(2, 0));
    /* The message at (0,3) and the input's (1,0) are incomparable: it sees both. */
    ck_assert_uint_eq(fb->len, 2);
    ck_assert(tide_antichain_less_equal(fb, &m) && tide_antichain_less_equal(fb, &c1));
    tide_tracker_update(t, in(2, 0), &m, -1);
    tide_tracker_update(t, out(0, 0), &c1, -1); /* everything done */
    tide_tracker_propagate(t);
    for (uint32_t n = 0; n < 3; n++)
        for (uint32_t p = 0; p < tide_tracker_inputs(t, n); p++)
            ck_assert_uint_eq(tide_tracker_frontier(t, in(n, p))->len, 0);
    tide_tracker_free(t);
}
END_TEST

START_TEST(test_tracker_rejects_stuck_cycle)
{
    tide_graph *g = tide_graph_new(1);
    tide_summary id = tide_summary_identity(1);
    int a = tide_graph_add_node(g, "map", 1, 1);
    int b = tide_graph_add_node(g, "filter", 1, 1);
    tide_graph_add_summary(g, (uint32_t)a, 0, 0, &id);
    tide_graph_add_summary(g, (uint32_t)b, 0, 0, &id);
    tide_graph_add_edge(g, (uint32_t)a, 0, (uint32_t)b, 0);
    tide_graph_add_edge(g, (uint32_t)b, 0, (uint32_t)a, 0);
    tide_tracker *t = NULL;
    char err[256];
    ck_assert_int_eq(tide_tracker_new(g, &t, err, sizeof err), TIDE_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "does not advance time") && strstr(err, "'map'") &&
                      strstr(err, "'filter'"),
                  "message: %s", err);
    /* With a summary that advances, the same cycle is fine. */
    tide_summary one = tide_summary_feedback(1, 1);
    tide_graph_add_summary(g, (uint32_t)b, 0, 0, &one); /* antichain {0, +1}: still stuck */
    ck_assert_int_eq(tide_tracker_new(g, &t, err, sizeof err), TIDE_EINVAL);
    tide_graph_free(g);
    g = tide_graph_new(1);
    a = tide_graph_add_node(g, "map", 1, 1);
    b = tide_graph_add_node(g, "feedback", 1, 1);
    tide_graph_add_summary(g, (uint32_t)a, 0, 0, &id);
    tide_graph_add_summary(g, (uint32_t)b, 0, 0, &one);
    tide_graph_add_edge(g, (uint32_t)a, 0, (uint32_t)b, 0);
    tide_graph_add_edge(g, (uint32_t)b, 0, (uint32_t)a, 0);
    ck_assert_int_eq(tide_tracker_new(g, &t, err, sizeof err), 0);
    tide_tracker_free(t);
    /* Bad graph calls are refused. */
    ck_assert_int_eq(tide_graph_add_edge(g, 0, 5, 1, 0), TIDE_EINVAL);
    ck_assert_int_eq(tide_graph_add_edge(g, 9, 0, 1, 0), TIDE_EINVAL);
    tide_summary deep = tide_summary_identity(2);
    ck_assert_int_eq(tide_graph_add_summary(g, 0, 0, 0, &deep), TIDE_EINVAL);
    tide_graph_free(g);
    ck_assert_ptr_null(tide_graph_new(0));
    ck_assert_ptr_null(tide_graph_new(TIDE_TIME_MAX_DEPTH + 1));
}
END_TEST

START_TEST(test_path_summaries_and_scope_projection)
{
    tide_tracker *t = loop_tracker();
    const tide_summary *s;
    /* From the input's output to a's loop input: around once, +1 on the inner coordinate. */
    size_t n = tide_tracker_path_summaries(t, out(0, 0), in(1, 1), &s);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(s[0].inc[1], 1);
    /* To a's first input: identity only (the loop's +1 path is dominated). */
    n = tide_tracker_path_summaries(t, out(0, 0), in(1, 0), &s);
    ck_assert_uint_eq(n, 1);
    ck_assert(!tide_summary_advances(&s[0]));
    /* Seen from a parent scope, the loop's summary keeps outer times unchanged. */
    tide_summary outer = tide_summary_leave(&s[0]);
    ck_assert_uint_eq(outer.depth, 1);
    ck_assert(!tide_summary_advances(&outer));
    /* No path backwards. */
    ck_assert_uint_eq(tide_tracker_path_summaries(t, out(2, 0), in(2, 0), &s), 1);
    ck_assert_uint_eq(tide_tracker_path_summaries(t, out(1, 0), in(1, 0), &s), 0);
    tide_tracker_free(t);
}
END_TEST

/* A loop scope as its parent sees it: boundary node 0 (scope input = its output 0, scope
 * output = its input 0), a -> b, b's output 0 leaves the scope, b's output 1 feeds back
 * (+1 on the inner coordinate) into a. */
START_TEST(test_nested_scope)
{
    tide_graph *g = tide_graph_new(2);
    tide_summary id = tide_summary_identity(2), fb = tide_summary_feedback(2, 1);
    tide_graph_add_node(g, "scope", 1, 1);
    tide_graph_add_node(g, "a", 2, 1);
    tide_graph_add_node(g, "b", 1, 2);
    tide_graph_add_node(g, "feedback", 1, 1);
    tide_graph_add_summary(g, 1, 0, 0, &id);
    tide_graph_add_summary(g, 1, 1, 0, &id);
    tide_graph_add_summary(g, 2, 0, 0, &id);
    tide_graph_add_summary(g, 2, 0, 1, &id);
    tide_graph_add_summary(g, 3, 0, 0, &fb);
    tide_graph_add_edge(g, 0, 0, 1, 0);
    tide_graph_add_edge(g, 1, 0, 2, 0);
    tide_graph_add_edge(g, 2, 0, 0, 0);
    tide_graph_add_edge(g, 2, 1, 3, 0);
    tide_graph_add_edge(g, 3, 0, 1, 1);
    tide_tracker *t;
    ck_assert_int_eq(tide_tracker_new(g, &t, NULL, 0), 0);
    tide_graph_free(g);
    /* Scope input to scope output: the parent sees the identity (looping only adds to the
     * inner coordinate, which the parent does not see). */
    tide_summary s[4];
    ck_assert_uint_eq(tide_tracker_scope_summaries(t, 0, 0, s, 4), 1);
    ck_assert_uint_eq(s[0].depth, 1);
    ck_assert(!tide_summary_advances(&s[0]));
    /* A capability inside, at (5, 3), at a's output: the scope holds outer time 5. */
    tide_change_batch out_;
    tide_change_batch_init(&out_);
    tide_time c53 = T2(5, 3), c54 = T2(5, 4), c60 = T2(6, 0);
    tide_tracker_update(t, out(1, 0), &c53, +1);
    tide_tracker_propagate(t);
    tide_tracker_scope_changes(t, &out_);
    ck_assert_uint_eq(out_.len, 1);
    ck_assert_uint_eq(out_.changes[0].key, 0);
    ck_assert(tide_time_eq(&out_.changes[0].time, &(tide_time){ 1, 0, { 5 } }));
    ck_assert_int_eq(out_.changes[0].delta, +1);
    tide_change_batch_clear(&out_);
    /* Another iteration of the loop: the parent sees no change. */
    tide_tracker_update(t, out(1, 0), &c54, +1);
    tide_tracker_update(t, out(1, 0), &c53, -1);
    tide_tracker_propagate(t);
    tide_tracker_scope_changes(t, &out_);
    ck_assert_uint_eq(out_.len, 0);
    /* The next outer round: 5 leaves, 6 enters. */
    tide_tracker_update(t, out(1, 0), &c60, +1);
    tide_tracker_update(t, out(1, 0), &c54, -1);
    tide_tracker_propagate(t);
    tide_tracker_scope_changes(t, &out_);
    tide_change_batch_compact(&out_);
    ck_assert_uint_eq(out_.len, 2);
    ck_assert(out_.changes[0].time.c[0] == 5 && out_.changes[0].delta == -1);
    ck_assert(out_.changes[1].time.c[0] == 6 && out_.changes[1].delta == +1);
    tide_change_batch_clear(&out_);
    tide_tracker_update(t, out(1, 0), &c60, -1);
    tide_tracker_propagate(t);
    tide_tracker_scope_changes(t, &out_);
    ck_assert_uint_eq(out_.len, 1);
    ck_assert_int_eq(out_.changes[0].delta, -1);
    tide_change_batch_free(&out_);
    tide_tracker_free(t);
}
END_TEST

/* ---------------------------------------------------------------- property tests */

static uint64_t rng_state;
static uint64_t rnd(uint64_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng_state >> 33) % n;
}

/* Minimal elements of { s(t) : pointstamp (L, t) with positive count, s a path summary
 * from L to loc } ∪ positive pointstamps at loc: what the frontier at loc must be. */
static void brute_frontier(tide_tracker *t, tide_location loc, tide_antichain *out_)
{
    tide_antichain_clear(out_);
    for (uint32_t n = 0; n < tide_tracker_nodes(t); n++)
        for (int kind = 0; kind < 2; kind++) {
            uint32_t ports = kind ? tide_tracker_outputs(t, n) : tide_tracker_inputs(t, n);
            for (uint32_t p = 0; p < ports; p++) {
                tide_location from = { n, p, kind == 1 };
                const tide_mutable_antichain *ps = tide_tracker_pointstamps(t, from);
                const tide_summary *s;
                size_t ns = tide_tracker_path_summaries(t, from, loc, &s);
                for (size_t i = 0; i < ps->counts.len; i++) {
                    if (ps->counts.changes[i].delta <= 0)
                        continue;
                    for (size_t k = 0; k < ns; k++) {
                        tide_time moved;
                        if (tide_summary_apply(&s[k], &ps->counts.changes[i].time, &moved))
                            tide_antichain_insert(out_, &moved);
                    }
                }
            }
        }
}

/* A random graph: nodes with 1-3 inputs and outputs, random summaries (advancing on
 * designated feedback nodes), random edges, which make cycles. Cycles that do not advance
 * are rejected by the builder; such graphs are retried. */
static tide_tracker *random_tracker(uint32_t depth, uint32_t nodes)
{
    for (;;) {
        tide_graph *g = tide_graph_new(depth);
        for (uint32_t n = 0; n < nodes; n++) {
            uint32_t ins = 1 + (uint32_t)rnd(2), outs = 1 + (uint32_t)rnd(2);
            char name[16];
            snprintf(name, sizeof name, "op%u", n);
            tide_graph_add_node(g, name, ins, outs);
            bool feedback = rnd(3) == 0;
            for (uint32_t i = 0; i < ins; i++)
                for (uint32_t o = 0; o < outs; o++) {
                    if (rnd(4) == 0)
                        continue; /* no path from this input to this output */
                    tide_summary s = tide_summary_identity(depth);
                    for (uint32_t c = 0; c < depth; c++)
                        s.inc[c] = feedback ? 1 + rnd(2) : rnd(3) == 0 ? rnd(2) : 0;
                    tide_graph_add_summary(g, n, i, o, &s);
                    if (rnd(3) == 0) { /* a second, incomparable summary */
                        tide_summary s2 = tide_summary_identity(depth);
                        s2.inc[depth - 1] = feedback ? 2 : 1;
                        tide_graph_add_summary(g, n, i, o, &s2);
                    }
                }
        }
        uint32_t edges = nodes + (uint32_t)rnd(nodes + 1);
        for (uint32_t e = 0; e < edges; e++) {
            uint32_t from = (uint32_t)rnd(nodes), to = (uint32_t)rnd(nodes);
            (void)tide_graph_add_edge(g, from, 0, to, (uint32_t)rnd(2));
        }
        tide_tracker *t;
        int rc = tide_tracker_new(g, &t, NULL, 0);
        tide_graph_free(g);
        if (rc == 0)
            return t;
    }
}

static tide_location random_location(tide_tracker *t)
{
    for (;;) {
        uint32_t n = (uint32_t)rnd(tide_tracker_nodes(t));
        bool src = rnd(2);
        uint32_t ports = src ? tide_tracker_outputs(t, n) : tide_tracker_inputs(t, n);
        if (ports)
            return (tide_location){ n, (uint32_t)rnd(ports), src };
    }
}

static void brute_force_case(int _i)
{
    rng_state = 1000 + (uint64_t)_i;
    uint32_t depth = 1 + (uint32_t)(_i % 3);
    tide_tracker *t = random_tracker(depth, 2 + (uint32_t)rnd(9));
    tide_antichain want;
    tide_antichain_init(&want);
    /* Live pointstamps, so that most updates are releases of what exists (as in a real
     * run) and every run can end with nothing left. */
    struct { tide_location loc; tide_time time; } live[64];
    size_t nlive = 0;
    for (int round = 0; round < 12; round++) {
        int updates = 1 + (int)rnd(6);
        for (int u = 0; u < updates; u++) {
            if (nlive && (rnd(2) == 0 || nlive == 64)) {
                size_t k = rnd(nlive);
                tide_tracker_update(t, live[k].loc, &live[k].time, -1);
                live[k] = live[--nlive];
            } else {
                tide_time tm = tide_time_root(0);
                tm.depth = depth;
                for (uint32_t c = 0; c < depth; c++)
                    tm.c[c] = rnd(5);
                live[nlive].loc = random_location(t);
                live[nlive].time = tm;
                tide_tracker_update(t, live[nlive].loc, &tm, +1);
                nlive++;
            }
        }
        tide_tracker_propagate(t);
        for (uint32_t n = 0; n < tide_tracker_nodes(t); n++)
            for (int kind = 0; kind < 2; kind++) {
                uint32_t ports = kind ? tide_tracker_outputs(t, n) : tide_tracker_inputs(t, n);
                for (uint32_t p = 0; p < ports; p++) {
                    tide_location loc = { n, p, kind == 1 };
                    brute_frontier(t, loc, &want);
                    ck_assert_msg(tide_antichain_equal(tide_tracker_frontier(t, loc), &want),
                                  "case %d round %d: frontier at node %u %s %u differs "
                                  "(%zu elements, brute force %zu)",
                                  _i, round, n, kind ? "output" : "input", p,
                                  tide_tracker_frontier(t, loc)->len, want.len);
                }
            }
    }
    /* Release everything: every frontier empties. */
    while (nlive) {
        nlive--;
        tide_tracker_update(t, live[nlive].loc, &live[nlive].time, -1);
    }
    tide_tracker_propagate(t);
    for (uint32_t n = 0; n < tide_tracker_nodes(t); n++)
        for (uint32_t p = 0; p < tide_tracker_inputs(t, n); p++)
            ck_assert_uint_eq(tide_tracker_frontier(t, in(n, p))->len, 0);
    tide_antichain_free(&want);
    tide_tracker_free(t);
}

/* Cases in batches of BRUTE_BATCH per forked test: a fork of a sanitized process costs
 * about half a second (3000 forks took 32 minutes under ASan), a case a few ms. */
#define BRUTE_CASES 3000
#define BRUTE_BATCH 100
START_TEST(test_tracker_matches_brute_force)
{
    for (int k = 0; k < BRUTE_BATCH; k++)
        brute_force_case(_i * BRUTE_BATCH + k);
}
END_TEST

/* Out-of-order arrival: a -1 before its +1 never makes the frontier pass a time that a
 * capability still holds. */
START_TEST(test_tracker_negative_counts)
{
    tide_tracker *t = loop_tracker();
    tide_time c0 = T2(0, 0), c1 = T2(1, 0), m = T2(0, 0);
    tide_tracker_update(t, out(0, 0), &c0, +1);
    tide_tracker_propagate(t);
    /* The consumer's -1 for a message arrives before the producer's +1. */
    tide_tracker_update(t, in(1, 0), &m, -1);
    tide_tracker_propagate(t);
    ck_assert(tide_antichain_less_equal(tide_tracker_frontier(t, in(1, 0)), &m));
    /* The producer's batch: +1 message, capability moves to (1,0). */
    tide_tracker_update(t, in(1, 0), &m, +1);
    tide_tracker_update(t, out(0, 0), &c1, +1);
    tide_tracker_update(t, out(0, 0), &c0, -1);
    tide_tracker_propagate(t);
    const tide_antichain *f = tide_tracker_frontier(t, in(1, 0));
    ck_assert_uint_eq(f->len, 1);
    ck_assert(tide_time_eq(&f->elems[0], &c1));
    tide_tracker_free(t);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("progress");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_time_orders);
    tcase_add_test(tc, test_summaries);
    tcase_add_test(tc, test_antichain);
    tcase_add_test(tc, test_change_batch);
    tcase_add_test(tc, test_mutable_antichain);
    tcase_add_test(tc, test_mutable_antichain_random);
    tcase_add_test(tc, test_tracker_loop);
    tcase_add_test(tc, test_tracker_rejects_stuck_cycle);
    tcase_add_test(tc, test_path_summaries_and_scope_projection);
    tcase_add_test(tc, test_tracker_negative_counts);
    tcase_add_test(tc, test_nested_scope);
    tcase_add_loop_test(tc, test_tracker_matches_brute_force, 0, BRUTE_CASES / BRUTE_BATCH);
    return run_suite("progress", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
