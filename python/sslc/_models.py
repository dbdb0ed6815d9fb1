"""The encoders sslc builds (methods/backbones/), as PyTorch modules with the same parameter names:
torchvision's ResNet (its own layer builder at any width), torchvision's VisionTransformer (timm's
names, which sslc uses, mapped to torchvision's), and sslc's small ConvNet."""
import torch
from torch import nn
import torchvision


def resnet(name, base, channels, cifar_stem):
    """torchvision's ResNet-18/34/50 with `base` channels in its first stage (64 is torchvision's
    own), `channels` input channels, fc = Identity (features after global average pooling, as
    PySSL's backbone), and the CIFAR stem (3x3 stride-1 conv, no max pool) when asked."""
    m = getattr(torchvision.models, name)(weights=None)
    block = type(m.layer1[0])
    if base != 64:  # rebuild the stages with torchvision's own builder at this width
        m.inplanes = base
        m.bn1 = nn.BatchNorm2d(base)
        m.layer1 = m._make_layer(block, base, len(m.layer1))
        m.layer2 = m._make_layer(block, base * 2, len(m.layer2), stride=2)
        m.layer3 = m._make_layer(block, base * 4, len(m.layer3), stride=2)
        m.layer4 = m._make_layer(block, base * 8, len(m.layer4), stride=2)
    if cifar_stem:
        m.conv1 = nn.Conv2d(channels, base, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    elif channels != 3 or base != 64:
        m.conv1 = nn.Conv2d(channels, base, kernel_size=7, stride=2, padding=3, bias=False)
    m.fc = nn.Identity()
    return m


class ConvNet(nn.Module):
    """sslc's ConvNet (methods/backbones/convnet.c): three conv-BN-ReLU stages, 2x2 max pooling
    after the first two, global average pooling; widths base, 2 base, 4 base."""

    def __init__(self, base, channels):
        super().__init__()
        layers, cin = [], channels
        for s in range(3):
            c = base << s
            layers += [nn.Conv2d(cin, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if s < 2:
                layers.append(nn.MaxPool2d(2, 2))
            cin = c
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)


VIT_HEADS = {"vit-tiny": 3, "vit-small": 6}


def vit(name, dim, depth, patch, image_size, channels):
    """torchvision's VisionTransformer at sslc's dims (MLP ratio 4, LayerNorm eps 1e-6), heads =
    Identity (the class token's features after the final LayerNorm), its patch projection for
    `channels` input channels."""
    from torchvision.models.vision_transformer import VisionTransformer
    m = VisionTransformer(image_size=image_size, patch_size=patch, num_layers=depth, num_heads=VIT_HEADS[name],
                          hidden_dim=dim, mlp_dim=4 * dim)
    if channels != 3:
        m.conv_proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)
    m.heads = nn.Identity()
    return m


_VIT_BLOCK = {"norm1": "ln_1", "norm2": "ln_2", "attn.qkv.weight": "self_attention.in_proj_weight",
              "attn.qkv.bias": "self_attention.in_proj_bias", "attn.proj": "self_attention.out_proj",
              "mlp.fc1": "mlp.0", "mlp.fc2": "mlp.3"}


def vit_names(state):
    """timm's state_dict names (sslc's) to torchvision's VisionTransformer's. timm's fused qkv
    projection is laid out as torchvision's in_proj (q, k, v stacked, heads contiguous)."""
    out = {}
    for k, v in state.items():
        if k == "cls_token":
            t = "class_token"
        elif k == "pos_embed":
            t = "encoder.pos_embedding"
        elif k.startswith("patch_embed.proj."):
            t = "conv_proj." + k[len("patch_embed.proj."):]
        elif k.startswith("norm."):
            t = "encoder.ln." + k[len("norm."):]
        elif k.startswith("blocks."):
            _, i, rest = k.split(".", 2)
            for a, b in _VIT_BLOCK.items():
                if rest == a or rest.startswith(a + "."):
                    rest = b + rest[len(a):]
                    break
            else:
                raise KeyError(f"ViT parameter '{k}' has no torchvision counterpart")
            t = f"encoder.layers.encoder_layer_{i}.{rest}"
        else:
            raise KeyError(f"ViT parameter '{k}' has no torchvision counterpart")
        out[t] = v
    return out
