#!/bin/bash
# MoCo v2 vs PyTorch (ConvNet, MLP projector): loss, every gradient, all parameters and state
# after 3 SGD-momentum steps; K = 4 x batch with the pointer starting mid-queue (16 -> 24 -> 0 -> 8);
# fp32 at max relative error 1e-4, and both sides in float64 at 1e-6.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/moco_oracle.py" "$sslc" "$@"; }
py "$work/f32" --method mocov2 --K 32 --ptr 16 --temperature 0.2 --m 0.99
py "$work/f64" --method mocov2 --K 32 --ptr 16 --temperature 0.2 --f64 --tol 1e-6
