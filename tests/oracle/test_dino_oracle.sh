#!/bin/bash
# DINO vs PyTorch (2 global views + 2 local crops): loss, every gradient, and every parameter and
# state tensor (student, EMA teacher, center, BatchNorm buffers) after 3 SGD-momentum steps, with
# the teacher temperature fed per step: ConvNet in float32 (max relative error 1e-4), and
# ResNet-18 (width 0.25) with both sides in float64 (1e-6) and the last layer frozen on step 1.
# ResNet-18 is not run in float32: there PyTorch fp32 itself differs from PyTorch fp64 by 5.7e-4
# after 3 steps at lr 0.01 (a BatchNorm over the 8 values of the 1x1 local-crop maps), while sslc
# fp32 stays within 1.2e-5 of float64.
# The float32 run is repeated on the cpu backend (fused JIT kernels) with the last layer frozen on
# step 1.
# ViT multi-crop (vit-tiny, embed 24, depth 2, patch 4; local crops at whole patches): the
# position embedding resized to the local grid as DINO's interpolate_pos_encoding, in float32 at
# 32x32 (8x8 patch grid, 12x12 local crops: 3x3) and in float64 at 16x16 (4x4 -> 2x2, 1e-6).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/dino_oracle.py" "$sslc" "$@"; }
py "$work/f32"
py "$work/cpu" --device cpu --freeze
py "$work/f64" --backbone resnet18 --width 0.25 --f64 --tol 1e-6 --freeze
vit="--backbone vit-tiny --width 0.125 --depth 2 --patch-size 4"
py "$work/vit32" $vit --image-size 32 --batch 4
py "$work/vit64" $vit --f64 --tol 1e-6
