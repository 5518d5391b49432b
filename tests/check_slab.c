/* SPDX-License-Identifier: MIT */
/* The slab of medium batch buffers (src/comm/slab.c): blocks hold what is written to
 * them whatever their size, are reused, go back to any thread, and chunks emptied beyond
 * the few kept are unmapped. */
#include "check_main.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "slab_internal.h"

/* Sizes across every class and its edges. */
static const size_t sizes[] = { 16 << 10, (16 << 10) + 120, 20000, 33 << 10, 64 << 10,
                                (64 << 10) + 100, 100000, 128 << 10, 200000, 256 << 10,
                                (256 << 10) + 120 };
#define NSIZES (sizeof sizes / sizeof *sizes)

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 61)
        p[i] = (unsigned char)(seed * 31 + i);
    p[n - 1] = (unsigned char)seed;
}

static int holds(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 61)
        if (p[i] != (unsigned char)(seed * 31 + i))
            return 0;
    return p[n - 1] == (unsigned char)seed;
}

START_TEST(test_fits)
{
    ck_assert(!tide__slab_fits(TIDE__SLAB_MIN - 1));
    ck_assert(tide__slab_fits(TIDE__SLAB_MIN));
    ck_assert(tide__slab_fits(TIDE__SLAB_MAX));
    ck_assert(tide__slab_fits(sizes[NSIZES - 1])); /* with a batch's 120 bytes of headroom */
    ck_assert(!tide__slab_fits(2 * TIDE__SLAB_MAX)); /* malloc's, then mapped */
}
END_TEST

/* Many blocks of every size at once, each written whole and checked after all the others
 * were written (blocks do not overlap); freed out of order, then every chunk is empty and
 * at most TIDE__SLAB_KEEP_EMPTY stay mapped (all from node 0's chunks, whichever node the
 * test runs on). */
START_TEST(test_blocks_hold_data)
{
    enum { PER = 40 };
    static unsigned char *p[NSIZES][PER];
    for (unsigned r = 0; r < 2; r++) { /* the second round reuses what the first freed */
        for (size_t s = 0; s < NSIZES; s++)
            for (unsigned k = 0; k < PER; k++) {
                ck_assert(tide__slab_fits(sizes[s]));
                p[s][k] = tide__slab_alloc_on(sizes[s], 0);
                ck_assert_ptr_nonnull(p[s][k]);
                ck_assert_uint_eq((uintptr_t)p[s][k] % 64, 0);
                memset(p[s][k], 0, sizes[s]);
                fill(p[s][k], sizes[s], (unsigned)(s * PER + k + r));
            }
        for (size_t s = 0; s < NSIZES; s++)
            for (unsigned k = 0; k < PER; k++)
                ck_assert(holds(p[s][k], sizes[s], (unsigned)(s * PER + k + r)));
        for (unsigned k = 0; k < PER; k += 2) /* odd ones first, then even */
            for (size_t s = 0; s < NSIZES; s++)
                tide__slab_free(p[s][k + 1], sizes[s]);
        for (unsigned k = 0; k < PER; k += 2)
            for (size_t s = 0; s < NSIZES; s++)
                tide__slab_free(p[s][k], sizes[s]);
        struct tide__slab_stats st = tide__slab_stats();
        ck_assert_uint_eq(st.chunks, st.empty);
        ck_assert_uint_le(st.empty, TIDE__SLAB_KEEP_EMPTY);
    }
}
END_TEST

/* A block freed is the next one of its size handed out; a freed block of another size
 * is not (node 0's, so that the thread's moves between nodes cannot matter). */
START_TEST(test_reuse)
{
    unsigned char *keep = tide__slab_alloc_on(64 << 10, 0); /* so its chunk stays open */
    unsigned char *a = tide__slab_alloc_on(64 << 10, 0);
    tide__slab_free(a, 64 << 10);
    unsigned char *b = tide__slab_alloc_on(32 << 10, 0);
    ck_assert_ptr_ne(a, b);
    unsigned char *c = tide__slab_alloc_on(64 << 10, 0);
    ck_assert_ptr_eq(a, c);
    tide__slab_free(b, 32 << 10);
    tide__slab_free(c, 64 << 10);
    tide__slab_free(keep, 64 << 10);
}
END_TEST

/* A node's blocks go back to its chunks: a block freed on node 1's chunk is the next of
 * its size there, and never one of node 0's. */
START_TEST(test_nodes_apart)
{
    size_t n = 64 << 10;
    unsigned char *keep0 = tide__slab_alloc_on(n, 0), *keep1 = tide__slab_alloc_on(n, 1);
    unsigned char *a = tide__slab_alloc_on(n, 1);
    tide__slab_free(a, n);
    unsigned char *b = tide__slab_alloc_on(n, 0);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_ne((uintptr_t)b >> 21, (uintptr_t)a >> 21); /* another chunk */
    ck_assert_uint_eq((uintptr_t)b >> 21, (uintptr_t)keep0 >> 21);
    unsigned char *c = tide__slab_alloc_on(n, 1 + TIDE__SLAB_NODES); /* node 1's lists */
    ck_assert_ptr_eq(a, c);
    tide__slab_free(b, n);
    tide__slab_free(c, n);
    tide__slab_free(keep0, n);
    tide__slab_free(keep1, n);
    struct tide__slab_stats st = tide__slab_stats();
    ck_assert_uint_eq(st.chunks, st.empty);
}
END_TEST

/* Whether the mapping that holds @p addr has VmFlags @p flag in /proc/self/smaps (-1: no
 * smaps to read). */
static int vm_flag(const void *addr, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    bool in = false;
    int has = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            char want[8];
            snprintf(want, sizeof want, " %s", flag);
            has = strstr(line, want) != NULL;
            break;
        }
    }
    fclose(f);
    return has;
}

/* Past the bound on huge chunks, chunks come in 4 KiB pages (advised so), and the count
 * of huge ones follows chunks mapped and unmapped. */
START_TEST(test_huge_bound)
{
    tide__slab_set_huge_chunks(2);
    enum { PER_CHUNK = 7, CHUNKS = 4 }; /* blocks of 256 KiB: 7 a chunk */
    static unsigned char *p[PER_CHUNK * CHUNKS];
    size_t n = 256 << 10;
    for (int i = 0; i < PER_CHUNK * CHUNKS; i++)
        ck_assert_ptr_nonnull(p[i] = tide__slab_alloc_on(n, 0));
    struct tide__slab_stats st = tide__slab_stats();
    ck_assert_uint_eq(st.chunks, CHUNKS);
    ck_assert_uint_eq(st.huge, 2);
    if (vm_flag(p[0], "hg") >= 0) {
        ck_assert_int_eq(vm_flag(p[0], "hg"), 1);
        ck_assert_int_eq(vm_flag(p[PER_CHUNK], "hg"), 1);
        ck_assert_int_eq(vm_flag(p[2 * PER_CHUNK], "nh"), 1);
        ck_assert_int_eq(vm_flag(p[3 * PER_CHUNK], "nh"), 1);
    }
    for (int i = 0; i < PER_CHUNK * CHUNKS; i++)
        tide__slab_free(p[i], n);
    st = tide__slab_stats();
    ck_assert_uint_eq(st.chunks, st.empty); /* all kept (4 < TIDE__SLAB_KEEP_EMPTY) */
    ck_assert_uint_le(st.huge, 2);
}
END_TEST

/* A block given back at another size than it was asked for stops the process (rather
 * than going to the other size's lists, from which it would be handed out twice). */
START_TEST(test_wrong_size)
{
    unsigned char *p = tide__slab_alloc_on(64 << 10, 0);
    tide__slab_free(p, 16 << 10);
}
END_TEST

/* Blocks made on one thread and freed on another, both threads at it at once: each block
 * arrives holding what its maker wrote. */
enum { HANDED = 4000, RING = 64 };
struct hand_off {
    unsigned char *block[RING];
    size_t size[RING];
    atomic_size_t made, taken;
    int bad;
};

static void *taker(void *arg)
{
    struct hand_off *h = arg;
    for (size_t i = 0; i < HANDED; i++) {
        while (atomic_load(&h->made) == i)
            sched_yield();
        unsigned char *p = h->block[i % RING];
        size_t n = h->size[i % RING];
        if (!holds(p, n, (unsigned)i))
            h->bad++;
        tide__slab_free(p, n);
        unsigned char *own = tide__slab_alloc(n); /* and some of the taker's own */
        fill(own, n, 7);
        if (!holds(own, n, 7))
            h->bad++;
        tide__slab_free(own, n);
        atomic_store(&h->taken, i + 1);
    }
    return NULL;
}

START_TEST(test_across_threads)
{
    static struct hand_off h;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, taker, &h), 0);
    for (size_t i = 0; i < HANDED; i++) {
        while (i - atomic_load(&h.taken) >= RING)
            sched_yield();
        size_t n = sizes[i % NSIZES];
        unsigned char *p = tide__slab_alloc(n);
        ck_assert_ptr_nonnull(p);
        fill(p, n, (unsigned)i);
        h.block[i % RING] = p;
        h.size[i % RING] = n;
        atomic_store(&h.made, i + 1);
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(h.bad, 0);
    struct tide__slab_stats st = tide__slab_stats();
    ck_assert_uint_eq(st.chunks, st.empty);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("slab");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fits);
    tcase_add_test(tc, test_blocks_hold_data);
    tcase_add_test(tc, test_reuse);
    tcase_add_test(tc, test_nodes_apart);
    tcase_add_test(tc, test_huge_bound);
    tcase_add_test_raise_signal(tc, test_wrong_size, SIGABRT);
    tcase_add_test(tc, test_across_threads);
    return run_suite("slab", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
