/* Host-side augmentation parameters: binding a compiled graph's aug.* inputs (aug_pipeline.h)
 * to pipelines and drawing them per step. The compile side (recipes, the augmentation subgraph,
 * plan options) is frontend/augment_build.h; this half runs with a plan.
 *
 * The host draws them per step with aug_draw: sample b of view V at step s uses its own PCG32
 * stream seeded from (seed, s, V, b), so a step's augmentation is a pure function of the seed
 * and step, independent of threads and batch order. Draws follow torchvision's algorithms
 * (10 attempts then the central-crop fallback, Python's round-half-even, factor ranges
 * [max(0, 1-x), 1+x] and [-h, h], RandomApply's `p < rand` test), not its random stream.
 *
 * Per-sample random permutations (MAE's patch masking) are host-drawn inputs of the same kind:
 * a graph input aug.shuffle.<name>, i64 [N, L], gets in row b the argsort of L uniform draws
 * (torch.argsort(torch.rand(N, L)), ties to the lower index) from the stream (seed, step,
 * AUG_MAX_VIEWS + k, b), k its index among the graph's shuffle inputs. They need no `images`
 * input and no pipeline, so a plan compiled with --augment none draws them too. In a
 * data-parallel job b is the row's global index (rank × batch + row) and the seed is the run's,
 * not the rank's (aug_set_rank), so N ranks × batch B/N draw the rows one rank × B
 * draws and the job computes what one process would (aug_set_rank).
 *
 * A batch permutation (MoCo's shuffle-BN), graph input aug.batchperm.<name>, i64 [2, b]: the host
 * draws one permutation P of the global batch G = ranks × b per step (the argsort of G uniform
 * draws from the stream (seed, step, AUG_MAX_VIEWS + AUG_MAX_SHUFFLES + k, 0), the run's seed, so
 * every rank draws the same P and G samples permute alike on one rank or N); row 0 holds this
 * rank's block of P (P[rank·b ... rank·b + b − 1]), row 1 the same block of P⁻¹. The graph
 * gathers the global batch, takes rows P of it for its slice, and rows P⁻¹ of the gathered
 * results to undo the permutation: an input per rank, so no op needs to know its rank. */
#ifndef SSLC_AUGMENT_H
#define SSLC_AUGMENT_H
#include <stdint.h>

#include "aug_pipeline.h"
#include "interp.h"
#include "ir/ir.h"
#include "planfile.h"
#include "rng.h"

#define AUG_SHUFFLE_PREFIX "aug.shuffle."
#define AUG_BATCHPERM_PREFIX "aug.batchperm."
#define AUG_MAX_SHUFFLES 4 /* of each kind: aug.shuffle.*, aug.batchperm.* */

typedef struct {
    char name[40];  /* aug.<view>.<param>, or aug.shuffle.<name> */
    int value;      /* graph value id */
    int view;       /* index into the binding's views; -1: a shuffle or batch-permutation input */
    int batch_perm; /* 1: aug.batchperm.*, 0: aug.shuffle.* (when view is -1) */
    aug_param param;
    ir_dtype dtype; /* DT_I32 or DT_F32; DT_I64 for a shuffle input */
    int64_t numel;
    int64_t cols;   /* a shuffle input's row length L; a batch permutation's per-rank batch b */
    void *data;     /* host buffer (int32_t, float or int64_t), filled by aug_draw */
} aug_input;

typedef struct {
    int nviews;
    int view_id[AUG_MAX_VIEWS]; /* the <view> of aug.<view>.* */
    aug_pipeline pipe[AUG_MAX_VIEWS];
    int64_t batch, src_c, src_h, src_w; /* from `images` */
    int images;                         /* value id of `images` */
    int slot[AUG_MAX_VIEWS][AP__COUNT]; /* index into in[] of each view's parameter, -1 if none */
    int ninputs;
    aug_input in[AUG_MAX_VIEWS * AP__COUNT + 2 * AUG_MAX_SHUFFLES]; /* views, shuffles, batch permutations */
    int rank, ranks;      /* this process in its data-parallel job (0 of 1 unless aug_set_rank) */
    int shuffle_own_seed; /* 1: shuffles and batch permutations drawn from shuffle_seed, not aug_draw's seed */
    uint64_t shuffle_seed;
} aug_binding;

size_t aug_input_bytes(const aug_input *in); /* of its host buffer */

/* Binds the aug.* inputs of g to pipelines (view_ids[i] uses pipes[i]) and its shuffle inputs;
 * every other aug.* input must belong to a given view and every step's inputs must exist with
 * the right shape. */
int aug_bind(aug_binding *b, const ir_graph *g, const aug_pipeline *const *pipes, const int *view_ids, int n,
             char *err);
/* Same for the plan's train graph, with the pipelines of its options aug.view.<k>; a graph
 * without aug.* inputs binds to nothing (b->nviews = 0). */
int aug_bind_plan(aug_binding *b, const sslc_plan *p, char *err);
void aug_unbind(aug_binding *b);
/* Rank `rank` of a job of `ranks`: its shuffle rows are the global rows rank × rows ..., and its
 * batch permutations blocks of one permutation of the global batch, drawn from the run's seed
 * `run_seed` whatever seed aug_draw gets (the views' seed is mixed with the rank). Without this
 * call a binding is rank 0 of 1 and draws from aug_draw's seed. */
void aug_set_rank(aug_binding *b, uint64_t run_seed, int rank, int ranks);
/* Draws every bound input for (seed, step) into its host buffer. */
int aug_draw(aug_binding *b, uint64_t seed, int64_t step, char *err);
/* Copies the host buffers into the interpreter's inputs. */
int aug_feed_interp(const aug_binding *b, interp *it, char *err);

/* The per-sample samplers (torchvision's get_params), exposed for tests. */
void aug_sample_crop(sslc_rng *r, int64_t H, int64_t W, const double scale[2], const double ratio[2], int32_t box[4]);
/* one sample of every step of p: writes the parameters of each kind present (NULL: not wanted) */
void aug_sample(sslc_rng *r, const aug_pipeline *p, int64_t H, int64_t W, int32_t box[4], float *flip,
                float jitter[4], int32_t order[4], float *gray, float *sigma, float *solarize);
/* the generator of sample b of view `view` at `step` */
void aug_rng(sslc_rng *r, uint64_t seed, int64_t step, int view, int64_t b);

#endif
