#!/bin/bash
# MoCo vs PyTorch: loss, every gradient, and all parameters and state (queue, queue_ptr, key
# encoder, BN buffers) after 3 SGD-momentum steps on a CIFAR-stem ResNet-18 (width 0.25), with
# K = 2 x batch so the queue pointer wraps around (0 -> 8 -> 0 -> 8): fp32 at max relative error
# 1e-4 (m = 0.99), then both sides in float64 at 1e-6 (on the ConvNet, to keep the test short).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/moco_oracle.py" "$sslc" "$@"; }
py "$work/f32" --method moco --backbone resnet18 --width 0.25 --K 16 --m 0.99
py "$work/f64" --method moco --backbone convnet --K 16 --f64 --tol 1e-6
