/* The CUDA stand-in (tests/fake_cuda/), driven as the cuda backend drives the real libraries:
 * loaded by runtime/cuda_api.c through SSLC_CUDA_DRIVER / SSLC_CUBLAS_LIB / SSLC_CUDNN_LIB.
 * Copies round-trip; a device library op (Cast) gives the reference kernel's bytes; a fused
 * segment from a JIT module gives the module's own bytes; Sgemm gives the cpu backend's GEMM's; cuDNN's forward
 * convolution (+ AddTensor bias) gives the reference Conv's bytes and the two gradients are its
 * adjoints; a capture records without executing and its graph replays each time it is launched;
 * the stand-in refuses a copy outside an allocation, a bad kernel pointer, synchronizing,
 * allocating or copying from pageable memory during capture, and allocating past
 * SSLC_FAKECUDA_MEM. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/jit.h"
#include "ir/builder.h"
#include "ir/gemm.h"
#include "optest.h"
#include "passes/fusion.h"
#include "runtime/cuda_api.h"
#include "runtime/devops.h"

static cuda_driver_api cu;
static cuda_blas_api bl;
static cuda_dnn_api dn;
static int (*stats)(long long *, long long *, long long *, long long *);
static CUstream st;

#define CU(call) CHECK((call) == 0, "%s failed", #call)

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static void *dalloc(size_t bytes) {
    CUdeviceptr p = 0;
    if (cu.MemAlloc(&p, bytes)) return NULL;
    return (void *)(uintptr_t)p;
}
static int up(void *d, const void *h, size_t bytes) { return cu.MemcpyHtoDAsync((CUdeviceptr)(uintptr_t)d, h, bytes, st); }
static int down(void *h, const void *d, size_t bytes) { return cu.MemcpyDtoHAsync(h, (CUdeviceptr)(uintptr_t)d, bytes, st); }
static void dfree(void *d) { cu.MemFree((CUdeviceptr)(uintptr_t)d); }

/* launch with sslc's convention: packed 8-byte pointers in `extra` */
static int launch(CUfunction f, void **args, int n) {
    size_t size = (size_t)n * sizeof(void *);
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, args, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    return cu.LaunchKernel(f, 1, 1, 1, 128, 1, 1, 0, st, NULL, extra);
}

static int test_device(void) {
    int n = 0, v = 0, major = 0, minor = 0;
    char name[64];
    size_t total = 0, freeb = 0;
    CUdevice dev;
    CUcontext ctx;
    CU(cu.Init(0));
    CU(cu.DriverGetVersion(&v));
    CU(cu.DeviceGetCount(&n));
    CU(cu.DeviceGet(&dev, 0));
    CU(cu.DeviceGetName(name, sizeof name, dev));
    CU(cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CU(cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    CU(cu.DeviceTotalMem(&total, dev));
    CHECK(n == 1 && v == 13000 && !strcmp(name, "sslc CUDA stand-in") && major == 9 && minor == 0 && total == 64 << 20,
          "device: %d devices, driver %d, \"%s\", cc %d.%d, %zu bytes", n, v, name, major, minor, total);
    CHECK(cu.MemAlloc(&(CUdeviceptr){0}, 16) == 201, "cuMemAlloc without a current context is refused");
    CU(cu.DevicePrimaryCtxRetain(&ctx, dev));
    CU(cu.CtxSetCurrent(ctx));
    CU(cu.MemGetInfo(&freeb, &total));
    CHECK(freeb == total && total == 64 << 20, "cuMemGetInfo: %zu free of %zu", freeb, total);
    CU(cu.StreamCreate(&st, CU_STREAM_NON_BLOCKING));
    const char *s = NULL;
    CU(cu.GetErrorString(900, &s));
    printf("ok   one device \"%s\", compute capability %d.%d, driver %d, %zu MiB\n", name, major, minor, v, total >> 20);
    return 0;
}

static int test_memory(void) {
    enum { N = 1000 };
    float h[N], back[N];
    for (int i = 0; i < N; i++) h[i] = frand();
    float *a = dalloc(sizeof h), *b = dalloc(sizeof h);
    CHECK(a && b && ((uintptr_t)a & 255) == 0, "cuMemAlloc");
    long long h2d0, d2h0, h2d1, d2h1;
    stats(NULL, NULL, &h2d0, &d2h0);
    CU(up(a, h, sizeof h));
    CU(cu.MemcpyDtoDAsync((CUdeviceptr)(uintptr_t)b, (CUdeviceptr)(uintptr_t)a, sizeof h, st));
    CU(down(back, b, sizeof h));
    CHECK(!memcmp(h, back, sizeof h), "copies round-trip");
    CU(cu.MemsetD8Async((CUdeviceptr)(uintptr_t)(b + 10), 0, 4 * sizeof(float), st));
    CU(down(back, b, sizeof h));
    CHECK(back[9] == h[9] && back[10] == 0 && back[13] == 0 && back[14] == h[14], "memset");
    CU(cu.StreamSynchronize(st));
    stats(NULL, NULL, &h2d1, &d2h1);
    CHECK(h2d1 - h2d0 == (long long)sizeof h && d2h1 - d2h0 == 2 * (long long)sizeof h, "byte counts");
    /* refused: past the end, not device memory, a freed allocation */
    fprintf(stderr, "(expected refusals follow)\n");
    CHECK(up(a + N - 1, h, 8) == 1, "a copy running 4 bytes past its allocation is refused");
    CHECK(up(h, h, 8) == 1, "a copy to host memory as the device side is refused");
    CHECK(cu.MemcpyDtoDAsync((CUdeviceptr)(uintptr_t)a, (CUdeviceptr)(uintptr_t)(b + 1), sizeof h, st) == 1,
          "a device-to-device copy reading past its source is refused");
    dfree(b);
    CHECK(down(back, b, 4) == 1, "a copy from freed memory is refused");
    CHECK(cu.MemFree((CUdeviceptr)(uintptr_t)b) == 1, "a double free is refused");
    /* SSLC_FAKECUDA_MEM = 64 MiB */
    CUdeviceptr big = 0;
    CHECK(cu.MemAlloc(&big, (size_t)65 << 20) == 2, "an allocation over SSLC_FAKECUDA_MEM is refused");
    CU(cu.MemAlloc(&big, (size_t)60 << 20));
    CHECK(cu.MemAlloc(&(CUdeviceptr){0}, (size_t)5 << 20) == 2, "an allocation past what is left is refused");
    CU(cu.MemFree(big));
    dfree(a);
    printf("ok   copies and memset; out-of-range, host, freed and over-budget accesses refused\n");
    return 0;
}

/* Cast f32 -> i64 through the device library op, against the reference kernel */
static int test_devop(CUmodule mod) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(3, 5, 7));
    ir_cast(&g, x, DT_I64);
    CHECK(!g.failed, "%s", g.err);
    const ir_node *n = &g.nodes[g.nnodes - 1];
    enum { N = 105 };
    float xs[N];
    int64_t want[N], got[N];
    for (int i = 0; i < N; i++) xs[i] = frand() * 300;
    xs[3] = NAN, xs[4] = INFINITY, xs[5] = -1e30f;
    char err[IR_ERRLEN];
    ref_call c = {.node = n, .nin = 1, .nout = 1, .err = err};
    c.in[0] = (ref_tensor){xs, DT_F32, IR_SHAPE(3, 5, 7), N};
    c.out[0] = (ref_tensor){want, DT_I64, IR_SHAPE(3, 5, 7), N};
    CHECK(ir_optable[OP_Cast]->ref_f32(&c) == 0, "reference Cast: %s", err);
    /* the same call on device pointers, prepared as the backend does */
    float *dx = dalloc(sizeof xs);
    int64_t *dy = dalloc(sizeof got);
    devop_args *da = dalloc(sizeof(devop_args));
    CHECK(dx && dy && da, "cuMemAlloc");
    c.in[0].data = dx, c.out[0].data = dy;
    devop_launch l[DEVOP_MAX_LAUNCHES];
    int nl = devop_find(OP_Cast)->prepare(&c, NULL, l, err);
    CHECK(nl == 1 && !strcmp(l[0].kernel, "Cast"), "Cast prepare: %d %s", nl, err);
    CU(up(dx, xs, sizeof xs));
    CU(up(da, &l[0].args, sizeof l[0].args));
    CUfunction f;
    CU(cu.ModuleGetFunction(&f, mod, "sslc_Cast"));
    CHECK(cu.ModuleGetFunction(&(CUfunction){0}, mod, "sslc_NoSuchOp") == 500, "an unknown device op is not found");
    long long l0, l1;
    stats(&l0, NULL, NULL, NULL);
    void *args[1] = {da};
    CU(launch(f, args, 1));
    stats(&l1, NULL, NULL, NULL);
    CU(down(got, dy, sizeof got));
    CHECK(!memcmp(got, want, sizeof got), "Cast through the stand-in differs from the reference kernel");
    CHECK(l1 - l0 == 1, "one launch counted, got %lld", l1 - l0);
    /* refused: two pointers for a device op, kernelParams, an empty grid, args outside memory,
     * an op pointer outside memory */
    size_t size = 16;
    void *two[2] = {da, da};
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, two, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    CHECK(cu.LaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, st, NULL, extra) == 1, "a devop launch with 2 pointers is refused");
    CHECK(cu.LaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, st, args, NULL) == 1, "kernelParams is refused");
    size = 8;
    CHECK(cu.LaunchKernel(f, 0, 1, 1, 1, 1, 1, 0, st, NULL, extra) == 1, "an empty grid is refused");
    void *bad[1] = {(char *)da + 8};
    CHECK(launch(f, bad, 1) == 1, "devop_args running past their allocation are refused");
    l[0].args.p[1] = want; /* host memory */
    CU(up(da, &l[0].args, sizeof l[0].args));
    CHECK(launch(f, args, 1) == 1, "a devop_args pointer outside device memory is refused");
    dfree(dx), dfree(dy), dfree(da);
    ir_graph_free(&g);
    printf("ok   device library op Cast (sslc_Cast) bit-identical to the reference kernel; bad launches refused\n");
    return 0;
}

/* a fused kernel's segment k0_s0 from the JIT module, against the module's own k0 on the host */
static int test_segment(CUmodule mod) {
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(4, 8));
    int b = ir_input(&g, "b", DT_F32, IR_SHAPE(8));
    int y = ir_mul_scalar(&g, ir_relu(&g, ir_add(&g, x, b)), 2.0);
    ir_add_output(&g, y);
    CHECK(!g.failed, "%s", g.err);
    char err[IR_ERRLEN];
    fused_plan fp;
    CHECK(fuse(&g, &fp, err) == 0, "%s", err);
    CHECK(fp.nkernels >= 1 && fp.kernels[0].nseg == 1, "expected one single-segment kernel, got %d", fp.nkernels);
    jit_module jm;
    CHECK(jit_c_load(&fp, &jm, err) == 0, "%s", err);
    setenv("SSLC_FAKECUDA_KERNELS", jm.path, 1);
    const kir *k = &fp.kernels[0].seg[0];
    int na = k->nloads + k->nstores;
    void *host[64], *dev[64];
    size_t bytes[64];
    CHECK(na <= 64, "%d arguments", na);
    for (int a = 0; a < na; a++) {
        int v = a < k->nloads ? k->loads[a].value : k->stores[a - k->nloads].value;
        bytes[a] = (size_t)ir_numel(&g.vals[v].shape) * ir_dtype_size(g.vals[v].dtype);
        host[a] = malloc(bytes[a]);
        dev[a] = dalloc(bytes[a]);
        CHECK(host[a] && dev[a], "out of memory");
        if (g.vals[v].kind == VK_CONST) memcpy(host[a], g.vals[v].data, bytes[a]);
        else for (size_t i = 0; i < bytes[a] / 4; i++) ((float *)host[a])[i] = frand();
        CU(up(dev[a], host[a], bytes[a]));
    }
    CUfunction f;
    CU(cu.ModuleGetFunction(&f, mod, "k0_s0"));
    CHECK(cu.ModuleGetFunction(&(CUfunction){0}, mod, "k999_s0") == 500, "an unknown segment is not found");
    CU(launch(f, dev, na));
    jm.fn[0](host); /* k0 = k0_s0 on the host buffers */
    for (int s = k->nloads; s < na; s++) {
        void *got = malloc(bytes[s]);
        CU(down(got, dev[s], bytes[s]));
        CHECK(!memcmp(got, host[s], bytes[s]), "segment store %d differs from the JIT module's", s - k->nloads);
        free(got);
    }
    void *saved = dev[0];
    dev[0] = host[0]; /* host memory */
    CHECK(launch(f, dev, na) == 1, "a segment pointer outside device memory is refused");
    dev[0] = saved;
    for (int a = 0; a < na; a++) free(host[a]), dfree(dev[a]);
    printf("ok   fused segment k0_s0 (%d loads, %d stores) from the JIT module %s matches k0 on the host\n", k->nloads,
           k->nstores, jm.cached ? "(cached)" : "(compiled)");
    jit_c_unload(&jm);
    fused_plan_free(&fp);
    ir_graph_free(&g);
    return 0;
}

static int test_blas(cublasHandle_t h) {
    enum { M = 5, N = 7, K = 3, B = 3 };
    float A[B * K * M], Bm[B * K * N], C[B * M * N], want[B * M * N], got[B * M * N];
    for (int i = 0; i < B * K * M; i++) A[i] = frand();
    for (int i = 0; i < B * K * N; i++) Bm[i] = frand();
    for (int i = 0; i < B * M * N; i++) C[i] = want[i] = frand();
    float *dA = dalloc(sizeof A), *dB = dalloc(sizeof Bm), *dC = dalloc(sizeof C);
    CU(up(dA, A, sizeof A));
    CU(up(dB, Bm, sizeof Bm));
    CU(up(dC, C, sizeof C));
    const float alpha = 1.5f, beta = 0.5f;
    /* C (M x N) = alpha A^T B + beta C with A stored K x M (lda K), B K x N (ldb K) */
    CHECK(bl.Sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &alpha, dA, K, dB, K, &beta, dC, M) == 0, "cublasSgemm");
    /* the cpu backend's GEMM on the row-major transpose: C^T (N x M) = B^T A, B^T stored N x K (ld K) */
    ref_gemm_f32(0, 1, N, M, K, alpha, Bm, K, A, K, beta, want, M);
    CU(down(got, dC, M * N * sizeof(float)));
    CHECK(!memcmp(got, want, M * N * sizeof(float)), "cublasSgemm differs from the cpu backend's GEMM");
    float naive[M * N]; /* and both are that product: a float64 loop */
    for (int j = 0; j < N; j++)
        for (int i = 0; i < M; i++) {
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)A[i * K + k] * Bm[j * K + k];
            naive[j * M + i] = (float)(alpha * acc + beta * C[j * M + i]);
        }
    for (int i = 0; i < M * N; i++)
        CHECK(fabsf(got[i] - naive[i]) <= 1e-5f * (1 + fabsf(naive[i])), "cublasSgemm: C[%d] = %g, want %g", i, got[i],
              naive[i]);
    /* strided batched: every batch, the first one again included */
    CU(up(dC, C, sizeof C));
    memcpy(want, C, sizeof C);
    CHECK(bl.SgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &alpha, dA, K, K * M, dB, K, K * N, &beta, dC, M,
                                 M * N, B) == 0,
          "cublasSgemmStridedBatched");
    for (int b = 0; b < B; b++)
        ref_gemm_f32(0, 1, N, M, K, alpha, Bm + b * K * N, K, A + b * K * M, K, beta, want + b * M * N, M);
    CU(down(got, dC, sizeof got));
    CHECK(!memcmp(got, want, sizeof got), "cublasSgemmStridedBatched differs from the cpu backend's GEMM per batch");
    CHECK(bl.SgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &alpha, dA, K, K * M, dB, K, K * N, &beta, dC, M,
                                 M * N, B + 1) == 7,
          "a batch past the end of C is refused");
    dfree(dA), dfree(dB), dfree(dC);
    printf("ok   cublasSgemm and cublasSgemmStridedBatched bit-identical to the cpu backend's GEMM and within 1e-5 of a float64 loop; out-of-range batch refused\n");
    return 0;
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static int test_dnn(cudnnHandle_t h) {
    enum { NB = 2, C = 4, H = 9, W = 9, M = 6, G = 2, KH = 3, S = 2, P = 1, OH = 5, OW = 5 };
    static float x[NB * C * H * W], w[M * (C / G) * KH * KH], bias[M], want[NB * M * OH * OW], got[NB * M * OH * OW];
    static float dy[NB * M * OH * OW], dx[NB * C * H * W], dw[M * (C / G) * KH * KH];
    for (size_t i = 0; i < sizeof x / 4; i++) x[i] = frand();
    for (size_t i = 0; i < sizeof w / 4; i++) w[i] = frand();
    for (size_t i = 0; i < sizeof bias / 4; i++) bias[i] = frand();
    for (size_t i = 0; i < sizeof dy / 4; i++) dy[i] = frand();
    /* the reference: Conv with bias */
    ir_graph g;
    ir_graph_init(&g);
    int gx = ir_input(&g, "x", DT_F32, IR_SHAPE(NB, C, H, W)), gw = ir_input(&g, "w", DT_F32, IR_SHAPE(M, C / G, KH, KH));
    int gb = ir_input(&g, "b", DT_F32, IR_SHAPE(M));
    int gy = ir_conv(&g, gx, gw, gb, S, P, G);
    CHECK(gy >= 0 && !g.failed, "%s", g.err);
    char err[IR_ERRLEN];
    ref_call c = {.node = &g.nodes[g.nnodes - 1], .nin = 3, .nout = 1, .err = err};
    c.in[0] = (ref_tensor){x, DT_F32, g.vals[gx].shape, ir_numel(&g.vals[gx].shape)};
    c.in[1] = (ref_tensor){w, DT_F32, g.vals[gw].shape, ir_numel(&g.vals[gw].shape)};
    c.in[2] = (ref_tensor){bias, DT_F32, g.vals[gb].shape, M};
    c.out[0] = (ref_tensor){want, DT_F32, g.vals[gy].shape, ir_numel(&g.vals[gy].shape)};
    CHECK(ir_optable[OP_Conv]->ref_f32(&c) == 0, "%s", err);
    /* descriptors as the backend sets them */
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    CHECK(!dn.CreateTensorDescriptor(&xd) && !dn.CreateTensorDescriptor(&yd) && !dn.CreateTensorDescriptor(&bd) &&
              !dn.CreateFilterDescriptor(&wd) && !dn.CreateConvolutionDescriptor(&cd),
          "descriptors");
    CHECK(!dn.SetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, NB, C, H, W) &&
              !dn.SetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, NB, M, OH, OW) &&
              !dn.SetTensor4dDescriptor(bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, M, 1, 1) &&
              !dn.SetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, M, C / G, KH, KH) &&
              !dn.SetConvolution2dDescriptor(cd, P, P, S, S, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT) &&
              !dn.SetConvolutionGroupCount(cd, G) && !dn.SetConvolutionMathType(cd, CUDNN_FMA_MATH),
          "setting descriptors");
    cudnn_algo_perf perf;
    int nalgo = 0;
    size_t wsb = 0;
    CHECK(!dn.GetConvolutionForwardAlgorithm_v7(h, xd, wd, cd, yd, 1, &nalgo, &perf) && nalgo == 1 && perf.algo == 0 &&
              perf.status == 0,
          "forward algorithm");
    CHECK(!dn.GetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, perf.algo, &wsb) && wsb == 256, "workspace %zu", wsb);
    float *dX = dalloc(sizeof x), *dW = dalloc(sizeof w), *dB = dalloc(sizeof bias), *dY = dalloc(sizeof got);
    void *ws = dalloc(wsb);
    CU(up(dX, x, sizeof x));
    CU(up(dW, w, sizeof w));
    CU(up(dB, bias, sizeof bias));
    const float one = 1, zero = 0;
    CHECK(!dn.ConvolutionForward(h, &one, xd, dX, wd, dW, cd, 0, ws, wsb, &zero, yd, dY), "cudnnConvolutionForward");
    CHECK(!dn.AddTensor(h, &one, bd, dB, &one, yd, dY), "cudnnAddTensor");
    CU(down(got, dY, sizeof got));
    CHECK(!memcmp(got, want, sizeof got), "cuDNN forward + bias differs from the reference Conv");
    /* refused: beta != 0, a workspace smaller than asked for, a wrong output descriptor */
    CHECK(dn.ConvolutionForward(h, &one, xd, dX, wd, dW, cd, 0, ws, wsb, &one, yd, dY) == 3000, "beta 1 is refused");
    CHECK(dn.ConvolutionForward(h, &one, xd, dX, wd, dW, cd, 0, ws, wsb - 1, &zero, yd, dY) == 2000,
          "a small workspace is refused");
    CHECK(!dn.SetTensor4dDescriptor(bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, NB, M, OH + 1, OW), "set");
    CHECK(dn.ConvolutionForward(h, &one, xd, dX, wd, dW, cd, 0, ws, wsb, &zero, bd, dY) == 2000,
          "a wrong output descriptor is refused");
    /* the gradients: adjoints of the forward convolution, <conv(x, w), dy> = <x, dX> = <w, dW> */
    float *dDY = dalloc(sizeof dy), *dDX = dalloc(sizeof dx), *dDW = dalloc(sizeof dw);
    CU(up(dDY, dy, sizeof dy));
    CHECK(!dn.GetConvolutionBackwardDataAlgorithm_v7(h, wd, yd, cd, xd, 1, &nalgo, &perf) && nalgo == 1, "bwd data algo");
    CHECK(!dn.ConvolutionBackwardData(h, &one, wd, dW, yd, dDY, cd, 0, ws, wsb, &zero, xd, dDX), "backward data");
    CHECK(!dn.GetConvolutionBackwardFilterAlgorithm_v7(h, xd, yd, cd, wd, 1, &nalgo, &perf) && nalgo == 1, "bwd filter algo");
    CHECK(!dn.ConvolutionBackwardFilter(h, &one, xd, dX, yd, dDY, cd, 0, ws, wsb, &zero, wd, dDW), "backward filter");
    CHECK(!dn.ConvolutionForward(h, &one, xd, dX, wd, dW, cd, 0, ws, wsb, &zero, yd, dY), "forward");
    CU(down(got, dY, sizeof got));
    CU(down(dx, dDX, sizeof dx));
    CU(down(dw, dDW, sizeof dw));
    double a = dot(got, dy, NB * M * OH * OW), b1 = dot(x, dx, NB * C * H * W), b2 = dot(w, dw, M * (C / G) * KH * KH);
    CHECK(fabs(a - b1) <= 1e-4 * fabs(a) && fabs(a - b2) <= 1e-4 * fabs(a), "adjoints: %.9g %.9g %.9g", a, b1, b2);
    dn.DestroyTensorDescriptor(xd), dn.DestroyTensorDescriptor(yd), dn.DestroyTensorDescriptor(bd);
    dn.DestroyFilterDescriptor(wd), dn.DestroyConvolutionDescriptor(cd);
    dfree(dX), dfree(dW), dfree(dB), dfree(dY), dfree(ws), dfree(dDY), dfree(dDX), dfree(dDW);
    ir_graph_free(&g);
    printf("ok   cuDNN grouped strided convolution + AddTensor bias bit-identical to the reference Conv; backward "
           "data and filter are its adjoints (%.6g %.6g %.6g); beta 1, small workspace, wrong shape refused\n",
           a, b1, b2);
    return 0;
}

/* a capture: upload, Cast, memset, Sgemm, download recorded, run by each graph launch */
static int test_capture(CUmodule mod, cublasHandle_t h) {
    enum { N = 16 };
    float *pin_in = NULL, *pin_out = NULL;
    CU(cu.MemAllocHost((void **)&pin_in, N * sizeof(float)));
    CU(cu.MemAllocHost((void **)&pin_out, N * sizeof(float)));
    float *dx = dalloc(N * 4), *dsq = dalloc(N * 4);
    int64_t *di = dalloc(N * 8);
    devop_args *da = dalloc(sizeof(devop_args));
    devop_args args = {.n = N};
    args.p[0] = dx, args.p[1] = di, args.i[0] = DT_F32, args.i[1] = DT_I64;
    CU(up(da, &args, sizeof args));
    CU(cu.MemsetD8Async((CUdeviceptr)(uintptr_t)di, 0, N * 8, st));
    CU(cu.MemsetD8Async((CUdeviceptr)(uintptr_t)dsq, 0, N * 4, st));
    CUfunction f;
    CU(cu.ModuleGetFunction(&f, mod, "sslc_Cast"));
    for (int i = 0; i < N; i++) pin_in[i] = (float)i + 0.5f, pin_out[i] = -7;
    long long l0, g0, l1, g1;
    stats(&l0, &g0, NULL, NULL);
    int (*recorded)(CUstream) = (int (*)(CUstream))dlsym(cu.dl, "sslc_fakecuda_recorded");
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CU(cu.MemcpyHtoDAsync((CUdeviceptr)(uintptr_t)dx, pin_in, N * 4, st));
    void *a1[1] = {da};
    CU(launch(f, a1, 1));
    /* dsq = x .* x as a 1 x 1 x N gemm per element is overkill: x^T x into dsq[0] (1 x 1) */
    const float one = 1, zero = 0;
    CHECK(bl.Sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, 1, 1, N, &one, dx, N, dx, N, &zero, dsq, 1) == 0, "Sgemm in capture");
    CU(cu.MemcpyDtoHAsync(pin_out, (CUdeviceptr)(uintptr_t)dsq, 4, st));
    CHECK(!recorded || recorded(st) == 4, "4 operations recorded");
    CUgraph graph;
    CU(cu.StreamEndCapture(st, &graph));
    stats(&l1, &g1, NULL, NULL);
    int64_t ints[N];
    CU(down(ints, di, sizeof ints));
    CHECK(pin_out[0] == -7 && ints[3] == 0 && l1 == l0, "the capture executed something");
    CUgraphExec exec;
    CU(cu.GraphInstantiateWithFlags(&exec, graph, 0));
    CU(cu.GraphDestroy(graph));
    double want = 0;
    for (int i = 0; i < N; i++) want += (double)pin_in[i] * pin_in[i];
    CU(cu.GraphLaunch(exec, st));
    CU(down(ints, di, sizeof ints));
    CHECK(pin_out[0] == (float)want && ints[3] == 3 && ints[15] == 15, "replay 1: %g (want %g), %lld", pin_out[0], want,
          (long long)ints[3]);
    for (int i = 0; i < N; i++) pin_in[i] = -(float)i - 0.25f;
    CU(cu.GraphLaunch(exec, st));
    CU(cu.StreamSynchronize(st));
    CU(down(ints, di, sizeof ints));
    want = 0;
    for (int i = 0; i < N; i++) want += (double)pin_in[i] * pin_in[i];
    CHECK(pin_out[0] == (float)want && ints[3] == -3 && ints[15] == -15, "replay 2: %g (want %g)", pin_out[0], want);
    stats(&l1, &g1, NULL, NULL);
    CHECK(l1 - l0 == 2 && g1 - g0 == 2, "2 kernel launches in 2 graph launches, counted %lld in %lld", l1 - l0, g1 - g0);
    /* refused during capture: synchronizing (which invalidates the capture), allocating, and
     * copying from pageable memory */
    float pageable[N] = {0};
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(cu.StreamSynchronize(st) == 900, "cuStreamSynchronize during capture is refused");
    CHECK(cu.StreamEndCapture(st, &graph) == 901 && !graph, "the capture is invalidated");
    CUevent ev;
    CU(cu.EventCreate(&ev, CU_EVENT_DISABLE_TIMING));
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CU(cu.EventRecord(ev, st));
    CHECK(cu.EventSynchronize(ev) == 900, "cuEventSynchronize during capture is refused");
    CHECK(cu.StreamEndCapture(st, &graph) == 901, "the capture is invalidated");
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(cu.MemAlloc(&(CUdeviceptr){0}, 64) == 900, "cuMemAlloc during capture is refused");
    CHECK(cu.StreamEndCapture(st, &graph) == 901, "the capture is invalidated");
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(cu.MemcpyHtoDAsync((CUdeviceptr)(uintptr_t)dx, pageable, N * 4, st) == 900,
          "a copy from pageable memory during capture is refused");
    CHECK(cu.StreamEndCapture(st, &graph) == 901, "the capture is invalidated");
    CU(cu.EventSynchronize(ev));
    CU(cu.EventDestroy(ev));
    /* a graph whose memory was freed fails at launch */
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CU(cu.MemsetD8Async((CUdeviceptr)(uintptr_t)dsq, 0, N * 4, st));
    CU(cu.StreamEndCapture(st, &graph));
    CUgraphExec exec2;
    CU(cu.GraphInstantiateWithFlags(&exec2, graph, 0));
    CU(cu.GraphDestroy(graph));
    dfree(dsq);
    CHECK(cu.GraphLaunch(exec2, st) == 719, "a graph writing freed memory fails");
    CU(cu.GraphExecDestroy(exec2));
    CU(cu.GraphExecDestroy(exec));
    dfree(dx), dfree(di), dfree(da);
    CU(cu.MemFreeHost(pin_in));
    CU(cu.MemFreeHost(pin_out));
    printf("ok   a capture of copy, Cast, Sgemm, copy ran nothing and replayed twice; synchronize, event synchronize, "
           "allocation and a pageable copy during capture refused (capture invalidated); freed memory fails the replay\n");
    return 0;
}

int main(void) {
    char err[IR_ERRLEN];
    setenv("SSLC_CUDA_DRIVER", FAKECUDA_SO, 1);
    setenv("SSLC_CUBLAS_LIB", FAKECUDA_SO, 1);
    setenv("SSLC_CUDNN_LIB", FAKECUDA_SO, 1);
    setenv("SSLC_FAKECUDA_MEM", "67108864", 1);
    unsetenv("SSLC_FAKECUDA_CC");
    unsetenv("SSLC_FAKECUDA_CONV_WS");
    int fails = 0;
    if (cuda_driver_load(&cu, err) || cuda_blas_load(&bl, err) || cuda_dnn_load(&dn, err)) {
        fprintf(stderr, "FAIL loading the stand-in: %s\n", err);
        return 1;
    }
    *(void **)&stats = dlsym(cu.dl, "sslc_fakecuda_stats");
    if (!stats) {
        fprintf(stderr, "FAIL the stand-in does not export sslc_fakecuda_stats\n");
        return 1;
    }
    /* a library that is not the stand-in: the loader names what is missing */
    setenv("SSLC_CUBLAS_LIB", "libm.so.6", 1);
    cuda_blas_api other;
    if (cuda_blas_load(&other, err) == 0 || !strstr(err, "cublasCreate_v2")) {
        fprintf(stderr, "FAIL loading libm as cuBLAS: %s\n", err);
        fails++;
    } else
        printf("ok   the loader names the missing entry point: %s\n", err);
    if (test_device()) return 1;
    fails += test_memory();
    CUmodule mod;
    if (cu.ModuleLoadData(&mod, "any image")) return 1;
    cublasHandle_t h;
    cudnnHandle_t dh;
    if (bl.Create(&h) || bl.SetStream(h, st) || bl.SetMathMode(h, CUBLAS_PEDANTIC_MATH) || dn.Create(&dh) ||
        dn.SetStream(dh, st)) {
        fprintf(stderr, "FAIL creating the cuBLAS / cuDNN handles\n");
        return 1;
    }
    fails += test_devop(mod);
    fails += test_segment(mod);
    fails += test_blas(h);
    fails += test_dnn(dh);
    fails += test_capture(mod, h);
    long long launches, graphs, h2d, d2h, live_bytes = 0;
    stats(&launches, &graphs, &h2d, &d2h);
    long long (*live)(long long *) = (long long (*)(long long *))dlsym(cu.dl, "sslc_fakecuda_live");
    long long nlive = live ? live(&live_bytes) : -1;
    printf("     stand-in: %lld launches, %lld graph launches, %lld bytes up, %lld down; %lld allocations live\n", launches,
           graphs, h2d, d2h, nlive);
    if (nlive != 0) {
        fprintf(stderr, "FAIL %lld device allocations (%lld bytes) leaked by this test\n", nlive, live_bytes);
        fails++;
    }
    cu.ModuleUnload(mod);
    bl.Destroy(h);
    dn.Destroy(dh);
    cu.StreamDestroy(st);
    cu.DevicePrimaryCtxRelease(0);
    cuda_dnn_unload(&dn);
    cuda_blas_unload(&bl);
    cuda_driver_unload(&cu);
    printf(fails ? "test_fakecuda: %d FAILED\n" : "test_fakecuda: all passed\n", fails);
    return fails != 0;
}
