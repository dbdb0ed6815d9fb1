#!/bin/bash
# MAE vs PyTorch (tests/oracle/mae_oracle.py: models_mae.py's masking, encoder, decoder and loss
# with its module names, replaying the per-sample masks sslc step drew and dumped): loss, every
# gradient, every parameter and its change, and the AdamW slots after 3 AdamW steps (betas 0.9,
# 0.95, weight decay 0.05) on vit-tiny at width 0.125, depth 2, 16x16 images in 4x4 patches:
#  1. fp32 with norm_pix_loss (rel err <= 1e-4)   2. both sides float64 (1e-6)
#  3. the cpu backend (fused JIT kernels), plain pixel loss and mask_ratio 0.6
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
py() { /usr/bin/python3 "$src/tests/oracle/mae_oracle.py" "$sslc" "$@"; }
py "$work/f32"
py "$work/f64" --f64 --tol 1e-6
py "$work/cpu" --device cpu --set norm_pix_loss=0 --set mask_ratio=0.6
