/* The optimizer pass against a plain C re-implementation of the PyTorch formulas
 * (torch.optim.SGD, torch.optim.AdamW, barlowtwins' LARS), step by step, on the same gradients.
 *
 * The model: loss = sum((W*x + b - t)^2) + sum((Z*y - u)^2) + sum(D*0)
 *   W [3,4]  normal init
 *   b [4]    VF_NO_DECAY (bias: no decay when excluded, no LARS adaptation)
 *   Z [5]    zero init (LARS: ||p|| = 0 on the first step, so q = 1)
 *   D [2]    gradient exactly zero (LARS with wd = 0: ||dp|| = 0, so q = 1)
 *   U [3]    not in the loss: gradient -1, must stay untouched and get no slots
 * The reference runs in float32 in PyTorch's operation order, with the Python-side scalars
 * (1 - lr*wd, lr/bc1, sqrt(bc2)) computed in double as PyTorch does. */
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "passes/autodiff.h"
#include "passes/optimizer.h"
#include "runtime/init.h"
#include "runtime/interp.h"

#define NP 5
#define MAXN 12
static const char *const pnames[NP] = {"W", "b", "Z", "D", "U"};

typedef struct {
    float p[MAXN], s1[MAXN], s2[MAXN];
    int64_t n;
    unsigned flags;
} rparam;

/* one PyTorch step for one parameter; t is 1-based */
static void ref_step(const opt_config *c, int64_t t, double lr, double wd, rparam *r, const float *g) {
    int64_t n = r->n;
    int excluded = c->exclude_no_decay && (r->flags & VF_NO_DECAY);
    float d[MAXN];
    switch (c->kind) {
    case OPT_SGD:
        for (int64_t i = 0; i < n; i++)
            d[i] = excluded ? g[i] : g[i] + (float)wd * r->p[i];
        if (c->momentum != 0) {
            float m = (float)c->momentum;
            for (int64_t i = 0; i < n; i++) {
                r->s1[i] = t == 1 ? d[i] : r->s1[i] * m + d[i]; /* PyTorch: buf = clone(d_p) first */
                d[i] = c->nesterov ? d[i] + m * r->s1[i] : r->s1[i];
            }
        }
        for (int64_t i = 0; i < n; i++)
            r->p[i] = r->p[i] + (float)(-lr) * d[i];
        break;
    case OPT_ADAMW: {
        if (!excluded)
            for (int64_t i = 0; i < n; i++)
                r->p[i] *= (float)(1 - lr * wd);
        float w = (float)(1 - c->beta1);
        for (int64_t i = 0; i < n; i++) /* torch.lerp */
            r->s1[i] = fabsf(w) < 0.5f ? r->s1[i] + w * (g[i] - r->s1[i]) : g[i] - (g[i] - r->s1[i]) * (1 - w);
        for (int64_t i = 0; i < n; i++)
            r->s2[i] = r->s2[i] * (float)c->beta2 + (float)(1 - c->beta2) * g[i] * g[i];
        double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
        double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
        for (int64_t i = 0; i < n; i++) {
            float denom = sqrtf(r->s2[i]) / (float)bc2_sqrt + (float)c->eps;
            r->p[i] = r->p[i] + (float)(-step_size) * r->s1[i] / denom;
        }
        break;
    }
    case OPT_LARS:
        for (int64_t i = 0; i < n; i++)
            d[i] = g[i];
        if (!excluded) {
            for (int64_t i = 0; i < n; i++)
                d[i] = g[i] + (float)wd * r->p[i];
            double sp = 0, sd = 0;
            for (int64_t i = 0; i < n; i++)
                sp += (double)r->p[i] * r->p[i], sd += (double)d[i] * d[i];
            float pn = (float)sqrt(sp), un = (float)sqrt(sd);
            float q = pn > 0 ? (un > 0 ? (float)c->eta * pn / un : 1.0f) : 1.0f;
            for (int64_t i = 0; i < n; i++)
                d[i] *= q;
        }
        for (int64_t i = 0; i < n; i++) {
            r->s1[i] = r->s1[i] * (float)c->momentum + d[i];
            r->p[i] = r->p[i] + (float)(-lr) * r->s1[i];
        }
        break;
    default: break;
    }
}

static int cnst(ir_graph *g, ir_shape s, double lo, double hi, uint64_t seed) {
    float buf[MAXN];
    test_fill_uniform(buf, ir_numel(&s), lo, hi, seed);
    return ir_const(g, DT_F32, s, buf);
}

/* builds the model; params[] in pnames order, grads[] from autodiff (also graph outputs) */
static int build(ir_graph *g, int *params, int *grads) {
    params[0] = ir_param(g, "W", IR_SHAPE(3, 4), ir_init_normal(0, 1), 0);
    params[1] = ir_param(g, "b", IR_SHAPE(4), ir_init_uniform(-0.5, 0.5), VF_NO_DECAY);
    params[2] = ir_param(g, "Z", IR_SHAPE(5), ir_init_const(0), 0);
    params[3] = ir_param(g, "D", IR_SHAPE(2), ir_init_uniform(0.5, 1), 0);
    params[4] = ir_param(g, "U", IR_SHAPE(3), ir_init_uniform(-1, 1), 0);
    int x = cnst(g, IR_SHAPE(3, 4), -1, 1, 11), t = cnst(g, IR_SHAPE(3, 4), -1, 1, 12);
    int y = cnst(g, IR_SHAPE(5), -2, 2, 13), u = cnst(g, IR_SHAPE(5), -1, 1, 14);
    float zero[2] = {0, 0};
    int z = ir_const(g, DT_F32, IR_SHAPE(2), zero);
    int r1 = ir_sub(g, ir_add(g, ir_mul(g, params[0], x), params[1]), t);
    int r2 = ir_sub(g, ir_mul(g, params[2], y), u);
    int loss = ir_add(
        g, ir_add(g, ir_reduce_sum(g, ir_mul(g, r1, r1), NULL, 0, 0), ir_reduce_sum(g, ir_mul(g, r2, r2), NULL, 0, 0)),
        ir_reduce_sum(g, ir_mul(g, params[3], z), NULL, 0, 0));
    ir_set_name(g, loss, "loss");
    ir_add_output(g, loss);
    if (g->failed || autodiff(g, loss, params, NP, grads)) return -1;
    for (int i = 0; i < NP; i++)
        if (grads[i] >= 0) ir_add_output(g, grads[i]);
    return 0;
}

static int feed(interp *it, const opt_config *c, int64_t step, double lr, double wd, char *err) {
    opt_scalar s[OPT_MAX_SCALARS];
    int n = optimizer_step_inputs(c, step, lr, wd, s);
    for (int i = 0; i < n; i++) {
        int v = ir_find_value(it->g, s[i].name);
        if (v < 0) {
            snprintf(err, IR_ERRLEN, "graph has no input %s", s[i].name);
            return -1;
        }
        if (interp_set_f32(it, v, &s[i].value, err)) return -1;
    }
    return 0;
}

static int check_slot(interp *it, const char *slot, const char *pname, const float *want, int64_t n, int step,
                      const char *label) {
    char name[128], err[IR_ERRLEN];
    float got[MAXN];
    snprintf(name, sizeof name, "opt.%s.%s", slot, pname);
    int v = ir_find_value(it->g, name);
    CHECK(v >= 0 && it->g->vals[v].kind == VK_STATE, "%s: no state %s", label, name);
    CHECK(interp_get_f32(it, v, got, err) == 0, "%s", err);
    double e = rel_err(got, want, n);
    CHECK(e <= 1e-6, "%s step %d: %s rel err %.3g (got[0] %.9g want[0] %.9g)", label, step, name, e, got[0], want[0]);
    return 0;
}

/* 5 steps of `c` through the interpreter against ref_step; lr varies per step (a schedule) */
static int run_case(const char *label, opt_config c, double lr0, double wd) {
    ir_graph g;
    ir_graph_init(&g);
    int params[NP], grads[NP];
    char err[IR_ERRLEN];
    int rc = 1;
    interp it = {0};
    CHECK(build(&g, params, grads) == 0, "%s: build: %s", label, g.err);
    CHECK(grads[4] < 0 && grads[0] >= 0 && grads[3] >= 0, "%s: unexpected gradient set", label);
    ir_scope_push(&g, "someblock"); /* slots must not pick up the builder scope */
    CHECK(optimizer_append(&g, &c, params, grads, NP) == 0, "%s: optimizer_append: %s", label, g.err);
    ir_scope_pop(&g);
    CHECK(ir_find_value(&g, "opt.lr") >= 0 && ir_find_value(&g, "opt.weight_decay") >= 0, "%s: step inputs missing",
          label);
    CHECK((ir_find_value(&g, "opt.bias_correction1") >= 0) == (c.kind == OPT_ADAMW), "%s: bias_correction input",
          label);
    for (int u = 0; u < g.nupdates; u++)
        CHECK(g.updates[u].dst != params[4], "%s: loss-independent parameter U has an update", label);
    for (int v = 0; v < g.nvals; v++)
        CHECK(!g.vals[v].name || !strstr(g.vals[v].name, ".U") || g.vals[v].kind == VK_PARAM, "%s: U has slot %s",
              label, g.vals[v].name);
    if (interp_init(&it, &g, 0, err) || init_persistent(&it, 7, err)) {
        fprintf(stderr, "FAIL %s: interpreter: %s\n", label, err);
        goto out;
    }
    rparam r[NP];
    memset(r, 0, sizeof r);
    for (int i = 0; i < NP; i++) {
        r[i].n = ir_numel(&g.vals[params[i]].shape);
        r[i].flags = g.vals[params[i]].flags;
        interp_get_f32(&it, params[i], r[i].p, err);
    }
    float u0[MAXN];
    memcpy(u0, r[4].p, sizeof u0);
    for (int step = 1; step <= 5; step++) {
        double lr = lr0 * (1 + 0.25 * step);
        if (feed(&it, &c, step, lr, wd, err) || interp_run(&it, err)) {
            fprintf(stderr, "FAIL %s step %d: %s\n", label, step, err);
            goto out;
        }
        for (int i = 0; i < 4; i++) {
            float gr[MAXN], got[MAXN];
            if (interp_get_f32(&it, grads[i], gr, err) || interp_get_f32(&it, params[i], got, err)) {
                fprintf(stderr, "FAIL %s: %s\n", label, err);
                goto out;
            }
            ref_step(&c, step, lr, wd, &r[i], gr);
            double e = rel_err(got, r[i].p, r[i].n);
            if (e > 1e-6) {
                fprintf(stderr, "FAIL %s step %d: param %s rel err %.3g\n", label, step, pnames[i], e);
                goto out;
            }
            int bad = 0;
            if (c.kind == OPT_ADAMW)
                bad = check_slot(&it, "exp_avg", pnames[i], r[i].s1, r[i].n, step, label) ||
                      check_slot(&it, "exp_avg_sq", pnames[i], r[i].s2, r[i].n, step, label);
            else if (c.kind == OPT_LARS || c.momentum > 0)
                bad = check_slot(&it, "momentum_buffer", pnames[i], r[i].s1, r[i].n, step, label);
            if (bad) goto out;
        }
        float u[MAXN];
        interp_get_f32(&it, params[4], u, err);
        if (memcmp(u, u0, (size_t)r[4].n * sizeof(float))) {
            fprintf(stderr, "FAIL %s: loss-independent parameter U changed\n", label);
            goto out;
        }
    }
    /* the parameters actually moved */
    float w[MAXN], w0[MAXN];
    init_value_f32(&g, params[0], 7, w0, err);
    interp_get_f32(&it, params[0], w, err);
    if (max_abs_diff(w, w0, 12) < 1e-4) {
        fprintf(stderr, "FAIL %s: W did not move\n", label);
        goto out;
    }
    printf("ok   %-40s 5 steps, %d updates\n", label, g.nupdates);
    rc = 0;
out:
    if (it.g) interp_free(&it);
    ir_graph_free(&g);
    return rc;
}

static int test_api(void) {
    opt_kind k;
    char err[256];
    CHECK(opt_kind_parse("sgd", &k, err, sizeof err) == 0 && k == OPT_SGD, "parse sgd");
    CHECK(opt_kind_parse("AdamW", &k, err, sizeof err) == 0 && k == OPT_ADAMW, "parse AdamW");
    CHECK(opt_kind_parse("lars", &k, err, sizeof err) == 0 && k == OPT_LARS, "parse lars");
    CHECK(opt_kind_parse("adam", &k, err, sizeof err) == -1, "parse adam should fail");
    CHECK(strstr(err, "'adam'") && strstr(err, "sgd, adamw, lars"), "error lists choices: %s", err);
    CHECK(strcmp(opt_kind_name(OPT_LARS), "lars") == 0, "name");

    opt_config s = opt_defaults(OPT_SGD), a = opt_defaults(OPT_ADAMW), l = opt_defaults(OPT_LARS);
    CHECK(s.momentum == 0.9 && s.weight_decay == 0 && !s.nesterov && !s.exclude_no_decay, "sgd defaults");
    CHECK(a.beta1 == 0.9 && a.beta2 == 0.999 && a.eps == 1e-8 && a.weight_decay == 0.01 && !a.exclude_no_decay,
          "adamw defaults");
    CHECK(l.momentum == 0.9 && l.eta == 0.001 && l.weight_decay == 1e-6 && l.exclude_no_decay, "lars defaults");
    CHECK(opt_config_check(&s, err, sizeof err) == 0 && opt_config_check(&a, err, sizeof err) == 0 &&
              opt_config_check(&l, err, sizeof err) == 0,
          "defaults are valid");
    opt_config bad = s;
    bad.momentum = 0;
    bad.nesterov = 1;
    CHECK(opt_config_check(&bad, err, sizeof err) == -1 && strstr(err, "Nesterov"), "nesterov without momentum");
    bad = a;
    bad.beta2 = 1.0;
    CHECK(opt_config_check(&bad, err, sizeof err) == -1 && strstr(err, "beta2"), "beta2 = 1");
    bad = l;
    bad.weight_decay = -1;
    CHECK(opt_config_check(&bad, err, sizeof err) == -1 && strstr(err, "weight_decay"), "negative wd");

    float lr, wd, bc1, bc2;
    optimizer_step_scalars(&a, 3, 0.5, 0.02, &lr, &wd, &bc1, &bc2);
    CHECK(lr == 0.5f && wd == 0.02f && bc1 == (float)(1 - pow(0.9, 3)) && bc2 == (float)(1 - pow(0.999, 3)),
          "adamw scalars");
    optimizer_step_scalars(&s, 3, 0.5, 0.02, &lr, NULL, &bc1, &bc2);
    CHECK(bc1 == 1 && bc2 == 1, "sgd bias corrections are 1");
    opt_scalar sc[OPT_MAX_SCALARS];
    CHECK(optimizer_step_inputs(&l, 1, 0.1, 0, sc) == 2 && strcmp(sc[0].name, "opt.lr") == 0, "lars inputs");
    CHECK(optimizer_step_inputs(&a, 1, 0.1, 0, sc) == 4 && strcmp(sc[3].name, "opt.bias_correction2") == 0 &&
              sc[2].value == 0.1f,
          "adamw inputs");
    printf("ok   api: parser, defaults, checks, step scalars\n");
    return 0;
}

/* invalid uses end in a clear g->err, not a crash */
static int test_errors(void) {
    struct {
        const char *want;
        int what;
    } cases[] = {{"frozen", 0},          {"listed twice", 1},          {"gradient of 'W'", 2},
                 {"not a parameter", 3}, {"already has an update", 4}, {"Nesterov", 5}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ir_graph g;
        ir_graph_init(&g);
        int params[NP], grads[NP];
        CHECK(build(&g, params, grads) == 0, "build: %s", g.err);
        opt_config c = opt_defaults(OPT_SGD);
        int p2[2] = {params[0], params[1]}, g2[2] = {grads[0], grads[1]};
        switch (cases[k].what) {
        case 0: g.vals[params[0]].flags |= VF_FROZEN; break;
        case 1: p2[1] = params[0], g2[1] = grads[0]; break;
        case 2: g2[0] = grads[1]; break;
        case 3: p2[0] = grads[0]; break;
        case 4: ir_add_update(&g, params[1], grads[1]); break;
        case 5: c.momentum = 0, c.nesterov = 1; break;
        }
        int r = optimizer_append(&g, &c, p2, g2, 2);
        int ok = r == -1 && g.failed && strstr(g.err, cases[k].want);
        if (!ok) fprintf(stderr, "FAIL error case %zu: rc %d, err '%s', want '%s'\n", k, r, g.err, cases[k].want);
        ir_graph_free(&g);
        if (!ok) return 1;
    }
    /* two calls share the step inputs */
    ir_graph g;
    ir_graph_init(&g);
    int params[NP], grads[NP];
    CHECK(build(&g, params, grads) == 0, "build: %s", g.err);
    opt_config c = opt_defaults(OPT_SGD);
    CHECK(optimizer_append(&g, &c, params, grads, 2) == 0 && optimizer_append(&g, &c, params + 2, grads + 2, 2) == 0,
          "two groups: %s", g.err);
    ir_graph_free(&g);
    printf("ok   invalid uses are reported\n");
    return 0;
}

/* optimizer_append_cur: a parameter replaced at the start of each step by a value computed from
 * it (cur = 0.5*W + 1, standing in for SwAV's normalized prototypes); the forward uses cur with
 * the gradient going to W, and the optimizer must step from cur, not from W. */
static int test_current_value(opt_config c, const char *label) {
    ir_graph g;
    ir_graph_init(&g);
    char err[IR_ERRLEN];
    int w = ir_param(&g, "W", IR_SHAPE(3, 4), ir_init_normal(0, 1), 0);
    int sw = ir_stop_gradient(&g, w);
    int cur = ir_add_scalar(&g, ir_mul_scalar(&g, sw, 0.5), 1.0);
    int used = ir_add(&g, ir_sub(&g, w, sw), ir_stop_gradient(&g, cur));
    int x = cnst(&g, IR_SHAPE(3, 4), -1, 1, 21), t = cnst(&g, IR_SHAPE(3, 4), -1, 1, 22);
    int r1 = ir_sub(&g, ir_mul(&g, used, x), t);
    int loss = ir_reduce_sum(&g, ir_mul(&g, r1, r1), NULL, 0, 0);
    int grad = -1;
    CHECK(!g.failed && autodiff(&g, loss, &w, 1, &grad) == 0 && grad >= 0, "%s: build: %s", label, g.err);
    ir_add_output(&g, grad);
    int bad = loss; /* wrong shape */
    CHECK(optimizer_append_cur(&g, &c, &w, &bad, &grad, 1) == -1 && strstr(g.err, "current value"),
          "%s: bad current value accepted", label);
    g.failed = 0;
    CHECK(optimizer_append_cur(&g, &c, &w, &cur, &grad, 1) == 0, "%s: %s", label, g.err);
    interp it;
    CHECK(interp_init(&it, &g, 0, err) == 0 && init_persistent(&it, 3, err) == 0, "%s", err);
    rparam r;
    memset(&r, 0, sizeof r);
    r.n = 12;
    interp_get_f32(&it, w, r.p, err);
    for (int step = 1; step <= 3; step++) {
        float gr[MAXN], got[MAXN];
        CHECK(feed(&it, &c, step, 0.1, 0.05, err) == 0 && interp_run(&it, err) == 0, "%s", err);
        interp_get_f32(&it, grad, gr, err);
        interp_get_f32(&it, w, got, err);
        for (int i = 0; i < 12; i++) r.p[i] = r.p[i] * 0.5f + 1.0f; /* the start-of-step replacement */
        ref_step(&c, step, 0.1, 0.05, &r, gr);
        double e = rel_err(got, r.p, 12);
        CHECK(e <= 1e-6, "%s step %d: W rel err %.3g", label, step, e);
    }
    interp_free(&it);
    ir_graph_free(&g);
    printf("ok   current value: %s\n", label);
    return 0;
}

int main(void) {
    int fail = 0;
    fail |= test_api();
    fail |= test_errors();
    fail |= test_current_value(opt_defaults(OPT_SGD), "sgd momentum");
    fail |= test_current_value(opt_defaults(OPT_ADAMW), "adamw");
    fail |= test_current_value(opt_defaults(OPT_LARS), "lars");

    opt_config c = opt_defaults(OPT_SGD);
    c.momentum = 0;
    fail |= run_case("sgd plain", c, 0.1, 0);
    c = opt_defaults(OPT_SGD);
    fail |= run_case("sgd momentum 0.9 + wd 0.05", c, 0.1, 0.05);
    c.exclude_no_decay = 1;
    fail |= run_case("sgd momentum + wd, no-decay excluded", c, 0.1, 0.05);
    c = opt_defaults(OPT_SGD);
    c.nesterov = 1;
    fail |= run_case("sgd nesterov + wd 0.01", c, 0.05, 0.01);
    c = opt_defaults(OPT_ADAMW);
    fail |= run_case("adamw", c, 0.01, 0.01);
    c.exclude_no_decay = 1;
    fail |= run_case("adamw, no-decay excluded, wd 0.1", c, 0.01, 0.1);
    c = opt_defaults(OPT_ADAMW);
    c.beta1 = 0.3; /* lerp weight >= 0.5: the other branch of torch.lerp */
    c.beta2 = 0.9;
    c.eps = 1e-6;
    fail |= run_case("adamw beta1 0.3 beta2 0.9", c, 0.02, 0.05);
    c = opt_defaults(OPT_LARS);
    fail |= run_case("lars wd 1e-2", c, 0.5, 1e-2);
    fail |= run_case("lars wd 0 (zero-norm update)", c, 0.5, 0);
    c.exclude_no_decay = 0;
    fail |= run_case("lars, bias adapted too", c, 0.5, 1e-3);
    c = opt_defaults(OPT_LARS);
    c.momentum = 0;
    c.eta = 0.02;
    fail |= run_case("lars momentum 0 eta 0.02", c, 0.5, 1e-4);
    return fail;
}
