"""PyTorch oracle for DINO, written from the method's definition (PySSL's DINO with multi-crop):
the same student/teacher model, parameters (teacher deliberately different from the student,
non-zero center, random BatchNorm buffers) and views (2 global + num_crops local), compared
with `sslc step` on the loss of every step, every gradient of the first step, and every
parameter and state tensor (student, teacher, center, BatchNorm buffers) after the last step.

The teacher temperature is fed per step through the inputs file (sched.temp_t), exercising the
host-schedule input; --freeze also masks the last layer's gradient on the first step
(freeze_last_layer, sched.last_layer_grad = 0, 1, 1, ...).

usage: dino_oracle.py SSLC WORKDIR [--steps 3] [--f64 --tol 1e-6] [--freeze]"""
import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backbones  # noqa: E402
import compare  # noqa: E402


def f32(x):  # sslc feeds scalars as float32: use the same values on both sides
    return float(np.float32(x))


class Head(nn.Module):
    """Linear-GELU-Linear-GELU-Linear(bottleneck) -> l2norm -> weight-normed Linear, weight_g = 1 fixed"""

    def __init__(self, in_dim, hidden_dim, bottleneck_dim, out_dim):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU())
        self.layer2 = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.GELU())
        self.layer3 = nn.Sequential(nn.Linear(hidden_dim, bottleneck_dim))
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1)
        self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.last_layer(F.normalize(x, dim=-1, p=2))


class DINO(nn.Module):
    def __init__(self, backbone, projection_dim, hidden_dim, bottleneck_dim):
        super().__init__()
        self.register_buffer("center", torch.zeros(1, projection_dim))
        self.backbone = backbone
        f = backbone.feat_dim
        self.head_student = Head(f, hidden_dim, bottleneck_dim, projection_dim)
        self.head_teacher = Head(f, hidden_dim, bottleneck_dim, projection_dim)
        self.teacher = nn.Sequential(copy.deepcopy(backbone), self.head_teacher)
        for p in self.teacher.parameters():
            p.requires_grad = False

    def student_params(self):
        return list(self.backbone.parameters()) + list(self.head_student.parameters())

    def teacher_params(self):
        return list(self.teacher[0].parameters()) + list(self.head_teacher.parameters())

    def student(self, x):
        return self.head_student(self.backbone(x))

    def forward(self, views, temp_s, temp_t, m, lamda):
        zs = [self.student(v) for v in views]
        with torch.no_grad():
            for ps, pt in zip(self.student_params(), self.teacher_params()):
                pt.copy_(lamda * pt + (1.0 - lamda) * ps)
            zt = [self.teacher(views[0]), self.teacher(views[1])]
        loss, n = 0, 0
        for i, t in enumerate(zt):
            q = F.softmax((t - self.center) / temp_t, dim=1)
            for v, s in enumerate(zs):
                if v == i:
                    continue
                loss = loss - (q * F.log_softmax(s / temp_s, dim=1)).sum(dim=1).mean()
                n += 1
        loss = loss / n
        with torch.no_grad():
            self.center.copy_(m * self.center + (1.0 - m) * torch.cat(zt).mean(dim=0))
        return loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("workdir")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--backbone", default="convnet")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--num-crops", type=int, default=2)
    ap.add_argument("--depth", type=int, default=2, help="ViT blocks")
    ap.add_argument("--patch-size", type=int, default=4, help="ViT patch side")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--f64", action="store_true", help="both sides in float64")
    ap.add_argument("--device", default="ref", help="sslc step --device: ref (interpreter) or cpu (fused kernels)")
    ap.add_argument("--freeze", action="store_true", help="freeze_last_layer: no last-layer gradient on step 1")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    os.makedirs(a.workdir, exist_ok=True)
    P, H, BN = 24, 40, 12  # distinct sizes catch transposed weights
    temp_s, m, lamda = f32(0.1), f32(0.8), f32(0.9)
    temp_t = [f32(0.5 - 0.1 * s) if s < 3 else f32(0.2) for s in range(a.steps)]  # a per-step schedule
    llg = [0.0 if (a.freeze and s == 0) else 1.0 for s in range(a.steps)]
    momentum, wd, a.lr = f32(0.9), f32(1e-4), f32(a.lr)  # sslc feeds these as float32

    bb = backbones.make(a.backbone, a.width, 3, a.image_size, a.depth, a.patch_size)
    model = DINO(bb, P, H, BN)
    backbones.randomize_bn(model)
    with torch.no_grad():  # the teacher differs from the student; a non-zero center
        for ps, pt in zip(model.student_params(), model.teacher_params()):
            if pt is not model.head_teacher.last_layer.weight_g:
                pt.copy_(ps + 0.05 * torch.randn_like(ps) * (ps.std() if ps.numel() > 1 else 1.0))
        model.center.normal_(0, 0.1)
    sd = dict(model.named_parameters())
    sd.update(dict(model.named_buffers()))
    params = {k: v.detach().numpy().copy() for k, v in sd.items()}
    ls = backbones.local_size(a.image_size, a.patch_size if a.backbone.startswith("vit") else 0)
    views = [torch.randn(a.batch, 3, a.image_size, a.image_size) for _ in range(2)]
    views += [torch.randn(a.batch, 3, ls, ls) for _ in range(a.num_crops)]
    inputs = {f"views.{i}": v.numpy() for i, v in enumerate(views)}
    inputs["sched.temp_t"] = np.array(temp_t, np.float32)
    sets = [f"projection_dim={P}", f"hidden_dim={H}", f"bottleneck_dim={BN}", f"temp_s={temp_s}", f"m={m}",
            f"lamda={lamda}", f"num_crops={a.num_crops}"]
    if a.freeze:
        sets.append("freeze_last_layer=1")
        inputs["sched.last_layer_grad"] = np.array(llg, np.float32)
    cargs = ["dino", "--backbone", a.backbone, "--width", str(a.width), "--image-size", str(a.image_size),
             "--channels", "3", "--batch", str(a.batch), "--optimizer", "sgd", "--lr", str(a.lr), "--momentum",
             str(momentum), "--weight-decay", str(wd)] + backbones.vit_args(a.backbone, a.depth, a.patch_size)
    for s in sets:
        cargs += ["--set", s]
    got = compare.run_sslc(a.sslc, a.workdir, cargs, params, inputs, a.steps, a.f64, a.device)

    if a.f64:
        model.double()
        views = [v.double() for v in views]
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(trainable, lr=a.lr, momentum=momentum, weight_decay=wd)
    model.train()
    losses, grads = [], {}
    for s in range(a.steps):
        opt.zero_grad()
        loss = model(views, temp_s, temp_t[s], m, lamda)
        loss.backward()
        if llg[s] != 1.0:
            model.head_student.last_layer.weight_v.grad.mul_(llg[s])
        losses.append(loss.item())
        if s == 0:
            grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
        opt.step()

    ck = compare.Checker(got, a.tol)
    ck.check_run(losses, grads, model, a.f64)
    if a.freeze and np.any(got.get("grad.head_student.last_layer.weight_v", 1) != 0):
        ck.fail("freeze: the last layer got a gradient on step 1")
    print(f"dino losses {[round(x, 6) for x in losses]}")
    sys.exit(ck.report(f"dino oracle ({a.backbone}, {a.num_crops} crops, {a.steps} steps{', f64' if a.f64 else ''}"
                       f"{', freeze' if a.freeze else ''})"))


if __name__ == "__main__":
    main()
