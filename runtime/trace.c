/* Chrome trace writer (see trace.h). Events are streamed through stdio's buffer, so a traced
 * step costs one formatted line per op and an untraced one nothing but a NULL test. */
#include "trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ir/ir.h"

struct exec_trace {
    FILE *f;
    int rank;
    int nevents;
};

exec_trace *trace_open_env(int rank, int *failed, char *err) {
    *failed = 0;
    const char *path = getenv("SSLC_TRACE");
    if (!path || !path[0]) return NULL;
    char name[4096];
    if (rank > 0)
        snprintf(name, sizeof name, "%s.rank%d", path, rank);
    else
        snprintf(name, sizeof name, "%s", path);
    exec_trace *t = calloc(1, sizeof *t);
    if (!t || !(t->f = fopen(name, "w"))) {
        snprintf(err, IR_ERRLEN, "SSLC_TRACE: cannot write %.300s: %s (unset SSLC_TRACE or name a writable file)",
                 name, t ? strerror(errno) : "out of memory");
        free(t);
        *failed = 1;
        return NULL;
    }
    t->rank = rank;
    fprintf(t->f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    fprintf(t->f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"rank %d\"}}",
            rank, rank);
    return t;
}

double trace_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

void trace_span(exec_trace *t, const char *name, const char *cat, double t0, double t1, int step, int run) {
    /* training-step spans and collectives in flight (start to wait) on rows of their own, so
     * they do not nest oddly with the ops they overlap */
    int tid = !strcmp(cat, "step") ? 0 : !strcmp(cat, "in flight") ? 2 : 1;
    fprintf(t->f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"step\":%d,\"run\":%d}}",
            name, cat, t0, t1 - t0, t->rank, tid, step, run);
    t->nevents++;
}

void trace_close(exec_trace *t) {
    if (!t) return;
    fprintf(t->f, "\n]}\n");
    fclose(t->f);
    free(t);
}
