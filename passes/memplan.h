/* memplan: liveness over a scheduled step list, then offsets of every intermediate in ONE
 * arena (best-fit, largest first, as ggml's and TVM's planners), honouring the steps' in-place
 * offers; and a checker that proves a plan safe.
 *
 * Liveness: an intermediate lives from the step that writes it to the last step that reads it
 * (inclusive); graph outputs and update sources live to the end (after the last step, when
 * updates are applied); a value nobody reads lives during its own step. Two values may share
 * bytes only if their lifetimes are disjoint, or if step s writes output o in place over
 * input i (exec_step.inplace) where s is i's last reader and both have the same byte size: o
 * then takes i's offset. Inputs, parameters, state and constants are persistent: they get
 * consecutive offsets in a separate region and are not in the arena. Offsets are multiples of
 * MEMPLAN_ALIGN (64). */
#ifndef SSLC_MEMPLAN_H
#define SSLC_MEMPLAN_H
#include <stdint.h>

#include "exec.h"
#include "schedule.h"

typedef struct {
    int nvals;
    exec_loc *loc;            /* per value id: LOC_NONE (never materialized), LOC_PERSISTENT, LOC_ARENA */
    int64_t arena_bytes;      /* size of the arena */
    int64_t persistent_bytes; /* size of the persistent region */
    int64_t sum_bytes;        /* sum of the sizes of all arena values (what one buffer each would take) */
    int64_t peak_bytes;       /* most bytes simultaneously live (a lower bound for arena_bytes) */
    int nbuffers;             /* arena values */
    int ninplace;             /* in-place offers taken */
} memplan;

/* Plans steps[0..nsteps) in their order. Returns 0, or -1 with a message in err (IR_ERRLEN):
 * invalid step list, a read before the write, an output or update source nobody writes. */
int memplan_build(const ir_graph *g, const exec_step *steps, int nsteps, memplan *mp, char *err);
void memplan_free(memplan *mp);

/* Proves the plan safe for these steps in this order, recomputing liveness from scratch:
 * every value a step reads is persistent or written by an earlier step; every intermediate is
 * written once; every graph output / update source is materialized; persistent values are in
 * the persistent region without overlap; every arena value lies inside the arena, aligned, with
 * room for its bytes; and no two arena values whose lifetimes intersect share a byte, except an
 * in-place pair (output o of step s over input i, s = i's last reader, same offset and size).
 * Returns 0, or -1 with the first violation in err. */
int memplan_check(const ir_graph *g, const exec_step *steps, int nsteps, const memplan *mp, char *err);

/* The same for fused step lists with views (root map: see exec_steps_resolve in steps.h):
 * liveness and placement work on storage roots; a view gets its root's location. */
int memplan_build_ex(const ir_graph *g, const exec_step *steps, int nsteps, const int *root, memplan *mp, char *err);
int memplan_check_ex(const ir_graph *g, const exec_step *steps, int nsteps, const int *root, const memplan *mp,
                     char *err);

/* The same with a scratch buffer per step: scratch[s] bytes (0: none) that step s alone uses
 * (a library's workspace, known only once the backend has chosen its primitives). Each is placed
 * in the arena like a value live during its step only; scratch_off[s] receives its offset (-1
 * for none). The checker proves that no scratch buffer shares a byte with a value live during
 * its step. */
int memplan_build_scratch(const ir_graph *g, const exec_step *steps, int nsteps, const int *root,
                          const int64_t *scratch, memplan *mp, int64_t *scratch_off, char *err);
int memplan_check_scratch(const ir_graph *g, const exec_step *steps, int nsteps, const int *root, const memplan *mp,
                          const int64_t *scratch, const int64_t *scratch_off, char *err);

#endif
