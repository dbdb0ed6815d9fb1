/* The cpu backend's pieces on the executor core (runtime/arena_exec.h): fused kernels through
 * JIT-compiled C (codegen/jit.h), convolutions through oneDNN (its library-op table; every
 * other library op runs the op table's kernels, GEMMs on OpenBLAS), and oneDNN's workspaces
 * planned into the arena. runtime/backend_cpu.c wraps it as a backend. */
#ifndef SSLC_CPU_EXEC_H
#define SSLC_CPU_EXEC_H
#include "../codegen/jit.h"
#include "../passes/fusion.h"
#include "../passes/memplan.h"
#include "arena_exec.h"

typedef struct {
    arena_exec core;
    const fused_plan *fp;
    const jit_module *jit;
    struct cpu_conv *conv; /* oneDNN convolutions (NULL: the op table's kernels) */
    int *conv_h;           /* per step: its oneDNN primitive, or -1 */
    int nconv;             /* steps that run through oneDNN */
    int64_t *ws_off;       /* per step: its oneDNN workspace's arena offset, or -1 */
    int64_t arena_bytes;   /* the arena: values and oneDNN workspaces */
    memplan mp;            /* the plan's memory plan re-made with the workspaces */
    const memplan *run_mp; /* the plan the executor places (&mp, the caller's, or NULL) */
    int64_t persistent_bytes, stage_bytes; /* the persistent region; the update staging (planned) */
    const struct ir_comm *comm; /* the collectives' communicator (NULL: one rank); set before place */
} cpu_exec;

/* Which kernels run the plan's Conv, ConvGradInput and ConvGradWeight steps: oneDNN (the
 * default; it measured faster) or the op table's reference kernels (im2col + OpenBLAS).
 * SSLC_CONV=ref|dnnl picks when cpu_exec_init is given CPU_CONV_DEFAULT. */
typedef enum { CPU_CONV_DEFAULT, CPU_CONV_REF, CPU_CONV_DNNL } cpu_conv_kind;
/* cpu_exec_init with an explicit choice of convolution kernels */
int cpu_exec_init_ex(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                     cpu_conv_kind conv, char *err);

/* cpu_exec_init_ex in two halves, so that a caller can compare the sizes (arena_bytes,
 * persistent_bytes, stage_bytes) with what the process may use before anything large is
 * allocated: prepare builds the primitives and the memory plan, place allocates and places.
 * After a failed prepare or place x is freed; after a successful prepare the caller either
 * places or frees. */
int cpu_exec_prepare(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                     cpu_conv_kind conv, char *err);
int cpu_exec_place(cpu_exec *x, char *err);

/* With a memory plan (mp != NULL) intermediates share one arena at the planned offsets;
 * without one each value gets its own allocation. */
int cpu_exec_init(cpu_exec *x, const ir_graph *g, const fused_plan *fp, const jit_module *jit, const memplan *mp,
                  char *err);
void cpu_exec_free(cpu_exec *x);
void *cpu_exec_data(const cpu_exec *x, int v); /* storage of v (through views); NULL if none */
int cpu_exec_set_f32(cpu_exec *x, int v, const float *src, char *err);
int cpu_exec_get_f32(const cpu_exec *x, int v, float *dst, char *err);
int cpu_exec_run(cpu_exec *x, char *err);
/* runs only step s (for kernel-by-kernel tests) */
int cpu_exec_step(cpu_exec *x, int s, char *err);

#endif
