#include "cuda_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/ir.h"

/* the environment variable's library, else the first of `names` that loads */
static void *open_lib(const char *env, const char *const *names, int n, const char *what, char *err) {
    const char *path = getenv(env);
    if (path && *path) {
        void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl) snprintf(err, IR_ERRLEN, "%s: cannot load %s=%.200s: %.200s", what, env, path, dlerror());
        return dl;
    }
    for (int i = 0; i < n; i++) {
        void *dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (dl) return dl;
    }
    snprintf(err, IR_ERRLEN, "%s not found (%s; set %s to its path)", what, names[0], env);
    return NULL;
}

/* every entry point, or the name of the first one missing */
typedef struct {
    void **slot;
    const char *name;
} sym;

static int bind(void *dl, const sym *s, int n, const char *what, char *err) {
    for (int i = 0; i < n; i++) {
        *s[i].slot = dlsym(dl, s[i].name);
        if (!*s[i].slot) {
            snprintf(err, IR_ERRLEN, "%s lacks %s (too old a version?)", what, s[i].name);
            return -1;
        }
    }
    return 0;
}

#define S(field, name) {(void **)&a->field, name}

int cuda_driver_load(cuda_driver_api *a, char *err) {
    static const char *const names[] = {"libcuda.so.1", "libcuda.so"};
    memset(a, 0, sizeof *a);
    if (!(a->dl = open_lib("SSLC_CUDA_DRIVER", names, 2, "the NVIDIA driver library", err))) return -1;
    const sym s[] = {
        S(Init, "cuInit"), S(DriverGetVersion, "cuDriverGetVersion"), S(DeviceGetCount, "cuDeviceGetCount"),
        S(DeviceGet, "cuDeviceGet"), S(DeviceGetName, "cuDeviceGetName"), S(DeviceGetAttribute, "cuDeviceGetAttribute"),
        S(DeviceTotalMem, "cuDeviceTotalMem_v2"), S(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
        S(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"), S(CtxSetCurrent, "cuCtxSetCurrent"),
        S(StreamCreate, "cuStreamCreate"), S(StreamDestroy, "cuStreamDestroy_v2"),
        S(StreamSynchronize, "cuStreamSynchronize"), S(EventCreate, "cuEventCreate"),
        S(EventDestroy, "cuEventDestroy_v2"), S(EventRecord, "cuEventRecord"), S(EventSynchronize, "cuEventSynchronize"),
        S(MemGetInfo, "cuMemGetInfo_v2"), S(MemAlloc, "cuMemAlloc_v2"), S(MemFree, "cuMemFree_v2"),
        S(MemAllocHost, "cuMemAllocHost_v2"), S(MemFreeHost, "cuMemFreeHost"),
        S(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"), S(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
        S(MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"), S(MemsetD8Async, "cuMemsetD8Async"),
        S(ModuleLoadData, "cuModuleLoadData"), S(ModuleUnload, "cuModuleUnload"),
        S(ModuleGetFunction, "cuModuleGetFunction"), S(LaunchKernel, "cuLaunchKernel"),
        S(StreamBeginCapture, "cuStreamBeginCapture_v2"), S(StreamEndCapture, "cuStreamEndCapture"),
        S(GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags"), S(GraphLaunch, "cuGraphLaunch"),
        S(GraphExecDestroy, "cuGraphExecDestroy"), S(GraphDestroy, "cuGraphDestroy"),
        S(GetErrorString, "cuGetErrorString"),
    };
    if (bind(a->dl, s, (int)(sizeof s / sizeof s[0]), "the NVIDIA driver library", err)) {
        cuda_driver_unload(a);
        return -1;
    }
    return 0;
}

int cuda_blas_load(cuda_blas_api *a, char *err) {
    static const char *const names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                                        "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
                                        "/usr/local/cuda/lib64/libcublas.so"};
    memset(a, 0, sizeof *a);
    if (!(a->dl = open_lib("SSLC_CUBLAS_LIB", names, 6, "cuBLAS", err))) return -1;
    const sym s[] = {
        S(Create, "cublasCreate_v2"), S(Destroy, "cublasDestroy_v2"), S(SetStream, "cublasSetStream_v2"),
        S(SetMathMode, "cublasSetMathMode"), S(SetWorkspace, "cublasSetWorkspace_v2"), S(Sgemm, "cublasSgemm_v2"),
        S(SgemmStridedBatched, "cublasSgemmStridedBatched"),
    };
    if (bind(a->dl, s, (int)(sizeof s / sizeof s[0]), "cuBLAS", err)) {
        cuda_blas_unload(a);
        return -1;
    }
    return 0;
}

int cuda_dnn_load(cuda_dnn_api *a, char *err) {
    static const char *const names[] = {"libcudnn.so.9", "libcudnn.so", "/usr/local/cuda/lib64/libcudnn.so.9",
                                        "/usr/local/cuda/lib64/libcudnn.so"};
    memset(a, 0, sizeof *a);
    if (!(a->dl = open_lib("SSLC_CUDNN_LIB", names, 4, "cuDNN", err))) return -1;
    const sym s[] = {
        S(Create, "cudnnCreate"), S(Destroy, "cudnnDestroy"), S(SetStream, "cudnnSetStream"),
        S(GetErrorString, "cudnnGetErrorString"), S(CreateTensorDescriptor, "cudnnCreateTensorDescriptor"),
        S(SetTensor4dDescriptor, "cudnnSetTensor4dDescriptor"),
        S(DestroyTensorDescriptor, "cudnnDestroyTensorDescriptor"),
        S(CreateFilterDescriptor, "cudnnCreateFilterDescriptor"), S(SetFilter4dDescriptor, "cudnnSetFilter4dDescriptor"),
        S(DestroyFilterDescriptor, "cudnnDestroyFilterDescriptor"),
        S(CreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor"),
        S(SetConvolution2dDescriptor, "cudnnSetConvolution2dDescriptor"),
        S(SetConvolutionGroupCount, "cudnnSetConvolutionGroupCount"),
        S(SetConvolutionMathType, "cudnnSetConvolutionMathType"),
        S(DestroyConvolutionDescriptor, "cudnnDestroyConvolutionDescriptor"),
        S(GetConvolutionForwardAlgorithm_v7, "cudnnGetConvolutionForwardAlgorithm_v7"),
        S(GetConvolutionForwardWorkspaceSize, "cudnnGetConvolutionForwardWorkspaceSize"),
        S(ConvolutionForward, "cudnnConvolutionForward"),
        S(GetConvolutionBackwardDataAlgorithm_v7, "cudnnGetConvolutionBackwardDataAlgorithm_v7"),
        S(GetConvolutionBackwardDataWorkspaceSize, "cudnnGetConvolutionBackwardDataWorkspaceSize"),
        S(ConvolutionBackwardData, "cudnnConvolutionBackwardData"),
        S(GetConvolutionBackwardFilterAlgorithm_v7, "cudnnGetConvolutionBackwardFilterAlgorithm_v7"),
        S(GetConvolutionBackwardFilterWorkspaceSize, "cudnnGetConvolutionBackwardFilterWorkspaceSize"),
        S(ConvolutionBackwardFilter, "cudnnConvolutionBackwardFilter"), S(AddTensor, "cudnnAddTensor"),
    };
    if (bind(a->dl, s, (int)(sizeof s / sizeof s[0]), "cuDNN", err)) {
        cuda_dnn_unload(a);
        return -1;
    }
    return 0;
}

/* The libraries stay loaded (dlclose of the driver or cuDNN while their threads live is not
 * safe); unloading forgets the table. */
void cuda_driver_unload(cuda_driver_api *a) { memset(a, 0, sizeof *a); }
void cuda_blas_unload(cuda_blas_api *a) { memset(a, 0, sizeof *a); }
void cuda_dnn_unload(cuda_dnn_api *a) { memset(a, 0, sizeof *a); }
