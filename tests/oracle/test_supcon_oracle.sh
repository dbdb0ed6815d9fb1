#!/bin/bash
# SupCon vs PyTorch (tests/oracle/methods_oracle.py) with labels as a graph input: loss, every
# gradient, parameters, BatchNorm buffers and AdamW moments after 3 AdamW steps, fp32 (max
# relative error 1e-4) and both sides in float64 (1e-6); and PySSL's exact variant
# (normalize=false, raw projections) in float64.
# The fp32 run is repeated on the cpu backend (sslc step --device cpu: fused JIT kernels).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
args=(--optimizer adamw --set projection_dim=16)
py() { /usr/bin/python3 "$src/tests/oracle/methods_oracle.py" supcon "$sslc" "$@"; }
py "$work/f32" "${args[@]}"
py "$work/f64" "${args[@]}" --f64 --tol 1e-6
py "$work/cpu" "${args[@]}" --device cpu
py "$work/raw64" "${args[@]}" --set normalize=false --f64 --tol 1e-6
