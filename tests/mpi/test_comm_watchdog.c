/* The communication watchdog (runtime/comm.c, SSLC_COMM_TIMEOUT) while a rank waits for a
 * gradient bucket: rank 0 starts a nonblocking AllReduce and waits for it (AllReduceWait's
 * call); rank 1 never joins, as a rank stuck in its step. Rank 0 must end the job naming the
 * wait and rank 1 within the timeout, instead of waiting forever. Run by test_comm_watchdog.sh,
 * which checks the exit, the line and the time; this program fails (exit 1) if the wait returns. */
#include <stdio.h>
#include <unistd.h>

#include "mpi_job.h"
#include "runtime/comm.h"

int main(void) {
    ir_comm c;
    char err[IR_ERRLEN];
    if (mpi_job_open(&c, 2)) return 1;
    if (!c.ops->allreduce_start) {
        fprintf(stderr, "transport %s has no nonblocking all-reduce\n", c.ops->name);
        comm_close(&c);
        return 1;
    }
    if (c.rank == 1) {
        sleep(60); /* stuck: ended by mpirun when rank 0's watchdog ends the job */
        comm_close(&c);
        return 1;
    }
    float bucket[16] = {1};
    if (c.ops->allreduce_start(c.self, bucket, 16, DT_F32, err) || c.ops->allreduce_wait(c.self, bucket, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("FAIL: the wait for a bucket rank 1 never sent returned\n");
    return 1;
}
