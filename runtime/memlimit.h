/* What memory this process may still use, from the three places Linux limits it: free memory
 * (MemAvailable), the address-space limit (RLIMIT_AS, `ulimit -v`, minus the current VmSize), and
 * the cgroup (v2 memory.max minus memory.current, or v1 memory.limit_in_bytes minus
 * memory.usage_in_bytes). The cpu backend compares a step's needs with these before it allocates,
 * so that a step that cannot fit is refused in one line instead of failing deep inside a library
 * (OpenBLAS retries a failing buffer allocation forever). */
#ifndef SSLC_MEMLIMIT_H
#define SSLC_MEMLIMIT_H
#include <stdint.h>

/* each: bytes left, or -1 when that limit is absent or unreadable */
typedef struct {
    int64_t avail;       /* MemAvailable */
    int64_t as_left;     /* RLIMIT_AS minus VmSize */
    int64_t cg_left;     /* the cgroup's limit minus its usage */
    const char *cg_name; /* "cgroup memory.max" or "cgroup memory.limit_in_bytes" */
} memlimits;

/* The limits of this process. */
void memlimit_read(memlimits *m);
/* The same from other files (tests): meminfo and status in /proc's format, cgroup_dir holding
 * memory.max + memory.current (v2) or memory.limit_in_bytes + memory.usage_in_bytes (v1);
 * NULL skips a source. RLIMIT_AS is this process's. */
void memlimit_read_from(memlimits *m, const char *meminfo, const char *status, const char *cgroup_dir);
/* The smallest limit: its bytes and *name ("MemAvailable", "RLIMIT_AS", m->cg_name), or -1 and
 * "none" when no limit is known. */
int64_t memlimit_smallest(const memlimits *m, const char **name);

#endif
