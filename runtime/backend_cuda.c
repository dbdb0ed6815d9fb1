/* The cuda backend's constructor. The runtime backend itself does not exist yet: until it does,
 * building one refuses with the one line that names what is missing here (a device, the plan's
 * CUBIN for its architecture, or the backend; runtime/cuda_check.h). */
#include "backend.h"
#include "cuda_check.h"

int backend_cuda_new(const backend_args *a, backend *b, char *err) {
    (void)b;
    return cuda_refuse(a->plan && a->plan->has_step ? &a->plan->step : NULL, err);
}
