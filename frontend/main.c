/* sslc: the command-line entry point. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "suggest.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"methods", cmd_methods, "list the SSL methods with their options and defaults"},
    {"compile", cmd_compile, "compile a method into a train plan file"},
    {"inspect", cmd_inspect, "describe a plan: nodes, parameters, FLOPs per step"},
    {"run", cmd_run, "train with a compiled plan (cpu: fused JIT kernels; ref: reference interpreter)"},
    {"train", cmd_train, "compile + run + evaluate in one command (sslc train simclr: the main job)"},
    {"devices", cmd_devices, "list the backends this machine offers (cpu, cuda, nvrtc)"},
    {"step", cmd_step, "run optimizer steps on given parameters and inputs, dump loss/grads/state"},
    {"export", cmd_export, "write the trained encoder (eval mode) as an ONNX model"},
    {"features", cmd_features, "run the eval-mode encoder on given images (reference interpreter)"},
    {"eval", cmd_eval, "kNN and linear-probe top-1 of the encoder's features on a test split"},
    {"report", cmd_report, "write one self-contained HTML page about a run: curves, accuracy, retrieval, map"},
    {"embed", cmd_embed, "write the encoder's features of a dataset split as a NumPy .npy file"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: sslc <command> [options]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n  sslc <command> --help   options of one command\n  sslc --version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE_ERROR;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("sslc %s\n", SSLC_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    char list[256];
    size_t k = 0;
    for (int i = 0; i < NCOMMANDS; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", commands[i].name);
    char hint[96];
    return cli_error("unknown command '%s' (%scommands: %s)", argv[1], suggest_hint(argv[1], list, hint, sizeof hint), list);
}
