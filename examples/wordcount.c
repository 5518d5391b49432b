/* SPDX-License-Identifier: MIT */
/*
 * Counts the words of text files, one epoch per file: every worker reads every file but
 * keeps only its share of the lines (line number % workers), splits them into words
 * (letters only, lower-cased), the words are exchanged by word and counted per epoch by
 * tide_aggregate, and the counts are gathered at worker 0, which prints each epoch's
 * totals and most frequent words (all of them with --all) as soon as the epoch completes.
 *
 *   wordcount [--top N] [--all] FILE... [tide options]
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tide.h>

#include "example.h"

#define MAX_WORD 47
/* Lines read per activation of the reader: memory stays bounded whatever the file size. */
#define LINES_PER_STEP 1024

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

/* ---------------------------------------------------------------- reading lines */

struct reader {
    const struct options *o;
    tide_cap *cap;
    int file; /* the file being read = the epoch */
    FILE *f;
    uint64_t line;
    char *buf;
    size_t cap_buf;
};

static void read_lines(tide_op *op, void *arg)
{
    struct reader *r = arg;
    tide_worker *w = tide_op_worker(op);
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    if (!r->cap || !tide_op_has_room(op)) /* (under --memory: run again once there is) */
        return;
    if (!r->f && !(r->f = fopen(r->o->files[r->file], "r")))
        tide_abort("wordcount: cannot open '%s': %s", r->o->files[r->file], strerror(errno));
    tide_session *out = tide_op_session(op, 0, r->cap);
    for (int n = 0; n < LINES_PER_STEP; n++) {
        errno = 0;
        ssize_t len = getline(&r->buf, &r->cap_buf, r->f);
        if (len < 0) {
            /* -1 is the end only when the file says so: getline's ENOMEM (a huge line)
             * sets no error flag on the stream */
            if (ferror(r->f) || !feof(r->f))
                tide_abort("wordcount: cannot read '%s' (line %" PRIu64 "): %s",
                           r->o->files[r->file], r->line + 1,
                           strerror(errno ? errno : EIO));
            fclose(r->f);
            r->f = NULL;
            r->line = 0;
            if (++r->file == r->o->nfiles) {
                tide_cap_drop(&r->cap);
                return;
            }
            tide_time next = tide_time_root((uint64_t)r->file);
            tide_cap_downgrade(r->cap, &next); /* the next file is the next epoch */
            break;
        }
        if (r->line++ % peers == me) {
            const char *line = r->buf;
            tide_session_give(out, &line);
        }
    }
    tide_op_activate(op);
}

static void reader_free(void *arg)
{
    struct reader *r = arg;
    tide_cap_drop(&r->cap);
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r);
}

/* ---------------------------------------------------------------- words */

static void split(const void *in, tide_session *out, void *ctx)
{
    (void)ctx;
    const char *s = *(const char *const *)in;
    char word[MAX_WORD + 1];
    while (*s) {
        while (*s && !isalpha((unsigned char)*s))
            s++;
        size_t n = 0;
        bool too_long = false;
        for (; isalpha((unsigned char)*s); s++) {
            if (n < MAX_WORD)
                word[n++] = (char)tolower((unsigned char)*s);
            else
                too_long = true;
        }
        if (n && !too_long) {
            word[n] = 0;
            const char *wp = word;
            tide_session_give(out, &wp);
        }
    }
}

static bool same_word(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(*(const char *const *)a, *(const char *const *)b) == 0;
}

static void add_one(void *state, const void *record, void *ctx)
{
    (void)record;
    (void)ctx;
    ++*(uint64_t *)state;
}

static void emit_count(const void *key, const void *state, tide_session *out, void *ctx)
{
    (void)ctx;
    struct word_count wc = { *(const uint64_t *)state, { 0 } };
    snprintf(wc.word, sizeof wc.word, "%s", *(const char *const *)key);
    tide_session_give(out, &wc);
}

/* ---------------------------------------------------------------- reporting (worker 0) */

struct gathered {
    struct word_count *counts;
    size_t n, cap;
};

struct report {
    const struct options *o;
    struct gathered *epochs; /* one per file */
    tide_notificator *pending;
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

static uint64_t to_zero(const void *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return 0;
}

/* Counts of later epochs may arrive before an earlier one is complete: gathered per epoch,
 * printed at the epoch's notification. */
static void report(tide_op *op, void *arg)
{
    struct report *rp = arg;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        if (tide_cap_epoch(cap) >= (uint64_t)rp->o->nfiles) /* tide_check_same makes it rare */
            tide_abort("wordcount: counts for file %" PRIu64 " but this rank was given %d "
                       "files", tide_cap_epoch(cap), rp->o->nfiles);
        struct gathered *g = &rp->epochs[tide_cap_epoch(cap)];
        const struct word_count *wc = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            if (g->n == g->cap) {
                g->cap = g->cap ? 2 * g->cap : 1024;
                g->counts = realloc(g->counts, g->cap * sizeof *g->counts);
                if (!g->counts)
                    tide_abort("wordcount: out of memory");
            }
            g->counts[g->n++] = wc[i];
        }
        tide_notificator_notify_at(rp->pending, tide_cap_retain(cap));
    }
    const tide_antichain *frontier = tide_op_frontier(op, 0);
    while ((cap = tide_notificator_next(rp->pending, &frontier, 1))) {
        uint64_t epoch = tide_cap_epoch(cap), words = 0;
        struct gathered *g = &rp->epochs[epoch];
        qsort(g->counts, g->n, sizeof *g->counts, by_count);
        for (size_t i = 0; i < g->n; i++)
            words += g->counts[i].count;
        printf("epoch %" PRIu64 " (%s): %" PRIu64 " words, %zu distinct, at %.3f s\n", epoch,
               rp->o->files[epoch], words, g->n, now() - rp->start);
        size_t show = rp->o->all ? g->n : g->n < rp->o->top ? g->n : rp->o->top;
        for (size_t i = 0; i < show; i++)
            printf("  %7" PRIu64 " %s\n", g->counts[i].count, g->counts[i].word);
        fflush(stdout);
        free(g->counts);
        *g = (struct gathered){ NULL, 0, 0 };
    }
}

static void report_free(void *arg)
{
    struct report *rp = arg;
    tide_notificator_free(rp->pending);
    for (int i = 0; i < rp->o->nfiles; i++)
        free(rp->epochs[i].counts);
    free(rp->epochs);
    free(rp);
}

static int run(tide_worker *w, void *arg)
{
    example_check_args(w);
    const struct options *o = arg;
    struct reader *r = calloc(1, sizeof *r);
    struct report *rp = calloc(1, sizeof *rp);
    if (!r || !rp)
        return 1;
    r->o = rp->o = o;
    rp->start = now();
    rp->pending = tide_notificator_new();
    rp->epochs = calloc((size_t)o->nfiles, sizeof *rp->epochs);
    if (!rp->epochs)
        return 1;
    tide_scope *scope = tide_dataflow_begin(w, "wordcount");
    tide_stream *lines = tide_source(scope, "ReadLines", TIDE_STR, read_lines, r, reader_free,
                                     &r->cap);
    tide_stream *words = tide_flat_map(lines, TIDE_STR, split, NULL);
    tide_aggregate_ops count = { sizeof(uint64_t), tide_hash_str, same_word, add_one,
                                 emit_count };
    tide_stream *counts = tide_aggregate(words, &word_count_type, &count, NULL);
    tide_sink(counts, TIDE_EXCHANGE(to_zero, NULL), "Report", report, rp, report_free);
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
