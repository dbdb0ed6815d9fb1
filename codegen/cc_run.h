/* The system C compiler as the JIT runs it: without a shell. $CC (default cc) may hold words
 * ("ccache gcc"); it is split on whitespace into an argument vector and started with
 * posix_spawnp, so no path or variable is ever parsed by /bin/sh. */
#ifndef SSLC_CC_RUN_H
#define SSLC_CC_RUN_H

/* the compiler command line prefix: $CC, else (unset or blank) "cc" */
const char *cc_command(void);

/* Compiles the C file src with flags (whitespace-separated) into out. Returns 0, or -1 with one
 * line in err (IR_ERRLEN): the compiler, its exit status and its first messages (up to 20 lines,
 * trimmed and joined with " | "). */
int cc_compile(const char *cc, const char *flags, const char *src, const char *out, char *err);

/* What code the compiler makes with flags on this machine, as text: the first line of
 * `CC --version` (identity and version), then every macro `CC flags -E -dM -x c /dev/null`
 * predefines. With -march=native those macros are the CPU features it resolved to (__AVX2__,
 * __AVX512F__, __ARM_FEATURE_SVE, ...) and the tuning (__tune_znver3__), for GCC and Clang on
 * any architecture, which CPUID bits would not say. malloc'd into *desc (the caller frees).
 * Memoized per process for the last (cc, flags) asked (under a mutex): the first kernel load
 * pays two compiler runs (~15 ms), later ones none. Returns 0, or -1 with one line in err. */
int cc_describe(const char *cc, const char *flags, char **desc, char *err);

#endif
