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

/* Views: fusion turns Reshape/Flatten into views of their source's storage and keeps values
 * that live only inside a kernel out of memory (fused_plan.root). The _ex entry points of
 * schedule and memplan take such a map: root[v] is the value whose storage v uses (v itself
 * for an ordinary value, -1 if v is never materialized); NULL means root[v] = v for all v.
 * This copies the steps with every value replaced by its root; -1 with err if a step reads or
 * writes a value that has no storage. *out is malloc'ed. */
int exec_steps_resolve(const ir_graph *g, const exec_step *steps, int nsteps, const int *root, exec_step **out,
                       char *err);
/* root of v under a (possibly NULL) map */
static inline int exec_root(const int *root, int v) { return root ? root[v] : v; }

/* bytes of a value in its dtype (numel * element size) */
int64_t exec_value_bytes(const ir_graph *g, int v);

#endif
