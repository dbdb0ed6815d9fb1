/* The optimizer pass: SGD, AdamW and LARS as graph nodes (formulas in optimizer.h). */
#include "optimizer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../ir/builder.h"

static const char *const kind_names[OPT__COUNT] = {"sgd", "adamw", "lars"};

opt_config opt_defaults(opt_kind kind) {
    opt_config c = {.kind = kind,
                    .momentum = 0.9,
                    .nesterov = 0,
                    .weight_decay = 0.0,
                    .beta1 = 0.9,
                    .beta2 = 0.999,
                    .eps = 1e-8,
                    .eta = 0.001,
                    .exclude_no_decay = 0};
    if (kind == OPT_ADAMW) c.weight_decay = 0.01;
    if (kind == OPT_LARS) {
        c.weight_decay = 1e-6;
        c.exclude_no_decay = 1;
    }
    return c;
}

const char *opt_kind_name(opt_kind kind) { return (unsigned)kind < OPT__COUNT ? kind_names[kind] : "?"; }

int opt_kind_parse(const char *name, opt_kind *out, char *err, size_t errlen) {
    for (int k = 0; k < OPT__COUNT; k++)
        if (name && strcasecmp(name, kind_names[k]) == 0) {
            *out = (opt_kind)k;
            return 0;
        }
    if (err && errlen) snprintf(err, errlen, "unknown optimizer '%s' (choices: sgd, adamw, lars)", name ? name : "");
    return -1;
}

#define CFAIL(...)                                                                                                     \
    do {                                                                                                               \
        if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                                         \
        return -1;                                                                                                     \
    } while (0)

int opt_config_check(const opt_config *cfg, char *err, size_t errlen) {
    if ((unsigned)cfg->kind >= OPT__COUNT) CFAIL("invalid optimizer kind %d", (int)cfg->kind);
    const char *k = kind_names[cfg->kind];
    if (!(cfg->weight_decay >= 0) || isinf(cfg->weight_decay))
        CFAIL("%s: invalid weight_decay %g (must be >= 0)", k, cfg->weight_decay);
    switch (cfg->kind) {
    case OPT_SGD:
    case OPT_LARS:
        if (!(cfg->momentum >= 0) || isinf(cfg->momentum))
            CFAIL("%s: invalid momentum %g (must be >= 0)", k, cfg->momentum);
        if (cfg->kind == OPT_SGD && cfg->nesterov && !(cfg->momentum > 0))
            CFAIL("sgd: Nesterov momentum requires momentum > 0");
        if (cfg->kind == OPT_LARS && (!(cfg->eta > 0) || isinf(cfg->eta)))
            CFAIL("lars: invalid eta %g (must be > 0)", cfg->eta);
        if (cfg->kind == OPT_LARS && cfg->nesterov) CFAIL("lars: Nesterov momentum is not supported");
        break;
    case OPT_ADAMW:
        if (!(cfg->beta1 >= 0 && cfg->beta1 < 1)) CFAIL("adamw: invalid beta1 %g (must be in [0, 1))", cfg->beta1);
        if (!(cfg->beta2 >= 0 && cfg->beta2 < 1)) CFAIL("adamw: invalid beta2 %g (must be in [0, 1))", cfg->beta2);
        if (!(cfg->eps >= 0) || isinf(cfg->eps)) CFAIL("adamw: invalid eps %g (must be >= 0)", cfg->eps);
        if (cfg->nesterov) CFAIL("adamw: Nesterov momentum is not supported");
        break;
    default: break;
    }
    return 0;
}

/* An f32 [] graph input, created or reused. */
static int step_input(ir_graph *g, const char *name) {
    int v = ir_find_value(g, name);
    if (v < 0) return ir_input(g, name, DT_F32, (ir_shape){0});
    const ir_value *x = &g->vals[v];
    if (x->kind != VK_INPUT || x->dtype != DT_F32 || x->shape.ndim != 0)
        return ir_fail(g, "optimizer: '%s' exists but is not an f32 scalar graph input", name);
    return v;
}

/* Zero-initialized f32 slot "opt.<slot>.<param>" shaped like the parameter. */
static int slot(ir_graph *g, const char *slot_name, int p) {
    char name[320];
    int len = snprintf(name, sizeof name, "opt.%s.%s", slot_name, g->vals[p].name);
    if (len < 0 || (size_t)len >= sizeof name)
        return ir_fail(g, "optimizer: parameter name '%s' is too long", g->vals[p].name);
    return ir_state(g, name, DT_F32, g->vals[p].shape, ir_init_const(0.0));
}

/* sqrt(sum(x*x)) as an f32 [] value */
static int l2norm(ir_graph *g, int x) { return ir_sqrt(g, ir_reduce_sum(g, ir_mul(g, x, x), NULL, 0, 0)); }

typedef struct {
    int lr, wd;
    /* AdamW: 1 - lr*wd, lr/bc1, sqrt(bc2) */
    int decay, step_size, bc2_sqrt;
} step_vals;

/* p: the parameter (slot names, update destination); pc: its current value in the formulas
 * (p itself, or the value a method replaced it with at the start of the step) */
static int append_sgd(ir_graph *g, const opt_config *cfg, const step_vals *s, int p, int pc, int gr, int decay) {
    int d = decay ? ir_add(g, gr, ir_mul(g, s->wd, pc)) : gr;
    if (cfg->momentum > 0) {
        int buf = slot(g, "momentum_buffer", p);
        int nbuf = ir_add(g, ir_mul_scalar(g, buf, cfg->momentum), d);
        d = cfg->nesterov ? ir_add(g, d, ir_mul_scalar(g, nbuf, cfg->momentum)) : nbuf;
        ir_add_update(g, buf, nbuf);
    }
    ir_add_update(g, p, ir_sub(g, pc, ir_mul(g, s->lr, d)));
    return g->failed ? -1 : 0;
}

static int append_adamw(ir_graph *g, const opt_config *cfg, const step_vals *s, int p, int pc, int gr, int decay) {
    int m = slot(g, "exp_avg", p), v = slot(g, "exp_avg_sq", p);
    int pd = decay ? ir_mul(g, pc, s->decay) : pc;
    /* exp_avg.lerp_(grad, 1 - beta1), with ATen's two-sided lerp formula */
    double w = 1.0 - cfg->beta1;
    int nm;
    if (fabs(w) < 0.5)
        nm = ir_add(g, m, ir_mul_scalar(g, ir_sub(g, gr, m), w));
    else
        nm = ir_sub(g, gr, ir_mul_scalar(g, ir_sub(g, gr, m), 1.0 - w));
    /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2) */
    int nv = ir_add(g, ir_mul_scalar(g, v, cfg->beta2), ir_mul(g, ir_mul_scalar(g, gr, 1.0 - cfg->beta2), gr));
    /* denom = sqrt(v)/sqrt(bc2) + eps; param.addcdiv_(exp_avg, denom, value=-lr/bc1) */
    int denom = ir_add_scalar(g, ir_div(g, ir_sqrt(g, nv), s->bc2_sqrt), cfg->eps);
    int np = ir_sub(g, pd, ir_div(g, ir_mul(g, s->step_size, nm), denom));
    ir_add_update(g, m, nm);
    ir_add_update(g, v, nv);
    ir_add_update(g, p, np);
    return g->failed ? -1 : 0;
}

static int append_lars(ir_graph *g, const opt_config *cfg, const step_vals *s, int p, int pc, int gr, int adapt) {
    int d = gr;
    if (adapt) {
        d = ir_add(g, gr, ir_mul(g, s->wd, pc));
        int pn = l2norm(g, pc), un = l2norm(g, d);
        int ratio = ir_div(g, ir_mul_scalar(g, pn, cfg->eta), un);
        /* q = ratio where pn > 0 and un > 0, else 1; Where0 gives exact zeros even where the
         * ratio is Inf or NaN (zero norms), so both branches are exact. */
        int both = ir_where0(g, pn, ir_where0(g, un, ir_scalar(g, 1.0)));
        int q = ir_add(g, ir_where0(g, both, ratio), ir_sub(g, ir_scalar(g, 1.0), both));
        d = ir_mul(g, d, q);
    }
    int mu = slot(g, "momentum_buffer", p);
    int nmu = ir_add(g, ir_mul_scalar(g, mu, cfg->momentum), d);
    ir_add_update(g, mu, nmu);
    ir_add_update(g, p, ir_sub(g, pc, ir_mul(g, s->lr, nmu)));
    return g->failed ? -1 : 0;
}

int optimizer_append(ir_graph *g, const opt_config *cfg, const int *params, const int *grads, int n) {
    return optimizer_append_cur(g, cfg, params, NULL, grads, n);
}

int optimizer_append_cur(ir_graph *g, const opt_config *cfg, const int *params, const int *cur, const int *grads,
                         int n) {
    if (g->failed) return -1;
    char err[IR_ERRLEN];
    if (opt_config_check(cfg, err, sizeof err)) return ir_fail(g, "optimizer: %s", err);
    if (n < 0 || (n > 0 && (!params || !grads))) return ir_fail(g, "optimizer: invalid parameter list");
    /* validate everything before adding a node */
    for (int i = 0; i < n; i++) {
        int p = params[i], gr = grads[i];
        if (p < 0 || p >= g->nvals) return ir_fail(g, "optimizer: parameter %d: invalid value id %d", i, p);
        const ir_value *pv = &g->vals[p];
        const char *pn = pv->name ? pv->name : "?";
        if (pv->kind != VK_PARAM)
            return ir_fail(g, "optimizer: '%s' is a %s, not a parameter", pn, ir_kind_name(pv->kind));
        if (!pv->name) return ir_fail(g, "optimizer: parameter %%%d has no name", p);
        if (gr < 0) continue;
        if (pv->flags & VF_FROZEN) return ir_fail(g, "optimizer: parameter '%s' is frozen but has a gradient", pn);
        if (pv->dtype != DT_F32)
            return ir_fail(g, "optimizer: parameter '%s' is %s; only f32 is supported", pn, ir_dtype_name(pv->dtype));
        if (gr >= g->nvals) return ir_fail(g, "optimizer: gradient of '%s': invalid value id %d", pn, gr);
        const ir_value *gv = &g->vals[gr];
        if (gv->dtype != DT_F32 || !ir_shape_eq(&gv->shape, &pv->shape)) {
            char a[96], b[96];
            ir_shape_str(&gv->shape, a, sizeof a);
            ir_shape_str(&pv->shape, b, sizeof b);
            return ir_fail(g, "optimizer: gradient of '%s' is %s %s, parameter is f32 %s", pn, ir_dtype_name(gv->dtype),
                           a, b);
        }
        if (cur && cur[i] >= 0) {
            if (cur[i] >= g->nvals) return ir_fail(g, "optimizer: current value of '%s': invalid value id %d", pn, cur[i]);
            const ir_value *cv = &g->vals[cur[i]];
            if (cv->dtype != DT_F32 || !ir_shape_eq(&cv->shape, &pv->shape))
                return ir_fail(g, "optimizer: current value of '%s' is not an f32 tensor of its shape", pn);
        }
        for (int j = 0; j < i; j++)
            if (params[j] == p && grads[j] >= 0) return ir_fail(g, "optimizer: parameter '%s' listed twice", pn);
        for (int u = 0; u < g->nupdates; u++)
            if (g->updates[u].dst == p) return ir_fail(g, "optimizer: parameter '%s' already has an update", pn);
    }

    /* slots and inputs are named without the builder scope */
    char scope[sizeof g->scope];
    memcpy(scope, g->scope, sizeof scope);
    g->scope[0] = 0;

    step_vals s = {.lr = step_input(g, OPT_IN_LR), .wd = step_input(g, OPT_IN_WD), -1, -1, -1};
    if (cfg->kind == OPT_ADAMW) {
        int bc1 = step_input(g, OPT_IN_BC1), bc2 = step_input(g, OPT_IN_BC2);
        s.decay = ir_sub(g, ir_scalar(g, 1.0), ir_mul(g, s.lr, s.wd));
        s.step_size = ir_div(g, s.lr, bc1);
        s.bc2_sqrt = ir_sqrt(g, bc2);
    }
    for (int i = 0; i < n && !g->failed; i++) {
        int p = params[i], gr = grads[i], pc = cur && cur[i] >= 0 ? cur[i] : p;
        if (gr < 0) continue;
        int decay = !(cfg->exclude_no_decay && (g->vals[p].flags & VF_NO_DECAY));
        switch (cfg->kind) {
        case OPT_SGD: append_sgd(g, cfg, &s, p, pc, gr, decay); break;
        case OPT_ADAMW: append_adamw(g, cfg, &s, p, pc, gr, decay); break;
        case OPT_LARS: append_lars(g, cfg, &s, p, pc, gr, decay); break;
        default: break;
        }
    }
    memcpy(g->scope, scope, sizeof scope);
    return g->failed ? -1 : 0;
}

void optimizer_step_scalars(const opt_config *cfg, int64_t step, double lr, double wd, float *lr_out, float *wd_out,
                            float *bc1_out, float *bc2_out) {
    double bc1 = 1.0, bc2 = 1.0;
    if (cfg->kind == OPT_ADAMW) {
        double t = (double)(step < 1 ? 1 : step);
        bc1 = 1.0 - pow(cfg->beta1, t);
        bc2 = 1.0 - pow(cfg->beta2, t);
    }
    if (lr_out) *lr_out = (float)lr;
    if (wd_out) *wd_out = (float)wd;
    if (bc1_out) *bc1_out = (float)bc1;
    if (bc2_out) *bc2_out = (float)bc2;
}

int optimizer_step_inputs(const opt_config *cfg, int64_t step, double lr, double wd, opt_scalar out[OPT_MAX_SCALARS]) {
    float v[4];
    optimizer_step_scalars(cfg, step, lr, wd, &v[0], &v[1], &v[2], &v[3]);
    out[0] = (opt_scalar){OPT_IN_LR, v[0]};
    out[1] = (opt_scalar){OPT_IN_WD, v[1]};
    if (cfg->kind != OPT_ADAMW) return 2;
    out[2] = (opt_scalar){OPT_IN_BC1, v[2]};
    out[3] = (opt_scalar){OPT_IN_BC2, v[3]};
    return 4;
}
