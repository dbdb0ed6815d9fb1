#!/bin/bash
# BYOL vs PyTorch (tests/oracle/methods_oracle.py) on a CIFAR-stem ResNet-18 at width 1/8: loss,
# every gradient, the online parameters, the EMA target encoder (its parameters start away from
# the online ones, so the average is really checked), every BatchNorm buffer of the online and
# target encoders and SGD momentum buffers after 3 steps; fp32 (max relative error 1e-4) and
# both sides in float64 (1e-6).
# tau, lr and momentum are exact in float32 (0.875, 2^-9, 0.875): sslc feeds its per-step
# scalars as f32, so with these the float64 run compares arithmetic only (it agrees to 3e-10;
# with tau 0.9, lr 0.002, momentum 0.9 the f32 rounding of those constants alone gives 8e-7).
# PyTorch fp32 agrees with PyTorch fp64 to 3e-5 on this configuration.
# The fp32 run is repeated on the cpu backend (sslc step --device cpu: fused JIT kernels).
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
args=(--backbone resnet18 --width 0.125 --set projection_dim=16 --set hidden_dim=32 --set tau=0.875
      --lr 0.001953125 --momentum 0.875)
py() { /usr/bin/python3 "$src/tests/oracle/methods_oracle.py" byol "$sslc" "$@"; }
py "$work/f32" "${args[@]}"
py "$work/f64" "${args[@]}" --f64 --tol 1e-6
py "$work/cpu" "${args[@]}" --device cpu
