/* Kernel IR -> C with OpenMP. One function per kernel: `void NAME(void **args)`, args = load
 * base pointers then store base pointers. Reductions accumulate in double. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = b->cap ? vsnprintf(b->s + b->len, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (n >= 0 && nc < b->len + (size_t)n + 1) nc *= 2;
        char *q = realloc(b->s, nc);
        if (!q) {
            fprintf(stderr, "sslc: out of memory in codegen\n");
            abort();
        }
        b->s = q, b->cap = nc;
    }
}

int kir_store_bf16(const kir *k, int s) {
    const kx_expr *e = &k->exprs[k->stores[s].expr];
    return e->kind == KX_UNARY && e->op == OP_Cast;
}

/* Per-axis pitches of the outer (non-reduced) and inner (reduced) index spaces. */
void kir_pitches(const kir *k, int64_t *opitch, int64_t *ipitch) {
    int64_t op = 1, ip = 1;
    for (int d = k->dom.ndim - 1; d >= 0; d--) {
        if (k->redmask >> d & 1) {
            ipitch[d] = ip;
            ip *= k->dom.d[d];
        } else {
            opitch[d] = op;
            op *= k->dom.d[d];
        }
    }
}

/* offset expression of `stride` over the axes selected by `reduced` (0: outer, 1: inner) */
void kir_offset_expr(strbuf *b, const kir *k, const int64_t *stride, int reduced, const char *var,
                     const int64_t *pitch) {
    int any = 0;
    for (int d = 0; d < k->dom.ndim; d++) {
        if (((k->redmask >> d) & 1) != (unsigned)reduced || stride[d] == 0) continue;
        int64_t span = 1; /* elements of var spanned by axes inside d */
        span = pitch[d] * k->dom.d[d];
        int outermost = 1;
        for (int e = 0; e < d; e++)
            if (((k->redmask >> e) & 1) == (unsigned)reduced && k->dom.d[e] > 1) outermost = 0;
        sb_printf(b, "%s", any ? " + " : "");
        if (outermost)
            sb_printf(b, "(%s / %lldLL)", var, (long long)pitch[d]);
        else if (pitch[d] == 1)
            sb_printf(b, "(%s %% %lldLL)", var, (long long)span);
        else
            sb_printf(b, "((%s / %lldLL) %% %lldLL)", var, (long long)pitch[d], (long long)k->dom.d[d]);
        if (stride[d] != 1) sb_printf(b, " * %lldLL", (long long)stride[d]);
        any = 1;
    }
    if (!any) sb_printf(b, "0");
}

void kir_outer_offsets(strbuf *b, const kir *k, const int64_t *contig, const int64_t *opitch) {
    for (int l = 0; l < k->nloads; l++) {
        if (k->loads[l].level != LV_FULL) continue;
        sb_printf(b, "        const int64_t ob%d = ", l);
        kir_offset_expr(b, k, k->loads[l].stride, 0, "o", opitch);
        sb_printf(b, ";\n");
    }
    sb_printf(b, "        const int64_t obS = ");
    kir_offset_expr(b, k, contig, 0, "o", opitch);
    sb_printf(b, ";\n");
}

void kir_contig_strides(const kir *k, int64_t *st) { ir_strides(&k->dom, st); }

void kir_need(const kir *k, int x, unsigned char *mark) {
    if (mark[x]) return;
    mark[x] = 1;
    const kx_expr *e = &k->exprs[x];
    if (e->kind == KX_UNARY) kir_need(k, e->a, mark);
    if (e->kind == KX_BINARY) kir_need(k, e->a, mark), kir_need(k, e->b, mark);
}

void kir_ready(const kir *k, int *ready) {
    for (int x = 0; x < k->nexprs; x++) {
        const kx_expr *e = &k->exprs[x];
        int r = 0;
        if (e->kind == KX_RED) r = k->reds[e->red].phase + 1;
        if (e->kind == KX_UNARY) r = ready[e->a];
        if (e->kind == KX_BINARY) r = ready[e->a] > ready[e->b] ? ready[e->a] : ready[e->b];
        ready[x] = r;
    }
}

int kir_expr_c(strbuf *b, const kir *k, int x, char *err) {
    const kx_expr *e = &k->exprs[x];
    char a[24], bb[24];
    snprintf(a, sizeof a, "e%d", e->a);
    snprintf(bb, sizeof bb, "e%d", e->b);
    switch (e->op) {
    case OP_Add: sb_printf(b, "%s + %s", a, bb); break;
    case OP_Sub: sb_printf(b, "%s - %s", a, bb); break;
    case OP_Mul: sb_printf(b, "%s * %s", a, bb); break;
    case OP_Div: sb_printf(b, "%s / %s", a, bb); break;
    case OP_Pow: sb_printf(b, "powf(%s, %s)", a, bb); break;
    case OP_Max: sb_printf(b, "(%s > %s ? %s : %s)", a, bb, a, bb); break;
    case OP_Where0: sb_printf(b, "(%s %s 0.0f ? %s : 0.0f)", a, e->ge ? ">=" : ">", bb); break;
    case OP_GeluGrad:
        sb_printf(b, "%s * (0.5f * (1.0f + erff(%s * 0.70710678118654752f)) + %s * expf(-0.5f * %s * %s) * 0.39894228040143268f)",
                  a, bb, bb, bb, bb);
        break;
    case OP_Neg: sb_printf(b, "-%s", a); break;
    case OP_Exp: sb_printf(b, "expf(%s)", a); break;
    case OP_Log: sb_printf(b, "logf(%s)", a); break;
    case OP_Sqrt: sb_printf(b, "sqrtf(%s)", a); break;
    case OP_Relu: sb_printf(b, "(%s > 0.0f ? %s : 0.0f)", a, a); break;
    case OP_Gelu: sb_printf(b, "0.5f * %s * (1.0f + erff(%s * 0.70710678118654752f))", a, a); break;
    /* the broadcast of Expand is in the load strides, so all three pass their operand through */
    /* float32 -> bf16 (fusion takes no other Cast): the value rounded as bf16 stores it */
    case OP_Cast: sb_printf(b, "sslc_bf16r(%s)", a); break;
    case OP_Identity:
    case OP_StopGradient:
    case OP_Expand: sb_printf(b, "%s", a); break;
    default:
        /* passing an unknown op's operand through would compute a wrong value without a word */
        if (e->op >= 0 && e->op < OP__COUNT)
            snprintf(err, IR_ERRLEN, "expression %d: no kernel code for op %s", x, ir_optable[e->op]->name);
        else
            snprintf(err, IR_ERRLEN, "expression %d: op %d is out of range", x, e->op);
        return -1;
    }
    return 0;
}

int kir_value_c(strbuf *b, const kir *k, int x, const char *full_index, char *err) {
    const kx_expr *e = &k->exprs[x];
    switch (e->kind) {
    case KX_LOAD: {
        const k_load *ld = &k->loads[e->load];
        if (ld->scalar)
            sb_printf(b, "L%d[0]", e->load);
        else if (ld->level == LV_OUTER)
            sb_printf(b, "L%d[o]", e->load);
        else
            sb_printf(b, "L%d[%s%d]", e->load, full_index, e->load);
        return 0;
    }
    case KX_CONST: sb_printf(b, "(float)%.17g", e->c); return 0;
    case KX_RED: sb_printf(b, "(float)r%d", e->red); return 0;
    case KX_UNARY:
    case KX_BINARY: return kir_expr_c(b, k, x, err);
    }
    snprintf(err, IR_ERRLEN, "expression %d: unknown kind %d", x, (int)e->kind);
    return -1;
}

static int emit_value(strbuf *b, const kir *k, int x, const char *ofs_prefix, char *err) {
    sb_printf(b, "        const float e%d = ", x);
    if (kir_value_c(b, k, x, ofs_prefix, err)) return -1;
    sb_printf(b, ";\n");
    return 0;
}

/* The contiguous tail of the reduced index space: the trailing axes, all reduced, along which
 * every full-level load is affine in one combined index (stride[d] == step * elements of the
 * tail axes after d). Returns J, the tail's element count (1: none), and each load's step per
 * tail element. Inner loops then run as a loop over the head and a unit-step loop over the
 * tail, which the compiler vectorizes (no divisions in the offsets). */
static int64_t inner_tail(const kir *k, int64_t *step) {
    int64_t J = 1;
    for (int l = 0; l < k->nloads; l++) step[l] = 0;
    for (int d = k->dom.ndim - 1; d >= 0; d--) {
        if (!(k->redmask >> d & 1)) break;
        int ok = 1;
        if (J == 1) {
            for (int l = 0; l < k->nloads; l++) step[l] = k->loads[l].stride[d];
        } else if (k->dom.d[d] > 1) {
            for (int l = 0; l < k->nloads && ok; l++)
                if (k->loads[l].level == LV_FULL && !k->loads[l].scalar) ok = k->loads[l].stride[d] == step[l] * J;
        }
        if (!ok) break;
        J *= k->dom.d[d];
    }
    return J;
}

/* `for` over the inner index as head x tail: opens the head loop, defines the head offsets
 * g<l> (and gS) of the used full-level loads, opens the tail loop; loads then index
 * g<l> + ij * step. Closed by two "}". */
/* per-element offsets f<l> of the full-level loads the marked expressions read, at index i */
static void emit_full_offsets(strbuf *b, const kir *k, const unsigned char *mark, const int64_t *ipitch) {
    for (int l = 0; l < k->nloads; l++) {
        int used = 0;
        for (int x = 0; x < k->nexprs; x++) used |= mark[x] && k->exprs[x].kind == KX_LOAD && k->exprs[x].load == l;
        if (!used || k->loads[l].level != LV_FULL) continue;
        sb_printf(b, "        const int64_t f%d = ob%d + ", l, l);
        kir_offset_expr(b, k, k->loads[l].stride, 1, "i", ipitch);
        sb_printf(b, ";\n");
    }
}

/* the tail loop of open_split_loop, inside a head loop that defines iB */
static void open_tail_loop(strbuf *b, const kir *k, const unsigned char *mark, int64_t J, const int64_t *ipitch,
                           const int64_t *step, int store, const char *simd);

static void open_split_loop(strbuf *b, const kir *k, const unsigned char *mark, int64_t I, int64_t J,
                            const int64_t *ipitch, const int64_t *step, int store, const char *simd) {
    sb_printf(b, "        for (int64_t ib = 0; ib < %lldLL; ib++) {\n", (long long)(I / J));
    sb_printf(b, "        const int64_t iB = ib * %lldLL;\n", (long long)J);
    open_tail_loop(b, k, mark, J, ipitch, step, store, simd);
}

static void open_tail_loop(strbuf *b, const kir *k, const unsigned char *mark, int64_t J, const int64_t *ipitch,
                           const int64_t *step, int store, const char *simd) {
    int64_t contig[IR_MAX_DIMS];
    kir_contig_strides(k, contig);
    for (int l = 0; l < k->nloads; l++) {
        int used = 0;
        for (int x = 0; x < k->nexprs; x++) used |= mark[x] && k->exprs[x].kind == KX_LOAD && k->exprs[x].load == l;
        if (!used || k->loads[l].level != LV_FULL) continue;
        sb_printf(b, "        const int64_t g%d = ob%d + ", l, l);
        kir_offset_expr(b, k, k->loads[l].stride, 1, "iB", ipitch);
        sb_printf(b, ";\n");
    }
    if (store) {
        sb_printf(b, "        const int64_t gS = obS + ");
        kir_offset_expr(b, k, contig, 1, "iB", ipitch);
        sb_printf(b, ";\n");
    }
    sb_printf(b, "%s", simd);
    sb_printf(b, "        for (int64_t ij = 0; ij < %lldLL; ij++) {\n", (long long)J);
    for (int l = 0; l < k->nloads; l++) {
        int used = 0;
        for (int x = 0; x < k->nexprs; x++) used |= mark[x] && k->exprs[x].kind == KX_LOAD && k->exprs[x].load == l;
        if (!used || k->loads[l].level != LV_FULL) continue;
        sb_printf(b, "        const int64_t f%d = g%d + ij * %lldLL;\n", l, l, (long long)step[l]);
    }
    if (store) sb_printf(b, "        const int64_t fS = gS + ij;\n");
}

/* flat: one loop over the domain */
static int emit_flat(strbuf *b, const kir *k, unsigned char *mark, char *err) {
    int64_t opitch[IR_MAX_DIMS] = {0}, ipitch[IR_MAX_DIMS] = {0}, contig[IR_MAX_DIMS];
    kir_pitches(k, opitch, ipitch);
    kir_contig_strides(k, contig);
    int64_t N = ir_numel(&k->dom);
    sb_printf(b, "#pragma omp parallel for schedule(static) if (%lldLL > 32768)\n", (long long)N);
    sb_printf(b, "    for (int64_t i = 0; i < %lldLL; i++) {\n", (long long)N);
    for (int s = 0; s < k->nstores; s++) kir_need(k, k->stores[s].expr, mark);
    for (int l = 0; l < k->nloads; l++) {
        int used = 0;
        for (int x = 0; x < k->nexprs; x++) used |= mark[x] && k->exprs[x].kind == KX_LOAD && k->exprs[x].load == l;
        if (!used || k->loads[l].level == LV_OUTER) continue;
        int same = 1;
        for (int d = 0; d < k->dom.ndim; d++) same &= k->loads[l].stride[d] == contig[d] || k->dom.d[d] == 1;
        sb_printf(b, "        const int64_t f%d = ", l);
        if (same)
            sb_printf(b, "i");
        else
            kir_offset_expr(b, k, k->loads[l].stride, 0, "i", opitch);
        sb_printf(b, ";\n");
    }
    for (int x = 0; x < k->nexprs; x++)
        if (mark[x] && k->exprs[x].kind != KX_RED && emit_value(b, k, x, "f", err)) return -1;
    for (int s = 0; s < k->nstores; s++) sb_printf(b, "        S%d[i] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
    sb_printf(b, "    }\n}\n");
    return 0;
}

/* The pragma over a tail loop of phase p: sums vectorize (reassociated, still in double); a max
 * keeps its order, so a phase with one gets none (an empty strbuf) */
static strbuf phase_simd(const kir *k, int p) {
    strbuf simd = {0};
    int sums = 1;
    for (int r = 0; r < k->nreds; r++)
        if (k->reds[r].phase == p) sums &= !k->reds[r].is_max;
    if (sums) {
        sb_printf(&simd, "#pragma omp simd");
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) sb_printf(&simd, " reduction(+:r%d)", r);
        sb_printf(&simd, "\n");
    }
    return simd;
}

/* each reduction of phase p takes the current element (a max also takes a NaN) */
static void emit_accumulate(strbuf *b, const kir *k, int p) {
    for (int r = 0; r < k->nreds; r++)
        if (k->reds[r].phase == p) {
            int ex = k->reds[r].expr;
            if (k->reds[r].is_max)
                sb_printf(b, "        if (e%d > r%d || e%d != e%d) r%d = e%d;\n", ex, r, ex, ex, r, ex);
            else
                sb_printf(b, "        r%d += (double)e%d;\n", r, ex);
        }
}

/* A tiled reduction, for reduced tails too short to stream (J elements: BatchNorm over 4x4 or
 * 7x7 pixels): the outer loop takes T consecutive outer indices at a time and, for each head
 * index, runs the T tails one after another, so the loads sweep T x J neighbouring elements
 * (for NCHW BatchNorm: T channels of one image) instead of J at a stride of the whole plane.
 * Measured 3-5 GB/s for these kernels untiled (each tail a fresh page, latency-bound). Each
 * outer index keeps its own accumulators (R<r>[t]) and its outer values (E<x>[t]), and its tails
 * run the same code in the same order as untiled, so the results are the same bits. */
static void tile_prologue(strbuf *b, const kir *k, const int *ready, int64_t T, int reds_before, int outer_upto) {
    int64_t opitch[IR_MAX_DIMS] = {0}, ipitch[IR_MAX_DIMS] = {0}, contig[IR_MAX_DIMS];
    kir_pitches(k, opitch, ipitch);
    kir_contig_strides(k, contig);
    sb_printf(b, "        for (int64_t t = 0; t < %lldLL; t++) {\n", (long long)T);
    sb_printf(b, "        const int64_t o = ot * %lldLL + t;\n", (long long)T);
    kir_outer_offsets(b, k, contig, opitch);
    for (int r = 0; r < k->nreds; r++)
        if (k->reds[r].phase < reds_before) sb_printf(b, "        const double r%d = R%d[t];\n", r, r);
    for (int x = 0; x < k->nexprs; x++)
        if (k->exprs[x].level == LV_OUTER && ready[x] <= outer_upto) sb_printf(b, "        const float e%d = E%d[t];\n", x, x);
}

static int emit_reduction_tiled(strbuf *b, const kir *k, unsigned char *mark, int *ready, int64_t T, int64_t J,
                                const int64_t *tstep, char *err) {
    int64_t opitch[IR_MAX_DIMS] = {0}, ipitch[IR_MAX_DIMS] = {0}; /* the tails' offsets use ipitch */
    kir_pitches(k, opitch, ipitch);
    int64_t O = kir_outer(k), I = kir_inner(k);
    sb_printf(b, "#pragma omp parallel for schedule(static) if (%lldLL > 16384)\n", (long long)(O * I));
    sb_printf(b, "    for (int64_t ot = 0; ot < %lldLL; ot++) {\n", (long long)(O / T));
    for (int r = 0; r < k->nreds; r++) sb_printf(b, "        double R%d[%lldLL];\n", r, (long long)T);
    for (int x = 0; x < k->nexprs; x++)
        if (k->exprs[x].level == LV_OUTER) sb_printf(b, "        float E%d[%lldLL];\n", x, (long long)T);
    for (int p = 0; p <= k->nphases; p++) {
        /* outer-level expressions that become ready before phase p, per outer index */
        int any = 0;
        for (int x = 0; x < k->nexprs; x++) any |= k->exprs[x].level == LV_OUTER && ready[x] == p;
        if (any) {
            tile_prologue(b, k, ready, T, p, p - 1);
            for (int x = 0; x < k->nexprs; x++)
                if (k->exprs[x].level == LV_OUTER && ready[x] == p) {
                    if (emit_value(b, k, x, "", err)) return -1;
                    sb_printf(b, "        E%d[t] = e%d;\n", x, x);
                }
            sb_printf(b, "        }\n");
        }
        if (p == k->nphases) break;
        any = 0;
        memset(mark, 0, (size_t)k->nexprs);
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) {
                sb_printf(b, "        for (int64_t t = 0; t < %lldLL; t++) R%d[t] = %s;\n", (long long)T, r,
                          k->reds[r].is_max ? "-INFINITY" : "0.0");
                kir_need(k, k->reds[r].expr, mark);
                any = 1;
            }
        if (!any) continue;
        strbuf simd = phase_simd(k, p);
        sb_printf(b, "        for (int64_t ib = 0; ib < %lldLL; ib++) {\n", (long long)(I / J));
        sb_printf(b, "        const int64_t iB = ib * %lldLL;\n", (long long)J);
        tile_prologue(b, k, ready, T, p, p);
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) sb_printf(b, "        double r%d = R%d[t];\n", r, r);
        open_tail_loop(b, k, mark, J, ipitch, tstep, 0, simd.s ? simd.s : "");
        free(simd.s);
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && k->exprs[x].level == LV_FULL && emit_value(b, k, x, "f", err)) return -1;
        emit_accumulate(b, k, p);
        sb_printf(b, "        }\n"); /* the tail */
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) sb_printf(b, "        R%d[t] = r%d;\n", r, r);
        sb_printf(b, "        }\n        }\n"); /* t, ib */
    }
    int outer_stores = 0, full_stores = 0;
    for (int s = 0; s < k->nstores; s++) {
        if (k->exprs[k->stores[s].expr].level == LV_OUTER)
            outer_stores = 1;
        else
            full_stores = 1;
    }
    if (outer_stores) {
        tile_prologue(b, k, ready, T, k->nphases, k->nphases);
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_OUTER)
                sb_printf(b, "        S%d[o] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        sb_printf(b, "        }\n");
    }
    if (full_stores) {
        memset(mark, 0, (size_t)k->nexprs);
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_FULL) kir_need(k, k->stores[s].expr, mark);
        sb_printf(b, "        for (int64_t ib = 0; ib < %lldLL; ib++) {\n", (long long)(I / J));
        sb_printf(b, "        const int64_t iB = ib * %lldLL;\n", (long long)J);
        tile_prologue(b, k, ready, T, k->nphases, k->nphases);
        open_tail_loop(b, k, mark, J, ipitch, tstep, 1, "#pragma omp simd\n");
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && k->exprs[x].level == LV_FULL && emit_value(b, k, x, "f", err)) return -1;
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_FULL)
                sb_printf(b, "        S%d[fS] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        sb_printf(b, "        }\n        }\n        }\n"); /* tail, t, ib */
    }
    sb_printf(b, "    }\n}\n");
    return 0;
}

/* the tile of emit_reduction_tiled for a tail of J elements over O outer indices: enough
 * neighbouring tails for 256 elements, at most 16, dividing O; 1 (no tiling) for long tails */
static int64_t reduction_tile(int64_t O, int64_t J) {
    if (J >= 64) return 1;
    int64_t T = 16;
    while (T > 1 && (T * J / 2 >= 256 || O % T)) T /= 2;
    return T;
}

/* reductions: outer loop; phases over the inner index; outer expressions; apply loop */
static int emit_reduction(strbuf *b, const kir *k, unsigned char *mark, int *ready, char *err) {
    int64_t opitch[IR_MAX_DIMS] = {0}, ipitch[IR_MAX_DIMS] = {0}, contig[IR_MAX_DIMS];
    kir_pitches(k, opitch, ipitch);
    kir_contig_strides(k, contig);
    int64_t O = kir_outer(k), I = kir_inner(k);
    int par_inner = O < 4;
    int64_t tstep[KIR_MAX_LOADS], J = inner_tail(k, tstep);
    int split = !par_inner && J > 1;
    kir_ready(k, ready);
    int64_t T = split ? reduction_tile(O, J) : 1;
    if (T > 1) return emit_reduction_tiled(b, k, mark, ready, T, J, tstep, err);
    if (!par_inner) sb_printf(b, "#pragma omp parallel for schedule(static) if (%lldLL > 16384)\n", (long long)(O * I));
    sb_printf(b, "    for (int64_t o = 0; o < %lldLL; o++) {\n", (long long)O);
    kir_outer_offsets(b, k, contig, opitch);
    for (int p = 0; p <= k->nphases; p++) {
        /* outer-level expressions that become ready before phase p */
        for (int x = 0; x < k->nexprs; x++) {
            const kx_expr *e = &k->exprs[x];
            if (e->level == LV_OUTER && ready[x] == p && emit_value(b, k, x, "", err)) return -1;
        }
        if (p == k->nphases) break;
        int any = 0;
        memset(mark, 0, (size_t)k->nexprs);
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) {
                sb_printf(b, "        double r%d = %s;\n", r, k->reds[r].is_max ? "-INFINITY" : "0.0");
                kir_need(k, k->reds[r].expr, mark);
                any = 1;
            }
        if (!any) continue;
        if (par_inner) {
            sb_printf(b, "#pragma omp parallel for schedule(static) if (%lldLL > 16384)", (long long)I);
            for (int r = 0; r < k->nreds; r++)
                if (k->reds[r].phase == p) sb_printf(b, " reduction(%s:r%d)", k->reds[r].is_max ? "max" : "+", r);
            sb_printf(b, "\n");
        }
        if (split) {
            strbuf simd = phase_simd(k, p);
            open_split_loop(b, k, mark, I, J, ipitch, tstep, 0, simd.s ? simd.s : "");
            free(simd.s);
        } else {
            sb_printf(b, "        for (int64_t i = 0; i < %lldLL; i++) {\n", (long long)I);
            emit_full_offsets(b, k, mark, ipitch);
        }
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && k->exprs[x].level == LV_FULL && emit_value(b, k, x, "f", err)) return -1;
        emit_accumulate(b, k, p);
        sb_printf(b, split ? "        }\n        }\n" : "        }\n");
    }
    int full_stores = 0;
    for (int s = 0; s < k->nstores; s++) {
        if (k->exprs[k->stores[s].expr].level == LV_OUTER)
            sb_printf(b, "        S%d[o] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        else
            full_stores = 1;
    }
    if (full_stores) {
        memset(mark, 0, (size_t)k->nexprs);
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_FULL) kir_need(k, k->stores[s].expr, mark);
        if (par_inner) sb_printf(b, "#pragma omp parallel for schedule(static) if (%lldLL > 16384)\n", (long long)I);
        if (split) {
            open_split_loop(b, k, mark, I, J, ipitch, tstep, 1, "#pragma omp simd\n");
        } else {
            sb_printf(b, "        for (int64_t i = 0; i < %lldLL; i++) {\n", (long long)I);
            emit_full_offsets(b, k, mark, ipitch);
            sb_printf(b, "        const int64_t fS = obS + ");
            kir_offset_expr(b, k, contig, 1, "i", ipitch);
            sb_printf(b, ";\n");
        }
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && k->exprs[x].level == LV_FULL && emit_value(b, k, x, "f", err)) return -1;
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_FULL)
                    sb_printf(b, "        S%d[fS] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        sb_printf(b, split ? "        }\n        }\n" : "        }\n");
    }
    sb_printf(b, "    }\n}\n");
    return 0;
}

char *kir_emit_c(const kir *k, const char *name, char *err) {
    strbuf b = {0};
    sb_printf(&b, "void %s(void **args) {\n", name);
    if (k->counter_by) {
        sb_printf(&b, "    for (int64_t i = 0; i < %lldLL; i++) ((int64_t *)args[1])[i] = ((const int64_t *)args[0])[i] + %lldLL;\n}\n",
                  (long long)ir_numel(&k->dom), (long long)k->counter_by);
        return b.s;
    }
    for (int l = 0; l < k->nloads; l++) sb_printf(&b, "    const float *restrict L%d = args[%d];\n", l, l);
    for (int s = 0; s < k->nstores; s++)
        sb_printf(&b, "    %s *restrict S%d = args[%d];\n", kir_store_bf16(k, s) ? "uint16_t" : "float", s, k->nloads + s);
    unsigned char *mark = calloc((size_t)k->nexprs + 1, 1);
    int *ready = calloc((size_t)k->nexprs + 1, sizeof(int));
    int rc = -1;
    if (!mark || !ready)
        snprintf(err, IR_ERRLEN, "out of memory");
    else
        rc = k->redmask ? emit_reduction(&b, k, mark, ready, err) : emit_flat(&b, k, mark, err);
    free(ready);
    free(mark);
    if (rc) {
        free(b.s);
        emit_failed(name, err);
        return NULL;
    }
    return b.s;
}

void emit_failed(const char *name, char *err) {
    char why[IR_ERRLEN];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, IR_ERRLEN, "kernel %.40s: %.440s", name, why);
}

char *emit_unit(const char *prelude, const char *const *kernel_src, int n) {
    size_t lp = strlen(prelude), len = lp + 1;
    for (int i = 0; i < n; i++) len += strlen(kernel_src[i]);
    char *u = malloc(len), *q = u;
    if (!u) return NULL;
    memcpy(q, prelude, lp);
    q += lp;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(kernel_src[i]);
        memcpy(q, kernel_src[i], k);
        q += k;
    }
    *q = 0;
    return u;
}

char *emit_plan_unit(const fused_plan *fp, const char *prelude,
                     char *(*kernel_source)(const fused_plan *fp, int i, char *err), char *err) {
    char **src = calloc((size_t)fp->nkernels + 1, sizeof *src);
    char *u = NULL;
    int ok = src != NULL;
    if (!ok) snprintf(err, IR_ERRLEN, "out of memory");
    for (int i = 0; ok && i < fp->nkernels; i++) ok = (src[i] = kernel_source(fp, i, err)) != NULL;
    if (ok && !(u = emit_unit(prelude, (const char *const *)src, fp->nkernels))) snprintf(err, IR_ERRLEN, "out of memory");
    for (int i = 0; src && i < fp->nkernels; i++) free(src[i]);
    free(src);
    return u;
}
