#ifndef SSLC_INIT_H
#define SSLC_INIT_H
#include <stdint.h>

#include "interp.h"

/* Fills every parameter and state tensor from its init recipe with a generator seeded by
 * `seed` and the value's name (so adding a parameter does not shift the others' draws). */
int init_persistent(interp *it, uint64_t seed, char *err);
/* Same, into a caller-provided f32 buffer for one value. */
int init_value_f32(const ir_graph *g, int v, uint64_t seed, float *dst, char *err);

#endif
