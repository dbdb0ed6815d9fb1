/* Fuzz entry point: `sslc compile` option parsing (frontend/cmd_compile.c parse_compile_args, which
 * `sslc train` and the C API's sslc_compile also call, then method_resolve_options for the --set
 * values). The input is the argument list,
 * NUL-separated (at most 64 arguments; argv[0] is "compile"). The strings are copies the parser
 * may write into (it does for --source-size), freed after each call, so ASan sees any pointer the
 * parser keeps from one call to the next. `sslc run` parses inline in cmd_run, which then trains:
 * it has no parse-only function to fuzz. */
#include <stdlib.h>
#include <string.h>

#include "frontend/cli.h"
#include "frontend/driver.h"
#include "fuzz_target.h"
#include "methods/method.h"

#define MAX_ARGS 64

int FUZZ_ENTRY(compile_args)(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    int argc = 0;
    argv[argc++] = "compile";
    for (size_t i = 0; i < size && argc < MAX_ARGS + 1;) {
        size_t n = strlen(copy + i);
        argv[argc++] = copy + i;
        i += n + 1;
    }
    argv[argc] = NULL;
    compile_args a;
    const char *out = NULL;
    char err[IR_ERRLEN] = "";
    int rc = parse_compile_args(argc, argv, &a, &out, err);
    if (rc <= 0) fuzz_accepted++; /* -1: --help */
    /* messages quote the offending argument: one line unless the user typed a newline in it */
    int newline = memchr(data, '\n', size) != NULL;
    double vals[METHOD_MAX_OPTS];
    if (rc > 0 || (rc == 0 && method_resolve_options(a.method, &a.spec, vals, err))) { /* --set values */
        if (!err[0]) fuzz_fail("compile args: refused with an empty message");
        if (!newline) fuzz_check_err("compile args", err);
    }
    free(copy);
    return 0;
}
