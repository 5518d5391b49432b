/* SPDX-License-Identifier: MIT */
#include "pin_internal.h"

static hwloc_obj_type_t place_type(tide_bind bind)
{
    switch (bind) {
    case TIDE_BIND_PU: return HWLOC_OBJ_PU;
    case TIDE_BIND_NUMA: return HWLOC_OBJ_NUMANODE;
    default: return HWLOC_OBJ_CORE;
    }
}

int tide__pin_plan(hwloc_topology_t topo, hwloc_const_cpuset_t allowed, tide_bind bind,
                   size_t nworkers, hwloc_cpuset_t *out, size_t *places)
{
    hwloc_obj_type_t type = place_type(bind);
    int total = hwloc_get_nbobjs_by_type(topo, type);
    size_t n = 0;
    /* First pass counts the usable places, second hands them out. */
    for (int i = 0; i < total; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
        if (o->cpuset && hwloc_bitmap_intersects(o->cpuset, allowed))
            n++;
    }
    *places = n;
    if (n == 0)
        return TIDE_EHWLOC;
    size_t w = 0;
    while (w < nworkers) {
        for (int i = 0; i < total && w < nworkers; i++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
            if (!o->cpuset || !hwloc_bitmap_intersects(o->cpuset, allowed))
                continue;
            out[w] = hwloc_bitmap_alloc();
            if (!out[w]) {
                while (w--)
                    hwloc_bitmap_free(out[w]);
                return TIDE_ENOMEM;
            }
            hwloc_bitmap_and(out[w], o->cpuset, allowed);
            w++;
        }
    }
    return 0;
}
