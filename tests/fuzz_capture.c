/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes replay (tide_replay_into) with mutated capture files. Replay stops the process on
 * a bad file, so each input runs in a child process: it must either replay to the end or
 * stop with a "Replay:" message, within 10 s, with no sanitizer report. An input that does
 * anything else is kept in the output folder and the run fails.
 *
 *   fuzz_capture DIR N [FILE...]   capture seeds into DIR, replay N mutations of them, then
 *                                  each FILE as it is (inputs kept from earlier runs)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tide.h>

#include "fuzz_mutate.h"

static const char *prefix;

static void to_string(const void *in, void *out, void *ctx)
{
    (void)ctx;
    static _Thread_local char text[4][24];
    static _Thread_local int next;
    char *s = text[next++ % 4];
    snprintf(s, sizeof text[0], "%llu", (unsigned long long)*(const uint64_t *)in);
    *(const char **)out = s;
}

/* The seeds: u64 records over 4 epochs, and the same as strings. */
static int capture(tide_worker *w, void *ctx)
{
    (void)ctx;
    char strs[4096];
    snprintf(strs, sizeof strs, "%s-str", prefix);
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "capture");
    tide_stream *s = tide_input_new(scope, TIDE_U64, &in);
    tide_capture_into(s, prefix);
    tide_capture_into(tide_map(s, TIDE_STR, to_string, NULL), strs);
    tide_dataflow_end(scope);
    for (uint64_t e = 0; e < 4; e++) {
        tide_input_advance_to(in, e);
        for (uint64_t i = 0; i < 3 + e; i++) {
            uint64_t x = 100 * e + i;
            tide_input_send(in, &x);
        }
        tide_worker_step(w);
    }
    return 0;
}

static const tide_type *replay_type;

static int replay(tide_worker *w, void *ctx)
{
    (void)ctx;
    tide_scope *scope = tide_dataflow_begin(w, "replay");
    tide_probe *p = tide_probe_new(tide_count(tide_replay_into(scope, replay_type, prefix)));
    tide_dataflow_end(scope);
    while (!tide_probe_done(p))
        tide_worker_step(w);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static unsigned char buf[1 << 16];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned char *copy = malloc(*n + 1);
    if (copy)
        memcpy(copy, buf, *n);
    return copy;
}

static int spit(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* Replays @p input (written as PREFIX.0) in a child. 0 when the child ended as it must. */
static int try_input(const char *dir, const unsigned char *input, size_t n, bool strings)
{
    char file[4096], err[4096];
    snprintf(file, sizeof file, "%s.0", prefix);
    snprintf(err, sizeof err, "%s/stderr", dir);
    if (spit(file, input, n) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (!freopen(err, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(3);
        alarm(10);
        replay_type = strings ? TIDE_STR : TIDE_U64;
        _exit(tide_example(replay, NULL) == 0 ? 0 : 4);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    size_t elen = 0;
    unsigned char *e = slurp(err, &elen);
    bool refused = false, report = false;
    if (e) {
        e[elen] = '\0';
        refused = strstr((char *)e, "tide: fatal: Replay: ") != NULL;
        report = strstr((char *)e, "Sanitizer") || strstr((char *)e, "runtime error");
    }
    bool ok = !report && WIFEXITED(st) &&
              (WEXITSTATUS(st) == 0 || (WEXITSTATUS(st) == 1 && refused));
    if (!ok) {
        fprintf(stderr, "fuzz_capture: a %s file of %zu bytes: %s%s\n%s",
                strings ? "str" : "u64", n,
                WIFSIGNALED(st) ? "killed by signal " : "exit ",
                WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : (WEXITSTATUS(st) == 1 ? "1" : "other"),
                e ? (char *)e : "");
    }
    free(e);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_capture DIR N [FILE...]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = atol(argv[2]);
    char pre[4096], seedpath[2][4096];
    snprintf(pre, sizeof pre, "%s/seed", dir);
    prefix = pre;
    if (tide_example(capture, NULL) != 0)
        return 1;
    snprintf(seedpath[0], sizeof seedpath[0], "%s/seed.0", dir);
    snprintf(seedpath[1], sizeof seedpath[1], "%s/seed-str.0", dir);
    size_t len[2];
    unsigned char *seed[2] = { slurp(seedpath[0], &len[0]), slurp(seedpath[1], &len[1]) };
    if (!seed[0] || !seed[1])
        return 1;
    /* replays read PREFIX.0 (and PREFIX-str.0 beside it for nothing: the type is one) */
    char rp[4096];
    snprintf(rp, sizeof rp, "%s/input", dir);
    prefix = rp;
    int failed = 0;
    static unsigned char buf[1 << 16];
    for (long i = 0; i < n && failed < 3; i++) {
        int k = (int)(next_random() % 2);
        memcpy(buf, seed[k], len[k]);
        /* keep the header's magic: past it is where the decoding is */
        size_t m = mutate(buf, len[k], sizeof buf, 8);
        if (try_input(dir, buf, m, k == 1) != 0) {
            char keep[4096];
            snprintf(keep, sizeof keep, "%s/broke-%ld-%s", dir, i, k ? "str" : "u64");
            spit(keep, buf, m);
            fprintf(stderr, "fuzz_capture: kept as %s\n", keep);
            failed++;
        }
    }
    for (int i = 3; i < argc; i++) {
        size_t m;
        unsigned char *in = slurp(argv[i], &m);
        if (!in || try_input(dir, in, m, strstr(argv[i], "str") != NULL) != 0) {
            fprintf(stderr, "fuzz_capture: kept input %s\n", argv[i]);
            failed++;
        }
        free(in);
    }
    free(seed[0]);
    free(seed[1]);
    printf("fuzz_capture: %ld mutated files and %d kept inputs, %d failed\n", n, argc - 3,
           failed);
    return failed ? 1 : 0;
}
