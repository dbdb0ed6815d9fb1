/* The NCCL communicator (runtime/comm_nccl.c) on device buffers: every collective of its table
 * against the values written out in C, on the GPU of this rank's local rank. In the default
 * suite it runs under mpirun -np 2 against the CUDA and NCCL stand-in (tests/fake_cuda/, named by
 * SSLC_CUDA_DRIVER and SSLC_NCCL_LIB, SSLC_FAKECUDA_DEVICES=2): the dlopen, the bootstrap (rank
 * 0's id through the MPI communicator; the stand-in refuses an id that is not rank 0's), the
 * argument order and counts, the stream. tests/gpu/run.sh runs it with one rank and no mpirun on
 * a real GPU with the real NCCL (whose one-rank collectives are copies).
 *
 * The values are small integers, so every sum is exact in float32 whatever order NCCL adds in:
 * the checks are exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/comm.h"
#include "runtime/comm_nccl.h"
#include "runtime/cuda_api.h"

#define N 6 /* elements per rank */

static cuda_driver_api cu;
static CUstream stream;
static int failed;

static void check(int cond, const ir_comm *c, const char *what) {
    printf("%s rank %d: %s\n", cond ? "ok  " : "FAIL", c->rank, what);
    if (!cond) failed = 1;
}

static int up(CUdeviceptr d, const float *h, int n) {
    return cu.MemcpyHtoDAsync(d, h, (size_t)n * sizeof *h, stream) || cu.StreamSynchronize(stream);
}
static int down(float *h, CUdeviceptr d, int n) {
    return cu.MemcpyDtoHAsync(h, d, (size_t)n * sizeof *h, stream) || cu.StreamSynchronize(stream);
}
static float xv(int rank, int i) { return (float)(1 + 10 * rank + i); }

static int same(const float *a, const float *b, int n) { return !memcmp(a, b, (size_t)n * sizeof *a); }

/* every collective once, on buffers of N (and ranks * N) floats */
static int run_all(ir_comm *nc, CUdeviceptr a, CUdeviceptr b, char *err) {
    int R = nc->size, r = nc->rank;
    float x[64], y[64], want[64];
    void *pa = (void *)(uintptr_t)a, *pb = (void *)(uintptr_t)b;

    for (int i = 0; i < N; i++) x[i] = xv(r, i);
    if (up(a, x, N) || nc->ops->allreduce_sum(nc->self, pa, N, DT_F32, err) || down(y, a, N)) return -1;
    for (int i = 0; i < N; i++) {
        want[i] = 0;
        for (int s = 0; s < R; s++) want[i] += xv(s, i);
    }
    check(same(y, want, N), nc, "AllReduce (sum, in place)");

    for (int i = 0; i < N; i++) x[i] = xv(r, i);
    if (up(a, x, N) || nc->ops->allgather(nc->self, pa, pb, N, DT_F32, err) || down(y, b, R * N)) return -1;
    for (int s = 0; s < R; s++)
        for (int i = 0; i < N; i++) want[s * N + i] = xv(s, i);
    check(same(y, want, R * N), nc, "AllGather (rank order)");

    for (int i = 0; i < R * N; i++) x[i] = xv(r, i);
    if (up(b, x, R * N) || nc->ops->reduce_scatter_sum(nc->self, pb, pa, N, DT_F32, err) || down(y, a, N)) return -1;
    for (int i = 0; i < N; i++) {
        want[i] = 0;
        for (int s = 0; s < R; s++) want[i] += xv(s, r * N + i);
    }
    check(same(y, want, N), nc, "ReduceScatter (this rank's block of the sum)");

    int root = R - 1; /* not rank 0: the root is passed through */
    for (int i = 0; i < N; i++) x[i] = xv(r, i), want[i] = xv(root, i);
    if (up(a, x, N) || nc->ops->broadcast(nc->self, pa, N, DT_F32, root, err) || down(y, a, N)) return -1;
    check(same(y, want, N), nc, "Broadcast (from the last rank)");

    unsigned char bytes[N], wb[N], got[N];
    for (int i = 0; i < N; i++) bytes[i] = (unsigned char)(200 + r + i), wb[i] = (unsigned char)(200 + i);
    if (cu.MemcpyHtoDAsync(a, bytes, N, stream) || nc->ops->broadcast(nc->self, pa, N, DT_U8, 0, err) ||
        cu.MemcpyDtoHAsync(got, a, N, stream) || cu.StreamSynchronize(stream))
        return -1;
    check(!memcmp(got, wb, N), nc, "Broadcast of raw bytes (DT_U8) from rank 0");

    if (nc->ops->barrier(nc->self, err)) return -1;
    check(nc->ops->allreduce_start == NULL && nc->ops->allreduce_wait == NULL && nc->ops->progress == NULL, nc,
          "no nonblocking functions: ir/comm.h's blocking fallback");
    /* AllReduce 2(R-1)/R N, AllGather N, ReduceScatter (R-1)/R R N, Broadcast (R-1)/R N (x2) */
    double f = (double)(R - 1) / R, sent = 4.0 * (2 * f * N + (R - 1) * N + f * R * N + f * N) + f * N;
    check((double)nc->bytes_sent == (R > 1 ? sent : 0), nc, "bytes sent counted as a ring moves them");
    return 0;
}

int main(void) {
    ir_comm host, nc = {0};
    char err[IR_ERRLEN] = "";
    if (comm_open(&host, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int ordinal = comm_local_rank(err), n = 0, rc = 1;
    CUdevice dev = 0;
    CUcontext ctx = NULL;
    CUdeviceptr a = 0, b = 0;
    if (ordinal < 0) goto out;
    if (cuda_driver_load(&cu, err)) goto out;
    if (cu.Init(0) || cu.DeviceGetCount(&n) || ordinal >= n || cu.DeviceGet(&dev, ordinal) ||
        cu.DevicePrimaryCtxRetain(&ctx, dev) || cu.CtxSetCurrent(ctx) || cu.StreamCreate(&stream, CU_STREAM_NON_BLOCKING) ||
        cu.MemAlloc(&a, 64 * sizeof(float)) || cu.MemAlloc(&b, 64 * sizeof(float))) {
        snprintf(err, IR_ERRLEN, "rank %d: no CUDA device %d (%d on this machine)", host.rank, ordinal, n);
        goto out;
    }
    if (host.size * N > 64) {
        snprintf(err, IR_ERRLEN, "at most %d ranks", 64 / N);
        goto out;
    }
    char version[16];
    if (comm_nccl_open(&nc, &host, stream, version, err)) goto out;
    printf("ok   rank %d: NCCL %s opened over %d rank(s) on device %d\n", host.rank, version, nc.size, ordinal);
    check(nc.rank == host.rank && nc.size == host.size && !strcmp(nc.ops->name, "nccl"), &nc,
          "the communicator has the job's rank and size");
    rc = run_all(&nc, a, b, err) ? 1 : failed;
out:
    if (err[0]) fprintf(stderr, "test_comm_nccl: %s\n", err);
    comm_nccl_close(&nc);
    if (stream) cu.StreamSynchronize(stream);
    if (a) cu.MemFree(a);
    if (b) cu.MemFree(b);
    if (stream) cu.StreamDestroy(stream);
    if (ctx) cu.DevicePrimaryCtxRelease(dev);
    cuda_driver_unload(&cu);
    if (rc && host.size > 1) comm_abort(&host, 1);
    comm_close(&host);
    return rc;
}
