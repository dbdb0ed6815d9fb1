/* Helpers for passes that rewrite a graph into a new one: copy leaves and nodes through a
 * value map (old id -> new id), then carry outputs and updates over. */
#ifndef SSLC_REWRITE_H
#define SSLC_REWRITE_H
#include "../ir/ir.h"

/* copies leaf value v of src (input/param/state/const) into dst; returns the new id */
int rw_copy_leaf(const ir_graph *src, int v, ir_graph *dst);
/* re-creates node n of src in dst on mapped inputs with the same attributes; writes the new
 * output ids to map[n->out[k]] and names them like the old ones. Returns 0 or -1. */
int rw_copy_node(const ir_graph *src, const ir_node *n, int *map, ir_graph *dst);
/* outputs and updates of src through map; -1 with dst->err if something is unmapped */
int rw_finish(const ir_graph *src, const int *map, ir_graph *dst);

#endif
