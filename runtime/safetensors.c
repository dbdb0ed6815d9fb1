/* safetensors reader/writer with a small strict, schema-directed JSON parser for the header. */
#define _GNU_SOURCE /* qsort_r */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IR_ERRLEN, fmt, ap);
    va_end(ap);
    for (char *q = err; *q; q++) /* names from a file may hold control characters: keep one line */
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return -1;
}

/* ---- dtypes ---- */

static const char *const st_names[ST__COUNT] = {"BOOL", "U8",   "I8",  "I16", "U16", "F16", "BF16",
                                                "I32",  "U32",  "F32", "I64", "U64", "F64"};
static const size_t st_sizes[ST__COUNT] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < ST__COUNT ? st_names[t] : "?"; }
size_t st_dtype_size(st_dtype t) { return (unsigned)t < ST__COUNT ? st_sizes[t] : 0; }

int st_dtype_parse(const char *s, st_dtype *out) {
    for (int i = 0; i < ST__COUNT; i++)
        if (strcmp(s, st_names[i]) == 0) return *out = (st_dtype)i, 0;
    return -1;
}

static const struct {
    ir_dtype ir;
    st_dtype st;
} ir_map[] = {{DT_F32, ST_F32}, {DT_F64, ST_F64}, {DT_BF16, ST_BF16}, {DT_F16, ST_F16},
              {DT_I32, ST_I32}, {DT_I64, ST_I64}, {DT_U8, ST_U8},     {DT_BOOL, ST_BOOL}};
int st_dtype_from_ir(ir_dtype t, st_dtype *out) {
    for (size_t i = 0; i < sizeof ir_map / sizeof ir_map[0]; i++)
        if (ir_map[i].ir == t) return *out = ir_map[i].st, 0;
    return -1;
}
int st_dtype_to_ir(st_dtype t, ir_dtype *out) {
    for (size_t i = 0; i < sizeof ir_map / sizeof ir_map[0]; i++)
        if (ir_map[i].st == t) return *out = ir_map[i].ir, 0;
    return -1;
}

/* strict UTF-8: no overlong forms, no surrogates, at most U+10FFFF */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (n - i < (size_t)len) return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + (size_t)k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + (size_t)k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- the table ---- */

void st_init(st_table *t) { memset(t, 0, sizeof *t); }

void st_free(st_table *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->t[i].name);
        if (!t->t[i].borrowed) free(t->t[i].data);
    }
    free(t->t);
    for (int i = 0; i < t->nmeta; i++) {
        free(t->meta_keys[i]);
        free(t->meta_vals[i]);
    }
    free(t->meta_keys);
    free(t->meta_vals);
    st_init(t);
}

int64_t st_numel(const st_tensor *x) {
    int64_t n = 1;
    for (int i = 0; i < x->ndim; i++) n *= x->shape[i];
    return n;
}

const st_tensor *st_find(const st_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->t[i].name, name) == 0) return &t->t[i];
    return NULL;
}

const char *st_get_meta(const st_table *t, const char *key) {
    for (int i = 0; i < t->nmeta; i++)
        if (strcmp(t->meta_keys[i], key) == 0) return t->meta_vals[i];
    return NULL;
}

/* byte count of dtype x shape, or -1 with err on a bad shape or overflow */
static int tensor_bytes(st_dtype dt, int ndim, const int64_t *shape, size_t *out, const char *name, char *err) {
    if ((unsigned)dt >= ST__COUNT) return fail(err, "tensor '%.80s': invalid dtype %d", name, (int)dt);
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return fail(err, "tensor '%.80s': rank %d (at most %d)", name, ndim, ST_MAX_DIMS);
    uint64_t n = st_sizes[dt];
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return fail(err, "tensor '%.80s': negative dimension %lld", name, (long long)shape[i]);
        if (__builtin_mul_overflow(n, (uint64_t)shape[i], &n) || n > (uint64_t)INT64_MAX)
            return fail(err, "tensor '%.80s': shape is too large", name);
    }
    if (n > (uint64_t)SIZE_MAX) return fail(err, "tensor '%.80s': shape is too large", name);
    *out = (size_t)n;
    return 0;
}

static int check_name(const st_table *t, const char *name, char *err) {
    if (!name[0]) return fail(err, "tensor with an empty name");
    if (strcmp(name, "__metadata__") == 0) return fail(err, "'__metadata__' cannot name a tensor");
    if (!utf8_valid((const unsigned char *)name, strlen(name))) return fail(err, "tensor name is not valid UTF-8");
    if (st_find(t, name)) return fail(err, "tensor '%.80s' added twice", name);
    return 0;
}

static int add_slot(st_table *t, char *err) {
    if (t->n < t->cap) return 0;
    int nc = t->cap ? t->cap * 2 : 32;
    st_tensor *x = realloc(t->t, (size_t)nc * sizeof *x);
    if (!x) return fail(err, "out of memory");
    t->t = x;
    t->cap = nc;
    return 0;
}

static int add_impl(st_table *t, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data,
                    int borrowed, char *err) {
    size_t nb;
    if (check_name(t, name, err) != 0) return -1;
    if (tensor_bytes(dt, ndim, shape, &nb, name, err) != 0) return -1;
    if (add_slot(t, err) != 0) return -1;
    st_tensor *x = &t->t[t->n];
    memset(x, 0, sizeof *x);
    x->name = strdup(name);
    if (!x->name) return fail(err, "out of memory");
    x->dtype = dt;
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++) x->shape[i] = shape[i];
    x->nbytes = nb;
    x->borrowed = borrowed;
    if (borrowed) {
        x->data = (void *)data;
    } else {
        x->data = malloc(nb ? nb : 1);
        if (!x->data) {
            free(x->name);
            return fail(err, "out of memory for tensor '%.80s' (%zu bytes)", name, nb);
        }
        if (nb) memcpy(x->data, data, nb);
    }
    t->n++;
    return 0;
}

int st_add(st_table *t, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data, char *err) {
    return add_impl(t, name, dt, ndim, shape, data, 0, err);
}
int st_add_borrowed(st_table *t, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data,
                    char *err) {
    return add_impl(t, name, dt, ndim, shape, data, 1, err);
}

int st_set_meta(st_table *t, const char *key, const char *val, char *err) {
    if (!utf8_valid((const unsigned char *)key, strlen(key)) || !utf8_valid((const unsigned char *)val, strlen(val)))
        return fail(err, "metadata is not valid UTF-8");
    for (int i = 0; i < t->nmeta; i++)
        if (strcmp(t->meta_keys[i], key) == 0) {
            char *v = strdup(val);
            if (!v) return fail(err, "out of memory");
            free(t->meta_vals[i]);
            t->meta_vals[i] = v;
            return 0;
        }
    if (t->nmeta == t->cap_meta) {
        int nc = t->cap_meta ? t->cap_meta * 2 : 8;
        char **k = realloc(t->meta_keys, (size_t)nc * sizeof *k);
        if (!k) return fail(err, "out of memory");
        t->meta_keys = k;
        char **v = realloc(t->meta_vals, (size_t)nc * sizeof *v);
        if (!v) return fail(err, "out of memory");
        t->meta_vals = v;
        t->cap_meta = nc;
    }
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) {
        free(k);
        free(v);
        return fail(err, "out of memory");
    }
    t->meta_keys[t->nmeta] = k;
    t->meta_vals[t->nmeta] = v;
    t->nmeta++;
    return 0;
}

/* ---- writing ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + n + 1) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) sb_put(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}
static void sb_json_str(sbuf *b, const char *s) {
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            sb_puts(b, "\\\"");
        else if (c == '\\')
            sb_puts(b, "\\\\");
        else if (c < 0x20)
            sb_fmt(b, "\\u%04x", c);
        else
            sb_put(b, (const char *)&c, 1);
    }
    sb_puts(b, "\"");
}

/* Data order of the Python library (Rust `serialize`): dtype descending in its Dtype enum
 * order, then name. Element sizes never increase along it, so every tensor is aligned. */
static const int st_rank[ST__COUNT] = {
    [ST_BOOL] = 0, [ST_U8] = 4,  [ST_I8] = 5,   [ST_I16] = 9,  [ST_U16] = 10, [ST_F16] = 11, [ST_BF16] = 12,
    [ST_I32] = 13, [ST_U32] = 14, [ST_F32] = 15, [ST_F64] = 17, [ST_I64] = 18, [ST_U64] = 19};
static int cmp_layout(const void *a, const void *b, void *ctx) {
    const st_table *t = ctx;
    const st_tensor *x = &t->t[*(const int *)a], *y = &t->t[*(const int *)b];
    int rx = st_rank[x->dtype], ry = st_rank[y->dtype];
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Builds the padded header (with its 8-byte length prefix) and the data order. */
static int build_header(const st_table *t, sbuf *hb, int **order_out, char *err) {
    int *order = malloc(((size_t)t->n + 1) * sizeof *order);
    if (!order) return fail(err, "out of memory");
    for (int i = 0; i < t->n; i++) order[i] = i;
    qsort_r(order, (size_t)t->n, sizeof *order, cmp_layout, (void *)t);
    memset(hb, 0, sizeof *hb);
    sb_put(hb, "\0\0\0\0\0\0\0\0", 8);
    sb_puts(hb, "{");
    int first = 1;
    if (t->nmeta) {
        sb_puts(hb, "\"__metadata__\":{");
        for (int i = 0; i < t->nmeta; i++) {
            if (i) sb_puts(hb, ",");
            sb_json_str(hb, t->meta_keys[i]);
            sb_puts(hb, ":");
            sb_json_str(hb, t->meta_vals[i]);
        }
        sb_puts(hb, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (int k = 0; k < t->n; k++) {
        const st_tensor *x = &t->t[order[k]];
        if (!first) sb_puts(hb, ",");
        first = 0;
        sb_json_str(hb, x->name);
        sb_fmt(hb, ":{\"dtype\":\"%s\",\"shape\":[", st_names[x->dtype]);
        for (int d = 0; d < x->ndim; d++) sb_fmt(hb, d ? ",%lld" : "%lld", (long long)x->shape[d]);
        sb_fmt(hb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + x->nbytes));
        off += x->nbytes;
    }
    sb_puts(hb, "}");
    while ((hb->n - 8) % 8) sb_puts(hb, " ");
    if (hb->oom) {
        free(order);
        free(hb->p);
        return fail(err, "out of memory building the safetensors header");
    }
    uint64_t n = hb->n - 8;
    if (n > ST_MAX_HEADER) {
        free(order);
        free(hb->p);
        return fail(err, "safetensors header would be %llu bytes (at most %llu)", (unsigned long long)n,
                    ST_MAX_HEADER);
    }
    for (int i = 0; i < 8; i++) hb->p[i] = (char)(unsigned char)(n >> (8 * i));
    *order_out = order;
    return 0;
}

int st_encode(const st_table *t, unsigned char **buf, size_t *len, char *err) {
    sbuf hb;
    int *order;
    *buf = NULL;
    *len = 0;
    if (build_header(t, &hb, &order, err) != 0) return -1;
    size_t total = hb.n;
    for (int i = 0; i < t->n; i++) total += t->t[i].nbytes;
    unsigned char *b = malloc(total ? total : 1);
    if (!b) {
        free(hb.p);
        free(order);
        return fail(err, "out of memory (%zu bytes)", total);
    }
    memcpy(b, hb.p, hb.n);
    size_t at = hb.n;
    for (int k = 0; k < t->n; k++) {
        const st_tensor *x = &t->t[order[k]];
        if (x->nbytes) memcpy(b + at, x->data, x->nbytes);
        at += x->nbytes;
    }
    free(hb.p);
    free(order);
    *buf = b;
    *len = total;
    return 0;
}

int st_write(const st_table *t, const char *path, char *err) {
    sbuf hb;
    int *order;
    char e2[IR_ERRLEN];
    if (build_header(t, &hb, &order, e2) != 0) return fail(err, "%s: %s", path, e2);
    const void **parts = malloc(((size_t)t->n + 1) * sizeof *parts);
    size_t *lens = malloc(((size_t)t->n + 1) * sizeof *lens);
    int rc = -1;
    if (!parts || !lens) {
        fail(err, "%s: out of memory", path);
    } else {
        parts[0] = hb.p;
        lens[0] = hb.n;
        for (int k = 0; k < t->n; k++) {
            parts[k + 1] = t->t[order[k]].data;
            lens[k + 1] = t->t[order[k]].nbytes;
        }
        rc = sslc_write_atomic(path, parts, lens, t->n + 1, err);
    }
    free(parts);
    free(lens);
    free(hb.p);
    free(order);
    return rc;
}

/* ---- reading: strict JSON for exactly the safetensors schema ---- */

typedef struct {
    const unsigned char *s;
    size_t n, pos;
    const char *what;
    char *err;
    /* offsets of the tensors parsed so far, parallel to the table */
    uint64_t *beg, *end;
    int cap_off;
} jp;

static int jfail(jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(jp *j, const char *fmt, ...) {
    char msg[IR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(j->err, "%s: invalid safetensors header: %s", j->what, msg);
}

static void jws(jp *j) {
    while (j->pos < j->n) {
        unsigned char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        j->pos++;
    }
}

static int jexpect(jp *j, char c, const char *where) {
    jws(j);
    if (j->pos >= j->n) return jfail(j, "expected '%c' %s, found the end of the header", c, where);
    if (j->s[j->pos] != (unsigned char)c)
        return jfail(j, "expected '%c' %s at byte %zu", c, where, j->pos);
    j->pos++;
    return 0;
}

/* next non-space byte, not consumed; -1 at the end */
static int jpeek(jp *j) {
    jws(j);
    return j->pos < j->n ? j->s[j->pos] : -1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int jhex4(jp *j, unsigned *out) {
    if (j->n - j->pos < 4) return jfail(j, "truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(j->s[j->pos + (size_t)k]);
        if (h < 0) return jfail(j, "bad \\u escape at byte %zu", j->pos);
        v = v * 16 + (unsigned)h;
    }
    j->pos += 4;
    *out = v;
    return 0;
}

/* a JSON string (the header is already known to be UTF-8); *out is malloc'd */
static int jstring(jp *j, char **out) {
    *out = NULL;
    if (jexpect(j, '"', "to start a string") != 0) return -1;
    sbuf b;
    memset(&b, 0, sizeof b);
    sb_put(&b, "", 0);
    for (;;) {
        if (j->pos >= j->n) {
            free(b.p);
            return jfail(j, "unterminated string");
        }
        unsigned char c = j->s[j->pos++];
        if (c == '"') break;
        if (c < 0x20) {
            free(b.p);
            return jfail(j, "control character in a string at byte %zu", j->pos - 1);
        }
        if (c != '\\') {
            sb_put(&b, (const char *)&c, 1);
            continue;
        }
        if (j->pos >= j->n) {
            free(b.p);
            return jfail(j, "unterminated string");
        }
        unsigned char e = j->s[j->pos++];
        const char *rep = NULL;
        switch (e) {
        case '"': rep = "\""; break;
        case '\\': rep = "\\"; break;
        case '/': rep = "/"; break;
        case 'b': rep = "\b"; break;
        case 'f': rep = "\f"; break;
        case 'n': rep = "\n"; break;
        case 'r': rep = "\r"; break;
        case 't': rep = "\t"; break;
        case 'u': break;
        default: free(b.p); return jfail(j, "bad escape '\\%c' in a string", e >= 0x20 && e < 0x7f ? e : '?');
        }
        if (rep) {
            sb_put(&b, rep, 1);
            continue;
        }
        unsigned cp;
        if (jhex4(j, &cp) != 0) {
            free(b.p);
            return -1;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(b.p);
            return jfail(j, "lone low surrogate in a \\u escape");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (j->n - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u') {
                free(b.p);
                return jfail(j, "lone high surrogate in a \\u escape");
            }
            j->pos += 2;
            if (jhex4(j, &lo) != 0) {
                free(b.p);
                return -1;
            }
            if (lo < 0xDC00 || lo > 0xDFFF) {
                free(b.p);
                return jfail(j, "bad surrogate pair in a \\u escape");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) {
            free(b.p);
            return jfail(j, "NUL character in a string");
        }
        char u[4];
        size_t k;
        if (cp < 0x80)
            u[0] = (char)cp, k = 1;
        else if (cp < 0x800)
            u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
        else if (cp < 0x10000)
            u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
        else
            u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
            u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
        sb_put(&b, u, k);
    }
    if (b.oom) {
        free(b.p);
        return jfail(j, "out of memory");
    }
    *out = b.p;
    return 0;
}

/* a non-negative JSON integer (no fraction, no exponent), at most INT64_MAX */
static int juint(jp *j, uint64_t *out, const char *what) {
    int c = jpeek(j);
    if (c == '-') return jfail(j, "%s must not be negative", what);
    if (c < '0' || c > '9') return jfail(j, "%s must be an integer (byte %zu)", what, j->pos);
    uint64_t v = 0;
    size_t start = j->pos;
    while (j->pos < j->n && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
        unsigned d = j->s[j->pos] - '0';
        if (v > ((uint64_t)INT64_MAX - d) / 10) return jfail(j, "%s is too large", what);
        v = v * 10 + d;
        j->pos++;
    }
    if (j->pos - start > 1 && j->s[start] == '0') return jfail(j, "%s has a leading zero", what);
    if (j->pos < j->n && (j->s[j->pos] == '.' || j->s[j->pos] == 'e' || j->s[j->pos] == 'E'))
        return jfail(j, "%s must be an integer", what);
    *out = v;
    return 0;
}

/* "[" int ("," int)* "]" or "[]"; at most maxn values */
static int juint_array(jp *j, uint64_t *v, int maxn, int *count, const char *what) {
    if (jexpect(j, '[', "to start a list") != 0) return -1;
    *count = 0;
    if (jpeek(j) == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (*count >= maxn) return jfail(j, "%s has more than %d values", what, maxn);
        if (juint(j, &v[*count], what) != 0) return -1;
        (*count)++;
        int c = jpeek(j);
        if (c == ',') {
            j->pos++;
            continue;
        }
        if (c == ']') {
            j->pos++;
            return 0;
        }
        return jfail(j, "expected ',' or ']' in %s at byte %zu", what, j->pos);
    }
}

static int parse_metadata(jp *j, st_table *t) {
    if (jexpect(j, '{', "to start __metadata__") != 0) return -1;
    if (jpeek(j) == '}') {
        j->pos++;
        return 0;
    }
    for (;;) {
        char *k, *v;
        if (jstring(j, &k) != 0) return -1;
        if (st_get_meta(t, k)) {
            int r = jfail(j, "metadata key '%.80s' appears twice", k);
            free(k);
            return r;
        }
        if (jexpect(j, ':', "after a metadata key") != 0) {
            free(k);
            return -1;
        }
        if (jpeek(j) != '"') {
            int r = jfail(j, "metadata value of '%.80s' is not a string", k);
            free(k);
            return r;
        }
        if (jstring(j, &v) != 0) {
            free(k);
            return -1;
        }
        int r = st_set_meta(t, k, v, j->err);
        free(k);
        free(v);
        if (r != 0) return jfail(j, "out of memory");
        int c = jpeek(j);
        if (c == ',') {
            j->pos++;
            continue;
        }
        if (c == '}') {
            j->pos++;
            return 0;
        }
        return jfail(j, "expected ',' or '}' in __metadata__ at byte %zu", j->pos);
    }
}

/* {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}: each key exactly once, nothing else */
static int parse_tensor(jp *j, st_table *t, char *name) {
    if (jexpect(j, '{', "to start a tensor entry") != 0) goto bad;
    int have_dt = 0, have_shape = 0, have_off = 0;
    st_dtype dt = ST_F32;
    uint64_t shape[ST_MAX_DIMS], off[2];
    int ndim = 0, noff = 0;
    if (jpeek(j) != '}') {
        for (;;) {
            char *k;
            if (jstring(j, &k) != 0) goto bad;
            if (jexpect(j, ':', "after a key") != 0) {
                free(k);
                goto bad;
            }
            if (strcmp(k, "dtype") == 0 && !have_dt) {
                free(k);
                char *d;
                if (jpeek(j) != '"') {
                    jfail(j, "dtype of '%.80s' is not a string", name);
                    goto bad;
                }
                if (jstring(j, &d) != 0) goto bad;
                if (st_dtype_parse(d, &dt) != 0) {
                    jfail(j, "tensor '%.80s' has an unsupported dtype '%.16s'", name, d);
                    free(d);
                    goto bad;
                }
                free(d);
                have_dt = 1;
            } else if (strcmp(k, "shape") == 0 && !have_shape) {
                free(k);
                char what[128];
                snprintf(what, sizeof what, "shape of '%.80s'", name);
                if (juint_array(j, shape, ST_MAX_DIMS, &ndim, what) != 0) goto bad;
                have_shape = 1;
            } else if (strcmp(k, "data_offsets") == 0 && !have_off) {
                free(k);
                char what[128];
                snprintf(what, sizeof what, "data_offsets of '%.80s'", name);
                if (juint_array(j, off, 2, &noff, what) != 0) goto bad;
                if (noff != 2) {
                    jfail(j, "data_offsets of '%.80s' must hold two values", name);
                    goto bad;
                }
                have_off = 1;
            } else {
                jfail(j, "tensor '%.80s' has an unexpected or repeated key '%.40s'", name, k);
                free(k);
                goto bad;
            }
            int c = jpeek(j);
            if (c == ',') {
                j->pos++;
                continue;
            }
            if (c == '}') break;
            jfail(j, "expected ',' or '}' in the entry of '%.80s' at byte %zu", name, j->pos);
            goto bad;
        }
    }
    j->pos++; /* '}' */
    if (!have_dt || !have_shape || !have_off) {
        jfail(j, "tensor '%.80s' lacks %s", name, !have_dt ? "a dtype" : !have_shape ? "a shape" : "data_offsets");
        goto bad;
    }
    if (off[1] < off[0]) {
        jfail(j, "tensor '%.80s' ends before it begins", name);
        goto bad;
    }
    int64_t sh[ST_MAX_DIMS];
    for (int d = 0; d < ndim; d++) sh[d] = (int64_t)shape[d];
    size_t nb;
    char e2[IR_ERRLEN];
    if (tensor_bytes(dt, ndim, sh, &nb, name, e2) != 0) {
        jfail(j, "%s", e2);
        goto bad;
    }
    if ((uint64_t)nb != off[1] - off[0]) {
        jfail(j, "tensor '%.80s' is %s with %llu elements (%zu bytes) but its data_offsets span %llu bytes", name,
              st_names[dt], (unsigned long long)(nb / st_sizes[dt]), nb, (unsigned long long)(off[1] - off[0]));
        goto bad;
    }
    if (add_slot(t, j->err) != 0) goto bad;
    if (t->n >= j->cap_off) {
        int nc = j->cap_off ? j->cap_off * 2 : 32;
        uint64_t *b = realloc(j->beg, (size_t)nc * sizeof *b);
        if (!b) goto oom;
        j->beg = b;
        uint64_t *e = realloc(j->end, (size_t)nc * sizeof *e);
        if (!e) goto oom;
        j->end = e;
        j->cap_off = nc;
    }
    st_tensor *x = &t->t[t->n];
    memset(x, 0, sizeof *x);
    x->name = name; /* takes ownership */
    x->dtype = dt;
    x->ndim = ndim;
    for (int d = 0; d < ndim; d++) x->shape[d] = sh[d];
    x->nbytes = nb;
    j->beg[t->n] = off[0];
    j->end[t->n] = off[1];
    t->n++;
    return 0;
oom:
    jfail(j, "out of memory");
bad:
    free(name);
    return -1;
}

static int cmp_offsets(const void *a, const void *b, void *ctx) {
    const jp *j = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    if (j->beg[x] != j->beg[y]) return j->beg[x] < j->beg[y] ? -1 : 1;
    if (j->end[x] != j->end[y]) return j->end[x] < j->end[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}
static int cmp_by_name(const void *a, const void *b, void *ctx) {
    const st_table *t = ctx;
    return strcmp(t->t[*(const int *)a].name, t->t[*(const int *)b].name);
}

/* Parses and validates header bytes h[0..n) against a data section of data_len bytes. Fills
 * t (without data) and *beg_out (malloc'd start offsets, parallel to t->t). */
static int parse_header(st_table *t, const unsigned char *h, size_t n, uint64_t data_len, const char *what,
                        uint64_t **beg_out, char *err) {
    jp j = {.s = h, .n = n, .what = what, .err = err};
    int *idx = NULL, rc = -1;
    *beg_out = NULL;
    if (!utf8_valid(h, n)) {
        jfail(&j, "not valid UTF-8");
        goto done;
    }
    if (n == 0 || h[0] != '{') {
        jfail(&j, "does not start with '{'");
        goto done;
    }
    j.pos = 1;
    int seen_meta = 0;
    if (jpeek(&j) == '}') {
        j.pos++;
    } else {
        for (;;) {
            char *key;
            if (jpeek(&j) != '"') {
                jfail(&j, "expected a string key at byte %zu", j.pos);
                goto done;
            }
            if (jstring(&j, &key) != 0) goto done;
            if (jexpect(&j, ':', "after a key") != 0) {
                free(key);
                goto done;
            }
            if (strcmp(key, "__metadata__") == 0) {
                free(key);
                if (seen_meta) {
                    jfail(&j, "__metadata__ appears twice");
                    goto done;
                }
                seen_meta = 1;
                if (parse_metadata(&j, t) != 0) goto done;
            } else {
                if (!key[0]) {
                    free(key);
                    jfail(&j, "a tensor has an empty name");
                    goto done;
                }
                if (parse_tensor(&j, t, key) != 0) goto done;
            }
            int c = jpeek(&j);
            if (c == ',') {
                j.pos++;
                continue;
            }
            if (c == '}') {
                j.pos++;
                break;
            }
            jfail(&j, "expected ',' or '}' at byte %zu", j.pos);
            goto done;
        }
    }
    jws(&j);
    if (j.pos != n) {
        jfail(&j, "unexpected bytes after the JSON object (byte %zu)", j.pos);
        goto done;
    }
    idx = malloc(((size_t)t->n + 1) * sizeof *idx);
    if (!idx) {
        jfail(&j, "out of memory");
        goto done;
    }
    for (int i = 0; i < t->n; i++) idx[i] = i;
    qsort_r(idx, (size_t)t->n, sizeof *idx, cmp_by_name, t);
    for (int i = 1; i < t->n; i++)
        if (strcmp(t->t[idx[i - 1]].name, t->t[idx[i]].name) == 0) {
            jfail(&j, "tensor '%.80s' appears twice", t->t[idx[i]].name);
            goto done;
        }
    /* offsets must tile the data section exactly, in order, with no gaps or overlaps */
    for (int i = 0; i < t->n; i++) idx[i] = i;
    qsort_r(idx, (size_t)t->n, sizeof *idx, cmp_offsets, &j);
    uint64_t at = 0;
    for (int k = 0; k < t->n; k++) {
        int i = idx[k];
        if (j.beg[i] != at) {
            if (j.beg[i] < at)
                jfail(&j, "tensor '%.80s' overlaps the tensor before it", t->t[i].name);
            else
                jfail(&j, "gap of %llu bytes before tensor '%.80s'", (unsigned long long)(j.beg[i] - at),
                      t->t[i].name);
            goto done;
        }
        at = j.end[i];
    }
    if (at > data_len) {
        fail(err, "%s: truncated safetensors file (tensors need %llu data bytes, %llu present)", what,
             (unsigned long long)at, (unsigned long long)data_len);
        goto done;
    }
    if (at < data_len) {
        fail(err, "%s: %llu trailing bytes after the last tensor", what, (unsigned long long)(data_len - at));
        goto done;
    }
    *beg_out = j.beg;
    j.beg = NULL;
    rc = 0;
done:
    free(idx);
    free(j.beg);
    free(j.end);
    return rc;
}

static int read_prefix(const unsigned char *b8, uint64_t file_len, uint64_t *hlen, const char *what, char *err) {
    if (file_len < 8) return fail(err, "%s: not a safetensors file (%llu bytes)", what, (unsigned long long)file_len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b8[i];
    if (n > ST_MAX_HEADER)
        return fail(err, "%s: not a safetensors file (header length %llu is over the %llu limit)", what,
                    (unsigned long long)n, ST_MAX_HEADER);
    if (n < 2) return fail(err, "%s: not a safetensors file (header length %llu)", what, (unsigned long long)n);
    if (n > file_len - 8)
        return fail(err, "%s: truncated safetensors file (header of %llu bytes, file has %llu)", what,
                    (unsigned long long)n, (unsigned long long)file_len);
    *hlen = n;
    return 0;
}

int st_decode(st_table *t, const unsigned char *buf, size_t len, const char *what, char *err) {
    st_init(t);
    uint64_t n = 0, *beg;
    if (read_prefix(buf, len, &n, what, err) != 0) return -1;
    const unsigned char *data = buf + 8 + n;
    if (parse_header(t, buf + 8, (size_t)n, len - 8 - n, what, &beg, err) != 0) {
        st_free(t);
        return -1;
    }
    for (int i = 0; i < t->n; i++) {
        st_tensor *x = &t->t[i];
        x->data = malloc(x->nbytes ? x->nbytes : 1);
        if (!x->data) {
            fail(err, "%s: out of memory for tensor '%.80s'", what, x->name);
            free(beg);
            st_free(t);
            return -1;
        }
        if (x->nbytes) memcpy(x->data, data + beg[i], x->nbytes);
    }
    free(beg);
    return 0;
}

static int pread_all(int fd, void *dst, size_t n, uint64_t off) {
    unsigned char *p = dst;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int st_read(st_table *t, const char *path, char *err) {
    st_init(t);
    int fd = sslc_open_input(path, err);
    if (fd < 0) return -1;
    struct stat st;
    unsigned char b8[8], *hdr = NULL;
    uint64_t n = 0, *beg = NULL;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        fail(err, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    uint64_t flen = (uint64_t)st.st_size;
    if (flen >= 8 && pread_all(fd, b8, 8, 0) != 0) {
        fail(err, "%s: read failed: %s", path, strerror(errno));
        goto done;
    }
    if (read_prefix(b8, flen, &n, path, err) != 0) goto done;
    hdr = malloc((size_t)n);
    if (!hdr) {
        fail(err, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n);
        goto done;
    }
    if (pread_all(fd, hdr, (size_t)n, 8) != 0) {
        fail(err, "%s: read failed", path);
        goto done;
    }
    if (parse_header(t, hdr, (size_t)n, flen - 8 - n, path, &beg, err) != 0) goto done;
    for (int i = 0; i < t->n; i++) {
        st_tensor *x = &t->t[i];
        x->data = malloc(x->nbytes ? x->nbytes : 1);
        if (!x->data) {
            fail(err, "%s: out of memory for tensor '%.80s' (%zu bytes)", path, x->name, x->nbytes);
            goto done;
        }
        if (x->nbytes && pread_all(fd, x->data, x->nbytes, 8 + n + beg[i]) != 0) {
            fail(err, "%s: read failed for tensor '%.80s' (file changed while reading?)", path, x->name);
            goto done;
        }
    }
    rc = 0;
done:
    close(fd);
    free(hdr);
    free(beg);
    if (rc != 0) st_free(t);
    return rc;
}
