/* Deeply nested protobuf (issue 15): protobuf-c's unpack recurses once per nested message, so an
 * ONNX model of subgraphs nested 3,000 deep (65 KB) or a plan nested 20,000 deep (valid CRC)
 * used to overflow the stack. pb_nesting measures the depth without recursion and the readers
 * refuse in one line. Also: pb_nesting on small hand-written wire data, and linear time on a
 * chain a million levels deep. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontend/onnx.h"
#include "optest.h"
#include "plan_remake.h"
#include "runtime/pbnest.h"
#include "runtime/planfile.h"

/* Wire data written back to front, so each level's length is known when its header goes in. */
typedef struct {
    unsigned char *b;
    size_t cap, pos; /* data is b[pos..cap) */
} rbuf;

static void put(rbuf *r, const void *p, size_t n) {
    r->pos -= n;
    memcpy(r->b + r->pos, p, n);
}
static void put_varint(rbuf *r, uint64_t v) {
    unsigned char t[10];
    int n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(r, t, (size_t)n);
}
/* wraps b[pos..end) as field `field` (length-delimited) */
static void wrap(rbuf *r, size_t end, int field) {
    put_varint(r, end - r->pos);
    put_varint(r, (uint64_t)field << 3 | 2);
}
static void put_u64_field(rbuf *r, int field, uint64_t v) {
    put_varint(r, v);
    put_varint(r, (uint64_t)field << 3);
}

static int small_cases(void) {
    const unsigned char flat[] = {0x08, 0x01, 0x15, 1, 2, 3, 4};       /* varint, fixed32 */
    const unsigned char one[] = {0x0a, 0x02, 0x08, 0x05};               /* a message holding a varint */
    const unsigned char str[] = {0x0a, 0x03, 'a', 'b', 'c'};            /* "abc" is not wire data */
    const unsigned char empty[] = {0x0a, 0x00};                         /* an empty sub-message */
    const unsigned char bad[] = {0x0a, 0x05, 0x08};                     /* length past the end */
    const unsigned char grp[] = {0x0b, 0x0c};                           /* a group: protobuf-c takes none */
    CHECK(pb_nesting(flat, sizeof flat, 16) == 1, "flat: %d", pb_nesting(flat, sizeof flat, 16));
    CHECK(pb_nesting(one, sizeof one, 16) == 2, "one level: %d", pb_nesting(one, sizeof one, 16));
    CHECK(pb_nesting(str, sizeof str, 16) == 1, "string: %d", pb_nesting(str, sizeof str, 16));
    CHECK(pb_nesting(empty, sizeof empty, 16) == 2, "empty: %d", pb_nesting(empty, sizeof empty, 16));
    CHECK(pb_nesting(bad, sizeof bad, 16) == 0, "malformed: %d", pb_nesting(bad, sizeof bad, 16));
    CHECK(pb_nesting(grp, sizeof grp, 16) == 0, "group: %d", pb_nesting(grp, sizeof grp, 16));
    /* a chain of d levels: d + 1 with the innermost varint, capped at limit + 1 */
    for (int d = 1; d <= 40; d++) {
        unsigned char buf[512];
        rbuf r = {buf, sizeof buf, sizeof buf};
        put_u64_field(&r, 1, 7);
        for (int k = 0; k < d; k++) wrap(&r, sizeof buf, 2);
        int want = d + 1 > 17 ? 17 : d + 1, got = pb_nesting(buf + r.pos, sizeof buf - r.pos, 16);
        CHECK(got == want, "chain of %d: %d, expected %d", d, got, want);
    }
    /* a malformed level inside a good one counts as bytes, not as a message */
    const unsigned char inner_bad[] = {0x0a, 0x04, 0x12, 0x02, 0x0a, 0x05}; /* 1 { 2 { 1: 5 bytes? } } */
    CHECK(pb_nesting(inner_bad, sizeof inner_bad, 16) == 2, "inner malformed: %d",
          pb_nesting(inner_bad, sizeof inner_bad, 16));
    printf("ok   pb_nesting on hand-written wire data\n");
    return 0;
}

/* a million levels, 4 MB: the walk stops descending at the limit, so this is quick */
static int linear_time(void) {
    size_t levels = 1000000, cap = levels * 6 + 16;
    rbuf r = {malloc(cap), cap, cap};
    CHECK(r.b, "out of memory");
    for (size_t k = 0; k < levels; k++) wrap(&r, cap, 1);
    clock_t t0 = clock();
    int got = pb_nesting(r.b + r.pos, cap - r.pos, PB_NEST_MAX);
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    free(r.b);
    CHECK(got == PB_NEST_MAX + 1, "a million levels: %d", got);
    CHECK(s < 2.0, "a million levels took %.2f s", s);
    printf("ok   a million levels measured in %.3f s\n", s);
    return 0;
}

/* Plan { format_version 2, train Graph { compiled CompiledStep { lowered Graph { compiled ... } } } }.
 * Every level's contents end where the buffer ends, so each wrap covers [pos, cap). */
static int deep_plan(int levels, int want_depth_error, const char *label) {
    size_t cap = (size_t)levels * 12 + 64;
    rbuf r = {malloc(cap), cap, cap};
    CHECK(r.b, "out of memory");
    for (int k = 0; k < levels; k++) {
        wrap(&r, cap, 2); /* CompiledStep.lowered = Graph */
        wrap(&r, cap, 5); /* Graph.compiled = CompiledStep */
    }
    wrap(&r, cap, 6); /* Plan.train */
    put_u64_field(&r, 1, PLAN_FORMAT_VERSION);
    size_t len;
    unsigned char *file = plan_wrap_payload(r.b + r.pos, cap - r.pos, &len);
    free(r.b);
    CHECK(file, "out of memory");
    sslc_plan p;
    char err[IR_ERRLEN] = "";
    int rc = plan_decode(&p, file, len, "deep.plan", err);
    free(file);
    plan_free(&p);
    CHECK(rc != 0, "%s: accepted", label);
    CHECK(!strchr(err, '\n'), "%s: message spans lines: %s", label, err);
    CHECK(!!strstr(err, "nested more than") == want_depth_error, "%s: %s", label, err);
    printf("ok   %-38s %s\n", label, err);
    return 0;
}

/* ModelProto { ir_version 8, graph { node { op_type "If", attribute { name "then_branch",
 * type GRAPH, g { node ... } } } } } */
static int deep_onnx(int levels, int want_depth_error, const char *label) {
    size_t cap = (size_t)levels * 40 + 64;
    rbuf r = {malloc(cap), cap, cap};
    CHECK(r.b, "out of memory");
    for (int k = 0; k < levels; k++) { /* [pos, cap) holds a GraphProto's contents */
        wrap(&r, cap, 6);             /* AttributeProto.g */
        put(&r, "then_branch", 11);
        put_varint(&r, 11);
        put_varint(&r, 1 << 3 | 2); /* AttributeProto.name */
        put_u64_field(&r, 20, 5);   /* AttributeProto.type = GRAPH */
        wrap(&r, cap, 5);           /* NodeProto.attribute */
        put(&r, "If", 2);
        put_varint(&r, 2);
        put_varint(&r, 4 << 3 | 2); /* NodeProto.op_type */
        wrap(&r, cap, 1);           /* GraphProto.node */
    }
    wrap(&r, cap, 7); /* ModelProto.graph */
    put_u64_field(&r, 1, 8);
    onnx_model *m = NULL;
    char err[IR_ERRLEN] = "";
    int rc = onnx_model_decode(&m, r.b + r.pos, cap - r.pos, "deep.onnx", NULL, err);
    free(r.b);
    if (m) onnx_model_free(m);
    CHECK(rc != 0, "%s: accepted", label);
    CHECK(!strchr(err, '\n'), "%s: message spans lines: %s", label, err);
    CHECK(!!strstr(err, "nested more than") == want_depth_error, "%s: %s", label, err);
    printf("ok   %-38s %s\n", label, err);
    return 0;
}

int main(void) {
    int fails = 0;
    fails += small_cases();
    fails += linear_time();
    fails += deep_plan(20000, 1, "plan nested 20,000 deep");
    fails += deep_plan(2, 0, "plan nested 2 deep (another error)");
    fails += deep_onnx(3000, 1, "onnx subgraphs 3,000 deep");
    fails += deep_onnx(20, 0, "onnx subgraphs 20 deep (other error)");
    printf(fails ? "FAILED\n" : "all nesting tests passed\n");
    return fails ? 1 : 0;
}
