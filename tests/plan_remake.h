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

/* little-endian u32 into b (header fields: version at 8, CRC at 12) */
void plan_put_u32(unsigned char *b, uint32_t v);

#endif
