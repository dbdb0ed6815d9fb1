"""PyTorch twins of sslc's backbones, with sslc's (torchvision's) parameter names, for the
method oracles: `convnet` (methods/backbones/convnet.c) and ResNet-18 with a width multiplier
(methods/backbones/resnet.c: torchvision's BasicBlock, base width round(64*width), CIFAR stem
for images up to 64 pixels), and the ViTs of vit_oracle.py (with DINO's position-embedding
interpolation for local crops)."""
import math

import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock


def _round(x):  # C's llround for x >= 0
    return int(math.floor(x + 0.5))


class ConvNet(nn.Module):
    def __init__(self, width=1.0, channels=3):
        super().__init__()
        w = [max(1, _round(32 * width) << s) for s in range(3)]
        layers, cin = [], channels
        for s in range(3):
            layers += [nn.Conv2d(cin, w[s], 3, 1, 1, bias=False), nn.BatchNorm2d(w[s]), nn.ReLU(inplace=True)]
            if s < 2:
                layers.append(nn.MaxPool2d(2, 2))
            cin = w[s]
        self.features = nn.Sequential(*layers)
        self.feat_dim = w[2]

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


class ResNet18(nn.Module):
    def __init__(self, width=1.0, channels=3, image_size=32):
        super().__init__()
        w = max(1, _round(64 * width))
        cifar = image_size <= 64
        self.conv1 = nn.Conv2d(channels, w, 3, 1, 1, bias=False) if cifar else nn.Conv2d(channels, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if cifar else nn.MaxPool2d(3, 2, 1)
        cin = w
        for l in range(4):
            planes, blocks = w << l, []
            for b in range(2):
                stride = 2 if (b == 0 and l > 0) else 1
                down = None
                if stride != 1 or cin != planes:
                    down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                blocks.append(BasicBlock(cin, planes, stride, down))
                cin = planes
            setattr(self, f"layer{l + 1}", nn.Sequential(*blocks))
        self.feat_dim = cin

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def make(name, width, channels, image_size, depth=2, patch_size=4):
    """depth and patch_size: ViTs only (vit_oracle.make_vit)"""
    if name == "convnet":
        return ConvNet(width, channels)
    if name == "resnet18":
        return ResNet18(width, channels, image_size)
    if name in ("vit-tiny", "vit-small"):
        from vit_oracle import make_vit
        return make_vit(name, width, channels, image_size, depth, patch_size)
    raise SystemExit(f"oracle: unsupported backbone {name}")


def randomize_bn(model, gen=None):
    """Non-trivial BatchNorm affine parameters and running statistics, so that their use and
    update are really checked."""
    import torch
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)


def local_size(image_size, patch_size=0):
    """sslc's local crop size: round(3/7 * image size), halves up; for a ViT (patch_size > 0)
    3/7 * image size rounded to the nearest multiple of the patch size, halves up"""
    if patch_size > 0:
        return patch_size * int(math.floor(3.0 * image_size / (7.0 * patch_size) + 0.5))
    return int(math.floor(3.0 * image_size / 7.0 + 0.5))


def vit_args(name, depth, patch_size):
    """the sslc compile options that vit_oracle.make_vit's arguments correspond to"""
    return ["--depth", str(depth), "--patch-size", str(patch_size)] if name.startswith("vit") else []
