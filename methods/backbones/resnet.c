/* torchvision ResNet-18/34/50 with torchvision's parameter names; fc is Identity (features
 * after global average pooling), as PySSL sets backbone.fc = Identity(). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backbone.h"

static int is_bottleneck(const backbone_cfg *cfg) { return strcmp(cfg->name, "resnet50") == 0; }

static void layer_blocks(const backbone_cfg *cfg, int blocks[4]) {
    static const int r18[4] = {2, 2, 2, 2}, r34[4] = {3, 4, 6, 3};
    memcpy(blocks, strcmp(cfg->name, "resnet18") == 0 ? r18 : r34, sizeof r18);
}

static int64_t base_width(const backbone_cfg *cfg) {
    int64_t w = (int64_t)llround(64.0 * cfg->width);
    return w < 1 ? 1 : w;
}

int64_t resnet_feat_dim(const backbone_cfg *cfg) { return base_width(cfg) * 8 * (is_bottleneck(cfg) ? 4 : 1); }

int resnet_cifar_stem(const backbone_cfg *cfg) {
    return cfg->cifar_stem >= 0 ? cfg->cifar_stem : cfg->image_size <= 64;
}

/* BasicBlock (expansion 1) or Bottleneck (expansion 4, stride on the 3x3 conv as torchvision) */
static int block(mbuild *mb, int x, int64_t cin, int64_t planes, int stride, int bottleneck) {
    ir_graph *g = mb->g;
    int64_t cout = planes * (bottleneck ? 4 : 1);
    int y;
    if (bottleneck) {
        y = ir_relu(g, mb_batchnorm(mb, "bn1", mb_conv(mb, "conv1", x, cin, planes, 1, 1, 0), planes, 1));
        y = ir_relu(g, mb_batchnorm(mb, "bn2", mb_conv(mb, "conv2", y, planes, planes, 3, stride, 1), planes, 1));
        y = mb_batchnorm(mb, "bn3", mb_conv(mb, "conv3", y, planes, cout, 1, 1, 0), cout, 1);
    } else {
        y = ir_relu(g, mb_batchnorm(mb, "bn1", mb_conv(mb, "conv1", x, cin, planes, 3, stride, 1), planes, 1));
        y = mb_batchnorm(mb, "bn2", mb_conv(mb, "conv2", y, planes, planes, 3, 1, 1), planes, 1);
    }
    int sc = x;
    if (stride != 1 || cin != cout) {
        ir_scope_push(g, "downsample");
        sc = mb_batchnorm(mb, "1", mb_conv(mb, "0", x, cin, cout, 1, stride, 0), cout, 1);
        ir_scope_pop(g);
    }
    return ir_relu(g, ir_add(g, y, sc));
}

int resnet_build(mbuild *mb, const backbone_cfg *cfg, int x) {
    ir_graph *g = mb->g;
    int bottleneck = is_bottleneck(cfg), blocks[4];
    layer_blocks(cfg, blocks);
    int64_t w = base_width(cfg), cin = w;
    int y;
    if (resnet_cifar_stem(cfg)) {
        y = ir_relu(g, mb_batchnorm(mb, "bn1", mb_conv(mb, "conv1", x, cfg->channels, w, 3, 1, 1), w, 1));
    } else {
        y = ir_relu(g, mb_batchnorm(mb, "bn1", mb_conv(mb, "conv1", x, cfg->channels, w, 7, 2, 3), w, 1));
        y = ir_maxpool(g, y, 3, 2, 1);
    }
    for (int l = 0; l < 4; l++) {
        char lname[16];
        snprintf(lname, sizeof lname, "layer%d", l + 1);
        ir_scope_push(g, lname);
        int64_t planes = w << l;
        for (int b = 0; b < blocks[l]; b++) {
            char bname[16];
            snprintf(bname, sizeof bname, "%d", b);
            ir_scope_push(g, bname);
            y = block(mb, y, cin, planes, (b == 0 && l > 0) ? 2 : 1, bottleneck);
            cin = planes * (bottleneck ? 4 : 1);
            ir_scope_pop(g);
        }
        ir_scope_pop(g);
    }
    return ir_flatten(g, ir_global_avg_pool(g, y), 1);
}
