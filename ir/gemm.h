/* GEMM for every float32 / float64 matrix product on the host: the op table's kernels, the
 * evaluation (kNN, linear probe) and the CUDA stand-in's cuBLAS. Row-major:
 * C = alpha op(A) op(B) + beta C. float32 through oneDNN (ir/opkit.c says why), float64 through
 * OpenBLAS. */
#ifndef SSLC_IR_GEMM_H
#define SSLC_IR_GEMM_H
#include <stdint.h>

void ref_gemm_f32(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void ref_gemm_f64(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
                  const double *B, int64_t ldb, double beta, double *C, int64_t ldc);

#endif
