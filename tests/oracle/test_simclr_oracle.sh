#!/bin/bash
# SimCLR vs PyTorch (torchvision resnet18, CIFAR stem, full width, 8x8 views): loss, every
# gradient and all parameters/buffers after 3 SGD-momentum steps and after 3 AdamW steps (fp32,
# max relative error 1e-4), and both once more with both sides in float64 (max relative error
# 1e-6; sslc's f32 constants are the only difference), which is immune to the fp32 ReLU-kink
# flips that make any fp32-vs-fp32 comparison depend on the data. Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/simclr_oracle.py" "$sslc" "$@"; }
py "$work/sgd" --optimizer sgd
py "$work/adamw" --optimizer adamw
py "$work/sgd64" --optimizer sgd --f64 --tol 1e-6
py "$work/adamw64" --optimizer adamw --f64 --tol 1e-6 --image-size 16
