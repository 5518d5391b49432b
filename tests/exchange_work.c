/* SPDX-License-Identifier: MIT */
/* Exchange bodies for check_dataflow and mpi_dataflow: records of every size. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataflow_work.h"

/* ---------------------------------------------------------------- records of every size */

/* Byte strings from empty to larger than a frame, and 12-byte records (not a multiple of
 * the wire's 8-byte padding), exchanged among all workers. Between ranks of several
 * workers each, the strings (over 512 bytes per worker in one batch) are staged per worker and
 * the largest announced and sent apart; the few 12-byte records travel in split messages
 * (one per rank, a group per worker). Every record must reach the worker its key picks,
 * whole. */
static const size_t sizes[] = { 0, 1, 8, 15, 100, 5000, 70000, 200000 };
#define NSIZES (sizeof sizes / sizeof *sizes)
#define SIZED_RECORDS (2 * NSIZES)
#define TWELVES 120 /* under 512 bytes per worker: staged per rank */

struct twelve {
    uint32_t sender, i, check;
};
static TIDE_TYPE_POD(twelve_type, struct twelve);

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

/* Sized record i of sender s: its length and bytes tell both. */
static size_t sized_len(uint64_t s, uint64_t i) { return sizes[i % NSIZES] + (i / NSIZES) * (s % 3); }
static unsigned char sized_byte(uint64_t s, uint64_t i, size_t j)
{
    return (unsigned char)(s * 31 + i * 7 + j * 13);
}
static uint64_t sized_key(uint64_t s, uint64_t i) { return mix(s * 1000 + i); }

struct sized_seen {
    size_t me, peers;
    uint64_t got[2], errors;
};

static bool sized_match(const tide_bytes *b, uint64_t *s, uint64_t *i, size_t peers)
{
    for (*s = 0; *s < peers; (*s)++)
        for (*i = 0; *i < SIZED_RECORDS; (*i)++) {
            if (sized_len(*s, *i) != b->len)
                continue;
            size_t j = 0;
            while (j < b->len && ((const unsigned char *)b->data)[j] == sized_byte(*s, *i, j))
                j++;
            if (j == b->len)
                return true;
        }
    return false;
}

static uint64_t sized_hash(const void *r, void *ctx)
{
    /* the key is what sized_match finds: the receiving side checks it picked this worker */
    const struct sized_seen *seen = ctx;
    uint64_t s, i;
    return sized_match(r, &s, &i, seen->peers) ? sized_key(s, i) : 0;
}

static void sized_check(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct sized_seen *seen = ctx;
    uint64_t s, i;
    if (!sized_match(r, &s, &i, seen->peers) || sized_key(s, i) % seen->peers != seen->me)
        seen->errors++;
    seen->got[0]++;
}

static uint64_t twelve_hash(const void *r, void *ctx)
{
    (void)ctx;
    const struct twelve *x = r;
    return sized_key(x->sender, x->i);
}

static void twelve_check(const tide_time *t, const void *r, void *ctx)
{
    (void)t;
    struct sized_seen *seen = ctx;
    const struct twelve *x = r;
    if (x->sender >= seen->peers || x->check != x->sender * 1000003u + x->i ||
        sized_key(x->sender, x->i) % seen->peers != seen->me)
        seen->errors++;
    seen->got[1]++;
}

int df_exchange_sizes(tide_worker *w, void *ctx)
{
    (void)ctx;
    size_t me = tide_worker_index(w), peers = tide_worker_peers(w);
    unsigned char *mem[SIZED_RECORDS];
    tide_bytes recs[SIZED_RECORDS];
    for (size_t i = 0; i < SIZED_RECORDS; i++) {
        size_t n = sized_len(me, i);
        mem[i] = malloc(n ? n : 1);
        WORK_CHECK(w, mem[i] != NULL, "out of memory");
        for (size_t j = 0; j < n; j++)
            mem[i][j] = sized_byte(me, i, j);
        recs[i] = (tide_bytes){ mem[i], n };
    }
    struct twelve *tw = malloc(TWELVES * sizeof *tw);
    WORK_CHECK(w, tw != NULL, "out of memory");
    for (uint32_t i = 0; i < TWELVES; i++)
        tw[i] = (struct twelve){ (uint32_t)me, i, (uint32_t)me * 1000003u + i };
    struct sized_seen seen = { me, peers, { 0, 0 }, 0 };
    tide_scope *scope = tide_dataflow_begin(w, "sizes");
    tide_inspect(tide_exchange(tide_to_stream(scope, TIDE_BYTES, recs, SIZED_RECORDS),
                               sized_hash, &seen),
                 sized_check, &seen);
    tide_inspect(tide_exchange(tide_to_stream(scope, &twelve_type, tw, TWELVES), twelve_hash,
                               NULL),
                 twelve_check, &seen);
    tide_dataflow_end(scope);
    while (tide_worker_step(w))
        ;
    for (size_t i = 0; i < SIZED_RECORDS; i++)
        free(mem[i]);
    free(tw);
    uint64_t want[2] = { 0, 0 };
    /* equal records (the empty ones, say) have one key: the first sender's that matches */
    unsigned char *scratch = malloc(sizes[NSIZES - 1] + SIZED_RECORDS * 3);
    WORK_CHECK(w, scratch != NULL, "out of memory");
    for (uint64_t s = 0; s < peers; s++) {
        for (uint64_t i = 0; i < SIZED_RECORDS; i++) {
            tide_bytes r = { scratch, sized_len(s, i) };
            for (size_t j = 0; j < r.len; j++)
                scratch[j] = sized_byte(s, i, j);
            want[0] += sized_hash(&r, &seen) % peers == me;
        }
        for (uint64_t i = 0; i < TWELVES; i++)
            want[1] += sized_key(s, i) % peers == me;
    }
    free(scratch);
    WORK_CHECK(w, seen.errors == 0, "%llu records wrong or on the wrong worker",
               (unsigned long long)seen.errors);
    WORK_CHECK(w, seen.got[0] == want[0] && seen.got[1] == want[1],
               "%llu byte strings and %llu 12-byte records arrived, want %llu and %llu",
               (unsigned long long)seen.got[0], (unsigned long long)seen.got[1],
               (unsigned long long)want[0], (unsigned long long)want[1]);
    return 0;
}
