"""PyTorch oracle for MoCo, MoCo v2 and MoCo v3: the models written from the method definitions
(as PySSL's builders/moco.py, mocov2.py, mocov3.py: query encoder backbone + projector, key
encoder encoder_k = Sequential(backbone, projector) updated by EMA before the key forward,
MoCo's queue [projection_dim, K] and queue_ptr, MoCo v3's predictor and symmetric in-batch
InfoNCE), loaded with the same parameters, state and views as `sslc step`, compared on the loss
at every step, every gradient of the first step, and every parameter and state tensor (queue,
queue_ptr, key encoder, BatchNorm buffers) after the last step.

The starting state is that of a run in progress, so every update is visible from step 1: BN
buffers and affine parameters are randomized, the key encoder differs from the query encoder,
and the queue pointer may start inside the queue.

usage: moco_oracle.py SSLC WORKDIR --method moco|mocov2|mocov3 [options]"""
import argparse
import copy
import itertools
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import st  # noqa: E402


# ---- backbones with sslc's (torchvision's) parameter names ----

class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision resnet18 with a width multiplier, CIFAR stem (3x3 conv, no max pool), fc = Identity"""

    def __init__(self, width, channels):
        super().__init__()
        w = max(1, round(64 * width))
        self.conv1 = nn.Conv2d(channels, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        cin = w
        for li in range(4):
            planes = w << li
            blocks = [BasicBlock(cin, planes, 2 if li > 0 else 1), BasicBlock(planes, planes, 1)]
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))
            cin = planes
        self.feat = cin

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for li in range(4):
            x = getattr(self, f"layer{li + 1}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class ConvNet(nn.Module):
    """sslc's convnet: 3 x (conv3x3-BN-ReLU), 2x2 max pool after the first two, global average pool"""

    def __init__(self, width, channels):
        super().__init__()
        w = [max(1, round(32 * width)) << s for s in range(3)]
        layers, cin = [], channels
        for s in range(3):
            layers += [nn.Conv2d(cin, w[s], 3, 1, 1, bias=False), nn.BatchNorm2d(w[s]), nn.ReLU()]
            if s < 2:
                layers.append(nn.MaxPool2d(2, 2))
            cin = w[s]
        self.features = nn.Sequential(*layers)
        self.feat = cin

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


# ---- heads (PySSL's modules) ----

class ProjectorV2(nn.Module):
    """MoCo v2: Linear(f, f)-ReLU-Linear(f, p)"""

    def __init__(self, f, p):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(f, f), nn.ReLU(), nn.Linear(f, p))

    def forward(self, x):
        return self.layer1(x)


class ProjectorV3(nn.Module):
    """MoCo v3 (SimCLR v2's): 3 x (Linear + BatchNorm1d), ReLU between"""

    def __init__(self, f, h, p):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(f, h), nn.BatchNorm1d(h), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU())
        self.layer3 = nn.Sequential(nn.Linear(h, p), nn.BatchNorm1d(p))

    def forward(self, x):
        return self.layer3(self.layer2(self.layer1(x)))


class PredictorV3(nn.Module):
    """MoCo v3 (BYOL's): Linear-BatchNorm1d-ReLU-Linear"""

    def __init__(self, p, h):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(p, h), nn.BatchNorm1d(h), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Linear(h, p))

    def forward(self, x):
        return self.layer2(self.layer1(x))


# ---- methods ----

class MoCoBase(nn.Module):
    def make_key_encoder(self):
        self.encoder_k = nn.Sequential(copy.deepcopy(self.backbone), copy.deepcopy(self.projector))
        for p in self.encoder_k.parameters():
            p.requires_grad = False

    @torch.no_grad()
    def momentum_update(self):
        online = itertools.chain(self.backbone.parameters(), self.projector.parameters())
        for pq, pk in zip(online, self.encoder_k.parameters()):
            pk.data = pk.data * self.m + pq.data * (1.0 - self.m)


class MoCo(MoCoBase):
    """MoCo (v1: Linear projector) and MoCo v2 (MLP projector)"""

    def __init__(self, backbone, v2, projection_dim, K, m, temperature):
        super().__init__()
        self.backbone = backbone
        f = backbone.feat
        self.projector = ProjectorV2(f, projection_dim) if v2 else nn.Linear(f, projection_dim)
        self.K, self.m, self.temperature = K, m, temperature
        self.make_key_encoder()
        self.register_buffer("queue", F.normalize(torch.randn(projection_dim, K), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, x_q, x_k):
        q = F.normalize(self.projector(self.backbone(x_q)), dim=1)
        with torch.no_grad():
            self.momentum_update()
            k = F.normalize(self.encoder_k(x_k), dim=1)
        l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", [q, self.queue.clone().detach()])
        logits = torch.cat([l_pos, l_neg], dim=1)
        logits /= self.temperature
        loss = F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))
        with torch.no_grad():  # dequeue and enqueue
            bz = k.shape[0]
            ptr = int(self.queue_ptr)
            assert self.K % bz == 0
            self.queue[:, ptr:ptr + bz] = k.t()
            self.queue_ptr[0] = (ptr + bz) % self.K
        return loss


def infonce_v3(q, k, temperature):
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    logits = torch.einsum("nc,mc->nm", [q, k])
    logits /= temperature
    return F.cross_entropy(logits, torch.arange(logits.shape[0], dtype=torch.long))


class MoCoV3(MoCoBase):
    def __init__(self, backbone, projection_dim, hidden_dim, m, temperature, scale_loss):
        super().__init__()
        self.backbone = backbone
        self.projector = ProjectorV3(backbone.feat, hidden_dim, projection_dim)
        self.predictor = PredictorV3(projection_dim, hidden_dim)
        self.m, self.temperature, self.scale_loss = m, temperature, scale_loss
        self.make_key_encoder()

    def forward(self, x1, x2):
        q1 = self.predictor(self.projector(self.backbone(x1)))
        q2 = self.predictor(self.projector(self.backbone(x2)))
        with torch.no_grad():
            self.momentum_update()
            k1 = self.encoder_k(x1)
            k2 = self.encoder_k(x2)
        l1, l2 = infonce_v3(q1, k2, self.temperature), infonce_v3(q2, k1, self.temperature)
        if self.scale_loss:  # facebookresearch/moco-v3: CE * 2T per term
            l1, l2 = l1 * (2 * self.temperature), l2 * (2 * self.temperature)
        return l1 + l2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("workdir")
    ap.add_argument("--method", required=True, choices=["moco", "mocov2", "mocov3"])
    ap.add_argument("--backbone", default="convnet", choices=["convnet", "resnet18"])
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw", "lars"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--projection-dim", type=int, default=16)
    ap.add_argument("--hidden-dim", type=int, default=32)
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--queue", default="keys", choices=["keys", "randn"],
                    help="initial queue: key encoder outputs of random images (a run in progress; keeps the "
                    "loss away from 0 at small width) or PySSL's normalized randn")
    ap.add_argument("--ptr", type=int, default=0, help="initial queue pointer (a multiple of the batch)")
    # 0.75 is exact in binary: sslc feeds sched.m as float32, PyTorch uses the Python double
    ap.add_argument("--m", type=float, default=0.75)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--scale-loss", action="store_true")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--f64", action="store_true", help="both sides in float64")
    # see simclr_oracle.py: AdamW with eps 1e-8 turns fp32 gradient noise into full-size steps;
    # eps 1e-3 and lr 1e-4 keep PyTorch fp32 and fp64 within 1e-6 so the check tests sslc
    ap.add_argument("--adam-eps", type=float, default=1e-3)
    a = ap.parse_args()
    t0 = time.time()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    os.makedirs(a.workdir, exist_ok=True)
    # small steps keep fp32 PyTorch within ~1e-6 of fp64 PyTorch on these tiny models
    lr, momentum, wd = {"sgd": (0.01, 0.9, 1e-4), "adamw": (1e-4, 0.0, 0.05), "lars": (0.01, 0.9, 1e-6)}[a.optimizer]
    lr = a.lr if a.lr is not None else lr
    v3 = a.method == "mocov3"
    temperature = a.temperature if a.temperature is not None else (0.5 if v3 else 0.07)

    backbone = ResNet18(a.width, 3) if a.backbone == "resnet18" else ConvNet(a.width, 3)
    if v3:
        model = MoCoV3(backbone, a.projection_dim, a.hidden_dim, a.m, temperature, a.scale_loss)
    else:
        model = MoCo(backbone, a.method == "mocov2", a.projection_dim, a.K, a.m, temperature)
    with torch.no_grad():
        # a run in progress: non-trivial BN buffers, a key encoder that differs from the query
        # encoder (so the EMA is visible from the first step), the pointer inside the queue
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(7)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
        online = itertools.chain(model.backbone.parameters(), model.projector.parameters())
        for pq, pk in zip(online, model.encoder_k.parameters()):
            pk.copy_(pq + 0.1 * pq.abs().mean() * torch.randn_like(pq))
        for mod in model.encoder_k.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(3)
        if not v3:
            model.queue_ptr.fill_(a.ptr)
            if a.queue == "keys":  # past keys: encoder_k outputs of other images, like real training
                enc = copy.deepcopy(model.encoder_k)
                imgs = torch.randn(a.K, 3, a.image_size, a.image_size)
                keys = [F.normalize(enc(x), dim=1) for x in imgs.split(a.batch)]
                model.queue.copy_(torch.cat(keys).t())
    sd = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    v0 = torch.randn(a.batch, 3, a.image_size, a.image_size)
    v1 = torch.randn(a.batch, 3, a.image_size, a.image_size)
    pfile, xfile, dfile = (os.path.join(a.workdir, n) for n in ("params.safetensors", "inputs.safetensors", "dump.safetensors"))
    plan = os.path.join(a.workdir, f"{a.method}.plan")
    st.save(pfile, sd)
    st.save(xfile, {"views.0": v0.numpy(), "views.1": v1.numpy()})
    sets = [f"projection_dim={a.projection_dim}", f"m={a.m}", f"temperature={temperature}"]
    sets += [f"hidden_dim={a.hidden_dim}", f"scale_loss={'true' if a.scale_loss else 'false'}"] if v3 else [f"K={a.K}"]
    cmd = [a.sslc, "compile", a.method, "--backbone", a.backbone, "--width", str(a.width), "--image-size",
           str(a.image_size), "--channels", "3", "--batch", str(a.batch), "--augment", "none", "--optimizer",
           a.optimizer, "--lr", str(lr), "--weight-decay", str(wd), "-o", plan]
    for s in sets:
        cmd += ["--set", s]
    if a.optimizer == "adamw":
        cmd += ["--adam-eps", str(a.adam_eps)]
    else:
        cmd += ["--momentum", str(momentum)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([a.sslc, "step", plan, "--params", pfile, "--inputs", xfile, "--steps", str(a.steps),
                    "--dump", dfile] + (["--f64"] if a.f64 else []), check=True)
    t_sslc = time.time() - t0
    got = st.load(dfile)

    params = [p for p in model.parameters() if p.requires_grad]
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)
    elif a.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd, eps=a.adam_eps)
    else:
        sys.exit("lars: no PyTorch LARS in this oracle")
    if a.f64:
        model.double()
        v0, v1 = v0.double(), v1.double()
    model.train()
    losses, grads = [], {}
    ptrs = []
    for s in range(a.steps):
        opt.zero_grad()
        loss = model(v0, v1)
        loss.backward()
        losses.append(loss.item())
        if not v3:
            ptrs.append(int(model.queue_ptr))
        if s == 0:
            grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters() if p.requires_grad}
        opt.step()

    # MoCo v3: a shift of the Linear outputs in front of a BatchNorm, and of the projector's
    # output (the predictor starts with Linear + BatchNorm), changes nothing, so these biases have
    # a zero gradient in exact arithmetic and both sides return rounding noise, measured against
    # the gradient of the same layer's weight.
    zero = {n: n[:-len("bias")] + "weight" for n in ("projector.layer1.0.bias", "projector.layer2.0.bias",
                                                      "projector.layer3.0.bias", "projector.layer3.1.bias",
                                                      "predictor.layer1.0.bias")} if v3 else {}
    ck = compare.Checker(got, a.tol)
    ck.check_run(losses, grads, model, a.f64, zero=zero)  # the queue and its pointer are buffers
    wrapped = " (queue pointer " + " -> ".join(str(p) for p in [a.ptr] + ptrs) + ")" if not v3 else ""
    print(f"{a.method} losses {[round(x, 6) for x in losses]}{wrapped}; sslc {t_sslc:.1f}s, total {time.time() - t0:.1f}s")
    sys.exit(ck.report(f"{a.method} oracle ({a.backbone}, {a.optimizer}{', f64' if a.f64 else ''}, {a.steps} steps)"))


if __name__ == "__main__":
    main()
