/* What every backend's upload and download check first (runtime/backend.h). */
#include "backend.h"

#include <stdio.h>

int backend_value_check(const ir_graph *g, int v, int has_storage, size_t bytes, const char *backend, char *err) {
    if (v < 0 || v >= g->nvals || !has_storage) {
        snprintf(err, IR_ERRLEN, "value %%%d has no storage in the %s backend", v, backend);
        return -1;
    }
    size_t want = (size_t)ir_numel(&g->vals[v].shape) * ir_dtype_size(g->vals[v].dtype);
    if (bytes != want) {
        snprintf(err, IR_ERRLEN, "'%s': %zu bytes given, the value has %zu", g->vals[v].name ? g->vals[v].name : "?",
                 bytes, want);
        return -1;
    }
    return 0;
}
