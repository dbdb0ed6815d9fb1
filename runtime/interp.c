/* Reference interpreter. Persistent values (inputs, params, state, consts) live for the
 * interpreter's lifetime; intermediates are freed after their last reader. */
#include "interp.h"
#include "updates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ir_dtype interp_storage_dtype(const interp *it, ir_dtype dt) {
    if (dt == DT_F32 || dt == DT_F64) return it->f64 ? DT_F64 : DT_F32;
    return dt;
}

static int alloc_tensor(interp *it, int v, char *err) {
    const ir_value *val = &it->g->vals[v];
    ref_tensor *t = &it->t[v];
    if (t->data) return 0;
    t->dtype = interp_storage_dtype(it, val->dtype);
    t->shape = val->shape;
    t->numel = ir_numel(&val->shape);
    size_t bytes = (size_t)t->numel * ir_dtype_size(t->dtype);
    t->data = calloc(1, bytes ? bytes : 1);
    if (!t->data) {
        snprintf(err, IR_ERRLEN, "out of memory: %zu bytes for value %%%d%s%s", bytes, v, val->name ? " " : "",
                 val->name ? val->name : "");
        return -1;
    }
    return 0;
}

static int is_persistent(ir_kind k) { return k != VK_INTER; }

int interp_init(interp *it, const ir_graph *g, int f64, char *err) {
    memset(it, 0, sizeof *it);
    it->g = g;
    it->f64 = f64;
    it->t = calloc((size_t)g->nvals + 1, sizeof *it->t);
    it->last_use = malloc(((size_t)g->nvals + 1) * sizeof(int));
    it->keep = calloc((size_t)g->nvals + 1, 1);
    if (!it->t || !it->last_use || !it->keep) {
        snprintf(err, IR_ERRLEN, "out of memory setting up the interpreter");
        interp_free(it);
        return -1;
    }
    for (int v = 0; v < g->nvals; v++) it->last_use[v] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) it->last_use[g->nodes[i].in[k]] = i;
    for (int i = 0; i < g->noutputs; i++) it->keep[g->outputs[i]] = 1;
    for (int i = 0; i < g->nupdates; i++) it->keep[g->updates[i].src] = 1;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (!is_persistent(val->kind)) continue;
        if (alloc_tensor(it, v, err)) {
            interp_free(it);
            return -1;
        }
        if (val->kind == VK_CONST && val->data) {
            if (val->dtype == DT_F32 && it->f64) {
                const float *s = val->data;
                double *d = it->t[v].data;
                for (int64_t j = 0; j < it->t[v].numel; j++) d[j] = s[j];
            } else {
                memcpy(it->t[v].data, val->data, (size_t)it->t[v].numel * ir_dtype_size(val->dtype));
            }
        }
    }
    return 0;
}

void interp_free(interp *it) {
    if (it->t)
        for (int v = 0; v < it->g->nvals; v++) free(it->t[v].data);
    free(it->t);
    free(it->last_use);
    free(it->keep);
    memset(it, 0, sizeof *it);
}

void *interp_data(const interp *it, int v) { return (v >= 0 && v < it->g->nvals) ? it->t[v].data : NULL; }

static int check_float(const interp *it, int v, char *err) {
    if (v < 0 || v >= it->g->nvals || !it->t[v].data) {
        snprintf(err, IR_ERRLEN, "value %%%d is not materialized", v);
        return -1;
    }
    if (it->t[v].dtype != DT_F32 && it->t[v].dtype != DT_F64) {
        snprintf(err, IR_ERRLEN, "value '%s' is %s, not a float tensor", it->g->vals[v].name ? it->g->vals[v].name : "?",
                 ir_dtype_name(it->t[v].dtype));
        return -1;
    }
    return 0;
}

int interp_set_f32(interp *it, int v, const float *src, char *err) {
    if (check_float(it, v, err)) return -1;
    ref_tensor *t = &it->t[v];
    if (t->dtype == DT_F32)
        memcpy(t->data, src, (size_t)t->numel * 4);
    else
        for (int64_t i = 0; i < t->numel; i++) ((double *)t->data)[i] = src[i];
    return 0;
}
int interp_get_f32(const interp *it, int v, float *dst, char *err) {
    if (check_float(it, v, err)) return -1;
    const ref_tensor *t = &it->t[v];
    if (t->dtype == DT_F32)
        memcpy(dst, t->data, (size_t)t->numel * 4);
    else
        for (int64_t i = 0; i < t->numel; i++) dst[i] = (float)((double *)t->data)[i];
    return 0;
}
int interp_set_f64(interp *it, int v, const double *src, char *err) {
    if (check_float(it, v, err)) return -1;
    ref_tensor *t = &it->t[v];
    if (t->dtype == DT_F64)
        memcpy(t->data, src, (size_t)t->numel * 8);
    else
        for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = (float)src[i];
    return 0;
}
int interp_get_f64(const interp *it, int v, double *dst, char *err) {
    if (check_float(it, v, err)) return -1;
    const ref_tensor *t = &it->t[v];
    if (t->dtype == DT_F64)
        memcpy(dst, t->data, (size_t)t->numel * 8);
    else
        for (int64_t i = 0; i < t->numel; i++) dst[i] = ((float *)t->data)[i];
    return 0;
}

int interp_run(interp *it, char *err) {
    const ir_graph *g = it->g;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        const ir_opdef *def = ir_optable[n->op];
        ref_call c;
        memset(&c, 0, sizeof c);
        c.node = n;
        c.nin = n->nin;
        c.nout = n->nout;
        c.err = err;
        c.comm = it->comm;
        for (int k = 0; k < n->nin; k++) {
            if (!it->t[n->in[k]].data) {
                snprintf(err, IR_ERRLEN, "node %d (%s): input %d not computed", i, def->name, k);
                return -1;
            }
            c.in[k] = it->t[n->in[k]];
        }
        for (int k = 0; k < n->nout; k++) {
            free(it->t[n->out[k]].data); /* re-run: recompute */
            it->t[n->out[k]].data = NULL;
            if (alloc_tensor(it, n->out[k], err)) return -1;
            c.out[k] = it->t[n->out[k]];
        }
        err[0] = 0;
        if (ir_ref_run(def, &c, it->f64) != 0) {
            if (!err[0]) snprintf(err, IR_ERRLEN, "node %d (%s): kernel failed", i, def->name);
            return -1;
        }
        if (it->keep_all) continue;
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (it->last_use[v] == i && !it->keep[v] && !is_persistent(g->vals[v].kind)) {
                free(it->t[v].data);
                it->t[v].data = NULL;
            }
        }
        for (int k = 0; k < n->nout; k++) { /* outputs nobody reads */
            int v = n->out[k];
            if (it->last_use[v] < 0 && !it->keep[v]) {
                free(it->t[v].data);
                it->t[v].data = NULL;
            }
        }
    }
    /* intermediates are allocated per run, so the staging is sized per run */
    updates_stage st = {0};
    st.stage_bytes = updates_stage_need(g, it->t);
    if (st.stage_bytes && !(st.stage = malloc(st.stage_bytes))) {
        snprintf(err, IR_ERRLEN, "out of memory applying updates");
        return -1;
    }
    int rc = updates_apply(g, it->t, &st, err);
    free(st.stage);
    return rc;
}
