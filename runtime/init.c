/* Parameter and state initialization from the recipes recorded in the graph. */
#include "init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#include <math.h>

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* normal draws, then each vector along axis 0 (x[:, j] of x viewed as [d0, rest]) scaled to
 * unit L2 norm, as F.normalize(x, dim=0) with its 1e-12 floor; rows: each vector along the last
 * axis (x viewed as [rest, d0] with d0 the last dimension), as F.normalize(x, dim=-1) */
static int init_normal_l2(const ir_value *val, sslc_rng *r, float *dst, int rows, char *err) {
    int64_t n = ir_numel(&val->shape);
    int64_t d0 = val->shape.ndim ? val->shape.d[rows ? val->shape.ndim - 1 : 0] : 1, rest = d0 ? n / d0 : 0;
    /* element d of vector j */
    int64_t sd = rows ? 1 : rest, sj = rows ? d0 : 1;
    double *x = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!x) {
        snprintf(err, IR_ERRLEN, "out of memory initializing '%s'", val->name);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) x[i] = val->init.a + val->init.b * rng_normal(r);
    for (int64_t j = 0; j < rest; j++) {
        double ss = 0;
        for (int64_t d = 0; d < d0; d++) ss += x[d * sd + j * sj] * x[d * sd + j * sj];
        double norm = fmax(sqrt(ss), 1e-12);
        for (int64_t d = 0; d < d0; d++) dst[d * sd + j * sj] = (float)(x[d * sd + j * sj] / norm);
    }
    free(x);
    return 0;
}

int init_value_f32(const ir_graph *g, int v, uint64_t seed, float *dst, char *err) {
    const ir_value *val = &g->vals[v];
    int64_t n = ir_numel(&val->shape);
    sslc_rng r;
    rng_seed(&r, seed, name_hash(val->name));
    const ir_init *in = &val->init;
    if (in->kind == INIT_NORMAL_L2 || in->kind == INIT_NORMAL_L2_ROWS)
        return init_normal_l2(val, &r, dst, in->kind == INIT_NORMAL_L2_ROWS, err);
    for (int64_t i = 0; i < n; i++) {
        double x = 0;
        switch (in->kind) {
        case INIT_NONE: x = 0; break;
        case INIT_CONST: x = in->a; break;
        case INIT_NORMAL: x = in->a + in->b * rng_normal(&r); break;
        case INIT_UNIFORM: x = in->a + (in->b - in->a) * rng_uniform(&r); break;
        case INIT_TRUNC_NORMAL: /* truncated at 2 std, as timm's trunc_normal_(std=...) */
            do x = rng_normal(&r);
            while (x < -2.0 || x > 2.0);
            x = in->a + in->b * x;
            break;
        case INIT_NORMAL_L2:
        case INIT_NORMAL_L2_ROWS: break; /* handled above */
        case INIT_DATA:
            if (!val->data || val->dtype != DT_F32) {
                snprintf(err, IR_ERRLEN, "'%s': data-initialized without f32 data", val->name);
                return -1;
            }
            memcpy(dst, val->data, (size_t)n * sizeof(float));
            return 0;
        case INIT_COPY:
            if (in->src < 0 || in->src >= g->nvals || ir_numel(&g->vals[in->src].shape) != n) {
                snprintf(err, IR_ERRLEN, "'%s': copy-initialized from an incompatible value", val->name);
                return -1;
            }
            return init_value_f32(g, in->src, seed, dst, err);
        }
        dst[i] = (float)x;
    }
    return 0;
}

int init_persistent(interp *it, uint64_t seed, char *err) {
    const ir_graph *g = it->g;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_PARAM && val->kind != VK_STATE) continue;
        int64_t n = ir_numel(&val->shape);
        if (val->dtype == DT_I64) { /* counters start at the recipe's constant */
            int64_t *d = interp_data(it, v);
            if (val->init.kind == INIT_DATA && val->data) {
                memcpy(d, val->data, (size_t)n * sizeof(int64_t));
                continue;
            }
            for (int64_t i = 0; i < n; i++) d[i] = (int64_t)val->init.a;
            continue;
        }
        float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!buf) {
            snprintf(err, IR_ERRLEN, "out of memory initializing '%s'", val->name);
            return -1;
        }
        int rc = init_value_f32(g, v, seed, buf, err);
        if (!rc) rc = interp_set_f32(it, v, buf, err);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}
