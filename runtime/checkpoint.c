#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "safetensors.h"

static int persistent(const ir_value *v) { return v->kind == VK_PARAM || v->kind == VK_STATE; }

static uLong crc_bytes(uLong c, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return c;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

int ckpt_table_crc(const st_table *t, uint32_t *out, char *err) {
    const st_tensor **order = malloc(((size_t)t->n + 1) * sizeof *order);
    if (!order) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int i = 0; i < t->n; i++) order[i] = &t->t[i];
    qsort(order, (size_t)t->n, sizeof *order, by_name);
    uLong c = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < t->n; i++) {
        c = crc_bytes(c, order[i]->name, strlen(order[i]->name) + 1);
        unsigned char dt = (unsigned char)order[i]->dtype;
        c = crc_bytes(c, &dt, 1);
        c = crc_bytes(c, order[i]->data, order[i]->nbytes);
    }
    free(order);
    *out = (uint32_t)c;
    return 0;
}

static int set_meta_u64(st_table *t, const char *key, uint64_t v, char *err) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return st_set_meta(t, key, buf, err);
}

int ckpt_save(const engine *e, const ckpt_meta *meta, const char *path, char *err) {
    const ir_graph *g = engine_graph(e);
    st_table t;
    st_init(&t);
    int rc = 0;
    unsigned char *buf = NULL;
    size_t cap = 0;
    for (int v = 0; v < g->nvals && !rc; v++) {
        const ir_value *val = &g->vals[v];
        if (!persistent(val) || !engine_has_value(e, v)) continue;
        size_t n = engine_value_bytes(e, v);
        st_dtype sd;
        if (st_dtype_from_ir(val->dtype, &sd)) {
            snprintf(err, IR_ERRLEN, "%s: cannot store '%s' of dtype %s", path, val->name, ir_dtype_name(val->dtype));
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
        /* downloaded in the graph dtype: a float64 or device engine converts or copies back */
        rc = engine_download(e, v, buf, n, err) || st_add(&t, val->name, sd, val->shape.ndim, val->shape.d, buf, err);
    }
    free(buf);
    uint32_t crc = 0;
    char hex[16];
    if (!rc && !(rc = ckpt_table_crc(&t, &crc, err))) snprintf(hex, sizeof hex, "%08" PRIx32, crc);
    char pc[16];
    snprintf(pc, sizeof pc, "%08" PRIx32, meta->plan_crc32);
    rc = rc || st_set_meta(&t, "format", CKPT_FORMAT, err) || st_set_meta(&t, "version", CKPT_VERSION, err) ||
         set_meta_u64(&t, "step", (uint64_t)meta->step, err) || set_meta_u64(&t, "total", (uint64_t)meta->total, err) ||
         set_meta_u64(&t, "seed", meta->seed, err) || st_set_meta(&t, "data", meta->data, err) ||
         st_set_meta(&t, "plan_crc32", pc, err) || st_set_meta(&t, "crc32", hex, err) || st_write(&t, path, err);
    st_free(&t);
    return rc ? -1 : 0;
}

static int meta_u64(const st_table *t, const char *path, const char *key, uint64_t *out, char *err) {
    const char *s = st_get_meta(t, key);
    char *end;
    if (!s || !*s || (*out = strtoull(s, &end, 10), *end)) {
        snprintf(err, IR_ERRLEN, "%s: checkpoint metadata '%s' is missing or invalid", path, key);
        return -1;
    }
    return 0;
}

static int meta_hex32(const st_table *t, const char *path, const char *key, uint32_t *out, char *err) {
    const char *s = st_get_meta(t, key);
    char *end;
    unsigned long v = s ? strtoul(s, &end, 16) : 0;
    if (!s || strlen(s) != 8 || *end) {
        snprintf(err, IR_ERRLEN, "%s: checkpoint metadata '%s' is missing or invalid", path, key);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int read_meta(const st_table *t, const char *path, ckpt_meta *m, char *err) {
    const char *fmt = st_get_meta(t, "format"), *ver = st_get_meta(t, "version"), *data = st_get_meta(t, "data");
    if (!fmt || strcmp(fmt, CKPT_FORMAT)) {
        snprintf(err, IR_ERRLEN, "%s: not an sslc checkpoint (safetensors without sslc's metadata)", path);
        return -1;
    }
    if (!ver || strcmp(ver, CKPT_VERSION)) {
        snprintf(err, IR_ERRLEN, "%s: checkpoint format version %.20s, this sslc reads version %s", path, ver ? ver : "?",
                 CKPT_VERSION);
        return -1;
    }
    uint64_t step, total, seed;
    if (meta_u64(t, path, "step", &step, err) || meta_u64(t, path, "total", &total, err) ||
        meta_u64(t, path, "seed", &seed, err) || meta_hex32(t, path, "plan_crc32", &m->plan_crc32, err))
        return -1;
    if (step > INT64_MAX / 4 || total > INT64_MAX / 4 || !data || strlen(data) >= sizeof m->data) {
        snprintf(err, IR_ERRLEN, "%s: checkpoint metadata is invalid", path);
        return -1;
    }
    m->step = (int64_t)step, m->total = (int64_t)total, m->seed = seed;
    snprintf(m->data, sizeof m->data, "%s", data);
    return 0;
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
    st_table t;
    if (st_read(&t, path, err)) return -1;
    ckpt_meta m;
    uint32_t want = 0, got = 0;
    int rc = read_meta(&t, path, &m, err) || meta_hex32(&t, path, "crc32", &want, err) || ckpt_table_crc(&t, &got, err);
    if (!rc && got != want) {
        snprintf(err, IR_ERRLEN, "%s: checkpoint is corrupted (checksum %08" PRIx32 ", expected %08" PRIx32 ")", path, got,
                 want);
        rc = -1;
    }
    if (!rc && plan_crc && m.plan_crc32 != *plan_crc) {
        snprintf(err, IR_ERRLEN, "%s was written for another plan (plan CRC %08" PRIx32 ", this plan's %08" PRIx32 ")",
                 path, m.plan_crc32, *plan_crc);
        rc = -1;
    }
    const ir_graph *g = engine_graph(e);
    for (int i = 0; i < t.n && !rc; i++) {
        int v = engine_find(e, t.t[i].name);
        if (v < 0 || !persistent(&g->vals[v])) {
            snprintf(err, IR_ERRLEN, "%s: '%s' is not a parameter or state tensor of this plan", path, t.t[i].name);
            rc = -1;
        } else
            rc = load_one(e, v, &t.t[i], path, err);
    }
    for (int v = 0; v < g->nvals && !rc; v++)
        if (persistent(&g->vals[v]) && engine_has_value(e, v) && !st_find(&t, g->vals[v].name)) {
            snprintf(err, IR_ERRLEN, "%s: checkpoint lacks '%s' of this plan", path, g->vals[v].name);
            rc = -1;
        }
    if (!rc && meta) *meta = m;
    st_free(&t);
    return rc ? -1 : 0;
}
