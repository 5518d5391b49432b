/* SPDX-License-Identifier: MIT */
/* What every check suite's main() does once its tests are added. */
#ifndef TIDE_TESTS_CHECK_MAIN_H
#define TIDE_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>
#include <tide.h>

/* One process of @p workers unbound worker threads, whatever launcher the tests run under. */
static inline tide_config check_threads(size_t workers)
{
    tide_config cfg;
    tide_config_init(&cfg);
    cfg.workers = workers;
    cfg.launch = TIDE_LAUNCH_SINGLE;
    cfg.bind = TIDE_BIND_NONE;
    return cfg;
}

/* Runs the one-case suite and returns the number of failed tests. CK_NOFORK is for
 * programs that started MPI (a forked child cannot use it). */
static inline int run_suite(const char *name, TCase *tc, enum fork_status fork)
{
    Suite *s = suite_create(name);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, fork);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

#endif
