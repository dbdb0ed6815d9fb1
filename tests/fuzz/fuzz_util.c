/* Scratch files and contract checks for the fuzz entry points (see fuzz_target.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_target.h"

long fuzz_accepted;
static char scratch[256];
static char path[512];

static void cleanup(void) {
    char cmd[300];
    if (!scratch[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", scratch);
}

const char *fuzz_scratch(void) {
    if (scratch[0]) return scratch;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(scratch, sizeof scratch, "%s/sslc-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch)) fuzz_fail("cannot create a scratch directory under %s", base);
    atexit(cleanup);
    return scratch;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) fuzz_fail("cannot write %s", path);
    return path;
}

void fuzz_unlink(const char *name) {
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch(), name);
    unlink(path);
}

void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: contract broken: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void fuzz_check_err(const char *reader, const char *err) {
    if (!err[0]) fuzz_fail("%s: refused with an empty message", reader);
    if (strchr(err, '\n')) fuzz_fail("%s: refused with more than one line: %s", reader, err);
}
