/* SPDX-License-Identifier: MIT */
#ifndef TIDE_PIN_INTERNAL_H
#define TIDE_PIN_INTERNAL_H

#include <hwloc.h>

#include "tide/comm.h"

/*
 * Plans where each of @p nworkers workers runs: with TIDE_BIND_CORE / PU / NUMA, the
 * cores / PUs / NUMA nodes that meet @p allowed, in topology order (so that consecutive
 * workers share caches), each place clipped to @p allowed. When @p share_count ranks of
 * one node were given this same cpuset (a launcher that did not bind), this rank, number
 * @p share_index among them, takes its own slice of the places, so that ranks do not pile
 * onto the same cores. When there are fewer places than workers, workers share them
 * round-robin. out[i] receives a new bitmap (free it with hwloc_bitmap_free). *places is
 * the number of distinct places this rank got. Returns 0, or TIDE_EHWLOC when @p allowed
 * meets no place of the topology.
 */
int tide__pin_plan(hwloc_topology_t topo, hwloc_const_cpuset_t allowed, tide_bind bind,
                   size_t share_index, size_t share_count, size_t nworkers,
                   hwloc_cpuset_t *out, size_t *places);

#endif
