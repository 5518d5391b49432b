/* SPDX-License-Identifier: MIT */
/* Start-up: MPI (when launched by mpirun or srun), placement, the worker threads. */
#define _GNU_SOURCE
#include <hwloc.h>
#include <hwloc/glibc-sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_internal.h"
#include "pin_internal.h"
#include "tide/version.h"

struct slot {
    pthread_t thread;
    tide_allocator alloc;
    tide_comm_fn fn;
    void *ctx;
    int result;
    bool started;
};

struct tide_guards {
    size_t n;
    struct slot *slots;
    struct tide__shared shared;
    MPI_Comm comm;
    bool finalize;
    /* --stats */
    bool stats;
    int rank;
    uint64_t startup_ns;
    long rss_start_kib;
};

long tide__status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* --stats: one line per rank, in a form scripts/bench-scale reads. */
static void print_stats(const struct tide_guards *g, const tide_comm_stats *st)
{
    fprintf(stderr,
            "tide stats: rank %d workers %zu startup_us %.0f rss_start_kib %ld rss_end_kib %ld "
            "rss_peak_kib %ld sends %llu send_bytes %llu recvs %llu recv_bytes %llu "
            "progress_msgs %llu progress_bytes %llu reordered %llu max_requests %llu "
            "peer_bytes %llu peer_bytes_peak %llu shm_frames %llu shm_bytes %llu shm_waits %llu\n",
            g->rank, g->n, (double)g->startup_ns / 1e3, g->rss_start_kib, tide__status_kib("VmRSS"),
            tide__status_kib("VmHWM"), (unsigned long long)st->sends,
            (unsigned long long)st->send_bytes, (unsigned long long)st->recvs,
            (unsigned long long)st->recv_bytes, (unsigned long long)st->progress_msgs,
            (unsigned long long)st->progress_bytes, (unsigned long long)st->reordered,
            (unsigned long long)st->max_requests, (unsigned long long)st->peer_bytes,
            (unsigned long long)st->peer_bytes_peak, (unsigned long long)st->shm_frames,
            (unsigned long long)st->shm_bytes, (unsigned long long)st->shm_waits);
}

/* ---------------------------------------------------------------- MPI start */

static const char *launcher_size(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

static bool launched_by_mpi(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMIX_RANK",
                                        "PMI_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

/* A start-up setting compared across ranks, as text: 0 workers, 1 version, 2 --bind,
 * 3 the progress tree's arity (0: none), 4 --watch in milliseconds (0: none), 5 --trace
 * given (1) or not (0). */
static void show_setting(int field, uint64_t v, char *buf, size_t len)
{
    if (field == 2)
        snprintf(buf, len, "%s", tide_bind_name((tide_bind)v));
    else if (field == 5)
        snprintf(buf, len, "%s", (const char *[]){ "no", "yes", "yes (OTF2)",
                                                   "yes (JSON and OTF2)" }[v & 3]);
    else if (field == 6)
        snprintf(buf, len, "%s", v ? "yes" : "no");
    else if (field == 4)
        snprintf(buf, len, v ? "%g s" : "none", (double)v / 1e3);
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}

int tide__mpi_start(const tide_config *cfg, MPI_Comm *comm_out, bool *finalize)
{
    *comm_out = MPI_COMM_NULL;
    *finalize = false;
    int already = 0;
    MPI_Initialized(&already);
    bool use = cfg->launch == TIDE_LAUNCH_MPI ||
               (cfg->launch == TIDE_LAUNCH_AUTO && (already || launched_by_mpi()));
    if (!use)
        return 0;
    int provided = 0;
    if (!already) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
            fprintf(stderr, "tide: MPI_Init_thread failed\n");
            return TIDE_EMPI;
        }
        *finalize = true;
    } else {
        MPI_Query_thread(&provided);
    }
    MPI_Comm comm;
    int rank, ranks;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    int rc = 0;
    const char *lsize = launcher_size();
    if (provided < MPI_THREAD_SERIALIZED && ranks > 1) {
        fprintf(stderr, "tide: rank %d: the MPI library gives only thread level %d; tide needs "
                        "MPI_THREAD_SERIALIZED\n", rank, provided);
        rc = TIDE_EMPI;
    } else if (lsize && atoi(lsize) != ranks) {
        /* Both sides say something different; e.g. MPICH's mpirun starting an Open MPI
         * program makes N separate jobs of one rank each. */
        fprintf(stderr, "tide: the launcher started %s processes but MPI sees %d: was this "
                        "program started with the mpirun of another MPI library?\n",
                lsize, ranks);
        rc = TIDE_ELAUNCH;
    }
    if (rc == 0 && ranks > 1) {
        enum { N = 7 };
        /* --watch changes the channels every worker allocates, so it must agree too */
        uint64_t mine[N] = { cfg->workers, TIDE_VERSION_HEX, (uint64_t)cfg->bind,
                             tide__mpi_tree_arity(cfg->progress_tree, ranks),
                             (uint64_t)(cfg->watch * 1e3 + 0.5),
                             (uint64_t)(cfg->trace != NULL) |
                                 (uint64_t)(cfg->trace_otf2 != NULL) << 1,
                             /* flow control between ranks needs every rank's credits */
                             (uint64_t)(cfg->memory != 0) };
        uint64_t *all = malloc(N * sizeof(uint64_t) * (size_t)ranks);
        if (!all)
            tide__fatal("out of memory at start-up");
        MPI_Allgather(mine, N, MPI_UINT64_T, all, N, MPI_UINT64_T, comm);
        static const char *const setting[N] = { "the number of workers (-w)",
                                                "the tide version", "--bind",
                                                "--progress-tree", "--watch",
                                                "--trace (given or not)",
                                                "--memory (given or not)" };
        for (int r = 1; r < ranks && rc == 0; r++)
            for (int f = 0; f < N && rc == 0; f++) {
                if (all[N * r + f] == all[f])
                    continue;
                if (rank == 0) {
                    char mine0[32], theirs[32];
                    show_setting(f, all[f], mine0, sizeof mine0);
                    show_setting(f, all[N * r + f], theirs, sizeof theirs);
                    fprintf(stderr, "tide: ranks disagree on %s: rank 0 has %s, rank %d has %s "
                                    "(every rank must be started the same way)\n",
                            setting[f], mine0, r, theirs);
                }
                rc = TIDE_EMISMATCH;
            }
        free(all);
    }
    if (rc) {
        tide__mpi_stop(comm, *finalize);
        *finalize = false;
        return rc;
    }
    *comm_out = comm;
    return 0;
}

void tide__mpi_stop(MPI_Comm comm, bool finalize)
{
    if (comm != MPI_COMM_NULL)
        MPI_Comm_free(&comm);
    if (finalize)
        MPI_Finalize();
}

/* ---------------------------------------------------------------- placement */

struct plan {
    hwloc_topology_t topo;
    hwloc_cpuset_t *sets; /* per worker, NULL when not pinning */
};

static void plan_free(struct plan *p, size_t n)
{
    if (p->sets)
        for (size_t i = 0; i < n; i++)
            hwloc_bitmap_free(p->sets[i]);
    free(p->sets);
    if (p->topo)
        hwloc_topology_destroy(p->topo);
}

/* Which of the ranks on this node were given the same cpuset as this one (a launcher that
 * did not bind gives them all the whole node): this rank's index among them, and their
 * number. Collective over @p comm. */
static void cpuset_sharing(MPI_Comm comm, hwloc_const_cpuset_t allowed, size_t *index,
                           size_t *count)
{
    *index = 0;
    *count = 1;
    if (comm == MPI_COMM_NULL)
        return;
    MPI_Comm node;
    int me, n;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &me);
    MPI_Comm_size(node, &n);
    char *text = NULL;
    hwloc_bitmap_asprintf(&text, allowed);
    uint64_t h = 14695981039346656037ULL; /* FNV-1a of the cpuset's text */
    for (const char *c = text ? text : ""; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    free(text);
    uint64_t *all = malloc((size_t)n * sizeof *all);
    if (!all)
        tide__fatal("out of memory at start-up");
    MPI_Allgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, node);
    size_t same = 0, before = 0;
    for (int r = 0; r < n; r++)
        if (all[r] == h) {
            same++;
            before += r < me;
        }
    *index = before;
    *count = same;
    free(all);
    MPI_Comm_free(&node);
}

/* Plugins tide's own topology can do without. */
#define UNUSED_PLUGINS "hwloc_pci,hwloc_opencl,hwloc_cuda,hwloc_nvml,hwloc_rsmi," \
    "hwloc_levelzero,hwloc_gl,hwloc_xml_libxml"

/* The machine's cores, PUs and NUMA domains. hwloc loads its plugins (for PCI devices,
 * OpenCL, GL, XML) when a process makes its first topology: measured at 25-47 ms, most of
 * a tide job's start-up on one node, for I/O objects tide never looks at. So they are left
 * out, unless the user set HWLOC_PLUGINS_BLACKLIST, and the setting is taken back at
 * once: hwloc reads it when its first topology is made, and a topology the program makes
 * after tide's is gone loads them as usual. (This runs before any worker thread.) */
static int topology_new(hwloc_topology_t *topo)
{
    bool mine = getenv("HWLOC_PLUGINS_BLACKLIST") == NULL;
    if (mine)
        setenv("HWLOC_PLUGINS_BLACKLIST", UNUSED_PLUGINS, 0);
    int rc = hwloc_topology_init(topo);
    if (mine)
        unsetenv("HWLOC_PLUGINS_BLACKLIST");
    if (rc != 0)
        return -1;
    /* Placement looks at cores, PUs and NUMA nodes only: caches (whose sizes are read per
     * PU), memory-side caches, groups and misc objects are not made (a two-core VM's load
     * took 0.7-0.8x the time without its caches; a large node has many more). */
    hwloc_topology_set_io_types_filter(*topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_cache_types_filter(*topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_icache_types_filter(*topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(*topo, HWLOC_OBJ_MEMCACHE, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(*topo, HWLOC_OBJ_GROUP, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(*topo, HWLOC_OBJ_MISC, HWLOC_TYPE_FILTER_KEEP_NONE);
#if HWLOC_API_VERSION >= 0x00020100
    /* Linux's /sys gives the cores and PUs; hwloc's x86 component would bind the thread to
     * each PU in turn to read its cpuid (names and caches, unused here), a migration per PU
     * (start-up 0.8x without it on this two-PU VM, medians of 5). A user's own
     * HWLOC_COMPONENTS is obeyed. */
    if (!getenv("HWLOC_COMPONENTS"))
        hwloc_topology_set_components(*topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86");
#endif
    if (hwloc_topology_load(*topo) != 0) {
        hwloc_topology_destroy(*topo);
        return -1;
    }
    return 0;
}

static int plan_placement(const tide_config *cfg, int rank, MPI_Comm comm, struct plan *p)
{
    memset(p, 0, sizeof *p);
    /* Every rank takes part or none: the sharing check below is collective. */
    if (cfg->bind == TIDE_BIND_NONE && !cfg->report_bindings)
        return 0;
    if (topology_new(&p->topo) != 0) {
        fprintf(stderr, "tide: rank %d: hwloc could not read the machine's topology\n", rank);
        return TIDE_EHWLOC;
    }
    p->sets = calloc(cfg->workers, sizeof *p->sets);
    hwloc_cpuset_t allowed = hwloc_bitmap_alloc();
    if (!p->sets || !allowed) {
        hwloc_bitmap_free(allowed);
        return TIDE_ENOMEM;
    }
    /* The launcher's binding of this thread is the rank's cpuset; threads created later
     * would inherit it, so pinning inside it has to be explicit. */
    if (hwloc_get_cpubind(p->topo, allowed, HWLOC_CPUBIND_THREAD) != 0)
        hwloc_bitmap_copy(allowed, hwloc_topology_get_allowed_cpuset(p->topo));
    hwloc_bitmap_and(allowed, allowed, hwloc_topology_get_allowed_cpuset(p->topo));
    int rc = 0;
    if (cfg->bind == TIDE_BIND_NONE) {
        for (size_t i = 0; i < cfg->workers; i++)
            p->sets[i] = hwloc_bitmap_dup(allowed);
    } else {
        size_t places = 0, index, count;
        cpuset_sharing(comm, allowed, &index, &count);
        rc = tide__pin_plan(p->topo, allowed, cfg->bind, index, count, cfg->workers, p->sets,
                            &places);
        if (rc)
            fprintf(stderr, "tide: rank %d: no %s in the cpuset this rank was given\n", rank,
                    tide_bind_name(cfg->bind));
        else if (places < cfg->workers && cfg->bind != TIDE_BIND_NUMA)
            fprintf(stderr,
                    "tide: warning: rank %d was given %zu %s%s for %zu workers, so workers "
                    "share them. Give each rank %zu cores (mpirun --map-by slot:PE=%zu, or "
                    "Slurm --cpus-per-task=%zu), or launch with mpirun --bind-to none, or "
                    "pass --bind none.\n",
                    rank, places, tide_bind_name(cfg->bind), places == 1 ? "" : "s",
                    cfg->workers, cfg->workers, cfg->workers, cfg->workers);
    }
    if (rc == 0 && cfg->report_bindings) {
        char host[256] = "?";
        gethostname(host, sizeof host - 1);
        for (size_t i = 0; i < cfg->workers; i++) {
            char *list = NULL;
            hwloc_bitmap_list_asprintf(&list, p->sets[i]);
            fprintf(stderr, "tide: rank %d worker %zu host %s pus %s%s\n", rank,
                    (size_t)rank * cfg->workers + i, host, list ? list : "?",
                    cfg->bind == TIDE_BIND_NONE ? " (not pinned)" : "");
            free(list);
        }
    }
    hwloc_bitmap_free(allowed);
    if (cfg->bind == TIDE_BIND_NONE) {
        for (size_t i = 0; i < cfg->workers; i++)
            hwloc_bitmap_free(p->sets[i]);
        free(p->sets);
        p->sets = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- workers */

static void *worker_main(void *arg)
{
    struct slot *s = arg;
    s->result = s->fn(&s->alloc, s->ctx);
    if (s->alloc.ops->finish)
        s->alloc.ops->finish(&s->alloc);
    return NULL;
}

/* The job's time zero on this rank's clock: rank 0 measures every rank's offset with a few
 * round trips (the one with the shortest round trip, its midpoint taken as simultaneous)
 * and hands each rank rank 0's present moment in its own terms. Without it, each rank's
 * own start is its zero. Sequential on rank 0, so only when a trace is asked for. */
static uint64_t align_clocks(MPI_Comm comm, int rank, int ranks, uint64_t *error)
{
    enum { TRIPS = 8, TAG = 7 };
    int64_t *offset = calloc((size_t)ranks, sizeof *offset);
    uint64_t *rtt = calloc((size_t)ranks, sizeof *rtt);
    if (!offset || !rtt)
        tide__fatal("out of memory aligning clocks");
    for (int r = 1; r < ranks; r++) {
        uint64_t best = UINT64_MAX;
        for (int k = 0; k < TRIPS; k++) {
            uint64_t theirs = 0, mine = tide__now_ns();
            if (rank == 0) {
                MPI_Send(&mine, 1, MPI_UINT64_T, r, TAG, comm);
                MPI_Recv(&theirs, 1, MPI_UINT64_T, r, TAG, comm, MPI_STATUS_IGNORE);
                uint64_t back = tide__now_ns();
                if (back - mine < best) {
                    rtt[r] = best = back - mine;
                    offset[r] = (int64_t)(theirs - (mine + (back - mine) / 2));
                }
            } else if (rank == r) {
                MPI_Recv(&theirs, 1, MPI_UINT64_T, 0, TAG, comm, MPI_STATUS_IGNORE);
                mine = tide__now_ns();
                MPI_Send(&mine, 1, MPI_UINT64_T, 0, TAG, comm);
            }
        }
    }
    /* each rank's zero in its own terms, and its bound: the remote reading lay between the
     * send and the return, so the midpoint is at most half the round trip off */
    uint64_t zero = tide__now_ns(), *zeros = malloc(2 * (size_t)ranks * sizeof *zeros);
    uint64_t out[2] = { 0, 0 };
    if (!zeros)
        tide__fatal("out of memory aligning clocks");
    for (int r = 0; r < ranks; r++) {
        zeros[2 * r] = zero + (uint64_t)offset[r];
        zeros[2 * r + 1] = (rtt[r] + 1) / 2;
    }
    MPI_Scatter(zeros, 2, MPI_UINT64_T, out, 2, MPI_UINT64_T, 0, comm);
    free(zeros);
    free(offset);
    free(rtt);
    *error = out[1];
    return out[0];
}

int tide_comm_initialize(const tide_config *cfg, tide_comm_fn fn, void *ctx,
                         tide_guards **guards)
{
    if (!cfg || !fn || !guards || cfg->workers == 0) {
        fprintf(stderr, "tide: tide_comm_initialize needs a configuration with at least one "
                        "worker and a worker function\n");
        return TIDE_EINVAL;
    }
    uint64_t t0 = tide__now_ns();
    struct tide_guards *g = calloc(1, sizeof *g);
    if (!g)
        return TIDE_ENOMEM;
    int rc = tide__mpi_start(cfg, &g->comm, &g->finalize);
    if (rc) {
        free(g);
        return rc;
    }
    int rank = 0, ranks = 1;
    if (g->comm != MPI_COMM_NULL) {
        MPI_Comm_rank(g->comm, &rank);
        MPI_Comm_size(g->comm, &ranks);
    }
    struct plan plan;
    g->n = cfg->workers;
    g->slots = calloc(g->n, sizeof *g->slots);
    if (!g->slots || tide__shared_init(&g->shared, g->n) != 0) {
        free(g->slots);
        tide__mpi_stop(g->comm, g->finalize);
        free(g);
        return TIDE_ENOMEM;
    }
    if ((rc = plan_placement(cfg, rank, g->comm, &plan)) != 0 ||
        (ranks > 1 &&
         (rc = tide__mpi_transport_new(&g->shared, g->comm, cfg)) != 0)) {
        plan_free(&plan, g->n);
        tide__shared_destroy(&g->shared);
        free(g->slots);
        /* Other ranks may be fine; stop them too rather than let them wait for us. */
        if (ranks > 1)
            tide__fatal("rank %d could not start: %s", rank, tide_strerror(rc));
        tide__mpi_stop(g->comm, g->finalize);
        free(g);
        return rc;
    }
    g->shared.clock_origin_ns = ranks > 1 && (cfg->trace || cfg->trace_otf2)
                                    ? align_clocks(g->comm, rank, ranks, &g->shared.clock_error_ns)
                                    : tide__now_ns();
    g->stats = cfg->stats;
    g->rank = rank;
    g->startup_ns = tide__now_ns() - t0;
    if (g->stats)
        g->rss_start_kib = tide__status_kib("VmRSS");
    for (size_t i = 0; i < g->n; i++) {
        struct slot *s = &g->slots[i];
        tide__allocator_init(&s->alloc, &g->shared, (size_t)rank, (size_t)ranks, i);
        s->fn = fn;
        s->ctx = ctx;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        if (plan.sets) {
            cpu_set_t cpus;
            hwloc_cpuset_to_glibc_sched_affinity(plan.topo, plan.sets[i], &cpus, sizeof cpus);
            pthread_attr_setaffinity_np(&attr, sizeof cpus, &cpus);
        }
        int err = pthread_create(&s->thread, &attr, worker_main, s);
        pthread_attr_destroy(&attr);
        if (err != 0)
            tide__fatal("rank %d could not start worker thread %zu of %zu", rank, i, g->n);
        s->started = true;
    }
    plan_free(&plan, g->n);
    *guards = g;
    return 0;
}

size_t tide_guards_count(const tide_guards *g) { return g->n; }

size_t tide_guards_first(const tide_guards *g) { return g->slots[0].alloc.index; }

int tide_guards_join(tide_guards *g, int *results)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->slots[i].started)
            pthread_join(g->slots[i].thread, NULL);
        if (results)
            results[i] = g->slots[i].result;
    }
    tide_comm_stats st = { 0 };
    tide__mpi_transport_free(&g->shared, &st);
    if (g->stats)
        print_stats(g, &st);
    for (size_t i = 0; i < g->n; i++)
        tide__allocator_destroy(&g->slots[i].alloc);
    tide__shared_destroy(&g->shared);
    tide__mpi_stop(g->comm, g->finalize);
    free(g->slots);
    free(g);
    return 0;
}
