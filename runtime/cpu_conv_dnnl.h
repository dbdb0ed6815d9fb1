/* Convolutions of the cpu backend through oneDNN (f32): Conv forward, ConvGradInput (backward
 * data) and ConvGradWeight (backward weights) on the backend's plain NCHW / OIHW buffers.
 *
 * One engine and stream per cpu_conv; cpu_conv_prepare builds (once per distinct op, shapes and
 * attributes) a primitive and the reorders between the plain buffers and the layouts the
 * primitive prefers, so a static plan builds all of them at backend init and a step only
 * executes. Reordered copies and scratchpads live in one pool shared by all primitives (steps
 * run one at a time). Threads: oneDNN's OpenMP runtime (OMP_NUM_THREADS). */
#ifndef SSLC_CPU_CONV_DNNL_H
#define SSLC_CPU_CONV_DNNL_H
#include "../ir/ir.h"

typedef struct cpu_conv cpu_conv;

/* which layouts the primitives work in: plain (NCHW/OIHW, no reorders), plain activations with
 * the primitive's preferred weight layout, or the preferred layout of every tensor (reorders
 * around each call). SSLC_DNNL_LAYOUT=plain|weights|any overrides the default. */
typedef enum { CONV_LAYOUT_DEFAULT = -1, CONV_LAYOUT_PLAIN, CONV_LAYOUT_WEIGHTS, CONV_LAYOUT_ANY } cpu_conv_layout;

/* which algorithm oneDNN may use: direct only; its own choice per shape (auto: Winograd F(4,3)
 * for the 3x3 stride-1 convolutions where oneDNN finds it worth it); or tuned, the default: the
 * choice of auto only for the shapes where Winograd measured faster (cpu_conv_wino_pays), direct
 * elsewhere. Winograd's transforms cost in proportion to the channels, its savings in proportion
 * to their product: on few channels it loses (on the main job's model, 16 channels at 28x28, by
 * 20-45 %; on the 1- or 3-channel stem by 3-9x), from 32 channels (64 for the weight gradient) it
 * wins by up to 2.5x (docs/PERFORMANCE.md, "Convolution algorithms"). Rounding differs between
 * the algorithms but stays within the 1e-5 bound of test_conv_dnnl, and the choice depends on
 * the shapes alone, so a plan computes the same numbers on every run. SSLC_CONV_ALGO=
 * direct|auto|tuned overrides the default. Winograd needs the primitive's own activation layout,
 * so with CONV_LAYOUT_PLAIN / WEIGHTS auto and tuned fall back to direct. */
typedef enum { CONV_ALGO_DEFAULT = -1, CONV_ALGO_DIRECT, CONV_ALGO_AUTO, CONV_ALGO_TUNED } cpu_conv_algo;

/* Whether the tuned policy lets oneDNN use Winograd for convolution op (OP_Conv,
 * OP_ConvGradInput, OP_ConvGradWeight) with weights [M, C/group, KH, KW], the given group,
 * strides and dilations. */
int cpu_conv_wino_pays(int op, const int64_t wdims[4], int64_t group, const int64_t strides[2],
                       const int64_t dilations[2]);

/* NULL with a reason in err when oneDNN cannot make a CPU engine or SSLC_DNNL_LAYOUT /
 * SSLC_CONV_ALGO name no policy (cpu_conv_env_check: only the latter, 0 or -1 with err) */
int cpu_conv_env_check(char *err);
cpu_conv *cpu_conv_new(cpu_conv_layout layout, cpu_conv_algo algo, char *err);
void cpu_conv_free(cpu_conv *cc);

/* A handle (>= 0) for the call c (node Conv, ConvGradInput or ConvGradWeight with its f32 input
 * and output shapes; data pointers are not read), or -1 with a reason in err. */
int cpu_conv_prepare(cpu_conv *cc, const ref_call *c, char *err);
/* the same with the direct algorithm whatever the policy: a smaller workspace than Winograd's */
int cpu_conv_prepare_direct(cpu_conv *cc, const ref_call *c, char *err);
/* Runs handle h on the buffers of c (same shapes as when prepared). 0, or -1 with c->err set.
 * Its workspace (reordered copies and scratchpad) is a pool the cpu_conv keeps. */
int cpu_conv_exec(cpu_conv *cc, int h, const ref_call *c);
/* The same in the caller's workspace: ws is 64-byte aligned with cpu_conv_need(cc, h) bytes,
 * and nobody else touches them during the call (the cpu backend places it in the arena). */
int cpu_conv_exec_ws(cpu_conv *cc, int h, const ref_call *c, unsigned char *ws);
size_t cpu_conv_need(const cpu_conv *cc, int h);

/* distinct primitives, pool bytes (reordered copies + scratchpad), and one line per primitive
 * naming the implementation oneDNN chose (for reports) */
int cpu_conv_count(const cpu_conv *cc);
size_t cpu_conv_pool_bytes(const cpu_conv *cc);
const char *cpu_conv_impl(const cpu_conv *cc, int h);

#endif
