/* Host-side parameter sampling following torchvision's get_params, and binding a plan's aug.*
 * inputs to the pipelines it records. See augment.h. */
#include "augment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kind_params(aug_kind k, aug_param *out) {
    switch (k) {
    case AUG_CROP: out[0] = AP_BOX; return 1;
    case AUG_FLIP: out[0] = AP_FLIP; return 1;
    case AUG_JITTER: out[0] = AP_JITTER, out[1] = AP_ORDER; return 2;
    case AUG_GRAY: out[0] = AP_GRAY; return 1;
    case AUG_BLUR: out[0] = AP_SIGMA; return 1;
    case AUG_SOLARIZE: out[0] = AP_SOLARIZE; return 1;
    default: return 0;
    }
}

size_t aug_input_bytes(const aug_input *in) {
    return (size_t)in->numel * (in->dtype == DT_I64 ? sizeof(int64_t) : 4);
}

/* the host-drawn permutation inputs: aug.shuffle.* [N, L] and aug.batchperm.* [2, b] */
static int bind_shuffles(aug_binding *b, const ir_graph *g, char *err) {
    size_t ns = strlen(AUG_SHUFFLE_PREFIX), nb = strlen(AUG_BATCHPERM_PREFIX);
    int count[2] = {0, 0};
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || !val->name) continue;
        int bp = !strncmp(val->name, AUG_BATCHPERM_PREFIX, nb);
        if (!bp && strncmp(val->name, AUG_SHUFFLE_PREFIX, ns)) continue;
        if (count[bp] == AUG_MAX_SHUFFLES || strlen(val->name) >= sizeof b->in[0].name) {
            snprintf(err, IR_ERRLEN, "augmentation: more than %d %s inputs, or the name %.60s is too long",
                     AUG_MAX_SHUFFLES, bp ? "batch-permutation" : "shuffle", val->name);
            return -1;
        }
        const ir_shape *sh = &val->shape;
        if (val->dtype != DT_I64 || sh->ndim != 2 || sh->d[0] < 1 || sh->d[1] < 1 || (bp && sh->d[0] != 2)) {
            snprintf(err, IR_ERRLEN, "augmentation: %s input %s must be i64 %s", bp ? "batch-permutation" : "shuffle",
                     val->name, bp ? "[2, batch]" : "[N, L]");
            return -1;
        }
        aug_input *in = &b->in[b->ninputs];
        snprintf(in->name, sizeof in->name, "%s", val->name);
        in->value = v, in->view = -1, in->batch_perm = bp, in->param = (aug_param)count[bp], in->dtype = DT_I64;
        in->numel = ir_numel(sh), in->cols = sh->d[1];
        in->data = calloc((size_t)in->numel, sizeof(int64_t));
        if (!in->data) {
            snprintf(err, IR_ERRLEN, "augmentation: out of memory");
            return -1;
        }
        b->ninputs++, count[bp]++;
    }
    return 0;
}

typedef struct {
    double u;
    int64_t i;
} noise_index;

static int by_noise(const void *pa, const void *pb) {
    const noise_index *a = pa, *b = pb;
    return a->u < b->u ? -1 : a->u > b->u ? 1 : (a->i > b->i) - (a->i < b->i);
}

/* out = argsort of n uniform draws of r (ties to the lower index); t: n scratch entries */
static void argsort_uniform(sslc_rng *r, noise_index *t, int64_t n, int64_t *out) {
    for (int64_t l = 0; l < n; l++) t[l].u = rng_uniform(r), t[l].i = l;
    qsort(t, (size_t)n, sizeof *t, by_noise);
    for (int64_t l = 0; l < n; l++) out[l] = t[l].i;
}

/* row b of shuffle input k: the argsort of L uniform draws, keyed by the row's global index */
static int draw_shuffle(aug_input *in, uint64_t seed, int64_t step, int rank, char *err) {
    int64_t L = in->cols, rows = in->numel / L, row0 = (int64_t)rank * rows;
    noise_index *t = malloc((size_t)L * sizeof *t);
    if (!t) {
        snprintf(err, IR_ERRLEN, "augmentation: out of memory");
        return -1;
    }
    for (int64_t b = 0; b < rows; b++) {
        sslc_rng r;
        aug_rng(&r, seed, step, AUG_MAX_VIEWS + (int)in->param, row0 + b);
        argsort_uniform(&r, t, L, (int64_t *)in->data + b * L);
    }
    free(t);
    return 0;
}

/* batch permutation k: this rank's blocks of P and P^-1, P the global batch's permutation */
static int draw_batch_perm(aug_input *in, uint64_t seed, int64_t step, int rank, int ranks, char *err) {
    int64_t b = in->cols, G = b * ranks;
    noise_index *t = malloc((size_t)G * sizeof *t);
    int64_t *p = malloc((size_t)G * 2 * sizeof *p);
    if (!t || !p) {
        free(t), free(p);
        snprintf(err, IR_ERRLEN, "augmentation: out of memory");
        return -1;
    }
    sslc_rng r;
    aug_rng(&r, seed, step, AUG_MAX_VIEWS + AUG_MAX_SHUFFLES + (int)in->param, 0);
    argsort_uniform(&r, t, G, p);
    for (int64_t i = 0; i < G; i++) p[G + p[i]] = i; /* the inverse */
    int64_t *out = in->data;
    memcpy(out, p + (int64_t)rank * b, (size_t)b * sizeof *p);
    memcpy(out + b, p + G + (int64_t)rank * b, (size_t)b * sizeof *p);
    free(t), free(p);
    return 0;
}

void aug_unbind(aug_binding *b) {
    for (int i = 0; i < b->ninputs; i++) free(b->in[i].data);
    memset(b, 0, sizeof *b);
}

int aug_bind(aug_binding *b, const ir_graph *g, const aug_pipeline *const *pipes, const int *view_ids, int n, char *err) {
    memset(b, 0, sizeof *b);
    b->images = -1;
    b->ranks = 1;
    if (n < 0 || n > AUG_MAX_VIEWS) {
        snprintf(err, IR_ERRLEN, "augmentation: %d views (at most %d)", n, AUG_MAX_VIEWS);
        return -1;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < AP__COUNT; k++) b->slot[i][k] = -1;
    int images = ir_find_value(g, "images");
    if (n > 0) {
        const ir_value *im = images >= 0 ? &g->vals[images] : NULL;
        if (!im || im->kind != VK_INPUT || im->dtype != DT_U8 || im->shape.ndim != 4) {
            snprintf(err, IR_ERRLEN, "augmentation: the graph has no input 'images' (u8 [B,C,H,W])");
            return -1;
        }
        b->images = images;
        b->batch = im->shape.d[0], b->src_c = im->shape.d[1], b->src_h = im->shape.d[2], b->src_w = im->shape.d[3];
    }
    b->nviews = n;
    for (int i = 0; i < n; i++) {
        if (aug_pipeline_check(pipes[i], err)) return -1;
        b->pipe[i] = *pipes[i];
        b->view_id[i] = view_ids[i];
        for (int j = 0; j < i; j++)
            if (view_ids[j] == view_ids[i]) {
                snprintf(err, IR_ERRLEN, "augmentation: view %d bound twice", view_ids[i]);
                aug_unbind(b);
                return -1;
            }
        for (int s = 0; s < b->pipe[i].nsteps; s++) {
            aug_param ps[2];
            int np = kind_params(b->pipe[i].steps[s].kind, ps);
            for (int q = 0; q < np; q++) {
                aug_input *in = &b->in[b->ninputs];
                ir_shape want;
                aug_param_input(view_ids[i], ps[q], b->batch, in->name, sizeof in->name, &in->dtype, &want);
                in->numel = ir_numel(&want);
                in->view = i;
                in->param = ps[q];
                in->value = ir_find_value(g, in->name);
                const ir_value *v = in->value >= 0 ? &g->vals[in->value] : NULL;
                if (!v || v->kind != VK_INPUT || v->dtype != in->dtype || !ir_shape_eq(&v->shape, &want)) {
                    char sb[64];
                    ir_shape_str(&want, sb, sizeof sb);
                    snprintf(err, IR_ERRLEN, "augmentation: the graph has no input %s (%s %s) for the %s step of view %d",
                             in->name, ir_dtype_name(in->dtype), sb, aug_kind_name(b->pipe[i].steps[s].kind), view_ids[i]);
                    aug_unbind(b);
                    return -1;
                }
                in->data = calloc((size_t)in->numel, 4);
                if (!in->data) {
                    snprintf(err, IR_ERRLEN, "augmentation: out of memory");
                    aug_unbind(b);
                    return -1;
                }
                b->slot[i][ps[q]] = b->ninputs++;
            }
        }
    }
    if (bind_shuffles(b, g, err)) {
        aug_unbind(b);
        return -1;
    }
    /* every aug.* input of the graph must be fed */
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || !val->name || strncmp(val->name, "aug.", 4)) continue;
        int found = 0;
        for (int i = 0; i < b->ninputs && !found; i++) found = b->in[i].value == v;
        if (!found) {
            snprintf(err, IR_ERRLEN, "augmentation: graph input %s belongs to no bound pipeline step", val->name);
            aug_unbind(b);
            return -1;
        }
    }
    return 0;
}

int aug_bind_plan(aug_binding *b, const sslc_plan *p, char *err) {
    aug_pipeline pipes[AUG_MAX_VIEWS];
    const aug_pipeline *pp[AUG_MAX_VIEWS];
    int ids[AUG_MAX_VIEWS], n = 0;
    for (int k = 0; k < AUG_MAX_VIEWS; k++) {
        char key[32];
        snprintf(key, sizeof key, "aug.view.%d", k);
        const char *text = plan_get_option(p, key);
        if (!text) continue;
        char e2[IR_ERRLEN];
        if (aug_pipeline_parse(text, &pipes[n], e2)) {
            snprintf(err, IR_ERRLEN, "plan option %s: %.400s", key, e2);
            return -1;
        }
        pp[n] = &pipes[n];
        ids[n++] = k;
    }
    return aug_bind(b, &p->train, pp, ids, n, err);
}

/* splitmix64 finalizer */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void aug_rng(sslc_rng *r, uint64_t seed, int64_t step, int view, int64_t b) {
    uint64_t s = mix64(seed ^ mix64((uint64_t)step ^ 0x6175676D656E7400ULL)); /* "augment" */
    rng_seed(r, s, ((uint64_t)(unsigned)view << 40) ^ (uint64_t)b);
}

/* torch.empty(1).uniform_(lo, hi).item(): a float32 draw */
static double uniform_f(sslc_rng *r, double lo, double hi) { return (float)(lo + (hi - lo) * rng_uniform(r)); }

/* torch.randint(0, n): uniform integer in [0, n) without modulo bias */
static int64_t randint(sslc_rng *r, int64_t n) {
    if (n <= 1) return 0;
    uint32_t un = (uint32_t)n, lim = (uint32_t)(-un) % un, x;
    do x = rng_u32(r);
    while (x < lim);
    return (int64_t)(x % un);
}

void aug_sample_crop(sslc_rng *r, int64_t H, int64_t W, const double scale[2], const double ratio[2], int32_t box[4]) {
    double area = (double)H * (double)W;
    double lr0 = (float)log((float)ratio[0]), lr1 = (float)log((float)ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform_f(r, scale[0], scale[1]);
        double aspect = (float)exp(uniform_f(r, lr0, lr1));
        int64_t w = (int64_t)rint(sqrt(target * aspect)), h = (int64_t)rint(sqrt(target / aspect));
        if (0 < w && w <= W && 0 < h && h <= H) {
            box[0] = (int32_t)randint(r, H - h + 1);
            box[1] = (int32_t)randint(r, W - w + 1);
            box[2] = (int32_t)h, box[3] = (int32_t)w;
            return;
        }
    }
    /* fallback: central crop */
    double in_ratio = (double)W / (double)H, rmin = fmin(ratio[0], ratio[1]), rmax = fmax(ratio[0], ratio[1]);
    int64_t w, h;
    if (in_ratio < rmin) {
        w = W;
        h = (int64_t)rint((double)w / rmin);
    } else if (in_ratio > rmax) {
        h = H;
        w = (int64_t)rint((double)h * rmax);
    } else {
        w = W;
        h = H;
    }
    box[0] = (int32_t)((H - h) / 2), box[1] = (int32_t)((W - w) / 2), box[2] = (int32_t)h, box[3] = (int32_t)w;
}

/* RandomApply: applied unless p < rand (no draw when p >= 1) */
static int random_apply(sslc_rng *r, double p) { return p >= 1 || !(p < rng_uniform(r)); }

void aug_sample(sslc_rng *r, const aug_pipeline *p, int64_t H, int64_t W, int32_t box[4], float *flip,
                float jitter[4], int32_t order[4], float *gray, float *sigma, float *solarize) {
    for (int i = 0; i < p->nsteps; i++) {
        const aug_step *s = &p->steps[i];
        switch (s->kind) {
        case AUG_CROP: {
            int32_t bx[4];
            aug_sample_crop(r, H, W, s->a, s->a + 2, bx);
            if (box) memcpy(box, bx, sizeof bx);
            break;
        }
        case AUG_FLIP: {
            float f = rng_uniform(r) < s->p ? 1.0f : 0.0f;
            if (flip) *flip = f;
            break;
        }
        case AUG_JITTER: {
            float fac[4] = {1, 1, 1, 0};
            int32_t ord[4] = {-1, -1, -1, -1};
            if (random_apply(r, s->p)) {
                int perm[4] = {0, 1, 2, 3};
                for (int k = 3; k > 0; k--) { /* randperm(4) */
                    int j = (int)randint(r, k + 1), t = perm[k];
                    perm[k] = perm[j], perm[j] = t;
                }
                int present[4];
                for (int k = 0; k < 4; k++) { /* ColorJitter._check_input: [max(0, 1-x), 1+x], hue [-h, h] */
                    double x = s->a[k], lo = k < 3 ? fmax(0.0, 1 - x) : -x, hi = k < 3 ? 1 + x : x;
                    present[k] = x != 0;
                    if (present[k]) fac[k] = (float)uniform_f(r, lo, hi);
                }
                for (int k = 0; k < 4; k++) ord[k] = present[perm[k]] ? perm[k] : -1;
            }
            if (jitter) memcpy(jitter, fac, sizeof fac);
            if (order) memcpy(order, ord, sizeof ord);
            break;
        }
        case AUG_GRAY: {
            float f = rng_uniform(r) < s->p ? 1.0f : 0.0f;
            if (gray) *gray = f;
            break;
        }
        case AUG_BLUR: {
            float sg = random_apply(r, s->p) ? (float)uniform_f(r, s->a[0], s->a[1]) : 0.0f;
            if (sigma) *sigma = sg;
            break;
        }
        case AUG_SOLARIZE: {
            float f = rng_uniform(r) < s->p ? 1.0f : 0.0f;
            if (solarize) *solarize = f;
            break;
        }
        default: break;
        }
    }
}

void aug_set_rank(aug_binding *b, uint64_t run_seed, int rank, int ranks) {
    b->rank = rank, b->ranks = ranks, b->shuffle_own_seed = 1, b->shuffle_seed = run_seed;
}

int aug_draw(aug_binding *b, uint64_t seed, int64_t step, char *err) {
    uint64_t pseed = b->shuffle_own_seed ? b->shuffle_seed : seed;
    for (int i = 0; i < b->ninputs; i++) {
        aug_input *in = &b->in[i];
        if (in->view < 0 && (in->batch_perm ? draw_batch_perm(in, pseed, step, b->rank, b->ranks, err)
                                            : draw_shuffle(in, pseed, step, b->rank, err)))
            return -1;
    }
    for (int i = 0; i < b->nviews; i++) {
        const int *sl = b->slot[i];
#define PTR(k, T, cols) (sl[k] >= 0 ? (T *)b->in[sl[k]].data + (cols) * s : NULL)
        for (int64_t s = 0; s < b->batch; s++) {
            sslc_rng r;
            aug_rng(&r, seed, step, b->view_id[i], s);
            aug_sample(&r, &b->pipe[i], b->src_h, b->src_w, PTR(AP_BOX, int32_t, 4), PTR(AP_FLIP, float, 1),
                       PTR(AP_JITTER, float, 4), PTR(AP_ORDER, int32_t, 4), PTR(AP_GRAY, float, 1),
                       PTR(AP_SIGMA, float, 1), PTR(AP_SOLARIZE, float, 1));
        }
#undef PTR
    }
    return 0;
}

int aug_feed_interp(const aug_binding *b, interp *it, char *err) {
    for (int i = 0; i < b->ninputs; i++) {
        const aug_input *in = &b->in[i];
        if (in->dtype == DT_F32) {
            if (interp_set_f32(it, in->value, in->data, err)) return -1;
        } else {
            void *d = interp_data(it, in->value);
            if (!d) {
                snprintf(err, IR_ERRLEN, "augmentation: input %s is not materialized", in->name);
                return -1;
            }
            memcpy(d, in->data, aug_input_bytes(in));
        }
    }
    return 0;
}
