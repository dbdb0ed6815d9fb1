/* Reading the options a plan records, for commands that run plans. */
#ifndef SSLC_PLAN_OPTS_H
#define SSLC_PLAN_OPTS_H
#include "../passes/optimizer.h"
#include "../runtime/engine.h"
#include "../runtime/planfile.h"

int plan_double_option(const sslc_plan *p, const char *key, double *out, char *err);
int plan_int_option(const sslc_plan *p, const char *key, int64_t *out, char *err);
/* the optimizer and the hyperparameters the host feeds per step */
int plan_opt_config(const sslc_plan *p, opt_config *cfg, double *lr, double *wd, char *err);
/* sched.* inputs at their recorded base values */
int feed_sched_inputs(engine *e, char *err);

/* The host-side schedule of one sched.* input at 1-based step `step` of `total` (per_epoch
 * steps an epoch), from the plan's method options: BYOL's cosine EMA (cosine_tau), DINO's
 * teacher-temperature warm-up and last-layer freezing, SwAV's prototype freezing; `base`
 * otherwise. */
double sched_value(const sslc_plan *p, const char *name, double base, int64_t step, int64_t total, int64_t per_epoch);
/* The learning rate at 1-based step `step` of `total` from the base rate and the plan's
 * lr_schedule option: "cosine" (linear warm-up from 0 over warmup_epochs * per_epoch steps, then
 * half a cosine down to 0 at the last step, as SimCLR and solo-learn) or "constant" (also for
 * plans that record no schedule). */
double lr_value(const sslc_plan *p, double base, int64_t step, int64_t total, int64_t per_epoch);
/* every sched.* input at its scheduled value for the step */
int feed_sched_step(engine *e, const sslc_plan *p, int64_t step, int64_t total, int64_t per_epoch, char *err);

/* The plan's data-parallel rank count (its collectives') must be the job's size: else one line
 * naming both and the fix. path names the plan in the message. */
struct ir_comm;
int plan_check_ranks(const sslc_plan *p, const char *path, const struct ir_comm *comm, char *err);

#endif
