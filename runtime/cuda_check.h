/* The one line that refuses --device cuda. sslc has no CUDA runtime backend yet; what a plan
 * needs to run on a GPU is a CUDA device and a CUBIN for its architecture. */
#ifndef SSLC_CUDA_CHECK_H
#define SSLC_CUDA_CHECK_H
#include "../codegen/compiled_step.h"

/* Writes into err (IR_ERRLEN) what is missing to run on CUDA here: the device (from the driver
 * probe), the plan's CUBIN for the device's architecture (cs: the plan's compiled step, NULL if
 * it has none), or, when both are present, the runtime backend itself. Always returns -1. */
int cuda_refuse(const compiled_step *cs, char *err);

/* The CUBIN of cs that runs on compute capability major.minor (same major, minor at most the
 * device's; the highest such), or NULL. */
const step_cubin *cuda_cubin_for(const compiled_step *cs, int major, int minor);

#endif
