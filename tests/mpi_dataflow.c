/* SPDX-License-Identifier: MIT */
/*
 * The dataflow layer under MPI: the bodies of dataflow_work.c on every rank with the tide
 * options given (tests/mpi_dataflow.sh runs -n 1, 2, 3 with -w 1, 2). check runs in
 * no-fork mode: MPI is started here once and tide joins it.
 */
#include "check_main.h"
#include <mpi.h>
#include <stdio.h>

#include "dataflow_work.h"

static tide_config cfg;

#define WORK_TEST(name, fn)                                                               \
    START_TEST(test_##name) { ck_assert_int_eq(tide_execute(&cfg, fn, NULL), 0); }        \
    END_TEST
DATAFLOW_WORK_TESTS(WORK_TEST)

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0) {
        fprintf(stderr, "mpi_dataflow: %s\n", cfg.error);
        MPI_Finalize();
        return 2;
    }
    TCase *tc = tcase_create("mpi");
#define ADD_WORK_TEST(name, fn) tcase_add_test(tc, test_##name);
    DATAFLOW_WORK_TESTS(ADD_WORK_TEST)
    int failed = run_suite("mpi_dataflow", tc, CK_NOFORK);
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? EXIT_FAILURE : EXIT_SUCCESS;
}
