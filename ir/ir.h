/* sslc IR: typed values, ONNX-style nodes, graphs, the op table and the builder.
 * Every layer above the runtime creates nodes through this header. */
#ifndef SSLC_IR_H
#define SSLC_IR_H
#include <stddef.h>
#include <stdint.h>

#define IR_MAX_DIMS 6
#define IR_MAX_IN 16
#define IR_MAX_OUT 5
#define IR_MAX_ATTRS 8
#define IR_MAX_INTS 8
#define IR_ERRLEN 512
/* one formatted line into err (IR_ERRLEN bytes): how every layer reports a failure upward */
void ir_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef enum { DT_F32, DT_F64, DT_BF16, DT_F16, DT_I32, DT_I64, DT_U8, DT_BOOL, DT__COUNT } ir_dtype;
typedef enum { VK_INPUT, VK_PARAM, VK_STATE, VK_CONST, VK_INTER, VK__COUNT } ir_kind;

/* value flags */
enum {
    VF_NO_DECAY = 1 << 0, /* bias / norm parameter: no weight decay, no LARS adaptation */
    VF_FROZEN = 1 << 1,   /* parameter that receives no gradient (e.g. EMA teacher) */
    /* the loss autodiff derived the backward pass from: its producer ends the forward pass
     * (remat, fusion and the bf16 pass split there); rewrites carry it to the copy */
    VF_FORWARD_LOSS = 1 << 2,
};

typedef struct {
    int ndim;
    int64_t d[IR_MAX_DIMS];
} ir_shape;

/* How a parameter or state tensor is initialized; the runtime draws it from a seeded RNG. */
/* INIT_DATA: the value's `data` holds its initial contents (imported weights), dtype layout. */
typedef enum {
    INIT_NONE, INIT_CONST, INIT_NORMAL, INIT_UNIFORM, INIT_TRUNC_NORMAL, INIT_COPY, INIT_NORMAL_L2, INIT_DATA,
    INIT_NORMAL_L2_ROWS
} ir_init_kind;
typedef struct {
    ir_init_kind kind;
    double a, b; /* CONST: a; NORMAL/TRUNC_NORMAL/NORMAL_L2: mean a, std b; UNIFORM: [a, b) */
    int src;     /* COPY: value id to copy from after it is initialized */
} ir_init;

typedef struct {
    int id;
    ir_dtype dtype;
    ir_shape shape;
    ir_kind kind;
    char *name;   /* stable dotted name (owned); NULL for anonymous intermediates */
    int producer; /* node index, -1 for graph inputs/params/state/consts */
    unsigned flags;
    ir_init init;
    void *data;   /* VK_CONST payload, or INIT_DATA initial contents, in dtype layout (owned) */
} ir_value;

typedef enum { AT_NONE, AT_INT, AT_FLOAT, AT_INTS } ir_attr_type;
typedef struct {
    int64_t i;
    double f;
    int n;
    int64_t v[IR_MAX_INTS];
} ir_attrval;

typedef struct {
    int op;
    int nin, nout;
    int in[IR_MAX_IN];
    int out[IR_MAX_OUT];
    ir_attrval attr[IR_MAX_ATTRS]; /* indexed like the op's attribute schema */
} ir_node;

/* After a step, persistent value dst takes the value of src (optimizer, EMA, BN stats, queues). */
typedef struct {
    int dst, src;
} ir_update;

typedef struct ir_graph {
    ir_value *vals;
    int nvals, cap_vals;
    ir_node *nodes;
    int nnodes, cap_nodes;
    int *outputs;
    int noutputs, cap_outputs;
    ir_update *updates;
    int nupdates, cap_updates;
    char scope[256]; /* name prefix for parameters created by builders */
    int failed;      /* builder error latch: first error wins */
    char err[IR_ERRLEN];
} ir_graph;

/* ---- reference kernels ---- */
typedef struct {
    void *data;
    ir_dtype dtype; /* storage dtype: f32 or f64 for float values, as the executor chose */
    ir_shape shape;
    int64_t numel;
} ref_tensor;

typedef struct {
    const ir_node *node;
    int nin, nout;
    ref_tensor in[IR_MAX_IN];
    ref_tensor out[IR_MAX_OUT];
    char *err; /* IR_ERRLEN buffer for kernel failures (allocation) */
    const struct ir_comm *comm; /* the collectives' transport (ir/comm.h); NULL: one rank */
} ref_call;
typedef int (*ref_kernel)(const ref_call *c);
struct ir_opdef;
/* Runs an op's reference kernel (float64 with f64). The kernels compute in float or double:
 * bfloat16 inputs are widened to that first (into temporaries), so every op takes bf16 operands
 * with float32 (float64) arithmetic; only Cast reads and writes bf16 itself. 0 or -1 (c->err). */
int ir_ref_run(const struct ir_opdef *def, const ref_call *c, int f64);

/* ---- op table ---- */
enum {
    OPF_GRAD_ONLY = 1 << 0, /* created only by gradient rules; its FD check is the forward op's */
    OPF_NO_GRAD = 1 << 1,   /* not differentiable by design (state/optimizer/integer ops) */
    OPF_ELEMENTWISE = 1 << 2,
    OPF_STOP = 1 << 3, /* output carries no gradient (StopGradient) */
    OPF_COLLECTIVE = 1 << 4, /* runs over the communicator (ir/comm.h): every rank must run it */
};

typedef struct {
    const char *name;
    ir_attr_type type;
    double def; /* default for INT/FLOAT; INTS default to empty */
} ir_attr_schema;

typedef struct ir_opdef {
    const char *name;
    int min_in, max_in;
    int nout;
    unsigned flags;
    int nattrs;
    ir_attr_schema attrs[IR_MAX_ATTRS];
    /* Sets dtype/shape of the node's outputs (already created); returns 0 or -1 with g->err set. */
    int (*infer)(ir_graph *g, ir_node *n, ir_shape *out_shapes, ir_dtype *out_dtypes);
    ref_kernel ref_f32, ref_f64;
    /* Builds gradient nodes. gy[k]: gradient of output k or -1. want[i]: input i needs a gradient.
     * Writes gx[i] (value id or -1). Returns 0 or -1. */
    int (*grad)(ir_graph *g, int node, const int *gy, const int *want, int *gx);
    /* floating-point operations of one execution; NULL means one per output element */
    int64_t (*flops)(const ir_graph *g, const ir_node *n);
} ir_opdef;

#define OP(name) OP_##name,
typedef enum {
#include "ops.def"
    OP__COUNT
} ir_op;
#undef OP

extern const ir_opdef *const ir_optable[OP__COUNT];
int ir_op_find(const char *name); /* -1 if unknown */
int ir_attr_index(const ir_opdef *def, const char *name);

/* ---- graph ---- */
void ir_graph_init(ir_graph *g);
void ir_graph_free(ir_graph *g);
int ir_fail(ir_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *ir_dtype_name(ir_dtype t);
/* bfloat16 bits <-> float32: round to nearest even; NaN stays NaN (quiet) */
static inline uint16_t ir_bf16_from_f32(float f) {
    union { float f; uint32_t u; } x = {f};
    if ((x.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x.u >> 16) | 0x40u);
    return (uint16_t)((x.u + 0x7fffu + ((x.u >> 16) & 1u)) >> 16);
}
static inline float ir_f32_from_bf16(uint16_t b) {
    union { uint32_t u; float f; } x = {(uint32_t)b << 16};
    return x.f;
}
/* the dtype a product (Conv, Gemm, MatMul) of `in` operands accumulates and writes: float32 for
 * bfloat16 operands (mixed precision), else the operands' own */
static inline ir_dtype ir_acc_dtype(ir_dtype in) { return in == DT_BF16 ? DT_F32 : in; }
size_t ir_dtype_size(ir_dtype t);
int ir_dtype_is_float(ir_dtype t);
const char *ir_kind_name(ir_kind k);
int64_t ir_numel(const ir_shape *s);
/* whether g has bfloat16 values (a plan compiled with --precision bf16) */
int ir_graph_has_bf16(const ir_graph *g);
ir_shape ir_shape_make(int ndim, const int64_t *d);
int ir_shape_eq(const ir_shape *a, const ir_shape *b);
void ir_shape_str(const ir_shape *s, char *buf, size_t n);
#define IR_SHAPE(...) ir_shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

int ir_value_new(ir_graph *g, ir_kind kind, ir_dtype dt, ir_shape shape, const char *name);
int ir_find_value(const ir_graph *g, const char *name); /* -1 if none */
/* the value flagged VF_FORWARD_LOSS (the last one, if autodiff ran more than once); -1 if none */
int ir_forward_loss(const ir_graph *g);
void ir_set_name(ir_graph *g, int v, const char *name);
void ir_add_output(ir_graph *g, int v);
void ir_add_update(ir_graph *g, int dst, int src);

/* Scoped names: ir_scope_push(g, "layer1.0") ... ir_scope_pop(g). */
void ir_scope_push(ir_graph *g, const char *part);
void ir_scope_pop(ir_graph *g);
void ir_scoped_name(const ir_graph *g, const char *leaf, char *buf, size_t n);

/* generic node construction: new node with default attributes, set attributes, then finish */
int ir_node_new(ir_graph *g, int op, const int *in, int nin);
void ir_set_i(ir_graph *g, int node, const char *attr, int64_t v);
void ir_set_f(ir_graph *g, int node, const char *attr, double v);
void ir_set_ints(ir_graph *g, int node, const char *attr, const int64_t *v, int n);
int ir_node_finish(ir_graph *g, int node); /* shape inference; returns first output id or -1 */

int64_t ir_get_i(const ir_node *n, const char *attr);
double ir_get_f(const ir_node *n, const char *attr);
const ir_attrval *ir_get(const ir_node *n, const char *attr);

/* FLOPs of one node / the whole graph (multiply-add = 2) */
int64_t ir_node_flops(const ir_graph *g, const ir_node *n);
int64_t ir_graph_flops(const ir_graph *g);

/* Text dump (one line per value and node), for tests and `sslc inspect`. */
#include <stdio.h>
void ir_dump(const ir_graph *g, FILE *f);

#endif
