#!/bin/bash
# ONNX: torchvision ResNet-50 from torch.onnx.export (opset 17) imported: forward equals ONNX Runtime's.
# Args: SSLC_BINARY SOURCE_DIR
set -e
sslc=$1
. "$2/tests/oracle/onnx_env.sh"
"$py" "$src/tests/oracle/onnx_oracle.py" "$sslc" "$work" resnet50
