/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the checks of received frames (src/comm/wire.c): any bytes, as a frame
 * from rank 0 to rank 1, must be refused with a message or pass checks after which every
 * message header, payload and record lies inside the frame; a rank cast of packed
 * progress changes must be refused or unpack to changes that pack back to the same bytes.
 * Built two ways:
 *
 *   with libFuzzer (scripts/fuzz):  fuzz_wire [libFuzzer options] [CORPUS...]
 *   as a test (make check):         fuzz_wire FILE...   (runs each file once)
 *
 * The first input byte chooses the number of workers per rank, the rest is the frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "wire_internal.h"
#include "fuzz_mutate.h"

static const tide_type twelve = { "twelve", 12, 0, 0, 0, 0 };

/* Reads every record the way a receiving worker would, once the checks have passed. */
static void read_all(const tide_type *type, const struct tide__msg_hdr *mh, const void *data)
{
    if (tide__wire_records(type, mh->nrecords, data, mh->nbytes))
        return;
    /* the records in a buffer of their own, exactly their size after the headroom that a
     * batch's data follows (a read past them is an ASan report) */
    unsigned char *base = malloc(TIDE__HEADROOM + mh->nbytes);
    if (!base)
        return;
    memcpy(base + TIDE__HEADROOM, data, mh->nbytes);
    tide_batch b = { .type = type, .len = mh->nrecords, .bytes = mh->nbytes, .base = base };
    _Alignas(16) unsigned char value[64]; /* a decoded value: at most a tide_bytes here */
    size_t at = 0, n = 0;
    while (tide_batch_read(&b, &at, value))
        n++;
    free(base);
    if (n != mh->nrecords)
        abort(); /* the checks passed a batch whose records do not add up */
}

/* Unpacks a packed cast the way the receiving driver would (into exactly the room the
 * header's count gives), and packs the changes again: the same bytes must come back. */
static void unpack_all(const struct tide__msg_hdr *mh, const void *data)
{
    if (!(mh->flags & TIDE__MSG_PACKED) || mh->nrecords == 0)
        return;
    size_t room = (size_t)mh->nrecords * sizeof(tide_change);
    tide_change *c = malloc(room);
    unsigned char *again = malloc(mh->nbytes);
    if (c && again && !tide__wire_unpack_changes(data, mh->nbytes, mh->nrecords, c) &&
        (tide__wire_pack_changes(c, mh->nrecords, again, mh->nbytes) != mh->nbytes ||
         memcmp(again, data, mh->nbytes) != 0))
        abort(); /* unpacked changes that do not pack back to what arrived */
    free(c);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t nlocal = 1 + data[0] % 4, count = size - 1;
    /* an exact-size, 8-aligned copy: a read past the end is an ASan report */
    unsigned char *frame = malloc(count ? count : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, count);
    struct tide__msg_hdr bad_msg;
    bool at_msg;
    if (!tide__wire_check(frame, count, 0, 1, nlocal, &bad_msg, &at_msg)) {
        struct tide__frame_hdr fh;
        memcpy(&fh, frame, sizeof fh);
        size_t pos = sizeof fh;
        struct tide__msg_hdr prev = { 0 }, h;
        for (uint32_t k = 0; k < fh.nmsgs; k++) {
            const struct tide__msg_hdr *mh = &h;
            size_t from = tide__wire_next(frame, count, &pos, 0, 1, nlocal, &h);
            if (pos > count || from > count)
                abort(); /* a checked frame walked past its end */
            if (prev.flags & TIDE__MSG_ANNOUNCE)
                (void)tide__wire_same_announce(&prev, mh);
            if (mh->flags & TIDE__MSG_CREDIT && (fh.nmsgs != 1 || mh->nbytes || !mh->seq))
                abort(); /* a credit that the driver would misread */
            if (!(mh->flags & TIDE__MSG_ANNOUNCE)) {
                const tide_type *types[] = { TIDE_U64, TIDE_STR, TIDE_BYTES, &twelve };
                uint64_t groups = 1, at = 0;
                const unsigned char *payload = frame + from;
                if (mh->flags & TIDE__MSG_SPLIT &&
                    tide__wire_split(payload, mh->nbytes, mh->nrecords, nlocal, &groups, &at))
                    abort(); /* tide__wire_check passed a split message with a bad table */
                /* each group is what its worker would get (a split message's, or the whole) */
                const unsigned char *rec = payload;
                for (uint64_t gk = 0; gk < groups; gk++) {
                    struct tide__msg_hdr g = *mh;
                    if (mh->flags & TIDE__MSG_SPLIT) {
                        struct tide__split_entry e = tide__wire_split_group(payload, at, gk);
                        g.nrecords = e.nrecords;
                        g.nbytes = e.nbytes;
                        if ((size_t)(rec - frame) + e.nbytes > count)
                            abort(); /* a group past the end of its frame */
                    }
                    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
                        read_all(types[t], &g, rec);
                    unpack_all(&g, rec);
                    rec += g.nbytes;
                }
            }
            prev = h;
        }
    }
    free(frame);
    return 0;
}

#ifndef TIDE_LIBFUZZER
/* Valid frames to start from: one u64 message, two messages (u64 and a string), an
 * announce, a rank cast, a split message (two groups of u64), a credit, a rank cast of
 * packed changes, the same with a short header next to a u64 message. Each file: the
 * workers-per-rank byte (2), then the frame. */
#define NSEEDS 8

/* Changes with every field at its edges, and a few ordinary ones. */
static const tide_change edge_changes[] = {
    { 0, { 0, 0, { 0 } }, 0 },
    { UINT64_MAX, { TIDE_TIME_MAX_DEPTH, 0, { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX } },
      INT64_MIN },
    { 3ull << 32 | 5, { 1, 0, { 127 } }, INT64_MAX },
    { 1ull << 32 | 2, { 2, 0, { 128, 16384 } }, -1 },
    { 4ull << 32, { 1, 0, { 7 } }, 1 },
};
#define NEDGE (sizeof edge_changes / sizeof *edge_changes)

/* Packing's own cases, apart from what the fuzzing finds: edges round trip; what packing
 * would lose is refused, and so is every malformed packing. Exits on a failure. */
static void check_packing(void)
{
    unsigned char buf[NEDGE * sizeof(tide_change)];
    tide_change back[NEDGE];
    size_t n = tide__wire_pack_changes(edge_changes, NEDGE, buf, sizeof buf);
    const char *bad = n ? tide__wire_unpack_changes(buf, n, NEDGE, back) : "did not pack";
    if (bad || memcmp(back, edge_changes, sizeof back) != 0) {
        fprintf(stderr, "fuzz_wire: edge changes do not round trip: %s\n", bad ? bad : "differ");
        exit(1);
    }
    /* a one-coordinate change at a small epoch: 5 bytes of 56 */
    if (tide__wire_pack_changes(&edge_changes[4], 1, buf, sizeof buf) != 5) {
        fprintf(stderr, "fuzz_wire: a small change does not pack into 5 bytes\n");
        exit(1);
    }
    tide_change odd[2] = { edge_changes[4], edge_changes[4] };
    odd[0].time.reserved = 1;
    odd[1].time.c[2] = 9; /* past its depth */
    if (tide__wire_pack_changes(&odd[0], 1, buf, sizeof buf) ||
        tide__wire_pack_changes(&odd[1], 1, buf, sizeof buf) ||
        tide__wire_pack_changes(edge_changes, NEDGE, buf, n - 1)) {
        fprintf(stderr, "fuzz_wire: packing dropped bits or overran its room\n");
        exit(1);
    }
    static const struct {
        const char *bytes;
        size_t len, n;
    } wrong[] = {
        { "\x00\x00\x01\x07", 4, 1 },                 /* cut off before its delta */
        { "\x00\x00\x00\x02\x00", 5, 1 },             /* bytes left over */
        { "\x80\x00\x00\x00\x02", 5, 1 },             /* a zero not in its shortest form */
        { "\x80\x80\x80\x80\x10\x00\x00\x02", 8, 1 }, /* 2^32 in a key's half */
        { "\x00\x00\x05\x00\x00\x00\x00\x00\x02", 9, 1 }, /* depth 5 */
        { "\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 13, 1 }, /* 2^64 */
        { "\x00\x00\x00\x02", 4, 2 },                 /* fewer changes than counted */
    };
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        if (!tide__wire_unpack_changes(wrong[i].bytes, wrong[i].len, wrong[i].n, back)) {
            fprintf(stderr, "fuzz_wire: malformed packing %zu was accepted\n", i);
            exit(1);
        }
}
static size_t seed(int which, unsigned char *out)
{
    unsigned char *at = out + 1 + sizeof(struct tide__frame_hdr);
    out[0] = 1; /* 2 workers per rank: rank 1's are 2 and 3 */
    uint32_t nmsgs = 0;
    struct tide__msg_hdr mh = { .src = 0, .dst = 2, .type_tag = tide__type_tag(TIDE_U64),
                                .nrecords = 2, .nbytes = 16 };
    if (which == 2) {
        mh.flags = TIDE__MSG_ANNOUNCE;
        mh.nbytes = 1 << 20;
        mh.nrecords = mh.nbytes / 8;
    } else if (which == 3) {
        mh.flags = TIDE__MSG_FANOUT;
        mh.seq = 7;
    } else if (which == 4) {
        mh.flags = TIDE__MSG_SPLIT;
        mh.nrecords = 3;
        mh.nbytes = 24 + TIDE__SPLIT_TABLE(2);
    } else if (which == 5) {
        mh = (struct tide__msg_hdr){ .src = 0, .dst = 2, .seq = 65536,
                                     .flags = TIDE__MSG_CREDIT };
    } else if (which == 6 || which == 7) {
        mh.flags = TIDE__MSG_FANOUT | TIDE__MSG_PACKED;
        mh.nrecords = NEDGE;
        mh.meta[0] = 1;
        mh.nbytes = tide__wire_pack_changes(edge_changes, NEDGE, at + sizeof mh, 200);
    }
    if (which == 7) { /* the short header, then the packed changes moved next to it */
        size_t hb = tide__wire_put_header(&mh, at);
        if (hb != sizeof(struct tide__short_cast))
            abort();
        memmove(at + hb, at + sizeof mh, mh.nbytes);
        at -= sizeof mh - hb;
    } else {
        memcpy(at, &mh, sizeof mh);
    }
    at += sizeof mh;
    if (which == 6 || which == 7) {
        memset(at + mh.nbytes, 0, TIDE__PAD8(mh.nbytes) - mh.nbytes);
        at += TIDE__PAD8(mh.nbytes);
    } else if (which == 4) {
        uint64_t v[3] = { 40, 41, 42 };
        struct tide__split_entry e[2] = { { 0, 0, 1, 8 }, { 1, 0, 2, 16 } };
        uint64_t n = 2;
        memcpy(at, v, sizeof v);
        memcpy(at + sizeof v, e, sizeof e);
        memcpy(at + sizeof v + sizeof e, &n, sizeof n);
        at += mh.nbytes;
    } else if (!(mh.flags & (TIDE__MSG_ANNOUNCE | TIDE__MSG_CREDIT))) {
        uint64_t v[2] = { 41, 42 };
        memcpy(at, v, 16);
        at += 16;
    }
    nmsgs++;
    if (which == 1 || which == 7) {
        struct tide__msg_hdr sh = { .channel = 1, .src = 1, .dst = 3,
                                    .type_tag = tide__type_tag(TIDE_STR), .nrecords = 1,
                                    .nbytes = 8 };
        memcpy(at, &sh, sizeof sh);
        at += sizeof sh;
        uint32_t len = 4;
        memcpy(at, &len, 4);
        memcpy(at + 4, "abc", 4);
        at += 8;
        nmsgs++;
    }
    size_t bytes = (size_t)(at - out - 1);
    struct tide__frame_hdr fh = { TIDE__FRAME_MAGIC, nmsgs, 0, 0, bytes };
    memcpy(out + 1, &fh, sizeof fh);
    return bytes + 1;
}

int main(int argc, char **argv)
{
    static uint8_t buf[1 << 20];
    check_packing();
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0) { /* writes the seeds into a folder */
        for (int i = 0; i < NSEEDS; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/seed-%d", argv[2], i);
            FILE *f = fopen(path, "wb");
            size_t n = seed(i, buf);
            struct tide__msg_hdr bad_msg;
            bool at_msg;
            static _Alignas(8) unsigned char frame[512]; /* frames arrive 8-aligned */
            memcpy(frame, buf + 1, n - 1);
            const char *bad =
                tide__wire_check(frame, n - 1, 0, 1, 1 + buf[0] % 4, &bad_msg, &at_msg);
            if (bad) { /* a seed the checks refuse would fuzz nothing past them */
                fprintf(stderr, "fuzz_wire: seed %d is refused: %s\n", i, bad);
                return 1;
            }
            if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
                perror(path);
                return 1;
            }
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--mutate") == 0) { /* N mutations of the seeds */
        long n = atol(argv[2]);
        unsigned char s[NSEEDS][512];
        size_t len[NSEEDS];
        for (int i = 0; i < NSEEDS; i++)
            len[i] = seed(i, s[i]);
        for (long i = 0; i < n; i++) {
            int w = (int)(next_random() % NSEEDS);
            memcpy(buf, s[w], len[w]);
            LLVMFuzzerTestOneInput(buf, mutate(buf, len[w], sizeof s[w], 1));
        }
        printf("fuzz_wire: %ld mutated frames passed\n", n);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_wire: %d inputs passed\n", argc - 1);
    return 0;
}
#endif
