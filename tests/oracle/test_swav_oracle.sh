#!/bin/bash
# SwAV vs PyTorch (the reference implementation's loss; 2 global views + 2 local crops; a queue of
# two batches, used from step 3): loss, every gradient, and every parameter and state tensor
# (prototypes, BatchNorm buffers, queue, queue_fill) after 3 SGD-momentum steps: ConvNet in
# float32 (max relative error 1e-4), ResNet-18 (width 0.25) with both sides in float64 (1e-6)
# and the prototypes frozen on step 1. Then the learning check: loss near ln(3000) at
# initialization, gradient in the backbone, loss falling over 10 steps.
# The float32 run is repeated on the cpu backend (fused JIT kernels) with the prototypes frozen on
# step 1.
# ViT multi-crop (vit-small, embed 48, depth 2, patch 4; the position embedding resized to the
# local crops' patch grid as DINO's interpolate_pos_encoding): float32 at 32x32 (8x8 -> 3x3
# grid) with the prototypes frozen on step 1, float64 at 16x16 (4x4 -> 2x2, 1e-6).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/swav_oracle.py" "$sslc" "$@"; }
py "$work/f32"
py "$work/cpu" --device cpu --freeze
py "$work/f64" --backbone resnet18 --width 0.25 --f64 --tol 1e-6 --freeze
vit="--backbone vit-small --width 0.125 --depth 2 --patch-size 4"
py "$work/vit32" $vit --image-size 32 --batch 4 --freeze
py "$work/vit64" $vit --f64 --tol 1e-6
py "$work/learn" --learn
