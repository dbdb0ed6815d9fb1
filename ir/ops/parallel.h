/* OpenMP helpers for the reference kernels of the op family files. The pragmas are spelled
 * through _Pragma so that a translation unit built without -fopenmp (the float64 kernels)
 * compiles them away instead of warning about unknown pragmas. */
#ifndef SSLC_OPS_PARALLEL_H
#define SSLC_OPS_PARALLEL_H

#ifdef _OPENMP
#define SSLC_PRAGMA(x) _Pragma(#x)
/* parallel loop over the next for statement when `cond` holds (enough work to pay for threads) */
#define OMP_FOR_IF(cond) SSLC_PRAGMA(omp parallel for schedule(static) if (cond))
/* same over the next two perfectly nested loops */
#define OMP_FOR2_IF(cond) SSLC_PRAGMA(omp parallel for collapse(2) schedule(static) if (cond))
#else
#define OMP_FOR_IF(cond)
#define OMP_FOR2_IF(cond)
#endif

/* below this many scalar operations a loop stays on one thread */
#define OMP_MIN_WORK 32768

#endif
