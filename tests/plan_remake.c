#include "plan_remake.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "optest.h"
#include "runtime/planfile.h"

static void put_le(unsigned char *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * i));
}

unsigned char *plan_remake(const unsigned char *good, size_t glen, plan_mutator mut, size_t *len) {
    Sslc__Plan *pp = sslc__plan__unpack(NULL, glen - PLAN_HEADER_BYTES, good + PLAN_HEADER_BYTES);
    if (!pp) return NULL;
    mut(pp);
    size_t n = sslc__plan__get_packed_size(pp);
    unsigned char *b = malloc(PLAN_HEADER_BYTES + n);
    if (!b) {
        sslc__plan__free_unpacked(pp, NULL);
        return NULL;
    }
    sslc__plan__pack(pp, b + PLAN_HEADER_BYTES);
    sslc__plan__free_unpacked(pp, NULL);
    memcpy(b, good, PLAN_HEADER_BYTES);
    put_le(b + 12, crc32(0, b + PLAN_HEADER_BYTES, (uInt)n), 4); /* header: magic, version, CRC, length */
    put_le(b + 16, (uint64_t)n, 8);
    *len = PLAN_HEADER_BYTES + n;
    return b;
}

void plan_put_u32(unsigned char *b, uint32_t v) { put_le(b, v, 4); }

unsigned char *plan_wrap_payload(const unsigned char *payload, size_t n, size_t *len) {
    unsigned char *b = malloc(PLAN_HEADER_BYTES + n);
    if (!b) return NULL;
    memcpy(b, PLAN_MAGIC, 8);
    put_le(b + 8, PLAN_FORMAT_VERSION, 4);
    put_le(b + 12, crc32(0, payload, (uInt)n), 4);
    put_le(b + 16, (uint64_t)n, 8);
    memcpy(b + PLAN_HEADER_BYTES, payload, n);
    *len = PLAN_HEADER_BYTES + n;
    return b;
}

int plan_expect_refused(const unsigned char *buf, size_t len, const char *want, const char *label) {
    sslc_plan p;
    char err[IR_ERRLEN] = "";
    int rc = plan_decode(&p, buf, len, "t.plan", err);
    CHECK(rc != 0, "%s: accepted", label);
    CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", label, err, want);
    CHECK(strchr(err, '\n') == NULL, "%s: message spans lines", label);
    CHECK(p.train.nvals == 0 && p.nopts == 0 && !p.has_step, "%s: plan not left empty", label);
    plan_free(&p);
    printf("ok   %-34s %s\n", label, err);
    return 0;
}

static void unchanged(Sslc__Plan *pp) { (void)pp; }

int plan_remake_cases(const unsigned char *good, size_t glen, const plan_case *cases, size_t n, int want_step) {
    for (size_t i = 0; i < n; i++) {
        size_t len;
        unsigned char *b = plan_remake(good, glen, cases[i].m, &len);
        CHECK(b, "%s: cannot remake", cases[i].label);
        int r = plan_expect_refused(b, len, cases[i].want, cases[i].label);
        free(b);
        if (r) return r;
    }
    size_t len;
    unsigned char *b = plan_remake(good, glen, unchanged, &len);
    CHECK(b, "control: cannot remake");
    sslc_plan p;
    char err[IR_ERRLEN];
    int ok = plan_decode(&p, b, len, "t.plan", err) == 0;
    free(b);
    CHECK(ok && (!want_step || p.has_step), "repacked plan refused: %s", ok ? "no compiled step" : err);
    plan_free(&p);
    return 0;
}
