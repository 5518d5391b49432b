/* SPDX-License-Identifier: MIT */
/*
 * Every operator of the library first runs with no input: the worker steps an open input
 * for a while before its first record (the case where delay_total once sorted a NULL array,
 * which only the sanitizer build caught). Then two epochs of records flow and each output is
 * counted and summed against what the operator must give. Also TIDE_BYTES through
 * tide_to_stream (its values are not pointer-sized), and tide_read_files' slices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataflow_work.h"

#define PER_EPOCH 20 /* records x = 0..39: 0..19 at epoch 0, 20..39 at epoch 1 */
#define N (2 * PER_EPOCH)

static void twice(const void *in, void *out, void *ctx)
{
    (void)ctx;
    *(uint64_t *)out = 2 * *(const uint64_t *)in;
}

static void plus_one(void *r, void *ctx)
{
    (void)ctx;
    ++*(uint64_t *)r;
}

static void copies_mod4(const void *in, tide_session *out, void *ctx)
{
    (void)ctx;
    uint64_t x = *(const uint64_t *)in;
    for (uint64_t k = 0; k < x % 4; k++)
        tide_session_give(out, &x);
}

static bool even(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 2 == 0;
}

static uint64_t mod3(const void *r, void *ctx)
{
    (void)ctx;
    return *(const uint64_t *)r % 3;
}

static void later_by_mod3(const void *r, const tide_time *t, tide_time *later, void *ctx)
{
    (void)ctx;
    *later = tide_time_root(t->c[0] + *(const uint64_t *)r % 3);
}

static void later_by_one(const tide_time *t, tide_time *later, void *ctx)
{
    (void)ctx;
    *later = tide_time_root(t->c[0] + 1);
}

static bool epoch_zero(const tide_time *t, void *ctx)
{
    (void)ctx;
    return t->c[0] == 0;
}

static void add(void *acc, const void *r, void *ctx)
{
    (void)ctx;
    *(uint64_t *)acc += *(const uint64_t *)r;
}

static bool halve_even(const void *r, void *ok, void *err, void *ctx)
{
    (void)ctx;
    uint64_t x = *(const uint64_t *)r;
    if (x % 2)
        *(uint64_t *)err = x;
    else
        *(uint64_t *)ok = x / 2;
    return x % 2 == 0;
}

static bool same_mod3(const void *a, const void *b, void *ctx)
{
    return mod3(a, ctx) == mod3(b, ctx);
}

static void fold_add(void *state, const void *r, void *ctx)
{
    add(state, r, ctx);
}

static void emit_sum(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)key;
    (void)ctx;
    tide_session_give(out, state);
}

/* Gives each record on unchanged and counts the key's records in its state. */
static bool pass_on(void *state, const void *r, tide_session *out, void *ctx)
{
    (void)ctx;
    ++*(uint64_t *)state;
    tide_session_give(out, r);
    return false;
}

static void count_batch(const tide_time *t, tide_batch *b, void *ctx)
{
    (void)t;
    struct seen_sum *s = ctx;
    const uint64_t *v = tide_batch_records(b);
    for (size_t i = 0; i < tide_batch_len(b); i++) {
        s->n++;
        s->sum += v[i];
    }
}

enum {
    MAP, IN_PLACE, FLAT_MAP, FILTER, EXCHANGE, COUNT, DELAY, DELAY_TOTAL, DELAY_BATCH,
    RECLOCK, ACCUMULATE, OK, ERR, BROADCAST, AGGREGATE, STATE_MACHINE, YES, NO, PART0, PART2,
    WHEN_YES, WHEN_NO, CONCAT, INSPECT_BATCH, OUTPUTS
};
static const char *const output_name[OUTPUTS] = {
    "map", "map_in_place", "flat_map", "filter", "exchange", "count", "delay", "delay_total",
    "delay_batch", "reclock", "accumulate", "ok_err ok", "ok_err err", "broadcast",
    "aggregate", "state_machine", "branch yes", "branch no", "partition 0", "partition 2",
    "branch_when yes", "branch_when no", "concat", "inspect_batch"
};

int df_first_empty(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t peers = tide_worker_peers(w), me = tide_worker_index(w);
    struct seen_sum got[OUTPUTS] = { { 0, 0 } };
    tide_input *in;
    tide_stream *out[OUTPUTS], *parts[3];
    tide_scope *scope = tide_dataflow_begin(w, "first_empty");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &in);
    out[MAP] = tide_map(s, TIDE_U64, twice, NULL);
    out[IN_PLACE] = tide_map_in_place(s, plus_one, NULL);
    out[FLAT_MAP] = tide_flat_map(s, TIDE_U64, copies_mod4, NULL);
    out[FILTER] = tide_filter(s, even, NULL);
    out[EXCHANGE] = tide_exchange(s, to_zero, NULL);
    out[COUNT] = tide_count(s);
    out[DELAY] = tide_delay(s, later_by_mod3, NULL);
    out[DELAY_TOTAL] = tide_delay_total(s, later_by_mod3, NULL);
    out[DELAY_BATCH] = tide_delay_batch(s, later_by_one, NULL);
    out[RECLOCK] = tide_reclock(s, s);
    out[ACCUMULATE] = tide_accumulate(s, TIDE_U64, &(uint64_t){ 0 }, add, NULL);
    tide_ok_err(s, TIDE_U64, TIDE_U64, halve_even, NULL, &out[OK], &out[ERR]);
    out[BROADCAST] = tide_broadcast(s);
    tide_aggregate_ops agg = { sizeof(uint64_t), mod3, same_mod3, fold_add, emit_sum, NULL };
    out[AGGREGATE] = tide_exchange(tide_aggregate(s, TIDE_U64, &agg, NULL), to_zero, NULL);
    tide_state_machine_ops sm = { sizeof(uint64_t), mod3, same_mod3, pass_on };
    out[STATE_MACHINE] = tide_exchange(tide_state_machine(s, TIDE_U64, &sm, NULL), to_zero,
                                       NULL);
    tide_branch(s, even, NULL, &out[YES], &out[NO]);
    tide_partition(s, 3, mod3, NULL, parts);
    out[PART0] = parts[0];
    out[PART2] = parts[2];
    tide_branch_when(s, epoch_zero, NULL, &out[WHEN_YES], &out[WHEN_NO]);
    out[CONCAT] = tide_concat(parts[1], out[YES]);
    out[INSPECT_BATCH] = tide_inspect_batch(s, count_batch, &got[INSPECT_BATCH]);
    for (int k = 0; k < OUTPUTS; k++)
        if (k != INSPECT_BATCH)
            tide_inspect(out[k], sum_records, &got[k]);
    tide_probe *probe = tide_probe_new(out[DELAY_TOTAL]);
    tide_dataflow_end(scope);
    for (int k = 0; k < 20; k++) /* every operator runs on an empty input first */
        tide_worker_step(w);
    for (uint64_t x = 0; x < N; x++) {
        if (x == PER_EPOCH)
            tide_input_advance_to(in, 1);
        tide_input_send(in, &x);
    }
    tide_input_close(in);
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    while (tide_worker_step(w))
        ;

    /* What each output must hold on this worker, computed over x = 0..N-1. */
    struct seen_sum want[OUTPUTS] = { { 0, 0 } };
    for (uint64_t x = 0; x < N; x++) {
        struct seen_sum *v = want;
        v[MAP].n++, v[MAP].sum += 2 * x;
        v[IN_PLACE].n++, v[IN_PLACE].sum += x + 1;
        v[FLAT_MAP].n += x % 4, v[FLAT_MAP].sum += x * (x % 4);
        if (x % 2 == 0)
            v[FILTER].n++, v[FILTER].sum += x, v[OK].n++, v[OK].sum += x / 2, v[YES].n++,
                v[YES].sum += x, v[CONCAT].n++, v[CONCAT].sum += x;
        else
            v[ERR].n++, v[ERR].sum += x, v[NO].n++, v[NO].sum += x;
        if (x % 3 == 0)
            v[PART0].n++, v[PART0].sum += x;
        if (x % 3 == 1)
            v[CONCAT].n++, v[CONCAT].sum += x;
        if (x % 3 == 2)
            v[PART2].n++, v[PART2].sum += x;
        if (x < PER_EPOCH)
            v[WHEN_YES].n++, v[WHEN_YES].sum += x;
        else
            v[WHEN_NO].n++, v[WHEN_NO].sum += x;
        int plain[] = { DELAY, DELAY_TOTAL, DELAY_BATCH, RECLOCK, INSPECT_BATCH };
        for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
            v[plain[i]].n++, v[plain[i]].sum += x;
        if (me == 0) /* everything exchanged to worker 0 */
            v[EXCHANGE].n += peers, v[EXCHANGE].sum += peers * x;
        v[BROADCAST].n += peers, v[BROADCAST].sum += peers * x;
    }
    /* count and accumulate: one record per epoch; aggregate: one per key (x % 3) per epoch
     * on the worker owning the key, gathered at worker 0; state_machine passes records on. */
    want[COUNT] = (struct seen_sum){ 2, N };
    want[ACCUMULATE] = (struct seen_sum){ 2, N * (N - 1) / 2 };
    if (me == 0) {
        want[AGGREGATE] = (struct seen_sum){ 6, peers * N * (N - 1) / 2 };
        want[STATE_MACHINE] = (struct seen_sum){ peers * N, peers * N * (N - 1) / 2 };
    }
    for (int k = 0; k < OUTPUTS; k++)
        WORK_CHECK(w, got[k].n == want[k].n && got[k].sum == want[k].sum,
                   "%s: %llu records summing to %llu, want %llu summing to %llu",
                   output_name[k], (unsigned long long)got[k].n,
                   (unsigned long long)got[k].sum, (unsigned long long)want[k].n,
                   (unsigned long long)want[k].sum);
    return 0;
}

/* TIDE_BYTES values are 16-byte views: tide_to_stream must step by that, not by a pointer. */
static const char *const text[] = { "alpha", "", "gamma ray", "delta" };
#define NTEXT (sizeof text / sizeof *text)

struct bytes_seen {
    size_t n;
    int errors;
};

static void check_bytes(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct bytes_seen *seen = ctx;
    const tide_bytes *b = r;
    const char *want = seen->n < NTEXT ? text[seen->n] : "";
    if (seen->n >= NTEXT || b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
        seen->errors++;
    seen->n++;
}

int df_to_stream_bytes(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_bytes values[NTEXT];
    for (size_t i = 0; i < NTEXT; i++)
        values[i] = (tide_bytes){ text[i], strlen(text[i]) };
    struct bytes_seen seen = { 0, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "to_stream_bytes");
    tide_inspect(tide_to_stream(scope, TIDE_BYTES, values, NTEXT), check_bytes, &seen);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, seen.n == NTEXT && seen.errors == 0, "%zu byte strings, %d wrong; want %zu",
               seen.n, seen.errors, NTEXT);
    return 0;
}

/* ---------------------------------------------------------------- tide_read_files, _text */

/* Each file's lines reach the dataflow once (a line a call, or in runs), whatever the
 * number of workers (each reads the lines that start in its slice of the file): slice
 * boundaries right after a newline (file 2: 90 lines of 3 bytes, 270 = 2 x 135 = 3 x 90),
 * inside lines (file 4), inside a line longer than a slice (file 3), empty lines, an empty
 * file, no final newline, lines cut by the ends of the reader's 256 KiB blocks (file 6:
 * 160,000 lines, 950 KB) and a line longer than a block (file 7: a number after 800,000
 * spaces, between two lines). Each worker reads its own copy of the files, so no worker
 * reads one being written. */
enum { READ_FILES = 8 };

struct read_seen {
    uint64_t n[READ_FILES], sum[READ_FILES];
    int errors;
};

static char *read_text(int k)
{
    size_t cap = 1200000, len = 0;
    char *s = calloc(1, cap);
    if (!s)
        return NULL;
    switch (k) {
    case 1:
        strcpy(s, "7");
        break;
    case 2:
        for (int i = 10; i < 100; i++)
            len += (size_t)snprintf(s + len, cap - len, "%d\n", i);
        break;
    case 3:
        len = (size_t)snprintf(s, cap, "1\n\n2\n");
        memset(s + len, ' ', 300); /* a number after 300 spaces: longer than any slice */
        len += 300;
        snprintf(s + len, cap - len, "5\n\n3\n4");
        break;
    case 4:
        for (int i = 1; i <= 1000; i++)
            len += (size_t)snprintf(s + len, cap - len, "%d\n", i * i % 977);
        break;
    case 5:
        strcpy(s, "\n");
        break;
    case 6:
        for (int i = 0; i < 160000; i++)
            len += (size_t)snprintf(s + len, cap - len, "%d\n", i * 7 % 100003);
        break;
    case 7:
        len = (size_t)snprintf(s, cap, "11\n");
        memset(s + len, ' ', 800000);
        len += 800000;
        snprintf(s + len, cap - len, "13\n17\n");
        break;
    }
    return s;
}

static const char *parse_number(const char *line, tide_session *out, void *ctx)
{
    (void)ctx;
    char *end;
    uint64_t v = strtoull(line, &end, 10);
    if (end != line)
        tide_session_give(out, &v);
    return NULL;
}

/* Every number of a run of lines (a line holds one at most, as parse_number reads) */
static const char *parse_numbers(const char *run, size_t len, const char **where,
                                 tide_session *out, void *ctx)
{
    (void)where, (void)ctx;
    if (run[len] != '\0' || strlen(run) != len)
        return "a run not ended by a NUL at its length";
    for (const char *p = run;;) {
        char *end;
        uint64_t v = strtoull(p, &end, 10); /* (skips newlines) */
        if (end == p)
            return NULL;
        tide_session_give(out, &v);
        p = end;
    }
}

static void count_read(const tide_time *t, const void *r, void *ctx)
{
    struct read_seen *s = ctx;
    if (t->c[0] >= READ_FILES) {
        s->errors++;
        return;
    }
    s->n[t->c[0]]++;
    s->sum[t->c[0]] += *(const uint64_t *)r;
}

/* @p runs: tide_read_text, else tide_read_files */
static int read_files_as(tide_worker *w, bool runs)
{
    char path[READ_FILES][256];
    const char *files[READ_FILES];
    struct read_seen want = { { 0 }, { 0 }, 0 }, got = { { 0 }, { 0 }, 0 };
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int k = 0; k < READ_FILES; k++) {
        char *content = read_text(k);
        WORK_CHECK(w, content, "out of memory");
        snprintf(path[k], sizeof path[k], "%s/tide_read_%ld_%zu_%d", tmp, (long)getpid(),
                 tide_worker_index(w), k);
        FILE *f = fopen(path[k], "w");
        WORK_CHECK(w, f && fputs(content, f) >= 0 && fclose(f) == 0, "cannot write %s", path[k]);
        files[k] = path[k];
        for (const char *line = content; *line;) { /* the sequential count */
            const char *eol = strchr(line, '\n') ? strchr(line, '\n') : line + strlen(line);
            char *end;
            uint64_t v = strtoull(line, &end, 10);
            if (end != line && end <= eol) /* (strtoull skips newlines too) */
                want.n[k]++, want.sum[k] += v;
            line = *eol ? eol + 1 : eol;
        }
        free(content);
    }
    tide_scope *scope = tide_dataflow_begin(w, "read_files");
    tide_stream *s = runs ? tide_read_text(scope, "ReadText", files, READ_FILES, TIDE_U64,
                                           parse_numbers, NULL)
                          : tide_read_files(scope, "ReadFiles", files, READ_FILES, TIDE_U64,
                                            parse_number, NULL);
    tide_inspect(tide_exchange(s, to_zero, NULL), count_read, &got);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    for (int k = 0; k < READ_FILES; k++)
        remove(path[k]);
    WORK_CHECK(w, got.errors == 0, "%d records past the last file's epoch", got.errors);
    for (int k = 0; tide_worker_index(w) == 0 && k < READ_FILES; k++)
        WORK_CHECK(w, got.n[k] == want.n[k] && got.sum[k] == want.sum[k],
                   "file %d: %llu numbers summing to %llu, want %llu summing to %llu", k,
                   (unsigned long long)got.n[k], (unsigned long long)got.sum[k],
                   (unsigned long long)want.n[k], (unsigned long long)want.sum[k]);
    return 0;
}

int df_read_files(tide_worker *w, void *ctx)
{
    (void)ctx;
    return read_files_as(w, false);
}

int df_read_text(tide_worker *w, void *ctx)
{
    (void)ctx;
    return read_files_as(w, true);
}
