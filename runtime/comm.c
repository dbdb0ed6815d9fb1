/* The MPI and single-rank communicators. MPI is initialized only when mpirun started the
 * process, so a plain run needs no MPI runtime at all. Errors come back as return codes
 * (MPI_ERRORS_RETURN) and are reported by the caller, which then ends the job (comm_abort). */
#include "comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int comm_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

/* DT_U8 moves raw bytes (broadcasting tensors of any dtype) */
static size_t elt(ir_dtype dt) { return dt == DT_F64 ? 8 : dt == DT_U8 ? 1 : 4; }
static MPI_Datatype mpi_type(ir_dtype dt) { return dt == DT_F64 ? MPI_DOUBLE : dt == DT_U8 ? MPI_BYTE : MPI_FLOAT; }

static int mpi_fail(int rc, const char *what, char *err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    snprintf(err, IR_ERRLEN, "MPI %s failed: %s (another rank may have ended)", what, msg);
    return -1;
}

static int checked(int rc, const char *what, char *err) { return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, what, err); }

static ir_comm *as_comm(void *self) { return self; }

static int mpi_allreduce(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_AllReduce, (double)n * (double)elt(dt), c->size);
    return checked(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, mpi_type(dt), MPI_SUM, MPI_COMM_WORLD), "AllReduce", err);
}

static int mpi_allgather(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_AllGather, (double)n * (double)elt(dt), c->size);
    return checked(MPI_Allgather(src, (int)n, mpi_type(dt), dst, (int)n, mpi_type(dt), MPI_COMM_WORLD), "AllGather",
                   err);
}

static int mpi_reduce_scatter(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_ReduceScatter, (double)n * c->size * (double)elt(dt), c->size);
    return checked(MPI_Reduce_scatter_block(src, dst, (int)n, mpi_type(dt), MPI_SUM, MPI_COMM_WORLD), "ReduceScatter",
                   err);
}

static int mpi_broadcast(void *self, void *buf, int64_t n, ir_dtype dt, int root, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_Broadcast, (double)n * (double)elt(dt), c->size);
    return checked(MPI_Bcast(buf, (int)n, mpi_type(dt), root, MPI_COMM_WORLD), "Broadcast", err);
}

static int mpi_barrier(void *self, char *err) {
    (void)self;
    return checked(MPI_Barrier(MPI_COMM_WORLD), "Barrier", err);
}

static const ir_comm_ops mpi_ops = {"mpi", mpi_allreduce, mpi_allgather, mpi_reduce_scatter, mpi_broadcast, mpi_barrier};

/* one rank: every collective is a copy */
static int self_allreduce(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    (void)self, (void)buf, (void)n, (void)dt, (void)err;
    return 0;
}
static int self_copy(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    (void)self, (void)err;
    if (src != dst) memmove(dst, src, (size_t)n * elt(dt));
    return 0;
}
static int self_broadcast(void *self, void *buf, int64_t n, ir_dtype dt, int root, char *err) {
    (void)self, (void)buf, (void)n, (void)dt;
    if (root == 0) return 0;
    snprintf(err, IR_ERRLEN, "Broadcast from rank %d in a job of one rank", root);
    return -1;
}
static int self_barrier(void *self, char *err) {
    (void)self, (void)err;
    return 0;
}

static const ir_comm_ops self_ops = {"self", self_allreduce, self_copy, self_copy, self_broadcast, self_barrier};

int comm_open(ir_comm *c, char *err) {
    memset(c, 0, sizeof *c);
    c->self = c;
    if (!comm_launched()) {
        c->ops = &self_ops;
        c->size = 1;
        return 0;
    }
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "Init", err);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->ops = &mpi_ops;
    return 0;
}

void comm_close(ir_comm *c) {
    if (c->ops == &mpi_ops) MPI_Finalize();
    c->ops = NULL;
}

void comm_abort(ir_comm *c, int code) {
    if (c->ops == &mpi_ops && c->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

double comm_ring_bytes(int op, double bytes, int ranks) {
    if (ranks < 2) return 0;
    double f = (double)(ranks - 1) / ranks;
    switch (op) {
    case OP_AllReduce: return 2 * f * bytes;
    case OP_AllGather: return (ranks - 1) * bytes;
    case OP_ReduceScatter:
    case OP_Broadcast:
    case OP_Reduce: return f * bytes;
    default: return 0;
    }
}
