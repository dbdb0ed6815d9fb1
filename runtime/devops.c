#include "devops.h"

#include <stdio.h>
#include <string.h>

_Static_assert((int)DEVOP_F32 == (int)DT_F32 && (int)DEVOP_F64 == (int)DT_F64 && (int)DEVOP_I32 == (int)DT_I32 &&
                   (int)DEVOP_I64 == (int)DT_I64 && (int)DEVOP_U8 == (int)DT_U8 && (int)DEVOP_BOOL == (int)DT_BOOL,
               "devop.h's dtype codes follow ir_dtype");

/* the families (runtime/devops/<family>.c); a new family is one line here */
extern const devop_family devops_cast, devops_linalg, devops_augment, devops_shape, devops_pool, devops_softmax,
    devops_compare, devops_queue, devops_index;
static const devop_family *const families[] = {
    &devops_cast,
    &devops_linalg,
    &devops_augment,
    /* shape, pool, softmax cross-entropy, Equal, QueueWrite */
    &devops_shape, &devops_pool, &devops_softmax, &devops_compare, &devops_queue,
    /* ArgMax, Gather */
    &devops_index,
};
enum { NFAMILIES = (int)(sizeof families / sizeof families[0]) };

/* generated at configure time from devops/devop.h and the .cuh files beside it (CMakeLists.txt) */
extern const char devop_cuda_text[];

const devop_def *devop_find(int op) {
    for (int f = 0; f < NFAMILIES; f++)
        for (const devop_def *d = families[f]->defs; d->prepare; d++)
            if (d->op == op) return d;
    return NULL;
}

devop_twin_fn devop_twin_find(const char *kernel) {
    for (int f = 0; f < NFAMILIES; f++)
        for (const devop_twin *t = families[f]->twins; t->kernel; t++)
            if (!strcmp(t->kernel, kernel)) return t->run;
    return NULL;
}

const char *devop_cuda_source(void) { return devop_cuda_text; }

int devop_run_twins(const ref_call *c, void *ws, char *err) {
    const devop_def *d = devop_find(c->node->op);
    if (!d) {
        snprintf(err, IR_ERRLEN, "%s has no device kernel", ir_optable[c->node->op]->name);
        return -1;
    }
    devop_launch l[DEVOP_MAX_LAUNCHES];
    int n = d->prepare(c, ws, l, err);
    if (n < 0) return -1;
    for (int k = 0; k < n; k++) {
        devop_twin_fn run = devop_twin_find(l[k].kernel);
        if (!run) {
            snprintf(err, IR_ERRLEN, "device kernel %s has no C twin", l[k].kernel);
            return -1;
        }
        run(&l[k].args);
    }
    return 0;
}
