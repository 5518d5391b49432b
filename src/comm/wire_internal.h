/* SPDX-License-Identifier: MIT */
/* The bytes that cross ranks. A frame is a frame header followed by messages, each a
 * message header and its payload padded to 8 bytes. Small messages to one rank are
 * coalesced into one frame; a batch of 4 KiB or more is sent as a frame of its own
 * straight from the batch's buffer, whose headroom has room for both headers (no copy on
 * either side). Frames of up to TIDE__POST_BYTES land in receives posted in advance; a
 * larger batch is announced by a message in the ordinary frame stream and sent on a tag of
 * its sending worker, received into a buffer of its size once the announce is read. */
#ifndef TIDE_WIRE_INTERNAL_H
#define TIDE_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tide/comm.h"
#include "tide/progress.h"

#define TIDE__FRAME_MAGIC 0x74696465u /* "tide" */

struct tide__frame_hdr {
    uint32_t magic;
    uint32_t nmsgs;
    uint32_t src_rank;
    /* Frames on TIDE__TAG_SMALL from one rank to another, numbered from 0 (wrapping): MPI
     * orders their matching, not their completion, so the receiver puts them back in order
     * by this number. Set by the driver when it posts the send; 0 on other tags. */
    uint32_t seq;
    uint64_t bytes; /* whole frame, this header included */
};

struct tide__msg_hdr {
    uint32_t channel;
    uint32_t src;      /* source worker */
    uint32_t dst;      /* target worker */
    uint32_t type_tag; /* tide__type_tag() of the channel's type */
    uint64_t seq;      /* rank casts: per (channel, source rank), from 0; else 0 */
    uint64_t nrecords;
    uint64_t nbytes;   /* payload bytes, before padding */
    uint32_t flags;    /* TIDE__MSG_... */
    uint32_t reserved;
    uint64_t meta[TIDE_BATCH_META];
};

/* The payload does not follow: it comes as a frame of its own on the sender's large tag. */
#define TIDE__MSG_ANNOUNCE 1u
/* A rank cast: for every worker of the target rank (dst is its first worker), from the
 * sending rank as a whole (src is its first worker); large payloads come on the rank's
 * cast tag. */
#define TIDE__MSG_FANOUT 2u
/* Records for several workers of the target rank (dst is its first worker): the records of
 * each worker together, in the order of the workers, padded to 8 bytes, then a table of the
 * groups (a tide__split_entry each, then their number as a uint64_t). The target rank's
 * transport gives each worker its group: a sender keeps staging per rank, not per worker. */
#define TIDE__MSG_SPLIT 4u
/* Flow control (--memory): the receiving rank credits back `seq` bytes of frames it
 * received from the target rank; between the ranks' first workers, no payload, alone in
 * its frame. */
#define TIDE__MSG_CREDIT 8u
/* A rank cast whose progress changes are packed (tide__wire_pack_changes): nbytes is the
 * packed length, nrecords the number of changes. Only with TIDE__MSG_FANOUT. */
#define TIDE__MSG_PACKED 16u
/* A packed rank cast may travel with a short header instead (TIDE__SHORT_CAST set in its
 * first word): what a full header would say that the frame and the flags imply, 32 bytes
 * instead of 96. Its source is the sending rank's first worker, its target the receiving
 * rank's, its flags FANOUT | PACKED and its meta beyond meta[0] zero. Readers expand it
 * into a full header (tide__wire_header), so that one check covers both. */
#define TIDE__SHORT_CAST 0x80000000u
struct tide__short_cast {
    uint32_t channel;  /* | TIDE__SHORT_CAST */
    uint32_t type_tag;
    uint64_t seq;
    uint32_t nrecords;
    uint32_t nbytes;   /* packed payload bytes, before padding */
    uint64_t meta0;
};
_Static_assert(sizeof(struct tide__short_cast) % 8 == 0, "short header keeps alignment");

/* Channel ids a job may use: tide_allocator_allocate refuses more, and a message for a
 * higher id is malformed (it would otherwise make a receiver hold it for a channel that
 * never comes, in an array as long as the id). */
#define TIDE__MAX_CHANNELS (1u << 24)

/* The fewest bytes a packed change takes (a time of depth 0), and the most. */
#define TIDE__PACKED_MIN 4u
#define TIDE__PACKED_MAX (5u + 5u + 1u + 10u * TIDE_TIME_MAX_DEPTH + 10u)

struct tide__split_entry {
    uint32_t local; /* the worker within the target rank */
    uint32_t reserved;
    uint64_t nrecords;
    uint64_t nbytes;
};
/* Bytes of a split table of @p n groups. */
#define TIDE__SPLIT_TABLE(n) ((n) * sizeof(struct tide__split_entry) + sizeof(uint64_t))

#define TIDE__HEADROOM (sizeof(struct tide__frame_hdr) + sizeof(struct tide__msg_hdr))
/* Frames of at most this many bytes (headers included) go to preposted receives: a 64 KiB
 * batch with its headers fits. */
#define TIDE__POST_BYTES (64u * 1024u + 4096u)
#define TIDE__PAD8(n) (((n) + 7u) & ~(uint64_t)7u)

/* The largest announced payload: headers and padding included, it must fit one MPI
 * message (an int count of bytes). */
#define TIDE__WIRE_MAX_LARGE ((uint64_t)INT32_MAX - TIDE__HEADROOM - 8u)

/* Checks of received bytes (wire.c): each returns NULL when all is well, else what is wrong
 * (a static string). None reads past the lengths it is given, whatever the bytes say. */
/* A frame of @p count bytes that MPI says came from rank @p src. */
const char *tide__wire_frame(const void *frame, size_t count, int src);
/* A message header with @p room bytes of its frame after it, received on rank @p rank
 * from rank @p src_rank, with @p nlocal workers per rank. */
const char *tide__wire_message(const struct tide__msg_hdr *mh, size_t room, size_t rank,
                               size_t src_rank, size_t nlocal);
/* The bytes message header @p mh takes on the wire (short for a packed cast that can). */
size_t tide__wire_header_bytes(const struct tide__msg_hdr *mh);
/* Writes @p mh's header as it travels (short when it can) at @p at; returns its bytes. */
size_t tide__wire_put_header(const struct tide__msg_hdr *mh, void *at);
/* The header of the message at byte @p pos of a frame of @p count bytes from rank
 * @p src_rank to rank @p rank (@p nlocal workers each), as a full header in *mh (a short
 * one expanded); returns the bytes it takes, 0 when fewer remain. */
size_t tide__wire_header(const unsigned char *frame, size_t count, size_t pos, size_t src_rank,
                         size_t rank, size_t nlocal, struct tide__msg_hdr *mh);
/* The message at byte *pos of a checked frame (arguments as tide__wire_header): its header
 * in *mh; returns where its payload starts and moves *pos past it. */
size_t tide__wire_next(const unsigned char *frame, size_t count, size_t *pos, size_t src_rank,
                       size_t rank, size_t nlocal, struct tide__msg_hdr *mh);
/* A whole frame and every message header in it (tide__wire_frame and tide__wire_message);
 * when a message is wrong, its header is in *bad_msg and *at_msg is true. */
const char *tide__wire_check(const unsigned char *frame, size_t count, int src, size_t rank,
                             size_t nlocal, struct tide__msg_hdr *bad_msg, bool *at_msg);
/* The table of a split message's @p nbytes payload of @p nrecords records, for a rank of
 * @p nlocal workers: groups in increasing worker order, none empty, adding up to the
 * message. On success *ngroups is their number and *table_at the table's offset. */
const char *tide__wire_split(const void *payload, uint64_t nbytes, uint64_t nrecords,
                             size_t nlocal, uint64_t *ngroups, uint64_t *table_at);
/* Group @p k of a split table that tide__wire_split() passed. */
struct tide__split_entry tide__wire_split_group(const void *payload, uint64_t table_at,
                                                uint64_t k);
/* A large payload's own header against the announce that promised it. */
const char *tide__wire_same_announce(const struct tide__msg_hdr *announce,
                                     const struct tide__msg_hdr *payload);
/* @p nbytes of @p type's records claimed to be @p nrecords records (variable-length ones:
 * every length inside the bytes, and TIDE_STR's terminating NULs). */
const char *tide__wire_records(const tide_type *type, uint64_t nrecords, const void *data,
                               uint64_t nbytes);

/* Packs @p n progress changes (tide_change records) into @p out, which has @p cap bytes:
 * the location key as its two 32-bit halves, the time's depth and its coordinates, the
 * delta zigzagged, each a varint; a one-coordinate change takes 5 to 8 bytes of its 56.
 * Returns the bytes written, or 0 when they do not fit or a change has bits set that the
 * packing drops (a reserved field, coordinates past its depth): then send them as they are. */
size_t tide__wire_pack_changes(const void *changes, size_t n, unsigned char *out, size_t cap);
/* The changes of @p b (tide_change records) packed into *scratch, grown to *cap as needed;
 * *bytes long. NULL (and *bytes untouched) when @p b does not hold changes or packing would
 * not shorten them: then they go as they are. */
const unsigned char *tide__wire_pack_batch(const tide_batch *b, unsigned char **scratch,
                                           size_t *cap, size_t *bytes);
/* Unpacks @p n changes from the @p nbytes of @p in into @p out (room for @p n tide_change
 * records): every varint in its shortest form, every field in range, and the bytes used
 * exactly, so that packing what it gives yields @p in again. */
const char *tide__wire_unpack_changes(const void *in, uint64_t nbytes, uint64_t n, void *out);

_Static_assert(sizeof(struct tide__frame_hdr) % 8 == 0, "frame header keeps alignment");
_Static_assert(sizeof(struct tide__msg_hdr) % 8 == 0, "message header keeps alignment");

#endif
