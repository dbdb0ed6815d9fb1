/* Shared by the fuzz entry points tests/fuzz/fuzz_<reader>.c.
 *
 * Each file defines its entry point through FUZZ_ENTRY: built for libFuzzer (SSLC_LIBFUZZER, the
 * SSLC_FUZZ build) it is LLVMFuzzerTestOneInput; in the gcc smoke test (tests/test_fuzz_smoke.c),
 * which links every reader's entry point into one program, it is fuzz_<reader>. Same code either
 * way, so the default suite exercises exactly what the campaign runs. */
#ifndef SSLC_FUZZ_TARGET_H
#define SSLC_FUZZ_TARGET_H
#include <stddef.h>
#include <stdint.h>

#ifdef SSLC_LIBFUZZER
#define FUZZ_ENTRY(name) LLVMFuzzerTestOneInput
#else
#define FUZZ_ENTRY(name) fuzz_##name
#endif

/* Inputs a reader accepted (the smoke test reports them and checks that every seed is). */
extern long fuzz_accepted;

/* A private scratch directory (tmpfs when /dev/shm is writable: the readers that only take a
 * path read the input from there without touching a disk), created on first use and removed at
 * exit. */
const char *fuzz_scratch(void);
/* Writes bytes to scratch/name; returns the full path (static buffer) or aborts. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);
void fuzz_unlink(const char *name);
/* A reader broke its contract (accepted input it cannot round-trip, an empty or multi-line error):
 * report and abort, which libFuzzer and the smoke test both count as a failure. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Refusals are one non-empty line. */
void fuzz_check_err(const char *reader, const char *err);

#endif
