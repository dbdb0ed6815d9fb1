"""PyTorch oracle for SwAV, written from the method's definition (PySSL's modules with the
reference implementation's loss, facebookresearch/swav): the same model, parameters
(prototypes deliberately not normalized, random BatchNorm buffers) and views (2 global +
num_crops local), compared with `sslc step` on the loss of every step, every gradient of the
first step, and every parameter and state tensor (prototypes, BatchNorm buffers, queue,
queue_fill) after the last step. With the default queue of 2 batches the queue fills during
steps 1-2 and Sinkhorn uses it from step 3 on.

--freeze sets freeze_prototypes_niters and feeds sched.prototypes_grad = 0, 1, 1, ...
--learn checks training behaviour instead: the loss at initialization is near
ln(num_prototypes), the gradient reaches the backbone, and the loss falls over a short run.

usage: swav_oracle.py SSLC WORKDIR [--steps 3] [--f64 --tol 1e-6] [--freeze] [--learn]"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backbones  # noqa: E402
import compare  # noqa: E402


def f32(x):  # sslc's constants are float32: use the same values on both sides
    return float(np.float32(x))


class SwAV(nn.Module):
    def __init__(self, backbone, projection_dim, hidden_dim, num_prototypes, queue_rows):
        super().__init__()
        self.backbone = backbone
        self.projector = nn.Module()
        self.projector.layer1 = nn.Sequential(nn.Linear(backbone.feat_dim, hidden_dim), nn.BatchNorm1d(hidden_dim),
                                              nn.ReLU(inplace=True), nn.Linear(hidden_dim, projection_dim))
        self.prototypes = nn.Linear(projection_dim, num_prototypes, bias=False)
        self.L = queue_rows
        if queue_rows:
            self.register_buffer("queue", torch.zeros(2, queue_rows, projection_dim))
            self.register_buffer("queue_fill", torch.zeros(()))

    @torch.no_grad()
    def sinkhorn(self, out, epsilon, iters):
        """distributed_sinkhorn of the reference, one device"""
        Q = torch.exp(out / epsilon).t()
        B, K = Q.shape[1], Q.shape[0]
        Q /= torch.sum(Q)
        for _ in range(iters):
            Q /= torch.sum(Q, dim=1, keepdim=True)
            Q /= K
            Q /= torch.sum(Q, dim=0, keepdim=True)
            Q /= B
        Q *= B
        return Q.t()

    def forward(self, views, temperature, epsilon, iters):
        with torch.no_grad():  # prototypes normalized before the step
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1, p=2))
        bs = views[0].shape[0]
        z = [F.normalize(self.projector.layer1(self.backbone(v)), dim=1, p=2) for v in views]
        c = [self.prototypes(x) for x in z]
        use = self.L > 0 and bool(self.queue_fill >= self.L)
        loss = 0
        for i in range(2):
            with torch.no_grad():
                out = c[i].detach()
                if self.L:
                    if use:
                        out = torch.cat((torch.mm(self.queue[i], self.prototypes.weight.t()), out))
                    self.queue[i, bs:] = self.queue[i, :-bs].clone()
                    self.queue[i, :bs] = z[i].detach()
                q = self.sinkhorn(out, epsilon, iters)[-bs:]
            sub = 0
            for v in range(len(views)):
                if v != i:
                    sub = sub - torch.mean(torch.sum(q * F.log_softmax(c[v] / temperature, dim=1), dim=1))
            loss = loss + sub / (len(views) - 1)
        if self.L:
            with torch.no_grad():
                self.queue_fill.copy_(torch.clamp(self.queue_fill + bs, max=self.L))
        return loss / 2


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
    ap.add_argument("--queue-batches", type=int, default=2, help="queue_length in batches (0: no queue)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--f64", action="store_true", help="both sides in float64")
    ap.add_argument("--device", default="ref", help="sslc step --device: ref (interpreter) or cpu (fused kernels)")
    ap.add_argument("--freeze", action="store_true", help="no prototype gradient on step 1")
    ap.add_argument("--learn", action="store_true", help="loss near ln(K) at init, falls; backbone gets gradient")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    os.makedirs(a.workdir, exist_ok=True)
    if a.learn:  # PySSL's head sizes and prototype count; no queue (its stale rows shift the targets)
        P, H, K, a.steps, a.lr, a.queue_batches = 128, 2048, 3000, 10, 0.1, 0
    else:
        P, H, K = 12, 40, 24  # distinct sizes catch transposed weights
    temperature, epsilon, iters = f32(0.1), f32(0.05), 3
    L = a.queue_batches * a.batch
    mask = [0.0 if (a.freeze and s == 0) else 1.0 for s in range(a.steps)]
    momentum, wd, a.lr = f32(0.9), f32(1e-4), f32(a.lr)  # sslc feeds these as float32

    model = SwAV(backbones.make(a.backbone, a.width, 3, a.image_size, a.depth, a.patch_size), P, H, K, L)
    backbones.randomize_bn(model)
    with torch.no_grad():  # off the unit sphere, so the normalization is checked
        model.prototypes.weight.mul_(torch.empty(K, 1).uniform_(0.5, 2.0))
    sd = dict(model.named_parameters())
    sd.update(dict(model.named_buffers()))
    params = {k: v.detach().numpy().copy() for k, v in sd.items()}
    ls = backbones.local_size(a.image_size, a.patch_size if a.backbone.startswith("vit") else 0)
    views = [torch.randn(a.batch, 3, a.image_size, a.image_size) for _ in range(2)]
    views += [torch.randn(a.batch, 3, ls, ls) for _ in range(a.num_crops)]
    inputs = {f"views.{i}": v.numpy() for i, v in enumerate(views)}
    sets = [f"projection_dim={P}", f"hidden_dim={H}", f"num_prototypes={K}", f"temperature={temperature}",
            f"epsilon={epsilon}", f"sinkhorn_iterations={iters}", f"queue_length={L}",
            f"use_the_queue={'true' if L else 'false'}", f"num_crops={a.num_crops}"]
    if a.freeze:
        sets.append("freeze_prototypes_niters=1")
        inputs["sched.prototypes_grad"] = np.array(mask, np.float32)
    cargs = ["swav", "--backbone", a.backbone, "--width", str(a.width), "--image-size", str(a.image_size),
             "--channels", "3", "--batch", str(a.batch), "--optimizer", "sgd", "--lr", str(a.lr), "--momentum",
             str(momentum), "--weight-decay", str(wd)] + backbones.vit_args(a.backbone, a.depth, a.patch_size)
    for s in sets:
        cargs += ["--set", s]
    got = compare.run_sslc(a.sslc, a.workdir, cargs, params, inputs, a.steps, a.f64, a.device)

    if a.learn:
        losses = [float(got[f"loss.{s}"]) for s in range(a.steps)]
        ck = compare.Checker(got, 0)
        lnk = math.log(K)
        ck.checked = 1
        if not abs(losses[0] - lnk) < 0.1 * lnk:
            ck.fail(f"loss at initialization {losses[0]:.4f} is not near ln({K}) = {lnk:.4f}")
        if not losses[-1] < losses[0] - 0.3:
            ck.fail(f"loss did not fall over {a.steps} steps: {losses}")
        bgrads = [n for n in got if n.startswith("grad.backbone.")]
        nonzero = [n for n in bgrads if np.any(got[n] != 0)]
        if not bgrads or len(nonzero) < len(bgrads) // 2 or "grad.backbone.features.0.weight" not in nonzero:
            ck.fail(f"the gradient does not reach the backbone ({len(nonzero)} of {len(bgrads)} non-zero)")
        print(f"swav learning: losses {[round(x, 4) for x in losses]}, ln(K) = {lnk:.4f}, "
              f"{len(nonzero)}/{len(bgrads)} backbone gradients non-zero")
        sys.exit(ck.report("swav learning check"))

    if a.f64:
        model.double()
        views = [v.double() for v in views]
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=momentum, weight_decay=wd)
    model.train()
    losses, grads = [], {}
    for s in range(a.steps):
        opt.zero_grad()
        loss = model(views, temperature, epsilon, iters)
        loss.backward()
        if mask[s] != 1.0:
            model.prototypes.weight.grad.mul_(mask[s])
        losses.append(loss.item())
        if s == 0:
            grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
        opt.step()

    ck = compare.Checker(got, a.tol)
    # BatchNorm follows the first projector layer: its bias gradient is zero up to rounding, and so
    # is a ViT's final LayerNorm bias, which reaches BatchNorm only through that Linear layer
    zero = {"projector.layer1.0.bias": "projector.layer1.0.weight"}
    if a.backbone.startswith("vit"):
        zero["backbone.norm.bias"] = "backbone.norm.weight"
    ck.check_run(losses, grads, model, a.f64, zero=zero)
    if a.freeze and np.any(got.get("grad.prototypes.weight", 1) != 0):
        ck.fail("freeze: the prototypes got a gradient on step 1")
    print(f"swav losses {[round(x, 6) for x in losses]}")
    sys.exit(ck.report(f"swav oracle ({a.backbone}, {a.num_crops} crops, queue {L}, {a.steps} steps"
                       f"{', f64' if a.f64 else ''}{', freeze' if a.freeze else ''})"))


if __name__ == "__main__":
    main()
