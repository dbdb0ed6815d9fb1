"""sslc --device cuda vs PyTorch (eager and torch.compile) on one SimCLR training step on the
same GPU, in one run: CIFAR ResNet-18 (batch 512, 2 x 512 views of 32x32) and ResNet-50
(batch 128, 224x224), SGD-momentum, fake data. Prints each side's seconds per step, images/s
and peak device memory (PyTorch: torch.cuda.max_memory_allocated; sslc: the arena, parameters
and state it reports when it starts), and the ratios. Float32 on both sides (no TF32).

usage: python3 bench/simclr_bench_cuda.py SSLC [--steps 10] [--only resnet18|resnet50]"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

CONFIGS = {"resnet18": (512, 32), "resnet50": (128, 224)}


def torch_side(backbone, batch, size, steps, compiled):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    bb = getattr(torchvision.models, backbone)()
    if backbone == "resnet18":  # CIFAR stem, as sslc's at 32x32
        bb.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        bb.maxpool = nn.Identity()
    f = bb.fc.in_features
    bb.fc = nn.Identity()
    model = nn.Sequential(bb, nn.Linear(f, f), nn.ReLU(inplace=True), nn.Linear(f, 128)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    v0, v1 = torch.randn(batch, 3, size, size, device=dev), torch.randn(batch, 3, size, size, device=dev)
    labels = torch.cat([torch.arange(batch, 2 * batch), torch.arange(0, batch)]).to(dev)

    def loss_fn(a, b):
        z = F.normalize(torch.cat([model(a), model(b)]), dim=1)
        sim = z @ z.t() / 0.5
        sim = sim - torch.eye(2 * batch, device=dev) * 1e9
        return F.cross_entropy(sim, labels)

    fwd = torch.compile(loss_fn) if compiled else loss_fn

    def step():
        loss = fwd(v0, v1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):  # warm-up (and compilation)
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps, torch.cuda.max_memory_allocated() / 2**20


def sslc_side(sslc, backbone, batch, size, steps, d):
    plan = os.path.join(d, f"{backbone}.plan")
    subprocess.run([sslc, "compile", "simclr", "--backbone", backbone, "--image-size", str(size), "--batch", str(batch),
                    "--optimizer", "sgd", "--lr", "0.05", "--augment", "none", "--targets", "cpu,cuda", "-o", plan],
                   check=True, stdout=subprocess.DEVNULL)
    r = subprocess.run([sslc, "run", plan, "--device", "cuda", "--data", f"fake:{batch}", "--steps", str(steps + 2),
                        "--log-every", "1", "--out", os.path.join(d, backbone)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("sslc failed: " + r.stderr[-500:])
    ips = [float(x) for x in re.findall(r"([0-9.]+) img/s", r.stdout)][2:]  # the first steps capture the graph
    m = re.search(r"arena ([0-9.]+) MiB \+ ([0-9.]+) MiB", r.stdout + r.stderr)
    mem = float(m.group(1)) + float(m.group(2)) if m else float("nan")
    return batch / (sum(ips) / len(ips)), mem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--side", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side:  # one PyTorch measurement in a process of its own (peak memory per side)
        backbone, mode = a.side.split(":")
        batch, size = CONFIGS[backbone]
        s, mem = torch_side(backbone, batch, size, a.steps, mode == "compile")
        print(f"TORCH {s:.5f} {mem:.1f}")
        return
    for backbone, (batch, size) in CONFIGS.items():
        if a.only and backbone != a.only:
            continue
        rows = []
        with tempfile.TemporaryDirectory() as d:
            try:
                rows.append(("sslc --device cuda",) + sslc_side(a.sslc, backbone, batch, size, a.steps, d))
            except Exception as e:  # noqa: BLE001 - reported, the PyTorch rows still run
                print(f"  sslc: {e}")
        for mode in ("eager", "compile"):
            t = subprocess.run([sys.executable, __file__, a.sslc, "--side", f"{backbone}:{mode}", "--steps",
                                str(a.steps)], capture_output=True, text=True)
            m = re.search(r"TORCH ([0-9.]+) ([0-9.]+)", t.stdout)
            if m:
                rows.append((f"PyTorch {mode}", float(m.group(1)), float(m.group(2))))
            else:
                print(f"  PyTorch {mode} failed: {t.stderr[-300:]}")
        print(f"SimCLR {backbone}, batch {batch} (2x{batch} views {size}x{size}), float32, fake data")
        for name, s, mem in rows:
            print(f"  {name:22s} {s:8.4f} s/step  {batch / s:9.0f} img/s  peak {mem:8.0f} MiB")
        ref = [r for r in rows if r[0].startswith("sslc")]
        best = min((r for r in rows if r[0].startswith("PyTorch")), key=lambda r: r[1], default=None)
        if ref and best:
            print(f"  ratios sslc/best PyTorch ({best[0]}): step time {ref[0][1] / best[1]:.3f}, "
                  f"peak memory {ref[0][2] / best[2]:.3f}")


if __name__ == "__main__":
    main()
