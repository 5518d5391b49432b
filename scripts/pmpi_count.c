/* SPDX-License-Identifier: MIT */
/*
 * A PMPI shim for scripts/bench-scale: counts the point-to-point sends a rank makes and
 * their bytes, independently of tide's own counters, and prints them at MPI_Finalize.
 * Built and preloaded by the script (LD_PRELOAD), never linked into tide.
 *
 * Where the MPI exposes it (Open MPI's ob1: pml_ob1_unexpected_msgq_length), it also
 * samples the unexpected-message queue of tide's communicator (the last MPI_Comm_dup of
 * MPI_COMM_WORLD) at every MPI_Testsome, tide's poll: how many frames arrived before a
 * receive was posted for them, which MPI then buffers and matches by a search.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long sends, bytes;

static int unexp_index = -1, unexp_count;
static MPI_T_pvar_session unexp_session;
static MPI_T_pvar_handle unexp_handle;
static unsigned *unexp_now;
static unsigned long long unexp_max, unexp_sum, unexp_samples;

static void find_unexpected(void)
{
    int provided, n = 0;
    if (MPI_T_init_thread(MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS ||
        MPI_T_pvar_get_num(&n) != MPI_SUCCESS)
        return;
    for (int i = 0; i < n; i++) {
        char name[256], desc[256];
        int nl = sizeof name, dl = sizeof desc, verb, cls, bind, ro, cont, atomic;
        MPI_Datatype type;
        MPI_T_enum et;
        if (MPI_T_pvar_get_info(i, name, &nl, &verb, &cls, &type, &et, desc, &dl, &bind, &ro,
                                &cont, &atomic) == MPI_SUCCESS &&
            strcmp(name, "pml_ob1_unexpected_msgq_length") == 0 && bind == MPI_T_BIND_MPI_COMM &&
            type == MPI_UNSIGNED) {
            unexp_index = i;
            return;
        }
    }
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    int rc = PMPI_Init_thread(argc, argv, required, provided);
    if (rc == MPI_SUCCESS)
        find_unexpected();
    return rc;
}

int MPI_Comm_dup(MPI_Comm comm, MPI_Comm *out)
{
    int rc = PMPI_Comm_dup(comm, out);
    if (rc != MPI_SUCCESS || unexp_index < 0 || comm != MPI_COMM_WORLD)
        return rc;
    if (unexp_now) {
        MPI_T_pvar_handle_free(unexp_session, &unexp_handle);
        MPI_T_pvar_session_free(&unexp_session);
        free(unexp_now);
        unexp_now = NULL;
    }
    if (MPI_T_pvar_session_create(&unexp_session) == MPI_SUCCESS &&
        MPI_T_pvar_handle_alloc(unexp_session, unexp_index, out, &unexp_handle, &unexp_count) ==
            MPI_SUCCESS &&
        unexp_count > 0)
        unexp_now = calloc((size_t)unexp_count, sizeof *unexp_now);
    return rc;
}

int MPI_Testsome(int n, MPI_Request reqs[], int *outcount, int indices[], MPI_Status st[])
{
    if (unexp_now && MPI_T_pvar_read(unexp_session, unexp_handle, unexp_now) == MPI_SUCCESS) {
        unsigned long long q = 0;
        for (int i = 0; i < unexp_count; i++)
            q += unexp_now[i];
        if (q > unexp_max)
            unexp_max = q;
        unexp_sum += q;
        unexp_samples++;
    }
    return PMPI_Testsome(n, reqs, outcount, indices, st);
}

static void count(int n, MPI_Datatype type)
{
    int size = 0;
    PMPI_Type_size(type, &size);
    sends++;
    bytes += (unsigned long long)n * (unsigned long long)size;
}

int MPI_Isend(const void *buf, int n, MPI_Datatype type, int dst, int tag, MPI_Comm comm,
              MPI_Request *req)
{
    count(n, type);
    return PMPI_Isend(buf, n, type, dst, tag, comm, req);
}

int MPI_Send(const void *buf, int n, MPI_Datatype type, int dst, int tag, MPI_Comm comm)
{
    count(n, type);
    return PMPI_Send(buf, n, type, dst, tag, comm);
}

int MPI_Finalize(void)
{
    int rank = 0;
    PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* One write: the lines of several ranks share mpirun's stderr. */
    char extra[96] = "";
    if (unexp_samples)
        snprintf(extra, sizeof extra, " unexpected_max %llu unexpected_mean %.2f", unexp_max,
                 (double)unexp_sum / (double)unexp_samples);
    fprintf(stderr, "pmpi stats: rank %d sends %llu send_bytes %llu%s\n", rank, sends, bytes,
            extra);
    if (unexp_now) {
        MPI_T_pvar_handle_free(unexp_session, &unexp_handle);
        MPI_T_pvar_session_free(&unexp_session);
        free(unexp_now);
        unexp_now = NULL;
    }
    if (unexp_index >= 0)
        MPI_T_finalize();
    return PMPI_Finalize();
}
