/* The cpu backend's thread count (see threads.h). */
#define _GNU_SOURCE
#include "threads.h"

#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ir/ir.h"

int threads_for_load(int available, double busy_cores) {
    /* a core counts as taken when others use at least half of it */
    int busy = (int)(busy_cores + 0.5);
    int n = available - busy;
    return n < 1 ? 1 : n;
}

/* CPUs in the affinity mask; `mask` gets it */
static int affinity(cpu_set_t *mask) {
    CPU_ZERO(mask);
    if (sched_getaffinity(0, sizeof *mask, mask)) return omp_get_num_procs();
    int n = CPU_COUNT(mask);
    return n > 0 ? n : 1;
}

/* busy and total jiffies of the CPUs in mask, from /proc/stat's cpuN lines; -1 if unreadable */
static int cpu_times(const cpu_set_t *mask, unsigned long long *busy, unsigned long long *total) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char line[512];
    *busy = *total = 0;
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9') continue;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7]) < 5)
            continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, mask)) continue;
        unsigned long long all = 0;
        for (int i = 0; i < 8; i++) all += v[i];
        *total += all;
        *busy += all - v[3] - v[4]; /* less idle and iowait */
        seen = 1;
    }
    fclose(f);
    return seen ? 0 : -1;
}

static double cpu_seconds_of_process(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPUs' worth of other processes' busy time on the mask's CPUs over THREADS_SAMPLE_MS: the
 * CPUs' busy time less this process's own (its data loader's threads already prefetch when
 * the count is chosen: counted as others', they made an idle 2-core machine look half busy and
 * the step ran on one thread); -1 when /proc/stat cannot tell */
static double sample_busy(const cpu_set_t *mask, int ncpu) {
    unsigned long long b0, t0, b1, t1;
    double own0 = cpu_seconds_of_process();
    if (cpu_times(mask, &b0, &t0)) return -1;
    struct timespec ts = {0, THREADS_SAMPLE_MS * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
    if (cpu_times(mask, &b1, &t1) || t1 <= t0) return -1;
    double own = (cpu_seconds_of_process() - own0) * (double)sysconf(_SC_CLK_TCK); /* in jiffies */
    double busy = (double)(b1 - b0) - own;
    return busy > 0 ? busy / (double)(t1 - t0) * ncpu : 0;
}

static int parse_count(const char *name, const char *s, int *n, char *err) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 4096) {
        snprintf(err, IR_ERRLEN, "%s='%s' is not a thread count: give a number >= 1%s", name, s,
                 strcmp(name, "SSLC_THREADS") ? "" : " or auto");
        return -1;
    }
    *n = (int)v;
    return 0;
}

int threads_choose(const char *sslc_threads, const char *omp_num_threads, thread_choice *c, char *err) {
    cpu_set_t mask;
    c->available = affinity(&mask);
    c->busy_cores = -1;
    c->load_unknown = 0;
    if (sslc_threads && strcmp(sslc_threads, "auto")) {
        c->source = "SSLC_THREADS";
        return parse_count("SSLC_THREADS", sslc_threads, &c->threads, err);
    }
    if (!sslc_threads && omp_num_threads && *omp_num_threads) {
        /* OpenMP takes a list ("4,2": nested levels); the first level is ours */
        char first[32];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(omp_num_threads, ","), omp_num_threads);
        c->source = "OMP_NUM_THREADS";
        return parse_count("OMP_NUM_THREADS", first, &c->threads, err);
    }
    c->source = "auto";
    c->busy_cores = sample_busy(&mask, c->available);
    c->load_unknown = c->busy_cores < 0; /* then every CPU, as OpenMP would, and the line says why */
    if (c->load_unknown) c->busy_cores = 0;
    c->threads = threads_for_load(c->available, c->busy_cores);
    return 0;
}

void threads_apply(const thread_choice *c) {
    if (!strcmp(c->source, "OMP_NUM_THREADS")) return;
    omp_set_num_threads(c->threads);
    openblas_set_num_threads(c->threads);
}

void threads_describe(const thread_choice *c, char *buf, int len) {
    if (c->load_unknown)
        snprintf(buf, (size_t)len,
                 "threads: %d of %d CPUs (auto: the load could not be read from /proc/stat; SSLC_THREADS=N sets it)",
                 c->threads, c->available);
    else if (c->busy_cores >= 0)
        snprintf(buf, (size_t)len,
                 "threads: %d of %d CPUs (auto: %.1f busy with other processes at start; SSLC_THREADS=N sets it)",
                 c->threads, c->available, c->busy_cores);
    else
        snprintf(buf, (size_t)len, "threads: %d of %d CPUs (%s)", c->threads, c->available, c->source);
}

int threads_setup(char *line, int len, char *err) {
    thread_choice c;
    if (threads_choose(getenv("SSLC_THREADS"), getenv("OMP_NUM_THREADS"), &c, err)) return -1;
    threads_apply(&c);
    threads_describe(&c, line, len);
    return 0;
}
