/* The CUDA stand-in (tests only): the driver, cuBLAS and cuDNN entry points of
 * runtime/cuda_api.h over host memory, so CI runs the cuda backend's host logic without a GPU.
 * Device pointers are host addresses; every pointer a call can check must lie inside one live
 * allocation; a capturing stream records its operations and a graph replays them.
 *
 * Files: memory.c (device, context, allocations, copies), stream.c (streams, events, capture,
 * graphs), module.c (modules, kernel launches), blas.c (cuBLAS), dnn.c (cuDNN), nccl.c (NCCL, over
 * MPI). This header is what they share. Every failure prints one line "fakecuda: <call>: ..." on stderr.
 *
 * Environment: SSLC_FAKECUDA_MEM (device bytes, default 8 GiB), SSLC_FAKECUDA_CC ("8.0"; default
 * "9.0"), SSLC_FAKECUDA_KERNELS (the JIT .so whose k<i>_s<j> the fused segments run),
 * SSLC_FAKECUDA_DEVICES (how many devices, default 1), SSLC_FAKECUDA_CONV_WS (workspace bytes
 * each cuDNN convolution asks for and overwrites, default 256; 0: none), SSLC_FAKECUDA_POISON=0
 * (fresh allocations are not filled with 0xFF bytes).
 * Exported for tests: sslc_fakenccl_calls (collectives run), sslc_fakecuda_stats (launches = kernels executed, directly or by a graph;
 * graph launches; bytes copied up and down), sslc_fakecuda_live (device allocations live, and
 * their bytes), sslc_fakecuda_recorded (operations a capturing stream has recorded). */
#ifndef SSLC_FAKECUDA_H
#define SSLC_FAKECUDA_H
#include <stddef.h>
#include <stdint.h>

#include "runtime/cuda_api.h"

#define FK_API __attribute__((visibility("default")))

/* CUresult codes the stand-in returns */
enum {
    FK_SUCCESS = 0,
    FK_INVALID_VALUE = 1,
    FK_OUT_OF_MEMORY = 2,
    FK_NOT_INITIALIZED = 3,
    FK_INVALID_DEVICE = 101,
    FK_INVALID_IMAGE = 200,
    FK_INVALID_CONTEXT = 201,
    FK_INVALID_HANDLE = 400,
    FK_NOT_FOUND = 500,
    FK_LAUNCH_FAILED = 719,
    FK_NOT_SUPPORTED = 801,
    FK_CAPTURE_UNSUPPORTED = 900,
    FK_CAPTURE_INVALIDATED = 901,
    FK_CAPTURE_UNMATCHED = 903,
    FK_CAPTURE_WRONG_THREAD = 908,
};
/* cuBLAS / cuDNN (9.x) status codes */
enum { FK_BLAS_NOT_INITIALIZED = 1, FK_BLAS_INVALID_VALUE = 7, FK_BLAS_EXECUTION_FAILED = 13 };
enum {
    FK_DNN_NOT_INITIALIZED = 1001,
    FK_DNN_BAD_PARAM = 2000,
    FK_DNN_NOT_SUPPORTED = 3000,
    FK_DNN_INTERNAL_ERROR = 4000,
    FK_DNN_EXECUTION_FAILED = 5000,
};

/* one line on stderr: "fakecuda: <call>: <message>" */
void fk_say(const char *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- memory.c ---- */
/* 0 if the driver is initialized and a context is current on this thread, else the error
 * (with its line) */
int fk_need_context(const char *call);
/* 0 if [p, p + bytes) lies inside one live device allocation (bytes 0: always); else
 * FK_INVALID_VALUE with a line naming the call and `what` */
int fk_check_dev(const char *call, const char *what, const void *p, size_t bytes);
/* 1 if [p, p + bytes) lies inside one live page-locked host allocation (cuMemAllocHost) */
int fk_is_pinned(const void *p, size_t bytes);
extern long long fk_launches, fk_graph_launches, fk_bytes_h2d, fk_bytes_d2h;

/* ---- stream.c ---- */
/* One operation a stream runs, or records while it captures: check (may be NULL) validates its
 * pointers, then run executes it; both return the API's own status code (CUresult, cuBLAS or
 * cuDNN status). The payload is plain data, copied with memcpy into a capture. */
typedef int (*fk_fn)(const void *payload);
/* Runs the operation now, or appends a copy of it to s's capture; returns check's or run's
 * status (check runs in both cases, so a bad pointer fails the call that recorded it). */
int fk_submit(CUstream s, const char *call, fk_fn check, fk_fn run, const void *payload, size_t bytes);
/* 1 if any stream is capturing */
int fk_any_capture(void);
/* a call that is illegal during capture (synchronizing, allocating): if any stream captures,
 * invalidates those captures and returns FK_CAPTURE_UNSUPPORTED with a line (why: what is
 * illegal; NULL: the call itself); else 0 */
int fk_refuse_in_capture(const char *call, const char *why);
/* 1 if s is capturing */
int fk_capturing(CUstream s);
/* 1 if s is a stream this library made (or the NULL stream) */
int fk_stream_ok(CUstream s);

#endif
