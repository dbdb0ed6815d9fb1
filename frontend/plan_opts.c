#include "plan_opts.h"

#include "../ir/comm.h"
#include "../passes/data_parallel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int plan_double_option(const sslc_plan *p, const char *key, double *out, char *err) {
    const char *s = plan_get_option(p, key);
    char *end;
    if (!s || (*out = strtod(s, &end), end == s || *end)) {
        snprintf(err, IR_ERRLEN, "plan has no valid option '%s'", key);
        return -1;
    }
    return 0;
}

int plan_int_option(const sslc_plan *p, const char *key, int64_t *out, char *err) {
    double d;
    if (plan_double_option(p, key, &d, err)) return -1;
    *out = (int64_t)d;
    return 0;
}

int plan_opt_config(const sslc_plan *p, opt_config *cfg, double *lr, double *wd, char *err) {
    const char *name = plan_get_option(p, "optimizer");
    opt_kind kind;
    if (!name) {
        snprintf(err, IR_ERRLEN, "plan has no optimizer option");
        return -1;
    }
    if (opt_kind_parse(name, &kind, err, IR_ERRLEN)) return -1;
    *cfg = opt_defaults(kind);
    return plan_double_option(p, "beta1", &cfg->beta1, err) || plan_double_option(p, "beta2", &cfg->beta2, err) ||
                   plan_double_option(p, "lr", lr, err) || plan_double_option(p, "weight_decay", wd, err)
               ? -1
               : 0;
}

int feed_sched_inputs(engine *e, char *err) {
    const ir_graph *g = engine_graph(e);
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || strncmp(val->name, "sched.", 6)) continue;
        float x = (float)val->init.a;
        if (engine_set_f32(e, v, &x, err)) return -1;
    }
    return 0;
}

static double mopt_or(const sslc_plan *p, const char *key, double dflt) {
    const char *s = plan_get_option(p, key);
    if (!s) return dflt;
    if (!strcmp(s, "true")) return 1;
    if (!strcmp(s, "false")) return 0;
    char *end;
    double v = strtod(s, &end);
    return end == s ? dflt : v;
}

double sched_value(const sslc_plan *p, const char *name, double base, int64_t step, int64_t total, int64_t per_epoch) {
    int64_t k = step - 1, epoch = per_epoch > 0 ? k / per_epoch : 0;
    if (!strcmp(name, "sched.tau") && mopt_or(p, "method.cosine_tau", 0) != 0) /* BYOL: tau_k */
        return 1.0 - (1.0 - base) * (cos(M_PI * (double)k / (double)(total > 0 ? total : 1)) + 1.0) / 2.0;
    if (!strcmp(name, "sched.temp_t")) { /* DINO: linspace(warmup_teacher_temp, temp_t, E) per epoch */
        int64_t E = (int64_t)mopt_or(p, "method.warmup_teacher_temp_epochs", 0);
        double w = mopt_or(p, "method.warmup_teacher_temp", base);
        if (E > 0 && epoch < E) return E == 1 ? w : w + (base - w) * (double)epoch / (double)(E - 1);
        return base;
    }
    if (!strcmp(name, "sched.last_layer_grad")) /* DINO: no last-layer gradient the first epochs */
        return epoch < (int64_t)mopt_or(p, "method.freeze_last_layer", 0) ? 0.0 : 1.0;
    if (!strcmp(name, "sched.prototypes_grad")) /* SwAV: no prototype gradient the first iterations */
        return k < (int64_t)mopt_or(p, "method.freeze_prototypes_niters", 0) ? 0.0 : 1.0;
    return base;
}

double lr_value(const sslc_plan *p, double base, int64_t step, int64_t total, int64_t per_epoch) {
    const char *kind = plan_get_option(p, "lr_schedule");
    if (!kind || strcmp(kind, "cosine")) return base;
    double w = mopt_or(p, "warmup_epochs", 0) * (double)per_epoch;
    int64_t warm = w > 0 ? (int64_t)ceil(w) : 0;
    if (warm >= total) warm = total > 1 ? total - 1 : 0;
    if (step <= warm) return base * (double)step / (double)warm;
    double t = (double)(step - 1 - warm) / (double)(total - warm > 0 ? total - warm : 1);
    return base * 0.5 * (1.0 + cos(M_PI * t));
}

int feed_sched_step(engine *e, const sslc_plan *p, int64_t step, int64_t total, int64_t per_epoch, char *err) {
    const ir_graph *g = engine_graph(e);
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || strncmp(val->name, "sched.", 6)) continue;
        float x = (float)sched_value(p, val->name, val->init.a, step, total, per_epoch);
        if (engine_set_f32(e, v, &x, err)) return -1;
    }
    return 0;
}

int plan_check_ranks(const sslc_plan *p, const char *path, const ir_comm *comm, char *err) {
    int r = dp_graph_ranks(&p->train);
    if (r < 0) {
        snprintf(err, IR_ERRLEN, "%s: its collectives disagree on the number of ranks: recompile it", path);
        return -1;
    }
    if (r == comm->size) return 0;
    snprintf(err, IR_ERRLEN,
             "%s was built for %d rank%s and this job has %d: run it with mpirun -np %d, or compile it with --ranks %d",
             path, r, r == 1 ? "" : "s", comm->size, r, comm->size);
    return -1;
}
