/* simplify: identities, constant folding, CSE, then DCE and a compact rewrite (see simplify.h).
 *
 * Values are addressed in a "virtual" id space: ids below in->nvals are the input graph's
 * values, ids above are constants created by folding. repl[] forwards a value to the value
 * that replaces it (union-find style, always towards earlier-computed values). */
#include "simplify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ir_dtype dt;
    ir_shape shape;
    void *data;
} fconst;

typedef struct {
    const ir_graph *in;
    simplify_opts o;
    simplify_stats st;
    int nv;         /* in->nvals */
    int nvirt, cap; /* virtual values */
    int *repl;
    fconst *fc; /* fc[v - nv] for folded constants */
    int nfc;
    ir_node *nodes; /* working copy of the nodes (inputs remapped as we go) */
    unsigned char *dead;
    /* content hash of constants -> canonical const id */
    int *ctab;
    int ccap;
    /* CSE table of node indices */
    int *ntab;
    int ncap;
    char *err;
} simp;

/* ---- virtual value accessors ---- */

static ir_kind vkind(const simp *s, int v) { return v < s->nv ? s->in->vals[v].kind : VK_CONST; }
static ir_dtype vdtype(const simp *s, int v) { return v < s->nv ? s->in->vals[v].dtype : s->fc[v - s->nv].dt; }
static const ir_shape *vshape(const simp *s, int v) {
    return v < s->nv ? &s->in->vals[v].shape : &s->fc[v - s->nv].shape;
}
static const void *vdata(const simp *s, int v) { return v < s->nv ? s->in->vals[v].data : s->fc[v - s->nv].data; }
static int vproducer(const simp *s, int v) { return v < s->nv ? s->in->vals[v].producer : -1; }
static size_t vbytes(const simp *s, int v) { return (size_t)ir_numel(vshape(s, v)) * ir_dtype_size(vdtype(s, v)); }

static int find(simp *s, int v) {
    int r = v;
    while (s->repl[r] != r) r = s->repl[r];
    while (s->repl[v] != r) { /* path compression */
        int nx = s->repl[v];
        s->repl[v] = r;
        v = nx;
    }
    return r;
}

static int oom(simp *s) {
    snprintf(s->err, IR_ERRLEN, "simplify: out of memory");
    return -1;
}

/* ---- hashing ---- */

static uint64_t mix(uint64_t h, uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t const_hash(const simp *s, int v) {
    const ir_shape *sh = vshape(s, v);
    uint64_t h = mix(14695981039346656037ULL, (uint64_t)vdtype(s, v));
    h = mix(h, (uint64_t)sh->ndim);
    for (int d = 0; d < sh->ndim; d++) h = mix(h, (uint64_t)sh->d[d]);
    const void *p = vdata(s, v);
    return p ? hash_bytes(h, p, vbytes(s, v)) : h;
}

static int const_eq(const simp *s, int a, int b) {
    if (vdtype(s, a) != vdtype(s, b) || !ir_shape_eq(vshape(s, a), vshape(s, b))) return 0;
    const void *pa = vdata(s, a), *pb = vdata(s, b);
    if (!pa || !pb) return pa == pb;
    return memcmp(pa, pb, vbytes(s, a)) == 0;
}

/* Canonical id of constant v (registers it if new). Open addressing; ctab holds ids + 1. */
static int const_canon(simp *s, int v) {
    if (s->ccap == 0) return v;
    uint64_t h = const_hash(s, v);
    for (int i = (int)(h & (uint64_t)(s->ccap - 1));; i = (i + 1) & (s->ccap - 1)) {
        int c = s->ctab[i] - 1;
        if (c < 0) {
            s->ctab[i] = v + 1;
            return v;
        }
        if (const_eq(s, c, v)) return c;
    }
}

static int grow_ctab(simp *s, int need) {
    if (need * 2 <= s->ccap) return 0;
    int nc = 64;
    while (nc < need * 2) nc *= 2;
    int *old = s->ctab, oc = s->ccap;
    s->ctab = calloc((size_t)nc, sizeof(int));
    if (!s->ctab) {
        s->ctab = old;
        return -1;
    }
    s->ccap = nc;
    for (int i = 0; i < oc; i++)
        if (old[i]) const_canon(s, old[i] - 1);
    free(old);
    return 0;
}

static uint64_t node_hash(const ir_node *n) {
    const ir_opdef *def = ir_optable[n->op];
    uint64_t h = mix(1469598103934665603ULL, (uint64_t)n->op);
    h = mix(h, (uint64_t)n->nin);
    for (int k = 0; k < n->nin; k++) h = mix(h, (uint64_t)n->in[k]);
    for (int a = 0; a < def->nattrs; a++) {
        const ir_attrval *av = &n->attr[a];
        switch (def->attrs[a].type) {
        case AT_INT: h = mix(h, (uint64_t)av->i); break;
        case AT_FLOAT: h = hash_bytes(h, &av->f, sizeof av->f); break;
        case AT_INTS:
            h = mix(h, (uint64_t)av->n);
            for (int j = 0; j < av->n; j++) h = mix(h, (uint64_t)av->v[j]);
            break;
        default: break;
        }
    }
    return h;
}

static int node_eq(const ir_node *a, const ir_node *b) {
    if (a->op != b->op || a->nin != b->nin || a->nout != b->nout) return 0;
    for (int k = 0; k < a->nin; k++)
        if (a->in[k] != b->in[k]) return 0;
    const ir_opdef *def = ir_optable[a->op];
    for (int i = 0; i < def->nattrs; i++) {
        const ir_attrval *x = &a->attr[i], *y = &b->attr[i];
        switch (def->attrs[i].type) {
        case AT_INT:
            if (x->i != y->i) return 0;
            break;
        case AT_FLOAT:
            if (memcmp(&x->f, &y->f, sizeof x->f) != 0) return 0;
            break;
        case AT_INTS:
            if (x->n != y->n) return 0;
            for (int j = 0; j < x->n; j++)
                if (x->v[j] != y->v[j]) return 0;
            break;
        default: break;
        }
    }
    return 1;
}

/* Earlier identical node, or -1 after registering node i. */
static int cse_lookup(simp *s, int i) {
    const ir_node *n = &s->nodes[i];
    uint64_t h = node_hash(n);
    for (int j = (int)(h & (uint64_t)(s->ncap - 1));; j = (j + 1) & (s->ncap - 1)) {
        int c = s->ntab[j] - 1;
        if (c < 0) {
            s->ntab[j] = i + 1;
            return -1;
        }
        if (node_eq(&s->nodes[c], n)) return c;
    }
}

/* ---- constants ---- */

static int fc_add(simp *s, ir_dtype dt, ir_shape sh, void *data) {
    if (s->nvirt == s->cap) {
        int nc = s->cap * 2;
        int *r = realloc(s->repl, (size_t)nc * sizeof(int));
        if (!r) return -1;
        s->repl = r;
        fconst *f = realloc(s->fc, (size_t)(nc - s->nv) * sizeof(fconst));
        if (!f) return -1;
        s->fc = f;
        s->cap = nc;
    }
    if (grow_ctab(s, s->nvirt + 1)) return -1;
    int v = s->nvirt++;
    s->fc[v - s->nv] = (fconst){dt, sh, data};
    s->nfc++;
    s->repl[v] = v;
    int c = const_canon(s, v);
    if (c != v) {
        s->repl[v] = c;
        s->st.consts_merged++;
    }
    return v;
}

/* Every element of constant v equals x (f32/f64/i32/i64 constants). */
static int const_all(const simp *s, int v, double x) {
    if (vkind(s, v) != VK_CONST || !vdata(s, v)) return 0;
    int64_t n = ir_numel(vshape(s, v));
    const void *p = vdata(s, v);
    for (int64_t i = 0; i < n; i++) {
        double e;
        switch (vdtype(s, v)) {
        case DT_F32: e = ((const float *)p)[i]; break;
        case DT_F64: e = ((const double *)p)[i]; break;
        case DT_I32: e = ((const int32_t *)p)[i]; break;
        case DT_I64: e = (double)((const int64_t *)p)[i]; break;
        default: return 0;
        }
        if (e != x) return 0;
    }
    return 1;
}

static int foldable_dtype(ir_dtype t) { return t == DT_F32 || t == DT_I32 || t == DT_I64 || t == DT_U8 || t == DT_BOOL; }

/* Evaluates node i (all inputs constant) and forwards its outputs to new constants.
 * Returns 1 if folded, 0 if not (unsupported or the kernel refused), -1 on OOM. */
static int try_fold(simp *s, int i) {
    ir_node *n = &s->nodes[i];
    const ir_opdef *def = ir_optable[n->op];
    if (n->nin == 0 || !def->ref_f32) return 0;
    for (int k = 0; k < n->nin; k++)
        if (vkind(s, n->in[k]) != VK_CONST || !vdata(s, n->in[k]) || !foldable_dtype(vdtype(s, n->in[k]))) return 0;
    int64_t maxe = s->o.fold_max_elems > 0 ? s->o.fold_max_elems : 65536;
    for (int k = 0; k < n->nout; k++) {
        const ir_value *o = &s->in->vals[n->out[k]];
        if (!foldable_dtype(o->dtype) || ir_numel(&o->shape) > maxe) return 0;
    }
    ref_call c;
    memset(&c, 0, sizeof c);
    char kerr[IR_ERRLEN] = {0};
    c.node = n;
    c.nin = n->nin;
    c.nout = n->nout;
    c.err = kerr;
    for (int k = 0; k < n->nin; k++) {
        int v = n->in[k];
        c.in[k] = (ref_tensor){(void *)vdata(s, v), vdtype(s, v), *vshape(s, v), ir_numel(vshape(s, v))};
    }
    void *bufs[IR_MAX_OUT] = {0};
    int rc = 0;
    for (int k = 0; k < n->nout; k++) {
        const ir_value *o = &s->in->vals[n->out[k]];
        size_t b = (size_t)ir_numel(&o->shape) * ir_dtype_size(o->dtype);
        bufs[k] = calloc(1, b ? b : 1);
        if (!bufs[k]) rc = -1;
        c.out[k] = (ref_tensor){bufs[k], o->dtype, o->shape, ir_numel(&o->shape)};
    }
    if (rc == 0 && def->ref_f32(&c) != 0) rc = 1; /* kernel refused: leave the node alone */
    if (rc != 0) {
        for (int k = 0; k < n->nout; k++) free(bufs[k]);
        return rc < 0 ? -1 : 0;
    }
    for (int k = 0; k < n->nout; k++) {
        const ir_value *o = &s->in->vals[n->out[k]];
        int cv = fc_add(s, o->dtype, o->shape, bufs[k]);
        if (cv < 0) {
            for (int j = k; j < n->nout; j++) free(bufs[j]);
            return -1;
        }
        s->repl[n->out[k]] = find(s, cv);
    }
    return 1;
}

/* ---- algebraic identities ---- */

static int same_type(const simp *s, int a, int b) {
    return vdtype(s, a) == vdtype(s, b) && ir_shape_eq(vshape(s, a), vshape(s, b));
}

static int is_reshape(int op) { return op == OP_Reshape || op == OP_Flatten; }

/* Returns the value node i's single output reduces to, or -1. May rewrite the node in place
 * (Reshape of Reshape). */
static int try_identity(simp *s, int i) {
    ir_node *n = &s->nodes[i];
    int y = n->out[0];
    switch (n->op) {
    case OP_Identity: return n->in[0];
    case OP_StopGradient: return s->o.keep_stop_gradient ? -1 : n->in[0];
    case OP_Reshape:
    case OP_Flatten: {
        if (same_type(s, n->in[0], y)) return n->in[0];
        int p = vproducer(s, n->in[0]);
        if (p >= 0 && !s->dead[p] && is_reshape(s->nodes[p].op)) {
            /* Reshape(Reshape(x)) -> Reshape(x) to y's shape */
            const ir_shape *ys = vshape(s, y);
            int x = s->nodes[p].in[0];
            n->op = OP_Reshape;
            memset(n->attr, 0, sizeof n->attr);
            n->attr[0].n = ys->ndim;
            for (int d = 0; d < ys->ndim; d++) n->attr[0].v[d] = ys->d[d];
            n->in[0] = x;
            if (same_type(s, x, y)) return x;
            s->st.identities++; /* rewritten, not removed */
        }
        return -1;
    }
    case OP_Neg: {
        int p = vproducer(s, n->in[0]);
        if (p >= 0 && !s->dead[p] && s->nodes[p].op == OP_Neg) return s->nodes[p].in[0];
        return -1;
    }
    case OP_Mul:
        if (const_all(s, n->in[1], 1.0) && same_type(s, n->in[0], y)) return n->in[0];
        if (const_all(s, n->in[0], 1.0) && same_type(s, n->in[1], y)) return n->in[1];
        return -1;
    case OP_Add:
        if (const_all(s, n->in[1], 0.0) && same_type(s, n->in[0], y)) return n->in[0];
        if (const_all(s, n->in[0], 0.0) && same_type(s, n->in[1], y)) return n->in[1];
        return -1;
    case OP_Sub:
        if (const_all(s, n->in[1], 0.0) && same_type(s, n->in[0], y)) return n->in[0];
        return -1;
    case OP_Div:
        if (const_all(s, n->in[1], 1.0) && same_type(s, n->in[0], y)) return n->in[0];
        return -1;
    default: return -1;
    }
}

/* ---- the rewrite ---- */

static int sweep(simp *s) {
    const ir_graph *g = s->in;
    for (int i = 0; i < g->nnodes; i++) {
        ir_node *n = &s->nodes[i];
        for (int k = 0; k < n->nin; k++) n->in[k] = find(s, n->in[k]);
        if (!(s->o.disable & SIMP_NO_ALGEBRA) && n->nout == 1) {
            int r = try_identity(s, i);
            if (r >= 0) {
                s->repl[n->out[0]] = find(s, r);
                s->dead[i] = 1;
                s->st.identities++;
                continue;
            }
        }
        if (!(s->o.disable & SIMP_NO_FOLD)) {
            int f = try_fold(s, i);
            if (f < 0) return oom(s);
            if (f > 0) {
                s->dead[i] = 1;
                s->st.folded++;
                continue;
            }
        }
        if (!(s->o.disable & SIMP_NO_CSE)) {
            int m = cse_lookup(s, i);
            if (m >= 0) {
                for (int k = 0; k < n->nout; k++) s->repl[n->out[k]] = s->nodes[m].out[k];
                s->dead[i] = 1;
                s->st.cse++;
            }
        }
    }
    return 0;
}

static int emit(simp *s, ir_graph *out) {
    const ir_graph *g = s->in;
    int nvirt = s->nvirt, rc = -1;
    unsigned char *need = calloc((size_t)nvirt, 1), *keepn = calloc((size_t)g->nnodes + 1, 1);
    int *nid = malloc((size_t)nvirt * sizeof(int)), *nnode = malloc(((size_t)g->nnodes + 1) * sizeof(int));
    unsigned char *named = calloc((size_t)nvirt, 1);
    int *final_out = malloc(((size_t)g->noutputs + 1) * sizeof(int));
    if (!need || !keepn || !nid || !nnode || !named || !final_out) {
        oom(s);
        goto out;
    }
    /* liveness from outputs and update sources */
    for (int i = 0; i < g->noutputs; i++) need[find(s, g->outputs[i])] = 1;
    for (int u = 0; u < g->nupdates; u++) need[find(s, g->updates[u].src)] = need[find(s, g->updates[u].dst)] = 1;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const ir_node *n = &s->nodes[i];
        if (s->dead[i]) continue;
        int any = (s->o.disable & SIMP_NO_DCE) != 0;
        for (int k = 0; k < n->nout; k++) any |= need[n->out[k]];
        if (!any) {
            s->st.dead++;
            continue;
        }
        keepn[i] = 1;
        for (int k = 0; k < n->nout; k++) need[n->out[k]] = 1;
        for (int k = 0; k < n->nin; k++) need[n->in[k]] = 1;
    }
    /* value numbering: persistent values always, constants if needed, outputs of kept nodes */
    int nvals = 0, nnodes = 0;
    for (int v = 0; v < nvirt; v++) {
        nid[v] = -1;
        ir_kind k = vkind(s, v);
        int keep = 0;
        if (k == VK_INPUT || k == VK_PARAM || k == VK_STATE)
            keep = 1;
        else if (k == VK_CONST)
            keep = need[v] && find(s, v) == v;
        else
            keep = vproducer(s, v) >= 0 && keepn[vproducer(s, v)];
        if (keep) nid[v] = nvals++;
    }
    for (int i = 0; i < g->nnodes; i++) nnode[i] = keepn[i] ? nnodes++ : -1;
    /* outputs whose value was rewritten away: the survivor takes the name, or an Identity keeps it */
    int extra = 0;
    for (int i = 0; i < g->noutputs; i++) {
        int v = g->outputs[i], r = find(s, v);
        final_out[i] = -1;
        if (r == v || !g->vals[v].name) continue;
        int r_named = r < s->nv ? g->vals[r].name != NULL : 0;
        if (!r_named && !named[r]) {
            named[r] = 1; /* claimed: gets v's name below */
        } else {
            int dup = 0; /* the same value listed twice as an output */
            for (int j = 0; j < i; j++) dup |= g->outputs[j] == v;
            if (!dup) extra++;
        }
    }
    ir_graph_init(out);
    out->cap_vals = nvals + extra + 1;
    out->cap_nodes = nnodes + extra + 1;
    out->cap_outputs = g->noutputs + 1;
    out->cap_updates = g->nupdates + 1;
    out->vals = calloc((size_t)out->cap_vals, sizeof(ir_value));
    out->nodes = calloc((size_t)out->cap_nodes, sizeof(ir_node));
    out->outputs = calloc((size_t)out->cap_outputs, sizeof(int));
    out->updates = calloc((size_t)out->cap_updates, sizeof(ir_update));
    if (!out->vals || !out->nodes || !out->outputs || !out->updates) {
        oom(s);
        goto out;
    }
    for (int v = 0; v < nvirt; v++) {
        if (nid[v] < 0) continue;
        ir_value *d = &out->vals[nid[v]];
        d->id = nid[v];
        d->dtype = vdtype(s, v);
        d->shape = *vshape(s, v);
        d->kind = vkind(s, v);
        d->producer = -1;
        d->init.src = -1;
        out->nvals++;
        if (v < s->nv) {
            const ir_value *sv = &g->vals[v];
            d->flags = sv->flags;
            d->init = sv->init;
            if (sv->init.kind == INIT_COPY && sv->init.src >= 0) d->init.src = nid[find(s, sv->init.src)];
            if (sv->init.kind == INIT_DATA && sv->data) { /* imported weights travel with the value */
                size_t b = (size_t)ir_numel(&sv->shape) * ir_dtype_size(sv->dtype);
                if (!(d->data = malloc(b ? b : 1))) {
                    oom(s);
                    goto out;
                }
                memcpy(d->data, sv->data, b);
            }
            if (sv->producer >= 0) d->producer = nnode[sv->producer];
            if (sv->name && !(d->name = strdup(sv->name))) {
                oom(s);
                goto out;
            }
        }
        if (d->kind == VK_CONST && vdata(s, v)) {
            size_t b = vbytes(s, v);
            if (!(d->data = malloc(b ? b : 1))) {
                oom(s);
                goto out;
            }
            memcpy(d->data, vdata(s, v), b);
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        if (!keepn[i]) continue;
        ir_node *d = &out->nodes[out->nnodes++];
        *d = s->nodes[i];
        for (int k = 0; k < d->nin; k++) d->in[k] = nid[find(s, d->in[k])];
        for (int k = 0; k < d->nout; k++) d->out[k] = nid[d->out[k]];
    }
    for (int i = 0; i < g->noutputs; i++) {
        int v = g->outputs[i], r = find(s, v);
        if (r == v || !g->vals[v].name) continue;
        for (int j = 0; j < i; j++)
            if (g->outputs[j] == v) final_out[i] = final_out[j];
        if (final_out[i] >= 0) continue;
        if (named[r] == 1) {
            named[r] = 2;
            if (!(out->vals[nid[r]].name = strdup(g->vals[v].name))) {
                oom(s);
                goto out;
            }
            final_out[i] = nid[r];
            continue;
        }
        /* Identity(r) named like v */
        int nv = out->nvals++;
        ir_value *d = &out->vals[nv];
        d->id = nv;
        d->dtype = vdtype(s, r);
        d->shape = *vshape(s, r);
        d->kind = VK_INTER;
        d->init.src = -1;
        d->producer = out->nnodes;
        if (!(d->name = strdup(g->vals[v].name))) {
            oom(s);
            goto out;
        }
        ir_node *n = &out->nodes[out->nnodes++];
        memset(n, 0, sizeof *n);
        n->op = OP_Identity;
        n->nin = n->nout = 1;
        n->in[0] = nid[r];
        n->out[0] = nv;
        final_out[i] = nv;
        s->st.name_keepers++;
    }
    for (int i = 0; i < g->noutputs; i++)
        out->outputs[out->noutputs++] = final_out[i] >= 0 ? final_out[i] : nid[find(s, g->outputs[i])];
    for (int u = 0; u < g->nupdates; u++) {
        out->updates[out->nupdates].dst = nid[find(s, g->updates[u].dst)];
        out->updates[out->nupdates].src = nid[find(s, g->updates[u].src)];
        out->nupdates++;
    }
    snprintf(out->scope, sizeof out->scope, "%s", g->scope);
    /* self-check: every rewritten node still infers the shapes its outputs have */
    for (int i = 0; i < out->nnodes; i++) {
        ir_node tmp = out->nodes[i];
        ir_shape shapes[IR_MAX_OUT];
        ir_dtype dts[IR_MAX_OUT];
        memset(shapes, 0, sizeof shapes);
        for (int k = 0; k < IR_MAX_OUT; k++) dts[k] = out->vals[tmp.in[0]].dtype;
        if (ir_optable[tmp.op]->infer(out, &tmp, shapes, dts) != 0) {
            snprintf(s->err, IR_ERRLEN, "simplify: internal error: node %d (%s) no longer type-checks: %.300s", i,
                     ir_optable[tmp.op]->name, out->err);
            goto out;
        }
        for (int k = 0; k < tmp.nout; k++)
            if (!ir_shape_eq(&shapes[k], &out->vals[tmp.out[k]].shape) || dts[k] != out->vals[tmp.out[k]].dtype) {
                snprintf(s->err, IR_ERRLEN, "simplify: internal error: node %d (%s) output %d changed type", i,
                         ir_optable[tmp.op]->name, k);
                goto out;
            }
    }
    rc = 0;
out:
    if (rc) ir_graph_free(out);
    free(need), free(keepn), free(nid), free(nnode), free(named), free(final_out);
    return rc;
}

simplify_opts simplify_defaults(void) {
    simplify_opts o = {0, 65536, 0};
    return o;
}

int simplify(const ir_graph *in, ir_graph *out, simplify_stats *st, char *err) {
    simplify_opts o = simplify_defaults();
    return simplify_ex(in, out, &o, st, err);
}

int simplify_ex(const ir_graph *in, ir_graph *out, const simplify_opts *opts, simplify_stats *st, char *err) {
    ir_graph_init(out);
    if (in->failed) {
        snprintf(err, IR_ERRLEN, "simplify: the graph has a build error: %.400s", in->err);
        return -1;
    }
    simp s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.o = *opts;
    s.err = err;
    s.nv = s.nvirt = in->nvals;
    s.cap = in->nvals + 64;
    s.st.nodes_in = in->nnodes;
    s.st.vals_in = in->nvals;
    int rc = -1;
    s.repl = malloc((size_t)s.cap * sizeof(int));
    s.fc = malloc((size_t)(s.cap - s.nv) * sizeof(fconst));
    s.nodes = malloc(((size_t)in->nnodes + 1) * sizeof(ir_node));
    s.dead = calloc((size_t)in->nnodes + 1, 1);
    s.ncap = 64;
    while (s.ncap < 2 * in->nnodes) s.ncap *= 2;
    s.ntab = calloc((size_t)s.ncap, sizeof(int));
    if (!s.repl || !s.fc || !s.nodes || !s.dead || !s.ntab || grow_ctab(&s, in->nvals)) {
        oom(&s);
        goto done;
    }
    if (in->nnodes) memcpy(s.nodes, in->nodes, (size_t)in->nnodes * sizeof(ir_node));
    /* validate ids and topological order (the rewrite relies on it) */
    for (int i = 0; i < in->nnodes; i++) {
        const ir_node *n = &in->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v < 0 || v >= in->nvals || (in->vals[v].kind == VK_INTER && in->vals[v].producer >= i)) {
                snprintf(err, IR_ERRLEN, "simplify: node %d (%s) input %d is invalid or not yet computed", i,
                         ir_optable[n->op]->name, k);
                goto done;
            }
        }
        for (int k = 0; k < n->nout; k++)
            if (n->out[k] < 0 || n->out[k] >= in->nvals || in->vals[n->out[k]].producer != i) {
                snprintf(err, IR_ERRLEN, "simplify: node %d (%s) output %d is inconsistent", i, ir_optable[n->op]->name, k);
                goto done;
            }
    }
    for (int v = 0; v < in->nvals; v++) {
        s.repl[v] = v;
        if (in->vals[v].kind == VK_CONST && !(s.o.disable & SIMP_NO_CSE)) {
            int c = const_canon(&s, v);
            if (c != v) {
                s.repl[v] = c;
                s.st.consts_merged++;
            }
        }
    }
    if (sweep(&s) || emit(&s, out)) goto done;
    s.st.nodes_out = out->nnodes;
    s.st.vals_out = out->nvals;
    rc = 0;
done:
    if (st) *st = s.st;
    for (int i = 0; i < s.nfc; i++) free(s.fc[i].data);
    free(s.repl), free(s.fc), free(s.nodes), free(s.dead), free(s.ctab), free(s.ntab);
    return rc;
}
