/* The CUDA driver, cuBLAS and cuDNN entry points the cuda backend uses, loaded with dlopen so
 * that one sslc binary runs with and without a GPU (no CUDA header is needed to build it). The
 * types and constants are the libraries' own (ABI-compatible declarations of the few sslc
 * uses); the symbol names are the versioned ones the libraries export.
 *
 * SSLC_CUDA_DRIVER, SSLC_CUBLAS_LIB and SSLC_CUDNN_LIB name other libraries to load instead:
 * the tests point them at a stand-in (tests/fake_cuda/) that implements exactly these entry
 * points over host memory, which is how CI runs the backend's host logic without a GPU. */
#ifndef SSLC_CUDA_API_H
#define SSLC_CUDA_API_H
#include <stddef.h>

/* ---- driver (libcuda.so.1) ---- */
typedef int CUresult; /* CUDA_SUCCESS = 0 */
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

enum {
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
};
#define CU_STREAM_NON_BLOCKING 0x1
#define CU_EVENT_DISABLE_TIMING 0x2
#define CU_STREAM_CAPTURE_MODE_THREAD_LOCAL 1
/* cuLaunchKernel's `extra`: the arguments as one packed buffer (sslc passes every kernel's
 * arguments this way, so the buffer's size says how many there are) */
#define CU_LAUNCH_PARAM_END ((void *)0x00)
#define CU_LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define CU_LAUNCH_PARAM_BUFFER_SIZE ((void *)0x02)

typedef struct {
    void *dl;
    CUresult (*Init)(unsigned flags);
    CUresult (*DriverGetVersion)(int *version);
    CUresult (*DeviceGetCount)(int *count);
    CUresult (*DeviceGet)(CUdevice *dev, int ordinal);
    CUresult (*DeviceGetName)(char *name, int len, CUdevice dev);
    CUresult (*DeviceGetAttribute)(int *value, int attrib, CUdevice dev);
    CUresult (*DeviceTotalMem)(size_t *bytes, CUdevice dev);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice dev);
    CUresult (*CtxSetCurrent)(CUcontext ctx);
    CUresult (*StreamCreate)(CUstream *s, unsigned flags);
    CUresult (*StreamDestroy)(CUstream s);
    CUresult (*StreamSynchronize)(CUstream s);
    CUresult (*EventCreate)(CUevent *e, unsigned flags);
    CUresult (*EventDestroy)(CUevent e);
    CUresult (*EventRecord)(CUevent e, CUstream s);
    CUresult (*EventSynchronize)(CUevent e);
    CUresult (*MemGetInfo)(size_t *free_bytes, size_t *total_bytes);
    CUresult (*MemAlloc)(CUdeviceptr *p, size_t bytes);
    CUresult (*MemFree)(CUdeviceptr p);
    CUresult (*MemAllocHost)(void **p, size_t bytes);
    CUresult (*MemFreeHost)(void *p);
    CUresult (*MemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream s);
    CUresult (*MemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream s);
    CUresult (*MemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s);
    CUresult (*MemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t bytes, CUstream s);
    CUresult (*ModuleLoadData)(CUmodule *m, const void *image);
    CUresult (*ModuleUnload)(CUmodule m);
    CUresult (*ModuleGetFunction)(CUfunction *f, CUmodule m, const char *name);
    CUresult (*LaunchKernel)(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                             unsigned shared_bytes, CUstream s, void **params, void **extra);
    CUresult (*StreamBeginCapture)(CUstream s, int mode);
    CUresult (*StreamEndCapture)(CUstream s, CUgraph *g);
    CUresult (*GraphInstantiateWithFlags)(CUgraphExec *x, CUgraph g, unsigned long long flags);
    CUresult (*GraphLaunch)(CUgraphExec x, CUstream s);
    CUresult (*GraphExecDestroy)(CUgraphExec x);
    CUresult (*GraphDestroy)(CUgraph g);
    CUresult (*GetErrorString)(CUresult r, const char **s);
} cuda_driver_api;

/* ---- cuBLAS (libcublas.so) ---- */
typedef int cublasStatus_t; /* CUBLAS_STATUS_SUCCESS = 0 */
typedef struct cublasContext *cublasHandle_t;
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2, CUBLAS_TF32_TENSOR_OP_MATH = 3 };

typedef struct {
    void *dl;
    cublasStatus_t (*Create)(cublasHandle_t *h);
    cublasStatus_t (*Destroy)(cublasHandle_t h);
    cublasStatus_t (*SetStream)(cublasHandle_t h, CUstream s);
    cublasStatus_t (*SetMathMode)(cublasHandle_t h, int mode);
    cublasStatus_t (*SetWorkspace)(cublasHandle_t h, void *ws, size_t bytes);
    /* column-major, as BLAS */
    cublasStatus_t (*Sgemm)(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A,
                            int lda, const float *B, int ldb, const float *beta, float *C, int ldc);
    cublasStatus_t (*SgemmStridedBatched)(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float *alpha,
                                          const float *A, int lda, long long sa, const float *B, int ldb, long long sb,
                                          const float *beta, float *C, int ldc, long long sc, int batch);
    /* x <- alpha x (a collective's mean: the sum over ranks, then 1/ranks) */
    cublasStatus_t (*Sscal)(cublasHandle_t h, int n, const float *alpha, float *x, int incx);
} cuda_blas_api;

/* ---- cuDNN (libcudnn.so.9): the convolution API ---- */
typedef int cudnnStatus_t; /* CUDNN_STATUS_SUCCESS = 0 */
typedef struct cudnnContext *cudnnHandle_t;
typedef struct cudnnTensorStruct *cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct *cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct *cudnnConvolutionDescriptor_t;
enum { CUDNN_TENSOR_NCHW = 0 };
enum { CUDNN_DATA_FLOAT = 0 };
enum { CUDNN_CROSS_CORRELATION = 1 };
/* CUDNN_FMA_MATH: float32 arithmetic only (no TF32); TENSOR_OP: --precision tf32 */
enum { CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_FMA_MATH = 3 };
typedef struct { /* cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t (one layout for all three) */
    int algo;
    cudnnStatus_t status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
} cudnn_algo_perf;

typedef struct {
    void *dl;
    cudnnStatus_t (*Create)(cudnnHandle_t *h);
    cudnnStatus_t (*Destroy)(cudnnHandle_t h);
    cudnnStatus_t (*SetStream)(cudnnHandle_t h, CUstream s);
    const char *(*GetErrorString)(cudnnStatus_t s);
    cudnnStatus_t (*CreateTensorDescriptor)(cudnnTensorDescriptor_t *d);
    cudnnStatus_t (*SetTensor4dDescriptor)(cudnnTensorDescriptor_t d, int format, int dtype, int n, int c, int h, int w);
    cudnnStatus_t (*DestroyTensorDescriptor)(cudnnTensorDescriptor_t d);
    cudnnStatus_t (*CreateFilterDescriptor)(cudnnFilterDescriptor_t *d);
    cudnnStatus_t (*SetFilter4dDescriptor)(cudnnFilterDescriptor_t d, int dtype, int format, int k, int c, int h, int w);
    cudnnStatus_t (*DestroyFilterDescriptor)(cudnnFilterDescriptor_t d);
    cudnnStatus_t (*CreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t *d);
    cudnnStatus_t (*SetConvolution2dDescriptor)(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                                int dil_h, int dil_w, int mode, int compute_type);
    cudnnStatus_t (*SetConvolutionGroupCount)(cudnnConvolutionDescriptor_t d, int groups);
    cudnnStatus_t (*SetConvolutionMathType)(cudnnConvolutionDescriptor_t d, int math);
    cudnnStatus_t (*DestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t d);
    cudnnStatus_t (*GetConvolutionForwardAlgorithm_v7)(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                       cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                       cudnnTensorDescriptor_t y, int req, int *got, cudnn_algo_perf *p);
    cudnnStatus_t (*GetConvolutionForwardWorkspaceSize)(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                        cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                        cudnnTensorDescriptor_t y, int algo, size_t *bytes);
    cudnnStatus_t (*ConvolutionForward)(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
                                        cudnnFilterDescriptor_t wd, const void *w, cudnnConvolutionDescriptor_t c,
                                        int algo, void *ws, size_t ws_bytes, const void *beta,
                                        cudnnTensorDescriptor_t yd, void *y);
    cudnnStatus_t (*GetConvolutionBackwardDataAlgorithm_v7)(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                            cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                            cudnnTensorDescriptor_t dx, int req, int *got,
                                                            cudnn_algo_perf *p);
    cudnnStatus_t (*GetConvolutionBackwardDataWorkspaceSize)(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                             cudnnTensorDescriptor_t dy, cudnnConvolutionDescriptor_t c,
                                                             cudnnTensorDescriptor_t dx, int algo, size_t *bytes);
    cudnnStatus_t (*ConvolutionBackwardData)(cudnnHandle_t h, const void *alpha, cudnnFilterDescriptor_t wd,
                                             const void *w, cudnnTensorDescriptor_t dyd, const void *dy,
                                             cudnnConvolutionDescriptor_t c, int algo, void *ws, size_t ws_bytes,
                                             const void *beta, cudnnTensorDescriptor_t dxd, void *dx);
    cudnnStatus_t (*GetConvolutionBackwardFilterAlgorithm_v7)(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                              cudnnTensorDescriptor_t dy,
                                                              cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw,
                                                              int req, int *got, cudnn_algo_perf *p);
    cudnnStatus_t (*GetConvolutionBackwardFilterWorkspaceSize)(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                               cudnnTensorDescriptor_t dy,
                                                               cudnnConvolutionDescriptor_t c,
                                                               cudnnFilterDescriptor_t dw, int algo, size_t *bytes);
    cudnnStatus_t (*ConvolutionBackwardFilter)(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd,
                                               const void *x, cudnnTensorDescriptor_t dyd, const void *dy,
                                               cudnnConvolutionDescriptor_t c, int algo, void *ws, size_t ws_bytes,
                                               const void *beta, cudnnFilterDescriptor_t dwd, void *dw);
    cudnnStatus_t (*AddTensor)(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t ad, const void *a,
                               const void *beta, cudnnTensorDescriptor_t cd, void *c);
} cuda_dnn_api;

/* Each loads its library (the environment variable's path, else the usual names) and every
 * entry point; -1 with one line in err naming the library or the missing symbol. */
int cuda_driver_load(cuda_driver_api *a, char *err);
int cuda_blas_load(cuda_blas_api *a, char *err);
int cuda_dnn_load(cuda_dnn_api *a, char *err);
void cuda_driver_unload(cuda_driver_api *a);
void cuda_blas_unload(cuda_blas_api *a);
void cuda_dnn_unload(cuda_dnn_api *a);

/* The loader under those three (also NCCL's, runtime/comm_nccl.c): opens env's path, else the
 * first of names that opens, and resolves every symbol into api, a struct whose first member
 * is the `void *dl` handle. A library not found is one line naming what was tried and hint
 * (how to install it; NULL: the loader's reason). 0, or -1 with err. */
typedef struct {
    size_t off; /* of the function pointer in the api struct */
    const char *name;
} cuda_sym;
int cuda_lib_load(void *api, size_t api_bytes, const char *what, const char *env, const char *hint,
                  const char *const *names, int nnames, const cuda_sym *syms, int nsyms, char *err);
void cuda_lib_unload(void *api, size_t api_bytes);

#endif
