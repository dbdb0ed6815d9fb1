/* Run-directory locking and fresh names (see rundir.h). */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ir/ir.h"
#include "train_loop.h"

int rundir_make_fresh(const char *base, char *out, size_t n, char *err) {
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", base);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (run_mkdir(parent, err)) return -1;
    }
    char name[PATH_MAX];
    for (int k = 1; k < 10000; k++) {
        int w = k == 1 ? snprintf(name, sizeof name, "%s", base) : snprintf(name, sizeof name, "%s-%d", base, k);
        if (w < 0 || (size_t)w >= n || (size_t)w >= sizeof name) {
            ir_errf(err, "%s: path too long", base);
            return -1;
        }
        if (mkdir(name, 0777) == 0) {
            memcpy(out, name, (size_t)w + 1);
            return 0;
        }
        if (errno != EEXIST) {
            ir_errf(err, "cannot create directory %s: %s", name, strerror(errno));
            return -1;
        }
    }
    ir_errf(err, "%s, %s-2, ... %s-9999 all exist: give --out DIR", base, base, base);
    return -1;
}

/* the first entry of DIR that a fresh run may not share the directory with (into name, "" if
 * none), and whether DIR is an sslc run directory */
static int foreign_entry(const char *dir, const char *plan_path, char *name, size_t n, int *is_run) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char plan_real[PATH_MAX] = "";
    if (plan_path && !realpath(plan_path, plan_real)) plan_real[0] = 0;
    struct dirent *de;
    *is_run = 0;
    name[0] = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (!strcmp(de->d_name, RUN_LOCK) || !strcmp(de->d_name, RUN_CHECKPOINT)) {
            *is_run = 1; /* made by sslc (a checkpoint: also by versions before the lock) */
            continue;
        }
        char p[PATH_MAX], real[PATH_MAX];
        if (plan_real[0] && snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p && realpath(p, real) &&
            !strcmp(real, plan_real))
            continue;
        if (!name[0]) snprintf(name, n, "%s", de->d_name);
    }
    closedir(d);
    return 0;
}

int rundir_lock(const char *dir, int fresh, const char *plan_path, int *lock_fd, char *err) {
    *lock_fd = -1;
    struct stat st;
    if (!fresh) {
        int bad = stat(dir, &st) ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (bad) {
            ir_errf(err, "%s: no run directory to resume (%s)", dir, strerror(bad));
            return -1;
        }
    }
    if (fresh && run_mkdir(dir, err)) return -1;
    char lp[PATH_MAX];
    if (snprintf(lp, sizeof lp, "%s/%s", dir, RUN_LOCK) >= (int)sizeof lp) {
        ir_errf(err, "%s: path too long", dir);
        return -1;
    }
    if (fresh) { /* before the lock file exists, so that it does not count as ours */
        char name[256];
        int is_run;
        if (foreign_entry(dir, plan_path, name, sizeof name, &is_run)) {
            ir_errf(err, "cannot read directory %s: %s", dir, strerror(errno));
            return -1;
        }
        if (name[0] && !is_run) {
            ir_errf(err, "%s is not empty and is not an sslc run directory (it holds '%s'); choose a new or empty --out",
                    dir, name);
            return -1;
        }
    }
    /* O_NOFOLLOW | O_NONBLOCK: a symlink or FIFO planted as .lock must not redirect or block us */
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    if (fd < 0) {
        ir_errf(err, "cannot open %s: %s", lp, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        ir_errf(err, "%s is not a regular file; remove it", lp);
        close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        if (r > 0) pid[r] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        if (e == EWOULDBLOCK)
            ir_errf(err, "%s is in use by another sslc run (PID %s); wait for it to end or choose another --out", dir,
                    pid[0] ? pid : "unknown");
        else
            ir_errf(err, "cannot lock %s: %s", lp, strerror(e));
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)len, 0) != len) {
        ir_errf(err, "cannot write %s: %s", lp, strerror(errno));
        close(fd);
        return -1;
    }
    *lock_fd = fd;
    return 0;
}

void rundir_discard(const char *dir) {
    static const char *const ours[] = {RUN_PLAN, RUN_METRICS, RUN_LOCK};
    char p[PATH_MAX];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/%s", dir, RUN_CHECKPOINT) >= (int)sizeof p || !stat(p, &st)) return;
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (snprintf(p, sizeof p, "%s/%s", dir, ours[i]) < (int)sizeof p) unlink(p);
    rmdir(dir);
}
