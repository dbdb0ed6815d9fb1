"""PyTorch oracle for Barlow Twins, BYOL, SimSiam, SimCLRv2, SupCon, VICReg and NNCLR.

Each model below is written from the method's definition in the style of PySSL's modules
(same module tree, hence the same state_dict names), independently of sslc. The script gives
sslc and PyTorch the same parameters, buffers and views (and labels), runs `sslc compile M
--augment none` + `sslc step --steps N`, trains the PyTorch model for the same N steps and
compares: the loss of every step, every gradient of the first step, and after the last step
every parameter, every buffer (BatchNorm statistics, the EMA target encoder) and every
optimizer slot. It also checks that the two sides name the same tensors.

usage: methods_oracle.py METHOD SSLC WORKDIR [--optimizer sgd|adamw|lars] [--f64] [--set k=v]...
       methods_oracle.py METHOD - WORKDIR --torch-only ...   (PyTorch fp32 against fp64 only:
       how well conditioned a configuration is, before blaming sslc)"""
import argparse
import copy
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


# ---------------------------------------------------------------- backbones (torchvision names)
class ConvNet(nn.Module):
    """sslc's `convnet`: three conv3x3-BN-ReLU stages (2x2 max pool after the first two), global
    average pool. Widths 32w, 64w, 128w."""

    def __init__(self, channels, width):
        super().__init__()
        c = [max(1, round(32 * width)) << s for s in range(3)]
        layers, cin = [], channels
        for s in range(3):
            layers += [nn.Conv2d(cin, c[s], 3, 1, 1, bias=False), nn.BatchNorm2d(c[s]), nn.ReLU(inplace=True)]
            if s < 2:
                layers.append(nn.MaxPool2d(2, 2))
            cin = c[s]
        self.features = nn.Sequential(*layers)
        self.feature_size = c[2]

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


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
    """torchvision's resnet18 (names included) with a width multiplier, the CIFAR stem (3x3 conv,
    no max pool) and fc = Identity, as sslc's resnet18 at image size <= 64."""

    def __init__(self, channels, width):
        super().__init__()
        w = max(1, round(64 * width))
        self.conv1 = nn.Conv2d(channels, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        cin = w
        for i in range(4):
            planes = w << i
            blocks = [BasicBlock(cin, planes, 1 if i == 0 else 2), BasicBlock(planes, planes, 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            cin = planes
        self.feature_size = cin

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(4):
            x = getattr(self, f"layer{i + 1}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


# ---------------------------------------------------------------- losses
def nt_xent(z1, z2, temperature):
    """NT-Xent: each of the 2N normalized rows against all others, positive = its other view."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = z.shape[0]
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool), float("-inf"))
    target = (torch.arange(n2) + n2 // 2) % n2
    return F.cross_entropy(sim, target)


def cos_to_detached(p, z):
    return (F.normalize(p, dim=1) * F.normalize(z.detach(), dim=1)).sum(dim=1).mean()


def supervised_contrastive(f1, f2, labels, temperature, base_temperature=0.07):
    """SupCon, contrast mode 'all': anchors = contrasts = [f1; f2]; for anchor i, positives are
    the rows j != i with the same label; loss = -(T/T_base) mean_i mean_{j in P(i)} log p_ij,
    p_ij = softmax over j != i of f_i.f_j / T."""
    f = torch.cat([f1, f2])
    y = torch.cat([labels, labels])
    n2 = f.shape[0]
    eye = torch.eye(n2, dtype=torch.bool)
    logits = (f @ f.T) / temperature
    log_p = logits - torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=1, keepdim=True)
    pos = (y[:, None] == y[None, :]) & ~eye
    per_anchor = (log_p * pos).sum(1) / pos.sum(1)
    return -(temperature / base_temperature) * per_anchor.mean()


# ---------------------------------------------------------------- methods (PySSL module trees)
def seq(*mods):
    return nn.Sequential(*mods)


class Layers(nn.Module):
    """A head made of modules layer1, layer2, ... applied in order (PySSL's Projector/MLP)."""

    def __init__(self, *layers):
        super().__init__()
        self.n = len(layers)
        for i, m in enumerate(layers):
            setattr(self, f"layer{i + 1}", m)

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"layer{i + 1}")(x)
        return x


def lin_bn(i, o, bias=True, relu=True, bn=True, affine=True):
    mods = [nn.Linear(i, o, bias=bias)] + ([nn.BatchNorm1d(o, affine=affine)] if bn else [])
    return seq(*(mods + ([nn.ReLU()] if relu else [])))


class BarlowTwins(nn.Module):
    def __init__(self, backbone, f, projection_dim, hidden_dim, lamda):
        super().__init__()
        self.lamda = lamda
        self.backbone = backbone
        H, P = hidden_dim, projection_dim
        self.projector = Layers(lin_bn(f, H, bias=False), lin_bn(H, H, bias=False),
                                lin_bn(H, P, bias=False, relu=False, bn=False))
        self.encoder = seq(self.backbone, self.projector)
        self.bn = nn.BatchNorm1d(projection_dim, affine=False)

    def forward(self, x1, x2, y=None):
        z1, z2 = self.encoder(x1), self.encoder(x2)
        c = self.bn(z1).T @ self.bn(z2) / z1.shape[0]
        d = c.shape[0]
        on = (torch.diagonal(c) - 1).pow(2).sum()
        off = c[~torch.eye(d, dtype=torch.bool)].pow(2).sum()
        return on + self.lamda * off


def byol_mlp(i, h, o):
    return Layers(lin_bn(i, h), lin_bn(h, o, relu=False, bn=False))


class BYOL(nn.Module):
    def __init__(self, backbone, f, projection_dim, hidden_dim, tau):
        super().__init__()
        self.tau = tau
        self.backbone = backbone
        self.projector = byol_mlp(f, hidden_dim, projection_dim)
        self.online_encoder = self.encoder = seq(self.backbone, self.projector)
        self.online_predictor = byol_mlp(projection_dim, hidden_dim, projection_dim)
        self.target_encoder = copy.deepcopy(self.online_encoder)
        for p in self.target_encoder.parameters():
            p.requires_grad = False

    def forward(self, x1, x2, y=None):
        p1 = self.online_predictor(self.online_encoder(x1))
        p2 = self.online_predictor(self.online_encoder(x2))
        with torch.no_grad():
            for po, pt in zip(self.online_encoder.parameters(), self.target_encoder.parameters()):
                pt.copy_(self.tau * pt + (1 - self.tau) * po)
            z1t, z2t = self.target_encoder(x1), self.target_encoder(x2)
        return (2 - 2 * cos_to_detached(p1, z2t)) / 2 + (2 - 2 * cos_to_detached(p2, z1t)) / 2


class SimSiam(nn.Module):
    def __init__(self, backbone, f, projection_dim, hidden_dim_proj, hidden_dim_pred):
        super().__init__()
        self.backbone = backbone
        P, H, Q = projection_dim, hidden_dim_proj, hidden_dim_pred
        # the last BatchNorm has projection_dim features (DESIGN §3)
        self.projector = Layers(lin_bn(f, H), lin_bn(H, H), lin_bn(H, P, relu=False))
        self.predictor = Layers(lin_bn(P, Q), nn.Linear(Q, P))
        self.encoder = seq(self.backbone, self.projector)

    def forward(self, x1, x2, y=None):
        z1, z2 = self.encoder(x1), self.encoder(x2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return -cos_to_detached(p1, z2) / 2 - cos_to_detached(p2, z1) / 2


class SimCLRv2(nn.Module):
    def __init__(self, backbone, f, projection_dim, temperature):
        super().__init__()
        self.temperature = temperature
        self.backbone = backbone
        self.projector = Layers(lin_bn(f, f), lin_bn(f, f), lin_bn(f, projection_dim, relu=False))
        self.encoder = seq(self.backbone, self.projector)

    def forward(self, x1, x2, y=None):
        return nt_xent(self.encoder(x1), self.encoder(x2), self.temperature)


class SupCon(nn.Module):
    def __init__(self, backbone, f, projection_dim, temperature, normalize):
        super().__init__()
        self.temperature = temperature
        self.normalize = normalize
        self.backbone = backbone
        self.projector = Layers(seq(nn.Linear(f, f), nn.ReLU(), nn.Linear(f, projection_dim)))
        self.encoder = seq(self.backbone, self.projector)

    def forward(self, x1, x2, y):
        z1, z2 = self.encoder(x1), self.encoder(x2)
        if self.normalize:
            z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        return supervised_contrastive(z1, z2, y, self.temperature)


def off_diagonal(c):
    n = c.shape[0]
    return c.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class VICReg(nn.Module):
    """Bardes et al. 2022, Algorithm 1 (the loss) and facebookresearch/vicreg's Projector (the
    expander: Sequential(Linear, BN, ReLU, Linear, BN, ReLU, Linear(bias=False)))."""

    def __init__(self, backbone, f, projection_dim, hidden_dim, sim_coeff, std_coeff, cov_coeff):
        super().__init__()
        self.lam, self.mu, self.nu = sim_coeff, std_coeff, cov_coeff
        self.backbone = backbone
        H = hidden_dim
        self.projector = seq(nn.Linear(f, H), nn.BatchNorm1d(H), nn.ReLU(True), nn.Linear(H, H), nn.BatchNorm1d(H),
                             nn.ReLU(True), nn.Linear(H, projection_dim, bias=False))

    def forward(self, x_a, x_b, y=None):
        z_a = self.projector(self.backbone(x_a))
        z_b = self.projector(self.backbone(x_b))
        N, D = z_a.shape
        sim_loss = F.mse_loss(z_a, z_b)
        std_z_a = torch.sqrt(z_a.var(dim=0) + 1e-04)
        std_z_b = torch.sqrt(z_b.var(dim=0) + 1e-04)
        std_loss = torch.mean(F.relu(1 - std_z_a)) + torch.mean(F.relu(1 - std_z_b))
        z_a = z_a - z_a.mean(dim=0)
        z_b = z_b - z_b.mean(dim=0)
        cov_z_a = (z_a.T @ z_a) / (N - 1)
        cov_z_b = (z_b.T @ z_b) / (N - 1)
        cov_loss = off_diagonal(cov_z_a).pow_(2).sum() / D + off_diagonal(cov_z_b).pow_(2).sum() / D
        return self.lam * sim_loss + self.mu * std_loss + self.nu * cov_loss


class NNCLR(nn.Module):
    """Dwibedi et al. 2021, the paper's pseudo-code (NN lookup, loss, support-set update) with
    solo-learn's modules: projector Sequential(Linear, BN, ReLU, Linear, BN, ReLU, Linear, BN),
    predictor Sequential(Linear, BN, ReLU, Linear), buffers queue (rows normalized) and queue_ptr."""

    def __init__(self, backbone, f, proj_hidden_dim, proj_output_dim, pred_hidden_dim, queue_size, temperature):
        super().__init__()
        self.temperature = temperature
        self.backbone = backbone
        H, P, Q = proj_hidden_dim, proj_output_dim, pred_hidden_dim
        self.projector = seq(nn.Linear(f, H), nn.BatchNorm1d(H), nn.ReLU(), nn.Linear(H, H), nn.BatchNorm1d(H),
                             nn.ReLU(), nn.Linear(H, P), nn.BatchNorm1d(P))
        self.predictor = seq(nn.Linear(P, Q), nn.BatchNorm1d(Q), nn.ReLU(), nn.Linear(Q, P))
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, P), dim=1))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def NN(self, z, Q):  # top-1 nearest neighbour by cosine similarity (z and Q's rows normalized)
        return Q[(z @ Q.T).argmax(dim=1)]

    def L(self, nn_, p):
        nn_ = F.normalize(nn_, dim=1)
        p = F.normalize(p, dim=1)
        logits = nn_ @ p.T / self.temperature
        return F.cross_entropy(logits, torch.arange(p.shape[0]))

    def forward(self, x1, x2, y=None):
        z1, z2 = self.projector(self.backbone(x1)), self.projector(self.backbone(x2))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        with torch.no_grad():
            nn1, nn2 = self.NN(z1, self.queue), self.NN(z2, self.queue)
        loss = self.L(nn1, p2) / 2 + self.L(nn2, p1) / 2
        with torch.no_grad():  # update_queue(Q, z1)
            ptr, n = int(self.queue_ptr), z1.shape[0]
            self.queue[ptr:ptr + n] = z1
            self.queue_ptr[0] = (ptr + n) % self.queue.shape[0]
        return loss


# option name -> (type, default); the test passes small dims through --set
METHODS = {
    "barlow_twins": (BarlowTwins, {"projection_dim": (int, 8192), "hidden_dim": (int, 8192), "lamda": (float, 0.005)}),
    "byol": (BYOL, {"projection_dim": (int, 256), "hidden_dim": (int, 4096), "tau": (float, 0.996)}),
    "simsiam": (SimSiam, {"projection_dim": (int, 2048), "hidden_dim_proj": (int, 2048), "hidden_dim_pred": (int, 512)}),
    "simclrv2": (SimCLRv2, {"projection_dim": (int, 128), "temperature": (float, 0.5)}),
    "supcon": (SupCon, {"projection_dim": (int, 128), "temperature": (float, 0.07),
                        "normalize": (lambda s: s.lower() in ("1", "true"), True)}),
    "vicreg": (VICReg, {"projection_dim": (int, 8192), "hidden_dim": (int, 8192), "sim_coeff": (float, 25.0),
                        "std_coeff": (float, 25.0), "cov_coeff": (float, 1.0)}),
    "nnclr": (NNCLR, {"proj_hidden_dim": (int, 2048), "proj_output_dim": (int, 256), "pred_hidden_dim": (int, 4096),
                          "queue_size": (int, 98304), "temperature": (float, 0.1)}),
}
ALIASES = ("encoder.", "online_encoder.")  # PySSL's second names for backbone/projector


# ---------------------------------------------------------------- LARS (facebookresearch/barlowtwins)
class LARS(torch.optim.Optimizer):
    """As passes/optimizer.h documents it: 1-D tensors (biases, norm parameters) get neither
    weight decay nor the trust ratio; others d = g + wd p scaled by eta ||p|| / ||d||."""

    def __init__(self, params, lr, weight_decay, momentum, eta):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim != 1:
                    d = d + g["weight_decay"] * p
                    pn, dn = torch.norm(p), torch.norm(d)
                    q = torch.where((pn > 0) & (dn > 0), g["eta"] * pn / dn, torch.ones_like(pn))
                    d = d * q
                s = self.state[p]
                if "momentum_buffer" not in s:
                    s["momentum_buffer"] = torch.zeros_like(p)
                s["momentum_buffer"].mul_(g["momentum"]).add_(d)
                p.add_(s["momentum_buffer"], alpha=-g["lr"])


def rel(a, b, floor=1e-12):
    """max |a - b| relative to max |b| (at least floor)"""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), floor)) if b.size else 0.0


def exact_zero_grads(method, a, opts, v0, v1, y):
    """Parameters whose gradient is 0 in exact arithmetic, found with one float64 step: e.g. the
    bias of a Linear that feeds a training-mode BatchNorm (which subtracts the batch mean), or
    BYOL's last projector bias, seen only by the predictor's Linear+BatchNorm. What either side
    computes for them is rounding noise (1e-6 of the gradient scale in fp32), so their gradients
    and optimizer slots are judged against the largest tensor of the same kind instead of their
    own (noise) size."""
    m = make_model(method, a, opts).double()
    m.train()
    m(v0.double(), v1.double(), y).backward()
    g = {n: p.grad.abs().max().item() for n, p in m.named_parameters() if p.grad is not None}
    top = max(g.values())
    return {n for n, v in g.items() if v <= 1e-12 * top}


def kind_of(name):
    """grad.*, opt.<slot>.* or model state: tensors whose sizes are compared with each other"""
    return "grad" if name.startswith("grad.") else name.split(".")[1] if name.startswith("opt.") else "state"


def compare_all(got, ref, zero, tol):
    """ref: name -> array. Returns (worst, [(err, name)], [failure lines])."""
    scale = {}
    for n, v in ref.items():
        k = kind_of(n)
        scale[k] = max(scale.get(k, 0.0), float(np.max(np.abs(v))) if v.size else 0.0)
    worst, errs, failures = 0.0, [], []
    for n, v in ref.items():
        if n not in got:
            failures.append(f"{n}: missing from the other side")
            continue
        if got[n].shape != v.shape:
            failures.append(f"{n}: shape {got[n].shape} vs {v.shape}")
            continue
        param = n[5:] if n.startswith("grad.") else n.split(".", 2)[2] if n.startswith("opt.") else None
        e = rel(got[n], v, scale[kind_of(n)] if param in zero else 1e-12)
        errs.append((e, n))
        worst = max(worst, e)
        if not e <= tol:
            failures.append(f"{n}: rel err {e:.3g}")
    return worst, sorted(errs, reverse=True), failures


def flat(losses, grads, final, slots, f64):
    out = {f"loss.{s}": np.array(v, np.float64 if f64 else np.float32) for s, v in enumerate(losses)}
    out.update({"grad." + n: v for n, v in grads.items()})
    out.update(final)
    out.update(slots)
    return out


def make_model(method, a, opts):
    torch.manual_seed(a.seed)
    bb = ConvNet(3, a.width) if a.backbone == "convnet" else ResNet18(3, a.width)
    cls, _ = METHODS[method]
    model = cls(bb, bb.feature_size, **opts)
    with torch.no_grad():  # non-trivial BN parameters and buffers, so their updates are really checked
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(5)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        if method == "byol":  # a target that differs from the online encoder: the EMA is really checked
            model.target_encoder.load_state_dict(model.online_encoder.state_dict())
            for t in model.target_encoder.parameters():
                t.add_(0.05 * torch.randn_like(t))
            for m in model.target_encoder.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 1.5)
    return model


def state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items() if not k.startswith(ALIASES)}


def train_torch(model, a, v0, v1, y, f64):
    """a.steps steps; returns (losses, first-step grads, final state, optimizer slots)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.wd)
    elif a.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.wd, eps=a.adam_eps)
    else:
        opt = LARS(params, lr=a.lr, weight_decay=a.wd, momentum=a.momentum, eta=a.eta)
    if f64:
        model.double()
        v0, v1 = v0.double(), v1.double()
    model.train()
    losses, grads = [], {}
    for s in range(a.steps):
        opt.zero_grad()
        loss = model(v0, v1, y)
        loss.backward()
        losses.append(loss.item())
        if s == 0:
            grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
        opt.step()
    slots = {}
    for n, p in model.named_parameters():
        for k, v in opt.state.get(p, {}).items():
            if k in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
                slots[f"opt.{k}.{n}"] = v.detach().numpy().copy()
    return losses, grads, state(model), slots


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("method", choices=sorted(METHODS))
    ap.add_argument("sslc")
    ap.add_argument("workdir")
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw", "lars"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--backbone", default="convnet", choices=["convnet", "resnet18"])
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--set", action="append", default=[], help="method option name=value")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--wd", type=float, default=None)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--eta", type=float, default=0.001)
    # see simclr_oracle.py: AdamW's default eps turns fp32 gradient noise into full steps
    ap.add_argument("--adam-eps", type=float, default=1e-3)
    ap.add_argument("--f64", action="store_true", help="both sides in float64")
    ap.add_argument("--device", default=None, help="sslc step --device (ref: interpreter, cpu: fused JIT kernels)")
    ap.add_argument("--torch-only", action="store_true", help="PyTorch fp32 against PyTorch fp64, no sslc")
    a = ap.parse_args()
    torch.set_num_threads(1)
    defaults = {"sgd": (0.01, 1e-4), "adamw": (1e-4, 0.05), "lars": (0.2, 1e-6)}[a.optimizer]
    a.lr = defaults[0] if a.lr is None else a.lr
    a.wd = defaults[1] if a.wd is None else a.wd

    _, spec = METHODS[a.method]
    opts = {k: d for k, (t, d) in spec.items()}
    for kv in a.set:
        k, v = kv.split("=", 1)
        opts[k] = spec[k][0](v)

    model = make_model(a.method, a, opts)
    sd0 = state(model)
    g = torch.Generator().manual_seed(a.seed + 1)
    v0 = torch.randn(a.batch, 3, a.image_size, a.image_size, generator=g)
    v1 = torch.randn(a.batch, 3, a.image_size, a.image_size, generator=g)
    y = torch.randint(0, max(2, a.batch // 3), (a.batch,), generator=g) if a.method == "supcon" else None

    zero = exact_zero_grads(a.method, a, opts, v0, v1, y)
    if a.torch_only:
        r32 = flat(*train_torch(model, a, v0, v1, y, False), False)
        r64 = flat(*train_torch(make_model(a.method, a, opts), a, v0, v1, y, True), True)
        worst, errs, _ = compare_all(r32, r64, zero, a.tol)
        print(f"{a.method} PyTorch fp32 vs fp64 ({a.optimizer}, lr {a.lr}): max rel err {worst:.2e}")
        for e, n in errs[:8]:
            print(f"  {e:.2e} {n}")
        return

    os.makedirs(a.workdir, exist_ok=True)
    pfile, xfile, dfile = (os.path.join(a.workdir, n) for n in ("params.safetensors", "inputs.safetensors", "dump.safetensors"))
    plan = os.path.join(a.workdir, a.method + ".plan")
    st.save(pfile, sd0)
    inputs = {"views.0": v0.numpy(), "views.1": v1.numpy()}
    if y is not None:
        inputs["labels"] = y.numpy().astype(np.int64)
    st.save(xfile, inputs)
    cmd = [a.sslc, "compile", a.method, "--backbone", a.backbone, "--width", str(a.width), "--image-size",
           str(a.image_size), "--channels", "3", "--batch", str(a.batch), "--augment", "none", "--optimizer",
           a.optimizer, "--lr", str(a.lr), "--weight-decay", str(a.wd), "-o", plan]
    cmd += [f"--set={k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in opts.items()]
    if a.optimizer in ("sgd", "lars"):
        cmd += ["--momentum", str(a.momentum)]
    if a.optimizer == "adamw":
        cmd += ["--adam-eps", str(a.adam_eps)]
    if a.optimizer == "lars":
        cmd += ["--lars-eta", str(a.eta)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([a.sslc, "step", plan, "--params", pfile, "--inputs", xfile, "--steps", str(a.steps),
                    "--dump", dfile] + (["--f64"] if a.f64 else []) + (["--device", a.device] if a.device else []),
                   check=True)
    got = st.load(dfile)

    losses, grads, final, slots = train_torch(model, a, v0, v1, y, a.f64)
    ref = flat(losses, grads, final, slots, a.f64)
    worst, errs, failures = compare_all(got, ref, zero, a.tol)
    checked = len(errs)
    # the same tensors on both sides: nothing sslc has that the PyTorch model lacks
    failures += [f"{n}: in sslc's dump, not in the PyTorch model" for n in got if n not in ref]
    print(f"{a.method} oracle ({a.backbone}, {a.optimizer}{', f64' if a.f64 else ''}, {a.steps} steps): "
          f"{checked} tensors, losses {[round(x, 6) for x in losses]}, max rel err {worst:.2e}")
    if os.environ.get("ORACLE_VERBOSE"):
        for e, n in errs[:10]:
            print(f"  {e:.2e} {n}")
    for f in failures[:20]:
        print("  MISMATCH", f)
    sys.exit(1 if failures or checked == 0 else 0)


if __name__ == "__main__":
    main()
