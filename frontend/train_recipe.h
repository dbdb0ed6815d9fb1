/* `sslc train`'s recipe: its defaults (where they differ from `sslc compile`'s, shown by
 * `sslc methods`), the resolved recipe it prints before the first step, and the check that a
 * command line may --resume a run. */
#ifndef SSLC_TRAIN_RECIPE_H
#define SSLC_TRAIN_RECIPE_H
#include <stdint.h>

#include "../runtime/planfile.h"
#include "driver.h"

/* A CPU-sized backbone (ResNet-18 at a quarter width: 16 base channels), the dataset's image
 * size and channels, and a schedule that learns within a few epochs: AdamW at PySSL's example
 * rate 1e-3 (measured on the main job, docs/PERFORMANCE.md). */
#define TRAIN_DEFAULT_DATA "fashion-mnist"
#define TRAIN_DEFAULT_EPOCHS 4
/* The main job's (simclr's) recipe: a ResNet-18 at half width for the 4 epochs, AdamW 2e-3 after a
 * half-epoch warm-up, in bf16 where the CPU has it, fits the 15 minutes of a 2-core machine and
 * probes best of the runs measured (docs/PERFORMANCE.md, "The 15-minute recipe"). */
#define TRAIN_MAIN_JOB_WIDTH "0.5"
#define TRAIN_MAIN_JOB_LR "2e-3"
#define TRAIN_MAIN_JOB_WARMUP "0.5"
#define TRAIN_DEFAULT_WIDTH "0.25"
#define TRAIN_DEFAULT_OPTIMIZER "adamw"
#define TRAIN_DEFAULT_LR "1e-3"
#define TRAIN_DEFAULT_WD "1e-6"

/* sslc train's --width for METHOD when neither --width nor an imported backbone is given. */
const char *train_default_width(const method_def *m);
/* Whether sslc train compiles METHOD in bf16 mixed precision when --precision is not given and
 * the run is on the cpu backend of a CPU with avx512_bf16 (simclr: the main job's recipe). */
int train_default_bf16(const method_def *m);

/* The method options `sslc train` sets unlike PySSL's defaults, as NAME=VALUE strings ending
 * with NULL (simclr, simclrv2: temperature=0.2; vicreg: a 1024-wide expander; nnclr: a support
 * set that fills within the first epoch); never NULL itself. */
const char *const *train_default_sets(const method_def *m);
/* The compile options `sslc train` adds for a method before the user's (which override them), as
 * an argv fragment ending with NULL; never NULL itself. mae: --backbone vit-tiny, and with
 * train's default AdamW (no --optimizer given) the reference's --adam-beta2 0.95
 * --weight-decay 0.05; vicreg, with train's default AdamW: --lr 3e-3 --warmup-epochs 0.5; simclr, with
 * train's default AdamW: --lr 2e-3 --warmup-epochs 0.5. */
const char *const *train_default_args(const method_def *m, int optimizer_given);

/* One line "recipe: method ..., backbone ..., ..." on stdout from the options a plan records
 * (p: a compiled plan, or compile_args_options' result); data and the run's length as given
 * (NULL / 0: the run's own, on resume). */
void train_print_recipe(const sslc_plan *p, const char *data, int64_t epochs, int64_t steps);

/* May this command line --resume the run whose plan is `run` (in dir)? method: the METHOD
 * argument (NULL: none given); a: the command line's compile options parsed (NULL: none given);
 * argv: the compile arguments, to know which options were given. Every option given must match
 * what the run was compiled with; one line in err names the first that does not. 0 or -1. */
int train_resume_check(const sslc_plan *run, const char *dir, const method_def *method, const compile_args *a, int argc,
                       char **argv, char *err);

#endif
