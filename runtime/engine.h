/* One training-step engine over a graph, whichever backend runs it (runtime/backend.h): the
 * reference interpreter (node by node, the ground truth; float32, or float64 with ENGINE_F64),
 * the cpu backend (lowered + fused + JIT-compiled C), or the cuda backend. Values are addressed
 * by name-stable value ids of the graph the engine was built from; data moves in and out only
 * through engine_upload / engine_download, in the value's graph dtype. */
#ifndef SSLC_ENGINE_H
#define SSLC_ENGINE_H
#include <stddef.h>
#include <stdint.h>

#include "../ir/ir.h"
#include "planfile.h"

typedef enum { ENGINE_REF, ENGINE_CPU, ENGINE_CUDA } engine_kind;
/* flags of engine_new / engine_new_plan */
enum {
    ENGINE_F64 = 1,  /* float values in float64 (the reference backend only) */
    ENGINE_TF32 = 2, /* cuBLAS/cuDNN may use TF32 tensor cores (the cuda backend only) */
};

typedef struct engine engine;

/* "ref", "cpu", "cuda" */
int engine_kind_parse(const char *s, engine_kind *k, char *err);
const char *engine_kind_name(engine_kind k);
/* --precision: "f32" (default: float32 arithmetic everywhere) or "tf32" (ENGINE_TF32) */
int engine_precision_parse(const char *s, unsigned *flags, char *err);

/* Builds an engine for graph g (not owned; must outlive the engine). The cpu backend lowers,
 * fuses, schedules, plans memory and JIT-compiles here; `info` (optional) receives a one-line
 * summary. ENGINE_CUDA is refused with one line naming what is missing (runtime/cuda_check.h). */
engine *engine_new(engine_kind kind, unsigned flags, const ir_graph *g, char *info, size_t info_len, char *err);

/* The same for a plan's train graph (p must outlive the engine): the cpu backend runs the plan's
 * stored compiled step (checked when the plan was read) and compiles its stored C kernels
 * (cached by content hash) instead of rebuilding; a plan without one is built as engine_new
 * does. ENGINE_CUDA is refused naming what is missing: a device, a CUBIN for its
 * architecture, or the CUDA runtime backend itself. */
engine *engine_new_plan(engine_kind kind, unsigned flags, const sslc_plan *p, char *info, size_t info_len, char *err);
/* The same in a data-parallel job: the plan's collectives run over comm (not owned; must
 * outlive the engine). */
engine *engine_new_plan_comm(engine_kind kind, unsigned flags, const sslc_plan *p, const struct ir_comm *comm,
                             char *info, size_t info_len, char *err);
void engine_free(engine *e);
/* Every parameter and state tensor takes root's value (the start of a data-parallel job: the
 * ranks step from one initialization). 0, or -1 with err. */
int engine_broadcast_persistent(engine *e, const struct ir_comm *comm, int root, char *err);
/* the graph whose value ids the engine uses (the lowered one for cpu) */
const ir_graph *engine_graph(const engine *e);
/* value id by name in engine_graph, -1 if absent */
int engine_find(const engine *e, const char *name);
/* whether v has storage in the engine (inputs, parameters, state and outputs always have) */
int engine_has_value(const engine *e, int v);
/* bytes: numel * size of v's graph dtype (float32 for float values, whatever the storage) */
int engine_upload(engine *e, int v, const void *src, size_t bytes, char *err);
int engine_download(const engine *e, int v, void *dst, size_t bytes, char *err);
/* a float value at the engine's full precision (float64 with ENGINE_F64) */
int engine_download_f64(const engine *e, int v, double *dst, char *err);
/* float32 values: engine_upload / engine_download with the byte count of v */
int engine_set_f32(engine *e, int v, const float *src, char *err);
int engine_get_f32(const engine *e, int v, float *dst, char *err);
/* bytes of v in its graph dtype */
size_t engine_value_bytes(const engine *e, int v);
int engine_init_persistent(engine *e, uint64_t seed, char *err);
int engine_run(engine *e, char *err);
/* waits for every queued step and copy (device backends) */
int engine_sync(engine *e, char *err);
int engine_is_f64(const engine *e); /* float values stored as double (ENGINE_F64) */

#endif
