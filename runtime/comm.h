/* Communicators (ir/comm.h) for data-parallel jobs: over MPI when the process was started by
 * mpirun, a single rank otherwise. The frontend opens one at start, passes it to every engine
 * it builds (engine_new_plan_comm) and closes it at exit. */
#ifndef SSLC_COMM_H
#define SSLC_COMM_H
#include "../ir/comm.h"

/* whether this process was started by an MPI launcher (mpirun sets its rank variables) */
int comm_launched(void);
/* Opens MPI when launched by mpirun, else a one-rank communicator. 0, or -1 with err. */
int comm_open(ir_comm *c, char *err);
/* ends the job: MPI_Finalize after a clean run */
void comm_close(ir_comm *c);
/* a failing rank ends every rank (they would otherwise wait in the next collective forever) */
void comm_abort(ir_comm *c, int code);

/* Bytes one rank sends for one collective of `bytes` payload over `ranks` ranks, as a ring
 * moves them (the per-rank lower bound of the bandwidth-optimal algorithms): AllReduce
 * 2(N-1)/N, AllGather (N-1) x its input, ReduceScatter (N-1)/N x its input, Broadcast and
 * Reduce (N-1)/N (pipelined chain). op: an OP_* collective; 0 for anything else. */
double comm_ring_bytes(int op, double bytes, int ranks);

#endif
