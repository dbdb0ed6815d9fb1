/* Inside the plan file reader/writer: what runtime/planfile.c (graphs, the file) shares with
 * runtime/planfile_step.c (the compiled step). Not for other users. */
#ifndef SSLC_PLANFILE_IMPL_H
#define SSLC_PLANFILE_IMPL_H
#include "plan.pb-c.h"
#include "planfile.h"

/* the protobuf form of one graph, pointing into the ir_graph (which must outlive it) */
typedef struct {
    Sslc__Graph graph;
    Sslc__Value *vals;
    Sslc__Value **valp;
    Sslc__Init *inits;
    Sslc__Node *nodes;
    Sslc__Node **nodep;
    Sslc__Attr *attrs; /* IR_MAX_ATTRS per node */
    Sslc__Attr **attrp;
    Sslc__Update *upd;
    Sslc__Update **updp;
} enc_graph;

/* Fills e from g; INIT_DATA values whose bytes data_src (may be NULL) holds under the same name
 * are written as references to them (Value.data_from_train). Free with plan_enc_graph_free,
 * also after a failure. */
int plan_enc_graph(enc_graph *e, const ir_graph *g, const char *gname, const ir_graph *data_src, char *err);
void plan_enc_graph_free(enc_graph *e);

typedef struct {
    const char *what;  /* file name for messages */
    const char *gname; /* graph name for messages */
    char *err;
    const ir_graph *data_src; /* resolves Value.data_from_train (NULL: refused) */
} dctx;

/* one line "<what>: <gname> graph: <message>" into c->err; returns -1 */
int dfail(const dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Rebuilds a stored graph into g (initialized, empty) through the IR builder. 0 or -1. */
int plan_dec_graph(const dctx *c, const Sslc__Graph *pg, ir_graph *g);

/* The compiled step (runtime/planfile_step.c). enc_step points into cs, which must outlive it. */
typedef struct {
    Sslc__CompiledStep step;
    enc_graph lowered;
    Sslc__Launch *launch;
    Sslc__Launch **launchp;
    int32_t *inplace; /* EXEC_MAX_ARGS per launch */
    Sslc__Kernel *kern;
    Sslc__Kernel **kernp;
    Sslc__Segment *seg;
    Sslc__Segment **segp;
    int32_t *args; /* every segment's loads and stores */
    Sslc__MemoryPlan mem;
    uint32_t *loc_kind;
    int64_t *loc_off;
    Sslc__Cubin cubin[STEP_MAX_ARCHS];
    Sslc__Cubin *cubinp[STEP_MAX_ARCHS];
} enc_step;

int plan_enc_step(enc_step *e, const compiled_step *cs, const ir_graph *train, char *err);
void plan_enc_step_free(enc_step *e);
/* Reads and checks (compiled_step_check against train) a stored step. 0 or -1 with c->err. */
int plan_dec_step(const dctx *c, const Sslc__CompiledStep *pc, const ir_graph *train, compiled_step *cs);

#endif
