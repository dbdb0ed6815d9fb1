/* The NCCL communicator: the collectives of a data-parallel job on GPUs (one process per GPU),
 * a table of ir/comm.h's shape whose buffers are device pointers. NCCL (libnccl.so.2) is loaded
 * with dlopen like the CUDA libraries (runtime/cuda_api.h; SSLC_NCCL_LIB names another library,
 * which is how the tests put a stand-in in its place), and bootstrapped over the job's host
 * communicator: rank 0's ncclUniqueId reaches the others through its broadcast (MPI_Bcast
 * under mpirun). Every collective is queued on the cuda backend's stream, so it is ordered with
 * the step's kernels and is captured into the step's CUDA Graph with them.
 *
 * Sums: NCCL picks its ring or tree per size and machine, so a multi-GPU sum is not in one fixed
 * order and a run over N GPUs is not bit-identical to one over another number (the data-parallel
 * checks use a tolerance). One rank moves nothing and changes nothing: a one-rank NCCL run is bit
 * for bit the plain cuda run. docs/ARCHITECTURE.md ("Data-parallel jobs") has the whole path. */
#ifndef SSLC_COMM_NCCL_H
#define SSLC_COMM_NCCL_H
#include "../ir/comm.h"
#include "cuda_api.h"

/* This process's GPU in a job of one process per GPU: its rank among the ranks on this machine
 * (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID); 0 outside a job; -1 with err when the launcher
 * says neither. */
int comm_local_rank(char *err);

/* Opens c as the NCCL communicator of the job `host` (its size and rank; its broadcast carries the
 * bootstrap id, its barrier is the NCCL communicator's), on the device of the CUDA context current
 * on this thread, queuing on `stream`. version: NCCL's "2.x.y" (may be NULL; 16 bytes). Every rank
 * of host calls it together. 0, or -1 with one line in err (NCCL missing: how to install it). */
int comm_nccl_open(ir_comm *c, const ir_comm *host, CUstream stream, char *version, char *err);
/* Counts bytes sent again without a call: a CUDA Graph replay runs the collectives its capture
 * queued (and counted) once. Here and in the job's communicator, as every collective counts. */
void comm_nccl_count(ir_comm *c, uint64_t bytes);
/* the communicator and the library; after a failed collective the communicator is aborted
 * (ncclCommAbort), not destroyed, since the other ranks may never arrive */
void comm_nccl_close(ir_comm *c);

#endif
