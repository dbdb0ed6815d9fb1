/* sslc inspect FILE [--params] [--json]: what a plan contains. */
#include <stdio.h>
#include <string.h>

#include "../codegen/compiled_step.h"
#include "../passes/data_parallel.h"
#include "../passes/mixed_precision.h"
#include "../passes/pipeline.h"
#include "../runtime/comm.h"
#include "../runtime/planfile.h"
#include "cli.h"

typedef struct {
    int nodes, params, states, inputs;
    int64_t param_elems, state_elems, flops;
    /* the compiled step (lower + fuse + schedule + memory plan) */
    int lowered_nodes, launches, kernels, library, merged;
    int64_t arena_bytes, intermediate_bytes, persistent_bytes;
    remat_stats remat; /* forward values the backward pass recomputes */
    int64_t f32_arena_bytes; /* a bf16 plan: the arena of its float32 twin; 0 otherwise */
    /* what the plan file holds of it (stored: 0 when the runtime rebuilds it) */
    int stored;
    int64_t c_bytes, cuda_bytes;
    int ncubins, cubin_arch[STEP_MAX_ARCHS];
    int64_t cubin_bytes[STEP_MAX_ARCHS];
    /* data-parallel plans: the launches (1-based) that issue the gradient buckets' AllReduce
     * (blocking) or their AllReduceStart and AllReduceWait (overlapped), and the last launch
     * that computes a gradient (the end of the backward pass) */
    int nbucket, bucket_launch[16], nstart, start_launch[16], nwait, wait_launch[16], last_grad_launch;
} plan_stats;

static plan_stats stats_of(const ir_graph *g) {
    plan_stats s;
    memset(&s, 0, sizeof s);
    s.nodes = g->nnodes;
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *x = &g->vals[v];
        if (x->kind == VK_PARAM) s.params++, s.param_elems += ir_numel(&x->shape);
        if (x->kind == VK_STATE) s.states++, s.state_elems += ir_numel(&x->shape);
        if (x->kind == VK_INPUT) s.inputs++;
    }
    s.flops = ir_graph_flops(g);
    return s;
}

/* where the schedule puts the gradient buckets: a bucket issued before the backward pass ends
 * could overlap it */
static void bucket_stats(const exec_plan *ep, plan_stats *s) {
    const ir_graph *g = &ep->lowered;
    s->nbucket = s->nstart = s->nwait = 0, s->last_grad_launch = 0;
    for (int i = 0; i < ep->fp.nsteps; i++) {
        const exec_step *st = &ep->fp.steps[i];
        for (int k = 0; k < st->nout; k++) {
            const char *n = g->vals[st->out[k]].name;
            if (n && !strncmp(n, "grad.", 5) && strstr(n, ".local")) s->last_grad_launch = i + 1;
        }
        if (st->kind != STEP_NODE) continue;
        int op = g->nodes[st->node].op;
        const char *n = g->vals[g->nodes[st->node].out[0]].name;
        if (!n || strncmp(n, "dp.bucket.", 10)) continue;
        if (op == OP_AllReduce && s->nbucket < 16) s->bucket_launch[s->nbucket++] = i + 1;
        if (op == OP_AllReduceStart && s->nstart < 16) s->start_launch[s->nstart++] = i + 1;
        if (op == OP_AllReduceWait && s->nwait < 16) s->wait_launch[s->nwait++] = i + 1;
    }
}

static void step_stats(const exec_plan *ep, plan_stats *s) {
    bucket_stats(ep, s);
    s->lowered_nodes = ep->lowered.nnodes;
    s->launches = ep->fp.nsteps;
    s->kernels = ep->nkernels;
    s->library = ep->nlibrary;
    s->merged = ep->merged;
    s->arena_bytes = ep->mp.arena_bytes;
    s->intermediate_bytes = ep->mp.sum_bytes;
    s->persistent_bytes = ep->mp.persistent_bytes;
}

/* What one step sends per rank through its collectives, as ring algorithms move it
 * (comm_ring_bytes), against the lower bound of all-reducing the gradients, 2(N-1)/N x their
 * bytes. One line; nothing for a one-rank plan. */
static void print_comm(const ir_graph *g, const plan_stats *s) {
    int ranks = dp_graph_ranks(g);
    if (ranks <= 1) return;
    double sent = 0, bucket_sent = 0, grad_bytes = 0;
    int ncoll = 0, nbuckets = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        int split = n->op == OP_AllGather || n->op == OP_ReduceScatter; /* payload: the input */
        const ir_value *x = &g->vals[split ? n->in[0] : n->out[0]];
        double b = comm_ring_bytes(n->op, (double)ir_numel(&x->shape) * (double)ir_dtype_size(x->dtype), ranks);
        if (b <= 0) continue;
        ncoll++, sent += b;
        const char *name = g->vals[n->out[0]].name;
        if (name && !strncmp(name, "dp.bucket.", 10)) bucket_sent += b, nbuckets++;
    }
    for (int k = 0; k < g->noutputs; k++) {
        const ir_value *x = &g->vals[g->outputs[k]];
        if (x->name && !strncmp(x->name, "grad.", 5)) grad_bytes += (double)ir_numel(&x->shape) * (double)ir_dtype_size(x->dtype);
    }
    double bound = 2.0 * (ranks - 1) / ranks * grad_bytes, mib = 1048576.0;
    printf("communication per step and rank (%d ranks, ring algorithms): %.3f MiB sent by %d collectives; gradients "
           "%.3f MiB, ring all-reduce lower bound 2(N-1)/N x gradients = %.3f MiB; the %d gradient buckets send %.3f "
           "MiB (%.2f x the bound), the other collectives (BatchNorm statistics, gathers, loss) %.3f MiB\n",
           ranks, sent / mib, ncoll, grad_bytes / mib, bound / mib, nbuckets, bucket_sent / mib,
           bound > 0 ? bucket_sent / bound : 0.0, (sent - bucket_sent) / mib);
    if (s->nbucket) {
        printf("gradient buckets issued at launch");
        for (int i = 0; i < s->nbucket; i++) printf("%s %d", i ? "," : "", s->bucket_launch[i]);
        printf(" of %d (blocking); the last local gradient is computed at launch %d\n", s->launches,
               s->last_grad_launch);
    }
    if (!s->nstart) return;
    int early = 0;
    printf("gradient buckets started at launch");
    for (int i = 0; i < s->nstart; i++) {
        printf("%s %d", i ? "," : "", s->start_launch[i]);
        early += s->start_launch[i] < s->last_grad_launch;
    }
    printf(" and waited for at launch");
    for (int i = 0; i < s->nwait; i++) printf("%s %d", i ? "," : "", s->wait_launch[i]);
    printf(" of %d; the last local gradient is computed at launch %d: %d of %d buckets overlap the backward pass\n",
           s->launches, s->last_grad_launch, early, s->nstart);
}

/* the stored step as it is; without one, the step the runtime would build */
static int exec_stats(const sslc_plan *p, plan_stats *s, char *err) {
    if (p->has_step) {
        const compiled_step *cs = &p->step;
        step_stats(&cs->ep, s);
        s->stored = 1;
        s->c_bytes = (int64_t)compiled_step_c_bytes(cs);
        s->cuda_bytes = (int64_t)compiled_step_cuda_bytes(cs);
        s->ncubins = cs->ncubins;
        for (int i = 0; i < cs->ncubins; i++) s->cubin_arch[i] = cs->cubin[i].arch, s->cubin_bytes[i] = (int64_t)cs->cubin[i].size;
        /* the plan stores the rewritten graph, not what the rewrite did: do it again */
        ir_graph lg;
        int rc = exec_plan_lower(&p->train, &lg, &s->remat, err);
        ir_graph_free(&lg);
        return rc;
    }
    exec_plan ep;
    if (exec_plan_build(&p->train, &ep, err)) return -1;
    step_stats(&ep, s);
    s->remat = ep.remat;
    exec_plan_free(&ep);
    return 0;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* --precision bf16: the arena of the same step in float32 (the casts removed), 0 for an f32 plan */
static int f32_twin_arena(const sslc_plan *p, int64_t *bytes, char *err) {
    *bytes = 0;
    if (!ir_graph_has_bf16(&p->train)) return 0;
    ir_graph g;
    exec_plan ep;
    int rc = bf16_strip(&p->train, &g, err) || exec_plan_build(&g, &ep, err) ? -1 : 0;
    if (!rc) *bytes = ep.mp.arena_bytes, exec_plan_free(&ep);
    ir_graph_free(&g);
    return rc;
}

static void print_json(const sslc_plan *p, const plan_stats *s, int with_params) {
    const ir_graph *g = &p->train;
    printf("{\"method\":");
    json_str(stdout, p->method);
    printf(",\"nodes\":%d,\"parameters\":%d,\"parameter_elements\":%lld,\"state_tensors\":%d,"
           "\"state_elements\":%lld,\"inputs\":%d,\"flops_per_step\":%lld,\"lowered_nodes\":%d,"
           "\"launches\":%d,\"fused_kernels\":%d,\"library_calls\":%d,\"launches_per_node\":%.4f,"
           "\"arena_bytes\":%lld,\"intermediate_bytes\":%lld,\"arena_fraction\":%.4f,\"persistent_bytes\":%lld,"
           "\"recomputed_values\":%d,\"recomputed_bytes\":%lld,\"f32_arena_bytes\":%lld,",
           s->nodes, s->params, (long long)s->param_elems, s->states, (long long)s->state_elems, s->inputs,
           (long long)s->flops, s->lowered_nodes, s->launches, s->kernels, s->library,
           (double)s->launches / (double)(s->nodes ? s->nodes : 1), (long long)s->arena_bytes,
           (long long)s->intermediate_bytes, (double)s->arena_bytes / (double)(s->intermediate_bytes ? s->intermediate_bytes : 1),
           (long long)s->persistent_bytes, s->remat.values, (long long)s->remat.bytes,
           (long long)(s->f32_arena_bytes ? s->f32_arena_bytes : s->arena_bytes));
    printf("\"step_stored\":%s,\"kernel_c_bytes\":%lld,\"kernel_cuda_bytes\":%lld,\"cubins\":[", s->stored ? "true" : "false",
           (long long)s->c_bytes, (long long)s->cuda_bytes);
    for (int i = 0; i < s->ncubins; i++)
        printf("%s{\"arch\":\"sm_%d\",\"bytes\":%lld}", i ? "," : "", s->cubin_arch[i], (long long)s->cubin_bytes[i]);
    printf("],\"backbone_onnx_bytes\":%zu,\"options\":{", p->backbone_onnx_len);
    for (int i = 0; i < p->nopts; i++) {
        if (i) printf(",");
        json_str(stdout, p->keys[i]);
        printf(":");
        json_str(stdout, p->vals[i]);
    }
    printf("}");
    if (with_params) {
        printf(",\"tensors\":[");
        int first = 1;
        for (int v = 0; v < g->nvals; v++) {
            const ir_value *x = &g->vals[v];
            if (x->kind != VK_PARAM && x->kind != VK_STATE) continue;
            printf("%s{\"name\":", first ? "" : ",");
            json_str(stdout, x->name);
            printf(",\"kind\":\"%s\",\"dtype\":\"%s\",\"shape\":[", ir_kind_name(x->kind), ir_dtype_name(x->dtype));
            for (int d = 0; d < x->shape.ndim; d++) printf("%s%lld", d ? "," : "", (long long)x->shape.d[d]);
            printf("]}");
            first = 0;
        }
        printf("]");
    }
    printf("}\n");
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int with_params = 0, json = 0, dump = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--params"))
            with_params = 1;
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--graph"))
            dump = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: sslc inspect FILE [--params] [--json] [--graph]\n");
            return 0;
        } else if (argv[i][0] == '-')
            return cli_error("inspect: unknown option '%s' (options: --params, --json, --graph)", argv[i]);
        else if (path)
            return cli_error("inspect: unexpected argument '%s'", argv[i]);
        else
            path = argv[i];
    }
    if (!path) return cli_error("inspect: which plan file?");
    sslc_plan p;
    char err[IR_ERRLEN];
    plan_init(&p);
    if (plan_read(&p, path, err)) {
        plan_free(&p);
        fprintf(stderr, "sslc: %s\n", err);
        return CLI_RUN_ERROR;
    }
    plan_stats s = stats_of(&p.train);
    if (exec_stats(&p, &s, err) || f32_twin_arena(&p, &s.f32_arena_bytes, err)) {
        plan_free(&p);
        fprintf(stderr, "sslc: compiling the step: %s\n", err);
        return CLI_RUN_ERROR;
    }
    if (json) {
        print_json(&p, &s, with_params);
    } else {
        printf("plan %s: method %s, written by sslc %s\n", path, p.method, p.sslc_version);
        for (int i = 0; i < p.nopts; i++) printf("  %-24s %s\n", p.keys[i], p.vals[i]);
        printf("train step: %d nodes, %d inputs, %d parameters (%lld elements), %d state tensors (%lld elements)\n",
               s.nodes, s.inputs, s.params, (long long)s.param_elems, s.states, (long long)s.state_elems);
        printf("FLOPs per step: %.3f GFLOP\n", (double)s.flops / 1e9);
        print_comm(&p.train, &s);
        printf("compiled step: %d nodes before fusion (%d after lowering) -> %d launches (%d fused kernels, %d library "
               "calls; %d merged horizontally), %.3f launches per node\n",
               s.nodes, s.lowered_nodes, s.launches, s.kernels, s.library, s.merged, (double)s.launches / s.nodes);
        printf("memory: arena %.1f MiB for %.1f MiB of intermediate buffers (%.2f), persistent %.1f MiB\n",
               s.arena_bytes / 1048576.0, s.intermediate_bytes / 1048576.0,
               (double)s.arena_bytes / (double)(s.intermediate_bytes ? s.intermediate_bytes : 1), s.persistent_bytes / 1048576.0);
        printf("recomputed in the backward pass instead of kept from the forward pass: %d values (%.1f MiB)\n",
               s.remat.values, s.remat.bytes / 1048576.0);
        if (s.f32_arena_bytes) {
            double d = (double)(s.f32_arena_bytes - s.arena_bytes) / 1048576.0;
            printf("precision bf16: products on bf16 operands; arena %.1f MiB against %.1f MiB in float32 (%s %.1f MiB)\n",
                   s.arena_bytes / 1048576.0, s.f32_arena_bytes / 1048576.0, d >= 0 ? "saves" : "costs", d >= 0 ? d : -d);
        }
        if (s.stored) {
            printf("stored in the plan: the compiled step (schedule, memory plan), %d kernels: C source %lld bytes",
                   s.kernels, (long long)s.c_bytes);
            if (s.cuda_bytes) printf(", CUDA source %lld bytes", (long long)s.cuda_bytes);
            printf("; CUBIN:");
            for (int i = 0; i < s.ncubins; i++) printf("%s sm_%d (%lld bytes)", i ? "," : "", s.cubin_arch[i], (long long)s.cubin_bytes[i]);
            printf("%s\n", s.ncubins ? "" : " none");
        } else
            printf("stored in the plan: the graph only (compiled with --targets none): the runtime builds the step\n");
        if (p.backbone_onnx_len) /* why a plan is as large as its model, and what eval/export read */
            printf("stored in the plan: the imported backbone's ONNX model (%zu bytes)\n", p.backbone_onnx_len);
        if (with_params) {
            const ir_graph *g = &p.train;
            for (int v = 0; v < g->nvals; v++) {
                const ir_value *x = &g->vals[v];
                if (x->kind != VK_PARAM && x->kind != VK_STATE) continue;
                char sh[96];
                ir_shape_str(&x->shape, sh, sizeof sh);
                printf("  %-5s %-60s %-4s %s\n", ir_kind_name(x->kind), x->name, ir_dtype_name(x->dtype), sh);
            }
        }
        if (dump) ir_dump(&p.train, stdout);
    }
    plan_free(&p);
    return 0;
}
