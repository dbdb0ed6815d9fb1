#!/bin/bash
# ONNX: sslc-built ConvNet and ResNet-18 (small width) exported with random weights: onnx's checker
# (full_check) accepts every export; ONNX Runtime equals sslc's eval forward (max abs diff <= 1e-4):
# `sslc features` on float tensors and `sslc embed` on the same images as PNG files.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" export
