/* The trivial step list of an unfused graph: one STEP_NODE per node, in node order. Fusion
 * produces step lists of the same shape (passes/exec.h); schedule and memplan take either. */
#ifndef SSLC_STEPS_H
#define SSLC_STEPS_H
#include "exec.h"

/* One STEP_NODE per node of g: in/out are the node's inputs/outputs (in order, repeats kept).
 * Elementwise ops (OPF_ELEMENTWISE) offer their output in place over an intermediate input of
 * the same shape and dtype, preferring one whose last reader (in node order) is this node.
 * *steps is malloc'ed (free it). Returns 0, or -1 with a message in err (IR_ERRLEN). */
int exec_steps_unfused(const ir_graph *g, exec_step **steps, int *nsteps, char *err);

/* Sanity of a step list against its graph: ids in range, arity within EXEC_MAX_ARGS, every
 * intermediate written by exactly one step, inplace indices valid with equal byte sizes,
 * STEP_NODE steps naming a node whose outputs they write. Order is not checked here. */
int exec_steps_validate(const ir_graph *g, const exec_step *steps, int nsteps, char *err);

/* bytes of a value in its dtype (numel * element size) */
int64_t exec_value_bytes(const ir_graph *g, int v);

#endif
