/* Atomic writes and bounded whole-file reads. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory holding `path`, so the rename itself is durable (best effort). */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Fault injection for the crash-safety tests: SSLC_FAULT_BEFORE_RENAME=NAME kills the process
 * (as a power cut or SIGKILL would) after the temporary file of a file called NAME is complete,
 * before the rename that publishes it. */
static void crash_point(const char *path) {
    const char *name = getenv("SSLC_FAULT_BEFORE_RENAME"), *base = strrchr(path, '/');
    if (name && *name && !strcmp(name, base ? base + 1 : path)) _exit(99);
    /* SSLC_FAULT_SLOW_RENAME=NAME: a write that hangs (30 s) before its rename, for the tests of
     * a signal that comes while a checkpoint is being written */
    name = getenv("SSLC_FAULT_SLOW_RENAME");
    if (name && *name && !strcmp(name, base ? base + 1 : path))
        for (unsigned left = 30; left > 0;) left = sleep(left);
}

/* The temporary file being written, for sslc_write_atomic_abandon (a signal handler): the name is
 * complete before `inflight` is set, and `inflight` is cleared before the name changes. */
static char inflight_tmp[4096];
static volatile sig_atomic_t inflight;

void sslc_write_atomic_abandon(void) {
    if (inflight) unlink(inflight_tmp);
}

int sslc_write_atomic(const char *path, const void *const *parts, const size_t *lens, int nparts, char *err) {
    static unsigned counter;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 64);
    if (!tmp) {
        snprintf(err, IR_ERRLEN, "%s: out of memory", path);
        return -1;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        /* 0666 so the caller's umask decides the final permissions */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        snprintf(err, IR_ERRLEN, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* registered once it is ours (a name that existed was somebody else's) */
    inflight = 0;
    inflight = snprintf(inflight_tmp, sizeof inflight_tmp, "%s", tmp) < (int)sizeof inflight_tmp;
    for (int i = 0; i < nparts; i++) {
        if (write_all(fd, parts[i], lens[i]) != 0) {
            snprintf(err, IR_ERRLEN, "%s: write failed: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (fsync(fd) != 0) {
        snprintf(err, IR_ERRLEN, "%s: fsync failed: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, IR_ERRLEN, "%s: close failed: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    crash_point(path);
    if (rename(tmp, path) != 0) {
        snprintf(err, IR_ERRLEN, "%s: cannot rename the temporary file into place: %s", path, strerror(errno));
        goto fail;
    }
    inflight = 0;
    sync_dir(path);
    free(tmp);
    return 0;
fail:
    inflight = 0;
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

int sslc_open_input(const char *path, char *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, IR_ERRLEN, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, IR_ERRLEN, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, IR_ERRLEN, "%s is not a regular file (%s); give the path of a file", path,
                 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
        close(fd);
        return -1;
    }
    /* regular files never block, but the readers expect plain blocking semantics */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        snprintf(err, IR_ERRLEN, "%s: fcntl failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int sslc_read_file(const char *path, size_t max, unsigned char **buf, size_t *len, char *err) {
    *buf = NULL;
    *len = 0;
    int fd = sslc_open_input(path, err);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, IR_ERRLEN, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if ((unsigned long long)st.st_size > (unsigned long long)max) {
        snprintf(err, IR_ERRLEN, "%s: file is too large (%lld bytes, at most %zu)", path, (long long)st.st_size, max);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *b = malloc(n + 1);
    if (!b) {
        snprintf(err, IR_ERRLEN, "%s: out of memory reading %zu bytes", path, n);
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, IR_ERRLEN, "%s: read failed: %s", path, strerror(errno));
            free(b);
            close(fd);
            return -1;
        }
        if (r == 0) break; /* shrank while reading */
        got += (size_t)r;
    }
    close(fd);
    b[got] = 0;
    *buf = b;
    *len = got;
    return 0;
}

int sslc_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
