/* SPDX-License-Identifier: MIT */
/*
 * Misuse of the dataflow model, one case per run: each must stop the whole job (threads
 * or MPI ranks) with a message naming the operator and the times, never hang. Also a
 * wrong line in a file read by tide_read_files or tide_read_text (cases bad-line and
 * bad-text, given the file): the message names the file and the line.
 *
 *   dataflow_misuse CASE [FILE] [tide options]
 */
#include <stdio.h>
#include <string.h>

#include <tide.h>

static const char *which, *file;

struct sender {
    tide_cap *cap;
};

static _Thread_local tide_session *kept_session; /* session-kept: used after its logic */

/* Each case misbehaves in its source operator's first run. */
static void misbehave(tide_op *op, void *arg)
{
    struct sender *s = arg;
    uint64_t x = 1;
    tide_time three = tide_time_root(3), five = tide_time_root(5);
    if (!s->cap)
        return;
    if (strcmp(which, "no-capability") == 0) {
        tide_cap_drop(&s->cap);
        tide_session_give(tide_op_session(op, 0, s->cap), &x);
    } else if (strcmp(which, "dropped-capability") == 0) {
        tide_cap *stale = s->cap;
        tide_cap_drop(&s->cap);
        tide_session_give(tide_op_session(op, 0, stale), &x);
    } else if (strcmp(which, "before-capability") == 0) {
        tide_cap_downgrade(s->cap, &five);
        tide_session_give(tide_op_session_at(op, 0, s->cap, &three), &x);
    } else if (strcmp(which, "downgrade-backwards") == 0) {
        tide_cap_downgrade(s->cap, &five);
        tide_cap_downgrade(s->cap, &three);
    } else if (strcmp(which, "reused-capability") == 0) {
        /* slots are reused last-in first-out: the fresh capability takes the stale one's */
        tide_cap *stale = tide_cap_retain(s->cap), *copy = stale;
        tide_cap_drop(&copy);
        tide_cap *fresh = tide_cap_retain(s->cap);
        tide_session_give(tide_op_session(op, 0, stale), &x);
        tide_cap_drop(&fresh);
    } else if (strcmp(which, "wrong-output") == 0) {
        tide_cap *for1 = tide_cap_retain_for(s->cap, 1);
        tide_session_give(tide_op_session(op, 0, for1), &x);
    } else if (strcmp(which, "delay-backwards") == 0) {
        tide_cap_downgrade(s->cap, &five);
        tide_cap *d = tide_cap_delayed(s->cap, &three);
        tide_cap_drop(&d);
    } else if (strcmp(which, "extend-bytes") == 0) {
        tide_session_extend(tide_op_session(op, 0, s->cap), 1);
    } else if (strcmp(which, "extend-huge") == 0) { /* wraps n * 8: not taken inline */
        tide_session_extend(tide_op_session(op, 0, s->cap), ((size_t)1 << 61) + 1);
    } else if (strcmp(which, "give-str-u64") == 0) {
        tide_session_give_str(tide_op_session(op, 0, s->cap), "abc", 3);
    } else if (strcmp(which, "table-get-n-str") == 0) {
        tide_table *t = tide_table_new(TIDE_STR, 8, tide_hash_str, tide_same_str, NULL);
        const char *key = "k";
        void *state;
        tide_table_get_n(t, &key, sizeof key, 1, &state);
    } else if (strcmp(which, "session-kept") == 0) {
        kept_session = tide_op_session(op, 0, s->cap); /* given on after the logic returns */
        tide_session_give(kept_session, &x);
    }
    tide_cap_drop(&s->cap);
}

/* Declared +1 epoch from its input, it sends (or keeps a capability) at the input's time. */
static void too_early(tide_op *op, void *arg)
{
    (void)arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        if (strcmp(which, "summary-retain") == 0) {
            tide_cap *kept = tide_cap_retain(cap);
            tide_cap_drop(&kept);
        }
        tide_session_give_batch(tide_op_session(op, 0, cap), &b);
    }
}

static bool keep_all(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return true;
}

static void same(const void *in, void *out, void *ctx)
{
    (void)ctx;
    *(uint64_t *)out = *(const uint64_t *)in;
}

static uint64_t by_value(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r;
}

static void hash_all(const void *records, size_t n, uint64_t *hashes, void *ctx)
{
    (void)records, (void)ctx;
    for (size_t i = 0; i < n; i++)
        hashes[i] = i;
}

static void map_all(const void *in, size_t n, void *out, void *ctx)
{
    (void)in, (void)n, (void)out, (void)ctx;
}

static bool same_u64(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)a == *(const uint64_t *)b;
}

static void emit_none(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)key, (void)state, (void)out, (void)ctx;
}

/* bad-line: a line holding an x is wrong */
static const char *parse_line(const char *line, tide_session *out, void *ctx)
{
    (void)out, (void)ctx;
    return strchr(line, 'x') ? "not a number" : NULL;
}

/* bad-text: an x is wrong, and said to be where it is; a y is wrong, and not said where
 * (the message then names the run's first line) */
static const char *parse_text(const char *text, size_t len, const char **where,
                              tide_session *out, void *ctx)
{
    (void)out, (void)ctx;
    const char *x = memchr(text, 'x', len);
    if (x)
        *where = x;
    return x ? "not a number" : memchr(text, 'y', len) ? "no place" : NULL;
}

static void free_sender(void *arg)
{
    struct sender *s = arg;
    tide_cap_drop(&s->cap);
}

static int run(tide_worker *w, void *arg)
{
    (void)arg;
    static _Thread_local struct sender s;
    /* the last worker gives up before building what the others build */
    if (strcmp(which, "returns-before-build") == 0 &&
        tide_worker_index(w) + 1 == tide_worker_peers(w))
        return 5;
    tide_scope *scope = tide_dataflow_begin(w, "misuse");
    if (strcmp(which, "type-mismatch") == 0) {
        tide_loop *loop;
        tide_stream *l = tide_loop_variable(scope, 1, TIDE_U64, &loop);
        double d[1] = { 1.5 };
        tide_stream *doubles = tide_to_stream(scope, TIDE_F64, d, 1);
        (void)l;
        tide_loop_connect(loop, doubles);
    } else if (strcmp(which, "stuck-loop") == 0) {
        tide_loop *loop;
        tide_stream *l = tide_loop_variable(scope, 0, TIDE_U64, &loop);
        tide_stream *o = tide_unary(l, TIDE_PIPELINE, "Spinner", TIDE_U64, NULL, NULL, NULL);
        tide_loop_connect(loop, o);
    } else if (strcmp(which, "scope-ended") == 0) {
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        tide_scope *inner = tide_scope_begin(scope, "Inner");
        tide_scope_end(inner);
        tide_enter(inner, st);
    } else if (strcmp(which, "delay-total-nested") == 0) {
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        tide_scope *inner = tide_scope_begin(scope, "Inner");
        tide_delay_total(tide_enter(inner, st), NULL, NULL);
    } else if (strcmp(which, "to-stream-no-value-size") == 0) {
        tide_type blob = *TIDE_BYTES;
        blob.name = "blob";
        blob.value_size = 0;
        tide_bytes one = { "x", 1 };
        tide_to_stream(scope, &blob, &one, 1);
    } else if (strcmp(which, "value-too-large") == 0) {
        tide_type wide = *TIDE_BYTES;
        wide.name = "wide";
        wide.value_size = 128;
        tide_input *in;
        tide_input_new(scope, &wide, &in);
    } else if (strcmp(which, "no-dataflow-end") == 0) {
        tide_input *in;
        tide_probe_new(tide_input_new(scope, TIDE_U64, &in));
        return 0;
    } else if (strcmp(which, "returns-before-build") == 0) {
        tide_input *in;
        tide_probe_new(tide_input_new(scope, TIDE_U64, &in));
        tide_dataflow_end(scope);
        return 0;
    } else if (strcmp(which, "fails-after-build") == 0) {
        tide_input *in;
        tide_probe_new(tide_input_new(scope, TIDE_U64, &in));
        tide_dataflow_end(scope);
        return tide_worker_index(w) == 1 ? 1 : 0;
    } else if (strcmp(which, "returns-holding") == 0) {
        /* an unordered input's capability, a later one delayed from it and one kept in a
         * capability set, all still held when the function returns */
        tide_unordered *u;
        tide_cap *cap;
        tide_probe_new(tide_unordered_input_new(scope, TIDE_U64, &u, &cap));
        tide_dataflow_end(scope);
        tide_time later = tide_time_root(7);
        tide_cap *at7 = tide_cap_delayed(cap, &later);
        /* the set's array is the program's: static, so that it is not a leak */
        static tide_capset sets[64];
        tide_capset *set = &sets[tide_worker_index(w) % 64];
        tide_capset_init(set);
        tide_capset_insert(set, tide_cap_retain(at7));
        uint64_t x = 3;
        tide_session_give(tide_unordered_session(u, at7), &x);
        tide_worker_step(w);
        return 0;
    } else if (strncmp(which, "summary-", 8) == 0) {
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        tide_builder *b = tide_builder_new(scope, "TooEarly");
        tide_builder_input(b, st, TIDE_PIPELINE);
        tide_probe_new(tide_builder_output(b, TIDE_U64));
        tide_summary plus1 = tide_summary_feedback(1, 1);
        tide_builder_summary(b, 0, 0, &plus1);
        tide_builder_build(b, too_early, NULL, NULL, NULL);
        tide_dataflow_end(scope);
        uint64_t x = 1;
        tide_input_send(in, &x);
        return 0;
    } else if (strcmp(which, "different-dataflows") == 0) {
        /* the last worker puts a filter where the others have a map */
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        if (tide_worker_index(w) + 1 == tide_worker_peers(w))
            st = tide_filter(st, keep_all, NULL);
        else
            st = tide_map(st, TIDE_U64, same, NULL);
        tide_probe_new(tide_exchange(st, by_value, NULL));
        tide_dataflow_end(scope);
        for (uint64_t x = 0; x < 100; x++)
            tide_input_send(in, &x);
        return 0;
    } else if (strcmp(which, "input-backwards") == 0) {
        tide_input *in;
        tide_probe_new(tide_input_new(scope, TIDE_U64, &in));
        tide_dataflow_end(scope);
        tide_input_advance_to(in, 5);
        tide_worker_step(w);
        tide_input_advance_to(in, 2);
        return 0;
    } else if (strcmp(which, "input-extend-bytes") == 0) {
        tide_input *in;
        tide_probe_new(tide_input_new(scope, TIDE_BYTES, &in));
        tide_dataflow_end(scope);
        tide_input_extend(in, 1);
        return 0;
    } else if (strcmp(which, "input-extend-closed") == 0) {
        tide_input *in;
        tide_probe_new(tide_input_new(scope, TIDE_U64, &in));
        tide_dataflow_end(scope);
        *(uint64_t *)tide_input_extend(in, 1) = 1;
        tide_input_close(in);
        tide_input_extend(in, 1);
        return 0;
    } else if (strcmp(which, "batch-hash-bytes") == 0) {
        tide_input *in;
        tide_exchange_batch(tide_input_new(scope, TIDE_BYTES, &in), hash_all, NULL);
    } else if (strcmp(which, "hash-u64-small") == 0) {
        tide_input *in;
        tide_exchange(tide_input_new(scope, TIDE_U32, &in), tide_hash_u64, NULL);
    } else if (strcmp(which, "fold-count-small") == 0) {
        tide_input *in;
        tide_aggregate_ops ops = { .state_size = 4, .hash = tide_hash_u64,
                                   .same_key = same_u64, .fold = tide_fold_count,
                                   .emit = emit_none };
        tide_aggregate(tide_input_new(scope, TIDE_U64, &in), TIDE_U64, &ops, NULL);
    } else if (strcmp(which, "desc-gap") == 0) {
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        tide_operator(&(tide_op_desc){ .name = "Gappy", .in = { st, NULL, st },
                                       .out = TIDE_U64, .logic = misbehave });
    } else if (strcmp(which, "desc-no-logic") == 0) {
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        tide_operator(&(tide_op_desc){ .name = "Idle", .in = { st } });
    } else if (strcmp(which, "desc-no-scope") == 0) {
        tide_operator(&(tide_op_desc){ .name = "Nowhere", .out = TIDE_U64, .logic = misbehave });
    } else if (strcmp(which, "desc-stray-pact") == 0) {
        tide_input *in;
        tide_stream *st = tide_input_new(scope, TIDE_U64, &in);
        tide_operator(&(tide_op_desc){ .name = "Stray", .in = { st },
                                       .pact = { [1] = TIDE_EXCHANGE(tide_hash_u64, NULL) },
                                       .logic = misbehave });
    } else if (strcmp(which, "bad-line") == 0) {
        tide_probe_new(tide_read_files(scope, "Reader", &file, 1, TIDE_U64, parse_line, NULL));
    } else if (strcmp(which, "read-no-parse") == 0) {
        tide_read_text(scope, "Reader", &file, 1, TIDE_U64, NULL, NULL);
    } else if (strcmp(which, "bad-text") == 0) {
        tide_probe_new(tide_read_text(scope, "Reader", &file, 1, TIDE_U64, parse_text, NULL));
    } else if (strcmp(which, "map-batch-bytes") == 0) {
        tide_input *in;
        tide_map_batch(tide_input_new(scope, TIDE_BYTES, &in), TIDE_U64, map_all, NULL);
    } else if (strcmp(which, "wrong-output") == 0) {
        tide_builder *b = tide_builder_new(scope, "Sender");
        tide_probe_new(tide_builder_output(b, TIDE_U64));
        tide_probe_new(tide_builder_output(b, TIDE_U64));
        tide_builder_build(b, misbehave, &s, free_sender, &s.cap);
    } else {
        const tide_type *type = strcmp(which, "extend-bytes") == 0 ? TIDE_BYTES : TIDE_U64;
        tide_stream *st = tide_source(scope, "Sender", type, misbehave, &s, free_sender, &s.cap);
        tide_probe_new(st);
    }
    tide_dataflow_end(scope);
    if (strcmp(which, "session-kept") == 0) {
        while (!kept_session && tide_worker_step(w))
            ;
        uint64_t two = 2;
        tide_session_give(kept_session, &two);
    }
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "dataflow_misuse: %s\n", cfg.error);
        return 2;
    }
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: dataflow_misuse CASE [FILE] [tide options]\n");
        return 2;
    }
    which = argv[1];
    file = argc == 3 ? argv[2] : "/dev/null";
    int rc = tide_execute(&cfg, run, NULL);
    fprintf(stderr, "dataflow_misuse: case %s ran to the end (rc %d)\n", which, rc);
    return rc == 0 ? 0 : 3;
}
