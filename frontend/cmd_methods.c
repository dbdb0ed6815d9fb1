/* sslc methods: every method with its options, defaults and one-line descriptions. */
#include <stdio.h>
#include <string.h>

#include "../methods/method.h"
#include "cli.h"
#include "train_recipe.h"

static int has_arg(const char *const *args, const char *name) {
    for (; *args; args++)
        if (!strcmp(*args, name)) return 1;
    return 0;
}

/* the defaults of both commands, which differ (tset: the method options train sets; targs: the
 * compile options train adds for the method, which replace train's general --lr/--weight-decay) */
static void print_defaults(const method_def *m, const char *const *tset, const char *const *targs) {
    char sets[256] = "";
    size_t k = 0;
    const char *lr = has_arg(targs, "--lr") ? "" : " --lr " TRAIN_DEFAULT_LR;
    const char *wd = has_arg(targs, "--weight-decay") ? "" : " --weight-decay " TRAIN_DEFAULT_WD;
    for (; *targs; targs++) k += (size_t)snprintf(sets + k, k < sizeof sets ? sizeof sets - k : 0, " %s", *targs);
    for (; *tset; tset++) k += (size_t)snprintf(sets + k, k < sizeof sets ? sizeof sets - k : 0, " --set %s", *tset);
    printf("  defaults: sslc compile --backbone resnet18 --width 1 --image-size 32 --channels 3 --batch 256\n"
           "                        --optimizer sgd --lr 0.05 --weight-decay 0 --lr-schedule cosine\n"
           "            sslc train  --width %s --optimizer " TRAIN_DEFAULT_OPTIMIZER "%s%s%s,\n"
           "                        image size and channels of --data (" TRAIN_DEFAULT_DATA "), %d epochs",
           m ? train_default_width(m) : TRAIN_DEFAULT_WIDTH, lr, wd, sets,
           TRAIN_DEFAULT_EPOCHS);
    if (!m)
        printf(" (simclr: width " TRAIN_MAIN_JOB_WIDTH ", in bf16 on a CPU with avx512_bf16)");
    else if (train_default_bf16(m))
        printf(", --precision bf16 on a CPU with avx512_bf16 (cpu backend)");
    printf("\n");
}

int cmd_methods(int argc, char **argv) {
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: sslc methods [METHOD]\n");
            return 0;
        }
        if (argv[i][0] == '-') return cli_error("methods: unknown option '%s'", argv[i]);
        only = argv[i];
    }
    const method_def *one = NULL;
    char err[CLI_ERRLEN];
    if (only && !(one = cli_find_method(only, err))) return cli_error("%s", err);
    for (int m = 0; m < method_count(); m++) {
        const method_def *d = method_at(m);
        if (one && one != d) continue;
        printf("%s\n  %s\n", d->name, d->summary);
        if (d->notes) printf("  note: %s\n", d->notes);
        const char *const *tset = train_default_sets(d); /* NAME=VALUE strings */
        for (int i = 0; i < d->nopts; i++) {
            char v[32], t[48] = "";
            method_format_value(&d->opts[i], d->opts[i].def, v, sizeof v);
            size_t n = strlen(d->opts[i].name);
            for (const char *const *s = tset; *s; s++)
                if (!strncmp(*s, d->opts[i].name, n) && (*s)[n] == '=') snprintf(t, sizeof t, " (sslc train: %s)", *s + n + 1);
            printf("    --set %-26s default %-8s %s%s\n", d->opts[i].name, v, d->opts[i].help, t);
        }
        if (one) print_defaults(d, tset, train_default_args(d, 0));
        printf("\n");
    }
    static const char *const no_sets[] = {NULL};
    if (!one) print_defaults(NULL, no_sets, no_sets);
    printf("backbones: %s\n", backbone_choices());
    return 0;
}
