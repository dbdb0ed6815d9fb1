/* The opening every 2-rank MPI test shares: the job's communicator, of the size the test needs. */
#ifndef SSLC_TEST_MPI_JOB_H
#define SSLC_TEST_MPI_JOB_H
#include <stdio.h>

#include "runtime/comm.h"

/* 0 with c open, or 1 (said on stderr; c closed) when it cannot open or has another size */
static inline int mpi_job_open(ir_comm *c, int ranks) {
    char err[IR_ERRLEN];
    if (comm_open(c, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (c->size != ranks) {
        fprintf(stderr, "run under mpirun -np %d (this job has %d ranks)\n", ranks, c->size);
        comm_close(c);
        return 1;
    }
    return 0;
}
#endif
