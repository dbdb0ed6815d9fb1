/* Fuzz entry point: the checkpoint reader: safetensors parsing (runtime/safetensors.c st_decode,
 * which st_read calls on the file's bytes) and runtime/checkpoint.c ckpt_load into a reference
 * engine of the corpus plan tests/fuzz/corpus/plan/tiny.plan (the seeds are checkpoints of a
 * 2-step run of it). ckpt_load takes a path: the input is written to the scratch directory (tmpfs).
 *
 * The checksum in the metadata would stop almost every mutation at the first check, so a table
 * that parses is also re-signed (ckpt_resign), re-encoded and loaded again: mutations of
 * shapes, dtypes, names and metadata reach the checks behind the checksum. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_target.h"
#include "runtime/checkpoint.h"
#include "runtime/planfile.h"

#ifndef SSLC_FUZZ_CORPUS
#error SSLC_FUZZ_CORPUS (tests/fuzz/corpus) must be defined by the build
#endif

static engine *target(void) {
    static engine *e;
    static sslc_plan p; /* must outlive the engine: kept for the whole run */
    if (e) return e;
    char err[IR_ERRLEN], info[256];
    if (plan_read(&p, SSLC_FUZZ_CORPUS "/plan/tiny.plan", err)) fuzz_fail("checkpoint: the target plan: %s", err);
    e = engine_new_plan(ENGINE_REF, 0, &p, info, sizeof info, err);
    if (!e) fuzz_fail("checkpoint: the target engine: %s", err);
    return e;
}

static void load(const uint8_t *data, size_t size) {
    char err[IR_ERRLEN] = "";
    ckpt_meta m;
    const char *path = fuzz_write("checkpoint.safetensors", data, size);
    if (ckpt_load(target(), path, NULL, &m, err))
        fuzz_check_err("checkpoint", err);
    else
        fuzz_accepted++;
}

int FUZZ_ENTRY(checkpoint)(const uint8_t *data, size_t size) {
    load(data, size);
    st_table t;
    char err[IR_ERRLEN] = "";
    if (st_decode(&t, data, size, "fuzz.safetensors", err)) {
        fuzz_check_err("safetensors", err);
        return 0;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    if (ckpt_resign(&t, err)) fuzz_fail("checkpoint: checksum of an accepted table: %s", err);
    if (st_encode(&t, &buf, &len, err))
        fuzz_fail("safetensors: an accepted table does not re-encode: %s", err);
    st_table back;
    if (st_decode(&back, buf, len, "re-encoded", err)) fuzz_fail("safetensors: re-encoding refused: %s", err);
    st_free(&back);
    load(buf, len);
    free(buf);
    st_free(&t);
    return 0;
}
