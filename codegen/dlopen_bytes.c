#define _GNU_SOURCE /* memfd_create, mkostemps */
#include "dlopen_bytes.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../ir/ir.h"

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* glibc hands back an already loaded object whose name matches before it looks at the file, and
 * /proc/self/fd/N or a reused temporary name can match a module not yet unloaded (or never
 * unloadable): *taken says so, and the caller picks another name. */
static void *dlopen_new(const char *name, int *taken, char *err) {
    void *old = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    *taken = old != NULL;
    if (old) {
        dlclose(old);
        return NULL;
    }
    void *dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!dl) snprintf(err, IR_ERRLEN, "cannot load the compiled kernels: %.400s", dlerror());
    return dl;
}

static void *via_memfd(const void *so, size_t n, int *unavailable, char *err) {
    int fd = memfd_create("sslc-kernels", MFD_CLOEXEC), dups[16], ndup = 0;
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    *unavailable = fd < 0 || access(name, R_OK) != 0;
    if (*unavailable) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    void *dl = NULL;
    if (write_all(fd, so, n)) {
        snprintf(err, IR_ERRLEN, "cannot copy the compiled kernels into memory: %s", strerror(errno));
    } else {
        /* another descriptor of the same file is another name */
        int cur = fd, taken = 1;
        while (!dl && taken && cur >= 0) {
            snprintf(name, sizeof name, "/proc/self/fd/%d", cur);
            dl = dlopen_new(name, &taken, err);
            if (!dl && taken) cur = ndup < 16 ? (dups[ndup++] = fcntl(fd, F_DUPFD_CLOEXEC, cur + 1)) : -1;
        }
        if (!dl && taken) snprintf(err, IR_ERRLEN, "cannot load the compiled kernels: no free name under /proc/self/fd");
        *unavailable = !dl && !taken; /* e.g. memory files mounted noexec (vm.memfd_noexec) */
    }
    close(fd); /* the mapping keeps the file alive */
    for (int i = 0; i < ndup; i++)
        if (dups[i] >= 0) close(dups[i]);
    return dl;
}

static void *via_file(const void *so, size_t n, const char *dir, char *err) {
    char path[600];
    void *dl = NULL;
    for (int attempt = 0, taken = 1; !dl && taken && attempt < 16; attempt++) {
        int len = snprintf(path, sizeof path, "%s/load.XXXXXX.so", dir);
        if (len < 0 || (size_t)len >= sizeof path) {
            snprintf(err, IR_ERRLEN, "cannot load the compiled kernels: the cache path %.300s is too long", dir);
            return NULL;
        }
        int fd = mkostemps(path, 3, O_CLOEXEC);
        if (fd < 0 || write_all(fd, so, n) || close(fd)) {
            snprintf(err, IR_ERRLEN, "cannot write the compiled kernels to %.300s: %s", path, strerror(errno));
            if (fd >= 0) unlink(path);
            return NULL;
        }
        dl = dlopen_new(path, &taken, err);
        unlink(path);
    }
    return dl;
}

void *dlopen_bytes(const void *so, size_t n, const char *private_dir, char *err) {
    int unavailable;
    void *dl = via_memfd(so, n, &unavailable, err);
    return dl || !unavailable ? dl : via_file(so, n, private_dir, err);
}
