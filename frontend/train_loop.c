#include "train_loop.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../ir/comm.h"
#include "../passes/optimizer.h"
#include "../runtime/augment.h"
#include "../runtime/checkpoint.h"
#include "../runtime/dataset.h"
#include "../runtime/fileio.h"
#include "../runtime/loader.h"
#include "../runtime/planfile.h"
#include "../runtime/rng.h"
#include "encoder_desc.h"
#include "online_knn.h"
#include "../runtime/threads.h"
#include "plan_opts.h"
#include "rundir.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* SIGINT/SIGTERM during a run: the first sets stop_signal; the loop finishes its step, checkpoints
 * and returns (exit 130/143). The handlers stay installed from the start of train_run through the
 * final save and after it (sslc train's evaluation), so a signal never kills a save halfway. A
 * second signal, or a step not ended STOP_GRACE_S seconds after the first, ends the process at
 * once (_exit(128 + signal)), removing a checkpoint write in progress: the last checkpoint on disk
 * stays as it was. Once the final checkpoint is written, one signal ends the process at once. */
#define STOP_GRACE_S 5 /* SSLC_STOP_GRACE_S overrides it (the tests) */
static volatile sig_atomic_t stop_signal, run_saved;
static unsigned stop_grace = STOP_GRACE_S;
static char grace_msg[160]; /* formatted before any signal: a handler may not call snprintf */
static void stop_now(int sig, const char *msg, size_t n) {
    sslc_write_atomic_abandon();
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
    _exit(128 + sig);
}
#define STOP_NOW(sig, m) stop_now(sig, m, sizeof m - 1)
static void on_signal(int sig) {
    if (run_saved) STOP_NOW(sig, "sslc: interrupted after the final checkpoint, which is complete\n");
    if (stop_signal)
        STOP_NOW(sig, "sslc: second signal: stopped at once; the checkpoint on disk is the last complete one\n");
    stop_signal = sig;
    alarm(stop_grace);
}
static void on_alarm(int sig) {
    (void)sig;
    stop_now(stop_signal ? stop_signal : SIGTERM, grace_msg, strlen(grace_msg));
}
static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a signal must not fail the save's write() or fsync() */
    stop_signal = 0, run_saved = 0;
    const char *g = getenv("SSLC_STOP_GRACE_S");
    stop_grace = g && atoi(g) > 0 ? (unsigned)atoi(g) : STOP_GRACE_S;
    snprintf(grace_msg, sizeof grace_msg,
             "sslc: the step did not end within %u s of the signal: stopped at once; the checkpoint on disk is the "
             "last complete one\n", stop_grace);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
}

/* ---- the run directory ---- */

int run_mkdir(const char *dir, char *err) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        ir_errf(err, "--out: path too long");
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) {
                ir_errf(err, "cannot create directory %s: %s", buf, strerror(errno));
                return -1;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        ir_errf(err, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

static void join(char *out, size_t n, const char *dir, const char *file) { snprintf(out, n, "%s/%s", dir, file); }

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Temporary files of a checkpoint write that a crash interrupted (runtime/fileio.c names them
 * FILE.tmp.PID.N): garbage once a run resumes. */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    size_t n = strlen(RUN_CHECKPOINT ".tmp.");
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, RUN_CHECKPOINT ".tmp.", n)) continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p) unlink(p);
    }
    closedir(d);
}

static int file_crc32(const char *path, uint32_t *crc, unsigned char **bytes, size_t *len, char *err) {
    if (sslc_read_file(path, PLAN_MAX_BYTES, bytes, len, err)) return -1;
    uLong c = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < *len;) {
        uInt chunk = *len - off > (1u << 30) ? (1u << 30) : (uInt)(*len - off);
        c = crc32(c, *bytes + off, chunk);
        off += chunk;
    }
    *crc = (uint32_t)c;
    return 0;
}

/* Keeps the metrics lines up to `step` (a resumed run rewrites what followed its checkpoint). */
static int trim_metrics(const char *path, int64_t step, char *err) {
    if (!exists(path)) return 0;
    unsigned char *buf;
    size_t len;
    if (sslc_read_file(path, (size_t)1 << 30, &buf, &len, err)) return -1;
    size_t keep = 0;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) break; /* a torn last line */
        const char *k = strstr((char *)buf + i, "\"step\":");
        if (!k || k > nl || strtoll(k + 7, NULL, 10) > step) break;
        i = (size_t)(nl - (char *)buf) + 1;
        keep = i;
    }
    int rc = 0;
    if (keep != len) {
        const void *parts[1] = {buf};
        size_t lens[1] = {keep};
        rc = sslc_write_atomic(path, parts, lens, 1, err);
    }
    free(buf);
    return rc;
}

/* ---- feeding the step ---- */

static int feed_images(engine *e, sslc_loader *l, char *err) {
    loader_batch b;
    if (loader_next(l, &b, err)) return -1;
    int v = engine_find(e, "images");
    const ir_shape *s = &engine_graph(e)->vals[v].shape;
    if (engine_upload(e, v, b.images, (size_t)ir_numel(s), err)) return -1;
    int lab = engine_find(e, "labels"); /* SupCon */
    if (lab >= 0 && engine_graph(e)->vals[lab].dtype == DT_I64) {
        /* the loader's int32 labels as the graph's int64; training batches are whole (drop_last) */
        size_t n = engine_value_bytes(e, lab) / sizeof(int64_t);
        int64_t *y = malloc(n * sizeof *y + 1);
        if (!y) {
            ir_errf(err, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) y[i] = i < (size_t)b.n ? b.labels[i] : -1;
        int rc = engine_upload(e, lab, y, n * sizeof *y, err);
        free(y);
        if (rc) return -1;
    }
    return 0;
}

/* the step's host-drawn aug.* inputs (augmentation parameters, shuffles), with or without a loader */
static int feed_aug(engine *e, aug_binding *ab, int64_t step, uint64_t seed, char *err) {
    if (!ab->ninputs) return 0;
    if (aug_draw(ab, seed, step, err)) return -1;
    for (int i = 0; i < ab->ninputs; i++) {
        int a = engine_find(e, ab->in[i].name);
        if (a >= 0 && engine_upload(e, a, ab->in[i].data, aug_input_bytes(&ab->in[i]), err)) return -1;
    }
    return 0;
}

/* fake:N for plans whose views are inputs: per-step normal views and uniform labels, seeded */
static int feed_fake(engine *e, int64_t step, uint64_t seed, int64_t nclasses, char *err) {
    int from_loader = engine_find(e, "images") >= 0;
    const ir_graph *g = engine_graph(e);
    sslc_rng r;
    rng_seed(&r, seed, 1000 + (uint64_t)step);
    for (int v = 0; v < g->nvals; v++) {
        const ir_value *val = &g->vals[v];
        if (val->kind != VK_INPUT || !strncmp(val->name, "opt.", 4) || !strncmp(val->name, "sched.", 6) ||
            !strncmp(val->name, "aug.", 4) || !strcmp(val->name, "images") || (from_loader && !strcmp(val->name, "labels")))
            continue;
        int64_t n = ir_numel(&val->shape);
        if (!engine_has_value(e, v)) continue;
        if (val->dtype != DT_F32 && val->dtype != DT_I64) {
            ir_errf(err, "input '%s' (%s) cannot be fed from fake data", val->name, ir_dtype_name(val->dtype));
            return -1;
        }
        size_t bytes = engine_value_bytes(e, v);
        void *d = malloc(bytes ? bytes : 1);
        if (!d) {
            ir_errf(err, "out of memory");
            return -1;
        }
        if (val->dtype == DT_F32)
            for (int64_t i = 0; i < n; i++) ((float *)d)[i] = (float)rng_normal(&r);
        else
            for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i] = (int64_t)(rng_uniform(&r) * (double)nclasses);
        int rc = engine_upload(e, v, d, bytes, err);
        free(d);
        if (rc) return -1;
    }
    return 0;
}

static void fmt_time(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) s = 0;
    int h = (int)(s / 3600), m = (int)(fmod(s, 3600) / 60), sec = (int)fmod(s, 60);
    if (h)
        snprintf(buf, n, "%dh%02dm", h, m);
    else
        snprintf(buf, n, "%dm%02ds", m, sec);
}

/* ---- the loop ---- */

typedef struct {
    const train_opts *o;
    sslc_plan p;
    char dir_plan[PATH_MAX], dir_ckpt[PATH_MAX], dir_metrics[PATH_MAX], dir_desc[PATH_MAX];
    uint32_t plan_crc;
    engine *e;
    sslc_dataset *ds;
    sslc_loader *ld;
    aug_binding ab;
    FILE *metrics;
    opt_config cfg;
    double lr, wd;
    int64_t batch, per_epoch, total, nfake;
    ckpt_meta meta;
    int64_t saved_step; /* of the newest checkpoint, -1: none */
    int64_t start_step; /* where this invocation started */
    int lock_fd;        /* the run directory's lock, when train_run took it; -1 */
    online_knn *knn;    /* NULL: no online kNN */
    const ir_comm *comm; /* NULL: one rank */
    int rank, ranks;
} run_state;

/* the seed of this rank's random views and augmentation: the run's seed on rank 0 */
static uint64_t rank_seed(const run_state *r) {
    return r->meta.seed + (uint64_t)r->rank * 0x9E3779B97F4A7C15ULL;
}

static int open_data(run_state *r, const char *spec, char *err) {
    const ir_graph *g = &r->p.train;
    if (!r->ab.nviews) { /* --augment none: views are inputs, only fake data */
        if (strncmp(spec, "fake:", 5)) {
            ir_errf(err, "this plan takes its views as inputs (--augment none): only fake:N data, got '%s'", spec);
            return -1;
        }
        char *end;
        long long n = strtoll(spec + 5, &end, 10);
        if (end == spec + 5 || *end || n < 1) {
            ir_errf(err, "--data: expected fake:N with N >= 1, got '%s'", spec);
            return -1;
        }
        r->nfake = n;
        r->per_epoch = r->nfake / (r->batch * r->ranks);
        if (r->per_epoch < 1) {
            ir_errf(err, "fake:%lld has fewer images than one batch of %lld", n, (long long)(r->batch * r->ranks));
            return -1;
        }
        return 0;
    }
    const ir_shape *s = &g->vals[ir_find_value(g, "images")].shape;
    /* fake: and folder: data come at the plan's size (folder: resized); the others have their own */
    ds_options dopt = {.channels = (int)s->d[1], .seed = r->meta.seed, .height = (int)s->d[2], .width = (int)s->d[3]};
    if (ds_open(&r->ds, spec, DS_TRAIN, &dopt, err)) return -1;
    const ds_info *in = ds_get_info(r->ds);
    if (in->note[0]) printf("note: %s\n", in->note);
    if (in->h != s->d[2] || in->w != s->d[3]) {
        ir_errf(err, "%s has %dx%d images, the plan takes %lldx%lld (compile with --source-size %dx%d)", in->what, in->h, in->w,
             (long long)s->d[2], (long long)s->d[3], in->h, in->w);
        return -1;
    }
    loader_cfg c = loader_defaults((int)r->batch);
    c.seed = r->meta.seed;
    c.shard = r->rank, c.nshards = r->ranks;
    /* per_epoch before the loader exists: global batches of a full epoch (drop_last) */
    r->per_epoch = in->n / (r->batch * r->ranks);
    if (r->per_epoch < 1) {
        ir_errf(err, "%s has %lld images, fewer than one global batch of %lld (compile with --batch %lld or less)",
                in->what, (long long)in->n, (long long)(r->batch * r->ranks), (long long)(in->n / r->ranks));
        return -1;
    }
    c.start_epoch = r->meta.step / r->per_epoch;
    c.start_batch = r->meta.step % r->per_epoch;
    if (loader_open(&r->ld, r->ds, &c, err)) return -1;
    if (loader_batches_per_epoch(r->ld) != r->per_epoch) {
        ir_errf(err, "internal: loader has %lld batches an epoch, expected %lld", (long long)loader_batches_per_epoch(r->ld),
             (long long)r->per_epoch);
        return -1;
    }
    return 0;
}

/* The run diverged at step s (what: the loss or the tensor that became NaN / Inf): one line
 * naming the step and the last good checkpoint, which stays in place. */
static void diverged(const run_state *r, int64_t s, const char *what, char *err) {
    long long ep = (long long)((s - 1) / r->per_epoch + 1);
    if (r->saved_step >= 0)
        ir_errf(err, "%s at step %lld (epoch %lld); stopped. The last good checkpoint is step %lld in %s", what,
                (long long)s, ep, (long long)r->saved_step, r->dir_ckpt);
    else
        ir_errf(err, "%s at step %lld (epoch %lld); stopped (no checkpoint was written)%s", what, (long long)s, ep,
                r->o->out_dir ? "" : "; --out DIR keeps checkpoints");
}

/* a parameter or state tensor that is NaN or Inf (a finite loss does not rule it out: BatchNorm's
 * running_var can go NaN while the loss sits at a constant) */
static int check_state(run_state *r, int64_t s, char *err) {
    char what[IR_ERRLEN];
    int rc = ckpt_check_state(r->e, what);
    if (rc == CKPT_NONFINITE) {
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, " after the update");
        diverged(r, s, what, err);
    } else if (rc)
        snprintf(err, IR_ERRLEN, "%s", what);
    return rc ? -1 : 0;
}

static int save(run_state *r, int64_t step, char *err) {
    if (!r->o->out_dir || r->rank != 0) return 0; /* every rank holds the same parameters and state */
    r->meta.step = step;
    r->meta.total = r->total;
    r->meta.plan_crc32 = r->plan_crc;
    char what[IR_ERRLEN];
    int rc = ckpt_save(r->e, &r->meta, r->dir_ckpt, what);
    if (rc == CKPT_NONFINITE) { /* nothing written: the previous checkpoint stays the last good one */
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, " after the update");
        diverged(r, step, what, err);
    } else if (rc)
        snprintf(err, IR_ERRLEN, "%s", what); /* st_write names the file */
    if (rc) return -1;
    r->saved_step = step;
    return 0;
}

/* Plan and run directory; on resume also the checkpoint's metadata, loaded below. */
static int prepare(run_state *r, char *err) {
    const train_opts *o = r->o;
    if (o->out_dir) {
        join(r->dir_plan, sizeof r->dir_plan, o->out_dir, RUN_PLAN);
        join(r->dir_ckpt, sizeof r->dir_ckpt, o->out_dir, RUN_CHECKPOINT);
        join(r->dir_metrics, sizeof r->dir_metrics, o->out_dir, RUN_METRICS);
        join(r->dir_desc, sizeof r->dir_desc, o->out_dir, BACKBONE_JSON);
    }
    if (o->resume) {
        if (!o->out_dir) {
            ir_errf(err, "--resume needs the run directory (--out DIR)");
            return -1;
        }
        if (!o->dir_locked && r->rank == 0 && rundir_lock(o->out_dir, 0, NULL, &r->lock_fd, err)) return -1;
        if (!exists(r->dir_ckpt)) {
            ir_errf(err, "%s: no checkpoint to resume from (%s is missing)", o->out_dir, RUN_CHECKPOINT);
            return -1;
        }
    } else if (o->out_dir && r->rank == 0) {
        if (!o->dir_locked && rundir_lock(o->out_dir, 1, o->plan_path, &r->lock_fd, err)) return -1;
        if (exists(r->dir_ckpt)) {
            ir_errf(err, "%s already holds a run (%s); continue it with --resume or choose another --out", o->out_dir,
                 RUN_CHECKPOINT);
            return -1;
        }
    }
    const char *plan_path = o->plan_path ? o->plan_path : r->dir_plan;
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (file_crc32(plan_path, &r->plan_crc, &bytes, &len, err)) return -1;
    ir_comm one = {.size = 1};
    int rc = plan_decode(&r->p, bytes, len, plan_path, err) || plan_check_ranks(&r->p, plan_path, r->comm ? r->comm : &one, err);
    if (!rc && o->out_dir && !o->resume && r->rank == 0) {
        char a[PATH_MAX], b[PATH_MAX];
        int same = realpath(plan_path, a) && realpath(r->dir_plan, b) && !strcmp(a, b);
        const void *parts[1] = {bytes};
        if (!same) rc = sslc_write_atomic(r->dir_plan, parts, &len, 1, err);
    }
    free(bytes);
    /* what PyTorch needs to rebuild the encoder (python/); a run from before it existed gets it on resume */
    if (!rc && o->out_dir && r->rank == 0 && (!o->resume || !exists(r->dir_desc))) rc = backbone_json_write(r->dir_plan, r->dir_desc, err);
    return rc;
}

/* Online kNN at step s: a line on stdout and one in metrics.jsonl. Returns its seconds (the
 * caller keeps them out of the images/s; 0 when a stop signal cut it short), or -1 with err. */
static double online_knn_at(run_state *r, int64_t s, char *err) {
    online_knn_result k;
    int rc = online_knn_measure(r->knn, &k, err);
    if (rc) return rc > 0 ? 0 : -1;
    int64_t ep = (s - 1) / r->per_epoch + 1;
    printf("step %lld  epoch %lld  online knn-%d top-1 %.2f %%  (%lld train / %lld test images, %.1f s)\n", (long long)s,
           (long long)ep, r->o->knn_k, k.top1, (long long)k.n_train, (long long)k.n_test, k.seconds);
    fflush(stdout);
    if (r->metrics) {
        fprintf(r->metrics,
                "{\"step\":%lld,\"epoch\":%lld,\"online_knn_top1\":%.2f,\"online_knn_k\":%d,\"online_knn_train\":%lld,"
                "\"online_knn_test\":%lld,\"online_knn_s\":%.3f}\n",
                (long long)s, (long long)ep, k.top1, r->o->knn_k, (long long)k.n_train, (long long)k.n_test, k.seconds);
        fflush(r->metrics);
    }
    return k.seconds;
}

static int run_steps(run_state *r, train_result *res, char *err) {
    const train_opts *o = r->o;
    int loss = engine_find(r->e, "loss");
    if (loss < 0) {
        ir_errf(err, "plan has no value named 'loss'");
        return -1;
    }
    int64_t start = r->start_step, total = r->total;
    int64_t log_every = o->log_every > 0 ? o->log_every : (total < 20 ? 1 : total / 20);
    int64_t ckpt_every = o->ckpt_every > 0 ? o->ckpt_every : r->per_epoch;
    int64_t knn_every = o->knn_every > 0 ? o->knn_every : r->per_epoch;
    double t0 = now(), tlast = t0, loss_sum = 0;
    int64_t last_step = start, nsum = 0;
    int rc = 0;
    int64_t s;
    /* per-sample shuffles (MAE's masks) follow the global sample, so N ranks mask as one does */
    aug_set_rank(&r->ab, r->meta.seed, r->rank, r->ranks);
    for (s = start + 1; s <= total; s++) {
        if (stop_signal) { /* arrived while the run was being prepared: checkpoint where it stands */
            res->interrupted = 1;
            s--;
            break;
        }
        double lr = lr_value(&r->p, r->lr, s, total, r->per_epoch);
        opt_scalar sc[OPT_MAX_SCALARS];
        int ns = optimizer_step_inputs(&r->cfg, s, lr, r->wd, sc);
        for (int k = 0; k < ns && !rc; k++) {
            int v = engine_find(r->e, sc[k].name);
            if (v >= 0) rc = engine_set_f32(r->e, v, &sc[k].value, err);
        }
        if (rc || (r->ld && feed_images(r->e, r->ld, err)) || feed_aug(r->e, &r->ab, s - 1, rank_seed(r), err) ||
            feed_sched_step(r->e, &r->p, s, total, r->per_epoch, err) || feed_fake(r->e, s, rank_seed(r), 10, err) ||
            engine_run(r->e, err)) {
            rc = -1;
            break;
        }
        float l;
        if (engine_get_f32(r->e, loss, &l, err)) {
            rc = -1;
            break;
        }
        if (!isfinite(l)) {
            char what[64];
            snprintf(what, sizeof what, "loss became %g", (double)l);
            diverged(r, s, what, err);
            rc = -1;
            break;
        }
        loss_sum += l, nsum++;
        res->last_loss = l;
        double t = now();
        if (s % log_every == 0 || s == total || t - tlast >= 30 || stop_signal ||
            (o->stop_after && s - start >= o->stop_after)) {
            double ips = (double)(s - last_step) * (double)(r->batch * r->ranks) / (t - tlast + 1e-12);
            char eta[32];
            fmt_time((t - t0) / (double)(s - start) * (double)(total - s), eta, sizeof eta);
            int64_t ep = (s - 1) / r->per_epoch + 1, eps = (total + r->per_epoch - 1) / r->per_epoch;
            printf("step %lld/%lld  epoch %lld/%lld  loss %.5f  lr %.4g  %.1f img/s  ETA %s\n", (long long)s,
                   (long long)total, (long long)ep, (long long)eps, loss_sum / (double)nsum, lr, ips, eta);
            fflush(stdout);
            if (r->metrics) {
                fprintf(r->metrics,
                        "{\"step\":%lld,\"epoch\":%lld,\"loss\":%.9g,\"lr\":%.9g,\"img_per_s\":%.2f,\"elapsed_s\":%.3f}\n",
                        (long long)s, (long long)ep, loss_sum / (double)nsum, lr, ips, t - t0);
                fflush(r->metrics);
            }
            tlast = t, last_step = s, loss_sum = 0, nsum = 0;
            /* the whole state at each progress line (a save checks it anyway): downloading it every
             * step would cost as much as a checkpoint a step */
            if (!(o->out_dir && (s % ckpt_every == 0 || s == total)) && check_state(r, s, err)) {
                rc = -1;
                break;
            }
        }
        if (r->knn && !stop_signal && (s % knn_every == 0 || s == total)) {
            double dt = online_knn_at(r, s, err);
            if (dt < 0) {
                rc = -1;
                break;
            }
            tlast += dt; /* the next images/s counts training only */
        }
        if (s % ckpt_every == 0 && s != total && save(r, s, err)) {
            rc = -1;
            break;
        }
        int stop = stop_signal || (o->stop_after && s - start >= o->stop_after);
        if (r->ranks > 1) { /* a rank that stops alone would leave the others in the next collective */
            float any = (float)stop;
            if (r->comm->ops->allreduce_sum(r->comm->self, &any, 1, DT_F32, err)) {
                rc = -1;
                break;
            }
            stop = any > 0;
        }
        if (stop) {
            res->interrupted = 1;
            break;
        }
    }
    alarm(0); /* the step ended: no forced stop for the first signal */
    if (s > total) s = total;
    res->step = rc ? s - 1 : s;
    res->seconds = now() - t0;
    if (!rc && save(r, s, err)) rc = -1;
    alarm(0);
    run_saved = 1;
    /* a signal during the final save: the checkpoint is written all the same, then the run stops */
    if (stop_signal) res->interrupted = 1;
    res->signal = stop_signal;
    if (!rc && res->interrupted) {
        if (stop_signal && s == total) /* the signal came with the last step: nothing is left to resume */
            printf("interrupted (%s) after the last step (%lld); the checkpoint%s%s is the finished run's\n",
                   stop_signal == SIGINT ? "Ctrl-C" : "SIGTERM", (long long)s, o->out_dir ? " " : "",
                   o->out_dir ? r->dir_ckpt : " (none: no --out)");
        else if (stop_signal)
            printf("interrupted (%s) at step %lld; checkpoint written%s%s; continue with --resume\n",
                   stop_signal == SIGINT ? "Ctrl-C" : "SIGTERM", (long long)s, o->out_dir ? " to " : "",
                   o->out_dir ? r->dir_ckpt : " (none: no --out)");
        else
            printf("stopped after %lld steps at step %lld; checkpoint in %s\n", (long long)(s - start), (long long)s,
                   o->out_dir ? r->dir_ckpt : "(none: no --out)");
    }
    return rc;
}

/* the cpu backend's thread count, chosen once before the engine starts (runtime/threads.h) */
static int choose_threads(char *err) {
    char line[256];
    if (threads_setup(line, sizeof line, err)) return -1;
    printf("%s\n", line);
    return 0;
}

int train_run(const train_opts *o, train_result *res, char *err) {
    run_state r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    r.o = o;
    r.saved_step = -1;
    r.lock_fd = -1;
    r.comm = o->comm;
    r.rank = o->comm ? o->comm->rank : 0;
    r.ranks = o->comm ? o->comm->size : 1;
    install_stop_handlers();
    plan_init(&r.p);
    char info[256] = "";
    int rc = -1;
    if (prepare(&r, err) || plan_opt_config(&r.p, &r.cfg, &r.lr, &r.wd, err) ||
        plan_int_option(&r.p, "batch", &r.batch, err) || aug_bind_plan(&r.ab, &r.p, err))
        goto out;
    if (o->device == ENGINE_CPU && choose_threads(err)) goto out;
    /* the first run of a plan compiles its kernels (cached afterwards): say why nothing moves */
    printf("preparing the %s engine (kernels are compiled once and cached)\n", engine_kind_name(o->device));
    fflush(stdout);
    r.e = engine_new_plan_comm(o->device, o->engine_flags, &r.p, o->comm, info, sizeof info, err);
    if (!r.e) goto out;
    if (engine_init_persistent(r.e, r.p.seed, err)) goto out;
    if (o->resume) {
        if (ckpt_load(r.e, r.dir_ckpt, &r.plan_crc, &r.meta, err)) goto out;
        if (o->data && strcmp(o->data, r.meta.data)) {
            ir_errf(err, "--resume: the run used --data %s; resuming on other data would not continue it", r.meta.data);
            goto out;
        }
        if (o->seed >= 0 && (uint64_t)o->seed != r.meta.seed) {
            ir_errf(err, "--resume: the run used --seed %llu", (unsigned long long)r.meta.seed);
            goto out;
        }
        r.saved_step = r.meta.step;
        if (r.rank == 0) {
            remove_stale_temps(o->out_dir);
            if (trim_metrics(r.dir_metrics, r.meta.step, err)) goto out;
        }
    } else {
        snprintf(r.meta.data, sizeof r.meta.data, "%s", o->data ? o->data : "fake:512");
        if (strlen(o->data ? o->data : "") >= sizeof r.meta.data) {
            ir_errf(err, "--data: spec too long");
            goto out;
        }
        r.meta.seed = o->seed >= 0 ? (uint64_t)o->seed : 0;
    }
    if (engine_broadcast_persistent(r.e, o->comm, 0, err)) goto out;
    snprintf(res->data, sizeof res->data, "%s", r.meta.data);
    if (open_data(&r, r.meta.data, err)) goto out;
    res->has_labels = r.ds ? ds_get_info(r.ds)->has_labels : 1;
    r.total = o->steps > 0 ? o->steps : o->epochs > 0 ? o->epochs * r.per_epoch : o->resume ? r.meta.total : r.per_epoch;
    if (o->resume && r.total != r.meta.total)
        printf("note: the run was planned for %lld steps, now %lld: the learning-rate schedule changes from here\n",
               (long long)r.meta.total, (long long)r.total);
    if (r.meta.step >= r.total) {
        ir_errf(err, "%s is at step %lld, the run has %lld steps: nothing to do (give more --steps or --epochs)", r.dir_ckpt,
             (long long)r.meta.step, (long long)r.total);
        goto out;
    }
    printf("%s\n", info);
    if (r.ranks > 1)
        printf("data-parallel: %d ranks x batch %lld = global batch %lld\n", r.ranks, (long long)r.batch,
               (long long)(r.batch * r.ranks));
    if (o->resume) printf("resuming %s at step %lld of %lld\n", o->out_dir, (long long)r.meta.step, (long long)r.total);
    /* a fresh run starts the file anew (a run that never checkpointed may have left lines) */
    if (o->out_dir && r.rank == 0 && !(r.metrics = fopen(r.dir_metrics, o->resume ? "a" : "w"))) {
        ir_errf(err, "cannot open %s: %s", r.dir_metrics, strerror(errno));
        goto out;
    }
    if (o->knn_train > 0 && r.rank == 0) { /* rank 0 measures, as it evaluates */
        char why[IR_ERRLEN] = "";
        int k = online_knn_open(&r.knn, o->plan_path ? o->plan_path : r.dir_plan, r.meta.data, r.meta.seed, o->knn_train,
                                o->knn_test, o->knn_k, o->device, r.e, &stop_signal, why, err);
        if (k < 0) goto out;
        if (k)
            printf("online kNN: off (%s)\n", why);
        else
            printf("online kNN: knn-%d on %lld train / %lld test images (seeded), every %lld steps and at the end\n",
                   o->knn_k, (long long)o->knn_train, (long long)o->knn_test,
                   (long long)(o->knn_every > 0 ? o->knn_every : r.per_epoch));
    }
    res->total = r.total;
    r.start_step = r.meta.step;
    rc = run_steps(&r, res, err);
    if (!rc && !res->interrupted)
        printf("done: %lld steps in %.1f s%s%s\n", (long long)(res->step - r.start_step), res->seconds,
               o->out_dir ? ", checkpoint " : "", o->out_dir ? r.dir_ckpt : "");
out:
    if (r.metrics) fclose(r.metrics);
    online_knn_close(r.knn);
    engine_free(r.e);
    loader_close(r.ld);
    ds_close(r.ds);
    aug_unbind(&r.ab);
    plan_free(&r.p);
    if (r.lock_fd >= 0) close(r.lock_fd);
    return rc;
}
