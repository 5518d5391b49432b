/* SPDX-License-Identifier: MIT */
/*
 * Malformed frames must stop the job with a clear message, never misroute or crash.
 * Rank 0 forges one frame and sends it on tide's own communicator to rank 1, whose worker
 * keeps receiving until the fatal error ends the job (tests/mpi_comm.sh checks the text).
 *
 *   mpi_wire MODE [tide options]     (2 ranks; MODE: see forge())
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_internal.h"

static const char *mode;

static void send_frame(tide_allocator *a, struct tide__mpi *m, const struct tide__msg_hdr *mh,
                       const void *payload, size_t n, int tag)
{
    unsigned char frame[TIDE__HEADROOM + 64] = { 0 };
    /* the header as the transport writes it: short for a packed rank cast */
    size_t hb = tide__wire_put_header(mh, frame + sizeof(struct tide__frame_hdr));
    size_t bytes = sizeof(struct tide__frame_hdr) + hb + n;
    struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, 1, 0, 0, bytes };
    if (strcmp(mode, "magic") == 0)
        fh.magic = 0xdeadbeef;
    memcpy(frame, &fh, sizeof fh);
    if (n)
        memcpy(frame + sizeof fh + hb, payload, n);
    tide_allocator_mpi_enter(a);
    if (strcmp(mode, "announce-mismatch") == 0 || strcmp(mode, "ring-orphan") == 0) {
        /* through the driver, as the transport sends: a payload that a shared ring
         * carries must come through it, after its announce */
        tide_batch *f = tide_batch_new(NULL, bytes);
        if (!f || tide__batch_reserve(f, bytes) != 0)
            abort();
        memcpy(f->base, frame, bytes);
        f->bytes = bytes;
        f->peer_rank = 1;
        f->mpi_tag = tag;
        f->owner = TIDE__DRIVER_OWNED;
        tide__mpi_post_now(m, f);
    } else {
        MPI_Send(frame, (int)bytes, MPI_BYTE, 1, tag, m->comm);
    }
    tide_allocator_mpi_leave(a);
}

/* The tag a payload of @p n bytes goes on, as the transport picks it. */
static int payload_tag(struct tide__mpi *m, size_t n)
{
    return tide__mpi_shm_carries(m, 1, TIDE__HEADROOM + TIDE__PAD8(n)) ? TIDE__TAG_RING
                                                                      : TIDE__TAG_LARGE_BASE;
}

static int forge(tide_allocator *a, void *ctx)
{
    (void)ctx;
    tide_push **push;
    tide_pull *pull;
    bool strings = strncmp(mode, "str", 3) == 0;
    const tide_type *type = strings ? TIDE_STR : TIDE_U64;
    tide_allocator_allocate(a, type, &push, &pull);
    struct tide__mpi *m = a->shared->mpi;
    if (!m || m->ranks != 2)
        return 1;
    if (tide_allocator_rank(a) == 1) {
        tide_batch *b = NULL;
        for (int i = 0; i < 2000; i++) { /* the fatal error ends us well before this */
            tide_allocator_receive(a);
            while (tide_pull_recv(pull, &b))
                ;
            tide_allocator_park(a, 10000000);
        }
        fprintf(stderr, "mpi_wire: the forged frame was accepted\n");
        return 1;
    }
    unsigned char payload[8] = { 0 };
    struct tide__msg_hdr mh = { 0 };
    mh.src = 0;
    mh.dst = (uint32_t)a->nlocal; /* the first worker of rank 1 */
    mh.type_tag = tide__type_tag(type);
    mh.nrecords = 1;
    mh.nbytes = 8;
    if (strcmp(mode, "target") == 0)
        mh.dst = 0; /* a worker of rank 0 */
    else if (strcmp(mode, "length") == 0)
        mh.nbytes = 1 << 20;
    else if (strcmp(mode, "source") == 0)
        mh.src = (uint32_t)a->nlocal; /* claims to come from rank 1 */
    else if (strcmp(mode, "channel") == 0)
        mh.channel = 1u << 24; /* past what a job may allocate */
    else if (strcmp(mode, "overflow") == 0)
        mh.nrecords = ((uint64_t)1 << 61) + 1; /* x 8 bytes wraps to 8 */
    else if (strcmp(mode, "padwrap") == 0)
        mh.nbytes = UINT64_MAX - 2; /* padded to 8, wraps to 0 */
    else if (strcmp(mode, "announce-huge") == 0) {
        mh.flags = TIDE__MSG_ANNOUNCE;
        mh.nbytes = (uint64_t)1 << 40;
    } else if (strcmp(mode, "str-nonul") == 0) {
        uint32_t len = 3;
        memcpy(payload, &len, 4);
        memcpy(payload + 4, "abc", 3); /* and a padding byte where its NUL should be */
        payload[7] = 'd';
    } else if (strcmp(mode, "str-past") == 0) {
        uint32_t len = 100;
        memcpy(payload, &len, 4);
    } else if (strcmp(mode, "packed") == 0) {
        /* a rank cast of one packed change (under a short header), its key's first half
         * a zero written in two bytes */
        mh.flags = TIDE__MSG_FANOUT | TIDE__MSG_PACKED;
        mh.nbytes = 5;
        memcpy(payload, "\x80\x00\x00\x00\x02", 5);
    }
    if (strcmp(mode, "announce-mismatch") == 0) {
        /* an announce of 16 bytes, then a payload that claims another channel */
        mh.flags = TIDE__MSG_ANNOUNCE;
        mh.nrecords = 2;
        mh.nbytes = 16;
        send_frame(a, m, &mh, NULL, 0, TIDE__TAG_SMALL);
        unsigned char sixteen[16] = { 0 };
        mh.flags = 0;
        mh.channel = 5;
        send_frame(a, m, &mh, sixteen, sizeof sixteen, payload_tag(m, sizeof sixteen));
        return 0;
    }
    if (strcmp(mode, "ring-orphan") == 0) {
        /* a payload through the shared ring that nothing announced */
        if (payload_tag(m, sizeof payload) != TIDE__TAG_RING)
            return 1;
        send_frame(a, m, &mh, payload, sizeof payload, TIDE__TAG_RING);
        return 0;
    }
    bool announced = mh.flags & TIDE__MSG_ANNOUNCE;
    send_frame(a, m, &mh, payload, announced ? 0 : sizeof payload, TIDE__TAG_SMALL);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0 ||
        argc != 2) {
        fprintf(stderr, "usage: mpi_wire MODE [tide options]\n");
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
