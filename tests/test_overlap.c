/* The split AllReduce (AllReduceStart / AllReduceWait) through schedule, memory plan and
 * executor, on one process with a communicator that checks the buffer contract:
 * - the schedule puts the start right after its input's step and the wait right before the
 *   first step that reads its result, with the other steps between them;
 * - the graph is one whose arena reuses bytes freely: the start's input dies at the start, and
 *   its bytes are reused by a step between start and wait (so the arena would reuse a dead
 *   buffer), while the buffer in flight (the start's output) shares no byte with any value
 *   written while it is in flight, and the plan passes the checker;
 * - run on the executor with the arena poisoned, the communicator sees the buffer untouched
 *   from start to wait (it keeps a copy at the start and compares at the wait), got progress
 *   calls between them, and the result equals the blocking AllReduce's. */
#include <stdlib.h>
#include <string.h>

#include "ir/builder.h"
#include "ir/comm.h"
#include "optest.h"
#include "passes/memplan.h"
#include "passes/schedule.h"
#include "passes/steps.h"
#include "runtime/arena_exec.h"

#define N 4096 /* elements of every value: equal sizes, so the arena can reuse any freed buffer */

/* a job of two ranks where the other rank holds the same values: a sum doubles */
typedef struct {
    ir_comm c;
    void *buf;
    float *copy;
    int64_t n;
    int starts, waits, progress_calls, touched;
} fake_comm;

static int fake_sum(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    (void)self, (void)dt, (void)err;
    for (int64_t i = 0; i < n; i++) ((float *)buf)[i] *= 2;
    return 0;
}
static int fake_start(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    fake_comm *f = self;
    (void)dt;
    if (f->buf || !(f->copy = malloc((size_t)n * sizeof(float)))) {
        snprintf(err, IR_ERRLEN, "fake: a second start, or out of memory");
        return -1;
    }
    memcpy(f->copy, buf, (size_t)n * sizeof(float));
    f->buf = buf, f->n = n, f->starts++;
    f->c.pending = 1;
    return 0;
}
static int fake_wait(void *self, void *buf, char *err) {
    fake_comm *f = self;
    if (buf != f->buf) {
        snprintf(err, IR_ERRLEN, "fake: a wait on another buffer than the start's");
        return -1;
    }
    f->touched = memcmp(f->copy, buf, (size_t)f->n * sizeof(float)) != 0;
    free(f->copy);
    f->copy = NULL, f->buf = NULL, f->waits++;
    f->c.pending = 0;
    return fake_sum(self, buf, f->n, DT_F32, err);
}
static int fake_progress(void *self, char *err) {
    (void)err;
    ((fake_comm *)self)->progress_calls++;
    return 0;
}
static const ir_comm_ops fake_ops = {.name = "fake", .allreduce_sum = fake_sum, .allreduce_start = fake_start,
                                     .allreduce_wait = fake_wait, .progress = fake_progress};

static fake_comm fake;

static int collective_step(void *ctx, int step, const ref_call *c, void *ws, char *err) {
    (void)ctx, (void)step, (void)ws, (void)err;
    ref_call cc = *c;
    cc.comm = &fake.c;
    return ir_optable[c->node->op]->ref_f32(&cc);
}

/* y = reduce(g) + chain, with g = 2x and a chain of three values computed from x that the
 * memory plan may place anywhere the arena has room; reduce is split or blocking */
static int build(ir_graph *g, int split, int *start_out, int *start_in) {
    int x = ir_input(g, "x", DT_F32, IR_SHAPE(N));
    int gr = ir_mul_scalar(g, x, 2.0);
    int c1 = ir_add_scalar(g, x, 1.0);
    int c2 = ir_mul(g, c1, c1);
    int c3 = ir_neg(g, c2);
    int red;
    if (split) {
        *start_out = ir_all_reduce_start(g, gr, 2);
        red = ir_all_reduce_wait(g, *start_out, 2, 0);
    } else
        red = ir_all_reduce(g, gr, 2, 0);
    *start_in = gr;
    int y = ir_add(g, red, c3);
    ir_add_output(g, y);
    return y;
}

static int pos_of_op(const ir_graph *g, const exec_step *st, int n, int op) {
    for (int s = 0; s < n; s++)
        if (st[s].kind == STEP_NODE && g->nodes[st[s].node].op == op) return s;
    return -1;
}

static int overlaps(const memplan *mp, int a, int b) {
    const exec_loc *x = &mp->loc[a], *y = &mp->loc[b];
    return x->kind == LOC_ARENA && y->kind == LOC_ARENA && x->offset < y->offset + y->bytes &&
           y->offset < x->offset + x->bytes;
}

static int run(int split, float *out) {
    ir_graph g;
    ir_graph_init(&g);
    int sout = -1, sin = -1, y = build(&g, split, &sout, &sin);
    char err[IR_ERRLEN];
    CHECK(y >= 0, "build: %s", g.err);
    exec_step *st;
    int n;
    CHECK(exec_steps_unfused(&g, &st, &n, err) == 0, "%s", err);
    CHECK(schedule_steps(&g, st, n, NULL, err) == 0, "schedule: %s", err);
    memplan mp;
    CHECK(memplan_build(&g, st, n, &mp, err) == 0 && memplan_check(&g, st, n, &mp, err) == 0, "memplan: %s", err);
    if (split) {
        int s0 = pos_of_op(&g, st, n, OP_AllReduceStart), s1 = pos_of_op(&g, st, n, OP_AllReduceWait);
        CHECK(s0 >= 0 && s1 > s0, "start at %d, wait at %d", s0, s1);
        CHECK(st[s0 - 1].out[0] == sin, "the start is not right after the step writing its input");
        CHECK(st[s1 + 1].out[0] == y && s1 + 2 == n, "the wait is not right before its reader");
        CHECK(s1 - s0 == 4, "%d steps between start and wait, 3 expected (the chain)", s1 - s0 - 1);
        int reused = 0;
        for (int s = s0 + 1; s < s1; s++) {
            CHECK(!overlaps(&mp, sout, st[s].out[0]), "step %d writes into the buffer in flight", s);
            reused |= overlaps(&mp, sin, st[s].out[0]);
        }
        CHECK(reused, "no step between start and wait reuses the start's (dead) input: the arena reuses nothing");
        printf("ok   start at step %d, wait at %d of %d; the buffer in flight keeps its bytes, its dead input's are "
               "reused\n",
               s0 + 1, s1 + 1, n);
    }
    arena_exec ax;
    CHECK(arena_exec_init(&ax, &g, st, n, NULL, &mp, NULL, err) == 0, "executor: %s", err);
    ax.poison = 1;
    ax.comm = &fake.c;
    ax.lib.op[OP_AllReduce] = ax.lib.op[OP_AllReduceStart] = ax.lib.op[OP_AllReduceWait] = collective_step;
    float *x = arena_exec_data(&ax, 0);
    for (int i = 0; i < N; i++) x[i] = (float)(i % 97) / 16 - 3;
    CHECK(arena_exec_run(&ax, err) == 0, "run: %s", err);
    memcpy(out, arena_exec_data(&ax, y), N * sizeof(float));
    arena_exec_free(&ax);
    memplan_free(&mp);
    free(st);
    ir_graph_free(&g);
    return 0;
}

int main(void) {
    static float split[N], blocking[N];
    memset(&fake, 0, sizeof fake);
    fake.c.ops = &fake_ops, fake.c.self = &fake, fake.c.size = 2;
    if (run(1, split)) return 1;
    CHECK(fake.starts == 1 && fake.waits == 1, "%d starts, %d waits", fake.starts, fake.waits);
    CHECK(!fake.touched, "the buffer changed between start and wait");
    CHECK(fake.progress_calls == 4, "%d progress calls while in flight, 4 expected (after the start and each step between)",
          fake.progress_calls);
    printf("ok   the executor left the buffer untouched from start to wait, with %d progress calls\n",
           fake.progress_calls);
    if (run(0, blocking)) return 1;
    CHECK(memcmp(split, blocking, sizeof split) == 0, "split and blocking AllReduce differ");
    printf("ok   split AllReduce equals the blocking one bit for bit\n2 passed, 0 failed\n");
    return 0;
}
