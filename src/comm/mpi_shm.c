/* SPDX-License-Identifier: MIT */
/*
 * Small frames between ranks of one node through shared memory (--shm, on by default).
 *
 * Raw MPI's 8-byte one way between two ranks of this machine takes 0.16 us where a cache
 * line handed from one process to the other takes 0.05: the rest is MPI's own path
 * (request, matching, progress), and tide's driver paid it again on top of its own. So
 * the ranks of a node share one MPI window (MPI_Win_allocate_shared on the node's
 * communicator): each rank's part is a bell and one ring per sender of its node. A small
 * frame to a rank of the node is copied into its ring (a tree's casts and the flow
 * control's credits too: they are small frames); the receiver's pass reads the word
 * where each ring's next record starts (with more than SHM_NO_BELL ranks a node, only
 * when its bell changed). Frames keep their per-pair numbers (seq), which
 * small_complete() checks as for MPI's; a frame that finds its ring full waits in the
 * sending driver, in order. An announced payload of up to half a ring goes through it
 * too, after its announce, marked in its record's word; larger ones and ranks of other
 * nodes stay on MPI.
 *
 * Memory: a ring per pair of ranks of a node, SHM_RANK_BYTES per rank in all, a ring
 * between 128 KiB (a largest frame) and 1 MiB, so a node of many ranks has small rings.
 * Pages of a ring are touched only as it fills: a pair that never talks costs none.
 */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mpi_internal.h"

/* The rings of one rank together (before a ring's minimum, one largest frame). */
#define SHM_RANK_BYTES (4u << 20)
/* No ring larger: a ring holds what its receiver has not taken yet, which a waiting
 * sender's peer takes within a pass. */
#define SHM_RING_MAX (1u << 20)
#define CACHE_LINE 64

/* The start of every ring (and of a rank's part, where head is its bell). A ring's
 * records are a word, the lap of the ring it was written in (from 1) above its byte
 * count, then the frame, padded to 8 bytes; the receiver polls the word where the next
 * record starts, which the sender stores last (after zeroing the word past it): the
 * frame and the word it waits for come in one transfer, with no separate end to read.
 * Only the receiver's head is shared apart, and a sender reads it only when the ring
 * looks full by the head it saw last. */
struct shm_ring_hdr {
    _Alignas(CACHE_LINE) _Atomic uint64_t head; /* bytes taken, by the receiver */
};

struct tide__shm {
    MPI_Comm node;
    MPI_Win win;
    int nnode, me;
    size_t ring_bytes;          /* a power of two */
    int *node_of;               /* by rank: its index on this node, or -1 */
    int *rank_of;               /* by node index: its rank */
    unsigned char **to;         /* by node index: my ring in that rank's part */
    unsigned char **from;       /* by node index: that rank's ring in my part */
    _Atomic uint64_t **bells;   /* by node index: its bell */
    uint64_t *tail;             /* by node index: bytes I wrote to my ring there */
    uint64_t *seen;             /* by node index: its head when I last read it */
    struct tide__fifo *wait;    /* by node index: frames for it that found its ring full */
    size_t nwait;               /* frames in those queues */
    uint64_t rung;              /* my bell when last looked at */
    bool bell;                  /* rung by senders (large nodes); else every ring is read */
    bool more;                  /* the last poll left frames in a ring (SHM_TAKE) */
};

/* Up to this many ranks on a node, a receiver reads every ring's next word at each pass
 * (a cache line each, which stays shared until its sender writes) and a sender rings no
 * bell: an atomic add on a line the receiver is reading costs the sender more than the
 * receiver's reads. */
#define SHM_NO_BELL 8

/* Frames a pass takes from one ring at most (as many as the preposted receives MPI's
 * poll can complete, 4, would be too few for a ring's bursts of small frames). */
#define SHM_TAKE 32

static size_t ring_size(int nnode)
{
    size_t min = (size_t)TIDE__POST_BYTES + 64, r = 1;
    size_t want = SHM_RANK_BYTES / (size_t)nnode;
    if (want < min)
        want = min;
    if (want > SHM_RING_MAX)
        want = SHM_RING_MAX;
    while (r < want)
        r <<= 1;
    return r;
}

/* A rank's part, and a cache line to align it with: MPI gives 8-byte alignment (Open
 * MPI's parts start 8 bytes into a line), and a mapping keeps an address's offset in its
 * page, so every rank aligns a part it sees the same way. */
static size_t part_bytes(int nnode, size_t ring)
{
    return CACHE_LINE + sizeof(struct shm_ring_hdr) +
           (size_t)nnode * (sizeof(struct shm_ring_hdr) + ring);
}

static unsigned char *line_up(unsigned char *p)
{
    return p + ((CACHE_LINE - (uintptr_t)p % CACHE_LINE) % CACHE_LINE);
}

/* The rings outlive a transport: MPICH's MPI_Win_allocate_shared took 50 ms here
 * whatever the size (Open MPI's 0.2 ms), which every tide_execute would pay. The first
 * transport that uses them makes them; the next ones find them as the last left them
 * (every frame taken: a transport stops only when all have arrived); MPI_Finalize frees
 * them through an attribute of MPI_COMM_SELF, whose deletion comes first in it. Every
 * transport's communicator is a copy of MPI_COMM_WORLD, so the ranks stay the same. */
static struct tide__shm *kept;
static int kept_key = MPI_KEYVAL_INVALID;

static void shm_destroy(struct tide__shm *s)
{
    MPI_Win_unlock_all(s->win);
    MPI_Win_free(&s->win);
    MPI_Comm_free(&s->node);
    for (int i = 0; i < s->nnode; i++)
        tide__fifo_free_all(&s->wait[i]);
    free(s->node_of);
    free(s->rank_of);
    free(s->to);
    free(s->from);
    free(s->bells);
    free(s->tail);
    free(s->seen);
    free(s->wait);
    free(s);
}

static int shm_at_finalize(MPI_Comm comm, int key, void *value, void *extra)
{
    (void)comm, (void)key, (void)value, (void)extra;
    if (kept)
        shm_destroy(kept);
    kept = NULL;
    return MPI_SUCCESS;
}

/* Collective over @p node: the rings of this node's @p nnode ranks, this one @p me. */
static struct tide__shm *shm_create(struct tide__mpi *m, MPI_Comm node, int nnode, int me)
{
    struct tide__shm *s = calloc(1, sizeof *s);
    if (!s)
        tide__fatal("out of memory setting up shared memory on rank %d", m->rank);
    s->node = node;
    s->nnode = nnode;
    s->me = me;
    s->ring_bytes = ring_size(nnode);
    s->bell = nnode > SHM_NO_BELL;
    size_t bytes = part_bytes(nnode, s->ring_bytes);
    unsigned char *mine;
    MPI_Info info;
    MPI_Info_create(&info);
    /* each rank's part on its own pages, near the rank that reads it */
    MPI_Info_set(info, "alloc_shared_noncontig", "true");
    if (MPI_Win_allocate_shared((MPI_Aint)bytes, 1, info, node, &mine, &s->win) !=
        MPI_SUCCESS)
        tide__fatal("rank %d: MPI_Win_allocate_shared of %zu bytes failed", m->rank, bytes);
    MPI_Info_free(&info);
    mine = line_up(mine);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    s->node_of = malloc((size_t)m->ranks * sizeof *s->node_of);
    s->rank_of = malloc((size_t)nnode * sizeof *s->rank_of);
    s->to = malloc((size_t)nnode * sizeof *s->to);
    s->from = malloc((size_t)nnode * sizeof *s->from);
    s->bells = malloc((size_t)nnode * sizeof *s->bells);
    s->tail = calloc((size_t)nnode, sizeof *s->tail);
    s->seen = calloc((size_t)nnode, sizeof *s->seen);
    s->wait = calloc((size_t)nnode, sizeof *s->wait);
    if (!s->node_of || !s->rank_of || !s->to || !s->from || !s->bells || !s->tail || !s->seen ||
        !s->wait)
        tide__fatal("out of memory setting up shared memory on rank %d", m->rank);
    /* The indices and the first word of every ring zero before any rank writes (MPI does
     * not promise a zeroed window); a sender zeroes each later word before the receiver
     * reaches it, so the rest is left untouched until used. */
    size_t stride = sizeof(struct shm_ring_hdr) + s->ring_bytes;
    memset(mine, 0, sizeof(struct shm_ring_hdr));
    for (int i = 0; i < nnode; i++)
        memset(mine + sizeof(struct shm_ring_hdr) + (size_t)i * stride, 0,
               sizeof(struct shm_ring_hdr) + 8);
    MPI_Win_sync(s->win);
    if (MPI_Allgather(&m->rank, 1, MPI_INT, s->rank_of, 1, MPI_INT, node) != MPI_SUCCESS)
        tide__fatal("rank %d: MPI_Allgather on the node failed", m->rank);
    for (int r = 0; r < m->ranks; r++)
        s->node_of[r] = -1;
    for (int i = 0; i < nnode; i++) {
        s->node_of[s->rank_of[i]] = i;
        MPI_Aint size;
        int unit;
        unsigned char *part;
        MPI_Win_shared_query(s->win, i, &size, &unit, &part);
        part = line_up(part);
        s->bells[i] = &((struct shm_ring_hdr *)(void *)part)->head;
        unsigned char *rings = part + sizeof(struct shm_ring_hdr);
        s->to[i] = rings + (size_t)me * stride;
        s->from[i] = mine + sizeof(struct shm_ring_hdr) + (size_t)i * stride;
    }
    MPI_Win_sync(s->win);
    MPI_Barrier(node); /* zeroed everywhere before any rank sends */
    if (kept_key == MPI_KEYVAL_INVALID &&
        MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, shm_at_finalize, &kept_key, NULL) !=
            MPI_SUCCESS)
        tide__fatal("rank %d: MPI_Comm_create_keyval failed", m->rank);
    MPI_Comm_set_attr(MPI_COMM_SELF, kept_key, s);
    return s;
}

void tide__mpi_shm_init(struct tide__mpi *m, bool want)
{
    MPI_Comm node;
    int nnode, me, wanted = want, all = 0;
    if (kept) {
        node = kept->node;
    } else if (MPI_Comm_split_type(m->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) !=
               MPI_SUCCESS) {
        tide__fatal("rank %d: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) failed", m->rank);
    }
    MPI_Comm_size(node, &nnode);
    MPI_Comm_rank(node, &me);
    /* a node's rings are every rank's there or none (collective whether kept or not: the
     * ranks of a node made them together, or none did) */
    if (MPI_Allreduce(&wanted, &all, 1, MPI_INT, MPI_LAND, node) != MPI_SUCCESS)
        tide__fatal("rank %d: MPI_Allreduce on the node failed", m->rank);
    if (nnode < 2 || !all) {
        if (!kept)
            MPI_Comm_free(&node);
        return;
    }
    if (!kept)
        kept = shm_create(m, node, nnode, me);
    struct tide__shm *s = m->shm = kept;
    tide__mpi_peer_bytes(m, (int64_t)((size_t)m->ranks * sizeof *s->node_of +
                                      (size_t)nnode * (sizeof *s->rank_of + sizeof *s->to +
                                                       sizeof *s->from + sizeof *s->bells +
                                                       sizeof *s->tail + sizeof *s->seen +
                                                       sizeof *s->wait)));
}

void tide__mpi_shm_free(struct tide__mpi *m)
{
    struct tide__shm *s = m->shm;
    if (!s)
        return;
    if (s->nwait)
        tide__fatal("rank %d: %zu frames still wait for room in a shared ring at the end",
                    m->rank, s->nwait);
    m->shm = NULL; /* kept for the next transport (see kept) */
}

/* Frames this large are written to a ring past the caches (below). */
#define SHM_STREAM (16u << 10)

/* Copies @p n bytes to @p dst with stores that bypass the caches, fenced, where the
 * machine has them. A large frame's lines were last read by the receiver, so ordinary
 * stores must take each line back from the receiver's cache first: comm_bench's stream of
 * 64 KiB batches ran at 2-3 GB/s in about one run in six (the two cores' caches farther
 * apart, the likely reason on this VM, whose cores the host places anew), 9-21 GB/s in
 * the others; with these stores, 10.9-16.2 GB/s in 30 runs of 30. The fence orders them
 * before the record's word. */
static void copy_past_caches(unsigned char *dst, const unsigned char *src, size_t n)
{
#if defined(__SSE2__)
    size_t lead = (16 - (uintptr_t)dst % 16) % 16;
    if (lead > n)
        lead = n;
    memcpy(dst, src, lead);
    dst += lead, src += lead, n -= lead;
    for (; n >= 64; n -= 64, dst += 64, src += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + 48));
        _mm_stream_si128((__m128i *)(void *)dst, a);
        _mm_stream_si128((__m128i *)(void *)(dst + 16), b);
        _mm_stream_si128((__m128i *)(void *)(dst + 32), c);
        _mm_stream_si128((__m128i *)(void *)(dst + 48), d);
    }
    memcpy(dst, src, n);
    _mm_sfence();
#else
    memcpy(dst, src, n);
#endif
}

/* Copies @p n bytes into / out of a ring at byte position @p at, wrapping at its end. */
static void ring_write(unsigned char *data, size_t size, uint64_t at, const void *src, size_t n)
{
    size_t off = (size_t)(at & (size - 1)), first = size - off < n ? size - off : n;
    if (n >= SHM_STREAM) {
        copy_past_caches(data + off, src, first);
        copy_past_caches(data, (const unsigned char *)src + first, n - first);
        return;
    }
    memcpy(data + off, src, first);
    memcpy(data, (const unsigned char *)src + first, n - first);
}

static void ring_read(const unsigned char *data, size_t size, uint64_t at, void *dst, size_t n)
{
    size_t off = (size_t)(at & (size - 1)), first = size - off < n ? size - off : n;
    memcpy(dst, data + off, first);
    memcpy((unsigned char *)dst + first, data, n - first);
}

static _Atomic uint64_t *ring_word(const unsigned char *data, size_t size, uint64_t at)
{
    return (_Atomic uint64_t *)(void *)(data + (at & (size - 1)));
}

/* The word that starts a record written at byte @p at of a ring of @p size bytes. */
static uint64_t record_word(uint64_t at, size_t size, uint64_t len)
{
    return (((at / size + 1) & 0xffffffffu) << 32) | len;
}

/* In a record's byte count: the record is an announced payload, not a small frame. */
#define SHM_PAYLOAD (1u << 31)

/* (mpi_internal.h) Up to half a ring: a payload then never waits for more room than the
 * ring has, and small frames still fit beside it. */
bool tide__mpi_shm_carries(const struct tide__mpi *m, int rank, size_t bytes)
{
    const struct tide__shm *s = m->shm;
    return s && s->node_of[rank] >= 0 && 8 + TIDE__PAD8(bytes) + 8 <= s->ring_bytes / 2;
}

/* Writes frame @p f to ring @p i if it has room for it (and for the next record's word). */
static bool ring_put(struct tide__shm *s, int i, tide_batch *f)
{
    uint64_t tail = s->tail[i], len = f->bytes, need = 8 + TIDE__PAD8(len);
    size_t size = s->ring_bytes;
    if (need + 8 > size - (tail - s->seen[i])) {
        struct shm_ring_hdr *h = (struct shm_ring_hdr *)(void *)s->to[i];
        s->seen[i] = atomic_load_explicit(&h->head, memory_order_acquire);
        if (need + 8 > size - (tail - s->seen[i]))
            return false;
    }
    unsigned char *data = s->to[i] + sizeof(struct shm_ring_hdr);
    ring_write(data, size, tail + 8, f->base, (size_t)len);
    /* Where the next record's word will be, a zero: that place held a lap ago whatever
     * was written there then (a frame's bytes, which could look like a word of this lap),
     * and the receiver must find nothing there until the next record is written. */
    atomic_store_explicit(ring_word(data, size, tail + need), 0, memory_order_relaxed);
    uint64_t kind = f->mpi_tag == TIDE__TAG_RING ? SHM_PAYLOAD : 0;
    atomic_store_explicit(ring_word(data, size, tail), record_word(tail, size, len | kind),
                          memory_order_release);
    s->tail[i] = tail + need;
    if (s->bell)
        atomic_fetch_add_explicit(s->bells[i], 1, memory_order_release);
    return true;
}

bool tide__mpi_shm_send(struct tide__mpi *m, tide_batch *f)
{
    struct tide__shm *s = m->shm;
    int i = s->node_of[f->peer_rank];
    if (i < 0)
        return false;
    /* A full ring's frames wait here, in order, rather than go by MPI: the receiver
     * would hold every later frame from the ring until MPI's came (a search per frame
     * in its list of early ones), and a stream fills its ring all the time. */
    if (s->wait[i].head || !ring_put(s, i, f)) {
        tide__fifo_put(&s->wait[i], f);
        s->nwait++;
        m->stats.shm_waits++;
        return true;
    }
    tide__mpi_frame_sent(m, f);
    return true;
}

bool tide__mpi_shm_flush(struct tide__mpi *m)
{
    struct tide__shm *s = m->shm;
    bool moved = false;
    for (int i = 0; s->nwait && i < s->nnode; i++) {
        tide_batch *f;
        while (s->wait[i].head && ring_put(s, i, s->wait[i].head)) {
            f = tide__fifo_take(&s->wait[i]);
            s->nwait--;
            tide__mpi_frame_sent(m, f);
            moved = true;
        }
    }
    return moved;
}

size_t tide__mpi_shm_waiting(const struct tide__mpi *m)
{
    return m->shm ? m->shm->nwait : 0;
}

bool tide__mpi_shm_poll(struct tide__mpi *m, const struct tide__shm_sink *sink)
{
    struct tide__shm *s = m->shm;
    if (s->bell) {
        uint64_t rung = atomic_load_explicit(s->bells[s->me], memory_order_acquire);
        if (rung == s->rung && !s->more)
            return false;
        s->rung = rung;
    }
    s->more = false;
    bool any = false;
    size_t size = s->ring_bytes;
    for (int i = 0; i < s->nnode; i++) {
        if (i == s->me)
            continue;
        struct shm_ring_hdr *h = (struct shm_ring_hdr *)(void *)s->from[i];
        const unsigned char *data = s->from[i] + sizeof *h;
        uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
        /* A bounded share per pass: a ring its sender keeps filling would otherwise hold
         * the pass (and the rank's own sends behind it) for the whole stream (mpi_comm's
         * shm_used under ASan with a communication thread: a rank took all 2313 of its
         * peer's frames before posting one of its own). */
        for (int taken = 0;; taken++) {
            uint64_t w = atomic_load_explicit(ring_word(data, size, head), memory_order_acquire);
            if (!w)
                break;
            if (taken == SHM_TAKE) {
                s->more = true; /* looked at again next pass, bell or not */
                break;
            }
            uint64_t len = w & ~(uint64_t)SHM_PAYLOAD & 0xffffffffu;
            bool payload = w & SHM_PAYLOAD;
            if (w >> 32 != record_word(head, size, 0) >> 32 ||
                (payload ? len < TIDE__HEADROOM || !tide__mpi_shm_carries(m, s->rank_of[i], len)
                         : len > TIDE__POST_BYTES))
                tide__fatal("rank %d: the shared ring from rank %d is corrupt at byte %llu "
                            "(word %#llx: a lap other than %llu, or a size no record has)",
                            m->rank, s->rank_of[i], (unsigned long long)head,
                            (unsigned long long)w,
                            (unsigned long long)(record_word(head, size, 0) >> 32));
            tide_batch *buf;
            if (payload) {
                unsigned char hdrs[TIDE__HEADROOM];
                ring_read(data, size, head + 8, hdrs, sizeof hdrs);
                buf = sink->payload_buffer(m, s->rank_of[i], hdrs, (size_t)len);
            } else {
                buf = tide__mpi_pool_get(m, TIDE__POST_BYTES);
            }
            ring_read(data, size, head + 8, buf->base, (size_t)len);
            head += 8 + TIDE__PAD8(len);
            /* given back before the frame is handled: handling it may send to that rank */
            atomic_store_explicit(&h->head, head, memory_order_release);
            (payload ? sink->payload : sink->frame)(m, buf, (size_t)len, s->rank_of[i]);
            any = true;
        }
    }
    return any;
}
