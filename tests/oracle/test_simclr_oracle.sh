#!/bin/bash
# SimCLR vs PyTorch: loss, every gradient and all parameters/buffers after 3 SGD-momentum steps
# and after 3 AdamW steps (max relative error 1e-4). Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$src/tests/oracle/simclr_oracle.py" "$sslc" "$work/sgd" --optimizer sgd
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$src/tests/oracle/simclr_oracle.py" "$sslc" "$work/adamw" --optimizer adamw
