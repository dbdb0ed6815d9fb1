#!/bin/bash
# NNCLR vs PyTorch (tests/oracle/methods_oracle.py: the paper's pseudo-code with solo-learn's
# modules): loss, every gradient, parameters, BatchNorm buffers, the support set `queue` and
# `queue_ptr`, and LARS momentum buffers after 3 LARS steps, in fp32 (max relative error 1e-4)
# and with both sides in float64 (1e-6). A support set of 64 rows for batches of 8: from the
# second step on the nearest neighbours include rows the previous steps wrote. The fp32 run is
# repeated on the cpu backend (sslc step --device cpu: fused JIT kernels).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
args=(--optimizer lars --lr 0.1 --set queue_size=64 --set proj_hidden_dim=32 --set proj_output_dim=16
      --set pred_hidden_dim=32)
py() { /usr/bin/python3 "$src/tests/oracle/methods_oracle.py" nnclr "$sslc" "$@"; }
py "$work/f32" "${args[@]}"
py "$work/f64" "${args[@]}" --f64 --tol 1e-6
py "$work/cpu" "${args[@]}" --device cpu
