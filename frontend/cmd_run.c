/* sslc run FILE: trains with a compiled plan on a backend (cpu: fused JIT kernels; ref: the
 * reference interpreter), printing a progress line per interval; the loop is train_loop.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "job.h"
#include "train_loop.h"

int cmd_run(int argc, char **argv) {
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'D'},      {"steps", required_argument, 0, 'n'},
        {"epochs", required_argument, 0, 'E'},    {"device", required_argument, 0, 'd'},
        {"seed", required_argument, 0, 's'},      {"log-every", required_argument, 0, 'L'},
        {"out", required_argument, 0, 'o'},       {"resume", no_argument, 0, 'r'},
        {"checkpoint-every", required_argument, 0, 'k'}, {"stop-after", required_argument, 0, 'S'},
        {"precision", required_argument, 0, 'P'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    train_opts o;
    memset(&o, 0, sizeof o);
    o.seed = -1;
    const char *device = "cpu";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'D': o.data = optarg; break;
        case 'd': device = optarg; break;
        case 'P': {
            char perr[IR_ERRLEN];
            if (engine_precision_parse(optarg, &o.engine_flags, perr)) return cli_error("%s", perr);
            break;
        }
        case 'o': o.out_dir = optarg; break;
        case 'r': o.resume = 1; break;
        case 'n':
            if (cli_parse_int("--steps", optarg, 1, INT64_MAX / 4, &o.steps)) return CLI_USAGE_ERROR;
            break;
        case 'E':
            if (cli_parse_int("--epochs", optarg, 1, 1000000, &o.epochs)) return CLI_USAGE_ERROR;
            break;
        case 's':
            if (cli_parse_int("--seed", optarg, 0, INT64_MAX, &o.seed)) return CLI_USAGE_ERROR;
            break;
        case 'L':
            if (cli_parse_int("--log-every", optarg, 1, INT64_MAX, &o.log_every)) return CLI_USAGE_ERROR;
            break;
        case 'k':
            if (cli_parse_int("--checkpoint-every", optarg, 1, INT64_MAX, &o.ckpt_every)) return CLI_USAGE_ERROR;
            break;
        case 'S':
            if (cli_parse_int("--stop-after", optarg, 1, INT64_MAX, &o.stop_after)) return CLI_USAGE_ERROR;
            break;
        case 'h':
            printf("usage: sslc run FILE [--data SPEC] [--steps N | --epochs N] [--out DIR] [--device cpu|cuda|ref]\n"
                   "                [--precision f32|tf32] [--seed S] [--log-every K] [--checkpoint-every K] [--stop-after K]\n"
                   "       sslc run --resume DIR [--steps N | --epochs N]\n"
                   "  --data: plans with augmentation read any dataset (fashion-mnist[:DIR], cifar10:DIR,\n"
                   "          folder:DIR, fake:N) through the loader; plans compiled with --augment none\n"
                   "          take fake:N (random views). Default fake:512\n"
                   "  --steps/--epochs: the run's length (default 1 epoch); schedules span it\n"
                   "  --out DIR: run directory: plan.plan, checkpoint.safetensors (every epoch, every\n"
                   "          --checkpoint-every steps, at the end, on Ctrl-C), metrics.jsonl\n"
                   "  --resume: continue the run in DIR from its checkpoint, bit-exactly on the cpu\n"
                   "  --stop-after K: stop after K steps of this invocation, with a checkpoint\n"
                   "  mpirun -np N sslc run ...: N data-parallel ranks of a plan compiled with --ranks N\n"
                   "          (global batch N x batch; rank 0 writes DIR; README \"Data-parallel training\")\n"
                   "  --device: cpu (fused JIT kernels, oneDNN), cuda (GPU 0: NVRTC kernels, cuBLAS,\n"
                   "          cuDNN, one CUDA Graph per step; under mpirun each rank's own GPU, NCCL),\n"
                   "          ref (the reference interpreter)\n"
                   "  --precision: f32 (default), tf32 (cuda: TF32 tensor cores in cuBLAS/cuDNN)\n");
            return 0;
        case ':': return cli_error("option %s needs a value", argv[optind - 1]);
        default: return cli_unknown_option("run", argv[optind - 1], longopts, NULL);
        }
    }
    if (optind + 1 < argc) return cli_error("run: unexpected argument '%s'", argv[optind + 1]);
    if (o.steps > 0 && o.epochs > 0) return cli_error("run: give --steps or --epochs, not both");
    if (o.resume) {
        struct stat st;
        if (optind < argc) {
            if (stat(argv[optind], &st) || !S_ISDIR(st.st_mode))
                return cli_error("run: --resume continues a run directory; '%s' is not one", argv[optind]);
            if (o.out_dir && strcmp(o.out_dir, argv[optind]))
                return cli_error("run: --resume: give the run directory once");
            o.out_dir = argv[optind];
        }
        if (!o.out_dir) return cli_error("run: --resume: which run directory?");
    } else {
        if (optind >= argc) return cli_error("run: which plan file?");
        o.plan_path = argv[optind];
    }
    char err[IR_ERRLEN];
    if (engine_kind_parse(device, &o.device, err)) return cli_error("%s", err);
    ir_comm comm;
    if (job_open(&comm, err)) return cli_error("%s", err);
    o.comm = &comm;
    if (!o.resume && !o.data && comm.rank == 0) /* train_loop.h's default: say so, random images learn nothing */
        printf("note: no --data: training on fake:512 (random images); give --data SPEC for a dataset\n");
    train_result r;
    if (train_run(&o, &r, err)) return job_fail(&comm, err, CLI_RUN_ERROR);
    job_close(&comm);
    return r.signal ? 128 + r.signal : 0;
}
