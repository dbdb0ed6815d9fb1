/* Fuzz entry point: the plan reader (runtime/planfile.c plan_decode, which plan_read calls on the
 * file's bytes). A refusal must be one line; an accepted plan must re-encode and read back.
 *
 * The header's CRC32 of the payload would stop almost every mutation at the first check, so the
 * input is read twice: as it is (the header checks), then with the header's CRC and length
 * re-signed for the payload it carries (the protobuf and graph checks behind the checksum). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_target.h"
#include "runtime/planfile.h"

static void one(const uint8_t *data, size_t size) {
    sslc_plan p;
    char err[IR_ERRLEN] = "";
    if (plan_decode(&p, data, size, "fuzz.plan", err)) {
        fuzz_check_err("plan", err);
        plan_free(&p);
        return;
    }
    fuzz_accepted++;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (plan_encode(&p, &buf, &len, err)) fuzz_fail("plan: accepted, but does not re-encode: %s", err);
    sslc_plan q;
    if (plan_decode(&q, buf, len, "re-encoded plan", err))
        fuzz_fail("plan: accepted, but its re-encoding is refused: %s", err);
    plan_free(&q);
    free(buf);
    plan_free(&p);
}

int FUZZ_ENTRY(plan)(const uint8_t *data, size_t size) {
    one(data, size);
    if (size < PLAN_HEADER_BYTES || size - PLAN_HEADER_BYTES > ((size_t)1 << 30)) return 0;
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data, size);
    size_t n = size - PLAN_HEADER_BYTES; /* layout: magic[8] version u32, crc32 u32, length u64 */
    uint32_t c = (uint32_t)crc32(0, b + PLAN_HEADER_BYTES, (uInt)n);
    for (int i = 0; i < 4; i++) b[12 + i] = (uint8_t)(c >> (8 * i));
    for (int i = 0; i < 8; i++) b[16 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    if (memcmp(b, data, PLAN_HEADER_BYTES)) one(b, size); /* the same input otherwise */
    free(b);
    return 0;
}
