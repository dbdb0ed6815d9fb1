#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/builder.h"
#include "../ir/gemm.h"
#include "../passes/autodiff.h"
#include "../runtime/featnorm.h"
#include "../runtime/loader.h"

probe_opts probe_defaults(void) {
    probe_opts o = {.epochs = 30, .batch = 256, .lr = 8, .lr_relative = 1, .min_steps = 1000, .select_epochs = 10,
                    .opt = opt_defaults(OPT_SGD), .device = ENGINE_CPU, .nwd = 5, .wd = {0, 1e-4, 1e-3, 1e-2, 1e-1},
                    .val_fraction = 0.1};
    o.opt.nesterov = 1;
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

/* the compiled train graph and where its values live */
typedef struct {
    ir_graph g; /* the engine reads it */
    engine *e;
    int64_t B, dim;
    int vx, vy, vl, vw, vb;
    double lr; /* peak */
} trainer;

static int trainer_init(trainer *t, const probe_opts *o, int64_t B, int64_t dim, int classes, char *err) {
    memset(t, 0, sizeof *t);
    ir_graph_init(&t->g);
    t->B = B, t->dim = dim;
    if (probe_build(&t->g, B, dim, classes, &o->opt, err)) return -1;
    t->e = engine_new(o->device, 0, &t->g, NULL, 0, err);
    if (!t->e) return -1;
    t->vx = engine_find(t->e, "features"), t->vy = engine_find(t->e, "labels"), t->vl = engine_find(t->e, "loss");
    t->vw = engine_find(t->e, "probe.weight"), t->vb = engine_find(t->e, "probe.bias");
    if (t->vx < 0 || t->vy < 0 || t->vl < 0 || t->vw < 0 || t->vb < 0) {
        snprintf(err, IR_ERRLEN, "linear probe: the compiled graph lost a value");
        return -1;
    }
    return 0;
}

static void trainer_free(trainer *t) {
    engine_free(t->e);
    ir_graph_free(&t->g);
}

/* epochs of a fit: the wanted number, more for small data sets (min_steps) */
static int64_t fit_epochs(const probe_opts *o, int64_t per_epoch, int64_t wanted) {
    return per_epoch * wanted < o->min_steps ? (o->min_steps + per_epoch - 1) / per_epoch : wanted;
}

/* Fits from zero on the rows `rows` (nrows) of the standardized z with decay wd: epochs of
 * seeded shuffled mini-batches (the last partial batch dropped), cosine learning rate. */
static int train_rows(trainer *t, const probe_opts *o, int epochs_wanted, const float *z, const int64_t *y,
                      const int64_t *rows, int64_t nrows, double wd, float *w, float *b, double *loss, char *err) {
    int64_t B = t->B, dim = t->dim;
    int64_t *perm = malloc((size_t)nrows * sizeof *perm);
    /* each batch is gathered here, then uploaded */
    float *ex = malloc((size_t)(B * dim) * sizeof *ex);
    int64_t *ey = malloc((size_t)B * sizeof *ey);
    if (!perm || !ex || !ey) {
        free(perm), free(ex), free(ey);
        snprintf(err, IR_ERRLEN, "linear probe: out of memory");
        return -1;
    }
    int rc = -1;
    if (engine_init_persistent(t->e, o->seed, err)) goto out; /* zero weights, bias and momentum */
    int64_t per_epoch = nrows / B, epochs = fit_epochs(o, per_epoch, epochs_wanted), step = 0;
    int64_t total = per_epoch * epochs;
    double epoch_loss = 0;
    for (int64_t ep = 0; ep < epochs; ep++) {
        loader_epoch_order(nrows, o->seed, ep, 1, perm);
        epoch_loss = 0;
        for (int64_t k = 0; k < per_epoch; k++) {
            step++;
            for (int64_t i = 0; i < B; i++) {
                int64_t r = rows[perm[k * B + i]];
                memcpy(ex + i * dim, z + r * dim, (size_t)dim * sizeof *ex);
                ey[i] = y[r];
            }
            if (engine_upload(t->e, t->vx, ex, (size_t)(B * dim) * sizeof *ex, err) ||
                engine_upload(t->e, t->vy, ey, (size_t)B * sizeof *ey, err))
                goto out;
            /* cosine decay from lr to 0 over the whole fit */
            double lr = 0.5 * t->lr * (1 + cos(M_PI * (double)(step - 1) / (double)total));
            opt_scalar sc[OPT_MAX_SCALARS];
            int ns = optimizer_step_inputs(&o->opt, step, lr, wd, sc);
            for (int s = 0; s < ns; s++) {
                int v = engine_find(t->e, sc[s].name);
                if (v >= 0 && engine_set_f32(t->e, v, &sc[s].value, err)) goto out;
            }
            float l;
            if (engine_run(t->e, err) || engine_get_f32(t->e, t->vl, &l, err)) goto out;
            if (!isfinite(l)) {
                snprintf(err, IR_ERRLEN, "linear probe: the loss became %g in epoch %lld", (double)l, (long long)ep + 1);
                goto out;
            }
            epoch_loss += l;
        }
    }
    *loss = epoch_loss / (double)per_epoch;
    rc = engine_get_f32(t->e, t->vw, w, err) || engine_get_f32(t->e, t->vb, b, err) ? -1 : 0;
out:
    free(perm);
    free(ex);
    free(ey);
    return rc;
}

/* argmax of w z + b for rows of z (contiguous); logits: scratch of rows * classes */
static void classify(const float *w, const float *b, int64_t dim, int64_t C, const float *z, int64_t rows,
                     float *logits, int64_t *pred) {
    for (int64_t r = 0; r < rows; r++) memcpy(logits + r * C, b, (size_t)C * sizeof *logits);
    ref_gemm_f32(0, 1, rows, C, dim, 1.0f, z, dim, w, dim, 1.0f, logits, C);
    for (int64_t r = 0; r < rows; r++) {
        const float *l = logits + r * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (l[c] > l[best]) best = c; /* ties: the lower class */
        pred[r] = best;
    }
}

enum { PRED_CHUNK = 1024 };

/* top-1 (percent) on the rows `rows` of z */
static double rows_top1(const float *w, const float *b, int64_t dim, int64_t C, const float *z, const int64_t *y,
                        const int64_t *rows, int64_t nrows, float *buf, float *logits, int64_t *pred) {
    int64_t ok = 0;
    for (int64_t i0 = 0; i0 < nrows; i0 += PRED_CHUNK) {
        int64_t n = nrows - i0 < PRED_CHUNK ? nrows - i0 : PRED_CHUNK;
        for (int64_t i = 0; i < n; i++) memcpy(buf + i * dim, z + rows[i0 + i] * dim, (size_t)dim * sizeof *buf);
        classify(w, b, dim, C, buf, n, logits, pred);
        for (int64_t i = 0; i < n; i++) ok += pred[i] == y[rows[i0 + i]];
    }
    return nrows ? 100.0 * (double)ok / (double)nrows : 0;
}

/* Picks the weight decay on a validation split of z (see probe.h). */
static int select_wd(trainer *t, const probe_opts *o, const float *z, const int64_t *y, int64_t n, probe_model *m,
                     char *err) {
    int64_t nval = (int64_t)(o->val_fraction * (double)n + 0.5), ntr = n - nval;
    m->weight_decay = o->wd[0];
    if (o->nwd < 2 || nval < 1 || ntr < t->B) return 0; /* too little data to hold some out */
    int64_t dim = t->dim, C = m->classes;
    int64_t *rows = malloc((size_t)n * sizeof *rows), *pred = malloc(PRED_CHUNK * sizeof *pred);
    float *buf = malloc((size_t)PRED_CHUNK * (size_t)dim * sizeof *buf);
    float *logits = malloc((size_t)PRED_CHUNK * (size_t)C * sizeof *logits);
    int rc = -1;
    if (!rows || !pred || !buf || !logits) {
        snprintf(err, IR_ERRLEN, "linear probe: out of memory");
        goto out;
    }
    /* a seeded split, independent of the mini-batch orders (another stream of the same seed) */
    loader_epoch_order(n, o->seed ^ 0x76616c6964ULL, 0, 1, rows); /* "valid" */
    m->nval = nval;
    double best = -1;
    for (int i = 0; i < o->nwd; i++) {
        double loss;
        if (train_rows(t, o, o->select_epochs, z, y, rows + nval, ntr, o->wd[i], m->w, m->b, &loss, err)) goto out;
        m->val_top1[i] = rows_top1(m->w, m->b, dim, C, z, y, rows, nval, buf, logits, pred);
        if (m->val_top1[i] > best) best = m->val_top1[i], m->weight_decay = o->wd[i];
    }
    rc = 0;
out:
    free(rows);
    free(pred);
    free(buf);
    free(logits);
    return rc;
}

int probe_fit(const probe_opts *o, const float *x, const int64_t *y, int64_t n, int64_t dim, int classes,
              probe_model *m, char *err) {
    memset(m, 0, sizeof *m);
    if (n < 1 || dim < 1 || classes < 2) {
        snprintf(err, IR_ERRLEN, "linear probe: needs samples and at least 2 classes (got %lld samples of %lld "
                 "features, %d classes)", (long long)n, (long long)dim, classes);
        return -1;
    }
    if (o->epochs < 1 || o->select_epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->nwd < 1 || o->nwd > PROBE_MAX_WD ||
        !(o->val_fraction >= 0 && o->val_fraction < 1)) {
        snprintf(err, IR_ERRLEN, "linear probe: epochs, batch, lr and the weight-decay grid must be positive");
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes) {
            snprintf(err, IR_ERRLEN, "linear probe: label %lld of sample %lld is not in [0, %d)", (long long)y[i],
                     (long long)i, classes);
            return -1;
        }
    trainer t;
    memset(&t, 0, sizeof t);
    float *z = NULL;
    int64_t *all = NULL;
    int rc = -1;
    m->dim = dim;
    m->classes = classes;
    m->mean = malloc((size_t)dim * sizeof *m->mean);
    m->std = malloc((size_t)dim * sizeof *m->std);
    m->w = malloc((size_t)classes * (size_t)dim * sizeof *m->w);
    m->b = malloc((size_t)classes * sizeof *m->b);
    all = malloc((size_t)n * sizeof *all);
    if (!m->mean || !m->std || !m->w || !m->b || !all || feat_moments(x, n, dim, m->mean, m->std) ||
        !(z = standardized(m, x, n))) {
        snprintf(err, IR_ERRLEN, "linear probe: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) all[i] = i;
    /* one graph for every fit: the batch never exceeds the data */
    int64_t B = o->batch < n ? o->batch : n;
    if (o->nwd > 1 && o->val_fraction > 0) {
        int64_t ntr = n - (int64_t)(o->val_fraction * (double)n + 0.5);
        if (ntr >= 1 && ntr < B) B = ntr;
    }
    if (trainer_init(&t, o, B, dim, classes, err)) goto out;
    t.lr = o->lr;
    if (o->lr_relative) { /* the curvature on up to 10000 rows: 30 power iterations */
        double lam = feat_top_eigenvalue(z, n, dim, 10000, 30);
        t.lr = o->lr / (lam > 1e-6 ? lam : 1e-6);
    }
    if (select_wd(&t, o, z, y, n, m, err) ||
        train_rows(&t, o, o->epochs, z, y, all, n, m->weight_decay, m->w, m->b, &m->train_loss, err))
        goto out;
    m->epochs = fit_epochs(o, n / B, o->epochs);
    if (o->verbose) {
        fprintf(stderr, "linear probe: ");
        if (m->nval) {
            fprintf(stderr, "weight decay");
            for (int i = 0; i < o->nwd; i++) fprintf(stderr, " %g: %.2f %%", o->wd[i], m->val_top1[i]);
            fprintf(stderr, " on %lld held-out train samples -> %g; ", (long long)m->nval, m->weight_decay);
        }
        fprintf(stderr, "%lld epochs of %lld steps (batch %lld, lr %.3g%s), final train loss %.4f\n",
                (long long)m->epochs, (long long)(n / B), (long long)B, t.lr,
                o->lr_relative ? " = lr / top eigenvalue" : "", m->train_loss);
    }
    rc = 0;
out:
    if (rc) probe_free(m);
    trainer_free(&t);
    free(z);
    free(all);
    return rc;
}

int probe_predict(const probe_model *m, const float *x, int64_t n, int64_t *pred, char *err) {
    int64_t dim = m->dim, C = m->classes;
    float *z = malloc((size_t)PRED_CHUNK * (size_t)dim * sizeof *z);
    float *logits = malloc((size_t)PRED_CHUNK * (size_t)C * sizeof *logits);
    if (!z || !logits) {
        free(z);
        free(logits);
        snprintf(err, IR_ERRLEN, "linear probe: out of memory");
        return -1;
    }
    for (int64_t i0 = 0; i0 < n; i0 += PRED_CHUNK) {
        int64_t rows = n - i0 < PRED_CHUNK ? n - i0 : PRED_CHUNK;
        memcpy(z, x + i0 * dim, (size_t)rows * (size_t)dim * sizeof *z);
        feat_standardize(z, rows, dim, m->mean, m->std);
        classify(m->w, m->b, dim, C, z, rows, logits, pred + i0);
    }
    free(z);
    free(logits);
    return 0;
}
