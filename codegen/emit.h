/* The C and CUDA emitters of the kernel IR (passes/kir.h), and the internals they share. */
#ifndef SSLC_EMIT_H
#define SSLC_EMIT_H
#include <stddef.h>

#include "../ir/opkit.h"
#include "../passes/fusion.h"
#include "../passes/kir.h"

typedef struct {
    char *s;
    size_t len, cap;
} strbuf;
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* C source of `void <name>(void **args)`: args are the loads' then the stores' base pointers
 * (float data). The returned string is malloc'd; NULL with err (IR_ERRLEN) when the kernel has
 * an op or expression the emitter does not know. */
char *kir_emit_c(const kir *k, const char *name, char *err);
/* CUDA C source of `extern "C" __global__ void <name>(...)` with one pointer parameter per
 * load and store (same order); launch geometry from kir_cuda_launch. NULL with err as above. */
char *kir_emit_cuda(const kir *k, const char *name, char *err);
void kir_cuda_launch(const kir *k, int64_t *grid, int *block);

void kir_pitches(const kir *k, int64_t *opitch, int64_t *ipitch);
void kir_offset_expr(strbuf *b, const kir *k, const int64_t *stride, int reduced, const char *var, const int64_t *pitch);
void kir_contig_strides(const kir *k, int64_t *st);
/* `const int64_t obL = ...;` for every full-level load L and `obS` for the stores: the part of
 * their offsets that depends on the outer index o (both emitters' reduction kernels) */
void kir_outer_offsets(strbuf *b, const kir *k, const int64_t *contig, const int64_t *opitch);
/* marks the expressions `x` needs (itself and its operands, transitively) */
void kir_need(const kir *k, int x, unsigned char *mark);
/* ready[x]: the reduction phase after which expression x can be evaluated (0: before any) */
void kir_ready(const kir *k, int *ready);
/* A compilation unit: prelude followed by the n kernel sources, one malloc'd string (NULL when
 * out of memory). */
char *emit_unit(const char *prelude, const char *const *kernel_src, int n);
/* The unit of every kernel of fp, each emitted by kernel_source (malloc'd; NULL with err). */
char *emit_plan_unit(const fused_plan *fp, const char *prelude,
                     char *(*kernel_source)(const fused_plan *fp, int i, char *err), char *err);
/* right-hand side of an elementwise expression over e<a>, e<b>; -1 with err for an op that has
 * no code here (both emitters share it, so both refuse the same ops) */
int kir_expr_c(strbuf *b, const kir *k, int x, char *err);
/* right-hand side of expression x of any kind; a full-level load L reads L<l>[<full_index><l>] */
int kir_value_c(strbuf *b, const kir *k, int x, const char *full_index, char *err);
/* A store of a Cast expression writes bfloat16 (the only Cast fusion takes: float32 -> bf16,
 * --precision bf16): its element type and the conversion around the float value */
int kir_store_bf16(const kir *k, int s);
#define KIR_STORE_CONV(k, s) (kir_store_bf16(k, s) ? "sslc_bf16" : "")
/* puts "kernel <name>: " before err */
void emit_failed(const char *name, char *err);

#endif
