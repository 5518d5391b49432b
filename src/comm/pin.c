/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

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
                   size_t share_index, size_t share_count, size_t nworkers,
                   hwloc_cpuset_t *out, size_t *places)
{
    hwloc_obj_type_t type = place_type(bind);
    int total = hwloc_get_nbobjs_by_type(topo, type);
    hwloc_obj_t *usable = malloc(((size_t)total + 1) * sizeof *usable);
    if (!usable)
        return TIDE_ENOMEM;
    size_t n = 0;
    for (int i = 0; i < total; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
        if (o->cpuset && hwloc_bitmap_intersects(o->cpuset, allowed))
            usable[n++] = o;
    }
    if (n == 0) {
        free(usable);
        *places = 0;
        return TIDE_EHWLOC;
    }
    /* This rank's slice: [first, first + count) of the usable places, wrapping around. */
    size_t first = 0, count = n;
    if (share_count > 1) {
        if (n >= share_count) {
            first = share_index * n / share_count;
            count = (share_index + 1) * n / share_count - first;
        } else {
            first = share_index % n; /* more ranks than places: one place each, shared */
            count = 1;
        }
    }
    *places = count;
    for (size_t w = 0; w < nworkers; w++) {
        hwloc_obj_t o = usable[(first + w % count) % n];
        if (!(out[w] = hwloc_bitmap_alloc())) {
            while (w--)
                hwloc_bitmap_free(out[w]);
            free(usable);
            return TIDE_ENOMEM;
        }
        hwloc_bitmap_and(out[w], o->cpuset, allowed);
    }
    free(usable);
    return 0;
}
