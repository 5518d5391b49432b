/* SPDX-License-Identifier: MIT */
/* The thread and process allocators: the shared worker bodies of comm_work.c, run with one
 * worker (thread backend) and with three (process backend). */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "comm_work.h"

static tide_config config(size_t workers)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.launch = TIDE_LAUNCH_SINGLE;
    cfg.bind = TIDE_BIND_NONE;
    return cfg;
}

static const size_t shapes[] = { 1, 3 };

#define WORK_TEST(name, fn, ctx)                                                          \
    START_TEST(name)                                                                      \
    {                                                                                     \
        tide_config cfg = config(shapes[_i]);                                             \
        ck_assert_int_eq(run_workers(&cfg, fn, ctx), 0);                                  \
    }                                                                                     \
    END_TEST

static size_t small_records = 16, large_records = 4096;

WORK_TEST(test_all_to_all, work_all_to_all, NULL)
WORK_TEST(test_fifo, work_fifo, NULL)
WORK_TEST(test_many_channels, work_many_channels, NULL)
WORK_TEST(test_variable, work_variable, NULL)
WORK_TEST(test_stress, work_stress, NULL)
WORK_TEST(test_recycling_small, work_recycling, &small_records)
WORK_TEST(test_recycling_large, work_recycling, &large_records)
WORK_TEST(test_park_wake, work_park_wake, NULL)

static int backend_name(tide_allocator *a, void *ctx)
{
    const char *want = ctx;
    return strcmp(tide_allocator_backend(a), want) != 0 || tide_allocator_rank(a) != 0 ||
           tide_allocator_ranks(a) != 1;
}

START_TEST(test_backend_names)
{
    tide_config one = config(1), two = config(2);
    ck_assert_int_eq(run_workers(&one, backend_name, "thread"), 0);
    ck_assert_int_eq(run_workers(&two, backend_name, "process"), 0);
}
END_TEST

/* Worker 1 allocates channel 0 with another type than worker 0: it gets TIDE_ETYPE. */
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
    return tide_allocator_index(a) == 0 ? rc != 0 : rc != TIDE_ETYPE;
}

START_TEST(test_type_mismatch)
{
    tide_config cfg = config(2);
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
    tide_config cfg = config(4);
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

int main(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("backends");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_all_to_all, 0, 2);
    tcase_add_loop_test(tc, test_fifo, 0, 2);
    tcase_add_loop_test(tc, test_many_channels, 0, 2);
    tcase_add_loop_test(tc, test_variable, 0, 2);
    tcase_add_loop_test(tc, test_stress, 0, 2);
    tcase_add_loop_test(tc, test_recycling_small, 0, 2);
    tcase_add_loop_test(tc, test_recycling_large, 0, 2);
    tcase_add_loop_test(tc, test_park_wake, 0, 2);
    tcase_add_test(tc, test_backend_names);
    tcase_add_test(tc, test_type_mismatch);
    tcase_add_test(tc, test_guards);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
