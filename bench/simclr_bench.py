"""sslc against PyTorch on one SimCLR training step, fake data, the same number of threads, in one run.

Configurations (--config: a comma-separated list of cifar, main, wide; both = main,cifar, the default):
  cifar  CIFAR ResNet-18 full width, batch 128 (2 x 128 views 3x32x32), SGD lr 0.05 momentum 0.9
  main   the main job's former model (issue 12's "main job"): ResNet-18 width 0.25 (16 base channels),
         batch 256 (2 x 256 views 1x28x28), AdamW lr 1e-3 weight decay 1e-6, temperature 0.2
  wide   the main job's model since its 15-minute recipe (`sslc train simclr`): the same at width 0.5
         (32 base channels), AdamW lr 2e-3
Both: CIFAR stem (3x3 conv, stride 1, no max-pool), projector Linear(f,f)-ReLU-Linear(f,128),
NT-Xent; each view through the encoder separately (BatchNorm statistics per view), as sslc.

Peers (--peers, comma-separated, default all three), each timed and measured in its own process:
  debian        Debian's python3-torch (1.13) eager, /usr/bin/python3
  pypi          PyTorch 2.x from PyPI eager, bench/.peer-venv (made by bench/make_peer_venv.sh)
  pypi-compile  the same with the loss and its backward under torch.compile (inductor; needs gcc)

Prints one table: seconds per step, images per second (batch / step time), peak resident memory
of each process, and sslc's ratios to the best peer (fastest step, smallest peak memory). On a CPU
with avx512_bf16 sslc is also timed in bf16 mixed precision (--precision bf16), with its ratios to
the best peer (float32) and to sslc's own float32 step.

usage: /usr/bin/python3 bench/simclr_bench.py SSLC [--config both] [--steps 4] [--threads 2] [--peers ...]"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_VENV_PYTHON = os.path.join(HERE, ".peer-venv", "bin", "python")

CONFIGS = {
    "cifar": dict(title="CIFAR ResNet-18 full width, batch 128, 3x32x32, SGD", width=1.0, batch=128, channels=3,
                  size=32, optimizer="sgd", lr=0.05, wd=0.0, temperature=0.5),
    "main": dict(title="main job: ResNet-18 width 0.25, batch 256, 1x28x28, AdamW", width=0.25, batch=256,
                 channels=1, size=28, optimizer="adamw", lr=1e-3, wd=1e-6, temperature=0.2),
    "wide": dict(title="main job since the 15-minute recipe: ResNet-18 width 0.5, batch 256, 1x28x28, AdamW",
                 width=0.5, batch=256, channels=1, size=28, optimizer="adamw", lr=2e-3, wd=1e-6, temperature=0.2),
}
PEERS = {  # name -> (interpreter, use torch.compile)
    "debian": ("/usr/bin/python3", False),
    "pypi": (PEER_VENV_PYTHON, False),
    "pypi-compile": (PEER_VENV_PYTHON, True),
}
PROJECTION_DIM = 128


def torch_side(cfg, steps, threads, compiled):
    """One process, one peer: the step timed after warm-up (compilation excluded); prints the
    step time and this process's peak RSS."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Block(nn.Module):  # torchvision's BasicBlock
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.down = None
            if stride != 1 or cin != planes:
                self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + (x if self.down is None else self.down(x)))

    def resnet18(width, channels):  # CIFAR stem, as sslc for images <= 64 pixels
        w = int(64 * width)
        layers = [nn.Conv2d(channels, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        cin = w
        for stage in range(4):
            planes = w << stage
            for b in range(2):
                layers.append(Block(cin, planes, 2 if (b == 0 and stage > 0) else 1))
                cin = planes
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        return nn.Sequential(*layers), cin

    backbone, feat = resnet18(cfg["width"], cfg["channels"])
    proj = nn.Sequential(nn.Linear(feat, feat), nn.ReLU(inplace=True), nn.Linear(feat, PROJECTION_DIM))
    model = nn.Sequential(backbone, proj)
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, weight_decay=cfg["wd"])
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"], eps=1e-8)
    n = cfg["batch"]
    shape = (n, cfg["channels"], cfg["size"], cfg["size"])
    v0, v1 = torch.randn(shape), torch.randn(shape)
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])

    def loss_of(a, b):
        z = F.normalize(torch.cat([model(a), model(b)]), dim=1)
        sim = (z @ z.t()) / cfg["temperature"]
        sim = sim - 1e9 * torch.eye(2 * n)  # self similarities out, as sslc's mask
        return F.cross_entropy(sim, labels)

    loss_fn = torch.compile(loss_of) if compiled else loss_of

    def step():
        loss = loss_fn(v0, v1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2 if compiled else 1):  # warm-up; torch.compile compiles here
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    s = (time.perf_counter() - t) / steps
    print(f"TORCH {torch.__version__} {s:.5f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")


def cpu_has_bf16():
    with open("/proc/cpuinfo") as f:
        return re.search(r"\bavx512_bf16\b", f.read()) is not None


def sslc_side(sslc, cfg, steps, env, precision="f32"):
    """seconds per step (the mean of the steps after the first) and peak RSS in KiB"""
    with tempfile.TemporaryDirectory() as d:
        plan = os.path.join(d, "simclr.plan")
        # --augment none: views are inputs, as on the PyTorch side (no augmentation in the step)
        subprocess.run([sslc, "compile", "simclr", "--backbone", "resnet18", "--width", str(cfg["width"]),
                        "--image-size", str(cfg["size"]), "--channels", str(cfg["channels"]), "--batch",
                        str(cfg["batch"]), "--optimizer", cfg["optimizer"], "--lr", str(cfg["lr"]),
                        "--weight-decay", str(cfg["wd"]), "--set", f"temperature={cfg['temperature']}",
                        "--set", f"projection_dim={PROJECTION_DIM}", "--augment", "none", "--precision", precision,
                        "-o", plan],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        data = f"fake:{cfg['batch']}"
        # warm the kernel cache so that compiling kernels is not counted
        subprocess.run([sslc, "run", plan, "--data", data, "--steps", "1"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        run = os.path.join(d, "run")
        r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", sslc, "run", plan, "--data", data, "--steps",
                            str(steps + 1), "--log-every", "1", "--out", run], capture_output=True, text=True, env=env)
        if r.returncode:
            sys.exit("sslc failed: " + r.stderr[-500:])
        # metrics.jsonl: elapsed_s after each step (ms); the first step is warm-up
        with open(os.path.join(run, "metrics.jsonl")) as f:
            elapsed = [json.loads(line)["elapsed_s"] for line in f if line.strip()]
    if len(elapsed) != steps + 1:
        sys.exit(f"sslc logged {len(elapsed)} steps of {steps + 1} in metrics.jsonl")
    return (elapsed[-1] - elapsed[0]) / steps, int(re.search(r"MAXRSS (\d+)", r.stderr).group(1))


def peer_side(peer, config, steps, threads, env):
    """(version, seconds per step, peak RSS KiB) of one peer, run in a process of its own"""
    python, compiled = PEERS[peer]
    cmd = [python, os.path.abspath(__file__), "-", "--side-config", config, "--steps", str(steps), "--threads",
           str(threads)] + (["--side-compile"] if compiled else [])
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    m = re.search(r"TORCH (\S+) ([0-9.]+) (\d+)", r.stdout)
    if r.returncode or not m:
        sys.exit(f"peer {peer} failed (exit {r.returncode}): " + r.stderr[-800:])
    return m.group(1), float(m.group(2)), int(m.group(3))


def main():
    ap = argparse.ArgumentParser(description="sslc vs PyTorch (Debian 1.13, PyPI 2.x eager and torch.compile)")
    ap.add_argument("sslc", help="the sslc binary (build/sslc)")
    ap.add_argument("--config", default="both", help="comma-separated: cifar, main, wide (both = main,cifar)")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per side (after warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default="debian,pypi,pypi-compile", help="comma-separated subset of " +
                    ",".join(PEERS))
    ap.add_argument("--side-config", choices=list(CONFIGS), help=argparse.SUPPRESS)
    ap.add_argument("--side-compile", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side_config:
        torch_side(CONFIGS[a.side_config], a.steps, a.threads, a.side_compile)
        return
    peers = [p for p in a.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            sys.exit(f"unknown peer '{p}' in --peers (peers: {', '.join(PEERS)})")
        if not os.access(PEERS[p][0], os.X_OK):
            sys.exit(f"peer '{p}' needs {PEERS[p][0]}: run bench/make_peer_venv.sh first (or leave it out of --peers)")
    if a.steps < 1 or a.threads < 1:
        sys.exit("--steps and --threads must be >= 1")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               TORCHINDUCTOR_COMPILE_THREADS="1")
    configs = ["main", "cifar"] if a.config == "both" else [c for c in a.config.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            sys.exit(f"unknown configuration '{c}' in --config (configurations: {', '.join(CONFIGS)}, both)")
    bf16 = cpu_has_bf16()
    print(f"SimCLR step, fake data, {a.threads} threads, {a.steps} timed steps per side after warm-up; "
          f"each side in a process of its own")
    for c in configs:
        cfg = CONFIGS[c]
        rows = [("sslc (cpu backend)",) + sslc_side(a.sslc, cfg, a.steps, env)]
        ours = 1
        if bf16:
            rows.append(("sslc bf16 (cpu backend, --precision bf16)",) + sslc_side(a.sslc, cfg, a.steps, env, "bf16"))
            ours = 2
        for p in peers:
            version, s, rss = peer_side(p, c, a.steps, a.threads, env)
            label = f"PyTorch {version} " + ("torch.compile" if PEERS[p][1] else "eager")
            rows.append((f"{label} ({p})", s, rss))
        print(f"\n{cfg['title']}")
        print(f"  {'':52} {'s/step':>8} {'img/s':>8} {'peak RSS':>10}")
        for name, s, rss in rows:
            print(f"  {name:52} {s:8.3f} {cfg['batch'] / s:8.1f} {rss / 1024:6.0f} MiB")
        if len(rows) > ours:
            fast = min(rows[ours:], key=lambda r: r[1])
            small = min(rows[ours:], key=lambda r: r[2])
            print(f"  sslc / fastest peer step time {rows[0][1] / fast[1]:.3f} ({fast[0]}); "
                  f"sslc / smallest peer peak RSS {rows[0][2] / small[2]:.3f} ({small[0]})")
            if ours == 2:
                print(f"  sslc bf16 / fastest peer step time {rows[1][1] / fast[1]:.3f}; "
                      f"sslc bf16 / smallest peer peak RSS {rows[1][2] / small[2]:.3f}; "
                      f"sslc bf16 / sslc float32 step time {rows[1][1] / rows[0][1]:.3f}")


if __name__ == "__main__":
    main()
