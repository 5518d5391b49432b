/* SPDX-License-Identifier: MIT */
/*
 * Strings through dataflows in every test shape: TIDE_STR records exchanged by a hash of
 * their text, from tide_to_stream and from tide_session_give_str, each checked on the
 * worker it lands on.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataflow_work.h"

static const char *const words[] = { "the", "quick", "brown", "fox", "jumps", "over",
                                     "the", "lazy", "dog", "" };
#define NWORDS (sizeof words / sizeof *words)

static uint64_t by_string(const void *r, void *ctx)
{
    (void)ctx;
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = *(const char *const *)r; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct wordcount {
    char seen[NWORDS][16];
    uint64_t count[NWORDS];
    size_t n;
    int errors;
};

/* Calls @p each with every string arriving at @p op; returns how many landed on a worker
 * other than the one by_string names. */
static int each_string(tide_op *op, void (*each)(const char *word, void *ctx), void *ctx)
{
    size_t me = tide_worker_index(tide_op_worker(op)), peers = tide_worker_peers(tide_op_worker(op));
    int misplaced = 0;
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        size_t cursor = 0;
        const char *word;
        while (tide_batch_read(b, &cursor, &word)) {
            misplaced += by_string(&word, NULL) % peers != me;
            each(word, ctx);
        }
    }
    return misplaced;
}

static void count_word(const char *word, void *arg)
{
    struct wordcount *wc = arg;
    size_t i = 0;
    while (i < wc->n && strcmp(wc->seen[i], word) != 0)
        i++;
    if (i == wc->n)
        snprintf(wc->seen[wc->n++], 16, "%s", word);
    wc->count[i]++;
}

static void word_logic(tide_op *op, void *arg)
{
    struct wordcount *wc = arg;
    wc->errors += each_string(op, count_word, wc);
}

int df_strings(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct wordcount wc = { .n = 0 };
    tide_scope *scope = tide_dataflow_begin(w, "strings");
    tide_stream *s = tide_to_stream(scope, TIDE_STR, words, NWORDS);
    tide_sink(s, TIDE_EXCHANGE(by_string, NULL), "Count", word_logic, &wc, NULL);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    WORK_CHECK(w, wc.errors == 0, "%d words on the wrong worker", wc.errors);
    for (size_t i = 0; i < wc.n; i++) {
        uint64_t want = (strcmp(wc.seen[i], "the") == 0 ? 2 : 1) * tide_worker_peers(w);
        WORK_CHECK(w, wc.count[i] == want, "'%s' counted %llu times, want %llu", wc.seen[i],
                   (unsigned long long)wc.count[i], (unsigned long long)want);
    }
    return 0;
}

/* tide_session_give_str: slices of one text, not NUL-terminated where they lie, past a
 * session buffer's worth (so that the buffer flushes and the general path runs too), the
 * empty string and a long one among them; every string must arrive whole, on the worker
 * its hash names. */
#define GIVE_STR_N 20000
static const char give_str_text[] = "abcdefghijklmnopqrstuvwxyz0123456789";

struct give_str {
    tide_cap *cap;
    uint64_t got, bytes;
    int errors;
};

/* String i: a slice of the text, of length i % 37 (the long one at 1000: 300 x's). */
static size_t give_str_of(uint64_t i, const char **s, char *longbuf)
{
    if (i == 1000) {
        memset(longbuf, 'x', 300);
        *s = longbuf;
        return 300;
    }
    size_t n = i % 37, at = i % 7;
    if (at + n > sizeof give_str_text - 1)
        at = sizeof give_str_text - 1 - n;
    *s = give_str_text + at;
    return n;
}

static void give_str_source(tide_op *op, void *arg)
{
    struct give_str *g = arg;
    if (!g->cap)
        return;
    tide_session *out = tide_op_session(op, 0, g->cap);
    char longbuf[300];
    for (uint64_t i = 0; i < GIVE_STR_N; i++) {
        const char *str;
        size_t n = give_str_of(i, &str, longbuf);
        tide_session_give_str(out, str, n);
    }
    tide_cap_drop(&g->cap);
}

static void check_given(const char *word, void *arg)
{
    struct give_str *g = arg;
    size_t n = strlen(word);
    bool ok = n == 300 ? strspn(word, "x") == 300 : n <= 36 && strstr(give_str_text, word);
    g->errors += !ok;
    g->got++;
    g->bytes += n;
}

static void give_str_sink(tide_op *op, void *arg)
{
    struct give_str *g = arg;
    g->errors += each_string(op, check_given, g);
}

int df_give_str(tide_worker *w, void *ctx)
{
    (void)ctx;
    struct give_str g = { 0 };
    tide_scope *scope = tide_dataflow_begin(w, "give_str");
    tide_stream *s = tide_source(scope, "Words", TIDE_STR, give_str_source, &g, NULL, &g.cap);
    tide_sink(s, TIDE_EXCHANGE(by_string, NULL), "Check", give_str_sink, &g, NULL);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    /* every worker gives them all: each lands here peers times if its hash names us */
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    uint64_t want = 0, want_bytes = 0;
    char longbuf[300], copy[301];
    for (uint64_t i = 0; i < GIVE_STR_N; i++) {
        const char *str;
        size_t n = give_str_of(i, &str, longbuf);
        memcpy(copy, str, n);
        copy[n] = 0;
        const char *c = copy;
        if (by_string(&c, NULL) % peers == me) {
            want += peers;
            want_bytes += peers * n;
        }
    }
    WORK_CHECK(w, g.errors == 0, "%d strings wrong or on the wrong worker", g.errors);
    WORK_CHECK(w, g.got == want && g.bytes == want_bytes,
               "%llu strings of %llu bytes arrived, want %llu of %llu",
               (unsigned long long)g.got, (unsigned long long)g.bytes,
               (unsigned long long)want, (unsigned long long)want_bytes);
    return 0;
}
