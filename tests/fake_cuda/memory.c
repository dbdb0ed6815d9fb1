/* The stand-in's device, context and memory: allocations (host memory, 256-byte aligned,
 * tracked), copies and memsets (every device range checked against the live allocations). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

long long fk_launches, fk_graph_launches, fk_bytes_h2d, fk_bytes_d2h;

void fk_say(const char *call, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fakecuda: %s: %s\n", call, msg);
}

/* ---- device and context ---- */

static int initialized;
static int primary_refs;
static struct CUctx_st {
    int dummy;
} primary;
static _Thread_local CUcontext current;

static size_t env_bytes(const char *name, size_t def) {
    const char *s = getenv(name);
    if (!s || !*s) return def;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *end || !v ? def : (size_t)v;
}
static size_t total_bytes(void) { return env_bytes("SSLC_FAKECUDA_MEM", (size_t)8 << 30); }

static int need_init(const char *call) {
    if (initialized) return 0;
    fk_say(call, "cuInit has not been called");
    return FK_NOT_INITIALIZED;
}
/* SSLC_FAKECUDA_DEVICES: how many devices (default 1), so that the ranks of a job on one machine
 * each take their own (one process per GPU). They share the one primary context: each process
 * uses one device. */
static int device_count(void) {
    const char *s = getenv("SSLC_FAKECUDA_DEVICES");
    int n = s && *s ? atoi(s) : 1;
    return n < 1 ? 1 : n > 64 ? 64 : n;
}
static int need_device(const char *call, CUdevice dev) {
    int r = need_init(call);
    if (r) return r;
    if (dev < 0 || dev >= device_count()) {
        fk_say(call, "no device %d (the stand-in has %d; SSLC_FAKECUDA_DEVICES sets how many)", dev, device_count());
        return FK_INVALID_DEVICE;
    }
    return 0;
}

int fk_need_context(const char *call) {
    int r = need_init(call);
    if (r) return r;
    if (current != &primary || primary_refs < 1) {
        fk_say(call, "no current context (cuDevicePrimaryCtxRetain, then cuCtxSetCurrent)");
        return FK_INVALID_CONTEXT;
    }
    return 0;
}

FK_API CUresult cuInit(unsigned flags) {
    if (flags) {
        fk_say("cuInit", "flags must be 0, got %u", flags);
        return FK_INVALID_VALUE;
    }
    initialized = 1;
    return 0;
}
FK_API CUresult cuDriverGetVersion(int *version) {
    if (!version) return FK_INVALID_VALUE;
    *version = 13000;
    return 0;
}
FK_API CUresult cuDeviceGetCount(int *count) {
    int r = need_init("cuDeviceGetCount");
    if (r) return r;
    if (!count) return FK_INVALID_VALUE;
    *count = device_count();
    return 0;
}
FK_API CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
    int r = need_device("cuDeviceGet", ordinal);
    if (r) return r;
    if (!dev) return FK_INVALID_VALUE;
    *dev = ordinal;
    return 0;
}
FK_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    int r = need_device("cuDeviceGetName", dev);
    if (r) return r;
    if (!name || len < 1) return FK_INVALID_VALUE;
    snprintf(name, (size_t)len, "sslc CUDA stand-in");
    return 0;
}
FK_API CUresult cuDeviceGetAttribute(int *value, int attrib, CUdevice dev) {
    int r = need_device("cuDeviceGetAttribute", dev);
    if (r) return r;
    if (!value) return FK_INVALID_VALUE;
    /* SSLC_FAKECUDA_CC: "8.0", "9.0" (default), ... */
    int major = 9, minor = 0;
    const char *cc = getenv("SSLC_FAKECUDA_CC");
    if (cc && *cc && sscanf(cc, "%d.%d", &major, &minor) < 1) major = 9, minor = 0;
    if (attrib == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        *value = major;
    else if (attrib == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        *value = minor;
    else {
        /* sslc asks for the compute capability only: any other question is a change to check */
        fk_say("cuDeviceGetAttribute", "attribute %d: the stand-in answers the compute capability only (75, 76)", attrib);
        return FK_INVALID_VALUE;
    }
    return 0;
}
FK_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    int r = need_device("cuDeviceTotalMem_v2", dev);
    if (r) return r;
    if (!bytes) return FK_INVALID_VALUE;
    *bytes = total_bytes();
    return 0;
}
FK_API CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
    int r = need_device("cuDevicePrimaryCtxRetain", dev);
    if (r) return r;
    if (!ctx) return FK_INVALID_VALUE;
    primary_refs++;
    *ctx = &primary;
    return 0;
}
FK_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    int r = need_device("cuDevicePrimaryCtxRelease_v2", dev);
    if (r) return r;
    if (primary_refs < 1) {
        fk_say("cuDevicePrimaryCtxRelease_v2", "the primary context is not retained");
        return FK_INVALID_CONTEXT;
    }
    primary_refs--;
    return 0;
}
FK_API CUresult cuCtxSetCurrent(CUcontext ctx) {
    int r = need_init("cuCtxSetCurrent");
    if (r) return r;
    if (ctx && (ctx != &primary || primary_refs < 1)) {
        fk_say("cuCtxSetCurrent", "not a retained context");
        return FK_INVALID_CONTEXT;
    }
    current = ctx;
    return 0;
}

static const struct {
    int code;
    const char *text;
} errors[] = {
    {FK_SUCCESS, "no error"},
    {FK_INVALID_VALUE, "invalid argument"},
    {FK_OUT_OF_MEMORY, "out of memory"},
    {FK_NOT_INITIALIZED, "initialization error"},
    {FK_INVALID_DEVICE, "invalid device ordinal"},
    {FK_INVALID_IMAGE, "device kernel image is invalid"},
    {FK_INVALID_CONTEXT, "invalid device context"},
    {FK_INVALID_HANDLE, "invalid resource handle"},
    {FK_NOT_FOUND, "named symbol not found"},
    {FK_LAUNCH_FAILED, "unspecified launch failure"},
    {FK_NOT_SUPPORTED, "operation not supported"},
    {FK_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing"},
    {FK_CAPTURE_INVALIDATED, "operation failed due to a previous error during capture"},
    {FK_CAPTURE_UNMATCHED, "capture was not initiated in this stream"},
    {FK_CAPTURE_WRONG_THREAD, "attempt to terminate a thread-local capture sequence from another thread"},
};
FK_API CUresult cuGetErrorString(CUresult r, const char **s) {
    if (!s) return FK_INVALID_VALUE;
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == r) {
            *s = errors[i].text;
            return 0;
        }
    *s = NULL;
    return FK_INVALID_VALUE;
}

/* ---- allocations: sorted by base, under one lock ---- */

typedef struct {
    uintptr_t base;
    size_t bytes; /* as requested: ranges are checked against these, not the rounded size */
    int host;     /* cuMemAllocHost */
} fk_alloc;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fk_alloc *allocs;
static int nallocs, cap_allocs;
static size_t used; /* device bytes, rounded to 256 */

static size_t round256(size_t n) { return (n + 255) / 256 * 256; }

/* index of the first allocation with base > p (caller holds the lock) */
static int upper(uintptr_t p) {
    int lo = 0, hi = nallocs;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (allocs[mid].base <= p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* the allocation holding [p, p + bytes) entirely, or NULL (caller holds the lock) */
static const fk_alloc *holding(uintptr_t p, size_t bytes) {
    int i = upper(p) - 1;
    if (i < 0) return NULL;
    const fk_alloc *a = &allocs[i];
    if (p - a->base >= a->bytes || bytes > a->bytes - (p - a->base)) return NULL;
    return a;
}

int fk_check_dev(const char *call, const char *what, const void *p, size_t bytes) {
    if (!bytes) return 0;
    pthread_mutex_lock(&lock);
    const fk_alloc *a = holding((uintptr_t)p, bytes);
    int ok = a && !a->host;
    /* for the message: the allocation p falls in, if any */
    const fk_alloc *in = ok ? NULL : holding((uintptr_t)p, 1);
    fk_alloc near = in ? *in : (fk_alloc){0};
    pthread_mutex_unlock(&lock);
    if (ok) return 0;
    if (in && in->host)
        fk_say(call, "%s %p is page-locked host memory (cuMemAllocHost), not device memory", what, p);
    else if (in)
        fk_say(call, "%s [%p, +%zu) runs past the end of its allocation [%p, +%zu) by %zu bytes", what, p, bytes,
               (void *)near.base, near.bytes, (size_t)((uintptr_t)p + bytes - near.base - near.bytes));
    else
        fk_say(call, "%s [%p, +%zu) is not inside any live device allocation", what, p, bytes);
    return FK_INVALID_VALUE;
}

int fk_is_pinned(const void *p, size_t bytes) {
    pthread_mutex_lock(&lock);
    const fk_alloc *a = holding((uintptr_t)p, bytes ? bytes : 1);
    int ok = a && a->host;
    pthread_mutex_unlock(&lock);
    return ok;
}

static int poison(void) {
    const char *s = getenv("SSLC_FAKECUDA_POISON");
    return !(s && !strcmp(s, "0"));
}

static int alloc_add(void **out, size_t bytes, int host, const char *call) {
    if (!out) return FK_INVALID_VALUE;
    if (!bytes) {
        fk_say(call, "0 bytes");
        return FK_INVALID_VALUE;
    }
    size_t rounded = round256(bytes);
    pthread_mutex_lock(&lock);
    if (!host && (rounded < bytes || rounded > total_bytes() - used || used > total_bytes())) {
        size_t u = used;
        pthread_mutex_unlock(&lock);
        fk_say(call, "%zu bytes: out of memory (%zu of %zu bytes in use; SSLC_FAKECUDA_MEM)", bytes, u, total_bytes());
        return FK_OUT_OF_MEMORY;
    }
    if (nallocs == cap_allocs) {
        int cap = cap_allocs ? 2 * cap_allocs : 64;
        fk_alloc *n = realloc(allocs, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&lock);
            return FK_OUT_OF_MEMORY;
        }
        allocs = n, cap_allocs = cap;
    }
    void *p = aligned_alloc(256, rounded);
    if (!p) {
        pthread_mutex_unlock(&lock);
        fk_say(call, "%zu bytes: the host is out of memory", bytes);
        return FK_OUT_OF_MEMORY;
    }
    int i = upper((uintptr_t)p);
    memmove(allocs + i + 1, allocs + i, (size_t)(nallocs - i) * sizeof *allocs);
    allocs[i] = (fk_alloc){(uintptr_t)p, bytes, host};
    nallocs++;
    if (!host) used += rounded;
    pthread_mutex_unlock(&lock);
    /* fresh device memory reads as NaN / -1 (0xFF bytes), as uninitialized memory might */
    if (!host && poison()) memset(p, 0xFF, rounded);
    *out = p;
    return 0;
}

static int alloc_remove(void *p, int host, const char *call) {
    if (!p) return 0;
    pthread_mutex_lock(&lock);
    int i = upper((uintptr_t)p) - 1;
    int found = i >= 0 && allocs[i].base == (uintptr_t)p && allocs[i].host == host;
    if (found) {
        if (!host) used -= round256(allocs[i].bytes);
        memmove(allocs + i, allocs + i + 1, (size_t)(nallocs - i - 1) * sizeof *allocs);
        nallocs--;
        if (!nallocs) { /* nothing left: the registry goes too (no leak once the library is unloaded) */
            free(allocs);
            allocs = NULL, cap_allocs = 0;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!found) {
        fk_say(call, "%p is not the start of a live %s allocation", p, host ? "host" : "device");
        return FK_INVALID_VALUE;
    }
    free(p);
    return 0;
}

FK_API CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    int r = fk_need_context("cuMemGetInfo_v2");
    if (r) return r;
    pthread_mutex_lock(&lock);
    size_t u = used;
    pthread_mutex_unlock(&lock);
    if (free_bytes) *free_bytes = total_bytes() > u ? total_bytes() - u : 0;
    if (total) *total = total_bytes();
    return 0;
}
FK_API CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    int r = fk_need_context("cuMemAlloc_v2");
    if (!r) r = fk_refuse_in_capture("cuMemAlloc_v2", NULL);
    if (r) return r;
    void *q = NULL;
    if ((r = alloc_add(&q, bytes, 0, "cuMemAlloc_v2"))) return r;
    *p = (CUdeviceptr)(uintptr_t)q;
    return 0;
}
FK_API CUresult cuMemFree_v2(CUdeviceptr p) {
    int r = fk_need_context("cuMemFree_v2");
    if (!r) r = fk_refuse_in_capture("cuMemFree_v2", NULL);
    return r ? r : alloc_remove((void *)(uintptr_t)p, 0, "cuMemFree_v2");
}
FK_API CUresult cuMemAllocHost_v2(void **p, size_t bytes) {
    int r = fk_need_context("cuMemAllocHost_v2");
    if (!r) r = fk_refuse_in_capture("cuMemAllocHost_v2", NULL);
    return r ? r : alloc_add(p, bytes, 1, "cuMemAllocHost_v2");
}
FK_API CUresult cuMemFreeHost(void *p) {
    int r = fk_need_context("cuMemFreeHost");
    if (!r) r = fk_refuse_in_capture("cuMemFreeHost", NULL);
    return r ? r : alloc_remove(p, 1, "cuMemFreeHost");
}

/* ---- copies and memsets (stream operations) ---- */

typedef struct {
    int kind; /* 0 HtoD, 1 DtoH, 2 DtoD, 3 memset */
    const char *call;
    void *dst;
    const void *src;
    size_t bytes;
    unsigned char value;
} copy_op;

static int copy_check(const void *payload) {
    const copy_op *c = payload;
    int r = 0;
    if (c->kind != 1) r = fk_check_dev(c->call, "destination", c->dst, c->bytes);
    if (!r && (c->kind == 1 || c->kind == 2)) r = fk_check_dev(c->call, "source", c->src, c->bytes);
    if (!r && c->bytes && ((c->kind == 0 && !c->src) || (c->kind == 1 && !c->dst))) {
        fk_say(c->call, "NULL host pointer");
        r = FK_INVALID_VALUE;
    }
    return r;
}

static int copy_run(const void *payload) {
    const copy_op *c = payload;
    if (c->kind == 3) {
        memset(c->dst, c->value, c->bytes);
        return 0;
    }
    if (c->bytes) memmove(c->dst, c->src, c->bytes);
    if (c->kind == 0) fk_bytes_h2d += (long long)c->bytes;
    if (c->kind == 1) fk_bytes_d2h += (long long)c->bytes;
    return 0;
}

static int copy_submit(copy_op c, CUstream s) {
    int r = fk_need_context(c.call);
    if (r) return r;
    if (!fk_stream_ok(s)) {
        fk_say(c.call, "not a stream");
        return FK_INVALID_HANDLE;
    }
    /* a capture copies from or to page-locked host memory (cuMemAllocHost) only: pageable
     * memory cannot be recorded safely */
    const void *host = c.kind == 0 ? c.src : c.kind == 1 ? c.dst : NULL;
    if (host && fk_capturing(s) && !fk_is_pinned(host, c.bytes))
        return fk_refuse_in_capture(c.call, "a copy to or from pageable host memory (not cuMemAllocHost) during capture");
    return fk_submit(s, c.call, copy_check, copy_run, &c, sizeof c);
}

FK_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, CUstream s) {
    return copy_submit((copy_op){0, "cuMemcpyHtoDAsync_v2", (void *)(uintptr_t)dst, src, bytes, 0}, s);
}
FK_API CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, CUstream s) {
    return copy_submit((copy_op){1, "cuMemcpyDtoHAsync_v2", dst, (const void *)(uintptr_t)src, bytes, 0}, s);
}
FK_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
    return copy_submit(
        (copy_op){2, "cuMemcpyDtoDAsync_v2", (void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes, 0}, s);
}
FK_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t bytes, CUstream s) {
    return copy_submit((copy_op){3, "cuMemsetD8Async", (void *)(uintptr_t)dst, NULL, bytes, value}, s);
}

/* ---- statistics (tests) ---- */

FK_API int sslc_fakecuda_stats(long long *launches, long long *graph_launches, long long *bytes_h2d,
                               long long *bytes_d2h) {
    if (launches) *launches = fk_launches;
    if (graph_launches) *graph_launches = fk_graph_launches;
    if (bytes_h2d) *bytes_h2d = fk_bytes_h2d;
    if (bytes_d2h) *bytes_d2h = fk_bytes_d2h;
    return 0;
}

FK_API long long sslc_fakecuda_live(long long *device_bytes) {
    pthread_mutex_lock(&lock);
    long long n = 0, b = 0;
    for (int i = 0; i < nallocs; i++)
        if (!allocs[i].host) n++, b += (long long)allocs[i].bytes;
    pthread_mutex_unlock(&lock);
    if (device_bytes) *device_bytes = b;
    return n;
}
