/* The plan file: a compiled method on disk: graphs, options, seed, and the train graph's compiled
 * step (lowered graph, launch schedule, memory plan, kernel sources, CUBIN per GPU architecture).
 *
 * Layout: 8-byte magic "SSLCPLAN", u32 format version, u32 CRC32 (zlib) of the payload, u64
 * payload length (all little-endian), then the payload: a protobuf `sslc.Plan` (runtime/plan.proto).
 * Writes are atomic. Reads refuse, with one line in err and never a crash, anything that is not
 * a plan of this format version or whose graphs are not well formed; graphs are rebuilt through
 * the IR builder, so shapes are re-inferred and checked against the stored ones. */
#ifndef SSLC_PLANFILE_H
#define SSLC_PLANFILE_H
#include <stddef.h>
#include <stdint.h>

#include "codegen/compiled_step.h"
#include "ir/ir.h"

#define PLAN_MAGIC "SSLCPLAN"
#define PLAN_FORMAT_VERSION 2u /* 2: the compiled step (Graph.compiled) */
#define PLAN_HEADER_BYTES 24
#define PLAN_MAX_BYTES ((size_t)1 << 31) /* largest plan file read */
#define PLAN_KEYLEN 64                    /* option key / method name buffer (with NUL) */
#define PLAN_VALLEN 256                   /* option value buffer (with NUL) */
/* largest tensor a plan may declare: product of max(dim, 1) over its dims */
#define PLAN_MAX_NUMEL ((int64_t)1 << 40)

typedef struct {
    char method[PLAN_KEYLEN];
    char sslc_version[32]; /* of the sslc that wrote the file (set by plan_read) */
    int nopts, cap_opts;
    char (*keys)[PLAN_KEYLEN];
    char (*vals)[PLAN_VALLEN];
    uint64_t seed;
    ir_graph train;
    int has_eval; /* eval is meaningful only when set */
    ir_graph eval;
    /* The train graph's compiled step (`sslc compile` stores it unless --targets none); checked
     * against the train graph when read. Without it, backends build the step themselves. */
    int has_step;
    compiled_step step;
    /* An imported backbone's ONNX model file, byte for byte (malloc'd, owned, freed by plan_free;
     * NULL and 0 without one): the encoder is rebuilt from it, so the plan does not depend on the
     * file it was imported from. Checking it (its CRC, that it parses) is the frontend's job. */
    unsigned char *backbone_onnx;
    size_t backbone_onnx_len;
} sslc_plan;

void plan_init(sslc_plan *p);
void plan_free(sslc_plan *p); /* frees options, graphs and step; p can be plan_init'ed again */
/* method name; -1 (err set) if longer than PLAN_KEYLEN-1 */
int plan_set_method(sslc_plan *p, const char *method, char *err);
/* Adds or replaces option key=value; -1 with err if key is empty or too long, or value too long. */
int plan_set_option(sslc_plan *p, const char *key, const char *val, char *err);
/* value of option key, or NULL */
const char *plan_get_option(const sslc_plan *p, const char *key);

/* Serializes the plan (header + payload) into a malloc'd buffer. Returns 0 or -1 with err. */
int plan_encode(const sslc_plan *p, unsigned char **buf, size_t *len, char *err);
/* Parses a whole plan file image; `what` names it in messages (e.g. the path). p is initialized
 * by the call (plan_free a previously filled plan first); on failure it is left empty, so
 * plan_free is always safe afterwards. Returns 0 or -1 with err. */
int plan_decode(sslc_plan *p, const unsigned char *buf, size_t len, const char *what, char *err);

/* plan_encode + atomic write; plan_read = read the whole file + plan_decode (same contract).
 * err: IR_ERRLEN bytes. */
int plan_write(const sslc_plan *p, const char *path, char *err);
int plan_read(sslc_plan *p, const char *path, char *err);

#endif
