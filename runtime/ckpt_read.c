/* Reading and verifying weights files (runtime/checkpoint.h): the checksums of both checkpoint
 * versions, the metadata, and the NaN / Inf scan. One reader for every command, so a file that
 * `run --resume` refuses is refused by eval and export alike. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint.h"
#include "ckpt_impl.h"

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
static int by_key(const void *a, const void *b) { return strcmp(**(char *const *const *)a, **(char *const *const *)b); }

/* metadata pairs in key order, without the checksum itself (it cannot cover itself) */
static uLong meta_crc(uLong c, const st_table *t, int *oom) {
    char ***keys = malloc(((size_t)t->nmeta + 1) * sizeof *keys);
    if (!keys) return *oom = 1, c;
    for (int i = 0; i < t->nmeta; i++) keys[i] = &t->meta_keys[i];
    qsort(keys, (size_t)t->nmeta, sizeof *keys, by_key);
    for (int i = 0; i < t->nmeta; i++) {
        const char *k = *keys[i], *v = t->meta_vals[keys[i] - t->meta_keys];
        if (!strcmp(k, CKPT_CHECKSUM_KEY)) continue;
        c = crc_bytes(c, k, strlen(k) + 1);
        c = crc_bytes(c, v, strlen(v) + 1);
    }
    free(keys);
    return c;
}

int ckpt_checksum(const st_table *t, int version, uint32_t *out, char *err) {
    const st_tensor **order = malloc(((size_t)t->n + 1) * sizeof *order);
    int oom = !order;
    uLong c = crc32(0L, Z_NULL, 0);
    if (version >= 2 && !oom) c = meta_crc(c, t, &oom);
    if (oom) {
        free(order);
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    for (int i = 0; i < t->n; i++) order[i] = &t->t[i];
    qsort(order, (size_t)t->n, sizeof *order, by_name);
    for (int i = 0; i < t->n; i++) {
        const st_tensor *x = order[i];
        c = crc_bytes(c, x->name, strlen(x->name) + 1);
        unsigned char dt = (unsigned char)x->dtype, nd = (unsigned char)x->ndim;
        c = crc_bytes(c, &dt, 1);
        if (version >= 2) { /* version 1 left the shape out */
            c = crc_bytes(c, &nd, 1);
            for (int d = 0; d < x->ndim; d++) {
                unsigned char le[8];
                for (int k = 0; k < 8; k++) le[k] = (unsigned char)((uint64_t)x->shape[d] >> (8 * k));
                c = crc_bytes(c, le, 8);
            }
        }
        c = crc_bytes(c, x->data, x->nbytes);
    }
    free(order);
    *out = (uint32_t)c;
    return 0;
}

int64_t ckpt_first_nonfinite(st_dtype dt, const void *p, size_t nbytes) {
    const unsigned char *b = p;
    switch (dt) { /* by the bits: an all-ones exponent is NaN or Inf, whatever the FPU mode */
    case ST_F32:
        for (size_t i = 0; i < nbytes / 4; i++) {
            uint32_t u;
            memcpy(&u, b + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u) return (int64_t)i;
        }
        return -1;
    case ST_F64:
        for (size_t i = 0; i < nbytes / 8; i++) {
            uint64_t u;
            memcpy(&u, b + 8 * i, 8);
            if ((u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) return (int64_t)i;
        }
        return -1;
    case ST_F16:
    case ST_BF16: {
        uint16_t m = dt == ST_F16 ? 0x7c00 : 0x7f80;
        for (size_t i = 0; i < nbytes / 2; i++) {
            uint16_t u;
            memcpy(&u, b + 2 * i, 2);
            if ((u & m) == m) return (int64_t)i;
        }
        return -1;
    }
    default: return -1;
    }
}

int ckpt_nonfinite_msg(const char *what, const char *name, st_dtype dt, const void *p, size_t nbytes, char *err) {
    int64_t i = ckpt_first_nonfinite(dt, p, nbytes);
    if (i < 0) return 0;
    size_t es = st_dtype_size(dt);
    const unsigned char *b = p;
    /* NaN: a non-zero mantissa; the element's bits tell, read as the widest float */
    int nan = 0;
    if (dt == ST_F32) {
        float f;
        memcpy(&f, b + 4 * i, 4);
        nan = f != f;
    } else if (dt == ST_F64) {
        double d;
        memcpy(&d, b + 8 * i, 8);
        nan = d != d;
    } else {
        uint16_t u;
        memcpy(&u, b + 2 * i, 2);
        nan = (u & (dt == ST_F16 ? 0x03ff : 0x007f)) != 0;
    }
    snprintf(err, IR_ERRLEN, "%s'%s' holds %s (element %" PRId64 " of %zu)", what, name, nan ? "NaN" : "Inf", i,
             es ? nbytes / es : 0);
    return CKPT_NONFINITE;
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
    const char *fmt = st_get_meta(t, "format"), *data = st_get_meta(t, "data");
    if (!fmt || strcmp(fmt, CKPT_FORMAT)) {
        snprintf(err, IR_ERRLEN, "%s: not an sslc checkpoint (metadata 'format' is not %s)", path, CKPT_FORMAT);
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

/* does the file claim to be an sslc checkpoint? Any one of these marks it, so that a flipped bit
 * in one of them cannot turn a checkpoint into an unverified plain weights file */
static int claims_ckpt(const st_table *t) {
    const char *fmt = st_get_meta(t, "format");
    return (fmt && !strncmp(fmt, "sslc", 4)) || st_get_meta(t, CKPT_CHECKSUM_KEY) || st_get_meta(t, "crc32") ||
           st_get_meta(t, "plan_crc32");
}

static int verify(ckpt_file *f, const char *path, char *err) {
    const char *ver = st_get_meta(&f->t, "version");
    if (!ver || (strcmp(ver, "1") && strcmp(ver, "2"))) {
        snprintf(err, IR_ERRLEN,
                 "%s: checkpoint format version %.20s, this sslc reads versions 1 and 2 (a newer sslc wrote it, or "
                 "it is corrupted)",
                 path, ver ? ver : "(none)");
        return -1;
    }
    f->version = ver[0] - '0';
    uint32_t want = 0, got = 0;
    if (meta_hex32(&f->t, path, f->version == 1 ? "crc32" : CKPT_CHECKSUM_KEY, &want, err) ||
        ckpt_checksum(&f->t, f->version, &got, err))
        return -1;
    if (got != want) {
        snprintf(err, IR_ERRLEN,
                 "%s: checkpoint is corrupted (checksum %08" PRIx32 ", expected %08" PRIx32
                 "): restore it from a copy or train again",
                 path, got, want);
        return -1;
    }
    return read_meta(&f->t, path, &f->meta, err);
}

/* the first control character (newline, tab, ...) of s, or -1 */
static int control_char(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return (unsigned char)*s;
    return -1;
}

/* Names and metadata are quoted in one-line errors, and sslc never writes a control character in
 * them: a file holding one is refused without quoting it (found by the checkpoint fuzzer: a name
 * holding "\n" made a two-line error). */
static int printable(const st_table *t, const char *path, char *err) {
    for (int i = 0; i < t->n; i++)
        if (control_char(t->t[i].name) >= 0) {
            snprintf(err, IR_ERRLEN, "%.300s: tensor %d's name holds a control character (byte 0x%02x): not a file sslc wrote",
                     path, i, control_char(t->t[i].name));
            return -1;
        }
    for (int i = 0; i < t->nmeta; i++)
        if (control_char(t->meta_keys[i]) >= 0 || control_char(t->meta_vals[i]) >= 0) {
            snprintf(err, IR_ERRLEN, "%.300s: metadata entry %d holds a control character: not a file sslc wrote", path, i);
            return -1;
        }
    return 0;
}

int ckpt_read(ckpt_file *f, const char *path, char *err) {
    memset(f, 0, sizeof *f);
    if (st_read(&f->t, path, err)) return -1;
    if (printable(&f->t, path, err)) goto fail;
    f->is_ckpt = claims_ckpt(&f->t);
    if (f->is_ckpt && verify(f, path, err)) goto fail;
    char what[IR_ERRLEN / 2];
    snprintf(what, sizeof what, "%.200s: ", path);
    for (int i = 0; i < f->t.n; i++) {
        const st_tensor *x = &f->t.t[i];
        if (ckpt_nonfinite_msg(what, x->name, x->dtype, x->data, x->nbytes, err)) {
            size_t n = strlen(err);
            snprintf(err + n, IR_ERRLEN - n, ": the run that wrote it had diverged; use an earlier checkpoint or "
                                             "train with a lower learning rate");
            goto fail;
        }
    }
    return 0;
fail:
    ckpt_file_free(f);
    return -1;
}

void ckpt_file_free(ckpt_file *f) {
    st_free(&f->t);
    f->is_ckpt = 0;
}
