/* SPDX-License-Identifier: MIT */
/* Worker bodies shared by the thread/process suite (check_dataflow) and the MPI suite
 * (mpi_dataflow): each returns 0 when every check passed, else prints why and returns 1. */
#ifndef TIDE_TESTS_DATAFLOW_WORK_H
#define TIDE_TESTS_DATAFLOW_WORK_H

#include <tide.h>

int df_epochs(tide_worker *w, void *ctx);
int df_iterate(tide_worker *w, void *ctx);
int df_unordered(tide_worker *w, void *ctx);
int df_drop(tide_worker *w, void *ctx);
int df_activator(tide_worker *w, void *ctx);
int df_strings(tide_worker *w, void *ctx);
int df_give_str(tide_worker *w, void *ctx);
int df_binary(tide_worker *w, void *ctx);
/* map, filter, map_in_place, flat_map, aggregate against a sequential computation. */
int df_operators(tide_worker *w, void *ctx);
/* partition, branch, inspect_batch, concatenate, concat, count. */
int df_shapes(tide_worker *w, void *ctx);
int df_give_n(tide_worker *w, void *ctx);
/* tide_input_extend and tide_session_extend: records written in place, one and many */
int df_extend(tide_worker *w, void *ctx);
/* tide_map to fixed-size records past 256 bytes, mapped in place */
int df_map_wide(tide_worker *w, void *ctx);
int df_probe_with(tide_worker *w, void *ctx);
int df_delay(tide_worker *w, void *ctx);
int df_iter_accumulate(tide_worker *w, void *ctx);
int df_broadcast(tide_worker *w, void *ctx);
int df_ok_err(tide_worker *w, void *ctx);
/* delay_total, delay_batch, reclock, state_machine (operators_time_work.c). */
int df_delay_total_batch(tide_worker *w, void *ctx);
int df_reclock(tide_worker *w, void *ctx);
int df_delay_many(tide_worker *w, void *ctx);
int df_state_machine(tide_worker *w, void *ctx);
int df_capture(tide_worker *w, void *ctx);
/* the stateless operators, count, accumulate and delay with records at several times */
int df_operators_at_times(tide_worker *w, void *ctx);
/* Random graphs and operators; TIDE_RANDOM_SEEDS graphs (default 12). */
int df_random(tide_worker *w, void *ctx);
/* 32 exchange edges: records land right, per-peer state within the formulas' bound */
int df_many_exchanges(tide_worker *w, void *ctx);
/* one step moving thousands of pointstamps: a progress batch too large for a frame */
int df_wide_progress(tide_worker *w, void *ctx);
/* 20 dataflows in turn: each one's channels are reclaimed when it finishes */
int df_reclaim(tide_worker *w, void *ctx);
/* every record of a large batch to one worker: it arrives in bounded pieces */
int df_exchange_bounded(tide_worker *w, void *ctx);
/* byte strings from empty to beyond a frame, and 12-byte records, to every worker */
int df_exchange_sizes(tide_worker *w, void *ctx);
int df_first_empty(tide_worker *w, void *ctx);
int df_summary(tide_worker *w, void *ctx);
int df_per_output(tide_worker *w, void *ctx);
/* capability sets downgraded to partially ordered frontiers keep what both allow */
int df_capset_join(tide_worker *w, void *ctx);
/* tide_stash: two inputs advancing apart, times released in order once both passed */
int df_stash(tide_worker *w, void *ctx);
int df_batch_calls(tide_worker *w, void *ctx);
/* tide_operator: a source, a binary, a notify and a sink operator from descriptors */
int df_operator_desc(tide_worker *w, void *ctx);
int df_to_stream_bytes(tide_worker *w, void *ctx);
/* tide_read_files: every line of eight files once, whatever the number of workers */
int df_read_files(tide_worker *w, void *ctx);
/* tide_read_text: the same, in runs of lines */
int df_read_text(tide_worker *w, void *ctx);

#define DATAFLOW_WORK_TESTS(X)                                                            \
    X(epochs, df_epochs)                                                                  \
    X(iterate, df_iterate)                                                                \
    X(unordered, df_unordered)                                                            \
    X(drop, df_drop)                                                                      \
    X(activator, df_activator)                                                            \
    X(strings, df_strings)                                                                \
    X(give_str, df_give_str)                                                              \
    X(binary, df_binary)                                                                  \
    X(operators, df_operators)                                                            \
    X(shapes, df_shapes)                                                                  \
    X(give_n, df_give_n)                                                                  \
    X(extend, df_extend)                                                                  \
    X(map_wide, df_map_wide)                                                              \
    X(probe_with, df_probe_with)                                                          \
    X(delay, df_delay)                                                                    \
    X(iter_accumulate, df_iter_accumulate)                                                \
    X(broadcast, df_broadcast)                                                            \
    X(ok_err, df_ok_err)                                                                  \
    X(delay_total_batch, df_delay_total_batch)                                            \
    X(reclock, df_reclock)                                                                \
    X(delay_many, df_delay_many)                                                          \
    X(state_machine, df_state_machine)                                                    \
    X(capture, df_capture)                                                                \
    X(operators_at_times, df_operators_at_times)                                          \
    X(random, df_random)                                                                  \
    X(many_exchanges, df_many_exchanges)                                                  \
    X(reclaim, df_reclaim)                                                                \
    X(exchange_bounded, df_exchange_bounded)                                              \
    X(exchange_sizes, df_exchange_sizes)                                                  \
    X(wide_progress, df_wide_progress)                                                    \
    X(first_empty, df_first_empty)                                                        \
    X(to_stream_bytes, df_to_stream_bytes)                                                \
    X(summary, df_summary)                                                                \
    X(per_output, df_per_output)                                                          \
    X(capset_join, df_capset_join)                                                        \
    X(stash, df_stash)                                                                    \
    X(batch_calls, df_batch_calls)                                                        \
    X(operator_desc, df_operator_desc)                                                    \
    X(read_files, df_read_files)                                                          \
    X(read_text, df_read_text)

/* Helpers the bodies share (dataflow_work.c). */
#define EPOCHS 5
struct total {
    uint64_t epoch, count, sum;
};
struct gather {
    struct total got[EPOCHS];
    int errors;
};
struct seen_sum {
    uint64_t n, sum;
};
/* Sends every record to worker 0. */
uint64_t to_zero(const void *r, void *ctx);
/* An inspect callback counting and summing u64 records into a struct seen_sum. */
void sum_records(const tide_time *t, const void *r, void *ctx);

/* Fails the worker with a message (worker index first). */
#define WORK_CHECK(w, cond, ...)                                                          \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "worker %zu: %s:%d: ", tide_worker_index(w), __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

#endif
