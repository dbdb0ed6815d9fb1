#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sslc: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return CLI_USAGE_ERROR;
}

int cli_fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CLI_ERRLEN, fmt, ap);
    va_end(ap);
    return CLI_USAGE_ERROR;
}

int cli_parse_double_e(const char *opt, const char *s, double *out, char *err) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return cli_fail(err, "%s expects a number, got '%s'", opt, s), -1;
    *out = v;
    return 0;
}

int cli_parse_int_e(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out, char *err) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return cli_fail(err, "%s expects an integer, got '%s'", opt, s), -1;
    if (v < lo || v > hi)
        return cli_fail(err, "%s must be in [%lld, %lld], got %lld", opt, (long long)lo, (long long)hi, v), -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *opt, const char *s, double *out) {
    char err[CLI_ERRLEN];
    if (cli_parse_double_e(opt, s, out, err)) return cli_error("%s", err), -1;
    return 0;
}

int cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char err[CLI_ERRLEN];
    if (cli_parse_int_e(opt, s, lo, hi, out, err)) return cli_error("%s", err), -1;
    return 0;
}
