/* SPDX-License-Identifier: MIT */
/*
 * A PMPI shim for scripts/bench-scale: counts the point-to-point sends a rank makes and
 * their bytes, independently of tide's own counters, and prints them at MPI_Finalize.
 * Built and preloaded by the script (LD_PRELOAD), never linked into tide.
 */
#include <mpi.h>
#include <stdio.h>

static unsigned long long sends, bytes;

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
    fprintf(stderr, "pmpi stats: rank %d sends %llu send_bytes %llu\n", rank, sends, bytes);
    return PMPI_Finalize();
}
