/* Kernel IR -> CUDA C for NVRTC. Flat kernels: a grid-stride loop over the domain. Reduction
 * kernels: one block per outer index (grid-stride over outer indices); each phase reduces over
 * the inner index across the block's threads in shared memory (double accumulators, as the C
 * emitter), then the threads apply over the inner index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

#define CUDA_BLOCK 256


static int value(strbuf *b, const kir *k, int x, const char *pre, char *err) {
    sb_printf(b, "%sconst float e%d = ", pre, x);
    if (kir_value_c(b, k, x, "f", err)) return -1;
    sb_printf(b, ";\n");
    return 0;
}

static void params(strbuf *b, const kir *k) {
    if (k->counter_by) {
        sb_printf(b, "const int64_t* __restrict__ L0, int64_t* __restrict__ S0");
        return;
    }
    for (int l = 0; l < k->nloads; l++) sb_printf(b, "%sconst float* __restrict__ L%d", l ? ", " : "", l);
    for (int s = 0; s < k->nstores; s++) sb_printf(b, "%s%s* __restrict__ S%d", (k->nloads || s) ? ", " : "", kir_store_bf16(k, s) ? "unsigned short" : "float", s);
}

static void full_offsets(strbuf *b, const kir *k, const unsigned char *mark, int reduced, const int64_t *pitch,
                         const char *pre) {
    for (int l = 0; l < k->nloads; l++) {
        int used = 0;
        for (int x = 0; x < k->nexprs; x++) used |= mark[x] && k->exprs[x].kind == KX_LOAD && k->exprs[x].load == l;
        if (!used || k->loads[l].level != LV_FULL) continue;
        if (reduced)
            sb_printf(b, "%sconst int64_t f%d = ob%d + ", pre, l, l);
        else
            sb_printf(b, "%sconst int64_t f%d = ", pre, l);
        kir_offset_expr(b, k, k->loads[l].stride, reduced, "i", pitch);
        sb_printf(b, ";\n");
    }
}

void kir_cuda_launch(const kir *k, int64_t *grid, int *block) {
    *block = CUDA_BLOCK;
    int64_t n = k->redmask ? kir_outer(k) : (ir_numel(&k->dom) + CUDA_BLOCK - 1) / CUDA_BLOCK;
    if (n < 1) n = 1;
    *grid = n > 65535 * 16 ? 65535 * 16 : n;
}

char *kir_emit_cuda(const kir *k, const char *name, char *err) {
    strbuf b = {0};
    int64_t opitch[IR_MAX_DIMS] = {0}, ipitch[IR_MAX_DIMS] = {0}, contig[IR_MAX_DIMS];
    kir_pitches(k, opitch, ipitch);
    kir_contig_strides(k, contig);
    unsigned char *mark = calloc((size_t)k->nexprs + 1, 1);
    int *ready = calloc((size_t)k->nexprs + 1, sizeof(int));
    if (!mark || !ready) {
        snprintf(err, IR_ERRLEN, "out of memory");
        goto fail;
    }
    sb_printf(&b, "extern \"C\" __global__ void __launch_bounds__(%d) %s(", CUDA_BLOCK, name);
    params(&b, k);
    sb_printf(&b, ") {\n");
    if (k->counter_by) {
        sb_printf(&b, "    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < %lldLL; i += (int64_t)gridDim.x * blockDim.x) "
                      "S0[i] = L0[i] + %lldLL;\n}\n", (long long)ir_numel(&k->dom), (long long)k->counter_by);
        goto done;
    }
    if (!k->redmask) {
        int64_t N = ir_numel(&k->dom);
        sb_printf(&b, "    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < %lldLL; "
                      "i += (int64_t)gridDim.x * blockDim.x) {\n", (long long)N);
        for (int s = 0; s < k->nstores; s++) kir_need(k, k->stores[s].expr, mark);
        full_offsets(&b, k, mark, 0, opitch, "        ");
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && value(&b, k, x, "        ", err)) goto fail;
        for (int s = 0; s < k->nstores; s++) sb_printf(&b, "        S%d[i] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        sb_printf(&b, "    }\n}\n");
        goto done;
    }
    int64_t O = kir_outer(k), I = kir_inner(k);
    kir_ready(k, ready);
    sb_printf(&b, "    __shared__ double sh[%d];\n", CUDA_BLOCK);
    sb_printf(&b, "    for (int64_t o = blockIdx.x; o < %lldLL; o += gridDim.x) {\n", (long long)O);
    kir_outer_offsets(&b, k, contig, opitch);
    for (int p = 0; p <= k->nphases; p++) {
        for (int x = 0; x < k->nexprs; x++)
            if (k->exprs[x].level == LV_OUTER && ready[x] == p && value(&b, k, x, "        ", err)) goto fail;
        if (p == k->nphases) break;
        memset(mark, 0, (size_t)k->nexprs);
        int any = 0;
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) {
                sb_printf(&b, "        double r%d = %s;\n", r, k->reds[r].is_max ? "-INFINITY" : "0.0");
                kir_need(k, k->reds[r].expr, mark);
                any = 1;
            }
        if (!any) continue;
        sb_printf(&b, "        for (int64_t i = threadIdx.x; i < %lldLL; i += blockDim.x) {\n", (long long)I);
        full_offsets(&b, k, mark, 1, ipitch, "            ");
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && k->exprs[x].level == LV_FULL && value(&b, k, x, "            ", err)) goto fail;
        for (int r = 0; r < k->nreds; r++)
            if (k->reds[r].phase == p) {
                int ex = k->reds[r].expr;
                if (k->reds[r].is_max)
                    sb_printf(&b, "            if (e%d > r%d || e%d != e%d) r%d = e%d;\n", ex, r, ex, ex, r, ex);
                else
                    sb_printf(&b, "            r%d += (double)e%d;\n", r, ex);
            }
        sb_printf(&b, "        }\n");
        /* block reductions, one after another through the shared buffer */
        for (int r = 0; r < k->nreds; r++) {
            if (k->reds[r].phase != p) continue;
            sb_printf(&b, "        sh[threadIdx.x] = r%d;\n        __syncthreads();\n", r);
            sb_printf(&b, "        for (int s = blockDim.x / 2; s > 0; s >>= 1) {\n");
            sb_printf(&b, "            if (threadIdx.x < s) { double a = sh[threadIdx.x], c = sh[threadIdx.x + s]; ");
            if (k->reds[r].is_max)
                sb_printf(&b, "sh[threadIdx.x] = (c > a || c != c) ? c : a; }\n");
            else
                sb_printf(&b, "sh[threadIdx.x] = a + c; }\n");
            sb_printf(&b, "            __syncthreads();\n        }\n");
            sb_printf(&b, "        r%d = sh[0];\n        __syncthreads();\n", r);
        }
    }
    int full_stores = 0;
    for (int s = 0; s < k->nstores; s++) {
        if (k->exprs[k->stores[s].expr].level == LV_OUTER)
            sb_printf(&b, "        if (threadIdx.x == 0) S%d[o] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        else
            full_stores = 1;
    }
    if (full_stores) {
        memset(mark, 0, (size_t)k->nexprs);
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_FULL) kir_need(k, k->stores[s].expr, mark);
        sb_printf(&b, "        for (int64_t i = threadIdx.x; i < %lldLL; i += blockDim.x) {\n", (long long)I);
        full_offsets(&b, k, mark, 1, ipitch, "            ");
        sb_printf(&b, "            const int64_t fS = obS + ");
        kir_offset_expr(&b, k, contig, 1, "i", ipitch);
        sb_printf(&b, ";\n");
        for (int x = 0; x < k->nexprs; x++)
            if (mark[x] && k->exprs[x].level == LV_FULL && value(&b, k, x, "            ", err)) goto fail;
        for (int s = 0; s < k->nstores; s++)
            if (k->exprs[k->stores[s].expr].level == LV_FULL)
                sb_printf(&b, "            S%d[fS] = %s(e%d);\n", s, KIR_STORE_CONV(k, s), k->stores[s].expr);
        sb_printf(&b, "        }\n");
    }
    sb_printf(&b, "        __syncthreads();\n    }\n}\n");
done:
    free(ready);
    free(mark);
    return b.s;
fail:
    free(ready);
    free(mark);
    free(b.s);
    emit_failed(name, err);
    return NULL;
}
