/* runtime/memlimit.c: each limit read from /proc-format and cgroup files, the smallest chosen with
 * its name, and RLIMIT_AS (set with setrlimit in a child, so the test process keeps its own)
 * read as the limit minus VmSize. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/memlimit.h"
#include "expect.h"


static void put(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/sslc_memlimit_XXXXXX", p[512], cg[512], meminfo[512];
    if (!mkdtemp(dir)) return 1;
    snprintf(meminfo, sizeof meminfo, "%s/meminfo", dir);
    put(dir, "meminfo", "MemTotal:       4000000 kB\nMemFree:         100 kB\nMemAvailable:    2000000 kB\n");
    memlimits m;
    const char *name;

    /* free memory alone */
    memlimit_read_from(&m, meminfo, NULL, NULL);
    EXPECT(m.avail == 2000000ll * 1024 && m.as_left == -1 && m.cg_left == -1);
    EXPECT(memlimit_smallest(&m, &name) == 2000000ll * 1024 && !strcmp(name, "MemAvailable"));

    /* cgroup v2: memory.max minus memory.current, smaller than free memory */
    snprintf(cg, sizeof cg, "%s/v2", dir);
    mkdir(cg, 0700);
    put(cg, "memory.max", "1073741824\n");
    put(cg, "memory.current", "73741824\n");
    memlimit_read_from(&m, meminfo, NULL, cg);
    EXPECT(m.cg_left == 1000000000 && !strcmp(m.cg_name, "cgroup memory.max"));
    EXPECT(memlimit_smallest(&m, &name) == 1000000000 && !strcmp(name, "cgroup memory.max"));
    /* "max" is no limit */
    put(cg, "memory.max", "max\n");
    memlimit_read_from(&m, meminfo, NULL, cg);
    EXPECT(m.cg_left == -1 && !strcmp((memlimit_smallest(&m, &name), name), "MemAvailable"));

    /* cgroup v1 */
    snprintf(cg, sizeof cg, "%s/v1", dir);
    mkdir(cg, 0700);
    put(cg, "memory.limit_in_bytes", "536870912\n");
    put(cg, "memory.usage_in_bytes", "600000000\n");
    memlimit_read_from(&m, meminfo, NULL, cg);
    EXPECT(m.cg_left == 0 && !strcmp(m.cg_name, "cgroup memory.limit_in_bytes"));

    /* nothing known */
    memlimit_read_from(&m, NULL, NULL, NULL);
    EXPECT(memlimit_smallest(&m, &name) == -1 && !strcmp(name, "none"));

    /* RLIMIT_AS in a child: VmSize + 300 MiB as the limit leaves about 300 MiB, and it is the
     * smallest limit when free memory is larger */
    pid_t pid = fork();
    if (pid == 0) {
        memlimits a;
        memlimit_read(&a);
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long long vm = -1;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "VmSize: %lld", &vm) == 1) break;
        if (f) fclose(f);
        if (vm < 0) _exit(11);
        struct rlimit rl = {(rlim_t)(vm * 1024 + (300ll << 20)), RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &rl)) _exit(12);
        memlimit_read(&a);
        if (a.as_left < (290ll << 20) || a.as_left > (300ll << 20)) _exit(13);
        a.avail = 100ll << 30, a.cg_left = -1;
        if (memlimit_smallest(&a, &name) != a.as_left || strcmp(name, "RLIMIT_AS")) _exit(14);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "child status %d\n", WEXITSTATUS(st));

    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    if (system(p)) fprintf(stderr, "could not remove %s\n", dir);
    if (expect_fails) return 1;
    printf("test_memlimit: ok\n");
    return 0;
}
