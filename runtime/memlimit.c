/* Reading the memory limits of this process (see memlimit.h). */
#include "memlimit.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* the number after `key` in a /proc file with "Key:   N kB" lines, in bytes; -1 if absent */
static int64_t proc_kb(const char *path, const char *key) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return -1;
    char line[256];
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            long long kb;
            if (sscanf(line + kl + 1, "%lld", &kb) == 1) v = (int64_t)kb * 1024;
            break;
        }
    fclose(f);
    return v;
}

/* a file holding one number; -1 if absent, unreadable or "max" (v2's no limit) */
static int64_t file_num(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long v;
    int ok = fscanf(f, "%lld", &v) == 1;
    fclose(f);
    return ok && v >= 0 ? (int64_t)v : -1;
}

/* the cgroup limit minus usage in dir: v2 files first, then v1's. v1 reports "no limit" as a
 * huge number (PAGE_COUNTER_MAX pages), which reads as plenty left and never decides. */
static void cgroup_left(memlimits *m, const char *dir) {
    int64_t lim = file_num(dir, "memory.max"), use = file_num(dir, "memory.current");
    const char *name = "cgroup memory.max";
    if (lim < 0) {
        lim = file_num(dir, "memory.limit_in_bytes"), use = file_num(dir, "memory.usage_in_bytes");
        name = "cgroup memory.limit_in_bytes";
    }
    if (lim < 0 || use < 0) return;
    m->cg_left = lim > use ? lim - use : 0;
    m->cg_name = name;
}

void memlimit_read_from(memlimits *m, const char *meminfo, const char *status, const char *cgroup_dir) {
    m->avail = proc_kb(meminfo, "MemAvailable");
    m->as_left = -1, m->cg_left = -1, m->cg_name = "cgroup";
    struct rlimit rl;
    int64_t vm = proc_kb(status, "VmSize");
    if (status && vm >= 0 && !getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY)
        m->as_left = (int64_t)rl.rlim_cur > vm ? (int64_t)rl.rlim_cur - vm : 0;
    if (cgroup_dir) cgroup_left(m, cgroup_dir);
}

/* this process's cgroup directory: v2's "0::/path" line of /proc/self/cgroup, or v1's memory
 * controller; a container often mounts its own cgroup at the root, so the root is the fallback */
static void own_cgroup(char *dir, size_t n) {
    snprintf(dir, n, "/sys/fs/cgroup");
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return;
    char line[1024], cand[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *p = NULL, *base = NULL;
        if (!strncmp(line, "0::", 3)) p = line + 3, base = "/sys/fs/cgroup";
        else if (strstr(line, ":memory:")) p = strstr(line, ":memory:") + 8, base = "/sys/fs/cgroup/memory";
        if (!p) continue;
        snprintf(cand, sizeof cand, "%s%s", base, p);
        if (file_num(cand, "memory.max") >= 0 || file_num(cand, "memory.limit_in_bytes") >= 0) {
            snprintf(dir, n, "%s", cand);
            break;
        }
        if (file_num(base, "memory.max") >= 0 || file_num(base, "memory.limit_in_bytes") >= 0)
            snprintf(dir, n, "%s", base);
    }
    fclose(f);
}

void memlimit_read(memlimits *m) {
    char dir[2048];
    own_cgroup(dir, sizeof dir);
    memlimit_read_from(m, "/proc/meminfo", "/proc/self/status", dir);
}

int64_t memlimit_smallest(const memlimits *m, const char **name) {
    int64_t best = -1;
    *name = "none";
    const int64_t v[3] = {m->avail, m->as_left, m->cg_left};
    const char *nm[3] = {"MemAvailable", "RLIMIT_AS", m->cg_name};
    for (int i = 0; i < 3; i++)
        if (v[i] >= 0 && (best < 0 || v[i] < best)) best = v[i], *name = nm[i];
    return best;
}
