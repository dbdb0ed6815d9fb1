/* The kernel emitters refuse an op they have no code for, with a message naming the op and the
 * kernel, instead of passing its operand through (which would compute a wrong value silently);
 * the refusal reaches the callers that build whole units (jit_c_source, cuda_source, the JIT). */
#include <stdlib.h>
#include <string.h>

#include "codegen/emit.h"
#include "codegen/jit.h"
#include "codegen/nvrtc.h"
#include "optest.h"

/* S0 = op(L0) over 8 elements */
static void flat_kernel(kir *k, int op) {
    memset(k, 0, sizeof *k);
    k->dom.ndim = 1;
    k->dom.d[0] = 8;
    k->nloads = 1;
    k->loads[0] = (k_load){.value = 0, .stride = {1}, .level = LV_FULL};
    k->exprs[0] = (kx_expr){.kind = KX_LOAD, .level = LV_FULL, .load = 0};
    k->exprs[1] = (kx_expr){.kind = KX_UNARY, .level = LV_FULL, .op = op, .a = 0};
    k->nexprs = 2;
    k->stores[0] = (k_store){.value = 1, .expr = 1};
    k->nstores = 1;
}

/* S0[o] = op(sum_i L0[o, i]) over a 4 x 8 domain: the op sits at the outer level */
static void reduction_kernel(kir *k, int op) {
    memset(k, 0, sizeof *k);
    k->dom.ndim = 2;
    k->dom.d[0] = 4, k->dom.d[1] = 8;
    k->redmask = 2;
    k->nloads = 1;
    k->loads[0] = (k_load){.value = 0, .stride = {8, 1}, .level = LV_FULL};
    k->exprs[0] = (kx_expr){.kind = KX_LOAD, .level = LV_FULL, .load = 0};
    k->exprs[1] = (kx_expr){.kind = KX_RED, .level = LV_OUTER, .red = 0};
    k->exprs[2] = (kx_expr){.kind = KX_UNARY, .level = LV_OUTER, .op = op, .a = 1};
    k->nexprs = 3;
    k->reds[0] = (k_red){.is_max = 0, .expr = 0, .phase = 0};
    k->nreds = 1;
    k->nphases = 1;
    k->stores[0] = (k_store){.value = 1, .expr = 2};
    k->nstores = 1;
}

static int refused(char *src, const char *err, const char *what, const char *want) {
    CHECK(!src, "%s: emitted an unknown op:\n%s", what, src);
    CHECK(strstr(err, want), "%s: the message \"%s\" does not name %s", what, err, want);
    printf("ok   %s refused: %s\n", what, err);
    return 0;
}

static int emitted(char *src, const char *err, const char *what) {
    CHECK(src, "%s: %s", what, err);
    free(src);
    printf("ok   %s emitted\n", what);
    return 0;
}

int main(void) {
    kir *k = calloc(1, sizeof *k);
    char err[IR_ERRLEN];
    int rc = 0;
    CHECK(k, "out of memory");
    void (*shape[2])(kir *, int) = {flat_kernel, reduction_kernel};
    const char *shape_name[2] = {"flat", "reduction"};
    for (int s = 0; s < 2; s++) {
        char what[96];
        /* the identity-like ops are listed, so they still emit */
        shape[s](k, OP_StopGradient);
        snprintf(what, sizeof what, "%s StopGradient in C", shape_name[s]);
        rc |= emitted(kir_emit_c(k, "k0_s0", err), err, what);
        snprintf(what, sizeof what, "%s StopGradient in CUDA", shape_name[s]);
        rc |= emitted(kir_emit_cuda(k, "k0_s0", err), err, what);
        shape[s](k, OP_Conv);
        snprintf(what, sizeof what, "%s Conv in C", shape_name[s]);
        rc |= refused(kir_emit_c(k, "k0_s0", err), err, what, "op Conv");
        snprintf(what, sizeof what, "%s Conv in CUDA", shape_name[s]);
        rc |= refused(kir_emit_cuda(k, "k0_s0", err), err, what, "op Conv");
        shape[s](k, OP__COUNT + 3);
        snprintf(what, sizeof what, "%s out-of-range op in C", shape_name[s]);
        rc |= refused(kir_emit_c(k, "k0_s0", err), err, what, "out of range");
    }
    /* through a plan: the whole unit is refused and the message names the kernel */
    flat_kernel(k, OP_MaxPool);
    fused_plan fp = {.nkernels = 1, .kernels = &(fkernel){.nseg = 1, .seg = k}};
    rc |= refused(jit_c_source(&fp, err), err, "jit_c_source", "kernel k0_s0: expression 1: no kernel code for op MaxPool");
    rc |= refused(cuda_source(&fp, err), err, "cuda_source", "kernel k0_s0: expression 1: no kernel code for op MaxPool");
    jit_module jm;
    CHECK(jit_c_load(&fp, &jm, err) != 0, "jit_c_load loaded a kernel with an unknown op");
    CHECK(strstr(err, "op MaxPool"), "jit_c_load: the message \"%s\" does not name MaxPool", err);
    printf("ok   jit_c_load refused: %s\n", err);
    free(k);
    return rc;
}
