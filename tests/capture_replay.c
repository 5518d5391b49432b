/* SPDX-License-Identifier: MIT */
/*
 * capture_into / replay_into across jobs and worker counts (tests/capture.sh).
 *   capture_replay capture PREFIX   captures numbers to PREFIX and their decimal strings to
 *                                   PREFIX-str, printing both streams' totals per epoch;
 *   capture_replay replay PREFIX    replays both and prints the same totals;
 *   capture_replay replay-as-str PREFIX   replays the numbers as strings (must be refused).
 * Epoch e holds 1000 * e + i for i < 50 + 10 * e, split among the workers, so the totals do
 * not depend on the worker count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#define EPOCHS 5

struct total {
    uint64_t n, sum;
};
static TIDE_TYPE_POD(total_type, struct total);

static const char *mode, *prefix;

static uint64_t to_zero(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}

static void number_to_string(const void *in, void *out, void *ctx)
{
    (void)ctx;
    static _Thread_local char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)*(const uint64_t *)in);
    *(const char **)out = buf;
}

static void string_to_number(const void *in, void *out, void *ctx)
{
    (void)ctx;
    *(uint64_t *)out = strtoull(*(const char *const *)in, NULL, 10);
}

static void add(void *acc, const void *r, void *ctx)
{
    (void)ctx;
    struct total *t = acc;
    t->n++;
    t->sum += *(const uint64_t *)r;
}

static void print_total(const tide_time *t, const void *r, void *ctx)
{
    const struct total *tot = r;
    printf("epoch %llu: %llu %s, sum %llu\n", (unsigned long long)t->c[0],
           (unsigned long long)tot->n, (const char *)ctx, (unsigned long long)tot->sum);
    fflush(stdout);
}

/* Totals per epoch of a u64 stream, printed by worker 0. */
static void report(tide_stream *numbers, const char *what)
{
    struct total zero = { 0, 0 };
    tide_stream *s = tide_exchange(numbers, to_zero, NULL);
    tide_inspect(tide_accumulate(s, &total_type, &zero, add, NULL), print_total, (void *)what);
}

static int work(tide_worker *w, void *ctx)
{
    (void)ctx;
    char strprefix[4096];
    snprintf(strprefix, sizeof strprefix, "%s-str", prefix);
    tide_scope *scope = tide_dataflow_begin(w, mode);
    if (strcmp(mode, "capture") == 0) {
        tide_input *in;
        tide_stream *s = tide_input_new(scope, TIDE_U64, &in);
        tide_stream *strs = tide_map(s, TIDE_STR, number_to_string, NULL);
        tide_capture_into(s, prefix);
        tide_capture_into(strs, strprefix);
        report(s, "numbers");
        report(tide_map(strs, TIDE_U64, string_to_number, NULL), "strings");
        tide_dataflow_end(scope);
        for (uint64_t e = 0; e < EPOCHS; e++) {
            tide_input_advance_to(in, e);
            for (uint64_t i = tide_worker_index(w); i < 50 + 10 * e; i += tide_worker_peers(w)) {
                uint64_t x = 1000 * e + i;
                tide_input_send(in, &x);
            }
        }
        return 0;
    }
    if (strcmp(mode, "replay") == 0) {
        report(tide_replay_into(scope, TIDE_U64, prefix), "numbers");
        tide_stream *strs = tide_replay_into(scope, TIDE_STR, strprefix);
        report(tide_map(strs, TIDE_U64, string_to_number, NULL), "strings");
    } else {
        tide_probe_new(tide_replay_into(scope, TIDE_STR, prefix));
    }
    tide_dataflow_end(scope);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "capture") && strcmp(argv[1], "replay") &&
                     strcmp(argv[1], "replay-as-str"))) {
        fprintf(stderr, "usage: capture_replay capture|replay|replay-as-str PREFIX "
                        "[tide options]\n");
        return 2;
    }
    mode = argv[1];
    prefix = argv[2];
    return tide_execute_from_args(&argc, argv, work, NULL);
}
