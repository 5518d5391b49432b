/* SPDX-License-Identifier: MIT */
/* The dataflow layer in threads: every body of dataflow_work.c with 1 and 3 workers (the
 * MPI shapes are in mpi_dataflow.c), plus what only makes sense in one process. */
#include "check_main.h"
#include <stdio.h>

#include "dataflow_work.h"

static int run_with(size_t workers, tide_worker_fn fn)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.bind = TIDE_BIND_NONE;
    cfg.launch = TIDE_LAUNCH_SINGLE;
    return tide_execute(&cfg, fn, NULL);
}

#define WORK_TEST(name, fn)                                                               \
    START_TEST(test_##name) { ck_assert_int_eq(run_with(_i == 0 ? 1 : 3, fn), 0); }      \
    END_TEST
DATAFLOW_WORK_TESTS(WORK_TEST)

static int step_count;
static bool fewer_than_3(void *arg)
{
    (void)arg;
    return step_count++ < 3;
}

static int example_body(tide_worker *w, void *ctx)
{
    (void)ctx;
    WORK_CHECK(w, tide_worker_peers(w) == 1 && tide_worker_index(w) == 0, "not one worker");
    tide_worker_step_while(w, fewer_than_3, NULL);
    WORK_CHECK(w, step_count == 4, "step_while stepped %d times", step_count);
    return 0;
}

START_TEST(test_example) { ck_assert_int_eq(tide_example(example_body, NULL), 0); }
END_TEST

static int fails(tide_worker *w, void *ctx)
{
    (void)ctx;
    return tide_worker_index(w) == 1 ? 7 : 0;
}

START_TEST(test_worker_result) { ck_assert_int_eq(run_with(2, fails), 7); }
END_TEST

int main(void)
{
    TCase *tc = tcase_create("dataflow");
    tcase_set_timeout(tc, 120);
#define ADD_WORK_TEST(name, fn) tcase_add_loop_test(tc, test_##name, 0, 2);
    DATAFLOW_WORK_TESTS(ADD_WORK_TEST)
    tcase_add_test(tc, test_example);
    tcase_add_test(tc, test_worker_result);
    return run_suite("dataflow", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
