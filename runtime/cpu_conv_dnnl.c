/* oneDNN convolutions for the cpu backend: see cpu_conv_dnnl.h. */
#include "cpu_conv_dnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the primitive's arguments: up to three tensors and a bias */
enum { A_IN0, A_IN1, A_IN2, A_OUT, A_N };

typedef struct {
    int used;
    int arg;                 /* DNNL_ARG_* */
    int is_out;              /* written by the primitive */
    dnnl_memory_t user;      /* plain layout on the caller's buffer (handle set per call) */
    dnnl_memory_t tmp;       /* the primitive's layout in the pool, when it differs; else NULL */
    dnnl_primitive_t reorder; /* user -> tmp for inputs, tmp -> user for outputs */
    size_t off;              /* tmp's offset in the pool */
} cc_arg;

typedef struct {
    /* key */
    int op, has_bias;
    int64_t dims[3][4]; /* in0, in1, out0 */
    int bf16;           /* bf16 operands (in0, in1), float32 result: --precision bf16 */
    int64_t st[2], pb[2], pe[2], dl[2], group;
    int direct; /* the direct algorithm whatever the policy */
    /* primitive */
    dnnl_primitive_t prim;
    dnnl_memory_t scratch; /* NULL when the primitive needs none */
    cc_arg a[A_N];
    size_t need; /* pool bytes: scratchpad at 0, then the reordered copies */
    char impl[80];
} cc_entry;

struct cpu_conv {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    cpu_conv_layout layout;
    dnnl_alg_kind_t alg;
    int tuned; /* CONV_ALGO_TUNED: alg (auto) only where cpu_conv_wino_pays */
    cc_entry *e;
    int n, cap;
    unsigned char *pool;
    size_t pool_bytes;
};

#define ALIGN_UP(x) (((x) + 63) & ~(size_t)63)

static int dnnl_fail(char *err, const char *what, dnnl_status_t st) {
    if (err) snprintf(err, IR_ERRLEN, "oneDNN: %s failed (%s)", what, dnnl_status2str(st));
    return -1;
}
#define DN(call, what)                                                                                             \
    do {                                                                                                           \
        dnnl_status_t st_ = (call);                                                                                \
        if (st_ != dnnl_success) return dnnl_fail(err, what, st_);                                                 \
    } while (0)

/* the policies the environment asks for (-1/-1 kept for unset), or -1 with err naming the fix */
static int env_policies(cpu_conv_layout *layout, cpu_conv_algo *algo, char *err) {
    const char *l = getenv("SSLC_DNNL_LAYOUT"), *a = getenv("SSLC_CONV_ALGO");
    if (l && strcmp(l, "plain") && strcmp(l, "weights") && strcmp(l, "any")) {
        snprintf(err, IR_ERRLEN, "SSLC_DNNL_LAYOUT=%s is not a layout policy: use plain, weights or any (the default)", l);
        return -1;
    }
    if (a && strcmp(a, "direct") && strcmp(a, "auto") && strcmp(a, "tuned")) {
        snprintf(err, IR_ERRLEN, "SSLC_CONV_ALGO=%s is not an algorithm policy: use direct, auto or tuned (the default)",
                 a);
        return -1;
    }
    if (*layout == CONV_LAYOUT_DEFAULT)
        *layout = !l || !strcmp(l, "any") ? CONV_LAYOUT_ANY : !strcmp(l, "plain") ? CONV_LAYOUT_PLAIN : CONV_LAYOUT_WEIGHTS;
    if (*algo == CONV_ALGO_DEFAULT)
        *algo = !a || !strcmp(a, "tuned") ? CONV_ALGO_TUNED : !strcmp(a, "direct") ? CONV_ALGO_DIRECT : CONV_ALGO_AUTO;
    return 0;
}

int cpu_conv_env_check(char *err) {
    cpu_conv_layout l = CONV_LAYOUT_DEFAULT;
    cpu_conv_algo a = CONV_ALGO_DEFAULT;
    return env_policies(&l, &a, err);
}

cpu_conv *cpu_conv_new(cpu_conv_layout layout, cpu_conv_algo algo, char *err) {
    if (env_policies(&layout, &algo, err)) return NULL;
    cpu_conv *cc = calloc(1, sizeof *cc);
    if (!cc) {
        snprintf(err, IR_ERRLEN, "out of memory");
        return NULL;
    }
    cc->layout = layout;
    cc->tuned = algo == CONV_ALGO_TUNED;
    cc->alg = algo != CONV_ALGO_DIRECT && layout == CONV_LAYOUT_ANY ? dnnl_convolution_auto : dnnl_convolution_direct;
    dnnl_status_t st = dnnl_engine_create(&cc->eng, dnnl_cpu, 0);
    if (st == dnnl_success) {
        st = dnnl_stream_create(&cc->strm, cc->eng, dnnl_stream_default_flags);
        if (st != dnnl_success) dnnl_engine_destroy(cc->eng), cc->eng = NULL;
    }
    if (st != dnnl_success) {
        dnnl_fail(err, "creating a CPU engine", st);
        free(cc);
        return NULL;
    }
    return cc;
}

static void arg_free(cc_arg *a) {
    if (a->reorder) dnnl_primitive_destroy(a->reorder);
    if (a->tmp) dnnl_memory_destroy(a->tmp);
    if (a->user) dnnl_memory_destroy(a->user);
    memset(a, 0, sizeof *a);
}

static void entry_free(cc_entry *e) {
    for (int k = 0; k < A_N; k++) arg_free(&e->a[k]);
    if (e->scratch) dnnl_memory_destroy(e->scratch);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    e->scratch = NULL, e->prim = NULL;
}

void cpu_conv_free(cpu_conv *cc) {
    if (!cc) return;
    for (int i = 0; i < cc->n; i++) entry_free(&cc->e[i]);
    free(cc->e);
    free(cc->pool);
    if (cc->strm) dnnl_stream_destroy(cc->strm);
    if (cc->eng) dnnl_engine_destroy(cc->eng);
    free(cc);
}

int cpu_conv_count(const cpu_conv *cc) { return cc ? cc->n : 0; }
size_t cpu_conv_pool_bytes(const cpu_conv *cc) { return cc ? cc->pool_bytes : 0; }
const char *cpu_conv_impl(const cpu_conv *cc, int h) { return cc && h >= 0 && h < cc->n ? cc->e[h].impl : ""; }

/* ---- building ---- */

/* Measured on ResNet-18 SimCLR graphs (conv_bench, one thread, docs/PERFORMANCE.md): Winograd
 * F(4,3) loses to direct below 32 channels on either side (its per-channel transforms dominate)
 * and for the weight gradient below 64; it is only defined for 3x3 stride-1 undilated ungrouped
 * convolutions. */
int cpu_conv_wino_pays(int op, const int64_t wdims[4], int64_t group, const int64_t strides[2],
                       const int64_t dilations[2]) {
    int64_t oc = wdims[0], ic = wdims[1] * group, least = oc < ic ? oc : ic;
    if (group != 1 || wdims[2] != 3 || wdims[3] != 3) return 0;
    if (strides[0] != 1 || strides[1] != 1 || dilations[0] != 1 || dilations[1] != 1) return 0;
    return least >= (op == OP_ConvGradWeight ? 64 : 32);
}

/* the key of call c; -1 if it is not a 4-D convolution of float32 tensors, or of bf16 operands
 * with a float32 result */
static int key_of(const ref_call *c, cc_entry *k, char *err) {
    memset(k, 0, sizeof *k);
    const ir_node *n = c->node;
    k->op = n->op;
    if (n->op != OP_Conv && n->op != OP_ConvGradInput && n->op != OP_ConvGradWeight) {
        snprintf(err, IR_ERRLEN, "oneDNN: %s is not a convolution", ir_optable[n->op]->name);
        return -1;
    }
    k->has_bias = n->op == OP_Conv && c->nin > 2;
    const ref_tensor *t[3] = {&c->in[0], &c->in[1], &c->out[0]};
    k->bf16 = c->in[0].dtype == DT_BF16;
    for (int i = 0; i < 3; i++) {
        ir_dtype want = i < 2 && k->bf16 ? DT_BF16 : DT_F32;
        if (t[i]->shape.ndim != 4 || t[i]->dtype != want) {
            snprintf(err, IR_ERRLEN, "oneDNN: %s needs 4-D float32 tensors (or bf16 operands, float32 result)",
                     ir_optable[n->op]->name);
            return -1;
        }
        for (int d = 0; d < 4; d++) k->dims[i][d] = t[i]->shape.d[d];
    }
    if (k->has_bias && (c->in[2].dtype != DT_F32 || c->in[2].shape.ndim != 1)) {
        snprintf(err, IR_ERRLEN, "oneDNN: Conv bias must be a float32 vector");
        return -1;
    }
    const ir_attrval *st = ir_get(n, "strides"), *pd = ir_get(n, "pads"), *dl = ir_get(n, "dilations");
    for (int i = 0; i < 2; i++) {
        k->st[i] = st->n ? st->v[i] : 1;
        k->pb[i] = pd->n ? pd->v[i] : 0;
        k->pe[i] = pd->n ? pd->v[2 + i] : 0;
        k->dl[i] = dl->n ? dl->v[i] : 1;
    }
    k->group = ir_get_i(n, "group");
    return 0;
}

static int same_key(const cc_entry *a, const cc_entry *b) {
    return a->op == b->op && a->has_bias == b->has_bias && a->bf16 == b->bf16 && !memcmp(a->dims, b->dims, sizeof a->dims) &&
           !memcmp(a->st, b->st, sizeof a->st) && !memcmp(a->pb, b->pb, sizeof a->pb) &&
           !memcmp(a->pe, b->pe, sizeof a->pe) && !memcmp(a->dl, b->dl, sizeof a->dl) && a->group == b->group &&
           a->direct == b->direct;
}

/* plain and requested descriptors of an activation [N,C,H,W] and of the weights (goihw when grouped) */
static int md_act(dnnl_memory_desc_t *md, const int64_t *d, dnnl_data_type_t dt, int any, char *err) {
    dnnl_dims_t dims = {d[0], d[1], d[2], d[3]};
    DN(dnnl_memory_desc_init_by_tag(md, 4, dims, dt, any ? dnnl_format_tag_any : dnnl_nchw), "memory desc");
    return 0;
}

static int md_wei(dnnl_memory_desc_t *md, const int64_t *d, int64_t G, dnnl_data_type_t dt, int any, char *err) {
    if (G == 1) {
        dnnl_dims_t dims = {d[0], d[1], d[2], d[3]};
        DN(dnnl_memory_desc_init_by_tag(md, 4, dims, dt, any ? dnnl_format_tag_any : dnnl_oihw), "memory desc");
    } else {
        dnnl_dims_t dims = {G, d[0] / G, d[1], d[2], d[3]};
        DN(dnnl_memory_desc_init_by_tag(md, 5, dims, dt, any ? dnnl_format_tag_any : dnnl_goihw), "memory desc");
    }
    return 0;
}

/* argument slot k: plain memory `plain` on the caller's buffer, the primitive's `want`; adds a
 * reorder and a pool copy when they differ */
static int arg_setup(cpu_conv *cc, cc_entry *e, int k, int arg, int is_out, const dnnl_memory_desc_t *plain,
                     const dnnl_memory_desc_t *want, char *err) {
    cc_arg *a = &e->a[k];
    a->used = 1, a->arg = arg, a->is_out = is_out;
    DN(dnnl_memory_create(&a->user, plain, cc->eng, DNNL_MEMORY_NONE), "memory");
    if (dnnl_memory_desc_equal(plain, want)) return 0;
    DN(dnnl_memory_create(&a->tmp, want, cc->eng, DNNL_MEMORY_NONE), "memory");
    dnnl_primitive_desc_t rpd;
    if (is_out)
        DN(dnnl_reorder_primitive_desc_create(&rpd, want, cc->eng, plain, cc->eng, NULL), "reorder");
    else
        DN(dnnl_reorder_primitive_desc_create(&rpd, plain, cc->eng, want, cc->eng, NULL), "reorder");
    dnnl_status_t st = dnnl_primitive_create(&a->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != dnnl_success) return dnnl_fail(err, "reorder", st);
    a->off = e->need;
    e->need += ALIGN_UP(dnnl_memory_desc_get_size(want));
    return 0;
}

static int build(cpu_conv *cc, cc_entry *e, char *err) {
    int any_act = cc->layout == CONV_LAYOUT_ANY, any_w = cc->layout != CONV_LAYOUT_PLAIN;
    /* x [N,C,H,W], w [M,Cg,KH,KW], y [N,M,OH,OW] from the op's operands */
    const int64_t *xd, *wd, *yd;
    if (e->op == OP_Conv)
        xd = e->dims[0], wd = e->dims[1], yd = e->dims[2];
    else if (e->op == OP_ConvGradInput)
        yd = e->dims[0], wd = e->dims[1], xd = e->dims[2];
    else
        yd = e->dims[0], xd = e->dims[1], wd = e->dims[2];
    /* bf16: the two operands of the op are bf16, its result float32; the forward descriptor
     * that hints a backward primitive takes bf16 source and weights and a bf16 destination */
    dnnl_data_type_t xt = dnnl_f32, wt = dnnl_f32, yt = dnnl_f32, ht = e->bf16 ? dnnl_bf16 : dnnl_f32;
    if (e->bf16) {
        if (e->op == OP_Conv) xt = wt = dnnl_bf16;
        if (e->op == OP_ConvGradInput) yt = wt = dnnl_bf16;
        if (e->op == OP_ConvGradWeight) yt = xt = dnnl_bf16;
    }
    dnnl_memory_desc_t xp, wp, yp, xa, wa, ya, bmd, xh, wh, yh;
    if (md_act(&xp, xd, xt, 0, err) || md_act(&yp, yd, yt, 0, err) || md_wei(&wp, wd, e->group, wt, 0, err) ||
        md_act(&xa, xd, xt, any_act, err) || md_act(&ya, yd, yt, any_act, err) ||
        md_wei(&wa, wd, e->group, wt, any_w, err) || md_act(&xh, xd, ht, any_act, err) ||
        md_act(&yh, yd, ht, any_act, err) || md_wei(&wh, wd, e->group, ht, any_w, err))
        return -1;
    if (e->has_bias) {
        dnnl_dims_t bd = {wd[0]};
        DN(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a), "memory desc");
    }
    dnnl_dims_t strides = {e->st[0], e->st[1]}, dil = {e->dl[0] - 1, e->dl[1] - 1};
    dnnl_dims_t pl = {e->pb[0], e->pb[1]}, pr = {e->pe[0], e->pe[1]};
    dnnl_convolution_desc_t fwd_d, d;
    int tuned_direct = cc->tuned && !cpu_conv_wino_pays(e->op, wd, e->group, e->st, e->dl);
    dnnl_alg_kind_t alg = e->direct || tuned_direct ? dnnl_convolution_direct : cc->alg;
    int fwd = e->op == OP_Conv;
    DN(dnnl_dilated_convolution_forward_desc_init(&fwd_d, dnnl_forward_training, alg, fwd ? &xa : &xh,
                                                  fwd ? &wa : &wh, e->has_bias ? &bmd : NULL, fwd ? &ya : &yh,
                                                  strides, dil, pl, pr),
       "convolution forward desc");
    dnnl_primitive_attr_t attr;
    DN(dnnl_primitive_attr_create(&attr), "attr");
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&fpd, &fwd_d, attr, cc->eng, NULL);
    const char *what = "convolution forward";
    if (st == dnnl_success && e->op == OP_Conv) {
        pd = fpd, fpd = NULL;
    } else if (st == dnnl_success) {
        if (e->op == OP_ConvGradInput) {
            what = "convolution backward data";
            st = dnnl_dilated_convolution_backward_data_desc_init(&d, alg, &xa, &wa, &ya, strides,
                                                                 dil, pl, pr);
        } else {
            what = "convolution backward weights";
            st = dnnl_dilated_convolution_backward_weights_desc_init(&d, alg, &xa, &wa, NULL, &ya,
                                                                    strides, dil, pl, pr);
        }
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &d, attr, cc->eng, fpd);
    }
    dnnl_primitive_attr_destroy(attr);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (st != dnnl_success) return dnnl_fail(err, what, st);
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(e->impl, sizeof e->impl, "%s", impl);
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t spb = sp ? dnnl_memory_desc_get_size(sp) : 0;
    e->need = ALIGN_UP(spb);
    int rc = 0;
    if (spb && dnnl_memory_create(&e->scratch, sp, cc->eng, DNNL_MEMORY_NONE) != dnnl_success)
        rc = dnnl_fail(err, "scratchpad memory", dnnl_out_of_memory);
#define Q(q) dnnl_primitive_desc_query_md(pd, q, 0)
    if (!rc && e->op == OP_Conv)
        rc = arg_setup(cc, e, A_IN0, DNNL_ARG_SRC, 0, &xp, Q(dnnl_query_src_md), err) ||
             arg_setup(cc, e, A_IN1, DNNL_ARG_WEIGHTS, 0, &wp, Q(dnnl_query_weights_md), err) ||
             (e->has_bias && arg_setup(cc, e, A_IN2, DNNL_ARG_BIAS, 0, &bmd, &bmd, err)) ||
             arg_setup(cc, e, A_OUT, DNNL_ARG_DST, 1, &yp, Q(dnnl_query_dst_md), err);
    else if (!rc && e->op == OP_ConvGradInput)
        rc = arg_setup(cc, e, A_IN0, DNNL_ARG_DIFF_DST, 0, &yp, Q(dnnl_query_diff_dst_md), err) ||
             arg_setup(cc, e, A_IN1, DNNL_ARG_WEIGHTS, 0, &wp, Q(dnnl_query_weights_md), err) ||
             arg_setup(cc, e, A_OUT, DNNL_ARG_DIFF_SRC, 1, &xp, Q(dnnl_query_diff_src_md), err);
    else if (!rc)
        rc = arg_setup(cc, e, A_IN0, DNNL_ARG_DIFF_DST, 0, &yp, Q(dnnl_query_diff_dst_md), err) ||
             arg_setup(cc, e, A_IN1, DNNL_ARG_SRC, 0, &xp, Q(dnnl_query_src_md), err) ||
             arg_setup(cc, e, A_OUT, DNNL_ARG_DIFF_WEIGHTS, 1, &wp, Q(dnnl_query_diff_weights_md), err);
#undef Q
    if (!rc && (st = dnnl_primitive_create(&e->prim, pd)) != dnnl_success) rc = dnnl_fail(err, what, st);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

static int prepare(cpu_conv *cc, const ref_call *c, int direct, char *err) {
    cc_entry k;
    if (key_of(c, &k, err)) return -1;
    k.direct = direct;
    for (int i = 0; i < cc->n; i++)
        if (same_key(&cc->e[i], &k)) return i;
    if (cc->n == cc->cap) {
        int cap = cc->cap ? 2 * cc->cap : 16;
        cc_entry *ne = realloc(cc->e, (size_t)cap * sizeof *ne);
        if (!ne) {
            snprintf(err, IR_ERRLEN, "out of memory");
            return -1;
        }
        cc->e = ne, cc->cap = cap;
    }
    if (build(cc, &k, err)) {
        entry_free(&k);
        return -1;
    }
    cc->e[cc->n] = k;
    return cc->n++;
}

int cpu_conv_prepare(cpu_conv *cc, const ref_call *c, char *err) { return prepare(cc, c, 0, err); }
int cpu_conv_prepare_direct(cpu_conv *cc, const ref_call *c, char *err) { return prepare(cc, c, 1, err); }

/* ---- running ---- */

static int exec_fail(const ref_call *c, const char *what, dnnl_status_t st) {
    snprintf(c->err, IR_ERRLEN, "%s: oneDNN %s failed (%s)", ir_optable[c->node->op]->name, what, dnnl_status2str(st));
    return -1;
}

size_t cpu_conv_need(const cpu_conv *cc, int h) { return cc && h >= 0 && h < cc->n ? cc->e[h].need : 0; }

int cpu_conv_exec(cpu_conv *cc, int h, const ref_call *c) {
    cc_entry *e = &cc->e[h];
    if (e->need > cc->pool_bytes) { /* grows once: every primitive is prepared before the first step */
        free(cc->pool);
        cc->pool = aligned_alloc(64, e->need);
        cc->pool_bytes = cc->pool ? e->need : 0;
        if (!cc->pool) {
            snprintf(c->err, IR_ERRLEN, "%s: out of memory for oneDNN buffers", ir_optable[c->node->op]->name);
            return -1;
        }
    }
    return cpu_conv_exec_ws(cc, h, c, cc->pool);
}

int cpu_conv_exec_ws(cpu_conv *cc, int h, const ref_call *c, unsigned char *ws) {
    cc_entry *e = &cc->e[h];
    void *ptr[A_N] = {c->in[0].data, c->in[1].data, c->nin > 2 ? c->in[2].data : NULL, c->out[0].data};
    dnnl_exec_arg_t args[A_N + 1];
    int na = 0;
    dnnl_status_t st;
    for (int k = 0; k < A_N; k++) {
        cc_arg *a = &e->a[k];
        if (!a->used) continue;
        if ((st = dnnl_memory_set_data_handle_v2(a->user, ptr[k], cc->strm)) != dnnl_success)
            return exec_fail(c, "set handle", st);
        if (a->tmp && (st = dnnl_memory_set_data_handle_v2(a->tmp, ws + a->off, cc->strm)) != dnnl_success)
            return exec_fail(c, "set handle", st);
        args[na++] = (dnnl_exec_arg_t){a->arg, a->tmp ? a->tmp : a->user};
        if (a->tmp && !a->is_out) {
            dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->tmp}};
            if ((st = dnnl_primitive_execute(a->reorder, cc->strm, 2, ra)) != dnnl_success)
                return exec_fail(c, "reorder", st);
        }
    }
    if (e->scratch) {
        if ((st = dnnl_memory_set_data_handle_v2(e->scratch, ws, cc->strm)) != dnnl_success)
            return exec_fail(c, "set handle", st);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
    }
    if ((st = dnnl_primitive_execute(e->prim, cc->strm, na, args)) != dnnl_success)
        return exec_fail(c, "convolution", st);
    cc_arg *o = &e->a[A_OUT];
    if (o->tmp) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, o->tmp}, {DNNL_ARG_TO, o->user}};
        if ((st = dnnl_primitive_execute(o->reorder, cc->strm, 2, ra)) != dnnl_success)
            return exec_fail(c, "reorder", st);
    }
    if ((st = dnnl_stream_wait(cc->strm)) != dnnl_success) return exec_fail(c, "stream wait", st);
    return 0;
}
