/* SPDX-License-Identifier: MIT */
/*
 * Checks of what arrives from other ranks (and from capture files), kept free of MPI and of
 * the transport's state so that they can be fuzzed on their own (tests/fuzz_wire.c). Every
 * length is compared without arithmetic that can wrap: a peer or a file controls them all.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"
#include "wire_internal.h"

const char *tide__wire_frame(const void *frame, size_t count, int src)
{
    if (count < sizeof(struct tide__frame_hdr) + sizeof(struct tide__short_cast))
        return "shorter than its headers";
    struct tide__frame_hdr fh;
    memcpy(&fh, frame, sizeof fh);
    if (fh.magic != TIDE__FRAME_MAGIC)
        return "bad magic number (not a tide frame)";
    if (fh.bytes != count || (int64_t)fh.src_rank != (int64_t)src || fh.nmsgs == 0)
        return "header disagrees with what arrived";
    /* every message has at least a header, a short one at the least */
    if (fh.nmsgs > (count - sizeof fh) / sizeof(struct tide__short_cast))
        return "more messages than the frame has room for";
    return NULL;
}

const char *tide__wire_message(const struct tide__msg_hdr *mh, size_t room, size_t rank,
                               size_t src_rank, size_t nlocal)
{
    size_t lo = rank * nlocal, src_lo = src_rank * nlocal;
    if (mh->dst < lo || mh->dst - lo >= nlocal)
        return "target worker not on this rank";
    if (mh->src < src_lo || mh->src - src_lo >= nlocal)
        return "source worker not on the sending rank";
    if (mh->channel >= TIDE__MAX_CHANNELS)
        return "a channel id past the channels a job may allocate";
    if (mh->flags & ~(uint32_t)(TIDE__MSG_ANNOUNCE | TIDE__MSG_FANOUT | TIDE__MSG_SPLIT |
                                TIDE__MSG_CREDIT | TIDE__MSG_PACKED))
        return "unknown flags";
    /* Unpacked, a cast must stay within what one large message may carry. */
    if (mh->flags & TIDE__MSG_PACKED &&
        (!(mh->flags & TIDE__MSG_FANOUT) || mh->nrecords > mh->nbytes / TIDE__PACKED_MIN ||
         mh->nrecords > TIDE__WIRE_MAX_LARGE / sizeof(tide_change)))
        return "packed changes that are not a rank cast, or more than their bytes can hold";
    if (mh->flags & TIDE__MSG_CREDIT &&
        (mh->flags != TIDE__MSG_CREDIT || mh->dst != lo || mh->src != src_lo ||
         mh->nbytes || mh->nrecords || !mh->seq))
        return "a credit that is not alone, between the ranks' first workers, for some bytes";
    if (mh->flags & TIDE__MSG_FANOUT && (mh->dst != lo || mh->src != src_lo))
        return "a rank cast not between the ranks' first workers";
    if (mh->flags & TIDE__MSG_SPLIT && (mh->flags & TIDE__MSG_FANOUT || mh->dst != lo))
        return "records for several workers not addressed to the rank's first worker";
    /* An announced payload comes later in a buffer of its own, bounded by what one MPI
     * message can carry; anything else must fit in the rest of its frame. */
    uint64_t limit = mh->flags & TIDE__MSG_ANNOUNCE ? TIDE__WIRE_MAX_LARGE : room;
    if (mh->nbytes > limit || TIDE__PAD8(mh->nbytes) > limit)
        return mh->flags & TIDE__MSG_ANNOUNCE ? "announced batch too large for one MPI message"
                                             : "claims more bytes than its frame holds";
    return NULL;
}

/* Whether a message with header @p mh travels with a short header. */
static bool wire_short(const struct tide__msg_hdr *mh)
{
    if (mh->flags != (TIDE__MSG_FANOUT | TIDE__MSG_PACKED) || mh->channel & TIDE__SHORT_CAST ||
        mh->nrecords > UINT32_MAX || mh->nbytes > UINT32_MAX)
        return false;
    for (int i = 1; i < TIDE_BATCH_META; i++)
        if (mh->meta[i])
            return false;
    return true;
}

size_t tide__wire_header_bytes(const struct tide__msg_hdr *mh)
{
    return wire_short(mh) ? sizeof(struct tide__short_cast) : sizeof *mh;
}

size_t tide__wire_put_header(const struct tide__msg_hdr *mh, void *at)
{
    if (!wire_short(mh)) {
        memcpy(at, mh, sizeof *mh);
        return sizeof *mh;
    }
    struct tide__short_cast sc = { mh->channel | TIDE__SHORT_CAST, mh->type_tag, mh->seq,
                                   (uint32_t)mh->nrecords, (uint32_t)mh->nbytes, mh->meta[0] };
    memcpy(at, &sc, sizeof sc);
    return sizeof sc;
}

size_t tide__wire_header(const unsigned char *frame, size_t count, size_t pos, size_t src_rank,
                         size_t rank, size_t nlocal, struct tide__msg_hdr *mh)
{
    uint32_t first;
    if (pos > count || count - pos < sizeof first)
        return 0;
    memcpy(&first, frame + pos, sizeof first);
    if (!(first & TIDE__SHORT_CAST)) {
        if (count - pos < sizeof *mh)
            return 0;
        memcpy(mh, frame + pos, sizeof *mh);
        return sizeof *mh;
    }
    struct tide__short_cast sc;
    if (count - pos < sizeof sc)
        return 0;
    memcpy(&sc, frame + pos, sizeof sc);
    *mh = (struct tide__msg_hdr){ sc.channel & ~TIDE__SHORT_CAST, (uint32_t)(src_rank * nlocal),
                                  (uint32_t)(rank * nlocal), sc.type_tag, sc.seq, sc.nrecords,
                                  sc.nbytes, TIDE__MSG_FANOUT | TIDE__MSG_PACKED, 0, { 0 } };
    mh->meta[0] = sc.meta0;
    return sizeof sc;
}

size_t tide__wire_next(const unsigned char *frame, size_t count, size_t *pos, size_t src_rank,
                       size_t rank, size_t nlocal, struct tide__msg_hdr *mh)
{
    size_t data = *pos + tide__wire_header(frame, count, *pos, src_rank, rank, nlocal, mh);
    *pos = data + (mh->flags & TIDE__MSG_ANNOUNCE ? 0 : TIDE__PAD8(mh->nbytes));
    return data;
}

const char *tide__wire_check(const unsigned char *frame, size_t count, int src, size_t rank,
                             size_t nlocal, struct tide__msg_hdr *bad_msg, bool *at_msg)
{
    *at_msg = false;
    const char *bad = tide__wire_frame(frame, count, src);
    if (bad)
        return bad;
    struct tide__frame_hdr fh;
    memcpy(&fh, frame, sizeof fh);
    size_t pos = sizeof fh;
    for (uint32_t k = 0; k < fh.nmsgs; k++) {
        size_t hb = tide__wire_header(frame, count, pos, (size_t)src, rank, nlocal, bad_msg);
        if (!hb)
            return "message header past the end";
        *at_msg = true;
        if ((bad = tide__wire_message(bad_msg, count - pos - hb, rank, (size_t)src, nlocal)))
            return bad;
        if (bad_msg->flags & TIDE__MSG_CREDIT && fh.nmsgs != 1)
            return "a credit with other messages in its frame";
        uint64_t groups, at;
        if (bad_msg->flags & TIDE__MSG_SPLIT && !(bad_msg->flags & TIDE__MSG_ANNOUNCE) &&
            (bad = tide__wire_split(frame + pos + hb, bad_msg->nbytes, bad_msg->nrecords, nlocal,
                                    &groups, &at)))
            return bad;
        *at_msg = false;
        /* within count: tide__wire_message checked the length */
        pos += hb + (bad_msg->flags & TIDE__MSG_ANNOUNCE ? 0 : TIDE__PAD8(bad_msg->nbytes));
    }
    return NULL;
}

struct tide__split_entry tide__wire_split_group(const void *payload, uint64_t table_at,
                                                uint64_t k)
{
    struct tide__split_entry e;
    memcpy(&e, (const unsigned char *)payload + table_at + k * sizeof e, sizeof e);
    return e;
}

const char *tide__wire_split(const void *payload, uint64_t nbytes, uint64_t nrecords,
                             size_t nlocal, uint64_t *ngroups, uint64_t *table_at)
{
    uint64_t n;
    if (nbytes < sizeof n || nbytes % 8)
        return "a split message without its table";
    memcpy(&n, (const unsigned char *)payload + nbytes - sizeof n, sizeof n);
    if (n == 0 || n > nlocal || n > (nbytes - sizeof n) / sizeof(struct tide__split_entry))
        return "a split table with a bad number of groups";
    uint64_t at = nbytes - TIDE__SPLIT_TABLE(n), records = 0, bytes = 0;
    for (uint64_t k = 0; k < n; k++) {
        struct tide__split_entry e = tide__wire_split_group(payload, at, k);
        if (e.local >= nlocal || (k && e.local <= tide__wire_split_group(payload, at, k - 1).local))
            return "a split table whose workers are not in order on the rank";
        if (e.nrecords == 0 || e.nrecords > nrecords - records || e.nbytes > at - bytes)
            return "a split table whose groups do not add up to the message";
        records += e.nrecords;
        bytes += e.nbytes;
    }
    if (records != nrecords || TIDE__PAD8(bytes) != at)
        return "a split table whose groups do not add up to the message";
    *ngroups = n;
    *table_at = at;
    return NULL;
}

const char *tide__wire_same_announce(const struct tide__msg_hdr *announce,
                                     const struct tide__msg_hdr *payload)
{
    if (payload->flags & TIDE__MSG_ANNOUNCE)
        return "a large payload flagged as an announce";
    if (payload->channel != announce->channel || payload->src != announce->src ||
        payload->dst != announce->dst || payload->type_tag != announce->type_tag ||
        payload->seq != announce->seq || payload->nrecords != announce->nrecords ||
        payload->nbytes != announce->nbytes ||
        payload->flags != (announce->flags & ~TIDE__MSG_ANNOUNCE))
        return "a large payload whose header differs from its announce";
    return NULL;
}

const char *tide__wire_records(const tide_type *type, uint64_t nrecords, const void *data,
                               uint64_t nbytes)
{
    if (type->size) {
        if (nbytes % type->size != 0 || nbytes / type->size != nrecords)
            return "its length is not its number of records";
        return NULL;
    }
    const unsigned char *p = data;
    uint64_t at = 0, n = 0;
    while (at < nbytes) {
        if (nbytes - at < 4)
            return "a record length cut off at the end of the batch";
        uint32_t len;
        memcpy(&len, p + at, 4);
        if (len > nbytes - at - 4 || tide__var_record_bytes(len) > nbytes - at)
            return "a record longer than the rest of the batch";
        if (!tide_type_valid_encoding(type, p + at + 4, len))
            return type == &tide_type_str ? "a string without its terminating NUL"
                                          : "a record its type cannot decode";
        at += tide__var_record_bytes(len);
        n++;
    }
    if (n != nrecords)
        return "its number of records differs from its header's";
    return NULL;
}

/* ---------------------------------------------------------------- packed progress changes */

static unsigned char *put_varint(unsigned char *at, uint64_t v)
{
    while (v >= 0x80) {
        *at++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *at++ = (unsigned char)v;
    return at;
}

size_t tide__wire_pack_changes(const void *changes, size_t n, unsigned char *out, size_t cap)
{
    const unsigned char *in = changes;
    unsigned char *at = out;
    for (size_t i = 0; i < n; i++) {
        tide_change c;
        memcpy(&c, in + i * sizeof c, sizeof c);
        if (c.time.depth > TIDE_TIME_MAX_DEPTH || c.time.reserved)
            return 0;
        for (uint32_t d = c.time.depth; d < TIDE_TIME_MAX_DEPTH; d++)
            if (c.time.c[d])
                return 0;
        unsigned char one[TIDE__PACKED_MAX], *e = one;
        e = put_varint(e, c.key >> 32);
        e = put_varint(e, c.key & 0xffffffffu);
        *e++ = (unsigned char)c.time.depth;
        for (uint32_t d = 0; d < c.time.depth; d++)
            e = put_varint(e, c.time.c[d]);
        e = put_varint(e, (uint64_t)c.delta << 1 ^ (c.delta < 0 ? UINT64_MAX : 0));
        size_t len = (size_t)(e - one);
        if (len > cap - (size_t)(at - out))
            return 0;
        memcpy(at, one, len);
        at += len;
    }
    return (size_t)(at - out);
}

/* A varint of at most @p bits bits at *at (before @p end), in its shortest form. */
static const char *get_varint(const unsigned char **at, const unsigned char *end,
                              unsigned bits, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (*at == end)
            return "packed changes cut off";
        unsigned char b = *(*at)++;
        if (shift >= bits || (b & 0x7f) >> (bits - shift < 7 ? bits - shift : 7))
            return "a packed number too large for its field";
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (!b && shift)
                return "a packed number not in its shortest form";
            *v = x;
            return NULL;
        }
    }
}

const unsigned char *tide__wire_pack_batch(const tide_batch *b, unsigned char **scratch,
                                           size_t *cap, size_t *bytes)
{
    if (b->bytes != b->len * sizeof(tide_change))
        return NULL;
    if (*cap < b->bytes) {
        unsigned char *p = realloc(*scratch, b->bytes);
        if (!p)
            return NULL; /* sent as it is */
        *scratch = p;
        *cap = b->bytes;
    }
    size_t n = tide__wire_pack_changes(tide__batch_data(b), b->len, *scratch, b->bytes);
    if (!n)
        return NULL;
    *bytes = n;
    return *scratch;
}

const char *tide__wire_unpack_changes(const void *in, uint64_t nbytes, uint64_t n, void *out)
{
    const unsigned char *at = in, *end = at + nbytes;
    unsigned char *to = out;
    for (uint64_t i = 0; i < n; i++) {
        tide_change c = { 0 };
        uint64_t hi, lo, z;
        const char *bad;
        if ((bad = get_varint(&at, end, 32, &hi)) || (bad = get_varint(&at, end, 32, &lo)))
            return bad;
        c.key = hi << 32 | lo;
        if (at == end)
            return "packed changes cut off";
        c.time.depth = *at++;
        if (c.time.depth > TIDE_TIME_MAX_DEPTH)
            return "a packed time deeper than TIDE_TIME_MAX_DEPTH";
        for (uint32_t d = 0; d < c.time.depth; d++)
            if ((bad = get_varint(&at, end, 64, &c.time.c[d])))
                return bad;
        if ((bad = get_varint(&at, end, 64, &z)))
            return bad;
        c.delta = (int64_t)(z >> 1 ^ (z & 1 ? UINT64_MAX : 0));
        memcpy(to + i * sizeof c, &c, sizeof c);
    }
    return at == end ? NULL : "packed changes with bytes left over";
}
