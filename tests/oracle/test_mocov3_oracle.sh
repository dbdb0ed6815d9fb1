#!/bin/bash
# MoCo v3 vs PyTorch (ConvNet, BN projector and predictor, EMA key encoder): loss, every gradient,
# all parameters and state after 3 AdamW steps, with PySSL's loss (fp32, max relative error 1e-4)
# and with the reference implementation's 2*temperature scaling (fp32, and float64 at 1e-6).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/moco_oracle.py" "$sslc" "$@"; }
py "$work/f32" --method mocov3 --optimizer adamw --m 0.99
py "$work/scaled" --method mocov3 --optimizer adamw --scale-loss --temperature 0.2
py "$work/f64" --method mocov3 --optimizer adamw --scale-loss --temperature 0.2 --f64 --tol 1e-6
