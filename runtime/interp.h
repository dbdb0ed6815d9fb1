/* The reference interpreter: runs any graph node by node with the op table's reference
 * kernels. Float values are stored as f32, or as f64 when `f64` is set (gradient checks). */
#ifndef SSLC_INTERP_H
#define SSLC_INTERP_H
#include "../ir/ir.h"

typedef struct {
    const ir_graph *g;
    int f64;
    int keep_all; /* keep every intermediate after run (tests, debugging) */
    const struct ir_comm *comm; /* the collectives' communicator (NULL: one rank) */
    ref_tensor *t;
    int *last_use; /* last node reading each value; -1 if none */
    unsigned char *keep;
} interp;

int interp_init(interp *it, const ir_graph *g, int f64, char *err);
void interp_free(interp *it);
/* Copy data in/out of a value's storage, converting between float widths. */
int interp_set_f32(interp *it, int v, const float *src, char *err);
int interp_get_f32(const interp *it, int v, float *dst, char *err);
int interp_set_f64(interp *it, int v, const double *src, char *err);
int interp_get_f64(const interp *it, int v, double *dst, char *err);
/* raw storage (dtype it->t[v].dtype), NULL if not materialized */
void *interp_data(const interp *it, int v);
/* Runs every node, then applies the graph's updates to params/state. */
int interp_run(interp *it, char *err);
/* storage dtype for a value under this interpreter */
ir_dtype interp_storage_dtype(const interp *it, ir_dtype dt);

#endif
