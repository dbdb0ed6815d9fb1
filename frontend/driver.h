/* The compiler driver: method graph -> autodiff -> optimizer and state updates -> train graph. */
#ifndef SSLC_DRIVER_H
#define SSLC_DRIVER_H
#include <stdint.h>

#include "../codegen/compiled_step.h"
#include "../methods/method.h"
#include "../passes/optimizer.h"
#include "../runtime/planfile.h"
#include "augment_build.h"

typedef struct {
    const method_def *method;
    method_spec spec;
    opt_config opt;
    double lr, weight_decay;
    char lr_schedule[16]; /* "cosine" or "constant" (fed per step by the runtime) */
    double warmup_epochs;
    char augment[32]; /* recipe name (a method's); "none" or "": views are graph inputs */
    int64_t source_h, source_w; /* augment: size of the u8 `images` input (0: the image size) */
    aug_norm norm;              /* augment: Normalize's mean and std */
    uint64_t seed;
    /* --backbone FILE.onnx: an imported backbone (spec.backbone.name "onnx", ext set by the caller) */
    const char *backbone_file, *backbone_output;
    uint32_t backbone_crc32;
    int image_size_set, channels_set; /* given on the command line (else the ONNX input's) */
    step_targets targets;             /* --targets / --cuda-arch: what the plan holds beyond the graph */
    int bf16;                         /* --precision bf16: products on bf16 operands (passes/mixed_precision.h) */
} compile_args;

/* Builds the full training step: forward + loss, gradients named grad.<param>, optimizer
 * updates, method state updates. Graph outputs: loss, then every gradient. Unless augment is
 * "none", the views are computed in the graph from input `images` (u8 [B,C,H,W]) by the
 * recipe's augmentation (augment_build.h) with per-step inputs aug.<view>.* (drawn by
 * runtime/augment.h). */
int driver_build_train(const compile_args *a, ir_graph *g, char *err);
/* --precision bf16 on a train graph, in place; 0 or -1 with err */
int driver_bf16(ir_graph *g, char *err);

/* `sslc compile` options (argv[0] is ignored, argv[optind] the method) into a; -1 for --help,
 * 2 with one line in perr for a usage error */
int parse_compile_args(int argc, char **argv, compile_args *a, const char **out, char *perr);
/* parse_compile_args' options (a getopt_long table), for suggestions */
struct option;
const struct option *compile_options(void);
/* The options a plan records about how it was made (method, backbone, optimizer, method
 * options, Normalize, seed), from the arguments alone, without building anything: what
 * `sslc train` prints as its recipe and compares on --resume. 0 or -1 with err. */
int compile_args_options(sslc_plan *p, const compile_args *a, char *err);
/* the whole compile: train graph, recorded options, plan written atomically */
int compile_to_file(const compile_args *a, const char *out, int *nnodes, char *err);

#endif
