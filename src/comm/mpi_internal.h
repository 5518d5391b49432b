/* SPDX-License-Identifier: MIT */
#ifndef TIDE_MPI_INTERNAL_H
#define TIDE_MPI_INTERNAL_H

#include <mpi.h>

#include "alloc_internal.h"

/* Starts MPI when asked or launched by mpirun/srun, checks that every rank runs the same
 * worker count and tide version. *comm_out is a duplicate of MPI_COMM_WORLD (or
 * MPI_COMM_NULL when MPI is not used); *finalize says whether tide initialized MPI. */
int tide__mpi_start(const tide_config *cfg, MPI_Comm *comm_out, bool *finalize);
/* Creates the transport for a job of several ranks and attaches it to @p s. */
int tide__mpi_transport_new(struct tide__shared *s, MPI_Comm comm);
/* After the rank's workers returned: delivers what is in flight, waits for every rank to
 * receive what it was sent, frees the transport. */
void tide__mpi_transport_free(struct tide__shared *s);
/* Frees the communicator and finalizes MPI when tide initialized it. */
void tide__mpi_stop(MPI_Comm comm, bool finalize);

#endif
