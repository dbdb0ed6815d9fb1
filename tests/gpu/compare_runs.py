"""Compares two sslc run directories made from the same plan and seed: the loss of every step
(metrics.jsonl, relative) and every tensor of the final checkpoint (max |a-b| / max(1, max|b|)).
Prints one line; exit 1 when a bound is exceeded.
usage: python3 compare_runs.py RUN_A RUN_B [--loss-tol 1e-5] [--param-tol 1e-4] [--exact]"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import st  # noqa: E402


def losses(run):
    out = {}
    for line in open(os.path.join(run, "metrics.jsonl")):
        m = json.loads(line)
        if "loss" in m and "step" in m:
            out[m["step"]] = m["loss"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--loss-tol", type=float, default=1e-5)
    ap.add_argument("--param-tol", type=float, default=1e-4)
    ap.add_argument("--exact", action="store_true", help="every byte equal")
    o = ap.parse_args()
    la, lb = losses(o.a), losses(o.b)
    if sorted(la) != sorted(lb) or not la:
        print(f"FAIL steps differ: {sorted(la)} vs {sorted(lb)}")
        return 1
    worst_loss = max(abs(la[s] - lb[s]) / max(abs(lb[s]), 1e-12) for s in la)
    ta, tb = st.load(os.path.join(o.a, "checkpoint.safetensors")), st.load(os.path.join(o.b, "checkpoint.safetensors"))
    if sorted(ta) != sorted(tb):
        print("FAIL the checkpoints hold different tensors")
        return 1
    worst, where = 0.0, ""
    for name in ta:
        x, y = np.asarray(ta[name], dtype=np.float64), np.asarray(tb[name], dtype=np.float64)
        if o.exact and not np.array_equal(np.asarray(ta[name]), np.asarray(tb[name])):
            print(f"FAIL {name} differs (exact comparison)")
            return 1
        if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
            print(f"FAIL {name} is not finite")
            return 1
        e = float(np.max(np.abs(x - y)) / max(1.0, float(np.max(np.abs(y))))) if x.size else 0.0
        if e > worst:
            worst, where = e, name
    ok = worst_loss <= o.loss_tol and worst <= o.param_tol
    print(f"{'ok  ' if ok else 'FAIL'} {len(la)} steps: loss rel err {worst_loss:.2e} (<= {o.loss_tol:g}), "
          f"parameters/state max err {worst:.2e} (<= {o.param_tol:g}{', ' + where if where else ''})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
