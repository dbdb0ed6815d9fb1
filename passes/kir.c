#include "kir.h"

int64_t kir_outer(const kir *k) {
    int64_t o = 1;
    for (int d = 0; d < k->dom.ndim; d++)
        if (!(k->redmask >> d & 1)) o *= k->dom.d[d];
    return o;
}

int64_t kir_inner(const kir *k) {
    int64_t i = 1;
    for (int d = 0; d < k->dom.ndim; d++)
        if (k->redmask >> d & 1) i *= k->dom.d[d];
    return i;
}
