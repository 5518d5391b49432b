/* SPDX-License-Identifier: MIT */
#include "check_main.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

#include "batch_internal.h"

struct edge {
    uint32_t src, dst;
    double weight;
};
static TIDE_TYPE_POD(edge_type, struct edge);

START_TEST(test_fixed_records)
{
    tide_batch *b = tide_batch_new(TIDE_U64, 0);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(tide_batch_len(b), 0);
    for (uint64_t i = 0; i < 1000; i++)
        ck_assert_int_eq(tide_batch_push(b, &i), 0);
    ck_assert_uint_eq(tide_batch_len(b), 1000);
    ck_assert_uint_eq(tide_batch_bytes(b), 8000);
    uint64_t *v = tide_batch_records(b);
    for (uint64_t i = 0; i < 1000; i++)
        ck_assert_uint_eq(v[i], i);
    size_t at = 0;
    uint64_t x, count = 0;
    while (tide_batch_read(b, &at, &x))
        ck_assert_uint_eq(x, count++);
    ck_assert_uint_eq(count, 1000);
    uint64_t *more = tide_batch_extend(b, 10);
    more[9] = 42;
    ck_assert_uint_eq(tide_batch_len(b), 1010);
    ck_assert_uint_eq(((uint64_t *)tide_batch_records(b))[1009], 42);
    tide_batch_meta(b)[0] = 7;
    tide_batch_clear(b);
    ck_assert_uint_eq(tide_batch_len(b), 0);
    ck_assert_uint_eq(tide_batch_bytes(b), 0);
    ck_assert_uint_eq(tide_batch_meta(b)[0], 0);
    ck_assert_ptr_eq(tide_batch_type(b), TIDE_U64);
    tide_batch_free(b);
    tide_batch_free(NULL);
}
END_TEST

START_TEST(test_pod_struct)
{
    ck_assert_uint_eq(edge_type.size, sizeof(struct edge));
    ck_assert_str_eq(edge_type.name, "struct edge");
    tide_batch *b = tide_batch_new(&edge_type, 0);
    struct edge e = { 1, 2, 0.5 }, out;
    tide_batch_push(b, &e);
    size_t at = 0;
    ck_assert(tide_batch_read(b, &at, &out));
    ck_assert_uint_eq(out.dst, 2);
    ck_assert(!tide_batch_read(b, &at, &out));
    tide_batch_free(b);
}
END_TEST

START_TEST(test_variable_records)
{
    tide_batch *b = tide_batch_new(TIDE_BYTES, 0);
    char buf[300];
    for (size_t len = 0; len < 300; len++) {
        memset(buf, 'a' + (int)(len % 26), len);
        tide_bytes rec = { buf, len };
        ck_assert_int_eq(tide_batch_push(b, &rec), 0);
    }
    ck_assert_uint_eq(tide_batch_len(b), 300);
    size_t at = 0, len = 0;
    tide_bytes rec;
    while (tide_batch_read(b, &at, &rec)) {
        ck_assert_uint_eq(rec.len, len);
        for (size_t i = 0; i < len; i++)
            ck_assert_int_eq(((const char *)rec.data)[i], 'a' + (int)(len % 26));
        len++;
    }
    ck_assert_uint_eq(len, 300);
    tide_batch_free(b);

    b = tide_batch_new(TIDE_STR, 0);
    const char *words[] = { "", "hello", "timely dataflow" };
    for (int i = 0; i < 3; i++)
        tide_batch_push(b, &words[i]);
    at = 0;
    const char *s;
    for (int i = 0; i < 3; i++) {
        ck_assert(tide_batch_read(b, &at, &s));
        ck_assert_str_eq(s, words[i]);
    }
    ck_assert(!tide_batch_read(b, &at, &s));
    tide_batch_free(b);
}
END_TEST

START_TEST(test_type_equality)
{
    static TIDE_TYPE_POD(other_u64, uint64_t);
    ck_assert(tide_type_equal(TIDE_U64, TIDE_U64));
    ck_assert(!tide_type_equal(TIDE_U64, TIDE_I64));
    ck_assert(!tide_type_equal(TIDE_U64, &other_u64)); /* "uint64_t" is not "u64" */
    ck_assert(!tide_type_equal(TIDE_BYTES, TIDE_STR));
}
END_TEST

START_TEST(test_allocation_counter)
{
    uint64_t before = tide_comm_allocations();
    tide_batch *b = tide_batch_new(TIDE_U64, 64);
    ck_assert_uint_eq(tide_comm_allocations(), before + 1);
    for (uint64_t i = 0; i < 8; i++) /* fits: no growth */
        tide_batch_push(b, &i);
    ck_assert_uint_eq(tide_comm_allocations(), before + 1);
    for (uint64_t i = 0; i < 1024; i++) /* grows geometrically: a few reallocations */
        tide_batch_push(b, &i);
    uint64_t grown = tide_comm_allocations() - before - 1;
    ck_assert_uint_ge(grown, 1);
    ck_assert_uint_le(grown, 8);
    tide_batch_clear(b);
    for (uint64_t i = 0; i < 1024; i++) /* a cleared batch keeps its buffer */
        tide_batch_push(b, &i);
    ck_assert_uint_eq(tide_comm_allocations() - before - 1, grown);
    tide_batch_free(b);
}
END_TEST

/* A worker keeps the largest large buffer freed for the next large one (no malloc, no
 * fresh pages), still counted as held; without a worker, or under a --memory budget, a
 * freed buffer is freed. */
struct spare_seen {
    uint64_t allocations, held_after_free, held_before;
};

static int spare_worker(tide_worker *w, void *arg)
{
    (void)w;
    struct spare_seen *seen = arg;
    uint64_t before = tide_comm_allocations();
    seen->held_before = tide_memory_held();
    tide_batch *b = tide_batch_new(TIDE_U64, (size_t)4 << 20);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(tide_batch_extend(b, 1000));
    tide_batch_free(b);
    seen->held_after_free = tide_memory_held();
    b = tide_batch_new(TIDE_U64, 0);
    uint64_t *r = tide_batch_extend(b, 400000); /* 3.2 MB: the spare, records kept */
    ck_assert_ptr_nonnull(r);
    for (uint64_t i = 0; i < 400000; i++)
        r[i] = i;
    ck_assert_int_eq(tide_batch_push(b, &(uint64_t){ 7 }), 0);
    ck_assert_uint_eq(tide_batch_len(b), 400001);
    ck_assert_uint_eq(((uint64_t *)tide_batch_records(b))[399999], 399999);
    tide_batch_free(b);
    seen->allocations = tide_comm_allocations() - before;
    return 0;
}

START_TEST(test_spare_buffer)
{
    tide_config cfg = check_threads(1);
    uint64_t held = tide_memory_held();
    struct spare_seen seen;
    ck_assert_int_eq(tide_execute(&cfg, spare_worker, &seen), 0);
    /* 4 MiB made, then two small growths of the second batch before the spare serves it */
    ck_assert_uint_ge(seen.held_after_free, seen.held_before + ((uint64_t)4 << 20));
    uint64_t kept = seen.allocations;
    ck_assert_uint_eq(tide_memory_held(), held); /* the worker's end freed the spare */
    cfg.memory = (uint64_t)1 << 30;
    ck_assert_int_eq(tide_execute(&cfg, spare_worker, &seen), 0);
    ck_assert_uint_lt(seen.held_after_free, seen.held_before + ((uint64_t)4 << 20));
    ck_assert_uint_gt(seen.allocations, kept); /* under a budget: a fresh buffer */
    ck_assert_uint_eq(tide_memory_held(), held);
}
END_TEST

/* Under --memory a buffer one worker frees serves another worker's next buffer of its
 * size (glibc's per-thread arenas would keep it for the first thread's arena), and a batch
 * that grows keeps its records through the rounded sizes. */
struct handoff {
    atomic_uintptr_t freed;
    uintptr_t got;
};

static int handoff_worker(tide_worker *w, void *arg)
{
    struct handoff *h = arg;
    const size_t bytes = (size_t)3 << 20; /* a size no other buffer of the run has */
    if (tide_worker_index(w) == 0) {
        tide_batch *b = tide_batch_new(TIDE_U64, bytes);
        ck_assert_ptr_nonnull(b);
        uintptr_t at = (uintptr_t)tide_batch_records(b);
        tide_batch_free(b);
        atomic_store(&h->freed, at);
        return 0;
    }
    while (!atomic_load(&h->freed))
        sched_yield();
    tide_batch *b = tide_batch_new(TIDE_U64, bytes);
    ck_assert_ptr_nonnull(b);
    h->got = (uintptr_t)tide_batch_records(b);
    tide_batch_free(b);
    b = tide_batch_new(TIDE_U64, 0);
    int failed = 0; /* one check at the end: check's asserts are slow under sanitizers */
    for (uint64_t i = 0; i < 300000; i++)
        failed |= tide_batch_push(b, &i);
    const uint64_t *r = tide_batch_records(b);
    uint64_t wrong = 0;
    for (uint64_t i = 0; i < 300000; i++)
        wrong += r[i] != i;
    ck_assert(failed == 0 && wrong == 0);
    tide_batch_free(b);
    return 0;
}

START_TEST(test_buffers_across_workers)
{
    tide_config cfg = check_threads(2);
    cfg.memory = (uint64_t)256 << 20;
    uint64_t held = tide_memory_held();
    struct handoff h = { 0, 0 };
    ck_assert_int_eq(tide_execute(&cfg, handoff_worker, &h), 0);
    uintptr_t freed = atomic_load(&h.freed);
    ck_assert_uint_eq(h.got, freed); /* the very buffer worker 0 freed */
    ck_assert_uint_eq(tide_memory_held(), held);
}
END_TEST

/* A batch that grows past 2 MiB moves to a mapping of its own, and then to larger ones
 * (tide__bufpool_realloc): every record must survive each move, with the pool off (no
 * budget) and on (--memory, sizes rounded to its classes). */
static int grow_and_check(void)
{
    tide_batch *b = tide_batch_new(TIDE_U64, 0);
    if (!b)
        return 1;
    const uint64_t chunk = 100000, total = 50 * chunk; /* 40 MB in 800 KB steps */
    for (uint64_t at = 0; at < total; at += chunk) {
        uint64_t *r = tide_batch_extend(b, chunk);
        if (!r)
            return 1;
        for (uint64_t i = 0; i < chunk; i++)
            r[i] = (at + i) * 2654435761u;
    }
    const uint64_t *r = tide_batch_records(b);
    uint64_t wrong = tide_batch_len(b) != total;
    for (uint64_t i = 0; !wrong && i < total; i++)
        wrong += r[i] != i * 2654435761u;
    tide_batch_free(b);
    return wrong != 0;
}

static int big_worker(tide_worker *w, void *arg)
{
    (void)w;
    *(int *)arg = grow_and_check();
    return 0;
}

START_TEST(test_big_buffers)
{
    uint64_t held = tide_memory_held();
    ck_assert_int_eq(grow_and_check(), 0);
    ck_assert_uint_eq(tide_memory_held(), held);
    tide_config cfg = check_threads(1);
    cfg.memory = (uint64_t)1 << 30;
    int failed = -1;
    ck_assert_int_eq(tide_execute(&cfg, big_worker, &failed), 0);
    ck_assert_int_eq(failed, 0);
    ck_assert_uint_eq(tide_memory_held(), held);
}
END_TEST

/* A string in a record hashes and compares (tide__hash_str_rec, tide__str_same_rec, which
 * read the record's padding) as the same bytes anywhere do (tide__hash_strn,
 * tide__str_same): the keyed tables hash a record's key with the one when it arrives and
 * with the other when they grow. Each record sits alone in a buffer of its exact size, so
 * that AddressSanitizer sees a read past it; its padding is overwritten, as a record from
 * the wire may hold anything there. */
START_TEST(test_str_record_hash)
{
    uint64_t rng = 12345;
    char a[64], b[64];
    for (size_t len = 0; len < 48; len++)
        for (int round = 0; round < 20; round++) {
            for (size_t i = 0; i < len; i++) {
                rng = rng * 6364136223846793005u + 1442695040888963407u;
                a[i] = (char)(1 + (rng >> 33) % 255);
            }
            size_t bytes = tide__var_record_bytes(len + 1);
            unsigned char *ra = malloc(bytes), *rb = malloc(bytes);
            ck_assert(ra && rb);
            tide__str_put(ra, a, len);
            memset(ra + 4 + len, round & 1 ? 0xff : 0, bytes - 4 - len); /* NUL too */
            size_t n;
            const char *sa = tide__str_record(ra, &n);
            ck_assert_uint_eq(n, len);
            uint64_t h = tide__hash_strn(a, len);
            ck_assert_msg(tide__hash_str_rec(sa, len) == h, "length %zu", len);
            memcpy(b, a, len);
            tide__str_put(rb, b, len);
            const char *sb = tide__str_record(rb, &n);
            ck_assert(tide__str_same_rec(sa, sb, len) && tide__str_same(a, b, len));
            for (size_t i = 0; i < len; i++) { /* one byte differs: at every place */
                b[i] = (char)(a[i] == 'z' ? 'a' : 'z');
                tide__str_put(rb, b, len);
                ck_assert_msg(!tide__str_same_rec(sa, sb, len) && !tide__str_same(a, b, len),
                              "length %zu, byte %zu", len, i);
                ck_assert_msg(tide__hash_str_rec(sb, len) == tide__hash_strn(b, len) &&
                                  tide__hash_strn(b, len) != h,
                              "length %zu, byte %zu", len, i);
                b[i] = a[i];
            }
            free(ra);
            free(rb);
        }
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 60); /* whole workers start here; sanitizers slow them */
    tcase_add_test(tc, test_fixed_records);
    tcase_add_test(tc, test_pod_struct);
    tcase_add_test(tc, test_variable_records);
    tcase_add_test(tc, test_type_equality);
    tcase_add_test(tc, test_allocation_counter);
    tcase_add_test(tc, test_spare_buffer);
    tcase_add_test(tc, test_buffers_across_workers);
    tcase_add_test(tc, test_big_buffers);
    tcase_add_test(tc, test_str_record_hash);
    return run_suite("batch", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
