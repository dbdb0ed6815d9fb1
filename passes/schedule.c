/* schedule: candidate orders of a step list, the lowest simulated peak wins (see schedule.h). */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memplan.h"
#include "steps.h"

typedef struct {
    const ir_graph *g;
    exec_step *st;       /* the steps with values resolved to their storage roots (owned) */
    int n, nv;
    int *prod;           /* value -> writing step, -1 */
    unsigned char *keep; /* value lives to the end (graph output, update source) */
    int64_t *sz;         /* aligned bytes of step-written values, 0 otherwise */
    int *in_off, *ins;   /* per step: distinct step-written values it reads (CSR) */
    int *succ_off, *succ; /* per step: distinct successor steps (CSR) */
    int *npred;          /* distinct predecessor steps */
    int *nreaders;       /* value -> distinct reading steps */
} sgraph;

static const char *const cand_names[SCHED_NCAND] = {"input", "greedy", "frees-first", "rpo", "rpo-rev", "greedy-casts"};
const char *schedule_candidate_name(int i) { return i >= 0 && i < SCHED_NCAND ? cand_names[i] : "?"; }

static int64_t align_up(int64_t b) { return (b + MEMPLAN_ALIGN - 1) / MEMPLAN_ALIGN * MEMPLAN_ALIGN; }

static void sg_free(sgraph *sg) {
    free(sg->prod), free(sg->keep), free(sg->sz), free(sg->in_off), free(sg->ins);
    free(sg->succ_off), free(sg->succ), free(sg->npred), free(sg->nreaders), free(sg->st);
    memset(sg, 0, sizeof *sg);
}

/* Builds the dependency graph. Returns 0, -1 (err set). */
static int sg_build(sgraph *sg, const ir_graph *g, const exec_step *steps, int n, const int *root, char *err) {
    memset(sg, 0, sizeof *sg);
    if (exec_steps_validate(g, steps, n, err) || exec_steps_resolve(g, steps, n, root, &sg->st, err)) return -1;
    const exec_step *st = sg->st;
    sg->g = g, sg->n = n, sg->nv = g->nvals;
    int nv = g->nvals;
    size_t nargs = 0;
    for (int s = 0; s < n; s++) nargs += (size_t)st[s].nin;
    sg->prod = malloc(((size_t)nv + 1) * sizeof(int));
    sg->keep = calloc((size_t)nv + 1, 1);
    sg->sz = calloc((size_t)nv + 1, sizeof(int64_t));
    sg->in_off = calloc((size_t)n + 1, sizeof(int));
    sg->ins = malloc((nargs + 1) * sizeof(int));
    sg->succ_off = calloc((size_t)n + 2, sizeof(int));
    sg->succ = malloc((nargs + 1) * sizeof(int));
    sg->npred = calloc((size_t)n + 1, sizeof(int));
    sg->nreaders = calloc((size_t)nv + 1, sizeof(int));
    int *stamp = malloc(((size_t)nv + (size_t)n + 1) * sizeof(int));
    if (!sg->prod || !sg->keep || !sg->sz || !sg->in_off || !sg->ins || !sg->succ_off || !sg->succ || !sg->npred ||
        !sg->nreaders || !stamp) {
        free(stamp);
        sg_free(sg);
        snprintf(err, IR_ERRLEN, "out of memory scheduling");
        return -1;
    }
    for (int v = 0; v < nv; v++) sg->prod[v] = -1;
    for (int i = 0; i < nv + n; i++) stamp[i] = -1;
    for (int s = 0; s < n; s++)
        for (int k = 0; k < st[s].nout; k++) {
            int v = st[s].out[k];
            sg->prod[v] = s;
            sg->sz[v] = align_up(exec_value_bytes(g, v));
        }
    for (int i = 0; i < g->noutputs + g->nupdates; i++) {
        int v = i < g->noutputs ? g->outputs[i] : g->updates[i - g->noutputs].src;
        if (v >= 0 && v < nv && exec_root(root, v) >= 0) sg->keep[exec_root(root, v)] = 1;
    }
    int m = 0;
    for (int s = 0; s < n; s++) {
        sg->in_off[s] = m;
        for (int k = 0; k < st[s].nin; k++) {
            int v = st[s].in[k];
            if (g->vals[v].kind != VK_INTER) continue;
            if (sg->prod[v] < 0) {
                snprintf(err, IR_ERRLEN, "step %d reads intermediate %%%d%s%s that no step writes", s, v,
                         g->vals[v].name ? " " : "", g->vals[v].name ? g->vals[v].name : "");
                free(stamp);
                sg_free(sg);
                return -1;
            }
            if (stamp[v] == s) continue;
            stamp[v] = s;
            sg->ins[m++] = v;
            sg->nreaders[v]++;
        }
    }
    sg->in_off[n] = m;
    /* successors: count distinct (pred, s) pairs */
    for (int i = 0; i < nv + n; i++) stamp[i] = -1;
    for (int s = 0; s < n; s++)
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
            int p = sg->prod[sg->ins[j]];
            if (p == s || stamp[nv + p] == s) continue;
            stamp[nv + p] = s;
            sg->succ_off[p + 1]++;
            sg->npred[s]++;
        }
    for (int s = 0; s < n; s++) sg->succ_off[s + 1] += sg->succ_off[s];
    int *fill = malloc(((size_t)n + 1) * sizeof(int));
    if (!fill) {
        free(stamp);
        sg_free(sg);
        snprintf(err, IR_ERRLEN, "out of memory scheduling");
        return -1;
    }
    memcpy(fill, sg->succ_off, (size_t)n * sizeof(int));
    for (int i = 0; i < nv + n; i++) stamp[i] = -1;
    for (int s = 0; s < n; s++)
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
            int p = sg->prod[sg->ins[j]];
            if (p == s || stamp[nv + p] == s) continue;
            stamp[nv + p] = s;
            sg->succ[fill[p]++] = s;
        }
    free(fill);
    free(stamp);
    for (int s = 0; s < n; s++)
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++)
            if (sg->prod[sg->ins[j]] == s) {
                snprintf(err, IR_ERRLEN, "step %d reads a value it writes", s);
                sg_free(sg);
                return -1;
            }
    return 0;
}

/* Output k of step s reuses its in-place input's storage if that input dies here. `dies(v)`
 * is given by last-reader information of the caller. */
static int reuse_input(const sgraph *sg, int s, int k, const unsigned char *dies_here) {
    const exec_step *st = &sg->st[s];
    int j = st->inplace[k];
    if (j < 0) return -1;
    int i = st->in[j], o = st->out[k];
    if (sg->sz[i] == 0 || sg->prod[i] < 0 || sg->keep[i] || !dies_here[i] || sg->sz[i] != sg->sz[o]) return -1;
    return i;
}

/* Peak of an order (perm[t] = step), or -1 if it breaks a dependency. */
static int64_t sg_peak(const sgraph *sg, const int *perm) {
    int n = sg->n, nv = sg->nv;
    int *pos = malloc(((size_t)n + 1) * sizeof(int)), *lastpos = malloc(((size_t)nv + 1) * sizeof(int));
    unsigned char *dies = calloc((size_t)nv + 1, 1), *reused = calloc((size_t)nv + 1, 1);
    int64_t live = 0, peak = 0;
    if (!pos || !lastpos || !dies || !reused) {
        peak = -1;
        goto out;
    }
    for (int t = 0; t < n; t++) pos[perm[t]] = t;
    for (int v = 0; v < nv; v++) lastpos[v] = -1;
    for (int t = 0; t < n; t++) {
        int s = perm[t];
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
            int v = sg->ins[j];
            if (pos[sg->prod[v]] >= t) {
                peak = -1;
                goto out;
            }
            lastpos[v] = t;
        }
    }
    for (int t = 0; t < n; t++) {
        int s = perm[t];
        const exec_step *st = &sg->st[s];
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) dies[sg->ins[j]] = lastpos[sg->ins[j]] == t;
        for (int k = 0; k < st->nout; k++) {
            int i = reuse_input(sg, s, k, dies);
            if (i >= 0 && !reused[i])
                reused[i] = 1;
            else
                live += sg->sz[st->out[k]];
        }
        if (live > peak) peak = live;
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
            int v = sg->ins[j];
            if (dies[v] && !sg->keep[v] && !reused[v]) live -= sg->sz[v];
            dies[v] = 0;
        }
        for (int k = 0; k < st->nout; k++) {
            int o = st->out[k];
            if (lastpos[o] < 0 && !sg->keep[o]) live -= sg->sz[o];
        }
    }
out:
    free(pos), free(lastpos), free(dies), free(reused);
    return peak;
}

/* List scheduling. policy 0: smallest (allocated - freed), then input position;
 * policy 1: a step that frees at least what it allocates (input position), else input position. */
static int sg_greedy(const sgraph *sg, int policy, int *perm) {
    int n = sg->n, nv = sg->nv, nready = 0, rc = -1;
    int *indeg = malloc(((size_t)n + 1) * sizeof(int)), *ready = malloc(((size_t)n + 1) * sizeof(int));
    int *remaining = malloc(((size_t)nv + 1) * sizeof(int));
    unsigned char *dies = calloc((size_t)nv + 1, 1), *taken = calloc((size_t)nv + 1, 1);
    if (!indeg || !ready || !remaining || !dies || !taken) goto out;
    memcpy(indeg, sg->npred, (size_t)n * sizeof(int));
    memcpy(remaining, sg->nreaders, (size_t)nv * sizeof(int));
    for (int s = 0; s < n; s++)
        if (indeg[s] == 0) ready[nready++] = s;
    for (int t = 0; t < n; t++) {
        if (nready == 0) goto out; /* cycle */
        int best = -1;
        int64_t best_delta = 0;
        for (int r = 0; r < nready; r++) {
            int s = ready[r];
            const exec_step *st = &sg->st[s];
            int64_t alloc = 0, freed = 0;
            for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) dies[sg->ins[j]] = remaining[sg->ins[j]] == 1;
            for (int k = 0; k < st->nout; k++) {
                int i = reuse_input(sg, s, k, dies);
                if (i >= 0 && !taken[i])
                    taken[i] = 1;
                else if (sg->nreaders[st->out[k]] > 0 || sg->keep[st->out[k]])
                    alloc += sg->sz[st->out[k]];
            }
            for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
                int v = sg->ins[j];
                if (dies[v] && !sg->keep[v] && !taken[v]) freed += sg->sz[v];
                dies[v] = taken[v] = 0;
            }
            int64_t delta = alloc - freed;
            int better;
            if (best < 0)
                better = 1;
            else if (policy == 0)
                better = delta < best_delta || (delta == best_delta && s < ready[best]);
            else {
                int a = delta <= 0, b = best_delta <= 0;
                better = a != b ? a : s < ready[best];
            }
            if (better) best = r, best_delta = delta;
        }
        int s = ready[best];
        ready[best] = ready[--nready];
        perm[t] = s;
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) remaining[sg->ins[j]]--;
        for (int j = sg->succ_off[s]; j < sg->succ_off[s + 1]; j++)
            if (--indeg[sg->succ[j]] == 0) ready[nready++] = sg->succ[j];
    }
    rc = 0;
out:
    free(indeg), free(ready), free(remaining), free(dies), free(taken);
    return rc;
}

/* A step that only writes bf16 copies (--precision bf16: Cast(x, bf16) for a product, a kernel
 * of its own when x is a parameter or an activation read again in the backward pass). */
static int sg_is_cast(const sgraph *sg, int s) {
    const exec_step *st = &sg->st[s];
    for (int k = 0; k < st->nout; k++)
        if (sg->g->vals[st->out[k]].dtype != DT_BF16) return 0;
    return st->nout > 0;
}

/* List scheduling as the float32 graph would see it (--precision bf16): a cast step runs just
 * before the first step that reads its copy and is not a choice of its own, bf16 copies cost
 * nothing, and a step that reads a copy is charged with the cast's reads (its float32 operand
 * dies there as it would in the float32 graph). Otherwise policy 0 of sg_greedy. The extra
 * steps of bf16 otherwise change the greedy's choices (BYOL: 294 MiB against float32's 226). */
static int sg_greedy_casts(const sgraph *sg, int *perm) {
    int n = sg->n, nv = sg->nv, nready = 0, t = 0, rc = -1;
    int *indeg = malloc(((size_t)n + 1) * sizeof(int)), *ready = malloc(((size_t)n + 1) * sizeof(int));
    int *remaining = malloc(((size_t)nv + 1) * sizeof(int)), *hits = calloc((size_t)nv + 1, sizeof(int));
    int *pend = malloc(((size_t)n + 1) * sizeof(int)), *enable = malloc(((size_t)n + 1) * sizeof(int));
    unsigned char *cast = calloc((size_t)n + 1, 1), *done = calloc((size_t)n + 1, 1);
    if (!indeg || !ready || !remaining || !hits || !pend || !enable || !cast || !done) goto out;
    memcpy(indeg, sg->npred, (size_t)n * sizeof(int));
    memcpy(remaining, sg->nreaders, (size_t)nv * sizeof(int));
    int nenable = 0;
    for (int s = 0; s < n; s++) {
        cast[s] = (unsigned char)sg_is_cast(sg, s);
        if (indeg[s] == 0) (cast[s] ? enable[nenable++] = s : (ready[nready++] = s));
    }
    /* an enabled cast (its inputs are written) counts as done for its readers' readiness */
    while (nenable) {
        int c = enable[--nenable];
        for (int j = sg->succ_off[c]; j < sg->succ_off[c + 1]; j++) {
            int x = sg->succ[j];
            if (--indeg[x] == 0) (cast[x] ? enable[nenable++] = x : (ready[nready++] = x));
        }
    }
    while (t < n) {
        if (nready == 0) goto out; /* a cycle, or casts nobody reads */
        int best = -1;
        int64_t best_delta = 0;
        for (int r = 0; r < nready; r++) {
            int s = ready[r], np = 0;
            /* s and the casts it waits for */
            pend[np++] = s;
            for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
                int p = sg->prod[sg->ins[j]];
                if (cast[p] && !done[p]) {
                    int dup = 0;
                    for (int q = 1; q < np; q++) dup |= pend[q] == p;
                    if (!dup) pend[np++] = p;
                }
            }
            int64_t alloc = 0, freed = 0;
            for (int q = 0; q < np; q++)
                for (int j = sg->in_off[pend[q]]; j < sg->in_off[pend[q] + 1]; j++) hits[sg->ins[j]]++;
            for (int k = 0; k < sg->st[s].nout; k++) {
                int o = sg->st[s].out[k];
                if (sg->g->vals[o].dtype != DT_BF16 && (sg->nreaders[o] > 0 || sg->keep[o])) alloc += sg->sz[o];
            }
            for (int q = 0; q < np; q++)
                for (int j = sg->in_off[pend[q]]; j < sg->in_off[pend[q] + 1]; j++) {
                    int v = sg->ins[j];
                    if (hits[v] && hits[v] == remaining[v] && !sg->keep[v] && sg->g->vals[v].dtype != DT_BF16)
                        freed += sg->sz[v];
                    hits[v] = 0;
                }
            int64_t delta = alloc - freed;
            if (best < 0 || delta < best_delta || (delta == best_delta && s < ready[best])) best = r, best_delta = delta;
        }
        int s = ready[best];
        ready[best] = ready[--nready];
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
            int p = sg->prod[sg->ins[j]];
            if (!cast[p] || done[p]) continue;
            done[p] = 1, perm[t++] = p;
            for (int i = sg->in_off[p]; i < sg->in_off[p + 1]; i++) remaining[sg->ins[i]]--;
        }
        done[s] = 1, perm[t++] = s;
        for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) remaining[sg->ins[j]]--;
        for (int j = sg->succ_off[s]; j < sg->succ_off[s + 1]; j++) {
            int x = sg->succ[j];
            if (--indeg[x] == 0) (cast[x] ? enable[nenable++] = x : (ready[nready++] = x));
        }
        while (nenable) {
            int c = enable[--nenable];
            for (int j = sg->succ_off[c]; j < sg->succ_off[c + 1]; j++) {
                int x = sg->succ[j];
                if (--indeg[x] == 0) (cast[x] ? enable[nenable++] = x : (ready[nready++] = x));
            }
        }
    }
    rc = 0;
out:
    free(indeg), free(ready), free(remaining), free(hits), free(pend), free(enable), free(cast), free(done);
    return rc;
}

/* Reverse post-order of an iterative DFS along successors. rev: roots and successors in
 * descending step order (else ascending). */
static int sg_rpo(const sgraph *sg, int rev, int *perm) {
    int n = sg->n, top = 0, cnt = 0;
    int *stack = malloc(((size_t)n + 1) * sizeof(int)), *it = calloc((size_t)n + 1, sizeof(int));
    unsigned char *seen = calloc((size_t)n + 1, 1);
    if (!stack || !it || !seen) {
        free(stack), free(it), free(seen);
        return -1;
    }
    for (int r0 = 0; r0 < n; r0++) {
        int root = rev ? n - 1 - r0 : r0;
        if (seen[root] || sg->npred[root]) continue;
        seen[root] = 1;
        stack[top++] = root;
        while (top) {
            int s = stack[top - 1];
            int deg = sg->succ_off[s + 1] - sg->succ_off[s];
            if (it[s] < deg) {
                int j = it[s]++;
                int c = sg->succ[rev ? sg->succ_off[s + 1] - 1 - j : sg->succ_off[s] + j];
                if (!seen[c]) {
                    seen[c] = 1;
                    stack[top++] = c;
                }
            } else {
                perm[n - 1 - cnt++] = s;
                top--;
            }
        }
    }
    free(stack), free(it), free(seen);
    return cnt == n ? 0 : -1; /* unreachable steps only in a cycle */
}

int64_t schedule_peak_bytes(const ir_graph *g, const exec_step *steps, int nsteps) {
    return schedule_peak_bytes_ex(g, steps, nsteps, NULL);
}

int64_t schedule_peak_bytes_ex(const ir_graph *g, const exec_step *steps, int nsteps, const int *root) {
    char err[IR_ERRLEN];
    sgraph sg;
    if (sg_build(&sg, g, steps, nsteps, root, err)) return -1;
    int *perm = malloc(((size_t)nsteps + 1) * sizeof(int));
    int64_t p = -1;
    if (perm) {
        for (int s = 0; s < nsteps; s++) perm[s] = s;
        p = sg_peak(&sg, perm);
    }
    free(perm);
    sg_free(&sg);
    return p;
}

static int sg_op(const sgraph *sg, int s) {
    return sg->st[s].kind == STEP_NODE ? sg->g->nodes[sg->st[s].node].op : -1;
}

/* moves the step at index from to index to of perm, keeping the others' order; pos follows */
static void perm_move(int *perm, int *pos, int from, int to) {
    int s = perm[from];
    if (from > to)
        memmove(&perm[to + 1], &perm[to], (size_t)(from - to) * sizeof *perm);
    else
        memmove(&perm[from], &perm[from + 1], (size_t)(to - from) * sizeof *perm);
    perm[to] = s;
    int lo = from < to ? from : to, hi = from < to ? to : from;
    for (int i = lo; i <= hi; i++) pos[perm[i]] = i;
}

/* Moves step s to just after the last step it reads from, first moving there the steps that
 * exist only to feed it (every successor already in `mine`: a bucket's Concat kernel). */
static void hoist(const sgraph *sg, int *perm, int *pos, unsigned char *mine, int s) {
    mine[s] = 1;
    for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
        int p = sg->prod[sg->ins[j]], only = 1;
        if (p == s || mine[p]) continue;
        for (int k = sg->succ_off[p]; k < sg->succ_off[p + 1] && only; k++) only = mine[sg->succ[k]];
        if (only && !sg->keep[sg->ins[j]]) hoist(sg, perm, pos, mine, p);
    }
    int after = -1;
    for (int j = sg->in_off[s]; j < sg->in_off[s + 1]; j++) {
        int p = sg->prod[sg->ins[j]];
        if (p != s && pos[p] > after) after = pos[p];
    }
    if (after + 1 < pos[s]) perm_move(perm, pos, pos[s], after + 1);
}

/* Overlap of the split AllReduces (AllReduceStart / AllReduceWait): each start as soon as its
 * input exists, each wait just before the first step that reads its result (at the end if
 * none does), so the communication runs while the steps between them compute. Both moves keep
 * every dependency; the memory plan then keeps the buffer alive from start to wait (the wait
 * reads it). -1 when out of memory. */
static int sg_overlap(const sgraph *sg, int *perm) {
    int n = sg->n;
    int *pos = malloc(((size_t)n + 1) * sizeof *pos);
    unsigned char *mine = malloc((size_t)n + 1);
    if (!pos || !mine) {
        free(pos), free(mine);
        return -1;
    }
    for (int i = 0; i < n; i++) pos[perm[i]] = i;
    for (int i = 0; i < n; i++) {
        int s = perm[i];
        if (sg_op(sg, s) != OP_AllReduceStart) continue;
        memset(mine, 0, (size_t)n);
        hoist(sg, perm, pos, mine, s);
    }
    for (int i = n - 1; i >= 0; i--) {
        int s = perm[i];
        if (sg_op(sg, s) != OP_AllReduceWait) continue;
        int before = n;
        for (int k = sg->succ_off[s]; k < sg->succ_off[s + 1]; k++)
            if (pos[sg->succ[k]] < before) before = pos[sg->succ[k]];
        if (before - 1 > pos[s]) perm_move(perm, pos, pos[s], before - 1);
    }
    free(pos), free(mine);
    return 0;
}

int schedule_steps(const ir_graph *g, exec_step *steps, int nsteps, schedule_stats *st, char *err) {
    return schedule_steps_ex(g, steps, nsteps, NULL, st, err);
}

int schedule_steps_ex(const ir_graph *g, exec_step *steps, int nsteps, const int *root, schedule_stats *st,
                      char *err) {
    schedule_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    for (int c = 0; c < SCHED_NCAND; c++) st->peak_cand[c] = st->arena_cand[c] = -1;
    sgraph sg;
    if (sg_build(&sg, g, steps, nsteps, root, err)) return -1;
    int rc = -1, n = nsteps;
    int *perm[SCHED_NCAND] = {0};
    exec_step *copy = NULL;
    for (int c = 0; c < SCHED_NCAND; c++)
        if (!(perm[c] = malloc(((size_t)n + 1) * sizeof(int)))) goto oom;
    for (int s = 0; s < n; s++) perm[0][s] = s;
    st->peak_cand[0] = sg_peak(&sg, perm[0]);
    if (st->peak_cand[0] < 0) {
        /* the input order breaks a dependency: still schedulable if acyclic */
        st->peak_cand[0] = -1;
    }
    int ok[SCHED_NCAND] = {st->peak_cand[0] >= 0, 0, 0, 0, 0, 0};
    ok[1] = sg_greedy(&sg, 0, perm[1]) == 0;
    ok[2] = sg_greedy(&sg, 1, perm[2]) == 0;
    ok[3] = sg_rpo(&sg, 0, perm[3]) == 0;
    ok[4] = sg_rpo(&sg, 1, perm[4]) == 0;
    int ncast = 0;
    for (int s = 0; s < n; s++) ncast += sg_is_cast(&sg, s);
    ok[5] = ncast > 0 && sg_greedy_casts(&sg, perm[5]) == 0; /* the float32 graph's greedy */
    if (!ok[1]) {
        snprintf(err, IR_ERRLEN, "schedule: the steps have a dependency cycle");
        goto out;
    }
    for (int c = 0; c < SCHED_NCAND; c++)
        if (ok[c] && sg_overlap(&sg, perm[c])) goto oom;
    if (ok[0]) st->peak_cand[0] = sg_peak(&sg, perm[0]);
    if (!(copy = malloc(((size_t)n + 1) * sizeof(exec_step)))) goto oom;
    int best = -1;
    for (int c = 0; c < SCHED_NCAND; c++) {
        if (!ok[c]) continue;
        if (c > 0) st->peak_cand[c] = sg_peak(&sg, perm[c]);
        if (st->peak_cand[c] < 0) continue;
        /* the cost is the arena the memory planner makes of this order (fragmentation included) */
        for (int t = 0; t < n; t++) copy[t] = steps[perm[c][t]];
        memplan mp;
        char perr[IR_ERRLEN];
        st->arena_cand[c] = memplan_build_ex(g, copy, n, root, &mp, perr) == 0 ? mp.arena_bytes : st->peak_cand[c];
        memplan_free(&mp);
        if (best < 0 || st->arena_cand[c] < st->arena_cand[best] ||
            (st->arena_cand[c] == st->arena_cand[best] && st->peak_cand[c] < st->peak_cand[best]))
            best = c;
    }
    if (best < 0) goto oom;
    st->peak_input = st->peak_cand[0];
    st->arena_input = st->arena_cand[0];
    st->peak = st->peak_cand[best];
    st->arena = st->arena_cand[best];
    st->chosen = best;
    memcpy(copy, steps, (size_t)n * sizeof(exec_step));
    for (int t = 0; t < n; t++) steps[t] = copy[perm[best][t]];
    rc = 0;
    goto out;
oom:
    snprintf(err, IR_ERRLEN, "out of memory scheduling");
out:
    free(copy);
    for (int c = 0; c < SCHED_NCAND; c++) free(perm[c]);
    sg_free(&sg);
    return rc;
}
