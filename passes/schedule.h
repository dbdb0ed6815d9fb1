/* schedule: an order of the steps that respects dependencies (a step runs after the steps
 * that write the values it reads; updates happen after all steps) and keeps the peak of live
 * intermediate memory low.
 *
 * Memory model (shared with memplan): an intermediate written by a step occupies its size
 * rounded up to MEMPLAN_ALIGN from that step until its last reader; graph outputs and update
 * sources stay to the end; an output offered in place over an input that dies at the same step
 * (equal size) takes that input's storage. Persistent values are not counted.
 *
 * Split AllReduces (AllReduceStart / AllReduceWait, the data-parallel pass's gradient buckets):
 * in every candidate each start is moved to just after the step writing its input (first moving
 * there the steps that exist only to feed it) and each wait to just before its first reader, so
 * the communication overlaps the steps between them. "input" below is the given order with
 * these moves.
 *
 * Several candidate orders are built; the one whose memory plan (memplan_build) needs the
 * smallest arena wins, then the lowest simulated peak, then the input order, so scheduling
 * never makes the arena larger:
 *   input        the order given
 *   greedy       list scheduling: the ready step with the smallest (allocated - freed) bytes
 *   frees-first  ready steps that free at least what they allocate first, else input order
 *   rpo          reverse post-order of a depth-first walk along consumers (two visit orders)
 *   greedy-casts bf16 graphs only: greedy as the float32 graph would make it, each cast step
 *                run just before its first reader (so bf16 never needs a larger arena) */
#ifndef SSLC_SCHEDULE_H
#define SSLC_SCHEDULE_H
#include <stdint.h>

#include "exec.h"

#define MEMPLAN_ALIGN 64
#define SCHED_NCAND 6

typedef struct {
    int64_t peak_input, arena_input;   /* simulated peak / planned arena of the input order */
    int64_t peak, arena;               /* of the chosen order */
    int64_t peak_cand[SCHED_NCAND];    /* of each candidate (-1 if not built) */
    int64_t arena_cand[SCHED_NCAND];
    int chosen;                        /* index of the chosen candidate */
} schedule_stats;

const char *schedule_candidate_name(int i); /* "input", "greedy", "frees-first", "rpo", "rpo-rev", "greedy-casts" */

/* Reorders steps[0..nsteps) in place. st may be NULL. Returns 0, or -1 with err (IR_ERRLEN)
 * for an invalid step list (see exec_steps_validate), a read of an intermediate nobody writes,
 * or a dependency cycle. */
int schedule_steps(const ir_graph *g, exec_step *steps, int nsteps, schedule_stats *st, char *err);

/* The same for fused step lists with views (root map: see exec_steps_resolve in steps.h). */
int schedule_steps_ex(const ir_graph *g, exec_step *steps, int nsteps, const int *root, schedule_stats *st,
                      char *err);

/* Simulated peak of live intermediate bytes for the steps in the given order (-1 if a step
 * reads an intermediate that no earlier step wrote). */
int64_t schedule_peak_bytes(const ir_graph *g, const exec_step *steps, int nsteps);
int64_t schedule_peak_bytes_ex(const ir_graph *g, const exec_step *steps, int nsteps, const int *root);

#endif
