/* safetensors: round trip, the exact layout the Python library writes, foreign-but-valid headers
 * accepted, malformed ones refused with one line.
 *
 * Also a helper for tests/oracle/test_safetensors_py.sh:
 *   test_safetensors export DIR   writes DIR/sslc.safetensors (the round-trip table)
 *   test_safetensors check FILE   reads FILE (written by Python) and checks its contents */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "runtime/safetensors.h"

static char tmpdir[256];

/* ---- the sample table ---- */
static float f32a[6] = {1.5f, -2.25f, 3.0f, 1e-30f, -0.0f, 65504.0f};
static double f64a[3] = {M_PI, -1e300, 4.9e-324};
static int64_t i64a[2] = {-9007199254740993LL, INT64_MAX};
static uint8_t u8a[5] = {0, 1, 127, 128, 255};
static uint16_t bf16a[2] = {0x3f80, 0xc000};
static int32_t i32a[3] = {-1, 0, 2147483647};
static float scal = 42.0f;

static int sample(st_table *t) {
    char err[IR_ERRLEN];
    st_init(t);
    int r = 0;
    r |= st_add(t, "enc.w", ST_F32, 2, (int64_t[]){2, 3}, f32a, err);
    r |= st_add(t, "enc.u8", ST_U8, 1, (int64_t[]){5}, u8a, err);
    r |= st_add(t, "a.f64", ST_F64, 1, (int64_t[]){3}, f64a, err);
    r |= st_add(t, "bn.num_batches_tracked", ST_I64, 1, (int64_t[]){2}, i64a, err);
    r |= st_add(t, "half", ST_BF16, 1, (int64_t[]){2}, bf16a, err);
    r |= st_add_borrowed(t, "i32", ST_I32, 2, (int64_t[]){3, 1}, i32a, err);
    r |= st_add(t, "scalar", ST_F32, 0, NULL, &scal, err);
    r |= st_add(t, "empty", ST_F32, 2, (int64_t[]){0, 4}, NULL, err);
    r |= st_add(t, "we\"ird\\name \xc3\xbc\n", ST_F32, 1, (int64_t[]){1}, &scal, err);
    r |= st_set_meta(t, "format", "pt", err);
    r |= st_set_meta(t, "sslc.step", "12", err);
    r |= st_set_meta(t, "format", "pt", err); /* replace */
    if (r) fprintf(stderr, "sample: %s\n", err);
    return r;
}

static int same_table(const st_table *a, const st_table *b) {
    CHECK(a->n == b->n, "tensor count %d vs %d", a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const st_tensor *x = &a->t[i], *y = st_find(b, x->name);
        CHECK(y, "tensor '%s' missing", x->name);
        CHECK(x->dtype == y->dtype && x->ndim == y->ndim && x->nbytes == y->nbytes, "tensor '%s' header", x->name);
        for (int d = 0; d < x->ndim; d++) CHECK(x->shape[d] == y->shape[d], "tensor '%s' shape", x->name);
        CHECK(x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0, "tensor '%s' data", x->name);
    }
    CHECK(a->nmeta == b->nmeta, "metadata count %d vs %d", a->nmeta, b->nmeta);
    for (int i = 0; i < a->nmeta; i++) {
        const char *v = st_get_meta(b, a->meta_keys[i]);
        CHECK(v && strcmp(v, a->meta_vals[i]) == 0, "metadata '%s'", a->meta_keys[i]);
    }
    return 0;
}

static uint64_t le64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static int round_trip(void) {
    st_table a, b, c;
    char path[512], err[IR_ERRLEN];
    CHECK(sample(&a) == 0, "sample");
    CHECK(a.nmeta == 2, "metadata replace");
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    CHECK(st_write(&a, path, err) == 0, "write: %s", err);
    CHECK(st_read(&b, path, err) == 0, "read: %s", err);
    CHECK(same_table(&a, &b) == 0, "round trip differs");
    CHECK(st_numel(st_find(&b, "enc.w")) == 6 && st_numel(st_find(&b, "scalar")) == 1 &&
              st_numel(st_find(&b, "empty")) == 0,
          "numel");
    CHECK(st_find(&b, "nope") == NULL && st_get_meta(&b, "nope") == NULL, "absent lookups");
    /* file bytes = st_encode bytes; header padded with spaces to 8; tensors aligned */
    unsigned char *buf;
    size_t len;
    CHECK(st_encode(&a, &buf, &len, err) == 0, "encode: %s", err);
    FILE *f = fopen(path, "rb");
    unsigned char *fb = malloc(len + 1);
    size_t got = fread(fb, 1, len + 1, f);
    fclose(f);
    CHECK(got == len && memcmp(fb, buf, len) == 0, "file bytes differ from st_encode");
    free(fb);
    uint64_t n = le64(buf);
    CHECK(n % 8 == 0 && buf[8] == '{', "header length %llu", (unsigned long long)n);
    CHECK(buf[8 + n - 1] == ' ' || buf[8 + n - 1] == '}', "header end");
    CHECK(st_decode(&c, buf, len, "mem", err) == 0 && same_table(&a, &c) == 0, "decode: %s", err);
    for (int i = 0; i < c.n; i++) {
        /* recover offsets from the header text: every tensor begins at a multiple of its size */
        char key[300];
        snprintf(key, sizeof key, "\"dtype\":\"%s\"", st_dtype_name(c.t[i].dtype));
        CHECK(strstr((char *)buf + 8, key), "dtype string");
    }
    const char *h = (const char *)buf + 8;
    for (const char *p = strstr(h, "\"data_offsets\":["); p && p < h + n; p = strstr(p + 1, "\"data_offsets\":[")) {
        unsigned long long beg = strtoull(p + 16, NULL, 10);
        /* the dtype of this entry precedes it */
        const char *d = p;
        while (d > h && strncmp(d, "\"dtype\":\"", 9) != 0) d--;
        st_dtype dt;
        char name[8] = {0};
        for (int k = 0; k < 7 && d[9 + k] != '"'; k++) name[k] = d[9 + k];
        CHECK(st_dtype_parse(name, &dt) == 0, "dtype '%s'", name);
        CHECK(beg % st_dtype_size(dt) == 0, "tensor at %llu not aligned to %zu", beg, st_dtype_size(dt));
    }
    free(buf);
    st_free(&b);
    st_free(&c);
    st_free(&a);
    printf("ok   round trip\n");
    return 0;
}

/* exact bytes as Python's safetensors.numpy.save_file({"a": np.array([1, 2], np.float32)}) */
static int exact_layout(void) {
    st_table t;
    char err[IR_ERRLEN];
    float v[2] = {1, 2};
    st_init(&t);
    CHECK(st_add(&t, "a", ST_F32, 1, (int64_t[]){2}, v, err) == 0, "add");
    unsigned char *buf;
    size_t len;
    CHECK(st_encode(&t, &buf, &len, err) == 0, "encode");
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    CHECK(le64(buf) == padded && len == 8 + padded + 8, "layout sizes");
    CHECK(memcmp(buf + 8, hdr, hl) == 0, "header text '%.*s'", (int)padded, buf + 8);
    for (size_t i = hl; i < padded; i++) CHECK(buf[8 + i] == ' ', "padding");
    CHECK(memcmp(buf + 8 + padded, v, 8) == 0, "data");
    free(buf);
    st_free(&t);
    /* save({'z': u8 [1,2], 'a': f64 [1,2], 'm': f32 [3], 'i': i64 [5]}, metadata={'format': 'pt'}) */
    st_init(&t);
    double a64[2] = {1, 2};
    float m32 = 3;
    int64_t i64 = 5;
    uint8_t z8[2] = {1, 2};
    CHECK(st_add(&t, "z", ST_U8, 1, (int64_t[]){2}, z8, err) == 0 && st_add(&t, "a", ST_F64, 1, (int64_t[]){2}, a64, err) == 0 &&
              st_add(&t, "m", ST_F32, 1, (int64_t[]){1}, &m32, err) == 0 &&
              st_add(&t, "i", ST_I64, 1, (int64_t[]){1}, &i64, err) == 0 && st_set_meta(&t, "format", "pt", err) == 0,
          "add");
    CHECK(st_encode(&t, &buf, &len, err) == 0, "encode");
    static const char want[] =
        "\xf8\0\0\0\0\0\0\0{\"__metadata__\":{\"format\":\"pt\"},\"i\":{\"dtype\":\"I64\",\"shape\":[1],"
        "\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]},\"m\":{\"dtype\":"
        "\"F32\",\"shape\":[1],\"data_offsets\":[24,28]},\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[28,"
        "30]}}"
        "\5\0\0\0\0\0\0\0\0\0\0\0\0\0\xf0?\0\0\0\0\0\0\0@\0\0@@\1\2";
    CHECK(len == sizeof want - 1 && memcmp(buf, want, len) == 0, "bytes differ from Python's: %.*s", (int)len - 8,
          buf + 8);
    free(buf);
    st_free(&t);
    printf("ok   exact layout\n");
    return 0;
}

/* builds a file image: length prefix (or `hlen` if not (uint64_t)-1), header text, data bytes */
static unsigned char *image(const char *hdr, uint64_t hlen, size_t ndata, size_t *len) {
    size_t hl = strlen(hdr);
    *len = 8 + hl + ndata;
    unsigned char *b = malloc(*len + 1);
    uint64_t n = hlen == (uint64_t)-1 ? hl : hlen;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
    memcpy(b + 8, hdr, hl);
    for (size_t i = 0; i < ndata; i++) b[8 + hl + i] = (unsigned char)(i * 7 + 1);
    return b;
}

static int expect_fail_img(const unsigned char *b, size_t len, const char *want, const char *label) {
    st_table t;
    char err[IR_ERRLEN] = "";
    CHECK(st_decode(&t, b, len, "t.safetensors", err) != 0, "%s: accepted", label);
    CHECK(strstr(err, want), "%s: message '%s' lacks '%s'", label, err, want);
    CHECK(strchr(err, '\n') == NULL, "%s: message spans lines", label);
    CHECK(t.n == 0 && t.nmeta == 0, "%s: table not left empty", label);
    st_free(&t);
    printf("ok   %-30s %s\n", label, err);
    return 0;
}

static int expect_fail(const char *hdr, size_t ndata, const char *want, const char *label) {
    size_t len;
    unsigned char *b = image(hdr, (uint64_t)-1, ndata, &len);
    int r = expect_fail_img(b, len, want, label);
    free(b);
    return r;
}

#define T8 "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static int malformed(void) {
    static const struct {
        const char *hdr;
        size_t ndata;
        const char *want, *label;
    } cases[] = {
        {"", 0, "header length 0", "empty header"},
        {"[]", 0, "does not start with '{'", "array header"},
        {" {}", 0, "does not start with '{'", "leading space"},
        {"{\"a\":" T8, 8, "expected ',' or '}'", "unterminated object"},
        {"{\"a\"" T8 "}", 8, "expected ':'", "missing colon"},
        {"{\"a\":" T8 ",}", 8, "expected a string key", "trailing comma"},
        {"{\"a\":" T8 "} x", 8, "unexpected bytes after the JSON object", "garbage after object"},
        {"{\"a\":" T8 "}\0   ", 8, "unexpected bytes", "NUL padding"},
        {"{\"a", 0, "unterminated string", "unterminated string"},
        {"{\"a\tb\":" T8 "}", 8, "control character", "raw tab in a name"},
        {"{\"a\\xb\":" T8 "}", 8, "bad escape '\\x'", "bad escape"},
        {"{\"a\\u12\":" T8 "}", 8, "bad \\u escape", "short \\u escape"},
        {"{\"a\\ud800\":" T8 "}", 8, "lone high surrogate", "lone high surrogate"},
        {"{\"a\\udc00\":" T8 "}", 8, "lone low surrogate", "lone low surrogate"},
        {"{\"a\\u0000\":" T8 "}", 8, "NUL character", "escaped NUL"},
        {"{\"a\xff\":" T8 "}", 8, "not valid UTF-8", "invalid UTF-8"},
        {"{\"a\xc0\xaf\":" T8 "}", 8, "not valid UTF-8", "overlong UTF-8"},
        {"{\"a\xed\xa0\x80\":" T8 "}", 8, "not valid UTF-8", "UTF-8 surrogate"},
        {"{\"\":" T8 "}", 8, "empty name", "empty name"},
        {"{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "unsupported dtype 'F8_E4M3'",
         "unsupported dtype"},
        {"{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype 'f32'",
         "lower-case dtype"},
        {"{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype of 'a' is not a string",
         "numeric dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "must not be negative",
         "negative dim"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "must be an integer",
         "fractional dim"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8, "must be an integer",
         "exponent dim"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", 8, "leading zero", "leading zero"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8, "too large",
         "dim overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
         "shape is too large", "numel overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
         "more than 8 values", "too many dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", 8, "must be an integer",
         "trailing comma in shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "expected '['", "shape not a list"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, "more than 2 values",
         "three offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8, "must hold two values", "one offset"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "ends before it begins",
         "reversed offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "but its data_offsets span 8 bytes",
         "byte count mismatch"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks data_offsets", "missing offsets"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "lacks a dtype", "missing dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "unexpected or repeated key 'shape'", "repeated field"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8,
         "unexpected or repeated key 'extra'", "unknown field"},
        {"{\"a\":" T8 ",\"a\":" T8 "}", 8, "tensor 'a' appears twice", "duplicate tensor"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice", "duplicate metadata"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata value of 'k' is not a string", "numeric metadata"},
        {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "metadata key 'k' appears twice", "repeated metadata key"},
        {"{\"__metadata__\":null}", 0, "expected '{'", "null metadata"},
        {"{\"a\":" T8 "}", 4, "truncated safetensors file (tensors need 8 data bytes, 4 present)", "truncated data"},
        {"{\"a\":" T8 "}", 12, "4 trailing bytes after the last tensor", "trailing data"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "gap of 4 bytes before tensor 'a'",
         "offsets not starting at 0"},
        {"{\"a\":" T8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "gap of 4 bytes",
         "gap between tensors"},
        {"{\"a\":" T8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
         "overlaps the tensor before it", "overlapping tensors"},
        {"{\"a\":" T8 ",\"b\":" T8 "}", 8, "overlaps", "two tensors on one range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* cases with an embedded NUL use its explicit length */
        if (strcmp(cases[i].label, "NUL padding") == 0) {
            const char h[] = "{\"a\":" T8 "}\0   ";
            size_t len, hl = sizeof h - 1;
            unsigned char *b = image("", (uint64_t)-1, 0, &len);
            b = realloc(b, 8 + hl + 8);
            for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)hl >> (8 * k));
            memcpy(b + 8, h, hl);
            memset(b + 8 + hl, 0, 8);
            int r = expect_fail_img(b, 8 + hl + 8, cases[i].want, cases[i].label);
            free(b);
            if (r) return r;
            continue;
        }
        if (expect_fail(cases[i].hdr, cases[i].ndata, cases[i].want, cases[i].label)) return 1;
    }
    /* length prefix problems */
    size_t len;
    unsigned char *b = image("{}", 1000, 0, &len);
    CHECK(expect_fail_img(b, len, "truncated safetensors file (header of 1000 bytes", "header past the end") == 0, "hl");
    free(b);
    b = image("{}", 200000000, 0, &len);
    CHECK(expect_fail_img(b, len, "over the 100000000 limit", "header too large") == 0, "huge");
    free(b);
    b = image("{}", (uint64_t)-2, 0, &len);
    CHECK(expect_fail_img(b, len, "over the", "header length 2^64-2") == 0, "wrap");
    free(b);
    CHECK(expect_fail_img((const unsigned char *)"abc", 3, "not a safetensors file (3 bytes)", "3-byte file") == 0, "3");
    CHECK(expect_fail_img((const unsigned char *)"", 0, "not a safetensors file (0 bytes)", "empty file") == 0, "0");
    /* through st_read */
    st_table t;
    char path[512], err[IR_ERRLEN];
    snprintf(path, sizeof path, "%s/missing.safetensors", tmpdir);
    CHECK(st_read(&t, path, err) != 0 && strstr(err, "cannot open"), "missing: %s", err);
    CHECK(st_read(&t, tmpdir, err) != 0 && strstr(err, "not a regular file"), "dir: %s", err);
    b = image("{\"a\":" T8 "}", (uint64_t)-1, 4, &len);
    snprintf(path, sizeof path, "%s/short.safetensors", tmpdir);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    free(b);
    CHECK(st_read(&t, path, err) != 0 && strstr(err, "short.safetensors: truncated"), "short: %s", err);
    printf("ok   st_read errors\n");
    return 0;
}

/* valid files the Python library could write or accept: any key order, whitespace, escapes */
static int foreign_valid(void) {
    const char *hdr =
        "{ \"b\\u00fc\\ud83d\\ude00\" : { \"data_offsets\" : [ 8 , 12 ] , \"shape\" : [ ] , \"dtype\" : \"I32\" } ,\n"
        "\t\"__metadata__\":{\"x\\\"y\":\"\\/\\b\\f\\n\\r\\t\\\\\"},\r\n"
        "  \"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}, \"z\":{\"dtype\":\"BOOL\",\"shape\":[0],"
        "\"data_offsets\":[12,12]}}   \n ";
    size_t len;
    unsigned char *b = image(hdr, (uint64_t)-1, 12, &len);
    st_table t;
    char err[IR_ERRLEN];
    CHECK(st_decode(&t, b, len, "foreign", err) == 0, "foreign header refused: %s", err);
    CHECK(t.n == 3, "count");
    const st_tensor *x = st_find(&t, "b\xc3\xbc\xf0\x9f\x98\x80");
    CHECK(x && x->dtype == ST_I32 && x->ndim == 0 && x->nbytes == 4, "unicode name / scalar");
    CHECK(memcmp(x->data, b + len - 4, 4) == 0, "scalar data");
    const st_tensor *a = st_find(&t, "a");
    CHECK(a && a->ndim == 2 && a->shape[1] == 2 && memcmp(a->data, b + len - 12, 8) == 0, "a");
    const st_tensor *z = st_find(&t, "z");
    CHECK(z && z->nbytes == 0 && z->dtype == ST_BOOL, "z");
    const char *m = st_get_meta(&t, "x\"y");
    CHECK(m && strcmp(m, "/\b\f\n\r\t\\") == 0, "metadata escapes");
    st_free(&t);
    free(b);
    /* an empty file {} is valid */
    b = image("{}      ", (uint64_t)-1, 0, &len);
    CHECK(st_decode(&t, b, len, "empty", err) == 0 && t.n == 0, "{}: %s", err);
    st_free(&t);
    free(b);
    printf("ok   foreign valid headers\n");
    return 0;
}

static int api_errors(void) {
    st_table t;
    char err[IR_ERRLEN];
    float v = 0;
    st_init(&t);
    CHECK(st_add(&t, "a", ST_F32, 0, NULL, &v, err) == 0, "add");
    CHECK(st_add(&t, "a", ST_F32, 0, NULL, &v, err) != 0 && strstr(err, "added twice"), "dup: %s", err);
    CHECK(st_add(&t, "__metadata__", ST_F32, 0, NULL, &v, err) != 0, "reserved name");
    CHECK(st_add(&t, "", ST_F32, 0, NULL, &v, err) != 0, "empty name");
    CHECK(st_add(&t, "\xff", ST_F32, 0, NULL, &v, err) != 0 && strstr(err, "UTF-8"), "utf8: %s", err);
    CHECK(st_add(&t, "n", ST_F32, 1, (int64_t[]){-1}, &v, err) != 0 && strstr(err, "negative"), "neg: %s", err);
    CHECK(st_add(&t, "n", ST_F32, 9, (int64_t[9]){0}, &v, err) != 0, "rank");
    CHECK(st_add(&t, "n", (st_dtype)99, 0, NULL, &v, err) != 0, "dtype");
    CHECK(st_set_meta(&t, "k", "\xc3", err) != 0, "meta utf8");
    CHECK(st_write(&t, "/nonexistent-dir/x.safetensors", err) != 0 && strstr(err, "cannot create"), "nodir: %s", err);
    st_free(&t);
    st_dtype d;
    ir_dtype id;
    CHECK(st_dtype_from_ir(DT_I64, &d) == 0 && d == ST_I64 && st_dtype_to_ir(ST_F64, &id) == 0 && id == DT_F64, "map");
    CHECK(st_dtype_to_ir(ST_U64, &id) != 0 && st_dtype_parse("BF16", &d) == 0 && d == ST_BF16, "map2");
    for (int i = 0; i < DT__COUNT; i++) CHECK(st_dtype_from_ir((ir_dtype)i, &d) == 0, "IR dtype %d unmapped", i);
    printf("ok   api errors\n");
    return 0;
}

/* ---- helpers for the Python cross-check ---- */
static int export_to(const char *dir) {
    st_table t;
    char path[512], err[IR_ERRLEN];
    if (sample(&t)) return 1;
    snprintf(path, sizeof path, "%s/sslc.safetensors", dir);
    CHECK(st_write(&t, path, err) == 0, "%s", err);
    st_free(&t);
    return 0;
}

/* the file written by tests/oracle/test_safetensors_py.sh */
static int check_python(const char *path) {
    st_table t;
    char err[IR_ERRLEN];
    CHECK(st_read(&t, path, err) == 0, "%s", err);
    const st_tensor *w = st_find(&t, "w"), *i = st_find(&t, "idx"), *d = st_find(&t, "d"), *s = st_find(&t, "s");
    CHECK(w && w->dtype == ST_F32 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3, "w");
    for (int k = 0; k < 6; k++) CHECK(((float *)w->data)[k] == (float)k * 0.5f - 1, "w[%d]", k);
    CHECK(i && i->dtype == ST_I64 && ((int64_t *)i->data)[1] == -5, "idx");
    CHECK(d && d->dtype == ST_F64 && ((double *)d->data)[0] == M_PI, "d");
    CHECK(s && s->ndim == 0 && ((float *)s->data)[0] == 7, "scalar");
    CHECK(st_get_meta(&t, "format") && strcmp(st_get_meta(&t, "format"), "np") == 0, "metadata");
    st_free(&t);
    printf("ok   read the Python-written file %s\n", path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "export") == 0) return export_to(argv[2]);
    if (argc == 3 && strcmp(argv[1], "check") == 0) return check_python(argv[2]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_st_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    int fails = round_trip() + exact_layout() + malformed() + foreign_valid() + api_errors();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf(fails ? "FAILED\n" : "all safetensors tests passed\n");
    return fails ? 1 : 0;
}
