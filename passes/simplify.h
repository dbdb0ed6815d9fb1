/* simplify: dead-code elimination, common-subexpression elimination, constant folding and
 * algebraic identities, rewriting a graph into a new compact graph.
 *
 * Rules (applied in one topological sweep, then dead code is removed):
 *   identities  Identity(x), StopGradient(x) (graph already differentiated), Reshape/Flatten to
 *               x's own shape -> x; Reshape/Flatten(Reshape/Flatten(x)) -> Reshape(x);
 *               Neg(Neg(x)) -> x; x*1, 1*x, x+0, 0+x, x-0, x/1 -> x when the constant is all
 *               ones/zeros and does not broadcast x to a larger shape.
 *   folding     nodes whose inputs are all constants are evaluated with the f32 reference
 *               kernels (bit-identical to running them) when each output has at most
 *               fold_max_elems elements; f64/f16/bf16 values are never folded.
 *   CSE         same op, same (remapped) inputs, same attributes; constants are compared by
 *               dtype, shape and content, so equal constants merge too.
 *   DCE         nodes none of whose outputs reach a graph output or an update source.
 * The output graph keeps every input, parameter and state value (in their original order,
 * with names, flags and init recipes), the constants still referenced, the live nodes in their
 * original order, the outputs (same positions) and the updates. Values are renumbered. A graph
 * output whose value is rewritten away keeps its name: the surviving value takes it, or, if
 * that value already has a name (a parameter, another output), an Identity node carries it.
 * Graph outputs are bit-identical to the input graph's under the f32 reference interpreter
 * (except that x+0 turns -0 into +0 only in the original). */
#ifndef SSLC_SIMPLIFY_H
#define SSLC_SIMPLIFY_H
#include <stdint.h>

#include "../ir/ir.h"

typedef struct {
    int nodes_in, nodes_out;
    int vals_in, vals_out;
    int dead;       /* nodes removed as dead code (after the rewrites below) */
    int cse;        /* nodes merged into an identical earlier node */
    int folded;     /* nodes evaluated at compile time */
    int identities; /* nodes removed or rewritten by algebraic identities */
    int consts_merged; /* constants merged with an equal constant */
    int name_keepers;  /* Identity nodes added to keep an output's name */
} simplify_stats;

enum {
    SIMP_NO_DCE = 1 << 0,
    SIMP_NO_CSE = 1 << 1,
    SIMP_NO_FOLD = 1 << 2,
    SIMP_NO_ALGEBRA = 1 << 3,
};

typedef struct {
    int keep_stop_gradient; /* the graph is not differentiated yet: StopGradient must stay */
    int64_t fold_max_elems; /* largest folded output; 0 means 65536 */
    unsigned disable;       /* SIMP_NO_* bits (tests, debugging) */
} simplify_opts;

/* The defaults (used by simplify()): StopGradient removed, fold up to 65536 elements, all on. */
simplify_opts simplify_defaults(void);

/* Writes the simplified graph into *out (initialized here; free with ir_graph_free). `in` must
 * be a valid graph (nodes in topological order, as the builder makes them). st may be NULL.
 * Returns 0, or -1 with a message in err (IR_ERRLEN) and *out empty. */
int simplify(const ir_graph *in, ir_graph *out, simplify_stats *st, char *err);
int simplify_ex(const ir_graph *in, ir_graph *out, const simplify_opts *opts, simplify_stats *st, char *err);

#endif
