/* The compiled step in the plan file (issue 3): a compiled method's plan holds exactly the step
 * a fresh build makes (launches, kernel argument lists, roots, memory plan, C sources); the cpu
 * engine runs it bit-identically to an engine that rebuilds the step; a plan whose stored step
 * was edited (CRC fixed up) is refused with one line; --device cuda is refused naming what is
 * missing; CUBIN per architecture round-trips (when NVRTC is installed). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "codegen/nvrtc.h"
#include "optest.h"
#include "plan.pb-c.h"
#include "plan_remake.h"
#include "plan_sample.h"
#include "runtime/cuda_check.h"
#include "runtime/engine.h"
#include "sslc.h"

static char tmpdir[256];

static int read_bytes(const char *path, unsigned char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    size_t r = fread(*buf, 1, *len, f);
    fclose(f);
    return r == *len ? 0 : -1;
}

/* sslc compile METHOD ARGS... -o DIR/NAME */
static int compile(const char *name, const char *const *args, int nargs, char *path, size_t n) {
    char err[IR_ERRLEN];
    snprintf(path, n, "%s/%s", tmpdir, name);
    CHECK(sslc_compile(nargs, args, path, err, sizeof err) == 0, "compile %s: %s", name, err);
    return 0;
}

/* ---- the stored step is the step a fresh build makes ---- */

static int same_as_fresh(const char *path) {
    sslc_plan p;
    char err[IR_ERRLEN];
    CHECK(plan_read(&p, path, err) == 0, "%s", err);
    CHECK(p.has_step, "%s holds no compiled step", path);
    compiled_step fresh;
    step_targets t = {.cpu = 1};
    CHECK(compiled_step_build(&p.train, &t, &fresh, err) == 0, "%s", err);
    int d = step_diff(&fresh, &p.step);
    printf("ok   %-28s stored step == fresh build: %d launches, %d kernels, arena %lld bytes, C %zu bytes\n",
           strrchr(path, '/') + 1, p.step.ep.fp.nsteps, p.step.ep.fp.nkernels, (long long)p.step.ep.mp.arena_bytes,
           compiled_step_c_bytes(&p.step));
    compiled_step_free(&fresh);
    plan_free(&p);
    CHECK(d == 0, "%s: stored step differs from a fresh build", path);
    return 0;
}

/* ---- steps from the stored step == steps from a rebuilt one, bit for bit ---- */

/* a copy of the plan at `path` without its compiled step: the runtime rebuilds it */
static int strip_step(const char *path, const char *out) {
    sslc_plan p;
    char err[IR_ERRLEN];
    CHECK(plan_read(&p, path, err) == 0, "%s", err);
    compiled_step_free(&p.step);
    p.has_step = 0;
    CHECK(plan_write(&p, out, err) == 0, "%s", err);
    plan_free(&p);
    return 0;
}

static int bit_identical(const char *path, int augmented) {
    char bare[512], err[IR_ERRLEN];
    snprintf(bare, sizeof bare, "%s.bare", path);
    if (strip_step(path, bare)) return 1;
    sslc_plan p;
    CHECK(plan_read(&p, path, err) == 0, "%s", err);
    sslc_session *s[2];
    float loss[2][3];
    for (int k = 0; k < 2; k++) {
        s[k] = sslc_open(k ? bare : path, "cpu", err, sizeof err);
        CHECK(s[k], "%s", err);
    }
    for (int step = 1; step <= 3; step++)
        for (int k = 0; k < 2; k++) {
            if (augmented) {
                int64_t n = sslc_numel(s[k], "images");
                uint8_t *im = malloc((size_t)n);
                for (int64_t i = 0; i < n; i++) im[i] = (uint8_t)(i * 29 + i / 7 + step * 13);
                CHECK(sslc_set_u8(s[k], "images", im, n, err, sizeof err) == 0, "%s", err);
                free(im);
            } else
                for (int v = 0; v < 2; v++) {
                    const char *name = v ? "views.1" : "views.0";
                    int64_t n = sslc_numel(s[k], name);
                    float *x = malloc((size_t)n * sizeof *x);
                    test_fill_uniform(x, n, -1, 1, (uint64_t)(10 * step + v));
                    CHECK(sslc_set(s[k], name, x, n, err, sizeof err) == 0, "%s", err);
                    free(x);
                }
            CHECK(sslc_step(s[k], step, &loss[k][step - 1], err, sizeof err) == 0, "%s", err);
        }
    for (int i = 0; i < 3; i++)
        CHECK(memcmp(&loss[0][i], &loss[1][i], sizeof(float)) == 0, "step %d: loss %.9g (stored) vs %.9g (rebuilt)", i + 1,
              loss[0][i], loss[1][i]);
    /* every parameter and state tensor after the 3 steps */
    int ntensors = 0;
    for (int v = 0; v < p.train.nvals; v++) {
        const ir_value *x = &p.train.vals[v];
        if ((x->kind != VK_PARAM && x->kind != VK_STATE) || x->dtype != DT_F32 || !x->name) continue;
        int64_t n = ir_numel(&x->shape);
        float *a = malloc((size_t)(n + 1) * sizeof *a), *b = malloc((size_t)(n + 1) * sizeof *b);
        CHECK(sslc_get(s[0], x->name, a, n, err, sizeof err) == 0 && sslc_get(s[1], x->name, b, n, err, sizeof err) == 0,
              "%s", err);
        int same = memcmp(a, b, (size_t)n * sizeof *a) == 0;
        free(a);
        free(b);
        CHECK(same, "%s differs after 3 steps (stored vs rebuilt step)", x->name);
        ntensors++;
    }
    for (int k = 0; k < 2; k++) sslc_close(s[k]);
    plan_free(&p);
    unlink(bare);
    printf("ok   %-28s 3 cpu steps bit-identical, stored vs rebuilt step (losses %.6f %.6f %.6f, %d tensors)\n",
           strrchr(path, '/') + 1, loss[0][0], loss[0][1], loss[0][2], ntensors);
    return 0;
}

/* ---- tampering (the CRC fixed up) ---- */


static Sslc__CompiledStep *S(Sslc__Plan *pp) { return pp->train->compiled; }
static Sslc__Launch *first_launch(Sslc__Plan *pp, int fused) {
    for (size_t i = 0; i < S(pp)->n_launches; i++)
        if (S(pp)->launches[i]->fused == fused) return S(pp)->launches[i];
    return NULL;
}
/* a lowered value that lives only inside a kernel (root -1) */
static int32_t kernel_internal(Sslc__Plan *pp) {
    for (size_t v = 0; v < S(pp)->n_root; v++)
        if (S(pp)->root[v] == -1) return (int32_t)v;
    return 0;
}

static void t_c_source(Sslc__Plan *pp) { /* one operator of the generated C changed */
    char *src = S(pp)->kernels[S(pp)->n_kernels - 1]->c_source, *q = strstr(src, " + ");
    if (!q) q = strstr(src, " * ");
    if (q) q[1] = '-';
}
static void t_load_range(Sslc__Plan *pp) { S(pp)->kernels[0]->segments[0]->loads[0] = 1 << 30; }
static void t_store_internal(Sslc__Plan *pp) { S(pp)->kernels[0]->segments[0]->stores[0] = kernel_internal(pp); }
static void t_launch_range(Sslc__Plan *pp) { first_launch(pp, 1)->index = (int32_t)S(pp)->n_kernels; }
static void t_node_range(Sslc__Plan *pp) { first_launch(pp, 0)->index = -5; }
static void t_launch_twice(Sslc__Plan *pp) { /* the last fused launch runs kernel 0 again */
    for (size_t i = S(pp)->n_launches; i-- > 0;)
        if (S(pp)->launches[i]->fused && S(pp)->launches[i]->index != 0) {
            S(pp)->launches[i]->index = 0;
            return;
        }
}
static void t_order(Sslc__Plan *pp) { /* the last launch first: it reads what nobody wrote yet */
    Sslc__Launch **l = S(pp)->launches, *t = l[0];
    size_t n = S(pp)->n_launches;
    l[0] = l[n - 1];
    l[n - 1] = t;
}
static void t_overlap(Sslc__Plan *pp) { /* every arena buffer at offset 0 */
    Sslc__MemoryPlan *m = S(pp)->memory;
    for (size_t v = 0; v < m->n_kind; v++)
        if (m->kind[v] == 2) m->offset[v] = 0;
}
static void t_arena_small(Sslc__Plan *pp) { S(pp)->memory->arena_bytes = 64; }
static void t_arena_huge(Sslc__Plan *pp) { S(pp)->memory->arena_bytes = (int64_t)1 << 46; }
static void t_loc_kind(Sslc__Plan *pp) { S(pp)->memory->kind[0] = 7; }
static void t_root(Sslc__Plan *pp) { /* an intermediate with storage of its own now shares another's */
    for (size_t v = 1; v < S(pp)->n_root; v++)
        if (S(pp)->root[v] == (int32_t)v && S(pp)->lowered->values[v]->kind == SSLC__VALUE_KIND__KIND_INTER) {
            S(pp)->root[v] = (int32_t)v - 1;
            return;
        }
}
static void t_roots_count(Sslc__Plan *pp) { S(pp)->n_root--; }
static void t_graph_hash(Sslc__Plan *pp) { S(pp)->graph_hash ^= 1; }
static void t_kernels_hash(Sslc__Plan *pp) { S(pp)->kernels_hash ^= 1ull << 40; }
static void t_train_edit(Sslc__Plan *pp) { /* the train graph edited after compiling: a view renamed */
    for (size_t v = 0; v < pp->train->n_values; v++)
        if (!strcmp(pp->train->values[v]->name, "views.1")) {
            free(pp->train->values[v]->name);
            pp->train->values[v]->name = strdup("views.9");
        }
}
static void t_cubin(Sslc__Plan *pp) {
    Sslc__Cubin *cb = malloc(sizeof *cb);
    sslc__cubin__init(cb);
    cb->arch = 80;
    cb->image.len = 4;
    cb->image.data = malloc(4);
    memcpy(cb->image.data, "\x7f" "ELF", 4);
    S(pp)->cubins = realloc(S(pp)->cubins, (S(pp)->n_cubins + 1) * sizeof *S(pp)->cubins);
    S(pp)->cubins[S(pp)->n_cubins++] = cb;
}
static void t_segments(Sslc__Plan *pp) {
    Sslc__Kernel *k = S(pp)->kernels[0];
    while (k->n_segments) sslc__segment__free_unpacked(k->segments[--k->n_segments], NULL);
}
static void t_lowered_step(Sslc__Plan *pp) { /* a step inside the step */
    Sslc__CompiledStep *inner = malloc(sizeof *inner);
    sslc__compiled_step__init(inner);
    S(pp)->lowered->compiled = inner;
}
static void t_data_from_train(Sslc__Plan *pp) { /* a lowered value claims bytes the train graph lacks */
    S(pp)->lowered->values[0]->data_from_train = 1;
}

static int tamper_cases(const char *path) {
    static const plan_case cases[] = {
        {t_c_source, "stored kernels do not match their recorded hash", "kernel C source edited"},
        {t_kernels_hash, "stored kernels do not match their recorded hash", "kernels hash edited"},
        {t_load_range, "argument 0 is value 1073741824, out of range", "kernel load out of range"},
        {t_store_internal, "which has no storage of its own", "kernel store without storage"},
        {t_launch_range, "out of range", "launch of a missing kernel"},
        {t_node_range, "runs node -5, out of range", "launch of a missing node"},
        {t_launch_twice, "kernel 0 is launched 2 times", "kernel launched twice"},
        {t_order, "before any step writes it", "launches reordered"},
        {t_overlap, "overlaps", "arena buffers overlap"},
        {t_arena_small, "lies outside its arena", "arena too small"},
        {t_arena_huge, "larger than its values side by side", "arena too large"},
        {t_loc_kind, "unknown location kind 7", "bad location kind"},
        {t_root, "but is not a view of it", "storage root edited"},
        {t_roots_count, "storage roots for", "roots missing"},
        {t_graph_hash, "made for another train graph", "graph hash edited"},
        {t_train_edit, "made for another train graph", "train graph edited"},
        {t_cubin, "CUBIN without CUDA sources", "CUBIN without sources"},
        {t_segments, "has 0 segments", "kernel without segments"},
        {t_lowered_step, "carries a compiled step of its own", "nested step"},
        {t_data_from_train, "takes its data from a train graph value that does not match it", "data_from_train"},
    };
    unsigned char *good;
    size_t glen;
    CHECK(read_bytes(path, &good, &glen) == 0, "read %s", path);
    int rc = plan_remake_cases(good, glen, cases, sizeof cases / sizeof cases[0], 1);
    free(good);
    return rc;
}

/* ---- CUDA: refused naming what is missing; CUBIN round trip ---- */

static int cuda_cases(void) {
    sslc_plan p, q;
    char err[IR_ERRLEN];
    CHECK(sample_plan_step(&p) == 0, "sample");
    engine *e = engine_new_plan(ENGINE_CUDA, 0, &p, NULL, 0, err);
    CHECK(!e && strstr(err, "--device cuda: ") && strstr(err, "CUBIN") && !strchr(err, '\n'), "cuda refusal: %s", err);
    printf("ok   %-28s %s\n", "cuda, no CUBIN", err);
    CHECK(!engine_new(ENGINE_CUDA, 0, &p.train, NULL, 0, err) && strstr(err, "--device cuda: "), "bare graph: %s", err);
    plan_free(&p);
    int major, minor;
    if (nvrtc_available(&major, &minor, err)) {
        printf("skip %-28s %s\n", "CUBIN round trip", err);
        return 0;
    }
    CHECK(sample_plan(&p, 1) == 0, "sample");
    step_targets t;
    CHECK(step_targets_parse("cpu,cuda", NULL, &t, err) == 0 && t.narch == 2, "targets: %s", err);
    CHECK(compiled_step_build(&p.train, &t, &p.step, err) == 0, "build with CUBIN: %s", err);
    p.has_step = 1;
    CHECK(p.step.ncubins == 2 && p.step.cuda_src && compiled_step_cuda_bytes(&p.step) > 0, "CUBIN count");
    unsigned char *b;
    size_t len;
    CHECK(plan_encode(&p, &b, &len, err) == 0, "%s", err);
    CHECK(plan_decode(&q, b, len, "c.plan", err) == 0, "%s", err);
    CHECK(plan_diff(&p, &q) == 0, "CUBIN plan round trip differs");
    const compiled_step *cs = &q.step;
    CHECK(cuda_cubin_for(cs, 8, 6) && cuda_cubin_for(cs, 8, 6)->arch == 80, "sm_86 runs sm_80");
    CHECK(cuda_cubin_for(cs, 9, 0) && cuda_cubin_for(cs, 9, 0)->arch == 90, "sm_90");
    CHECK(!cuda_cubin_for(cs, 7, 5) && !cuda_cubin_for(cs, 10, 0), "no CUBIN for sm_75, sm_100");
    e = engine_new_plan(ENGINE_CUDA, 0, &q, NULL, 0, err);
    CHECK(!e && strstr(err, "--device cuda: ") && (strstr(err, "CUBIN for sm_80, sm_90") || strstr(err, "no CUDA runtime backend")),
          "cuda refusal with CUBIN: %s", err);
    printf("ok   %-28s sm_80 %zu bytes, sm_90 %zu bytes; %s\n", "CUBIN round trip", cs->cubin[0].size, cs->cubin[1].size,
           err);
    plan_free(&q);
    /* a CUBIN image edited is refused by the kernels hash */
    p.step.cubin[1].size--;
    unsigned char *b2;
    size_t len2;
    CHECK(plan_encode(&p, &b2, &len2, err) != 0 && strstr(err, "recorded hash"), "edited CUBIN written: %s", err);
    free(b);
    plan_free(&p);
    return 0;
}

/* imported weights (INIT_DATA) are stored once: the lowered graph refers to the train graph's */
static int init_data_case(void) {
    sslc_plan p, q;
    char err[IR_ERRLEN];
    CHECK(sample_plan(&p, 1) == 0, "sample");
    int w = ir_find_value(&p.train, "enc.w");
    ir_value *x = &p.train.vals[w];
    x->init.kind = INIT_DATA;
    x->data = calloc((size_t)ir_numel(&x->shape), sizeof(float));
    for (int64_t i = 0; i < ir_numel(&x->shape); i++) ((float *)x->data)[i] = (float)i * 0.25f;
    step_targets t = {.cpu = 1};
    unsigned char *b0, *b1;
    size_t l0, l1;
    CHECK(plan_encode(&p, &b0, &l0, err) == 0, "%s", err);
    CHECK(compiled_step_build(&p.train, &t, &p.step, err) == 0, "%s", err);
    p.has_step = 1;
    CHECK(plan_encode(&p, &b1, &l1, err) == 0, "%s", err);
    CHECK(plan_decode(&q, b1, l1, "d.plan", err) == 0, "%s", err);
    CHECK(plan_diff(&p, &q) == 0, "INIT_DATA plan round trip differs");
    int lw = ir_find_value(&q.step.ep.lowered, "enc.w");
    CHECK(lw >= 0 && q.step.ep.lowered.vals[lw].data && ((float *)q.step.ep.lowered.vals[lw].data)[3] == 0.75f,
          "lowered enc.w lost its data");
    printf("ok   %-28s lowered graph refers to the train graph's bytes (plan %zu -> %zu bytes with the step)\n",
           "INIT_DATA stored once", l0, l1);
    free(b0);
    free(b1);
    plan_free(&p);
    plan_free(&q);
    return 0;
}

static int targets_cases(void) {
    step_targets t;
    char err[IR_ERRLEN];
    CHECK(step_targets_parse(NULL, NULL, &t, err) == 0 && t.cpu && !t.cuda, "default");
    CHECK(step_targets_parse("none", NULL, &t, err) == 0 && !t.cpu && !t.cuda, "none");
    CHECK(step_targets_parse("cuda", NULL, &t, err) == 0 && t.cpu && t.cuda && t.narch == 2 && t.arch[1] == 90, "cuda");
    CHECK(step_targets_parse(NULL, "sm_86", &t, err) == 0 && t.cuda && t.narch == 1 && t.arch[0] == 86, "arch");
    CHECK(step_targets_parse("gpu", NULL, &t, err) != 0 && strstr(err, "--targets"), "bad target");
    CHECK(step_targets_parse(NULL, "sm_80,", &t, err) != 0 && strstr(err, "--cuda-arch"), "trailing comma");
    CHECK(step_targets_parse(NULL, "sm_80,sm_80", &t, err) != 0 && strstr(err, "twice"), "twice");
    CHECK(step_targets_parse("none", "sm_80", &t, err) != 0 && strstr(err, "--targets none"), "none + arch");
    printf("ok   %-28s\n", "--targets / --cuda-arch");
    return 0;
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_planstep_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    setenv("SSLC_CACHE_DIR", cache, 1);
    int fails = 0;
    char resnet[512], convnet[512];
    /* ResNet-18 (views, residual adds, BatchNorm) with views as inputs; a BYOL ConvNet with its
     * augmentation in the graph, an EMA target and BatchNorm state */
    const char *ra[] = {"simclr", "--backbone", "resnet18", "--width", "0.125", "--image-size", "16", "--batch", "4",
                        "--augment", "none"};
    const char *ca[] = {"byol", "--backbone", "convnet", "--width", "0.25", "--image-size", "16", "--batch", "4"};
    if (compile("resnet.plan", ra, 11, resnet, sizeof resnet) || compile("byol.plan", ca, 9, convnet, sizeof convnet))
        return 1;
    fails += targets_cases();
    fails += same_as_fresh(resnet);
    fails += same_as_fresh(convnet);
    fails += bit_identical(resnet, 0);
    fails += bit_identical(convnet, 1);
    fails += tamper_cases(resnet);
    fails += init_data_case();
    fails += cuda_cases();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf(fails ? "FAILED\n" : "all compiled-step tests passed\n");
    return fails ? 1 : 0;
}
