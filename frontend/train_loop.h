/* The train loop behind `sslc run` and `sslc train`: a compiled plan, a dataset, a backend, and
 * optionally a run directory that receives the plan, checkpoints and metrics.
 *
 * Run directory (--out DIR):
 *   DIR/plan.plan               the plan (copied there unless it is already that file)
 *   DIR/checkpoint.safetensors  every parameter and state tensor + where the run stood
 *                               (runtime/checkpoint.h); written atomically every epoch, every
 *                               ckpt_every steps, at the end, on Ctrl-C / SIGTERM
 *   DIR/metrics.jsonl           one JSON object per progress line: step, epoch, loss (mean since
 *                               the previous line), lr, img_per_s, elapsed_s; and one per online
 *                               kNN measurement: step, epoch, online_knn_top1, online_knn_k,
 *                               online_knn_train, online_knn_test, online_knn_s
 *   DIR/.lock                   flock'd for the life of a run, holds its PID (frontend/rundir.h)
 *
 * A run is a pure function of the plan, the data, the seed and the planned total steps (the
 * schedules span the total), so `resume` continues bit-exactly on the CPU: parameters and state
 * come from the checkpoint, the loader restarts at the checkpoint's batch, augmentation draws
 * depend on (seed, step) only. A NaN or Inf loss (checked every step) or parameter or state
 * tensor (checked at every progress line and save) stops the run naming the step and the tensor,
 * and leaves the last good checkpoint in place.
 *
 * Under mpirun (train_opts.comm) the plan must be built for the job's number of ranks; `batch`
 * is per rank and an epoch is cut into global batches of ranks x batch (the loader's shards:
 * rank r takes rows r*batch .. of each, one seeded permutation), which the progress line and
 * the schedules count. Augmentation and fake views are drawn from the seed mixed with the rank
 * (rank 0 draws what a one-rank run draws). Parameters start from rank 0's; a resume needs the
 * same number of ranks (the plan's). The ranks agree on stopping (signal, --stop-after) after
 * every step, so none waits in a collective for a rank that stopped. */
#ifndef SSLC_TRAIN_LOOP_H
#define SSLC_TRAIN_LOOP_H
#include <stdint.h>

#include "../runtime/engine.h"

#define RUN_PLAN "plan.plan"
#define RUN_CHECKPOINT "checkpoint.safetensors"
#define RUN_METRICS "metrics.jsonl"

typedef struct {
    const char *plan_path; /* NULL with resume: DIR/plan.plan */
    const char *out_dir;   /* NULL: no checkpoints, no metrics */
    const char *data;      /* dataset spec; NULL: the checkpoint's (resume) or fake:512 */
    int64_t steps, epochs; /* the planned total (0: not given; default 1 epoch, or the checkpoint's) */
    int64_t seed;          /* -1: not given (0, or the checkpoint's) */
    engine_kind device;
    unsigned engine_flags; /* ENGINE_TF32 (--precision tf32) */
    int64_t log_every;     /* 0: about 20 lines a run (and at least every 30 s) */
    int64_t ckpt_every;    /* 0: once an epoch */
    int resume;
    int64_t stop_after;    /* stop with a checkpoint after this many steps of this invocation (0: no) */
    int dir_locked;        /* the caller holds out_dir's lock (frontend/rundir.h); else train_run takes it */
    /* online kNN (frontend/online_knn.h): subsets of knn_train / knn_test images (0: none), every
     * knn_every steps (0: at each epoch's end) and at the last step, with knn_k neighbours */
    int64_t knn_train, knn_test, knn_every;
    int knn_k;
    /* the data-parallel job (runtime/comm.h); NULL: one rank. Every rank trains; rank 0 alone
     * takes the directory's lock and writes the plan copy, checkpoints and metrics. */
    const struct ir_comm *comm;
} train_opts;

typedef struct {
    int64_t step, total;
    double last_loss;
    double seconds;
    int interrupted; /* stopped by a signal or stop_after, with a checkpoint */
    int signal;      /* the signal that stopped it (SIGINT, SIGTERM), 0 if none */
    char data[1024]; /* the dataset spec the run trained on */
    int has_labels;  /* that data has labels to evaluate with (fake: and --augment none: yes) */
} train_result;

/* mkdir -p DIR; 0 or -1 with err */
int run_mkdir(const char *dir, char *err);

/* Returns 0 (finished or stopped as asked, see r->interrupted) or -1 with one line in err.
 * Installs SIGINT/SIGTERM/SIGALRM handlers for good (see train_loop.c): after it returns, one
 * signal ends the process at once with status 128 + signal. */
int train_run(const train_opts *o, train_result *r, char *err);

#endif
