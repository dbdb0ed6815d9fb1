/* The C API (include/sslc.h) over the compile driver and the engines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/optimizer.h"
#include "../runtime/augment.h"
#include "../runtime/engine.h"
#include "../runtime/planfile.h"
#include "cli.h"
#include "driver.h"
#include "plan_opts.h"
#include "sslc.h"

struct sslc_session {
    sslc_plan plan;
    engine *e;
    opt_config cfg;
    double lr, wd;
    aug_binding aug; /* the plan's aug.* inputs (none without augmentation) */
};

static void seterr(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

const char *sslc_version(void) { return SSLC_VERSION; }

int sslc_compile(int argc, const char *const *argv, const char *out_path, char *err, size_t errlen) {
    char e[IR_ERRLEN];
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return seterr(err, errlen, "out of memory"), -1;
    args[0] = (char *)"compile";
    for (int i = 0; i < argc; i++) args[i + 1] = (char *)argv[i]; /* getopt permutes pointers only */
    compile_args a;
    const char *out = NULL;
    int rc = parse_compile_args(argc + 1, args, &a, &out, e);
    free(args);
    if (rc) return seterr(err, errlen, rc < 0 ? "compile: --help is not an API call" : e), -1;
    if (!out_path) return seterr(err, errlen, "compile: no output path"), -1;
    if (compile_to_file(&a, out_path, NULL, e)) return seterr(err, errlen, e), -1;
    return 0;
}

sslc_session *sslc_open(const char *plan_path, const char *device, char *err, size_t errlen) {
    char e[IR_ERRLEN];
    engine_kind kind;
    if (engine_kind_parse(device ? device : "cpu", &kind, e)) return seterr(err, errlen, e), NULL;
    sslc_session *s = calloc(1, sizeof *s);
    if (!s) return seterr(err, errlen, "out of memory"), NULL;
    plan_init(&s->plan);
    if (plan_read(&s->plan, plan_path, e) || plan_opt_config(&s->plan, &s->cfg, &s->lr, &s->wd, e) ||
        aug_bind_plan(&s->aug, &s->plan, e) || !(s->e = engine_new_plan(kind, 0, &s->plan, NULL, 0, e)) ||
        engine_init_persistent(s->e, s->plan.seed, e)) {
        seterr(err, errlen, e);
        sslc_close(s);
        return NULL;
    }
    return s;
}

void sslc_close(sslc_session *s) {
    if (!s) return;
    engine_free(s->e);
    aug_unbind(&s->aug);
    plan_free(&s->plan);
    free(s);
}

int64_t sslc_numel(const sslc_session *s, const char *name) {
    int v = engine_find(s->e, name);
    return v < 0 ? -1 : ir_numel(&engine_graph(s->e)->vals[v].shape);
}

/* the value `name`, which must hold n elements of dtype dt */
static int lookup(const sslc_session *s, const char *name, ir_dtype dt, int64_t n, char *err, size_t errlen) {
    int v = engine_find(s->e, name);
    char e[IR_ERRLEN];
    if (v < 0) {
        snprintf(e, sizeof e, "the plan has no value '%.200s'", name);
        return seterr(err, errlen, e), -1;
    }
    const ir_value *val = &engine_graph(s->e)->vals[v];
    if (val->dtype != dt || ir_numel(&val->shape) != n) {
        snprintf(e, sizeof e, "'%.200s' holds %lld %s elements, not %lld %s", name, (long long)ir_numel(&val->shape),
                 ir_dtype_name(val->dtype), (long long)n, dt == DT_F32 ? "float32" : dt == DT_U8 ? "uint8" : ir_dtype_name(dt));
        return seterr(err, errlen, e), -1;
    }
    return v;
}

int sslc_set(sslc_session *s, const char *name, const float *data, int64_t n, char *err, size_t errlen) {
    int v = lookup(s, name, DT_F32, n, err, errlen);
    char e[IR_ERRLEN];
    if (v < 0) return -1;
    if (engine_set_f32(s->e, v, data, e)) return seterr(err, errlen, e), -1;
    return 0;
}

int sslc_set_u8(sslc_session *s, const char *name, const uint8_t *data, int64_t n, char *err, size_t errlen) {
    int v = lookup(s, name, DT_U8, n, err, errlen);
    if (v < 0) return -1;
    char e[IR_ERRLEN];
    if (engine_upload(s->e, v, data, (size_t)n, e)) return seterr(err, errlen, e), -1;
    return 0;
}

int sslc_get(const sslc_session *s, const char *name, float *data, int64_t n, char *err, size_t errlen) {
    int v = lookup(s, name, DT_F32, n, err, errlen);
    char e[IR_ERRLEN];
    if (v < 0) return -1;
    if (engine_get_f32(s->e, v, data, e)) return seterr(err, errlen, e), -1;
    return 0;
}

int sslc_step(sslc_session *s, int64_t step, float *loss, char *err, size_t errlen) {
    char e[IR_ERRLEN];
    opt_scalar sc[OPT_MAX_SCALARS];
    int ns = optimizer_step_inputs(&s->cfg, step, s->lr, s->wd, sc);
    for (int k = 0; k < ns; k++) {
        int v = engine_find(s->e, sc[k].name);
        if (v >= 0 && engine_set_f32(s->e, v, &sc[k].value, e)) return seterr(err, errlen, e), -1;
    }
    if (s->aug.ninputs) { /* this step's augmentation, drawn from the plan's seed */
        if (aug_draw(&s->aug, s->plan.seed, step - 1, e)) return seterr(err, errlen, e), -1;
        for (int i = 0; i < s->aug.ninputs; i++) {
            const aug_input *in = &s->aug.in[i];
            int v = engine_find(s->e, in->name);
            if (v >= 0 && engine_upload(s->e, v, in->data, aug_input_bytes(in), e)) return seterr(err, errlen, e), -1;
        }
    }
    int lv = engine_find(s->e, "loss");
    if (feed_sched_inputs(s->e, e) || engine_run(s->e, e) || (loss && lv >= 0 && engine_get_f32(s->e, lv, loss, e)))
        return seterr(err, errlen, e), -1;
    return 0;
}
