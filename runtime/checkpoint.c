#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_impl.h"

static int persistent(const ir_value *v) { return v->kind == VK_PARAM || v->kind == VK_STATE; }

static int set_meta_u64(st_table *t, const char *key, uint64_t v, char *err) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return st_set_meta(t, key, buf, err);
}

/* Visits every parameter and state tensor of e, downloaded in its graph dtype (a float64 or
 * device engine converts or copies back) into one reused buffer. */
typedef int (*visit_fn)(void *ctx, const ir_value *val, st_dtype sd, const void *data, size_t n, char *err);
static int each_persistent(const engine *e, visit_fn fn, void *ctx, char *err) {
    const ir_graph *g = engine_graph(e);
    unsigned char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int v = 0; v < g->nvals && !rc; v++) {
        const ir_value *val = &g->vals[v];
        if (!persistent(val) || !engine_has_value(e, v)) continue;
        size_t n = engine_value_bytes(e, v);
        st_dtype sd;
        if (st_dtype_from_ir(val->dtype, &sd)) {
            snprintf(err, IR_ERRLEN, "cannot store '%s' of dtype %s", val->name, ir_dtype_name(val->dtype));
            rc = -1;
            break;
        }
        if (n > cap) {
            unsigned char *nb = realloc(buf, n ? n : 1);
            if (!nb) {
                snprintf(err, IR_ERRLEN, "out of memory");
                rc = -1;
                break;
            }
            buf = nb, cap = n;
        }
        rc = engine_download(e, v, buf, n, err);
        if (!rc) rc = fn(ctx, val, sd, buf, n, err);
    }
    free(buf);
    return rc;
}

static int check_one(void *ctx, const ir_value *val, st_dtype sd, const void *data, size_t n, char *err) {
    (void)ctx;
    return ckpt_nonfinite_msg("", val->name, sd, data, n, err);
}

/* a state holding NaN or Inf is never written: the previous checkpoint stays the last good one */
static int add_one(void *ctx, const ir_value *val, st_dtype sd, const void *data, size_t n, char *err) {
    int rc = check_one(ctx, val, sd, data, n, err);
    return rc ? rc : st_add(ctx, val->name, sd, val->shape.ndim, val->shape.d, data, err);
}

int ckpt_check_state(const engine *e, char *err) { return each_persistent(e, check_one, NULL, err); }

int ckpt_save(const engine *e, const ckpt_meta *meta, const char *path, char *err) {
    st_table t;
    st_init(&t);
    int rc = each_persistent(e, add_one, &t, err);
    if (rc) {
        st_free(&t);
        return rc == CKPT_NONFINITE ? CKPT_NONFINITE : -1;
    }
    char pc[16];
    snprintf(pc, sizeof pc, "%08" PRIx32, meta->plan_crc32);
    rc = st_set_meta(&t, "format", CKPT_FORMAT, err) || st_set_meta(&t, "version", CKPT_VERSION, err) ||
         set_meta_u64(&t, "step", (uint64_t)meta->step, err) || set_meta_u64(&t, "total", (uint64_t)meta->total, err) ||
         set_meta_u64(&t, "seed", meta->seed, err) || st_set_meta(&t, "data", meta->data, err) ||
         st_set_meta(&t, "plan_crc32", pc, err);
    /* the checksum last: it covers every other metadata pair */
    uint32_t crc = 0;
    char hex[16];
    if (!rc && !(rc = ckpt_checksum(&t, 2, &crc, err))) {
        snprintf(hex, sizeof hex, "%08" PRIx32, crc);
        rc = st_set_meta(&t, CKPT_CHECKSUM_KEY, hex, err) || st_write(&t, path, err);
    }
    st_free(&t);
    return rc ? -1 : 0;
}

static int load_one(engine *e, int v, const st_tensor *t, const char *path, char *err) {
    const ir_value *val = &engine_graph(e)->vals[v];
    st_dtype want;
    ir_shape s = ir_shape_make(t->ndim <= IR_MAX_DIMS ? t->ndim : 0, t->shape);
    if (st_dtype_from_ir(val->dtype, &want) || t->dtype != want || t->ndim > IR_MAX_DIMS || !ir_shape_eq(&s, &val->shape)) {
        char a[96], b[96];
        ir_shape_str(&s, a, sizeof a);
        ir_shape_str(&val->shape, b, sizeof b);
        snprintf(err, IR_ERRLEN, "%s: '%s' is %s %s, the plan has %s %s", path, t->name, st_dtype_name(t->dtype), a,
                 ir_dtype_name(val->dtype), b);
        return -1;
    }
    return engine_upload(e, v, t->data, t->nbytes, err);
}

int ckpt_load(engine *e, const char *path, const uint32_t *plan_crc, ckpt_meta *meta, char *err) {
    ckpt_file f;
    if (ckpt_read(&f, path, err)) return -1;
    int rc = 0;
    if (!f.is_ckpt) {
        snprintf(err, IR_ERRLEN, "%s: not an sslc checkpoint (safetensors without sslc's metadata)", path);
        rc = -1;
    }
    if (!rc && plan_crc && f.meta.plan_crc32 != *plan_crc) {
        snprintf(err, IR_ERRLEN, "%s was written for another plan (plan CRC %08" PRIx32 ", this plan's %08" PRIx32 ")",
                 path, f.meta.plan_crc32, *plan_crc);
        rc = -1;
    }
    const ir_graph *g = engine_graph(e);
    const st_table *t = &f.t;
    for (int i = 0; i < t->n && !rc; i++) {
        int v = engine_find(e, t->t[i].name);
        if (v < 0 || !persistent(&g->vals[v])) {
            snprintf(err, IR_ERRLEN, "%s: '%s' is not a parameter or state tensor of this plan", path, t->t[i].name);
            rc = -1;
        } else
            rc = load_one(e, v, &t->t[i], path, err);
    }
    for (int v = 0; v < g->nvals && !rc; v++)
        if (persistent(&g->vals[v]) && engine_has_value(e, v) && !st_find(t, g->vals[v].name)) {
            snprintf(err, IR_ERRLEN, "%s: checkpoint lacks '%s' of this plan", path, g->vals[v].name);
            rc = -1;
        }
    if (!rc && meta) *meta = f.meta;
    ckpt_file_free(&f);
    return rc ? -1 : 0;
}

int ckpt_resign(st_table *t, char *err) {
    const char *ver = st_get_meta(t, "version");
    int version = ver && !strcmp(ver, "1") ? 1 : 2;
    uint32_t crc;
    char hex[16];
    if (ckpt_checksum(t, version, &crc, err)) return -1;
    snprintf(hex, sizeof hex, "%08" PRIx32, crc);
    return st_set_meta(t, version == 1 ? "crc32" : CKPT_CHECKSUM_KEY, hex, err);
}
