"""Shared by the method oracles: run `sslc compile` + `sslc step`, and compare the dump with
PyTorch's tensors (max relative error: max|a-b| / max|b|)."""
import os
import subprocess

import numpy as np

import st


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def run_sslc(sslc, workdir, compile_args, params, inputs, steps, f64, device="ref"):
    """Writes params/inputs (name -> numpy array), compiles and steps; returns the dump."""
    pfile, xfile, dfile, plan = (os.path.join(workdir, n) for n in
                                 ("params.safetensors", "inputs.safetensors", "dump.safetensors", "m.plan"))
    st.save(pfile, params)
    st.save(xfile, inputs)
    subprocess.run([sslc, "compile"] + compile_args + ["--augment", "none", "-o", plan], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sslc, "step", plan, "--params", pfile, "--inputs", xfile, "--steps", str(steps), "--dump", dfile]
                   + (["--f64"] if f64 else []) + ["--device", device], check=True)
    return st.load(dfile)


class Checker:
    def __init__(self, got, tol):
        self.got, self.tol = got, tol
        self.worst, self.checked, self.failures, self.errs, self.seen = 0.0, 0, [], [], set()

    def check(self, name, ref):
        ref = np.asarray(ref)
        self.seen.add(name)
        if name not in self.got:
            self.failures.append(f"{name}: missing from sslc's dump")
            return
        g = self.got[name]
        if g.shape != ref.shape:
            self.failures.append(f"{name}: shape {g.shape} vs {ref.shape}")
            return
        e = rel(g, ref)
        self.errs.append((e, name))
        self.checked += 1
        self.worst = max(self.worst, e)
        if not e <= self.tol:
            self.failures.append(f"{name}: rel err {e:.3g}")

    def check_zero(self, name, ref, scale):
        """a tensor that is zero in exact arithmetic (the gradient of a bias that BatchNorm
        cancels): both sides must be rounding noise, at most tol * scale"""
        ref = np.asarray(ref)
        self.seen.add(name)
        if name not in self.got:
            self.failures.append(f"{name}: missing from sslc's dump")
            return
        e = max(float(np.max(np.abs(self.got[name]))), float(np.max(np.abs(ref)))) / scale
        self.errs.append((e, name + " (zero)"))
        self.checked += 1
        self.worst = max(self.worst, e)
        if not e <= self.tol:
            self.failures.append(f"{name}: should be zero, is {e:.3g} of the scale")

    def all_covered(self, skip_prefixes=("opt.",)):
        """every parameter, state and gradient sslc dumped was compared"""
        for n in self.got:
            if n not in self.seen and not n.startswith(skip_prefixes):
                self.failures.append(f"{n}: in sslc's dump but not checked against PyTorch")

    def check_run(self, losses, grads, model, f64, zero=None):
        """a run of steps: the loss of every step, every gradient of step 1 (those named in `zero`,
        mapped to the gradient giving their scale, must be zero up to rounding), every parameter
        and buffer of `model` after the last step, and nothing sslc dumped left unchecked"""
        zero = zero or {}
        for s, l in enumerate(losses):
            self.check(f"loss.{s}", np.array(l, np.float64 if f64 else np.float32))
        for n, g in grads.items():
            if n in zero:
                self.check_zero(f"grad.{n}", g, np.max(np.abs(grads[zero[n]])))
            else:
                self.check(f"grad.{n}", g)
        sd = dict(model.named_parameters())
        sd.update(dict(model.named_buffers()))
        for n, v in sd.items():
            self.check(n, v.detach().numpy())
        self.all_covered()

    def fail(self, msg):
        self.failures.append(msg)

    def report(self, label):
        print(f"{label}: {self.checked} tensors, max rel err {self.worst:.2e} (tol {self.tol:g})")
        if os.environ.get("ORACLE_VERBOSE"):
            for e, n in sorted(self.errs, reverse=True)[:10]:
                print(f"  {e:.2e} {n}")
        for f in self.failures[:20]:
            print("  MISMATCH", f)
        return 1 if self.failures or self.checked == 0 else 0
