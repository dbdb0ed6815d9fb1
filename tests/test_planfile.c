/* Plan file: round trip of a sample plan, and every kind of bad file refused with the expected
 * one-line message (never a crash). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "optest.h"
#include "plan.pb-c.h"
#include "plan_remake.h"
#include "plan_sample.h"

static char tmpdir[256];

static int write_bytes(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = len ? fwrite(buf, 1, len, f) : 0;
    fclose(f);
    return w == len ? 0 : -1;
}

static void set_str(char **slot, const char *s) {
    if (*slot && *slot != protobuf_c_empty_string) free(*slot);
    *slot = strdup(s);
}

static Sslc__Graph *G(Sslc__Plan *pp) { return pp->train; }
/* first node whose op is `op` */
static Sslc__Node *node_of(Sslc__Plan *pp, const char *op) {
    for (size_t k = 0; k < G(pp)->n_nodes; k++)
        if (strcmp(G(pp)->nodes[k]->op, op) == 0) return G(pp)->nodes[k];
    return NULL;
}
static Sslc__Value *value_named(Sslc__Plan *pp, const char *name) {
    for (size_t i = 0; i < G(pp)->n_values; i++)
        if (strcmp(G(pp)->values[i]->name, name) == 0) return G(pp)->values[i];
    return NULL;
}
static Sslc__Value *first_const(Sslc__Plan *pp) {
    for (size_t i = 0; i < G(pp)->n_values; i++)
        if (G(pp)->values[i]->kind == SSLC__VALUE_KIND__KIND_CONST) return G(pp)->values[i];
    return NULL;
}
static void set_dims(Sslc__Value *v, size_t n, const int64_t *d) {
    free(v->dims);
    v->dims = malloc((n + 1) * sizeof *v->dims);
    memcpy(v->dims, d, n * sizeof *d);
    v->n_dims = n;
}

static void m_unknown_op(Sslc__Plan *pp) { set_str(&node_of(pp, "Mul")->op, "Frobnicate"); }
static void m_input_range(Sslc__Plan *pp) { node_of(pp, "Mul")->inputs[0] = 99999; }
static void m_input_negative(Sslc__Plan *pp) { node_of(pp, "Mul")->inputs[1] = -3; }
static void m_input_forward(Sslc__Plan *pp) { /* refer to the last value, defined later */
    node_of(pp, "Mul")->inputs[0] = (int32_t)G(pp)->n_values - 1;
}
static void m_too_many_inputs(Sslc__Plan *pp) {
    Sslc__Node *n = node_of(pp, "Mul");
    n->inputs = realloc(n->inputs, 3 * sizeof *n->inputs);
    n->inputs[2] = 0;
    n->n_inputs = 3;
}
static void m_output_range(Sslc__Plan *pp) { G(pp)->outputs[0] = 1 << 30; }
static void m_update_range(Sslc__Plan *pp) { G(pp)->updates[0]->src = 123456; }
static void m_update_dst_kind(Sslc__Plan *pp) { G(pp)->updates[0]->dst = 0; /* input x */ }
static void m_update_shape(Sslc__Plan *pp) { G(pp)->updates[0]->src = 0; /* x is [4,3], center [3] */ }
static void m_update_twice(Sslc__Plan *pp) { G(pp)->updates[1]->dst = G(pp)->updates[0]->dst; }
static void m_attr_unknown(Sslc__Plan *pp) { set_str(&node_of(pp, "ReduceSum")->attrs[0]->name, "axis_of_evil"); }
static void m_attr_twice(Sslc__Plan *pp) { set_str(&node_of(pp, "ReduceSum")->attrs[1]->name, "axes"); }
static void m_attr_kind(Sslc__Plan *pp) { node_of(pp, "ReduceSum")->attrs[0]->i = 5; /* INTS attr with i */ }
static void m_attr_toolong(Sslc__Plan *pp) {
    Sslc__Attr *a = node_of(pp, "ReduceSum")->attrs[0];
    free(a->ints);
    a->ints = calloc(IR_MAX_INTS + 1, sizeof *a->ints);
    a->n_ints = IR_MAX_INTS + 1;
}
static void m_too_many_dims(Sslc__Plan *pp) { set_dims(value_named(pp, "x"), 7, (int64_t[]){1, 1, 1, 1, 4, 1, 3}); }
static void m_negative_dim(Sslc__Plan *pp) { set_dims(value_named(pp, "labels"), 1, (int64_t[]){-4}); }
static void m_huge_numel(Sslc__Plan *pp) {
    set_dims(value_named(pp, "labels"), 3, (int64_t[]){1 << 20, 1 << 20, 1 << 20});
}
static void m_const_size(Sslc__Plan *pp) { first_const(pp)->const_data.len -= 4; }
static void m_data_on_param(Sslc__Plan *pp) {
    Sslc__Value *v = value_named(pp, "enc.b");
    v->const_data.data = malloc(12);
    memset(v->const_data.data, 0, 12);
    v->const_data.len = 12;
}
static void m_bad_dtype(Sslc__Plan *pp) { value_named(pp, "x")->dtype = (Sslc__DType)99; }
static void m_unspec_dtype(Sslc__Plan *pp) { value_named(pp, "x")->dtype = SSLC__DTYPE__DTYPE_UNSPECIFIED; }
static void m_bad_kind(Sslc__Plan *pp) { value_named(pp, "x")->kind = (Sslc__ValueKind)42; }
static void m_bad_init(Sslc__Plan *pp) { value_named(pp, "enc.w")->init->kind = (Sslc__InitKind)17; }
static void m_init_nan(Sslc__Plan *pp) { value_named(pp, "enc.w")->init->b = NAN; }
static void m_copy_src(Sslc__Plan *pp) { value_named(pp, "enc.w_teacher")->init->src = 5000; }
static void m_output_shape(Sslc__Plan *pp) { /* stored shape of the Reshape output */
    Sslc__Node *n = node_of(pp, "Reshape");
    set_dims(G(pp)->values[n->outputs[0]], 2, (int64_t[]){6, 2});
}
static void m_output_dtype(Sslc__Plan *pp) {
    G(pp)->values[node_of(pp, "Add")->outputs[0]]->dtype = SSLC__DTYPE__DTYPE_F64;
}
static void m_infer_fails(Sslc__Plan *pp) { /* Reshape to 5 elements: inference refuses */
    Sslc__Node *n = node_of(pp, "Reshape");
    n->attrs[0]->ints[0] = 5;
    n->attrs[0]->ints[1] = 1;
    set_dims(G(pp)->values[n->outputs[0]], 2, (int64_t[]){5, 1});
}
static void m_reshape_negative(Sslc__Plan *pp) { /* [-2,-6] has 12 "elements" */
    Sslc__Node *n = node_of(pp, "Reshape");
    n->attrs[0]->ints[0] = -2;
    n->attrs[0]->ints[1] = -6;
}
static void m_reshape_overflow(Sslc__Plan *pp) {
    Sslc__Node *n = node_of(pp, "Reshape");
    n->attrs[0]->ints[0] = (int64_t)1 << 62;
    n->attrs[0]->ints[1] = 1 << 20;
}
static void m_node_order(Sslc__Plan *pp) { /* swap two nodes */
    Sslc__Node *t = G(pp)->nodes[0];
    G(pp)->nodes[0] = G(pp)->nodes[1];
    G(pp)->nodes[1] = t;
}
static void m_output_twice(Sslc__Plan *pp) { G(pp)->nodes[1]->outputs[0] = G(pp)->nodes[0]->outputs[0]; }
static void m_orphan_inter(Sslc__Plan *pp) { value_named(pp, "x")->kind = SSLC__VALUE_KIND__KIND_INTER; }
static void m_dup_name(Sslc__Plan *pp) { set_str(&value_named(pp, "enc.b")->name, "enc.w"); }
static void m_no_train(Sslc__Plan *pp) {
    sslc__graph__free_unpacked(pp->train, NULL);
    pp->train = NULL;
}
static void m_dup_option(Sslc__Plan *pp) { set_str(&pp->options[1]->key, pp->options[0]->key); }
static void m_long_option(Sslc__Plan *pp) {
    char v[400];
    memset(v, 'a', sizeof v - 1);
    v[sizeof v - 1] = 0;
    set_str(&pp->options[0]->value, v);
}
static void m_payload_version(Sslc__Plan *pp) { pp->format_version = 7; }

static int semantic_cases(const unsigned char *good, size_t glen) {
    static const plan_case cases[] = {
        {m_unknown_op, "unknown op 'Frobnicate'", "unknown op"},
        {m_input_range, "input 0 refers to value 99999, which is not defined before the node", "input out of range"},
        {m_input_negative, "input 1 refers to value -3", "negative input id"},
        {m_input_forward, "which is not defined before the node", "input defined later"},
        {m_too_many_inputs, "has 3 inputs, the op takes 2..2", "arity"},
        {m_output_range, "graph output 0 refers to value 1073741824, out of range", "graph output out of range"},
        {m_update_range, "update 0 refers to a value out of range", "update out of range"},
        {m_update_dst_kind, "(kind input), not a parameter or state", "update of an input"},
        {m_update_shape, "different shape or dtype", "update shape mismatch"},
        {m_update_twice, "is updated twice", "update twice"},
        {m_attr_unknown, "unknown attribute 'axis_of_evil'", "unknown attribute"},
        {m_attr_twice, "sets attribute 'axes' twice", "attribute twice"},
        {m_attr_kind, "holds other kinds of values", "attribute field kind"},
        {m_attr_toolong, "has 9 values (at most 8)", "attribute too long"},
        {m_too_many_dims, "has 7 dims (at most 6)", "too many dims"},
        {m_negative_dim, "negative dimension -4", "negative dim"},
        {m_huge_numel, "too many elements", "huge numel"},
        {m_const_size, "data bytes, its dtype and shape need", "const size mismatch"},
        {m_data_on_param, "is not a constant but carries 12 data bytes", "data on a parameter"},
        {m_bad_dtype, "unknown dtype 99", "bad dtype enum"},
        {m_unspec_dtype, "unknown dtype 0", "unspecified dtype"},
        {m_bad_kind, "unknown kind 42", "bad kind enum"},
        {m_bad_init, "unknown init kind 17", "bad init enum"},
        {m_init_nan, "non-finite init parameter", "NaN init parameter"},
        {m_copy_src, "copy of value 5000, which is out of range", "init copy source"},
        {m_output_shape, "is stored as f32 [6,2] but infers to f32 [2,6]", "stored shape != inferred"},
        {m_output_dtype, "is stored as f64", "stored dtype != inferred"},
        {m_infer_fails, "Reshape: cannot reshape [4,3] to [5,1]", "inference fails"},
        {m_reshape_negative, "cannot reshape [4,3] to [-2,-6]", "reshape negative dims"},
        {m_reshape_overflow, "cannot reshape", "reshape numel overflow"},
        {m_node_order, "nodes out of order: node 1's outputs come before node 0's", "nodes out of order"},
        {m_output_twice, "produced by two nodes", "value produced twice"},
        {m_orphan_inter, "intermediate but no node produces it", "orphan intermediate"},
        {m_dup_name, "two values are named 'enc.w'", "duplicate names"},
        {m_no_train, "plan has no train graph", "no train graph"},
        {m_dup_option, "appears twice", "duplicate option"},
        {m_long_option, "is too long", "option value too long"},
        {m_payload_version, "payload says format version 7", "payload version"},
    };
    return plan_remake_cases(good, glen, cases, sizeof cases / sizeof cases[0], 0);
}

static int file_cases(const unsigned char *good, size_t glen) {
    char path[512], err[IR_ERRLEN];
    sslc_plan p;
    unsigned char *b = malloc(glen + 16);
    /* missing file */
    snprintf(path, sizeof path, "%s/missing.plan", tmpdir);
    CHECK(plan_read(&p, path, err) != 0 && strstr(err, "cannot open") && strstr(err, "missing.plan"), "missing: %s",
          err);
    plan_free(&p);
    printf("ok   %-34s %s\n", "missing file", err);
    /* a directory */
    CHECK(plan_read(&p, tmpdir, err) != 0 && strstr(err, "not a regular file"), "directory: %s", err);
    printf("ok   %-34s %s\n", "directory", err);
    /* empty file through plan_read */
    snprintf(path, sizeof path, "%s/empty.plan", tmpdir);
    CHECK(write_bytes(path, "", 0) == 0, "write");
    CHECK(plan_read(&p, path, err) != 0 && strstr(err, "not an sslc plan file"), "empty: %s", err);
    printf("ok   %-34s %s\n", "empty file", err);
    /* a text file */
    CHECK(plan_expect_refused((const unsigned char *)"hello world, this is not a plan\n", 32, "not an sslc plan file",
                      "wrong magic (text)") == 0,
          "text");
    memcpy(b, good, glen);
    b[3] ^= 0x20;
    CHECK(plan_expect_refused(b, glen, "not an sslc plan file", "wrong magic") == 0, "magic");
    /* truncations */
    CHECK(plan_expect_refused(good, 5, "truncated plan file (5 bytes", "5 bytes of the magic") == 0, "t5");
    CHECK(plan_expect_refused(good, 12, "truncated plan file (12 bytes", "truncated header") == 0, "t12");
    CHECK(plan_expect_refused(good, glen - 1, "truncated plan file (payload is", "truncated payload") == 0, "tlast");
    CHECK(plan_expect_refused(good, PLAN_HEADER_BYTES, "truncated plan file", "header only") == 0, "th");
    /* trailing bytes */
    memcpy(b, good, glen);
    memset(b + glen, 0, 3);
    CHECK(plan_expect_refused(b, glen + 3, "3 trailing bytes after the plan payload", "trailing bytes") == 0, "trail");
    /* other format versions: the previous one (no compiled step) and a later one */
    memcpy(b, good, glen);
    plan_put_u32(b + 8, 1);
    CHECK(plan_expect_refused(b, glen, "plan format version 1, this sslc reads 2: recompile the plan", "old version") == 0,
          "ver");
    plan_put_u32(b + 8, 3);
    CHECK(plan_expect_refused(b, glen, "plan format version 3, this sslc reads 2: recompile the plan", "newer version") == 0,
          "ver3");
    /* CRC mismatch: a payload bit flipped, or the stored CRC itself */
    memcpy(b, good, glen);
    b[glen / 2] ^= 0x10;
    CHECK(plan_expect_refused(b, glen, "corrupted (checksum mismatch)", "payload bit flip") == 0, "crc");
    memcpy(b, good, glen);
    b[13] ^= 1;
    CHECK(plan_expect_refused(b, glen, "corrupted (checksum mismatch)", "stored CRC changed") == 0, "crc2");
    /* protobuf that does not unpack, with a valid CRC */
    memcpy(b, good, glen);
    memset(b + PLAN_HEADER_BYTES, 0xff, glen - PLAN_HEADER_BYTES);
    plan_put_u32(b + 12, (uint32_t)crc32(0, b + PLAN_HEADER_BYTES, (uInt)(glen - PLAN_HEADER_BYTES)));
    CHECK(plan_expect_refused(b, glen, "payload is not a valid plan message", "garbage payload, CRC ok") == 0, "pb");
    /* through plan_read too: the path names the file */
    snprintf(path, sizeof path, "%s/bad.plan", tmpdir);
    CHECK(write_bytes(path, b, glen) == 0, "write");
    CHECK(plan_read(&p, path, err) != 0 && strstr(err, "bad.plan: plan file is corrupted"), "read: %s", err);
    free(b);
    return 0;
}

static int round_trip(void) {
    sslc_plan a, b;
    char path[512], err[IR_ERRLEN];
    CHECK(sample_plan(&a, 1) == 0, "sample plan");
    CHECK(a.train.nupdates == 3 && a.train.nnodes > 20, "sample has %d updates, %d nodes", a.train.nupdates,
          a.train.nnodes);
    snprintf(path, sizeof path, "%s/rt.plan", tmpdir);
    CHECK(plan_write(&a, path, err) == 0, "write: %s", err);
    CHECK(plan_read(&b, path, err) == 0, "read: %s", err);
    CHECK(plan_diff(&a, &b) == 0, "round trip differs");
    CHECK(strcmp(b.sslc_version, SSLC_VERSION) == 0, "sslc_version '%s'", b.sslc_version);
    CHECK(b.seed == 0xfeedfacecafebeefull, "seed");
    CHECK(plan_get_option(&b, "temperature") && strcmp(plan_get_option(&b, "temperature"), "0.5") == 0, "option");
    CHECK(plan_get_option(&b, "nope") == NULL, "absent option");
    CHECK(!b.has_eval, "eval graph appeared");
    CHECK(!b.backbone_onnx && !b.backbone_onnx_len, "an imported backbone appeared");
    /* the dump text is identical too */
    char *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    FILE *fa = open_memstream(&da, &la), *fb = open_memstream(&db, &lb);
    ir_dump(&a.train, fa);
    ir_dump(&b.train, fb);
    fclose(fa);
    fclose(fb);
    CHECK(la == lb && memcmp(da, db, la) == 0, "dumps differ");
    free(da);
    free(db);
    /* writing again replaces the file atomically; no temporary is left behind */
    CHECK(plan_set_option(&b, "temperature", "0.2", err) == 0, "set");
    b.train.vals[0].flags |= VF_NO_DECAY;
    CHECK(plan_write(&b, path, err) == 0, "rewrite: %s", err);
    sslc_plan c;
    CHECK(plan_read(&c, path, err) == 0, "reread: %s", err);
    CHECK(strcmp(plan_get_option(&c, "temperature"), "0.2") == 0 && c.train.vals[0].flags == VF_NO_DECAY, "rewrite");
    plan_free(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tmpdir);
    CHECK(system(cmd) != 0, "temporary file left in %s", tmpdir);
    /* an eval graph round-trips too */
    a.has_eval = 1;
    CHECK(sample_graph(&a.eval, 0) == 0, "eval graph");
    CHECK(plan_write(&a, path, err) == 0, "write with eval: %s", err);
    CHECK(plan_read(&c, path, err) == 0, "read with eval: %s", err);
    CHECK(c.has_eval && plan_diff(&a, &c) == 0, "eval round trip");
    plan_free(&c);
    /* so does an imported backbone's model file (opaque bytes, NULs included) */
    static const unsigned char model[] = {0x08, 0x07, 0x00, 0x12, 0xff, 0x00, 0x3a, 0x01};
    a.backbone_onnx = malloc(sizeof model);
    CHECK(a.backbone_onnx != NULL, "malloc");
    memcpy(a.backbone_onnx, model, sizeof model);
    a.backbone_onnx_len = sizeof model;
    CHECK(plan_write(&a, path, err) == 0, "write with a model: %s", err);
    CHECK(plan_read(&c, path, err) == 0, "read with a model: %s", err);
    CHECK(c.backbone_onnx_len == sizeof model && !memcmp(c.backbone_onnx, model, sizeof model) && plan_diff(&a, &c) == 0,
          "model round trip (%zu bytes)", c.backbone_onnx_len);
    plan_free(&c);
    /* a graph that fails to build, or that could not be read back, is not written */
    ir_fail(&a.eval, "test failure");
    CHECK(plan_write(&a, path, err) != 0 && strstr(err, "eval graph has a build error: test failure"), "failed graph: %s",
          err);
    a.eval.failed = 0;
    ir_value_new(&a.eval, VK_INTER, DT_F32, IR_SHAPE(2), NULL); /* no producer */
    CHECK(plan_write(&a, path, err) != 0 && strstr(err, "would not read back"), "orphan: %s", err);
    CHECK(plan_read(&c, path, err) == 0 && c.has_eval, "old file kept: %s", err);
    plan_free(&c);
    /* unwritable directory */
    CHECK(plan_write(&b, "/nonexistent-dir/x.plan", err) != 0 && strstr(err, "cannot create"), "nodir: %s", err);
    /* options API */
    CHECK(plan_set_option(&b, "", "x", err) != 0, "empty key");
    char longk[100];
    memset(longk, 'k', 99);
    longk[99] = 0;
    CHECK(plan_set_option(&b, longk, "x", err) != 0 && strstr(err, "too long"), "long key");
    CHECK(plan_set_method(&b, longk, err) != 0, "long method");
    plan_free(&a);
    plan_free(&b);
    printf("ok   round trip (%s)\n", path);
    return 0;
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_planfile_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    int fails = 0;
    fails += round_trip();
    sslc_plan p;
    char err[IR_ERRLEN];
    unsigned char *good;
    size_t glen;
    CHECK(sample_plan(&p, 1) == 0, "sample");
    CHECK(plan_encode(&p, &good, &glen, err) == 0, "encode: %s", err);
    plan_free(&p);
    fails += file_cases(good, glen);
    fails += semantic_cases(good, glen);
    free(good);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf(fails ? "FAILED\n" : "all plan file tests passed\n");
    return fails ? 1 : 0;
}
