/* Graph composition: copying one graph into another, so that a front end (the augmentation
 * subgraph) can be placed before a method graph built on its own. */
#ifndef SSLC_IR_COMPOSE_H
#define SSLC_IR_COMPOSE_H
#include "ir.h"

/* Appends src's values and nodes to dst in src's order, so dst stays in creation order (each
 * node's outputs are created right after it, as the plan file requires). map has src->nvals
 * entries: set map[v] to a dst value (same dtype and shape) for src inputs that dst already
 * provides, -1 elsewhere; on return map[v] is the dst id of every src value. Names, kinds,
 * flags, init recipes (copy sources remapped) and constant data are copied; src's outputs and
 * updates are appended, mapped. Returns 0, or -1 with dst->err set (a name clash, a preset of
 * another shape, a malformed src). */
int ir_graph_append(ir_graph *dst, const ir_graph *src, int *map);

#endif
