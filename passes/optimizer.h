/* The optimizer pass: appends SGD (momentum, Nesterov, weight decay), AdamW or LARS to a
 * training graph as ordinary nodes, plus one graph update per parameter and optimizer slot.
 *
 * Per-step hyperparameters are graph inputs (f32, shape []) that the host feeds every step,
 * so schedules (warmup + cosine learning rate, weight-decay schedules) need no recompilation:
 *   "opt.lr"                 learning rate                         (every optimizer)
 *   "opt.weight_decay"       weight decay                          (every optimizer)
 *   "opt.bias_correction1"   1 - beta1^t, t = 1-based step         (AdamW only)
 *   "opt.bias_correction2"   1 - beta2^t                           (AdamW only)
 * optimizer_step_scalars() computes them; cfg->weight_decay is the base value a host
 * schedule starts from, not a constant baked into the graph.
 *
 * Optimizer state is ir_state (f32, zero-initialized) named "opt.<slot>.<param name>":
 *   SGD with momentum > 0, LARS:  momentum_buffer
 *   AdamW:                        exp_avg, exp_avg_sq
 *
 * Formulas (float32, in the same operation order as PyTorch's single-tensor CPU path):
 *   SGD   (torch.optim.SGD, dampening 0):
 *           d = g + wd*p;  buf = momentum*buf + d  (buf starts at 0, which equals PyTorch's
 *           buf = d on the first step);  d = nesterov ? d + momentum*buf : buf  (momentum > 0);
 *           p = p - lr*d
 *   AdamW (torch.optim.AdamW, amsgrad off):
 *           p = p*(1 - lr*wd);  m = lerp(m, g, 1-beta1);  v = beta2*v + (1-beta2)*g*g;
 *           p = p - (lr/bc1)*m / (sqrt(v)/sqrt(bc2) + eps)
 *   LARS  (facebookresearch/barlowtwins, weight_decay_filter = lars_adaptation_filter = the
 *          VF_NO_DECAY flag when exclude_no_decay is set):
 *           adapted params: d = g + wd*p; q = eta*||p||/||d|| if ||p|| > 0 and ||d|| > 0 else 1;
 *                           d = d*q
 *           excluded params: d = g
 *           mu = momentum*mu + d;  p = p - lr*mu
 * For SGD and AdamW, weight decay applies to every parameter unless exclude_no_decay is set,
 * in which case VF_NO_DECAY parameters (biases, norm scales/shifts) get none. */
#ifndef SSLC_OPTIMIZER_H
#define SSLC_OPTIMIZER_H
#include <stddef.h>
#include <stdint.h>

#include "../ir/ir.h"

typedef enum { OPT_SGD, OPT_ADAMW, OPT_LARS, OPT__COUNT } opt_kind;

typedef struct {
    opt_kind kind;
    double momentum;      /* SGD, LARS */
    int nesterov;         /* SGD; requires momentum > 0 */
    double weight_decay;  /* base value fed as "opt.weight_decay" */
    double beta1, beta2;  /* AdamW */
    double eps;           /* AdamW */
    double eta;           /* LARS trust coefficient */
    int exclude_no_decay; /* VF_NO_DECAY params: no weight decay (and for LARS no adaptation) */
} opt_config;

/* graph input names */
#define OPT_IN_LR "opt.lr"
#define OPT_IN_WD "opt.weight_decay"
#define OPT_IN_BC1 "opt.bias_correction1"
#define OPT_IN_BC2 "opt.bias_correction2"

/* Defaults:
 *   SGD:   momentum 0.9, nesterov 0, weight_decay 0, exclude_no_decay 0
 *          (momentum 0.9 is the usual SSL choice; torch.optim.SGD's own default is 0)
 *   AdamW: beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0.01, exclude_no_decay 0
 *          (as torch.optim.AdamW)
 *   LARS:  momentum 0.9, eta 0.001, weight_decay 1e-6, exclude_no_decay 1
 *          (as barlowtwins' main.py: --weight-decay 1e-6, both filters on)
 * Fields that do not apply to a kind are still set to these values. */
opt_config opt_defaults(opt_kind kind);

const char *opt_kind_name(opt_kind kind); /* "sgd", "adamw", "lars" */
/* Parses "sgd", "adamw" or "lars" (case-insensitive). On failure returns -1 and writes
 * "unknown optimizer 'x' (choices: sgd, adamw, lars)" into err. */
int opt_kind_parse(const char *name, opt_kind *out, char *err, size_t errlen);
/* Checks the ranges PyTorch checks (momentum >= 0, 0 <= beta < 1, eps >= 0, weight_decay >= 0,
 * eta > 0, nesterov needs momentum > 0). Returns 0 or -1 with a message in err. */
int opt_config_check(const opt_config *cfg, char *err, size_t errlen);

/* Appends the optimizer for params[i] with gradients grads[i] (as produced by autodiff).
 * A parameter whose gradient is -1 is left untouched (no slots, no update). Each parameter
 * must be a trainable (not VF_FROZEN) f32 VK_PARAM with a gradient of its shape, appear once,
 * and not already be the destination of a graph update. The step inputs are created (or
 * reused, if an earlier call created them) as f32 [] graph inputs. Returns 0, or -1 with
 * g->err set. */
int optimizer_append(ir_graph *g, const opt_config *cfg, const int *params, const int *grads, int n);
/* The same, where cur (NULL, or one entry per parameter, -1 for none) gives a parameter's current
 * value: a value the step computed from the parameter and used in its place (SwAV's prototypes,
 * L2-normalized at the start of every step). The formulas then read cur[i] wherever they read
 * the parameter (weight decay, LARS norms, p - lr*d), so the new parameter is the optimizer step
 * taken from cur[i]; slots are named after the parameter, and the parameter is the update's
 * destination as usual (a caller that recorded param <- cur[i] as a graph update removes it
 * first). */
int optimizer_append_cur(ir_graph *g, const opt_config *cfg, const int *params, const int *cur, const int *grads,
                         int n);

/* Host side: the per-step scalars for 1-based step `step`, learning rate `lr` and weight decay
 * `wd` (both already scheduled). bc1/bc2 are 1 - beta^step for AdamW (computed in double, then
 * rounded to f32) and 1 for the other optimizers; a step below 1 is treated as 1. Any out pointer
 * may be NULL. */
void optimizer_step_scalars(const opt_config *cfg, int64_t step, double lr, double wd, float *lr_out, float *wd_out,
                            float *bc1_out, float *bc2_out);

/* The same as a list of (input name, value) pairs for the inputs this optimizer's graph has;
 * returns the count (at most OPT_MAX_SCALARS). Feed each by looking up its name in the graph. */
#define OPT_MAX_SCALARS 4
typedef struct {
    const char *name;
    float value;
} opt_scalar;
int optimizer_step_inputs(const opt_config *cfg, int64_t step, double lr, double wd, opt_scalar out[OPT_MAX_SCALARS]);

#endif
