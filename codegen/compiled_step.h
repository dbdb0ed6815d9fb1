/* The compiled step: everything a backend needs to run a train graph without re-running the
 * compiler's back half, built once by `sslc compile` and stored in the plan file. It is the cpu
 * pipeline's result (lowered graph, launch schedule with the kernels' argument lists, storage
 * roots, memory plan: passes/pipeline.h), each fused kernel's C source and, for the cuda target,
 * its CUDA source and the CUBIN of all kernels per GPU architecture.
 *
 * A step read from a file carries, per kernel segment, only what the executor reads of the
 * kernel IR (domain, reduced axes, loads' and stores' value ids): the code is the stored
 * source. compiled_step_check proves it fits its train graph before anything runs it. */
#ifndef SSLC_COMPILED_STEP_H
#define SSLC_COMPILED_STEP_H
#include <stddef.h>
#include <stdint.h>

#include "../passes/pipeline.h"

#define STEP_MAX_ARCHS 8   /* CUBIN images per step */
#define STEP_MAX_SEGS 64   /* segments per launch (fuse_horizontal's limit) */

typedef struct {
    int arch; /* sm_<arch>: 80, 90, ... */
    void *image;
    size_t size;
} step_cubin;

/* What `sslc compile --targets` puts in the plan. */
typedef struct {
    int cpu;  /* the compiled step with its C kernels (0: graph only, the runtime rebuilds) */
    int cuda; /* also the CUDA sources and a CUBIN per arch (needs NVRTC) */
    int narch;
    int arch[STEP_MAX_ARCHS];
} step_targets;

typedef struct {
    uint64_t graph_hash; /* ir_graph_hash of the train graph it was compiled from */
    exec_plan ep;        /* lowered graph, launches, kernel argument lists, roots, memory plan */
    char **c_src;        /* per kernel: its C functions (jit_c_kernel_source) */
    char **cuda_src;     /* per kernel: its CUDA kernels (cuda_kernel_source); NULL: no cuda target */
    int ncubins;
    step_cubin cubin[STEP_MAX_ARCHS];
    uint64_t kernels_hash; /* compiled_step_kernels_hash when built */
} compiled_step;

/* "cpu" (default), "cpu,cuda" / "cuda", "none"; archs: "sm_80,sm_90" (NULL: those two).
 * Giving archs implies the cuda target. err: IR_ERRLEN. */
int step_targets_parse(const char *targets, const char *archs, step_targets *t, char *err);

/* Runs the pipeline on the train graph and generates the kernels' sources; with t->cuda also
 * compiles the CUDA translation unit once per architecture with NVRTC (in parallel). */
int compiled_step_build(const ir_graph *train, const step_targets *t, compiled_step *cs, char *err);
void compiled_step_free(compiled_step *cs);

/* FNV-1a over every kernel's segments (domain, reduced axes, loads, stores), C and CUDA source,
 * and every CUBIN: what the check compares with the recorded kernels_hash. */
uint64_t compiled_step_kernels_hash(const compiled_step *cs);
/* the C translation unit of all kernels (what the JIT compiles); malloc'd, NULL: out of memory */
char *compiled_step_c_unit(const compiled_step *cs);
/* the CUBIN for sm_<arch>, or NULL */
const step_cubin *compiled_step_cubin(const compiled_step *cs, int arch);
/* bytes of all C sources / all CUDA sources */
size_t compiled_step_c_bytes(const compiled_step *cs);
size_t compiled_step_cuda_bytes(const compiled_step *cs);
/* "sm_80, sm_90" or "none" */
void compiled_step_archs_str(const compiled_step *cs, char *buf, size_t n);

/* A step read from a file stores, per launch, only its kind, index and in-place offers: this
 * fills each launch's inputs and outputs (its node's, or its kernel segments' loads then stores)
 * and the launch counts, checking every index it follows. Returns 0, or -1 with err. */
int compiled_step_link(compiled_step *cs, char *err);

/* Proves a (linked) step safe to run for train graph `train`: the graph hash, every value id in
 * range, kernel arguments materialized, views at their source's storage, each kernel launched
 * once, the memory plan checked by the overlap checker (memplan_check_ex), the CUBIN list and
 * the recorded kernels hash. Returns 0, or -1 with one line in err. */
int compiled_step_check(const ir_graph *train, const compiled_step *cs, char *err);

#endif
