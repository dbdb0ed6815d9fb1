/* The method registry and option handling. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "method.h"

/* Weak references: a method whose file is not linked in is simply absent from the list. */
#define METHODS(X)                                                                                                 \
    X(barlow_twins) X(byol) X(dino) X(moco) X(mocov2) X(mocov3) X(simclr) X(simclrv2) X(simsiam) X(supcon) X(swav) X(vicreg) X(nnclr) X(mae)
#define DECL(m) extern const method_def method_##m __attribute__((weak));
METHODS(DECL)
#define ADDR(m) &method_##m,
static const method_def *const all_methods[] = {METHODS(ADDR)};
#define NALL (int)(sizeof all_methods / sizeof all_methods[0])

int method_count(void) {
    int n = 0;
    for (int i = 0; i < NALL; i++) n += all_methods[i] != NULL;
    return n;
}

const method_def *method_at(int i) {
    for (int k = 0; k < NALL; k++)
        if (all_methods[k] && i-- == 0) return all_methods[k];
    return NULL;
}

const method_def *method_find(const char *name) { /* case-insensitive: BYOL is byol */
    for (int i = 0; i < NALL; i++)
        if (all_methods[i] && strcasecmp(all_methods[i]->name, name) == 0) return all_methods[i];
    return NULL;
}

const char *method_choices(void) {
    static char buf[512];
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < method_count(); i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? ", " : "", method_at(i)->name);
    return buf;
}

int method_sched_input(method_ctx *ctx, const char *name, double base) {
    char full[96];
    snprintf(full, sizeof full, "sched.%s", name);
    int v = ir_input(ctx->g, full, DT_F32, (ir_shape){0});
    if (v >= 0) ctx->g->vals[v].init = ir_init_const(base);
    return v;
}

static int opt_index(const method_def *def, const char *name, size_t len) {
    for (int i = 0; i < def->nopts; i++)
        if (strlen(def->opts[i].name) == len && strncmp(def->opts[i].name, name, len) == 0) return i;
    return -1;
}

double mopt(const method_ctx *ctx, const char *name) {
    int i = opt_index(ctx->def, name, strlen(name));
    if (i < 0) {
        fprintf(stderr, "sslc: internal error: method %s has no option %s\n", ctx->def->name, name);
        abort();
    }
    return ctx->val[i];
}

int64_t mopt_int(const method_ctx *ctx, const char *name) { return (int64_t)llround(mopt(ctx, name)); }

int mopt_check_dim(const method_ctx *ctx, const char *name, char *err) {
    double v = mopt(ctx, name);
    if (v < 1 || v > MOPT_MAX_DIM) {
        snprintf(err, IR_ERRLEN, "%s: %s must be in [1, %d], got %g", ctx->def->name, name, MOPT_MAX_DIM, v);
        return -1;
    }
    return 0;
}

int mopt_check_positive(const method_ctx *ctx, const char *name, char *err) {
    double v = mopt(ctx, name);
    if (!(v > 0)) {
        snprintf(err, IR_ERRLEN, "%s: %s must be > 0, got %g", ctx->def->name, name, v);
        return -1;
    }
    return 0;
}

int mopt_check_range(const method_ctx *ctx, const char *name, double lo, double hi, char *err) {
    double v = mopt(ctx, name);
    if (!(v >= lo && v <= hi)) {
        if (isinf(hi))
            snprintf(err, IR_ERRLEN, "%s: %s must be >= %g, got %g", ctx->def->name, name, lo, v);
        else
            snprintf(err, IR_ERRLEN, "%s: %s must be in [%g, %g], got %g", ctx->def->name, name, lo, hi, v);
        return -1;
    }
    return 0;
}

void method_format_value(const method_opt *o, double v, char *buf, size_t n) {
    if (o->type == MO_BOOL)
        snprintf(buf, n, "%s", v != 0 ? "true" : "false");
    else if (o->type == MO_INT)
        snprintf(buf, n, "%lld", (long long)llround(v));
    else
        snprintf(buf, n, "%g", v);
}

static int parse_value(const method_opt *o, const char *s, double *out) {
    if (o->type == MO_BOOL) {
        if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "True")) return *out = 1, 0;
        if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "False")) return *out = 0, 0;
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    if (o->type == MO_INT && v != floor(v)) return -1;
    *out = v;
    return 0;
}

int method_resolve_options(const method_def *def, const method_spec *spec, double *val, char *err) {
    for (int i = 0; i < def->nopts; i++) val[i] = def->opts[i].def;
    for (int k = 0; k < spec->nset; k++) {
        const char *s = spec->set[k], *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, IR_ERRLEN, "--set expects name=value, got '%s'", s);
            return -1;
        }
        int i = opt_index(def, s, (size_t)(eq - s));
        if (i < 0) {
            char list[400];
            size_t n = 0;
            list[0] = 0;
            for (int j = 0; j < def->nopts; j++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", j ? ", " : "", def->opts[j].name);
            snprintf(err, IR_ERRLEN, "%s has no option '%.*s' (options: %s)", def->name, (int)(eq - s), s, list);
            return -1;
        }
        const method_opt *o = &def->opts[i];
        if (parse_value(o, eq + 1, &val[i])) {
            snprintf(err, IR_ERRLEN, "option %s: '%s' is not a valid %s", o->name, eq + 1,
                     o->type == MO_BOOL ? "boolean (true/false)" : o->type == MO_INT ? "integer" : "number");
            return -1;
        }
    }
    return 0;
}

int method_build(const method_def *def, const method_spec *spec, ir_graph *g, char *err) {
    method_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.def = def;
    ctx.g = g;
    ctx.backbone = spec->backbone;
    ctx.batch = spec->batch;
    ctx.ranks = spec->ranks > 1 ? spec->ranks : 1;
    ctx.sync_bn = spec->sync_bn != 0;
    if (spec->batch < 2 || spec->batch > 65536) {
        snprintf(err, IR_ERRLEN, "--batch must be in [2, 65536], got %lld", (long long)spec->batch);
        return -1;
    }
    if (backbone_check(&spec->backbone, err)) return -1;
    if (spec->ranks > 1 && !def->data_parallel) {
        snprintf(err, IR_ERRLEN,
                 "--ranks %d: %s does not run over several ranks yet (its global-batch terms are not gathered "
                 "across ranks): compile it with --ranks 1",
                 spec->ranks, def->name);
        return -1;
    }
    if (method_resolve_options(def, spec, ctx.val, err)) return -1;
    if (def->validate && def->validate(&ctx, err)) return -1;
    mb_init(&ctx.mb, g, 1);
    if (spec->sync_bn) ctx.mb.sync_ranks = ctx.ranks;
    int loss = def->build(&ctx);
    mb_finish(&ctx.mb);
    mb_free(&ctx.mb);
    if (g->failed || loss < 0) {
        snprintf(err, IR_ERRLEN, "building %s: %.400s", def->name, g->failed ? g->err : "no loss");
        return -1;
    }
    ir_set_name(g, loss, "loss");
    return loss;
}
