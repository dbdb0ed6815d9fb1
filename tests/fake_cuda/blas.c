/* The stand-in's cuBLAS: Sgemm and SgemmStridedBatched, column-major as BLAS defines them,
 * computed by the cpu backend's GEMM (ref_gemm_f32, oneDNN; one call per batch) on the transposed,
 * row-major problem: column-major C = op(A) op(B) is row-major C = op(B)^T op(A)^T, the call the
 * cpu backend makes for the same Gemm node, so the two backends compute the same bits. alpha and beta are
 * read from host pointers when the call is made (a capture records their values). */
#include <stdlib.h>

#include "fake.h"
#include "ir/gemm.h"

struct cublasContext {
    int magic;
    CUstream stream;
    int math;
    void *ws;
    size_t ws_bytes;
};
enum { BLAS_MAGIC = 0xb1a5 };

static int handle_ok(const char *call, cublasHandle_t h) {
    if (h && h->magic == BLAS_MAGIC) return 1;
    fk_say(call, "not a cuBLAS handle");
    return 0;
}

FK_API cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    if (fk_need_context("cublasCreate_v2")) return FK_BLAS_NOT_INITIALIZED;
    if (!h) return FK_BLAS_INVALID_VALUE;
    cublasHandle_t n = calloc(1, sizeof *n);
    if (!n) return 3; /* CUBLAS_STATUS_ALLOC_FAILED */
    n->magic = BLAS_MAGIC;
    *h = n;
    return 0;
}
FK_API cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    if (!handle_ok("cublasDestroy_v2", h)) return FK_BLAS_NOT_INITIALIZED;
    h->magic = 0;
    free(h);
    return 0;
}
FK_API cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream s) {
    if (!handle_ok("cublasSetStream_v2", h)) return FK_BLAS_NOT_INITIALIZED;
    if (!fk_stream_ok(s)) {
        fk_say("cublasSetStream_v2", "not a stream");
        return FK_BLAS_INVALID_VALUE;
    }
    h->stream = s;
    return 0;
}
FK_API cublasStatus_t cublasSetMathMode(cublasHandle_t h, int mode) {
    if (!handle_ok("cublasSetMathMode", h)) return FK_BLAS_NOT_INITIALIZED;
    h->math = mode; /* recorded; the stand-in computes in float32 whatever the mode */
    return 0;
}
FK_API cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws, size_t bytes) {
    if (!handle_ok("cublasSetWorkspace_v2", h)) return FK_BLAS_NOT_INITIALIZED;
    if (fk_check_dev("cublasSetWorkspace_v2", "workspace", ws, bytes)) return FK_BLAS_INVALID_VALUE;
    h->ws = ws, h->ws_bytes = bytes;
    return 0;
}

typedef struct {
    const char *call;
    int ta, tb, m, n, k, lda, ldb, ldc, batch;
    float alpha, beta;
    const float *A, *B;
    float *C;
    long long sa, sb, sc;
} gemm_op;

/* bytes spanned by a column-major rows x cols matrix with leading dimension ld, times batch at
 * stride st (elements) */
static size_t span(int rows, int cols, int ld, long long st, int batch) {
    if (!rows || !cols || !batch) return 0;
    return ((size_t)ld * (size_t)(cols - 1) + (size_t)rows + (size_t)st * (size_t)(batch - 1)) * sizeof(float);
}

static int gemm_check(const void *payload) {
    const gemm_op *g = payload;
    int ra = g->ta ? g->k : g->m, ca = g->ta ? g->m : g->k;
    int rb = g->tb ? g->n : g->k, cb = g->tb ? g->k : g->n;
    int bad = (g->ta != CUBLAS_OP_N && g->ta != CUBLAS_OP_T) || (g->tb != CUBLAS_OP_N && g->tb != CUBLAS_OP_T) ||
              g->m < 0 || g->n < 0 || g->k < 0 || g->batch < 0 || g->lda < (ra > 1 ? ra : 1) ||
              g->ldb < (rb > 1 ? rb : 1) || g->ldc < (g->m > 1 ? g->m : 1) || g->sa < 0 || g->sb < 0 || g->sc < 0;
    if (bad) {
        fk_say(g->call, "invalid arguments: op %d/%d, m %d n %d k %d, lda %d ldb %d ldc %d, strides %lld %lld %lld, batch %d",
               g->ta, g->tb, g->m, g->n, g->k, g->lda, g->ldb, g->ldc, g->sa, g->sb, g->sc, g->batch);
        return FK_BLAS_INVALID_VALUE;
    }
    /* A and B matter only when k > 0 (otherwise C = beta C) */
    if ((g->k && g->m && g->n &&
         (fk_check_dev(g->call, "A", g->A, span(ra, ca, g->lda, g->sa, g->batch)) ||
          fk_check_dev(g->call, "B", g->B, span(rb, cb, g->ldb, g->sb, g->batch)))) ||
        fk_check_dev(g->call, "C", g->C, span(g->m, g->n, g->ldc, g->sc, g->batch)))
        return FK_BLAS_INVALID_VALUE;
    return 0;
}

static int gemm_run(const void *payload) {
    const gemm_op *g = payload;
    if (!g->m || !g->n) return 0;
    for (int b = 0; b < g->batch; b++)
        ref_gemm_f32(g->tb, g->ta, g->n, g->m, g->k, g->alpha, g->B + b * g->sb, g->ldb, g->A + b * g->sa, g->lda,
                     g->beta, g->C + b * g->sc, g->ldc);
    return 0;
}

static cublasStatus_t gemm_submit(cublasHandle_t h, gemm_op *g, const float *alpha, const float *beta) {
    if (!handle_ok(g->call, h)) return FK_BLAS_NOT_INITIALIZED;
    if (!alpha || !beta) {
        fk_say(g->call, "NULL alpha or beta");
        return FK_BLAS_INVALID_VALUE;
    }
    g->alpha = *alpha, g->beta = *beta;
    int r = fk_submit(h->stream, g->call, gemm_check, gemm_run, g, sizeof *g);
    /* a driver error (capture invalidated, out of memory) reads as an execution failure */
    return r == FK_BLAS_INVALID_VALUE || !r ? r : FK_BLAS_EXECUTION_FAILED;
}

FK_API cublasStatus_t cublasSgemm_v2(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float *alpha,
                                     const float *A, int lda, const float *B, int ldb, const float *beta, float *C,
                                     int ldc) {
    gemm_op g = {"cublasSgemm_v2", ta, tb, m, n, k, lda, ldb, ldc, 1, 0, 0, A, B, C, 0, 0, 0};
    return gemm_submit(h, &g, alpha, beta);
}

FK_API cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, int ta, int tb, int m, int n, int k,
                                                const float *alpha, const float *A, int lda, long long sa,
                                                const float *B, int ldb, long long sb, const float *beta, float *C,
                                                int ldc, long long sc, int batch) {
    gemm_op g = {"cublasSgemmStridedBatched", ta, tb, m, n, k, lda, ldb, ldc, batch, 0, 0, A, B, C, sa, sb, sc};
    return gemm_submit(h, &g, alpha, beta);
}

typedef struct {
    int n, inc;
    float alpha;
    float *x;
} scal_op;

static int scal_check(const void *payload) {
    const scal_op *s = payload;
    if (s->n < 0 || s->inc != 1) {
        fk_say("cublasSscal_v2", "n %d, incx %d: the stand-in scales contiguous vectors (incx 1) only", s->n, s->inc);
        return FK_BLAS_INVALID_VALUE;
    }
    return fk_check_dev("cublasSscal_v2", "x", s->x, (size_t)s->n * sizeof(float)) ? FK_BLAS_INVALID_VALUE : 0;
}

/* one float multiply per element, as cuBLAS's scal */
static int scal_run(const void *payload) {
    const scal_op *s = payload;
    for (int i = 0; i < s->n; i++) s->x[i] *= s->alpha;
    return 0;
}

FK_API cublasStatus_t cublasSscal_v2(cublasHandle_t h, int n, const float *alpha, float *x, int incx) {
    if (!handle_ok("cublasSscal_v2", h)) return FK_BLAS_NOT_INITIALIZED;
    if (!alpha) {
        fk_say("cublasSscal_v2", "NULL alpha");
        return FK_BLAS_INVALID_VALUE;
    }
    scal_op s = {n, incx, *alpha, x};
    int r = fk_submit(h->stream, "cublasSscal_v2", scal_check, scal_run, &s, sizeof s);
    return r == FK_BLAS_INVALID_VALUE || !r ? r : FK_BLAS_EXECUTION_FAILED;
}
