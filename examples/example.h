/* SPDX-License-Identifier: MIT */
/* What the example programs share: a clock, argument parsing, the random sequence their
 * generated inputs come from (the tests regenerate it to compute the same results alone). */
#ifndef TIDE_EXAMPLE_H
#define TIDE_EXAMPLE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tide.h>

/* Seconds on a monotonic clock. */
static inline double example_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A decimal integer of digits only (no blanks, no sign, below 2^64), at least @p min;
 * -1 for anything else. */
static inline int example_parse_min(const char *s, uint64_t min, uint64_t *v)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    *v = strtoull(s, &end, 10);
    return errno || *end || *v < min ? -1 : 0;
}

/* A positive decimal integer; -1 for anything else. */
static inline int example_parse(const char *s, uint64_t *v)
{
    return example_parse_min(s, 1, v);
}

/* The next value of a splitmix64 sequence whose state is *s. */
static inline uint64_t example_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random edge @p i among @p nodes nodes: drawn from the sequence seeded by 2 i, so any
 * worker can draw any edge, and a graph split among workers is the same in every shape. */
static inline void example_edge(uint64_t i, uint64_t nodes, uint32_t *src, uint32_t *dst)
{
    uint64_t s = 2 * i;
    *src = (uint32_t)(example_random(&s) % nodes);
    *dst = (uint32_t)(example_random(&s) % nodes);
}

/* The program's own arguments (after tide's options are taken out), NUL-separated. */
static char example_args[4096];
static size_t example_args_len;

/* Takes tide's options out of argv into *cfg (exits with the message on a bad one), and
 * makes stdout line-buffered: workers of several ranks print through one launcher, which
 * would otherwise interleave pieces of their buffers. */
static inline void example_config(const char *prog, tide_config *cfg, int *argc, char **argv)
{
    if (tide_config_init(cfg) != 0 || tide_config_from_args(cfg, argc, argv) != 0) {
        fprintf(stderr, "%s: %s\n", prog, cfg->error);
        exit(2);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    example_args_len = 0;
    for (int i = 1; i < *argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        if (example_args_len + n > sizeof example_args)
            n = sizeof example_args - example_args_len; /* the rest still goes in the check */
        memcpy(example_args + example_args_len, argv[i], n);
        example_args_len += n;
    }
}

/* Stops the job unless every worker's program was given the same arguments (call at the
 * start of the worker function). */
static inline void example_check_args(tide_worker *w)
{
    tide_check_same(w, "program arguments", example_args, example_args_len);
}

#endif
