/* SPDX-License-Identifier: MIT */
/* What the worker bodies of comm_work.c and comm_ring_work.c share. */
#ifndef TIDE_TESTS_COMM_WORK_INTERNAL_H
#define TIDE_TESTS_COMM_WORK_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include <tide.h>

/* Prints why worker @p a failed and returns 1 from the body. */
#define FAIL(a, ...)                                                                       \
    do {                                                                                   \
        fprintf(stderr, "worker %zu: ", tide_allocator_index(a));                          \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        return 1;                                                                          \
    } while (0)

/* The words the bodies send and check: a bijective mix of where they stand (the 64-bit
 * finaliser of MurmurHash3), and a sequence of them. */
static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t rng(uint64_t *s) { return mix(++*s); }

/* What comm_pump calls with each batch received: 0 to go on. */
typedef int (*comm_on_batch)(tide_allocator *a, tide_batch *b, void *st);

/* Receives until *@p remaining reaches 0 (@p f counts it down), parking when nothing
 * arrives, with a bound so that a bug shows up as a failure, not a hang. */
int comm_pump(tide_allocator *a, tide_pull *pull, comm_on_batch f, void *st,
              size_t *remaining);

#endif
