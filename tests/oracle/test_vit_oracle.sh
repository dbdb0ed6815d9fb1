#!/bin/bash
# ViT backbones vs PyTorch (a timm-structured ViT written in vit_oracle.py) under SimCLR: loss,
# every gradient, every parameter and every parameter change after 3 optimizer steps.
#  1. vit-tiny (embed 24 via --width 0.125, depth 2, 3 heads), AdamW, fp32: rel err <= 1e-4
#     (parameter changes <= 1e-3)
#  2. the same in float64 on both sides: rel err <= 1e-6
#  3. vit-small (embed 48, 6 heads), 1 channel, 12x12 images, SGD with momentum, fp32
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/vit_oracle.py" "$sslc" "$@"; }
py "$work/adamw" --backbone vit-tiny --optimizer adamw
py "$work/adamw64" --backbone vit-tiny --optimizer adamw --f64 --tol 1e-6
py "$work/sgd" --backbone vit-small --optimizer sgd --image-size 12 --channels 1
