/* sslc methods: every method with its options, defaults and one-line descriptions. */
#include <stdio.h>
#include <string.h>

#include "../methods/method.h"
#include "cli.h"

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
        for (int i = 0; i < d->nopts; i++) {
            char v[32];
            method_format_value(&d->opts[i], d->opts[i].def, v, sizeof v);
            printf("    --set %-26s default %-8s %s\n", d->opts[i].name, v, d->opts[i].help);
        }
        printf("\n");
    }
    printf("backbones: %s\n", backbone_choices());
    return 0;
}
