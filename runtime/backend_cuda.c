/* The cuda backend: the compiled step on one GPU. The executor core (runtime/arena_exec.h)
 * places every value in one device arena and one persistent region from the memory plan
 * (library workspaces planned as scratch, as the cpu backend plans oneDNN's); fused kernels are
 * the plan's CUBIN (or NVRTC's at start when the plan has none for this GPU), launched with the
 * kernel IR's geometry; library steps go to cuBLAS (Gemm, MatMul), cuDNN (the convolutions) or
 * the device library ops (runtime/devops.h). Everything is queued on one stream, and the whole
 * step is captured once as a CUDA Graph and replayed (SSLC_CUDA_GRAPH=0: plain launches).
 * Per-step inputs (images, augmentation parameters, learning rate, schedules) are uploaded to
 * their fixed places before each replay, so nothing is captured again.
 *
 * The driver, cuBLAS and cuDNN are loaded with dlopen (runtime/cuda_api.h); CI runs all of this
 * against a stand-in of those libraries (tests/fake_cuda/). Under mpirun (a job communicator
 * other than the one-rank one) each rank runs on the GPU of its local rank and the collectives
 * go through NCCL (runtime/comm_nccl.h) on the step's stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/compiled_step.h"
#include "../codegen/emit.h"
#include "../codegen/nvrtc.h"
#include "../passes/pipeline.h"
#include "arena_exec.h"
#include "backend.h"
#include "comm_nccl.h"
#include "cuda_api.h"
#include "cuda_check.h"
#include "devops.h"

#define BOUNCE_BYTES ((size_t)8 << 20)  /* pinned buffer for uploads and downloads, in chunks */
#define BLAS_WS_BYTES ((size_t)32 << 20) /* cuBLAS's workspace: set, so graph capture allocates nothing */
#define CONV_WS_LIMIT ((size_t)1 << 30)  /* a convolution algorithm needing more is passed over */

typedef enum { CS_NONE, CS_KERNEL, CS_GEMM, CS_MATMUL, CS_CONV, CS_DEVOP, CS_COPY, CS_COLLECTIVE } cstep_kind;

typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldc; /* cuBLAS's column-major view of the row-major product */
    float alpha;
    int bias;                           /* Gemm with C: the GemmBias launch fills Y first */
    int64_t nbatch, sa, sb, sc;         /* MatMul: batches and their strides (elements) */
    int64_t *oa, *ob;                   /* MatMul with irregular broadcast: per-batch offsets */
} gemm_step;

typedef struct {
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    int algo;
    size_t ws;
} conv_step;

typedef struct {
    cstep_kind kind;
    int nlaunch;       /* CS_KERNEL: segments; CS_DEVOP: launches (+ GemmBias for CS_GEMM) */
    CUfunction fn[DEVOP_MAX_LAUNCHES > 64 ? DEVOP_MAX_LAUNCHES : 64];
    unsigned grid[64];
    int block;
    void **args;       /* CS_KERNEL: per segment, its pointer arguments packed; NULL otherwise */
    size_t *args_size; /* per segment */
    int devop_base;    /* CS_DEVOP / CS_GEMM bias: index of its first devop_args in the device table */
    gemm_step gm;
    conv_step cv;
    int64_t need;      /* workspace bytes */
} cstep;

typedef struct {
    cuda_driver_api cu;
    cuda_blas_api blas;
    cuda_dnn_api dnn;
    CUdevice dev;
    CUcontext ctx;
    CUstream stream;
    cublasHandle_t cublas;
    cudnnHandle_t cudnn;
    CUmodule kmod, dmod;
    int major, minor, use_graph, nargs_devop, tf32;
    char name[128];
    exec_plan ep;         /* the step built here (empty when the plan holds one) */
    const exec_plan *run; /* the step that runs */
    cstep *steps;
    memplan mp;
    int64_t *ws_off, *need;
    arena_exec core;
    arena_mem mem;
    devop_args *hargs; /* every launch's arguments, host copy */
    CUdeviceptr dargs; /* ... and on the device */
    CUdeviceptr blas_ws;
    void *bounce;      /* pinned */
    CUgraphExec gexec;
    int captured;
    const char *what;  /* the call in progress, for error lines */
    char what_buf[64];
    int at_step;
    ir_comm nccl;      /* the collectives' communicator (ops NULL: none, a one-rank run) */
    uint64_t graph_bytes; /* what the captured step's collectives send, counted again at each replay */
    char nccl_version[16];
} cuda_backend;

/* ---- errors ---- */

static int cu_fail(cuda_backend *b, CUresult r, const char *call, char *err) {
    const char *s = NULL;
    if (b->cu.GetErrorString) b->cu.GetErrorString(r, &s);
    if (b->at_step >= 0)
        snprintf(err, IR_ERRLEN, "cuda: %s failed at step %d (%s): %s (error %d)", call, b->at_step,
                 b->what ? b->what : "?", s ? s : "unknown error", r);
    else
        snprintf(err, IR_ERRLEN, "cuda: %s failed: %s (error %d)", call, s ? s : "unknown error", r);
    return -1;
}
/* CU(err, Name, args...): b->cu.Name(args...), a failure reported as "cuName failed ..." */
#define CU(err, fn, ...) ((r_ = b->cu.fn(__VA_ARGS__)) ? cu_fail(b, r_, "cu" #fn, err) : 0)

static int blas_fail(cuda_backend *b, int r, const char *call, char *err) {
    snprintf(err, IR_ERRLEN, "cuda: %s failed at step %d (%s): cuBLAS status %d", call, b->at_step, b->what ? b->what : "?",
             r);
    return -1;
}
static int dnn_fail(cuda_backend *b, int r, const char *call, char *err) {
    snprintf(err, IR_ERRLEN, "cuda: %s failed at step %d (%s): %s", call, b->at_step, b->what ? b->what : "?",
             b->dnn.GetErrorString ? b->dnn.GetErrorString(r) : "cuDNN error");
    return -1;
}
#define BLAS(err, fn, ...) ((r_ = b->blas.fn(__VA_ARGS__)) ? blas_fail(b, r_, "cublas" #fn, err) : 0)
#define DNN(err, fn, ...) ((r_ = b->dnn.fn(__VA_ARGS__)) ? dnn_fail(b, r_, "cudnn" #fn, err) : 0)

static CUdeviceptr dptr(const void *p) { return (CUdeviceptr)(uintptr_t)p; }

/* ---- memory hooks of the executor core ---- */

static void *mem_alloc(void *ctx, size_t bytes, char *err) {
    cuda_backend *b = ctx;
    CUresult r_;
    CUdeviceptr p = 0;
    if (CU(err, MemAlloc, &p, bytes ? bytes : 1)) return NULL;
    if (CU(err, MemsetD8Async, p, 0, bytes, b->stream)) {
        b->cu.MemFree(p);
        return NULL;
    }
    return (void *)(uintptr_t)p;
}
static void mem_release(void *ctx, void *p) {
    cuda_backend *b = ctx;
    b->cu.MemFree(dptr(p));
}
/* host memory in, through the pinned buffer (synchronous: the source may go right after) */
static int upload_sync(cuda_backend *b, CUdeviceptr dst, const void *src, size_t bytes, char *err) {
    CUresult r_;
    for (size_t off = 0; off < bytes; off += BOUNCE_BYTES) {
        size_t n = bytes - off < BOUNCE_BYTES ? bytes - off : BOUNCE_BYTES;
        if (CU(err, StreamSynchronize, b->stream)) return -1; /* the bounce buffer is free */
        memcpy(b->bounce, (const char *)src + off, n);
        if (CU(err, MemcpyHtoDAsync, dst + off, b->bounce, n, b->stream)) return -1;
    }
    return CU(err, StreamSynchronize, b->stream);
}
static int mem_upload(void *ctx, void *dst, const void *src, size_t bytes, char *err) {
    return upload_sync(ctx, dptr(dst), src, bytes, err);
}
static int mem_copy(void *ctx, void *dst, const void *src, size_t bytes, char *err) {
    cuda_backend *b = ctx;
    CUresult r_;
    return CU(err, MemcpyDtoDAsync, dptr(dst), dptr(src), bytes, b->stream);
}

/* ---- launches ---- */

static int launch(cuda_backend *b, CUfunction f, unsigned grid, int block, void *args, size_t size, char *err) {
    CUresult r_;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, args, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    return CU(err, LaunchKernel, f, grid ? grid : 1, 1, 1, (unsigned)block, 1, 1, 0, b->stream, NULL, extra);
}

static unsigned devop_grid(int64_t n) {
    int64_t g = (n + 255) / 256;
    return (unsigned)(g < 1 ? 1 : g > 65535 * 16 ? 65535 * 16 : g);
}

/* the kernel callback of the core: every segment of the fused kernel */
static int run_kernel(void *ctx, const arena_exec *ax, int si, char *err) {
    cuda_backend *b = ctx;
    const cstep *cs = &b->steps[si];
    b->at_step = si;
    for (int s = 0; s < cs->nlaunch; s++) {
        snprintf(b->what_buf, sizeof b->what_buf, "fused kernel k%d_s%d", ax->steps[si].kernel, s);
        b->what = b->what_buf;
        if (launch(b, cs->fn[s], cs->grid[s], cs->block, cs->args[s], cs->args_size[s], err)) return -1;
    }
    return 0;
}

static int run_devops(cuda_backend *b, const cstep *cs, int first, int n, char *err) {
    for (int k = 0; k < n; k++) {
        CUdeviceptr a = b->dargs + (CUdeviceptr)((size_t)(cs->devop_base + k) * sizeof(devop_args));
        if (launch(b, cs->fn[first + k], devop_grid(b->hargs[cs->devop_base + k].n), 256, &a, sizeof a, err)) return -1;
    }
    return 0;
}

/* ---- library ops (the backend's table) ---- */

static int lib_devop(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    cuda_backend *b = ctx;
    (void)c, (void)ws;
    const cstep *cs = &b->steps[si];
    b->at_step = si, b->what = ir_optable[c->node->op]->name;
    return run_devops(b, cs, 0, cs->nlaunch, err);
}

static int lib_copy(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    cuda_backend *b = ctx;
    (void)ws;
    b->at_step = si, b->what = ir_optable[c->node->op]->name;
    size_t n = (size_t)c->out[0].numel * ir_dtype_size(c->out[0].dtype);
    return mem_copy(b, c->out[0].data, c->in[0].data, n, err);
}

static int lib_gemm(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    cuda_backend *b = ctx;
    const gemm_step *g = &b->steps[si].gm;
    int r_;
    CUresult cr;
    (void)ws;
    b->at_step = si, b->what = ir_optable[c->node->op]->name;
    size_t ybytes = (size_t)c->out[0].numel * sizeof(float);
    if (g->bias) {
        if (run_devops(b, &b->steps[si], 0, 1, err)) return -1;
    } else if ((cr = b->cu.MemsetD8Async(dptr(c->out[0].data), 0, ybytes, b->stream)))
        return cu_fail(b, cr, "cuMemsetD8Async", err);
    if (g->k == 0 || g->m == 0 || g->n == 0) return 0;
    const float one = 1;
    const float *A = c->in[0].data, *B = c->in[1].data;
    float *Y = c->out[0].data;
    /* row-major Y = op(A) op(B) is column-major Y^T = op(B)^T op(A)^T */
    return BLAS(err, Sgemm, b->cublas, g->tb, g->ta, g->n, g->m, g->k, &g->alpha, B, g->ldb, A, g->lda, &one, Y, g->ldc);
}

static int lib_matmul(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    cuda_backend *b = ctx;
    const gemm_step *g = &b->steps[si].gm;
    int r_;
    CUresult cr;
    (void)ws;
    b->at_step = si, b->what = "MatMul";
    const float *A = c->in[0].data, *B = c->in[1].data;
    float *Y = c->out[0].data;
    if (g->m == 0 || g->n == 0) return 0;
    if (g->k == 0) {
        cr = b->cu.MemsetD8Async(dptr(Y), 0, (size_t)c->out[0].numel * sizeof(float), b->stream);
        return cr ? cu_fail(b, cr, "cuMemsetD8Async", err) : 0;
    }
    const float one = 1, zero = 0;
    if (!g->oa)
        return BLAS(err, SgemmStridedBatched, b->cublas, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->m, g->k, &one, B, g->n,
                                                g->sb, A, g->k, g->sa, &zero, Y, g->n, g->sc, (int)g->nbatch);
    for (int64_t i = 0; i < g->nbatch; i++)
        if (BLAS(err, Sgemm, b->cublas, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->m, g->k, &one, B + g->ob[i], g->n,
                               A + g->oa[i], g->k, &zero, Y + i * g->sc, g->n))
            return -1;
    return 0;
}

static int lib_conv(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    cuda_backend *b = ctx;
    const conv_step *v = &b->steps[si].cv;
    int r_;
    const float one = 1, zero = 0;
    b->at_step = si, b->what = ir_optable[c->node->op]->name;
    switch (c->node->op) {
    case OP_Conv:
        if (DNN(err, ConvolutionForward, b->cudnn, &one, v->xd, c->in[0].data, v->wd, c->in[1].data, v->cd, v->algo, ws,
                                          v->ws, &zero, v->yd, c->out[0].data))
            return -1;
        if (c->nin > 2 && DNN(err, AddTensor, b->cudnn, &one, v->bd, c->in[2].data, &one, v->yd, c->out[0].data))
            return -1;
        return 0;
    case OP_ConvGradInput: /* (gY, W) -> dX */
        return DNN(err, ConvolutionBackwardData, b->cudnn, &one, v->wd, c->in[1].data, v->yd, c->in[0].data, v->cd,
                                                  v->algo, ws, v->ws, &zero, v->xd, c->out[0].data);
    default: /* ConvGradWeight: (gY, X) -> dW */
        return DNN(err, ConvolutionBackwardFilter, b->cudnn, &one, v->xd, c->in[1].data, v->yd, c->in[0].data, v->cd,
                                                    v->algo, ws, v->ws, &zero, v->wd, c->out[0].data);
    }
}

/* The collectives through NCCL, as the reference kernels (ir/ops/collective.c) run them over
 * MPI: the same copies, sums and scaling, so the result is theirs wherever the sum is (one rank;
 * the stand-in's). The mean is the sum, then x 1/ranks (cublasSscal: one float multiply per
 * element, as the reference's loop). AllReduceStart / AllReduceWait take ir/comm.h's blocking
 * fallback: NCCL only queues the sum on the stream, so the start does not make the host wait. */
static int lib_collective(void *ctx, int si, const ref_call *c, void *ws, char *err) {
    cuda_backend *b = ctx;
    const ir_node *n = c->node;
    const ir_comm *m = &b->nccl;
    int r_, op = n->op, one = ir_get_i(n, "ranks") == 1;
    CUresult cr;
    (void)ws;
    b->at_step = si, b->what = ir_optable[op]->name;
    void *x = c->in[0].data, *y = c->out[0].data;
    int64_t ny = c->out[0].numel;
    size_t bytes = (size_t)ny * sizeof(float);
    if (one || (op != OP_AllGather && op != OP_ReduceScatter)) { /* y <- x first, then in place */
        if (x != y && mem_copy(b, y, x, bytes, err)) return -1;
        if (one) return 0;
    }
    int rc = 0;
    switch (op) {
    case OP_AllReduce:
    case OP_Reduce:
    case OP_AllReduceStart: rc = m->ops->allreduce_sum(m->self, y, ny, DT_F32, err); break;
    case OP_AllGather: rc = m->ops->allgather(m->self, x, y, c->in[0].numel, DT_F32, err); break;
    case OP_ReduceScatter: rc = m->ops->reduce_scatter_sum(m->self, x, y, ny, DT_F32, err); break;
    case OP_Broadcast: rc = m->ops->broadcast(m->self, y, ny, DT_F32, (int)ir_get_i(n, "root"), err); break;
    case OP_AllReduceWait: break; /* the start's sum is queued before it on the same stream */
    default: snprintf(err, IR_ERRLEN, "cuda: %s is not a collective", ir_optable[op]->name); return -1;
    }
    if (rc) return -1;
    if (op == OP_Reduce && m->rank != ir_get_i(n, "root") && (cr = b->cu.MemsetD8Async(dptr(y), 0, bytes, b->stream)))
        return cu_fail(b, cr, "cuMemsetD8Async", err);
    if ((op == OP_AllReduce || op == OP_AllReduceWait) && ir_get_i(n, "mean")) {
        const float inv = 1.0f / (float)m->size;
        if (BLAS(err, Sscal, b->cublas, (int)ny, &inv, y, 1)) return -1;
    }
    return 0;
}

/* ---- preparing each step (shapes only: before the memory plan) ---- */

static ref_call shape_call(const ir_graph *g, const ir_node *n, char *err) {
    ref_call c;
    memset(&c, 0, sizeof c);
    c.node = n, c.nin = n->nin, c.nout = n->nout, c.err = err;
    for (int k = 0; k < n->nin; k++) {
        const ir_value *v = &g->vals[n->in[k]];
        c.in[k] = (ref_tensor){.dtype = v->dtype, .shape = v->shape, .numel = ir_numel(&v->shape)};
    }
    for (int k = 0; k < n->nout; k++) {
        const ir_value *v = &g->vals[n->out[k]];
        c.out[k] = (ref_tensor){.dtype = v->dtype, .shape = v->shape, .numel = ir_numel(&v->shape)};
    }
    return c;
}

static int too_big(const char *op, int64_t v, char *err) {
    if (v <= 2147483647LL) return 0;
    snprintf(err, IR_ERRLEN, "cuda: %s with a dimension of %lld: more than cuBLAS/cuDNN's int range", op, (long long)v);
    return -1;
}

static int prep_gemm(const ref_call *c, gemm_step *g, char *err) {
    int ta = (int)ir_get_i(c->node, "transA"), tb = (int)ir_get_i(c->node, "transB");
    const ir_shape *as = &c->in[0].shape, *ys = &c->out[0].shape;
    int64_t M = ys->d[0], N = ys->d[1], K = ta ? as->d[0] : as->d[1];
    if (too_big("Gemm", M, err) || too_big("Gemm", N, err) || too_big("Gemm", K, err)) return -1;
    if (c->in[0].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "cuda: Gemm on %s has no kernel (float32 only)", ir_dtype_name(c->in[0].dtype));
        return -1;
    }
    g->ta = ta ? CUBLAS_OP_T : CUBLAS_OP_N, g->tb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    g->m = (int)M, g->n = (int)N, g->k = (int)K;
    g->lda = (int)(ta ? M : K), g->ldb = (int)(tb ? K : N), g->ldc = (int)N;
    g->alpha = (float)ir_get_f(c->node, "alpha");
    g->bias = c->nin > 2;
    return 0;
}

/* the batch offsets of MatMul's broadcast, as the reference kernel walks them */
static int prep_matmul(const ref_call *c, gemm_step *g, char *err) {
    const ir_shape *as = &c->in[0].shape, *bs = &c->in[1].shape, *ys = &c->out[0].shape;
    int nb = ys->ndim - 2;
    int64_t M = as->d[as->ndim - 2], K = as->d[as->ndim - 1], N = bs->d[bs->ndim - 1];
    if (too_big("MatMul", M, err) || too_big("MatMul", N, err) || too_big("MatMul", K, err)) return -1;
    ir_shape ab = *as, bb = *bs, ob = *ys;
    ab.ndim = as->ndim - 2, bb.ndim = bs->ndim - 2, ob.ndim = nb;
    int64_t sa[IR_MAX_DIMS], sb[IR_MAX_DIMS], idx[IR_MAX_DIMS] = {0}, oa = 0, obb = 0;
    ir_bcast_strides(&ab, &ob, sa);
    ir_bcast_strides(&bb, &ob, sb);
    g->m = (int)M, g->n = (int)N, g->k = (int)K;
    g->nbatch = ir_numel(&ob);
    g->sc = M * N;
    g->oa = malloc((size_t)(g->nbatch + 1) * sizeof *g->oa);
    g->ob = malloc((size_t)(g->nbatch + 1) * sizeof *g->ob);
    if (!g->oa || !g->ob) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < g->nbatch; i++) {
        g->oa[i] = oa * M * K, g->ob[i] = obb * K * N;
        for (int d = nb - 1; d >= 0; d--) {
            idx[d]++;
            oa += sa[d], obb += sb[d];
            if (idx[d] < ob.d[d]) break;
            oa -= sa[d] * idx[d], obb -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
    /* evenly strided batches (the usual case) are one strided-batched call */
    int even = g->nbatch <= 2147483647LL;
    g->sa = g->nbatch > 1 ? g->oa[1] - g->oa[0] : 0, g->sb = g->nbatch > 1 ? g->ob[1] - g->ob[0] : 0;
    for (int64_t i = 0; i < g->nbatch && even; i++) even = g->oa[i] == i * g->sa && g->ob[i] == i * g->sb;
    if (even) {
        free(g->oa), free(g->ob);
        g->oa = g->ob = NULL;
    }
    return 0;
}

static int tensor4(cuda_backend *b, cudnnTensorDescriptor_t *d, const ir_shape *s, char *err) {
    int r_;
    for (int i = 0; i < 4; i++)
        if (too_big("Conv", s->d[i], err)) return -1;
    return DNN(err, CreateTensorDescriptor, d) ||
                   DNN(err, SetTensor4dDescriptor, *d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)s->d[0], (int)s->d[1],
                                                    (int)s->d[2], (int)s->d[3])
               ? -1
               : 0;
}

/* the first algorithm cuDNN ranks that works, is deterministic (bit-exact resume) and fits */
static int pick(const cudnn_algo_perf *p, int n) {
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if (p[i].status == 0 && p[i].memory <= CONV_WS_LIMIT && (pass || p[i].determinism == 1)) return i;
    return -1;
}

static int prep_conv(cuda_backend *b, const ref_call *c, conv_step *v, char *err) {
    int r_;
    const ir_node *n = c->node;
    const ir_attrval *st = ir_get(n, "strides"), *pd = ir_get(n, "pads"), *dl = ir_get(n, "dilations");
    int sh = st->n ? (int)st->v[0] : 1, sw = st->n ? (int)st->v[1] : 1;
    int ph = pd->n ? (int)pd->v[0] : 0, pw = pd->n ? (int)pd->v[1] : 0;
    int dh = dl->n ? (int)dl->v[0] : 1, dw = dl->n ? (int)dl->v[1] : 1;
    if (pd->n && (pd->v[2] != pd->v[0] || pd->v[3] != pd->v[1])) {
        snprintf(err, IR_ERRLEN, "cuda: %s with uneven pads (%lld,%lld,%lld,%lld) has no cuDNN kernel",
                 ir_optable[n->op]->name, (long long)pd->v[0], (long long)pd->v[1], (long long)pd->v[2],
                 (long long)pd->v[3]);
        return -1;
    }
    /* x, w, y: the forward convolution's three tensors, whichever op this is */
    const ir_shape *xs, *ws, *ys;
    if (n->op == OP_Conv)
        xs = &c->in[0].shape, ws = &c->in[1].shape, ys = &c->out[0].shape;
    else if (n->op == OP_ConvGradInput)
        xs = &c->out[0].shape, ws = &c->in[1].shape, ys = &c->in[0].shape;
    else
        xs = &c->in[1].shape, ws = &c->out[0].shape, ys = &c->in[0].shape;
    if (tensor4(b, &v->xd, xs, err) || tensor4(b, &v->yd, ys, err)) return -1;
    if (DNN(err, CreateFilterDescriptor, &v->wd) ||
        DNN(err, SetFilter4dDescriptor, v->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)ws->d[0], (int)ws->d[1],
                                         (int)ws->d[2], (int)ws->d[3]) ||
        DNN(err, CreateConvolutionDescriptor, &v->cd) ||
        DNN(err, SetConvolution2dDescriptor, v->cd, ph, pw, sh, sw, dh, dw, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT) ||
        DNN(err, SetConvolutionGroupCount, v->cd, (int)ir_get_i(n, "group")) ||
        /* float32 arithmetic only: no TF32 unless asked for */
        DNN(err, SetConvolutionMathType, v->cd, b->tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH))
        return -1;
    if (n->op == OP_Conv && c->nin > 2) {
        ir_shape bs = {.ndim = 4, .d = {1, ys->d[1], 1, 1}};
        if (tensor4(b, &v->bd, &bs, err)) return -1;
    }
    cudnn_algo_perf perf[16];
    int got = 0, k;
    if (n->op == OP_Conv) {
        if (DNN(err, GetConvolutionForwardAlgorithm_v7, b->cudnn, v->xd, v->wd, v->cd, v->yd, 16, &got, perf))
            return -1;
    } else if (n->op == OP_ConvGradInput) {
        if (DNN(err, GetConvolutionBackwardDataAlgorithm_v7, b->cudnn, v->wd, v->yd, v->cd, v->xd, 16, &got, perf))
            return -1;
    } else if (DNN(err, GetConvolutionBackwardFilterAlgorithm_v7, b->cudnn, v->xd, v->yd, v->cd, v->wd, 16, &got, perf))
        return -1;
    if ((k = pick(perf, got)) < 0) {
        snprintf(err, IR_ERRLEN, "cuda: cuDNN offers no algorithm for %s at step %d", ir_optable[n->op]->name, b->at_step);
        return -1;
    }
    v->algo = perf[k].algo;
    if (n->op == OP_Conv)
        r_ = b->dnn.GetConvolutionForwardWorkspaceSize(b->cudnn, v->xd, v->wd, v->cd, v->yd, v->algo, &v->ws);
    else if (n->op == OP_ConvGradInput)
        r_ = b->dnn.GetConvolutionBackwardDataWorkspaceSize(b->cudnn, v->wd, v->yd, v->cd, v->xd, v->algo, &v->ws);
    else
        r_ = b->dnn.GetConvolutionBackwardFilterWorkspaceSize(b->cudnn, v->xd, v->yd, v->cd, v->wd, v->algo, &v->ws);
    return r_ ? dnn_fail(b, r_, "cudnnGet*WorkspaceSize", err) : 0;
}

/* a collective runs over NCCL with as many ranks as the graph was built for (one rank: copies) */
static int prep_collective(cuda_backend *b, const ref_call *c, char *err) {
    const char *op = ir_optable[c->node->op]->name;
    int64_t ranks = ir_get_i(c->node, "ranks");
    if (c->in[0].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "cuda: %s on %s has no kernel (float32 only)", op, ir_dtype_name(c->in[0].dtype));
        return -1;
    }
    if (too_big(op, c->out[0].numel, err)) return -1;
    if (ranks == 1) return 0;
    if (!b->nccl.ops) {
        snprintf(err, IR_ERRLEN, "cuda: %s over %lld ranks needs the job's ranks: run the plan under mpirun -np %lld",
                 op, (long long)ranks, (long long)ranks);
        return -1;
    }
    if (b->nccl.size != ranks) {
        snprintf(err, IR_ERRLEN, "cuda: %s: the graph was built for %lld ranks, this job has %d", op, (long long)ranks,
                 b->nccl.size);
        return -1;
    }
    return 0;
}

static int is_copy_op(int op) { return op == OP_Identity || op == OP_StopGradient || op == OP_Reshape || op == OP_Flatten; }

/* what runs each step and the workspace it needs */
static int prep_steps(cuda_backend *b, char *err) {
    const fused_plan *fp = &b->run->fp;
    const ir_graph *g = &b->run->lowered;
    CUresult r_;
    b->steps = calloc((size_t)fp->nsteps + 1, sizeof *b->steps);
    b->need = calloc((size_t)fp->nsteps + 1, sizeof *b->need);
    b->ws_off = malloc(((size_t)fp->nsteps + 1) * sizeof *b->ws_off);
    if (!b->steps || !b->need || !b->ws_off) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int si = 0; si < fp->nsteps; si++) {
        const exec_step *st = &fp->steps[si];
        cstep *cs = &b->steps[si];
        b->at_step = si;
        b->ws_off[si] = -1;
        if (st->kind == STEP_KERNEL) {
            const fkernel *fk = &fp->kernels[st->kernel];
            cs->kind = CS_KERNEL, cs->nlaunch = fk->nseg, cs->block = 0;
            if (fk->nseg > 64) {
                snprintf(err, IR_ERRLEN, "cuda: kernel %d has %d segments (at most 64)", st->kernel, fk->nseg);
                return -1;
            }
            for (int s = 0; s < fk->nseg; s++) {
                char name[48];
                snprintf(name, sizeof name, "k%d_s%d", st->kernel, s);
                b->what = "loading a fused kernel";
                if (CU(err, ModuleGetFunction, &cs->fn[s], b->kmod, name)) return -1;
                int64_t grid;
                kir_cuda_launch(&fk->seg[s], &grid, &cs->block);
                cs->grid[s] = (unsigned)grid;
            }
            continue;
        }
        const ir_node *n = &g->nodes[st->node];
        ref_call c = shape_call(g, n, err);
        const devop_def *d;
        b->what = ir_optable[n->op]->name;
        if (n->op == OP_Gemm) {
            cs->kind = CS_GEMM;
            if (prep_gemm(&c, &cs->gm, err)) return -1;
            if (cs->gm.bias) cs->nlaunch = 1, cs->devop_base = b->nargs_devop++;
        } else if (n->op == OP_MatMul) {
            cs->kind = CS_MATMUL;
            if (c.in[0].dtype != DT_F32) {
                snprintf(err, IR_ERRLEN, "cuda: MatMul on %s has no kernel (float32 only)", ir_dtype_name(c.in[0].dtype));
                return -1;
            }
            if (prep_matmul(&c, &cs->gm, err)) return -1;
        } else if (n->op == OP_Conv || n->op == OP_ConvGradInput || n->op == OP_ConvGradWeight) {
            cs->kind = CS_CONV;
            if (c.in[0].dtype != DT_F32) {
                snprintf(err, IR_ERRLEN, "cuda: %s on %s has no kernel (float32 only)", ir_optable[n->op]->name,
                         ir_dtype_name(c.in[0].dtype));
                return -1;
            }
            if (prep_conv(b, &c, &cs->cv, err)) return -1;
            cs->need = (int64_t)cs->cv.ws;
        } else if (is_copy_op(n->op)) {
            cs->kind = CS_COPY;
        } else if (ir_optable[n->op]->flags & OPF_COLLECTIVE) {
            cs->kind = CS_COLLECTIVE;
            if (prep_collective(b, &c, err)) return -1;
        } else if ((d = devop_find(n->op))) {
            cs->kind = CS_DEVOP;
            cs->need = d->scratch ? d->scratch(&c) : 0;
            /* the launch count is known once the op is prepared on real pointers; reserve the most */
            cs->devop_base = b->nargs_devop;
            b->nargs_devop += DEVOP_MAX_LAUNCHES;
        } else {
            snprintf(err, IR_ERRLEN, "cuda: step %d: %s has no kernel on the cuda backend yet (use --device cpu)", si,
                     ir_optable[n->op]->name);
            return -1;
        }
        b->need[si] = cs->need;
    }
    b->at_step = -1;
    return 0;
}

/* the launches and their arguments, on the placed storage */
static int bind_steps(cuda_backend *b, char *err) {
    const fused_plan *fp = &b->run->fp;
    const ir_graph *g = &b->run->lowered;
    CUresult r_;
    b->hargs = calloc((size_t)b->nargs_devop + 1, sizeof *b->hargs);
    if (!b->hargs) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int si = 0; si < fp->nsteps; si++) {
        const exec_step *st = &fp->steps[si];
        cstep *cs = &b->steps[si];
        b->at_step = si;
        if (cs->kind == CS_KERNEL) {
            const fkernel *fk = &fp->kernels[st->kernel];
            cs->args = calloc((size_t)fk->nseg, sizeof *cs->args);
            cs->args_size = calloc((size_t)fk->nseg, sizeof *cs->args_size);
            if (!cs->args || !cs->args_size) goto oom;
            for (int s = 0; s < fk->nseg; s++) {
                const kir *k = &fk->seg[s];
                void **a = malloc(((size_t)(k->nloads + k->nstores) + 1) * sizeof *a);
                if (!a) goto oom;
                int na = 0;
                for (int l = 0; l < k->nloads; l++) a[na++] = arena_exec_data(&b->core, k->loads[l].value);
                for (int o = 0; o < k->nstores; o++) a[na++] = arena_exec_data(&b->core, k->stores[o].value);
                cs->args[s] = a, cs->args_size[s] = (size_t)na * sizeof *a;
            }
            continue;
        }
        if (cs->kind != CS_DEVOP && !(cs->kind == CS_GEMM && cs->gm.bias)) continue;
        const ir_node *n = &g->nodes[st->node];
        ref_call c = arena_exec_call(&b->core, n, err);
        devop_launch l[DEVOP_MAX_LAUNCHES];
        int nl;
        if (cs->kind == CS_GEMM) {
            devop_gemm_bias(&c, l);
            nl = 1;
        } else {
            void *ws = b->ws_off[si] >= 0 ? b->core.arena + b->ws_off[si] : NULL;
            if ((nl = devop_find(n->op)->prepare(&c, ws, l, err)) < 0) return -1;
        }
        cs->nlaunch = nl;
        for (int k = 0; k < nl; k++) {
            char name[64];
            snprintf(name, sizeof name, "sslc_%s", l[k].kernel);
            b->what = name;
            if (CU(err, ModuleGetFunction, &cs->fn[k], b->dmod, name)) return -1;
            b->hargs[cs->devop_base + k] = l[k].args;
        }
    }
    b->at_step = -1;
    b->what = "device library op arguments";
    size_t bytes = (size_t)b->nargs_devop * sizeof *b->hargs;
    if (bytes && (CU(err, MemAlloc, &b->dargs, bytes) || upload_sync(b, b->dargs, b->hargs, bytes, err))) return -1;
    return 0;
oom:
    snprintf(err, IR_ERRLEN, "out of memory");
    return -1;
}

/* ---- the backend table ---- */

static int value_ok(cuda_backend *b, int v, size_t bytes, char *err) {
    return backend_value_check(&b->run->lowered, v, arena_exec_data(&b->core, v) != NULL, bytes, "cuda", err);
}

static int cuda_upload(void *self, int v, const void *src, size_t bytes, char *err) {
    cuda_backend *b = self;
    b->at_step = -1;
    if (value_ok(b, v, bytes, err)) return -1;
    return upload_sync(b, dptr(arena_exec_data(&b->core, v)), src, bytes, err);
}

static int cuda_download(void *self, int v, void *dst, size_t bytes, char *err) {
    cuda_backend *b = self;
    CUresult r_;
    b->at_step = -1;
    if (value_ok(b, v, bytes, err)) return -1;
    CUdeviceptr src = dptr(arena_exec_data(&b->core, v));
    for (size_t off = 0; off < bytes; off += BOUNCE_BYTES) {
        size_t n = bytes - off < BOUNCE_BYTES ? bytes - off : BOUNCE_BYTES;
        if (CU(err, MemcpyDtoHAsync, b->bounce, src + off, n, b->stream) ||
            CU(err, StreamSynchronize, b->stream))
            return -1;
        memcpy((char *)dst + off, b->bounce, n);
    }
    return 0;
}

static int cuda_download_f64(void *self, int v, double *dst, char *err) {
    cuda_backend *b = self;
    const ir_graph *g = &b->run->lowered;
    if (v < 0 || v >= g->nvals || g->vals[v].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "value %%%d has no float32 storage in the cuda backend", v);
        return -1;
    }
    int64_t n = ir_numel(&g->vals[v].shape);
    float *f = malloc((size_t)n * sizeof *f + 1);
    if (!f) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    int rc = cuda_download(self, v, f, (size_t)n * sizeof *f, err);
    for (int64_t i = 0; i < n && !rc; i++) dst[i] = f[i];
    free(f);
    return rc;
}

static int cuda_has_value(void *self, int v) { return arena_exec_data(&((cuda_backend *)self)->core, v) != NULL; }

static int cuda_run(void *self, char *err) {
    cuda_backend *b = self;
    CUresult r_;
    b->at_step = -1;
    if (!b->use_graph) return arena_exec_run(&b->core, err);
    if (b->captured) {
        if (b->nccl.ops) comm_nccl_count(&b->nccl, b->graph_bytes);
    } else { /* the first step records the graph; every step replays it */
        CUgraph graph = NULL;
        uint64_t sent0 = b->nccl.bytes_sent;
        b->what = "capturing the step";
        if (CU(err, StreamBeginCapture, b->stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)) return -1;
        int rc = arena_exec_run(&b->core, err);
        CUresult er = b->cu.StreamEndCapture(b->stream, &graph);
        b->at_step = -1;
        if (rc) {
            if (graph) b->cu.GraphDestroy(graph);
            return -1;
        }
        if (er) return cu_fail(b, er, "cuStreamEndCapture", err);
        r_ = b->cu.GraphInstantiateWithFlags(&b->gexec, graph, 0);
        b->cu.GraphDestroy(graph);
        if (r_) return cu_fail(b, r_, "cuGraphInstantiateWithFlags", err);
        b->captured = 1;
        b->graph_bytes = b->nccl.bytes_sent - sent0;
    }
    b->what = "replaying the step";
    return CU(err, GraphLaunch, b->gexec, b->stream);
}

static int cuda_sync(void *self, char *err) {
    cuda_backend *b = self;
    CUresult r_;
    b->at_step = -1;
    return CU(err, StreamSynchronize, b->stream);
}

static void cuda_free(void *self) {
    cuda_backend *b = self;
    if (b->stream) b->cu.StreamSynchronize(b->stream);
    if (b->gexec) b->cu.GraphExecDestroy(b->gexec);
    if (b->ctx) arena_exec_free(&b->core);
    for (int si = 0; b->steps && si < b->run->fp.nsteps; si++) {
        cstep *cs = &b->steps[si];
        if (cs->args)
            for (int s = 0; s < cs->nlaunch; s++) free(cs->args[s]);
        free(cs->args), free(cs->args_size);
        free(cs->gm.oa), free(cs->gm.ob);
        if (cs->cv.xd) b->dnn.DestroyTensorDescriptor(cs->cv.xd);
        if (cs->cv.yd) b->dnn.DestroyTensorDescriptor(cs->cv.yd);
        if (cs->cv.bd) b->dnn.DestroyTensorDescriptor(cs->cv.bd);
        if (cs->cv.wd) b->dnn.DestroyFilterDescriptor(cs->cv.wd);
        if (cs->cv.cd) b->dnn.DestroyConvolutionDescriptor(cs->cv.cd);
    }
    free(b->steps), free(b->need), free(b->ws_off), free(b->hargs);
    if (b->dargs) b->cu.MemFree(b->dargs);
    if (b->blas_ws) b->cu.MemFree(b->blas_ws);
    if (b->bounce) b->cu.MemFreeHost(b->bounce);
    if (b->cublas) b->blas.Destroy(b->cublas);
    if (b->cudnn) b->dnn.Destroy(b->cudnn);
    comm_nccl_close(&b->nccl);
    if (b->kmod) b->cu.ModuleUnload(b->kmod);
    if (b->dmod) b->cu.ModuleUnload(b->dmod);
    if (b->stream) b->cu.StreamDestroy(b->stream);
    if (b->ctx) b->cu.DevicePrimaryCtxRelease(b->dev);
    memplan_free(&b->mp);
    exec_plan_free(&b->ep);
    cuda_driver_unload(&b->cu), cuda_blas_unload(&b->blas), cuda_dnn_unload(&b->dnn);
    free(b);
}

static const backend_ops cuda_ops = {"cuda", cuda_upload, cuda_download, cuda_download_f64, cuda_has_value,
                                     cuda_run, cuda_sync, cuda_free};

/* ---- building ---- */

/* whether this run is a rank of an mpirun job (its collectives then go through NCCL) */
static int in_job(const backend_args *a) { return a->comm && a->comm->ops && strcmp(a->comm->ops->name, "self"); }

/* the driver, the device (0; a job's rank: its local rank's, one process per GPU) and its
 * context; without a usable GPU the one line of cuda_check.c */
static int open_device(cuda_backend *b, const backend_args *a, char *err) {
    CUresult r_;
    int n = 0, ordinal = in_job(a) ? comm_local_rank(err) : 0;
    if (ordinal < 0) return -1;
    if (cuda_driver_load(&b->cu, err) || b->cu.Init(0) || b->cu.DeviceGetCount(&n) || n < 1) {
        b->cu.GetErrorString = NULL; /* cuda_refuse says what is missing */
        return cuda_refuse(a->plan && a->plan->has_step ? &a->plan->step : NULL, err);
    }
    if (ordinal >= n) {
        snprintf(err, IR_ERRLEN,
                 "cuda: rank %d is local rank %d on its machine, which has %d GPU(s): start at most %d rank(s) per "
                 "machine (one process per GPU)",
                 a->comm->rank, ordinal, n, n);
        return -1;
    }
    b->at_step = -1;
    if (CU(err, DeviceGet, &b->dev, ordinal) ||
        CU(err, DeviceGetAttribute, &b->major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, b->dev) ||
        CU(err, DeviceGetAttribute, &b->minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, b->dev) ||
        CU(err, DeviceGetName, b->name, sizeof b->name, b->dev) ||
        CU(err, DevicePrimaryCtxRetain, &b->ctx, b->dev) || CU(err, CtxSetCurrent, b->ctx) ||
        CU(err, StreamCreate, &b->stream, CU_STREAM_NON_BLOCKING) ||
        CU(err, MemAllocHost, &b->bounce, BOUNCE_BYTES))
        return -1;
    return 0;
}

static int open_libraries(cuda_backend *b, int tf32, char *err) {
    int r_;
    if (cuda_blas_load(&b->blas, err) || cuda_dnn_load(&b->dnn, err)) return -1;
    b->at_step = -1, b->what = "cuBLAS and cuDNN";
    if (BLAS(err, Create, &b->cublas) || BLAS(err, SetStream, b->cublas, b->stream) ||
        /* float32 as float32: TF32 tensor cores only when asked for */
        BLAS(err, SetMathMode, b->cublas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH))
        return -1;
    if (DNN(err, Create, &b->cudnn) || DNN(err, SetStream, b->cudnn, b->stream)) return -1;
    return 0;
}

/* the fused kernels: the plan's CUBIN for this GPU, else NVRTC's now; the device library ops:
 * NVRTC's */
static int load_modules(cuda_backend *b, const backend_args *a, char *err) {
    CUresult r_;
    int arch = b->major * 10 + b->minor;
    const step_cubin *cb = a->plan && a->plan->has_step && a->g == &a->plan->train
                               ? cuda_cubin_for(&a->plan->step, b->major, b->minor)
                               : NULL;
    void *image = NULL;
    size_t size = 0;
    char why[IR_ERRLEN];
    b->what = "loading the fused kernels";
    if (cb) {
        if (CU(err, ModuleLoadData, &b->kmod, cb->image)) return -1;
    } else {
        char *src = cuda_source(&b->run->fp, why);
        if (!src) {
            snprintf(err, IR_ERRLEN, "cuda: generating the kernels: %.400s", why);
            return -1;
        }
        int hit;
        int rc = nvrtc_compile_cached(src, arch, &image, &size, &hit, why);
        free(src);
        if (rc) {
            snprintf(err, IR_ERRLEN, "cuda: the plan has no CUBIN for sm_%d and NVRTC cannot make one: %.300s", arch,
                     why);
            return -1;
        }
        rc = CU(err, ModuleLoadData, &b->kmod, image);
        free(image);
        if (rc) return -1;
    }
    b->what = "loading the device library ops";
    int hit;
    if (nvrtc_compile_cached(devop_cuda_source(), arch, &image, &size, &hit, why)) {
        snprintf(err, IR_ERRLEN, "cuda: compiling the device library ops for sm_%d: %.300s", arch, why);
        return -1;
    }
    int rc = CU(err, ModuleLoadData, &b->dmod, image);
    free(image);
    return rc;
}

/* the memory plan with every library step's workspace as scratch, checked; then the device
 * memory it needs against what the GPU has free */
static int plan_memory(cuda_backend *b, char *err) {
    const fused_plan *fp = &b->run->fp;
    char why[IR_ERRLEN];
    if (memplan_build_scratch(&b->run->lowered, fp->steps, fp->nsteps, fp->root, b->need, &b->mp, b->ws_off, why) ||
        memplan_check_scratch(&b->run->lowered, fp->steps, fp->nsteps, fp->root, &b->mp, b->need, b->ws_off, why)) {
        snprintf(err, IR_ERRLEN, "cuda: planning the library workspaces: %.400s", why);
        return -1;
    }
    size_t free_b = 0, total_b = 0;
    CUresult r_;
    b->what = "device memory";
    if (CU(err, MemGetInfo, &free_b, &total_b)) return -1;
    double need = (double)b->mp.arena_bytes + (double)b->mp.persistent_bytes + (double)BLAS_WS_BYTES +
                  (double)b->nargs_devop * sizeof(devop_args) + 2.0 * (double)(1 << 20);
    if (need > (double)free_b) {
        snprintf(err, IR_ERRLEN,
                 "cuda: the step needs %.1f MiB of device memory (arena %.1f MiB, parameters and state %.1f MiB, "
                 "cuBLAS workspace %.0f MiB); "
                 "%s has %.1f MiB free of %.1f MiB: use a smaller --batch",
                 need / 1048576.0, (double)b->mp.arena_bytes / 1048576.0, (double)b->mp.persistent_bytes / 1048576.0,
                 (double)BLAS_WS_BYTES / 1048576.0, b->name, (double)free_b / 1048576.0, (double)total_b / 1048576.0);
        return -1;
    }
    return 0;
}

int backend_cuda_new(const backend_args *a, backend *out, char *err) {
    if (ir_graph_has_bf16(a->g)) { /* cuDNN/cuBLAS bf16 calls and bf16 device kernels are not written yet */
        snprintf(err, IR_ERRLEN,
                 "the cuda backend does not run bf16 mixed-precision plans yet: compile without --precision bf16 "
                 "for --device cuda (or run this plan on --device cpu)");
        return -1;
    }
    cuda_backend *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    b->at_step = -1;
    const char *gv = getenv("SSLC_CUDA_GRAPH");
    b->use_graph = !(gv && !strcmp(gv, "0"));
    if (open_device(b, a, err)) goto fail;
    /* the plan's stored step only with a CUBIN for this GPU: the stored kernels keep their C (and
     * CUDA) source but not their expressions, so without a CUBIN the CUDA source is made again
     * from a step built here */
    if (a->plan && a->plan->has_step && a->g == &a->plan->train && cuda_cubin_for(&a->plan->step, b->major, b->minor))
        b->run = &a->plan->step.ep;
    else if (exec_plan_build(a->g, &b->ep, err))
        goto fail;
    else
        b->run = &b->ep;
    b->tf32 = a->tf32;
    if (open_libraries(b, a->tf32, err)) goto fail;
    if (in_job(a) && comm_nccl_open(&b->nccl, a->comm, b->stream, b->nccl_version, err)) goto fail;
    if (load_modules(b, a, err) || prep_steps(b, err) || plan_memory(b, err)) goto fail;
    /* cuBLAS's workspace: set, so that capturing the step allocates nothing */
    CUresult r_;
    int br_;
    b->what = "the cuBLAS workspace";
    if (CU(err, MemAlloc, &b->blas_ws, BLAS_WS_BYTES)) goto fail;
    if ((br_ = b->blas.SetWorkspace(b->cublas, (void *)(uintptr_t)b->blas_ws, BLAS_WS_BYTES))) {
        blas_fail(b, br_, "cublasSetWorkspace", err);
        goto fail;
    }
    b->mem = (arena_mem){b, mem_alloc, mem_release, mem_upload, mem_copy};
    const fused_plan *fp = &b->run->fp;
    if (arena_exec_init_mem(&b->core, &b->run->lowered, fp->steps, fp->nsteps, fp->root, &b->mp, b->ws_off, &b->mem,
                            err))
        goto fail;
    b->core.kernel = run_kernel, b->core.kernel_ctx = b;
    b->core.lib.ctx = b;
    b->core.lib.op[OP_Gemm] = lib_gemm;
    b->core.lib.op[OP_MatMul] = lib_matmul;
    b->core.lib.op[OP_Conv] = b->core.lib.op[OP_ConvGradInput] = b->core.lib.op[OP_ConvGradWeight] = lib_conv;
    b->core.lib.op[OP_Identity] = b->core.lib.op[OP_StopGradient] = lib_copy;
    b->core.lib.op[OP_Reshape] = b->core.lib.op[OP_Flatten] = lib_copy;
    for (int si = 0; si < fp->nsteps; si++) {
        cstep_kind k = b->steps[si].kind;
        if (k == CS_DEVOP || k == CS_COLLECTIVE)
            b->core.lib.op[b->run->lowered.nodes[fp->steps[si].node].op] = k == CS_DEVOP ? lib_devop : lib_collective;
    }
    if (bind_steps(b, err)) goto fail;
    if (CU(err, StreamSynchronize, b->stream)) goto fail;
    if (a->info) {
        char coll[64] = "";
        if (b->nccl.ops) snprintf(coll, sizeof coll, ", collectives over NCCL %s (%d rank%s)", b->nccl_version,
                     b->nccl.size, b->nccl.size == 1 ? "" : "s");
        snprintf(a->info, a->info_len,
                 "cuda: %s (sm_%d%d), %d graph nodes -> %d steps, arena %.1f MiB + %.1f MiB parameters and state, "
                 "%s%s",
                 b->name, b->major, b->minor, a->g->nnodes, fp->nsteps, (double)b->mp.arena_bytes / 1048576.0,
                 (double)b->mp.persistent_bytes / 1048576.0, b->use_graph ? "one CUDA Graph per step" : "plain launches",
                 coll);
    }
    *out = (backend){&cuda_ops, b, &b->run->lowered};
    return 0;
fail:
    if (!b->run) b->run = &b->ep;
    cuda_free(b);
    return -1;
}
