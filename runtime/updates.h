/* The update phase of a step, for every backend: after the step's nodes ran, each graph update
 * (dst <- src: new parameters, optimizer slots, method state) is written. Updates read the
 * values from before the phase, so a source whose storage an update overwrites (a parameter
 * that is also another update's destination, or a view of one) is staged first. */
#ifndef SSLC_UPDATES_H
#define SSLC_UPDATES_H
#include <stddef.h>

#include "../ir/ir.h"

/* Copies n bytes between two storage addresses of the backend (host memcpy when NULL). */
typedef int (*updates_copy_fn)(void *ctx, void *dst, const void *src, size_t n, char *err);

typedef struct {
    updates_copy_fn copy; /* NULL: memcpy */
    void *copy_ctx;
    unsigned char *stage; /* staging storage of the backend, stage_bytes long */
    size_t stage_bytes;
    /* per update: whether its source is staged (updates_staged_flags), for storage that does not
     * move between steps (the arena backends); NULL: worked out on every apply (the interpreter,
     * whose intermediates are allocated per run) */
    unsigned char *staged;
} updates_stage;

/* The staging bytes the updates of g need with storage t (per value; data NULL: none). */
size_t updates_stage_need(const ir_graph *g, const ref_tensor *t);
/* the per-update staging flags of storage t (malloc'd; NULL when out of memory or no updates) */
unsigned char *updates_staged_flags(const ir_graph *g, const ref_tensor *t);
/* Writes every update of g in storage t; a missing source or destination is an error naming the
 * value. 0, or -1 with err (IR_ERRLEN). */
int updates_apply(const ir_graph *g, const ref_tensor *t, const updates_stage *st, char *err);

#endif
