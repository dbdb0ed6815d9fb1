"""sslc vs PyTorch on one SimCLR training step: CIFAR ResNet-18 (full width), batch 128
(2 x 128 views of 32x32), fake data, SGD-momentum, the same number of threads, in one run.
Prints each side's seconds per step and peak resident memory, and the ratios.

usage: /usr/bin/python3 bench/simclr_bench.py SSLC [--batch 128] [--steps 4] [--threads 2]"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time


def torch_side(batch, steps, threads):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    torch.set_num_threads(threads)
    bb = torchvision.models.resnet18()
    bb.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    bb.maxpool = nn.Identity()
    bb.fc = nn.Identity()
    proj = nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, 128))
    model = nn.Sequential(bb, proj)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    v0, v1 = torch.randn(batch, 3, 32, 32), torch.randn(batch, 3, 32, 32)

    def step():
        z = F.normalize(torch.cat([model(v0), model(v1)]), dim=1)
        sim = z @ z.t() / 0.5
        sim.fill_diagonal_(-1e9)
        n = batch
        labels = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        loss = F.cross_entropy(sim, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", choices=["torch"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side == "torch":
        s = torch_side(a.batch, a.steps, a.threads)
        print(f"TORCH {s:.4f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
        return
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    with tempfile.TemporaryDirectory() as d:
        plan = os.path.join(d, "simclr.plan")
        # --augment none: views are inputs, as on the PyTorch side (no augmentation in the step)
        subprocess.run([a.sslc, "compile", "simclr", "--backbone", "resnet18", "--image-size", "32", "--batch",
                        str(a.batch), "--optimizer", "sgd", "--lr", "0.05", "--augment", "none", "-o", plan],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        # warm the kernel cache so compile time is not counted
        subprocess.run([a.sslc, "run", plan, "--data", f"fake:{a.batch}", "--steps", "1"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", a.sslc, "run", plan, "--data", f"fake:{a.batch}",
                            "--steps", str(a.steps + 1), "--log-every", "1"], capture_output=True, text=True, env=env)
        if r.returncode:
            sys.exit("sslc failed: " + r.stderr[-500:])
        ips = [float(x) for x in re.findall(r"([0-9.]+) img/s", r.stdout)][1:]  # first step is warm-up
        sslc_step = a.batch / (sum(ips) / len(ips))
        sslc_rss = int(re.search(r"MAXRSS (\d+)", r.stderr).group(1))
        t = subprocess.run([sys.executable, __file__, a.sslc, "--side", "torch", "--batch", str(a.batch), "--steps",
                            str(a.steps), "--threads", str(a.threads)], capture_output=True, text=True, env=env)
        m = re.search(r"TORCH ([0-9.]+) (\d+)", t.stdout)
        if not m:
            sys.exit("torch side failed: " + t.stderr[-500:])
        torch_step, torch_rss = float(m.group(1)), int(m.group(2))
    print(f"SimCLR CIFAR ResNet-18, batch {a.batch} (2x{a.batch} views 32x32), {a.threads} threads, fake data")
    print(f"  sslc (cpu backend): {sslc_step:8.3f} s/step  peak RSS {sslc_rss / 1024:8.0f} MiB")
    print(f"  PyTorch {__import__('torch').__version__:>10}: {torch_step:8.3f} s/step  peak RSS {torch_rss / 1024:8.0f} MiB")
    print(f"  step-time ratio sslc/PyTorch {sslc_step / torch_step:.3f}   peak-memory ratio {sslc_rss / torch_rss:.3f}")


if __name__ == "__main__":
    main()
