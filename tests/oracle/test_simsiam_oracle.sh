#!/bin/bash
# SimSiam vs PyTorch (tests/oracle/methods_oracle.py): loss, every gradient, parameters,
# BatchNorm buffers and SGD momentum buffers after 3 SGD-momentum steps, fp32 (max relative
# error 1e-4) and both sides in float64 (1e-6). projection_dim 16 != hidden_dim_proj 32, so the
# last projector BatchNorm's size (projection_dim, DESIGN §3) is exercised.
# The fp32 run is repeated on the cpu backend (sslc step --device cpu: fused JIT kernels).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
args=(--set projection_dim=16 --set hidden_dim_proj=32 --set hidden_dim_pred=8)
py() { /usr/bin/python3 "$src/tests/oracle/methods_oracle.py" simsiam "$sslc" "$@"; }
py "$work/f32" "${args[@]}"
py "$work/f64" "${args[@]}" --f64 --tol 1e-6
py "$work/cpu" "${args[@]}" --device cpu
