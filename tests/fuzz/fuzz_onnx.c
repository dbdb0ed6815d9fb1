/* Fuzz entry point: the ONNX importer (frontend/onnx_import.c onnx_model_decode, which
 * onnx_model_load calls on the file's bytes; the graph's only output, else output `features`),
 * then onnx_model_backbone and the backbone's build in both modes, as `sslc compile --backbone
 * FILE.onnx` does. Building the graph is where shape checks live; nothing is run
 * (tests/test_onnx_fuzz.c runs small accepted models). */
#include "frontend/onnx.h"
#include "fuzz_target.h"
#include "methods/mbuild.h"

int FUZZ_ENTRY(onnx)(const uint8_t *data, size_t size) {
    onnx_model *m = NULL;
    char err[IR_ERRLEN] = "";
    /* the graph's only output, else (as for `--backbone-output features`) the one sslc exports */
    if (onnx_model_decode(&m, data, size, "fuzz.onnx", NULL, err)) {
        fuzz_check_err("onnx decode", err);
        if (onnx_model_decode(&m, data, size, "fuzz.onnx", "features", err)) {
            fuzz_check_err("onnx decode", err);
            return 0;
        }
    }
    onnx_input_info in = onnx_model_input(m);
    int ch = in.channels >= 1 && in.channels <= 3 ? (int)in.channels : 3;
    int hw = in.height >= 8 && in.height <= 64 ? (int)in.height : 16;
    backbone_ext ext;
    if (onnx_model_backbone(m, ch, hw, &ext, err)) {
        fuzz_check_err("onnx backbone", err);
        onnx_model_free(m);
        return 0;
    }
    fuzz_accepted++;
    for (int training = 0; training < 2; training++) {
        ir_graph g;
        mbuild mb;
        ir_graph_init(&g);
        mb_init(&mb, &g, training);
        int x = ir_input(&g, "views.0", DT_F32, IR_SHAPE(2, ch, hw, hw));
        ir_scope_push(&g, "backbone");
        int y = ext.build(ext.ctx, &mb, x);
        ir_scope_pop(&g);
        mb_finish(&mb);
        mb_free(&mb);
        if (y < 0)
            fuzz_check_err("onnx build", g.err);
        else if (g.vals[y].shape.ndim != 2 || g.vals[y].shape.d[1] != ext.feat_dim)
            fuzz_fail("onnx: the accepted backbone's output is not [N, %lld]", (long long)ext.feat_dim);
        ir_graph_free(&g);
    }
    onnx_model_free(m);
    return 0;
}
