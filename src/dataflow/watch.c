/* SPDX-License-Identifier: MIT */
/* --watch and SIGUSR1. A watcher thread per tide_execute only counts requests and wakes
 * the rank's workers; each worker answers at the end of its next step, on its own thread,
 * so that nothing reads a worker's state from outside it. A step costs one relaxed load
 * while nothing is asked.
 *
 * --watch SECONDS: every worker sends a small status record to worker 0 each interval
 * (on a channel of its own, allocated by every worker when the option is given, which is
 * why ranks must agree on it); worker 0 prints the status line from the latest records.
 * Once every worker has answered and none has done anything for three intervals, worker 0
 * asks every worker for its report (report.c), once per stall.
 * SIGUSR1 (when the program left it at its default, which would kill the process): every
 * worker of the rank prints its report; mpirun and srun forward the signal to all ranks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataflow_internal.h"

/* Intervals without a busy step before a stall is reported, and before a worker that has
 * not answered is called silent. */
#define STALL_INTERVALS 3
#define SILENT_INTERVALS 2.5

struct tide__watch {
    atomic_uint requests; /* bumped with each of the two below: what a step loads */
    atomic_uint status;   /* --watch intervals */
    atomic_uint report;   /* SIGUSR1s */
    double period;        /* seconds; 0: SIGUSR1 only */
    struct timespec t0;
    pthread_mutex_t mu;   /* allocs, stop */
    tide_allocator **allocs; /* per thread of the rank while it runs, to wake it */
    size_t nlocal;
    bool stop;
    pthread_t thread;
    int pipe[2];
    bool handler; /* ours is installed: restore `old` at the end */
    struct sigaction old;
};

enum { MSG_STATUS, MSG_DONE, MSG_REPORT };
struct watch_msg {
    uint32_t kind, ndfs;
    uint64_t worker, busy, records;
    uint64_t rank, sent_bytes; /* rank-wide, from the rank's first worker only */
    int64_t rss_kib;           /* -1: not the rank's first worker */
    double t;                  /* seconds since this rank started the execution */
};
static TIDE_TYPE_POD(watch_msg_type, struct watch_msg);

struct peer {
    struct watch_msg last, prev;
    double heard, moved; /* worker 0's clock */
    bool have, done;
};

struct tide__watch_worker {
    unsigned status_seen, report_seen;
    tide_pull *pull;
    int chan;
    struct peer *peers; /* worker 0: one per worker */
    bool reported;      /* the current stall has been reported */
};

static double since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---------------------------------------------------------------- the watcher thread */

static volatile sig_atomic_t signal_fd = -1; /* the pipe the handler writes to */
static pthread_mutex_t signal_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    if (write(signal_fd, "u", 1) < 0) { /* a full pipe already has a request in it */ }
    errno = saved;
}

static void *watcher(void *arg)
{
    struct tide__watch *wt = arg;
    double next = wt->period;
    for (;;) {
        int timeout = -1;
        if (wt->period > 0) {
            double left = next - since(&wt->t0);
            timeout = left > 0 ? (int)ceil(left * 1e3) : 0;
        }
        struct pollfd p = { .fd = wt->pipe[0], .events = POLLIN };
        int n = poll(&p, 1, timeout);
        pthread_mutex_lock(&wt->mu);
        if (wt->stop) {
            pthread_mutex_unlock(&wt->mu);
            return NULL;
        }
        bool asked = false;
        if (n > 0 && (p.revents & POLLIN)) {
            char buf[64];
            if (read(wt->pipe[0], buf, sizeof buf) > 0) {
                atomic_fetch_add(&wt->report, 1);
                asked = true;
            }
        }
        if (wt->period > 0 && since(&wt->t0) >= next) {
            atomic_fetch_add(&wt->status, 1);
            while (next <= since(&wt->t0))
                next += wt->period;
            asked = true;
        }
        if (asked) {
            atomic_fetch_add_explicit(&wt->requests, 1, memory_order_release);
            for (size_t i = 0; i < wt->nlocal; i++)
                if (wt->allocs[i])
                    tide_allocator_wake(wt->allocs[i]);
        }
        pthread_mutex_unlock(&wt->mu);
    }
}

struct tide__watch *tide__watch_start(const tide_config *cfg)
{
    double period = cfg ? cfg->watch : 0;
    pthread_mutex_lock(&signal_mu);
    struct sigaction now;
    bool take_signal = signal_fd < 0 && sigaction(SIGUSR1, NULL, &now) == 0 &&
                       !(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL;
    if (period <= 0 && !take_signal) {
        pthread_mutex_unlock(&signal_mu);
        return NULL;
    }
    struct tide__watch *wt = calloc(1, sizeof *wt);
    size_t nlocal = cfg ? cfg->workers : 1;
    if (!wt || !(wt->allocs = calloc(nlocal, sizeof *wt->allocs)) ||
        pipe2(wt->pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        tide__fatal("cannot start the watcher: %s", strerror(errno));
    wt->nlocal = nlocal;
    wt->period = period;
    clock_gettime(CLOCK_MONOTONIC, &wt->t0);
    pthread_mutex_init(&wt->mu, NULL);
    if (take_signal) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        signal_fd = wt->pipe[1];
        wt->handler = sigaction(SIGUSR1, &sa, &wt->old) == 0;
        if (!wt->handler)
            signal_fd = -1;
    }
    pthread_mutex_unlock(&signal_mu);
    int rc = pthread_create(&wt->thread, NULL, watcher, wt);
    if (rc != 0)
        tide__fatal("cannot start the watcher thread: %s", strerror(rc));
    return wt;
}

void tide__watch_stop(struct tide__watch *wt)
{
    if (!wt)
        return;
    pthread_mutex_lock(&wt->mu);
    wt->stop = true;
    pthread_mutex_unlock(&wt->mu);
    if (write(wt->pipe[1], "s", 1) < 0) { /* full: the watcher wakes anyway */ }
    pthread_join(wt->thread, NULL);
    pthread_mutex_lock(&signal_mu);
    if (wt->handler) {
        sigaction(SIGUSR1, &wt->old, NULL);
        signal_fd = -1;
    }
    pthread_mutex_unlock(&signal_mu);
    close(wt->pipe[0]);
    close(wt->pipe[1]);
    pthread_mutex_destroy(&wt->mu);
    free(wt->allocs);
    free(wt);
}

/* ---------------------------------------------------------------- workers */

void tide__watch_join(tide_worker *w, struct tide__watch *wt)
{
    w->watch = wt;
    if (!wt)
        return;
    struct tide__watch_worker *ww = calloc(1, sizeof *ww);
    if (!ww)
        tide__fatal("out of memory starting a worker");
    w->ww = ww;
    ww->chan = -1;
    ww->status_seen = atomic_load(&wt->status);
    ww->report_seen = atomic_load(&wt->report);
    w->watch_requests = &wt->requests;
    w->watch_seen = atomic_load(&wt->requests);
    if (wt->period > 0 && w->peers > 1 &&
        (ww->chan = tide_allocator_allocate_lazy(w->alloc, &watch_msg_type, &ww->pull)) < 0)
        tide__fatal("worker %zu: cannot allocate the --watch channel", w->index);
    if (wt->period > 0 && w->index == 0 && !(ww->peers = calloc(w->peers, sizeof *ww->peers)))
        tide__fatal("out of memory starting a worker");
    pthread_mutex_lock(&wt->mu);
    wt->allocs[w->alloc->local] = w->alloc;
    pthread_mutex_unlock(&wt->mu);
}

static void send_msg(tide_worker *w, size_t to, const struct watch_msg *m)
{
    tide_batch *b = tide_batch_new(&watch_msg_type, sizeof *m);
    if (!b || tide_batch_push(b, m) != 0)
        tide__fatal("out of memory in --watch");
    tide_push *p = tide_allocator_push(w->alloc, w->ww->chan, to);
    if (!p)
        tide__fatal("out of memory in --watch");
    tide_push_send(p, &b);
    tide_push_send(p, NULL);
    tide_batch_free(b);
}

static struct watch_msg snapshot(tide_worker *w, uint32_t kind)
{
    struct watch_msg m = { .kind = kind, .ndfs = (uint32_t)w->ndfs, .worker = w->index,
                           .busy = w->busy_steps, .records = w->records_in,
                           .rank = tide_allocator_rank(w->alloc), .rss_kib = -1,
                           .t = since(&w->watch->t0) };
    if (w->alloc->local == 0) {
        tide_comm_stats st;
        tide_comm_stats_get(w->alloc, &st);
        m.sent_bytes = st.send_bytes;
        m.rss_kib = tide__status_kib("VmRSS");
    }
    return m;
}

/* A report as one write, so that the workers of a rank do not interleave their lines. */
static void report_to_stderr(tide_worker *w)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    tide_worker_report(w, f);
    fclose(f);
    fwrite(text, 1, len, stderr);
    fflush(stderr);
    free(text);
}

/* Worker 0: what a status record says. */
static void note(tide_worker *w, const struct watch_msg *m)
{
    struct peer *p = &w->ww->peers[m->worker];
    double now = since(&w->watch->t0);
    if (m->kind == MSG_DONE) {
        p->done = true;
        return;
    }
    if (!p->have || m->busy != p->last.busy)
        p->moved = now;
    if (p->have)
        p->prev = p->last; /* else zeros: the first rate is since the start */
    p->last = *m;
    p->have = true;
    p->heard = now;
}

static void fmt_bytes(char *buf, size_t len, double b)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, "%.*f %s", u ? 1 : 0, b, unit[u]);
}

/* Worker 0, each interval: the status line, then the stall check. */
static void status_line(tide_worker *w)
{
    struct tide__watch_worker *ww = w->ww;
    double now = since(&w->watch->t0), period = w->watch->period;
    double rate = 0, sent = 0, rss_sum = 0;
    long rss_max = -1;
    uint64_t rss_rank = 0, ranks = 0;
    size_t silent = 0, first_silent = 0;
    bool stalled = true, dataflows = false;
    for (size_t k = 0; k < w->peers; k++) {
        const struct peer *p = &ww->peers[k];
        if (p->done)
            continue;
        if (now - (p->have ? p->heard : 0) > SILENT_INTERVALS * period) {
            if (!silent++)
                first_silent = k;
            stalled = false; /* a worker inside a long operator is busy, not stuck */
            continue;
        }
        if (!p->have) { /* its first record is on its way */
            stalled = false;
            continue;
        }
        dataflows |= p->last.ndfs > 0;
        stalled &= now - p->moved >= STALL_INTERVALS * period;
        double dt = p->last.t - p->prev.t;
        if (dt > 0) {
            rate += (double)(p->last.records - p->prev.records) / dt;
            sent += (double)(p->last.sent_bytes - p->prev.sent_bytes) / dt;
        }
        if (p->last.rss_kib >= 0) {
            ranks++;
            rss_sum += (double)p->last.rss_kib * 1024;
            if (p->last.rss_kib > rss_max) {
                rss_max = (long)p->last.rss_kib;
                rss_rank = p->last.rank;
            }
        }
    }
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f)
        return;
    fprintf(f, "tide watch %.1f s:", now);
    size_t np = 0;
    for (tide_probe *p = w->probes; p; p = p->next)
        np++;
    fputs(np ? " probes" : " no probes", f);
    tide_probe **order = calloc(np ? np : 1, sizeof *order);
    size_t i = np;
    for (tide_probe *p = w->probes; p && order; p = p->next)
        order[--i] = p;
    for (i = 0; order && i < np; i++) {
        fputc(' ', f);
        tide__put_antichain(f, tide_probe_frontier(order[i]));
    }
    free(order);
    char b1[32], b2[32], b3[32];
    fmt_bytes(b1, sizeof b1, sent);
    fmt_bytes(b2, sizeof b2, (double)rss_max * 1024);
    fmt_bytes(b3, sizeof b3, rss_sum);
    fprintf(f, "; %.3g records/s", rate);
    if (tide_allocator_ranks(w->alloc) > 1)
        fprintf(f, "; %s/s sent between ranks", b1);
    fprintf(f, "; rss %s", b2);
    if (ranks > 1)
        fprintf(f, " max (rank %llu), %s in %llu ranks", (unsigned long long)rss_rank, b3,
                (unsigned long long)ranks);
    if (silent)
        fprintf(f, "; %zu worker%s not heard from for %g s or more (worker %zu first: inside "
                   "an operator's logic or the program's own code)", silent, silent > 1 ? "s" : "",
                SILENT_INTERVALS * period, first_silent);
    fputc('\n', f);
    fclose(f);
    fwrite(line, 1, len, stderr);
    fflush(stderr);
    free(line);
    if (!stalled || !dataflows) {
        ww->reported = false;
        return;
    }
    if (ww->reported)
        return;
    ww->reported = true;
    fprintf(stderr, "tide watch: nothing has moved for %g s or more: every worker reports "
                    "what it waits for\n", STALL_INTERVALS * period);
    struct watch_msg m = { .kind = MSG_REPORT };
    for (size_t k = 1; k < w->peers; k++)
        send_msg(w, k, &m);
    report_to_stderr(w);
}

void tide__watch_answer(tide_worker *w)
{
    struct tide__watch *wt = w->watch;
    struct tide__watch_worker *ww = w->ww;
    w->watch_seen = atomic_load_explicit(&wt->requests, memory_order_acquire);
    unsigned rp = atomic_load_explicit(&wt->report, memory_order_relaxed);
    if (rp != ww->report_seen) {
        ww->report_seen = rp;
        report_to_stderr(w);
    }
    unsigned st = atomic_load_explicit(&wt->status, memory_order_relaxed);
    if (st == ww->status_seen)
        return;
    ww->status_seen = st;
    tide_batch *b = NULL;
    while (ww->pull && tide_pull_recv(ww->pull, &b)) {
        const struct watch_msg *m = tide_batch_records(b);
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            if (m[i].kind == MSG_REPORT)
                report_to_stderr(w);
            else if (w->index == 0 && m[i].worker < w->peers)
                note(w, &m[i]);
        }
    }
    struct watch_msg me = snapshot(w, MSG_STATUS);
    if (w->index != 0) {
        send_msg(w, 0, &me);
        return;
    }
    note(w, &me);
    status_line(w);
}

void tide__watch_leave(tide_worker *w)
{
    struct tide__watch *wt = w->watch;
    if (!wt)
        return;
    struct tide__watch_worker *ww = w->ww;
    if (ww->chan >= 0 && w->index != 0) {
        struct watch_msg m = snapshot(w, MSG_DONE);
        send_msg(w, 0, &m);
        tide_allocator_release(w->alloc);
    }
    pthread_mutex_lock(&wt->mu);
    wt->allocs[w->alloc->local] = NULL;
    pthread_mutex_unlock(&wt->mu);
    free(ww->peers);
    free(ww);
    w->ww = NULL;
    w->watch = NULL;
}
