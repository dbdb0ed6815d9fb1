/* Vision Transformers ViT-Tiny (embed 192, 3 heads) and ViT-Small (384, 6 heads), depth 12,
 * as timm's VisionTransformer with num_classes=0 and global_pool='token': the features are the
 * class token's output after the final LayerNorm.
 *
 *   patch_embed.proj   Conv2d(C, D, P, stride P) -> tokens [N, L, D], L = (S/P)^2
 *   cls_token [1,1,D] prepended, pos_embed [1, L+1, D] added
 *   blocks.i: x = x + attn.proj(MHSA(attn.qkv(norm1(x))));  x = x + mlp.fc2(GELU(mlp.fc1(norm2(x))))
 *   norm (applied to the class token: LayerNorm is per token, so this equals timm's norm of all
 *   tokens followed by taking token 0)
 * LayerNorms use eps 1e-6 (timm's partial(nn.LayerNorm, eps=1e-6)); attention is
 * softmax(q * head_dim^-0.5 @ k^T) @ v over the last axis; GELU is exact (erf); MLP ratio 4.
 *
 * Parameter names are timm's state_dict keys. Initialization is timm's default ('' mode):
 * pos_embed trunc_normal(std .02), cls_token normal(std 1e-6), Linear weights
 * trunc_normal(std .02) with zero biases, LayerNorm 1/0, and the patch projection keeps
 * PyTorch's Conv2d default (kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), same bound for the
 * bias). pos_embed, cls_token, biases and norm parameters are VF_NO_DECAY (timm's
 * no_weight_decay() plus the 1-D rule of its optimizer factory).
 *
 * Options: patch size (0 = 4 for images <= 64, else 16; must divide the image size), depth
 * (0 = 12) and the width multiplier, which scales the embedding dim to llround(D * width); the
 * head count stays, so it must divide the scaled dim.
 *
 * Inputs of another (square, whole-patch) size than the image size, the multi-crop local views,
 * get pos_embed's patch-grid part resized as DINO's interpolate_pos_encoding does (bicubic,
 * torch's interpolate with scale_factor (side' + 0.1) / side); the class token's row is kept.
 * Bicubic resizing is linear in the grid, so it is a constant [L', L] matrix (the Kronecker
 * product of the 1-D row and column matrices) times pos_embed's patch rows: a MatMul, whose
 * gradient and kernels every backend already has. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone.h"

#define VIT_LN_EPS 1e-6

typedef struct {
    int64_t embed, heads, depth, patch, tokens; /* tokens = patches + 1 of the input being built */
} vit_dims;

static int is_small(const backbone_cfg *cfg) { return strcmp(cfg->name, "vit-small") == 0; }

int vit_patch_size(const backbone_cfg *cfg) {
    return cfg->patch_size > 0 ? cfg->patch_size : cfg->image_size <= 64 ? 4 : 16;
}

static vit_dims dims_of(const backbone_cfg *cfg) {
    vit_dims d;
    d.embed = llround((is_small(cfg) ? 384.0 : 192.0) * cfg->width);
    d.heads = is_small(cfg) ? 6 : 3;
    d.depth = cfg->depth > 0 ? cfg->depth : 12;
    d.patch = vit_patch_size(cfg);
    int64_t side = d.patch > 0 ? cfg->image_size / d.patch : 0;
    d.tokens = side * side + 1;
    return d;
}

int64_t vit_feat_dim(const backbone_cfg *cfg) { return dims_of(cfg).embed; }

int vit_check(const backbone_cfg *cfg, char *err) {
    vit_dims d = dims_of(cfg);
    if (cfg->patch_size < 0 || d.patch > cfg->image_size || cfg->image_size % d.patch != 0) {
        snprintf(err, IR_ERRLEN, "--patch-size %lld does not divide --image-size %d (%s needs whole patches)",
                 (long long)d.patch, cfg->image_size, cfg->name);
        return -1;
    }
    if (d.embed < d.heads || d.embed % d.heads != 0) {
        snprintf(err, IR_ERRLEN,
                 "--width %g gives %s an embedding dim of %lld, which its %lld attention heads do not divide "
                 "(pick a width that makes it a multiple of %lld, e.g. %g)",
                 cfg->width, cfg->name, (long long)d.embed, (long long)d.heads, (long long)d.heads,
                 (double)(d.embed / d.heads > 0 ? d.embed / d.heads : 1) * (double)d.heads /
                     (is_small(cfg) ? 384.0 : 192.0));
        return -1;
    }
    if (cfg->depth < 0 || cfg->depth > 64) {
        snprintf(err, IR_ERRLEN, "--depth must be in [1, 64], got %d", cfg->depth);
        return -1;
    }
    return 0;
}

static ir_init trunc_normal(double std) {
    return (ir_init){.kind = INIT_TRUNC_NORMAL, .a = 0, .b = std, .src = -1};
}

/* timm Linear on a [rows, in] matrix: trunc_normal(.02) weight [out, in], zero bias */
int vit_linear(mbuild *mb, const char *name, int x, int64_t in, int64_t out) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    int w = mb_param(mb, "weight", IR_SHAPE(out, in), trunc_normal(0.02), 0);
    int b = mb_param(mb, "bias", IR_SHAPE(out), ir_init_const(0), VF_NO_DECAY);
    ir_scope_pop(g);
    return ir_gemm(g, x, w, b, 0, 1, 1.0, 1.0);
}

int vit_layernorm(mbuild *mb, const char *name, int x, int64_t dim) {
    ir_graph *g = mb->g;
    ir_scope_push(g, name);
    int w = mb_param(mb, "weight", IR_SHAPE(dim), ir_init_const(1), VF_NO_DECAY);
    int b = mb_param(mb, "bias", IR_SHAPE(dim), ir_init_const(0), VF_NO_DECAY);
    ir_scope_pop(g);
    return ir_layernorm(g, x, w, b, -1, VIT_LN_EPS);
}

/* timm Attention on h [N*T, D]: qkv -> [N, T, 3, H, hd] -> [3, N, H, T, hd]; per head
 * softmax(q scale k^T) v; heads back to [N*T, D]; proj */
static int attention(mbuild *mb, int h, int64_t N, const vit_dims *d) {
    ir_graph *g = mb->g;
    int64_t T = d->tokens, D = d->embed, H = d->heads, hd = D / H;
    ir_scope_push(g, "attn");
    int qkv = vit_linear(mb, "qkv", h, D, 3 * D);
    qkv = ir_transpose(g, ir_reshape(g, qkv, IR_SHAPE(N, T, 3, H, hd)), (int64_t[]){2, 0, 3, 1, 4}, 5);
    int q = ir_reshape(g, ir_slice(g, qkv, 0, 0, 1), IR_SHAPE(N, H, T, hd));
    int k = ir_reshape(g, ir_slice(g, qkv, 0, 1, 2), IR_SHAPE(N, H, T, hd));
    int v = ir_reshape(g, ir_slice(g, qkv, 0, 2, 3), IR_SHAPE(N, H, T, hd));
    int kt = ir_transpose(g, k, (int64_t[]){0, 1, 3, 2}, 4);
    int att = ir_softmax(g, ir_matmul(g, ir_mul_scalar(g, q, 1.0 / sqrt((double)hd)), kt), -1);
    int o = ir_transpose(g, ir_matmul(g, att, v), (int64_t[]){0, 2, 1, 3}, 4); /* [N, T, H, hd] */
    o = vit_linear(mb, "proj", ir_reshape(g, o, IR_SHAPE(N * T, D)), D, D);
    ir_scope_pop(g);
    return o;
}

static int mlp(mbuild *mb, int h, const vit_dims *d) {
    ir_graph *g = mb->g;
    ir_scope_push(g, "mlp");
    h = vit_linear(mb, "fc2", ir_gelu(g, vit_linear(mb, "fc1", h, d->embed, 4 * d->embed)), 4 * d->embed, d->embed);
    ir_scope_pop(g);
    return h;
}

/* torch's upsample_bicubic2d convolution kernel (Keys, A = -0.75) */
#define BICUBIC_A (-0.75)
static double cubic_near(double x) { return ((BICUBIC_A + 2) * x - (BICUBIC_A + 3)) * x * x + 1; } /* |x| <= 1 */
static double cubic_far(double x) { /* 1 < |x| < 2 */
    return ((BICUBIC_A * x - 5 * BICUBIC_A) * x + 8 * BICUBIC_A) * x - 4 * BICUBIC_A;
}

/* w [out, in]: the 1-D bicubic resize of `in` samples to `out`, as
 * torch.nn.functional.interpolate(mode='bicubic', align_corners=False, scale_factor=sf) with
 * sf = (out + 0.1) / in (DINO's offset against the floor of in * sf landing below `out`): source
 * coordinate (dst + 0.5) / sf - 0.5, four taps clamped to the border. */
static void bicubic_matrix_1d(int64_t out, int64_t in, double *w) {
    double sf = ((double)out + 0.1) / (double)in, scale = 1.0 / sf;
    memset(w, 0, sizeof *w * (size_t)(out * in));
    for (int64_t o = 0; o < out; o++) {
        double src = scale * ((double)o + 0.5) - 0.5, f = floor(src), t = src - f;
        double taps[4] = {cubic_far(t + 1), cubic_near(t), cubic_near(1 - t), cubic_far(2 - t)};
        for (int k = 0; k < 4; k++) {
            int64_t i = (int64_t)f - 1 + k;
            i = i < 0 ? 0 : i > in - 1 ? in - 1 : i;
            w[o * in + i] += taps[k];
        }
    }
}

/* pos [1, side^2 + 1, D] -> [1, out_side^2 + 1, D]: the class token's row, then the bicubically
 * resized patch grid (row-major, as the patch tokens) */
static int vit_resize_pos_embed(ir_graph *g, int pos, int64_t side, int64_t out_side, int64_t D) {
    if (out_side == side) return pos;
    int64_t L = side * side, Lo = out_side * out_side;
    double *w1 = malloc(sizeof *w1 * (size_t)(out_side * side));
    float *m = malloc(sizeof *m * (size_t)(Lo * L));
    if (!w1 || !m) {
        free(w1), free(m);
        return ir_fail(g, "vit: out of memory for the %lldx%lld position-embedding resize", (long long)Lo, (long long)L);
    }
    bicubic_matrix_1d(out_side, side, w1);
    for (int64_t r = 0; r < Lo; r++) /* kron(w1, w1): rows and columns resize alike */
        for (int64_t c = 0; c < L; c++)
            m[r * L + c] = (float)(w1[(r / out_side) * side + c / side] * w1[(r % out_side) * side + c % side]);
    int resize = ir_const(g, DT_F32, IR_SHAPE(Lo, L), m);
    free(w1), free(m);
    int grid = ir_reshape(g, ir_slice(g, pos, 1, 1, L + 1), IR_SHAPE(L, D));
    int resized = ir_reshape(g, ir_matmul(g, resize, grid), IR_SHAPE(1, Lo, D));
    return ir_concat(g, (int[]){ir_slice(g, pos, 1, 0, 1), resized}, 2, 1);
}

int vit_blocks(mbuild *mb, const char *scope, int t, int64_t N, int64_t T, int64_t D, int64_t heads, int64_t depth) {
    ir_graph *g = mb->g;
    vit_dims d = {.embed = D, .heads = heads, .depth = depth, .patch = 0, .tokens = T};
    ir_scope_push(g, scope);
    for (int64_t i = 0; i < depth; i++) {
        char bname[24];
        snprintf(bname, sizeof bname, "%lld", (long long)i);
        ir_scope_push(g, bname);
        t = ir_add(g, t, attention(mb, vit_layernorm(mb, "norm1", t, D), N, &d));
        t = ir_add(g, t, mlp(mb, vit_layernorm(mb, "norm2", t, D), &d));
        ir_scope_pop(g);
    }
    ir_scope_pop(g);
    return t;
}

int vit_patch_tokens(mbuild *mb, const backbone_cfg *cfg, int x) {
    ir_graph *g = mb->g;
    if (g->failed || x < 0) return -1;
    vit_dims d = dims_of(cfg);
    int64_t N = g->vals[x].shape.d[0], D = d.embed, C = cfg->channels, P = d.patch;
    int64_t L = (g->vals[x].shape.d[2] / P) * (g->vals[x].shape.d[3] / P); /* this input's grid, local crops too */
    /* patch embedding: Conv2d default init, U(+-1/sqrt(C P P)) for weight and bias */
    double bound = 1.0 / sqrt((double)(C * P * P));
    ir_scope_push(g, "patch_embed");
    ir_scope_push(g, "proj");
    int pw = mb_param(mb, "weight", IR_SHAPE(D, C, P, P), ir_init_uniform(-bound, bound), 0);
    int pb = mb_param(mb, "bias", IR_SHAPE(D), ir_init_uniform(-bound, bound), VF_NO_DECAY);
    ir_scope_pop(g);
    ir_scope_pop(g);
    int t = ir_conv(g, x, pw, pb, (int)P, 0, 1);                                    /* [N, D, S/P, S/P] */
    return ir_transpose(g, ir_reshape(g, t, IR_SHAPE(N, D, L)), (int64_t[]){0, 2, 1}, 3); /* [N, L, D] */
}

void vit_token_params(mbuild *mb, const backbone_cfg *cfg, int *cls, int *pos) {
    vit_dims d = dims_of(cfg);
    *cls = mb_param(mb, "cls_token", IR_SHAPE(1, 1, d.embed), ir_init_normal(0, 1e-6), VF_NO_DECAY);
    *pos = mb_param(mb, "pos_embed", IR_SHAPE(1, d.tokens, d.embed), trunc_normal(0.02), VF_NO_DECAY);
}

int vit_build(mbuild *mb, const backbone_cfg *cfg, int x) {
    ir_graph *g = mb->g;
    char err[IR_ERRLEN];
    if (g->failed) return -1;
    if (vit_check(cfg, err)) return ir_fail(g, "%s", err);
    if (x < 0 || g->vals[x].shape.ndim != 4) return ir_fail(g, "%s: input must be [N, C, H, W]", cfg->name);
    vit_dims d = dims_of(cfg);
    int64_t hw = g->vals[x].shape.d[2], P = d.patch, global_side = cfg->image_size / P;
    if (g->vals[x].shape.d[3] != hw || hw % P != 0)
        return ir_fail(g, "%s: a %lldx%lld input is not square whole %lldx%lld patches", cfg->name, (long long)hw,
                       (long long)g->vals[x].shape.d[3], (long long)P, (long long)P);
    d.tokens = (hw / P) * (hw / P) + 1;
    int64_t N = g->vals[x].shape.d[0], D = d.embed, T = d.tokens;

    int t = vit_patch_tokens(mb, cfg, x), cls, pos;
    vit_token_params(mb, cfg, &cls, &pos); /* pos_embed at the global grid's size */
    pos = vit_resize_pos_embed(g, pos, global_side, hw / P, D);
    t = ir_concat(g, (int[]){ir_expand(g, cls, IR_SHAPE(N, 1, D)), t}, 2, 1);
    t = ir_reshape(g, ir_add(g, t, pos), IR_SHAPE(N * T, D)); /* tokens as rows */

    t = vit_blocks(mb, "blocks", t, N, T, D, d.heads, d.depth);

    int c0 = ir_reshape(g, ir_slice(g, ir_reshape(g, t, IR_SHAPE(N, T, D)), 1, 0, 1), IR_SHAPE(N, D));
    return vit_layernorm(mb, "norm", c0, D);
}
