#!/bin/bash
# VICReg vs PyTorch (tests/oracle/methods_oracle.py: the loss as the paper's Algorithm 1, the
# expander as facebookresearch/vicreg's Projector): loss, every gradient, parameters, BatchNorm
# buffers and LARS momentum buffers after 3 LARS steps, in fp32 (max relative error 1e-4) and
# with both sides in float64 (1e-6). The fp32 run is repeated on the cpu backend (sslc step
# --device cpu: fused JIT kernels).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
args=(--optimizer lars --lr 0.1 --set projection_dim=16 --set hidden_dim=32)
py() { /usr/bin/python3 "$src/tests/oracle/methods_oracle.py" vicreg "$sslc" "$@"; }
py "$work/f32" "${args[@]}"
py "$work/f64" "${args[@]}" --f64 --tol 1e-6
py "$work/cpu" "${args[@]}" --device cpu
