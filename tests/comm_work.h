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
int work_laps(tide_allocator *a, void *ctx);
int work_payloads(tide_allocator *a, void *ctx);
/* ctx: a size_t record count per batch (small ones coalesce, large ones go in place). */
int work_recycling(tide_allocator *a, void *ctx);
int work_park_wake(tide_allocator *a, void *ctx);
/* tide_allocator_allocate_lazy and tide_allocator_push */
int work_lazy(tide_allocator *a, void *ctx);

/* Record counts for work_recycling: small batches are coalesced into frames; large ones
 * (128 KiB) are announced and sent from their own buffers between ranks. */
extern size_t work_small_records, work_large_records;

/* The bodies every backend runs, as X(test name, function, context). */
#define COMM_WORK_TESTS(X)                                                                \
    X(all_to_all, work_all_to_all, NULL)                                                  \
    X(fifo, work_fifo, NULL)                                                              \
    X(many_channels, work_many_channels, NULL)                                            \
    X(variable, work_variable, NULL)                                                      \
    X(stress, work_stress, NULL)                                                          \
    X(laps, work_laps, NULL)                                                              \
    X(payloads, work_payloads, NULL)                                                      \
    X(recycling_small, work_recycling, &work_small_records)                               \
    X(recycling_large, work_recycling, &work_large_records)                               \
    X(park_wake, work_park_wake, NULL)                                                    \
    X(lazy, work_lazy, NULL)

/* Runs @p fn on every worker of @p cfg; returns the number of workers that failed. */
int run_workers(const tide_config *cfg, tide_comm_fn fn, void *ctx);

#endif
