/* SPDX-License-Identifier: MIT */
/* Worker placement on synthetic machines (hwloc synthetic topologies), so that machines
 * we do not have are covered: 2 packages x 8 cores x 2 PUs, restricted cpusets, NUMA. */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "pin_internal.h"

static hwloc_topology_t machine(const char *desc)
{
    hwloc_topology_t t;
    ck_assert_int_eq(hwloc_topology_init(&t), 0);
    ck_assert_int_eq(hwloc_topology_set_synthetic(t, desc), 0);
    ck_assert_int_eq(hwloc_topology_load(t), 0);
    return t;
}

static hwloc_bitmap_t pus(const char *list)
{
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    ck_assert_int_eq(hwloc_bitmap_list_sscanf(b, list), 0);
    return b;
}

/* Plans @p n workers and checks each one's PUs against want[i] (hwloc list syntax). */
static void expect_shared_plan(hwloc_topology_t t, const char *allowed_list, tide_bind bind,
                               size_t index, size_t count, size_t n, size_t want_places,
                               const char *const *want)
{
    hwloc_bitmap_t allowed = pus(allowed_list);
    hwloc_cpuset_t out[64];
    size_t places = 0;
    ck_assert_int_eq(tide__pin_plan(t, allowed, bind, index, count, n, out, &places), 0);
    ck_assert_uint_eq(places, want_places);
    for (size_t i = 0; i < n; i++) {
        char *got;
        hwloc_bitmap_list_asprintf(&got, out[i]);
        ck_assert_msg(hwloc_bitmap_isincluded(out[i], allowed), "worker %zu leaves the cpuset", i);
        ck_assert_msg(strcmp(got, want[i]) == 0, "worker %zu: PUs %s, expected %s", i, got,
                      want[i]);
        free(got);
        hwloc_bitmap_free(out[i]);
    }
    hwloc_bitmap_free(allowed);
}

static void expect_plan(hwloc_topology_t t, const char *allowed_list, tide_bind bind, size_t n,
                        size_t want_places, const char *const *want)
{
    expect_shared_plan(t, allowed_list, bind, 0, 1, n, want_places, want);
}

START_TEST(test_cores_whole_machine)
{
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    const char *want[] = { "0-1", "2-3", "4-5", "6-7" };
    expect_plan(t, "0-31", TIDE_BIND_CORE, 4, 16, want);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_cores_in_second_package)
{
    /* A launcher gave this rank the first four cores of package 1. */
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    const char *want[] = { "16-17", "18-19", "20-21", "22-23" };
    expect_plan(t, "16-23", TIDE_BIND_CORE, 4, 4, want);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_fewer_cores_than_workers)
{
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    const char *want[] = { "8-9", "10-11", "8-9", "10-11", "8-9" };
    expect_plan(t, "8-11", TIDE_BIND_CORE, 5, 2, want);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_pus)
{
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    const char *want[] = { "4", "5", "6", "7" };
    expect_plan(t, "4-7", TIDE_BIND_PU, 4, 4, want);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_partial_cores_are_clipped)
{
    /* The cpuset holds one PU of core 0 and one of core 1: pin inside it, never outside. */
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    const char *want[] = { "1", "2" };
    expect_plan(t, "1-2", TIDE_BIND_CORE, 2, 2, want);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_numa)
{
    hwloc_topology_t t = machine("pack:2 numa:1 core:4 pu:1");
    const char *want[] = { "0-3", "4-7", "0-3", "4-7" };
    expect_plan(t, "0-7", TIDE_BIND_NUMA, 4, 2, want);
    hwloc_topology_destroy(t);
}
END_TEST

/* A launcher that did not bind gives every rank of the node the whole machine: each rank
 * takes its own slice instead of all of them piling onto the first cores. */
START_TEST(test_ranks_sharing_a_cpuset)
{
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    const char *r0[] = { "0-1", "2-3", "4-5", "6-7" };
    const char *r1[] = { "16-17", "18-19", "20-21", "22-23" };
    expect_shared_plan(t, "0-31", TIDE_BIND_CORE, 0, 2, 4, 8, r0);
    expect_shared_plan(t, "0-31", TIDE_BIND_CORE, 1, 2, 4, 8, r1);
    /* 3 ranks on 16 cores: slices of 5, 5 and 6 cores. */
    const char *third[] = { "20-21", "22-23", "24-25", "26-27", "28-29", "30-31", "20-21" };
    expect_shared_plan(t, "0-31", TIDE_BIND_CORE, 2, 3, 7, 6, third);
    hwloc_topology_destroy(t);
    /* More ranks than cores (this machine: 2 cores, 3 ranks): one core each, round robin. */
    t = machine("pack:1 core:2 pu:1");
    const char *a[] = { "0" }, *b[] = { "1" }, *c[] = { "0", "0" };
    expect_shared_plan(t, "0-1", TIDE_BIND_CORE, 0, 3, 1, 1, a);
    expect_shared_plan(t, "0-1", TIDE_BIND_CORE, 1, 3, 1, 1, b);
    expect_shared_plan(t, "0-1", TIDE_BIND_CORE, 2, 3, 2, 1, c);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_empty_cpuset)
{
    hwloc_topology_t t = machine("pack:1 core:2 pu:1");
    hwloc_bitmap_t allowed = pus("5-6"); /* not on this machine */
    hwloc_cpuset_t out[2];
    size_t places = 9;
    ck_assert_int_eq(tide__pin_plan(t, allowed, TIDE_BIND_CORE, 0, 1, 2, out, &places),
                     TIDE_EHWLOC);
    ck_assert_uint_eq(places, 0);
    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(t);
}
END_TEST

START_TEST(test_random_cpusets_stay_inside)
{
    hwloc_topology_t t = machine("pack:2 core:8 pu:2");
    uint64_t seed = 12345;
    for (int round = 0; round < 500; round++) {
        hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
        for (unsigned pu = 0; pu < 32; pu++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            if ((seed >> 33) % 3 == 0)
                hwloc_bitmap_set(allowed, pu);
        }
        if (hwloc_bitmap_iszero(allowed))
            hwloc_bitmap_set(allowed, 7);
        size_t n = 1 + (seed >> 40) % 20, places;
        hwloc_cpuset_t out[32];
        tide_bind bind = (tide_bind)(1 + (seed >> 50) % 2);
        ck_assert_int_eq(tide__pin_plan(t, allowed, bind, 0, 1, n, out, &places), 0);
        for (size_t i = 0; i < n; i++) {
            ck_assert(!hwloc_bitmap_iszero(out[i]));
            ck_assert(hwloc_bitmap_isincluded(out[i], allowed));
            /* Distinct places while there are enough of them. */
            for (size_t j = 0; j < i && i < places; j++)
                ck_assert(!hwloc_bitmap_intersects(out[i], out[j]));
        }
        for (size_t i = 0; i < n; i++)
            hwloc_bitmap_free(out[i]);
        hwloc_bitmap_free(allowed);
    }
    hwloc_topology_destroy(t);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("placement");
    tcase_add_test(tc, test_cores_whole_machine);
    tcase_add_test(tc, test_cores_in_second_package);
    tcase_add_test(tc, test_fewer_cores_than_workers);
    tcase_add_test(tc, test_pus);
    tcase_add_test(tc, test_partial_cores_are_clipped);
    tcase_add_test(tc, test_numa);
    tcase_add_test(tc, test_empty_cpuset);
    tcase_add_test(tc, test_ranks_sharing_a_cpuset);
    tcase_add_test(tc, test_random_cpusets_stay_inside);
    return run_suite("pin", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
