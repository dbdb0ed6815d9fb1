/* sslc train's defaults, printed recipe and resume check (see train_recipe.h). */
#include "train_recipe.h"

#include <stdio.h>
#include <string.h>

#include "../ir/ir.h"
#include "cli.h"

const char *train_default_width(const method_def *m) {
    return !strcmp(m->name, "simclr") ? TRAIN_MAIN_JOB_WIDTH : TRAIN_DEFAULT_WIDTH;
}

int train_default_bf16(const method_def *m) { return !strcmp(m->name, "simclr"); }

const char *const *train_default_sets(const method_def *m) {
    /* PySSL's 0.5 learns slower in a few epochs: 4 epochs of the main job, 86.2 % linear against
     * 84.9 % (docs/PERFORMANCE.md, "The main job") */
    static const char *const simclr[] = {"temperature=0.2", NULL};
    /* the 3 x 8192 expander of the paper is 134 M parameters, about 2 s a step on 2 cores at
     * batch 256; 1024 wide (with train's vicreg learning rate below) beat solo-learn's CIFAR 2048
     * in 4 epochs and steps about 1.4 times faster (README, "sslc train's defaults") */
    static const char *const vicreg[] = {"hidden_dim=1024", "projection_dim=1024", NULL};
    /* the same holds for Barlow Twins' 3 x 8192 projector (75 img/s on one core, about an hour for
     * 4 epochs); solo-learn's CIFAR projector, 2048 wide, is the short recipe (README) */
    static const char *const barlow_twins[] = {"hidden_dim=2048", "projection_dim=2048", NULL};
    /* the paper's 98 304-entry support set would hold the initial random rows for most of a
     * 4-epoch Fashion-MNIST run (60 000 images); 16 384 fills in 64 steps of batch 256 */
    static const char *const nnclr[] = {"queue_size=16384", NULL};
    static const char *const none[] = {NULL};
    if (!strcmp(m->name, "simclr") || !strcmp(m->name, "simclrv2")) return simclr;
    if (!strcmp(m->name, "vicreg")) return vicreg;
    if (!strcmp(m->name, "barlow_twins")) return barlow_twins;
    if (!strcmp(m->name, "nnclr")) return nnclr;
    return none;
}

const char *const *train_default_args(const method_def *m, int optimizer_given) {
    static const char *const mae[] = {"--backbone", "vit-tiny", "--adam-beta2", "0.95", "--weight-decay", "0.05", NULL};
    static const char *const mae_own_optimizer[] = {"--backbone", "vit-tiny", NULL};
    /* at AdamW 1e-3 from step 0 VICReg's loss spikes in the first steps and its encoder trails
     * random initialization's kNN after an epoch; 3e-3 after a half-epoch warm-up learns (README) */
    static const char *const vicreg[] = {"--lr", "3e-3", "--warmup-epochs", "0.5", NULL};
    static const char *const simclr[] = {"--lr", TRAIN_MAIN_JOB_LR, "--warmup-epochs", TRAIN_MAIN_JOB_WARMUP, NULL};
    static const char *const none[] = {NULL};
    if (!strcmp(m->name, "simclr") && !optimizer_given) return simclr;
    if (!strcmp(m->name, "mae")) return optimizer_given ? mae_own_optimizer : mae;
    if (!strcmp(m->name, "vicreg") && !optimizer_given) return vicreg;
    return none;
}

static const char *opt_or(const sslc_plan *p, const char *key, const char *dflt) {
    const char *v = plan_get_option(p, key);
    return v ? v : dflt;
}

void train_print_recipe(const sslc_plan *p, const char *data, int64_t epochs, int64_t steps) {
    char line[2048], length[64];
    int k = snprintf(line, sizeof line, "recipe: method %s, backbone %s, width %s, image %sx%sx%s, optimizer %s, lr %s, "
                                        "weight decay %s, schedule %s (warm-up %s epochs), precision %s",
                     p->method, opt_or(p, "backbone", "?"), opt_or(p, "width", "?"), opt_or(p, "image_size", "?"),
                     opt_or(p, "image_size", "?"), opt_or(p, "channels", "?"), opt_or(p, "optimizer", "?"),
                     opt_or(p, "lr", "?"), opt_or(p, "weight_decay", "?"), opt_or(p, "lr_schedule", "constant"),
                     opt_or(p, "warmup_epochs", "0"), opt_or(p, "precision", "f32"));
    for (int i = 0; i < p->nopts && k < (int)sizeof line; i++)
        if (!strncmp(p->keys[i], "method.", 7))
            k += snprintf(line + k, sizeof line - (size_t)k, ", %s %s", p->keys[i] + 7, p->vals[i]);
    if (steps > 0)
        snprintf(length, sizeof length, "%lld steps", (long long)steps);
    else if (epochs > 0)
        snprintf(length, sizeof length, "%lld epochs", (long long)epochs);
    else
        snprintf(length, sizeof length, "the run's length");
    if (k < (int)sizeof line)
        snprintf(line + k, sizeof line - (size_t)k, ", data %s, %s, global batch %s", data ? data : "the run's", length,
                 opt_or(p, "batch", "?"));
    printf("%s\n", line);
    fflush(stdout);
}

/* compile options and the plan options they decide */
typedef struct {
    const char *option, *key;
} option_key;
static const option_key option_keys[] = {
    {"backbone", "backbone"},       {"width", "width"},
    {"image-size", "image_size"},   {"channels", "channels"},
    {"cifar-stem", "cifar_stem"},   {"patch-size", "patch_size"},
    {"depth", "depth"},             {"batch", "batch"},
    {"augment", "augment"},         {"optimizer", "optimizer"},
    {"lr", "lr"},                   {"momentum", "momentum"},
    {"nesterov", "nesterov"},       {"weight-decay", "weight_decay"},
    {"adam-eps", "eps"},            {"lars-eta", "eta"},
    {"adam-beta2", "beta2"},
    {"lr-schedule", "lr_schedule"}, {"warmup-epochs", "warmup_epochs"},
    {"exclude-bias-norm", "exclude_bias_norm"}, {"mean", "aug.mean"},
    {"std", "aug.std"},
};
#define NOPTION_KEYS (int)(sizeof option_keys / sizeof option_keys[0])

/* the option named by argument arg ("--width", "--width=0.5"), or NULL */
static int given(const char *arg, const char *option) {
    size_t n = strlen(option);
    return !strncmp(arg, "--", 2) && !strncmp(arg + 2, option, n) && (!arg[2 + n] || arg[2 + n] == '=');
}

static int differs(const char *dir, const char *option, const char *was, const char *now, char *err) {
    snprintf(err, IR_ERRLEN,
             "train: --resume: %.200s was compiled with --%s %s, this command line gives %s; drop --%s to continue it, "
             "or start a new run (another --out)",
             dir, option, was, now, option);
    return -1;
}

/* the plan's u8 `images` input size: HxW (--source-size), or "" without augmentation */
static void source_size(const sslc_plan *p, char *buf, size_t n) {
    int v = ir_find_value(&p->train, "images");
    buf[0] = 0;
    if (v >= 0 && p->train.vals[v].shape.ndim == 4)
        snprintf(buf, n, "%lldx%lld", (long long)p->train.vals[v].shape.d[2], (long long)p->train.vals[v].shape.d[3]);
}

int train_resume_check(const sslc_plan *run, const char *dir, const method_def *method, const compile_args *a, int argc,
                       char **argv, char *err) {
    if (method && strcmp(method->name, run->method)) {
        snprintf(err, IR_ERRLEN,
                 "train: --resume: %.100s holds a %s run, not %s; continue it with sslc train %s --resume %.100s, or "
                 "start a new %s run (another --out)",
                 dir, run->method, method->name, run->method, dir, method->name);
        return -1;
    }
    if (!a) return 0;
    sslc_plan now;
    plan_init(&now);
    if (compile_args_options(&now, a, err)) {
        plan_free(&now);
        return -1;
    }
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        for (int k = 0; k < NOPTION_KEYS && !rc; k++) {
            if (!given(argv[i], option_keys[k].option)) continue;
            const char *was = plan_get_option(run, option_keys[k].key), *is = plan_get_option(&now, option_keys[k].key);
            if (was && is && strcmp(was, is)) rc = differs(dir, option_keys[k].option, was, is, err);
        }
        if (!rc && given(argv[i], "seed") && run->seed != now.seed) {
            char was[32], is[32];
            snprintf(was, sizeof was, "%llu", (unsigned long long)run->seed);
            snprintf(is, sizeof is, "%llu", (unsigned long long)now.seed);
            rc = differs(dir, "seed", was, is, err);
        }
        if (!rc && given(argv[i], "source-size")) {
            char was[48], is[48];
            source_size(run, was, sizeof was);
            snprintf(is, sizeof is, "%lldx%lld", (long long)a->source_h, (long long)a->source_w);
            if (was[0] && strcmp(was, is)) rc = differs(dir, "source-size", was, is, err);
        }
    }
    /* --set NAME=VALUE: each as the method resolved it */
    for (int i = 0; i < a->spec.nset && !rc; i++) {
        char key[PLAN_KEYLEN];
        const char *s = a->spec.set[i], *eq = strchr(s, '=');
        snprintf(key, sizeof key, "method.%.*s", eq ? (int)(eq - s) : 0, s);
        const char *was = plan_get_option(run, key), *is = plan_get_option(&now, key);
        if (was && is && strcmp(was, is)) {
            char opt[PLAN_KEYLEN + 8];
            snprintf(opt, sizeof opt, "set %s", key + 7);
            snprintf(err, IR_ERRLEN,
                     "train: --resume: %.200s was compiled with --%s=%s, this command line gives %s; drop it to continue "
                     "the run, or start a new run (another --out)",
                     dir, opt, was, is);
            rc = -1;
        }
    }
    plan_free(&now);
    return rc;
}
