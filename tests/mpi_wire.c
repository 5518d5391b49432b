/* SPDX-License-Identifier: MIT */
/*
 * Malformed frames must stop the job with a clear message, never misroute or crash.
 * Rank 0 forges one frame and sends it on tide's own communicator to rank 1, whose worker
 * keeps receiving until the fatal error ends the job (tests/mpi_comm.sh checks the text).
 *
 *   mpi_wire magic|target|length|source [tide options]     (2 ranks)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

static const char *mode;

static int forge(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push;
    tide_pull *pull;
    tide_allocator_allocate(a, TIDE_U64, &push, &pull);
    struct tide__mpi *m = a->shared->mpi;
    if (!m || m->ranks != 2)
        return 1;
    if (tide_allocator_rank(a) == 1) {
        for (int i = 0; i < 2000; i++) { /* the fatal error ends us well before this */
            tide_allocator_receive(a);
            tide_allocator_park(a, 10000000);
        }
        fprintf(stderr, "mpi_wire: the forged frame was accepted\n");
        return 1;
    }
    unsigned char frame[TIDE__HEADROOM + 8] = { 0 };
    struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, 1, 0, 0, sizeof frame };
    struct tide__msg_hdr mh = { 0 };
    mh.src = 0;
    mh.dst = (uint32_t)a->nlocal; /* the first worker of rank 1 */
    mh.type_tag = tide__type_tag(TIDE_U64);
    mh.nrecords = 1;
    mh.nbytes = 8;
    if (strcmp(mode, "magic") == 0)
        fh.magic = 0xdeadbeef;
    else if (strcmp(mode, "target") == 0)
        mh.dst = 0; /* a worker of rank 0 */
    else if (strcmp(mode, "length") == 0)
        mh.nbytes = 1 << 20;
    else if (strcmp(mode, "source") == 0)
        mh.src = (uint32_t)a->nlocal; /* claims to come from rank 1 */
    memcpy(frame, &fh, sizeof fh);
    memcpy(frame + sizeof fh, &mh, sizeof mh);
    tide_allocator_mpi_enter(a);
    MPI_Send(frame, (int)sizeof frame, MPI_BYTE, 1, TIDE__TAG_SMALL, m->comm);
    tide_allocator_mpi_leave(a);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0 ||
        argc != 2) {
        fprintf(stderr, "usage: mpi_wire magic|target|length|source [tide options]\n");
        return 2;
    }
    mode = argv[1];
    tide_guards *g;
    if (tide_comm_initialize(&cfg, forge, NULL, &g) != 0)
        return 1;
    int res[64] = { 0 };
    tide_guards_join(g, res);
    return res[0];
}
