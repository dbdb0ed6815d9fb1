/* Host-side method schedules fed to sched.* inputs by `sslc run`. */
#include "frontend/plan_opts.h"
#include "optest.h"

int main(void) {
    sslc_plan p;
    char err[IR_ERRLEN];
    plan_init(&p);
    /* BYOL cosine EMA: tau at the start, (1+tau)/2 half way, towards 1 at the end */
    plan_set_option(&p, "method.cosine_tau", "true", err);
    /* k = step - 1 of K = 100 steps */
    CHECK(fabs(sched_value(&p, "sched.tau", 0.996, 1, 100, 10) - 0.996) < 1e-12, "cosine tau at step 1");
    CHECK(fabs(sched_value(&p, "sched.tau", 0.996, 51, 100, 10) - 0.998) < 1e-12, "cosine tau half way");
    CHECK(fabs(sched_value(&p, "sched.tau", 0.996, 100, 100, 10) - 1.0) < 1e-5, "cosine tau at the end");
    plan_set_option(&p, "method.cosine_tau", "false", err);
    CHECK(sched_value(&p, "sched.tau", 0.996, 51, 100, 10) == 0.996, "no schedule without cosine_tau");
    /* DINO: teacher temperature linspace(0.04, 0.07, 3) over epochs 0..2, then 0.07 */
    plan_set_option(&p, "method.warmup_teacher_temp", "0.04", err);
    plan_set_option(&p, "method.warmup_teacher_temp_epochs", "3", err);
    CHECK(fabs(sched_value(&p, "sched.temp_t", 0.07, 1, 100, 10) - 0.04) < 1e-12, "epoch 0");
    CHECK(fabs(sched_value(&p, "sched.temp_t", 0.07, 11, 100, 10) - 0.055) < 1e-12, "epoch 1");
    CHECK(fabs(sched_value(&p, "sched.temp_t", 0.07, 21, 100, 10) - 0.07) < 1e-12, "epoch 2");
    CHECK(fabs(sched_value(&p, "sched.temp_t", 0.07, 31, 100, 10) - 0.07) < 1e-12, "after warm-up");
    /* DINO last layer frozen for 1 epoch; SwAV prototypes for 5 iterations */
    plan_set_option(&p, "method.freeze_last_layer", "1", err);
    CHECK(sched_value(&p, "sched.last_layer_grad", 1, 10, 100, 10) == 0, "frozen in epoch 0");
    CHECK(sched_value(&p, "sched.last_layer_grad", 1, 11, 100, 10) == 1, "free in epoch 1");
    plan_set_option(&p, "method.freeze_prototypes_niters", "5", err);
    CHECK(sched_value(&p, "sched.prototypes_grad", 1, 5, 100, 10) == 0, "frozen at iteration 4");
    CHECK(sched_value(&p, "sched.prototypes_grad", 1, 6, 100, 10) == 1, "free at iteration 5");
    CHECK(sched_value(&p, "sched.m", 0.99, 7, 100, 10) == 0.99, "unscheduled input keeps its base");
    /* learning rate: constant without a schedule; cosine with 2 warm-up epochs of 10 steps over
     * 100 steps: base*s/20 while warming up, then 0.5*(1+cos(pi*(s-21)/80)) */
    CHECK(lr_value(&p, 0.3, 57, 100, 10) == 0.3, "plans without lr_schedule: constant");
    plan_set_option(&p, "lr_schedule", "constant", err);
    CHECK(lr_value(&p, 0.3, 57, 100, 10) == 0.3, "constant schedule");
    plan_set_option(&p, "lr_schedule", "cosine", err);
    plan_set_option(&p, "warmup_epochs", "2", err);
    CHECK(fabs(lr_value(&p, 0.3, 1, 100, 10) - 0.015) < 1e-12, "warm-up step 1");
    CHECK(fabs(lr_value(&p, 0.3, 10, 100, 10) - 0.15) < 1e-12, "warm-up half way");
    CHECK(fabs(lr_value(&p, 0.3, 20, 100, 10) - 0.3) < 1e-12, "end of warm-up: the base rate");
    CHECK(fabs(lr_value(&p, 0.3, 21, 100, 10) - 0.3) < 1e-12, "cosine starts at the base rate");
    CHECK(fabs(lr_value(&p, 0.3, 61, 100, 10) - 0.15) < 1e-12, "cosine half way");
    CHECK(lr_value(&p, 0.3, 100, 100, 10) > 0 && lr_value(&p, 0.3, 100, 100, 10) < 1e-3, "cosine near 0 at the end");
    for (int64_t s = 2; s <= 100; s++)
        if (s > 20) CHECK(lr_value(&p, 0.3, s, 100, 10) < lr_value(&p, 0.3, s - 1, 100, 10) + 1e-15, "cosine decreases");
    plan_set_option(&p, "warmup_epochs", "50", err); /* longer than the run: warm up all but the last step */
    CHECK(fabs(lr_value(&p, 0.3, 99, 100, 10) - 0.3) < 1e-12 && lr_value(&p, 0.3, 100, 100, 10) == 0.3,
          "warm-up capped by the run");
    plan_set_option(&p, "warmup_epochs", "0", err);
    CHECK(fabs(lr_value(&p, 0.3, 1, 100, 10) - 0.3) < 1e-12, "no warm-up: the base rate at step 1");
    plan_free(&p);
    printf("ok   method schedules (BYOL cosine EMA, DINO warm-up and freezing, SwAV freezing, warm-up + cosine lr)\n1 passed, 0 failed\n");
    return 0;
}
