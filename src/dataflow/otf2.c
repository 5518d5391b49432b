/* SPDX-License-Identifier: MIT */
/* --trace FILE.otf2: the event log as an OTF2 archive, for Vampir and the Score-P tools.
 * Worker 0 writes it alone at the end from every worker's events (trace.c gathers them),
 * with OTF2's serial collectives: one location (a CPU thread) per worker, one location
 * group (a process) per rank, a region per operator name and one for parks; an operator
 * run is an Enter and a Leave, a message between workers an MpiSend at its sender and an
 * MpiRecv at its receiver, on one communicator of all workers (ranks in it are worker
 * indices) with the channel as tag. Events of one worker were recorded in the order their
 * runs ended, so they are sorted into time order per location first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <otf2/otf2.h>

#include "dataflow_internal.h"
#include "trace_internal.h"

/* What one location's event stream holds, in time order. */
enum { REC_LEAVE, REC_ENTER, REC_SEND, REC_RECV }; /* ties: a run ends before the next */
struct rec {
    uint64_t ts;
    uint32_t what, region; /* REC_*; region, or the peer worker for a message */
    const struct tide__trace_event *e;
};

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->what > y->what) - (x->what < y->what);
}

/* The archive's directory and name: "DIR/NAME.otf2" -> DIR, NAME. */
static void split_path(const char *path, char **dir, char **name)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    const char *base = slash ? slash + 1 : path;
    *dir = slash ? strndup(path, dlen ? dlen : 1) : strdup(".");
    *name = strndup(base, strlen(base) - 5); /* config.c saw the ".otf2" */
    if (!*dir || !*name)
        tide__fatal("out of memory writing the trace");
}

void tide__otf2_check(const char *path)
{
    char *dir, *name;
    split_path(path, &dir, &name);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *archive = malloc(n);
    if (!archive)
        tide__fatal("out of memory writing the trace");
    snprintf(archive, n, "%s/%s", dir, name);
    struct stat st;
    /* OTF2 will not write over an archive: say so now, not after the run */
    if (stat(path, &st) == 0 || stat(archive, &st) == 0)
        tide__fatal("--trace: '%s' (or its directory '%s') exists already: remove both or "
                    "choose another name", path, archive);
    if (access(dir, W_OK) != 0)
        tide__fatal("--trace: cannot write '%s': %s", path, strerror(errno));
    free(archive);
    free(dir);
    free(name);
}

static OTF2_FlushType pre_flush(void *u, OTF2_FileType type, OTF2_LocationRef loc,
                                void *caller, bool final)
{
    (void)u, (void)type, (void)loc, (void)caller, (void)final;
    return OTF2_FLUSH;
}

static OTF2_TimeStamp post_flush(void *u, OTF2_FileType type, OTF2_LocationRef loc)
{
    (void)u, (void)type, (void)loc;
    return 0;
}

static void check(OTF2_ErrorCode rc, const char *path, const char *what)
{
    if (rc != OTF2_SUCCESS)
        tide__fatal("--trace %s: %s failed: %s", path, what, OTF2_Error_GetDescription(rc));
}

/* The string table: each distinct string once (names of all workers' tables merge). */
struct strings {
    char **s;
    size_t n, cap;
};

static uint32_t intern(struct strings *t, const char *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->s[i], s) == 0)
            return (uint32_t)i;
    tide__reserve(&t->s, &t->cap, t->n + 1, sizeof *t->s);
    if (!(t->s[t->n] = strdup(s)))
        tide__fatal("out of memory writing the trace");
    return (uint32_t)t->n++;
}

/* One location's events into @p out (time order); returns how many. */
static size_t location_records(const struct tide__trace_part *p, const uint32_t *region,
                               uint32_t park, struct rec *out)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct tide__trace_event *e = &p->ev[i];
        switch (e->kind) {
        case TIDE__EV_OP:
        case TIDE__EV_PARK: {
            uint32_t r = e->kind == TIDE__EV_PARK ? park : region[e->name];
            out[n++] = (struct rec){ e->ts, REC_ENTER, r, e };
            out[n++] = (struct rec){ e->ts + e->dur, REC_LEAVE, r, e };
            break;
        }
        case TIDE__EV_SEND:
        case TIDE__EV_RECV:
            out[n++] = (struct rec){ e->ts, e->kind == TIDE__EV_SEND ? REC_SEND : REC_RECV,
                                     e->peer, e };
            break;
        default: /* queue samples: JSON only */
            break;
        }
    }
    qsort(out, n, sizeof *out, rec_cmp);
    return n;
}

void tide__otf2_write(const char *path, size_t ranks, size_t peers,
                      const struct tide__trace_part *parts)
{
    char *dir, *name;
    split_path(path, &dir, &name);
    OTF2_Archive *ar = OTF2_Archive_Open(dir, name, OTF2_FILEMODE_WRITE,
                                         OTF2_CHUNK_SIZE_EVENTS_DEFAULT,
                                         OTF2_CHUNK_SIZE_DEFINITIONS_DEFAULT,
                                         OTF2_SUBSTRATE_POSIX, OTF2_COMPRESSION_NONE);
    if (!ar)
        tide__fatal("--trace %s: OTF2 cannot create the archive", path);
    OTF2_FlushCallbacks flush = { pre_flush, post_flush };
    check(OTF2_Archive_SetFlushCallbacks(ar, &flush, NULL), path, "setting up");
    check(OTF2_Archive_SetSerialCollectiveCallbacks(ar), path, "setting up");
    check(OTF2_Archive_SetCreator(ar, "tide"), path, "setting up");
    check(OTF2_Archive_OpenEvtFiles(ar), path, "opening the event files");

    /* regions: one per distinct operator name, and parks */
    struct strings str = { 0 };
    size_t maxn = 0;
    uint32_t park = intern(&str, "park");
    uint32_t **region = calloc(peers, sizeof *region);
    if (!region)
        tide__fatal("out of memory writing the trace");
    for (size_t k = 0; k < peers; k++) {
        if (!(region[k] = malloc((parts[k].nnames ? parts[k].nnames : 1) * sizeof **region)))
            tide__fatal("out of memory writing the trace");
        for (size_t i = 0; i < parts[k].nnames; i++)
            region[k][i] = intern(&str, parts[k].names[i]);
        if (parts[k].n > maxn)
            maxn = parts[k].n;
    }
    uint32_t nregions = (uint32_t)str.n; /* strings 0 .. nregions - 1 name the regions */
    for (size_t k = 0; k < peers; k++)
        for (size_t i = 0; i < parts[k].n; i++)
            if ((parts[k].ev[i].kind == TIDE__EV_OP && parts[k].ev[i].name >= parts[k].nnames) ||
                parts[k].ev[i].peer >= peers)
                tide__fatal("--trace: a malformed event from worker %zu", k);

    struct rec *recs = malloc((2 * maxn + 1) * sizeof *recs);
    uint64_t *nevents = calloc(peers, sizeof *nevents), end = 0;
    if (!recs || !nevents)
        tide__fatal("out of memory writing the trace");
    for (size_t k = 0; k < peers; k++) {
        size_t n = location_records(&parts[k], region[k], park, recs);
        OTF2_EvtWriter *ew = OTF2_Archive_GetEvtWriter(ar, (OTF2_LocationRef)k);
        if (!ew)
            tide__fatal("--trace %s: OTF2 gives no event writer", path);
        for (size_t i = 0; i < n; i++) {
            const struct rec *r = &recs[i];
            const struct tide__trace_event *e = r->e;
            OTF2_ErrorCode rc;
            if (r->what == REC_ENTER)
                rc = OTF2_EvtWriter_Enter(ew, NULL, r->ts, r->region);
            else if (r->what == REC_LEAVE)
                rc = OTF2_EvtWriter_Leave(ew, NULL, r->ts, r->region);
            else if (r->what == REC_SEND)
                rc = OTF2_EvtWriter_MpiSend(ew, NULL, r->ts, r->region, 0,
                                            TIDE__EV_CHANNEL(e), TIDE__EV_BYTES(e));
            else
                rc = OTF2_EvtWriter_MpiRecv(ew, NULL, r->ts, r->region, 0,
                                            TIDE__EV_CHANNEL(e), TIDE__EV_BYTES(e));
            check(rc, path, "writing an event");
            if (r->ts > end)
                end = r->ts;
        }
        nevents[k] = n;
        check(OTF2_Archive_CloseEvtWriter(ar, ew), path, "closing an event writer");
    }
    check(OTF2_Archive_CloseEvtFiles(ar), path, "closing the event files");
    check(OTF2_Archive_OpenDefFiles(ar), path, "opening the definition files");
    for (size_t k = 0; k < peers; k++) {
        OTF2_DefWriter *dw = OTF2_Archive_GetDefWriter(ar, (OTF2_LocationRef)k);
        if (!dw)
            tide__fatal("--trace %s: OTF2 gives no definition writer", path);
        check(OTF2_Archive_CloseDefWriter(ar, dw), path, "closing a definition writer");
    }
    check(OTF2_Archive_CloseDefFiles(ar), path, "closing the definition files");

    OTF2_GlobalDefWriter *g = OTF2_Archive_GetGlobalDefWriter(ar);
    if (!g)
        tide__fatal("--trace %s: OTF2 gives no global definition writer", path);
    /* nanoseconds from the job's zero */
    check(OTF2_GlobalDefWriter_WriteClockProperties(g, 1000000000u, 0, end + 1,
                                                    OTF2_UNDEFINED_TIMESTAMP),
          path, "writing the clock");
    char buf[64];
    uint32_t s_job = intern(&str, "tide job"), s_node = intern(&str, "node");
    uint32_t s_workers = intern(&str, "workers"), s_comm = intern(&str, "tide messages");
    uint32_t *s_rank = malloc((ranks + peers) * sizeof *s_rank), *s_worker = s_rank + ranks;
    if (!s_rank)
        tide__fatal("out of memory writing the trace");
    for (size_t r = 0; r < ranks; r++) {
        snprintf(buf, sizeof buf, "rank %zu", r);
        s_rank[r] = intern(&str, buf);
    }
    for (size_t k = 0; k < peers; k++) {
        snprintf(buf, sizeof buf, "worker %zu", k);
        s_worker[k] = intern(&str, buf);
    }
    for (size_t i = 0; i < str.n; i++)
        check(OTF2_GlobalDefWriter_WriteString(g, (OTF2_StringRef)i, str.s[i]), path,
              "writing a string");
    check(OTF2_GlobalDefWriter_WriteSystemTreeNode(g, 0, s_job, s_node,
                                                   OTF2_UNDEFINED_SYSTEM_TREE_NODE),
          path, "writing the system tree");
    for (size_t r = 0; r < ranks; r++)
        check(OTF2_GlobalDefWriter_WriteLocationGroup(g, (OTF2_LocationGroupRef)r,
                                                      s_rank[r],
                                                      OTF2_LOCATION_GROUP_TYPE_PROCESS, 0,
                                                      OTF2_UNDEFINED_LOCATION_GROUP),
              path, "writing a location group");
    for (size_t k = 0; k < peers; k++)
        check(OTF2_GlobalDefWriter_WriteLocation(g, (OTF2_LocationRef)k,
                                                 s_worker[k],
                                                 OTF2_LOCATION_TYPE_CPU_THREAD, nevents[k],
                                                 (OTF2_LocationGroupRef)parts[k].rank),
              path, "writing a location");
    for (uint32_t i = 0; i < nregions; i++)
        check(OTF2_GlobalDefWriter_WriteRegion(g, i, i, i, OTF2_UNDEFINED_STRING,
                                               OTF2_REGION_ROLE_FUNCTION, OTF2_PARADIGM_USER,
                                               OTF2_REGION_FLAG_NONE, OTF2_UNDEFINED_STRING,
                                               0, 0),
              path, "writing a region");
    uint64_t *members = malloc(peers * sizeof *members);
    if (!members)
        tide__fatal("out of memory writing the trace");
    for (size_t k = 0; k < peers; k++)
        members[k] = k;
    check(OTF2_GlobalDefWriter_WriteGroup(g, 0, s_workers, OTF2_GROUP_TYPE_COMM_LOCATIONS,
                                          OTF2_PARADIGM_MPI, OTF2_GROUP_FLAG_NONE,
                                          (uint32_t)peers, members),
          path, "writing a group");
    check(OTF2_GlobalDefWriter_WriteGroup(g, 1, s_comm, OTF2_GROUP_TYPE_COMM_GROUP,
                                          OTF2_PARADIGM_MPI, OTF2_GROUP_FLAG_NONE,
                                          (uint32_t)peers, members),
          path, "writing a group");
    check(OTF2_GlobalDefWriter_WriteComm(g, 0, s_comm, 1, OTF2_UNDEFINED_COMM,
                                         OTF2_COMM_FLAG_NONE),
          path, "writing the communicator");
    check(OTF2_Archive_Close(ar), path, "closing the archive");
    free(members);
    free(s_rank);
    free(recs);
    free(nevents);
    for (size_t k = 0; k < peers; k++)
        free(region[k]);
    free(region);
    for (size_t i = 0; i < str.n; i++)
        free(str.s[i]);
    free(str.s);
    free(dir);
    free(name);
}
