/* SPDX-License-Identifier: MIT */
/*
 * Point-to-point speed of tide channels against raw MPI, in one run on the same ranks:
 * ping-pong latency (8 B, 1 KiB, 64 KiB) and streaming throughput (64 KiB to 1 MiB
 * batches) between the first and the last worker. Each repetition runs raw MPI and then
 * tide back to back, and the medians are printed with their ratio.
 *
 *   mpirun -n 2 comm_bench [--reps N] [--only latency|throughput] [--mib N] [tide options]
 *
 * --mib: the MiB streamed per measurement (default 256; tests stream a few).
 *
 * Raw MPI here is MPI_Send/MPI_Recv on MPI_COMM_WORLD from the worker thread, inside
 * tide_allocator_mpi_enter/leave so that tide's own MPI traffic waits meanwhile. Raw MPI
 * streams twice: one buffer sent over and over with MPI_Send (which stays in the caches of
 * both ends), and a window of distinct buffers as large as tide's, with nonblocking sends
 * and receives posted ahead (what a program sending data it produces does, and what
 * tide's batches are); both ratios are printed.
 * --progress thread measures tide with a communication thread per rank instead of
 * workers driving MPI themselves.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#define MAX_REPS 31

static int reps = 7;
static const char *only = ""; /* "latency", "throughput" or "" for both */

static const size_t lat_sizes[] = { 8, 1024, 65536 };
static const int lat_iters[] = { 20000, 10000, 2000 };
static const size_t bw_sizes[] = { 65536, 262144, 1048576 };
static size_t bw_bytes = (size_t)256 << 20; /* bytes streamed per measurement */
/* tide stream: bytes in flight at most (the receiver acknowledges each half). 1 MiB left
 * only two 1 MiB batches in flight, and the link idle while an acknowledgement travelled:
 * 0.81-1.08 of raw MPI's one buffer at 1 MiB, against 1.10-1.34 with 4 MiB and 0.37-0.70
 * with 8 MiB, which no longer stays in cache (three runs each; 2 MiB 0.84-1.36). */
#define WINDOW_BYTES (4u << 20)
#define MAX_RING (WINDOW_BYTES / 65536) /* raw MPI's window of the smallest batches */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---------------------------------------------------------------- raw MPI */

static tide_allocator *alloc; /* this rank's only worker */
static tide_progress progress; /* who drives MPI */

static void barrier(void)
{
    tide_allocator_mpi_enter(alloc);
    MPI_Barrier(MPI_COMM_WORLD);
    tide_allocator_mpi_leave(alloc);
}

static double mpi_latency(int me, int peer, char *buf, size_t size, int iters)
{
    tide_allocator_mpi_enter(alloc);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; i++) {
        if (me == 0) {
            MPI_Send(buf, (int)size, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
            MPI_Recv(buf, (int)size, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(buf, (int)size, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, (int)size, MPI_BYTE, peer, 1, MPI_COMM_WORLD);
        }
    }
    double us = (MPI_Wtime() - t0) / iters / 2 * 1e6; /* one way */
    tide_allocator_mpi_leave(alloc);
    return us;
}

/* @p ring distinct buffers of @p size at @p buf, used in turn at both ends: one buffer
 * with blocking MPI_Send/MPI_Recv; more with up to @p ring nonblocking sends in flight and
 * as many receives posted ahead, the window of tide's stream below. */
static double mpi_stream(int me, int peer, char *buf, size_t size, size_t ring)
{
    int n = (int)(bw_bytes / size), w = (int)ring;
    char ack = 0;
    MPI_Request req[MAX_RING];
    tide_allocator_mpi_enter(alloc);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (me == 0) {
        for (int i = 0; i < n; i++) {
            char *at = buf + (size_t)(i % w) * size;
            if (w == 1) {
                MPI_Send(at, (int)size, MPI_BYTE, peer, 2, MPI_COMM_WORLD);
                continue;
            }
            if (i >= w)
                MPI_Wait(&req[i % w], MPI_STATUS_IGNORE);
            MPI_Isend(at, (int)size, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &req[i % w]);
        }
        for (int i = n > w ? n - w : 0; w > 1 && i < n; i++) /* the last ones in flight */
            MPI_Wait(&req[i % w], MPI_STATUS_IGNORE);
        MPI_Recv(&ack, 1, MPI_BYTE, peer, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
        for (int i = 0; w > 1 && i < w && i < n; i++)
            MPI_Irecv(buf + (size_t)i * size, (int)size, MPI_BYTE, peer, 2, MPI_COMM_WORLD,
                      &req[i]);
        for (int i = 0; i < n; i++) {
            char *at = buf + (size_t)(i % w) * size;
            if (w == 1) {
                MPI_Recv(at, (int)size, MPI_BYTE, peer, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                continue;
            }
            MPI_Wait(&req[i % w], MPI_STATUS_IGNORE);
            if (i + w < n)
                MPI_Irecv(at, (int)size, MPI_BYTE, peer, 2, MPI_COMM_WORLD, &req[i % w]);
        }
        MPI_Send(&ack, 1, MPI_BYTE, peer, 3, MPI_COMM_WORLD);
    }
    double gbs = (double)n * size / (MPI_Wtime() - t0) / 1e9;
    tide_allocator_mpi_leave(alloc);
    return gbs;
}

/* ---------------------------------------------------------------- tide */

struct bench {
    tide_allocator *a;
    tide_push **push;
    tide_pull *pull;
    size_t peer;
    bool first;
};

/* Waits for the next batch: spinning when the workers drive MPI (as MPI_Recv does), but
 * parked when a communication thread does, since a spinning worker would take the core
 * that thread needs. */
static tide_batch *wait_batch(struct bench *b, tide_batch **held)
{
    for (;;) {
        tide_allocator_receive(b->a);
        if (tide_pull_recv(b->pull, held))
            return *held;
        tide_allocator_release(b->a);
        if (progress == TIDE_PROGRESS_THREAD)
            tide_allocator_park(b->a, -1);
    }
}

static tide_batch *fresh(tide_batch *spare, size_t size)
{
    tide_batch *out = spare ? spare : tide_batch_new(TIDE_U64, size);
    void *p = tide_batch_extend(out, size / 8);
    if (!spare)
        memset(p, 1, size);
    return out;
}

static double tide_latency(struct bench *b, size_t size, int iters)
{
    tide_batch *in = NULL, *out = NULL;
    barrier();
    double t0 = MPI_Wtime();
    for (int i = 0; i < iters; i++) {
        if (b->first) {
            out = fresh(out, size);
            tide_push_send(b->push[b->peer], &out);
            tide_push_send(b->push[b->peer], NULL);
            wait_batch(b, &in);
        } else {
            wait_batch(b, &in);
            /* Forward what arrived: the received batch is ours to push. */
            tide_push_send(b->push[b->peer], &in);
            tide_push_send(b->push[b->peer], NULL);
        }
    }
    double us = (MPI_Wtime() - t0) / iters / 2 * 1e6;
    tide_pull_recv(b->pull, &in);
    tide_batch_free(in);
    tide_batch_free(out);
    return us;
}

static double tide_streaming(struct bench *b, size_t size)
{
    /* The receiver acknowledges every CREDIT batches; at most 2 * CREDIT are in flight. */
    const int CREDIT = WINDOW_BYTES / size / 2 > 1 ? (int)(WINDOW_BYTES / size / 2) : 1;
    int n = (int)(bw_bytes / size);
    tide_batch *in = NULL, *out = NULL;
    barrier();
    double t0 = MPI_Wtime();
    if (b->first) {
        int acked = 0;
        for (int i = 0; i < n; i++) {
            while (i - acked >= 2 * CREDIT) {
                wait_batch(b, &in);
                acked += CREDIT;
            }
            out = fresh(out, size);
            tide_push_send(b->push[b->peer], &out);
        }
        tide_push_send(b->push[b->peer], NULL);
        while (acked < n - n % CREDIT) {
            wait_batch(b, &in);
            acked += CREDIT;
        }
        if (n % CREDIT)
            wait_batch(b, &in);
    } else {
        for (int i = 0; i < n; i++) {
            wait_batch(b, &in);
            if ((i + 1) % CREDIT == 0 || i == n - 1) {
                out = fresh(out, 8);
                tide_push_send(b->push[b->peer], &out);
                tide_push_send(b->push[b->peer], NULL);
            }
        }
    }
    double gbs = (double)n * size / (MPI_Wtime() - t0) / 1e9;
    tide_pull_recv(b->pull, &in);
    tide_batch_free(out);
    return gbs;
}

static int worker(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    if (tide_allocator_ranks(a) != 2 || peers != 2) {
        if (me == 0)
            fprintf(stderr, "comm_bench: run it on 2 ranks of 1 worker (mpirun -n 2 "
                            "comm_bench), not %zu rank(s) x %zu worker(s)\n",
                    tide_allocator_ranks(a), peers / tide_allocator_ranks(a));
        return 1;
    }
    struct bench b = { a, NULL, NULL, 1 - me, me == 0 };
    alloc = a;
    tide_allocator_allocate(a, TIDE_U64, &b.push, &b.pull);
    int rank = (int)tide_allocator_rank(a), peer = 1 - rank;
    /* Written, so that its pages are real: an untouched calloc buffer reads as the kernel's
     * one shared zero page, which would flatter raw MPI's send side. */
    char *buf = malloc(WINDOW_BYTES);
    memset(buf, 1, WINDOW_BYTES);
    double raw[MAX_REPS], window[MAX_REPS], ours[MAX_REPS];
    if (me == 0)
        printf("comm_bench: 2 ranks x 1 worker, MPI driven by %s, %d repetitions, medians\n\n"
               "one-way latency   raw MPI      tide   tide/MPI\n",
               progress == TIDE_PROGRESS_THREAD ? "a communication thread" : "the workers", reps);
    for (size_t s = 0; strcmp(only, "throughput") && s < sizeof lat_sizes / sizeof *lat_sizes;
         s++) {
        mpi_latency(rank, peer, buf, lat_sizes[s], lat_iters[s] / 10); /* warm up */
        tide_latency(&b, lat_sizes[s], lat_iters[s] / 10);
        for (int r = 0; r < reps; r++) {
            raw[r] = mpi_latency(rank, peer, buf, lat_sizes[s], lat_iters[s]);
            ours[r] = tide_latency(&b, lat_sizes[s], lat_iters[s]);
        }
        double m = median(raw, reps), t = median(ours, reps);
        if (me == 0)
            printf("%8zu B     %7.2f us %7.2f us %8.2f\n", lat_sizes[s], m, t, t / m);
    }
    if (me == 0)
        printf("\nthroughput   raw MPI: one buffer   a window    tide   tide/one"
               "  tide/window\n");
    for (size_t s = 0; strcmp(only, "latency") && s < sizeof bw_sizes / sizeof *bw_sizes; s++) {
        size_t size = bw_sizes[s], nring = WINDOW_BYTES / size;
        mpi_stream(rank, peer, buf, size, 1);
        mpi_stream(rank, peer, buf, size, nring);
        tide_streaming(&b, size);
        for (int r = 0; r < reps; r++) {
            raw[r] = mpi_stream(rank, peer, buf, size, 1);
            window[r] = mpi_stream(rank, peer, buf, size, nring);
            ours[r] = tide_streaming(&b, size);
        }
        double m = median(raw, reps), g = median(window, reps), t = median(ours, reps);
        if (me == 0)
            printf("%8zu KiB %11.2f GB/s %7.2f GB/s %6.2f GB/s %8.2f %12.2f\n", size >> 10, m,
                   g, t, t / m, t / g);
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    tide_config cfg;
    int rc = 2;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "comm_bench: %s\n", cfg.error);
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > MAX_REPS) {
                fprintf(stderr, "comm_bench: --reps takes 1 to %d\n", MAX_REPS);
                goto out;
            }
        } else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
            char *end;
            long mib = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || mib < 1 || mib > 4096) {
                fprintf(stderr, "comm_bench: --mib takes 1 to 4096, not '%s'\n", argv[i]);
                goto out;
            }
            bw_bytes = (size_t)mib << 20;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                   (!strcmp(argv[i + 1], "latency") || !strcmp(argv[i + 1], "throughput"))) {
            only = argv[++i];
        } else {
            fprintf(stderr, "comm_bench: unexpected argument '%s'\n", argv[i]);
            goto out;
        }
    }
    progress = cfg.progress;
    tide_guards *g;
    if ((rc = tide_comm_initialize(&cfg, worker, NULL, &g)) == 0) {
        int res[1] = { 1 };
        tide_guards_join(g, res);
        rc = res[0];
    }
out:
    MPI_Finalize();
    return rc;
}
