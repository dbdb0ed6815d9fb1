"""Encoders trained by sslc, in PyTorch.

    model = sslc.load_backbone("runs/simclr")     # a run directory, or its checkpoint.safetensors
    x = model.transform(pil_image).unsqueeze(0)   # the plan's preprocessing
    features = model(x)                           # what `sslc embed` computes

Reads the run directory's backbone.json (written by `sslc train` / `sslc run --out`: the encoder as
built, its input, the plan's mean and std) and the checkpoint's `backbone.*` tensors; needs neither
sslc nor a compiler."""
import json
import os
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from . import _models
from ._safetensors import read_tensors

__all__ = ["BackboneInfo", "read_info", "load_backbone", "make_transform", "ConvNet"]
__version__ = "0.1.0"

ConvNet = _models.ConvNet
BACKBONE_JSON = "backbone.json"
CHECKPOINT = "checkpoint.safetensors"
_KINDS = ("resnet18", "resnet34", "resnet50", "convnet", "vit-tiny", "vit-small")


@dataclass(frozen=True)
class BackboneInfo:
    """backbone.json: what sslc built and what input it expects."""
    method: str
    backbone: str  # resnet18 | resnet34 | resnet50 | convnet | vit-tiny | vit-small | onnx
    width: float
    feat_dim: int
    image_size: int
    channels: int
    source_size: Tuple[int, int]  # the images the plan trained on (H, W), before its resize to image_size
    cifar_stem: Optional[bool]  # ResNets
    patch_size: int  # ViTs (0 otherwise)
    depth: int  # ViTs (0 otherwise)
    mean: Tuple[float, ...]  # per channel
    std: Tuple[float, ...]
    prefix: str  # of the encoder's tensors in the checkpoint


def _paths(source):
    """(backbone.json, checkpoint) of a run directory or of a checkpoint file in one."""
    source = os.fspath(source)
    if os.path.isdir(source):
        return os.path.join(source, BACKBONE_JSON), os.path.join(source, CHECKPOINT)
    if source.endswith(".safetensors"):
        return os.path.join(os.path.dirname(source) or ".", BACKBONE_JSON), source
    raise ValueError(f"{source}: give a run directory (it holds {BACKBONE_JSON} and {CHECKPOINT}) or its "
                     f"{CHECKPOINT}")


def read_info(source):
    """The BackboneInfo of a run directory (or of the run a checkpoint file is in)."""
    path, _ = _paths(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing: sslc writes it into every run directory (`sslc train`, "
                                f"`sslc run --out DIR`); a run from an older sslc gets it on `sslc run --resume DIR`")
    with open(path) as f:
        d = json.load(f)
    if d.get("format") != "sslc-backbone" or d.get("version") != 1:
        raise ValueError(f"{path}: not an sslc backbone description version 1 (format {d.get('format')!r}, "
                         f"version {d.get('version')!r}): update the sslc Python package")
    c = int(d["channels"])
    return BackboneInfo(method=d["method"], backbone=d["backbone"], width=float(d["width"]),
                        feat_dim=int(d["feat_dim"]), image_size=int(d["image_size"]), channels=c,
                        source_size=tuple(int(v) for v in d["source_size"]), cifar_stem=d["cifar_stem"],
                        patch_size=int(d["patch_size"]), depth=int(d["depth"]),
                        mean=tuple(float(v) for v in d["mean"]), std=tuple(float(v) for v in d["std"]),
                        prefix=d["prefix"])


class _Mode:
    """PIL image to the plan's channels: PIL's L (gray) or RGB (gray replicated), alpha dropped; as
    sslc's loader converts."""

    def __init__(self, channels):
        self.mode = "L" if channels == 1 else "RGB"

    def __call__(self, img):
        return img if img.mode == self.mode else img.convert(self.mode)

    def __repr__(self):
        return f"ConvertMode({self.mode})"


def make_transform(info):
    """PIL image -> float tensor [C, H, W] as sslc's evaluation feeds the encoder: the plan's
    channels, resized (shorter side) and center-cropped to the size the plan trained on, resized to
    the image size when that differs, u8 / 255, Normalize(mean, std). Images at the training size
    give exactly what `sslc embed` computes."""
    from torchvision import transforms as T
    steps = [_Mode(info.channels), T.Resize(min(info.source_size)), T.CenterCrop(info.source_size)]
    if tuple(info.source_size) != (info.image_size, info.image_size):
        steps.append(T.Resize((info.image_size, info.image_size)))
    steps += [T.ToTensor(), T.Normalize(info.mean, info.std)]
    return T.Compose(steps)


def _build(info):
    kind = info.backbone
    if kind == "onnx":
        raise ValueError("this run trained an imported ONNX backbone: load the weights into the model you exported "
                         "(the checkpoint's backbone.* tensors carry its initializer names), or run "
                         "`sslc export RUN -o encoder.onnx` and use ONNX Runtime")
    if kind not in _KINDS:
        raise ValueError(f"backbone '{kind}' is not known to this sslc package (knows {', '.join(_KINDS)}): "
                         f"update it")
    if kind.startswith("resnet"):
        base = info.feat_dim // (32 if kind == "resnet50" else 8)
        return _models.resnet(kind, base, info.channels, info.cifar_stem)
    if kind == "convnet":
        return _models.ConvNet(info.feat_dim // 4, info.channels)
    return _models.vit(kind, info.feat_dim, info.depth, info.patch_size, info.image_size, info.channels)


def load_backbone(source, device="cpu"):
    """The encoder of an sslc run as a torch.nn.Module in eval mode: torchvision's ResNet (at the
    run's width and stem) or VisionTransformer, or sslc.ConvNet; the checkpoint's trained weights
    loaded with strict=True. model(x) on x [N, C, H, W] (normalized) gives the features [N, F].
    Attributes: model.info (BackboneInfo), model.transform (make_transform(model.info))."""
    info = read_info(source)
    _, ckpt = _paths(source)
    model = _build(info)
    tensors = read_tensors(ckpt, info.prefix)
    if not tensors:
        raise ValueError(f"{ckpt} holds no tensor named {info.prefix}*: not the checkpoint of an sslc run")
    state = {k[len(info.prefix):]: torch.from_numpy(v) for k, v in tensors.items()}
    if info.backbone.startswith("vit"):
        state = _models.vit_names(state)
    model.load_state_dict(state, strict=True)
    model.info = info
    model.transform = make_transform(info)
    return model.to(device).eval()
