#include "plan_opts.h"

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
