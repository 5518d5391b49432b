/* SPDX-License-Identifier: MIT */
/* The worker bodies aimed at the shared rings between ranks of a node (laps: frames that
 * fill a ring and wait for room; payloads: announced batches that follow in the ring),
 * which run under every backend as the others of comm_work.c do. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "comm_work.h"
#include "comm_work_internal.h"

/* ---------------------------------------------------------------- laps */

/* Every worker sends laps_bytes() to every other worker in batches of 1 to 1024 records
 * (small frames, which go through the shared rings between ranks of a node), enough to
 * go round a ring (1 MiB at most) several times, and fill it: frames that find it full
 * wait for room and must come in order. Each record looks like a ring's record word
 * (a lap from 1 to 8 above a small byte count), which a ring that took old bytes for a
 * record would read as one. The receiver checks every record and the order. With a
 * non-NULL @p ctx, a worker sends everything before it receives anything, so that the
 * rings between ranks fill for certain. */
/* per pair of workers: 3 MiB, or 12 MiB over all its peers when a worker has more than 4
 * (a ring is then 256 KiB at most: 16 ranks still go round theirs three times) */
static uint64_t laps_bytes(size_t peers)
{
    return peers <= 4 ? 3u << 20 : (12u << 20) / (peers - 1);
}

static uint64_t laps_word(uint64_t src, uint64_t seq, size_t j)
{
    return ((uint64_t)((seq + j) % 8 + 1) << 32) | (8 * ((src + seq + j) % 64));
}

struct laps_st {
    uint64_t *next; /* per source: the sequence number expected */
    size_t remaining;
};

static int laps_check(tide_allocator *a, tide_batch *b, void *arg)
{
    struct laps_st *st = arg;
    uint64_t *m = tide_batch_meta(b), src = m[0], seq = m[1];
    if (src >= tide_allocator_peers(a) || seq != st->next[src])
        FAIL(a, "laps: batch %" PRIu64 " from %" PRIu64 " out of order", seq, src);
    st->next[src]++;
    const uint64_t *v = tide_batch_records(b);
    for (size_t j = 0; j < tide_batch_len(b); j++)
        if (v[j] != laps_word(src, seq, j))
            FAIL(a, "laps: batch %" PRIu64 " from %" PRIu64 ": record %zu is %#" PRIx64, seq,
                 src, j, v[j]);
    st->remaining--;
    return 0;
}

/* The batches worker @p src sends worker @p dst, and their lengths, from one seed. */
static size_t laps_len(uint64_t *seed) { return 1 + (size_t)(rng(seed) % 1024); }

static size_t laps_count(uint64_t src, uint64_t dst, size_t peers)
{
    uint64_t seed = src * 7919 + dst, bytes = 0;
    size_t n = 0;
    while (bytes < laps_bytes(peers)) {
        bytes += 8 * laps_len(&seed);
        n++;
    }
    return n;
}

int work_laps(tide_allocator *a, void *ctx)
{
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push;
    tide_pull *pull;
    tide_allocator_allocate(a, TIDE_U64, &push, &pull);
    struct laps_st st = { calloc(peers, sizeof(uint64_t)), 0 };
    for (size_t src = 0; src < peers; src++)
        if (src != me)
            st.remaining += laps_count(src, me, peers);
    tide_batch *b = NULL;
    for (size_t dst = 0; dst < peers; dst++) {
        if (dst == me)
            continue;
        uint64_t seed = me * 7919 + dst;
        size_t n = laps_count(me, dst, peers);
        for (size_t k = 0; k < n; k++) {
            if (!b)
                b = tide_batch_new(TIDE_U64, 0);
            size_t len = laps_len(&seed);
            uint64_t *v = tide_batch_extend(b, len);
            for (size_t j = 0; j < len; j++)
                v[j] = laps_word(me, k, j);
            uint64_t *m = tide_batch_meta(b);
            m[0] = me, m[1] = k;
            tide_push_send(push[dst], &b);
            if (!ctx && k % 64 == 63) {
                /* take what came meanwhile, without waiting: the others send too */
                tide_batch *in = NULL;
                tide_allocator_receive(a);
                while (tide_pull_recv(pull, &in))
                    if (laps_check(a, in, &st)) {
                        tide_batch_free(in);
                        return 1;
                    }
                tide_allocator_release(a);
            }
        }
        tide_push_send(push[dst], NULL);
    }
    tide_batch_free(b);
    int rc = comm_pump(a, pull, laps_check, &st, &st.remaining);
    free(st.next);
    return rc;
}

/* ---------------------------------------------------------------- payloads */

/* Every worker sends every other worker PAYLOADS_N batches of 70 to 119 KiB: past a
 * small frame, so each is announced and its payload follows on its own (through the
 * shared ring between ranks of a node, up to half a ring: 128 KiB rings hold none, 256
 * KiB rings all). Every word and the order are checked. */
#define PAYLOADS_N 8

static size_t payloads_len(uint64_t src, uint64_t k)
{
    return (70 * 1024 + (size_t)((src * 7 + k) % 8) * 7 * 1024) / 8;
}

struct payloads_st {
    uint64_t *next;
    size_t remaining;
};

static int payloads_check(tide_allocator *a, tide_batch *b, void *arg)
{
    struct payloads_st *st = arg;
    uint64_t *m = tide_batch_meta(b), src = m[0], k = m[1];
    if (src >= tide_allocator_peers(a) || k != st->next[src])
        FAIL(a, "payloads: batch %" PRIu64 " from %" PRIu64 " out of order", k, src);
    st->next[src]++;
    if (tide_batch_len(b) != payloads_len(src, k))
        FAIL(a, "payloads: batch %" PRIu64 " from %" PRIu64 ": %zu records", k, src,
             tide_batch_len(b));
    const uint64_t *v = tide_batch_records(b);
    for (size_t j = 0; j < tide_batch_len(b); j++)
        if (v[j] != mix(src << 40 | k << 32 | j))
            FAIL(a, "payloads: batch %" PRIu64 " from %" PRIu64 ": record %zu differs", k, src,
                 j);
    st->remaining--;
    return 0;
}

int work_payloads(tide_allocator *a, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(a), peers = tide_allocator_peers(a);
    tide_push **push;
    tide_pull *pull;
    tide_allocator_allocate(a, TIDE_U64, &push, &pull);
    struct payloads_st st = { calloc(peers, sizeof(uint64_t)), (peers - 1) * PAYLOADS_N };
    tide_batch *b = NULL;
    for (size_t dst = 0; dst < peers; dst++) {
        if (dst == me)
            continue;
        for (uint64_t k = 0; k < PAYLOADS_N; k++) {
            if (!b)
                b = tide_batch_new(TIDE_U64, 0);
            size_t len = payloads_len(me, k);
            uint64_t *v = tide_batch_extend(b, len);
            for (size_t j = 0; j < len; j++)
                v[j] = mix((uint64_t)me << 40 | k << 32 | j);
            uint64_t *m = tide_batch_meta(b);
            m[0] = me, m[1] = k;
            tide_push_send(push[dst], &b);
        }
        tide_push_send(push[dst], NULL);
    }
    tide_batch_free(b);
    int rc = comm_pump(a, pull, payloads_check, &st, &st.remaining);
    free(st.next);
    return rc;
}
