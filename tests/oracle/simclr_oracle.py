"""PyTorch oracle for SimCLR: the same model (torchvision resnet18 with the CIFAR stem and
PySSL's projector and NT-Xent), the same parameters and views, compared with `sslc step` on
the loss at every step, every gradient of the first step, and every parameter and BatchNorm
buffer after the last step.

usage: simclr_oracle.py SSLC WORKDIR [--optimizer sgd|adamw] [--steps 3]"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import st  # noqa: E402


def nt_xent_loss(z1, z2, temperature=0.5):
    """PySSL's nt_xent_loss, verbatim in behaviour."""
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    N, Z = z1.shape
    representations = torch.cat([z1, z2], dim=0)
    sim = F.cosine_similarity(representations.unsqueeze(1), representations.unsqueeze(0), dim=-1)
    l_pos = torch.diag(sim, N)
    r_pos = torch.diag(sim, -N)
    positives = torch.cat([l_pos, r_pos]).view(2 * N, 1)
    diag = torch.eye(2 * N, dtype=torch.bool)
    diag[N:, :N] = diag[:N, N:] = diag[:N, :N]
    negatives = sim[~diag].view(2 * N, -1)
    logits = torch.cat([positives, negatives], dim=1) / temperature
    labels = torch.zeros(2 * N, dtype=torch.int64)
    return F.cross_entropy(logits, labels, reduction="sum") / (2 * N)


class SimCLR(nn.Module):
    def __init__(self, projection_dim, temperature):
        super().__init__()
        bb = torchvision.models.resnet18()
        bb.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)  # CIFAR stem
        bb.maxpool = nn.Identity()
        bb.fc = nn.Identity()
        self.backbone = bb
        f = 512
        self.projector = nn.Module()
        self.projector.layer1 = nn.Sequential(nn.Linear(f, f), nn.ReLU(inplace=True), nn.Linear(f, projection_dim))
        self.temperature = temperature

    def forward(self, v0, v1):
        z1 = self.projector.layer1(self.backbone(v0))
        z2 = self.projector.layer1(self.backbone(v1))
        return nt_xent_loss(z1, z2, self.temperature)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("workdir")
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    # 8x8 keeps the number of ReLU inputs small: each one within rounding of 0 can flip between
    # any two fp32 implementations and move a gradient by percents (PyTorch fp32 vs fp64 too)
    ap.add_argument("--image-size", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--device", default=None, help="sslc step --device (ref, cpu, cuda)")
    ap.add_argument("--f64", action="store_true", help="both sides in float64 (diagnostics)")
    # AdamW divides by sqrt(v) ~ |g|: with eps 1e-8 it turns gradient noise at fp32 rounding
    # level into full-size steps, and PyTorch fp32 itself then differs from PyTorch fp64 by
    # 2.7e-2 after 3 steps (measured on this model). With eps 1e-3 and lr 1e-4 fp32 and fp64
    # PyTorch agree to 4e-7, so the comparison tests sslc and not rounding luck. The default
    # eps is covered exactly by tests/test_optimizer.c.
    ap.add_argument("--adam-eps", type=float, default=1e-3)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    os.makedirs(a.workdir, exist_ok=True)
    # Larger SGD steps make this small model ill-conditioned in fp32: at lr 0.05 PyTorch fp32
    # and PyTorch fp64 already differ by 7.8e-5 after 3 steps (a ReLU/BN unit near its kink
    # flips with rounding). `--f64` runs both sides in float64 as the rounding-free check.
    lr, momentum, wd = (0.01, 0.9, 1e-4) if a.optimizer == "sgd" else (1e-4, 0.0, 0.05)
    lr = a.lr if a.lr is not None else lr

    model = SimCLR(128, 0.5)
    with torch.no_grad():  # non-trivial BN buffers so their update is really checked
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    sd = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    v0 = torch.randn(a.batch, 3, a.image_size, a.image_size)
    v1 = torch.randn(a.batch, 3, a.image_size, a.image_size)
    pfile, xfile, dfile = (os.path.join(a.workdir, n) for n in ("params.safetensors", "inputs.safetensors", "dump.safetensors"))
    plan = os.path.join(a.workdir, "simclr.plan")
    st.save(pfile, sd)
    st.save(xfile, {"views.0": v0.numpy(), "views.1": v1.numpy()})
    cmd = [a.sslc, "compile", "simclr", "--backbone", "resnet18", "--image-size", str(a.image_size), "--channels", "3",
           "--batch", str(a.batch), "--augment", "none", "--optimizer", a.optimizer, "--lr", str(lr),
           "--weight-decay", str(wd), "-o", plan]
    if a.optimizer == "sgd":
        cmd += ["--momentum", str(momentum)]
    else:
        cmd += ["--adam-eps", str(a.adam_eps)]
    subprocess.run(cmd, check=True)
    subprocess.run([a.sslc, "step", plan, "--params", pfile, "--inputs", xfile, "--steps", str(a.steps),
                    "--dump", dfile] + (["--f64"] if a.f64 else []) + (["--device", a.device] if a.device else []),
                   check=True)
    got = st.load(dfile)

    if a.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd, eps=a.adam_eps)
    if a.f64:
        model.double()
        v0, v1 = v0.double(), v1.double()
    model.train()
    losses, grads = [], {}
    for s in range(a.steps):
        opt.zero_grad()
        loss = model(v0, v1)
        loss.backward()
        losses.append(loss.item())
        if s == 0:
            grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}
        opt.step()

    ck = compare.Checker(got, a.tol)
    ck.check_run(losses, grads, model, a.f64)
    print(f"simclr losses {[round(x, 6) for x in losses]}")
    sys.exit(ck.report(f"simclr oracle ({a.optimizer}, {a.steps} steps{', f64' if a.f64 else ''})"))


if __name__ == "__main__":
    main()
