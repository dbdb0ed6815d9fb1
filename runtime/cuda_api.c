/* Loads the CUDA driver, cuBLAS and cuDNN (runtime/cuda_api.h): the environment variable's
 * library, else the usual names; every entry point by its versioned name. */
#include "cuda_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/ir.h" /* IR_ERRLEN: the size of err */

#define S(type, field, name) {offsetof(type, field), name}
static const cuda_sym driver_syms[] = {
    S(cuda_driver_api, Init, "cuInit"),
    S(cuda_driver_api, DriverGetVersion, "cuDriverGetVersion"),
    S(cuda_driver_api, DeviceGetCount, "cuDeviceGetCount"),
    S(cuda_driver_api, DeviceGet, "cuDeviceGet"),
    S(cuda_driver_api, DeviceGetName, "cuDeviceGetName"),
    S(cuda_driver_api, DeviceGetAttribute, "cuDeviceGetAttribute"),
    S(cuda_driver_api, DeviceTotalMem, "cuDeviceTotalMem_v2"),
    S(cuda_driver_api, DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    S(cuda_driver_api, DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
    S(cuda_driver_api, CtxSetCurrent, "cuCtxSetCurrent"),
    S(cuda_driver_api, StreamCreate, "cuStreamCreate"),
    S(cuda_driver_api, StreamDestroy, "cuStreamDestroy_v2"),
    S(cuda_driver_api, StreamSynchronize, "cuStreamSynchronize"),
    S(cuda_driver_api, EventCreate, "cuEventCreate"),
    S(cuda_driver_api, EventDestroy, "cuEventDestroy_v2"),
    S(cuda_driver_api, EventRecord, "cuEventRecord"),
    S(cuda_driver_api, EventSynchronize, "cuEventSynchronize"),
    S(cuda_driver_api, MemGetInfo, "cuMemGetInfo_v2"),
    S(cuda_driver_api, MemAlloc, "cuMemAlloc_v2"),
    S(cuda_driver_api, MemFree, "cuMemFree_v2"),
    S(cuda_driver_api, MemAllocHost, "cuMemAllocHost_v2"),
    S(cuda_driver_api, MemFreeHost, "cuMemFreeHost"),
    S(cuda_driver_api, MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    S(cuda_driver_api, MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    S(cuda_driver_api, MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
    S(cuda_driver_api, MemsetD8Async, "cuMemsetD8Async"),
    S(cuda_driver_api, ModuleLoadData, "cuModuleLoadData"),
    S(cuda_driver_api, ModuleUnload, "cuModuleUnload"),
    S(cuda_driver_api, ModuleGetFunction, "cuModuleGetFunction"),
    S(cuda_driver_api, LaunchKernel, "cuLaunchKernel"),
    S(cuda_driver_api, StreamBeginCapture, "cuStreamBeginCapture_v2"),
    S(cuda_driver_api, StreamEndCapture, "cuStreamEndCapture"),
    S(cuda_driver_api, GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags"),
    S(cuda_driver_api, GraphLaunch, "cuGraphLaunch"),
    S(cuda_driver_api, GraphExecDestroy, "cuGraphExecDestroy"),
    S(cuda_driver_api, GraphDestroy, "cuGraphDestroy"),
    S(cuda_driver_api, GetErrorString, "cuGetErrorString"),
};
static const cuda_sym blas_syms[] = {
    S(cuda_blas_api, Create, "cublasCreate_v2"),
    S(cuda_blas_api, Destroy, "cublasDestroy_v2"),
    S(cuda_blas_api, SetStream, "cublasSetStream_v2"),
    S(cuda_blas_api, SetMathMode, "cublasSetMathMode"),
    S(cuda_blas_api, SetWorkspace, "cublasSetWorkspace_v2"),
    S(cuda_blas_api, Sgemm, "cublasSgemm_v2"),
    S(cuda_blas_api, SgemmStridedBatched, "cublasSgemmStridedBatched"),
    S(cuda_blas_api, Sscal, "cublasSscal_v2"),
};
static const cuda_sym dnn_syms[] = {
    S(cuda_dnn_api, Create, "cudnnCreate"),
    S(cuda_dnn_api, Destroy, "cudnnDestroy"),
    S(cuda_dnn_api, SetStream, "cudnnSetStream"),
    S(cuda_dnn_api, GetErrorString, "cudnnGetErrorString"),
    S(cuda_dnn_api, CreateTensorDescriptor, "cudnnCreateTensorDescriptor"),
    S(cuda_dnn_api, SetTensor4dDescriptor, "cudnnSetTensor4dDescriptor"),
    S(cuda_dnn_api, DestroyTensorDescriptor, "cudnnDestroyTensorDescriptor"),
    S(cuda_dnn_api, CreateFilterDescriptor, "cudnnCreateFilterDescriptor"),
    S(cuda_dnn_api, SetFilter4dDescriptor, "cudnnSetFilter4dDescriptor"),
    S(cuda_dnn_api, DestroyFilterDescriptor, "cudnnDestroyFilterDescriptor"),
    S(cuda_dnn_api, CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor"),
    S(cuda_dnn_api, SetConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor"),
    S(cuda_dnn_api, SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount"),
    S(cuda_dnn_api, SetConvolutionMathType, "cudnnSetConvolutionMathType"),
    S(cuda_dnn_api, DestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor"),
    S(cuda_dnn_api, GetConvolutionForwardAlgorithm_v7, "cudnnGetConvolutionForwardAlgorithm_v7"),
    S(cuda_dnn_api, GetConvolutionForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize"),
    S(cuda_dnn_api, ConvolutionForward, "cudnnConvolutionForward"),
    S(cuda_dnn_api, GetConvolutionBackwardDataAlgorithm_v7, "cudnnGetConvolutionBackwardDataAlgorithm_v7"),
    S(cuda_dnn_api, GetConvolutionBackwardDataWorkspaceSize, "cudnnGetConvolutionBackwardDataWorkspaceSize"),
    S(cuda_dnn_api, ConvolutionBackwardData, "cudnnConvolutionBackwardData"),
    S(cuda_dnn_api, GetConvolutionBackwardFilterAlgorithm_v7, "cudnnGetConvolutionBackwardFilterAlgorithm_v7"),
    S(cuda_dnn_api, GetConvolutionBackwardFilterWorkspaceSize, "cudnnGetConvolutionBackwardFilterWorkspaceSize"),
    S(cuda_dnn_api, ConvolutionBackwardFilter, "cudnnConvolutionBackwardFilter"),
    S(cuda_dnn_api, AddTensor, "cudnnAddTensor"),
};
#undef S

int cuda_lib_load(void *api, size_t api_bytes, const char *what, const char *env, const char *hint,
                  const char *const *names, int nnames, const cuda_sym *syms, int nsyms, char *err) {
    memset(api, 0, api_bytes);
    const char *path = getenv(env);
    void *dl = NULL;
    char why[256] = "";
    if (path && *path) {
        if (!(dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
            if (hint)
                snprintf(err, IR_ERRLEN,
                         "%s: %s=%s cannot be loaded (%.150s): set it to the library's path, or unset it and %s", what,
                         env, path, dlerror(), hint);
            else
                snprintf(err, IR_ERRLEN, "%s: %s=%s cannot be loaded: %.300s", what, env, path, dlerror());
            return -1;
        }
    } else {
        for (int i = 0; i < nnames && !dl; i++) {
            dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
            if (!dl && !why[0]) snprintf(why, sizeof why, "%s", dlerror());
        }
        if (!dl) {
            char tried[256] = "";
            for (int i = 0; i < nnames; i++)
                snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", i ? ", " : "", names[i]);
            if (hint)
                snprintf(err, IR_ERRLEN, "%s not found (tried %s): %s, or set %s to its path", what, tried, hint, env);
            else
                snprintf(err, IR_ERRLEN, "%s not found (tried %s; set %s to its path): %.150s", what, tried, env, why);
            return -1;
        }
        path = names[0];
    }
    for (int i = 0; i < nsyms; i++) {
        void *f = dlsym(dl, syms[i].name);
        if (!f) {
            snprintf(err, IR_ERRLEN, "%s (%s) lacks the entry point %s", what, path, syms[i].name);
            dlclose(dl);
            memset(api, 0, api_bytes);
            return -1;
        }
        memcpy((char *)api + syms[i].off, &f, sizeof f);
    }
    memcpy(api, &dl, sizeof dl); /* every api struct begins with `void *dl` */
    return 0;
}

_Static_assert(offsetof(cuda_driver_api, dl) == 0 && offsetof(cuda_blas_api, dl) == 0 && offsetof(cuda_dnn_api, dl) == 0,
               "the api structs begin with their dl handle");

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
int cuda_driver_load(cuda_driver_api *a, char *err) {
    static const char *const names[] = {"libcuda.so.1", "libcuda.so"};
    return cuda_lib_load(a, sizeof *a, "the CUDA driver", "SSLC_CUDA_DRIVER", NULL, names, N(names), driver_syms,
                         N(driver_syms), err);
}
int cuda_blas_load(cuda_blas_api *a, char *err) {
    static const char *const names[] = {"libcublas.so.13", "libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.13",
                                        "/usr/local/cuda/lib64/libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so"};
    return cuda_lib_load(a, sizeof *a, "cuBLAS", "SSLC_CUBLAS_LIB", NULL, names, N(names), blas_syms, N(blas_syms),
                         err);
}
int cuda_dnn_load(cuda_dnn_api *a, char *err) {
    static const char *const names[] = {"libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9",
                                        "/usr/local/cuda/lib64/libcudnn.so"};
    return cuda_lib_load(a, sizeof *a, "cuDNN", "SSLC_CUDNN_LIB", NULL, names, N(names), dnn_syms, N(dnn_syms),
                         err);
}
#undef N

void cuda_lib_unload(void *api, size_t bytes) {
    void *dl;
    memcpy(&dl, api, sizeof dl);
    if (dl) dlclose(dl);
    memset(api, 0, bytes);
}
void cuda_driver_unload(cuda_driver_api *a) { cuda_lib_unload(a, sizeof *a); }
void cuda_blas_unload(cuda_blas_api *a) { cuda_lib_unload(a, sizeof *a); }
void cuda_dnn_unload(cuda_dnn_api *a) { cuda_lib_unload(a, sizeof *a); }
