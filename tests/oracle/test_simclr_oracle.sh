#!/bin/bash
# SimCLR vs PyTorch: loss, every gradient and all parameters/buffers after 3 SGD-momentum steps
# and after 3 AdamW steps (fp32, max relative error 1e-4), and the SGD run once more with both
# sides in float64 (max relative error 1e-6: sslc's f32 constants are the only difference).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
py() { /usr/bin/python3 "$src/tests/oracle/simclr_oracle.py" "$sslc" "$@"; }
py "$work/sgd" --optimizer sgd
py "$work/adamw" --optimizer adamw
py "$work/sgd64" --optimizer sgd --f64 --tol 1e-6
