/* The NCCL communicator (runtime/comm_nccl.h): libnccl.so.2 through dlopen, its collectives on
 * the cuda backend's stream. The nonblocking functions of ir/comm.h are left NULL (its blocking
 * fallback): NCCL's calls only queue work on the stream, so the host never waits in them, and the
 * overlap with the backward pass would need a second stream and events, not written yet. */
#include "comm_nccl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"

/* ---- NCCL's ABI (nccl.h, 2.x): the few types and entry points sslc uses ---- */
typedef int ncclResult_t; /* ncclSuccess = 0 */
typedef struct ncclComm *ncclComm_t;
typedef struct {
    char internal[128]; /* NCCL_UNIQUE_ID_BYTES */
} ncclUniqueId;
enum { NCCL_UINT8 = 1, NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8 }; /* ncclDataType_t */
enum { NCCL_SUM = 0 };                                      /* ncclRedOp_t */
enum { NCCL_IN_PROGRESS = 7 };                              /* ncclInProgress: not an error */

typedef struct {
    void *dl;
    ncclResult_t (*GetVersion)(int *version);
    ncclResult_t (*GetUniqueId)(ncclUniqueId *id);
    ncclResult_t (*CommInitRank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*CommDestroy)(ncclComm_t comm);
    ncclResult_t (*CommAbort)(ncclComm_t comm);
    ncclResult_t (*CommGetAsyncError)(ncclComm_t comm, ncclResult_t *async_error);
    const char *(*GetErrorString)(ncclResult_t r);
    ncclResult_t (*AllReduce)(const void *send, void *recv, size_t count, int dtype, int op, ncclComm_t comm,
                              CUstream stream);
    ncclResult_t (*AllGather)(const void *send, void *recv, size_t sendcount, int dtype, ncclComm_t comm,
                              CUstream stream);
    ncclResult_t (*ReduceScatter)(const void *send, void *recv, size_t recvcount, int dtype, int op, ncclComm_t comm,
                                  CUstream stream);
    ncclResult_t (*Broadcast)(const void *send, void *recv, size_t count, int dtype, int root, ncclComm_t comm,
                              CUstream stream);
} nccl_api;

#define S(field, name) {offsetof(nccl_api, field), name}
static const cuda_sym nccl_syms[] = {
    S(GetVersion, "ncclGetVersion"),
    S(GetUniqueId, "ncclGetUniqueId"),
    S(CommInitRank, "ncclCommInitRank"),
    S(CommDestroy, "ncclCommDestroy"),
    S(CommAbort, "ncclCommAbort"),
    S(CommGetAsyncError, "ncclCommGetAsyncError"),
    S(GetErrorString, "ncclGetErrorString"),
    S(AllReduce, "ncclAllReduce"),
    S(AllGather, "ncclAllGather"),
    S(ReduceScatter, "ncclReduceScatter"),
    S(Broadcast, "ncclBroadcast"),
};
#undef S

typedef struct {
    nccl_api nc;
    ncclComm_t comm;
    CUstream stream;
    const ir_comm *host; /* the bootstrap communicator: its barrier is this one's */
    /* the same, counting: the bytes a rank sends are the job's (sslc step reports the job
     * communicator's count), whichever transport carried them */
    ir_comm *job;
    ir_comm *c;
    int failed;          /* a call failed: close aborts instead of destroying */
    int inited;          /* ncclCommInitRank was called (NCCL then stays loaded) */
} nccl_state;

static int nccl_load(nccl_api *a, char *err) {
    static const char *const names[] = {"libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2",
                                        "/usr/local/cuda/lib64/libnccl.so.2"};
    return cuda_lib_load(a, sizeof *a, "NCCL (libnccl.so.2)", "SSLC_NCCL_LIB",
                         "install NCCL (pip install nvidia-nccl-cu12 or nvidia-nccl-cu13, with its nvidia/nccl/lib "
                         "on LD_LIBRARY_PATH; or the CUDA toolkit's, in /usr/local/cuda/lib)",
                         names, (int)(sizeof names / sizeof names[0]), nccl_syms,
                         (int)(sizeof nccl_syms / sizeof nccl_syms[0]), err);
}

static int fail(nccl_state *s, ncclResult_t r, const char *call, char *err) {
    s->failed = 1;
    snprintf(err, IR_ERRLEN, "NCCL %s failed on rank %d: %s (error %d; another rank may have ended)", call, s->c->rank,
             s->nc.GetErrorString ? s->nc.GetErrorString(r) : "unknown error", r);
    return -1;
}

/* an error of an earlier collective that NCCL found while it ran on the device (a peer gone, a
 * network failure) is reported at the next call, not lost */
static int healthy(nccl_state *s, const char *call, char *err) {
    ncclResult_t a = 0, r = s->nc.CommGetAsyncError(s->comm, &a);
    if (r) return fail(s, r, "CommGetAsyncError", err);
    if (a && a != NCCL_IN_PROGRESS) return fail(s, a, call, err);
    return 0;
}

static size_t elt(ir_dtype dt) { return dt == DT_F64 ? 8 : dt == DT_U8 ? 1 : 4; }

static int nccl_type(nccl_state *s, ir_dtype dt, const char *call, char *err) {
    if (dt == DT_F32) return NCCL_FLOAT32;
    if (dt == DT_F64) return NCCL_FLOAT64;
    if (dt == DT_U8) return NCCL_UINT8;
    s->failed = 1;
    snprintf(err, IR_ERRLEN, "NCCL %s: no NCCL type for %s", call, ir_dtype_name(dt));
    return -1;
}

static void count(nccl_state *s, double bytes) {
    s->c->bytes_sent += (uint64_t)bytes;
    s->job->bytes_sent += (uint64_t)bytes;
}

void comm_nccl_count(ir_comm *c, uint64_t bytes) {
    if (c->self) count(c->self, (double)bytes);
}

#define CALL(s, call, expr) ((r_ = (expr)) ? fail(s, r_, call, err) : 0)

static int nccl_allreduce(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    nccl_state *s = self;
    int t = nccl_type(s, dt, "AllReduce", err);
    ncclResult_t r_;
    if (t < 0 || healthy(s, "AllReduce", err)) return -1;
    count(s, comm_ring_bytes(OP_AllReduce, (double)n * (double)elt(dt), s->c->size));
    return CALL(s, "AllReduce", s->nc.AllReduce(buf, buf, (size_t)n, t, NCCL_SUM, s->comm, s->stream));
}

static int nccl_allgather(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    nccl_state *s = self;
    int t = nccl_type(s, dt, "AllGather", err);
    ncclResult_t r_;
    if (t < 0 || healthy(s, "AllGather", err)) return -1;
    count(s, comm_ring_bytes(OP_AllGather, (double)n * (double)elt(dt), s->c->size));
    return CALL(s, "AllGather", s->nc.AllGather(src, dst, (size_t)n, t, s->comm, s->stream));
}

static int nccl_reduce_scatter(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    nccl_state *s = self;
    int t = nccl_type(s, dt, "ReduceScatter", err);
    ncclResult_t r_;
    if (t < 0 || healthy(s, "ReduceScatter", err)) return -1;
    count(s, comm_ring_bytes(OP_ReduceScatter, (double)n * s->c->size * (double)elt(dt), s->c->size));
    return CALL(s, "ReduceScatter", s->nc.ReduceScatter(src, dst, (size_t)n, t, NCCL_SUM, s->comm, s->stream));
}

static int nccl_broadcast(void *self, void *buf, int64_t n, ir_dtype dt, int root, char *err) {
    nccl_state *s = self;
    int t = nccl_type(s, dt, "Broadcast", err);
    ncclResult_t r_;
    if (t < 0 || healthy(s, "Broadcast", err)) return -1;
    if (root < 0 || root >= s->c->size) {
        snprintf(err, IR_ERRLEN, "NCCL Broadcast from rank %d in a job of %d ranks", root, s->c->size);
        return -1;
    }
    count(s, comm_ring_bytes(OP_Broadcast, (double)n * (double)elt(dt), s->c->size));
    return CALL(s, "Broadcast", s->nc.Broadcast(buf, buf, (size_t)n, t, root, s->comm, s->stream));
}

/* the ranks' hosts meet (what a barrier is for); the device work queued before stays queued */
static int nccl_barrier(void *self, char *err) {
    nccl_state *s = self;
    return s->host->ops->barrier(s->host->self, err);
}

static const ir_comm_ops nccl_ops = {"nccl",         nccl_allreduce, nccl_allgather, nccl_reduce_scatter,
                                     nccl_broadcast, nccl_barrier,   NULL,           NULL,
                                     NULL};

int comm_local_rank(char *err) {
    if (!comm_launched()) return 0;
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long r;
        if (v && *v && (r = strtol(v, &end, 10)) >= 0 && !*end && r < 1 << 20) return (int)r;
    }
    snprintf(err, IR_ERRLEN,
             "this rank's launcher does not say its rank on this machine (OMPI_COMM_WORLD_LOCAL_RANK): start the job "
             "with OpenMPI's mpirun, one process per GPU");
    return -1;
}

int comm_nccl_open(ir_comm *c, const ir_comm *host, CUstream stream, char *version, char *err) {
    memset(c, 0, sizeof *c);
    nccl_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, IR_ERRLEN, "out of memory opening NCCL");
        return -1;
    }
    s->host = host, s->stream = stream, s->c = c;
    s->job = (ir_comm *)host; /* counted only: the engines get the job's communicator read-only */
    c->rank = host->rank, c->size = host->size, c->self = s;
    /* every rank loads first and the job agrees before the bootstrap: a rank without NCCL must
     * not leave the others waiting in the broadcast (each says why; the frontend ends the job) */
    char why[IR_ERRLEN] = "";
    int bad = nccl_load(&s->nc, why) ? 1 : 0;
    float nbad = (float)bad;
    if (host->ops->allreduce_sum(host->self, &nbad, 1, DT_F32, err)) goto fail;
    if (bad) {
        snprintf(err, IR_ERRLEN, "%s", why);
        goto fail;
    }
    if (nbad > 0) {
        snprintf(err, IR_ERRLEN, "rank %d: NCCL failed to load on %.0f other rank(s) (their lines say why)", c->rank,
                 nbad);
        goto fail;
    }
    int v = 0;
    ncclResult_t r_;
    if (CALL(s, "GetVersion", s->nc.GetVersion(&v))) goto fail;
    if (version) snprintf(version, 16, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (c->rank == 0 && CALL(s, "GetUniqueId", s->nc.GetUniqueId(&id))) goto fail;
    if (host->ops->broadcast(host->self, &id, (int64_t)sizeof id, DT_U8, 0, err)) goto fail;
    s->inited = 1;
    if (CALL(s, "CommInitRank", s->nc.CommInitRank(&s->comm, c->size, id, c->rank))) {
        s->comm = NULL;
        goto fail;
    }
    c->ops = &nccl_ops;
    return 0;
fail:
    comm_nccl_close(c);
    return -1;
}

void comm_nccl_close(ir_comm *c) {
    nccl_state *s = c->self;
    if (!s) return;
    if (s->comm) (s->failed ? s->nc.CommAbort : s->nc.CommDestroy)(s->comm);
    /* NCCL is not unloaded once asked for a communicator: threads it started (its proxy, a
     * failed init's) may still run its code, and dlclose would pull that code from under them */
    if (s->nc.dl && !s->inited) cuda_lib_unload(&s->nc, sizeof s->nc);
    free(s);
    memset(c, 0, sizeof *c);
}
