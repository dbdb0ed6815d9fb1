/* Plan-file tampering for the reader tests: unpack a good file's payload, let a mutator change
 * it, repack with a valid header, length and CRC, so the reader's deeper checks are what see it. */
#ifndef SSLC_TEST_PLAN_REMAKE_H
#define SSLC_TEST_PLAN_REMAKE_H
#include <stddef.h>
#include <stdint.h>

#include "plan.pb-c.h"

typedef void (*plan_mutator)(Sslc__Plan *pp);
/* malloc'd file image (*len bytes), or NULL if the good payload does not unpack */
unsigned char *plan_remake(const unsigned char *good, size_t glen, plan_mutator mut, size_t *len);

/* decode must fail with `want` in its message, on one line, and leave the plan empty */
int plan_expect_refused(const unsigned char *buf, size_t len, const char *want, const char *label);

/* each mutation of `good` is refused with its message; an unchanged repack is accepted (and holds
 * a compiled step when want_step). 0, or 1 after printing the first failure */
typedef struct {
    plan_mutator m;
    const char *want, *label;
} plan_case;
int plan_remake_cases(const unsigned char *good, size_t glen, const plan_case *cases, size_t n, int want_step);

/* a plan file image around an arbitrary payload: header with the version, length and a valid CRC
 * (malloc'd, *len bytes), for payloads plan_remake cannot build (e.g. nested too deep to pack) */
unsigned char *plan_wrap_payload(const unsigned char *payload, size_t n, size_t *len);

/* little-endian u32 into b (header fields: version at 8, CRC at 12) */
void plan_put_u32(unsigned char *b, uint32_t v);

#endif
