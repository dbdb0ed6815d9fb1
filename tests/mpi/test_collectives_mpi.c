/* The collectives on two ranks (run by ctest under mpirun -np 2) against the one-process
 * equivalent written in plain C: rank r holds x_r and a weight w_r; each builds
 * loss_r = sum(w_r * op(x_r)) and differentiates it. The forward output must be the collective
 * of every rank's x, and the gradient reaching x_r must be d(sum_s loss_s)/dx_r, the gradient of
 * the job's total loss (what one process over the concatenated batch computes), in float32 and
 * float64. With SSLC_BREAK_ALLGATHER_GRAD=1 (lightly issue 1528's rule) AllGather's gradient
 * check must fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/builder.h"
#include "passes/autodiff.h"
#include "mpi_job.h"
#include "runtime/comm.h"
#include "runtime/interp.h"

#define N 3 /* rows per rank */
#define D 2
#define R 2 /* ranks */

static double xval(int r, int i) { return 0.5 + r + 0.25 * i + 0.01 * (i * i); }
/* float32-exact: the weights are float32 constants of the graph */
static double wval(int r, int i) { return (double)(float)(1.0 - 0.3 * r + 0.1 * i); }

/* rows of x_r: N (ReduceScatter takes R*N) */
static int64_t rows_in(int op) { return op == OP_ReduceScatter ? R * N : N; }
static int64_t rows_out(int op) { return op == OP_AllGather ? R * N : op == OP_ReduceScatter ? N : N; }

static void expected(int op, int mean, int rank, double *y, double *gx) {
    int64_t ni = rows_in(op) * D, no = rows_out(op) * D;
    for (int64_t i = 0; i < no; i++) {
        double v = 0;
        switch (op) {
        case OP_AllReduce:
            for (int s = 0; s < R; s++) v += xval(s, (int)i);
            if (mean) v /= R;
            break;
        case OP_AllGather: v = xval((int)(i / (N * D)), (int)(i % (N * D))); break;
        case OP_ReduceScatter:
            for (int s = 0; s < R; s++) v += xval(s, (int)(rank * N * D + i));
            break;
        case OP_Broadcast: v = xval(0, (int)i); break;
        }
        y[i] = v;
    }
    for (int64_t i = 0; i < ni; i++) {
        double v = 0;
        switch (op) {
        case OP_AllReduce:
            for (int s = 0; s < R; s++) v += wval(s, (int)i);
            if (mean) v /= R;
            break;
        case OP_AllGather: /* every rank's weight on x_r's block of the gathered tensor */
            for (int s = 0; s < R; s++) v += wval(s, (int)(rank * N * D + i));
            break;
        case OP_ReduceScatter: /* block s of x_r feeds rank s's output */
            v = wval((int)(i / (N * D)), (int)(i % (N * D)));
            break;
        case OP_Broadcast:
            if (rank == 0)
                for (int s = 0; s < R; s++) v += wval(s, (int)i);
            break;
        }
        gx[i] = v;
    }
}

/* 0: matches; 1: mismatch (printed); -1: could not run */
static int check(const ir_comm *comm, int op, int mean, int f64, int quiet) {
    ir_graph g;
    ir_graph_init(&g);
    int64_t ni = rows_in(op) * D, no = rows_out(op) * D;
    int x = ir_param(&g, "x", IR_SHAPE(rows_in(op), D), ir_init_const(0), 0);
    float *w = malloc((size_t)no * sizeof(float));
    for (int64_t i = 0; i < no; i++) w[i] = (float)wval(comm->rank, (int)i);
    int wc = ir_const(&g, DT_F32, IR_SHAPE(rows_out(op), D), w);
    int y = op == OP_AllReduce       ? ir_all_reduce(&g, x, R, mean)
            : op == OP_AllGather     ? ir_all_gather(&g, x, R)
            : op == OP_ReduceScatter ? ir_reduce_scatter(&g, x, R)
                                     : ir_broadcast(&g, x, R, 0);
    int loss = ir_reduce_sum(&g, ir_mul(&g, y, wc), NULL, 0, 0);
    int gx = -1;
    char err[IR_ERRLEN] = {0};
    int rc = -1;
    interp it;
    if (loss < 0 || autodiff(&g, loss, &x, 1, &gx) || gx < 0) {
        fprintf(stderr, "rank %d: build: %s\n", comm->rank, g.err);
        goto out;
    }
    ir_add_output(&g, y);
    ir_add_output(&g, gx);
    if (interp_init(&it, &g, f64, err)) goto fail;
    it.comm = comm;
    double *xs = malloc((size_t)ni * sizeof(double)), *got = malloc((size_t)(ni + no) * sizeof(double));
    double *wy = malloc((size_t)no * sizeof(double)), *wg = malloc((size_t)ni * sizeof(double));
    for (int64_t i = 0; i < ni; i++) xs[i] = xval(comm->rank, (int)i);
    expected(op, mean, comm->rank, wy, wg);
    if (interp_set_f64(&it, x, xs, err) || interp_run(&it, err) || interp_get_f64(&it, y, got, err) ||
        interp_get_f64(&it, gx, got + no, err)) {
        interp_free(&it);
        free(xs), free(got), free(wy), free(wg);
        goto fail;
    }
    double tol = f64 ? 1e-12 : 1e-6, worst = 0;
    for (int64_t i = 0; i < no; i++) worst = fmax(worst, fabs(got[i] - wy[i]) / fmax(1, fabs(wy[i])));
    for (int64_t i = 0; i < ni; i++) worst = fmax(worst, fabs(got[no + i] - wg[i]) / fmax(1, fabs(wg[i])));
    rc = worst > tol;
    if (!quiet)
        printf("%s rank %d %s%s %s: forward and gradient vs one process, max rel err %.2e\n", rc ? "FAIL" : "ok  ",
               comm->rank, ir_optable[op]->name, op == OP_AllReduce ? (mean ? "(mean)" : "(sum)") : "",
               f64 ? "f64" : "f32", worst);
    interp_free(&it);
    free(xs), free(got), free(wy), free(wg);
    goto out;
fail:
    fprintf(stderr, "rank %d: %s: %s\n", comm->rank, ir_optable[op]->name, err);
out:
    free(w);
    ir_graph_free(&g);
    return rc;
}

int main(void) {
    ir_comm comm;
    if (mpi_job_open(&comm, R)) return 1;
    int failed = 0;
    int ops[] = {OP_AllReduce, OP_AllReduce, OP_AllGather, OP_ReduceScatter, OP_Broadcast};
    for (int f64 = 0; f64 <= 1; f64++)
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) failed |= check(&comm, ops[k], k == 1, f64, 0) != 0;
    /* the lightly 1528 rule: each rank keeps its own block of its own gradient */
    setenv("SSLC_BREAK_ALLGATHER_GRAD", "1", 1);
    int broken = check(&comm, OP_AllGather, 0, 1, 1);
    unsetenv("SSLC_BREAK_ALLGATHER_GRAD");
    if (broken != 1) {
        printf("FAIL rank %d: the broken AllGather gradient passed the check\n", comm.rank);
        failed = 1;
    } else
        printf("ok   rank %d: the broken AllGather gradient (lightly 1528) fails the check\n", comm.rank);
    if (comm.bytes_sent == 0) {
        printf("FAIL rank %d: no bytes counted\n", comm.rank);
        failed = 1;
    }
    comm_close(&comm);
    return failed;
}
