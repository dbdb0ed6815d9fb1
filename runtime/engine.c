#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/comm.h"
#include "backend.h"
#include "init.h"

struct engine {
    backend b;
    int f64;
};

/* the backends, by kind: adding one is a constructor here (docs/ARCHITECTURE.md) */
static const struct {
    engine_kind kind;
    const char *name;
    int (*build)(const backend_args *a, backend *b, char *err);
} backends[] = {
    {ENGINE_REF, "ref", backend_ref_new},
    {ENGINE_CPU, "cpu", backend_cpu_new},
    {ENGINE_CUDA, "cuda", backend_cuda_new},
};
enum { NBACKENDS = (int)(sizeof backends / sizeof backends[0]) };

int engine_kind_parse(const char *s, engine_kind *k, char *err) {
    if (!strcmp(s, "reference")) s = "ref";
    for (int i = 0; i < NBACKENDS; i++)
        if (!strcmp(s, backends[i].name)) {
            *k = backends[i].kind;
            return 0;
        }
    snprintf(err, IR_ERRLEN, "unknown device '%s' (choose one of: cpu, cuda, ref)", s);
    return -1;
}

const char *engine_kind_name(engine_kind k) {
    for (int i = 0; i < NBACKENDS; i++)
        if (backends[i].kind == k) return backends[i].name;
    return "?";
}

int engine_precision_parse(const char *s, unsigned *flags, char *err) {
    if (!strcmp(s, "f32") || !strcmp(s, "fp32") || !strcmp(s, "float32"))
        *flags &= ~(unsigned)ENGINE_TF32;
    else if (!strcmp(s, "tf32"))
        *flags |= ENGINE_TF32;
    else if (!strcmp(s, "bf16")) {
        snprintf(err, IR_ERRLEN,
                 "--precision bf16 changes the plan: compile it so (sslc compile/train --precision bf16); a run takes f32 or tf32");
        return -1;
    } else {
        snprintf(err, IR_ERRLEN, "unknown --precision '%s' (choose one of: f32, tf32)", s);
        return -1;
    }
    return 0;
}

static engine *build(engine_kind kind, unsigned flags, const ir_graph *g, const sslc_plan *p, const ir_comm *comm,
                     char *info, size_t info_len, char *err) {
    if ((flags & ENGINE_F64) && kind != ENGINE_REF) {
        snprintf(err, IR_ERRLEN, "float64 runs only on the reference backend (--device ref)");
        return NULL;
    }
    if ((flags & ENGINE_TF32) && kind != ENGINE_CUDA) {
        snprintf(err, IR_ERRLEN,
                 "--precision tf32 is for --device cuda (TF32 tensor cores); the %s backend computes in float32: drop it",
                 engine_kind_name(kind));
        return NULL;
    }
    int i = 0;
    while (i < NBACKENDS && backends[i].kind != kind) i++;
    if (i == NBACKENDS) {
        snprintf(err, IR_ERRLEN, "unknown engine kind %d", (int)kind);
        return NULL;
    }
    engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return NULL;
    }
    backend_args a = {g, p, (flags & ENGINE_F64) != 0, (flags & ENGINE_TF32) != 0, comm, info, info_len};
    if (backends[i].build(&a, &e->b, err)) {
        free(e);
        return NULL;
    }
    e->f64 = a.f64;
    return e;
}

engine *engine_new(engine_kind kind, unsigned flags, const ir_graph *g, char *info, size_t info_len, char *err) {
    return build(kind, flags, g, NULL, NULL, info, info_len, err);
}

engine *engine_new_plan(engine_kind kind, unsigned flags, const sslc_plan *p, char *info, size_t info_len, char *err) {
    return build(kind, flags, &p->train, p, NULL, info, info_len, err);
}

engine *engine_new_plan_comm(engine_kind kind, unsigned flags, const sslc_plan *p, const ir_comm *comm, char *info,
                             size_t info_len, char *err) {
    return build(kind, flags, &p->train, p, comm, info, info_len, err);
}

void engine_free(engine *e) {
    if (!e) return;
    e->b.ops->free(e->b.self);
    free(e);
}

const ir_graph *engine_graph(const engine *e) { return e->b.graph; }
int engine_find(const engine *e, const char *name) { return ir_find_value(e->b.graph, name); }
int engine_has_value(const engine *e, int v) {
    return v >= 0 && v < e->b.graph->nvals && e->b.ops->has_value(e->b.self, v);
}

size_t engine_value_bytes(const engine *e, int v) {
    const ir_value *val = &e->b.graph->vals[v];
    return (size_t)ir_numel(&val->shape) * ir_dtype_size(val->dtype);
}

int engine_upload(engine *e, int v, const void *src, size_t bytes, char *err) {
    return e->b.ops->upload(e->b.self, v, src, bytes, err);
}
int engine_download(const engine *e, int v, void *dst, size_t bytes, char *err) {
    return e->b.ops->download(e->b.self, v, dst, bytes, err);
}
int engine_download_f64(const engine *e, int v, double *dst, char *err) {
    return e->b.ops->download_f64(e->b.self, v, dst, err);
}

static int check_f32(const engine *e, int v, char *err) {
    if (v < 0 || v >= e->b.graph->nvals || e->b.graph->vals[v].dtype != DT_F32) {
        snprintf(err, IR_ERRLEN, "value %%%d is not a float32 value", v);
        return -1;
    }
    return 0;
}
int engine_set_f32(engine *e, int v, const float *src, char *err) {
    return check_f32(e, v, err) || engine_upload(e, v, src, engine_value_bytes(e, v), err) ? -1 : 0;
}
int engine_get_f32(const engine *e, int v, float *dst, char *err) {
    return check_f32(e, v, err) || engine_download(e, v, dst, engine_value_bytes(e, v), err) ? -1 : 0;
}

int engine_is_f64(const engine *e) { return e->f64; }

int engine_init_persistent(engine *e, uint64_t seed, char *err) {
    const ir_graph *g = e->b.graph;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_PARAM && val->kind != VK_STATE) continue;
        if (!engine_has_value(e, v)) continue;
        int64_t n = ir_numel(&val->shape);
        size_t bytes = engine_value_bytes(e, v);
        void *buf = malloc(bytes ? bytes : 1);
        if (!buf) {
            snprintf(err, IR_ERRLEN, "out of memory");
            return -1;
        }
        int rc;
        if (val->dtype == DT_I64) {
            for (int64_t i = 0; i < n; i++) ((int64_t *)buf)[i] = (int64_t)val->init.a;
            rc = engine_upload(e, v, buf, bytes, err);
        } else if (val->dtype == DT_F32) {
            rc = init_value_f32(g, v, seed, buf, err) || engine_upload(e, v, buf, bytes, err);
        } else {
            snprintf(err, IR_ERRLEN, "'%s': no initialization for %s state", val->name ? val->name : "?",
                     ir_dtype_name(val->dtype));
            rc = -1;
        }
        free(buf);
        if (rc) return -1;
    }
    return 0;
}

int engine_run(engine *e, char *err) { return e->b.ops->run(e->b.self, err); }
int engine_sync(engine *e, char *err) { return e->b.ops->sync(e->b.self, err); }

int engine_broadcast_persistent(engine *e, const ir_comm *comm, int root, char *err) {
    if (!comm || comm->size < 2) return 0;
    const ir_graph *g = e->b.graph;
    for (int v = 0; v < g->nvals; v++) {
        if (g->vals[v].kind != VK_PARAM && g->vals[v].kind != VK_STATE) continue;
        size_t bytes = engine_value_bytes(e, v);
        if (!bytes) continue;
        unsigned char *buf = malloc(2 * bytes);
        if (!buf) {
            snprintf(err, IR_ERRLEN, "out of memory broadcasting '%s'", g->vals[v].name);
            return -1;
        }
        /* uploaded only where it differs: a float64 engine keeps its full-precision values
         * when the ranks already agree (the usual case: one seed, one parameter file) */
        int rc = engine_download(e, v, buf, bytes, err);
        if (!rc) memcpy(buf + bytes, buf, bytes);
        rc = rc || comm->ops->broadcast(comm->self, buf, (int64_t)bytes, DT_U8, root, err) ||
             (memcmp(buf, buf + bytes, bytes) && engine_upload(e, v, buf, bytes, err));
        free(buf);
        if (rc) return -1;
    }
    return 0;
}
