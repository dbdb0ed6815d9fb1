#!/bin/bash
# ONNX: torchvision ResNet-18 from torch.onnx.export (opset 13 and 17) imported by sslc: forward equals
# ONNX Runtime's (<= 1e-4); SimCLR steps on it; export -> import -> export gives the same outputs.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" import
