/* A command's data-parallel job: the communicator (runtime/comm.h) of `sslc train|run|step`,
 * opened once at the command's start and passed down explicitly. */
#ifndef SSLC_JOB_H
#define SSLC_JOB_H
#include "../runtime/comm.h"

/* Opens the job (MPI under mpirun, else one rank). Ranks other than 0 print nothing on stdout
 * (rank 0 speaks for the job; every rank's errors still reach stderr). 0, or -1 with err. */
int job_open(ir_comm *c, char *err);
/* Reports err once ("sslc: rank R: ..." in a job of several ranks), ends every rank (a rank
 * that stops alone would leave the others waiting in a collective) and returns the exit code. */
int job_fail(ir_comm *c, const char *err, int code);
void job_close(ir_comm *c);

#endif
