#include "job.h"

#include <stdio.h>

int job_open(ir_comm *c, char *err) {
    if (comm_open(c, err)) return -1;
    if (c->rank != 0 && !freopen("/dev/null", "w", stdout)) {
        snprintf(err, IR_ERRLEN, "rank %d: cannot silence stdout", c->rank);
        return -1;
    }
    return 0;
}

int job_fail(ir_comm *c, const char *err, int code) {
    if (c->size > 1)
        fprintf(stderr, "sslc: rank %d: %s\n", c->rank, err);
    else
        fprintf(stderr, "sslc: %s\n", err);
    fflush(stderr);
    comm_abort(c, code);
    comm_close(c);
    return code;
}

void job_close(ir_comm *c) { comm_close(c); }
