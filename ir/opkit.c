/* Helpers shared by the op family files (compiled once). */
#include "opkit.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

int ir_broadcast_shape(const ir_shape *a, const ir_shape *b, ir_shape *out) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    ir_shape o;
    memset(&o, 0, sizeof o);
    o.ndim = nd;
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) return -1;
        o.d[i] = da == 1 ? db : da;
    }
    *out = o;
    return 0;
}

void ir_strides(const ir_shape *s, int64_t *st) {
    int64_t k = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        st[i] = k;
        k *= s->d[i];
    }
}

void ir_bcast_strides(const ir_shape *in, const ir_shape *out, int64_t *st) {
    int64_t own[IR_MAX_DIMS];
    ir_strides(in, own);
    for (int i = 0; i < out->ndim; i++) {
        int j = in->ndim - out->ndim + i;
        st[i] = (j < 0 || in->d[j] == 1) ? 0 : own[j];
    }
}

int ir_norm_axis(int64_t axis, int ndim) {
    if (axis < 0) axis += ndim;
    return (axis < 0 || axis >= ndim) ? -1 : (int)axis;
}

int ir_infer_same(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    os[0] = g->vals[n->in[0]].shape;
    od[0] = g->vals[n->in[0]].dtype;
    return 0;
}

int ir_infer_broadcast(ir_graph *g, ir_node *n, ir_shape *os, ir_dtype *od) {
    const ir_value *a = &g->vals[n->in[0]], *b = &g->vals[n->in[1]];
    if (a->dtype != b->dtype)
        return ir_fail(g, "%s: dtype mismatch %s vs %s", ir_optable[n->op]->name, ir_dtype_name(a->dtype),
                       ir_dtype_name(b->dtype));
    if (ir_broadcast_shape(&a->shape, &b->shape, &os[0]) != 0) {
        char sa[96], sb[96];
        ir_shape_str(&a->shape, sa, sizeof sa);
        ir_shape_str(&b->shape, sb, sizeof sb);
        return ir_fail(g, "%s: shapes %s and %s do not broadcast", ir_optable[n->op]->name, sa, sb);
    }
    od[0] = a->dtype;
    return 0;
}

int ir_simple(ir_graph *g, int op, const int *in, int nin) {
    int n = ir_node_new(g, op, in, nin);
    return ir_node_finish(g, n);
}

/* float32 through oneDNN's GEMM: its AVX-512 kernels run 1.5-4x faster than Debian's OpenBLAS
 * (an AVX2 kernel on AMD Zen 5), and it computes with the OpenMP threads of the rest of the
 * step. OpenBLAS's own threads busy-wait after each call and took a core from the next OpenMP
 * region: with them, a width-0.25 SimCLR step on 2 cores took 22 % longer (docs/PERFORMANCE.md,
 * "GEMMs"). OpenBLAS when oneDNN fails (out of memory for its packed copies; arguments oneDNN
 * refuses, OpenBLAS refuses too, as before). */
void ref_gemm_f32(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M,
                (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

void ref_gemm_f64(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
                  const double *B, int64_t ldb, double beta, double *C, int64_t ldc) {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M,
                (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}
