/* Every collective op on the cuda backend's library-op table (runtime/backend_cuda.c,
 * lib_collective) over NCCL, 2 ranks under mpirun through the CUDA and NCCL stand-in
 * (tests/fake_cuda/; SSLC_CUDA_DRIVER, SSLC_CUBLAS_LIB, SSLC_CUDNN_LIB, SSLC_NCCL_LIB name it):
 * AllReduce sum and mean, AllGather, ReduceScatter, Broadcast and Reduce from rank 1 (Reduce is
 * what Broadcast's gradient makes: no method's forward graph holds it, so it is built here), and
 * an AllReduceStart / AllReduceWait pair, in one graph on a bare backend (no plan), run twice (the
 * captured CUDA Graph, then its replay on other inputs). Without NVRTC (which compiles the device
 * library ops) it skips (77), as test_cuda_standin does. The inputs are small integers, so the expected values
 * (written out in C) are exact, the means included (x 1/2). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/nvrtc.h"
#include "ir/builder.h"
#include "runtime/backend.h"
#include "mpi_job.h"
#include "runtime/comm.h"

#define N 4 /* elements per rank */
#define R 2

static int run; /* 0: the captured run, 1: the replay (other inputs) */
static float xv(int rank, int i) { return (float)(3 + 8 * rank + i + 100 * run); }

enum { AR_SUM, AR_MEAN, AG, RS, BC, RD, ARW, NOUT };
static const char *const names[NOUT] = {"AllReduce (sum)", "AllReduce (mean)", "AllGather",  "ReduceScatter",
                                        "Broadcast (root 1)", "Reduce (root 1)", "AllReduceStart/Wait (mean)"};

static void expected(int rank, int k, float *y, int *n) {
    *n = k == AG ? R * N : N;
    for (int i = 0; i < *n; i++) {
        float s = 0;
        for (int r = 0; r < R; r++) s += xv(r, k == RS ? rank * N + i : i);
        switch (k) {
        case AR_SUM:
        case RS: y[i] = s; break;
        case AR_MEAN:
        case ARW: y[i] = s * 0.5f; break;
        case AG: y[i] = xv(i / N, i % N); break;
        case BC: y[i] = xv(1, i); break;
        default: y[i] = rank == 1 ? s : 0; break;
        }
    }
}

int main(void) {
    ir_comm comm;
    char err[IR_ERRLEN] = "", info[512] = "";
    if (mpi_job_open(&comm, R)) return 1;
    int major, minor;
    if (nvrtc_available(&major, &minor, err)) {
        printf("skip: NVRTC is not installed (%s): the cuda backend compiles its device ops with it\n", err);
        comm_close(&comm);
        return 77;
    }
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(N));
    int x2 = ir_input(&g, "x2", DT_F32, IR_SHAPE(R * N));
    int out[NOUT];
    out[AR_SUM] = ir_all_reduce(&g, x, R, 0);
    out[AR_MEAN] = ir_all_reduce(&g, x, R, 1);
    out[AG] = ir_all_gather(&g, x, R);
    out[RS] = ir_reduce_scatter(&g, x2, R);
    out[BC] = ir_broadcast(&g, x, R, 1);
    int rd = ir_node_new(&g, OP_Reduce, &x, 1);
    ir_set_i(&g, rd, "ranks", R);
    ir_set_i(&g, rd, "root", 1);
    out[RD] = ir_node_finish(&g, rd);
    out[ARW] = ir_all_reduce_wait(&g, ir_all_reduce_start(&g, x, R), R, 1);
    for (int k = 0; k < NOUT; k++) ir_add_output(&g, out[k]);
    int failed = 0;
    backend b = {0};
    if (g.failed) {
        fprintf(stderr, "building the graph: %s\n", g.err);
        failed = 1;
        goto out;
    }
    backend_args a = {&g, NULL, 0, 0, &comm, info, sizeof info};
    if (backend_cuda_new(&a, &b, err)) goto fail;
    if (!strstr(info, "collectives over NCCL")) {
        fprintf(stderr, "rank %d: the backend did not open NCCL: %s\n", comm.rank, info);
        failed = 1;
        goto out;
    }
    for (run = 0; run < 2; run++) { /* the capture, then a replay */
        float xs[N], x2s[R * N];
        for (int i = 0; i < N; i++) xs[i] = xv(comm.rank, i);
        for (int i = 0; i < R * N; i++) x2s[i] = xv(comm.rank, i);
        if (b.ops->upload(b.self, x, xs, sizeof xs, err) || b.ops->upload(b.self, x2, x2s, sizeof x2s, err) ||
            b.ops->run(b.self, err) || b.ops->sync(b.self, err))
            goto fail;
        for (int k = 0; k < NOUT; k++) {
            float got[R * N], want[R * N];
            int n;
            expected(comm.rank, k, want, &n);
            if (b.ops->download(b.self, out[k], got, (size_t)n * sizeof(float), err)) goto fail;
            int ok = !memcmp(got, want, (size_t)n * sizeof(float));
            printf("%s rank %d %s: %s\n", ok ? "ok  " : "FAIL", comm.rank, names[k], run ? "graph replay" : "captured run");
            failed |= !ok;
        }
    }
    /* the stand-in counts the collectives it ran: 7 NCCL calls a step (AllReduceWait makes none;
     * Reduce is an all-reduce), the replay's included */
    void *dl = getenv("SSLC_NCCL_LIB") ? dlopen(getenv("SSLC_NCCL_LIB"), RTLD_NOW | RTLD_NOLOAD) : NULL;
    long long (*calls)(void) = dl ? (long long (*)(void))dlsym(dl, "sslc_fakenccl_calls") : NULL;
    if (calls) {
        int ok = calls() == 14;
        printf("%s rank %d: the stand-in ran %lld NCCL collectives (14: 7 a step, captured and replayed)\n",
               ok ? "ok  " : "FAIL", comm.rank, calls());
        failed |= !ok;
    }
    if (dl) dlclose(dl);
    goto out;
fail:
    fprintf(stderr, "rank %d: %s\n", comm.rank, err);
    failed = 1;
out:
    if (b.ops) b.ops->free(b.self);
    ir_graph_free(&g);
    if (failed) comm_abort(&comm, 1);
    comm_close(&comm);
    return failed;
}
