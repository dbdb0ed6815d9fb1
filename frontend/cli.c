#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../methods/method.h"
#include "suggest.h"

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

int cli_parse_hw_e(const char *opt, const char *s, int64_t *h, int64_t *w, char *err) {
    const char *x = strchr(s, 'x');
    if (!x) {
        if (cli_parse_int_e(opt, s, 1, 65536, h, err)) return -1;
        *w = *h;
        return 0;
    }
    char hs[32];
    if ((size_t)(x - s) >= sizeof hs) return cli_fail(err, "%s expects N or HxW, got '%s'", opt, s), -1;
    memcpy(hs, s, (size_t)(x - s));
    hs[x - s] = 0;
    return cli_parse_int_e(opt, hs, 1, 65536, h, err) || cli_parse_int_e(opt, x + 1, 1, 65536, w, err) ? -1 : 0;
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

int cli_unknown_option_e(char *err, const char *cmd, const char *arg, const struct option *a, const struct option *b) {
    if (strncmp(arg, "--", 2)) return cli_fail(err, "%s: unknown option '%s' (see sslc %s --help)", cmd, arg, cmd);
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    char list[2048];
    size_t k = 0;
    list[0] = 0;
    for (const struct option *t = a; t; t = t == a ? b : NULL)
        for (const struct option *o = t; o->name && k < sizeof list - 64; o++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", k ? ", " : "", o->name);
    char hint[96], name[64];
    if (suggest_from_list(word, list, name, sizeof name))
        snprintf(hint, sizeof hint, "did you mean '--%s'? ", name);
    else
        hint[0] = 0;
    return cli_fail(err, "%s: unknown option '%s' (%ssee sslc %s --help)", cmd, arg, hint, cmd);
}

int cli_unknown_option(const char *cmd, const char *arg, const struct option *a, const struct option *b) {
    char err[CLI_ERRLEN];
    cli_unknown_option_e(err, cmd, arg, a, b);
    return cli_error("%s", err);
}

const method_def *cli_find_method(const char *name, char *err) {
    const method_def *m = method_find(name);
    if (!m) {
        char hint[96];
        cli_fail(err, "unknown method '%s' (%schoose one of: %s)", name, suggest_hint(name, method_choices(), hint, sizeof hint),
                 method_choices());
    }
    return m;
}

int cli_check_backbone(const char *name, char *err) {
    const char *list = backbone_choices();
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == strlen(name) && !strncmp(p, name, n)) return 0;
        p += n;
        while (*p == ',' || *p == ' ') p++;
    }
    char hint[96];
    cli_fail(err, "unknown backbone '%s' (%schoose one of: %s, or FILE.onnx)", name, suggest_hint(name, list, hint, sizeof hint),
             list);
    return -1;
}
