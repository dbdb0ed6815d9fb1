/* MAE (He et al. 2022), as facebookresearch/mae's models_mae.py with its module names, on sslc's
 * ViT backbones:
 *   encoder (backbone.*): patch_embed, + pos_embed[:, 1:]; random masking keeps len_keep =
 *     int(L * (1 - mask_ratio)) patches per sample; cls_token + pos_embed[:, :1] prepended;
 *     blocks; norm (all tokens)
 *   decoder: decoder_embed (Linear), mask_token appended for the masked patches, tokens put back
 *     in patch order (ids_restore), decoder_pos_embed added, decoder_blocks, decoder_norm,
 *     decoder_pred (Linear to patch*patch*channels), class token dropped
 *   loss: mean over the masked patches of the per-patch mean squared error against the patchified
 *     view ('nchpwq->nhwpqc'), normalized per patch (mean, unbiased variance + 1e-6) with
 *     norm_pix_loss.
 * Masking: the host draws each step's per-sample permutation ids_shuffle (argsort of uniform
 * noise, the graph input aug.shuffle.mask, runtime/augment.h) from the run's seed, so a resumed
 * run draws the same masks. The graph turns it into the one-hot permutation Π [N, L, L]
 * (Π[n,i,l] = ids_shuffle[n,i] == l): the kept patches are Π[:, :len_keep] @ x and the restore
 * (x_[ids_restore]) is Πᵀ @ x_. Batched one-hot products rather than Gather over the flattened
 * batch: Gather's gradient is a one-hot over all N·L rows ([N·len_keep, N·L] for the encoder,
 * [N·L, N·L] for the decoder, a gigabyte at batch 256), the per-sample products are N·L² and
 * exact (each output is one input times 1 plus zeros). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"

static const method_opt mae_opts[] = {
    {"mask_ratio", MO_FLOAT, 0.75, "fraction of the patches masked in each sample"},
    {"decoder_embed_dim", MO_INT, 128, "decoder width (the reference's 512, scaled for small images)"},
    {"decoder_depth", MO_INT, 2, "decoder Transformer blocks (the reference's 8, scaled for small images)"},
    {"decoder_num_heads", MO_INT, 4, "decoder attention heads (the reference's 16); must divide decoder_embed_dim"},
    {"norm_pix_loss", MO_BOOL, 1, "regress each patch's pixels normalized by its mean and std (the reference's "
                                  "recommended setting)"},
};

typedef struct {
    int64_t N, C, P, L, keep, D, heads, depth;
} mae_dims;

static mae_dims dims_of(const method_ctx *ctx) {
    mae_dims d;
    d.N = ctx->batch, d.C = ctx->backbone.channels, d.P = vit_patch_size(&ctx->backbone);
    int64_t side = d.P > 0 ? ctx->backbone.image_size / d.P : 0;
    d.L = side * side;
    d.keep = (int64_t)((double)d.L * (1.0 - mopt(ctx, "mask_ratio"))); /* Python's int(): truncates */
    d.D = backbone_feat_dim(&ctx->backbone);
    d.heads = strcmp(ctx->backbone.name, "vit-small") == 0 ? 6 : 3;
    d.depth = ctx->backbone.depth > 0 ? ctx->backbone.depth : 12;
    return d;
}

static int mae_validate(const method_ctx *ctx, char *err) {
    if (strncmp(ctx->backbone.name, "vit-", 4) != 0) {
        snprintf(err, IR_ERRLEN, "mae: reconstructs masked patches of a Vision Transformer, not %s: use --backbone vit-tiny",
                 ctx->backbone.name);
        return -1;
    }
    if (vit_check(&ctx->backbone, err) || mopt_check_dim(ctx, "decoder_embed_dim", err) ||
        mopt_check_range(ctx, "decoder_depth", 1, 64, err) || mopt_check_range(ctx, "mask_ratio", 0, 1, err))
        return -1;
    int64_t dd = mopt_int(ctx, "decoder_embed_dim"), dh = mopt_int(ctx, "decoder_num_heads");
    if (dh < 1 || dd % dh != 0) {
        snprintf(err, IR_ERRLEN, "mae: decoder_num_heads %lld must divide decoder_embed_dim %lld", (long long)dh,
                 (long long)dd);
        return -1;
    }
    mae_dims d = dims_of(ctx);
    if (d.keep < 1 || d.keep >= d.L) {
        snprintf(err, IR_ERRLEN,
                 "mae: mask_ratio %g keeps %lld of the %lld patches; it must keep at least one and mask at least one",
                 mopt(ctx, "mask_ratio"), (long long)d.keep, (long long)d.L);
        return -1;
    }
    return 0;
}

/* Π [N, L, L] f32: Π[n, i, l] = 1 where ids_shuffle[n, i] == l */
static int permutation_onehot(ir_graph *g, int ids_shuffle, int64_t N, int64_t L) {
    int64_t *ar = malloc((size_t)L * sizeof *ar);
    if (!ar) return ir_fail(g, "out of memory");
    for (int64_t l = 0; l < L; l++) ar[l] = l;
    int cols = ir_const(g, DT_I64, IR_SHAPE(1, 1, L), ar);
    free(ar);
    return ir_cast(g, ir_equal(g, ir_reshape(g, ids_shuffle, IR_SHAPE(N, L, 1)), cols), DT_F32);
}

/* forward_encoder on the kept patches: latent tokens as rows [N * (1 + keep), D] */
static int mae_encoder(method_ctx *ctx, const mae_dims *d, int x, int perm) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    ir_scope_push(g, "backbone");
    int t = vit_patch_tokens(mb, &ctx->backbone, x), cls, pos;
    vit_token_params(mb, &ctx->backbone, &cls, &pos);
    t = ir_add(g, t, ir_slice(g, pos, 1, 1, d->L + 1));
    t = ir_matmul(g, ir_slice(g, perm, 1, 0, d->keep), t); /* [N, keep, D] */
    int c = ir_expand(g, ir_add(g, cls, ir_slice(g, pos, 1, 0, 1)), IR_SHAPE(d->N, 1, d->D));
    int64_t T = 1 + d->keep;
    t = ir_reshape(g, ir_concat(g, (int[]){c, t}, 2, 1), IR_SHAPE(d->N * T, d->D));
    t = vit_blocks(mb, "blocks", t, d->N, T, d->D, d->heads, d->depth);
    t = vit_layernorm(mb, "norm", t, d->D);
    ir_scope_pop(g);
    return t;
}

/* forward_decoder: per-patch pixel predictions [N, L, P*P*C] */
static int mae_decoder(method_ctx *ctx, const mae_dims *d, int latent, int perm) {
    ir_graph *g = ctx->g;
    mbuild *mb = &ctx->mb;
    int64_t Dd = mopt_int(ctx, "decoder_embed_dim"), T = d->L + 1, K = d->keep;
    int y = ir_reshape(g, vit_linear(mb, "decoder_embed", latent, d->D, Dd), IR_SHAPE(d->N, 1 + K, Dd));
    int mask_token = mb_param(mb, "mask_token", IR_SHAPE(1, 1, Dd), ir_init_normal(0, 0.02), 0);
    int tokens = ir_concat(g, (int[]){ir_slice(g, y, 1, 1, 1 + K), ir_expand(g, mask_token, IR_SHAPE(d->N, d->L - K, Dd))},
                           2, 1);
    int restored = ir_matmul(g, ir_transpose(g, perm, (int64_t[]){0, 2, 1}, 3), tokens); /* x_[ids_restore] */
    int pos = mb_param(mb, "decoder_pos_embed", IR_SHAPE(1, T, Dd),
                       (ir_init){.kind = INIT_TRUNC_NORMAL, .a = 0, .b = 0.02, .src = -1}, VF_NO_DECAY);
    y = ir_add(g, ir_concat(g, (int[]){ir_slice(g, y, 1, 0, 1), restored}, 2, 1), pos);
    y = vit_blocks(mb, "decoder_blocks", ir_reshape(g, y, IR_SHAPE(d->N * T, Dd)), d->N, T, Dd,
                   mopt_int(ctx, "decoder_num_heads"), mopt_int(ctx, "decoder_depth"));
    y = vit_layernorm(mb, "decoder_norm", y, Dd);
    int64_t PPC = d->P * d->P * d->C;
    y = ir_reshape(g, vit_linear(mb, "decoder_pred", y, Dd, PPC), IR_SHAPE(d->N, T, PPC));
    return ir_slice(g, y, 1, 1, T);
}

/* patchify: [N, C, h*P, w*P] -> [N, L, P*P*C] ('nchpwq->nhwpqc') */
static int patchify(ir_graph *g, const mae_dims *d, int x) {
    int64_t h = (int64_t)llround(sqrt((double)d->L));
    x = ir_reshape(g, x, IR_SHAPE(d->N, d->C, h, d->P, h, d->P));
    x = ir_transpose(g, x, (int64_t[]){0, 2, 4, 3, 5, 1}, 6);
    return ir_reshape(g, x, IR_SHAPE(d->N, d->L, d->P * d->P * d->C));
}

static int mae_build(method_ctx *ctx) {
    ir_graph *g = ctx->g;
    mae_dims d = dims_of(ctx);
    ctx->nviews = 1;
    ctx->views[0] = ir_input(g, "views.0", DT_F32, IR_SHAPE(d.N, d.C, ctx->backbone.image_size, ctx->backbone.image_size));
    int ids_shuffle = ir_input(g, "aug.shuffle.mask", DT_I64, IR_SHAPE(d.N, d.L));
    int perm = permutation_onehot(g, ids_shuffle, d.N, d.L);
    int pred = mae_decoder(ctx, &d, mae_encoder(ctx, &d, ctx->views[0], perm), perm);

    int target = patchify(g, &d, ctx->views[0]);
    if (mopt(ctx, "norm_pix_loss") != 0) {
        const int64_t last = -1;
        int64_t M = d.P * d.P * d.C;
        int cen = ir_sub(g, target, ir_reduce_mean(g, target, &last, 1, 1));
        int var = ir_mul_scalar(g, ir_reduce_sum(g, ir_mul(g, cen, cen), &last, 1, 1), 1.0 / (double)(M - 1));
        target = ir_div(g, cen, ir_sqrt(g, ir_add_scalar(g, var, 1e-6)));
    }
    int diff = ir_sub(g, pred, target);
    const int64_t last = -1;
    int per_patch = ir_reduce_mean(g, ir_mul(g, diff, diff), &last, 1, 0); /* [N, L] */
    /* mask [N, L]: 1 for the patches removed, in patch order (the last L - keep of ids_shuffle) */
    const int64_t ax1 = 1;
    int mask = ir_reduce_sum(g, ir_slice(g, perm, 1, d.keep, d.L), &ax1, 1, 0);
    return ir_div(g, ir_reduce_sum(g, ir_mul(g, per_patch, mask), NULL, 0, 0), ir_reduce_sum(g, mask, NULL, 0, 0));
}

const method_def method_mae = {
    .name = "mae",
    .summary = "MAE: a ViT encoder sees a random 25 % of the patches, a light Transformer decoder reconstructs the "
               "pixels of the masked ones",
    .data_parallel = 1,
    .notes = "needs a ViT backbone; data-parallel: each rank's masks are those one device draws for the same "
             "global samples (the host draw is keyed by the global sample index), and every sample masks the same "
             "number of patches, so the mean of the ranks' losses is the global batch's loss; the position embeddings are sslc's learnable ViT ones (the decoder's too, "
             "trunc_normal .02) where the reference fixes both to 2-D sin-cos tables; decoder Linear layers use "
             "timm's trunc_normal(.02) init where the reference uses xavier_uniform; the reference's decoder is "
             "512 wide, 8 deep, 16 heads (for 224-pixel images)",
    .opts = mae_opts,
    .nopts = (int)(sizeof mae_opts / sizeof mae_opts[0]),
    .validate = mae_validate,
    .build = mae_build,
};
