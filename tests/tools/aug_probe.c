/* Test helper for tests/oracle/augment_oracle.py: runs one op, or one augmentation view, through
 * the reference interpreter on tensors from a safetensors file.
 *
 *   aug_probe node OP IN.safetensors OUT.safetensors [attr=v[,v...] ...]
 *       inputs in0, in1, ... of IN become the node's inputs; OUT gets y (float32 run)
 *   aug_probe view RECIPE VIEW SEED STEP IN.safetensors OUT.safetensors [MEAN STD]
 *       IN holds `images` (u8 [B,C,H,W]); builds the view's augmentation subgraph of RECIPE
 *       (a method name) at output size = H (global views) or int(H*3/7) (local views), draws the
 *       parameters for (SEED, STEP) and writes them (aug.<view>.<param>) with the result y. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/augment_build.h"
#include "ir/builder.h"
#include "runtime/augment.h"
#include "runtime/interp.h"
#include "runtime/safetensors.h"

static int die(const char *msg) {
    fprintf(stderr, "aug_probe: %s\n", msg);
    return 1;
}

static int add_const(ir_graph *g, const st_tensor *t) {
    ir_dtype dt;
    if (st_dtype_to_ir(t->dtype, &dt)) return -1;
    return ir_const(g, dt, ir_shape_make(t->ndim, t->shape), t->data);
}

static int dump(const interp *it, int v, const char *name, st_table *out, char *err) {
    const ir_value *val = &it->g->vals[v];
    st_dtype sd;
    if (st_dtype_from_ir(it->t[v].dtype, &sd)) return -1;
    (void)val;
    return st_add(out, name, sd, it->t[v].shape.ndim, it->t[v].shape.d, it->t[v].data, err);
}

static int run_node(int argc, char **argv) {
    if (argc < 5) return die("usage: node OP IN OUT [attr=v ...]");
    int op = ir_op_find(argv[2]);
    if (op < 0) return die("unknown op");
    char err[IR_ERRLEN];
    st_table in, out;
    if (st_read(&in, argv[3], err)) return die(err);
    ir_graph g;
    ir_graph_init(&g);
    int ins[IR_MAX_IN], nin = 0;
    for (;; nin++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", nin);
        const st_tensor *t = st_find(&in, name);
        if (!t) break;
        ins[nin] = add_const(&g, t);
    }
    int node = ir_node_new(&g, op, ins, nin);
    for (int a = 5; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        if (!eq) return die("attribute without =");
        *eq = 0;
        const ir_opdef *def = ir_optable[op];
        int ai = ir_attr_index(def, argv[a]);
        if (ai < 0) return die("unknown attribute");
        if (def->attrs[ai].type == AT_FLOAT)
            ir_set_f(&g, node, argv[a], strtod(eq + 1, NULL));
        else if (def->attrs[ai].type == AT_INT)
            ir_set_i(&g, node, argv[a], strtoll(eq + 1, NULL, 10));
        else {
            int64_t v[IR_MAX_INTS];
            int n = 0;
            for (char *s = eq + 1; *s && n < IR_MAX_INTS; n++) {
                char *end;
                v[n] = strtoll(s, &end, 10);
                s = *end ? end + 1 : end;
            }
            ir_set_ints(&g, node, argv[a], v, n);
        }
    }
    int y = ir_node_finish(&g, node);
    st_free(&in);
    if (y < 0) return die(g.err);
    ir_add_output(&g, y);
    interp it;
    int rc = interp_init(&it, &g, 0, err) || interp_run(&it, err);
    st_init(&out);
    if (!rc) rc = dump(&it, y, "y", &out, err) || st_write(&out, argv[4], err);
    st_free(&out);
    interp_free(&it);
    ir_graph_free(&g);
    return rc ? die(err) : 0;
}

static int run_view(int argc, char **argv) {
    if (argc < 8) return die("usage: view RECIPE VIEW SEED STEP IN OUT [MEAN STD]");
    char err[IR_ERRLEN];
    const aug_recipe *r = aug_recipe_find(argv[2]);
    if (!r) return die("unknown recipe");
    int view = atoi(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    int64_t step = strtoll(argv[5], NULL, 10);
    st_table in, out;
    if (st_read(&in, argv[6], err)) return die(err);
    const st_tensor *im = st_find(&in, "images");
    if (!im || im->dtype != ST_U8 || im->ndim != 4) return die("IN needs images: u8 [B,C,H,W]");
    int64_t B = im->shape[0], C = im->shape[1], H = im->shape[2], W = im->shape[3];
    const aug_pipeline *p = aug_recipe_view(r, view);
    int64_t S = p->local ? (int64_t)(H * 3 / 7) : H;
    (void)W;
    aug_norm norm = aug_default_norm((int)C);
    if (argc >= 10) {
        norm.nmean = norm.nstd = 1;
        norm.mean[0] = strtod(argv[8], NULL);
        norm.std[0] = strtod(argv[9], NULL);
    }
    ir_graph g;
    ir_graph_init(&g);
    int images = ir_input(&g, "images", DT_U8, ir_shape_make(4, im->shape));
    int y = aug_build_view(&g, p, view, images, S, S, H, &norm);
    if (y < 0 || g.failed) return die(g.err);
    ir_add_output(&g, y);
    aug_binding b;
    interp it;
    int rc = aug_bind(&b, &g, &p, &view, 1, err);
    if (rc) return die(err);
    rc = interp_init(&it, &g, 0, err);
    if (!rc) {
        memcpy(interp_data(&it, images), im->data, (size_t)(B * C * H * W));
        rc = aug_draw(&b, seed, step, err) || aug_feed_interp(&b, &it, err) || interp_run(&it, err);
    }
    st_init(&out);
    for (int i = 0; i < b.ninputs && !rc; i++) rc = dump(&it, b.in[i].value, b.in[i].name, &out, err);
    if (!rc) rc = dump(&it, y, "y", &out, err) || st_write(&out, argv[7], err);
    st_free(&out);
    st_free(&in);
    interp_free(&it);
    aug_unbind(&b);
    ir_graph_free(&g);
    return rc ? die(err) : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "node")) return run_node(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "view")) return run_view(argc, argv);
    return die("usage: aug_probe node|view ...");
}
