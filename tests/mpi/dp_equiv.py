"""Data-parallel equivalence: `sslc step` on 2 ranks x batch B/2 (--ranks 2, --sync-bn) against
1 rank x batch B, from the same initialization (the plans' seed) and the same views (one inputs
file: each rank takes its half). Compares the loss of every step, every gradient of the first
step and every parameter and state tensor after the last, relative to the tensor's largest
magnitude. Exit 0 when all are within --tol, 1 otherwise (--expect-fail inverts it: the check
must catch a broken gradient). With --standin LIB (and --device cuda) both runs go through the CUDA
and NCCL stand-in (tests/fake_cuda/): the 2-rank run's collectives through NCCL's entry points.
Usage: dp_equiv.py SSLC MPIRUN WORKDIR METHOD [options]"""
import argparse
import glob
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import st  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sslc")
    ap.add_argument("mpirun")
    ap.add_argument("workdir")
    ap.add_argument("method")
    ap.add_argument("--batch", type=int, default=8, help="global batch B")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--f64", action="store_true")
    ap.add_argument("--device", default="ref")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--floor", type=float, default=1e-3,
                    help="the error's scale is at least this fraction of its group's largest magnitude")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--one-set", action="append", default=[], help="a method option of the 1-rank plan only")
    ap.add_argument("--no-sync-bn", action="store_true", help="each rank's own BatchNorm (the 1-rank plan must "
                    "then compute the same, e.g. MoCo's bn_splits)")
    ap.add_argument("--backbone", default="convnet --width 0.25", help="backbone options (one string)")
    ap.add_argument("--expect-fail", action="store_true")
    ap.add_argument("--standin", help="the CUDA/NCCL stand-in library (libsslc_fakecuda.so) for --device cuda")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    w = lambda n: os.path.join(a.workdir, n)  # noqa: E731
    rng = np.random.default_rng(7)
    size = 16
    common = [a.method, "--backbone"] + a.backbone.split() + ["--image-size", str(size), "--augment", "none",
              "--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9", "--lr-schedule", "constant"]
    common += [f"--set={s}" for s in a.set]
    if a.device == "cuda":  # the plans carry their CUDA kernels (CUBIN for sm_80 and sm_90, the stand-in's)
        common += ["--targets", "cpu,cuda"]
    sync = [] if a.no_sync_bn else ["--sync-bn"]
    subprocess.run([a.sslc, "compile"] + common + [f"--set={s}" for s in a.one_set] + ["--batch", str(a.batch)] + sync
                   + ["-o", w("one.plan")], check=True, stdout=subprocess.DEVNULL)
    # the one-rank plan's inputs (views.0, views.1, multi-crop views, labels) at the global batch
    graph = subprocess.run([a.sslc, "inspect", w("one.plan"), "--graph"], check=True, capture_output=True,
                           text=True).stdout
    views = {}
    for line in graph.splitlines():
        f = line.split()
        if len(f) == 5 and f[0] == "input" and not f[4].startswith(("opt.", "sched.", "aug.")):
            shape = tuple(int(d) for d in f[3].strip("[]").split(","))
            if f[4] == "labels":  # class labels, 3 classes: positives within and across ranks
                views[f[4]] = rng.integers(0, 3, shape).astype(np.int64)
            else:
                views[f[4]] = rng.standard_normal(shape).astype(np.float32)
    st.save(w("x.safetensors"), views)
    subprocess.run([a.sslc, "compile"] + common + ["--batch", str(a.batch // 2), "--ranks", "2"] + sync + ["-o",
                   w("two.plan")], check=True, stdout=subprocess.DEVNULL)
    step = ["step", "--inputs", w("x.safetensors"), "--steps", str(a.steps), "--device", a.device]
    step += ["--f64"] if a.f64 else []
    def standin_env(plan, launch):
        """the stand-in runs each fused kernel from the cpu backend's JIT module of the plan: one
        cpu step of it first, in a cache directory of its own, makes that module"""
        if not a.standin:
            return None
        cache = w("cache-" + plan)
        env = dict(os.environ, SSLC_CACHE_DIR=cache)
        subprocess.run(launch + [a.sslc, "step", "--inputs", w("x.safetensors"), "--steps", "1", "--device", "cpu",
                                 w(plan), "--dump", w(plan + ".cpu.safetensors")], check=True, stdout=subprocess.DEVNULL, env=env)
        kso = sorted(glob.glob(os.path.join(cache, "*.kso")), key=os.path.getmtime)
        if not kso:
            sys.exit(f"no kernel module in {cache} after the cpu run of {plan}")
        env.update(SSLC_FAKECUDA_KERNELS=kso[-1], SSLC_FAKECUDA_DEVICES="2")
        for v in ("SSLC_CUDA_DRIVER", "SSLC_CUBLAS_LIB", "SSLC_CUDNN_LIB", "SSLC_NCCL_LIB"):
            env[v] = a.standin
        return env

    subprocess.run([a.sslc] + step + [w("one.plan"), "--dump", w("one.safetensors")], check=True,
                   env=standin_env("one.plan", []))
    subprocess.run(a.mpirun.split() + [a.sslc] + step + [w("two.plan"), "--dump", w("two.safetensors")], check=True,
                   env=standin_env("two.plan", a.mpirun.split()))
    ref, got = st.load(w("one.safetensors")), st.load(w("two.safetensors"))
    names = sorted(set(ref) | set(got))
    failures, worst = [], (0.0, "")

    def group(n):
        return n.split(".")[0] if n.split(".")[0] in ("loss", "grad", "opt") else "tensor"

    # Relative to the tensor's largest magnitude, but at least --floor of its group's (losses,
    # gradients, optimizer slots, parameters and state): a tensor that is zero in exact arithmetic
    # (the gradient of a bias that BatchNorm cancels, a loss of cosines summing to nearly 0) is
    # rounding noise on both sides. float32 sums in another order on 2 ranks, so its check uses the
    # group's scale (--floor 1); float64 keeps per-tensor errors (--floor 1e-3).
    gmax = {}
    for n in ref:
        gmax[group(n)] = max(gmax.get(group(n), 0.0), float(np.max(np.abs(np.asarray(ref[n], np.float64)))) if np.asarray(ref[n]).size else 0.0)
    for n in names:
        if n not in ref or n not in got:
            failures.append(f"{n}: only in the {'2-rank' if n in got else '1-rank'} dump")
            continue
        r, g = np.asarray(ref[n], np.float64), np.asarray(got[n], np.float64)
        if n.startswith("aug."):  # host-drawn permutations: rank 0 dumps its rows (or columns) of the global batch's
            r = r[tuple(slice(0, k) for k in g.shape)]
        if r.shape != g.shape:
            failures.append(f"{n}: shape {g.shape} on 2 ranks, {r.shape} on 1")
            continue
        scale = max(float(np.max(np.abs(r))) if r.size else 0.0, a.floor * gmax.get(group(n), 0.0), 1e-30)
        e = float(np.max(np.abs(r - g))) / scale if r.size else 0.0
        if e > worst[0]:
            worst = (e, n)
        if not e <= a.tol:
            failures.append(f"{n}: relative error {e:.3e} > {a.tol:g}")
    kinds = {"loss": sum(n.startswith("loss.") for n in names), "grad": sum(n.startswith("grad.") for n in names)}
    print(f"{a.method} {'f64' if a.f64 else 'f32'} {a.device}: 2 ranks x {a.batch // 2} vs 1 rank x {a.batch}, "
          f"{len(names)} tensors ({kinds['loss']} losses, {kinds['grad']} gradients), worst {worst[0]:.2e} ({worst[1]})")
    for f in failures[:10]:
        print("  " + f)
    if a.expect_fail:
        print("the check caught it" if failures else "FAIL: the broken run passed the check")
        return 0 if failures else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
