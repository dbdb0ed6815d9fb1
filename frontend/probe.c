#include "probe.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"
#include "../passes/autodiff.h"
#include "../runtime/featnorm.h"
#include "../runtime/loader.h"

probe_opts probe_defaults(void) {
    probe_opts o = {.epochs = 30, .batch = 256, .lr = 1e-3, .opt = opt_defaults(OPT_ADAMW), .device = ENGINE_CPU};
    o.opt.weight_decay = 5e-4;
    o.opt.exclude_no_decay = 1;
    return o;
}

int probe_build(ir_graph *g, int64_t batch, int64_t dim, int classes, const opt_config *opt, char *err) {
    int x = ir_input(g, "features", DT_F32, IR_SHAPE(batch, dim));
    int y = ir_input(g, "labels", DT_I64, IR_SHAPE(batch));
    ir_scope_push(g, "probe");
    /* zeros: the problem is convex, and the start needs no seed */
    int w = ir_param(g, "weight", IR_SHAPE(classes, dim), ir_init_const(0), 0);
    int b = ir_param(g, "bias", IR_SHAPE(classes), ir_init_const(0), VF_NO_DECAY);
    ir_scope_pop(g);
    int logits = ir_gemm(g, x, w, b, 0, 1, 1.0, 1.0);
    int loss = ir_softmax_ce(g, logits, y);
    if (g->failed || loss < 0) {
        snprintf(err, IR_ERRLEN, "linear probe graph: %.400s", g->err);
        return -1;
    }
    ir_set_name(g, loss, "loss");
    int params[2] = {w, b}, grads[2];
    if (autodiff(g, loss, params, 2, grads) || grads[0] < 0 || grads[1] < 0) {
        snprintf(err, IR_ERRLEN, "linear probe autodiff: %.400s", g->failed ? g->err : "no gradient");
        return -1;
    }
    ir_add_output(g, loss);
    if (optimizer_append(g, opt, params, grads, 2)) {
        snprintf(err, IR_ERRLEN, "linear probe optimizer: %.400s", g->err);
        return -1;
    }
    return 0;
}

void probe_free(probe_model *m) {
    free(m->mean);
    free(m->std);
    free(m->w);
    free(m->b);
    memset(m, 0, sizeof *m);
}

/* standardized copy of x */
static float *standardized(const probe_model *m, const float *x, int64_t n) {
    float *z = malloc((size_t)(n ? n : 1) * (size_t)m->dim * sizeof *z);
    if (!z) return NULL;
    memcpy(z, x, (size_t)n * (size_t)m->dim * sizeof *z);
    feat_standardize(z, n, m->dim, m->mean, m->std);
    return z;
}

int probe_fit(const probe_opts *o, const float *x, const int64_t *y, int64_t n, int64_t dim, int classes,
              probe_model *m, char *err) {
    memset(m, 0, sizeof *m);
    if (n < 1 || dim < 1 || classes < 2) {
        snprintf(err, IR_ERRLEN, "linear probe: needs samples and at least 2 classes (got %lld samples of %lld "
                 "features, %d classes)", (long long)n, (long long)dim, classes);
        return -1;
    }
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0)) {
        snprintf(err, IR_ERRLEN, "linear probe: epochs, batch and lr must be positive");
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes) {
            snprintf(err, IR_ERRLEN, "linear probe: label %lld of sample %lld is not in [0, %d)", (long long)y[i],
                     (long long)i, classes);
            return -1;
        }
    ir_graph g;
    ir_graph_init(&g);
    engine *e = NULL;
    float *z = NULL;
    int64_t *perm = NULL;
    int rc = -1;
    m->dim = dim;
    m->classes = classes;
    m->mean = malloc((size_t)dim * sizeof *m->mean);
    m->std = malloc((size_t)dim * sizeof *m->std);
    m->w = malloc((size_t)classes * (size_t)dim * sizeof *m->w);
    m->b = malloc((size_t)classes * sizeof *m->b);
    perm = malloc((size_t)n * sizeof *perm);
    if (!m->mean || !m->std || !m->w || !m->b || !perm || feat_moments(x, n, dim, m->mean, m->std) ||
        !(z = standardized(m, x, n))) {
        snprintf(err, IR_ERRLEN, "linear probe: out of memory");
        goto out;
    }
    int64_t B = o->batch < n ? o->batch : n; /* the last partial batch of an epoch is dropped */
    if (probe_build(&g, B, dim, classes, &o->opt, err)) goto out;
    e = engine_new(o->device, &g, NULL, 0, err);
    if (!e || engine_init_persistent(e, o->seed, err)) goto out;
    int vx = engine_find(e, "features"), vy = engine_find(e, "labels"), vl = engine_find(e, "loss");
    int vw = engine_find(e, "probe.weight"), vb = engine_find(e, "probe.bias");
    if (vx < 0 || vy < 0 || vl < 0 || vw < 0 || vb < 0) {
        snprintf(err, IR_ERRLEN, "linear probe: the compiled graph lost a value");
        goto out;
    }
    float *ex = engine_data(e, vx);
    int64_t *ey = engine_data(e, vy);
    int64_t per_epoch = n / B, total = per_epoch * o->epochs, step = 0;
    double epoch_loss = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        loader_epoch_order(n, o->seed, ep, 1, perm);
        epoch_loss = 0;
        for (int64_t k = 0; k < per_epoch; k++) {
            step++;
            for (int64_t i = 0; i < B; i++) {
                int64_t r = perm[k * B + i];
                memcpy(ex + i * dim, z + r * dim, (size_t)dim * sizeof *ex);
                ey[i] = y[r];
            }
            /* cosine decay from lr to 0 over the whole run */
            double lr = 0.5 * o->lr * (1 + cos(M_PI * (double)(step - 1) / (double)total));
            opt_scalar sc[OPT_MAX_SCALARS];
            int ns = optimizer_step_inputs(&o->opt, step, lr, o->opt.weight_decay, sc);
            for (int s = 0; s < ns; s++) {
                int v = engine_find(e, sc[s].name);
                if (v >= 0 && engine_set_f32(e, v, &sc[s].value, err)) goto out;
            }
            float l;
            if (engine_run(e, err) || engine_get_f32(e, vl, &l, err)) goto out;
            if (!isfinite(l)) {
                snprintf(err, IR_ERRLEN, "linear probe: the loss became %g in epoch %d", (double)l, ep + 1);
                goto out;
            }
            epoch_loss += l;
        }
    }
    m->train_loss = epoch_loss / (double)per_epoch;
    if (engine_get_f32(e, vw, m->w, err) || engine_get_f32(e, vb, m->b, err)) goto out;
    if (o->verbose)
        fprintf(stderr, "linear probe: %d epochs of %lld steps (batch %lld), final train loss %.4f\n", o->epochs,
                (long long)per_epoch, (long long)B, m->train_loss);
    rc = 0;
out:
    if (rc) probe_free(m);
    engine_free(e);
    ir_graph_free(&g);
    free(z);
    free(perm);
    return rc;
}

int probe_predict(const probe_model *m, const float *x, int64_t n, int64_t *pred, char *err) {
    enum { CHUNK = 1024 };
    int64_t dim = m->dim, C = m->classes;
    float *z = malloc((size_t)CHUNK * (size_t)dim * sizeof *z), *logits = malloc((size_t)CHUNK * (size_t)C * sizeof *logits);
    if (!z || !logits) {
        free(z);
        free(logits);
        snprintf(err, IR_ERRLEN, "linear probe: out of memory");
        return -1;
    }
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        int64_t rows = n - i0 < CHUNK ? n - i0 : CHUNK;
        memcpy(z, x + i0 * dim, (size_t)rows * (size_t)dim * sizeof *z);
        feat_standardize(z, rows, dim, m->mean, m->std);
        for (int64_t r = 0; r < rows; r++) memcpy(logits + r * C, m->b, (size_t)C * sizeof *logits);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)C, (blasint)dim, 1.0f, z,
                    (blasint)dim, m->w, (blasint)dim, 1.0f, logits, (blasint)C);
        for (int64_t r = 0; r < rows; r++) {
            const float *l = logits + r * C;
            int64_t best = 0;
            for (int64_t c = 1; c < C; c++)
                if (l[c] > l[best]) best = c; /* ties: the lower class */
            pred[i0 + r] = best;
        }
    }
    free(z);
    free(logits);
    return 0;
}
