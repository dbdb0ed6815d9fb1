/* The communicator as the op table sees it: what the collective ops' reference kernels
 * (ir/ops/collective.c) call to move tensors between the ranks of a data-parallel job. It is
 * an interface (a table of functions and its state), so the IR knows no transport: runtime/comm.c
 * implements it over MPI (host memory) and as a single rank; an NCCL transport (device memory,
 * loaded with dlopen) is another table of the same shape. A communicator is created once by
 * the frontend and passed explicitly down to the engines (backend_args.comm) and from there into
 * every reference call (ref_call.comm); there is no global one.
 *
 * Every function works on contiguous buffers of `n` elements of dtype `dt` (DT_F32 or DT_F64;
 * broadcast also DT_U8, raw bytes of a tensor of any dtype),
 * is called by every rank in the same order (the graph's schedule is the same on all ranks), and
 * returns 0, or -1 with one line in err (IR_ERRLEN). Sums are over ranks in a fixed order, so
 * every rank holds bit-identical results. */
#ifndef SSLC_IR_COMM_H
#define SSLC_IR_COMM_H
#include <stdint.h>

#include "ir.h"

typedef struct ir_comm_ops {
    const char *name; /* "self", "mpi", "nccl" */
    /* buf <- sum over ranks of buf (in place) */
    int (*allreduce_sum)(void *self, void *buf, int64_t n, ir_dtype dt, char *err);
    /* dst (size * n elements) <- the ranks' src (n elements each), in rank order */
    int (*allgather)(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err);
    /* dst (n elements) <- sum over ranks of their src's block `rank` (src holds size * n) */
    int (*reduce_scatter_sum)(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err);
    /* buf <- root's buf */
    int (*broadcast)(void *self, void *buf, int64_t n, ir_dtype dt, int root, char *err);
    /* waits until every rank arrives (start of a job, before rank 0's checkpoint is read) */
    int (*barrier)(void *self, char *err);
    /* Nonblocking all-reduce, so a gradient bucket's communication overlaps the rest of the
     * backward pass (AllReduceStart / AllReduceWait, ir/ops/collective.c): start begins
     * buf <- sum over ranks of buf (in place: only buf is read and written) and returns at once;
     * buf must stay alive and untouched until wait(buf) returns, which the memory plan ensures
     * (the Wait reads the Start's output). Several may be pending; each is waited for once, and
     * the sums equal allreduce_sum's. progress lets pending ones advance between steps (MPI
     * moves nonblocking collectives only inside MPI calls); the executor calls it after every
     * step while some are pending. A transport without them leaves all three NULL: the start
     * then runs allreduce_sum (blocking) and the wait has nothing to do. */
    int (*allreduce_start)(void *self, void *buf, int64_t n, ir_dtype dt, char *err);
    int (*allreduce_wait)(void *self, void *buf, char *err);
    int (*progress)(void *self, char *err);
} ir_comm_ops;

typedef struct ir_comm {
    const ir_comm_ops *ops;
    void *self;
    int rank, size;
    uint64_t bytes_sent; /* payload bytes this rank handed to the transport, as a ring moves them */
    int pending;         /* nonblocking collectives started and not yet waited for */
} ir_comm;

#endif
