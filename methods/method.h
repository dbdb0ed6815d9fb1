/* SSL methods: a registry of builders with PySSL's option names and defaults. A builder turns
 * (backbone, batch, options) into a forward graph ending in the scalar loss. */
#ifndef SSLC_METHOD_H
#define SSLC_METHOD_H
#include "backbones/backbone.h"
#include "mbuild.h"

#define METHOD_MAX_OPTS 24
#define METHOD_MAX_VIEWS 16

typedef enum { MO_FLOAT, MO_INT, MO_BOOL } mopt_type;

typedef struct {
    const char *name;
    mopt_type type;
    double def;
    const char *help;
} method_opt;

struct method_ctx;
typedef struct {
    const char *name;
    const char *summary;
    const char *notes; /* where sslc departs from PySSL, or NULL */
    const method_opt *opts;
    int nopts;
    /* checks option values; -1 with one line in err */
    int (*validate)(const struct method_ctx *ctx, char *err);
    /* builds the forward graph from ctx->views to the loss; returns the loss value */
    int (*build)(struct method_ctx *ctx);
    /* optional: the projection head on backbone features [N, f] as build() creates it (same
     * parameter names); `sslc export --with-projector` builds it in eval mode. NULL: the method
     * has no projector to export. */
    int (*projector)(struct method_ctx *ctx, int features);
    /* builds for several data-parallel ranks (--ranks N) with its global-batch terms across
     * ranks (gathers, all-reduced statistics) and is proven equal to one rank over the global
     * batch (tests/mpi/test_dp_equivalence.sh); a method without it refuses --ranks > 1 */
    int data_parallel;
} method_def;

/* What the user asked for, before building. */
typedef struct {
    backbone_cfg backbone;
    int64_t batch; /* per rank */
    int ranks;     /* data-parallel ranks the graph is built for (0 or 1: one) */
    int sync_bn;   /* BatchNorm statistics over the global batch (ranks > 1) */
    int nset;
    const char *set[64]; /* "name=value" overrides */
} method_spec;

typedef struct method_ctx {
    const method_def *def;
    ir_graph *g;
    mbuild mb;
    backbone_cfg backbone;
    int64_t batch; /* per rank */
    int ranks;     /* data-parallel ranks (1: one process); losses over the global batch gather across them */
    int sync_bn;   /* --sync-bn: BatchNorm statistics over the global batch */
    double val[METHOD_MAX_OPTS]; /* option values, indexed like def->opts */
    int nviews;
    int views[METHOD_MAX_VIEWS]; /* graph inputs views.0 ... (float32 NCHW, normalized) */
} method_ctx;

const method_def *method_find(const char *name); /* case-insensitive */
int method_count(void);
const method_def *method_at(int i);
const char *method_choices(void); /* "barlow_twins, byol, ..." of the registered methods */

/* option value by name (aborts on a name the method does not declare: a programming error) */
double mopt(const method_ctx *ctx, const char *name);
int64_t mopt_int(const method_ctx *ctx, const char *name);

/* One-line option checks for validate(): 0, or -1 with the message in err (IR_ERRLEN). */
#define MOPT_MAX_DIM 1048576
int mopt_check_dim(const method_ctx *ctx, const char *name, char *err);      /* integer in [1, MOPT_MAX_DIM] */
int mopt_check_positive(const method_ctx *ctx, const char *name, char *err); /* > 0 */
int mopt_check_range(const method_ctx *ctx, const char *name, double lo, double hi, char *err); /* lo <= v <= hi */

/* Resolves options (defaults + spec->set), validates, builds the forward graph into g with
 * inputs views.0..; returns the loss value (named "loss") or -1 with err set. */
int method_build(const method_def *def, const method_spec *spec, ir_graph *g, char *err);

/* Option resolution alone (used by `sslc methods` and build). */
int method_resolve_options(const method_def *def, const method_spec *spec, double *val, char *err);
void method_format_value(const method_opt *o, double v, char *buf, size_t n);

/* A per-step scalar the host feeds (EMA momentum, teacher temperature...): graph input
 * "sched.<name>" (f32 []), whose init recipe records the base value the host feeds when no
 * schedule overrides it. */
int method_sched_input(method_ctx *ctx, const char *name, double base);

/* Multi-crop (DINO, SwAV): `num_crops` is validated with method_check_num_crops (0 ..
 * METHOD_MAX_VIEWS - 2, local crops of at least 4x4, and for a ViT at least one patch);
 * method_multicrop_views creates the graph inputs views.0 and views.1 at the image size (global
 * views) and views.2 .. views.(1+num_crops) at the local size (local crops), and sets
 * ctx->nviews/views. The local size is round(3/7 * image_size), rounding halves up
 * (method_local_size): 224 -> 96, 32 -> 14, 16 -> 7. PySSL's int(image_size*3/7) truncates
 * instead (32 -> 13); both agree whenever 3/7 * image_size is within 0.5 below an integer, e.g.
 * for 224. A ViT needs whole patches, so for it the local size is 3/7 * image_size rounded to the
 * nearest multiple of the patch size P, halves up (method_local_crop_size): 224/16 -> 96 as
 * DINO's, 32/4 -> 12, 32/8 -> 16; its position embedding is resized to the local patch grid
 * (methods/backbones/vit.c). The backbone built on both shapes shares its parameters by name
 * (mb_param). */
int method_local_size(int image_size);
int method_local_crop_size(const backbone_cfg *backbone);
int method_check_num_crops(const method_ctx *ctx, char *err);
int method_multicrop_views(method_ctx *ctx, int64_t num_crops);

/* A parameter whose value the method replaces at the start of every step (SwAV's prototypes,
 * L2-normalized before each step): `value` (computed from the parameter, without gradient) is
 * what the step uses and what the optimizer updates. Recorded as the graph update
 * param <- value; frontend/driver.c hands it to optimizer_append_cur as the parameter's current
 * value (and keeps it as the update when the parameter gets no gradient). The forward pass
 * should read method_param_use(ctx, param, value, mask): a value equal to `value` whose
 * gradient goes to the parameter, multiplied by the f32 [] `mask` unless mask is -1 (a
 * gradient mask such as SwAV's prototype freezing). */
int method_param_current(method_ctx *ctx, int param, int value);
int method_param_use(method_ctx *ctx, int param, int value, int mask);
/* x with its gradient multiplied by the f32 [] mask (0 or 1): the forward value is exactly x. */
int grad_mask(ir_graph *g, int x, int mask);

/* shared pieces */
int l2_normalize(ir_graph *g, int x); /* rows of [N,D], as F.normalize(dim=1) */
int nt_xent_loss(ir_graph *g, int z1, int z2, double temperature);
/* -mean over rows of sum(q * log_softmax(logits, 1), 1): cross-entropy against soft targets q
 * (DINO, SwAV); q should carry no gradient */
int soft_cross_entropy(ir_graph *g, int q, int logits);
int cosine_rows(ir_graph *g, int p, int z); /* [N,D] x [N,D] -> [N] cosine similarities */
/* BYOL's regression loss 2 − 2·mean cos(p, sg z) (PySSL's mean_squared_error) */
int byol_regression_loss(ir_graph *g, int p, int z);
/* SimSiam's −mean cos(p, sg z) */
int negative_cosine_loss(ir_graph *g, int p, int z);
/* Barlow Twins on batch-normalized projections: Σ(1−c_ii)² + λ Σ_{i≠j} c_ij², c = z1nᵀz2n/N */
int barlow_twins_loss(ir_graph *g, int z1n, int z2n, double lamda, int ranks);
/* NNCLR's L(nn, p): cross-entropy of normalize(nn) normalize(p)ᵀ / temperature against
 * arange(N) (the neighbour of row i against every prediction, positive p_i) */
int nnclr_loss(ir_graph *g, int nn, int p, double temperature);
/* VICReg (paper's Algorithm 1) on the expander outputs z1, z2 [N,D]:
 * sim_coeff·mse(z1, z2) + std_coeff·Σ_views mean(relu(1 − sqrt(var + 1e-4)))
 * + cov_coeff·Σ_views Σ_{i≠j} cov_ij² / D, var and cov unbiased (N − 1) */
int vicreg_loss(ir_graph *g, int z1, int z2, double sim_coeff, double std_coeff, double cov_coeff);
/* PySSL's sup_con_loss over the views [z1; z2] with i64 labels [N] */
int supcon_loss(ir_graph *g, int z1, int z2, int labels, double temperature, double base_temperature);

int simclr_build(method_ctx *ctx);

#endif
