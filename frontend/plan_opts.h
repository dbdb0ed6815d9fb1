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

#endif
