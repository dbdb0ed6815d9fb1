/* A small ConvNet for quick CPU runs: three conv-BN-ReLU stages (two with 2x2 max pooling),
 * global average pooling. Names follow an nn.Sequential called `features`. */
#include <math.h>

#include "backbone.h"

static int64_t width_at(const backbone_cfg *cfg, int stage) {
    int64_t w = (int64_t)llround(32.0 * cfg->width) << stage;
    return w < 1 ? 1 : w;
}

int64_t convnet_feat_dim(const backbone_cfg *cfg) { return width_at(cfg, 2); }

int convnet_build(mbuild *mb, const backbone_cfg *cfg, int x) {
    ir_graph *g = mb->g;
    ir_scope_push(g, "features");
    int64_t cin = cfg->channels;
    /* Sequential indices: conv, bn, relu, (pool) per stage */
    static const char *names[3][2] = {{"0", "1"}, {"4", "5"}, {"8", "9"}};
    for (int s = 0; s < 3; s++) {
        int64_t c = width_at(cfg, s);
        x = ir_relu(g, mb_batchnorm(mb, names[s][1], mb_conv(mb, names[s][0], x, cin, c, 3, 1, 1), c, 1));
        if (s < 2) x = ir_maxpool(g, x, 2, 2, 0);
        cin = c;
    }
    ir_scope_pop(g);
    return ir_flatten(g, ir_global_avg_pool(g, x), 1);
}
