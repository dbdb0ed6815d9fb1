/* schedule + memplan + arena executor: every plan passes memplan_check; the checker agrees with
 * a brute-force per-step oracle on randomly corrupted plans; the arena executor matches the
 * reference interpreter bit for bit on random graphs and on a SimCLR training graph (2 steps);
 * and the CIFAR ResNet-18 SimCLR numbers (arena <= half the sum of intermediates). */
#include <stdlib.h>
#include <string.h>

#include "graphcheck.h"
#include "codegen/jit.h"
#include "passes/fusion.h"
#include "passes/lower.h"
#include "passes/schedule.h"
#include "runtime/cpu_exec.h"
#include "passes/simplify.h"
#include "passes/steps.h"

/* ---- random graphs ---- */

enum { C_FULL, C_ROW, C_COL, C_SCALAR, C__N };
typedef struct {
    int v[C__N][256];
    int n[C__N];
} pool;

static void pool_add(pool *P, int c, int v) {
    if (v >= 0 && P->n[c] < 256) P->v[c][P->n[c]++] = v;
}
static int pick(pool *P, int c, sslc_rng *r) { return P->v[c][(int)(rng_u32(r) % (uint32_t)P->n[c])]; }

static int rand_graph(ir_graph *g, sslc_rng *r) {
    ir_graph_init(g);
    pool P;
    memset(&P, 0, sizeof P);
    pool_add(&P, C_FULL, ir_input(g, "x", DT_F32, IR_SHAPE(4, 8)));
    pool_add(&P, C_FULL, ir_input(g, "y", DT_F32, IR_SHAPE(4, 8)));
    int w = ir_param(g, "w", IR_SHAPE(8, 8), ir_init_normal(0, 0.3), 0);
    int b = ir_param(g, "b", IR_SHAPE(1, 8), ir_init_normal(0, 1), 0);
    int s = ir_state(g, "s", DT_F32, IR_SHAPE(4, 8), ir_init_uniform(-1, 1));
    pool_add(&P, C_ROW, b);
    pool_add(&P, C_FULL, s);
    pool_add(&P, C_COL, ir_reduce_mean(g, pick(&P, C_FULL, r), (int64_t[]){1}, 1, 1));
    pool_add(&P, C_SCALAR, ir_scalar(g, 0.5));
    int nops = 8 + (int)(rng_u32(r) % 40);
    for (int i = 0; i < nops; i++) {
        int a = pick(&P, C_FULL, r), t = (int)(rng_u32(r) % 12);
        switch (t) {
        case 0:
        case 1: { /* broadcasting binary op */
            static const int ops[] = {OP_Add, OP_Sub, OP_Mul, OP_Max};
            int c = (int)(rng_u32(r) % C__N);
            int in[2] = {a, pick(&P, c, r)};
            if (rng_u32(r) & 1) in[0] = in[1], in[1] = a;
            pool_add(&P, C_FULL, ir_simple(g, ops[rng_u32(r) % 4], in, 2));
            break;
        }
        case 2: { /* unary */
            static const int ops[] = {OP_Relu, OP_Neg, OP_Exp, OP_Gelu};
            int x = ops[rng_u32(r) % 4] == OP_Exp ? ir_mul_scalar(g, a, 0.1) : a;
            pool_add(&P, C_FULL, ir_simple(g, ops[rng_u32(r) % 4], &x, 1));
            break;
        }
        case 3: pool_add(&P, C_FULL, ir_matmul(g, a, w)); break;
        case 4:
            pool_add(&P, C_ROW, ir_reduce_sum(g, a, (int64_t[]){0}, 1, 1));
            pool_add(&P, C_COL, ir_reduce_max(g, a, (int64_t[]){1}, 1, 1));
            break;
        case 5: pool_add(&P, C_FULL, ir_reshape(g, ir_reshape(g, a, IR_SHAPE(32)), IR_SHAPE(4, 8))); break;
        case 6: pool_add(&P, C_FULL, ir_transpose(g, ir_transpose(g, a, (int64_t[]){1, 0}, 2), (int64_t[]){1, 0}, 2)); break;
        case 7: {
            int xs[2] = {a, pick(&P, C_FULL, r)};
            pool_add(&P, C_FULL, ir_slice(g, ir_concat(g, xs, 2, 0), 0, 2, 6));
            break;
        }
        case 8: { /* constants: identities and folding */
            static const double k[] = {0.0, 1.0, 2.0};
            int c = ir_scalar(g, k[rng_u32(r) % 3]);
            if (rng_u32(r) & 1) c = ir_exp(g, c);
            pool_add(&P, C_FULL, (rng_u32(r) & 1) ? ir_mul(g, a, c) : ir_add(g, c, a));
            break;
        }
        case 9: { /* a duplicate of an existing node (CSE) */
            int nd = (int)(rng_u32(r) % (uint32_t)g->nnodes);
            ir_node n = g->nodes[nd];
            if (n.nout != 1 || g->vals[n.out[0]].shape.ndim != 2 || g->vals[n.out[0]].shape.d[0] != 4 ||
                g->vals[n.out[0]].shape.d[1] != 8)
                break;
            int m = ir_node_new(g, n.op, n.in, n.nin);
            memcpy(g->nodes[m].attr, n.attr, sizeof n.attr);
            pool_add(&P, C_FULL, ir_node_finish(g, m));
            break;
        }
        case 10: pool_add(&P, C_FULL, ir_neg(g, ir_neg(g, ir_identity(g, ir_stop_gradient(g, a))))); break;
        default: { /* where0 over a pair */
            int in[2] = {a, pick(&P, C_FULL, r)};
            pool_add(&P, C_FULL, ir_simple(g, OP_Where0, in, 2));
        }
        }
    }
    int nout = 1 + (int)(rng_u32(r) % 3);
    for (int i = 0; i < nout; i++) {
        int v = pick(&P, (int)(rng_u32(r) % 3), r);
        if (g->vals[v].kind != VK_INTER) v = ir_relu(g, v);
        char name[16];
        snprintf(name, sizeof name, "out.%d", i);
        if (!g->vals[v].name) ir_set_name(g, v, name);
        ir_add_output(g, v);
    }
    ir_add_update(g, s, pick(&P, C_FULL, r));
    ir_add_update(g, b, ir_add(g, b, ir_mul_scalar(g, pick(&P, C_ROW, r), 0.01)));
    return g->failed ? -1 : 0;
}

/* a random topological order of the steps */
static void shuffle_topo(const ir_graph *g, exec_step *st, int n, sslc_rng *r) {
    int *prod = malloc((size_t)g->nvals * sizeof(int)), *done = calloc((size_t)n, sizeof(int));
    unsigned char *have = calloc((size_t)g->nvals, 1);
    exec_step *out = malloc((size_t)n * sizeof(exec_step));
    int *ready = malloc((size_t)n * sizeof(int));
    for (int v = 0; v < g->nvals; v++) have[v] = g->vals[v].kind != VK_INTER;
    for (int t = 0; t < n; t++) {
        int nr = 0;
        for (int s = 0; s < n; s++) {
            if (done[s]) continue;
            int ok = 1;
            for (int k = 0; k < st[s].nin && ok; k++) ok = have[st[s].in[k]];
            if (ok) ready[nr++] = s;
        }
        int s = ready[rng_u32(r) % (uint32_t)nr];
        done[s] = 1;
        out[t] = st[s];
        for (int k = 0; k < st[s].nout; k++) have[st[s].out[k]] = 1;
    }
    memcpy(st, out, (size_t)n * sizeof(exec_step));
    free(prod), free(done), free(have), free(out), free(ready);
}

/* ---- brute-force oracle: per step, every pair of live arena values ---- */

static int oracle_ok(const ir_graph *g, const exec_step *st, int n, const memplan *mp) {
    int nv = g->nvals, ok = 1;
    int *def = malloc((size_t)nv * sizeof(int)), *last = malloc((size_t)nv * sizeof(int));
    int *live = malloc((size_t)nv * sizeof(int));
    for (int v = 0; v < nv; v++) def[v] = last[v] = -1;
    for (int s = 0; s < n && ok; s++) {
        for (int k = 0; k < st[s].nin; k++) {
            int v = st[s].in[k];
            if (g->vals[v].kind != VK_INTER) continue;
            if (def[v] < 0) ok = 0; /* read before write */
            last[v] = s;
        }
        for (int k = 0; k < st[s].nout; k++) def[st[s].out[k]] = last[st[s].out[k]] = s;
    }
    for (int i = 0; i < g->noutputs; i++)
        if (g->vals[g->outputs[i]].kind == VK_INTER) last[g->outputs[i]] = n;
    for (int u = 0; u < g->nupdates; u++)
        if (g->vals[g->updates[u].src].kind == VK_INTER) last[g->updates[u].src] = n;
    for (int v = 0; v < nv && ok; v++) {
        if (def[v] < 0) continue;
        int64_t need = gc_bytes(g, v);
        const exec_loc *l = &mp->loc[v];
        if (l->kind != LOC_ARENA || l->offset % 64 || l->offset < 0 || l->offset + need > mp->arena_bytes) ok = 0;
    }
    for (int s = 0; s <= n && ok; s++) {
        int nl = 0;
        for (int v = 0; v < nv; v++)
            if (def[v] >= 0 && def[v] <= s && s <= last[v] && gc_bytes(g, v) > 0) live[nl++] = v;
        for (int i = 0; i < nl && ok; i++)
            for (int j = i + 1; j < nl && ok; j++) {
                int a = live[i], b = live[j];
                int64_t oa = mp->loc[a].offset, ob = mp->loc[b].offset, na = gc_bytes(g, a), nb = gc_bytes(g, b);
                if (oa + na <= ob || ob + nb <= oa) continue;
                int allowed = 0;
                if (oa == ob && na == nb && s < n)
                    for (int k = 0; k < st[s].nout; k++) {
                        int o = st[s].out[k], j2 = st[s].inplace[k];
                        if (j2 < 0) continue;
                        int x = st[s].in[j2];
                        if ((o == b && x == a && last[a] == s && def[b] == s) ||
                            (o == a && x == b && last[b] == s && def[a] == s))
                            allowed = 1;
                    }
                if (!allowed) ok = 0;
            }
    }
    free(def), free(last), free(live);
    return ok;
}

static int arena_value(const ir_graph *g, const memplan *mp, sslc_rng *r) {
    for (int tries = 0; tries < 1000; tries++) {
        int v = (int)(rng_u32(r) % (uint32_t)g->nvals);
        if (mp->loc[v].kind == LOC_ARENA) return v;
    }
    return -1;
}

/* checker vs oracle on corrupted copies of a valid plan */
static int fuzz_checker(const ir_graph *g, const exec_step *st, int n, memplan *mp, sslc_rng *r, int *caught) {
    char err[IR_ERRLEN];
    for (int m = 0; m < 12; m++) {
        int v = arena_value(g, mp, r);
        if (v < 0) return 0;
        int64_t saved = mp->loc[v].offset, arena = mp->arena_bytes;
        int u = arena_value(g, mp, r);
        switch (m % 3) {
        case 0: mp->loc[v].offset = mp->loc[u].offset; break;
        case 1: mp->loc[v].offset = mp->loc[u].offset + 64 * (int64_t)(rng_u32(r) % 3) - 64; break;
        default: mp->arena_bytes = arena - 64 * (int64_t)(rng_u32(r) % 2);
        }
        if (mp->loc[v].offset < 0) mp->loc[v].offset = 0;
        int chk = memplan_check(g, st, n, mp, err) == 0, orc = oracle_ok(g, st, n, mp);
        CHECK(chk == orc, "checker says %s, oracle says %s (value %%%d moved to %lld): %s", chk ? "ok" : "bad",
              orc ? "ok" : "bad", v, (long long)mp->loc[v].offset, chk ? "" : err);
        *caught += !chk;
        mp->loc[v].offset = saved;
        mp->arena_bytes = arena;
    }
    return 0;
}

static int plan_and_check_ex(const ir_graph *g, exec_step *st, int n, const int *root, memplan *mp,
                             const char *label) {
    char err[IR_ERRLEN];
    CHECK(memplan_build_ex(g, st, n, root, mp, err) == 0, "%s: memplan: %s", label, err);
    CHECK(memplan_check_ex(g, st, n, root, mp, err) == 0, "%s: checker rejects the plan: %s", label, err);
    CHECK(root || oracle_ok(g, st, n, mp), "%s: oracle rejects the plan", label);
    CHECK(mp->arena_bytes >= mp->peak_bytes && mp->peak_bytes <= mp->sum_bytes + 64 * (int64_t)mp->nbuffers,
          "%s: arena %lld, peak %lld, sum %lld", label, (long long)mp->arena_bytes, (long long)mp->peak_bytes,
          (long long)mp->sum_bytes);
    return 0;
}

static int plan_and_check(const ir_graph *g, exec_step *st, int n, memplan *mp, const char *label) {
    return plan_and_check_ex(g, st, n, NULL, mp, label);
}

static int test_random(void) {
    sslc_rng r;
    rng_seed(&r, 2024, 3);
    int caught = 0, inplace = 0, ngraphs = 120, better = 0;
    int64_t sum_in = 0, sum_sched = 0;
    char err[IR_ERRLEN];
    for (int it = 0; it < ngraphs; it++) {
        ir_graph g, h;
        CHECK(rand_graph(&g, &r) == 0, "random graph %d: %s", it, g.err);
        char label[48];
        snprintf(label, sizeof label, "random graph %d", it);
        /* simplify keeps the results */
        CHECK(simplify(&g, &h, NULL, err) == 0, "%s: simplify: %s", label, err);
        if (gc_equiv(&g, &h, 2, (uint64_t)it, label)) return 1;
        for (int which = 0; which < 2; which++) {
            const ir_graph *G = which ? &h : &g;
            exec_step *st;
            int n;
            memplan mp;
            CHECK(exec_steps_unfused(G, &st, &n, err) == 0, "%s", err);
            shuffle_topo(G, st, n, &r);
            if (plan_and_check(G, st, n, &mp, label)) return 1;
            int64_t a_in = mp.arena_bytes;
            if (fuzz_checker(G, st, n, &mp, &r, &caught)) return 1;
            /* swapping a step before the step that writes its input must be caught */
            for (int s = 1; s < n; s++) {
                int dep = 0;
                for (int k = 0; k < st[s].nin; k++)
                    for (int j = 0; j < st[s - 1].nout; j++) dep |= st[s].in[k] == st[s - 1].out[j];
                if (!dep) continue;
                exec_step t = st[s];
                st[s] = st[s - 1];
                st[s - 1] = t;
                CHECK(memplan_check(G, st, n, &mp, err) != 0 && strstr(err, "before"), "%s: swapped steps accepted", label);
                st[s - 1] = st[s];
                st[s] = t;
                break;
            }
            memplan_free(&mp);
            schedule_stats ss;
            CHECK(schedule_steps(G, st, n, &ss, err) == 0, "%s: schedule: %s", label, err);
            CHECK(ss.arena <= ss.arena_input, "%s: schedule made the arena larger", label);
            CHECK(schedule_peak_bytes(G, st, n) == ss.peak, "%s: peak of the returned order differs", label);
            if (plan_and_check(G, st, n, &mp, label)) return 1;
            CHECK(mp.arena_bytes == ss.arena, "%s: arena %lld, schedule predicted %lld", label, (long long)mp.arena_bytes,
                  (long long)ss.arena);
            sum_in += a_in;
            sum_sched += mp.arena_bytes;
            better += mp.arena_bytes < a_in;
            inplace += mp.ninplace;
            if (gc_arena_vs_interp(G, st, n, &mp, 2, (uint64_t)it, label)) return 1;
            memplan_free(&mp);
            free(st);
        }
        ir_graph_free(&h);
        ir_graph_free(&g);
    }
    CHECK(caught > 0 && inplace > 0, "fuzzing caught %d corruptions, %d in-place reuses", caught, inplace);
    printf("ok   %d random graphs (+ simplified): plans checked, arena == interpreter bit for bit, checker == oracle "
           "on %d corruptions it caught; %d in-place reuses; arena %lld -> %lld bytes in total after scheduling "
           "(%d smaller)\n",
           ngraphs, caught, inplace, (long long)sum_in, (long long)sum_sched, better);
    return 0;
}

/* hand-made violations */
static int test_checker(void) {
    char err[IR_ERRLEN];
    ir_graph g;
    ir_graph_init(&g);
    int x = ir_input(&g, "x", DT_F32, IR_SHAPE(16));
    int a = ir_exp(&g, x);       /* step 0 */
    int b = ir_relu(&g, a);      /* step 1: in place over a */
    int c = ir_mul(&g, b, x);    /* step 2: in place over b */
    int d = ir_add(&g, c, a);    /* step 3: a still live? no: a dies at 1 -> but read here */
    ir_add_output(&g, d);
    exec_step *st;
    int n;
    memplan mp;
    CHECK(exec_steps_unfused(&g, &st, &n, err) == 0, "%s", err);
    CHECK(memplan_build(&g, st, n, &mp, err) == 0 && memplan_check(&g, st, n, &mp, err) == 0, "%s", err);
    /* a is read at step 3, so b may not take a's storage; c takes b's */
    CHECK(mp.loc[b].offset != mp.loc[a].offset && mp.loc[c].offset == mp.loc[b].offset && mp.ninplace == 2,
          "in place: a %lld b %lld c %lld d %lld (%d)", (long long)mp.loc[a].offset, (long long)mp.loc[b].offset,
          (long long)mp.loc[c].offset, (long long)mp.loc[d].offset, mp.ninplace);
    /* forging b onto a (a still live) */
    int64_t keep = mp.loc[b].offset;
    mp.loc[b].offset = mp.loc[a].offset;
    CHECK(memplan_check(&g, st, n, &mp, err) != 0 && strstr(err, "overlaps"), "overlap not caught: %s", err);
    mp.loc[b].offset = keep;
    /* in-place without the step's offer */
    st[2].inplace[0] = -1;
    CHECK(memplan_check(&g, st, n, &mp, err) != 0, "undeclared in-place accepted");
    st[2].inplace[0] = 0;
    /* misaligned, outside the arena, wrong kind */
    mp.loc[d].offset += 4;
    CHECK(memplan_check(&g, st, n, &mp, err) != 0, "misaligned offset accepted");
    mp.loc[d].offset -= 4;
    mp.arena_bytes -= 64;
    CHECK(memplan_check(&g, st, n, &mp, err) != 0, "too small an arena accepted");
    mp.arena_bytes += 64;
    mp.loc[x].kind = LOC_ARENA;
    CHECK(memplan_check(&g, st, n, &mp, err) != 0, "persistent input in the arena accepted");
    mp.loc[x].kind = LOC_PERSISTENT;
    CHECK(memplan_check(&g, st, n, &mp, err) == 0, "restored plan rejected: %s", err);
    /* a step list that reads before writing cannot be planned or scheduled into a cycle */
    exec_step t = st[0];
    st[0] = st[1], st[1] = t;
    memplan_free(&mp);
    CHECK(memplan_build(&g, st, n, &mp, err) != 0 && strstr(err, "before"), "read-before-write planned");
    schedule_stats ss;
    CHECK(schedule_steps(&g, st, n, &ss, err) == 0 && st[0].node == 0, "schedule did not repair the order");
    /* a cycle: step 0 reads what step 1 writes and vice versa */
    st[0].in[st[0].nin++] = st[1].out[0];
    st[1].in[st[1].nin++] = st[0].out[0];
    CHECK(schedule_steps(&g, st, n, &ss, err) != 0 && strstr(err, "cycle"), "cycle not detected: %s", err);
    free(st);
    memplan_free(&mp);
    ir_graph_free(&g);
    printf("ok   checker catches forged overlaps, undeclared in-place, misalignment, bounds, kinds, order\n");
    return 0;
}

static void mb(int64_t b, char *buf, size_t n) {
    if (b < 1024 * 1024)
        snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(buf, n, "%.1f MiB", (double)b / (1024.0 * 1024.0));
}

/* small SimCLR: simplify, schedule, plan, then 2 steps in the arena == interpreter */
static int test_simclr_arena(void) {
    ir_graph g0, g;
    char err[IR_ERRLEN];
    CHECK(gc_simclr_train(&g0, 0.25, 16, 4, err) == 0, "%s", err);
    CHECK(simplify(&g0, &g, NULL, err) == 0, "%s", err);
    exec_step *st;
    int n;
    memplan mp;
    schedule_stats ss;
    CHECK(exec_steps_unfused(&g, &st, &n, err) == 0, "%s", err);
    CHECK(schedule_steps(&g, st, n, &ss, err) == 0, "%s", err);
    if (plan_and_check(&g, st, n, &mp, "simclr")) return 1;
    if (gc_arena_vs_interp(&g, st, n, &mp, 2, 5, "simclr")) return 1;
    char a[32], s[32];
    mb(mp.arena_bytes, a, sizeof a);
    mb(mp.sum_bytes, s, sizeof s);
    printf("ok   simclr resnet18 w0.25 16px b4: %d steps, arena %s vs sum %s (%d in place, schedule %s), "
           "2 steps bit-identical to the interpreter\n",
           n, a, s, mp.ninplace, schedule_candidate_name(ss.chosen));
    memplan_free(&mp);
    free(st);
    /* the unsimplified graph in its input order too */
    CHECK(exec_steps_unfused(&g0, &st, &n, err) == 0, "%s", err);
    if (plan_and_check(&g0, st, n, &mp, "simclr unsimplified")) return 1;
    if (gc_arena_vs_interp(&g0, st, n, &mp, 1, 5, "simclr unsimplified")) return 1;
    memplan_free(&mp);
    free(st);
    ir_graph_free(&g);
    ir_graph_free(&g0);
    return 0;
}

/* a fused plan (lowering + fusion + horizontal fusion, views, JIT kernels) scheduled and planned: the arena executor
 * with the JIT kernels equals the cpu backend (own buffer per value) bit for bit */
typedef struct {
    const fused_plan *fp;
    const jit_module *jm;
} jit_ctx;

/* a launch's arguments are, per segment, its loads then its stores; the step's in/out lists are
 * the segments' loads/stores concatenated in segment order */
static int jit_step(void *ctx, const arena_exec *ax, int si, char *err) {
    const jit_ctx *c = ctx;
    const exec_step *st = &ax->steps[si];
    const fkernel *fk = &c->fp->kernels[st->kernel];
    void *args[2 * EXEC_MAX_ARGS];
    int na = 0, ni = 0, no = 0;
    for (int sg = 0; sg < fk->nseg; sg++) ni += fk->seg[sg].nloads, no += fk->seg[sg].nstores;
    if (ni != st->nin || no != st->nout) {
        snprintf(err, IR_ERRLEN, "kernel %d: step lists %d/%d values, segments %d/%d", st->kernel, st->nin, st->nout,
                 ni, no);
        return -1;
    }
    ni = no = 0;
    for (int sg = 0; sg < fk->nseg; sg++) {
        for (int l = 0; l < fk->seg[sg].nloads; l++) args[na++] = arena_exec_data(ax, st->in[ni++]);
        for (int o = 0; o < fk->seg[sg].nstores; o++) args[na++] = arena_exec_data(ax, st->out[no++]);
    }
    c->jm->fn[st->kernel](args);
    return 0;
}

static int test_fused(void) {
    ir_graph g0, g, lg;
    char err[IR_ERRLEN];
    CHECK(gc_train(&g0, "convnet", 0.25, 16, 4, err) == 0, "%s", err);
    CHECK(simplify(&g0, &g, NULL, err) == 0, "%s", err);
    CHECK(lower_graph(&g, &lg, err) == 0, "%s", err);
    fused_plan fp;
    CHECK(fuse(&lg, &fp, err) == 0, "%s", err);
    fuse_horizontal(&fp);
    memplan m0, mp;
    schedule_stats ss;
    if (plan_and_check_ex(&lg, fp.steps, fp.nsteps, fp.root, &m0, "fused input order")) return 1;
    CHECK(schedule_steps_ex(&lg, fp.steps, fp.nsteps, fp.root, &ss, err) == 0, "%s", err);
    if (plan_and_check_ex(&lg, fp.steps, fp.nsteps, fp.root, &mp, "fused scheduled")) return 1;
    jit_module jm;
    CHECK(jit_c_load(&fp, &jm, err) == 0, "%s", err);
    interp it;
    cpu_exec x;
    arena_exec ax;
    CHECK(interp_init(&it, &lg, 0, err) == 0 && init_persistent(&it, 9, err) == 0, "%s", err);
    /* bit for bit against the arena executor's op-table kernels: the same conv kernels here */
    CHECK(cpu_exec_init_ex(&x, &lg, &fp, &jm, NULL, CPU_CONV_REF, err) == 0, "%s", err);
    CHECK(arena_exec_init(&ax, &lg, fp.steps, fp.nsteps, fp.root, &mp, NULL, err) == 0, "%s", err);
    jit_ctx jc = {&fp, &jm};
    ax.kernel = jit_step;
    ax.kernel_ctx = &jc;
    ax.poison = 1;
    int64_t bad = 0;
    for (int s = 0; s < 2; s++) {
        CHECK(gc_fill_inputs(&it, s, err) == 0, "inputs");
        for (int v = 0; v < lg.nvals; v++) {
            ir_kind k = lg.vals[v].kind;
            if (k == VK_INTER || (k != VK_INPUT && s > 0) || !cpu_exec_data(&x, v)) continue;
            memcpy(cpu_exec_data(&x, v), interp_data(&it, v), (size_t)gc_bytes(&lg, v));
            memcpy(arena_exec_data(&ax, v), interp_data(&it, v), (size_t)gc_bytes(&lg, v));
        }
        CHECK(cpu_exec_run(&x, err) == 0, "cpu backend: %s", err);
        CHECK(arena_exec_run(&ax, err) == 0, "arena executor: %s", err);
        for (int i = 0; i < lg.noutputs; i++)
            bad += gc_compare(&lg, lg.outputs[i], arena_exec_data(&ax, lg.outputs[i]), cpu_exec_data(&x, lg.outputs[i]), 1,
                              "fused output");
        for (int v = 0; v < lg.nvals; v++)
            if (lg.vals[v].kind == VK_PARAM || lg.vals[v].kind == VK_STATE)
                bad += gc_compare(&lg, v, arena_exec_data(&ax, v), cpu_exec_data(&x, v), 1, "fused persistent");
    }
    CHECK(bad == 0, "fused plan: %lld elements differ between the arena and the cpu backend", (long long)bad);
    char a0[32], a1[32], sm[32];
    mb(m0.arena_bytes, a0, sizeof a0);
    mb(mp.arena_bytes, a1, sizeof a1);
    mb(mp.sum_bytes, sm, sizeof sm);
    printf("ok   fused simclr convnet w0.25 16px b4: %d steps (%d kernels), sum %s, arena %s -> %s scheduled [%s]; "
           "2 steps in the arena == cpu backend bit for bit\n",
           fp.nsteps, fp.nkernels, sm, a0, a1, schedule_candidate_name(ss.chosen));
    arena_exec_free(&ax);
    cpu_exec_free(&x);
    interp_free(&it);
    jit_c_unload(&jm);
    memplan_free(&m0);
    memplan_free(&mp);
    fused_plan_free(&fp);
    ir_graph_free(&lg);
    ir_graph_free(&g);
    ir_graph_free(&g0);
    return 0;
}

/* SimCLR, CIFAR ResNet-18 (full width, 32px, batch 128, SGD): graph only, no execution */
static int test_cifar_numbers(void) {
    ir_graph g0, g;
    char err[IR_ERRLEN];
    CHECK(gc_simclr_train(&g0, 1.0, 32, 128, err) == 0, "%s", err);
    simplify_stats ss0;
    CHECK(simplify(&g0, &g, &ss0, err) == 0, "%s", err);
    exec_step *st;
    int n;
    memplan m_in, m_s;
    schedule_stats ss;
    CHECK(exec_steps_unfused(&g, &st, &n, err) == 0, "%s", err);
    if (plan_and_check(&g, st, n, &m_in, "cifar input order")) return 1;
    CHECK(schedule_steps(&g, st, n, &ss, err) == 0, "%s", err);
    if (plan_and_check(&g, st, n, &m_s, "cifar scheduled")) return 1;
    char s[32], a0[32], a1[32], p0[32], p1[32], pe[32];
    mb(m_s.sum_bytes, s, sizeof s);
    mb(m_in.arena_bytes, a0, sizeof a0);
    mb(m_s.arena_bytes, a1, sizeof a1);
    mb(m_in.peak_bytes, p0, sizeof p0);
    mb(m_s.peak_bytes, p1, sizeof p1);
    mb(m_s.persistent_bytes, pe, sizeof pe);
    printf("ok   simclr cifar resnet18 b128 SGD: nodes %d -> %d after simplify; %d intermediates, sum %s; "
           "arena %s (peak live %s) in input order, %s (peak live %s) scheduled [%s]; %d in place; "
           "arena/sum %.3f; persistent %s\n",
           ss0.nodes_in, ss0.nodes_out, m_s.nbuffers, s, a0, p0, a1, p1, schedule_candidate_name(ss.chosen),
           m_s.ninplace, (double)m_s.arena_bytes / (double)m_s.sum_bytes, pe);
    printf("     schedule candidates (peak live):");
    for (int c = 0; c < SCHED_NCAND; c++) {
        char b[32];
        mb(ss.peak_cand[c], b, sizeof b);
        printf(" %s %s%s", schedule_candidate_name(c), ss.peak_cand[c] < 0 ? "-" : b, c + 1 < SCHED_NCAND ? "," : "\n");
    }
    CHECK(m_s.arena_bytes * 2 <= m_s.sum_bytes, "arena %lld > half the sum %lld", (long long)m_s.arena_bytes,
          (long long)m_s.sum_bytes);
    CHECK(m_s.arena_bytes <= m_in.arena_bytes, "scheduling made the arena larger");
    /* the same graph lowered and fused (views, kernels): what the backends will run */
    ir_graph lg;
    fused_plan fp;
    memplan f_in, f_s;
    CHECK(lower_graph(&g, &lg, err) == 0 && fuse(&lg, &fp, err) == 0, "%s", err);
    fuse_horizontal(&fp);
    if (plan_and_check_ex(&lg, fp.steps, fp.nsteps, fp.root, &f_in, "cifar fused")) return 1;
    CHECK(schedule_steps_ex(&lg, fp.steps, fp.nsteps, fp.root, &ss, err) == 0, "%s", err);
    if (plan_and_check_ex(&lg, fp.steps, fp.nsteps, fp.root, &f_s, "cifar fused scheduled")) return 1;
    mb(f_s.sum_bytes, s, sizeof s);
    mb(f_in.arena_bytes, a0, sizeof a0);
    mb(f_s.arena_bytes, a1, sizeof a1);
    mb(f_s.peak_bytes, p1, sizeof p1);
    printf("     fused (%d lowered nodes, %d steps): %d stored intermediates, sum %s; arena %s in input order, %s "
           "(peak live %s) scheduled [%s]; arena/sum %.3f\n",
           lg.nnodes, fp.nsteps, f_s.nbuffers, s, a0, a1, p1, schedule_candidate_name(ss.chosen),
           (double)f_s.arena_bytes / (double)f_s.sum_bytes);
    CHECK(f_s.arena_bytes * 2 <= f_s.sum_bytes && f_s.arena_bytes <= f_in.arena_bytes, "fused arena %lld, sum %lld",
          (long long)f_s.arena_bytes, (long long)f_s.sum_bytes);
    memplan_free(&f_in);
    memplan_free(&f_s);
    fused_plan_free(&fp);
    ir_graph_free(&lg);
    memplan_free(&m_in);
    memplan_free(&m_s);
    free(st);
    ir_graph_free(&g);
    ir_graph_free(&g0);
    return 0;
}

/* per-step scratch buffers (the cpu backend's oneDNN workspaces): placed clear of every value
 * live during their step (checked by brute force here and by the checker), the arena grows by
 * less than their sum, and the checker rejects a scratch buffer moved onto a live value */
static int test_scratch(void) {
    sslc_rng r;
    rng_seed(&r, 77, 5);
    char err[IR_ERRLEN];
    int graphs = 40, caught = 0, placed = 0;
    int64_t sum_plain = 0, sum_scratch = 0, sum_ws = 0;
    for (int it = 0; it < graphs; it++) {
        ir_graph g;
        CHECK(rand_graph(&g, &r) == 0, "random graph %d: %s", it, g.err);
        exec_step *st;
        int n;
        CHECK(exec_steps_unfused(&g, &st, &n, err) == 0, "%s", err);
        int64_t *ws = calloc((size_t)n + 1, sizeof *ws), *off = malloc(((size_t)n + 1) * sizeof *off);
        for (int s = 0; s < n; s++) ws[s] = rng_u32(&r) % 3 ? 0 : 64 * (int64_t)(1 + rng_u32(&r) % 40);
        memplan plain, mp;
        CHECK(memplan_build_ex(&g, st, n, NULL, &plain, err) == 0, "graph %d: %s", it, err);
        CHECK(memplan_build_scratch(&g, st, n, NULL, ws, &mp, off, err) == 0, "graph %d: %s", it, err);
        CHECK(memplan_check_scratch(&g, st, n, NULL, &mp, ws, off, err) == 0, "graph %d: checker rejects: %s", it, err);
        CHECK(oracle_ok(&g, st, n, &mp), "graph %d: the values' placement is wrong", it);
        /* brute force: each scratch buffer against every value live at its step */
        int *def = malloc(((size_t)g.nvals + 1) * sizeof(int)), *last = malloc(((size_t)g.nvals + 1) * sizeof(int));
        for (int v = 0; v < g.nvals; v++) def[v] = last[v] = -1;
        for (int s = 0; s < n; s++) {
            for (int k = 0; k < st[s].nin; k++) last[st[s].in[k]] = s;
            for (int k = 0; k < st[s].nout; k++) def[st[s].out[k]] = last[st[s].out[k]] = s;
        }
        for (int i = 0; i < g.noutputs; i++) last[g.outputs[i]] = n;
        for (int u = 0; u < g.nupdates; u++) last[g.updates[u].src] = n;
        int64_t wsum = 0;
        for (int s = 0; s < n; s++) {
            if (!ws[s]) {
                CHECK(off[s] == -1, "graph %d step %d: offset %lld for no scratch", it, s, (long long)off[s]);
                continue;
            }
            wsum += ws[s];
            placed++;
            CHECK(off[s] >= 0 && off[s] + ws[s] <= mp.arena_bytes, "graph %d step %d: scratch outside the arena", it, s);
            int victim = -1;
            for (int v = 0; v < g.nvals; v++) {
                if (g.vals[v].kind != VK_INTER || def[v] < 0 || def[v] > s || last[v] < s || !gc_bytes(&g, v)) continue;
                int64_t o = mp.loc[v].offset;
                CHECK(o + gc_bytes(&g, v) <= off[s] || off[s] + ws[s] <= o, "graph %d step %d: scratch overlaps %%%d", it,
                      s, v);
                victim = v;
            }
            if (victim >= 0) { /* moved onto a live value: the checker must say so */
                int64_t keep = off[s];
                off[s] = mp.loc[victim].offset;
                CHECK(memplan_check_scratch(&g, st, n, NULL, &mp, ws, off, err) != 0 && strstr(err, "scratch"),
                      "graph %d step %d: scratch over live %%%d accepted", it, s, victim);
                caught++;
                off[s] = keep;
            }
        }
        CHECK(mp.arena_bytes >= plain.arena_bytes && mp.arena_bytes <= plain.arena_bytes + wsum,
              "graph %d: arena %lld with scratch, %lld without, %lld of scratch", it, (long long)mp.arena_bytes,
              (long long)plain.arena_bytes, (long long)wsum);
        sum_plain += plain.arena_bytes, sum_scratch += mp.arena_bytes, sum_ws += wsum;
        memplan_free(&plain), memplan_free(&mp);
        free(def), free(last), free(ws), free(off), free(st);
        ir_graph_free(&g);
    }
    CHECK(placed > 0 && caught > 0, "%d scratch buffers placed, %d misplacements caught", placed, caught);
    printf("ok   %d random graphs with %d scratch buffers (%lld bytes): clear of live values, arena %lld -> %lld bytes; "
           "checker caught %d scratch buffers moved onto live values\n",
           graphs, placed, (long long)sum_ws, (long long)sum_plain, (long long)sum_scratch, caught);
    return 0;
}

int main(void) {
    int failed = 0, passed = 0;
    int (*tests[])(void) = {test_checker, test_random, test_scratch, test_simclr_arena, test_fused, test_cifar_numbers};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i]() ? failed++ : passed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
