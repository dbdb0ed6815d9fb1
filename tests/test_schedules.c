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
    plan_free(&p);
    printf("ok   method schedules (BYOL cosine EMA, DINO warm-up and freezing, SwAV freezing)\n1 passed, 0 failed\n");
    return 0;
}
