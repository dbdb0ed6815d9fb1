#!/bin/bash
# SwAV vs PyTorch (the reference implementation's loss; 2 global views + 2 local crops; a queue of
# two batches, used from step 3): loss, every gradient, and every parameter and state tensor
# (prototypes, BatchNorm buffers, queue, queue_fill) after 3 SGD-momentum steps: ConvNet in
# float32 (max relative error 1e-4), ResNet-18 (width 0.25) with both sides in float64 (1e-6)
# and the prototypes frozen on step 1. Then the learning check: loss near ln(3000) at
# initialization, gradient in the backbone, loss falling over 10 steps.
# The float32 run is repeated on the cpu backend (fused JIT kernels) with the prototypes frozen on
# step 1.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/swav_oracle.py" "$sslc" "$@"; }
py "$work/f32"
py "$work/cpu" --device cpu --freeze
py "$work/f64" --backbone resnet18 --width 0.25 --f64 --tol 1e-6 --freeze
py "$work/learn" --learn
