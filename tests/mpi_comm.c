/* SPDX-License-Identifier: MIT */
/*
 * The communication layer under MPI: the worker bodies of comm_work.c, run by every rank
 * with the tide options given on the command line (tests/mpi_comm.sh runs this under
 * mpirun with -n 1, 2, 3 and -w 1, 2). check runs in no-fork mode: MPI cannot be started
 * twice, so this program initializes MPI itself and tide joins it.
 *
 *   mpi_comm [tide options]            the suite
 *   mpi_comm misuse-type [options]     channel 0 allocated with different types on ranks
 *   mpi_comm misuse-channel [options]  a message on a channel the target never allocated
 */
#include "check_main.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_work.h"

static tide_config cfg;

#define WORK_TEST(name, fn, ctx)                                                          \
    START_TEST(test_##name) { ck_assert_int_eq(run_workers(&cfg, fn, ctx), 0); }         \
    END_TEST
COMM_WORK_TESTS(WORK_TEST)

static int identity(tide_allocator *a, void *ctx)
{
    (void)ctx;
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const char *want = ranks > 1 ? "mpi" : cfg.workers > 1 ? "process" : "thread";
    if (strcmp(tide_allocator_backend(a), want) != 0 || tide_allocator_rank(a) != (size_t)rank ||
        tide_allocator_ranks(a) != (size_t)ranks ||
        tide_allocator_peers(a) != (size_t)ranks * cfg.workers ||
        tide_allocator_index(a) / cfg.workers != (size_t)rank) {
        fprintf(stderr, "rank %d: worker %zu of %zu, backend %s\n", rank,
                tide_allocator_index(a), tide_allocator_peers(a), tide_allocator_backend(a));
        return 1;
    }
    return 0;
}

WORK_TEST(identity, identity, NULL)

/* Whether every rank runs with --shm on (they share one node in the tests). */
static int all_shm;

/* The laps again, every worker sending all before receiving, then the rank's counters:
 * frames between ranks went through the shared rings when every rank has them on, and
 * some waited for room (each pair of workers sends three rings' worth or more), never
 * otherwise (one rank with --shm off turns them off for the node, and nothing hangs).
 * With a communication thread per rank the receiving rank's thread empties its rings
 * while its workers are still sending, so whether one ever fills is the scheduler's (a
 * CI run under ASan, 3 ranks x 1 worker on 2 cores: 1,154 frames and no wait on one
 * rank): there only the frames are required. */
static int shm_used(tide_allocator *a, void *ctx)
{
    (void)ctx;
    int first = 1;
    if (work_laps(a, &first) != 0)
        return 1;
    tide_comm_stats st;
    tide_comm_stats_get(a, &st);
    bool want = all_shm && tide_allocator_ranks(a) > 1;
    bool waits = want && cfg.progress == TIDE_PROGRESS_WORKERS;
    if (want != (st.shm_frames > 0) || (waits && st.shm_waits == 0) ||
        (!want && st.shm_waits > 0) ||
        (st.shm_frames > 0) != (st.shm_bytes > 0)) {
        fprintf(stderr,
                "rank %zu: %llu frames (%llu bytes) through the shared rings, %llu of them "
                "waited for room, %llu MPI sends, %llu frames received; %s\n",
                tide_allocator_rank(a), (unsigned long long)st.shm_frames,
                (unsigned long long)st.shm_bytes, (unsigned long long)st.shm_waits,
                (unsigned long long)st.sends, (unsigned long long)st.recvs,
                !want ? "expected none" : waits ? "expected some of each" : "expected frames");
        return 1;
    }
    return 0;
}

WORK_TEST(shm_used, shm_used, NULL)

/* Announced payloads of up to half a ring go through the rings too: with rings on every
 * rank (up to 16 a node, whose rings of 256 KiB hold 119 KiB payloads), nothing goes
 * through MPI. */
static int shm_payloads(tide_allocator *a, void *ctx)
{
    if (work_payloads(a, ctx) != 0)
        return 1;
    tide_comm_stats st;
    tide_comm_stats_get(a, &st);
    bool rings = all_shm && tide_allocator_ranks(a) > 1 && tide_allocator_ranks(a) <= 16;
    bool mpi = !all_shm && tide_allocator_ranks(a) > 1;
    if ((rings && st.sends != 0) || (mpi && st.sends == 0)) {
        fprintf(stderr, "rank %zu: %llu MPI sends, %llu frames through the shared rings; %s\n",
                tide_allocator_rank(a), (unsigned long long)st.sends,
                (unsigned long long)st.shm_frames,
                rings ? "expected everything through the rings" : "expected MPI sends");
        return 1;
    }
    return 0;
}

WORK_TEST(shm_payloads, shm_payloads, NULL)

/* A worker's own MPI calls between tide messages: each worker exchanges a value with the
 * worker of the same thread index on the neighbouring ranks, inside mpi_enter/leave, then
 * tide channels still work. */
static int own_mpi(tide_allocator *a, void *ctx)
{
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    int local = (int)(tide_allocator_index(a) % cfg.workers), got = -1;
    int mine = rank * 1000 + local;
    for (int round = 0; round < 3; round++) { /* each round allocates a new channel */
        if (work_all_to_all(a, ctx) != 0)
            return 1;
        /* Nonblocking, tested in short turns: a blocking call could wait for a worker of
         * another rank that waits for its rank's turn (see tide_allocator_mpi_enter). */
        MPI_Request req[2];
        MPI_Status st[2]; /* not MPI_STATUSES_IGNORE: gcc 12 reads MPICH's as an array */
        int done = 0;
        tide_allocator_mpi_enter(a);
        MPI_Irecv(&got, 1, MPI_INT, (rank + ranks - 1) % ranks, 100 + local, MPI_COMM_WORLD,
                  &req[0]);
        MPI_Isend(&mine, 1, MPI_INT, (rank + 1) % ranks, 100 + local, MPI_COMM_WORLD, &req[1]);
        tide_allocator_mpi_leave(a);
        while (!done) {
            tide_allocator_mpi_enter(a);
            MPI_Testall(2, req, &done, st);
            tide_allocator_mpi_leave(a);
        }
        if (got != ((rank + ranks - 1) % ranks) * 1000 + local) {
            fprintf(stderr, "rank %d worker %d: got %d from MPI_Sendrecv\n", rank, local, got);
            return 1;
        }
    }
    return 0;
}

WORK_TEST(own_mpi, own_mpi, NULL)

/* ---------------------------------------------------------------- misuse */

static int wait_for(tide_allocator *a, tide_pull *pull, double seconds)
{
    double end = MPI_Wtime() + seconds;
    tide_batch *b = NULL;
    while (MPI_Wtime() < end) {
        tide_allocator_receive(a);
        if (tide_pull_recv(pull, &b)) {
            tide_pull_recv(pull, &b);
            return 0;
        }
        tide_allocator_park(a, 1000000);
    }
    return 1;
}

static void send_one(tide_push *p, const tide_type *t)
{
    tide_batch *b = tide_batch_new(t, 0);
    uint64_t v = 1;
    tide_batch_push(b, &v);
    tide_push_send(p, &b);
    tide_push_send(p, NULL);
    tide_batch_free(b);
}

static int misuse_type(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push;
    tide_pull *pull;
    bool first = tide_allocator_rank(a) == 0;
    tide_allocator_allocate(a, first ? TIDE_U64 : TIDE_F64, &push, &pull);
    if (first && tide_allocator_index(a) == 0)
        send_one(push[tide_allocator_peers(a) - 1], TIDE_U64);
    return first ? 0 : wait_for(a, pull, 20);
}

static int misuse_channel(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push0, **push1;
    tide_pull *pull0, *pull1;
    bool first = tide_allocator_rank(a) == 0;
    tide_allocator_allocate(a, TIDE_U64, &push0, &pull0);
    if (first)
        tide_allocator_allocate(a, TIDE_U64, &push1, &pull1);
    if (first && tide_allocator_index(a) == 0) {
        size_t last = tide_allocator_peers(a) - 1;
        send_one(push1[last], TIDE_U64);
        send_one(push0[last], TIDE_U64);
    }
    if (!first && tide_allocator_index(a) == tide_allocator_peers(a) - 1)
        return wait_for(a, pull0, 20);
    return 0;
}

int main(int argc, char **argv)
{
    int provided, ranks;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "mpi_comm: %s\n", cfg.error);
        MPI_Finalize();
        return 2;
    }
    int shm = cfg.shm;
    MPI_Allreduce(&shm, &all_shm, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (argc > 1) {
        tide_comm_fn fn = strcmp(argv[1], "misuse-type") == 0      ? misuse_type
                          : strcmp(argv[1], "misuse-channel") == 0 ? misuse_channel
                                                                   : NULL;
        if (!fn) {
            fprintf(stderr, "mpi_comm: unknown mode '%s'\n", argv[1]);
            MPI_Finalize();
            return 2;
        }
        int failed = run_workers(&cfg, fn, NULL);
        MPI_Finalize();
        return failed ? 1 : 0;
    }
    TCase *tc = tcase_create("mpi");
    tcase_add_test(tc, test_identity);
#define ADD_WORK_TEST(name, fn, ctx) tcase_add_test(tc, test_##name);
    COMM_WORK_TESTS(ADD_WORK_TEST)
    tcase_add_test(tc, test_own_mpi);
    tcase_add_test(tc, test_shm_used);
    tcase_add_test(tc, test_shm_payloads);
    int failed = run_suite("mpi_comm", tc, CK_NOFORK);
    /* A failure on any rank fails every rank, so mpirun's exit code is enough. */
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? EXIT_FAILURE : EXIT_SUCCESS;
}
