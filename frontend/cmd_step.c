/* sslc step FILE --params P --inputs X [--steps N] --dump OUT: N optimizer steps on fixed
 * inputs through the reference interpreter; dumps loss.i, grad.<param> of the first step and
 * every parameter and state tensor after the last. This is what the PyTorch oracles drive. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/data_parallel.h"
#include "../passes/optimizer.h"
#include "../runtime/augment.h"
#include "../runtime/checkpoint.h"
#include "../runtime/engine.h"
#include "../runtime/planfile.h"
#include "../runtime/safetensors.h"
#include "cli.h"
#include "job.h"
#include "plan_opts.h"

/* In a job of several ranks an input tensor may hold the global batch: ranks x the plan's rows
 * along axis 0. Each rank then takes its own block (rank r: rows r*n .. r*n+n-1), so that one
 * inputs file drives both a one-rank and an N-rank run over the same images. */
static st_tensor shard_of(const st_tensor *t, const ir_value *val, const ir_comm *comm) {
    st_tensor s = *t;
    if (!comm || comm->size < 2 || t->ndim != val->shape.ndim || t->ndim < 1 ||
        t->shape[0] != comm->size * val->shape.d[0])
        return s;
    for (int d = 1; d < t->ndim; d++)
        if (t->shape[d] != val->shape.d[d]) return s;
    s.shape[0] = val->shape.d[0];
    s.nbytes = t->nbytes / (size_t)comm->size;
    s.data = (unsigned char *)t->data + s.nbytes * (size_t)comm->rank;
    return s;
}

static int load_tensor_into(engine *it, int v, const st_tensor *t, const char *what, char *err) {
    const ir_value *val = &engine_graph(it)->vals[v];
    ir_dtype dt;
    if (st_dtype_to_ir(t->dtype, &dt) || dt != val->dtype) {
        snprintf(err, IR_ERRLEN, "%s '%s' is %s, the plan expects %s", what, t->name, st_dtype_name(t->dtype),
                 ir_dtype_name(val->dtype));
        return -1;
    }
    ir_shape s = ir_shape_make(t->ndim, t->shape);
    if (t->ndim > IR_MAX_DIMS || !ir_shape_eq(&s, &val->shape)) {
        char a[96], b[96];
        ir_shape_str(&s, a, sizeof a);
        ir_shape_str(&val->shape, b, sizeof b);
        snprintf(err, IR_ERRLEN, "%s '%s' has shape %s, the plan expects %s", what, t->name, a, b);
        return -1;
    }
    return engine_upload(it, v, t->data, t->nbytes, err);
}

/* a plain weights file or a checkpoint, verified as every reader of weights does */
static int load_params(engine *it, const char *path, char *err) {
    ckpt_file f;
    if (ckpt_read(&f, path, err)) return -1;
    const st_table tab = f.t;
    int rc = 0;
    for (int i = 0; i < tab.n && !rc; i++) {
        int v = engine_find(it, tab.t[i].name);
        if (v < 0 || (engine_graph(it)->vals[v].kind != VK_PARAM && engine_graph(it)->vals[v].kind != VK_STATE)) {
            snprintf(err, IR_ERRLEN, "%s: '%s' is not a parameter or state tensor of this plan (see sslc inspect --params)",
                     path, tab.t[i].name);
            rc = -1;
        } else
            rc = load_tensor_into(it, v, &tab.t[i], "parameter", err);
    }
    ckpt_file_free(&f);
    return rc;
}

/* inputs the host computes each step: optimizer scalars, method schedules and (unless the
 * inputs file gives them) augmentation parameters */
static int is_host_input(const char *name) {
    return !strncmp(name, "opt.", 4) || !strncmp(name, "sched.", 6) || !strncmp(name, "aug.", 4);
}

/* Per-step values of method schedules ("sched.*"): tensors of that name in the inputs file, f32
 * of shape [] (every step) or [N] with N >= steps (step s reads element s-1); the others keep
 * the base value recorded in the graph (feed_sched_inputs). */
typedef struct {
    int v;
    int64_t n; /* 0: shape [] */
    float *vals;
} sched_override;

typedef struct {
    sched_override *o;
    int n;
} sched_overrides;

static void free_overrides(sched_overrides *so) {
    for (int i = 0; i < so->n; i++) free(so->o[i].vals);
    free(so->o);
    so->o = NULL;
    so->n = 0;
}

static int feed_overrides(engine *it, const sched_overrides *so, int64_t step, char *err) {
    for (int i = 0; i < so->n; i++)
        if (engine_set_f32(it, so->o[i].v, &so->o[i].vals[so->o[i].n ? step - 1 : 0], err)) return -1;
    return 0;
}

static int add_override(sched_overrides *so, const ir_graph *g, int v, const st_tensor *t, int64_t steps,
                        const char *path, char *err) {
    if (t->dtype != ST_F32 || t->ndim > 1 || (t->ndim == 1 && t->shape[0] < steps)) {
        snprintf(err, IR_ERRLEN, "%s: schedule input '%s' must be F32 of shape [] or [N] with N >= %lld steps", path,
                 g->vals[v].name, (long long)steps);
        return -1;
    }
    int64_t n = t->ndim ? t->shape[0] : 0;
    sched_override *o = realloc(so->o, (size_t)(so->n + 1) * sizeof *o);
    float *vals = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (o) so->o = o;
    if (!o || !vals) {
        free(vals);
        snprintf(err, IR_ERRLEN, "out of memory");
        return -1;
    }
    memcpy(vals, t->data, (size_t)(n ? n : 1) * sizeof(float));
    so->o[so->n++] = (sched_override){v, n, vals};
    return 0;
}

/* *aug_given: how many aug.* inputs the file provides (they then stay fixed) */
static int load_inputs(engine *it, const char *path, int64_t steps, sched_overrides *so, int *aug_given,
                       const ir_comm *comm, char *err) {
    st_table tab;
    if (st_read(&tab, path, err)) return -1;
    const ir_graph *g = engine_graph(it);
    int rc = 0;
    *aug_given = 0;
    for (int v = 0; v < g->nvals && !rc; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT) continue;
        if (!strncmp(val->name, "aug.", 4) && st_find(&tab, val->name)) {
            (*aug_given)++;
            rc = load_tensor_into(it, v, st_find(&tab, val->name), "input", err);
            continue;
        }
        if (is_host_input(val->name)) continue;
        const st_tensor *t = st_find(&tab, val->name);
        if (!t) {
            snprintf(err, IR_ERRLEN, "%s: missing input '%s'", path, val->name);
            rc = -1;
        } else {
            st_tensor sh = shard_of(t, val, comm);
            rc = load_tensor_into(it, v, &sh, "input", err);
        }
    }
    for (int i = 0; i < tab.n && !rc; i++) {
        int v = ir_find_value(g, tab.t[i].name);
        if (v < 0 || g->vals[v].kind != VK_INPUT) {
            snprintf(err, IR_ERRLEN, "%s: '%s' is not an input of this plan", path, tab.t[i].name);
            rc = -1;
        } else if (!strncmp(tab.t[i].name, "sched.", 6))
            rc = add_override(so, g, v, &tab.t[i], steps, path, err);
    }
    st_free(&tab);
    return rc;
}

static int add_value(st_table *out, const engine *it, int v, const char *name, char *err) {
    const ir_value *val = &engine_graph(it)->vals[v];
    st_dtype sd;
    if (!engine_has_value(it, v) || st_dtype_from_ir(val->dtype, &sd)) {
        snprintf(err, IR_ERRLEN, "cannot dump '%s'", name);
        return -1;
    }
    int wide = engine_is_f64(it) && val->dtype == DT_F32; /* --f64: keep full precision */
    size_t bytes = wide ? (size_t)ir_numel(&val->shape) * sizeof(double) : engine_value_bytes(it, v);
    void *d = malloc(bytes ? bytes : 1);
    if (!d) {
        snprintf(err, IR_ERRLEN, "out of memory dumping '%s'", name);
        return -1;
    }
    int rc = wide ? engine_download_f64(it, v, d, err) : engine_download(it, v, d, bytes, err);
    if (!rc) rc = st_add(out, name, wide ? ST_F64 : sd, val->shape.ndim, val->shape.d, d, err);
    free(d);
    return rc;
}

/* the step's augmentation parameters, drawn from the plan's seed */
static int feed_aug(engine *it, aug_binding *ab, uint64_t seed, int64_t step, char *err) {
    if (aug_draw(ab, seed, step, err)) return -1;
    for (int i = 0; i < ab->ninputs; i++) {
        const aug_input *in = &ab->in[i];
        int v = engine_find(it, in->name);
        if (v >= 0 && engine_upload(it, v, in->data, aug_input_bytes(in), err)) return -1;
    }
    return 0;
}

static int run_steps(sslc_plan *p, const char *params, const char *inputs, int64_t steps, const char *dump,
                     engine_kind kind, unsigned flags, const ir_comm *comm, char *err) {
    opt_config cfg;
    double lr, wd;
    if (plan_opt_config(p, &cfg, &lr, &wd, err)) return -1;
    aug_binding ab;
    if (aug_bind_plan(&ab, p, err)) return -1;
    aug_set_rank(&ab, p->seed, comm->rank, comm->size); /* rank r draws the global rows it holds */
    engine *it = engine_new_plan_comm(kind, flags, p, comm, NULL, 0, err);
    if (!it) {
        aug_unbind(&ab);
        return -1;
    }
    const ir_graph *g = engine_graph(it);
    int loss = ir_find_value(g, "loss");
    if (loss < 0) {
        snprintf(err, IR_ERRLEN, "plan has no value named 'loss'");
        engine_free(it);
        aug_unbind(&ab);
        return -1;
    }
    st_table out;
    st_init(&out);
    int aug_given = 0;
    sched_overrides so = {NULL, 0};
    int rc = engine_init_persistent(it, p->seed, err) || (params && load_params(it, params, err)) ||
             engine_broadcast_persistent(it, comm, 0, err) || load_inputs(it, inputs, steps, &so, &aug_given, comm, err);
    if (!rc && aug_given && aug_given != ab.ninputs) {
        snprintf(err, IR_ERRLEN, "%s: gives %d of the plan's %d aug.* inputs: give all (fixed) or none (drawn per step)",
                 inputs, aug_given, ab.ninputs);
        rc = -1;
    }
    uint64_t sent0 = comm->bytes_sent; /* after the start's parameter broadcast */
    for (int64_t s = 1; s <= steps && !rc; s++) {
        opt_scalar sc[OPT_MAX_SCALARS];
        int ns = optimizer_step_inputs(&cfg, s, lr, wd, sc);
        for (int k = 0; k < ns && !rc; k++) {
            int v = ir_find_value(g, sc[k].name);
            if (v >= 0) rc = engine_set_f32(it, v, &sc[k].value, err);
        }
        if (!rc && ab.ninputs && !aug_given) /* augmentation drawn from the plan's seed and the step */
            rc = feed_aug(it, &ab, p->seed, s - 1, err);
        if (rc || (rc = feed_sched_inputs(it, err)) || (rc = feed_overrides(it, &so, s, err)) ||
            (rc = engine_run(it, err)))
            break;
        char name[64];
        snprintf(name, sizeof name, "loss.%lld", (long long)(s - 1));
        rc = add_value(&out, it, loss, name, err);
        for (int i = 0; i < ab.ninputs && !rc && !aug_given; i++) /* the drawn shuffles: oracles replay them */
            if (ab.in[i].view < 0) { /* by name: the binding's ids are the plan graph's, not the engine's */
                int v = engine_find(it, ab.in[i].name);
                snprintf(name, sizeof name, "%s.%lld", ab.in[i].name, (long long)(s - 1));
                if (v < 0) {
                    snprintf(err, IR_ERRLEN, "the engine has no input %s", ab.in[i].name);
                    rc = -1;
                } else {
                    rc = add_value(&out, it, v, name, err);
                }
            }
        if (s == 1)
            for (int k = 0; k < g->noutputs && !rc; k++) {
                const char *n = g->vals[g->outputs[k]].name;
                if (n && !strncmp(n, "grad.", 5)) rc = add_value(&out, it, g->outputs[k], n, err);
            }
    }
    for (int v = 0; v < g->nvals && !rc; v++)
        if (g->vals[v].kind == VK_PARAM || g->vals[v].kind == VK_STATE) rc = add_value(&out, it, v, g->vals[v].name, err);
    if (!rc && comm->rank == 0) rc = st_write(&out, dump, err); /* every rank holds the same values */
    if (!rc && comm->size > 1) /* measured: compare with sslc inspect's count from the plan */
        printf("data-parallel: %d ranks; rank 0 sent %.0f bytes per step through its collectives\n", comm->size,
               (double)(comm->bytes_sent - sent0) / (double)steps);
    st_free(&out);
    free_overrides(&so);
    engine_free(it);
    aug_unbind(&ab);
    return rc ? -1 : 0;
}

int cmd_step(int argc, char **argv) {
    static const struct option longopts[] = {{"params", required_argument, 0, 'p'}, {"inputs", required_argument, 0, 'x'},
                                             {"steps", required_argument, 0, 'n'},  {"dump", required_argument, 0, 'd'},
                                             {"f64", no_argument, 0, 'F'},          {"device", required_argument, 0, 'D'},
                                             {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *params = NULL, *inputs = NULL, *dump = NULL;
    int64_t steps = 1;
    int c, f64 = 0;
    const char *device = "ref";
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': params = optarg; break;
        case 'x': inputs = optarg; break;
        case 'd': dump = optarg; break;
        case 'F': f64 = 1; break;
        case 'D': device = optarg; break;
        case 'n':
            if (cli_parse_int("--steps", optarg, 1, 100000, &steps)) return CLI_USAGE_ERROR;
            break;
        case 'h':
            printf("usage: sslc step FILE [--params P.safetensors] --inputs X.safetensors [--steps N] "
                   "--dump OUT.safetensors [--device ref|cpu|cuda] [--f64]\n"
                   "  inputs: the plan's graph inputs by name (views.0, ... or, with augmentation, images);\n"
                   "  aug.* inputs are drawn each step from the plan's seed unless the file gives all of them;\n"
                   "  the dump holds each step's drawn shuffles (MAE's masks, MoCo's shuffle-BN permutation) as\n"
                   "  aug.shuffle.NAME.STEP and aug.batchperm.NAME.STEP (from 0; under mpirun rank 0's rows)\n"
                   "  --device  ref: the reference interpreter (default); cpu: fused JIT kernels; cuda: GPU 0\n"
                   "            (under mpirun each rank's own GPU, collectives through NCCL)\n"
                   "  --f64     run the reference interpreter in float64 (oracle diagnostics)\n"
                   "  method schedule inputs (sched.NAME, see sslc inspect) take the base value recorded in\n"
                   "  the plan unless the inputs file holds an F32 tensor sched.NAME of shape [] (every step)\n"
                   "  or [N], N >= steps (step s uses element s-1)\n"
                   "  under mpirun -np N (a plan compiled with --ranks N): an input holding N x the plan's rows\n"
                   "  is split by rank (rank r takes block r); rank 0 writes the dump\n");
            return 0;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_unknown_option("step", argv[optind - 1], longopts, NULL);
        }
    }
    if (optind >= argc) return cli_error("step: which plan file?");
    if (optind + 1 < argc) return cli_error("step: unexpected argument '%s'", argv[optind + 1]);
    if (!inputs) return cli_error("step: missing --inputs X.safetensors");
    if (!dump) return cli_error("step: missing --dump OUT.safetensors");
    sslc_plan p;
    char err[IR_ERRLEN];
    engine_kind kind;
    if (engine_kind_parse(device, &kind, err)) return cli_error("%s", err);
    if (f64 && kind != ENGINE_REF) return cli_error("--f64 runs the reference interpreter; drop --device");
    ir_comm comm;
    if (job_open(&comm, err)) return cli_error("%s", err);
    plan_init(&p);
    int rc = plan_read(&p, argv[optind], err) || plan_check_ranks(&p, argv[optind], &comm, err) ||
             run_steps(&p, params, inputs, steps, dump, kind, f64 ? ENGINE_F64 : 0, &comm, err);
    plan_free(&p);
    if (rc) return job_fail(&comm, err, CLI_RUN_ERROR);
    job_close(&comm);
    return 0;
}
