/* The stand-in's NCCL: the entry points of runtime/comm_nccl.c over the stand-in's host-memory
 * "device" buffers, each collective an MPI call on MPI_COMM_WORLD (the job sslc's own
 * communicator opened; a one-rank communicator needs no MPI). A collective is an operation of
 * its stream like a kernel: it runs when queued, or is recorded by a capturing stream and runs
 * at each replay. Sums are MPI_SUM, as runtime/comm.c's, so a job through the stand-in is bit
 * for bit the cpu backend's job over MPI.
 *
 * ncclCommInitRank checks the bootstrap: the id must be rank 0's (broadcast here again and
 * compared), nranks and rank must be MPI's. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"

typedef int ncclResult_t;
enum { NCCL_OK = 0, NCCL_INTERNAL = 3, NCCL_INVALID_ARGUMENT = 4, NCCL_INVALID_USAGE = 5 };
enum { NCCL_UINT8 = 1, NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8 };
enum { ID_BYTES = 128, COMM_MAGIC = 0x2cc1 };

typedef struct {
    char internal[ID_BYTES];
} ncclUniqueId;

struct ncclComm {
    int magic, nranks, rank;
};
typedef struct ncclComm *ncclComm_t;

static long long collectives; /* run (directly or by a graph replay) */

/* collectives this process has run */
FK_API long long sslc_fakenccl_calls(void) { return collectives; }

FK_API ncclResult_t ncclGetVersion(int *version) {
    if (!version) return NCCL_INVALID_ARGUMENT;
    *version = 22805; /* 2.28.5: NCCL's version code, major*10000 + minor*100 + patch */
    return NCCL_OK;
}

FK_API const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case NCCL_OK: return "no error";
    case NCCL_INTERNAL: return "internal error (the stand-in's MPI call failed)";
    case NCCL_INVALID_ARGUMENT: return "invalid argument";
    case NCCL_INVALID_USAGE: return "invalid usage";
    default: return "unknown result code";
    }
}

FK_API ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    if (!id) return NCCL_INVALID_ARGUMENT;
    /* different in every process: a rank that kept its own id is caught at init */
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "sslc-fakenccl pid %ld", (long)getpid());
    return NCCL_OK;
}

static int mpi_up(void) {
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    return up && !down;
}

FK_API ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (fk_need_context("ncclCommInitRank")) return NCCL_INVALID_USAGE;
    if (!comm || nranks < 1 || rank < 0 || rank >= nranks) {
        fk_say("ncclCommInitRank", "nranks %d, rank %d", nranks, rank);
        return NCCL_INVALID_ARGUMENT;
    }
    if (nranks > 1 || mpi_up()) {
        int size = 1, me = 0;
        if (!mpi_up()) {
            fk_say("ncclCommInitRank", "%d ranks without MPI (the stand-in's NCCL runs over the job's MPI)", nranks);
            return NCCL_INVALID_USAGE;
        }
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        MPI_Comm_rank(MPI_COMM_WORLD, &me);
        if (size != nranks || me != rank) {
            fk_say("ncclCommInitRank", "rank %d of %d, but MPI says rank %d of %d", rank, nranks, me, size);
            return NCCL_INVALID_ARGUMENT;
        }
        ncclUniqueId root = id;
        if (MPI_Bcast(&root, ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return NCCL_INTERNAL;
        if (memcmp(&root, &id, ID_BYTES)) {
            fk_say("ncclCommInitRank", "rank %d's unique id is not rank 0's (the bootstrap must broadcast it)", rank);
            return NCCL_INVALID_ARGUMENT;
        }
    }
    ncclComm_t c = calloc(1, sizeof *c);
    if (!c) return NCCL_INTERNAL;
    *c = (struct ncclComm){COMM_MAGIC, nranks, rank};
    *comm = c;
    return NCCL_OK;
}

static int comm_ok(const char *call, ncclComm_t c) {
    if (c && c->magic == COMM_MAGIC) return 1;
    fk_say(call, "not a communicator");
    return 0;
}

static ncclResult_t comm_end(const char *call, ncclComm_t c) {
    if (!comm_ok(call, c)) return NCCL_INVALID_ARGUMENT;
    c->magic = 0;
    free(c);
    return NCCL_OK;
}
FK_API ncclResult_t ncclCommDestroy(ncclComm_t c) { return comm_end("ncclCommDestroy", c); }
FK_API ncclResult_t ncclCommAbort(ncclComm_t c) { return comm_end("ncclCommAbort", c); }

FK_API ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t *async_error) {
    if (!comm_ok("ncclCommGetAsyncError", c) || !async_error) return NCCL_INVALID_ARGUMENT;
    *async_error = NCCL_OK; /* the stand-in runs each collective when it runs: failures are its result */
    return NCCL_OK;
}

/* ---- collectives ---- */

typedef enum { K_ALLREDUCE, K_ALLGATHER, K_REDUCE_SCATTER, K_BROADCAST } coll_kind;

typedef struct {
    const char *call;
    coll_kind kind;
    const void *send;
    void *recv;
    size_t count; /* NCCL's: per rank for AllGather (send) and ReduceScatter (recv) */
    int dtype, root;
    ncclComm_t comm;
} coll_op;

static size_t elt(int dtype) { return dtype == NCCL_FLOAT64 ? 8 : dtype == NCCL_FLOAT32 ? 4 : 1; }
static MPI_Datatype mpi_type(int dtype) {
    return dtype == NCCL_FLOAT64 ? MPI_DOUBLE : dtype == NCCL_FLOAT32 ? MPI_FLOAT : MPI_BYTE;
}

static size_t send_bytes(const coll_op *o) {
    size_t n = o->count * elt(o->dtype);
    return o->kind == K_REDUCE_SCATTER ? n * (size_t)o->comm->nranks : n;
}
static size_t recv_bytes(const coll_op *o) {
    size_t n = o->count * elt(o->dtype);
    return o->kind == K_ALLGATHER ? n * (size_t)o->comm->nranks : n;
}

static int coll_check(const void *payload) {
    const coll_op *o = payload;
    if (!comm_ok(o->call, o->comm)) return NCCL_INVALID_ARGUMENT;
    if (o->dtype != NCCL_FLOAT32 && o->dtype != NCCL_FLOAT64 && !(o->dtype == NCCL_UINT8 && o->kind == K_BROADCAST)) {
        fk_say(o->call, "data type %d: the stand-in sums float32/float64 and broadcasts uint8 too", o->dtype);
        return NCCL_INVALID_ARGUMENT;
    }
    if (o->count > (size_t)1 << 30) {
        fk_say(o->call, "%zu elements: more than the stand-in's MPI counts", o->count);
        return NCCL_INVALID_ARGUMENT;
    }
    /* the root's send buffer is the only one Broadcast reads */
    int reads = o->kind != K_BROADCAST || o->comm->rank == o->root;
    if ((reads && fk_check_dev(o->call, "sendbuff", o->send, send_bytes(o))) ||
        fk_check_dev(o->call, "recvbuff", o->recv, recv_bytes(o)))
        return NCCL_INVALID_ARGUMENT;
    return 0;
}

static int coll_run(const void *payload) {
    const coll_op *o = payload;
    size_t sb = send_bytes(o), rb = recv_bytes(o);
    collectives++;
    if (o->comm->nranks == 1) {
        if (o->send != o->recv) memmove(o->recv, o->send, sb < rb ? sb : rb);
        return NCCL_OK;
    }
    /* MPI forbids overlapping buffers other than MPI_IN_PLACE's: an out-of-place call whose
     * buffers overlap goes through a copy of its input */
    const char *s = o->send, *r = o->recv;
    void *tmp = NULL;
    int in_place = s == r && o->kind != K_ALLGATHER && o->kind != K_REDUCE_SCATTER;
    if (!in_place && s < r + rb && r < s + sb) {
        if (!(tmp = malloc(sb))) return NCCL_INTERNAL;
        memcpy(tmp, s, sb);
        s = tmp;
    }
    int n = (int)o->count, rc;
    MPI_Datatype t = mpi_type(o->dtype);
    switch (o->kind) {
    case K_ALLREDUCE:
        rc = MPI_Allreduce(in_place ? MPI_IN_PLACE : s, o->recv, n, t, MPI_SUM, MPI_COMM_WORLD);
        break;
    case K_ALLGATHER: rc = MPI_Allgather(s, n, t, o->recv, n, t, MPI_COMM_WORLD); break;
    case K_REDUCE_SCATTER: rc = MPI_Reduce_scatter_block(s, o->recv, n, t, MPI_SUM, MPI_COMM_WORLD); break;
    default:
        if (!in_place && o->comm->rank == o->root) memcpy(o->recv, s, rb);
        rc = MPI_Bcast(o->recv, n, t, o->root, MPI_COMM_WORLD);
        break;
    }
    free(tmp);
    if (rc != MPI_SUCCESS) {
        fk_say(o->call, "MPI failed (another rank may have ended)");
        return NCCL_INTERNAL;
    }
    return NCCL_OK;
}

static ncclResult_t submit(coll_op *o, CUstream s) {
    if (!fk_stream_ok(s)) {
        fk_say(o->call, "not a stream");
        return NCCL_INVALID_ARGUMENT;
    }
    if (fk_need_context(o->call)) return NCCL_INVALID_USAGE;
    int r = fk_submit(s, o->call, coll_check, coll_run, o, sizeof *o);
    /* a driver error (capture invalidated, out of memory) reads as a CUDA error in NCCL */
    return r == NCCL_OK || r == NCCL_INVALID_ARGUMENT || r == NCCL_INTERNAL ? r : 1 /* ncclUnhandledCudaError */;
}

FK_API ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, int dtype, int op, ncclComm_t comm,
                                  CUstream stream) {
    if (op != 0) {
        fk_say("ncclAllReduce", "reduction %d: the stand-in sums (ncclSum) only", op);
        return NCCL_INVALID_ARGUMENT;
    }
    coll_op o = {"ncclAllReduce", K_ALLREDUCE, send, recv, count, dtype, 0, comm};
    return submit(&o, stream);
}

FK_API ncclResult_t ncclAllGather(const void *send, void *recv, size_t sendcount, int dtype, ncclComm_t comm,
                                  CUstream stream) {
    coll_op o = {"ncclAllGather", K_ALLGATHER, send, recv, sendcount, dtype, 0, comm};
    return submit(&o, stream);
}

FK_API ncclResult_t ncclReduceScatter(const void *send, void *recv, size_t recvcount, int dtype, int op,
                                      ncclComm_t comm, CUstream stream) {
    if (op != 0) {
        fk_say("ncclReduceScatter", "reduction %d: the stand-in sums (ncclSum) only", op);
        return NCCL_INVALID_ARGUMENT;
    }
    coll_op o = {"ncclReduceScatter", K_REDUCE_SCATTER, send, recv, recvcount, dtype, 0, comm};
    return submit(&o, stream);
}

FK_API ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, int dtype, int root, ncclComm_t comm,
                                  CUstream stream) {
    if (!comm_ok("ncclBroadcast", comm)) return NCCL_INVALID_ARGUMENT;
    if (root < 0 || root >= comm->nranks) {
        fk_say("ncclBroadcast", "root %d of %d ranks", root, comm->nranks);
        return NCCL_INVALID_ARGUMENT;
    }
    coll_op o = {"ncclBroadcast", K_BROADCAST, send, recv, count, dtype, root, comm};
    return submit(&o, stream);
}
