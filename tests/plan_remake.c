#include "plan_remake.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
