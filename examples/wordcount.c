/* SPDX-License-Identifier: MIT */
/*
 * Counts the words of text files, one epoch per file: each worker reads its slice of each
 * file (tide_read_text: the lines that start in its share of the bytes, many a call),
 * splits them into words (letters only, lower-cased), the words are exchanged by word and
 * counted per epoch by tide_aggregate, and the counts are gathered at worker 0, which
 * prints each epoch's totals and most frequent words (all of them with --all) as soon as
 * the epoch completes.
 *
 *   wordcount [--top N] [--all] FILE... [tide options]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tide.h>

#include "example.h"

#define MAX_WORD 47

struct word_count {
    uint64_t count;
    char word[MAX_WORD + 1];
};
static TIDE_TYPE_POD(word_count_type, struct word_count);

struct options {
    char **files;
    int nfiles;
    size_t top;
    bool all;
};

/* ---------------------------------------------------------------- words */

/* A letter of the C locale (the examples never set another), tested without a call. */
static inline bool letter(unsigned char c)
{
    return (unsigned)(c | 32) - 'a' < 26u;
}

/* The words of a run of lines of a file (tide_read_text reads them; a newline is one
 * more byte that is not a letter), lower-cased as they are read: one test a byte, where a
 * loop over the letters and one over what lies between stopped at the end of each (a
 * mispredicted branch a word): 0.9x the time. */
static const char *split(const char *s, size_t len, const char **where, tide_session *out,
                         void *ctx)
{
    (void)where, (void)ctx;
    const char *end = s + len; /* (a NUL before it is a byte of the file, not a letter) */
    char word[MAX_WORD + 1];
    size_t n = 0; /* MAX_WORD + 1: a run of letters too long to be a word */
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (letter(c)) {
            if (n < MAX_WORD)
                word[n++] = (char)(c | 32);
            else
                n = MAX_WORD + 1;
            continue;
        }
        if (n && n <= MAX_WORD)
            tide_session_give_str(out, word, n);
        n = 0;
        if (s == end)
            return NULL;
    }
}

/* Counts from different workers add up: each worker counts its own words first and
 * sends one count per distinct word (tide_aggregate's merge). */
static void add_counts(void *state, const void *other, void *ctx)
{
    (void)ctx;
    *(uint64_t *)state += *(const uint64_t *)other;
}

static void emit_count(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)ctx;
    struct word_count wc = { *(const uint64_t *)state, { 0 } };
    snprintf(wc.word, sizeof wc.word, "%s", *(const char *const *)key);
    tide_session_give(out, &wc);
}

/* ---------------------------------------------------------------- reporting (worker 0) */

struct report {
    const struct options *o;
    tide_stash *epochs; /* the counts of each file until its epoch completes */
    double start;
};

static int by_count(const void *a, const void *b)
{
    const struct word_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Counts of later epochs may arrive before an earlier one is complete: stashed per epoch,
 * printed once the epoch is. */
static void report(tide_op *op, void *arg)
{
    struct report *rp = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        if (tide_cap_epoch(cap) >= (uint64_t)rp->o->nfiles) /* tide_check_same makes it rare */
            tide_abort("wordcount: counts for file %" PRIu64 " but this rank was given %d "
                       "files", tide_cap_epoch(cap), rp->o->nfiles);
        tide_stash_add(rp->epochs, 0, cap, b);
    }
    while (tide_stash_next(rp->epochs, op, &cap)) {
        uint64_t epoch = tide_cap_epoch(cap), words = 0;
        tide_batch *got = tide_stash_take(rp->epochs, 0);
        struct word_count *c = tide_batch_records(got);
        size_t n = tide_batch_len(got);
        qsort(c, n, sizeof *c, by_count);
        for (size_t i = 0; i < n; i++)
            words += c[i].count;
        printf("epoch %" PRIu64 " (%s): %" PRIu64 " words, %zu distinct, at %.3f s\n", epoch,
               rp->o->files[epoch], words, n, now() - rp->start);
        size_t show = rp->o->all ? n : n < rp->o->top ? n : rp->o->top;
        for (size_t i = 0; i < show; i++)
            printf("  %7" PRIu64 " %s\n", c[i].count, c[i].word);
        fflush(stdout);
        tide_batch_free(got);
        tide_cap_drop(&cap);
    }
}

static void report_free(void *arg)
{
    struct report *rp = arg;
    tide_stash_free(rp->epochs);
    free(rp);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct options *o = arg;
    struct report *rp = malloc(sizeof *rp);
    if (!rp)
        return 1;
    *rp = (struct report){ o, tide_stash_new(), now() };
    tide_scope *scope = tide_dataflow_begin(w, "wordcount");
    tide_stream *words = tide_read_text(scope, "wordcount", (const char *const *)o->files,
                                        (size_t)o->nfiles, TIDE_STR, split, NULL);
    tide_aggregate_ops count = { .state_size = sizeof(uint64_t), .hash = tide_hash_str,
                                 .same_key = tide_same_str, .fold = tide_fold_count,
                                 .emit = emit_count, .merge = add_counts };
    tide_stream *counts = tide_aggregate(words, &word_count_type, &count, NULL);
    tide_sink(counts, TIDE_EXCHANGE(tide_hash_zero, NULL), "Report", report, rp, report_free);
    tide_dataflow_end(scope);
    double start = now();
    while (tide_worker_step_or_park(w, -1))
        ;
    if (tide_worker_index(w) == 0)
        printf("wordcount: %d files in %.3f s on %zu workers\n", o->nfiles, now() - start,
               tide_worker_peers(w));
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    example_config("wordcount", &cfg, &argc, argv);
    struct options o = { NULL, 0, 10, false };
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            o.all = true;
        } else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            uint64_t top;
            if (example_parse_min(argv[++i], 0, &top) != 0 || top > SIZE_MAX) {
                fprintf(stderr, "wordcount: --top: '%s' is not a number of words\n", argv[i]);
                return 2;
            }
            o.top = (size_t)top;
        } else {
            fprintf(stderr, "wordcount: unknown option '%s'\n"
                            "usage: wordcount [--top N] [--all] FILE... [tide options]\n",
                    argv[i]);
            return 2;
        }
    }
    o.files = argv + i;
    o.nfiles = argc - i;
    if (o.nfiles == 0) {
        fprintf(stderr, "usage: wordcount [--top N] [--all] FILE... [tide options]\n");
        return 2;
    }
    for (int k = 0; k < o.nfiles; k++) {
        FILE *f = fopen(o.files[k], "r");
        if (!f) {
            fprintf(stderr, "wordcount: cannot open '%s': %s\n", o.files[k], strerror(errno));
            return 1;
        }
        fclose(f);
    }
    return tide_execute(&cfg, run, &o) == 0 ? 0 : 1;
}
