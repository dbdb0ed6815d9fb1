/* DINO (Caron et al. 2021) as PySSL builds it, with multi-crop:
 *   student = backbone + head_student, teacher = teacher.0 (backbone copy) + head_teacher, an EMA
 *   of the student (momentum lamda, updated from the student's pre-step parameters before the
 *   teacher's forward pass, as PySSL's _momentum_update_teacher);
 *   head = layer1 Linear(f,hidden)-GELU, layer2 Linear(hidden,hidden)-GELU,
 *          layer3 Linear(hidden,bottleneck), l2-normalize, last_layer = weight-normed
 *          Linear(bottleneck, projection_dim, bias=False) with weight_g fixed at 1;
 *   every view (2 global + num_crops local) goes through the student, only the 2 global views
 *   through the teacher;
 *   loss = mean over the pairs (teacher global i, student view v != i) of
 *          -sum softmax((t_i - center)/temp_t) * log_softmax(s_v/temp_s), averaged over rows;
 *   center <- m*center + (1-m)*mean over the rows of both teacher outputs (after the loss).
 * Parameter and buffer names are those of PySSL's DINO.named_parameters()/named_buffers():
 * backbone.*, head_student.*, head_teacher.*, teacher.0.*, center.
 *
 * Per-step scalars (graph inputs the host feeds, see method_sched_input): sched.lamda (teacher
 * EMA momentum), sched.temp_t (teacher temperature), sched.m (center momentum); their recorded
 * base values are the options. The reference implementation's teacher-temperature warm-up
 * (warmup_teacher_temp -> temp_t linearly over warmup_teacher_temp_epochs epochs) is recorded as
 * options for the host schedule. freeze_last_layer > 0 adds sched.last_layer_grad, a 0/1 mask
 * on the gradient of head_student.last_layer.weight_v that the host sets to 0 during the first
 * freeze_last_layer epochs (the reference's cancel_gradients_last_layer). */
#include <math.h>
#include <stdio.h>

#include "method.h"

static const method_opt dino_opts[] = {
    {"projection_dim", MO_INT, 256, "output size of the head (prototypes of the last layer)"},
    {"hidden_dim", MO_INT, 2048, "hidden size of the head MLP"},
    {"bottleneck_dim", MO_INT, 256, "size of the l2-normalized bottleneck before the last layer"},
    {"temp_s", MO_FLOAT, 0.1, "student temperature"},
    {"temp_t", MO_FLOAT, 0.5, "teacher temperature (sched.temp_t; after the warm-up)"},
    {"m", MO_FLOAT, 0.5, "center momentum (sched.m)"},
    {"lamda", MO_FLOAT, 0.996, "teacher EMA momentum (sched.lamda)"},
    {"num_crops", MO_INT, 6, "local crops per image, at round(3/7 * image size) (ViTs: to whole patches)"},
    {"warmup_teacher_temp", MO_FLOAT, 0.04, "teacher temperature at the start of the warm-up (reference DINO)"},
    {"warmup_teacher_temp_epochs", MO_INT, 0, "epochs of linear teacher-temperature warm-up; 0: none (PySSL)"},
    {"freeze_last_layer", MO_INT, 0, "epochs without last-layer gradient (reference default 1; 0: PySSL)"},
};

static int bad(char *err, const char *what, double v) {
    snprintf(err, IR_ERRLEN, "%s, got %g", what, v);
    return -1;
}

static int dino_validate(const method_ctx *ctx, char *err) {
    static const char *dims[] = {"projection_dim", "hidden_dim", "bottleneck_dim"};
    for (int i = 0; i < 3; i++)
        if (mopt(ctx, dims[i]) < 1 || mopt(ctx, dims[i]) > 1e6) {
            snprintf(err, IR_ERRLEN, "%s must be in [1, 1000000], got %g", dims[i], mopt(ctx, dims[i]));
            return -1;
        }
    if (!(mopt(ctx, "temp_s") > 0)) return bad(err, "temp_s must be > 0", mopt(ctx, "temp_s"));
    if (!(mopt(ctx, "temp_t") > 0)) return bad(err, "temp_t must be > 0", mopt(ctx, "temp_t"));
    if (!(mopt(ctx, "warmup_teacher_temp") > 0))
        return bad(err, "warmup_teacher_temp must be > 0", mopt(ctx, "warmup_teacher_temp"));
    if (!(mopt(ctx, "m") >= 0 && mopt(ctx, "m") <= 1)) return bad(err, "m (center momentum) must be in [0, 1]", mopt(ctx, "m"));
    if (!(mopt(ctx, "lamda") >= 0 && mopt(ctx, "lamda") <= 1))
        return bad(err, "lamda (teacher EMA momentum) must be in [0, 1]", mopt(ctx, "lamda"));
    if (mopt(ctx, "warmup_teacher_temp_epochs") < 0)
        return bad(err, "warmup_teacher_temp_epochs must be >= 0", mopt(ctx, "warmup_teacher_temp_epochs"));
    if (mopt(ctx, "freeze_last_layer") < 0) return bad(err, "freeze_last_layer must be >= 0", mopt(ctx, "freeze_last_layer"));
    return method_check_num_crops(ctx, err);
}

/* nn.Linear with DINO's head init: trunc_normal_(std=0.02) (truncated at +-2, i.e. 100 std:
 * a plain normal), bias 0 */
static int head_linear(mbuild *mb, const char *name, int x, int64_t in, int64_t out) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    int w = mb_param(mb, "weight", IR_SHAPE(out, in), ir_init_normal(0, 0.02), 0);
    int b = mb_param(mb, "bias", IR_SHAPE(out), ir_init_const(0), VF_NO_DECAY);
    ir_scope_pop(g);
    return ir_gemm(g, x, w, b, 0, 1, 1.0, 1.0);
}

/* Head under the current scope (head_student or head_teacher). last_layer_grad: gradient mask
 * of weight_v, or -1. */
static int dino_head(method_ctx *ctx, int x, int last_layer_grad) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    int64_t f = backbone_feat_dim(&ctx->backbone), h = mopt_int(ctx, "hidden_dim");
    int64_t bn = mopt_int(ctx, "bottleneck_dim"), p = mopt_int(ctx, "projection_dim");
    ir_scope_push(g, "layer1");
    x = ir_gelu(g, head_linear(mb, "0", x, f, h));
    ir_scope_pop(g);
    ir_scope_push(g, "layer2");
    x = ir_gelu(g, head_linear(mb, "0", x, h, h));
    ir_scope_pop(g);
    ir_scope_push(g, "layer3");
    x = head_linear(mb, "0", x, h, bn);
    ir_scope_pop(g);
    x = l2_normalize(g, x);
    /* nn.utils.weight_norm(nn.Linear(bn, p, bias=False)): weight = v * (g / ||v||) with the norm
     * over each output row; weight_g is filled with 1 and not trained */
    ir_scope_push(g, "last_layer");
    double bound = 1.0 / sqrt((double)bn);
    int wg = mb_param(mb, "weight_g", IR_SHAPE(p, 1), ir_init_const(1), VF_FROZEN | VF_NO_DECAY);
    int wv = mb_param(mb, "weight_v", IR_SHAPE(p, bn), ir_init_uniform(-bound, bound), 0);
    ir_scope_pop(g);
    if (last_layer_grad >= 0) wv = grad_mask(g, wv, last_layer_grad);
    int64_t ax = 1;
    int norm = ir_sqrt(g, ir_reduce_sum(g, ir_mul(g, wv, wv), &ax, 1, 1));
    int w = ir_mul(g, wv, ir_div(g, wg, norm));
    return ir_gemm(g, x, w, -1, 0, 1, 1.0, 0.0);
}

static int student(method_ctx *ctx, int x, int last_layer_grad) {
    ir_graph *g = ctx->g;
    ir_scope_push(g, "backbone");
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    ir_scope_push(g, "head_student");
    h = dino_head(ctx, h, last_layer_grad);
    ir_scope_pop(g);
    return h;
}

static int teacher(method_ctx *ctx, int x, int lamda) {
    ir_graph *g = ctx->g;
    mb_ema_begin(&ctx->mb, "teacher.0", "backbone", lamda);
    ir_scope_push(g, "teacher");
    ir_scope_push(g, "0"); /* a pop removes one dotted part */
    int h = backbone_build(&ctx->mb, &ctx->backbone, x);
    ir_scope_pop(g);
    ir_scope_pop(g);
    mb_ema_begin(&ctx->mb, "head_teacher", "head_student", lamda);
    ir_scope_push(g, "head_teacher");
    h = dino_head(ctx, h, -1);
    ir_scope_pop(g);
    mb_ema_end(&ctx->mb);
    return ir_stop_gradient(g, h);
}

static int dino_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    if (method_multicrop_views(ctx, mopt_int(ctx, "num_crops"))) return -1;
    int lamda = method_sched_input(ctx, "lamda", mopt(ctx, "lamda"));
    int temp_t = method_sched_input(ctx, "temp_t", mopt(ctx, "temp_t"));
    int m = method_sched_input(ctx, "m", mopt(ctx, "m"));
    int llg = mopt_int(ctx, "freeze_last_layer") > 0 ? method_sched_input(ctx, "last_layer_grad", 1.0) : -1;
    int nv = ctx->nviews, s[METHOD_MAX_VIEWS], t[2];
    for (int v = 0; v < nv; v++) s[v] = student(ctx, ctx->views[v], llg);
    for (int i = 0; i < 2; i++) t[i] = teacher(ctx, ctx->views[i], lamda);

    int64_t p = mopt_int(ctx, "projection_dim");
    int center = mb_state(&ctx->mb, "center", DT_F32, IR_SHAPE(1, p), ir_init_const(0));
    int c = mb_cur(&ctx->mb, center);
    int temp_s = ir_scalar(g, mopt(ctx, "temp_s"));
    int loss = -1, npairs = 0;
    for (int i = 0; i < 2; i++) {
        int q = ir_stop_gradient(g, ir_softmax(g, ir_div(g, ir_sub(g, t[i], c), temp_t), 1));
        for (int v = 0; v < nv; v++) {
            if (v == i) continue;
            int ce = soft_cross_entropy(g, q, ir_div(g, s[v], temp_s));
            loss = loss < 0 ? ce : ir_add(g, loss, ce);
            npairs++;
        }
    }
    loss = ir_div(g, loss, ir_scalar(g, npairs));
    /* center <- m*center + (1-m)*mean(cat(t0, t1), dim=0) */
    int64_t ax0 = 0;
    int mean = ir_reduce_mean(g, ir_concat(g, t, 2, 0), &ax0, 1, 1);
    /* the global batch's mean, as the reference's all_reduce of the batch center (every rank
     * holds the same number of rows) */
    if (ctx->ranks > 1) mean = ir_all_reduce(g, ir_stop_gradient(g, mean), ctx->ranks, 1);
    mb_advance(&ctx->mb, center, ir_add(g, ir_mul(g, m, c), ir_mul(g, ir_sub(g, ir_scalar(g, 1.0), m), mean)));
    return loss;
}

const method_def method_dino = {
    .name = "dino",
    .summary = "DINO: self-distillation of an EMA teacher (global views) into the student (global + local "
               "crops) with a centered, sharpened teacher",
    .data_parallel = 1,
    .notes = "as PySSL, plus multi-crop local views at round(3/7 * image size) (PySSL truncates); the reference "
             "implementation's teacher-temperature warm-up (warmup_teacher_temp, warmup_teacher_temp_epochs) and "
             "last-layer freezing (freeze_last_layer) are options for the host schedule (sched.temp_t, "
             "sched.last_layer_grad), off by default as in PySSL; data-parallel: the center takes the global "
             "batch's mean (AllReduce), as the reference",
    .opts = dino_opts,
    .nopts = (int)(sizeof dino_opts / sizeof dino_opts[0]),
    .validate = dino_validate,
    .build = dino_build,
};
