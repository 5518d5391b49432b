/* SPDX-License-Identifier: MIT */
/* The thread and process allocators: the shared worker bodies of comm_work.c, run with one
 * worker (thread backend) and with three (process backend). */
#include "check_main.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_internal.h"
#include "bufpool_internal.h"
#include "comm_work.h"


static const size_t shapes[] = { 1, 3 };

#define WORK_TEST(name, fn, ctx)                                                          \
    START_TEST(test_##name)                                                               \
    {                                                                                     \
        tide_config cfg = check_threads(shapes[_i]);                                             \
        ck_assert_int_eq(run_workers(&cfg, fn, ctx), 0);                                  \
    }                                                                                     \
    END_TEST
COMM_WORK_TESTS(WORK_TEST)

static int backend_name(tide_allocator *a, void *ctx)
{
    const char *want = ctx;
    return strcmp(tide_allocator_backend(a), want) != 0 || tide_allocator_rank(a) != 0 ||
           tide_allocator_ranks(a) != 1;
}

START_TEST(test_backend_names)
{
    tide_config one = check_threads(1), two = check_threads(2);
    ck_assert_int_eq(run_workers(&one, backend_name, "thread"), 0);
    ck_assert_int_eq(run_workers(&two, backend_name, "process"), 0);
}
END_TEST

/* Worker 1 allocates channel 0 with another type than worker 0: it gets TIDE_ETYPE. The
 * failed channel still takes its place: the next channel is 1 on both workers, and works. */
static pthread_barrier_t order;

static int mismatched(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push;
    tide_pull *pull;
    if (tide_allocator_index(a) == 1)
        pthread_barrier_wait(&order);
    int rc = tide_allocator_allocate(a, tide_allocator_index(a) ? TIDE_F64 : TIDE_U64, &push,
                                     &pull);
    if (tide_allocator_index(a) == 0)
        pthread_barrier_wait(&order);
    if (tide_allocator_index(a) == 0 ? rc != 0 : rc != TIDE_ETYPE)
        return 1;
    if (tide_allocator_allocate(a, TIDE_U32, &push, &pull) != 1)
        return 2;
    if (tide_allocator_index(a) == 0) {
        tide_batch *b = tide_batch_new(TIDE_U32, 0);
        uint32_t v = 7;
        tide_batch_push(b, &v);
        tide_push_send(push[1], &b);
        tide_push_send(push[1], NULL);
        tide_batch_free(b);
        return 0;
    }
    tide_batch *b = NULL;
    for (int k = 0; k < 2000; k++) {
        tide_allocator_receive(a);
        if (tide_pull_recv(pull, &b)) {
            int got = *(const uint32_t *)tide_batch_records(b) == 7 ? 0 : 3;
            tide_pull_recv(pull, &b); /* gives it back */
            return got;
        }
        tide_allocator_park(a, 1000000);
    }
    return 4;
}

START_TEST(test_type_mismatch)
{
    tide_config cfg = check_threads(2);
    pthread_barrier_init(&order, NULL, 2);
    ck_assert_int_eq(run_workers(&cfg, mismatched, NULL), 0);
    pthread_barrier_destroy(&order);
}
END_TEST

static int identities(tide_allocator *a, void *ctx)
{
    (void)ctx;
    return tide_allocator_peers(a) != 4 || tide_allocator_index(a) >= 4;
}

START_TEST(test_guards)
{
    tide_config cfg = check_threads(4);
    tide_guards *g;
    ck_assert_int_eq(tide_comm_initialize(&cfg, identities, NULL, &g), 0);
    ck_assert_uint_eq(tide_guards_count(g), 4);
    ck_assert_uint_eq(tide_guards_first(g), 0);
    int res[4] = { -1, -1, -1, -1 };
    ck_assert_int_eq(tide_guards_join(g, res), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(res[i], 0);
    cfg.workers = 0;
    ck_assert_int_eq(tide_comm_initialize(&cfg, identities, NULL, &g), TIDE_EINVAL);
}
END_TEST

/* tide_allocator_mpi_enter keeps the rank's other workers out for as long as a worker
 * stays inside (here 5 ms, long enough for a waiter to go from yielding to napping), and
 * lets each in once it leaves. */
static atomic_int inside, entries;

static int mpi_sections(tide_allocator *a, void *ctx)
{
    (void)ctx;
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        tide_allocator_mpi_enter(a);
        bad |= atomic_fetch_add(&inside, 1) != 0;
        nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
        atomic_fetch_sub(&inside, 1);
        atomic_fetch_add(&entries, 1);
        tide_allocator_mpi_leave(a);
    }
    return bad;
}

START_TEST(test_mpi_sections_exclude)
{
    atomic_store(&inside, 0);
    atomic_store(&entries, 0);
    tide_config cfg = check_threads(3);
    ck_assert_int_eq(run_workers(&cfg, mpi_sections, NULL), 0);
    ck_assert_int_eq(atomic_load(&entries), 9);
}
END_TEST

/* Past the channels a job may allocate (the wire has no room for more ids), a channel is
 * refused with TIDE_EINVAL, lazy or not. The limit (2^24) is lowered to 2 here, by the one
 * worker of the job. */
static int too_many(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push;
    tide_pull *pull;
    a->shared->max_channels = 2;
    if (tide_allocator_allocate(a, TIDE_U64, &push, &pull) != 0 ||
        tide_allocator_allocate_lazy(a, TIDE_U64, &pull) != 1)
        return 1;
    if (tide_allocator_allocate(a, TIDE_U64, &push, &pull) != TIDE_EINVAL ||
        tide_allocator_allocate_lazy(a, TIDE_U64, &pull) != TIDE_EINVAL)
        return 2;
    return 0;
}

START_TEST(test_channel_limit)
{
    tide_config cfg = check_threads(1);
    ck_assert_int_eq(run_workers(&cfg, too_many, NULL), 0);
}
END_TEST

/* Under --memory (the rank-wide buffer pool on), spares of frame size are kept up to
 * tide__spare_bound(), by their capacities; a large buffer (a large batch's, for its sender
 * to fill again) only by number; taking a spare gives its bytes back. Without the pool,
 * frame-sized spares are kept by number too. */
static int fill_frames(tide_allocator *a, size_t *frame)
{
    for (int i = 0; i < TIDE__MAX_SPARES; i++) {
        tide_batch *b = tide_batch_new(NULL, TIDE__POST_BYTES);
        *frame = b->cap;
        tide__spare_put(a, b);
    }
    return (int)a->spares.count;
}

static int spare_bounds(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t frame = 0;
    if (fill_frames(a, &frame) != TIDE__MAX_SPARES) /* no pool: by number only */
        return 1;
    tide__allocator_trim(a);
    tide__bufpool_start(1 << 20);
    int kept = fill_frames(a, &frame);
    bool ok = frame <= TIDE__SPARE_SMALL && tide__spare_bound(a) == TIDE__SPARE_MIN_BYTES &&
              a->spare_bytes <= tide__spare_bound(a) &&
              (size_t)kept == tide__spare_bound(a) / frame;
    tide__spare_put(a, tide_batch_new(NULL, 4 * TIDE__SPARE_SMALL));
    ok = ok && a->spares.count == (size_t)kept + 1 && a->spare_bytes == (size_t)kept * frame;
    tide_batch *big = tide__spare_take(a, TIDE_U64, 3 * TIDE__SPARE_SMALL);
    tide_batch *one = tide__spare_take(a, TIDE_U64, 8);
    ok = ok && big && big->cap >= 3 * TIDE__SPARE_SMALL && one && one->cap == frame &&
         a->spare_bytes == (size_t)(kept - 1) * frame;
    tide_batch_free(big);
    tide_batch_free(one);
    tide__allocator_trim(a);
    tide__bufpool_stop();
    return ok ? 0 : 2;
}

START_TEST(test_spare_bounds)
{
    tide_config cfg = check_threads(1);
    ck_assert_int_eq(run_workers(&cfg, spare_bounds, NULL), 0);
}
END_TEST

/* A pool hands out the buffer that fits a request most tightly among its first 64, or
 * its first (to be grown) when none fits. */
START_TEST(test_pool_fit)
{
    struct tide__fifo f = { 0 };
    size_t caps[] = { 1u << 20, 256, 64u << 10, 128u << 10, 128u << 10, 512u << 10 };
    tide_batch *b[6];
    for (int i = 0; i < 6; i++) {
        b[i] = tide_batch_new(NULL, caps[i]);
        ck_assert_ptr_nonnull(b[i]);
        tide__fifo_put(&f, b[i]);
    }
    /* 100 KiB: the first of the 128 KiB ones, not the 512 KiB or 1 MiB one before it */
    tide_batch *got = tide__fifo_take_fit(&f, 100u << 10);
    ck_assert_ptr_eq(got, b[3]);
    tide__fifo_put(&f, got); /* now last */
    /* 60 KiB: the 64 KiB one */
    ck_assert_ptr_eq(tide__fifo_take_fit(&f, 60u << 10), b[2]);
    /* 300 KiB: the 512 KiB one, though the 1 MiB one comes first */
    ck_assert_ptr_eq(tide__fifo_take_fit(&f, 300u << 10), b[5]);
    /* 4 MiB: none fits, so the first, to be grown */
    ck_assert_ptr_eq(tide__fifo_take_fit(&f, 4u << 20), b[0]);
    ck_assert_uint_eq(f.count, 3); /* the 256-byte one and both of 128 KiB */
    tide_batch_free(b[0]);
    tide_batch_free(b[2]);
    tide_batch_free(b[5]);
    tide__fifo_free_all(&f);
    ck_assert_uint_eq(f.count, 0);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("backends");
    tcase_set_timeout(tc, 120);
#define ADD_WORK_TEST(name, fn, ctx) tcase_add_loop_test(tc, test_##name, 0, 2);
    COMM_WORK_TESTS(ADD_WORK_TEST)
    tcase_add_test(tc, test_backend_names);
    tcase_add_test(tc, test_type_mismatch);
    tcase_add_test(tc, test_guards);
    tcase_add_test(tc, test_mpi_sections_exclude);
    tcase_add_test(tc, test_channel_limit);
    tcase_add_test(tc, test_spare_bounds);
    tcase_add_test(tc, test_pool_fit);
    return run_suite("alloc", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
