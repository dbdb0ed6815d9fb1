"""Compares two `sslc eval --json` results (the cpu's and the cuda backend's): kNN and linear
top-1 within --tol points. Prints one line; exit 1 beyond it.
usage: python3 compare_eval.py CPU.json CUDA.json [--tol 1.0]"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=1.0)
    o = ap.parse_args()
    a, b = json.load(open(o.a)), json.load(open(o.b))
    keys = [k for k in ("knn_top1", "linear_top1") if k in a and k in b]
    if not keys:
        print("FAIL no accuracies to compare")
        return 1
    d = max(abs(a[k] - b[k]) for k in keys)
    line = ", ".join(f"{k} {a[k]:.2f} / {b[k]:.2f}" for k in keys)
    print(f"{'ok  ' if d <= o.tol else 'FAIL'} {line} (cpu / cuda, within {o.tol:g} points)")
    return 0 if d <= o.tol else 1


if __name__ == "__main__":
    sys.exit(main())
