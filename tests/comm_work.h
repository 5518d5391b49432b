/* SPDX-License-Identifier: MIT */
/* Worker bodies shared by the thread/process suite (check_alloc) and the MPI suite
 * (mpi_comm): each returns 0 when every check passed, else prints why and returns 1. */
#ifndef TIDE_TESTS_COMM_WORK_H
#define TIDE_TESTS_COMM_WORK_H

#include <tide.h>

int work_all_to_all(tide_allocator *a, void *ctx);
int work_fifo(tide_allocator *a, void *ctx);
int work_many_channels(tide_allocator *a, void *ctx);
int work_variable(tide_allocator *a, void *ctx);
int work_stress(tide_allocator *a, void *ctx);
/* ctx: a size_t record count per batch (small ones coalesce, large ones go in place). */
int work_recycling(tide_allocator *a, void *ctx);
int work_park_wake(tide_allocator *a, void *ctx);

/* Runs @p fn on every worker of @p cfg; returns the number of workers that failed. */
int run_workers(const tide_config *cfg, tide_comm_fn fn, void *ctx);

#endif
